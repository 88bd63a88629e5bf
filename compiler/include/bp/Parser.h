//===- Parser.h - From script text to the syntax tree -----------*- C++ -*-===//
#ifndef BP_PARSER_H
#define BP_PARSER_H

#include "bp/AST.h"
#include "bp/Diagnostics.h"

namespace bp {

/// How deeply parentheses and calls may nest. The parser recurses once per level, so this bounds its stack.
constexpr unsigned MaxNestingDepth = 100000;

/// Parses a whole script. Syntax errors in one statement do not stop the others from being parsed: every
/// error is reported in `diags`, and the statements that parsed cleanly are returned.
Script parseScript(const SourceFileRef &file, DiagnosticEngine &diags);

} // namespace bp

#endif // BP_PARSER_H
