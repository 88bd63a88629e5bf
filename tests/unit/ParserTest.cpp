//===- ParserTest.cpp - The syntax tree of the tensor surface -------------===//
#include "TestHelpers.h"

#include "bp/Parser.h"
#include "bp/ScriptRewriter.h"

using namespace bp;
using ::testing::HasSubstr;

namespace {

/// The script's statements; fails the test on any diagnostic.
Script parseOrFail(const std::string &text) {
  auto file = makeSourceFile("test.bp", text);
  if (!file) {
    ADD_FAILURE() << llvm::toString(file.takeError());
    return Script();
  }
  DiagnosticEngine diags(*file);
  Script script = parseScript(*file, diags);
  if (llvm::Error err = diags.takeError())
    ADD_FAILURE() << llvm::toString(std::move(err));
  return script;
}

/// The rendered syntax diagnostics of a script ("" if it parsed).
std::string syntaxErrors(const std::string &text) {
  auto file = makeSourceFile("test.bp", text);
  if (!file)
    return llvm::toString(file.takeError());
  DiagnosticEngine diags(*file);
  parseScript(*file, diags);
  llvm::Error err = diags.takeError();
  return err ? llvm::toString(std::move(err)) : "";
}

/// The value of `node y = ...` (the script's only statement).
const Expr &nodeValue(const Script &script) {
  static const Expr none(SourceLoc{}, NumberExpr{0});
  if (script.statements.size() != 1 || !std::holds_alternative<NodeDecl>(script.statements[0].kind)) {
    ADD_FAILURE() << "expected one node statement";
    return none;
  }
  return *std::get<NodeDecl>(script.statements[0].kind).value;
}

void expectLoc(SourceLoc loc, uint32_t line, uint32_t column) {
  EXPECT_EQ(loc.line, line);
  EXPECT_EQ(loc.column, column);
}

} // namespace

TEST(Parser, ShapedDeclarationsKeepShapeValuesAndSpans) {
  Script script = parseOrFail("input X[1,3] = [[2, 4, -2]]\n"
                              "param W[3,2] = [[0.5, -0.3],\n"
                              "                [0.1,  0.8],\n"
                              "                [-0.6, 0.2]]\n"
                              "input Z[2, 2]\n");
  ASSERT_EQ(script.statements.size(), 3u);
  const auto &x = std::get<InputDecl>(script.statements[0].kind);
  ASSERT_TRUE(x.tensor);
  EXPECT_FALSE(x.defaultValue);
  EXPECT_EQ(x.tensor->shape.dims, (std::vector<int64_t>{1, 3}));
  expectLoc(x.tensor->shape.loc, 1, 8);
  expectLoc(x.tensor->shape.dimLocs[1], 1, 11);
  ASSERT_TRUE(x.tensor->init);
  EXPECT_EQ(x.tensor->init->kind, TensorInit::Literal);
  EXPECT_EQ(x.tensor->init->values, (std::vector<double>{2, 4, -2}));
  expectLoc(x.tensor->init->range.begin, 1, 16);
  expectLoc(x.tensor->init->range.end, 1, 28);

  const auto &w = std::get<ParamDecl>(script.statements[1].kind);
  ASSERT_TRUE(w.tensor && w.tensor->init);
  EXPECT_EQ(w.tensor->init->values, (std::vector<double>{0.5, -0.3, 0.1, 0.8, -0.6, 0.2}));
  expectLoc(w.tensor->init->range.begin, 2, 16); // the literal spans three lines
  expectLoc(w.tensor->init->range.end, 4, 29);

  const auto &z = std::get<InputDecl>(script.statements[2].kind);
  ASSERT_TRUE(z.tensor);
  EXPECT_FALSE(z.tensor->init);
  expectLoc(z.valueSpan.loc, 5, 14); // just past the shape: where a default would go
}

TEST(Parser, TensorInitializersFillOrDraw) {
  Script script = parseOrFail("param a[2] = -1.5\nparam b[3,1] = normal(0, 0.1)\nparam c[4] = uniform(-1, +1)\n");
  ASSERT_EQ(script.statements.size(), 3u);
  const TensorInit &fill = *std::get<ParamDecl>(script.statements[0].kind).tensor->init;
  EXPECT_EQ(fill.kind, TensorInit::Fill);
  EXPECT_EQ(fill.values, std::vector<double>{-1.5});
  expectLoc(fill.range.begin, 1, 14);
  expectLoc(fill.range.end, 1, 18);
  const TensorInit &normal = *std::get<ParamDecl>(script.statements[1].kind).tensor->init;
  EXPECT_EQ(normal.kind, TensorInit::Normal);
  EXPECT_EQ(normal.values, (std::vector<double>{0, 0.1}));
  expectLoc(normal.range.end, 2, 30);
  const TensorInit &uniform = *std::get<ParamDecl>(script.statements[2].kind).tensor->init;
  EXPECT_EQ(uniform.kind, TensorInit::Uniform);
  EXPECT_EQ(uniform.values, (std::vector<double>{-1, 1}));
}

TEST(Parser, MatrixProductBindsLikeTimes) {
  // a + b @ c * d: a sum whose second operand is the product chain b @ c * d.
  Script script = parseOrFail("node y = a + b @ c * d\n");
  const auto &sum = std::get<ChainExpr>(nodeValue(script).kind);
  ASSERT_EQ(sum.rest.size(), 1u);
  EXPECT_EQ(sum.rest[0].op, '+');
  const auto &product = std::get<ChainExpr>(sum.rest[0].operand->kind);
  ASSERT_EQ(product.rest.size(), 2u);
  EXPECT_EQ(product.rest[0].op, '@');
  expectLoc(product.rest[0].opLoc, 1, 16);
  EXPECT_EQ(product.rest[1].op, '*');
}

TEST(Parser, ComparisonsBindLooserThanSums) {
  Script script = parseOrFail("node y = a + 1 <= b * 2\n");
  const auto &compare = std::get<CompareExpr>(nodeValue(script).kind);
  EXPECT_EQ(compare.op, CompareOp::LessEqual);
  expectLoc(compare.opLoc, 1, 16);
  EXPECT_TRUE(std::holds_alternative<ChainExpr>(compare.lhs->kind));
  EXPECT_TRUE(std::holds_alternative<ChainExpr>(compare.rhs->kind));
  const std::pair<const char *, CompareOp> ops[] = {{"<", CompareOp::Less},         {">", CompareOp::Greater},
                                                    {">=", CompareOp::GreaterEqual}, {"==", CompareOp::Equal},
                                                    {"!=", CompareOp::NotEqual}};
  for (auto [text, op] : ops)
    EXPECT_EQ(std::get<CompareExpr>(nodeValue(parseOrFail("node y = a " + std::string(text) + " b\n")).kind).op, op)
        << text;
}

TEST(Parser, ComparisonsDoNotChain) {
  EXPECT_THAT(syntaxErrors("node y = a < b < c\n"), HasSubstr("test.bp:1:16: error: comparisons do not chain"));
  EXPECT_EQ(syntaxErrors("node y = (a < b) < c\n"), "");
}

TEST(Parser, IndexingTakesExpressionsAndSlices) {
  Script script = parseOrFail("node y = -log_softmax(z)[label, -1, 1:3, :2, -2:, :]\n");
  const auto &negate = std::get<NegateExpr>(nodeValue(script).kind); // indexing binds tighter than '-'
  const Expr &indexExpr = *negate.operand;
  expectLoc(indexExpr.loc, 1, 25);
  const auto &index = std::get<IndexExpr>(indexExpr.kind);
  EXPECT_EQ(std::get<CallExpr>(index.base->kind).callee, "log_softmax");
  ASSERT_EQ(index.items.size(), 6u);
  EXPECT_EQ(std::get<NameExpr>(index.items[0].index->kind).name, "label");
  EXPECT_EQ(std::get<NumberExpr>(index.items[1].index->kind).value, -1);
  expectLoc(index.items[1].loc, 1, 33);
  auto expectSlice = [&](size_t i, std::optional<int64_t> lo, std::optional<int64_t> hi) {
    ASSERT_FALSE(index.items[i].index) << i;
    ASSERT_TRUE(index.items[i].slice) << i;
    EXPECT_EQ(index.items[i].slice->lo, lo) << i;
    EXPECT_EQ(index.items[i].slice->hi, hi) << i;
  };
  expectSlice(2, 1, 3);
  expectSlice(3, std::nullopt, 2);
  expectSlice(4, -2, std::nullopt);
  expectSlice(5, std::nullopt, std::nullopt);
  expectLoc(index.items[2].slice->colonLoc, 1, 38);
  expectLoc(index.items[2].slice->hiLoc, 1, 39);
}

TEST(Parser, IndexingAppliesToNamesCallsAndParentheses) {
  for (const char *text : {"node y = x[0]\n", "node y = f(x)[0]\n", "node y = (a + b)[0]\n", "node y = 2 ^ x[1]\n"}) {
    Script script = parseOrFail(text);
    const Expr &value = nodeValue(script);
    const Expr *index = &value;
    if (auto *power = std::get_if<PowerExpr>(&value.kind))
      index = power->exponents[0].operand.get();
    EXPECT_TRUE(std::holds_alternative<IndexExpr>(index->kind)) << text;
  }
}

TEST(Parser, KeywordArgumentFollowsPositionalOnes) {
  Script script = parseOrFail("node y = softmax(z, axis=-1)\n");
  const auto &call = std::get<CallExpr>(nodeValue(script).kind);
  EXPECT_EQ(call.callee, "softmax");
  ASSERT_EQ(call.args.size(), 1u);
  ASSERT_TRUE(call.axis);
  EXPECT_EQ(call.axis->value, -1);
  expectLoc(call.axis->loc, 1, 21);
  expectLoc(call.axis->valueLoc, 1, 26);
  EXPECT_FALSE(std::get<CallExpr>(nodeValue(parseOrFail("node y = where(c, a, b)\n")).kind).axis);
  EXPECT_THAT(syntaxErrors("node y = sum(axis=0, x)\n"),
              HasSubstr("1:22: error: positional argument after the keyword argument 'axis'"));
  EXPECT_THAT(syntaxErrors("node y = sum(x, axis=0, axis=1)\n"), HasSubstr("1:25: error: 'axis' is given twice"));
  EXPECT_THAT(syntaxErrors("node y = sum(x, axis=k)\n"), HasSubstr("1:22: error: axis must be an integer literal"));
}

TEST(Parser, LiteralsAreCheckedAgainstTheShape) {
  EXPECT_THAT(syntaxErrors("param w[2,2] = [[1, 2], [3]]\n"),
              HasSubstr("1:27: error: expected 2 elements along dimension 1 of shape [2,2], found 1"));
  EXPECT_THAT(syntaxErrors("param w[2] = [1, 2, 3]\n"),
              HasSubstr("1:21: error: expected 2 elements along dimension 0 of shape [2], found 3"));
  EXPECT_THAT(syntaxErrors("param w[2,1] = [[1], 2]\n"),
              HasSubstr("1:22: error: expected a list of 1 element for dimension 1 of shape [2,1], found a number"));
  EXPECT_THAT(syntaxErrors("param w[1] = [[1]]\n"), HasSubstr("1:15: error: expected a number, found a list"));
  EXPECT_THAT(syntaxErrors("param w[99999,99999] = 0\n"), HasSubstr("1:15: error: a tensor may have at most"));
}

TEST(Parser, NewlinesInsideBracketsDoNotEndStatements) {
  Script script = parseOrFail("node y = f(a,\n  b)[0,\n\n  # a comment\n  1] + (c\n  - d)\noutput y\n");
  ASSERT_EQ(script.statements.size(), 2u);
  const auto &sum = std::get<ChainExpr>(std::get<NodeDecl>(script.statements[0].kind).value->kind);
  expectLoc(sum.rest[0].opLoc, 5, 6);
  EXPECT_TRUE(std::holds_alternative<OutputDecl>(script.statements[1].kind));
}

TEST(Parser, AnUnclosedBracketStopsAtTheNextKeywordLine) {
  std::string errors = syntaxErrors("param w[2] = [1,\n  2\nnode y = w +\noutput y\n");
  EXPECT_THAT(errors, HasSubstr("test.bp:1:14: error: '[' is never closed"));
  EXPECT_THAT(errors, HasSubstr("test.bp:3:13: error: expected an expression, found end of line"));
}

