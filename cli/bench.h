/* `rnn bench`: the benchmark cases of issue 5 (B1..B6), run through the public API, each
 * printing one JSON line with its metrics and peak resident memory. bench/README.md describes
 * the cases; bench/run.sh runs them beside the PyTorch and Keras versions in tools/. */
#ifndef RNN_BENCH_H
#define RNN_BENCH_H

#include <stdint.h>

/* The `rnn bench CASE [--threads N] [--reps N]` command line. Returns the exit status: 0 after
 * printing the JSON line, 1 if the case failed or is not supported yet, 2 on a usage error. */
int bench_main(int argc, char **argv);

/* Uniform floats in [-1, 1) from splitmix64: value i is a function of (seed, i) alone, so the
 * Python peers (tools/bench_*.py) generate bit-identical data with vectorised numpy. */
void bench_uniform(float *out, int64_t n, uint64_t seed, float scale);

#endif
