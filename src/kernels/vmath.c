/* Vectorised sigmoid and tanh over arrays: the gates of every recurrent step. glibc's scalar
 * tanhf/expf took 8 to 61 % of the benchmark cases (bench/README.md); these loops use GCC's
 * vector extensions (vmath8.h), 32 floats at a time, in variants chosen at run time: AVX-512
 * (64 floats at a time, the variant gates.c uses there) and AVX2, both with explicit FMA and
 * the same bits for every non-NaN input, where the CPU has them, and the portable code (cloned
 * for AVX2 and the baseline, two SSE halves; no contraction, -std=c11, so those two clones give
 * the same bits).
 *
 * exp(x) = 2^k e^r with k = round(x / ln 2) and r = x - k ln 2 (ln 2 split in two parts),
 * e^r - 1 = r + r^2 P(r) with Cephes's degree-5 P, 2^k added to the exponent bits.
 * sigmoid(x) = 1 / (1 + e^-x); tanh|x| = m / (m + 2) with m = e^{2|x|} - 1 (k >= 0, no
 * cancellation), sign restored. Measured against double references over the whole float range
 * (tests/test_kernels.c): sigmoid at most 2.5 ulp, tanh 2.2 ulp (the earlier tanh, a small-x
 * polynomial and the exponential both computed for every lane, 1.25 ulp); tanh exactly +-1 from
 * |x| = 10, sigmoid 1 exactly from x = 17 and about 6e-39 below x = -88; finite for every finite
 * input, NaN kept (every payload: the sigmoid's step that adds k to the exponent bits turned NaNs
 * whose low payload bits were not 0 into 1 before the NaN was put back at the end). */
#include <stdint.h>
#include <string.h>

#include "kernels/activations.h"
#include "kernels/vmath8.h"

int rnn__vmath_portable;

VMATH_CLONES
static void v_sigmoid(float *y, const float *x, long n) { apply8(y, x, n, 0); }

VMATH_CLONES
static void v_tanh(float *y, const float *x, long n) { apply8(y, x, n, 1); }

#if VMATH_HAVE_FMA
VMATH_FMA_ATTR static void v_sigmoid_fma(float *y, const float *x, long n) {
    apply8_fma(y, x, n, 0);
}
VMATH_FMA_ATTR static void v_tanh_fma(float *y, const float *x, long n) { apply8_fma(y, x, n, 1); }
/* 16 lanes where the CPU has AVX-512F: the variant gates.c's passes use there, so the layers'
 * general loops and the fused passes still give the same bits (NaN included). */
VMATH_512_ATTR static void v_sigmoid_512(float *y, const float *x, long n) {
    apply16_512(y, x, n, 0);
}
VMATH_512_ATTR static void v_tanh_512(float *y, const float *x, long n) {
    apply16_512(y, x, n, 1);
}
#endif

void rnn__v_sigmoid(float *y, const float *x, long n) {
#if VMATH_HAVE_FMA
    if (vmath_512()) {
        v_sigmoid_512(y, x, n);
        return;
    }
    if (vmath_fma()) {
        v_sigmoid_fma(y, x, n);
        return;
    }
#endif
    v_sigmoid(y, x, n);
}

void rnn__v_tanh(float *y, const float *x, long n) {
#if VMATH_HAVE_FMA
    if (vmath_512()) {
        v_tanh_512(y, x, n);
        return;
    }
    if (vmath_fma()) {
        v_tanh_fma(y, x, n);
        return;
    }
#endif
    v_tanh(y, x, n);
}

void rnn__act_vec(rnn_activation a, float *x, long n) {
    if (a == RNN_SIGMOID) rnn__v_sigmoid(x, x, n);
    else if (a == RNN_TANH) rnn__v_tanh(x, x, n);
    else rnn__act_inplace(a, x, n);
}
