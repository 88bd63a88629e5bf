//===- Parser.h - From script text to the syntax tree -----------*- C++ -*-===//
#ifndef BP_PARSER_H
#define BP_PARSER_H

#include "bp/AST.h"
#include "bp/Diagnostics.h"

#include <cstdint>

namespace bp {

/// How deeply parentheses and calls may nest. The parser, the parse-tree converter and the graph builder
/// recurse once per level, so this bounds their stack: 100,000 levels take well under the LargeStackBytes
/// (1 GiB) stack the front end runs on, even in a sanitizer build, whose frames are several times larger.
constexpr unsigned MaxNestingDepth = 100000;

/// The nesting limit on the stack the calling front-end work runs on: MaxNestingDepth with the full
/// LargeStackBytes, and in proportion to its size where the system allowed only a smaller stack.
unsigned nestingLimit();

/// The most tokens one statement may have (a sum of about 500,000 terms). The parser holds one statement's
/// tokens and parse tree at a time, about 400 bytes per token: this bounds that memory to about 400 MB.
constexpr size_t MaxStatementTokens = 1'000'000;

/// The most tokens a script may have. Its syntax tree, kept whole for the graph builder, takes up to about 60
/// bytes per token; the limit leaves room for scripts that reach MaxGraphNodes without defs.
constexpr size_t MaxScriptTokens = 10'000'000;

/// The most dimensions a tensor may have.
constexpr size_t MaxTensorRank = 4;

/// The most elements a declared tensor may have.
constexpr int64_t MaxTensorElements = INT32_MAX;

/// How parseScript reads a statement. The common ones (scalar declarations, nodes and outputs over calls and
/// operators) are read straight from their tokens, every other one and every one with an error by ANTLR's
/// parser; the two give the same tree and the same diagnostics. AntlrOnly reads every statement with ANTLR,
/// for tests that check that they do.
enum class ParseMode { Default, AntlrOnly };

/// Parses a whole script. Syntax errors in one statement do not stop the others from being parsed: every
/// error is reported in `diags`, and the statements that parsed cleanly are returned.
Script parseScript(const SourceFileRef &file, DiagnosticEngine &diags, ParseMode mode = ParseMode::Default);

} // namespace bp

#endif // BP_PARSER_H
