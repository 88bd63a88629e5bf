//===- OutputFile.h - Files written whole or not at all ---------*- C++ -*-===//
//
// bpc never leaves a truncated, half-written or mismatched file behind. An output is written under a temporary
// name in its destination's folder and renamed into place by PendingFile::commitAll, which checks every output
// of a command before it puts any in place and holds a lock on the folders while it renames them, so that two
// bpc processes writing the same pair of files leave one process's pair. A symbolic link is followed: the file
// it points to is replaced and the link kept. An existing character device or FIFO (/dev/null, a pipe) is
// written through; any other destination that is not a regular file is refused.
//
//===----------------------------------------------------------------------===//
#ifndef BPC_OUTPUTFILE_H
#define BPC_OUTPUTFILE_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bpc {

/// One output of a command, written to stream() and put in place by commitAll().
class PendingFile {
public:
  /// Prepares to write `path`; fails if it cannot be written (a folder, a missing folder, a block device).
  static llvm::Expected<PendingFile> create(const std::string &path);

  llvm::raw_pwrite_stream &stream() {
    if (fileStream)
      return *fileStream;
    return *bufferStream;
  }

  /// Puts every file in place. If one cannot be written, none is, as far as a check before the first rename
  /// can tell (a write to a device can still fail; devices are written before any file is renamed).
  static llvm::Error commitAll(llvm::ArrayRef<PendingFile *> files);

  ~PendingFile();
  PendingFile(PendingFile &&) = default;

private:
  PendingFile(std::string path, std::string destination) : path(std::move(path)), destination(std::move(destination)) {}

  llvm::Error error(const llvm::Twine &reason) const;
  llvm::Error flush();
  llvm::Error writeThrough();
  llvm::Error rename();

  std::string path;        // as the user gave it, for messages
  std::string destination; // the file written: symbolic links followed
  // When the destination is replaced by a rename:
  std::optional<llvm::sys::fs::TempFile> temp;
  std::unique_ptr<llvm::raw_fd_ostream> fileStream;
  // When a device or FIFO is written through:
  std::unique_ptr<llvm::SmallVector<char, 0>> buffer;
  std::unique_ptr<llvm::raw_svector_ostream> bufferStream;
};

/// True if `a` and `b` name one regular file: the same file when both exist (hard and symbolic links
/// included), else the same absolute path once symbolic links, "." and ".." are resolved.
bool sameFile(const std::string &a, const std::string &b);

/// The signals this process was started with set to be ignored (nohup, `trap '' INT`), blocked until
/// installCleanupHandlers ignores them again. Call before llvm::InitLLVM, which installs LLVM's handlers for
/// them: one of them arriving before installCleanupHandlers would run LLVM's handler, which unregisters all of
/// LLVM's handlers, and the next temporary file would register them again for good, so that a later signal
/// removed that file from a process that goes on running.
std::vector<int> ignoredSignals();

/// Makes failures inside LLVM end bpc cleanly: a fatal error (a backend that cannot lower an operation) or an
/// allocation failure prints `bpc: error: ...`, removes bpc's temporary files and exits with status 1. Signals
/// in `ignored` stay ignored, so that LLVM's handler cannot remove the temporary files of a process that goes
/// on running, and are unblocked (one that arrived meanwhile is discarded). Call once, after llvm::InitLLVM.
void installCleanupHandlers(llvm::ArrayRef<int> ignored);

} // namespace bpc

#endif // BPC_OUTPUTFILE_H
