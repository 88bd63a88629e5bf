//===- ParseModeTest.cpp - The fast statement reader matches ANTLR's ------===//
//
// parseScript reads common statements without ANTLR's parser. Every script of the test suite and the examples,
// and statements written to sit on the edge of what the fast reader takes, must give the same tree (every
// field and location) and the same diagnostics either way.
//
//===----------------------------------------------------------------------===//
#include "../common/ParseDump.h"
#include "TestHelpers.h"

#include "bp/Parser.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <random>
#include <sstream>

using namespace bp;

namespace {

void expectSameParse(const std::string &name, const std::string &text) {
  auto file = makeSourceFile(name, text);
  if (!file) {
    llvm::consumeError(file.takeError()); // not UTF-8, or too large: never parsed
    return;
  }
  EXPECT_EQ(bp::test::dumpParse(*file, ParseMode::Default), bp::test::dumpParse(*file, ParseMode::AntlrOnly)) << name;
}

TEST(ParseModeTest, EdgeStatementsParseAlikeBothWays) {
  const char *statements[] = {
      "input x", "input x = 2", "input x = -2.5e3", "input x = + 7", "input x = - 1", "input x = 1e999",
      "input x = 1e-999", "param p = 0.1", "param p", "param p = -0", "param p = x", "input input = 1",
      "param grad = 1", "input x[2] = 1", "node y = x", "node y = -3", "node y = - - 3", "node y = ---3 ^ 2",
      "node y = -3 ^ 2", "node y = 2 ^ -x ^ - - 3", "node y = -(3)", "node y = (-3)", "node y = a + b * c - d / e @ f",
      "node y = a * b + c * d * e - f", "node y = a < b", "node y = a + 1 <= b * 2", "node y = a < b < c",
      "node y = a == b != c", "node y = a >= -b", "node y = f(x)", "node y = f()", "node y = max(a, b, c)",
      "node y = sum(x, axis=0)", "node y = sum(x, axis = -1)", "node y = where(x = 1, a, b)", "node y = f(x,)",
      "node y = x[0]", "node y = x[1:2, :]", "node y = (a", "node y = a)", "node y = a b", "node y = a +",
      "node y = 1e999", "node y = -1e999", "node y = x ** 2", "node y = x // 2", "node y := x", "node y = x = 1",
      "node y = ((((a))))", "node y = f(g(h(x)), (y))", "node input = 1", "node y", "node = 1", "node y = ",
      "output y", "output y, z", "output y,", "output input", "output y z", "output", "def f(a) = a",
      "def f(a, b) = a * b grad b, a", "def f() = 1", "x = 1", "node y = 1; node z = 2", "node y = 2.",
      "node y = .5", "node y = 1e", "node y = tanh(x) * (1 - tanh(x) ^ 2)", "node y = @", "node y = a @ b",
      "node y = 3 ^ x[0]", "node y = f(x)[0]", "node y = -f(x)", "node y = a - - b", "node y = a ^ b ^ c",
      "node y = (a < b) * (b < c)", "input x # a comment", "node y = x\r", "node y = x\t* 2",
  };
  std::string all = "input a = 1\ninput b = 2\n";
  for (const char *statement : statements) {
    expectSameParse(statement, std::string(statement) + "\n");
    all += std::string(statement) + "\n";
  }
  expectSameParse("all", all);
  expectSameParse("multi-line", "node y = f(a,\n  b) + (c\n * d)\noutput y\n");
  expectSameParse("unclosed", "node y = f(a,\nnode z = 1\noutput z\n");
}

TEST(ParseModeTest, RandomTextLexesAlikeBothWays) {
  // Pieces that meet at token boundaries: numbers and their malformed exponents, keywords inside names, two-
  // character operators, every kind of line end and blank, comments, and characters of 1 to 4 UTF-8 bytes.
  const char *pieces[] = {"node", "input", "param", "output", "def", "grad", "nodes", "x", "_a1", "1", "2.", ".5",
                          "1e", "1e5", "1E+", "2.5e-3", "e", "E", ".", "+", "-", "*", "/", "^", "@", "<", "<=",
                          ">", ">=", "=", "==", "!", "!=", "(", ")", "[", "]", ",", ":", ";", " ", "\t", "\f",
                          "\v", "\n", "\r", "\r\n", "# note", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9d\x91\xa5",
                          "$", "\x01", "\x7f", "node y = ", "tanh(", "sum(x, axis=1)"};
  std::mt19937 random(7);
  std::uniform_int_distribution<size_t> pick(0, std::size(pieces) - 1), length(1, 30);
  for (int script = 0; script < 400; ++script) {
    std::string text;
    for (size_t n = length(random); n > 0; --n)
      text += pieces[pick(random)];
    expectSameParse("random " + std::to_string(script), text);
  }
}

TEST(ParseModeTest, TestScriptsParseAlikeBothWays) {
  size_t files = 0;
  for (const char *root : {BP_TESTS_DIR, BP_EXAMPLES_DIR}) {
    std::error_code ec;
    for (llvm::sys::fs::recursive_directory_iterator it(root, ec), end; it != end && !ec; it.increment(ec)) {
      llvm::StringRef path = it->path();
      if (it->type() == llvm::sys::fs::file_type::directory_file || path.contains("/fuzz/corpus") ||
          (!path.ends_with(".bp") && !path.contains("/fuzz/regressions/")))
        continue;
      auto buffer = llvm::MemoryBuffer::getFile(path);
      if (!buffer || (*buffer)->getBufferSize() > (1 << 20))
        continue;
      expectSameParse(path.str(), (*buffer)->getBuffer().str());
      ++files;
    }
  }
  EXPECT_GT(files, 100u);
}

} // namespace
