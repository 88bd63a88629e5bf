//===- ReplayMain.cpp - Runs the fuzz target over saved inputs ------------===//
//
// bp_fuzz_replay FILE_OR_FOLDER...: calls LLVMFuzzerTestOneInput on every file, so inputs the fuzzer once
// crashed on (tests/fuzz/regressions) and the seed corpus are checked by every ctest run, with any compiler.
//
//===----------------------------------------------------------------------===//
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay(const std::filesystem::path &path) {
  std::ifstream stream(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
  int result = LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
  if (result != 0)
    std::fprintf(stderr, "replay: %s returned %d\n", path.c_str(), result);
  return result;
}

int main(int argc, char **argv) {
  size_t count = 0;
  int failures = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path root(argv[i]);
    if (std::filesystem::is_directory(root)) {
      for (const auto &entry : std::filesystem::recursive_directory_iterator(root))
        if (entry.is_regular_file()) {
          failures += replay(entry.path()) != 0;
          ++count;
        }
    } else {
      failures += replay(root) != 0;
      ++count;
    }
  }
  std::printf("replayed %zu inputs, %d failed\n", count, failures);
  return failures == 0 && count > 0 ? 0 : 1;
}
