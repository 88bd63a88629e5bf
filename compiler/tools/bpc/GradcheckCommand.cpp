//===- GradcheckCommand.cpp - bpc gradcheck: analytic vs finite differences -===//
//
// Compares every entry of the compiled gradient with a central finite difference of the compiled forward
// function: (f(x + h) - f(x - h)) / (2h), with h = cbrt(machine epsilon) * max(1, |x|), which balances
// truncation and rounding error. The error reported is |analytic - numeric| / max(1, |analytic|, |numeric|):
// relative for large derivatives, absolute near zero, where a relative error means nothing.
//
// A central difference straddles any kink within h of x (abs(x) at x = 1e-7) and then measures the average
// of two slopes, which no derivative equals. So an entry over tolerance gets a second look: one-sided
// differences of the same order of accuracy, (-3 f(x) + 4 f(x + h) - f(x + 2h)) / (2h) on the right and its
// mirror on the left. If they disagree (the slope changes within 2h of x) and the analytic value matches one
// of them, the entry is reported as "cannot confirm" with the reason, not as a failure. A jump (a comparison, or
// where switching branches, within 2h of x) is handled the same way: the one-sided difference that spans it
// is huge, the other is the slope of the side it does not reach, which the analytic derivative matches (a
// comparison's derivative 0; where's, the derivative of the branch taken at x).
//
// A tensor script is checked the same way, element by element (`W[1,0]`).
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
#include <functional>

using namespace bp;

namespace bpc {
namespace {

/// |a - b| / max(1, |a|, |b|); NaN if either is NaN.
double difference(double a, double b) {
  return std::fabs(a - b) / std::max({1.0, std::fabs(a), std::fabs(b)});
}

/// The derivative at x of the parabola through (x, f0), (x + s1, f1), (x + s2, f2): with s1 = h, s2 = 2h it is
/// (-3 f0 + 4 f1 - f2) / (2h), with s1 = -h, s2 = -2h its mirror; exact for quadratics, like the central
/// difference.
double oneSided(double f0, double f1, double f2, double s1, double s2) {
  return -(s1 + s2) / (s1 * s2) * f0 + s2 / (s1 * (s2 - s1)) * f1 - s1 / (s2 * (s2 - s1)) * f2;
}

std::string scientific(double value) {
  char text[32];
  snprintf(text, sizeof text, "%.2e", value);
  return text;
}

/// The forward function: every output's elements from every argument's.
using Forward = std::function<void(const double *in, double *out)>;

/// Finite differences of every output with respect to one argument element at a time, from the forward
/// function.
class FiniteDifferences {
public:
  FiniteDifferences(Forward forward, const std::vector<double> &in, const std::vector<double> &out)
      : forward(std::move(forward)), point(in), out(out), outputCount(out.size()) {}

  /// The step for argument element `a`.
  double step(size_t a) const { return std::cbrt(DBL_EPSILON) * std::max(1.0, std::fabs(point[a])); }

  /// (f(x + h) - f(x - h)) / (2h) for every output, x being argument `a`.
  std::vector<double> central(size_t a) {
    double h = step(a);
    std::vector<double> plus(outputCount), minus(outputCount), result(outputCount);
    double above = sample(a, h, plus), below = sample(a, -h, minus);
    for (size_t o = 0; o < outputCount; ++o)
      result[o] = (plus[o] - minus[o]) / (above - below);
    return result;
  }

  /// The one-sided differences for every output: to the right of x (side 1) or to its left (side -1).
  std::vector<double> oneSidedSlopes(size_t a, int side) {
    double h = side * step(a);
    std::vector<double> near(outputCount), far(outputCount), result(outputCount);
    double s1 = sample(a, h, near), s2 = sample(a, 2 * h, far);
    for (size_t o = 0; o < outputCount; ++o)
      result[o] = oneSided(out[o], near[o], far[o], s1, s2);
    return result;
  }

private:
  /// Every output with argument `a` moved by `offset`; returns the offset actually taken (x + offset rounds).
  double sample(size_t a, double offset, std::vector<double> &values) {
    double x = point[a];
    point[a] = x + offset;
    double taken = point[a] - x;
    forward(point.data(), values.data());
    point[a] = x;
    return taken;
  }

  Forward forward;
  std::vector<double> point;
  const std::vector<double> &out;
  size_t outputCount;
};

enum class Verdict { Ok, Fail, Unconfirmed };

/// The name of element `e` (row-major) of an argument: the name itself for a scalar, `W[1,0]` for a tensor.
std::string elementName(const std::string &name, llvm::ArrayRef<int64_t> shape, size_t e) {
  if (shape.empty())
    return name;
  Shape strides = rowMajorStrides(shape);
  std::string text = name + "[";
  for (size_t d = 0; d < shape.size(); ++d)
    text += (d ? "," : "") + std::to_string(static_cast<int64_t>(e) / strides[d] % shape[d]);
  return text + "]";
}

} // namespace

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
  const auto &outputs = graph->outputs();
  std::vector<NodeId> arguments = graph->arguments();
  std::vector<size_t> offsets = graph->argumentOffsets();
  size_t elements = offsets.back(); // every argument's, flat: the entries of one output's gradient
  std::vector<double> out(outputs.size()), grad(outputs.size() * elements);
  auto model = CompiledModel::create(*graph, CompiledModel::ForwardAndGradient, options.optLevel);
  if (!model)
    return reportError(model.takeError());
  (*model)->gradient(in->data(), out.data(), grad.data());
  Forward forward = [&](const double *x, double *y) { (*model)->forward(x, y); };
  auto analytic = [&](size_t o, size_t a) { return grad[o * elements + a]; };
  // The name of argument element a (an index into the flat arguments).
  std::vector<std::string> names;
  for (size_t i = 0; i < arguments.size(); ++i)
    for (size_t e = 0; e < offsets[i + 1] - offsets[i]; ++e)
      names.push_back(elementName(graph->node(arguments[i]).name, graph->node(arguments[i]).type.shape, e));

  // numeric[a][o] by central differences; verdicts and notes per entry, one-sided differences only where an
  // argument element has an entry over tolerance.
  FiniteDifferences differences(forward, *in, out);
  std::vector<std::vector<double>> numeric(elements);
  std::vector<Verdict> verdicts(grad.size(), Verdict::Ok);
  std::vector<std::string> notes(grad.size()); // why an entry cannot be confirmed
  for (size_t a = 0; a < elements; ++a) {
    numeric[a] = differences.central(a);
    std::vector<double> right, left;
    for (size_t o = 0; o < outputs.size(); ++o) {
      if (difference(analytic(o, a), numeric[a][o]) <= options.tolerance) // false for NaN
        continue;
      Verdict &verdict = verdicts[o * elements + a];
      verdict = Verdict::Fail;
      if (right.empty()) {
        right = differences.oneSidedSlopes(a, 1);
        left = differences.oneSidedSlopes(a, -1);
      }
      bool matchesRight = difference(analytic(o, a), right[o]) <= options.tolerance;
      bool matchesLeft = difference(analytic(o, a), left[o]) <= options.tolerance;
      if (difference(right[o], left[o]) <= options.tolerance || !(matchesRight || matchesLeft))
        continue;
      verdict = Verdict::Unconfirmed;
      const std::string &name = names[a];
      notes[o * elements + a] =
          "d" + outputs[o].name + "/d" + name + " cannot be confirmed: within " + scientific(2 * differences.step(a)) +
          " of " + name + " = " + formatNumber((*in)[a]) + " the slope of " + outputs[o].name + " changes (" +
          scientific(left[o]) + " on the left, " + scientific(right[o]) +
          " on the right), a kink or a jump that the central difference straddles; the analytic value " +
          formatNumber(analytic(o, a)) + " is the slope on the " + (matchesRight ? "right" : "left");
    }
  }

  struct Row {
    std::string output, argument, analytic, numeric, error;
    Verdict verdict;
    const std::string *note;
  };
  std::vector<Row> rows;
  double worst = 0;
  size_t failures = 0, unconfirmed = 0;
  for (size_t o = 0; o < outputs.size(); ++o) {
    for (NodeId id : graph->declaredArguments()) {
      size_t i = graph->argumentIndex(id);
      for (size_t a = offsets[i]; a < offsets[i + 1]; ++a) {
        double error = difference(analytic(o, a), numeric[a][o]);
        Verdict verdict = verdicts[o * elements + a];
        failures += verdict == Verdict::Fail;
        unconfirmed += verdict == Verdict::Unconfirmed;
        if (verdict != Verdict::Unconfirmed && (std::isnan(error) || (!std::isnan(worst) && error > worst)))
          worst = error;
        rows.push_back({outputs[o].name, names[a], formatNumber(analytic(o, a)), formatNumber(numeric[a][o]),
                        scientific(error), verdict, &notes[o * elements + a]});
      }
    }
  }

  Row header{"output", "wrt", "analytic", "numeric", "error", Verdict::Ok, nullptr};
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
    print(row, row.verdict == Verdict::Ok ? "ok" : row.verdict == Verdict::Fail ? "FAIL" : "cannot confirm");
  for (const Row &row : rows)
    if (!row.note->empty())
      os << "note: " << *row.note << '\n';
  os << (failures ? "FAIL" : "ok") << ": " << rows.size() << (rows.size() == 1 ? " entry" : " entries")
     << ", largest error " << scientific(worst) << ", tolerance " << formatNumber(options.tolerance);
  if (failures)
    os << ", " << failures << " over tolerance";
  if (unconfirmed)
    os << ", " << unconfirmed << " cannot be confirmed at a kink or jump (not counted as failures)";
  os << '\n';
  return failures ? ExitFailure : ExitSuccess;
}

} // namespace bpc
