//===- jit_column.cpp - The bp JIT column of the benchmark -----------------===//
//
// bp_bench_jit SCRIPT.bp INPUTS.in [--reps R] [--min-time SECONDS] [-O N]
//
// JIT-compiles a script the way `bpc run --grad` does (bp::Model::compileFile, both functions), prints
// `compile_s SECONDS` (time to ready: reading the file to callable code), then hands the model's forward and
// gradient function pointers to the same timing loop as the other columns (run_benchmark in harness.c), so the
// calls measured are the JIT-compiled functions themselves.
//
//===----------------------------------------------------------------------===//
#include "harness.h"

#include "bp/Model.h"

#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

int fail(llvm::Error error) {
  llvm::errs() << "bp_bench_jit: " << llvm::toString(std::move(error)) << '\n';
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s SCRIPT.bp INPUTS.in [--reps R] [--min-time SECONDS] [-O N]\n", argv[0]);
    return 2;
  }
  unsigned optLevel = 2;
  std::vector<char *> rest{argv[0]};
  for (int i = 3; i < argc; ++i) {
    if (!std::strcmp(argv[i], "-O") && i + 1 < argc)
      optLevel = static_cast<unsigned>(std::atoi(argv[++i]));
    else
      rest.push_back(argv[i]);
  }
  int reps = 7;
  double minSeconds = 0.05;
  if (bench_parse_options(static_cast<int>(rest.size()), rest.data(), 1, &reps, &minSeconds))
    return 2;

  double start = bench_now();
  bp::CompileOptions options;
  options.optLevel = optLevel;
  auto model = bp::Model::compileFile(argv[1], options);
  if (!model)
    return fail(model.takeError());
  double ready = bench_now();
  std::printf("compile_s %.6f\n", ready - start);

  int numIn = static_cast<int>(model->inSize());
  int numOut = static_cast<int>(model->outSize());
  std::vector<double> in(numIn);
  if (bench_read_inputs(argv[2], in.data(), numIn))
    return 1;
  const bp::CompiledModel &compiled = model->compiledModel();
  run_benchmark(compiled.forwardFunction(), compiled.gradientFunction(), numIn, numOut, in.data(), reps,
                minSeconds);
  return 0;
}
