//===- FrontendTest.cpp - Parsing, checks and graph construction ----------===//
#include "TestHelpers.h"

#include "bp/Ops.h"

#include <chrono>

using namespace bp;
using bp::test::compileOrFail;
using bp::test::diagnosticsFor;
using ::testing::HasSubstr;

TEST(Frontend, BuildsTheNestedNeuronsGraph) {
  Graph graph = compileOrFail("input a = 5\ninput b = -6\ninput c = 7\nnode d = a + b\nnode f = d * c\noutput f\n");
  ASSERT_EQ(graph.size(), 5u);
  NodeId d = *graph.lookup("d"), f = *graph.lookup("f");
  EXPECT_EQ(graph.node(d).op, OpKind::Add);
  EXPECT_EQ(graph.node(f).op, OpKind::Mul);
  EXPECT_EQ(graph.node(f).operands[0], d);
  EXPECT_EQ(graph.node(f).operands[1], *graph.lookup("c"));
  EXPECT_EQ(graph.node(d).loc.line, 4u);
  EXPECT_EQ(graph.node(d).loc.column, 12u);
  ASSERT_EQ(graph.outputs().size(), 1u);
  EXPECT_EQ(graph.outputs()[0].node, f);
  EXPECT_TRUE(graph.node(f).type.isScalar());
}

TEST(Frontend, ArgumentsAreInputsThenParams) {
  Graph graph = compileOrFail("param w = 1\ninput x = 2\nparam b = 3\ninput y = 4\nnode f = w*x+b*y\noutput f\n");
  std::vector<std::string> names;
  for (NodeId id : graph.arguments())
    names.push_back(graph.node(id).name);
  EXPECT_EQ(names, (std::vector<std::string>{"x", "y", "w", "b"}));
  names.clear();
  for (NodeId id : graph.declaredArguments())
    names.push_back(graph.node(id).name);
  EXPECT_EQ(names, (std::vector<std::string>{"w", "x", "b", "y"}));
  // argumentIndex is each one's position in arguments(), tensors and the copy a gradient graph makes included.
  Graph tensors = compileOrFail("input a[2] = 1\nparam p = 1\nparam q[3] = 2\ninput b = 1\ninput c\nparam r = 0\n"
                                "node f = sum(a) * p + sum(q) * b * c * r\noutput f\n");
  for (const Graph *g : {&graph, &tensors}) {
    Graph copy = *g;
    std::vector<NodeId> arguments = copy.arguments();
    for (size_t a = 0; a < arguments.size(); ++a)
      EXPECT_EQ(copy.argumentIndex(arguments[a]), a);
  }
}

TEST(Frontend, DefsAreInlinedWithTheirParametersBound) {
  Graph graph = compileOrFail("def sq(x) = x * x\ndef quad(x) = sq(sq(x))\ninput x = 2\nnode f = quad(x)\noutput f\n");
  // x, then x*x, then (x*x)*(x*x): one Mul per call of sq.
  ASSERT_EQ(graph.size(), 3u);
  EXPECT_EQ(graph.node(1).op, OpKind::Mul);
  EXPECT_EQ(graph.node(1).operands[0], 0u);
  EXPECT_EQ(graph.node(2).operands[0], 1u);
  EXPECT_EQ(graph.node(2).name, "f");
}

TEST(Frontend, AliasNodeSharesItsValue) {
  Graph graph = compileOrFail("input a = 1\nnode e = a\noutput e\n");
  EXPECT_EQ(*graph.lookup("e"), *graph.lookup("a"));
  EXPECT_EQ(graph.outputs()[0].name, "e");
}

TEST(Frontend, ReportsEverySemanticErrorWithItsLocation) {
  std::string errors = diagnosticsFor("input a\n"
                                      "node b = a + c\n"           // undefined name
                                      "node a = 1\n"               // redefinition
                                      "node exp = 2\n"             // builtin name
                                      "node g = sin(a, a)\n"       // arity
                                      "node h = nope(a)\n"         // unknown function
                                      "def r(x) = r(x)\n"          // recursion
                                      "def s(x) = x + a\n"         // outside the def's scope
                                      "output zz\n");              // output names nothing
  EXPECT_THAT(errors, HasSubstr("test.bp:2:14: error: use of undefined name 'c'"));
  EXPECT_THAT(errors, HasSubstr("test.bp:3:6: error: redefinition of 'a'"));
  EXPECT_THAT(errors, HasSubstr("test.bp:1:7: note: previous definition of 'a' is here"));
  EXPECT_THAT(errors, HasSubstr("test.bp:4:6: error: 'exp' is the name of a builtin function"));
  EXPECT_THAT(errors, HasSubstr("test.bp:5:10: error: builtin 'sin' takes 1 argument, but 2 were given"));
  EXPECT_THAT(errors, HasSubstr("test.bp:6:10: error: call to undefined function 'nope'"));
  EXPECT_THAT(errors, HasSubstr("test.bp:7:12: error: def 'r' calls itself; recursion is not allowed"));
  EXPECT_THAT(errors, HasSubstr("test.bp:8:16: error: def 's' cannot use 'a'"));
  EXPECT_THAT(errors, HasSubstr("test.bp:9:8: error: output names 'zz', which is not defined"));
}

TEST(Frontend, AStatementWithASyntaxErrorDoesNotCascade) {
  // 'd' fails to parse; its later use must not be reported as undefined.
  std::string errors = diagnosticsFor("input a = 1\nnode d = a +\nnode f = d * 2\noutput f\n");
  EXPECT_THAT(errors, HasSubstr("test.bp:2:13: error: expected an expression, found end of line"));
  EXPECT_EQ(errors.find("undefined"), std::string::npos) << errors;
}

TEST(Frontend, FileLevelErrors) {
  EXPECT_THAT(diagnosticsFor(""), HasSubstr("test.bp: error: file is empty"));
  EXPECT_THAT(diagnosticsFor("input a = 1\n"), HasSubstr("error: script has no output"));
  EXPECT_THAT(diagnosticsFor("input a = 1\n\xff\n"), HasSubstr("test.bp:2:1: error: invalid UTF-8 byte 0xFF"));
  EXPECT_THAT(diagnosticsFor(std::string("input a = 1\nno\0de", 17)),
              HasSubstr("test.bp:2:3: error: file contains a NUL byte"));
}

TEST(Frontend, ExponentialDefExpansionIsRefusedBeforeInlining) {
  // f40 would expand to 2^41 - 1 nodes: the call is refused from the sizes known at each def, in
  // milliseconds, where inlining up to the limit first took seconds.
  std::string script = "def f0(x) = x + x\n";
  for (int i = 1; i <= 40; ++i)
    script += "def f" + std::to_string(i) + "(x) = f" + std::to_string(i - 1) + "(x) + f" +
              std::to_string(i - 1) + "(x)\n";
  script += "input a = 1\nnode y = f40(a)\noutput y\n";
  auto start = std::chrono::steady_clock::now();
  std::string errors = diagnosticsFor(script);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_THAT(errors, HasSubstr("test.bp:43:10: error: script expands to more than 4000000 nodes"));
  EXPECT_THAT(errors, HasSubstr("test.bp:41:5: note: def 'f40' expands to more than 4000000 nodes at each call"));
}

TEST(Frontend, DefSizesCountNestedCallsAndConstants) {
  // g adds 2 nodes (the constant and the product), h two calls of g and a sum: 5. Three calls of h fit.
  EXPECT_EQ(compileOrFail("def g(x) = x * 2\ndef h(x) = g(x) + g(x)\ninput a = 1\n"
                          "node y = h(a) - h(a) / h(a)\noutput y\n")
                .size(),
            1u + 3 * 5 + 2);
}

TEST(Frontend, DeepSyntaxTreesAreFreedWithoutRecursion) {
  // 500,000 levels of call, product, negation, indexing and comparison: freed recursively, they would overflow
  // the 8 MiB stack of the thread running this test.
  auto leaf = [] { return std::make_unique<Expr>(SourceLoc{1, 1}, NameExpr{"x"}); };
  ExprPtr expr = leaf();
  for (int i = 0; i < 100000; ++i) {
    CallExpr call{"sin", {}, std::nullopt};
    call.args.push_back(std::move(expr));
    ChainExpr product{std::make_unique<Expr>(SourceLoc{1, 1}, NumberExpr{2}), {}};
    product.rest.push_back({'*', {1, 1}, std::make_unique<Expr>(SourceLoc{1, 1}, std::move(call))});
    expr = std::make_unique<Expr>(SourceLoc{1, 1}, NegateExpr{1, std::make_unique<Expr>(SourceLoc{1, 1}, std::move(product))});
    IndexExpr index{leaf(), {}};
    index.items.push_back({{1, 1}, std::move(expr), std::nullopt});
    CompareExpr compare{CompareOp::Less, {1, 1}, std::make_unique<Expr>(SourceLoc{1, 1}, std::move(index)), leaf()};
    expr = std::make_unique<Expr>(SourceLoc{1, 1}, std::move(compare));
  }
  expr.reset();
  EXPECT_EQ(expr, nullptr);
}

TEST(Frontend, LongSumsAreFlatChains) {
  std::string sum = "a";
  for (int i = 1; i < 20000; ++i)
    sum += " + a";
  Graph graph = compileOrFail("input a = 1\nnode s = " + sum + "\noutput s\n");
  EXPECT_EQ(graph.size(), 20000u); // a, then 19,999 adds
}

TEST(Frontend, InitializerNamesAreNotReserved) {
  // `normal` and `uniform` mean something only after '=' in a shaped declaration.
  Graph graph = compileOrFail("input normal = 1\ninput uniform = 2\nnode f = normal + uniform\noutput f\n");
  EXPECT_TRUE(graph.lookup("normal").has_value());
}

TEST(Frontend, TensorBuiltinsAreReserved) {
  EXPECT_THAT(diagnosticsFor("input x = 1\nnode where = x\noutput where\n"),
              HasSubstr("2:6: error: 'where' is the name of a builtin function and cannot be redefined"));
  for (const char *name : {"softmax", "log_softmax", "logsumexp", "transpose", "argmax"})
    EXPECT_THAT(diagnosticsFor(std::string("input ") + name + " = 1\noutput " + name + "\n"),
                HasSubstr("1:7: error: '" + std::string(name) + "' is the name of a builtin function"));
  EXPECT_THAT(diagnosticsFor("input x = 1\nnode f = argmax(x) + transpose\noutput f\n"),
              HasSubstr("2:22: error: 'transpose' is a builtin function; call it with arguments, as in transpose(x)"));
  EXPECT_THAT(diagnosticsFor("input x = 1\ndef g(t) = t\nnode f = g(x, axis=1)\noutput f\n"),
              HasSubstr("3:15: error: def 'g' takes no 'axis' argument"));
}
