/* The benchmark suite's seeded data (bench/README.md, "Same definitions everywhere"): value i of
 * stream `seed` is splitmix64(seed, i) cut to 24 bits, k / 2^24 in [0, 1), mapped to [-1, 1) and
 * scaled; exact in float32 (and in numpy, tools/bench_*.py). One definition for `rnn bench` and
 * the C and C++ peers (bench/peers/), which are built without librnn. */
#ifndef RNN_BENCH_SEEDED_UNIFORM_H
#define RNN_BENCH_SEEDED_UNIFORM_H

#include <stdint.h>

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
