//===- ScriptRewriter.cpp - Writing new values back into a script ---------===//
//
// Edits are made on the original text at the spans the parser recorded, so a trained script keeps its
// comments, spacing, line endings, byte order mark and statement order. Columns count code points and start
// after a byte order mark; everything on a line before a value is ASCII (only comments may hold other
// characters, and they run to the end of the line), so a column is also a byte offset within its line.
//
//===----------------------------------------------------------------------===//
#include "bp/ScriptRewriter.h"
#include "bp/Diagnostics.h"
#include "bp/NumberFormat.h"
#include "bp/Parser.h"
#include "bp/Shape.h"

#include <algorithm>

using namespace bp;

/// A tensor of `shape` as a nested literal: a vector on one line, and for higher ranks each row on a line of its
/// own, its brackets under the ones above (`indent` is the text before the outermost '[' with every character
/// but a tab made a space), as one writes a matrix by hand.
static void appendLiteral(std::string &out, llvm::ArrayRef<double> values, llvm::ArrayRef<int64_t> shape,
                          const std::string &indent, llvm::StringRef lineBreak, size_t depth = 0) {
  out += '[';
  if (shape.size() == 1) {
    for (size_t i = 0; i < values.size(); ++i)
      out += (i ? ", " : "") + formatNumber(values[i]);
  } else {
    size_t rowSize = values.size() / shape[0];
    for (int64_t i = 0; i < shape[0]; ++i) {
      if (i)
        out += ("," + lineBreak + indent + std::string(depth + 1, ' ')).str();
      appendLiteral(out, values.slice(i * rowSize, rowSize), shape.drop_front(), indent, lineBreak, depth + 1);
    }
  }
  out += ']';
}

llvm::Expected<std::string> bp::rewriteValues(const SourceFileRef &file,
                                              const std::map<std::string, std::vector<double>> &values) {
  DiagnosticEngine diags(file);
  Script script = parseScript(file, diags);
  if (llvm::Error err = diags.takeError())
    return err;

  struct Edit {
    size_t offset, length;
    std::string text;
  };
  std::vector<Edit> edits;
  std::vector<size_t> lineOffsets{0};
  const std::string &text = file->text();
  for (uint32_t line = 2; line <= file->lineCount(); ++line)
    lineOffsets.push_back(file->lineText(line).data() - text.data());
  auto offsetOf = [&](SourceLoc loc) { return lineOffsets[loc.line - 1] + loc.column - 1; };

  std::map<std::string, std::vector<double>> pending = values;
  for (const Statement &statement : script.statements) {
    const Name *name = nullptr;
    ValueSpan span;
    bool hasValue = true;
    const std::optional<TensorDecl> *tensor = nullptr;
    if (auto *input = std::get_if<InputDecl>(&statement.kind)) {
      name = &input->name;
      span = input->valueSpan;
      hasValue = input->defaultValue.has_value() || (input->tensor && input->tensor->init);
      tensor = &input->tensor;
    } else if (auto *param = std::get_if<ParamDecl>(&statement.kind)) {
      name = &param->name;
      span = param->valueSpan;
      tensor = &param->tensor;
    }
    auto value = name ? pending.find(name->text) : pending.end();
    if (value == pending.end())
      continue;
    const std::vector<int64_t> *shape = *tensor ? &(*tensor)->shape.dims : nullptr;
    size_t expected = shape ? static_cast<size_t>(elementCount(*shape)) : 1;
    if (value->second.size() != expected)
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "'" + name->text + "' holds " + std::to_string(expected) + " numbers, not " +
                                         std::to_string(value->second.size()));
    std::string prefix = hasValue ? "" : " = ";
    if (!shape) {
      edits.push_back({offsetOf(span.loc), span.length, prefix + formatNumber(value->second[0])});
    } else {
      // A tensor's whole initializer is replaced, a literal, a fill or a random one alike (it may span lines).
      size_t begin = hasValue ? offsetOf((*tensor)->init->range.begin) : offsetOf(span.loc);
      size_t end = hasValue ? offsetOf((*tensor)->init->range.end) : begin;
      size_t lineStart = text.rfind('\n', begin == 0 ? 0 : begin - 1);
      lineStart = lineStart == std::string::npos || begin == 0 ? 0 : lineStart + 1;
      std::string indent = text.substr(lineStart, begin - lineStart) + prefix;
      for (char &c : indent)
        c = c == '\t' ? '\t' : ' ';
      size_t lineEnd = text.find('\n', begin);
      bool crlf = lineEnd != std::string::npos && lineEnd > 0 && text[lineEnd - 1] == '\r';
      std::string literal = prefix;
      appendLiteral(literal, value->second, *shape, indent, crlf ? "\r\n" : "\n");
      edits.push_back({begin, end - begin, std::move(literal)});
    }
    pending.erase(value);
  }
  if (!pending.empty())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the script declares no input or param named '" + pending.begin()->first + "'");

  std::sort(edits.begin(), edits.end(), [](const Edit &a, const Edit &b) { return a.offset > b.offset; });
  std::string result = text;
  for (const Edit &edit : edits)
    result.replace(edit.offset, edit.length, edit.text);
  if (file->hasByteOrderMark())
    result.insert(0, ByteOrderMark);
  return result;
}
