/* Vectorised sigmoid and tanh over arrays: the gates of every recurrent step. glibc's scalar
 * tanhf/expf took 8 to 61 % of the benchmark cases (bench/README.md); these loops use GCC's
 * vector extensions, 8 floats at a time, compiled for AVX2 (chosen at run time) and for the
 * baseline (two SSE halves).
 *
 * exp(x) = 2^k e^r with k = floor(x / ln 2 + 1/2) and r = x - k ln 2 (ln 2 split in two parts),
 * e^r by Cephes's degree-6 polynomial: relative error about 1e-7 (1 to 2 ulp). tanh uses
 * Cephes's odd polynomial for |x| < 0.625 and 1 - 2 / (e^{2|x|} + 1) beyond. Every operation is
 * an IEEE float operation without contraction (-std=c11), so both clones give the same bits. */
#include <stdint.h>
#include <string.h>

#include "kernels/activations.h"

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

#define VMATH_CLONES __attribute__((target_clones("avx2", "default")))

static inline __attribute__((always_inline)) v8f select8(v8i mask, v8f a, v8f b) { /* mask ? a : b, lane by lane */
    v8i r = (mask & (v8i)a) | (~mask & (v8i)b);
    return (v8f)r;
}

static inline __attribute__((always_inline)) v8f exp8(v8f x) {
    const v8f lo = x - x - 87.0f, hi = x - x + 88.0f;
    x = select8(x < lo, lo, x);
    x = select8(x > hi, hi, x);
    v8f fx = x * 1.44269504088896341f + 0.5f;
    v8f k = __builtin_convertvector(__builtin_convertvector(fx, v8i), v8f);
    k = select8(k > fx, k - 1.0f, k); /* floor */
    v8f r = x - k * 0.693359375f + k * 2.12194440e-4f;
    v8f z = r * r;
    v8f p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * z + r + 1.0f;
    v8i bits = (__builtin_convertvector(k, v8i) + 127) << 23;
    return p * (v8f)bits;
}

static inline __attribute__((always_inline)) v8f sigmoid8(v8f x) { return 1.0f / (1.0f + exp8(-x)); }

static inline __attribute__((always_inline)) v8f tanh8(v8f v) {
    v8f a = select8(v < 0.0f, -v, v);
    v8f z = v * v;
    v8f small = ((((z * -5.70498872745e-3f + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                  1.33314422036e-1f) * z - 3.33332819422e-1f) * z * v + v;
    v8f big = 1.0f - 2.0f / (exp8(a + a) + 1.0f);
    big = select8(v < 0.0f, -big, big);
    return select8(a < 0.625f, small, big);
}

/* Full blocks of 8 straight from memory; the tail through a zero-padded block. */
#define VMATH_APPLY(fn, y, x, n)                                                             \
    do {                                                                                      \
        long i = 0;                                                                           \
        for (; i + 8 <= (n); i += 8) {                                                        \
            v8f v;                                                                            \
            memcpy(&v, (x) + i, sizeof v);                                                    \
            v = fn(v);                                                                        \
            memcpy((y) + i, &v, sizeof v);                                                    \
        }                                                                                     \
        if (i < (n)) {                                                                        \
            float buf[8] = {0};                                                               \
            memcpy(buf, (x) + i, sizeof(float) * (size_t)((n) - i));                          \
            v8f v;                                                                            \
            memcpy(&v, buf, sizeof v);                                                        \
            v = fn(v);                                                                        \
            memcpy(buf, &v, sizeof v);                                                        \
            memcpy((y) + i, buf, sizeof(float) * (size_t)((n) - i));                          \
        }                                                                                     \
    } while (0)

VMATH_CLONES
void rnn__v_sigmoid(float *y, const float *x, long n) { VMATH_APPLY(sigmoid8, y, x, n); }

VMATH_CLONES
void rnn__v_tanh(float *y, const float *x, long n) { VMATH_APPLY(tanh8, y, x, n); }

void rnn__act_vec(rnn_activation a, float *x, long n) {
    if (a == RNN_SIGMOID) rnn__v_sigmoid(x, x, n);
    else if (a == RNN_TANH) rnn__v_tanh(x, x, n);
    else rnn__act_inplace(a, x, n);
}
