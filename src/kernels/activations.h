/* Element-wise activations with Keras's exact formulas, and their derivatives written in terms
 * of the activation's OUTPUT y = f(x), which is what the backward passes keep. Every activation
 * here has a derivative that is a function of y alone. */
#ifndef RNN_ACTIVATIONS_H
#define RNN_ACTIVATIONS_H

#include <math.h>

#include "rnn.h"

#define RNN_SELU_ALPHA 1.6732632423543772f
#define RNN_SELU_SCALE 1.0507009873554805f

static inline float rnn__sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

static inline float rnn__act(rnn_activation a, float x) {
    switch (a) {
    case RNN_LINEAR: return x;
    case RNN_TANH: return tanhf(x);
    case RNN_SIGMOID: return rnn__sigmoid(x);
    case RNN_HARD_SIGMOID: { /* Keras 3: relu6(x + 3) / 6 */
        float t = x + 3.0f;
        t = t < 0.0f ? 0.0f : (t > 6.0f ? 6.0f : t);
        return t / 6.0f;
    }
    case RNN_HARD_SIGMOID_LEGACY: { /* Keras 1/2, tf.keras: clip(0.2x + 0.5, 0, 1) */
        float t = 0.2f * x + 0.5f;
        return t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
    }
    case RNN_RELU: return x > 0.0f ? x : 0.0f;
    case RNN_ELU: return x > 0.0f ? x : expm1f(x);
    case RNN_SELU: return x > 0.0f ? RNN_SELU_SCALE * x : RNN_SELU_SCALE * RNN_SELU_ALPHA * expm1f(x);
    case RNN_SOFTPLUS: return x > 20.0f ? x : log1pf(expf(x));
    default: return x;
    }
}

/* f'(x) given y = f(x). Saturated hard_sigmoid and relu at 0 give 0, as TensorFlow's gradients. */
static inline float rnn__act_grad(rnn_activation a, float y) {
    switch (a) {
    case RNN_LINEAR: return 1.0f;
    case RNN_TANH: return 1.0f - y * y;
    case RNN_SIGMOID: return y * (1.0f - y);
    case RNN_HARD_SIGMOID: return (y > 0.0f && y < 1.0f) ? 1.0f / 6.0f : 0.0f;
    case RNN_HARD_SIGMOID_LEGACY: return (y > 0.0f && y < 1.0f) ? 0.2f : 0.0f;
    case RNN_RELU: return y > 0.0f ? 1.0f : 0.0f;
    case RNN_ELU: return y > 0.0f ? 1.0f : y + 1.0f;
    case RNN_SELU: return y > 0.0f ? RNN_SELU_SCALE : y + RNN_SELU_SCALE * RNN_SELU_ALPHA;
    case RNN_SOFTPLUS: return -expm1f(-y); /* sigmoid(x) = 1 - exp(-softplus(x)) */
    default: return 1.0f;
    }
}

/* y[i] = f(x[i]) in place over n values (element-wise activations). */
void rnn__act_inplace(rnn_activation a, float *x, long n);
/* Vectorised sigmoid and tanh (kernels/vmath.c): y may equal x. */
void rnn__v_sigmoid(float *y, const float *x, long n);
void rnn__v_tanh(float *y, const float *x, long n);
/* 0 (the default): vmath.c and gates.c use their AVX-512 variant (16 lanes) where the CPU has
 * it, else their AVX2+FMA one where it has that; 1: the portable variant everywhere; 2: the
 * 8-lane AVX2+FMA variant even on AVX-512 CPUs (tests set it to check each; not for concurrent
 * use). */
extern int rnn__vmath_portable;
/* Any element-wise activation over n values in place, vectorised for sigmoid and tanh. */
void rnn__act_vec(rnn_activation a, float *x, long n);
/* Softmax over each row of a (rows, cols) array, in place: exp(x - max) / sum. */
void rnn__softmax_rows(float *x, long rows, long cols);
/* Any activation, softmax included, over (rows, cols) in place. */
void rnn__activation_forward(rnn_activation a, float *x, long rows, long cols);
/* dz = dL/dx from dy = dL/dy and the outputs y, over (rows, cols). */
void rnn__activation_backward(rnn_activation a, const float *y, const float *dy, float *dz,
                              long rows, long cols);

#endif
