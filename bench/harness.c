/* harness.c: the timing loop shared by every column of the benchmark.
 *
 * One source for all columns: the C column (gcc -O2 of the generated straight-line C) and the bp object column
 * (`bpc build -O2`) compile this file with -DBENCH_PREFIX=name -DBENCH_NUM_IN=n -DBENCH_NUM_OUT=m, which adds
 * a main() that calls name_forward / name_gradient; the JIT and ADOL-C columns link it without BENCH_PREFIX
 * and pass their own function pointers to run_benchmark(). The functions under test always live in another
 * translation unit (or in JIT-compiled memory) and are called through pointers, so none is inlined here.
 */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *values, int count) {
  qsort(values, (size_t)count, sizeof *values, compare_doubles);
  return count % 2 ? values[count / 2] : 0.5 * (values[count / 2 - 1] + values[count / 2]);
}

/* The pointers are read through volatile so that the compiler can assume nothing about the callee. */
static double time_forward(bp_forward_fn volatile forward, const double *in, double *out, long calls) {
  double start = bench_now();
  for (long i = 0; i < calls; ++i)
    forward(in, out);
  return bench_now() - start;
}

static double time_gradient(bp_gradient_fn volatile gradient, const double *in, double *out, double *grad,
                            long calls) {
  double start = bench_now();
  for (long i = 0; i < calls; ++i)
    gradient(in, out, grad);
  return bench_now() - start;
}

/* The smallest power of two of calls that takes at least min_seconds (both kinds, measured after a warm-up). */
static long calibrate_forward(bp_forward_fn f, const double *in, double *out, double min_seconds) {
  long calls = 1;
  while (time_forward(f, in, out, calls) < min_seconds && calls < (1L << 40))
    calls *= 2;
  return calls;
}

static long calibrate_gradient(bp_gradient_fn g, const double *in, double *out, double *grad, double min_seconds) {
  long calls = 1;
  while (time_gradient(g, in, out, grad, calls) < min_seconds && calls < (1L << 40))
    calls *= 2;
  return calls;
}

void run_benchmark(bp_forward_fn forward, bp_gradient_fn gradient, int num_in, int num_out, const double *in,
                   int reps, double min_seconds) {
  double *out = calloc((size_t)num_out, sizeof *out);
  double *grad = calloc((size_t)num_out * (size_t)num_in, sizeof *grad);
  double *forward_ns = calloc((size_t)reps, sizeof *forward_ns);
  double *gradient_ns = calloc((size_t)reps, sizeof *gradient_ns);
  double *sorted = calloc((size_t)reps, sizeof *sorted);
  if (!out || !grad || !forward_ns || !gradient_ns || !sorted) {
    fprintf(stderr, "harness: out of memory\n");
    exit(1);
  }

  forward(in, out); /* warm-up: page in code and data */
  gradient(in, out, grad);
  long forward_calls = calibrate_forward(forward, in, out, min_seconds);
  long gradient_calls = calibrate_gradient(gradient, in, out, grad, min_seconds);
  for (int r = 0; r < reps; ++r) { /* interleaved, so that a slow patch of the machine hits both */
    forward_ns[r] = 1e9 * time_forward(forward, in, out, forward_calls) / (double)forward_calls;
    gradient_ns[r] = 1e9 * time_gradient(gradient, in, out, grad, gradient_calls) / (double)gradient_calls;
  }

  memcpy(sorted, forward_ns, (size_t)reps * sizeof *sorted);
  printf("forward_ns %.6g\n", median(sorted, reps));
  memcpy(sorted, gradient_ns, (size_t)reps * sizeof *sorted);
  printf("gradient_ns %.6g\n", median(sorted, reps));
  printf("forward_all");
  for (int r = 0; r < reps; ++r)
    printf(" %.6g", forward_ns[r]);
  printf("\ngradient_all");
  for (int r = 0; r < reps; ++r)
    printf(" %.6g", gradient_ns[r]);
  printf("\ncalls %ld %ld\n", forward_calls, gradient_calls);

  /* The values, from fresh calls: forward's outputs, then the gradient call's outputs and gradient. */
  memset(out, 0, (size_t)num_out * sizeof *out);
  forward(in, out);
  for (int o = 0; o < num_out; ++o)
    printf("forward_out %d %.17g %a\n", o, out[o], out[o]);
  memset(out, 0, (size_t)num_out * sizeof *out);
  memset(grad, 0, (size_t)num_out * (size_t)num_in * sizeof *grad);
  gradient(in, out, grad);
  for (int o = 0; o < num_out; ++o)
    printf("out %d %.17g %a\n", o, out[o], out[o]);
  for (int o = 0; o < num_out; ++o)
    for (int i = 0; i < num_in; ++i) {
      double g = grad[(size_t)o * (size_t)num_in + (size_t)i];
      printf("grad %d %d %.17g %a\n", o, i, g, g);
    }
  fflush(stdout);
  free(out);
  free(grad);
  free(forward_ns);
  free(gradient_ns);
  free(sorted);
}

int bench_read_inputs(const char *path, double *in, int count) {
  FILE *file = fopen(path, "r");
  if (!file) {
    perror(path);
    return -1;
  }
  for (int i = 0; i < count; ++i)
    if (fscanf(file, "%lf", &in[i]) != 1) {
      fprintf(stderr, "%s: expected %d numbers, found %d\n", path, count, i);
      fclose(file);
      return -1;
    }
  double extra;
  int more = fscanf(file, "%lf", &extra) == 1;
  fclose(file);
  if (more) {
    fprintf(stderr, "%s: more than the %d numbers expected\n", path, count);
    return -1;
  }
  return 0;
}

int bench_parse_options(int argc, char **argv, int first, int *reps, double *min_seconds) {
  for (int i = first; i < argc; ++i) {
    if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      *reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--min-time") && i + 1 < argc)
      *min_seconds = atof(argv[++i]);
    else {
      fprintf(stderr, "unknown argument '%s'\n", argv[i]);
      return -1;
    }
  }
  if (*reps < 1)
    *reps = 1;
  return 0;
}

int bench_main(int argc, char **argv, bp_forward_fn forward, bp_gradient_fn gradient, int num_in, int num_out) {
  int reps = 7;
  double min_seconds = 0.05;
  if (argc < 2 || bench_parse_options(argc, argv, 2, &reps, &min_seconds)) {
    fprintf(stderr, "usage: %s INPUTS.in [--reps R] [--min-time SECONDS]\n", argv[0]);
    return 2;
  }
  double *in = calloc((size_t)num_in, sizeof *in);
  if (!in || bench_read_inputs(argv[1], in, num_in))
    return 1;
  run_benchmark(forward, gradient, num_in, num_out, in, reps, min_seconds);
  free(in);
  return 0;
}

#ifdef BENCH_PREFIX
#define BENCH_CAT2(a, b) a##b
#define BENCH_CAT(a, b) BENCH_CAT2(a, b)
void BENCH_CAT(BENCH_PREFIX, _forward)(const double *in, double *out);
void BENCH_CAT(BENCH_PREFIX, _gradient)(const double *in, double *out, double *grad);

int main(int argc, char **argv) {
  return bench_main(argc, argv, BENCH_CAT(BENCH_PREFIX, _forward), BENCH_CAT(BENCH_PREFIX, _gradient),
                    BENCH_NUM_IN, BENCH_NUM_OUT);
}
#endif
