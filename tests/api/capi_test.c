/* capi_test.c: bp.h from a C99 program: every function, its failure paths, and one model's gradient from four
 * threads at once.
 *
 * Usage: bp_capi_test EXAMPLES_DIR (the folder holding further.bp). Prints each failed check and exits 1 if
 * any failed. */
#define _POSIX_C_SOURCE 200809L

#include "bp/bp.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define CHECK(condition)                                                                                        \
  do {                                                                                                          \
    if (!(condition)) {                                                                                         \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition);                              \
      ++failures;                                                                                               \
    }                                                                                                           \
  } while (0)

#define CHECK_STATUS(call, expected) CHECK((call) == (expected))

static const char *const Nested = "input a = 5\ninput b = -6\ninput c = 7\nnode d = a + b\nnode f = d * c\n"
                                  "output f\n";

static int contains(const char *text, const char *part) { return strstr(text, part) != NULL; }

static void testVersionAndStatuses(void) {
  CHECK(strcmp(bp_version(), "") != 0);
  CHECK(strcmp(bp_status_message(BP_OK), "success") == 0);
  CHECK(contains(bp_status_message(BP_ERROR_SIZE_MISMATCH), "length"));
  CHECK(contains(bp_status_message(BP_ERROR_COMPILE), "compile"));
  CHECK(contains(bp_status_message(BP_ERROR_INVALID_ARGUMENT), "null"));
  CHECK(contains(bp_status_message(BP_ERROR_NO_GRADIENT), "gradient"));
  CHECK(contains(bp_status_message(BP_ERROR_NOT_FOUND), "name"));
  CHECK(contains(bp_status_message((bp_status)99), "unknown"));
}

static void testOptions(void) {
  bp_options *options = NULL;
  CHECK_STATUS(bp_options_create(NULL), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_options_create(&options), BP_OK);
  CHECK_STATUS(bp_options_set_opt_level(options, 3), BP_OK);
  CHECK_STATUS(bp_options_set_opt_level(options, 4), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_options_set_opt_level(options, -1), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_options_set_opt_level(NULL, 1), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_options_set_gradient(NULL, 1), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_options_add_of(options, NULL), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_options_add_of(NULL, "f"), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_options_add_wrt(options, NULL), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_options_add_wrt(NULL, "a"), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_options_set_seed(NULL, 1), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_options_set_seed(options, 1), BP_OK);
  bp_options_free(options);
  bp_options_free(NULL);
}

/* Every query on nested.bp, compiled from text with the default options, and its tutorial numbers. */
static void testNested(void) {
  bp_model *model = NULL;
  bp_error *error = (bp_error *)&model; /* set to NULL on success */
  size_t n = 99, i;
  const char *name = NULL;
  CHECK_STATUS(bp_compile_string(Nested, "nested.bp", NULL, &model, &error), BP_OK);
  CHECK(model != NULL);
  CHECK(error == NULL);
  if (!model)
    return;

  CHECK_STATUS(bp_model_in_size(model, &n), BP_OK);
  CHECK(n == 3);
  CHECK_STATUS(bp_model_out_size(model, &n), BP_OK);
  CHECK(n == 1);
  CHECK_STATUS(bp_model_grad_size(model, &n), BP_OK);
  CHECK(n == 3);
  CHECK_STATUS(bp_model_grad_rows(model, &n), BP_OK);
  CHECK(n == 1);
  CHECK_STATUS(bp_model_grad_cols(model, &n), BP_OK);
  CHECK(n == 3);

  CHECK_STATUS(bp_model_num_args(model, &n), BP_OK);
  CHECK(n == 3);
  for (i = 0; i < 3; ++i) {
    const char *names[] = {"a", "b", "c"};
    bp_arg_kind kind = BP_ARG_PARAM;
    int64_t shape[BP_MAX_RANK];
    int hasDefault = 0;
    size_t value = 99;
    CHECK_STATUS(bp_model_arg_name(model, i, &name), BP_OK);
    CHECK(strcmp(name, names[i]) == 0);
    CHECK_STATUS(bp_model_arg_index(model, names[i], &value), BP_OK);
    CHECK(value == i);
    CHECK_STATUS(bp_model_arg_kind(model, i, &kind), BP_OK);
    CHECK(kind == BP_ARG_INPUT);
    CHECK_STATUS(bp_model_arg_rank(model, i, &value), BP_OK);
    CHECK(value == 0);
    CHECK_STATUS(bp_model_arg_shape(model, i, shape, 0), BP_OK); /* a scalar has no dimensions to copy */
    CHECK_STATUS(bp_model_arg_size(model, i, &value), BP_OK);
    CHECK(value == 1);
    CHECK_STATUS(bp_model_arg_offset(model, i, &value), BP_OK);
    CHECK(value == i);
    CHECK_STATUS(bp_model_arg_has_default(model, i, &hasDefault), BP_OK);
    CHECK(hasDefault == 1);
    CHECK_STATUS(bp_model_arg_grad_col(model, i, &value), BP_OK);
    CHECK(value == i);
  }
  CHECK_STATUS(bp_model_arg_index(model, "d", &n), BP_ERROR_NOT_FOUND);
  CHECK_STATUS(bp_model_arg_name(model, 3, &name), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_arg_name(model, 0, NULL), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_arg_index(model, NULL, &n), BP_ERROR_INVALID_ARGUMENT);

  CHECK_STATUS(bp_model_num_outputs(model, &n), BP_OK);
  CHECK(n == 1);
  CHECK_STATUS(bp_model_output_name(model, 0, &name), BP_OK);
  CHECK(strcmp(name, "f") == 0);
  CHECK_STATUS(bp_model_output_index(model, "f", &n), BP_OK);
  CHECK(n == 0);
  CHECK_STATUS(bp_model_output_index(model, "a", &n), BP_ERROR_NOT_FOUND);
  CHECK_STATUS(bp_model_output_rank(model, 0, &n), BP_OK);
  CHECK(n == 0);
  CHECK_STATUS(bp_model_output_size(model, 0, &n), BP_OK);
  CHECK(n == 1);
  CHECK_STATUS(bp_model_output_offset(model, 0, &n), BP_OK);
  CHECK(n == 0);
  CHECK_STATUS(bp_model_output_grad_row(model, 0, &n), BP_OK);
  CHECK(n == 0);
  CHECK_STATUS(bp_model_output_size(model, 1, &n), BP_ERROR_INVALID_ARGUMENT);

  {
    double in[3], out[1] = {42}, grad[3] = {42, 42, 42}, longer[4];
    CHECK_STATUS(bp_model_defaults(model, in, 3), BP_OK);
    CHECK(in[0] == 5 && in[1] == -6 && in[2] == 7);
    CHECK_STATUS(bp_model_defaults(model, longer, 4), BP_ERROR_SIZE_MISMATCH);
    CHECK_STATUS(bp_model_defaults(model, NULL, 3), BP_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(bp_model_forward(model, in, 3, out, 1), BP_OK);
    CHECK(out[0] == -7);
    out[0] = 42;
    CHECK_STATUS(bp_model_gradient(model, in, 3, out, 1, grad, 3), BP_OK);
    CHECK(out[0] == -7 && grad[0] == 7 && grad[1] == 7 && grad[2] == -1);

    /* Wrong lengths and null arrays: a status, and nothing written. */
    out[0] = grad[0] = 42;
    CHECK_STATUS(bp_model_forward(model, in, 2, out, 1), BP_ERROR_SIZE_MISMATCH);
    CHECK_STATUS(bp_model_forward(model, in, 3, out, 2), BP_ERROR_SIZE_MISMATCH);
    CHECK_STATUS(bp_model_forward(model, NULL, 3, out, 1), BP_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(bp_model_forward(model, in, 3, NULL, 1), BP_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(bp_model_gradient(model, in, 3, out, 1, grad, 2), BP_ERROR_SIZE_MISMATCH);
    CHECK_STATUS(bp_model_gradient(model, in, 4, out, 1, grad, 3), BP_ERROR_SIZE_MISMATCH);
    CHECK_STATUS(bp_model_gradient(model, in, 3, out, 1, NULL, 3), BP_ERROR_INVALID_ARGUMENT);
    CHECK(out[0] == 42 && grad[0] == 42);
  }
  bp_model_free(model);
}

/* Every function given a null model, and the compile functions given null pointers. */
static void testNullHandles(void) {
  size_t n;
  const char *name;
  bp_arg_kind kind;
  int64_t shape[BP_MAX_RANK];
  int flag;
  double in[1], out[1], grad[1];
  bp_model *model = (bp_model *)&n;
  bp_error *error = NULL;
  CHECK_STATUS(bp_model_in_size(NULL, &n), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_out_size(NULL, &n), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_grad_size(NULL, &n), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_grad_rows(NULL, &n), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_grad_cols(NULL, &n), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_num_args(NULL, &n), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_arg_index(NULL, "a", &n), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_arg_name(NULL, 0, &name), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_arg_kind(NULL, 0, &kind), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_arg_rank(NULL, 0, &n), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_arg_shape(NULL, 0, shape, BP_MAX_RANK), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_arg_size(NULL, 0, &n), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_arg_offset(NULL, 0, &n), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_arg_has_default(NULL, 0, &flag), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_arg_grad_col(NULL, 0, &n), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_num_outputs(NULL, &n), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_output_index(NULL, "f", &n), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_output_name(NULL, 0, &name), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_output_rank(NULL, 0, &n), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_output_shape(NULL, 0, shape, BP_MAX_RANK), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_output_size(NULL, 0, &n), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_output_offset(NULL, 0, &n), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_output_grad_row(NULL, 0, &n), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_defaults(NULL, in, 1), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_forward(NULL, in, 1, out, 1), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_gradient(NULL, in, 1, out, 1, grad, 1), BP_ERROR_INVALID_ARGUMENT);
  bp_model_free(NULL);
  bp_error_free(NULL);
  CHECK(strcmp(bp_error_message(NULL), "") == 0);

  CHECK_STATUS(bp_compile_string(Nested, NULL, NULL, NULL, NULL), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_compile_string(Nested, NULL, NULL, NULL, &error), BP_ERROR_INVALID_ARGUMENT);
  CHECK(error != NULL && contains(bp_error_message(error), "null"));
  bp_error_free(error);
  CHECK_STATUS(bp_compile_string(NULL, NULL, NULL, &model, &error), BP_ERROR_INVALID_ARGUMENT);
  CHECK(model == NULL);
  CHECK(error != NULL && contains(bp_error_message(error), "source is null"));
  bp_error_free(error);
  CHECK_STATUS(bp_compile_file(NULL, NULL, &model, NULL), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_compile_file("x.bp", NULL, NULL, NULL), BP_ERROR_INVALID_ARGUMENT);
}

/* A bad script, a missing file and a bad selection: BP_ERROR_COMPILE with bpc's text, and no model. */
static void testCompileErrors(const char *examples) {
  bp_model *model = NULL;
  bp_error *error = NULL;
  bp_options *options = NULL;
  char path[4096];
  CHECK_STATUS(bp_compile_string("input a = 5\nnode f = d * a\noutput f\n", "bad.bp", NULL, &model, &error),
               BP_ERROR_COMPILE);
  CHECK(model == NULL);
  CHECK(strcmp(bp_error_message(error), "bad.bp:2:10: error: use of undefined name 'd'\n"
                                        "node f = d * a\n"
                                        "         ^\n") == 0);
  bp_error_free(error);
  /* Without a bp_error, only the status. */
  CHECK_STATUS(bp_compile_string("output", NULL, NULL, &model, NULL), BP_ERROR_COMPILE);

  snprintf(path, sizeof path, "%s/no-such-script.bp", examples);
  CHECK_STATUS(bp_compile_file(path, NULL, &model, &error), BP_ERROR_COMPILE);
  CHECK(model == NULL);
  CHECK(contains(bp_error_message(error), "no-such-script.bp"));
  bp_error_free(error);

  bp_options_create(&options);
  bp_options_add_of(options, "a");
  CHECK_STATUS(bp_compile_string(Nested, NULL, options, &model, &error), BP_ERROR_COMPILE);
  CHECK(strcmp(bp_error_message(error), "--of a: 'a' is an input, not an output (outputs: f)\n") == 0);
  bp_error_free(error);
  bp_options_free(options);
}

/* further.bp from its file, differentiated by W only: the tensor layout and the README's numbers. */
static bp_model *testFurther(const char *examples) {
  bp_model *model = NULL;
  bp_error *error = NULL;
  bp_options *options = NULL;
  char path[4096];
  int64_t shape[BP_MAX_RANK] = {0};
  size_t n = 0;
  bp_arg_kind kind = BP_ARG_INPUT;
  double in[9], out[1], grad[6];
  snprintf(path, sizeof path, "%s/further.bp", examples);
  bp_options_create(&options);
  bp_options_add_wrt(options, "W");
  bp_options_set_opt_level(options, 3);
  CHECK_STATUS(bp_compile_file(path, options, &model, &error), BP_OK);
  bp_options_free(options);
  if (!model) {
    fprintf(stderr, "%s", bp_error_message(error));
    bp_error_free(error);
    ++failures;
    return NULL;
  }
  CHECK_STATUS(bp_model_arg_index(model, "W", &n), BP_OK);
  CHECK(n == 1);
  CHECK_STATUS(bp_model_arg_kind(model, 1, &kind), BP_OK);
  CHECK(kind == BP_ARG_PARAM);
  CHECK_STATUS(bp_model_arg_rank(model, 1, &n), BP_OK);
  CHECK(n == 2);
  CHECK_STATUS(bp_model_arg_shape(model, 1, shape, 1), BP_ERROR_SIZE_MISMATCH);
  CHECK_STATUS(bp_model_arg_shape(model, 1, NULL, 2), BP_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(bp_model_arg_shape(model, 1, shape, BP_MAX_RANK), BP_OK);
  CHECK(shape[0] == 3 && shape[1] == 2);
  CHECK_STATUS(bp_model_arg_size(model, 1, &n), BP_OK);
  CHECK(n == 6);
  CHECK_STATUS(bp_model_arg_offset(model, 1, &n), BP_OK);
  CHECK(n == 3);
  CHECK_STATUS(bp_model_arg_grad_col(model, 1, &n), BP_OK);
  CHECK(n == 0);
  CHECK_STATUS(bp_model_arg_grad_col(model, 0, &n), BP_ERROR_NOT_FOUND); /* X is not chosen */
  CHECK_STATUS(bp_model_output_shape(model, 0, shape, 0), BP_OK);
  CHECK_STATUS(bp_model_grad_size(model, &n), BP_OK);
  CHECK(n == 6);

  CHECK_STATUS(bp_model_defaults(model, in, 9), BP_OK);
  CHECK_STATUS(bp_model_gradient(model, in, 9, out, 1, grad, 9), BP_ERROR_SIZE_MISMATCH); /* grad is 6 now */
  CHECK_STATUS(bp_model_gradient(model, in, 9, out, 1, grad, 6), BP_OK);
  CHECK(out[0] == 0.07164469196766994);
  CHECK(grad[0] == -0.13827684068669388 && grad[1] == 0 && grad[2] == -0.27655368137338776);
  return model;
}

static void testForwardOnly(void) {
  bp_model *model = NULL;
  bp_options *options = NULL;
  size_t n = 99;
  double in[3] = {1, 2, 3}, out[1], grad[3];
  bp_options_create(&options);
  bp_options_set_gradient(options, 0);
  CHECK_STATUS(bp_compile_string(Nested, NULL, options, &model, NULL), BP_OK);
  bp_options_free(options);
  if (!model) {
    ++failures;
    return;
  }
  CHECK_STATUS(bp_model_grad_size(model, &n), BP_OK);
  CHECK(n == 0);
  CHECK_STATUS(bp_model_output_grad_row(model, 0, &n), BP_ERROR_NOT_FOUND);
  CHECK_STATUS(bp_model_gradient(model, in, 3, out, 1, grad, 3), BP_ERROR_NO_GRADIENT);
  CHECK_STATUS(bp_model_forward(model, in, 3, out, 1), BP_OK);
  CHECK(out[0] == 9);
  bp_model_free(model);
}

/* --- four threads, one model ---------------------------------------------------------------------------- */

enum { Threads = 4, Calls = 2000 };

struct Work {
  const bp_model *model;
  double in[9];
  double out[1], grad[6]; /* the serial results to match */
  int mismatches;
};

static void *gradientLoop(void *argument) {
  struct Work *work = (struct Work *)argument;
  int call;
  for (call = 0; call < Calls; ++call) {
    double out[1], grad[6];
    if (bp_model_gradient(work->model, work->in, 9, out, 1, grad, 6) != BP_OK ||
        memcmp(out, work->out, sizeof out) != 0 || memcmp(grad, work->grad, sizeof grad) != 0)
      ++work->mismatches;
  }
  return NULL;
}

static void testThreads(const bp_model *model) {
  struct Work work[Threads];
  pthread_t threads[Threads];
  int t;
  for (t = 0; t < Threads; ++t) {
    work[t].model = model;
    bp_model_defaults(model, work[t].in, 9);
    work[t].in[0] += t; /* each thread its own point */
    work[t].in[5] -= 0.5 * t;
    work[t].mismatches = 0;
    CHECK_STATUS(bp_model_gradient(model, work[t].in, 9, work[t].out, 1, work[t].grad, 6), BP_OK);
  }
  CHECK(memcmp(work[0].grad, work[1].grad, sizeof work[0].grad) != 0); /* the points differ */
  for (t = 0; t < Threads; ++t)
    CHECK(pthread_create(&threads[t], NULL, gradientLoop, &work[t]) == 0);
  for (t = 0; t < Threads; ++t) {
    CHECK(pthread_join(threads[t], NULL) == 0);
    CHECK(work[t].mismatches == 0);
  }
}

int main(int argc, char **argv) {
  bp_model *further;
  if (argc != 2) {
    fprintf(stderr, "usage: %s EXAMPLES_DIR\n", argv[0]);
    return 2;
  }
  testVersionAndStatuses();
  testOptions();
  testNested();
  testNullHandles();
  testCompileErrors(argv[1]);
  testForwardOnly();
  further = testFurther(argv[1]);
  if (further)
    testThreads(further);
  bp_model_free(further);
  if (failures) {
    fprintf(stderr, "%d checks failed\n", failures);
    return 1;
  }
  printf("every check passed\n");
  return 0;
}
