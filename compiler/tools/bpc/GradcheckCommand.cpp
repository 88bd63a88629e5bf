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
// comparison's derivative 0; where's, the derivative of the branch taken at x). An output that is NaN beside x
// but not at x (an argument used as an index computed at run time, which only whole numbers are) cannot be
// checked by differences at all: "cannot confirm" too, saying so.
//
// stop_gradient(x) passes x's value with derivative 0 by definition, which no difference of the script sees. So
// the differences of a script that calls it are taken of the script with every stop_gradient held at its value
// at the point (a constant there, as the gradient treats it), and a note says so: the check then compares the
// analytic gradient with exactly what it claims to be.
//
// A tensor script is checked the same way, element by element (`W[1,0]`); a tensor output's Jacobian, every
// (output element, argument element) pair (`y[1]` by `W[1,0]`). `--samples N` checks N of those pairs, drawn
// without repeats by a generator seeded by `--seed` (the one of the initializers), for Jacobians too large to
// check whole: only the argument elements drawn are moved.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "bp/Interpreter.h"
#include "bp/JIT.h"
#include "bp/NumberFormat.h"
#include "bp/Random.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <functional>
#include <set>

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

/// Finite differences of every output element with respect to one argument element at a time, from the forward
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

/// Unconfirmed: at a kink or jump (the one-sided differences disagree); Undefined: the output is NaN beside x.
enum class Verdict { Ok, Fail, Unconfirmed, Undefined };

/// `count` distinct numbers of [0, total), in increasing order, drawn by Floyd's algorithm from `seed`'s stream;
/// all of them when count >= total.
std::vector<size_t> sampleEntries(size_t total, size_t count, uint64_t seed) {
  std::vector<size_t> all;
  if (count >= total) {
    for (size_t t = 0; t < total; ++t)
      all.push_back(t);
    return all;
  }
  RandomStream random(seed);
  std::set<size_t> chosen;
  for (size_t j = total - count; j < total; ++j) {
    size_t t = static_cast<size_t>(random.next() % (j + 1));
    chosen.insert(chosen.count(t) ? j : t);
  }
  return std::vector<size_t>(chosen.begin(), chosen.end());
}

/// `graph` with every stop_gradient replaced by a constant of its value at `in`, or nothing when it has none.
std::optional<Graph> holdStopGradients(const Graph &graph, llvm::ArrayRef<double> in) {
  std::optional<Graph> held;
  std::optional<Values> values;
  for (NodeId id = 0; id < graph.size(); ++id) {
    if (graph.node(id).op != OpKind::StopGradient)
      continue;
    if (!held) {
      held = graph;
      values = evaluateGraph(graph, in);
    }
    Node &node = held->node(id);
    node.op = OpKind::Const;
    node.operands.clear();
    node.hasValue = true;
    llvm::ArrayRef<double> value = values->tensor(id);
    if (node.type.isScalar())
      node.value = value[0];
    else
      node.data.assign(value.begin(), value.end());
  }
  return held;
}

} // namespace

int gradcheckCommand(const Options &options) {
  auto graph = loadGraph(options);
  if (!graph)
    return reportError(graph.takeError());
  if (!(options.tolerance >= 0) || !std::isfinite(options.tolerance))
    return reportError("--tolerance must be a finite number >= 0", ExitUsage);
  auto selection = gradientSelection(*graph, options);
  if (!selection)
    return reportError(llvm::toString(selection.takeError()), ExitUsage);
  int exitCode = ExitSuccess;
  std::optional<std::vector<double>> in = bindArguments(*graph, options, exitCode);
  if (!in)
    return exitCode;
  const auto &outputs = graph->outputs();
  std::vector<NodeId> arguments = graph->arguments();
  std::vector<size_t> offsets = graph->argumentOffsets(), outputOffsets = graph->outputOffsets();
  size_t elements = offsets.back(); // every argument's, flat
  // grad holds the selected outputs' rows and the selected arguments' columns (--of, --wrt): per output element
  // and per argument element, its row and column there.
  std::vector<size_t> gradRow(outputOffsets.back()), gradColumn(elements), checkedRows;
  std::vector<size_t> rowOffsets = selection->rowOffsets(*graph), columnOffsets = selection->columnOffsets(*graph);
  for (size_t s = 0; s < selection->outputs.size(); ++s)
    for (size_t e = 0, o = selection->outputs[s]; e < outputOffsets[o + 1] - outputOffsets[o]; ++e) {
      gradRow[outputOffsets[o] + e] = rowOffsets[s] + e;
      checkedRows.push_back(outputOffsets[o] + e);
    }
  for (size_t c = 0; c < selection->arguments.size(); ++c)
    for (size_t e = 0, a = selection->arguments[c]; e < offsets[a + 1] - offsets[a]; ++e)
      gradColumn[offsets[a] + e] = columnOffsets[c] + e;
  std::vector<double> out(outputOffsets.back()), grad(rowOffsets.back() * columnOffsets.back());
  auto model = CompiledModel::create(*graph, CompiledModel::ForwardAndGradient, options.optLevel, *selection);
  if (!model)
    return reportError(model.takeError());
  (*model)->gradient(in->data(), out.data(), grad.data());
  Forward forward = [&](const double *x, double *y) { (*model)->forward(x, y); };
  std::optional<Graph> held = holdStopGradients(*graph, *in);
  std::unique_ptr<CompiledModel> heldModel;
  if (held) {
    auto compiled = CompiledModel::create(*held, CompiledModel::ForwardOnly, options.optLevel);
    if (!compiled)
      return reportError(compiled.takeError());
    heldModel = std::move(*compiled);
    forward = [&](const double *x, double *y) { heldModel->forward(x, y); };
  }
  // Output element r by argument element a (both as in out and in): the names `y[1]` and `W[1,0]`.
  auto analytic = [&](size_t r, size_t a) { return grad[gradRow[r] * columnOffsets.back() + gradColumn[a]]; };
  std::vector<std::string> names, outputNames; // per argument element, per output element
  for (size_t i = 0; i < arguments.size(); ++i)
    for (size_t e = 0; e < offsets[i + 1] - offsets[i]; ++e)
      names.push_back(elementName(graph->node(arguments[i]).name, graph->node(arguments[i]).type.shape,
                                  static_cast<int64_t>(e)));
  for (size_t o = 0; o < outputs.size(); ++o)
    for (size_t e = 0; e < outputOffsets[o + 1] - outputOffsets[o]; ++e)
      outputNames.push_back(elementName(outputs[o].name, graph->node(outputs[o].node).type.shape,
                                        static_cast<int64_t>(e)));
  // The entries in the table's order: output elements, then the arguments as declared, each element in order.
  std::vector<size_t> columns;
  for (NodeId id : graph->declaredArguments()) {
    size_t i = graph->argumentIndex(id);
    if (!llvm::is_contained(selection->arguments, i))
      continue;
    for (size_t a = offsets[i]; a < offsets[i + 1]; ++a)
      columns.push_back(a);
  }
  size_t total = checkedRows.size() * columns.size();
  std::vector<size_t> checked = sampleEntries(total, options.samples ? options.samples : total, options.seed);

  // Central differences per argument element that some checked entry needs (every output element at once); one-
  // sided ones only where such an entry is over tolerance.
  FiniteDifferences differences(forward, *in, out);
  std::vector<std::vector<double>> numeric(elements), right(elements), left(elements);
  struct Row {
    std::string output, argument, analytic, numeric, error;
    Verdict verdict;
    std::string note; // why the entry cannot be confirmed
  };
  std::vector<Row> rows;
  double worst = 0;
  size_t failures = 0, unconfirmed = 0, undefined = 0;
  for (size_t t : checked) {
    size_t r = checkedRows[t / columns.size()], a = columns[t % columns.size()];
    if (numeric[a].empty())
      numeric[a] = differences.central(a);
    double value = analytic(r, a), error = difference(value, numeric[a][r]);
    Row row{outputNames[r], names[a], formatNumber(value), formatNumber(numeric[a][r]), scientific(error),
            Verdict::Ok, ""};
    if (std::isnan(numeric[a][r]) && std::isfinite(out[r])) {
      // The output is NaN just beside x but not at x: the script is defined at this value only, as where the
      // argument is an index computed at run time (a whole number; between two, the result is NaN). No
      // difference can say anything about the derivative there.
      row.verdict = Verdict::Undefined;
      row.note = "d" + outputNames[r] + "/d" + names[a] + " cannot be confirmed: " + outputNames[r] + " is " +
                 formatNumber(out[r]) + " at " + names[a] + " = " + formatNumber((*in)[a]) + " but NaN beside it (" +
                 names[a] + " +- " + scientific(differences.step(a)) +
                 "), as where it is an index computed at run time, defined at whole numbers only";
    } else if (!(error <= options.tolerance)) { // NaN included
      row.verdict = Verdict::Fail;
      if (right[a].empty()) {
        right[a] = differences.oneSidedSlopes(a, 1);
        left[a] = differences.oneSidedSlopes(a, -1);
      }
      bool matchesRight = difference(value, right[a][r]) <= options.tolerance;
      bool matchesLeft = difference(value, left[a][r]) <= options.tolerance;
      if (difference(right[a][r], left[a][r]) > options.tolerance && (matchesRight || matchesLeft)) {
        row.verdict = Verdict::Unconfirmed;
        const std::string &name = names[a];
        row.note = "d" + outputNames[r] + "/d" + name + " cannot be confirmed: within " +
                   scientific(2 * differences.step(a)) + " of " + name + " = " + formatNumber((*in)[a]) +
                   " the slope of " + outputNames[r] + " changes (" + scientific(left[a][r]) + " on the left, " +
                   scientific(right[a][r]) + " on the right), a kink or a jump that the central difference " +
                   "straddles; the analytic value " + formatNumber(value) + " is the slope on the " +
                   (matchesRight ? "right" : "left");
      }
    }
    failures += row.verdict == Verdict::Fail;
    unconfirmed += row.verdict == Verdict::Unconfirmed;
    undefined += row.verdict == Verdict::Undefined;
    bool confirmed = row.verdict == Verdict::Ok || row.verdict == Verdict::Fail;
    if (confirmed && (std::isnan(error) || (!std::isnan(worst) && error > worst)))
      worst = error;
    rows.push_back(std::move(row));
  }

  Row header{"output", "wrt", "analytic", "numeric", "error", Verdict::Ok, ""};
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
  if (held)
    os << "note: the script calls stop_gradient, whose derivative is 0 by definition: the numeric column "
       << "differentiates it with every stop_gradient held at its value here\n";
  for (const Row &row : rows)
    if (!row.note.empty())
      os << "note: " << row.note << '\n';
  os << (failures ? "FAIL" : "ok") << ": " << rows.size() << (rows.size() == 1 ? " entry" : " entries");
  if (rows.size() < total)
    os << " (drawn from " << total << " with seed " << options.seed << ")";
  os << ", largest error " << scientific(worst) << ", tolerance " << formatNumber(options.tolerance);
  if (failures)
    os << ", " << failures << " over tolerance";
  if (unconfirmed)
    os << ", " << unconfirmed << " cannot be confirmed at a kink or jump (not counted as failures)";
  if (undefined)
    os << ", " << undefined << " cannot be confirmed where the output is NaN beside the point (not counted as "
       << "failures)";
  os << '\n';
  return failures ? ExitFailure : ExitSuccess;
}

} // namespace bpc
