//===- Source.h - Script text and source locations --------------*- C++ -*-===//
//
// A SourceFile owns the text of one script and answers "which line is this"; a SourceLoc is a 1-based
// line and column (columns count Unicode code points, as the lexer does).
//
//===----------------------------------------------------------------------===//
#ifndef BP_SOURCE_H
#define BP_SOURCE_H

#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bp {

struct SourceLoc {
  uint32_t line = 0; // 0: no location
  uint32_t column = 0;

  bool isValid() const { return line != 0; }
  friend bool operator==(SourceLoc a, SourceLoc b) { return a.line == b.line && a.column == b.column; }
  friend bool operator<(SourceLoc a, SourceLoc b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  }
};

/// The bytes of a UTF-8 byte order mark, which some editors write at the start of a file.
constexpr std::string_view ByteOrderMark = "\xEF\xBB\xBF";

class SourceFile {
public:
  /// A leading byte order mark is set aside: text() and every column start after it.
  SourceFile(std::string name, std::string text);

  const std::string &name() const { return fileName; }
  const std::string &text() const { return contents; }
  /// Whether the file started with a byte order mark (which a rewritten file must start with too).
  bool hasByteOrderMark() const { return byteOrderMark; }
  /// The text of 1-based line `line`, without its line terminator.
  std::string_view lineText(uint32_t line) const;
  uint32_t lineCount() const { return static_cast<uint32_t>(lineStarts.size()); }

private:
  std::string fileName;
  std::string contents;
  bool byteOrderMark = false;
  std::vector<size_t> lineStarts;
};

using SourceFileRef = std::shared_ptr<const SourceFile>;

/// Larger files (scripts and CSV files) are refused: a script of 100,000 nodes is a few MiB, and the front end
/// needs several times a file's size in memory.
constexpr uint64_t MaxSourceBytes = 64ull << 20;

/// What a file holds, for the words of its diagnostics.
enum class FileKind { Script, CSV };

/// Reads a script (or CSV file) from disk. Fails with a diagnostic for a missing or unreadable file, a
/// directory, an empty file, a file over MaxSourceBytes, a NUL byte or bytes that are not UTF-8. Reads at most
/// MaxSourceBytes + 1 bytes, so that a device or pipe without end (/dev/zero) is refused too.
llvm::Expected<SourceFileRef> loadSourceFile(const std::string &path, FileKind kind = FileKind::Script);

/// Checks text already in memory the same way (no file-system errors). `name` is used in diagnostics.
llvm::Expected<SourceFileRef> makeSourceFile(std::string name, std::string text, FileKind kind = FileKind::Script);

} // namespace bp

#endif // BP_SOURCE_H
