//===- Interpreter.cpp - Every operation's forward rule on doubles --------===//
//
// The interpreter's column of the op table: one forward rule per operation of Ops.def, the reference
// semantics that `bpc explain` prints, Simplify folds constants with, and generated code (Lowering.cpp)
// reproduces bit for bit.
// NaN: every arithmetic op propagates it; max and min return NaN when either argument is NaN (as NumPy's maximum
// does). Comparisons give 1 or 0 as IEEE 754 compares, NaN included: every comparison with NaN is 0 but `!=`,
// which is 1 (so `x == x` tests for NaN). where(c, a, b) picks a where c != 0, so a NaN c picks a (as NumPy's
// where does), and a NaN in the branch not taken does not come out.
// dmul is `a * b` except that 0 * inf and 0 * NaN (either order) give 0.
// Tensors: an elementwise op runs over its result in row-major order, each operand read with NumPy's
// broadcasting (stride 0 along a dimension it stretches). `@` sums each result element's products in k order
// from +0, sum adds its terms in index order from +0, and mean is that sum divided by the number of terms: the
// order generated code follows too, so the results are the same bits. Indexing copies; a run-time index that
// is not an integer in range (Shape.h, dynamicIndexPosition) gives NaN in every element. The internal ops of
// gradient graphs: sum_to adds each result element's terms in row-major order of its operand from +0,
// broadcast_to repeats, reshape and transpose copy, index_grad and dynamic_index_grad place their operand among
// zeros (dynamic_index_grad nowhere where its index is not valid).
// max and min of a run (and argmax, and argmax_mask, which marks where argmax points) keep the first maximum
// (minimum) in index order, and a NaN over any number, the first NaN over later ones. softmax, log_softmax and
// logsumexp subtract the run's maximum m first, where it is finite (else 0: a run with inf or NaN gives what the
// unshifted formula does), and add exp(x - m) in index order from +0: softmax = exp(x - m) / sum,
// log_softmax = (x - m) - log(sum), logsumexp = m + log(sum).
//
//===----------------------------------------------------------------------===//
#include "bp/Interpreter.h"

#include "llvm/Support/ErrorHandling.h"

#include <algorithm>

#include <cassert>
#include <cmath>
#include <iterator>
#include <limits>

using namespace bp;

namespace {

// Leaves have no forward rule of their own: their values come from outside.
double leafValue(const double *) { llvm_unreachable("leaves are not evaluated by rule"); }
double tensorOpValue(const double *) { llvm_unreachable("tensor ops are evaluated whole, by evaluateTensorOp"); }

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
// log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|)); NaN comes out through the second term.
double softplus(double x) { return (x > 0 ? x : 0.0) + std::log1p(std::exp(-std::fabs(x))); }
// relu passes NaN through (`x > 0` is false for NaN, so test "not x <= 0").
double relu(double x) { return !(x <= 0) ? x : 0.0; }
// Whether max(x, y) (greaterEq) or min(x, y) (lessEq) returns x: on ties, and when x is NaN; when y is NaN
// they return y, so NaN in either argument comes out.
double greaterEq(double x, double y) { return !(x < y) && y == y ? 1.0 : 0.0; }
double lessEq(double x, double y) { return !(x > y) && y == y ? 1.0 : 0.0; }
double indicator(bool holds) { return holds ? 1.0 : 0.0; }
double sign(double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0; }
// The chain rule's product where a factor may be a branch not taken: a * b, except that 0 * inf and 0 * NaN
// (in either order) give 0.
double dmul(double a, double b) {
  double product = a * b;
  return product != product && (a == 0 || b == 0) ? 0.0 : product;
}

struct ForwardRule {
  OpKind kind;
  double (*evaluate)(const double *operands);
};

constexpr ForwardRule forwardRules[] = {
    {OpKind::Input, leafValue},
    {OpKind::Param, leafValue},
    {OpKind::Const, leafValue},

    {OpKind::Add, [](const double *x) { return x[0] + x[1]; }},
    {OpKind::Sub, [](const double *x) { return x[0] - x[1]; }},
    {OpKind::Mul, [](const double *x) { return x[0] * x[1]; }},
    {OpKind::Div, [](const double *x) { return x[0] / x[1]; }},
    {OpKind::Neg, [](const double *x) { return -x[0]; }},
    {OpKind::Pow, [](const double *x) { return std::pow(x[0], x[1]); }},

    {OpKind::Exp, [](const double *x) { return std::exp(x[0]); }},
    {OpKind::Expm1, [](const double *x) { return std::expm1(x[0]); }},
    {OpKind::Log, [](const double *x) { return std::log(x[0]); }},
    {OpKind::Log1p, [](const double *x) { return std::log1p(x[0]); }},
    {OpKind::Sqrt, [](const double *x) { return std::sqrt(x[0]); }},
    {OpKind::Sin, [](const double *x) { return std::sin(x[0]); }},
    {OpKind::Cos, [](const double *x) { return std::cos(x[0]); }},
    {OpKind::Tan, [](const double *x) { return std::tan(x[0]); }},
    {OpKind::Tanh, [](const double *x) { return std::tanh(x[0]); }},
    {OpKind::Sigmoid, [](const double *x) { return sigmoid(x[0]); }},
    {OpKind::Softplus, [](const double *x) { return softplus(x[0]); }},
    {OpKind::Relu, [](const double *x) { return relu(x[0]); }},
    {OpKind::Abs, [](const double *x) { return std::fabs(x[0]); }},
    {OpKind::Max, [](const double *x) { return greaterEq(x[0], x[1]) != 0 ? x[0] : x[1]; }},
    {OpKind::Min, [](const double *x) { return lessEq(x[0], x[1]) != 0 ? x[0] : x[1]; }},

    {OpKind::Less, [](const double *x) { return indicator(x[0] < x[1]); }},
    {OpKind::LessEqual, [](const double *x) { return indicator(x[0] <= x[1]); }},
    {OpKind::Greater, [](const double *x) { return indicator(x[0] > x[1]); }},
    {OpKind::GreaterEqual, [](const double *x) { return indicator(x[0] >= x[1]); }},
    {OpKind::Equal, [](const double *x) { return indicator(x[0] == x[1]); }},
    {OpKind::NotEqual, [](const double *x) { return indicator(x[0] != x[1]); }},
    {OpKind::Where, [](const double *x) { return x[0] != 0 ? x[1] : x[2]; }},
    {OpKind::StopGradient, [](const double *x) { return x[0]; }},

    // Not elementwise: evaluated whole, by evaluateTensorOp.
    {OpKind::MatMul, tensorOpValue},
    {OpKind::Sum, tensorOpValue},
    {OpKind::Mean, tensorOpValue},
    {OpKind::ReduceMax, tensorOpValue},
    {OpKind::ReduceMin, tensorOpValue},
    {OpKind::Softmax, tensorOpValue},
    {OpKind::LogSoftmax, tensorOpValue},
    {OpKind::LogSumExp, tensorOpValue},
    {OpKind::Transpose, tensorOpValue},
    {OpKind::Argmax, tensorOpValue},
    {OpKind::Index, tensorOpValue},
    {OpKind::DynamicIndex, tensorOpValue},

    {OpKind::Step, [](const double *x) { return x[0] > 0 ? 1.0 : 0.0; }},
    {OpKind::Sign, [](const double *x) { return sign(x[0]); }},
    {OpKind::GreaterEq, [](const double *x) { return greaterEq(x[0], x[1]); }},
    {OpKind::LessEq, [](const double *x) { return lessEq(x[0], x[1]); }},
    {OpKind::DMul, [](const double *x) { return dmul(x[0], x[1]); }},

    {OpKind::SumTo, tensorOpValue},
    {OpKind::BroadcastTo, [](const double *x) { return x[0]; }}, // elementwise: the operand, broadcast
    {OpKind::Reshape, tensorOpValue},
    {OpKind::IndexGrad, tensorOpValue},
    {OpKind::DynamicIndexGrad, tensorOpValue},
    {OpKind::ArgmaxMask, tensorOpValue},
    {OpKind::WithPartial, tensorOpValue}, // its value operand
};
static_assert(std::size(forwardRules) == NumOps, "forwardRules needs exactly one row per line of Ops.def");
static_assert(rowsFollowOpsDef(forwardRules), "forwardRules rows must follow the order of Ops.def");

} // namespace

double bp::evaluateOp(OpKind op, const double *operands) {
  return forwardRules[static_cast<size_t>(op)].evaluate(operands);
}

namespace {

/// An elementwise op over tensors: the result's elements in row-major order, each operand's element found by
/// its broadcast strides.
void evaluateElementwise(const Graph &graph, NodeId id, Values &values) {
  const Node &node = graph.node(id);
  llvm::ArrayRef<int64_t> shape = node.type.shape;
  size_t rank = shape.size(), arity = node.operands.size();
  llvm::SmallVector<llvm::ArrayRef<double>, MaxArity> inputs;
  llvm::SmallVector<Shape, MaxArity> strides; // per operand, one per result dimension
  for (NodeId operand : node.operands) {
    inputs.push_back(values.tensor(operand));
    strides.push_back(broadcastStrides(graph.node(operand).type.shape, rank));
  }
  llvm::MutableArrayRef<double> result = values.tensor(id);
  Shape index(rank, 0);
  int64_t positions[MaxArity] = {};
  double operands[MaxArity];
  for (double &element : result) {
    for (size_t i = 0; i < arity; ++i)
      operands[i] = inputs[i][static_cast<size_t>(positions[i])];
    element = evaluateOp(node.op, operands);
    // Step the row-major index, and every operand's position with it.
    for (size_t d = rank; d-- > 0;) {
      for (size_t i = 0; i < arity; ++i)
        positions[i] += strides[i][d];
      if (++index[d] < shape[d])
        break;
      for (size_t i = 0; i < arity; ++i)
        positions[i] -= strides[i][d] * shape[d];
      index[d] = 0;
    }
  }
}

/// a @ b, each result element summed in k order from +0. A vector operand is a matrix of one row (on the left)
/// or one column (on the right).
void evaluateMatMul(llvm::ArrayRef<double> a, llvm::ArrayRef<int64_t> aShape, llvm::ArrayRef<double> b,
                    llvm::ArrayRef<int64_t> bShape, llvm::MutableArrayRef<double> result) {
  int64_t m = aShape.size() == 2 ? aShape[0] : 1, k = aShape.back(), n = bShape.size() == 2 ? bShape[1] : 1;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0.0;
      for (int64_t p = 0; p < k; ++p)
        sum += a[static_cast<size_t>(i * k + p)] * b[static_cast<size_t>(p * n + j)];
      result[static_cast<size_t>(i * n + j)] = sum;
    }
}

/// The first maximum (or, with `minimum`, minimum) of the run of `length` terms `inner` apart from x[first],
/// and its index in the run: a term replaces the best so far where it is greater (less), or NaN while the
/// best is not, so a NaN wins over every number and the first NaN over later ones.
struct Extreme {
  double value;
  int64_t index;
};
Extreme firstExtreme(llvm::ArrayRef<double> x, int64_t first, int64_t length, int64_t inner, bool minimum) {
  Extreme best{minimum ? INFINITY : -INFINITY, 0};
  for (int64_t j = 0; j < length; ++j) {
    double term = x[static_cast<size_t>(first + j * inner)];
    if (best.value == best.value && (minimum ? !(term >= best.value) : !(term <= best.value)))
      best = {term, j};
  }
  return best;
}

/// softmax, log_softmax or logsumexp of one run: m its first maximum, shifted by m where m is finite (else by
/// 0), sum(exp(x - shift)) added in index order from +0. Writes the run (softmax, log_softmax) or returns
/// logsumexp.
double evaluateSoftmaxRun(OpKind op, llvm::ArrayRef<double> x, llvm::MutableArrayRef<double> result,
                          int64_t first, int64_t length, int64_t inner) {
  double max = firstExtreme(x, first, length, inner, false).value;
  double shift = std::isfinite(max) ? max : 0.0;
  double sum = 0.0;
  for (int64_t j = 0; j < length; ++j) {
    size_t at = static_cast<size_t>(first + j * inner);
    double term = std::exp(x[at] - shift);
    if (op == OpKind::Softmax)
      result[at] = term;
    sum += term;
  }
  double logSum = std::log(sum);
  for (int64_t j = 0; j < length && op != OpKind::LogSumExp; ++j) {
    size_t at = static_cast<size_t>(first + j * inner);
    result[at] = op == OpKind::Softmax ? result[at] / sum : (x[at] - shift) - logSum;
  }
  return shift + logSum;
}

/// The ops along one axis (attrs {axis}) or over every element (takesAxis), run by run: sum, mean, max, min,
/// argmax, argmax_mask and the softmax family. sum adds its terms in index order from +0, and mean divides that
/// sum by the number of terms.
void evaluateAlongAxis(const Node &node, llvm::ArrayRef<double> x, llvm::ArrayRef<int64_t> shape,
                       llvm::MutableArrayRef<double> result) {
  auto [outer, length, inner] = axisExtent(shape, node.attrs);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      int64_t first = o * length * inner + i;
      size_t reduced = static_cast<size_t>(o * inner + i);
      switch (node.op) {
      case OpKind::Sum:
      case OpKind::Mean: {
        double sum = 0.0;
        for (int64_t j = 0; j < length; ++j)
          sum += x[static_cast<size_t>(first + j * inner)];
        result[reduced] = node.op == OpKind::Mean ? sum / static_cast<double>(length) : sum;
        break;
      }
      case OpKind::ReduceMax:
      case OpKind::ReduceMin:
        result[reduced] = firstExtreme(x, first, length, inner, node.op == OpKind::ReduceMin).value;
        break;
      case OpKind::Argmax:
        result[reduced] = static_cast<double>(firstExtreme(x, first, length, inner, false).index);
        break;
      case OpKind::ArgmaxMask: {
        int64_t index = firstExtreme(x, first, length, inner, false).index;
        for (int64_t j = 0; j < length; ++j)
          result[static_cast<size_t>(first + j * inner)] = j == index ? 1.0 : 0.0;
        break;
      }
      case OpKind::LogSumExp:
        result[reduced] = evaluateSoftmaxRun(node.op, x, result, first, length, inner);
        break;
      case OpKind::Softmax:
      case OpKind::LogSoftmax:
        evaluateSoftmaxRun(node.op, x, result, first, length, inner);
        break;
      default:
        llvm_unreachable("not an op along an axis");
      }
    }
}

/// Every index of `shape` in row-major order, with the position a walk with these strides (one per dimension)
/// from `start` reaches there: visit(counter, position), counter counting the indices from 0.
template <typename Visit>
void walkStrided(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> strides, int64_t start, Visit visit) {
  size_t rank = shape.size();
  Shape index(rank, 0);
  int64_t position = start, count = elementCount(shape);
  for (int64_t counter = 0; counter < count; ++counter) {
    visit(static_cast<size_t>(counter), static_cast<size_t>(position));
    for (size_t d = rank; d-- > 0;) {
      position += strides[d];
      if (++index[d] < shape[d])
        break;
      position -= strides[d] * shape[d];
      index[d] = 0;
    }
  }
}

/// sum_to: the operand's elements in row-major order, each added to the result element it broadcasts from, so
/// every result element adds its terms in that order from +0.
void evaluateSumTo(llvm::ArrayRef<double> x, llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> resultShape,
                   llvm::MutableArrayRef<double> result) {
  std::fill(result.begin(), result.end(), 0.0);
  walkStrided(shape, broadcastStrides(resultShape, shape.size()), 0,
              [&](size_t element, size_t position) { result[position] += x[element]; });
}

/// dynamic_index (`gather`) and dynamic_index_grad (`!gather`, scattering into zeros): the slab of the source
/// (of `shape`) at run-time index `index` along `axis`, each element of the slab matched with one of the other
/// side, in row-major order. An index out of range gives NaN (gather) or nothing (scatter).
void evaluateDynamicIndex(bool gather, llvm::ArrayRef<int64_t> shape, int64_t axis, double index,
                          llvm::ArrayRef<double> from, llvm::MutableArrayRef<double> to) {
  auto [outer, length, inner] = reductionExtent(shape, static_cast<size_t>(axis));
  std::optional<int64_t> position = dynamicIndexPosition(index, length);
  if (!gather)
    std::fill(to.begin(), to.end(), 0.0);
  if (!position) {
    if (gather)
      std::fill(to.begin(), to.end(), std::numeric_limits<double>::quiet_NaN());
    return;
  }
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto source = static_cast<size_t>((o * length + *position) * inner + i);
      auto slab = static_cast<size_t>(o * inner + i);
      if (gather)
        to[slab] = from[source];
      else
        to[source] = from[slab];
    }
}

/// The ops that are not elementwise, each over its whole result.
void evaluateTensorOp(const Graph &graph, NodeId id, Values &values) {
  const Node &node = graph.node(id);
  llvm::ArrayRef<int64_t> shape = graph.node(node.operands[0]).type.shape;
  llvm::ArrayRef<double> x = values.tensor(node.operands[0]);
  llvm::MutableArrayRef<double> result = values.tensor(id);
  if (takesAxis(node.op))
    return evaluateAlongAxis(node, x, shape, result);
  switch (node.op) {
  case OpKind::MatMul:
    evaluateMatMul(x, shape, values.tensor(node.operands[1]), graph.node(node.operands[1]).type.shape, result);
    return;
  case OpKind::Index:
    walkStrided(node.type.shape, indexStrides(shape, node.attrs), indexStart(shape, node.attrs),
                [&](size_t element, size_t position) { result[element] = x[position]; });
    return;
  case OpKind::DynamicIndex:
  case OpKind::DynamicIndexGrad: {
    bool gather = node.op == OpKind::DynamicIndex;
    llvm::ArrayRef<int64_t> source = gather ? shape : llvm::ArrayRef<int64_t>(node.type.shape);
    if (graph.node(node.operands[1]).type.isScalar())
      return evaluateDynamicIndex(gather, source, node.attrs[0], values[node.operands[1]], x, result);
    llvm::ArrayRef<double> index = values.tensor(node.operands[1]); // one per row: each row on its own
    size_t rows = index.size(), from = x.size() / rows, to = result.size() / rows;
    for (size_t r = 0; r < rows; ++r)
      evaluateDynamicIndex(gather, source.drop_front(), node.attrs[0] - 1, index[r], x.slice(r * from, from),
                           result.slice(r * to, to));
    return;
  }
  case OpKind::SumTo:
    evaluateSumTo(x, shape, node.type.shape, result);
    return;
  case OpKind::Reshape:
  case OpKind::WithPartial:
    std::copy(x.begin(), x.end(), result.begin());
    return;
  case OpKind::Transpose:
    for (int64_t i = 0; i < shape[0]; ++i)
      for (int64_t j = 0; j < shape[1]; ++j)
        result[static_cast<size_t>(j * shape[0] + i)] = x[static_cast<size_t>(i * shape[1] + j)];
    return;
  case OpKind::IndexGrad: {
    auto attrs = llvm::ArrayRef<int64_t>(node.attrs).drop_front(1 + static_cast<size_t>(node.attrs[0]));
    std::fill(result.begin(), result.end(), 0.0);
    walkStrided(shape, indexStrides(node.type.shape, attrs), indexStart(node.type.shape, attrs),
                [&](size_t element, size_t position) { result[position] = x[element]; });
    return;
  }
  default:
    llvm_unreachable("not a tensor op evaluated whole");
  }
}

} // namespace

Values::Values(const Graph &graph) : sizes(graph.size()) {
  bool allScalars = true;
  for (NodeId id = 0; id < graph.size(); ++id) {
    sizes[id] = static_cast<uint32_t>(elementCount(graph.node(id).type.shape));
    allScalars = allScalars && sizes[id] == 1;
  }
  if (allScalars) {
    buffer.resize(graph.size());
    return;
  }
  offsets.resize(graph.size());
  size_t total = 0;
  for (NodeId id = 0; id < graph.size(); ++id) {
    offsets[id] = total;
    total += sizes[id];
  }
  buffer.resize(total);
}

Values bp::evaluateGraph(const Graph &graph, llvm::ArrayRef<double> argumentValues) {
  std::vector<NodeId> arguments = graph.arguments();
  Values values(graph);
  size_t next = 0;
  for (NodeId argument : arguments) {
    llvm::MutableArrayRef<double> element = values.tensor(argument);
    assert(next + element.size() <= argumentValues.size() && "elementCount(shape) values per argument");
    std::copy_n(argumentValues.begin() + next, element.size(), element.begin());
    next += element.size();
  }
  assert(next == argumentValues.size() && "elementCount(shape) values per argument");
  for (NodeId id = 0; id < graph.size(); ++id)
    evaluateNode(graph, id, values);
  return values;
}

void bp::evaluateNode(const Graph &graph, NodeId id, Values &values) {
  const Node &node = graph.node(id);
  if (node.op == OpKind::Input || node.op == OpKind::Param)
    return;
  if (node.op == OpKind::Const) {
    llvm::MutableArrayRef<double> result = values.tensor(id);
    if (node.type.isScalar())
      result[0] = node.value;
    else
      std::copy(node.data.begin(), node.data.end(), result.begin());
    return;
  }
  if (isTensorOp(node.op) && node.op != OpKind::BroadcastTo)
    return evaluateTensorOp(graph, id, values);
  if (!node.type.isScalar())
    return evaluateElementwise(graph, id, values);
  double operands[MaxArity];
  for (size_t i = 0; i < node.operands.size(); ++i)
    operands[i] = values[node.operands[i]];
  values.tensor(id)[0] = evaluateOp(node.op, operands);
}
