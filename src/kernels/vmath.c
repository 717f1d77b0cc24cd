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
#endif

void rnn__v_sigmoid(float *y, const float *x, long n) {
#if VMATH_HAVE_FMA
    if (vmath_fma()) {
        v_sigmoid_fma(y, x, n);
        return;
    }
#endif
    v_sigmoid(y, x, n);
}

void rnn__v_tanh(float *y, const float *x, long n) {
#if VMATH_HAVE_FMA
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
