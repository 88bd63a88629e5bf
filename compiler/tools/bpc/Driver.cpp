//===- Driver.cpp - What bpc's subcommands share: loading and --set -------===//
#include "Commands.h"

#include "bp/DataSet.h"
#include "bp/Diagnostics.h"
#include "bp/Frontend.h"
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

llvm::Expected<Graph> loadGraph(const Options &options) {
  auto file = loadSourceFile(options.file);
  if (!file)
    return file.takeError();
  return compileScript(*file);
}

std::optional<std::vector<double>> bindArguments(const Graph &graph, const Options &options, int &exitCode,
                                                 const DataSet *data) {
  std::map<std::string, double> overrides;
  for (const std::string &set : options.sets) {
    size_t equals = set.find('=');
    double value;
    if (equals == std::string::npos || equals == 0) {
      exitCode = reportError("invalid --set '" + set + "': expected NAME=VALUE, as in --set a=5", ExitUsage);
      return std::nullopt;
    }
    std::string name = set.substr(0, equals), text = set.substr(equals + 1);
    if (!parseNumber(text, value)) {
      exitCode = reportError("invalid --set '" + set + "': " + describeBadNumber(text), ExitUsage);
      return std::nullopt;
    }
    if (!overrides.emplace(name, value).second) {
      exitCode = reportError("--set gives '" + name + "' a value twice", ExitUsage);
      return std::nullopt;
    }
  }

  for (const auto &[name, value] : overrides) {
    std::optional<NodeId> id = graph.lookupArgument(name);
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
    if (override != overrides.end()) {
      values.push_back(override->second);
    } else if (node.hasValue || boundByData) {
      values.push_back(node.value); // a column's value replaces it row by row
    } else {
      diags.error(node.loc, "input '" + node.name + "' has no value; give it a default or pass --set " +
                                node.name + "=VALUE");
      values.push_back(0);
    }
  }
  if (llvm::Error err = diags.takeError()) {
    exitCode = reportError(std::move(err));
    return std::nullopt;
  }
  return values;
}

} // namespace bpc
