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
// comparison's derivative 0; where's, the derivative of the branch taken at x). Such a note names the kinks and
// jumps of the script in reach (relu, abs, max, min and comparisons on the way from the argument to the output,
// with file:line:col) and bp's derivatives there. Exactly at a kink the script has no derivative, and bp's is a
// convention (relu'(0) = 0) that may be the slope of neither side (relu(x) + abs(x) at 0: 0, where the slopes are
// -1 and 2): a value between the one-sided slopes (the generalized derivative there) cannot be refuted and
// is "cannot confirm" too; one outside them, or one where the script is smooth after all, fails, with the kinks
// named. A kink of the script is a jump of its gradient: a Hessian entry on one cannot be confirmed. An output
// that is NaN beside x but not at x (an argument used as an index computed at run time, which only whole numbers
// are) cannot be checked by differences at all: "cannot confirm" too, saying so.
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
// The other modes of differentiation are checked by the same differences, each entry a derivative along a
// direction of some weighted sum of a function's results. --jvp X=T,... checks J t, forward mode's tangent of
// every output (evaluateTangents), against the central difference of the forward function along t (a step h
// along t moves the argument element of largest |t| as far as the step of that element alone would).
// --vjp OUT=SEED checks SEED^T J, the seeded reverse sweep, per argument element, against the seeded sum of the
// outputs' central differences. --hessian OUT checks every entry d2 OUT / dA dB of the Hessian (reverse over
// reverse, buildHessianGraph) against the central difference of the compiled gradient's entry d OUT / dA along B,
// and that the Hessian is symmetric. Kinks, jumps and NaN beside the point are recognized in all of them.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "Evaluate.h"

#include "bp/Interpreter.h"
#include "bp/Model.h"
#include "bp/NumberFormat.h"
#include "bp/Random.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <functional>
#include <map>
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

/// A function of the arguments whose derivatives are checked: the forward function (every output's elements
/// from every argument's), or for --hessian the gradient function's row.
using Function = std::function<void(const double *in, double *results)>;

/// A direction in the space of the argument elements: (element, component) pairs, the first of largest |component|.
/// A unit direction moves one argument element.
struct Direction {
  std::vector<std::pair<size_t, double>> components;
  std::string name; // "x[1]" for a unit direction, "t" for a tangent
  bool unit;
};

/// Finite differences of every result of a function along one direction at a time.
class FiniteDifferences {
public:
  FiniteDifferences(Function function, const std::vector<double> &in, size_t resultCount)
      : function(std::move(function)), point(in), atPoint(resultCount) {
    this->function(point.data(), atPoint.data());
  }

  /// The results at the point.
  const std::vector<double> &values() const { return atPoint; }

  /// The step along `d`: h = cbrt(machine epsilon) * max(1, |x|) for its largest component's element x, divided
  /// by that component, so that this element moves by the step it would alone.
  double step(const Direction &d) const {
    auto [largest, component] = d.components.front();
    return std::cbrt(DBL_EPSILON) * std::max(1.0, std::fabs(point[largest])) / std::fabs(component);
  }

  /// (f(x + h t) - f(x - h t)) / (2h) for every result.
  std::vector<double> central(const Direction &d) {
    double h = step(d);
    std::vector<double> plus(atPoint.size()), minus(atPoint.size()), result(atPoint.size());
    double above = sample(d, h, plus), below = sample(d, -h, minus);
    for (size_t r = 0; r < result.size(); ++r)
      result[r] = (plus[r] - minus[r]) / (above - below);
    return result;
  }

  /// The one-sided differences for every result: along t (side 1) or against it (side -1).
  std::vector<double> oneSidedSlopes(const Direction &d, int side) {
    double h = side * step(d);
    std::vector<double> near(atPoint.size()), far(atPoint.size()), result(atPoint.size());
    double s1 = sample(d, h, near), s2 = sample(d, 2 * h, far);
    for (size_t r = 0; r < result.size(); ++r)
      result[r] = oneSided(atPoint[r], near[r], far[r], s1, s2);
    return result;
  }

private:
  /// Every result at x + offset t; returns the offset actually taken by the largest component's element
  /// (x + offset rounds).
  double sample(const Direction &d, double offset, std::vector<double> &values) {
    saved.clear();
    for (auto [element, component] : d.components) {
      saved.push_back(point[element]);
      point[element] += offset * component;
    }
    auto [largest, component] = d.components.front();
    double taken = (point[largest] - saved.front()) / component;
    function(point.data(), values.data());
    for (size_t i = 0; i < saved.size(); ++i)
      point[d.components[i].first] = saved[i];
    return taken;
  }

  Function function;
  std::vector<double> point, atPoint;
  std::vector<double> saved; // the moved elements' values at the point
};

/// Unconfirmed: at a kink or jump (the one-sided differences disagree); Undefined: the output is NaN beside x.
enum class Verdict { Ok, Fail, Unconfirmed, Undefined };

/// One number checked: `analytic` against the derivative along direction #direction of the weighted sum of
/// function #function's results.
struct Check {
  std::string output, argument; // the table's first two columns
  std::string subject;          // the derivative, as the notes name it: "da/dx", "jvp(f)", "d2f/dx dy"
  std::string slopeOf;          // the function whose slope the notes speak of: "a", "df/dx"
  double analytic;
  size_t function;
  size_t direction;
  std::vector<std::pair<size_t, double>> weights; // (result, weight); weights 0 are left out
};

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

/// `graph` with every stop_gradient replaced by a constant of its value at `in`, or `graph` itself when it has
/// none.
std::shared_ptr<const Graph> holdStopGradients(const std::shared_ptr<const Graph> &graph, llvm::ArrayRef<double> in) {
  std::shared_ptr<Graph> held;
  std::optional<Values> values;
  for (NodeId id = 0; id < graph->size(); ++id) {
    if (graph->node(id).op != OpKind::StopGradient)
      continue;
    if (!held) {
      held = std::make_shared<Graph>(*graph);
      values = evaluateGraph(*graph, in);
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
  if (!held)
    return graph;
  return held;
}

/// The kinks (relu, abs, max, min) and jumps (comparisons) of a script that an entry's differences can straddle:
/// the ops on the way from the argument elements a direction moves to the outputs a check weighs, whose kink
/// variable (the operand; for two operands, their difference) is 0 at the point or changes sign within 2h of it
/// (the reach of the one-sided differences).
class KinkFinder {
public:
  KinkFinder(const Graph &graph, const std::vector<double> &in) : graph(graph), in(in) {}

  /// The output node of each result of function #function (the forward function's results are the outputs'
  /// elements; the Hessian's gradient row belongs to its one output), and whether the function is a derivative
  /// of the script, in which the script's kinks are jumps.
  void setResultOutputs(size_t function, std::vector<NodeId> outputs, bool derivative = false) {
    if (resultOutputs.size() <= function) {
      resultOutputs.resize(function + 1);
      derivatives.resize(function + 1);
    }
    resultOutputs[function] = std::move(outputs);
    derivatives[function] = derivative;
  }

  /// The kinks and jumps in reach of an entry's differences: `text` says where they are and bp's derivatives
  /// there ("x = 0 is a kink of relu (f.bp:3:10) and a kink of abs (f.bp:3:20), where bp takes relu'(0) = 0 and
  /// abs'(0) = 0"; "" for none), `onPoint` whether a kink (not a jump, whose one-sided differences span it) is
  /// exactly at the point. `at` names the point.
  struct Kinks {
    std::string text;
    bool onPoint = false;
    bool jumpsInFunction = false; // onPoint, of a function that is a derivative (a kink of the script jumps there)
  };
  Kinks explain(const Direction &d, double h, size_t function, llvm::ArrayRef<std::pair<size_t, double>> weights,
                const std::string &at) const;

private:
  static bool isKinkOp(OpKind op) {
    return op == OpKind::Relu || op == OpKind::Abs || op == OpKind::Max || op == OpKind::Min ||
           getOpInfo(op).precedence == ComparisonPrecedence;
  }

  /// Per element of node `id`, the variable whose sign changes at its kink or jump; empty for other ops (and
  /// for operands that broadcast other than from a scalar).
  std::vector<double> kinkVariable(const Values &values, NodeId id) const {
    const Node &node = graph.node(id);
    switch (node.op) {
    case OpKind::Relu:
    case OpKind::Abs: {
      llvm::ArrayRef<double> x = values.tensor(node.operands[0]);
      return std::vector<double>(x.begin(), x.end());
    }
    case OpKind::Max:
    case OpKind::Min:
    case OpKind::Less:
    case OpKind::LessEqual:
    case OpKind::Greater:
    case OpKind::GreaterEqual:
    case OpKind::Equal:
    case OpKind::NotEqual: {
      llvm::ArrayRef<double> a = values.tensor(node.operands[0]), b = values.tensor(node.operands[1]);
      size_t n = std::max(a.size(), b.size());
      if ((a.size() != n && a.size() != 1) || (b.size() != n && b.size() != 1))
        return {};
      std::vector<double> u(n);
      for (size_t e = 0; e < n; ++e)
        u[e] = a[a.size() == 1 ? 0 : e] - b[b.size() == 1 ? 0 : e];
      return u;
    }
    default:
      return {};
    }
  }

  const Graph &graph;
  const std::vector<double> &in;
  std::vector<std::vector<NodeId>> resultOutputs;
  std::vector<bool> derivatives;
  mutable std::optional<Values> atPoint; // the script's values at the point, once needed
};

KinkFinder::Kinks KinkFinder::explain(const Direction &d, double h, size_t function,
                                      llvm::ArrayRef<std::pair<size_t, double>> weights, const std::string &at) const {
  if (function >= resultOutputs.size() || resultOutputs[function].empty())
    return {};
  // The nodes on the way: after a moved argument, before a weighed output.
  std::vector<NodeId> arguments = graph.arguments();
  std::vector<size_t> offsets = graph.argumentOffsets();
  std::vector<bool> moved(graph.size()), reaches(graph.size());
  for (auto [element, component] : d.components)
    moved[arguments[llvm::upper_bound(offsets, element) - offsets.begin() - 1]] = true;
  for (auto [result, weight] : weights)
    reaches[resultOutputs[function][result]] = true;
  for (NodeId id = 0; id < graph.size(); ++id)
    for (NodeId operand : graph.node(id).operands)
      moved[id] = moved[id] || moved[operand];
  for (NodeId id = graph.size(); id-- > 0;)
    if (reaches[id])
      for (NodeId operand : graph.node(id).operands)
        reaches[operand] = true;
  std::vector<NodeId> candidates;
  for (NodeId id = 0; id < graph.size(); ++id)
    if (moved[id] && reaches[id] && isKinkOp(graph.node(id).op))
      candidates.push_back(id);
  if (candidates.empty())
    return {};
  // The script at the point (once for every check) and 2h to either side.
  if (!atPoint)
    atPoint = evaluateGraph(graph, in);
  auto beside = [&](double offset) {
    std::vector<double> point = in;
    for (auto [element, component] : d.components)
      point[element] += offset * component;
    return evaluateGraph(graph, point);
  };
  Values onLeft = beside(-2 * h), onRight = beside(2 * h);
  std::vector<std::string> exact, near;
  std::vector<std::string> conventions;
  bool kinkOnPoint = false;
  for (NodeId id : candidates) {
    std::vector<double> u = kinkVariable(*atPoint, id);
    if (u.empty())
      continue;
    std::vector<double> left = kinkVariable(onLeft, id), right = kinkVariable(onRight, id);
    bool onIt = false, inReach = false;
    for (size_t e = 0; e < u.size(); ++e) {
      bool undefined = std::isnan(u[e]) || std::isnan(left[e]) || std::isnan(right[e]);
      if (undefined || (left[e] == u[e] && right[e] == u[e])) // no kink to see, or an element that does not move
        continue;
      onIt = onIt || u[e] == 0;
      auto crosses = [&](double side) { return side == 0 || std::signbit(side) != std::signbit(u[e]); };
      inReach = inReach || crosses(left[e]) || crosses(right[e]);
    }
    if (!onIt && !inReach)
      continue;
    const Node &node = graph.node(id);
    const OpInfo &info = getOpInfo(node.op);
    bool comparison = info.precedence == ComparisonPrecedence;
    kinkOnPoint = kinkOnPoint || (onIt && !comparison);
    std::string where = (graph.sourceFile() ? graph.sourceFile()->name() + ":" : std::string()) +
                        std::to_string(node.loc.line) + ":" + std::to_string(node.loc.column);
    std::string name = comparison ? std::string(info.spelling) : std::string(info.name);
    (onIt ? exact : near).push_back((comparison ? "a jump of " : "a kink of ") + name + " (" + where + ")");
    std::string convention = node.op == OpKind::Relu  ? "relu'(0) = 0"
                             : node.op == OpKind::Abs ? "abs'(0) = 0"
                             : comparison             ? "a comparison's derivative as 0"
                                                      : name + "'s first argument at a tie";
    if (!llvm::is_contained(conventions, convention))
      conventions.push_back(convention);
  }
  if (exact.empty() && near.empty())
    return {};
  auto list = [](const std::vector<std::string> &items) {
    std::string text;
    for (size_t i = 0; i < items.size(); ++i)
      text += (i == 0 ? "" : i + 1 == items.size() ? " and " : ", ") + items[i];
    return text;
  };
  std::string text = exact.empty() ? "" : at + " is " + list(exact);
  if (!near.empty())
    text += (text.empty() ? "" : ", and ") + list(near) + " lie" + (near.size() == 1 ? "s" : "") + " within " +
            scientific(2 * h) + (d.unit ? "" : " " + d.name) + " of " + at;
  return {text + ", where bp takes " + list(conventions), kinkOnPoint, kinkOnPoint && derivatives[function]};
}

/// The checks gradcheck makes, and the table it prints.
class Checker {
public:
  Checker(const Options &options, const std::vector<double> &in, const KinkFinder &kinks)
      : options(options), in(in), kinks(kinks) {}

  /// Adds a function to difference (its results at `in` computed now); returns its index.
  size_t addFunction(Function function, size_t resultCount) {
    functions.emplace_back(std::move(function), in, resultCount);
    return functions.size() - 1;
  }
  const std::vector<double> &valuesOf(size_t function) const { return functions[function].values(); }

  /// Adds a direction; returns its index.
  size_t addDirection(Direction direction) {
    directions.push_back(std::move(direction));
    return directions.size() - 1;
  }

  /// Checks one entry and records its row.
  void check(const Check &check);

  /// Records the Hessian's symmetry check over `pairs` pairs A != B: its largest asymmetry, between `subject`
  /// and its mirror (`error` 0: none).
  void checkSymmetry(size_t pairs, double error, const std::string &subject, const std::string &mirror) {
    asymmetric = !(error <= options.tolerance); // NaN included
    std::string count = std::to_string(pairs) + (pairs == 1 ? " pair" : " pairs");
    symmetry = error == 0 ? "symmetry: every d2" + options.hessian + "/dA dB equals d2" + options.hessian +
                                "/dB dA exactly (" + count + ")  ok"
                          : "symmetry: " + subject + " and " + mirror + " differ by " + scientific(error) +
                                ", the most of " + count + "  " + (asymmetric ? "FAIL" : "ok");
  }

  /// Prints the table, its notes and the summary of `total` possible entries; returns the exit status.
  int report(size_t total, bool held);

private:
  struct Row {
    std::string output, argument, analytic, numeric, error;
    Verdict verdict;
    std::string note; // why the entry cannot be confirmed
  };
  using Slopes = std::map<std::pair<size_t, size_t>, std::vector<double>>; // by (function, direction)

  const std::vector<double> &slopes(Slopes &cache, size_t function, size_t direction, int side) {
    std::vector<double> &slopes = cache[{function, direction}];
    if (slopes.empty())
      slopes = side ? functions[function].oneSidedSlopes(directions[direction], side)
                    : functions[function].central(directions[direction]);
    return slopes;
  }
  static double combine(const Check &check, const std::vector<double> &values) {
    double sum = 0;
    for (auto [result, weight] : check.weights)
      sum += weight * values[result];
    return sum;
  }

  const Options &options;
  const std::vector<double> &in;
  const KinkFinder &kinks;
  std::vector<FiniteDifferences> functions;
  std::vector<Direction> directions;
  Slopes central, right, left;
  std::vector<Row> rows;
  std::string symmetry; // the line of the Hessian's symmetry check
  bool asymmetric = false;
  double worst = 0;
  size_t failures = 0, unconfirmed = 0, undefined = 0;
};

void Checker::check(const Check &check) {
  const Direction &direction = directions[check.direction];
  const FiniteDifferences &differences = functions[check.function];
  double numeric = combine(check, slopes(central, check.function, check.direction, 0));
  double value = check.analytic, error = difference(value, numeric);
  double h = differences.step(direction), atPoint = combine(check, differences.values());
  // Where the entry is: "x = 1e-07" along a unit direction, the point along a tangent.
  std::string at = direction.unit ? direction.name + " = " + formatNumber(in[direction.components[0].first])
                                  : "the point";
  Row row{check.output, check.argument, formatNumber(value), formatNumber(numeric), scientific(error), Verdict::Ok,
          ""};
  if (std::isnan(numeric) && std::isfinite(atPoint)) {
    // The output is NaN just beside x but not at x: the script is defined at this value only, as where the
    // argument is an index computed at run time (a whole number; between two, the result is NaN). No
    // difference can say anything about the derivative there.
    row.verdict = Verdict::Undefined;
    row.note = check.subject + " cannot be confirmed: " + check.slopeOf + " is " + formatNumber(atPoint) + " at " +
               at + " but NaN beside it (" + (direction.unit ? direction.name : at) + " +- " + scientific(h) +
               (direction.unit ? "" : " " + direction.name) +
               "), as where it is an index computed at run time, defined at whole numbers only";
  } else if (!(error <= options.tolerance)) { // NaN included
    row.verdict = Verdict::Fail;
    double onRight = combine(check, slopes(right, check.function, check.direction, 1));
    double onLeft = combine(check, slopes(left, check.function, check.direction, -1));
    bool matchesRight = difference(value, onRight) <= options.tolerance;
    bool matchesLeft = difference(value, onLeft) <= options.tolerance;
    bool changes = difference(onRight, onLeft) > options.tolerance;
    // The kinks and jumps of the script in reach, with bp's derivatives there.
    KinkFinder::Kinks kink = kinks.explain(direction, h, check.function, check.weights, at);
    std::string slope = "the slope of " + check.slopeOf + (direction.unit ? "" : " along " + direction.name);
    std::string slopes = changes ? scientific(onLeft) + " on the left and " + scientific(onRight) + " on the right"
                                 : scientific(onLeft) + " on both sides";
    // Between the one-sided slopes (within the tolerance), as a derivative at a kink may be: the convex hull of
    // the one-sided derivatives is the generalized (Clarke) derivative of a piecewise smooth function there.
    double scale = std::max({1.0, std::fabs(onLeft), std::fabs(onRight)}) * options.tolerance;
    bool between = value >= std::min(onLeft, onRight) - scale && value <= std::max(onLeft, onRight) + scale;
    if (changes && (matchesRight || matchesLeft)) {
      row.verdict = Verdict::Unconfirmed;
      row.note = check.subject + " cannot be confirmed: within " + scientific(2 * h) +
                 (direction.unit ? "" : " " + direction.name) + " of " + at + " " + slope + " changes (" +
                 scientific(onLeft) + " on the left, " + scientific(onRight) + " on the right), a kink or a jump " +
                 "that the central difference straddles; the analytic value " + formatNumber(value) +
                 " is the slope on the " + (matchesRight ? "right" : "left") +
                 (kink.text.empty() ? "" : " (" + kink.text + ")");
    } else if (kink.jumpsInFunction) {
      // A kink of the script is a jump of its derivative: no difference measures the second derivative there,
      // where bp's is the derivative of its convention (relu'' = 0).
      row.verdict = Verdict::Unconfirmed;
      row.note = check.subject + " cannot be confirmed: " + kink.text + "; there " + check.slopeOf +
                 " jumps, and no difference measures its slope (" + scientific(onLeft) + " on the left, " +
                 scientific(onRight) + " on the right)";
    } else if (kink.onPoint && changes && between) {
      // Exactly at a kink the script has no derivative, and bp's is a convention (relu'(0) = 0) that may be the
      // slope of neither side (relu(x) + abs(x) at 0: 0, between -1 and 2): differences cannot refute it.
      row.verdict = Verdict::Unconfirmed;
      row.note = check.subject + " cannot be confirmed: " + kink.text + "; " + slope + " is " + slopes +
                 ", and the analytic value " + formatNumber(value) + " lies between them, the slope of neither side";
    } else if (!kink.text.empty()) {
      // Still a failure, with the kinks in reach named: the script is smooth here after all, or bp's value is
      // no derivative at a kink may be.
      row.note = check.subject + " fails near a kink or jump: " + kink.text + "; " + slope + " is " + slopes +
                 (!changes ? ": the script is smooth there, and the analytic value " + formatNumber(value) +
                                 " is not its slope"
                           : ", and the analytic value " + formatNumber(value) +
                                 (kink.onPoint ? " lies outside them" : " matches neither within the tolerance"));
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

int Checker::report(size_t total, bool held) {
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
  if (!symmetry.empty())
    os << symmetry << '\n';
  if (held)
    os << "note: the script calls stop_gradient, whose derivative is 0 by definition: the numeric column "
       << "differentiates it with every stop_gradient held at its value here\n";
  for (const Row &row : rows)
    if (!row.note.empty())
      os << "note: " << row.note << '\n';
  os << (failures || asymmetric ? "FAIL" : "ok") << ": " << rows.size() << (rows.size() == 1 ? " entry" : " entries");
  if (rows.size() < total)
    os << " (drawn from " << total << " with seed " << options.seed << ")";
  os << ", largest error " << scientific(worst) << ", tolerance " << formatNumber(options.tolerance);
  if (failures)
    os << ", " << failures << " over tolerance";
  if (asymmetric)
    os << ", the Hessian is not symmetric";
  if (unconfirmed)
    os << ", " << unconfirmed << " cannot be confirmed at a kink or jump (not counted as failures)";
  if (undefined)
    os << ", " << undefined << " cannot be confirmed where the output is NaN beside the point (not counted as "
       << "failures)";
  os << '\n';
  return failures || asymmetric ? ExitFailure : ExitSuccess;
}

/// The checks of one kind, made on demand: `count` of them, check #t from `make(t)`.
struct CheckList {
  size_t count;
  std::function<Check(size_t)> make;
};

} // namespace

int gradcheckCommand(const Options &options) {
  auto loaded = loadGraph(options);
  if (!loaded)
    return reportError(loaded.takeError());
  auto graph = std::make_shared<const Graph>(std::move(*loaded)); // the models below compile it, shared
  if (!(options.tolerance >= 0) || !std::isfinite(options.tolerance))
    return reportError("--tolerance must be a finite number >= 0", ExitUsage);
  auto selection = gradientSelection(*graph, options);
  if (!selection)
    return reportError(llvm::toString(selection.takeError()), ExitUsage);
  int exitCode = ExitSuccess;
  std::optional<std::vector<double>> in = bindArguments(*graph, options, exitCode);
  if (!in)
    return exitCode;
  auto seeds = bindVjpSeeds(*graph, options, exitCode);
  if (!seeds)
    return exitCode;
  auto tangents = bindTangents(*graph, options.jvps, "--jvp", "X=TANGENT, as in --jvp a=1,b=0", exitCode);
  if (!tangents)
    return exitCode;
  std::optional<size_t> hessianOf;
  if (!options.hessian.empty()) {
    auto output = hessianOutput(*graph, options.hessian);
    if (!output)
      return reportError(llvm::toString(output.takeError()), ExitUsage);
    hessianOf = *output;
  }
  bool gradientMode = options.jvps.empty() && seeds->empty() && !hessianOf;
  auto finite = [](llvm::ArrayRef<double> values) {
    return llvm::all_of(values, [](double value) { return std::isfinite(value); });
  };
  if (!finite(*tangents))
    return reportError("--jvp: a tangent that is not a finite number gives no direction to check along", ExitUsage);
  if (!options.jvps.empty() && llvm::all_of(*tangents, [](double t) { return t == 0; }))
    return reportError("--jvp: every tangent is 0: there is no direction to check along", ExitUsage);
  for (const auto &[output, seed] : *seeds)
    if (!finite(seed))
      return reportError("--vjp " + graph->outputs()[output].name +
                             ": a seed that is not a finite number cannot be checked by differences",
                         ExitUsage);

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
  size_t width = columnOffsets.back();

  // The differences are taken of the script with every stop_gradient held at its value here.
  std::shared_ptr<const Graph> differenced = holdStopGradients(graph, *in);
  bool held = differenced != graph;
  KinkFinder kinks(*differenced, *in);
  Checker checker(options, *in, kinks);
  std::optional<Model> analyticModel, forwardModel, gradientModel;
  std::vector<double> grad;
  bool nonFinite = false; // a value or gradient entry that is not finite: warned where it started
  if (gradientMode) {
    auto model = Model::compile(graph, compileOptions(options, /*gradient=*/true));
    if (!model)
      return reportError(model.takeError());
    analyticModel = std::move(*model);
    std::vector<double> out(outputOffsets.back());
    grad.resize(rowOffsets.back() * width);
    analyticModel->gradient(in->data(), out.data(), grad.data());
    if (NonFiniteReporter::anyNonFinite(out) || NonFiniteReporter::anyNonFinite(grad))
      nonFinite = NonFiniteReporter(*graph, options, selection->outputs, *selection).report(*in);
  }
  size_t forward = 0, gradient = 0; // the functions differenced
  if (!hessianOf || !options.jvps.empty() || !seeds->empty()) {
    if (!held && analyticModel) {
      forwardModel = std::move(analyticModel);
    } else {
      auto model = Model::compile(differenced, compileOptions(options, /*gradient=*/false));
      if (!model)
        return reportError(model.takeError());
      forwardModel = std::move(*model);
    }
    forward = checker.addFunction([&](const double *x, double *y) { forwardModel->forward(x, y); },
                                  outputOffsets.back());
    std::vector<NodeId> resultOutputs;
    for (size_t o = 0; o < outputs.size(); ++o)
      resultOutputs.insert(resultOutputs.end(), outputOffsets[o + 1] - outputOffsets[o], outputs[o].node);
    kinks.setResultOutputs(forward, std::move(resultOutputs));
  }
  std::vector<double> hessian, scratch(outputOffsets.back());
  if (hessianOf) {
    auto hessianGraph = buildHessianGraph(*graph, *hessianOf, selection->arguments);
    if (!hessianGraph)
      return reportError(hessianGraph.takeError());
    hessian = evaluateGradient(*hessianGraph, *in).grad;
    CompileOptions of = compileOptions(options, /*gradient=*/true); // OUT's gradient by the --wrt arguments
    of.of = {options.hessian};
    auto model = Model::compile(differenced, of);
    if (!model)
      return reportError(model.takeError());
    gradientModel = std::move(*model);
    gradient = checker.addFunction(
        [&](const double *x, double *y) { gradientModel->gradient(x, scratch.data(), y); }, width);
    kinks.setResultOutputs(gradient, std::vector<NodeId>(width, graph->outputs()[*hessianOf].node), true);
  }

  // Names: per argument element `W[1,0]`, per output element `y[1]`.
  std::vector<std::string> names, outputNames;
  for (size_t i = 0; i < arguments.size(); ++i)
    for (size_t e = 0; e < offsets[i + 1] - offsets[i]; ++e)
      names.push_back(elementName(graph->node(arguments[i]).name, graph->node(arguments[i]).type.shape,
                                  static_cast<int64_t>(e)));
  for (size_t o = 0; o < outputs.size(); ++o)
    for (size_t e = 0; e < outputOffsets[o + 1] - outputOffsets[o]; ++e)
      outputNames.push_back(elementName(outputs[o].name, graph->node(outputs[o].node).type.shape,
                                        static_cast<int64_t>(e)));
  // The selected argument elements in the table's order: the arguments as declared, each element in order; a
  // unit direction for each.
  std::vector<size_t> columns;
  for (NodeId id : graph->declaredArguments()) {
    size_t i = graph->argumentIndex(id);
    if (!llvm::is_contained(selection->arguments, i))
      continue;
    for (size_t a = offsets[i]; a < offsets[i + 1]; ++a)
      columns.push_back(a);
  }
  std::vector<size_t> unit(elements);
  for (size_t a : columns)
    unit[a] = checker.addDirection({{{a, 1.0}}, names[a], true});

  std::vector<CheckList> lists;
  if (gradientMode) // d y[r] / d x[a] for every selected output element r and argument element a
    lists.push_back({checkedRows.size() * columns.size(), [&](size_t t) {
                       size_t r = checkedRows[t / columns.size()], a = columns[t % columns.size()];
                       return Check{outputNames[r], names[a], "d" + outputNames[r] + "/d" + names[a],
                                    outputNames[r], grad[gradRow[r] * width + gradColumn[a]], forward, unit[a],
                                    {{r, 1.0}}};
                     }});
  std::vector<std::vector<double>> jvps;
  if (!options.jvps.empty()) { // J t for every selected output element, along t
    auto tangentGraph = buildTangentGraph(*graph);
    if (!tangentGraph)
      return reportError(tangentGraph.takeError());
    jvps = evaluateTangents(*tangentGraph, *in, *tangents);
    Direction along{{}, "t", false};
    for (size_t a = 0; a < elements; ++a)
      if ((*tangents)[a] != 0)
        along.components.push_back({a, (*tangents)[a]});
    std::stable_sort(along.components.begin(), along.components.end(), [&](const auto &x, const auto &y) {
      return std::fabs(x.second) > std::fabs(y.second);
    });
    size_t direction = checker.addDirection(std::move(along));
    std::string spec = llvm::join(options.jvps, ",");
    lists.push_back({checkedRows.size(), [&, direction, spec](size_t t) {
                       size_t r = checkedRows[t];
                       size_t o = llvm::upper_bound(outputOffsets, r) - outputOffsets.begin() - 1;
                       std::string name = elementName("jvp(" + outputs[o].name + ")",
                                                      graph->node(outputs[o].node).type.shape,
                                                      static_cast<int64_t>(r - outputOffsets[o]));
                       return Check{name, spec, name, outputNames[r], jvps[o][r - outputOffsets[o]], forward,
                                    direction, {{r, 1.0}}};
                     }});
  }
  std::vector<std::vector<std::vector<double>>> vjps; // per seed, per argument
  if (!seeds->empty()) {
    std::vector<size_t> seeded;
    for (const auto &[output, seed] : *seeds)
      seeded.push_back(output);
    std::sort(seeded.begin(), seeded.end());
    auto vjpGraph = buildGradientGraph(*graph, GradientSelection{seeded, selection->arguments});
    if (!vjpGraph)
      return reportError(vjpGraph.takeError());
    Values values = evaluateGraph(vjpGraph->graph, *in);
    for (const auto &[output, seed] : *seeds) {
      size_t sweep = llvm::find(seeded, output) - seeded.begin();
      vjps.push_back(vectorJacobianProduct(*vjpGraph, values, sweep, seed));
    }
    for (size_t v = 0; v < seeds->size(); ++v) // SEED^T J for every selected argument element
      lists.push_back({columns.size(), [&, v](size_t t) {
                         auto &[o, seed] = (*seeds)[v];
                         size_t a = columns[t];
                         size_t c = llvm::find(selection->arguments, llvm::upper_bound(offsets, a) -
                                                                         offsets.begin() - 1) -
                                    selection->arguments.begin();
                         std::string name = "vjp(" + outputs[o].name + ")";
                         Check check{name, names[a], name + "/d" + names[a], outputs[o].name + " (seeded)",
                                     vjps[v][c][a - offsets[selection->arguments[c]]], forward, unit[a], {}};
                         for (size_t e = 0; e < seed.size(); ++e)
                           if (seed[e] != 0)
                             check.weights.push_back({outputOffsets[o] + e, seed[e]});
                         return check;
                       }});
  }
  if (hessianOf) { // d2 OUT / dA dB for every pair of selected argument elements: d (d OUT / dA) / dB
    const std::string &out = outputs[*hessianOf].name;
    lists.push_back({columns.size() * columns.size(), [&](size_t t) {
                       size_t a = columns[t / columns.size()], b = columns[t % columns.size()];
                       std::string entry = "d" + out + "/d" + names[a];
                       return Check{entry, names[b], "d2" + out + "/d" + names[a] + " d" + names[b], entry,
                                    hessian[gradColumn[a] * width + gradColumn[b]], gradient, unit[b],
                                    {{gradColumn[a], 1.0}}};
                     }});
  }

  size_t total = 0;
  for (const CheckList &list : lists)
    total += list.count;
  for (size_t t : sampleEntries(total, options.samples ? options.samples : total, options.seed)) {
    size_t l = 0;
    for (; t >= lists[l].count; ++l)
      t -= lists[l].count;
    checker.check(lists[l].make(t));
  }
  if (hessianOf && columns.size() > 1) { // the largest |H[a][b] - H[b][a]| over every pair
    auto entry = [&](size_t a, size_t b) { return hessian[gradColumn[a] * width + gradColumn[b]]; };
    auto name = [&](size_t a, size_t b) { return "d2" + outputs[*hessianOf].name + "/d" + names[a] + " d" + names[b]; };
    double largest = 0;
    std::pair<size_t, size_t> where;
    for (size_t a : columns)
      for (size_t b : columns)
        if (double error = difference(entry(a, b), entry(b, a)); !(error <= largest) && !std::isnan(largest)) {
          largest = error;
          where = {a, b};
        }
    checker.checkSymmetry(columns.size() * (columns.size() - 1) / 2, largest, name(where.first, where.second),
                          name(where.second, where.first));
  }
  int status = checker.report(total, held);
  return options.strict && nonFinite ? ExitFailure : status;
}

} // namespace bpc
