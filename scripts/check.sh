#!/usr/bin/env bash
# Installs what is missing, builds bp, and runs every test: first the normal build (unit, lit, fuzz-corpus
# replay, the embedding example), then the same suite built with AddressSanitizer and UndefinedBehaviorSanitizer.
# This is the README's second command and what CI runs. Set BP_SKIP_SANITIZERS=1 to run the first half only.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/bootstrap.sh
cmake -S . -B build -G Ninja
cmake --build build
ctest --test-dir build --output-on-failure

if [ "${BP_SKIP_SANITIZERS:-0}" != 1 ]; then
  cmake -S . -B build-asan -G Ninja -DBP_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
  cmake --build build-asan
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir build-asan --output-on-failure
fi
