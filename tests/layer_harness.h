/* Runs one layer on its own, outside a model, for gradient checks and reference comparisons:
 * the layer gets private weight and gradient arrays, random weights (biases too, so bias bugs
 * show) and random inputs. Loss for gradient checks: L = sum_k sum_i c_k[i] y_k[i] over every
 * output k with fixed random coefficients c, computed in double. */
#ifndef RNN_TEST_LAYER_HARNESS_H
#define RNN_TEST_LAYER_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layer.h"
#include "layers/recurrent.h"
#include "rng.h"

typedef struct {
    rnn_layer *layer;
    float *params, *grads;
    int64_t n_params;
    rnn_tensor x;
    float *coef[RNN_LAYER_MAX_OUTPUTS];
    rnn_rng rng;
    int B, T;
} harness;

static inline float harness_uniform(rnn_rng *r, float lo, float hi) {
    return lo + (hi - lo) * (float)rnn__rng_uniform(r);
}

/* Configures `layer` for input (B, T, F) (T = 0: rank 2) and fills everything. 0 on success. */
static inline int harness_setup(harness *h, rnn_layer *layer, int B, int T, int F, uint64_t seed) {
    memset(h, 0, sizeof *h);
    h->layer = layer;
    h->B = B;
    h->T = T;
    rnn__rng_seed(&h->rng, seed);
    rnn_shape in = T ? (rnn_shape){3, {B, T, F, 0}} : (rnn_shape){2, {B, F, 0, 0}};
    if (!layer->name[0]) snprintf(layer->name, sizeof layer->name, "%s", layer->ops->base_name);
    if (layer->ops->configure(layer, &in, 1) != RNN_OK) return -1;
    layer->n_inputs = 1;
    layer->input[0] = in;
    h->n_params = rnn__layer_param_count(layer);
    if (rnn__layer_build(layer, &h->rng) != RNN_OK) return -1;
    h->params = layer->weight_block;
    h->grads = layer->grad_block;
    /* Make biases non-zero and perturb the rest a little. */
    for (int64_t i = 0; i < h->n_params; i++) h->params[i] += harness_uniform(&h->rng, -0.3f, 0.3f);
    if (layer->ops->plan(layer, B, T) != RNN_OK) return -1;
    int64_t nx = (int64_t)B * (T ? T : 1) * F;
    h->x = T ? rnn_tensor3(malloc(sizeof(float) * (size_t)nx), B, T, F)
             : rnn_tensor2(malloc(sizeof(float) * (size_t)nx), B, F);
    for (int64_t i = 0; i < nx; i++) h->x.data[i] = harness_uniform(&h->rng, -1.0f, 1.0f);
    for (int k = 0; k < layer->n_outputs; k++) {
        int64_t n = 1;
        for (int d = 0; d < layer->output[k].rank; d++)
            n *= d == 0 ? B : (layer->output[k].dim[d] < 0 ? T : layer->output[k].dim[d]);
        h->coef[k] = malloc(sizeof(float) * (size_t)n);
        for (int64_t i = 0; i < n; i++) h->coef[k][i] = harness_uniform(&h->rng, -1.0f, 1.0f);
    }
    return 0;
}

static inline int64_t harness_output_size(const harness *h, int k) {
    return rnn_tensor_size(&h->layer->y[k]);
}

static inline void harness_forward(harness *h, rnn_run_mode mode) {
    const rnn_tensor *xs[1] = {&h->x};
    rnn_run_ctx ctx = {.mode = mode, .rng = &h->rng, .precision = RNN_F32};
    h->layer->ops->forward(h->layer, xs, &ctx);
}

/* Backward with the coefficients as output gradients; dx[0] is then the input gradient. */
static inline void harness_backward(harness *h) {
    const rnn_tensor *xs[1] = {&h->x};
    float *dy[RNN_LAYER_MAX_OUTPUTS] = {h->coef[0], h->coef[1], h->coef[2]};
    const int want[RNN_LAYER_MAX_INPUTS] = {1, 1, 1};
    h->layer->ops->backward(h->layer, xs, dy, want);
}

static inline double harness_loss(harness *h, rnn_run_mode mode) {
    harness_forward(h, mode);
    double L = 0;
    for (int k = 0; k < h->layer->n_outputs; k++) {
        int64_t n = harness_output_size(h, k);
        for (int64_t i = 0; i < n; i++) L += (double)h->coef[k][i] * h->layer->y[k].data[i];
    }
    return L;
}

static inline void harness_free(harness *h) {
    rnn_layer_free(h->layer); /* frees the weights too */
    free(h->x.data);
    for (int k = 0; k < RNN_LAYER_MAX_OUTPUTS; k++) free(h->coef[k]);
}

#endif
