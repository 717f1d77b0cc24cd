#include "activations.h"

#include <string.h>

void rnn__act_inplace(rnn_activation a, float *x, long n) {
    if (a == RNN_LINEAR) return;
    for (long i = 0; i < n; i++) x[i] = rnn__act(a, x[i]);
}

void rnn__softmax_rows(float *x, long rows, long cols) {
    for (long r = 0; r < rows; r++) {
        float *v = x + r * cols, mx = v[0];
        for (long j = 1; j < cols; j++) mx = v[j] > mx ? v[j] : mx;
        float sum = 0;
        for (long j = 0; j < cols; j++) sum += (v[j] = expf(v[j] - mx));
        for (long j = 0; j < cols; j++) v[j] /= sum;
    }
}

void rnn__activation_backward(rnn_activation a, const float *y, const float *dy, float *dz,
                              long rows, long cols) {
    if (a == RNN_SOFTMAX) {
        /* dz = y * (dy - sum_j dy_j y_j) per row */
        for (long r = 0; r < rows; r++) {
            const float *yr = y + r * cols, *dr = dy + r * cols;
            float dot = 0;
            for (long j = 0; j < cols; j++) dot += dr[j] * yr[j];
            for (long j = 0; j < cols; j++) dz[r * cols + j] = yr[j] * (dr[j] - dot);
        }
        return;
    }
    for (long i = 0; i < rows * cols; i++) dz[i] = dy[i] * rnn__act_grad(a, y[i]);
}

void rnn__activation_forward(rnn_activation a, float *x, long rows, long cols) {
    if (a == RNN_SOFTMAX) rnn__softmax_rows(x, rows, cols);
    else rnn__act_vec(a, x, rows * cols);
}

static const char *const activation_names[RNN_ACTIVATION_COUNT] = {
    [RNN_LINEAR] = "linear",   [RNN_TANH] = "tanh",       [RNN_SIGMOID] = "sigmoid",
    [RNN_HARD_SIGMOID] = "hard_sigmoid", [RNN_HARD_SIGMOID_LEGACY] = "hard_sigmoid_legacy",
    [RNN_RELU] = "relu",       [RNN_ELU] = "elu",         [RNN_SELU] = "selu",
    [RNN_SOFTPLUS] = "softplus", [RNN_SOFTMAX] = "softmax",
};

int rnn_activation_from_name(const char *name) {
    if (!name) return -1;
    if (strcmp(name, "None") == 0 || strcmp(name, "none") == 0) return RNN_LINEAR;
    for (int i = 0; i < RNN_ACTIVATION_COUNT; i++)
        if (strcmp(name, activation_names[i]) == 0) return i;
    return -1;
}

const char *rnn_activation_name(rnn_activation a) {
    if ((int)a < 0 || a >= RNN_ACTIVATION_COUNT) return "unknown";
    return activation_names[a];
}
