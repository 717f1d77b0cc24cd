/* 8-lane sigmoid and tanh on GCC vector types, shared by vmath.c (over arrays) and gates.c
 * (inside the fused LSTM/GRU cell passes), so both compute the same bits. Include only from
 * files compiled with the same flags and cloned with VMATH_CLONES. Formulas and error: vmath.c. */
#ifndef RNN_VMATH8_H
#define RNN_VMATH8_H

#include <stdint.h>
#include <string.h>

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

/* RNN_NO_CLONES (the clang fuzz build, compiled with -mavx2): one plain copy. clang 14 emits
 * no dispatcher for a cloned function that other files call through an unattributed
 * declaration, so the link fails there. */
#ifdef RNN_NO_CLONES
#define VMATH_CLONES
#else
#define VMATH_CLONES __attribute__((target_clones("avx2", "default")))
#endif

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

/* n < 8 floats through a zero-padded vector (the tails of rows whose width is not a multiple
 * of 8). */
static inline __attribute__((always_inline)) v8f load_n(const float *p, int n) {
    float buf[8] = {0};
    memcpy(buf, p, sizeof(float) * (size_t)n);
    v8f v;
    memcpy(&v, buf, sizeof v);
    return v;
}
static inline __attribute__((always_inline)) void store_n(float *p, v8f v, int n) {
    float buf[8];
    memcpy(buf, &v, sizeof v);
    memcpy(p, buf, sizeof(float) * (size_t)n);
}

#endif
