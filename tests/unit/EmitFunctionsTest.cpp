//===- EmitFunctionsTest.cpp - Compiled jvp, vjp, Hessian and hvp functions match the interpreter bit for bit -===//
//
// bpc build --emit-fn's derivative functions (CodeGen.h: emitJvpFunction, emitVjpFunction, emitHessianFunction,
// emitHvpFunction), compiled at -O0 and -O2, give the interpreter's numbers bit for bit (NaN as NaN): J t against
// evaluateTangents, SEED^T J against the reverse sweeps evaluated once with the seeds in their seed leaves (a
// scalar output's gradient times its seed) summed over the outputs in order, as `bpc run --vjp` does per output,
// the Hessian against evaluateGradient of the Hessian graph, and H v against evaluateHessianVector; each also
// fills out[] as the forward function does. Over every
// op a script can write (from the op table), and on tensor scripts with several outputs, selections (--of/--wrt)
// and a graph large enough to be cut into parts.
//
//===----------------------------------------------------------------------===//
#include "OpCases.h"
#include "TestHelpers.h"

#include "bp/Autodiff.h"
#include "bp/CodeGen.h"
#include "bp/Interpreter.h"
#include "bp/JIT.h"

#include <cmath>
#include <optional>
#include <random>

using namespace bp;
using bp::test::applyToTestInputs;
using bp::test::attrsToTry;
using bp::test::compileOrFail;
using bp::test::domain;
using bp::test::scriptWritable;
using bp::test::sameValue;

namespace {

using FourArrays = void (*)(const double *, const double *, double *, double *);
using ThreeArrays = void (*)(const double *, double *, double *);

void expectSame(llvm::ArrayRef<double> actual, llvm::ArrayRef<double> expected, const std::string &what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i)
    EXPECT_TRUE(sameValue(actual[i], expected[i])) << what << " [" << i << "]: " << actual[i] << " vs " << expected[i];
}

/// SEED^T J by the interpreter: each selected output's sweep once, a tensor output's with its seed (a slice of
/// `seedOut`, laid out like out) in its seed leaf, a scalar output's gradient times its seed; summed over the
/// outputs in order, the first product taken as it is.
std::vector<double> interpretedVjp(const Graph &forward, const GradientGraph &gradient, llvm::ArrayRef<double> in,
                                   llvm::ArrayRef<double> seedOut) {
  Values values = evaluateGraph(gradient.graph, in);
  std::vector<size_t> out = forward.outputOffsets(), columns = gradient.columnOffsets();
  std::vector<double> sum(columns.back(), 0.0);
  bool first = true;
  for (const ReverseSweep &sweep : gradient.sweeps) {
    llvm::ArrayRef<double> seed = seedOut.slice(out[sweep.output], out[sweep.output + 1] - out[sweep.output]);
    if (sweep.seed != InvalidNode) {
      llvm::copy(seed, values.tensor(sweep.seed).begin());
      for (NodeId id : gradient.seededNodes(sweep))
        evaluateNode(gradient.graph, id, values);
    }
    for (size_t a = 0; a < sweep.gradient.size(); ++a) {
      llvm::ArrayRef<double> entry = values.tensor(sweep.gradient[a]);
      for (size_t k = 0; k < entry.size(); ++k) {
        double product = sweep.seed == InvalidNode ? seed[0] * entry[k] : entry[k];
        double &element = sum[columns[a] + k];
        element = first ? product : element + product;
      }
    }
    first = false;
  }
  return sum;
}

/// Every output's elements, as the forward function lays them out.
std::vector<double> interpretedOutputs(const Graph &graph, llvm::ArrayRef<double> in) {
  Values values = evaluateGraph(graph, in);
  std::vector<double> out;
  for (const Graph::Output &output : graph.outputs())
    llvm::append_range(out, values.tensor(output.node));
  return out;
}

/// Values drawn from `draw`, every `specialEvery`th one (if not 0) replaced by 0, -0, an infinity or NaN.
std::vector<double> drawn(size_t n, std::mt19937 &random, std::uniform_real_distribution<double> draw,
                          size_t specialEvery = 0) {
  const double specials[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 1.0};
  std::vector<double> values(n);
  for (size_t i = 0; i < n; ++i)
    values[i] = specialEvery && i % specialEvery == specialEvery - 1
                    ? specials[(i / specialEvery) % std::size(specials)]
                    : draw(random);
  return values;
}

/// A graph whose derivative functions to check: the vjp of `selection`, the Hessian and H v of output
/// #hessianOutput (if given) by selection.arguments, and the jvp where every op has a tangent rule (H v too); at
/// points drawn from `draw`.
struct Case {
  std::string what;
  Graph graph;
  GradientSelection selection;
  std::optional<size_t> hessianOutput;
  std::uniform_real_distribution<double> draw = std::uniform_real_distribution<double>(-2, 2);
};

/// Compiles every case's functions into one module at -O0 and -O2, and checks them at three points (the last
/// with special values mixed in) against the interpreter. Returns the number of cases with a jvp.
size_t expectMatchesInterpreter(const std::vector<Case> &cases) {
  struct Built {
    std::optional<TangentGraph> tangents;
    std::optional<GradientGraph> gradient, hessian;
    std::optional<HessianVectorGraph> hvp;
  };
  std::vector<Built> built(cases.size());
  size_t withJvp = 0;
  for (size_t c = 0; c < cases.size(); ++c) {
    const Case &test = cases[c];
    if (auto tangents = buildTangentGraph(test.graph)) {
      built[c].tangents = std::move(*tangents);
      ++withJvp;
    } else {
      llvm::consumeError(tangents.takeError()); // an op without a tangent rule yet
    }
    auto gradient = buildGradientGraph(test.graph, test.selection);
    if (!gradient) {
      ADD_FAILURE() << test.what << ": " << llvm::toString(gradient.takeError());
      return withJvp;
    }
    built[c].gradient = std::move(*gradient);
    if (test.hessianOutput) {
      auto hessian = buildHessianGraph(test.graph, *test.hessianOutput, test.selection.arguments);
      if (!hessian) {
        ADD_FAILURE() << test.what << ": " << llvm::toString(hessian.takeError());
        return withJvp;
      }
      built[c].hessian = std::move(*hessian);
      auto hvp = buildHessianVectorGraph(test.graph, *test.hessianOutput, test.selection.arguments);
      if (hvp)
        built[c].hvp = std::move(*hvp);
      else if (built[c].tangents) // else an op without a tangent rule yet, as for the jvp
        ADD_FAILURE() << test.what << ": " << llvm::toString(hvp.takeError());
      else
        llvm::consumeError(hvp.takeError());
    }
  }
  auto name = [](size_t c, const char *function) { return "m" + std::to_string(c) + "_" + function; };
  for (unsigned optLevel : {0u, 2u}) {
    auto module = CompiledModule::create(optLevel, [&](llvm::LLVMContext &context) {
      auto module = std::make_unique<llvm::Module>("m", context);
      for (size_t c = 0; c < cases.size(); ++c) {
        if (built[c].tangents)
          emitJvpFunction(*module, cases[c].graph, *built[c].tangents, name(c, "jvp"));
        emitVjpFunction(*module, cases[c].graph, *built[c].gradient, name(c, "vjp"));
        if (built[c].hessian)
          emitHessianFunction(*module, cases[c].graph, *built[c].hessian, name(c, "hessian"));
        if (built[c].hvp)
          emitHvpFunction(*module, cases[c].graph, *built[c].hvp, name(c, "hvp"));
      }
      return llvm::Expected<std::unique_ptr<llvm::Module>>(std::move(module));
    });
    if (!module) {
      ADD_FAILURE() << llvm::toString(module.takeError());
      return withJvp;
    }
    std::mt19937 random(7);
    for (size_t c = 0; c < cases.size(); ++c) {
      const Graph &graph = cases[c].graph;
      const Built &functions = built[c];
      std::string at = cases[c].what + " -O" + std::to_string(optLevel);
      size_t inSize = graph.argumentOffsets().back(), outSize = graph.outputOffsets().back();
      size_t columns = functions.gradient->columnOffsets().back();
      for (size_t point = 0; point < 3; ++point) {
        size_t special = point == 2 ? 3 : 0;
        auto draw = cases[c].draw;
        std::vector<double> in = drawn(inSize, random, draw, special),
                            direction = drawn(inSize, random, draw, special),
                            seed = drawn(outSize, random, draw, special);
        std::vector<double> expectedOut = interpretedOutputs(graph, in);
        std::vector<double> out(outSize, 12345.0);
        if (functions.tangents) {
          std::vector<double> tangentOut(outSize, 12345.0), expected;
          for (const std::vector<double> &t : evaluateTangents(*functions.tangents, in, direction))
            llvm::append_range(expected, t);
          llvm::cantFail((*module)->function<FourArrays>(name(c, "jvp")))(in.data(), direction.data(), out.data(),
                                                                          tangentOut.data());
          expectSame(out, expectedOut, at + " jvp out");
          expectSame(tangentOut, expected, at + " tangent_out");
        }
        std::vector<double> gradIn(columns, 12345.0);
        std::fill(out.begin(), out.end(), 12345.0);
        llvm::cantFail((*module)->function<FourArrays>(name(c, "vjp")))(in.data(), seed.data(), out.data(),
                                                                        gradIn.data());
        expectSame(out, expectedOut, at + " vjp out");
        expectSame(gradIn, interpretedVjp(graph, *functions.gradient, in, seed), at + " grad_in");
        if (functions.hessian) {
          std::vector<double> hess(columns * columns, 12345.0);
          std::fill(out.begin(), out.end(), 12345.0);
          llvm::cantFail((*module)->function<ThreeArrays>(name(c, "hessian")))(in.data(), out.data(), hess.data());
          expectSame(out, expectedOut, at + " hessian out");
          expectSame(hess, evaluateGradient(*functions.hessian, in).grad, at + " hess");
        }
        if (functions.hvp) {
          std::vector<double> v = drawn(columns, random, draw, special), hv(columns, 12345.0), expected;
          for (const std::vector<double> &product : evaluateHessianVector(*functions.hvp, in, v))
            llvm::append_range(expected, product);
          std::fill(out.begin(), out.end(), 12345.0);
          llvm::cantFail((*module)->function<FourArrays>(name(c, "hvp")))(in.data(), v.data(), out.data(), hv.data());
          expectSame(out, expectedOut, at + " hvp out");
          expectSame(hv, expected, at + " hv");
        }
      }
    }
  }
  return withJvp;
}

/// Outputs e = op(x, ...) (applyToTestInputs) and l = sum(sin(e * s)), a scalar, s a scalar param.
Graph opGraph(OpKind op, llvm::ArrayRef<int64_t> attrs) {
  Graph graph;
  SourceLoc loc{1, 1};
  NodeId result = applyToTestInputs(graph, op, attrs);
  NodeId s = graph.addArgument(OpKind::Param, "s", loc, 0.5);
  NodeId scaled = llvm::cantFail(graph.addOp(OpKind::Mul, {result, s}, loc));
  NodeId sine = llvm::cantFail(graph.addOp(OpKind::Sin, {scaled}, loc));
  graph.addOutput("e", result, loc);
  graph.addOutput("l", llvm::cantFail(graph.addOp(OpKind::Sum, {sine}, loc)), loc);
  return graph;
}

} // namespace

TEST(EmitFunctions, EveryScriptOpMatchesTheInterpreter) {
  std::vector<Case> cases;
  size_t ops = 0;
  for (size_t k = 0; k < NumOps; ++k) {
    const OpInfo &info = getOpInfo(opKind(k));
    if (!scriptWritable(info))
      continue;
    for (const std::vector<int64_t> &attrs : attrsToTry(info.kind)) {
      Graph graph = opGraph(info.kind, attrs);
      GradientSelection all = GradientSelection::all(graph);
      cases.push_back({std::string(info.name) + (attrs.empty() ? "" : " attrs " + std::to_string(attrs[0])),
                       std::move(graph), std::move(all), /*hessianOutput=*/1, domain(info.kind)});
    }
    ++ops;
  }
  EXPECT_GE(ops, 41u);
  size_t withJvp = expectMatchesInterpreter(cases);
  EXPECT_GE(withJvp, cases.size() / 2); // the ops without a tangent rule yet are left out of the jvp alone
}

TEST(EmitFunctions, TensorScriptsWithSelections) {
  const char *script = "input X[2,3] = [[1, -2, 0.5], [4, -0.0, 3]]\n"
                       "param W[3,2] = [[0.5, -0.3], [0.1, 0.8], [-0.6, 0.2]]\n"
                       "param b[2] = [0.1, -0.2]\n"
                       "input t = 0.5\n"
                       "node y = tanh(X @ W + b)\n"
                       "node loss = mean((y - t) ^ 2)\n"
                       "node p = softmax(y)\n"
                       "node t2 = t * t\n"
                       "output loss\noutput y\noutput p\noutput t2\n";
  Graph graph = compileOrFail(script);
  ASSERT_GT(graph.size(), 0u);
  // Arguments: X, t (inputs), W, b (params). Every output (two scalar, two tensor) by every argument, and the
  // Hessian of loss; --of y,t2 --wrt t,W: a tensor output's seed and a scalar output's, columns of part of in[];
  // --of loss --wrt W,b: the Hessian by two tensor params.
  std::vector<Case> cases;
  cases.push_back({"mlp", compileOrFail(script), GradientSelection::all(graph), 0});
  cases.push_back({"mlp --of y,t2 --wrt t,W", compileOrFail(script), {{1, 3}, {1, 2}}, std::nullopt});
  cases.push_back({"mlp --of loss --wrt W,b", compileOrFail(script), {{0}, {2, 3}}, 0});
  EXPECT_EQ(expectMatchesInterpreter(cases), 3u);
}

TEST(EmitFunctions, LargeGraphsCutIntoParts) {
  // Over 250 nodes (a part): each function is cut into parts, which take all of its arrays.
  std::string script = "input x[3] = [1, -2, 0.5]\ninput s = 0.5\nnode t = x * 1.5\nnode m = sum(t)\nnode s0 = s * m\n";
  for (int i = 1; i < 2100; ++i)
    script += "node s" + std::to_string(i) + " = s" + std::to_string(i - 1) + " * 0.999\n";
  script += "node f = s2099 * sum(t * x)\nnode g = t * s2099\noutput f\noutput g\n";
  std::vector<Case> cases;
  cases.push_back({"chain", compileOrFail(script), {}, /*hessianOutput=*/0});
  ASSERT_GT(cases[0].graph.size(), 2000u);
  cases[0].selection = GradientSelection::all(cases[0].graph);
  EXPECT_EQ(expectMatchesInterpreter(cases), 1u);
}

TEST(EmitFunctions, TheRosenbrockFunction) {
  Graph graph = compileOrFail("input x = -1.2\ninput y = 1\nnode f = (1 - x)^2 + 100 * (y - x^2)^2\noutput f\n");
  ASSERT_GT(graph.size(), 0u);
  GradientGraph gradient = llvm::cantFail(buildGradientGraph(graph));
  GradientGraph hessian = llvm::cantFail(buildHessianGraph(graph, 0, {0, 1}));
  TangentGraph tangents = llvm::cantFail(buildTangentGraph(graph));
  HessianVectorGraph hvp = llvm::cantFail(buildHessianVectorGraph(graph, 0, {0, 1}));
  auto module = CompiledModule::create(2, [&](llvm::LLVMContext &context) {
    auto module = std::make_unique<llvm::Module>("m", context);
    emitJvpFunction(*module, graph, tangents, "m_jvp");
    emitVjpFunction(*module, graph, gradient, "m_vjp");
    emitHessianFunction(*module, graph, hessian, "m_hessian");
    emitHvpFunction(*module, graph, hvp, "m_hvp");
    return llvm::Expected<std::unique_ptr<llvm::Module>>(std::move(module));
  });
  ASSERT_TRUE(bool(module)) << llvm::toString(module.takeError());
  double in[] = {-1.2, 1}, direction[] = {1, 0}, seed[] = {2}, out[1], tangent[1], gradIn[2], hess[4];
  (*module)->function<FourArrays>("m_jvp").get()(in, direction, out, tangent);
  EXPECT_NEAR(tangent[0], -215.6, 1e-12 * 215.6);
  (*module)->function<FourArrays>("m_vjp").get()(in, seed, out, gradIn);
  EXPECT_NEAR(gradIn[0], -431.2, 1e-12 * 431.2);
  EXPECT_NEAR(gradIn[1], -176, 1e-12 * 176);
  (*module)->function<ThreeArrays>("m_hessian").get()(in, out, hess);
  EXPECT_NEAR(out[0], 24.2, 1e-12 * 24.2);
  const double expected[] = {1330, 480, 480, 200};
  for (size_t i = 0; i < 4; ++i)
    EXPECT_NEAR(hess[i], expected[i], 1e-12 * expected[i]) << i;
  double v[] = {1, 1}, hv[2];
  (*module)->function<FourArrays>("m_hvp").get()(in, v, out, hv);
  EXPECT_NEAR(hv[0], 1810, 1e-12 * 1810);
  EXPECT_NEAR(hv[1], 680, 1e-12 * 680);
}
