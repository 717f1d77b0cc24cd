/* The model: an ordered list of layers (Sequential), its parameter and gradient arrays, the
 * compile settings, and the buffers for one batch. Internal to the library. */
#ifndef RNN_MODEL_H
#define RNN_MODEL_H

#include "error.h"
#include "layers/layer.h"
#include "memory.h"
#include "rng.h"

typedef enum { RNN_LOSS_MSE = 0, RNN_LOSS_MAE } rnn_loss_kind;

struct rnn_model {
    char name[RNN_NAME_MAX];
    char error[RNN_ERROR_MAX];
    rnn_rng rng;

    int has_input;
    rnn_shape input;
    rnn_layer **layers;
    int n_layers, layers_capacity;

    /* Parameters of all layers, back to back in get_weights order; grads alike. */
    int built_layers; /* layers [0, built_layers) have weights */
    int64_t n_params;
    float *params, *grads;

    int compiled;
    rnn_loss_kind loss;
    rnn_optimizer optimizer;
    float *opt_m, *opt_v; /* Adam moments / SGD velocity, n_params each */
    int64_t iterations;

    /* One batch: inputs, targets and the loss gradient; planned like a layer's buffers. */
    rnn_workspace ws;
    float *batch_x, *batch_y, *dloss;
};

/* Records the thread's last message on the model and returns status. */
rnn_status rnn__model_fail(rnn_model *m, rnn_status status);
/* Allocates and initialises the weights of layers added since the last build. */
rnn_status rnn__model_build(rnn_model *m);
/* Runs the layers on x (shape checked by the caller) and returns the last layer's output. */
rnn_status rnn__model_forward(rnn_model *m, const rnn_tensor *x, rnn_run_mode mode,
                              const rnn_tensor **out);
/* Backward from dloss (the gradient with respect to the model output); adds into m->grads. */
void rnn__model_backward(rnn_model *m, const rnn_tensor *x, float *dloss);
/* Fixed batch size from stateful layers (0 if none). */
int64_t rnn__model_stateful_batch(const rnn_model *m);
/* The output shape for an input with `steps` steps (steps replaces an unknown step count). */
rnn_shape rnn__model_output_shape(const rnn_model *m, int64_t batch, int64_t steps);

#endif
