/* main.c: the same as main.cpp through bp's C API (bp/bp.h): bp_run_c SCRIPT.bp prints the outputs and the
 * gradient of every output element by every argument element (a tensor's elements by their row-major index),
 * each number as "%.17g" prints it. Every call
 * returns a status; a script that does not compile gives bpc's diagnostics text. */
#include <stdio.h>
#include <stdlib.h>

#include "bp/bp.h"

#define CHECK(call)                                                                                              \
  do {                                                                                                           \
    bp_status status_ = (call);                                                                                  \
    if (status_ != BP_OK) {                                                                                      \
      fprintf(stderr, "bp_run_c: %s: %s\n", #call, bp_status_message(status_));                                \
      return 1;                                                                                                  \
    }                                                                                                            \
  } while (0)

int main(int argc, char **argv) {
  if (argc != 2) {
    fputs("usage: bp_run_c SCRIPT.bp\n", stderr);
    return 2;
  }
  bp_model *model;
  bp_error *error;
  if (bp_compile_file(argv[1], NULL, &model, &error) != BP_OK) {
    fputs(bp_error_message(error), stderr); /* file:line:col: error: ..., the line, a caret */
    bp_error_free(error);
    return 1;
  }
  size_t in_size, out_size, grad_size, cols, args, outputs;
  CHECK(bp_model_in_size(model, &in_size));
  CHECK(bp_model_out_size(model, &out_size));
  CHECK(bp_model_grad_size(model, &grad_size));
  CHECK(bp_model_grad_cols(model, &cols));
  CHECK(bp_model_num_args(model, &args));
  CHECK(bp_model_num_outputs(model, &outputs));
  double *in = malloc(in_size * sizeof *in), *out = malloc(out_size * sizeof *out),
         *grad = malloc(grad_size * sizeof *grad);
  CHECK(bp_model_defaults(model, in, in_size));
  CHECK(bp_model_gradient(model, in, in_size, out, out_size, grad, grad_size)); /* lengths checked */

  for (size_t o = 0; o < outputs; ++o) {
    const char *name;
    size_t offset, size;
    CHECK(bp_model_output_name(model, o, &name));
    CHECK(bp_model_output_offset(model, o, &offset));
    CHECK(bp_model_output_size(model, o, &size));
    for (size_t e = 0; e < size; ++e) {
      if (size == 1)
        printf("%s = %.17g\n", name, out[offset]);
      else
        printf("%s[%zu] = %.17g\n", name, e, out[offset + e]);
    }
  }
  for (size_t o = 0; o < outputs; ++o) {
    const char *name;
    size_t size, row;
    CHECK(bp_model_output_name(model, o, &name));
    CHECK(bp_model_output_size(model, o, &size));
    CHECK(bp_model_output_grad_row(model, o, &row));
    for (size_t e = 0; e < size; ++e)
      for (size_t a = 0; a < args; ++a) {
        const char *arg;
        size_t arg_size, col;
        CHECK(bp_model_arg_name(model, a, &arg));
        CHECK(bp_model_arg_size(model, a, &arg_size));
        CHECK(bp_model_arg_grad_col(model, a, &col));
        for (size_t i = 0; i < arg_size; ++i) {
          double entry = grad[(row + e) * cols + col + i];
          printf("d%s", name);
          if (size > 1)
            printf("[%zu]", e); /* elements by their row-major index */
          printf("/d%s", arg);
          if (arg_size > 1)
            printf("[%zu]", i);
          printf(" = %.17g\n", entry);
        }
      }
  }
  free(in);
  free(out);
  free(grad);
  bp_model_free(model);
  return 0;
}
