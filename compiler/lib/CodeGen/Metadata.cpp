//===- Metadata.cpp - Functions that describe a compiled script's ABI ------===//
//
// What the C header says about in[], out[] and grad[], as functions in the object itself: constant arrays and
// strings, each read by a small function that checks its index (an index out of range gives NULL or -1). No
// allocation, no global constructors, so a loader (dlopen, ctypes) can use them before anything else.
//
//===----------------------------------------------------------------------===//
#include "bp/CodeGen.h"

#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

using namespace bp;

#ifndef BP_VERSION_STRING
#define BP_VERSION_STRING "unknown"
#endif

namespace {

/// Adds the metadata functions to one module: its C types and the helpers that emit each kind of function.
class MetadataEmitter {
public:
  MetadataEmitter(llvm::Module &module, std::string prefix)
      : module(module), context(module.getContext()), prefix(std::move(prefix)) {
    // `long` is 32 bits on Windows and on 32-bit targets (as in PREFIX_train_step).
    llvm::Triple triple(module.getTargetTriple().empty() ? llvm::sys::getDefaultTargetTriple()
                                                         : module.getTargetTriple());
    longType = triple.isOSWindows() || !triple.isArch64Bit() ? llvm::Type::getInt32Ty(context)
                                                             : llvm::Type::getInt64Ty(context);
  }

  llvm::Type *longType;
  llvm::Type *intType() const { return llvm::Type::getInt32Ty(context); }
  llvm::Type *ptrType() const { return llvm::PointerType::get(context, 0); }
  llvm::Constant *longConstant(int64_t value) const { return llvm::ConstantInt::get(longType, value, true); }
  llvm::Constant *null() const { return llvm::ConstantPointerNull::get(llvm::PointerType::get(context, 0)); }

  /// A private constant NUL-terminated string.
  llvm::Constant *string(const std::string &text) {
    auto *data = llvm::ConstantDataArray::getString(context, text);
    return global(data, ".str");
  }
  /// A private constant array of `type` (one element at least, so that it has an address).
  llvm::Constant *array(llvm::Type *type, std::vector<llvm::Constant *> values, const std::string &name) {
    if (values.empty())
      values.push_back(llvm::Constant::getNullValue(type));
    return global(llvm::ConstantArray::get(llvm::ArrayType::get(type, values.size()), values), name);
  }
  llvm::Constant *doubles(llvm::ArrayRef<double> values, const std::string &name) {
    std::vector<double> data(values.begin(), values.end());
    if (data.empty())
      data.push_back(0.0);
    return global(llvm::ConstantDataArray::get(context, data), name);
  }
  llvm::Constant *longs(llvm::ArrayRef<int64_t> values) {
    std::vector<llvm::Constant *> constants;
    for (int64_t value : values)
      constants.push_back(longConstant(value));
    return array(longType, constants, ".shape");
  }

  /// `T PREFIX_name(void)` returning `value`.
  void constant(const std::string &name, llvm::Constant *value) {
    llvm::Function *function = create(name, value->getType(), {});
    llvm::IRBuilder<> builder(llvm::BasicBlock::Create(context, "entry", function));
    builder.CreateRet(value);
  }

  /// `T PREFIX_name(long i)` returning values[i], or `outOfRange` for i < 0 or i >= values.size().
  void indexed(const std::string &name, llvm::Type *type, const std::vector<llvm::Constant *> &values,
               llvm::Constant *outOfRange) {
    llvm::Function *function = create(name, type, {longType});
    llvm::Value *index = function->getArg(0);
    index->setName("i");
    auto *entry = llvm::BasicBlock::Create(context, "entry", function);
    auto *inRange = llvm::BasicBlock::Create(context, "in_range", function);
    auto *outside = llvm::BasicBlock::Create(context, "out_of_range", function);
    llvm::IRBuilder<> builder(entry);
    // Unsigned: a negative index is out of range too.
    builder.CreateCondBr(builder.CreateICmpULT(index, longConstant(values.size())), inRange, outside);
    builder.SetInsertPoint(outside);
    builder.CreateRet(outOfRange);
    builder.SetInsertPoint(inRange);
    llvm::Constant *table = array(type, values, "." + name);
    auto *arrayType = llvm::ArrayType::get(type, std::max<size_t>(values.size(), 1));
    llvm::Value *element = builder.CreateInBoundsGEP(arrayType, table, {longConstant(0), index});
    builder.CreateRet(builder.CreateLoad(type, element));
  }

  /// `long PREFIX_name(long i)` over `values`, -1 out of range.
  void indexedLongs(const std::string &name, llvm::ArrayRef<int64_t> values) {
    std::vector<llvm::Constant *> constants;
    for (int64_t value : values)
      constants.push_back(longConstant(value));
    indexed(name, longType, constants, longConstant(-1));
  }

private:
  llvm::Function *create(const std::string &name, llvm::Type *result, llvm::ArrayRef<llvm::Type *> params) {
    auto *function = llvm::Function::Create(llvm::FunctionType::get(result, params, false),
                                            llvm::Function::ExternalLinkage, name, module);
    function->setDoesNotThrow();
    return function;
  }
  llvm::Constant *global(llvm::Constant *value, const std::string &name) {
    auto *variable = new llvm::GlobalVariable(module, value->getType(), true, llvm::GlobalValue::PrivateLinkage,
                                              value, prefix + name);
    variable->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
    return variable;
  }

  llvm::Module &module;
  llvm::LLVMContext &context;
  std::string prefix;
};

/// Per node of `nodes`: its name, rank, shape and offset (from `offsets`) as PREFIX_KIND_name, _rank, _shape
/// and _offset.
void describeArrays(MetadataEmitter &emit, const Graph &graph, const std::string &stem,
                    const std::vector<std::pair<std::string, NodeId>> &nodes, const std::vector<size_t> &offsets) {
  std::vector<llvm::Constant *> names, shapes;
  std::vector<int64_t> ranks, starts;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Shape &shape = graph.node(nodes[i].second).type.shape;
    names.push_back(emit.string(nodes[i].first));
    shapes.push_back(emit.longs(std::vector<int64_t>(shape.begin(), shape.end())));
    ranks.push_back(shape.size());
    starts.push_back(offsets[i]);
  }
  emit.indexed(stem + "_name", emit.ptrType(), names, emit.null());
  emit.indexedLongs(stem + "_rank", ranks);
  emit.indexed(stem + "_shape", emit.ptrType(), shapes, emit.null());
  emit.indexedLongs(stem + "_offset", starts);
}

/// Per element of `count` things, its first row or column in `offsets` where `selected` holds it, else -1.
std::vector<int64_t> gradPlaces(size_t count, const std::vector<size_t> &selected,
                                const std::vector<size_t> &offsets) {
  std::vector<int64_t> places(count, -1);
  for (size_t s = 0; s < selected.size(); ++s)
    places[selected[s]] = offsets[s];
  return places;
}

} // namespace

void bp::addMetadataFunctions(llvm::Module &module, const Graph &graph, const std::string &prefix,
                              const GradientSelection &selection, const std::string &functions, bool exportPrefix) {
  MetadataEmitter emit(module, prefix);
  std::vector<NodeId> arguments = graph.arguments();
  std::vector<size_t> in = graph.argumentOffsets(), out = graph.outputOffsets();
  emit.constant(prefix + "_num_args", emit.longConstant(arguments.size()));
  emit.constant(prefix + "_num_outputs", emit.longConstant(graph.outputs().size()));
  emit.constant(prefix + "_in_size", emit.longConstant(in.back()));
  emit.constant(prefix + "_out_size", emit.longConstant(out.back()));

  std::vector<std::pair<std::string, NodeId>> argumentNodes, outputNodes;
  std::vector<llvm::Constant *> kinds;
  for (NodeId argument : arguments) {
    argumentNodes.emplace_back(graph.node(argument).name, argument);
    kinds.push_back(llvm::ConstantInt::get(emit.intType(), graph.node(argument).op == OpKind::Param ? 1 : 0));
  }
  for (const Graph::Output &output : graph.outputs())
    outputNodes.emplace_back(output.name, output.node);
  describeArrays(emit, graph, prefix + "_arg", argumentNodes, in);
  emit.indexed(prefix + "_arg_kind", emit.intType(), kinds, llvm::ConstantInt::get(emit.intType(), -1, true));
  describeArrays(emit, graph, prefix + "_out", outputNodes, out);

  emit.constant(prefix + "_defaults", emit.doubles(graph.argumentDefaults(), ".defaults"));
  emit.constant(prefix + "_functions", emit.string(functions));

  std::vector<size_t> rows = selection.rowOffsets(graph), columns = selection.columnOffsets(graph);
  emit.constant(prefix + "_grad_rows", emit.longConstant(rows.back()));
  emit.constant(prefix + "_grad_cols", emit.longConstant(columns.back()));
  emit.indexedLongs(prefix + "_out_grad_row", gradPlaces(graph.outputs().size(), selection.outputs, rows));
  emit.indexedLongs(prefix + "_arg_grad_col", gradPlaces(arguments.size(), selection.arguments, columns));

  emit.constant(prefix + "_bp_version", emit.string(BP_VERSION_STRING));
  if (exportPrefix)
    emit.constant("bp_prefix", emit.string(prefix));
}
