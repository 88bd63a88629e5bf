/* capi_gradient.c: a script's outputs and gradient at its own values, from the C API, for run-matches-capi.test.
 *
 * Usage: bp_capi_gradient SCRIPT.bp [--of OUTPUT]... [--wrt ARGUMENT]...
 *
 * Compiles the script with bp_compile_file (the options as bpc's --of and --wrt), evaluates bp_model_gradient
 * at bp_model_defaults and prints, each number in %.17g:
 *   unset NAME                    an input without a value (its elements are 0 here)
 *   output NAME V V ...           every output's elements, row-major
 *   gradient OUTPUT ARGUMENT V ...  d OUTPUT / d ARGUMENT, row-major (a row per output element), for every
 *                                 differentiated output and argument
 * A script that does not compile: its message on stderr, exit 1. */
#include "bp/bp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(bp_status status, const char *what) {
  fprintf(stderr, "bp_capi_gradient: %s: %s\n", what, bp_status_message(status));
  return 1;
}

int main(int argc, char **argv) {
  bp_options *options = NULL;
  bp_model *model = NULL;
  bp_error *error = NULL;
  size_t inSize, outSize, gradSize, columns, argCount, outputCount;
  double *in, *out, *grad;
  bp_status status;
  int i;
  size_t a, o, r, c;

  if (argc < 2 || argc % 2 != 0) {
    fprintf(stderr, "usage: %s SCRIPT.bp [--of OUTPUT]... [--wrt ARGUMENT]...\n", argv[0]);
    return 2;
  }
  if ((status = bp_options_create(&options)) != BP_OK)
    return fail(status, "bp_options_create");
  for (i = 2; i + 1 < argc; i += 2) {
    status = !strcmp(argv[i], "--of") ? bp_options_add_of(options, argv[i + 1])
                                      : bp_options_add_wrt(options, argv[i + 1]);
    if (status != BP_OK)
      return fail(status, argv[i]);
  }
  if (bp_compile_file(argv[1], options, &model, &error) != BP_OK) {
    fputs(bp_error_message(error), stderr);
    bp_error_free(error);
    bp_options_free(options);
    return 1;
  }
  bp_options_free(options);

  bp_model_in_size(model, &inSize);
  bp_model_out_size(model, &outSize);
  bp_model_grad_size(model, &gradSize);
  bp_model_grad_cols(model, &columns);
  bp_model_num_args(model, &argCount);
  bp_model_num_outputs(model, &outputCount);
  in = calloc(inSize + 1, sizeof(double));
  out = calloc(outSize + 1, sizeof(double));
  grad = calloc(gradSize + 1, sizeof(double));
  if (!in || !out || !grad)
    return fail(BP_ERROR_INVALID_ARGUMENT, "out of memory");
  if ((status = bp_model_defaults(model, in, inSize)) != BP_OK)
    return fail(status, "bp_model_defaults");
  if ((status = bp_model_gradient(model, in, inSize, out, outSize, grad, gradSize)) != BP_OK)
    return fail(status, "bp_model_gradient");

  for (a = 0; a < argCount; ++a) {
    const char *name;
    int hasDefault;
    bp_model_arg_name(model, a, &name);
    bp_model_arg_has_default(model, a, &hasDefault);
    if (!hasDefault)
      printf("unset %s\n", name);
  }
  for (o = 0; o < outputCount; ++o) {
    const char *name;
    size_t offset, size;
    bp_model_output_name(model, o, &name);
    bp_model_output_offset(model, o, &offset);
    bp_model_output_size(model, o, &size);
    printf("output %s", name);
    for (r = 0; r < size; ++r)
      printf(" %.17g", out[offset + r]);
    printf("\n");
  }
  for (o = 0; o < outputCount; ++o) {
    const char *outputName;
    size_t row, rows;
    if (bp_model_output_grad_row(model, o, &row) != BP_OK)
      continue; /* not differentiated */
    bp_model_output_name(model, o, &outputName);
    bp_model_output_size(model, o, &rows);
    for (a = 0; a < argCount; ++a) {
      const char *argumentName;
      size_t column, size;
      if (bp_model_arg_grad_col(model, a, &column) != BP_OK)
        continue;
      bp_model_arg_name(model, a, &argumentName);
      bp_model_arg_size(model, a, &size);
      printf("gradient %s %s", outputName, argumentName);
      for (r = 0; r < rows; ++r)
        for (c = 0; c < size; ++c)
          printf(" %.17g", grad[(row + r) * columns + column + c]);
      printf("\n");
    }
  }
  free(in);
  free(out);
  free(grad);
  bp_model_free(model);
  return 0;
}
