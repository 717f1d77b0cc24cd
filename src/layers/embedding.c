/* Embedding: y[b, t, :] = E[id[b, t], :]. Ids come as integer values in float storage (Keras
 * casts them too). With mask_zero, id 0 is padding: the mask [b, t] = (id != 0) flows to the
 * following layers (recurrent layers skip masked steps; the loss ignores them). Index 0 is still
 * looked up, so input_dim counts it. E (input_dim, output_dim) starts U(-0.05, 0.05). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "layers/layer.h"
#include "layers/layer_options.h"

typedef struct {
    rnn_embedding_options opt;
    float *y, *mask; /* mask: (B*T) bytes in float-sized storage */
} embedding_impl;

static rnn_status emb_configure(rnn_layer *layer, const rnn_shape *in, int n_inputs) {
    embedding_impl *e = layer->impl;
    if (n_inputs != 1) return rnn__fail(RNN_ERR_ARGUMENT, "Embedding takes one input");
    if (e->opt.input_dim <= 0 || e->opt.output_dim <= 0 || e->opt.input_dim > (1 << 24) ||
        e->opt.output_dim > (1 << 20))
        return rnn__fail(RNN_ERR_ARGUMENT, "Embedding \"%s\": input_dim and output_dim must be "
                         "positive, got %d and %d", layer->name, e->opt.input_dim,
                         e->opt.output_dim);
    if (in[0].rank != 2) {
        char s[96];
        rnn__shape_format(&in[0], s, sizeof s);
        return rnn__fail(RNN_ERR_SHAPE, "Embedding \"%s\" takes token ids [batch, steps] "
                         "(rnn_ids_input_new), got shape %s", layer->name, s);
    }
    layer->n_outputs = 1;
    layer->output[0] = (rnn_shape){3, {in[0].dim[0], in[0].dim[1], e->opt.output_dim, 0}};
    layer->n_weights = 0;
    rnn__weight_set(&layer->weights[layer->n_weights++], "embeddings", 2, e->opt.input_dim,
                    e->opt.output_dim);
    return RNN_OK;
}

static void emb_init(rnn_layer *layer, rnn_rng *rng) {
    rnn_weight *w = &layer->weights[0];
    for (int64_t i = 0; i < w->size; i++)
        w->value[i] = (float)(0.1 * rnn__rng_uniform(rng) - 0.05);
}

static rnn_status emb_plan(rnn_layer *layer, int64_t batch, int64_t steps) {
    embedding_impl *e = layer->impl;
    int64_t bt, n;
    if (!rnn__mul_ok(batch, steps, &bt) || !rnn__mul_ok(bt, e->opt.output_dim, &n))
        return rnn__fail(RNN_ERR_MEMORY, "batch too large");
    rnn__ws_begin(&layer->ws);
    rnn__ws_want(&layer->ws, &e->y, n);
    rnn__ws_want(&layer->ws, &e->mask, (bt + 3) / 4);
    rnn__ws_want(&layer->ws, &layer->dx[0], bt); /* ids have no gradient: zeros */
    if (rnn__ws_commit(&layer->ws)) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    layer->planned_batch = batch;
    layer->planned_steps = steps;
    return RNN_OK;
}

static rnn_status emb_forward(rnn_layer *layer, const rnn_tensor *const *x, const rnn_run_ctx *ctx) {
    (void)ctx;
    embedding_impl *e = layer->impl;
    const int64_t bt = rnn_tensor_size(x[0]), D = e->opt.output_dim;
    const float *E = layer->weights[0].value;
    uint8_t *mask = (uint8_t *)e->mask;
    for (int64_t i = 0; i < bt; i++) {
        float v = x[0]->data[i];
        if (!(v >= 0.0f && v < (float)e->opt.input_dim) || v != floorf(v))
            return rnn__fail(RNN_ERR_ARGUMENT,
                             "Embedding \"%s\": token id %g at flat index %lld is not an integer "
                             "in [0, %d) (input_dim)", layer->name, (double)v, (long long)i,
                             e->opt.input_dim);
        int64_t id = (int64_t)v;
        memcpy(e->y + i * D, E + id * D, sizeof(float) * (size_t)D);
        mask[i] = id != 0;
    }
    layer->y[0] = rnn_tensor3(e->y, x[0]->shape[0], x[0]->shape[1], D);
    layer->mask_out = e->opt.mask_zero ? mask : NULL;
    return RNN_OK;
}

/* dE[id] += dy[b, t] for every position (a scatter-add over the ids). */
static void emb_backward(rnn_layer *layer, const rnn_tensor *const *x, float *const *dy,
                         const int *want) {
    embedding_impl *e = layer->impl;
    const int64_t bt = rnn_tensor_size(x[0]), D = e->opt.output_dim;
    float *dE = layer->weights[0].grad;
    if (dy[0]) rnn__weight_record_slices(&layer->weights[0], x[0]->data, dy[0], bt);
    if (dy[0])
        for (int64_t i = 0; i < bt; i++) {
            float *row = dE + (int64_t)x[0]->data[i] * D;
            const float *g = dy[0] + i * D;
            for (int64_t j = 0; j < D; j++) row[j] += g[j];
        }
    if (want[0]) memset(layer->dx[0], 0, sizeof(float) * (size_t)bt);
}

static const rnn_layer_ops embedding_ops = {
    .class_name = "Embedding", .base_name = "embedding", .configure = emb_configure,
    .init_weights = emb_init, .plan = emb_plan, .forward = emb_forward, .backward = emb_backward,
    .free_impl = free,
};

const rnn_embedding_options *rnn__embedding_options(const rnn_layer *layer) {
    return &((const embedding_impl *)layer->impl)->opt;
}

rnn_embedding_options rnn_embedding_defaults(int input_dim, int output_dim) {
    rnn_embedding_options o = {input_dim, output_dim, 0, NULL};
    return o;
}

rnn_layer *rnn_embedding(const rnn_embedding_options *options) {
    if (!options) {
        rnn__fail(RNN_ERR_ARGUMENT, "Embedding: options are NULL");
        return NULL;
    }
    embedding_impl *e = calloc(1, sizeof *e);
    if (!e) {
        rnn__fail(RNN_ERR_MEMORY, "out of memory");
        return NULL;
    }
    e->opt = *options;
    e->opt.name = NULL;
    return rnn__layer_new(&embedding_ops, e, options->name);
}
