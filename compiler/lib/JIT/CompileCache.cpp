//===- CompileCache.cpp - Compiled objects kept on disk between runs ------===//
#include "bp/CompileCache.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/Chrono.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"
#include "llvm/Target/TargetMachine.h"

#include <dlfcn.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <vector>

using namespace bp;
namespace fs = llvm::sys::fs;

namespace {

constexpr char Magic[8] = {'b', 'p', 'c', 'a', 'c', 'h', 'e', '\0'};
constexpr uint32_t FormatVersion = 2;
constexpr llvm::StringLiteral EntrySuffix = ".bpo";
constexpr llvm::StringLiteral TempMarker = ".tmp-";

/// An entry's header, before the payload: all fields little-endian as the host writes them (a cache directory
/// belongs to one machine). The payload is the lengths of the objects but the last (one uint64_t each; none for
/// an entry of one object), then the objects end to end.
struct Header {
  char magic[8];
  uint32_t version;
  uint32_t objects;  // how many objects the entry holds, at least 1
  uint64_t length;   // the payload's bytes
  uint64_t checksum; // checksumOf(objects, payload)
};
static_assert(sizeof(Header) == 32, "the header has no padding");

/// The checksum of an entry of `count` objects in `payload`: the count too, so that a damaged count cannot make
/// other objects of the same bytes.
uint64_t checksumOf(uint32_t count, llvm::StringRef payload) {
  return llvm::xxh3_64bits(payload) ^ llvm::xxh3_64bits(llvm::StringRef(reinterpret_cast<const char *>(&count),
                                                                       sizeof(count)));
}

/// BP_CACHE_DEBUG set: each lookup says on stderr whether it hit.
void debug(llvm::StringRef what, llvm::StringRef key) {
  static const bool enabled = llvm::sys::Process::GetEnv("BP_CACHE_DEBUG").has_value();
  if (enabled)
    llvm::errs() << "bp-cache: " << what << " " << key.take_front(16) << "\n";
}

/// A raw_ostream that hashes what is written to it.
class HashingStream : public llvm::raw_ostream {
public:
  explicit HashingStream(llvm::SHA256 &hash) : hash(hash) { SetUnbuffered(); }

private:
  void write_impl(const char *data, size_t size) override {
    hash.update(llvm::StringRef(data, size));
    position += size;
  }
  uint64_t current_pos() const override { return position; }

  llvm::SHA256 &hash;
  uint64_t position = 0;
};

/// What identifies this build of bp's code: the file holding it (bpc, or a program or libbp.so linking bp), its
/// size and modification time, so that a rebuilt bp does not load objects an older one compiled.
std::string buildIdentity() {
  Dl_info info;
  if (!dladdr(reinterpret_cast<void *>(&buildIdentity), &info) || !info.dli_fname)
    return "unknown";
  fs::file_status status;
  if (fs::status(info.dli_fname, status))
    return info.dli_fname;
  return std::string(info.dli_fname) + ":" + std::to_string(status.getSize()) + ":" +
         std::to_string(llvm::sys::toTimeT(status.getLastModificationTime())) + "." +
         std::to_string(status.getLastModificationTime().time_since_epoch().count());
}

struct EntryFile {
  std::string path;
  uint64_t size;
  llvm::sys::TimePoint<> used;
};

/// Every file of `directory` that `keep` accepts, by name.
std::vector<EntryFile> listFiles(llvm::StringRef directory, llvm::function_ref<bool(llvm::StringRef)> keep) {
  std::vector<EntryFile> files;
  std::error_code ec;
  for (fs::directory_iterator it(directory, ec), end; it != end && !ec; it.increment(ec)) {
    if (!keep(llvm::sys::path::filename(it->path())))
      continue;
    fs::file_status status;
    if (fs::status(it->path(), status) || status.type() != fs::file_type::regular_file)
      continue;
    files.push_back({it->path(), status.getSize(), status.getLastModificationTime()});
  }
  return files;
}

/// An entry, or the temporary file of one being stored.
bool isOurs(llvm::StringRef name) { return name.contains(EntrySuffix); }
bool isEntry(llvm::StringRef name) { return name.ends_with(EntrySuffix) && !name.contains(TempMarker); }

} // namespace

CompileCache::CompileCache(std::string directory, uint64_t maxBytes) : dir(std::move(directory)), limit(maxBytes) {}

std::string CompileCache::defaultDirectory() {
  if (auto dir = llvm::sys::Process::GetEnv("BP_CACHE_DIR"); dir && !dir->empty())
    return *dir;
  llvm::SmallString<256> path;
  if (auto xdg = llvm::sys::Process::GetEnv("XDG_CACHE_HOME"); xdg && !xdg->empty())
    path = *xdg;
  else if (auto home = llvm::sys::Process::GetEnv("HOME"); home && !home->empty())
    llvm::sys::path::append(path, *home, ".cache");
  else
    return "";
  llvm::sys::path::append(path, "bp");
  return std::string(path);
}

std::string CompileCache::entryPath(llvm::StringRef key) const {
  llvm::SmallString<256> path(dir);
  llvm::sys::path::append(path, key + EntrySuffix);
  return std::string(path);
}

/// The objects of `payload`, an entry's that holds `count`; none if its lengths do not add up to its size.
std::vector<llvm::StringRef> splitPayload(llvm::StringRef payload, uint32_t count) {
  if (count == 0 || payload.size() / sizeof(uint64_t) < count - 1)
    return {};
  llvm::StringRef rest = payload.drop_front((count - 1) * sizeof(uint64_t));
  std::vector<llvm::StringRef> objects;
  for (uint32_t i = 0; i + 1 < count; ++i) {
    uint64_t length;
    std::memcpy(&length, payload.data() + i * sizeof(uint64_t), sizeof(length));
    if (length > rest.size())
      return {};
    objects.push_back(rest.take_front(length));
    rest = rest.drop_front(length);
  }
  objects.push_back(rest);
  return objects;
}

std::unique_ptr<llvm::MemoryBuffer> CompileCache::load(llvm::StringRef key) const {
  std::vector<std::unique_ptr<llvm::MemoryBuffer>> objects = loadObjects(key);
  if (objects.size() != 1)
    return nullptr;
  return std::move(objects.front());
}

std::vector<std::unique_ptr<llvm::MemoryBuffer>> CompileCache::loadObjects(llvm::StringRef key) const {
  std::string path = entryPath(key);
  // Read, not mapped: the file may be replaced or removed by another process while the object is in use.
  auto file = llvm::MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false,
                                          /*IsVolatile=*/true);
  if (!file) {
    debug("miss", key);
    return {};
  }
  llvm::StringRef bytes = (*file)->getBuffer();
  Header header;
  std::vector<llvm::StringRef> objects;
  if (bytes.size() >= sizeof(Header)) {
    std::memcpy(&header, bytes.data(), sizeof(Header));
    llvm::StringRef payload = bytes.drop_front(sizeof(Header));
    if (std::memcmp(header.magic, Magic, sizeof(Magic)) == 0 && header.version == FormatVersion &&
        header.length == payload.size() && header.checksum == checksumOf(header.objects, payload))
      objects = splitPayload(payload, header.objects);
  }
  if (objects.empty()) {
    debug("corrupt entry removed", key);
    fs::remove(path);
    return {};
  }
  debug("hit", key);
  // The entry was used now: least recently used entries go first.
  int fd;
  if (!fs::openFileForWrite(path, fd, fs::CD_OpenExisting, fs::OF_Append)) {
    (void)fs::setLastAccessAndModificationTime(fd, std::chrono::system_clock::now());
    llvm::sys::Process::SafelyCloseFileDescriptor(fd);
  }
  std::vector<std::unique_ptr<llvm::MemoryBuffer>> buffers;
  for (size_t i = 0; i < objects.size(); ++i)
    buffers.push_back(llvm::MemoryBuffer::getMemBufferCopy(objects[i], path + "#" + std::to_string(i)));
  return buffers;
}

llvm::Error CompileCache::store(llvm::StringRef key, llvm::StringRef object) const {
  return storeObjects(key, object);
}

llvm::Error CompileCache::storeObjects(llvm::StringRef key, llvm::ArrayRef<llvm::StringRef> objects) const {
  assert(!objects.empty() && "an entry holds at least one object");
  if (std::error_code ec = fs::create_directories(dir))
    return llvm::createStringError(ec, "cannot create the compile cache '" + dir + "': " + ec.message());
  std::string path = entryPath(key);
  llvm::SmallString<256> temp;
  int fd;
  if (std::error_code ec = fs::createUniqueFile(path + TempMarker + "%%%%%%%%", fd, temp))
    return llvm::createStringError(ec, "cannot write to the compile cache '" + dir + "': " + ec.message());
  std::string payload;
  for (llvm::StringRef object : objects.drop_back()) {
    uint64_t length = object.size();
    payload.append(reinterpret_cast<const char *>(&length), sizeof(length));
  }
  for (llvm::StringRef object : objects)
    payload += object;
  Header header;
  std::memcpy(header.magic, Magic, sizeof(Magic));
  header.version = FormatVersion;
  header.objects = objects.size();
  header.length = payload.size();
  header.checksum = checksumOf(header.objects, payload);
  {
    llvm::raw_fd_ostream out(fd, /*shouldClose=*/true);
    out.write(reinterpret_cast<const char *>(&header), sizeof(Header));
    out << payload;
    out.close();
    if (out.has_error()) {
      std::error_code ec = out.error();
      out.clear_error();
      fs::remove(temp);
      return llvm::createStringError(ec, "cannot write to the compile cache '" + dir + "': " + ec.message());
    }
  }
  if (std::error_code ec = fs::rename(temp, path)) {
    fs::remove(temp);
    return llvm::createStringError(ec, "cannot write to the compile cache '" + dir + "': " + ec.message());
  }
  debug("stored", key);
  evict(key);
  return llvm::Error::success();
}

void CompileCache::evict(llvm::StringRef keep) const {
  // A temporary file an hour old was left by a store that never finished (its process was killed).
  auto stale = std::chrono::system_clock::now() - std::chrono::hours(1);
  std::vector<EntryFile> entries;
  uint64_t total = 0;
  for (EntryFile &file : listFiles(dir, isOurs)) {
    if (!isEntry(llvm::sys::path::filename(file.path))) {
      if (file.used < stale)
        fs::remove(file.path);
      continue;
    }
    total += file.size;
    entries.push_back(std::move(file));
  }
  if (total <= limit)
    return;
  llvm::sort(entries, [](const EntryFile &a, const EntryFile &b) { return a.used < b.used; });
  std::string kept = entryPath(keep);
  for (const EntryFile &entry : entries) {
    if (total <= limit)
      break;
    if (entry.path == kept)
      continue;
    // Another process may have removed it first; either way its bytes are gone.
    fs::remove(entry.path);
    total -= entry.size;
  }
}

CompileCache::Info CompileCache::info() const {
  Info info;
  for (const EntryFile &entry : listFiles(dir, isEntry)) {
    ++info.entries;
    info.bytes += entry.size;
  }
  return info;
}

llvm::Error CompileCache::clear() const {
  for (const EntryFile &file : listFiles(dir, isOurs))
    if (std::error_code ec = fs::remove(file.path))
      return llvm::createStringError(ec, "cannot remove '" + file.path + "': " + ec.message());
  return llvm::Error::success();
}

std::string bp::compileCacheKey(const llvm::Module &module, const llvm::TargetMachine &machine, unsigned optLevel,
                                llvm::ArrayRef<std::string> symbols, unsigned parts) {
  static const std::string build = buildIdentity();
  llvm::SHA256 hash;
  auto field = [&](llvm::StringRef text) {
    hash.update(text);
    hash.update(llvm::StringRef("\0", 1));
  };
  field("bp compile cache " + std::to_string(FormatVersion));
  field(BP_VERSION_STRING);
  field(build);
  field(LLVM_VERSION_STRING);
  field(machine.getTargetTriple().str());
  field(machine.getTargetCPU());
  field(machine.getTargetFeatureString());
  field(std::to_string(optLevel));
  field("parts " + std::to_string(parts));
  for (const std::string &symbol : symbols)
    field(symbol);
  // Bitcode: a quarter of the time of the module's text (2 ms for bench's mlp-64), and as complete.
  HashingStream stream(hash);
  llvm::WriteBitcodeToFile(module, stream);
  stream.flush();
  return llvm::toHex(hash.final(), /*LowerCase=*/true);
}

namespace {
std::unique_ptr<CompileCache> &defaultCache() {
  static std::unique_ptr<CompileCache> cache;
  return cache;
}
} // namespace

const CompileCache *bp::defaultCompileCache() { return defaultCache().get(); }

void bp::setDefaultCompileCache(std::unique_ptr<CompileCache> cache) { defaultCache() = std::move(cache); }
