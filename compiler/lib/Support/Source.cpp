//===- Source.cpp - Loading scripts and mapping offsets to lines ---------===//
//
// Owns the checks every script passes before the lexer sees it: the file exists, is not a directory, is not
// empty and not too large, holds no NUL byte, and is valid UTF-8.
//
//===----------------------------------------------------------------------===//
#include "bp/Source.h"
#include "bp/Diagnostics.h"
#include "bp/PhaseTimes.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/ErrorHandling.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>

using namespace bp;

SourceFile::SourceFile(std::string name, std::string text)
    : fileName(std::move(name)), contents(std::move(text)) {
  if (std::string_view(contents).substr(0, ByteOrderMark.size()) == ByteOrderMark) {
    contents.erase(0, ByteOrderMark.size());
    byteOrderMark = true;
  }
  lineStarts.push_back(0);
  for (size_t i = 0; i < contents.size(); ++i) {
    char c = contents[i];
    // "\r\n" is one terminator; a lone "\r" is one too, as the lexer treats it.
    if (c == '\n' || (c == '\r' && (i + 1 == contents.size() || contents[i + 1] != '\n')))
      lineStarts.push_back(i + 1);
  }
}

std::string_view SourceFile::lineText(uint32_t line) const {
  if (line == 0 || line > lineStarts.size())
    return {};
  size_t begin = lineStarts[line - 1];
  size_t end = begin;
  while (end < contents.size() && contents[end] != '\n' && contents[end] != '\r')
    ++end;
  return std::string_view(contents).substr(begin, end - begin);
}

/// Length of the UTF-8 sequence starting at `text[i]`, or 0 when it is not a valid sequence.
static size_t utf8SequenceLength(const std::string &text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char lead = byte(i);
  if (lead < 0x80)
    return 1;
  size_t length;
  uint32_t codePoint;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    codePoint = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    codePoint = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    codePoint = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size())
    return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80)
      return 0;
    codePoint = (codePoint << 6) | (byte(i + k) & 0x3F);
  }
  static const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (codePoint < smallest[length] || codePoint > 0x10FFFF || (codePoint >= 0xD800 && codePoint <= 0xDFFF))
    return 0; // overlong form, beyond Unicode, or a surrogate
  return length;
}

/// The plural noun for files of `kind`, as diagnostics name them.
static const char *describe(FileKind kind) {
  switch (kind) {
  case FileKind::Script:
    return "scripts";
  case FileKind::CSV:
    return "CSV files";
  }
  llvm_unreachable("unknown file kind");
}

/// Reports the first NUL byte or invalid UTF-8 sequence, with its line and column.
static llvm::Error checkEncoding(const SourceFileRef &file, FileKind kind) {
  const std::string &text = file->text();
  SourceLoc loc{1, 1};
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    if (c == '\0')
      return makeDiagnosticError(file, loc, "file contains a NUL byte");
    size_t length = utf8SequenceLength(text, i);
    if (length == 0) {
      char hex[8];
      snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(c));
      return makeDiagnosticError(file, loc, std::string("invalid UTF-8 byte ") + hex +
                                                "; " + describe(kind) + " must be UTF-8 text");
    }
    bool newline = c == '\n' || (c == '\r' && (i + 1 == text.size() || text[i + 1] != '\n'));
    if (newline) {
      ++loc.line;
      loc.column = 1;
    } else if (c != '\r') {
      ++loc.column;
    }
    i += length;
  }
  return llvm::Error::success();
}

llvm::Expected<SourceFileRef> bp::makeSourceFile(std::string name, std::string text, FileKind kind) {
  auto file = std::make_shared<const SourceFile>(name, std::move(text));
  if (file->text().empty())
    return makeFileError(name, "file is empty");
  if (llvm::Error err = checkEncoding(file, kind))
    return err;
  return file;
}

static std::string describe(std::error_code ec) {
  std::string message = ec.message();
  if (!message.empty())
    message[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(message[0])));
  return message;
}

static llvm::Error tooLarge(const std::string &path, FileKind kind, std::string size) {
  return makeFileError(path, "file is too large (" + size + " MiB); bp reads " + describe(kind) + " of up to " +
                                 std::to_string(MaxSourceBytes >> 20) + " MiB");
}

/// Whether `bytes` start as a gzip stream does.
static bool isGzip(std::string_view bytes) { return bytes.size() >= 2 && bytes[0] == '\x1f' && bytes[1] == '\x8b'; }

/// The bytes a gzip stream (or several, concatenated, as `cat a.gz b.gz` makes) inflate to, at most one past
/// MaxSourceBytes.
static llvm::Expected<std::string> gunzip(const std::string &path, FileKind kind, const std::string &compressed) {
  z_stream stream{};
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) // 16: expect a gzip header
    return makeFileError(path, "cannot read file: zlib could not start");
  stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string text;
  int status = Z_OK;
  while (text.size() <= MaxSourceBytes) {
    size_t offset = text.size();
    text.resize(offset + std::min<size_t>(1 << 20, MaxSourceBytes + 1 - offset));
    stream.next_out = reinterpret_cast<Bytef *>(text.data() + offset);
    stream.avail_out = static_cast<uInt>(text.size() - offset);
    status = inflate(&stream, Z_NO_FLUSH);
    text.resize(text.size() - stream.avail_out);
    if (status == Z_STREAM_END && stream.avail_in > 0 && isGzip({reinterpret_cast<char *>(stream.next_in), 2})) {
      status = inflateReset(&stream); // the next member of a multi-member file
      continue;
    }
    if (status != Z_OK)
      break;
  }
  inflateEnd(&stream);
  if (text.size() > MaxSourceBytes)
    return makeFileError(path, "file is too large (more than " + std::to_string(MaxSourceBytes >> 20) +
                                   " MiB when uncompressed); bp reads " + describe(kind) + " of up to " +
                                   std::to_string(MaxSourceBytes >> 20) + " MiB");
  if (status != Z_STREAM_END)
    return makeFileError(path, std::string("cannot read file: ") +
                                   (status == Z_BUF_ERROR ? "the gzip data is truncated" : "the gzip data is corrupt") +
                                   (stream.msg ? std::string(" (") + stream.msg + ")" : std::string()));
  return text;
}

llvm::Expected<SourceFileRef> bp::loadSourceFile(const std::string &path, FileKind kind) {
  PhaseTimer timer("read");
  llvm::sys::fs::file_status status;
  if (std::error_code ec = llvm::sys::fs::status(path, status))
    return makeFileError(path, "cannot read file: " + describe(ec));
  if (llvm::sys::fs::is_directory(status))
    return makeFileError(path, "cannot read file: it is a directory");
  // A regular file's size is known: refuse it before reading (a sparse file may be huge and cost nothing).
  if (status.getSize() > MaxSourceBytes)
    return tooLarge(path, kind, std::to_string(status.getSize() >> 20));
  llvm::Expected<llvm::sys::fs::file_t> fd = llvm::sys::fs::openNativeFileForRead(path);
  if (!fd)
    return makeFileError(path, "cannot read file: " + describe(llvm::errorToErrorCode(fd.takeError())));
  // Devices and pipes report no size: read at most one byte past the limit, in chunks. A regular file is read
  // in a chunk of its size and one byte more, then, once a read comes back short, a small one that sees the
  // end: a small script does not clear and fault in a whole chunk's pages.
  std::string text;
  constexpr size_t ChunkBytes = 1 << 20, ProbeBytes = 4096;
  size_t chunk = status.getSize() > 0 ? static_cast<size_t>(status.getSize()) + 1 : ChunkBytes;
  text.reserve(chunk + ProbeBytes); // the probe then reads into the same buffer
  while (text.size() <= MaxSourceBytes) {
    size_t offset = text.size();
    text.resize(offset + std::min<size_t>(chunk, MaxSourceBytes + 1 - offset));
    llvm::Expected<size_t> read =
        llvm::sys::fs::readNativeFile(*fd, llvm::MutableArrayRef<char>(text.data() + offset, text.size() - offset));
    if (!read) {
      llvm::sys::fs::closeFile(*fd);
      return makeFileError(path, "cannot read file: " + describe(llvm::errorToErrorCode(read.takeError())));
    }
    chunk = *read < text.size() - offset ? ProbeBytes : ChunkBytes;
    text.resize(offset + *read);
    if (*read == 0)
      break;
  }
  llvm::sys::fs::closeFile(*fd);
  if (text.size() > MaxSourceBytes)
    return tooLarge(path, kind, "more than " + std::to_string(MaxSourceBytes >> 20));
  // A CSV file may be gzip-compressed (FILE.csv.gz): it is read as the text it inflates to.
  if (kind == FileKind::CSV && isGzip(text)) {
    llvm::Expected<std::string> inflated = gunzip(path, kind, text);
    if (!inflated)
      return inflated.takeError();
    text = std::move(*inflated);
  }
  return makeSourceFile(path, std::move(text), kind);
}
