#include "activations.h"

#include <string.h>

void rnn__act_inplace(rnn_activation a, float *x, long n) {
    if (a == RNN_LINEAR) return;
    for (long i = 0; i < n; i++) x[i] = rnn__act(a, x[i]);
}

static const char *const activation_names[RNN_ACTIVATION_COUNT] = {
    [RNN_LINEAR] = "linear",   [RNN_TANH] = "tanh",       [RNN_SIGMOID] = "sigmoid",
    [RNN_HARD_SIGMOID] = "hard_sigmoid", [RNN_HARD_SIGMOID_LEGACY] = "hard_sigmoid_legacy",
    [RNN_RELU] = "relu",       [RNN_ELU] = "elu",         [RNN_SELU] = "selu",
    [RNN_SOFTPLUS] = "softplus",
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
