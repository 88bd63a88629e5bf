//===- adolc_column.cpp - The ADOL-C column of the benchmark ---------------===//
//
// bp_bench_adolc WORKLOAD.ops INPUTS.in [--reps R] [--min-time SECONDS]
//
// Reads a workload's operation list (written by generate.py: the same nodes, in the same order, as the .bp and
// .c files), records it on an ADOL-C tape with adouble arithmetic, prints `compile_s SECONDS` (the time to
// read and tape it: ADOL-C's time to ready), then times the tape with the shared harness.c loop:
//   forward:  zos_forward (zero-order forward sweep over the tape, keep = 0)
//   gradient: zos_forward with keep = 1, then fos_reverse with weight 1 (what ADOL-C's gradient() driver does,
//             plus the output value, which gradient() does not return); for several outputs, fov_reverse with
//             the identity as weights.
//
//===----------------------------------------------------------------------===//
#include "harness.h"

#include <adolc/adolc.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr short Tag = 1;
int numIn = 0, numOut = 0;
std::vector<double> weights;    // numOut x numOut identity, row-major
std::vector<double *> weightRows, gradRows;

void tapeForward(const double *in, double *out) { zos_forward(Tag, numOut, numIn, 0, in, out); }

void tapeGradient(const double *in, double *out, double *grad) {
  zos_forward(Tag, numOut, numIn, 1, in, out);
  if (numOut == 1) {
    double weight = 1.0;
    fos_reverse(Tag, 1, numIn, &weight, grad);
    return;
  }
  for (int o = 0; o < numOut; ++o)
    gradRows[o] = grad + static_cast<size_t>(o) * numIn;
  fov_reverse(Tag, numOut, numIn, numOut, weightRows.data(), gradRows.data());
}

struct Operand {
  long node = -1; // or -1 for a constant
  double value = 0;
};

Operand parseOperand(const std::string &text) {
  Operand operand;
  if (text.rfind("c:", 0) == 0)
    operand.value = std::strtod(text.c_str() + 2, nullptr);
  else
    operand.node = std::strtol(text.c_str(), nullptr, 10);
  return operand;
}

} // namespace

int main(int argc, char **argv) {
  int reps = 7;
  double minSeconds = 0.05;
  if (argc < 3 || bench_parse_options(argc, argv, 3, &reps, &minSeconds)) {
    std::fprintf(stderr, "usage: %s WORKLOAD.ops INPUTS.in [--reps R] [--min-time SECONDS]\n", argv[0]);
    return 2;
  }
  double start = bench_now();
  std::ifstream ops(argv[1]);
  std::string word, line;
  if (!(ops >> word >> numIn) || word != "in" || !(ops >> word >> numOut) || word != "out") {
    std::fprintf(stderr, "%s: not an operation list\n", argv[1]);
    return 1;
  }
  std::vector<double> in(numIn), out(numOut);
  if (bench_read_inputs(argv[2], in.data(), numIn))
    return 1;

  trace_on(Tag);
  {
    std::vector<adouble> node(numIn);
    for (int i = 0; i < numIn; ++i)
      node[i] <<= in[i];
    std::getline(ops, line);
    std::vector<long> outputs;
    while (std::getline(ops, line)) {
      std::istringstream fields(line);
      std::string op, a, b;
      fields >> op >> a >> b;
      if (op.empty())
        continue;
      if (op == "output") {
        outputs.push_back(std::strtol(a.c_str(), nullptr, 10));
        continue;
      }
      Operand x = parseOperand(a), y;
      if (!b.empty())
        y = parseOperand(b);
      if (x.node < 0) {
        std::fprintf(stderr, "%s: a constant first operand is not supported: %s\n", argv[1], line.c_str());
        return 1;
      }
      const adouble &u = node[x.node];
      adouble result;
      if (op == "add")
        result = y.node >= 0 ? u + node[y.node] : u + y.value;
      else if (op == "sub")
        result = y.node >= 0 ? u - node[y.node] : u - y.value;
      else if (op == "mul")
        result = y.node >= 0 ? u * node[y.node] : u * y.value;
      else if (op == "neg")
        result = -u;
      else if (op == "sin")
        result = sin(u);
      else if (op == "tanh")
        result = tanh(u);
      else if (op == "exp")
        result = exp(u);
      else if (op == "sigmoid")
        result = 1.0 / (1.0 + exp(-u));
      else {
        std::fprintf(stderr, "%s: unknown operation: %s\n", argv[1], line.c_str());
        return 1;
      }
      node.push_back(result);
    }
    if (static_cast<int>(outputs.size()) != numOut) {
      std::fprintf(stderr, "%s: expected %d outputs\n", argv[1], numOut);
      return 1;
    }
    for (int o = 0; o < numOut; ++o)
      node[outputs[o]] >>= out[o];
  }
  trace_off();
  double ready = bench_now();
  std::printf("compile_s %.6f\n", ready - start);

  weights.assign(static_cast<size_t>(numOut) * numOut, 0.0);
  weightRows.resize(numOut);
  gradRows.resize(numOut);
  for (int o = 0; o < numOut; ++o) {
    weights[static_cast<size_t>(o) * numOut + o] = 1.0;
    weightRows[o] = &weights[static_cast<size_t>(o) * numOut];
  }
  run_benchmark(tapeForward, tapeGradient, numIn, numOut, in.data(), reps, minSeconds);
  return 0;
}
