/* Explicit-state random generator (xoshiro256**, seeded through splitmix64) and Keras's weight
 * initializers. Every model owns one generator: no global state, same seed -> same numbers. */
#ifndef RNN_RNG_H
#define RNN_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} rnn_rng;

void rnn__rng_seed(rnn_rng *r, uint64_t seed);
uint64_t rnn__rng_next(rnn_rng *r);
double rnn__rng_uniform(rnn_rng *r);   /* [0, 1) with 53 random bits */
double rnn__rng_normal(rnn_rng *r);    /* N(0, 1) */
/* Uniform integer in [0, n), unbiased. */
uint64_t rnn__rng_below(rnn_rng *r, uint64_t n);

/* glorot_uniform for a (fan_in, fan_out) matrix: U(-L, L), L = sqrt(6 / (fan_in + fan_out)). */
void rnn__init_glorot_uniform(rnn_rng *r, float *w, int64_t fan_in, int64_t fan_out);
/* orthogonal(gain=1) for a (rows, cols) matrix, as Keras: QR of a normal (max, min) matrix,
 * signs fixed by diag(R), transposed when rows < cols. Returns 0, or -1 if out of memory. */
int rnn__init_orthogonal(rnn_rng *r, float *w, int64_t rows, int64_t cols);

#endif
