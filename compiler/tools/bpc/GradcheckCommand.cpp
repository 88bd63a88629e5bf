//===- GradcheckCommand.cpp - bpc gradcheck: analytic vs finite differences -===//
//
// Compares every entry of the compiled gradient with a central finite difference of the compiled forward
// function: (f(x + h) - f(x - h)) / (2h), with h = cbrt(machine epsilon) * max(1, |x|), which balances
// truncation and rounding error. The error reported is |analytic - numeric| / max(1, |analytic|, |numeric|):
// relative for large derivatives, absolute near zero, where a relative error means nothing.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "bp/JIT.h"
#include "bp/NumberFormat.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

using namespace bp;

namespace bpc {

int gradcheckCommand(const Options &options) {
  auto graph = loadGraph(options);
  if (!graph)
    return reportError(graph.takeError());
  if (!(options.tolerance >= 0) || !std::isfinite(options.tolerance))
    return reportError("--tolerance must be a finite number >= 0", ExitUsage);
  int exitCode = ExitSuccess;
  std::optional<std::vector<double>> in = bindArguments(*graph, options, exitCode);
  if (!in)
    return exitCode;
  auto model = CompiledModel::create(*graph, CompiledModel::ForwardAndGradient, options.optLevel);
  if (!model)
    return reportError(model.takeError());

  const auto &outputs = graph->outputs();
  std::vector<NodeId> arguments = graph->arguments();
  std::vector<double> out(outputs.size()), grad(outputs.size() * arguments.size());
  (*model)->gradient(in->data(), out.data(), grad.data());

  // numeric[o][a] by central differences, one argument at a time.
  std::vector<double> numeric(grad.size());
  std::vector<double> point = *in, plus(outputs.size()), minus(outputs.size());
  for (size_t a = 0; a < arguments.size(); ++a) {
    double x = (*in)[a];
    double h = std::cbrt(DBL_EPSILON) * std::max(1.0, std::fabs(x));
    point[a] = x + h;
    double above = point[a];
    (*model)->forward(point.data(), plus.data());
    point[a] = x - h;
    double below = point[a];
    (*model)->forward(point.data(), minus.data());
    point[a] = x;
    for (size_t o = 0; o < outputs.size(); ++o)
      numeric[o * arguments.size() + a] = (plus[o] - minus[o]) / (above - below);
  }

  struct Row {
    std::string output, argument, analytic, numeric, error;
    bool ok;
  };
  std::vector<Row> rows;
  double worst = 0;
  size_t failures = 0;
  for (size_t o = 0; o < outputs.size(); ++o) {
    for (NodeId id : graph->declaredArguments()) {
      size_t a = graph->argumentIndex(id);
      double analytic = grad[o * arguments.size() + a], estimate = numeric[o * arguments.size() + a];
      double error = std::fabs(analytic - estimate) / std::max({1.0, std::fabs(analytic), std::fabs(estimate)});
      bool ok = error <= options.tolerance; // false for NaN
      if (!ok)
        ++failures;
      if (std::isnan(error) || (!std::isnan(worst) && error > worst))
        worst = error;
      char text[32];
      snprintf(text, sizeof text, "%.2e", error);
      rows.push_back({outputs[o].name, graph->node(id).name, formatNumber(analytic), formatNumber(estimate),
                      text, ok});
    }
  }

  Row header{"output", "wrt", "analytic", "numeric", "error", true};
  size_t widths[5] = {0, 0, 0, 0, 0};
  auto measure = [&](const Row &row) {
    const std::string *cells[] = {&row.output, &row.argument, &row.analytic, &row.numeric, &row.error};
    for (int i = 0; i < 5; ++i)
      widths[i] = std::max(widths[i], cells[i]->size());
  };
  measure(header);
  for (const Row &row : rows)
    measure(row);
  llvm::raw_ostream &os = llvm::outs();
  auto print = [&](const Row &row, const char *status) {
    os << llvm::left_justify(row.output, widths[0] + 2) << llvm::left_justify(row.argument, widths[1] + 2)
       << llvm::left_justify(row.analytic, widths[2] + 2) << llvm::left_justify(row.numeric, widths[3] + 2)
       << llvm::left_justify(row.error, widths[4] + 2) << status << '\n';
  };
  print(header, "");
  for (const Row &row : rows)
    print(row, row.ok ? "ok" : "FAIL");
  char summary[64];
  snprintf(summary, sizeof summary, "%.2e", worst);
  os << (failures ? "FAIL" : "ok") << ": " << rows.size() << (rows.size() == 1 ? " entry" : " entries")
     << ", largest error " << summary << ", tolerance " << formatNumber(options.tolerance);
  if (failures)
    os << ", " << failures << " over tolerance";
  os << '\n';
  return failures ? ExitFailure : ExitSuccess;
}

} // namespace bpc
