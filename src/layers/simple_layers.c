/* Layers without weights that reshape or transform values: RepeatVector, Activation, Dropout,
 * Masking, Flatten. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kernels/activations.h"
#include "kernels/vadd.h"
#include "layers/layer.h"
#include "layers/layer_options.h"

/* ---------------------------------------------------------------- RepeatVector */

typedef struct {
    int n;
    float *y;
} repeat_impl;

static rnn_status repeat_configure(rnn_layer *layer, const rnn_shape *in, int n_inputs) {
    repeat_impl *r = layer->impl;
    if (n_inputs != 1) return rnn__fail(RNN_ERR_ARGUMENT, "RepeatVector takes one input");
    if (r->n <= 0 || r->n > (1 << 24))
        return rnn__fail(RNN_ERR_ARGUMENT, "RepeatVector \"%s\": n must be positive, got %d",
                         layer->name, r->n);
    rnn_status st = rnn__expect_rank(layer, &in[0], 2, 2);
    if (st) return st;
    layer->n_outputs = 1;
    layer->output[0] = (rnn_shape){3, {in[0].dim[0], r->n, in[0].dim[1], 0}};
    return RNN_OK;
}

static rnn_status repeat_plan(rnn_layer *layer, int64_t batch, int64_t steps) {
    repeat_impl *r = layer->impl;
    int64_t d = layer->input[0].dim[1], n;
    if (!rnn__mul_ok(batch * d, r->n, &n)) return rnn__fail(RNN_ERR_MEMORY, "batch too large");
    rnn__ws_begin(&layer->ws);
    rnn__ws_want(&layer->ws, &r->y, n);
    rnn__ws_want(&layer->ws, &layer->dx[0], batch * d);
    if (rnn__ws_commit(&layer->ws)) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    layer->planned_batch = batch;
    layer->planned_steps = steps;
    return RNN_OK;
}

/* y[b, t, :] = x[b, :] for every t. */
static rnn_status repeat_forward(rnn_layer *layer, const rnn_tensor *const *x,
                                 const rnn_run_ctx *ctx) {
    (void)ctx;
    repeat_impl *r = layer->impl;
    int64_t B = x[0]->shape[0], d = x[0]->shape[1];
    for (int64_t b = 0; b < B; b++)
        for (int t = 0; t < r->n; t++)
            memcpy(r->y + (b * r->n + t) * d, x[0]->data + b * d, sizeof(float) * (size_t)d);
    layer->y[0] = rnn_tensor3(r->y, B, r->n, d);
    layer->mask_out = NULL; /* Keras: RepeatVector drops the mask */
    return RNN_OK;
}

/* dx[b, :] = sum_t dy[b, t, :] */
static void repeat_backward(rnn_layer *layer, const rnn_tensor *const *x, float *const *dy,
                            const int *want) {
    repeat_impl *r = layer->impl;
    if (!want[0]) return;
    int64_t B = x[0]->shape[0], d = x[0]->shape[1];
    memset(layer->dx[0], 0, sizeof(float) * (size_t)(B * d));
    if (!dy[0]) return;
    for (int64_t b = 0; b < B; b++)
        for (int t = 0; t < r->n; t++)
            rnn__add_into(layer->dx[0] + b * d, dy[0] + (b * r->n + t) * d, d);
}

static const rnn_layer_ops repeat_ops = {
    .class_name = "RepeatVector", .base_name = "repeat_vector", .configure = repeat_configure,
    .plan = repeat_plan, .forward = repeat_forward, .backward = repeat_backward, .free_impl = free,
};

int rnn__repeat_vector_n(const rnn_layer *layer) { return ((const repeat_impl *)layer->impl)->n; }

rnn_layer *rnn_repeat_vector(int n) {
    repeat_impl *r = calloc(1, sizeof *r);
    if (!r) {
        rnn__fail(RNN_ERR_MEMORY, "out of memory");
        return NULL;
    }
    r->n = n;
    return rnn__layer_new(&repeat_ops, r, NULL);
}

/* ---------------------------------------------------------------- Activation */

typedef struct {
    rnn_activation activation;
    float *y, *dz;
    int64_t size;
} activation_impl;

static rnn_status act_configure(rnn_layer *layer, const rnn_shape *in, int n_inputs) {
    activation_impl *a = layer->impl;
    if (n_inputs != 1) return rnn__fail(RNN_ERR_ARGUMENT, "Activation takes one input");
    if ((int)a->activation < 0 || a->activation >= RNN_ACTIVATION_COUNT)
        return rnn__fail(RNN_ERR_ARGUMENT, "Activation \"%s\": unknown activation", layer->name);
    layer->n_outputs = 1;
    layer->output[0] = in[0];
    return RNN_OK;
}

/* Layers whose output has the input's shape size their buffers from the input shape. */
static int64_t same_shape_size(const rnn_layer *layer, int64_t batch, int64_t steps) {
    const rnn_shape *s = &layer->input[0];
    int64_t n = batch;
    for (int i = 1; i < s->rank; i++)
        if (!rnn__mul_ok(n, s->dim[i] < 0 ? steps : s->dim[i], &n)) return -1;
    return n;
}

static rnn_status act_plan(rnn_layer *layer, int64_t batch, int64_t steps) {
    activation_impl *a = layer->impl;
    int64_t n = same_shape_size(layer, batch, steps);
    if (n < 0) return rnn__fail(RNN_ERR_MEMORY, "batch too large");
    rnn__ws_begin(&layer->ws);
    rnn__ws_want(&layer->ws, &a->y, n);
    rnn__ws_want(&layer->ws, &layer->dx[0], n);
    if (rnn__ws_commit(&layer->ws)) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    layer->planned_batch = batch;
    layer->planned_steps = steps;
    return RNN_OK;
}

static rnn_status act_forward(rnn_layer *layer, const rnn_tensor *const *x, const rnn_run_ctx *ctx) {
    (void)ctx;
    activation_impl *a = layer->impl;
    int64_t n = rnn_tensor_size(x[0]), cols = x[0]->shape[x[0]->rank - 1];
    memcpy(a->y, x[0]->data, sizeof(float) * (size_t)n);
    rnn__activation_forward(a->activation, a->y, (long)(n / cols), (long)cols);
    layer->y[0] = *x[0];
    layer->y[0].data = a->y;
    layer->mask_out = layer->mask_in;
    return RNN_OK;
}

static void act_backward(rnn_layer *layer, const rnn_tensor *const *x, float *const *dy,
                         const int *want) {
    activation_impl *a = layer->impl;
    if (!want[0]) return;
    int64_t n = rnn_tensor_size(x[0]), cols = x[0]->shape[x[0]->rank - 1];
    if (!dy[0]) memset(layer->dx[0], 0, sizeof(float) * (size_t)n);
    else rnn__activation_backward(a->activation, a->y, dy[0], layer->dx[0], (long)(n / cols), (long)cols);
}

static const rnn_layer_ops activation_ops = {
    .class_name = "Activation", .base_name = "activation", .configure = act_configure,
    .plan = act_plan, .forward = act_forward, .backward = act_backward, .free_impl = free,
};

rnn_activation rnn__activation_layer_kind(const rnn_layer *layer) {
    return ((const activation_impl *)layer->impl)->activation;
}

rnn_layer *rnn_activation_layer(rnn_activation activation) {
    activation_impl *a = calloc(1, sizeof *a);
    if (!a) {
        rnn__fail(RNN_ERR_MEMORY, "out of memory");
        return NULL;
    }
    a->activation = activation;
    return rnn__layer_new(&activation_ops, a, NULL);
}

/* ---------------------------------------------------------------- Dropout */

typedef struct {
    float rate;
    float *keep; /* 0 or 1/(1-rate) per value of the last training call */
    float *y;
    int trained; /* the last forward dropped values */
} dropout_impl;

static rnn_status dropout_configure(rnn_layer *layer, const rnn_shape *in, int n_inputs) {
    dropout_impl *d = layer->impl;
    if (n_inputs != 1) return rnn__fail(RNN_ERR_ARGUMENT, "Dropout takes one input");
    if (!(d->rate >= 0.0f && d->rate < 1.0f))
        return rnn__fail(RNN_ERR_ARGUMENT, "Dropout \"%s\": rate must be in [0, 1), got %g",
                         layer->name, (double)d->rate);
    layer->n_outputs = 1;
    layer->output[0] = in[0];
    return RNN_OK;
}

static rnn_status dropout_plan(rnn_layer *layer, int64_t batch, int64_t steps) {
    dropout_impl *d = layer->impl;
    int64_t n = same_shape_size(layer, batch, steps);
    if (n < 0) return rnn__fail(RNN_ERR_MEMORY, "batch too large");
    rnn__ws_begin(&layer->ws);
    rnn__ws_want(&layer->ws, &d->keep, n);
    rnn__ws_want(&layer->ws, &d->y, n);
    rnn__ws_want(&layer->ws, &layer->dx[0], n);
    if (rnn__ws_commit(&layer->ws)) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    layer->planned_batch = batch;
    layer->planned_steps = steps;
    return RNN_OK;
}

/* Inverted dropout: kept values scaled by 1/(1-rate), so inference needs no change. */
static rnn_status dropout_forward(rnn_layer *layer, const rnn_tensor *const *x,
                                  const rnn_run_ctx *ctx) {
    dropout_impl *d = layer->impl;
    layer->y[0] = *x[0];
    layer->mask_out = layer->mask_in;
    d->trained = ctx->mode == RNN_MODE_TRAIN && d->rate > 0.0f;
    if (!d->trained) return RNN_OK; /* the identity: y is x itself */
    int64_t n = rnn_tensor_size(x[0]);
    const float scale = 1.0f / (1.0f - d->rate);
    for (int64_t i = 0; i < n; i++) {
        d->keep[i] = rnn__rng_uniform(ctx->rng) >= d->rate ? scale : 0.0f;
        d->y[i] = x[0]->data[i] * d->keep[i];
    }
    layer->y[0].data = d->y;
    return RNN_OK;
}

static void dropout_backward(rnn_layer *layer, const rnn_tensor *const *x, float *const *dy,
                             const int *want) {
    dropout_impl *d = layer->impl;
    if (!want[0]) return;
    int64_t n = rnn_tensor_size(x[0]);
    for (int64_t i = 0; i < n; i++)
        layer->dx[0][i] = dy[0] ? dy[0][i] * (d->trained ? d->keep[i] : 1.0f) : 0.0f;
}

static const rnn_layer_ops dropout_ops = {
    .class_name = "Dropout", .base_name = "dropout", .configure = dropout_configure,
    .plan = dropout_plan, .forward = dropout_forward, .backward = dropout_backward, .free_impl = free,
};

float rnn__dropout_rate(const rnn_layer *layer) { return ((const dropout_impl *)layer->impl)->rate; }

rnn_layer *rnn_dropout(float rate) {
    dropout_impl *d = calloc(1, sizeof *d);
    if (!d) {
        rnn__fail(RNN_ERR_MEMORY, "out of memory");
        return NULL;
    }
    d->rate = rate;
    return rnn__layer_new(&dropout_ops, d, NULL);
}

/* ---------------------------------------------------------------- Masking */

/* Masking(mask_value): a step whose features all equal mask_value is masked for the following
 * layers (mask[b, t] = any_f x[b, t, f] != mask_value) and its output is zeroed. */
typedef struct {
    float mask_value;
    float *y, *mask; /* mask: (B*T) bytes in float-sized storage */
} masking_impl;

static rnn_status masking_configure(rnn_layer *layer, const rnn_shape *in, int n_inputs) {
    masking_impl *mk = layer->impl;
    if (n_inputs != 1) return rnn__fail(RNN_ERR_ARGUMENT, "Masking takes one input");
    if (!isfinite(mk->mask_value))
        return rnn__fail(RNN_ERR_ARGUMENT, "Masking \"%s\": mask_value must be finite", layer->name);
    rnn_status st = rnn__expect_rank(layer, &in[0], 3, 3);
    if (st) return st;
    layer->n_outputs = 1;
    layer->output[0] = in[0];
    return RNN_OK;
}

static rnn_status masking_plan(rnn_layer *layer, int64_t batch, int64_t steps) {
    masking_impl *mk = layer->impl;
    int64_t n = same_shape_size(layer, batch, steps), bt;
    if (n < 0 || !rnn__mul_ok(batch, steps, &bt)) return rnn__fail(RNN_ERR_MEMORY, "batch too large");
    rnn__ws_begin(&layer->ws);
    rnn__ws_want(&layer->ws, &mk->y, n);
    rnn__ws_want(&layer->ws, &mk->mask, (bt + 3) / 4);
    rnn__ws_want(&layer->ws, &layer->dx[0], n);
    if (rnn__ws_commit(&layer->ws)) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    layer->planned_batch = batch;
    layer->planned_steps = steps;
    return RNN_OK;
}

static rnn_status masking_forward(rnn_layer *layer, const rnn_tensor *const *x,
                                  const rnn_run_ctx *ctx) {
    (void)ctx;
    masking_impl *mk = layer->impl;
    const int64_t bt = x[0]->shape[0] * x[0]->shape[1], F = x[0]->shape[2];
    uint8_t *mask = (uint8_t *)mk->mask;
    for (int64_t r = 0; r < bt; r++) {
        const float *row = x[0]->data + r * F;
        int keep = 0;
        for (int64_t f = 0; f < F && !keep; f++) keep = row[f] != mk->mask_value;
        /* an incoming mask (from an earlier Masking) still masks the step */
        if (layer->mask_in && !layer->mask_in[r]) keep = 0;
        mask[r] = (uint8_t)keep;
        for (int64_t f = 0; f < F; f++) mk->y[r * F + f] = keep ? row[f] : 0.0f;
    }
    layer->y[0] = *x[0];
    layer->y[0].data = mk->y;
    layer->mask_out = mask;
    return RNN_OK;
}

static void masking_backward(rnn_layer *layer, const rnn_tensor *const *x, float *const *dy,
                             const int *want) {
    masking_impl *mk = layer->impl;
    if (!want[0]) return;
    const int64_t bt = x[0]->shape[0] * x[0]->shape[1], F = x[0]->shape[2];
    const uint8_t *mask = (const uint8_t *)mk->mask;
    for (int64_t r = 0; r < bt; r++)
        for (int64_t f = 0; f < F; f++)
            layer->dx[0][r * F + f] = dy[0] && mask[r] ? dy[0][r * F + f] : 0.0f;
}

static const rnn_layer_ops masking_ops = {
    .class_name = "Masking", .base_name = "masking", .configure = masking_configure,
    .plan = masking_plan, .forward = masking_forward, .backward = masking_backward, .free_impl = free,
};

float rnn__masking_value(const rnn_layer *layer) { return ((const masking_impl *)layer->impl)->mask_value; }

rnn_layer *rnn_masking(float mask_value) {
    masking_impl *mk = calloc(1, sizeof *mk);
    if (!mk) {
        rnn__fail(RNN_ERR_MEMORY, "out of memory");
        return NULL;
    }
    mk->mask_value = mask_value;
    return rnn__layer_new(&masking_ops, mk, NULL);
}

/* ---------------------------------------------------------------- Flatten */

/* Flatten: [batch, steps, features] -> [batch, steps * features]; the data is already in that
 * order (row-major), so the output is a view of the input. Keras drops the mask here. */
typedef struct {
    int unused;
} flatten_impl;

static rnn_status flatten_configure(rnn_layer *layer, const rnn_shape *in, int n_inputs) {
    if (n_inputs != 1) return rnn__fail(RNN_ERR_ARGUMENT, "Flatten takes one input");
    rnn_status st = rnn__expect_rank(layer, &in[0], 2, 3);
    if (st) return st;
    layer->n_outputs = 1;
    if (in[0].rank == 2) {
        layer->output[0] = in[0];
        return RNN_OK;
    }
    if (in[0].dim[1] <= 0) {
        char s[96];
        rnn__shape_format(&in[0], s, sizeof s);
        return rnn__fail(RNN_ERR_SHAPE, "Flatten \"%s\": the number of steps must be known to "
                         "flatten, got input shape %s", layer->name, s);
    }
    layer->output[0] = (rnn_shape){2, {in[0].dim[0], in[0].dim[1] * in[0].dim[2], 0, 0}};
    return RNN_OK;
}

static rnn_status flatten_plan(rnn_layer *layer, int64_t batch, int64_t steps) {
    int64_t n = same_shape_size(layer, batch, steps);
    if (n < 0) return rnn__fail(RNN_ERR_MEMORY, "batch too large");
    rnn__ws_begin(&layer->ws);
    rnn__ws_want(&layer->ws, &layer->dx[0], n);
    if (rnn__ws_commit(&layer->ws)) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    layer->planned_batch = batch;
    layer->planned_steps = steps;
    return RNN_OK;
}

static rnn_status flatten_forward(rnn_layer *layer, const rnn_tensor *const *x,
                                  const rnn_run_ctx *ctx) {
    (void)ctx;
    layer->y[0] = rnn_tensor2(x[0]->data, x[0]->shape[0], rnn__tensor_row_size(x[0]));
    layer->mask_out = NULL;
    return RNN_OK;
}

static void flatten_backward(rnn_layer *layer, const rnn_tensor *const *x, float *const *dy,
                             const int *want) {
    if (!want[0]) return;
    size_t n = (size_t)rnn_tensor_size(x[0]);
    if (dy[0]) memcpy(layer->dx[0], dy[0], sizeof(float) * n);
    else memset(layer->dx[0], 0, sizeof(float) * n);
}

static const rnn_layer_ops flatten_ops = {
    .class_name = "Flatten", .base_name = "flatten", .configure = flatten_configure,
    .plan = flatten_plan, .forward = flatten_forward, .backward = flatten_backward,
    .free_impl = free,
};

rnn_layer *rnn_flatten(void) {
    flatten_impl *fl = calloc(1, sizeof *fl);
    if (!fl) {
        rnn__fail(RNN_ERR_MEMORY, "out of memory");
        return NULL;
    }
    return rnn__layer_new(&flatten_ops, fl, NULL);
}
