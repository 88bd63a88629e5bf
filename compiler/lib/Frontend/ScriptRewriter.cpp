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

#include <algorithm>

using namespace bp;

llvm::Expected<std::string> bp::rewriteValues(const SourceFileRef &file, const std::map<std::string, double> &values) {
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

  std::map<std::string, double> pending = values;
  for (const Statement &statement : script.statements) {
    const Name *name = nullptr;
    ValueSpan span;
    bool hasValue = true;
    bool tensor = false;
    if (auto *input = std::get_if<InputDecl>(&statement.kind)) {
      name = &input->name;
      span = input->valueSpan;
      hasValue = input->defaultValue.has_value();
      tensor = input->tensor.has_value();
    } else if (auto *param = std::get_if<ParamDecl>(&statement.kind)) {
      name = &param->name;
      span = param->valueSpan;
      tensor = param->tensor.has_value();
    }
    if (!name || !pending.count(name->text))
      continue;
    if (tensor)
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "'" + name->text + "' is a tensor; writing tensor values back is not supported yet");
    size_t offset = lineOffsets[span.loc.line - 1] + span.loc.column - 1;
    std::string number = formatNumber(pending[name->text]);
    edits.push_back({offset, span.length, hasValue ? number : " = " + number});
    pending.erase(name->text);
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
