//===- Target.cpp - Object emission and C header generation ---------------===//
#include "bp/Target.h"
#include "bp/Autodiff.h"
#include "bp/CodeGen.h"
#include "bp/NumberFormat.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/IR/DiagnosticInfo.h"
#include "llvm/IR/DiagnosticPrinter.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SmallVectorMemoryBuffer.h"
#include "llvm/TargetParser/Host.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cctype>
#include <cmath>
#include <map>

using namespace bp;

namespace {

/// Takes LLVM's diagnostics while code is emitted: warnings are printed as bpc's, and the first error is kept
/// for the caller to report (LLVM's own handler would print `error: <unknown>:0:0: ...` and exit).
class DiagnosticCapture {
public:
  explicit DiagnosticCapture(llvm::LLVMContext &context)
      : context(context), previous(context.getDiagnosticHandlerCallBack()),
        previousContext(context.getDiagnosticContext()) {
    context.setDiagnosticHandlerCallBack(handle, this);
  }
  ~DiagnosticCapture() { context.setDiagnosticHandlerCallBack(previous, previousContext); }

  std::string firstError;

private:
  static void handle(const llvm::DiagnosticInfo *info, void *self) {
    std::string text;
    llvm::raw_string_ostream os(text);
    llvm::DiagnosticPrinterRawOStream printer(os);
    info->print(printer);
    // Machine-code errors come with a location in no file ("<unknown>:0: "); LLVM's text ends with a newline.
    llvm::StringRef message = llvm::StringRef(text).trim();
    message.consume_front("<unknown>:0:0: ") || message.consume_front("<unknown>:0: ");
    auto &capture = *static_cast<DiagnosticCapture *>(self);
    if (info->getSeverity() == llvm::DS_Error && capture.firstError.empty())
      capture.firstError = message.str();
    else if (info->getSeverity() == llvm::DS_Warning)
      llvm::errs() << "bpc: warning: " << message << '\n';
  }

  llvm::LLVMContext &context;
  llvm::DiagnosticHandler::DiagnosticHandlerTy previous;
  void *previousContext;
};

} // namespace

llvm::Error bp::emitMachineCode(llvm::Module &module, llvm::TargetMachine &machine, llvm::CodeGenFileType type,
                                llvm::raw_pwrite_stream &os) {
  std::string triple = machine.getTargetTriple().str();
  llvm::legacy::PassManager passes;
  if (machine.addPassesToEmitFile(passes, os, nullptr, type))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "target '" + triple + "' cannot write " +
                                       (type == llvm::CodeGenFileType::ObjectFile ? "object files" : "assembly"));
  DiagnosticCapture diagnostics(module.getContext());
  passes.run(module);
  if (!diagnostics.firstError.empty())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "target '" + triple + "': " + diagnostics.firstError);
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> bp::emitToBuffer(llvm::Module &module, llvm::TargetMachine &machine,
                                                                    llvm::CodeGenFileType type) {
  llvm::SmallVector<char, 0> bytes;
  llvm::raw_svector_ostream stream(bytes);
  if (llvm::Error err = emitMachineCode(module, machine, type, stream))
    return std::move(err);
  return std::make_unique<llvm::SmallVectorMemoryBuffer>(std::move(bytes), module.getModuleIdentifier() + ".o",
                                                         /*RequiresNullTerminator=*/false);
}

/// The words of environment variable `name` split at spaces; none if it is unset or empty.
static std::vector<std::string> commandFromEnvironment(const char *name) {
  const char *value = std::getenv(name);
  llvm::SmallVector<llvm::StringRef, 4> words;
  llvm::StringRef(value ? value : "").split(words, ' ', -1, false);
  return {words.begin(), words.end()};
}

std::vector<std::string> bp::relocatableLinker() {
  auto found = [](const std::vector<std::string> &command) {
    if (command.empty())
      return false;
    auto program = llvm::sys::findProgramByName(command[0]);
    return program && llvm::sys::fs::can_execute(*program);
  };
  std::vector<std::string> linker = commandFromEnvironment("LD");
  if (!linker.empty()) {
    if (!found(linker))
      return {};
    linker.push_back("-r");
    return linker;
  }
  if (found({"ld"}))
    return {"ld", "-r"};
  linker = commandFromEnvironment("CC");
  if (linker.empty())
    linker = {"cc"};
  if (!found(linker))
    return {};
  llvm::append_range(linker, std::initializer_list<std::string>{"-r", "-nostdlib"});
  return linker;
}

llvm::Error bp::linkRelocatable(llvm::ArrayRef<std::string> linker, llvm::ArrayRef<std::string> objects,
                                const std::string &output) {
  assert(!linker.empty() && "a linker command");
  std::vector<llvm::StringRef> arguments(linker.begin(), linker.end());
  arguments.push_back("-o");
  arguments.push_back(output);
  arguments.insert(arguments.end(), objects.begin(), objects.end());
  auto program = llvm::sys::findProgramByName(arguments[0]);
  if (!program)
    return llvm::createStringError(program.getError(), "the linker '" + arguments[0].str() + "' is not found");
  return runLinker(*program, arguments);
}

llvm::Error bp::runLinker(llvm::StringRef program, llvm::ArrayRef<llvm::StringRef> arguments) {
  auto error = [&](const std::string &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   message + "; the command was: " + llvm::join(arguments, " "));
  };
  std::string message;
  int status = llvm::sys::ExecuteAndWait(program, arguments, std::nullopt, {}, 0, 0, &message);
  if (status < 0)
    return error("the linker could not run: " + message);
  if (status > 0)
    return error("the linker failed with exit status " + std::to_string(status));
  return llvm::Error::success();
}

bool bp::isHostTarget(const llvm::TargetMachine &machine) {
  llvm::Triple host(llvm::sys::getProcessTriple());
  const llvm::Triple &target = machine.getTargetTriple();
  return target.getArch() == host.getArch() && target.getOS() == host.getOS() &&
         target.getObjectFormat() == host.getObjectFormat();
}

bool bp::isCIdentifier(const std::string &name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])))
    return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_')
      return false;
  return true;
}

/// `value` as a C double literal that reads back as exactly `value`: "-0.0", "7.0", "1e-05" (a bare "-0" or "7"
/// would be an int, and -0 the integer 0, which is +0.0).
static std::string cDoubleLiteral(double value) {
  assert(std::isfinite(value) && "script literals are finite: the parser rejects overflow");
  std::string text = formatNumber(value);
  if (text.find_first_of(".e") == std::string::npos)
    text += ".0";
  return text;
}

static std::string upper(std::string text) {
  for (char &c : text)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

/// The suffixes of the macros that describe a tensor argument or output beside its offset NAME: NAME_SIZE (its
/// number of elements), NAME_RANK, NAME_SHAPE.
static constexpr const char *TensorMacroSuffixes[] = {"_SIZE", "_RANK", "_SHAPE"};

/// `#define NAME OFFSET`, where an argument or output starts in in[] or out[], and for a tensor the macros of
/// TensorMacroSuffixes: NAME_SIZE 6, NAME_RANK 2, NAME_SHAPE {3, 2}.
static std::string placeMacros(const std::string &name, size_t offset, const Shape &shape) {
  std::string text = "#define " + name + " " + std::to_string(offset) + "\n";
  if (shape.empty())
    return text;
  std::string dimensions;
  for (size_t d = 0; d < shape.size(); ++d)
    dimensions += (d ? ", " : "") + std::to_string(shape[d]);
  std::string values[] = {std::to_string(elementCount(shape)), std::to_string(shape.size()), "{" + dimensions + "}"};
  for (size_t m = 0; m < std::size(values); ++m)
    text += "#define " + name + TensorMacroSuffixes[m] + " " + values[m] + "\n";
  return text;
}

llvm::Error bp::checkCHeaderNames(const Graph &graph, const std::string &prefix) {
  std::string macro = upper(prefix);
  std::map<std::string, std::string> defined; // macro -> what it says
  auto claim = [&](const std::string &name, const std::string &meaning) -> llvm::Error {
    auto [previous, added] = defined.emplace(name, meaning);
    if (added)
      return llvm::Error::success();
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the header would define " + name + " twice, as " + previous->second + " and as " +
                                       meaning + "; rename one of them");
  };
  auto claimAll = [&](const std::string &name, const std::string &what, const Shape &shape) -> llvm::Error {
    if (llvm::Error err = claim(name, "where " + what + " starts"); err || shape.empty())
      return err;
    const char *meanings[] = {"the size of ", "the rank of ", "the shape of "};
    for (size_t m = 0; m < std::size(meanings); ++m)
      if (llvm::Error err = claim(name + TensorMacroSuffixes[m], meanings[m] + what))
        return err;
    return llvm::Error::success();
  };
  for (NodeId id : graph.arguments()) {
    const Node &node = graph.node(id);
    std::string what = (node.op == OpKind::Input ? "input '" : "param '") + node.name + "'";
    if (llvm::Error err = claimAll(macro + "_IN_" + node.name, what, node.type.shape))
      return err;
  }
  for (const Graph::Output &output : graph.outputs())
    if (llvm::Error err =
            claimAll(macro + "_OUT_" + output.name, "output '" + output.name + "'", graph.node(output.node).type.shape))
      return err;
  return llvm::Error::success();
}

/// The header comment's paragraph on PREFIX_train_step: what it trains and how, a row's layout (runs of
/// consecutive elements of one input on a line), the state and the result.
static std::string trainStepComment(const Graph &graph, const std::string &prefix, const TrainStepSpec &spec) {
  std::string macro = upper(prefix);
  std::vector<NodeId> arguments = graph.arguments();
  std::vector<size_t> offsets = graph.argumentOffsets();
  std::string variables;
  for (size_t v : spec.variables)
    variables += (variables.empty() ? "" : ", ") + graph.node(arguments[v]).name;
  const std::string &objective = graph.outputs()[spec.objective].name;
  std::string text = " *\n";
  text += " * " + prefix + "_train_step(in, state, rows, nrows) is one step of " + optimizerName(spec.optimizer) +
          " (rate " + formatNumber(spec.rate) + ") " + (spec.maximize ? "maximizing " : "minimizing ") + objective +
          " over " + variables + ":\n";
  text += " * for each row, in order, it binds the row's numbers in a copy of in[] and takes the gradient of " +
          objective + " there;\n";
  text += " * then it moves those variables' elements of in[] by the mean gradient. ";
  auto argumentOf = [&](size_t element) { return std::upper_bound(offsets.begin(), offsets.end(), element); };
  if (spec.rowTargets.empty()) {
    text += "It reads no rows: pass nrows = 1\n * (rows may be NULL) for a step at the values in[] holds.\n";
  } else {
    text += "rows[] holds nrows rows of\n * " + macro + "_ROW_SIZE numbers, row-major; a row's numbers are:\n";
    for (size_t c = 0, end; c < spec.rowTargets.size(); c = end) {
      for (end = c + 1; end < spec.rowTargets.size() && spec.rowTargets[end] == spec.rowTargets[end - 1] + 1 &&
                        argumentOf(spec.rowTargets[end]) == argumentOf(spec.rowTargets[c]);)
        ++end;
      bool run = end - c > 1;
      text += " *   row[" + std::to_string(c) + (run ? ".." + std::to_string(end - 1) : "") + "]  " +
              spec.rowColumns[c] + (run ? " .. " + spec.rowColumns[end - 1] : "") + "\n";
    }
  }
  const char *layout = spec.optimizer == OptimizerKind::Adam
                           ? " (the first moments, the second moments, the step count)"
                       : spec.optimizer == OptimizerKind::Momentum ? " (a velocity per element)"
                                                                   : "";
  text += " * state[] holds the optimizer's " + macro + "_STATE_SIZE doubles" + layout + ":\n";
  text += " * zero them before the first step. It returns the mean of " + objective + " over the rows before the\n";
  text += " * step; a result that is not finite means that " + objective +
          " or its gradient was not finite (or nrows < 1)\n";
  text += " * and nothing changed. in[], state[] and rows[] must not overlap.\n";
  return text;
}

/// The names of `graph`'s arguments chosen by `chosen` (indices into Graph::arguments), comma-separated.
static std::string argumentNames(const Graph &graph, llvm::ArrayRef<size_t> chosen) {
  std::vector<NodeId> arguments = graph.arguments();
  std::string names;
  for (size_t a : chosen)
    names += (names.empty() ? "" : ", ") + graph.node(arguments[a]).name;
  return names;
}

/// The names of `graph`'s outputs chosen by `chosen` (indices into Graph::outputs), comma-separated.
static std::string outputNames(const Graph &graph, llvm::ArrayRef<size_t> chosen) {
  std::string names;
  for (size_t o : chosen)
    names += (names.empty() ? "" : ", ") + graph.outputs()[o].name;
  return names;
}

/// The header comment's sentence on a selected gradient's grad (bpc build --of/--wrt): its rows and columns.
static std::string selectedGradientComment(const Graph &graph, const std::string &macro,
                                           const GradientSelection &selection) {
  std::string outputs = outputNames(graph, selection.outputs), wrt = argumentNames(graph, selection.arguments);
  std::string text;
  text += " * grad[r * " + macro + "_GRAD_NUM_IN + c] = d out[o] / d in[i] for the elements o of the chosen outputs (" +
          outputs + ")\n";
  text += " * and i of the chosen inputs and params (" + wrt + ") alone: " + macro +
          "_GRAD_NUM_OUT rows, the chosen outputs' elements in\n";
  text += " * out[] order, of " + macro + "_GRAD_NUM_IN columns, the chosen elements of in[] in order (" + macro +
          "_GRAD_OUT_NAME and\n";
  text += " * " + macro + "_GRAD_IN_NAME: where each starts). Both are reentrant and thread-safe.\n";
  return text;
}

/// The header comment's paragraphs on PREFIX_jvp, PREFIX_vjp, PREFIX_hessian and PREFIX_hvp, those `functions`
/// holds: their arrays' layouts, and what `selection` (bpc build --of/--wrt), if any, chose for the latter three.
static std::string derivativeFunctionsComment(const Graph &graph, const std::string &prefix,
                                              const GradientSelection *selection, const EmittedFunctions &functions) {
  std::string macro = upper(prefix);
  std::string text;
  if (functions.jvp) {
    text += " *\n";
    text += " * " + prefix + "_jvp(in, tangent_in, out, tangent_out) also fills tangent_out[] (laid out like out[])\n";
    text += " * with J t, every output's derivative along tangent_in[] (laid out like in[]):\n";
    text += " * tangent_out[o] = sum over i of d out[o] / d in[i] * tangent_in[i], by forward mode.\n";
  }
  if (functions.vjp) {
    text += " *\n";
    text += " * " + prefix +
            "_vjp(in, seed_out, out, grad_in) also fills grad_in[] with SEED^T J, by one reverse sweep\n";
    text += " * per output: grad_in[c] = sum over o of seed_out[o] * d out[o] / d in[i], seed_out[] laid out like "
            "out[],\n";
    if (selection)
      text += " * for the elements o of the chosen outputs (" + outputNames(graph, selection->outputs) +
              "; the other seeds are not read) and i of the chosen\n * inputs and params (" +
              argumentNames(graph, selection->arguments) + "): " + macro +
              "_GRAD_NUM_IN columns c, the chosen elements of in[] in order\n * (" + macro +
              "_GRAD_IN_NAME: where each starts).\n";
    else
      text += " * for every element o of out[] and i of in[] (grad_in[] is laid out like in[]: c = i).\n";
  }
  if (functions.hessian) {
    const std::string &of = graph.outputs()[functions.hessianOutput].name;
    text += " *\n";
    text += " * " + prefix + "_hessian(in, out, hess) also fills hess[r * " + macro + "_HESS_SIZE + c] = d2 " + of +
            " / d in[i] d in[j], by\n";
    text += " * reverse mode over reverse mode, for the elements i (row r) and j (column c) of " +
            (selection ? "the chosen inputs and\n * params (" + argumentNames(graph, selection->arguments) + ")"
                       : std::string("every input and\n * param")) +
            " in in[] order (" + macro + "_HESS_IN_NAME: where each starts).\n";
  }
  if (functions.hvp) {
    const std::string &of = graph.outputs()[functions.hessianOutput].name;
    text += " *\n";
    text += " * " + prefix + "_hvp(in, v, out, hv) also fills hv[r] = sum over c of d2 " + of +
            " / d in[i] d in[j] * v[c]: the Hessian\n";
    text += " * times v[], by forward mode over reverse mode (the Hessian is never formed), for the elements i (r) "
            "and j (c)\n";
    text += " * of " +
            (selection ? "the chosen inputs and params (" + argumentNames(graph, selection->arguments) + ")"
                       : std::string("every input and param")) +
            " in in[] order; v[] and hv[] hold\n";
    text += " * " + macro + "_HESS_SIZE numbers (" + macro + "_HESS_IN_NAME: where each starts).\n";
  }
  if (!text.empty())
    text += " * These are reentrant and thread-safe too.\n";
  return text;
}

/// The header comment's paragraph on the metadata functions (CodeGen.h, addMetadataFunctions).
static std::string metadataComment(const std::string &prefix, HeaderMetadata metadata) {
  std::string text = " *\n";
  text += " * The object describes itself to a program without this header: " + prefix + "_num_args(),\n";
  text += " * " + prefix + "_arg_name(i), _arg_kind(i) (0 input, 1 param), _arg_rank(i), _arg_shape(i) and\n";
  text += " * _arg_offset(i) (where it starts in in[]), the same for outputs (_out_name(o), ...), " + prefix +
          "_defaults(),\n";
  text += " * grad[]'s layout (_grad_rows(), _grad_cols(), _out_grad_row(o) and _arg_grad_col(i), -1 where not\n";
  text += " * chosen) and " + prefix + "_functions(), a comma-separated list. An index out of range gives NULL\n";
  text += " * or -1.\n";
  if (metadata == HeaderMetadata::WithPrefix)
    text += " * bp_prefix() returns \"" + prefix + "\", the prefix of every other function.\n";
  return text;
}

/// The metadata functions' prototypes.
static std::string metadataPrototypes(const std::string &prefix, HeaderMetadata metadata) {
  std::string text = "\n";
  for (const char *name : {"num_args", "num_outputs", "in_size", "out_size", "grad_rows", "grad_cols"})
    text += "long " + prefix + "_" + name + "(void);\n";
  for (const char *array : {"arg", "out"}) {
    text += "const char *" + prefix + "_" + array + "_name(long i);\n";
    text += "long " + prefix + "_" + array + "_rank(long i);\n";
    text += "const long *" + prefix + "_" + array + "_shape(long i);\n";
    text += "long " + prefix + "_" + array + "_offset(long i);\n";
  }
  text += "int " + prefix + "_arg_kind(long i);\n";
  text += "long " + prefix + "_out_grad_row(long o);\n";
  text += "long " + prefix + "_arg_grad_col(long i);\n";
  text += "const double *" + prefix + "_defaults(void);\n";
  text += "const char *" + prefix + "_functions(void);\n";
  text += "const char *" + prefix + "_bp_version(void);\n";
  if (metadata == HeaderMetadata::WithPrefix)
    text += "const char *bp_prefix(void);\n";
  return text;
}

std::string bp::generateCHeader(const Graph &graph, const std::string &prefix, const std::string &scriptName,
                                const TrainStepSpec *trainStep, bool gradient, const GradientSelection *selection,
                                const EmittedFunctions &functions, HeaderMetadata metadata) {
  std::string macro = upper(prefix);
  std::string guard = macro + "_BP_H";
  std::vector<NodeId> arguments = graph.arguments();
  std::vector<size_t> in = graph.argumentOffsets(), out = graph.outputOffsets();
  const GradientSelection *chosen = selection; // what --of/--wrt chose, for PREFIX_vjp, _hessian and _hvp
  gradient = gradient && functions.gradient;   // PREFIX_gradient is in the object
  selection = gradient || functions.vjp ? selection : nullptr;
  // grad's layout: every output by every argument, or the selection's rows and columns.
  GradientSelection rowsAndColumns = selection ? *selection : GradientSelection::all(graph);
  std::vector<size_t> rows = rowsAndColumns.rowOffsets(graph), columns = rowsAndColumns.columnOffsets(graph);
  std::string gradOut = macro + (selection ? "_GRAD_OUT_" : "_OUT_"), gradIn = macro + (selection ? "_GRAD_IN_" : "_IN_");
  std::string gradNumIn = macro + (selection ? "_GRAD_NUM_IN" : "_NUM_IN");
  // A tensor takes a run of elements: in[0..2] for an input X[1,3].
  auto elements = [](const char *array, size_t begin, size_t end, bool scalar) {
    return std::string(array) + "[" + std::to_string(begin) + (scalar ? "" : ".." + std::to_string(end - 1)) + "]";
  };
  bool tensors = graph.firstTensorNode().has_value();
  std::string text;
  text += "/* " + prefix + ".h: generated by bpc build from " + scriptName + "; do not edit.\n";
  text += " *\n";
  if (!functions.gradient) {
    text += " * " + prefix + "_forward(in, out) evaluates the outputs; it is reentrant and thread-safe.\n";
  } else if (!gradient) {
    text += " * " + prefix + "_forward(in, out) evaluates the outputs; it is reentrant and thread-safe. There is no\n";
    text += " * " + prefix + "_gradient: the Jacobian of this script's outputs is over bp's size limit.\n";
  } else {
    text += " * " + prefix + "_forward(in, out) evaluates the outputs; " + prefix +
            "_gradient(in, out, grad) also fills\n";
    text += selection ? selectedGradientComment(graph, macro, *selection)
                      : " * grad[o * " + macro + "_NUM_IN + i] = d out[o] / d in[i]. Both are reentrant and thread-safe.\n";
  }
  // A tensor output's Jacobian: a row of grad per element of the output (the first one and the first argument
  // as the example).
  auto tensorOutput = llvm::find_if(rowsAndColumns.outputs, [&](size_t o) {
    return !graph.node(graph.outputs()[o].node).type.isScalar();
  });
  if (gradient && tensorOutput != rowsAndColumns.outputs.end() && !rowsAndColumns.arguments.empty()) {
    const Graph::Output &output = graph.outputs()[*tensorOutput];
    NodeId argument = arguments[rowsAndColumns.arguments[0]];
    const std::string &y = output.name, &x = graph.node(argument).name;
    Shape jacobian = graph.node(output.node).type.shape;
    llvm::append_range(jacobian, graph.node(argument).type.shape);
    text += " * A tensor output takes a row of grad per element: d " + y + " / d " + x + ", of shape " +
            formatShape(jacobian) + ", is\n";
    text += " * grad[(" + gradOut + y + " + j) * " + gradNumIn + " + " + gradIn + x + " + k] = d " + y + "[j] / d " +
            x + "[k]\n";
    text += " * for the elements j of " + y + " and k of " + x + ", counted row-major.\n";
  }
  text += derivativeFunctionsComment(graph, prefix, chosen, functions);
  text += " *\n";
  text += " * in[] (every input, then every param, as declared" + std::string(tensors ? "; tensors row-major" : "") +
          "), with the script's values:\n";
  for (size_t i = 0; i < arguments.size(); ++i) {
    const Node &node = graph.node(arguments[i]);
    bool scalar = node.type.isScalar();
    text += " *   " + elements("in", in[i], in[i + 1], scalar) + "  " + (node.op == OpKind::Input ? "input " : "param ") +
            node.name + (scalar ? "" : formatShape(node.type.shape));
    text += !node.hasValue ? std::string(" (no default)") : scalar ? " = " + formatNumber(node.value) : "";
    text += "\n";
  }
  text += " * out[]:\n";
  for (size_t o = 0; o < graph.outputs().size(); ++o) {
    const Node &node = graph.node(graph.outputs()[o].node);
    auto row = llvm::find(rowsAndColumns.outputs, o); // its rows of grad, if it has any
    std::string rowsOfGrad =
        row == rowsAndColumns.outputs.end() || !functions.gradient
            ? ""
            : "  (the rows " + std::to_string(rows[row - rowsAndColumns.outputs.begin()]) + ".." +
                  std::to_string(rows[row - rowsAndColumns.outputs.begin() + 1] - 1) + " of grad)";
    text += " *   " + elements("out", out[o], out[o + 1], node.type.isScalar()) + "  " + graph.outputs()[o].name +
            (node.type.isScalar() ? "" : formatShape(node.type.shape) + rowsOfGrad) + "\n";
  }
  if (trainStep)
    text += trainStepComment(graph, prefix, *trainStep);
  if (metadata != HeaderMetadata::None)
    text += metadataComment(prefix, metadata);
  text += " */\n";
  text += "#ifndef " + guard + "\n#define " + guard + "\n\n";
  text += "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n";
  // The sizes of in[] and out[] in doubles, and where each argument and output starts.
  text += "#define " + macro + "_NUM_IN " + std::to_string(in.back()) + "\n";
  text += "#define " + macro + "_NUM_OUT " + std::to_string(out.back()) + "\n\n";
  for (size_t i = 0; i < arguments.size(); ++i)
    text += placeMacros(macro + "_IN_" + graph.node(arguments[i]).name, in[i], graph.node(arguments[i]).type.shape);
  text += "\n/* An initializer for in[] with the script's values (0 for an input declared without one). */\n";
  text += "#define " + macro + "_DEFAULTS {";
  // Tensors make this list long (a filled 256x256 param is 65,536 equal values): each value is appended in
  // place, and a run of equal values is formatted once.
  double previous = 0.0;
  std::string literal = cDoubleLiteral(previous);
  auto append = [&](double value) {
    // Literals are finite (the parser rejects overflow), so every value has a C literal.
    if (std::bit_cast<uint64_t>(value) != std::bit_cast<uint64_t>(previous)) {
      previous = value;
      literal = cDoubleLiteral(value);
    }
    if (text.back() != '{')
      text += ", ";
    text += literal;
  };
  for (NodeId argument : arguments) {
    const Node &node = graph.node(argument);
    if (node.type.isScalar())
      append(node.hasValue ? node.value : 0.0);
    else if (node.hasValue)
      llvm::for_each(node.data, append);
    else
      for (int64_t e = 0, n = elementCount(node.type.shape); e < n; ++e)
        append(0.0);
  }
  text += "}\n\n";
  for (size_t o = 0; o < graph.outputs().size(); ++o)
    text += placeMacros(macro + "_OUT_" + graph.outputs()[o].name, out[o],
                        graph.node(graph.outputs()[o].node).type.shape);
  if (selection) {
    text += gradient ? "\n/* grad[]: the rows of the outputs and the columns of the inputs and params it was built "
                       "for. */\n"
                     : "\n/* grad_in[]: the columns of the inputs and params it was built for (and the chosen "
                       "outputs' elements). */\n";
    text += "#define " + macro + "_GRAD_NUM_OUT " + std::to_string(rows.back()) + "\n";
    text += "#define " + gradNumIn + " " + std::to_string(columns.back()) + "\n";
    for (size_t s = 0; s < selection->outputs.size(); ++s)
      text += "#define " + gradOut + graph.outputs()[selection->outputs[s]].name + " " + std::to_string(rows[s]) + "\n";
    for (size_t c = 0; c < selection->arguments.size(); ++c)
      text += "#define " + gradIn + graph.node(arguments[selection->arguments[c]]).name + " " +
              std::to_string(columns[c]) + "\n";
  }
  if (functions.hessian || functions.hvp) {
    GradientSelection all = GradientSelection::all(graph);
    const std::vector<size_t> &by = chosen ? chosen->arguments : all.arguments;
    std::vector<size_t> hessColumns = GradientSelection{{}, by}.columnOffsets(graph);
    text += functions.hessian
                ? "\n/* hess[]: a row and a column per element of the inputs and params it was built for. */\n"
                : "\n/* v[] and hv[]: an element per element of the inputs and params it was built for. */\n";
    text += "#define " + macro + "_HESS_SIZE " + std::to_string(hessColumns.back()) + "\n";
    for (size_t c = 0; c < by.size(); ++c)
      text += "#define " + macro + "_HESS_IN_" + graph.node(arguments[by[c]]).name + " " +
              std::to_string(hessColumns[c]) + "\n";
  }
  if (trainStep)
    text += "\n#define " + macro + "_ROW_SIZE " + std::to_string(trainStep->rowTargets.size()) + "\n#define " + macro +
            "_STATE_SIZE " +
            std::to_string(optimizerStateSize(trainStep->optimizer, trainedElements(graph, *trainStep).size())) + "\n";
  text += "\n";
  text += "void " + prefix + "_forward(const double *in, double *out);\n";
  if (gradient)
    text += "void " + prefix + "_gradient(const double *in, double *out, double *grad);\n";
  if (functions.jvp)
    text += "void " + prefix + "_jvp(const double *in, const double *tangent_in, double *out, double *tangent_out);\n";
  if (functions.vjp)
    text += "void " + prefix + "_vjp(const double *in, const double *seed_out, double *out, double *grad_in);\n";
  if (functions.hessian)
    text += "void " + prefix + "_hessian(const double *in, double *out, double *hess);\n";
  if (functions.hvp)
    text += "void " + prefix + "_hvp(const double *in, const double *v, double *out, double *hv);\n";
  if (trainStep)
    text += "double " + prefix + "_train_step(double *in, double *state, const double *rows, long nrows);\n";
  if (metadata != HeaderMetadata::None)
    text += metadataPrototypes(prefix, metadata);
  text += "\n";
  text += "#ifdef __cplusplus\n}\n#endif\n\n";
  text += "#endif /* " + guard + " */\n";
  return text;
}
