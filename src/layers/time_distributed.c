/* TimeDistributed(inner): the inner layer, which works on one step [batch, ...], runs on every
 * step of [batch, steps, ...] at once, as one call on [batch*steps, ...] (as tf.keras does;
 * numerically the same as Keras 3's loop over steps). The weights are the inner layer's. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "layers/layer.h"
#include "layers/layer_options.h"

typedef struct {
    rnn_layer *inner;
} td_impl;

static rnn_status td_configure(rnn_layer *layer, const rnn_shape *in, int n_inputs) {
    td_impl *td = layer->impl;
    rnn_layer *inner = td->inner;
    if (n_inputs != 1) return rnn__fail(RNN_ERR_ARGUMENT, "TimeDistributed takes one input");
    if (in[0].rank != 3) {
        char s[96];
        rnn__shape_format(&in[0], s, sizeof s);
        return rnn__fail(RNN_ERR_SHAPE, "TimeDistributed \"%s\" needs [batch, steps, ...] input, "
                         "got %s", layer->name, s);
    }
    /* The inner layer sees one step: [batch*steps, features]. */
    int64_t rows = in[0].dim[0] > 0 && in[0].dim[1] > 0 ? in[0].dim[0] * in[0].dim[1] : RNN_NONE;
    rnn_shape step = {2, {rows, in[0].dim[2], 0, 0}};
    if (!inner->name[0]) snprintf(inner->name, sizeof inner->name, "%s", inner->ops->base_name);
    rnn_status st = inner->ops->configure(inner, &step, 1);
    if (st) return st;
    if (inner->n_outputs != 1 || inner->output[0].rank != 2)
        return rnn__fail(RNN_ERR_UNSUPPORTED, "TimeDistributed \"%s\": the wrapped layer must map "
                         "[batch, features] to [batch, units]", layer->name);
    inner->n_inputs = 1;
    inner->input[0] = step;
    inner->configured = 1;
    layer->n_outputs = 1;
    layer->output[0] = (rnn_shape){3, {in[0].dim[0], in[0].dim[1], inner->output[0].dim[1], 0}};
    return RNN_OK;
}

static rnn_status td_plan(rnn_layer *layer, int64_t batch, int64_t steps) {
    td_impl *td = layer->impl;
    int64_t rows;
    if (!rnn__mul_ok(batch, steps, &rows)) return rnn__fail(RNN_ERR_MEMORY, "batch too large");
    rnn_status st = td->inner->ops->plan(td->inner, rows, 0);
    if (st) return st;
    layer->planned_batch = batch;
    layer->planned_steps = steps;
    return RNN_OK;
}

static rnn_status td_forward(rnn_layer *layer, const rnn_tensor *const *x, const rnn_run_ctx *ctx) {
    td_impl *td = layer->impl;
    int64_t B = x[0]->shape[0], T = x[0]->shape[1];
    rnn_tensor flat = rnn_tensor2(x[0]->data, B * T, x[0]->shape[2]);
    const rnn_tensor *in[1] = {&flat};
    td->inner->mask_in = NULL;
    rnn_status st = td->inner->ops->forward(td->inner, in, ctx);
    if (st) return st;
    layer->y[0] = rnn_tensor3(td->inner->y[0].data, B, T, td->inner->y[0].shape[1]);
    layer->mask_out = layer->mask_in;
    return RNN_OK;
}

static void td_backward(rnn_layer *layer, const rnn_tensor *const *x, float *const *dy,
                        const int *want) {
    td_impl *td = layer->impl;
    rnn_tensor flat = rnn_tensor2(x[0]->data, x[0]->shape[0] * x[0]->shape[1], x[0]->shape[2]);
    const rnn_tensor *in[1] = {&flat};
    td->inner->ops->backward(td->inner, in, dy, want);
    layer->dx[0] = td->inner->dx[0];
}

static int td_children(rnn_layer *layer, rnn_layer ***out) {
    td_impl *td = layer->impl;
    *out = &td->inner;
    return 1;
}

static void td_free(void *impl) {
    td_impl *td = impl;
    if (!td) return;
    rnn__layer_release(td->inner);
    free(td);
}

static int64_t td_stateful_batch(const rnn_layer *layer) {
    const td_impl *td = layer->impl;
    return td->inner->ops->stateful_batch ? td->inner->ops->stateful_batch(td->inner) : 0;
}

static const rnn_layer_ops td_ops = {
    .class_name = "TimeDistributed", .base_name = "time_distributed", .configure = td_configure,
    .plan = td_plan, .forward = td_forward, .backward = td_backward, .free_impl = td_free,
    .children = td_children, .stateful_batch = td_stateful_batch,
};

rnn_layer *rnn__time_distributed_inner(const rnn_layer *layer) {
    return ((const td_impl *)layer->impl)->inner;
}

rnn_layer *rnn_time_distributed(rnn_layer *inner) {
    if (!inner) {
        rnn__fail(RNN_ERR_ARGUMENT, "TimeDistributed: the wrapped layer is NULL (%s)",
                  rnn_last_error());
        return NULL;
    }
    if (inner->configured) {
        rnn__fail(RNN_ERR_ARGUMENT, "TimeDistributed: layer \"%s\" was already called",
                  inner->name);
        return NULL;
    }
    td_impl *td = calloc(1, sizeof *td);
    if (!td) {
        rnn_layer_free(inner);
        rnn__fail(RNN_ERR_MEMORY, "out of memory");
        return NULL;
    }
    td->inner = inner;
    inner->refcount++;
    return rnn__layer_new(&td_ops, td, NULL);
}
