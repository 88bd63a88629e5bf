//===- OutputFile.cpp - Files written whole or not at all; clean exits on LLVM errors ---===//
#include "OutputFile.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Signals.h"

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdlib>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace fs = llvm::sys::fs;
namespace path = llvm::sys::path;

namespace bpc {
namespace {

/// `path` with every symbolic link along the chain of links it names replaced by the file it points to (the
/// last one may not exist yet). Folders above are left as they are.
std::string followLinks(std::string path) {
  for (int hops = 0; hops < 40; ++hops) { // as many as the kernel follows before ELOOP
    fs::file_status status;
    if (fs::status(path, status, /*Follow=*/false) || status.type() != fs::file_type::symlink_file)
      return path;
    char target[4096];
    ssize_t size = ::readlink(path.c_str(), target, sizeof target);
    if (size < 0 || size == sizeof target)
      return path;
    llvm::SmallString<256> next(llvm::StringRef(target, size));
    if (path::is_relative(next)) {
      llvm::SmallString<256> folder(path::parent_path(path));
      path::append(folder, next);
      next = folder;
    }
    path = next.str().str();
  }
  return path;
}

/// `folder` as an absolute path with links, "." and ".." resolved where it exists.
llvm::SmallString<256> canonicalFolder(llvm::StringRef folder) {
  llvm::SmallString<256> result;
  if (!fs::real_path(folder.empty() ? "." : folder, result))
    return result;
  result = folder;
  fs::make_absolute(result);
  path::remove_dots(result, /*remove_dot_dot=*/true);
  return result;
}

/// An exclusive advisory lock (flock) on a folder, held while bpc renames files into it. bpc locks the
/// folder itself rather than a lock file beside the outputs, so that nothing is left behind.
class FolderLock {
public:
  explicit FolderLock(const std::string &folder) : fd(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    // Without a lock (a file system that has none) the outputs are still each whole, just not paired.
    if (fd >= 0)
      while (::flock(fd, LOCK_EX) != 0 && errno == EINTR) {
      }
  }
  ~FolderLock() {
    if (fd >= 0)
      ::close(fd);
  }
  FolderLock(const FolderLock &) = delete;
  FolderLock &operator=(const FolderLock &) = delete;

private:
  int fd;
};

void exitOnFatalError(void *, const char *reason, bool) {
  std::string message = llvm::StringRef(reason).trim().rtrim('.').str();
  // LLVM's messages start with a capital ("Cannot select") and may end with a period; bpc's are lower-case and
  // do not. Acronyms ("PIC") stay.
  if (message.size() > 1 && std::isupper(static_cast<unsigned char>(message[0])) &&
      std::islower(static_cast<unsigned char>(message[1])))
    message[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(message[0])));
  llvm::outs().flush();
  llvm::errs() << "bpc: error: " << message << '\n';
  llvm::sys::RunInterruptHandlers(); // removes the files registered by TempFile
  std::_Exit(1);
}

void exitOnBadAlloc(void *, const char *, bool) {
  // Nothing here may allocate.
  static const char message[] = "bpc: error: out of memory\n";
  ssize_t written = ::write(2, message, sizeof message - 1);
  (void)written;
  llvm::sys::RunInterruptHandlers();
  std::_Exit(1);
}

} // namespace

llvm::Error PendingFile::error(const llvm::Twine &reason) const {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "cannot write '" + path + "': " + reason);
}

llvm::Expected<PendingFile> PendingFile::create(const std::string &path) {
  fs::file_status status;
  bool exists = !fs::status(path, status);
  if (exists && status.type() != fs::file_type::regular_file) {
    PendingFile file(path, path);
    if (status.type() == fs::file_type::directory_file)
      return file.error("it is a folder");
    if (status.type() != fs::file_type::character_file && status.type() != fs::file_type::fifo_file)
      return file.error("it is not a regular file, a character device or a FIFO");
    if (std::error_code ec = fs::access(path, fs::AccessMode::Write))
      return file.error(ec.message());
    file.buffer = std::make_unique<llvm::SmallVector<char, 0>>();
    file.bufferStream = std::make_unique<llvm::raw_svector_ostream>(*file.buffer);
    return file;
  }

  PendingFile file(path, followLinks(path));
  llvm::SmallString<256> model(file.destination);
  model += "-%%%%%%.tmp";
  auto temp = fs::TempFile::create(model);
  if (!temp)
    return file.error(llvm::toString(temp.takeError()));
  if (exists) // keep the replaced file's permissions, as writing into it would
    (void)fs::setPermissions(temp->FD, status.permissions());
  file.temp = std::move(*temp);
  file.fileStream = std::make_unique<llvm::raw_fd_ostream>(file.temp->FD, /*shouldClose=*/false);
  return file;
}

PendingFile::~PendingFile() {
  if (fileStream)
    fileStream->clear_error(); // the error has been reported, or the file is being abandoned
  fileStream.reset();
  if (temp)
    llvm::consumeError(temp->discard());
}

llvm::Error PendingFile::flush() {
  if (!fileStream)
    return llvm::Error::success();
  fileStream->flush();
  if (!fileStream->has_error())
    return llvm::Error::success();
  std::error_code ec = fileStream->error();
  fileStream->clear_error();
  return error(ec.message());
}

llvm::Error PendingFile::writeThrough() {
  int fd;
  if (std::error_code ec = fs::openFileForWrite(destination, fd, fs::CD_OpenExisting, fs::OF_None))
    return error(ec.message());
  llvm::raw_fd_ostream device(fd, /*shouldClose=*/true);
  device.write(buffer->data(), buffer->size());
  device.close();
  if (!device.has_error())
    return llvm::Error::success();
  std::error_code ec = device.error();
  device.clear_error();
  return error(ec.message());
}

llvm::Error PendingFile::rename() {
  fileStream.reset();
  llvm::Error err = temp->keep(destination);
  temp.reset();
  if (err)
    return error(llvm::toString(std::move(err)));
  return llvm::Error::success();
}

llvm::Error PendingFile::commitAll(llvm::ArrayRef<PendingFile *> files) {
  for (PendingFile *file : files)
    if (llvm::Error err = file->flush())
      return err;

  // Lock each folder that receives a rename, in one order so that two bpc processes cannot deadlock.
  std::vector<std::string> folders;
  for (PendingFile *file : files)
    if (file->temp)
      folders.push_back(canonicalFolder(path::parent_path(file->destination)).str().str());
  llvm::sort(folders);
  folders.erase(std::unique(folders.begin(), folders.end()), folders.end());
  std::vector<std::unique_ptr<FolderLock>> locks;
  for (const std::string &folder : folders)
    locks.push_back(std::make_unique<FolderLock>(folder));

  for (PendingFile *file : files)
    if (file->buffer)
      if (llvm::Error err = file->writeThrough())
        return err;
  for (PendingFile *file : files)
    if (file->temp)
      if (llvm::Error err = file->rename())
        return err;
  return llvm::Error::success();
}

bool sameFile(const std::string &a, const std::string &b) {
  fs::UniqueID idA, idB;
  bool existsA = !fs::getUniqueID(a, idA), existsB = !fs::getUniqueID(b, idB);
  if (existsA || existsB) // a device or FIFO can take two outputs: nothing in it is overwritten
    return existsA && existsB && idA == idB && fs::is_regular_file(a);
  auto canonical = [](const std::string &name) {
    std::string target = followLinks(name);
    llvm::SmallString<256> result = canonicalFolder(path::parent_path(target));
    path::append(result, path::filename(target));
    return result;
  };
  return canonical(a) == canonical(b);
}

/// The signal set of `signals`.
static sigset_t signalSet(llvm::ArrayRef<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : signals)
    sigaddset(&set, signal);
  return set;
}

std::vector<int> ignoredSignals() {
  std::vector<int> ignored;
  for (int signal = 1; signal < NSIG; ++signal) {
    struct sigaction action;
    if (::sigaction(signal, nullptr, &action) == 0 && !(action.sa_flags & SA_SIGINFO) && action.sa_handler == SIG_IGN)
      ignored.push_back(signal);
  }
  sigset_t blocked = signalSet(ignored);
  ::sigprocmask(SIG_BLOCK, &blocked, nullptr);
  return ignored;
}

void installCleanupHandlers(llvm::ArrayRef<int> ignored) {
  llvm::install_fatal_error_handler(exitOnFatalError);
  llvm::install_bad_alloc_error_handler(exitOnBadAlloc);
  // LLVM's handler for SIGINT, SIGHUP, ... removes the temporary files and re-raises the signal, which the
  // process then ignores and goes on without its files.
  for (int signal : ignored)
    std::signal(signal, SIG_IGN);
  sigset_t blocked = signalSet(ignored);
  ::sigprocmask(SIG_UNBLOCK, &blocked, nullptr);
}

} // namespace bpc
