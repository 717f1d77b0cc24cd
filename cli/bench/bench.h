/* `rnn bench`: the benchmark cases of issue 5 (B1..B6), run through the public API, each
 * printing one JSON line with its metrics and peak resident memory. bench/README.md describes
 * the cases; bench/run.sh runs them beside the PyTorch and Keras versions in tools/. */
#ifndef RNN_BENCH_H
#define RNN_BENCH_H

#include <stdint.h>

/* The `rnn bench CASE [--threads N] [--reps N] [--precision P]` command line. Returns the exit status: 0 after
 * printing the JSON line, 1 if the case failed or is not supported yet, 2 on a usage error. */
int bench_main(int argc, char **argv);

typedef struct {
    const char *name;
    int threads; /* 0: the library's default */
    int reps;
    int precision; /* rnn_precision of B5's streaming weights (rnn_set_precision) */
} bench_args;
/* bench_main's options apart from the work (fuzz/fuzz_cli_args.c calls it): -1 when the case
 * should run with *args filled, else the exit status (0 after --help, 2 after an error). */
int bench_parse(int argc, char **argv, bench_args *args);

/* The JSON line's first fields (impl, version, case, threads, reps) and its end (peak_rss_mb). */
void bench_print_head(const bench_args *a);
void bench_print_tail(void);

/* `rnn bench ceilings` (bench_ceilings.c): the machine's FMA peak and the time to read B5's
 * weights once on --threads threads. */
int bench_ceilings(const bench_args *a);

/* Uniform floats in [-1, 1) from splitmix64: value i is a function of (seed, i) alone, so the
 * Python peers (tools/bench_*.py) generate bit-identical data with vectorised numpy. */
void bench_uniform(float *out, int64_t n, uint64_t seed, float scale);

#endif
