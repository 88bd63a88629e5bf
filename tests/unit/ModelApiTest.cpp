//===- ModelApiTest.cpp - bp::Model: a script compiled in one call ---------===//
//
// The model describes its arguments, outputs and gradient layout as the compiled functions use them, and its
// functions give the numbers of CompiledModel and of the interpreter bit for bit: on the tests' own scripts, on
// every script in examples/ and on random scripts (RandomScripts.h), with and without --of and --wrt.
//
//===----------------------------------------------------------------------===//
#include "RandomScripts.h"
#include "TestHelpers.h"

#include "bp/Interpreter.h"
#include "bp/Model.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace bp;
using bp::test::sameValue;
using testing::HasSubstr;

namespace {

const char *Nested = "input a = 5\ninput b = -6\ninput c = 7\nnode d = a + b\nnode f = d * c\noutput f\n";

/// A tensor output beside a scalar one, an input without a default and a param.
const char *TwoOutputs = "input X[1,3]\nparam W[3,2] = 0.5\nnode y = X @ W\nnode loss = sum(y * y)\n"
                         "output loss, y\n";

Model compileModel(llvm::StringRef source, const CompileOptions &options = {}) {
  auto model = Model::compile(source, options);
  if (!model) {
    ADD_FAILURE() << llvm::toString(model.takeError());
    return llvm::cantFail(Model::compile("node f = 1\noutput f\n"));
  }
  return std::move(*model);
}

/// The message of a compile that must fail ("" if it compiled).
std::string compileError(llvm::StringRef source, const CompileOptions &options = {}) {
  auto model = Model::compile(source, options);
  return model ? "" : llvm::toString(model.takeError());
}

std::vector<double> sequence(size_t size, double start) {
  std::vector<double> values(size);
  for (size_t i = 0; i < size; ++i)
    values[i] = start + 0.25 * static_cast<double>(i);
  return values;
}

/// The model's gradient at `in` equals a CompiledModel's made directly from its graph and selection, and the
/// interpreter's, bit for bit (out and grad alike); its forward function gives the same out.
void expectSameAsCompiledModelAndInterpreter(const Model &model, const std::vector<double> &in) {
  std::vector<double> out(model.outSize()), grad(model.gradSize()), forwardOut(model.outSize());
  ASSERT_FALSE(llvm::errorToBool(model.gradient(in, out, grad)));
  ASSERT_FALSE(llvm::errorToBool(model.forward(in, forwardOut)));

  auto direct = llvm::cantFail(
      CompiledModel::create(model.graph(), CompiledModel::ForwardAndGradient, 2, model.selection()));
  std::vector<double> directOut(model.outSize()), directGrad(model.gradSize());
  direct->gradient(in.data(), directOut.data(), directGrad.data());

  Jacobian interpreted = evaluateGradient(llvm::cantFail(buildGradientGraph(model.graph(), model.selection())), in);
  ASSERT_EQ(interpreted.out.size(), out.size());
  ASSERT_EQ(interpreted.grad.size(), grad.size());
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_TRUE(sameValue(out[i], directOut[i])) << "out[" << i << "]";
    EXPECT_TRUE(sameValue(out[i], interpreted.out[i])) << "out[" << i << "]";
    EXPECT_TRUE(sameValue(out[i], forwardOut[i])) << "out[" << i << "]";
  }
  for (size_t i = 0; i < grad.size(); ++i) {
    EXPECT_TRUE(sameValue(grad[i], directGrad[i])) << "grad[" << i << "]";
    EXPECT_TRUE(sameValue(grad[i], interpreted.grad[i])) << "grad[" << i << "]";
  }
}

} // namespace

TEST(ModelApi, NestedFromTextDescribesItselfAndComputesTheTutorialNumbers) {
  Model model = compileModel(Nested);
  ASSERT_EQ(model.arguments().size(), 3u);
  const char *names[] = {"a", "b", "c"};
  for (size_t a = 0; a < 3; ++a) {
    const ArgumentInfo &argument = model.arguments()[a];
    EXPECT_EQ(argument.name, names[a]);
    EXPECT_EQ(argument.kind, ArgumentKind::Input);
    EXPECT_TRUE(argument.shape.empty());
    EXPECT_EQ(argument.size, 1u);
    EXPECT_EQ(argument.offset, a);
    EXPECT_TRUE(argument.hasDefault);
    EXPECT_EQ(argument.gradColumn, a);
  }
  ASSERT_EQ(model.outputs().size(), 1u);
  EXPECT_EQ(model.outputs()[0].name, "f");
  EXPECT_EQ(model.outputs()[0].offset, 0u);
  EXPECT_EQ(model.outputs()[0].gradRow, 0u);
  EXPECT_EQ(model.findArgument("b"), &model.arguments()[1]);
  EXPECT_EQ(model.findArgument("d"), nullptr);
  EXPECT_EQ(model.findOutput("f"), &model.outputs()[0]);
  EXPECT_EQ(model.inSize(), 3u);
  EXPECT_EQ(model.outSize(), 1u);
  EXPECT_EQ(model.gradSize(), 3u);
  EXPECT_EQ(model.defaults(), (std::vector<double>{5, -6, 7}));

  double in[] = {5, -6, 7}, out, grad[3];
  model.gradient(in, &out, grad);
  EXPECT_EQ(out, -7);
  EXPECT_EQ(std::vector<double>(grad, grad + 3), (std::vector<double>{7, 7, -1}));
  expectSameAsCompiledModelAndInterpreter(model, model.defaults());
  expectSameAsCompiledModelAndInterpreter(model, {0.1, -0.0, 1e300});
}

TEST(ModelApi, FurtherFromFileGivesTheTensorLayoutAndTheReadmeGradient) {
  auto model = Model::compileFile(BP_EXAMPLES_DIR "/further.bp", {});
  ASSERT_TRUE(bool(model)) << llvm::toString(model.takeError());
  ASSERT_EQ(model->arguments().size(), 2u);
  const ArgumentInfo &x = model->arguments()[0], &w = model->arguments()[1];
  EXPECT_EQ(x.name, "X");
  EXPECT_EQ(x.kind, ArgumentKind::Input);
  EXPECT_EQ(x.shape, (Shape{1, 3}));
  EXPECT_EQ(x.offset, 0u);
  EXPECT_EQ(x.size, 3u);
  EXPECT_EQ(w.name, "W");
  EXPECT_EQ(w.kind, ArgumentKind::Param);
  EXPECT_EQ(w.shape, (Shape{3, 2}));
  EXPECT_EQ(w.offset, 3u);
  EXPECT_EQ(w.size, 6u);
  EXPECT_EQ(w.gradColumn, 3u);
  EXPECT_EQ(model->defaults(), (std::vector<double>{2, 4, -2, 0.5, -0.3, 0.1, 0.8, -0.6, 0.2}));
  EXPECT_EQ(model->gradRows(), 1u);
  EXPECT_EQ(model->gradColumns(), 9u);

  std::vector<double> out(1), grad(9);
  ASSERT_FALSE(llvm::errorToBool(model->gradient(model->defaults(), out, grad)));
  EXPECT_EQ(out[0], 0.07164469196766994);
  EXPECT_EQ(grad[0], -0.03456921017167347);
  EXPECT_EQ(grad[3], -0.13827684068669388); // dloss/dW[0,0]
  EXPECT_EQ(grad[4], 0);
  expectSameAsCompiledModelAndInterpreter(*model, model->defaults());
  expectSameAsCompiledModelAndInterpreter(*model, sequence(9, -1));
}

TEST(ModelApi, TensorOutputsTakeARowPerElement) {
  Model model = compileModel(TwoOutputs);
  EXPECT_FALSE(model.arguments()[0].hasDefault);
  EXPECT_EQ(model.defaults(), (std::vector<double>{0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5}));
  const OutputInfo &loss = model.outputs()[0], &y = model.outputs()[1];
  EXPECT_EQ(y.shape, (Shape{1, 2}));
  EXPECT_EQ(y.offset, 1u);
  EXPECT_EQ(y.size, 2u);
  EXPECT_EQ(loss.gradRow, 0u);
  EXPECT_EQ(y.gradRow, 1u);
  EXPECT_EQ(model.gradRows(), 3u);
  EXPECT_EQ(model.gradSize(), 27u);
  expectSameAsCompiledModelAndInterpreter(model, sequence(9, -1));
}

TEST(ModelApi, OfAndWrtChooseTheGradientsRowsAndColumns) {
  CompileOptions options;
  options.of = {"y"};
  options.wrt = {"W"};
  Model model = compileModel(TwoOutputs, options);
  EXPECT_EQ(model.outputs()[0].gradRow, std::nullopt);
  EXPECT_EQ(model.outputs()[1].gradRow, 0u);
  EXPECT_EQ(model.arguments()[0].gradColumn, std::nullopt);
  EXPECT_EQ(model.arguments()[1].gradColumn, 0u);
  EXPECT_EQ(model.gradRows(), 2u);
  EXPECT_EQ(model.gradColumns(), 6u);
  EXPECT_EQ(model.outSize(), 3u); // out still holds every output
  expectSameAsCompiledModelAndInterpreter(model, sequence(9, 0.5));

  // The columns follow `in`'s order whatever order wrt names them in.
  options = {};
  options.wrt = {"c", "a"};
  Model nested = compileModel(Nested, options);
  EXPECT_EQ(nested.arguments()[0].gradColumn, 0u);
  EXPECT_EQ(nested.arguments()[1].gradColumn, std::nullopt);
  EXPECT_EQ(nested.arguments()[2].gradColumn, 1u);
  std::vector<double> out(1), grad(2);
  ASSERT_FALSE(llvm::errorToBool(nested.gradient(nested.defaults(), out, grad)));
  EXPECT_EQ(grad, (std::vector<double>{7, -1}));
}

TEST(ModelApi, SelectionErrorsNameTheValidNames) {
  CompileOptions options;
  options.of = {"a"};
  EXPECT_EQ(compileError(Nested, options), "--of a: 'a' is an input, not an output (outputs: f)");
  options.of = {"d"};
  EXPECT_EQ(compileError(Nested, options), "--of d: 'd' is a node, not an output (outputs: f)");
  options.of = {"f", "f"};
  EXPECT_EQ(compileError(Nested, options), "--of names 'f' twice");
  options = {};
  options.wrt = {"e"};
  EXPECT_EQ(compileError(Nested, options),
            "--wrt e: the script has no input or param named 'e' (inputs and params: a, b, c)");
  options.wrt = {"d"};
  EXPECT_EQ(compileError(Nested, options), "--wrt d: 'd' is a node, not an input or param (inputs and params: a, b, c)");
  // Names are checked without the gradient too.
  options.gradient = false;
  EXPECT_THAT(compileError(Nested, options), HasSubstr("--wrt d:"));
}

TEST(ModelApi, ABadScriptGivesBpcsDiagnosticsWithLineColumnAndCaret) {
  CompileOptions options;
  options.name = "nested.bp";
  EXPECT_EQ(compileError("input a = 5\nnode d = a + 1\nnode f = d * e\noutput f\n", options),
            "nested.bp:3:14: error: use of undefined name 'e'\n"
            "node f = d * e\n"
            "             ^\n");
  // Every diagnostic, not only the first; the default name.
  std::string both = compileError("node f = x\nnode g = y\noutput f, g\n");
  EXPECT_THAT(both, HasSubstr("<script>:1:10: error: use of undefined name 'x'\nnode f = x\n         ^\n"));
  EXPECT_THAT(both, HasSubstr("<script>:2:10: error: use of undefined name 'y'\n"));
  EXPECT_THAT(compileError("input a\x80\n"), HasSubstr("<script>:1:8: error: invalid UTF-8 byte 0x80"));
  auto missing = Model::compileFile("/nonexistent/missing.bp");
  ASSERT_FALSE(bool(missing));
  EXPECT_THAT(llvm::toString(missing.takeError()), HasSubstr("/nonexistent/missing.bp"));
  options.optLevel = 4;
  EXPECT_EQ(compileError(Nested, options), "optimization level 4 is not one of 0, 1, 2 and 3");
}

TEST(ModelApi, WrongSizesAreErrorsAndCallNothing) {
  Model model = compileModel(Nested);
  std::vector<double> in = {5, -6, 7}, out(1, 42), grad(3, 42);
  std::vector<double> shortIn = {5, -6}, longOut(2, 42), shortGrad(2, 42);
  EXPECT_EQ(llvm::toString(model.forward(shortIn, out)), "in has 2 doubles; the model takes 3");
  EXPECT_EQ(llvm::toString(model.forward(in, longOut)), "out has 2 doubles; the model takes 1");
  EXPECT_EQ(llvm::toString(model.gradient(in, out, shortGrad)), "grad has 2 doubles; the model takes 3");
  EXPECT_EQ(llvm::toString(model.gradient(shortIn, out, grad)), "in has 2 doubles; the model takes 3");
  EXPECT_EQ(out[0], 42);
  EXPECT_EQ(longOut[0], 42);
  EXPECT_EQ(grad[0], 42);

  CompileOptions options;
  options.gradient = false;
  Model forwardOnly = compileModel(Nested, options);
  EXPECT_FALSE(forwardOnly.hasGradient());
  EXPECT_EQ(forwardOnly.gradSize(), 0u);
  EXPECT_EQ(forwardOnly.arguments()[0].gradColumn, std::nullopt);
  EXPECT_EQ(llvm::toString(forwardOnly.gradient(in, out, {})), "the model was compiled without its gradient");
  ASSERT_FALSE(llvm::errorToBool(forwardOnly.forward(in, out)));
  EXPECT_EQ(out[0], -7);
}

TEST(ModelApi, AGraphAlreadyBuiltCompilesTheSameWay) {
  // What a tool that checked the script itself (bpc) calls: the pipeline's second half.
  auto model = Model::compile(bp::test::compileOrFail(TwoOutputs), CompileOptions());
  ASSERT_TRUE(bool(model)) << llvm::toString(model.takeError());
  EXPECT_EQ(model->outputs()[1].gradRow, 1u);
  expectSameAsCompiledModelAndInterpreter(*model, sequence(9, 3));
}

TEST(ModelApi, OptLevelsAndSeedsReachTheCompiler) {
  for (unsigned level : {0u, 1u, 3u}) {
    CompileOptions options;
    options.optLevel = level;
    expectSameAsCompiledModelAndInterpreter(compileModel(TwoOutputs, options), sequence(9, -2));
  }
  const char *random = "param W[2] = normal(0, 1)\nnode s = sum(W)\noutput s\n";
  CompileOptions one, two;
  two.seed = 2;
  EXPECT_EQ(compileModel(random, one).defaults(), compileModel(random).defaults());
  EXPECT_NE(compileModel(random, one).defaults(), compileModel(random, two).defaults());
}

TEST(ModelApi, ASharedGraphIsTheModelsOwnNotACopy) {
  // bpc's run, gradcheck and train go on using the graph they compile.
  auto graph = std::make_shared<const Graph>(bp::test::compileOrFail(TwoOutputs));
  CompileOptions options;
  options.wrt = {"W"};
  auto model = Model::compile(graph, options);
  ASSERT_TRUE(bool(model)) << llvm::toString(model.takeError());
  EXPECT_EQ(&model->graph(), graph.get());
  EXPECT_EQ(model->gradColumns(), 6u);
  expectSameAsCompiledModelAndInterpreter(*model, sequence(9, 1));
}

TEST(ModelApi, EveryExampleGivesTheNumbersOfCompiledModelAndTheInterpreter) {
  std::vector<std::string> paths;
  std::error_code error;
  for (llvm::sys::fs::directory_iterator entry(BP_EXAMPLES_DIR, error), end; entry != end && !error;
       entry.increment(error))
    if (llvm::sys::path::extension(entry->path()) == ".bp")
      paths.push_back(entry->path());
  ASSERT_FALSE(error) << error.message();
  llvm::sort(paths);
  size_t compiled = 0;
  for (const std::string &path : paths) {
    SCOPED_TRACE(path);
    auto model = Model::compileFile(path);
    if (!model) { // an example of a mistake (typo.bp)
      EXPECT_THAT(llvm::toString(model.takeError()), HasSubstr(": error: "));
      continue;
    }
    expectSameAsCompiledModelAndInterpreter(*model, model->defaults());
    ++compiled;
  }
  EXPECT_GE(compiled, 10u);
}

TEST(ModelApi, RandomScriptsGiveTheNumbersOfCompiledModelAndTheInterpreter) {
  // PropertyTest's scripts, scalar and tensor, at every optimization level; every third with a selection
  // (generate() always declares x0, x1 and w0 and outputs out1 and out2).
  std::mt19937 random(20261202);
  for (int trial = 0; trial < 8; ++trial) {
    std::string script = bp::test::generate(random, 5 + 3 * trial, /*wholeChain=*/false, /*tensors=*/trial % 2);
    SCOPED_TRACE("trial " + std::to_string(trial) + "\n" + script);
    CompileOptions options;
    options.optLevel = static_cast<unsigned>(trial % 4);
    options.seed = static_cast<uint64_t>(trial);
    if (trial % 3 == 0) {
      options.of = {"out2"};
      options.wrt = {"w0", "x1"};
    }
    Model model = compileModel(script, options);
    expectSameAsCompiledModelAndInterpreter(model, model.defaults());
  }
}

TEST(ModelApi, DerivativeFunctionsGiveTheInterpretersNumbers) {
  // The Rosenbrock function at (-1.2, 1): Hessian [[1330, 480], [480, 200]], gradient [-215.6, -88].
  const char *script = "input x = -1.2\ninput y = 1\nnode f = (1 - x)^2 + 100 * (y - x^2)^2\noutput f\n";
  CompileOptions options;
  options.functions = {"jvp", "vjp", "hessian", "hvp"};
  auto model = Model::compile(script, options);
  ASSERT_TRUE(bool(model)) << llvm::toString(model.takeError());
  ASSERT_EQ(model->hessianSize(), 2u);
  std::vector<double> in = model->defaults(), out(1), hess(4), hv(2), jt(1), vjp(2);
  ASSERT_FALSE(bool(model->hessian(in.data(), out.data(), hess.data())));
  EXPECT_EQ(hess, (std::vector<double>{1330, 480, 480, 200}));
  double v[2] = {1, 1}, t[2] = {1, 0}, seed[1] = {2};
  ASSERT_FALSE(bool(model->hvp(in.data(), v, out.data(), hv.data())));
  EXPECT_EQ(hv, (std::vector<double>{1810, 680}));
  ASSERT_FALSE(bool(model->jvp(in.data(), t, out.data(), jt.data())));
  ASSERT_FALSE(bool(model->vjp(in.data(), seed, out.data(), vjp.data())));
  EXPECT_EQ(out[0], 24.199999999999996);

  // Bit for bit the interpreter's numbers for each (Autodiff.h's graphs evaluated).
  const Graph &graph = model->graph();
  auto tangents = buildTangentGraph(graph);
  ASSERT_TRUE(bool(tangents));
  EXPECT_TRUE(sameValue(jt[0], evaluateTangents(*tangents, in, {t, 2})[0][0]));
  auto gradient = buildGradientGraph(graph);
  ASSERT_TRUE(bool(gradient));
  std::vector<double> grad = evaluateGradient(*gradient, in).grad;
  for (size_t i = 0; i < 2; ++i)
    EXPECT_EQ(vjp[i], 2 * grad[i]) << i; // a scalar output's seed scales its gradient exactly (times 2)
  auto hessianGraph = buildHessianGraph(graph, 0, {0, 1});
  ASSERT_TRUE(bool(hessianGraph));
  EXPECT_EQ(evaluateGradient(*hessianGraph, in).grad, hess);
  auto hvpGraph = buildHessianVectorGraph(graph, 0, {0, 1});
  ASSERT_TRUE(bool(hvpGraph));
  std::vector<std::vector<double>> products = evaluateHessianVector(*hvpGraph, in, {v, 2});
  EXPECT_EQ((std::vector<double>{products[0][0], products[1][0]}), hv);
}

TEST(ModelApi, DerivativeFunctionsNotAskedForOrUnknownAreErrors) {
  auto model = Model::compile("input x = 2\nnode f = x * x\noutput f\n");
  ASSERT_TRUE(bool(model)) << llvm::toString(model.takeError());
  double in[1] = {2}, out[1], hess[1];
  llvm::Error err = model->hessian(in, out, hess);
  EXPECT_THAT(llvm::toString(std::move(err)), HasSubstr("compiled without its hessian function"));

  CompileOptions options;
  options.functions = {"jacobian"};
  auto unknown = Model::compile("input x = 2\nnode f = x * x\noutput f\n", options);
  ASSERT_FALSE(bool(unknown));
  EXPECT_THAT(llvm::toString(unknown.takeError()), HasSubstr("'jacobian' is not one of the derivative functions"));

  // Two scalar outputs and no `of`: which Hessian is meant is not said.
  options.functions = {"hessian"};
  auto two = Model::compile("input x = 2\nnode f = x * x\nnode g = x + 1\noutput f, g\n", options);
  ASSERT_FALSE(bool(two));
  EXPECT_THAT(llvm::toString(two.takeError()), HasSubstr("a Hessian is of one scalar output: name it with `of`"));
  options.of = {"g"};
  auto chosen = Model::compile("input x = 2\nnode f = x * x\nnode g = x * x * x\noutput f, g\n", options);
  ASSERT_TRUE(bool(chosen)) << llvm::toString(chosen.takeError());
  ASSERT_FALSE(bool(chosen->hessian(in, out, hess)));
  EXPECT_EQ(hess[0], 12); // d2(x^3)/dx2 = 6x at x = 2
}
