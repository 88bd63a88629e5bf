/* harness.h: the timing loop shared by every column of the benchmark (see bench/README.md). */
#ifndef BP_BENCH_HARNESS_H
#define BP_BENCH_HARNESS_H

#include "bp_model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Times forward and gradient, interleaving `reps` repetitions of each; a repetition calls the function in a
 * loop for at least `min_seconds` (the call count is calibrated once, before the first repetition). Prints
 * the median per-call times, every repetition's time, the outputs and the gradient, one item a line:
 *   forward_ns MEDIAN / gradient_ns MEDIAN / forward_all T... / gradient_all T... / calls F G
 *   out I VALUE HEX / grad O I VALUE HEX        (VALUE as %.17g, HEX as %a, from one gradient call) */
void run_benchmark(bp_forward_fn forward, bp_gradient_fn gradient, int num_in, int num_out, const double *in,
                   int reps, double min_seconds);

/* Reads `count` numbers, one a line, from `path` into `in`; returns 0, or prints why and returns -1. */
int bench_read_inputs(const char *path, double *in, int count);

/* The usual command line: INPUTS.in [--reps R] [--min-time SECONDS]; reads the inputs, runs the benchmark. */
int bench_main(int argc, char **argv, bp_forward_fn forward, bp_gradient_fn gradient, int num_in, int num_out);

/* Parses --reps and --min-time out of argv[first..argc); returns 0, or -1 on an unknown argument. */
int bench_parse_options(int argc, char **argv, int first, int *reps, double *min_seconds);

/* Seconds on a monotonic clock. */
double bench_now(void);

#ifdef __cplusplus
}
#endif

#endif
