/* Dense: y = act(x W + b) over the last axis. On [batch, steps, d] input every step is a row
 * of one (batch*steps, d) product, as Keras's tensordot does. W (d, units), b (units,). */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kernels/activations.h"
#include "kernels/gemm.h"
#include "kernels/qgemm.h"
#include "layers/dense.h"
#include "layers/layer.h"
#include "layers/layer_options.h"

typedef struct {
    rnn_dense_options opt;
    int64_t in_features;
    int64_t rows; /* batch * steps of the planned call */
    float *y, *dz;
    rnn_qweights qw; /* the kernel's reduced-precision copy (rnn_predict, rnn_set_precision) */
    /* rnn__dense_stream_prefix: the input its piece read (NULL: none pending), the output it
     * wrote to, the end of that piece, and how many forward calls went on from one */
    const float *stream_x;
    const float *stream_y;
    int stream_k1;
    unsigned long stream_resumed;
} dense_impl;

static rnn_status dense_configure(rnn_layer *layer, const rnn_shape *inputs, int n_inputs) {
    dense_impl *d = layer->impl;
    const rnn_shape *in = &inputs[0];
    if (n_inputs != 1)
        return rnn__fail(RNN_ERR_ARGUMENT, "Dense \"%s\" takes one input, got %d", layer->name,
                         n_inputs);
    if (d->opt.units <= 0 || d->opt.units > (1 << 24))
        return rnn__fail(RNN_ERR_ARGUMENT,
                         "Dense \"%s\": received an invalid value for argument `units`, expected "
                         "a positive integer, got %d",
                         layer->name, d->opt.units);
    if ((int)d->opt.activation < 0 || d->opt.activation >= RNN_ACTIVATION_COUNT)
        return rnn__fail(RNN_ERR_ARGUMENT, "Dense \"%s\": unknown activation", layer->name);
    rnn_status st = rnn__expect_rank(layer, in, 2, 3);
    if (st) return st;
    int64_t dlast = in->dim[in->rank - 1];
    if (dlast <= 0 || dlast > (1 << 24))
        return rnn__fail(RNN_ERR_SHAPE,
                         "Dense \"%s\": the last dimension of the input must be known and "
                         "positive (got %lld)", layer->name, (long long)dlast);
    d->in_features = dlast;
    layer->n_outputs = 1;
    layer->output[0] = *in;
    layer->output[0].dim[in->rank - 1] = d->opt.units;
    layer->n_weights = 0;
    rnn__weight_set(&layer->weights[layer->n_weights++], "kernel", 2, dlast, d->opt.units);
    if (d->opt.use_bias) rnn__weight_set(&layer->weights[layer->n_weights++], "bias", 1, d->opt.units, 0);
    return RNN_OK;
}

static void dense_init(rnn_layer *layer, rnn_rng *rng) {
    dense_impl *d = layer->impl;
    rnn__init_glorot_uniform(rng, layer->weights[0].value, d->in_features, d->opt.units);
    if (d->opt.use_bias) memset(layer->weights[1].value, 0, sizeof(float) * (size_t)d->opt.units);
}

static rnn_status dense_plan(rnn_layer *layer, int64_t batch, int64_t steps) {
    dense_impl *d = layer->impl;
    int64_t rows = batch, ny, nx;
    if (layer->input[0].rank == 3 && !rnn__mul_ok(batch, steps, &rows))
        rows = -1;
    if (rows < 0 || rows > INT32_MAX || !rnn__mul_ok(rows, d->opt.units, &ny) ||
        !rnn__mul_ok(rows, d->in_features, &nx))
        return rnn__fail(RNN_ERR_MEMORY, "Dense \"%s\": batch too large", layer->name);
    rnn_workspace *ws = &layer->ws;
    rnn__ws_begin(ws);
    rnn__ws_want(ws, &d->y, ny);
    rnn__ws_want(ws, &d->dz, ny);
    rnn__ws_want(ws, &layer->dx[0], nx);
    d->stream_x = NULL; /* a pending prefix is not resumed in a new plan's buffers */
    if (rnn__ws_commit(ws) != 0)
        return rnn__fail(RNN_ERR_MEMORY, "Dense \"%s\": out of memory", layer->name);
    d->rows = rows;
    layer->planned_batch = batch;
    layer->planned_steps = steps;
    return RNN_OK;
}

static rnn_status dense_forward(rnn_layer *layer, const rnn_tensor *const *in, const rnn_run_ctx *ctx) {
    dense_impl *d = layer->impl;
    const rnn_tensor *x = in[0];
    const int rows = (int)d->rows, n = d->opt.units, k = (int)d->in_features;
    if (ctx->mode == RNN_MODE_PREDICT && ctx->precision != RNN_F32) {
        const rnn_weight *w = &layer->weights[0];
        if (rnn__qweights_prepare(&d->qw, w->value, k, n, w->version, ctx->precision) != 0)
            return rnn__fail(RNN_ERR_MEMORY, "Dense \"%s\": out of memory for the reduced "
                             "copy of its kernel", layer->name);
        rnn__qgemm(&d->qw, rows, 0, n, x->data, k,
                   d->opt.use_bias ? layer->weights[1].value : NULL, 0, d->y, n, RNN_GEMM_AUTO);
    } else if (ctx->mode == RNN_MODE_STREAM && x->data == d->stream_x && d->y == d->stream_y &&
               rows == 1) {
        /* the chain's job ran x[0, k1) (rnn__dense_stream_prefix): the rest of the sums */
        const int k1 = d->stream_k1;
        rnn__product(1, n, k - k1, x->data + k1, k, layer->weights[0].value + (size_t)k1 * n, n,
                     d->y, n, RNN_GEMM(.beta = 1.0f));
        d->stream_resumed++;
    } else {
        if (d->opt.use_bias) {
            const float *b = layer->weights[1].value;
            for (int i = 0; i < rows; i++) memcpy(d->y + (size_t)i * n, b, sizeof(float) * n);
        }
        rnn__product(rows, n, k, x->data, k, layer->weights[0].value, n, d->y, n,
                     RNN_GEMM(.beta = d->opt.use_bias ? 1.0f : 0.0f));
    }
    d->stream_x = NULL;
    rnn__activation_forward(d->opt.activation, d->y, rows, n);
    layer->y[0] = *x;
    layer->y[0].data = d->y;
    layer->y[0].shape[x->rank - 1] = n;
    layer->mask_out = layer->mask_in; /* Dense passes the mask on */
    return RNN_OK;
}

int rnn__dense_stream_splittable(const rnn_layer *layer) {
    if (!rnn__layer_is_dense(layer)) return 0;
    const dense_impl *d = layer->impl;
    /* one row and fewer than 32 columns: rnn__product takes the one-row AVX2 product (or the
     * loops) for the whole and for each piece alike (gemm.c: product_auto, blas_or_own) */
    return d->rows == 1 && layer->planned_batch == 1 && layer->ws.block && d->opt.units < 32 &&
           d->in_features * d->opt.units <= (1 << 20);
}

void rnn__dense_stream_prefix(rnn_layer *layer, const float *x, int k1) {
    dense_impl *d = layer->impl;
    const int n = d->opt.units;
    if (d->opt.use_bias) memcpy(d->y, layer->weights[1].value, sizeof(float) * n);
    rnn__product(1, n, k1, x, (int)d->in_features, layer->weights[0].value, n, d->y, n,
                 RNN_GEMM(.beta = d->opt.use_bias ? 1.0f : 0.0f));
    d->stream_x = x;
    d->stream_y = d->y;
    d->stream_k1 = k1;
}

unsigned long rnn__dense_stream_resumed(const rnn_layer *layer) {
    return rnn__layer_is_dense(layer) ? ((const dense_impl *)layer->impl)->stream_resumed : 0;
}

/* dz = dy act'(y);  dW += x^T dz;  db += sum_rows dz;  dx = dz W^T */
static void dense_backward(rnn_layer *layer, const rnn_tensor *const *in, float *const *dy,
                           const int *want) {
    dense_impl *d = layer->impl;
    const rnn_tensor *x = in[0];
    const int want_dx = want[0];
    const int rows = (int)d->rows, n = d->opt.units, k = (int)d->in_features;
    if (!dy[0]) {
        if (want_dx) memset(layer->dx[0], 0, sizeof(float) * (size_t)rows * k);
        return;
    }
    const float *dz = dy[0];
    if (d->opt.activation != RNN_LINEAR) {
        rnn__activation_backward(d->opt.activation, d->y, dy[0], d->dz, rows, n);
        dz = d->dz;
    }
    rnn__product(k, n, rows, x->data, k, dz, n, layer->weights[0].grad, n,
                 RNN_GEMM(.trans_a = 1, .beta = 1.0f));
    if (d->opt.use_bias) rnn__colsum_add(layer->weights[1].grad, dz, rows, n, n);
    if (want_dx) rnn__product(rows, k, n, dz, n, layer->weights[0].value, n, layer->dx[0], k,
                              RNN_GEMM(.trans_b = 1));
}

static void dense_free(void *impl) {
    dense_impl *d = impl;
    if (d) rnn__qweights_free(&d->qw);
    free(d);
}

static const rnn_layer_ops dense_ops;
int rnn__layer_is_dense(const rnn_layer *layer) { return layer->ops == &dense_ops; }

static const rnn_layer_ops dense_ops = {
    .class_name = "Dense",
    .base_name = "dense",
    .configure = dense_configure,
    .init_weights = dense_init,
    .plan = dense_plan,
    .forward = dense_forward,
    .backward = dense_backward,
    .free_impl = dense_free,
};

const rnn_dense_options *rnn__dense_options(const rnn_layer *layer) {
    return &((const dense_impl *)layer->impl)->opt;
}

rnn_dense_options rnn_dense_defaults(int units) {
    rnn_dense_options o;
    memset(&o, 0, sizeof o);
    o.units = units;
    o.activation = RNN_LINEAR;
    o.use_bias = 1;
    return o;
}

rnn_layer *rnn_dense(const rnn_dense_options *options) {
    if (!options) {
        rnn__fail(RNN_ERR_ARGUMENT, "Dense: options are NULL");
        return NULL;
    }
    dense_impl *d = calloc(1, sizeof *d);
    if (!d) {
        rnn__fail(RNN_ERR_MEMORY, "Dense: out of memory");
        return NULL;
    }
    d->opt = *options;
    d->opt.name = NULL;
    return rnn__layer_new(&dense_ops, d, options->name);
}

rnn_layer *rnn_dense_simple(int units, rnn_activation activation) {
    rnn_dense_options o = rnn_dense_defaults(units);
    o.activation = activation;
    return rnn_dense(&o);
}
