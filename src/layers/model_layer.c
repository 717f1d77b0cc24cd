/* A model used as a layer of another model (Keras: calling a Model on a tensor). The inner
 * model's layers, and so its weights, are shared: training the outer model trains them, and the
 * inner model keeps working on its own (scenario 8's encoder). */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "model.h"
#include "layers/layer_options.h"

typedef struct {
    rnn_model *inner;
    rnn_layer **children; /* the inner model's layers without its InputLayers */
    int n_children;
    float *zero_dx[RNN_LAYER_MAX_INPUTS]; /* for inputs no gradient reaches */
} model_layer;

static rnn_status ml_configure(rnn_layer *layer, const rnn_shape *in, int n_inputs) {
    model_layer *ml = layer->impl;
    rnn_model *m = ml->inner;
    if (n_inputs != m->n_inputs)
        return rnn__fail(RNN_ERR_ARGUMENT, "model \"%s\" takes %d input%s, got %d", m->name,
                         m->n_inputs, m->n_inputs > 1 ? "s" : "", n_inputs);
    for (int k = 0; k < n_inputs; k++) {
        const rnn_shape *want = rnn__model_input_shape(m, k);
        int ok = want->rank == in[k].rank;
        for (int i = 0; ok && i < want->rank; i++)
            ok = want->dim[i] < 0 || in[k].dim[i] < 0 || want->dim[i] == in[k].dim[i];
        if (!ok) {
            char a[96], b[96];
            rnn__shape_format(want, a, sizeof a);
            rnn__shape_format(&in[k], b, sizeof b);
            return rnn__fail(RNN_ERR_SHAPE, "model \"%s\" expects input %d of shape %s, got %s",
                             m->name, k, a, b);
        }
    }
    layer->n_outputs = m->n_outputs;
    for (int k = 0; k < m->n_outputs; k++) {
        layer->output[k] = m->outputs[k]->shape;
        if (in[0].dim[0] >= 0) layer->output[k].dim[0] = in[0].dim[0];
    }
    return RNN_OK;
}

static rnn_status ml_plan(rnn_layer *layer, int64_t batch, int64_t steps) {
    model_layer *ml = layer->impl;
    rnn_workspace *ws = &layer->ws;
    rnn__ws_begin(ws);
    for (int k = 0; k < layer->n_inputs; k++) {
        const rnn_shape *s = &layer->input[k];
        int64_t n = batch;
        for (int i = 1; i < s->rank; i++) n *= s->dim[i] < 0 ? steps : s->dim[i];
        rnn__ws_want(ws, &ml->zero_dx[k], n);
    }
    if (rnn__ws_commit(ws) != 0) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    layer->planned_batch = batch;
    layer->planned_steps = steps;
    return RNN_OK;
}

static rnn_status ml_forward(rnn_layer *layer, const rnn_tensor *const *x, const rnn_run_ctx *ctx) {
    model_layer *ml = layer->impl;
    rnn_model *m = ml->inner;
    rnn_tensor in[RNN_LAYER_MAX_INPUTS];
    for (int k = 0; k < m->n_inputs; k++) in[k] = *x[k];
    /* Keras passes the mask of the tensor a model is called on to the model's input (the
     * graph knows the mask of input 0 only). */
    m->inputs[0]->mask_in = layer->mask_in;
    rnn_status st = rnn__model_forward(m, in, ctx);
    m->inputs[0]->mask_in = NULL;
    if (st) return st;
    for (int k = 0; k < m->n_outputs; k++) layer->y[k] = *rnn__model_output(m, k);
    layer->mask_out = rnn__model_output_mask(m, 0);
    return RNN_OK;
}

static void ml_backward(rnn_layer *layer, const rnn_tensor *const *x, float *const *dy,
                        const int *want) {
    model_layer *ml = layer->impl;
    rnn_model *m = ml->inner;
    rnn__model_backward(m, dy, 1);
    for (int k = 0; k < m->n_inputs; k++) {
        if (!want[k]) continue;
        float *g = m->inputs[k]->outputs_sym[0]->grad;
        if (!g) {
            memset(ml->zero_dx[k], 0, sizeof(float) * (size_t)rnn_tensor_size(x[k]));
            g = ml->zero_dx[k];
        }
        layer->dx[k] = g;
    }
}

static int64_t ml_stateful_batch(const rnn_layer *layer) {
    return rnn__model_stateful_batch(((const model_layer *)layer->impl)->inner);
}

static int ml_children(rnn_layer *layer, rnn_layer ***out) {
    model_layer *ml = layer->impl;
    *out = ml->children;
    return ml->n_children;
}

static void ml_free(void *impl) {
    model_layer *ml = impl;
    if (!ml) return;
    free(ml->children);
    rnn_model_free(ml->inner);
    free(ml);
}

/* A nested model's output steps come from its own layers (a Conv1D inside it). */
static int64_t ml_output_steps(const rnn_layer *layer, int64_t steps) {
    const model_layer *ml = layer->impl;
    rnn_shape s = rnn__model_output_shape(ml->inner, 0, 1, steps);
    return s.rank >= 2 && s.dim[1] > 0 ? s.dim[1] : steps;
}

static const rnn_layer_ops functional_ops = {
    .class_name = "Functional", .base_name = "functional", .configure = ml_configure,
    .plan = ml_plan, .forward = ml_forward, .backward = ml_backward,
    .stateful_batch = ml_stateful_batch, .free_impl = ml_free, .children = ml_children,
    .output_steps = ml_output_steps,
};

static const rnn_layer_ops sequential_ops = {
    .class_name = "Sequential", .base_name = "sequential", .configure = ml_configure,
    .plan = ml_plan, .forward = ml_forward, .backward = ml_backward,
    .stateful_batch = ml_stateful_batch, .free_impl = ml_free, .children = ml_children,
    .output_steps = ml_output_steps,
};

rnn_model *rnn__model_layer_inner(const rnn_layer *layer) {
    return ((const model_layer *)layer->impl)->inner;
}

rnn_layer *rnn_model_as_layer(rnn_model *inner) {
    if (!inner) {
        rnn__fail(RNN_ERR_ARGUMENT, "rnn_model_as_layer: model is NULL");
        return NULL;
    }
    if (inner->n_inputs < 1 || inner->n_layers <= inner->n_inputs) {
        rnn__fail(RNN_ERR_STATE, "model \"%s\" has no layers", inner->name);
        return NULL;
    }
    model_layer *ml = calloc(1, sizeof *ml);
    if (ml) ml->children = calloc((size_t)inner->n_layers + 1, sizeof *ml->children);
    if (!ml || !ml->children) {
        if (ml) free(ml);
        rnn__fail(RNN_ERR_MEMORY, "out of memory");
        return NULL;
    }
    for (int i = 0; i < inner->n_layers; i++)
        if (!rnn__is_input_layer(inner->layers[i])) ml->children[ml->n_children++] = inner->layers[i];
    ml->inner = inner;
    rnn__model_retain(inner);
    return rnn__layer_new(inner->sequential ? &sequential_ops : &functional_ops, ml, inner->name);
}

rnn_symbol *rnn_call_model(rnn_model *inner, rnn_symbol *x) {
    if (!x) return NULL;
    rnn_layer *layer = rnn_model_as_layer(inner);
    if (!layer) return NULL;
    rnn_symbol *out[RNN_LAYER_MAX_OUTPUTS];
    if (rnn_call_ex(layer, &x, 1, out, NULL) != RNN_OK) {
        rnn_layer_free(layer);
        return NULL;
    }
    return out[0];
}
