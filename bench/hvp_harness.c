/* hvp_harness.c: times a script's PREFIX_gradient and PREFIX_hvp (`bpc build --emit-fn gradient,hvp`) in one
 * process, and checks PREFIX_hvp against central differences of PREFIX_gradient (see bench/README.md, hvp.py).
 *
 * Compiled with -DBENCH_PREFIX=name -DBENCH_NUM_IN=n -DBENCH_NUM_OUT=m and linked with harness.c (the clock, the
 * inputs, the options) and the object. The script's first output is the one differentiated (hvp.py's workloads
 * have one); v is fixed pseudo-random in [-1, 1). Prints, one item a line:
 *   gradient_ns MEDIAN / hvp_ns MEDIAN / gradient_all T... / hvp_all T... / calls G H
 *   max_err E (the largest |hv[i] - fd[i]| / max(1, |hv|max), fd the central difference of the gradient along v)
 */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_CAT2(a, b) a##b
#define BENCH_CAT(a, b) BENCH_CAT2(a, b)
void BENCH_CAT(BENCH_PREFIX, _gradient)(const double *in, double *out, double *grad);
void BENCH_CAT(BENCH_PREFIX, _hvp)(const double *in, const double *v, double *out, double *hv);

typedef void (*gradient_fn)(const double *, double *, double *);
typedef void (*hvp_fn)(const double *, const double *, double *, double *);

enum { NUM_IN = BENCH_NUM_IN, NUM_OUT = BENCH_NUM_OUT };

/* The pointers are read through volatile so that the compiler can assume nothing about the callee. */
static double time_gradient(gradient_fn volatile f, const double *in, double *out, double *grad, long calls) {
  double start = bench_now();
  for (long i = 0; i < calls; ++i)
    f(in, out, grad);
  return bench_now() - start;
}

static double time_hvp(hvp_fn volatile f, const double *in, const double *v, double *out, double *hv, long calls) {
  double start = bench_now();
  for (long i = 0; i < calls; ++i)
    f(in, v, out, hv);
  return bench_now() - start;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(const double *values, int count) {
  double *sorted = malloc((size_t)count * sizeof *sorted);
  memcpy(sorted, values, (size_t)count * sizeof *sorted);
  qsort(sorted, (size_t)count, sizeof *sorted, compare_doubles);
  double m = count % 2 ? sorted[count / 2] : 0.5 * (sorted[count / 2 - 1] + sorted[count / 2]);
  free(sorted);
  return m;
}

/* The largest error of hv against (grad(in + h v) - grad(in - h v)) / 2h, row 0 of the gradient. */
static double central_difference_error(gradient_fn gradient, const double *in, const double *v, const double *hv) {
  static double plus[NUM_IN], minus[NUM_IN], out[NUM_OUT], grad_plus[NUM_OUT * NUM_IN], grad_minus[NUM_OUT * NUM_IN];
  const double h = 1e-5;
  for (int i = 0; i < NUM_IN; ++i) {
    plus[i] = in[i] + h * v[i];
    minus[i] = in[i] - h * v[i];
  }
  gradient(plus, out, grad_plus);
  gradient(minus, out, grad_minus);
  double scale = 1, err = 0;
  for (int i = 0; i < NUM_IN; ++i)
    scale = fmax(scale, fabs(hv[i]));
  for (int i = 0; i < NUM_IN; ++i)
    err = fmax(err, fabs(hv[i] - (grad_plus[i] - grad_minus[i]) / (2 * h)) / scale);
  return err;
}

int main(int argc, char **argv) {
  static double in[NUM_IN], v[NUM_IN], hv[NUM_IN], out[NUM_OUT], grad[NUM_OUT * NUM_IN];
  int reps = 7;
  double min_seconds = 0.05;
  if (argc < 2 || bench_parse_options(argc, argv, 2, &reps, &min_seconds)) {
    fprintf(stderr, "usage: %s INPUTS.in [--reps R] [--min-time SECONDS]\n", argv[0]);
    return 2;
  }
  if (bench_read_inputs(argv[1], in, NUM_IN))
    return 1;
  unsigned long state = 12345;
  for (int i = 0; i < NUM_IN; ++i) { /* a fixed direction in [-1, 1) */
    state = state * 6364136223846793005ul + 1442695040888963407ul;
    v[i] = (double)(state >> 11) / 9007199254740992.0 * 2 - 1;
  }
  gradient_fn gradient = BENCH_CAT(BENCH_PREFIX, _gradient);
  hvp_fn hvp = BENCH_CAT(BENCH_PREFIX, _hvp);
  gradient(in, out, grad); /* warm-up: page in code and data */
  hvp(in, v, out, hv);
  long gradient_calls = 1, hvp_calls = 1; /* the smallest powers of two that take min_seconds */
  while (time_gradient(gradient, in, out, grad, gradient_calls) < min_seconds && gradient_calls < (1L << 40))
    gradient_calls *= 2;
  while (time_hvp(hvp, in, v, out, hv, hvp_calls) < min_seconds && hvp_calls < (1L << 40))
    hvp_calls *= 2;
  double *gradient_ns = calloc((size_t)reps, sizeof *gradient_ns), *hvp_ns = calloc((size_t)reps, sizeof *hvp_ns);
  if (!gradient_ns || !hvp_ns)
    return 1;
  for (int r = 0; r < reps; ++r) { /* interleaved, so that a slow patch of the machine hits both */
    gradient_ns[r] = 1e9 * time_gradient(gradient, in, out, grad, gradient_calls) / (double)gradient_calls;
    hvp_ns[r] = 1e9 * time_hvp(hvp, in, v, out, hv, hvp_calls) / (double)hvp_calls;
  }
  printf("gradient_ns %.6g\nhvp_ns %.6g\ngradient_all", median(gradient_ns, reps), median(hvp_ns, reps));
  for (int r = 0; r < reps; ++r)
    printf(" %.6g", gradient_ns[r]);
  printf("\nhvp_all");
  for (int r = 0; r < reps; ++r)
    printf(" %.6g", hvp_ns[r]);
  printf("\ncalls %ld %ld\n", gradient_calls, hvp_calls);
  hvp(in, v, out, hv);
  printf("max_err %.3g\n", central_difference_error(gradient, in, v, hv));
  free(gradient_ns);
  free(hvp_ns);
  return 0;
}
