//===- OutputFile.h - Files written whole or not at all ---------*- C++ -*-===//
//
// bpc never leaves a truncated or half-written file behind: outputs are written under a temporary name in the
// destination folder and renamed into place by commit(); a PendingFile that is never committed is deleted.
//
//===----------------------------------------------------------------------===//
#ifndef BPC_OUTPUTFILE_H
#define BPC_OUTPUTFILE_H

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <string>

namespace bpc {

/// A file written under a temporary name, renamed into place by commit().
class PendingFile {
public:
  static llvm::Expected<PendingFile> create(const std::string &path) {
    llvm::SmallString<256> model(path);
    model += "-%%%%%%.tmp";
    auto temp = llvm::sys::fs::TempFile::create(model);
    if (!temp)
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "cannot write '" + path + "': " + llvm::toString(temp.takeError()));
    return PendingFile(path, std::move(*temp));
  }

  llvm::raw_fd_ostream &stream() { return *os; }

  llvm::Error commit() {
    os->flush();
    if (os->has_error())
      return llvm::createStringError(os->error(), "cannot write '" + path + "': " + os->error().message());
    os.reset();
    if (llvm::Error err = temp.keep(path))
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "cannot write '" + path + "': " + llvm::toString(std::move(err)));
    return llvm::Error::success();
  }

  ~PendingFile() {
    os.reset();
    llvm::consumeError(temp.discard());
  }
  PendingFile(PendingFile &&) = default;

private:
  PendingFile(std::string path, llvm::sys::fs::TempFile temp)
      : path(std::move(path)), temp(std::move(temp)),
        os(std::make_unique<llvm::raw_fd_ostream>(this->temp.FD, /*shouldClose=*/false)) {}

  std::string path;
  llvm::sys::fs::TempFile temp;
  std::unique_ptr<llvm::raw_fd_ostream> os;
};

} // namespace bpc

#endif // BPC_OUTPUTFILE_H
