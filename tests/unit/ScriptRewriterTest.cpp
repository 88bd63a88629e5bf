//===- ScriptRewriterTest.cpp - New values written back into scripts -----===//
#include "bp/ScriptRewriter.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

using namespace bp;
using ::testing::HasSubstr;

namespace {

/// The script `text` rewritten with `values`; fails the test if the rewrite fails.
std::string rewrite(const std::string &text, const std::map<std::string, double> &values) {
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
                    {{"w", 0.25}, {"b", -2}}),
            "# weights\nparam  w =   0.25   # first\n\nparam b = -2; node f = w * b\noutput f\n");
}

TEST(ScriptRewriter, ReplacesASignSeparatedFromItsNumber) {
  EXPECT_EQ(rewrite("param a = - 5\noutput a\n", {{"a", 3}}), "param a = 3\noutput a\n");
}

TEST(ScriptRewriter, GivesAnInputWithoutDefaultOne) {
  EXPECT_EQ(rewrite("input x   # no default\ninput y = 2\nnode f = x * y\noutput f\n", {{"x", 1.5}, {"y", 0.1}}),
            "input x = 1.5   # no default\ninput y = 0.1\nnode f = x * y\noutput f\n");
}

TEST(ScriptRewriter, LeavesNamesItIsNotGivenAlone) {
  std::string script = "param a = 1\nparam b = 2\nnode f = a + b\noutput f\n";
  EXPECT_EQ(rewrite(script, {{"b", 7}}), "param a = 1\nparam b = 7\nnode f = a + b\noutput f\n");
  EXPECT_EQ(rewrite(script, {}), script);
}

TEST(ScriptRewriter, KeepsCrlfLineEndings) {
  EXPECT_EQ(rewrite("param a = 5\r\ninput x\r\nnode f = a * x\r\noutput f\r\n", {{"a", 4.9}, {"x", 0.5}}),
            "param a = 4.9\r\ninput x = 0.5\r\nnode f = a * x\r\noutput f\r\n");
}

TEST(ScriptRewriter, KeepsAByteOrderMarkAndPutsValuesAfterIt) {
  EXPECT_EQ(rewrite("\xEF\xBB\xBFparam a = 5 # \xC3\xA9t\xC3\xA9\nparam b = 6\nnode f = a * b\noutput f\n",
                    {{"a", 5.07}, {"b", -5.93}}),
            "\xEF\xBB\xBFparam a = 5.07 # \xC3\xA9t\xC3\xA9\nparam b = -5.93\nnode f = a * b\noutput f\n");
}

TEST(ScriptRewriter, RewritesScriptsNestedDeeperThanTheCallersStack) {
  // The script is parsed on the large stack and its syntax tree, 300,000 levels deep, freed on this thread's.
  std::string nested;
  for (int i = 0; i < 100000; ++i)
    nested += "sin(1 + 2 * ";
  nested += "a" + std::string(100000, ')');
  std::string result = rewrite("param a = 1\nnode f = " + nested + "\noutput f\n", {{"a", 2}});
  EXPECT_EQ(result.substr(0, 12), "param a = 2\n");
}

TEST(ScriptRewriter, FailsForUnknownNamesAndBadScripts) {
  auto file = makeSourceFile("test.bp", "param a = 1\nnode f = a\noutput f\n");
  ASSERT_TRUE(static_cast<bool>(file));
  auto unknown = rewriteValues(*file, {{"zz", 1}});
  ASSERT_FALSE(static_cast<bool>(unknown));
  EXPECT_EQ(llvm::toString(unknown.takeError()), "the script declares no input or param named 'zz'");
  auto node = rewriteValues(*file, {{"f", 1}});
  ASSERT_FALSE(static_cast<bool>(node));
  EXPECT_THAT(llvm::toString(node.takeError()), HasSubstr("named 'f'"));

  auto bad = makeSourceFile("bad.bp", "param a = \noutput a\n");
  ASSERT_TRUE(static_cast<bool>(bad));
  auto failed = rewriteValues(*bad, {{"a", 1}});
  ASSERT_FALSE(static_cast<bool>(failed));
  EXPECT_THAT(llvm::toString(failed.takeError()), HasSubstr("bad.bp:1:11: error: expected a number"));
}
