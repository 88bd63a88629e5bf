/* matmul_harness.c: bp's `@` (compiled as `bpc build -O2` does) against OpenBLAS's dgemm on the same matrices.
 *
 * Compiled by matmul.py with -DMM_N=n -DMM_FORWARD=prefix_forward and linked with harness.c (its clock), the
 * object of bp's forward function and -lopenblas. Both products are timed the same way (a warm-up call, calls
 * per repetition doubled until one repetition takes min_seconds, then the median over the repetitions, bp and
 * dgemm interleaved), and bp's result is compared bit for bit with a plain C product that adds each element's
 * products in k order from +0 (what bp promises), and to dgemm's within a relative tolerance (dgemm adds in
 * another order, with FMA). Prints one line: `n bp_ns blas_ns bit_equal elements max_rel_diff_to_blas`.
 */
#include "harness.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N ((long)MM_N)

void MM_FORWARD(const double *in, double *out);

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static const double *A, *B;
static double *in, *out, *blas;

static void bp_product(void) { MM_FORWARD(in, out); }

static void blas_product(void) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0, A, N, B, N, 0.0, blas, N);
}

static double time_calls(void (*volatile product)(void), long calls) {
  double start = bench_now();
  for (long c = 0; c < calls; ++c)
    product();
  return bench_now() - start;
}

static long calibrate(void (*product)(void), double min_seconds) {
  long calls = 1;
  while (time_calls(product, calls) < min_seconds && calls < (1L << 30))
    calls *= 2;
  return calls;
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 7;
  double min_seconds = argc > 2 ? atof(argv[2]) : 0.05;
  in = malloc(2 * N * N * sizeof *in);
  out = malloc(N * N * sizeof *out);
  blas = malloc(N * N * sizeof *blas);
  double *reference = calloc(N * N, sizeof *reference);
  double *bp_ns = malloc(reps * sizeof *bp_ns), *blas_ns = malloc(reps * sizeof *blas_ns);
  if (!in || !out || !blas || !reference || !bp_ns || !blas_ns) {
    fprintf(stderr, "matmul_harness: out of memory\n");
    return 1;
  }
  unsigned long long state = 88172645463325252ULL; /* xorshift64: uniform in [-1, 1) */
  for (long e = 0; e < 2 * N * N; ++e) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    in[e] = (double)(state >> 11) * 0x1p-52 - 1.0;
  }
  A = in, B = in + N * N;

  bp_product(), blas_product(); /* warm-up */
  long bp_calls = calibrate(bp_product, min_seconds), blas_calls = calibrate(blas_product, min_seconds);
  for (int r = 0; r < reps; ++r) { /* interleaved, so that a slow patch of the machine hits both */
    bp_ns[r] = time_calls(bp_product, bp_calls) / bp_calls * 1e9;
    blas_ns[r] = time_calls(blas_product, blas_calls) / blas_calls * 1e9;
  }
  qsort(bp_ns, reps, sizeof *bp_ns, compare_doubles);
  qsort(blas_ns, reps, sizeof *blas_ns, compare_doubles);

  /* i, k, j: each reference[i][j] adds A[i][k] * B[k][j] in k order from +0 (built with -ffp-contract=off) */
  for (long i = 0; i < N; ++i)
    for (long k = 0; k < N; ++k)
      for (long j = 0; j < N; ++j)
        reference[i * N + j] += A[i * N + k] * B[k * N + j];
  long same = 0;
  double max_rel = 0;
  for (long e = 0; e < N * N; ++e) {
    same += memcmp(&out[e], &reference[e], sizeof *out) == 0;
    double scale = fmax(fabs(out[e]), fabs(blas[e]));
    if (scale > 0 && fabs(out[e] - blas[e]) / scale > max_rel)
      max_rel = fabs(out[e] - blas[e]) / scale;
  }
  printf("%ld %.6g %.6g %ld %ld %.3g\n", N, bp_ns[reps / 2], blas_ns[reps / 2], same, N * N, max_rel);
  return 0;
}
