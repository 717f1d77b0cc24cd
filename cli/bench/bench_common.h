/* What `rnn bench` and the C and C++ peers (bench/peers/, built without librnn) share, so that
 * they measure alike: the median of the repetitions, and the seeded data.
 *
 * The seeded data (bench/README.md, "Same definitions everywhere"): value i of
 * stream `seed` is splitmix64(seed, i) cut to 24 bits, k / 2^24 in [0, 1), mapped to [-1, 1) and
 * scaled; exact in float32 (and in numpy, tools/bench_*.py). */
#ifndef RNN_BENCH_COMMON_H
#define RNN_BENCH_COMMON_H

#include <stdint.h>
#include <stdlib.h>

static inline int bench_cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of n values (sorts them in place). */
static inline double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static inline uint64_t seeded_splitmix64_at(uint64_t seed, uint64_t i) {
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline void seeded_uniform(float *out, int64_t n, uint64_t seed, float scale) {
    for (int64_t i = 0; i < n; i++) {
        const float u = (float)(seeded_splitmix64_at(seed, (uint64_t)i) >> 40) * (1.0f / 16777216.0f);
        out[i] = (2.0f * u - 1.0f) * scale;
    }
}

#endif
