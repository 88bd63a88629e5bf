//===- Diagnostics.cpp - Rendering diagnostics in clang's form ------------===//
#include "bp/Diagnostics.h"

#include <algorithm>
#include <vector>

using namespace bp;

char DiagnosticError::ID = 0;

bool DiagnosticEngine::hasErrors() const {
  for (const Diagnostic &d : diagnostics)
    if (d.severity == Severity::Error)
      return true;
  return false;
}

llvm::Error DiagnosticEngine::takeError() {
  if (!hasErrors())
    return llvm::Error::success();
  // Report in source order (syntax and semantic errors interleaved by line), each error with its notes.
  std::vector<std::vector<Diagnostic>> groups;
  for (Diagnostic &d : diagnostics) {
    if (d.severity != Severity::Note || groups.empty())
      groups.emplace_back();
    groups.back().push_back(std::move(d));
  }
  std::stable_sort(groups.begin(), groups.end(), [](const auto &a, const auto &b) {
    return a.front().loc.isValid() && b.front().loc.isValid() && a.front().loc < b.front().loc;
  });
  std::vector<Diagnostic> ordered;
  for (auto &group : groups)
    for (Diagnostic &d : group)
      ordered.push_back(std::move(d));
  diagnostics.clear();
  return llvm::make_error<DiagnosticError>(file, std::move(ordered));
}

llvm::Error bp::makeDiagnosticError(SourceFileRef file, SourceLoc loc, std::string message) {
  return llvm::make_error<DiagnosticError>(
      std::move(file), std::vector<Diagnostic>{{Severity::Error, loc, std::move(message)}});
}

llvm::Error bp::makeFileError(const std::string &fileName, std::string message) {
  // A file that could not be read has no text: carry its name in an empty SourceFile.
  auto file = std::make_shared<const SourceFile>(fileName, "");
  return makeDiagnosticError(std::move(file), SourceLoc{}, std::move(message));
}

static const char *severityName(Severity severity) {
  switch (severity) {
  case Severity::Error:
    return "error";
  case Severity::Warning:
    return "warning";
  case Severity::Note:
    return "note";
  }
  return "error";
}

/// The caret line: the line's own tabs are kept so the caret lines up under any tab stops.
static std::string caretLine(std::string_view line, uint32_t column) {
  std::string caret;
  uint32_t codePoint = 1;
  for (size_t i = 0; i < line.size() && codePoint < column; ++i) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if ((c & 0xC0) == 0x80)
      continue; // continuation byte: part of the previous code point
    caret += c == '\t' ? '\t' : ' ';
    ++codePoint;
  }
  for (; codePoint < column; ++codePoint)
    caret += ' ';
  return caret + '^';
}

void bp::printDiagnostic(llvm::raw_ostream &os, const SourceFile *file, const std::string &fileName,
                         const Diagnostic &diagnostic) {
  os << fileName;
  if (diagnostic.loc.isValid())
    os << ':' << diagnostic.loc.line << ':' << diagnostic.loc.column;
  os << ": " << severityName(diagnostic.severity) << ": " << diagnostic.message << '\n';
  if (!file || !diagnostic.loc.isValid() || diagnostic.loc.line > file->lineCount())
    return;
  std::string_view line = file->lineText(diagnostic.loc.line);
  uint32_t column = diagnostic.loc.column;
  // A very long line (a generated script) is shown as a window around the column, marked with "...".
  constexpr uint32_t Window = 80;
  std::vector<size_t> starts; // byte offset of each code point
  for (size_t i = 0; i < line.size(); ++i)
    if ((static_cast<unsigned char>(line[i]) & 0xC0) != 0x80)
      starts.push_back(i);
  if (starts.size() <= 2 * Window) {
    os << line << '\n' << caretLine(line, column) << '\n';
    return;
  }
  size_t first = column > Window ? column - Window : 0;
  size_t last = std::min(starts.size(), first + 2 * Window);
  std::string_view shown = line.substr(starts[first], (last < starts.size() ? starts[last] : line.size()) - starts[first]);
  std::string prefix = first > 0 ? "..." : "";
  os << prefix << shown << (last < starts.size() ? "..." : "") << '\n'
     << std::string(prefix.size(), ' ') << caretLine(shown, static_cast<uint32_t>(column - first)) << '\n';
}

void DiagnosticError::log(llvm::raw_ostream &os) const {
  std::string name = file ? file->name() : std::string("bpc");
  for (const Diagnostic &d : diagnostics)
    printDiagnostic(os, file.get(), name, d);
}
