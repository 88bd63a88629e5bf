/* harness.c: calls a model built with `bpc build --name model` through its header, with the values given on
 * the command line (in[] order), and prints the outputs, the forward function's outputs and the gradient as
 * JSON arrays with 17 significant digits (enough to read every double back exactly). Compiles as C and C++. */
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

static void printArray(const char *key, const double *values, int count, const char *end) {
  printf("\"%s\":[", key);
  for (int i = 0; i < count; ++i)
    printf("%s%.17g", i ? "," : "", values[i]);
  printf("]%s", end);
}

int main(int argc, char **argv) {
  double in[MODEL_NUM_IN];
  double out[MODEL_NUM_OUT], forwardOut[MODEL_NUM_OUT];
  double grad[MODEL_NUM_OUT * MODEL_NUM_IN];
  if (argc != MODEL_NUM_IN + 1) {
    fprintf(stderr, "harness: expected %d values, got %d\n", MODEL_NUM_IN, argc - 1);
    return 2;
  }
  for (int i = 0; i < MODEL_NUM_IN; ++i)
    in[i] = strtod(argv[i + 1], NULL);
  model_gradient(in, out, grad);
  model_forward(in, forwardOut);
  printf("{");
  printArray("outputs", out, MODEL_NUM_OUT, ",");
  printArray("forward", forwardOut, MODEL_NUM_OUT, ",");
  printArray("grad", grad, MODEL_NUM_OUT * MODEL_NUM_IN, "}\n");
  return 0;
}
