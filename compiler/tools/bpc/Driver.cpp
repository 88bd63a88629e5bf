//===- Driver.cpp - What bpc's subcommands share: loading and --set -------===//
#include "Commands.h"

#include "bp/DataSet.h"
#include "bp/Diagnostics.h"
#include "bp/Interpreter.h"
#include "bp/Model.h"
#include "bp/NumberFormat.h"

#include "llvm/Support/WithColor.h"

#include <algorithm>
#include <map>

using namespace bp;

namespace bpc {

int reportError(llvm::Error error) {
  llvm::handleAllErrors(
      std::move(error), [](const DiagnosticError &diagnostics) { diagnostics.log(llvm::errs()); },
      [](const llvm::ErrorInfoBase &other) { llvm::errs() << "bpc: error: " << other.message() << '\n'; });
  return ExitFailure;
}

int reportError(const std::string &message, int code) {
  llvm::errs() << "bpc: error: " << message << '\n';
  return code;
}

llvm::Expected<Graph> loadGraph(const Options &options) { return compileScriptFile(options.file, options.seed); }

std::optional<GradientGraph> gradientToCompile(const Graph &graph, const std::string &prefix,
                                               const GradientSelection &selection) {
  auto gradient = buildGradientGraph(graph, selection);
  if (gradient)
    return std::move(*gradient);
  std::string only = "; bp builds " + prefix + "_forward alone";
  llvm::handleAllErrors(
      gradient.takeError(),
      [&](const DiagnosticError &error) {
        for (Diagnostic diagnostic : error.getDiagnostics()) {
          diagnostic.severity = Severity::Warning;
          diagnostic.message += only;
          const SourceFile *file = error.getFile().get();
          printDiagnostic(llvm::errs(), file, file ? file->name() : "", diagnostic);
        }
      },
      [&](const llvm::ErrorInfoBase &error) { llvm::errs() << "bpc: warning: " << error.message() << only << '\n'; });
  return std::nullopt;
}

llvm::Expected<GradientSelection> gradientSelection(const Graph &graph, const Options &options) {
  return selectGradient(graph, options.of, options.wrt);
}

CompileOptions compileOptions(const Options &options, bool gradient) {
  CompileOptions compile;
  compile.optLevel = options.optLevel;
  compile.gradient = gradient;
  compile.of = options.of;
  compile.wrt = options.wrt;
  return compile;
}

namespace {

/// A --set value: one number (`5`, which fills a tensor), or a nested list of numbers (`[[1,2,3]]`) with its
/// shape. Lists are at most MaxRank deep and rectangular.
struct SetValue {
  Shape shape;                // empty for a number
  std::vector<double> values; // row-major
  bool isList = false;
};

/// Parses `[...]` at text[pos]: its elements go to `value`, its shape at `depth` is checked against (or sets)
/// value.shape[depth]. An error is the reason the text is not a list of numbers.
std::optional<std::string> parseList(const std::string &text, size_t &pos, size_t depth, SetValue &value) {
  auto skipSpaces = [&] {
    while (pos < text.size() && text[pos] == ' ')
      ++pos;
  };
  if (depth >= MaxRank)
    return "lists nest at most " + std::to_string(MaxRank) + " deep";
  ++pos; // '['
  bool firstAtDepth = depth == value.shape.size(); // the first list at this depth sets its length
  if (firstAtDepth)
    value.shape.push_back(0);
  int64_t count = 0;
  skipSpaces();
  while (pos < text.size() && text[pos] != ']') {
    if (count > 0) {
      if (text[pos] != ',')
        return "expected ',' or ']' at '" + text.substr(pos) + "'";
      ++pos;
      skipSpaces();
    }
    bool nested = pos < text.size() && text[pos] == '[';
    if ((count > 0 || !firstAtDepth) && nested != (depth + 1 < value.shape.size()))
      return std::string("the list is ragged: a level mixes numbers and lists");
    if (nested) {
      if (auto error = parseList(text, pos, depth + 1, value))
        return error;
    } else {
      size_t end = std::min(text.find_first_of(",]", pos), text.size());
      std::string number = text.substr(pos, end - pos);
      while (!number.empty() && number.back() == ' ')
        number.pop_back();
      double element;
      if (!parseNumber(number, element))
        return describeBadNumber(number);
      value.values.push_back(element);
      pos = end;
    }
    ++count;
    skipSpaces();
  }
  if (pos >= text.size())
    return std::string("'[' is never closed");
  ++pos; // ']'
  if (count == 0)
    return std::string("an empty list has no elements");
  if (!firstAtDepth && value.shape[depth] != count)
    return "the list is ragged: lists of " + std::to_string(value.shape[depth]) + " and " + std::to_string(count) +
           " elements at the same level";
  value.shape[depth] = count;
  return std::nullopt;
}

/// A --set value's text as a number or a nested list, or the reason it is neither.
std::optional<std::string> parseSetValue(const std::string &text, SetValue &value) {
  if (text.empty() || text[0] != '[') {
    value.values.resize(1);
    if (!parseNumber(text, value.values[0]))
      return describeBadNumber(text);
    return std::nullopt;
  }
  value.isList = true;
  size_t pos = 0;
  if (auto error = parseList(text, pos, 0, value))
    return error;
  if (pos != text.size())
    return "unexpected '" + text.substr(pos) + "' after the list";
  return std::nullopt;
}

/// `NAME=VALUE` given to `flag` (--set, --vjp): its name and value, or why it is malformed (the whole message).
std::optional<std::string> parseAssignment(const std::string &flag, const std::string &text, const char *example,
                                           std::string &name, SetValue &value) {
  size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0)
    return "invalid " + flag + " '" + text + "': expected " + example;
  name = text.substr(0, equals);
  if (std::optional<std::string> error = parseSetValue(text.substr(equals + 1), value))
    return "invalid " + flag + " '" + text + "': " + *error;
  return std::nullopt;
}

} // namespace

std::optional<std::vector<std::pair<size_t, std::vector<double>>>>
bindVjpSeeds(const Graph &graph, const Options &options, int &exitCode) {
  std::vector<std::pair<size_t, std::vector<double>>> seeds;
  const auto &outputs = graph.outputs();
  auto fail = [&](const std::string &message) {
    exitCode = reportError(message, ExitUsage);
    return std::nullopt;
  };
  for (const std::string &vjp : options.vjps) {
    std::string name;
    SetValue value;
    if (std::optional<std::string> error = parseAssignment("--vjp", vjp, "OUT=SEED, as in --vjp loss=1", name, value))
      return fail(*error);
    auto output = llvm::find_if(outputs, [&](const Graph::Output &output) { return output.name == name; });
    if (output == outputs.end())
      return fail("--vjp " + name + ": the script has no output named '" + name + "'");
    const Shape &shape = graph.node(output->node).type.shape;
    if (value.shape != shape)
      return fail("--vjp " + name + ": the seed has shape " + formatShape(value.shape) + ", but output '" + name +
                  "' has shape " + formatShape(shape) +
                  (shape.empty() ? " (a scalar takes a number)" : " (give a nested list of that shape)"));
    size_t o = output - outputs.begin();
    if (llvm::any_of(seeds, [&](const auto &seed) { return seed.first == o; }))
      return fail("--vjp gives output '" + name + "' a seed twice");
    seeds.emplace_back(o, std::move(value.values));
  }
  return seeds;
}

/// `text` split at the commas outside brackets: "a=1,W=[[1,0],[0,1]]" gives "a=1" and "W=[[1,0],[0,1]]".
static std::vector<std::string> splitTopLevel(const std::string &text) {
  std::vector<std::string> parts(1);
  int depth = 0;
  for (char c : text) {
    depth += c == '[' ? 1 : c == ']' ? -1 : 0;
    if (c == ',' && depth == 0)
      parts.emplace_back();
    else
      parts.back() += c;
  }
  return parts;
}

std::optional<std::vector<double>> bindTangents(const Graph &graph, llvm::ArrayRef<std::string> lists,
                                                const std::string &flag, const char *example, int &exitCode) {
  std::vector<size_t> offsets = graph.argumentOffsets();
  std::vector<double> tangents(offsets.back(), 0.0);
  std::vector<bool> given(graph.arguments().size(), false);
  auto fail = [&](const std::string &message) {
    exitCode = reportError(message, ExitUsage);
    return std::nullopt;
  };
  for (const std::string &list : lists)
    for (const std::string &pair : splitTopLevel(list)) {
      std::string name;
      SetValue value;
      if (std::optional<std::string> error = parseAssignment(flag, pair, example, name, value))
        return fail(*error);
      std::optional<NodeId> id = graph.lookupArgument(name);
      if (!id) {
        std::string what = graph.describeNonArgument(name);
        return fail(flag + " " + name + ": " +
                    (what == "not declared" ? "the script has no input or param named '" + name + "'"
                                            : "'" + name + "' is " + what + "; only inputs and params have tangents"));
      }
      const Shape &shape = graph.node(*id).type.shape;
      if (value.isList && value.shape != shape)
        return fail(flag + " " + name + ": the tangent has shape " + formatShape(value.shape) + ", but '" + name +
                    "' has shape " + formatShape(shape) +
                    (shape.empty() ? " (a scalar takes a number)" : " (give a number or a nested list of that shape)"));
      size_t a = graph.argumentIndex(*id);
      if (given[a])
        return fail(flag + " gives '" + name + "' a tangent twice");
      given[a] = true;
      for (size_t i = offsets[a]; i < offsets[a + 1]; ++i)
        tangents[i] = value.isList ? value.values[i - offsets[a]] : value.values[0];
    }
  return tangents;
}

std::optional<std::vector<double>> bindArguments(const Graph &graph, const Options &options, int &exitCode,
                                                 const DataSet *data) {
  std::map<std::string, SetValue> overrides;
  for (const std::string &set : options.sets) {
    std::string name;
    SetValue value;
    if (std::optional<std::string> error = parseAssignment("--set", set, "NAME=VALUE, as in --set a=5", name, value)) {
      exitCode = reportError(*error, ExitUsage);
      return std::nullopt;
    }
    if (!overrides.emplace(name, std::move(value)).second) {
      exitCode = reportError("--set gives '" + name + "' a value twice", ExitUsage);
      return std::nullopt;
    }
  }

  for (const auto &[name, value] : overrides) {
    std::optional<NodeId> id = graph.lookupArgument(name);
    const Shape &shape = id ? graph.node(*id).type.shape : Shape();
    if (id && value.isList && value.shape != shape) {
      exitCode = reportError("--set " + name + ": the value has shape " + formatShape(value.shape) + ", but '" +
                             name + "' has shape " + formatShape(shape) +
                             (shape.empty() ? " (a scalar takes a number)" : ""));
      return std::nullopt;
    }
    if (!id) {
      std::string what = graph.describeNonArgument(name);
      exitCode = reportError("--set " + name + ": " +
                             (what == "not declared" ? "the script has no input or param named '" + name + "'"
                                                     : "'" + name + "' is " + what +
                                                           "; only inputs and params can be set"));
      return std::nullopt;
    }
    if (data && std::find(data->inputs.begin(), data->inputs.end(), *id) != data->inputs.end()) {
      exitCode = reportError("--set " + name + ": '" + name + "' is bound by a column of " + options.data +
                             "; drop the --set or the column");
      return std::nullopt;
    }
  }

  DiagnosticEngine diags(graph.sourceFile());
  std::vector<double> values;
  for (NodeId id : graph.arguments()) {
    const Node &node = graph.node(id);
    auto override = overrides.find(node.name);
    bool boundByData = data && std::find(data->inputs.begin(), data->inputs.end(), id) != data->inputs.end();
    size_t count = static_cast<size_t>(elementCount(node.type.shape));
    if (override != overrides.end()) {
      const std::vector<double> &given = override->second.values; // a list of the shape, or one number
      for (size_t i = 0; i < count; ++i)
        values.push_back(given[given.size() == 1 ? 0 : i]);
    } else if (node.hasValue) {
      if (node.type.isScalar())
        values.push_back(node.value);
      else
        values.insert(values.end(), node.data.begin(), node.data.end());
    } else {
      // Columns of the data set every element of an input they bind, row by row.
      if (!boundByData)
        diags.error(node.loc, "input '" + node.name + "' has no value; give it a default or pass --set " +
                                  node.name + "=VALUE");
      values.resize(values.size() + count, 0.0);
    }
  }
  if (llvm::Error err = diags.takeError()) {
    exitCode = reportError(std::move(err));
    return std::nullopt;
  }
  return values;
}

std::vector<double> interpretOutputs(const Graph &graph, llvm::ArrayRef<double> in) {
  Values values = evaluateGraph(graph, in);
  std::vector<double> out;
  for (const Graph::Output &output : graph.outputs()) {
    llvm::ArrayRef<double> elements = values.tensor(output.node);
    out.insert(out.end(), elements.begin(), elements.end());
  }
  return out;
}

} // namespace bpc
