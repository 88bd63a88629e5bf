//===- ScriptRewriterTest.cpp - New values written back into scripts -----===//
#include "bp/ScriptRewriter.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

using namespace bp;
using ::testing::HasSubstr;

namespace {

/// The script `text` rewritten with `values`; fails the test if the rewrite fails.
std::string rewrite(const std::string &text, const std::map<std::string, std::vector<double>> &values) {
  auto file = makeSourceFile("test.bp", text);
  if (!file) {
    ADD_FAILURE() << llvm::toString(file.takeError());
    return "";
  }
  auto result = rewriteValues(*file, values);
  if (!result) {
    ADD_FAILURE() << llvm::toString(result.takeError());
    return "";
  }
  return *result;
}

} // namespace

TEST(ScriptRewriter, ReplacesValuesInPlaceKeepingCommentsAndLayout) {
  EXPECT_EQ(rewrite("# weights\nparam  w =   -0.5   # first\n\nparam b = 1e-3; node f = w * b\noutput f\n",
                    {{"w", {0.25}}, {"b", {-2}}}),
            "# weights\nparam  w =   0.25   # first\n\nparam b = -2; node f = w * b\noutput f\n");
}

TEST(ScriptRewriter, ReplacesASignSeparatedFromItsNumber) {
  EXPECT_EQ(rewrite("param a = - 5\noutput a\n", {{"a", {3}}}), "param a = 3\noutput a\n");
}

TEST(ScriptRewriter, GivesAnInputWithoutDefaultOne) {
  EXPECT_EQ(rewrite("input x   # no default\ninput y = 2\nnode f = x * y\noutput f\n", {{"x", {1.5}}, {"y", {0.1}}}),
            "input x = 1.5   # no default\ninput y = 0.1\nnode f = x * y\noutput f\n");
}

TEST(ScriptRewriter, LeavesNamesItIsNotGivenAlone) {
  std::string script = "param a = 1\nparam b = 2\nnode f = a + b\noutput f\n";
  EXPECT_EQ(rewrite(script, {{"b", {7}}}), "param a = 1\nparam b = 7\nnode f = a + b\noutput f\n");
  EXPECT_EQ(rewrite(script, {}), script);
}

TEST(ScriptRewriter, KeepsCrlfLineEndings) {
  EXPECT_EQ(rewrite("param a = 5\r\ninput x\r\nnode f = a * x\r\noutput f\r\n", {{"a", {4.9}}, {"x", {0.5}}}),
            "param a = 4.9\r\ninput x = 0.5\r\nnode f = a * x\r\noutput f\r\n");
}

TEST(ScriptRewriter, KeepsAByteOrderMarkAndPutsValuesAfterIt) {
  EXPECT_EQ(rewrite("\xEF\xBB\xBFparam a = 5 # \xC3\xA9t\xC3\xA9\nparam b = 6\nnode f = a * b\noutput f\n",
                    {{"a", {5.07}}, {"b", {-5.93}}}),
            "\xEF\xBB\xBFparam a = 5.07 # \xC3\xA9t\xC3\xA9\nparam b = -5.93\nnode f = a * b\noutput f\n");
}

TEST(ScriptRewriter, RewritesScriptsNestedDeeperThanTheCallersStack) {
  // The script is parsed on the large stack and its syntax tree, 300,000 levels deep, freed on this thread's.
  std::string nested;
  for (int i = 0; i < 100000; ++i)
    nested += "sin(1 + 2 * ";
  nested += "a" + std::string(100000, ')');
  std::string result = rewrite("param a = 1\nnode f = " + nested + "\noutput f\n", {{"a", {2}}});
  EXPECT_EQ(result.substr(0, 12), "param a = 2\n");
}

TEST(ScriptRewriter, WritesATensorAsANestedLiteralWithARowPerLine) {
  // The literal spanned three lines and is written back over all of them; a matrix's rows go under each other.
  EXPECT_EQ(rewrite("param W[3,2] = [[0.5, -0.3],\n                [0.1,  0.8],\n                [-0.6, 0.2]] # W\n"
                    "node f = sum(W)\noutput f\n",
                    {{"W", {1, 2, 3, 4, 5.5, -0.25}}}),
            "param W[3,2] = [[1, 2],\n                [3, 4],\n                [5.5, -0.25]] # W\n"
            "node f = sum(W)\noutput f\n");
  // A vector stays on one line; a fill and a random initializer are replaced the same way.
  EXPECT_EQ(rewrite("param b[3] = 0\nparam c[2] = normal(0, 1)\nnode f = sum(b) + sum(c)\noutput f\n",
                    {{"b", {0.1, 0.2, 0.3}}, {"c", {-1, 1e-05}}}),
            "param b[3] = [0.1, 0.2, 0.3]\nparam c[2] = [-1, 1e-05]\nnode f = sum(b) + sum(c)\noutput f\n");
}

TEST(ScriptRewriter, IndentsDeeperTensorsAndKeepsTabsAndCrlf) {
  EXPECT_EQ(rewrite("\tparam T[2,2,1] = uniform(-1, 1)\r\nnode f = sum(T)\r\noutput f\r\n",
                    {{"T", {1, 2, 3, 4}}}),
            "\tparam T[2,2,1] = [[[1],\r\n\t                   [2]],\r\n\t                  [[3],\r\n"
            "\t                   [4]]]\r\nnode f = sum(T)\r\noutput f\r\n");
}

TEST(ScriptRewriter, GivesATensorInputWithoutDefaultOne) {
  EXPECT_EQ(rewrite("input X[2,2]  # data\nnode f = sum(X)\noutput f\n", {{"X", {1, 2, 3, 4}}}),
            "input X[2,2] = [[1, 2],\n                [3, 4]]  # data\nnode f = sum(X)\noutput f\n");
}

TEST(ScriptRewriter, RefusesAValueOfTheWrongSize) {
  auto file = makeSourceFile("test.bp", "param w[2] = [1, 2]\nparam b = 0\n");
  ASSERT_TRUE(static_cast<bool>(file));
  auto tensor = rewriteValues(*file, {{"w", {3.0}}});
  ASSERT_FALSE(static_cast<bool>(tensor));
  EXPECT_EQ(llvm::toString(tensor.takeError()), "'w' holds 2 numbers, not 1");
  auto scalar = rewriteValues(*file, {{"b", {3.0, 4.0}}});
  ASSERT_FALSE(static_cast<bool>(scalar));
  EXPECT_EQ(llvm::toString(scalar.takeError()), "'b' holds 1 numbers, not 2");
}

TEST(ScriptRewriter, FailsForUnknownNamesAndBadScripts) {
  auto file = makeSourceFile("test.bp", "param a = 1\nnode f = a\noutput f\n");
  ASSERT_TRUE(static_cast<bool>(file));
  auto unknown = rewriteValues(*file, {{"zz", {1}}});
  ASSERT_FALSE(static_cast<bool>(unknown));
  EXPECT_EQ(llvm::toString(unknown.takeError()), "the script declares no input or param named 'zz'");
  auto node = rewriteValues(*file, {{"f", {1}}});
  ASSERT_FALSE(static_cast<bool>(node));
  EXPECT_THAT(llvm::toString(node.takeError()), HasSubstr("named 'f'"));

  auto bad = makeSourceFile("bad.bp", "param a = \noutput a\n");
  ASSERT_TRUE(static_cast<bool>(bad));
  auto failed = rewriteValues(*bad, {{"a", {1}}});
  ASSERT_FALSE(static_cast<bool>(failed));
  EXPECT_THAT(llvm::toString(failed.takeError()), HasSubstr("bad.bp:1:11: error: expected a number"));
}
