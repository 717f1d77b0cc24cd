/* Models: InputLayer, calling layers, construction (Sequential and functional), naming, weights
 * and states. The layer base is in layers/layer.c, running the graph in graph.c, training in
 * train/, the summary table in summary.c. */
#include "model.h"
#include "context.h"
#include "optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- InputLayer */

typedef struct {
    int ids; /* integer token ids (given as floats) */
} input_impl;

static rnn_status input_configure(rnn_layer *layer, const rnn_shape *in, int n) {
    (void)layer; (void)in; (void)n;
    return RNN_OK; /* shape set at creation */
}

static rnn_status input_plan(rnn_layer *layer, int64_t batch, int64_t steps) {
    layer->planned_batch = batch;
    layer->planned_steps = steps;
    return RNN_OK;
}

static rnn_status input_forward(rnn_layer *layer, const rnn_tensor *const *x,
                                const rnn_run_ctx *ctx) {
    (void)ctx;
    layer->y[0] = *x[0];
    layer->mask_out = layer->mask_in; /* NULL, or the mask a nested model is called with */
    return RNN_OK;
}

static void input_backward(rnn_layer *layer, const rnn_tensor *const *x, float *const *dy,
                           const int *want_dx) {
    (void)layer; (void)x; (void)dy; (void)want_dx;
}

static const rnn_layer_ops input_ops = {
    .class_name = "InputLayer",
    .base_name = "input_layer",
    .configure = input_configure,
    .plan = input_plan,
    .forward = input_forward,
    .backward = input_backward,
    .free_impl = free,
};

int rnn__is_input_layer(const rnn_layer *layer) { return layer->ops == &input_ops; }

int rnn__input_grad_summed_over_steps(const rnn_layer *layer, int k) {
    const rnn_symbol *s = k < layer->n_inputs ? layer->inputs_sym[k] : NULL;
    return s && s->producer && s->producer->ops &&
           strcmp(s->producer->ops->class_name, "RepeatVector") == 0;
}

int rnn__input_is_ids(const rnn_layer *layer) {
    return rnn__is_input_layer(layer) && ((const input_impl *)layer->impl)->ids;
}

static rnn_symbol *make_symbol(rnn_layer *producer, int index, const rnn_shape *shape) {
    rnn_symbol *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->producer = producer;
    s->index = index;
    s->shape = *shape;
    producer->outputs_sym[index] = s;
    return s;
}

static rnn_symbol *new_input(rnn_shape shape, int ids, const char *name) {
    input_impl *impl = calloc(1, sizeof *impl);
    if (!impl) {
        rnn__fail(RNN_ERR_MEMORY, "out of memory");
        return NULL;
    }
    impl->ids = ids;
    rnn_layer *layer = rnn__layer_new(&input_ops, impl, name);
    if (!layer) return NULL;
    layer->n_outputs = 1;
    layer->output[0] = shape;
    layer->configured = 1;
    rnn_symbol *s = make_symbol(layer, 0, &shape);
    if (!s) {
        rnn__layer_destroy(layer);
        rnn__fail(RNN_ERR_MEMORY, "out of memory");
    }
    return s;
}

static rnn_status check_input_dims(int64_t batch, int64_t steps, int64_t features, int ids) {
    if (!ids && (features <= 0 || features > (1 << 24)))
        return rnn__fail(RNN_ERR_SHAPE, "input features must be between 1 and 16777216, got %lld",
                         (long long)features);
    if (steps < RNN_NONE || steps > INT32_MAX || (ids && steps == 0))
        return rnn__fail(RNN_ERR_SHAPE, "input steps must be RNN_NONE (unknown)%s or positive, "
                         "got %lld", ids ? "" : ", 0 (no time axis)", (long long)steps);
    if (batch == 0 || batch < RNN_NONE || batch > INT32_MAX)
        return rnn__fail(RNN_ERR_SHAPE, "batch size must be positive or RNN_NONE, got %lld",
                         (long long)batch);
    return RNN_OK;
}

rnn_symbol *rnn_input_new(int64_t batch, int64_t steps, int64_t features, const char *name) {
    if (check_input_dims(batch, steps, features, 0)) return NULL;
    rnn_shape s = steps == 0 ? (rnn_shape){2, {batch, features, 0, 0}}
                             : (rnn_shape){3, {batch, steps, features, 0}};
    return new_input(s, 0, name);
}

void rnn_input_free(rnn_symbol *input) {
    if (input && rnn__is_input_layer(input->producer) && input->producer->refcount <= 0)
        rnn__layer_destroy(input->producer);
}

rnn_symbol *rnn_ids_input_new(int64_t batch, int64_t steps, const char *name) {
    if (check_input_dims(batch, steps, 1, 1)) return NULL;
    return new_input((rnn_shape){2, {batch, steps, 0, 0}}, 1, name);
}

/* ---------------------------------------------------------------- calling layers */

rnn_status rnn_call_ex(rnn_layer *layer, rnn_symbol *const *inputs, int n_inputs,
                       rnn_symbol **outputs, int *n_outputs) {
    if (!layer)
        return rnn__fail(RNN_ERR_ARGUMENT, "the layer is NULL (%s)",
                         rnn_last_error()[0] ? rnn_last_error() : "not created");
    if (n_inputs < 1 || n_inputs > RNN_LAYER_MAX_INPUTS || !inputs)
        return rnn__fail(RNN_ERR_ARGUMENT, "layer \"%s\" takes 1 to %d inputs, got %d",
                         layer->name, RNN_LAYER_MAX_INPUTS, n_inputs);
    for (int k = 0; k < n_inputs; k++)
        if (!inputs[k])
            return rnn__fail(RNN_ERR_ARGUMENT, "input %d of layer \"%s\" is NULL (an earlier call "
                             "failed: %s)", k, layer->name, rnn_last_error());
    if (layer->configured)
        return rnn__fail(RNN_ERR_UNSUPPORTED,
                         "layer \"%s\" was already called: calling one layer object on two "
                         "inputs (shared layers) is not supported; use a nested model (the same "
                         "model called twice in different models) instead", layer->name);
    if (!layer->name[0]) {
        snprintf(layer->name, sizeof layer->name, "%s", layer->ops->base_name);
        layer->auto_named = 1;
    }
    rnn_shape in[RNN_LAYER_MAX_INPUTS];
    for (int k = 0; k < n_inputs; k++) in[k] = inputs[k]->shape;
    rnn_status st = layer->ops->configure(layer, in, n_inputs);
    if (st) return st;
    layer->n_inputs = n_inputs;
    for (int k = 0; k < n_inputs; k++) {
        layer->input[k] = in[k];
        layer->inputs_sym[k] = inputs[k];
    }
    for (int k = 0; k < layer->n_outputs; k++) {
        rnn_symbol *s = make_symbol(layer, k, &layer->output[k]);
        if (!s) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
        if (outputs) outputs[k] = s;
    }
    if (n_outputs) *n_outputs = layer->n_outputs;
    layer->configured = 1;
    return RNN_OK;
}

rnn_symbol *rnn_call(rnn_layer *layer, rnn_symbol *x) {
    rnn_symbol *out[RNN_LAYER_MAX_OUTPUTS] = {0};
    if (!x) {
        /* Keep the first failure's message; free what cannot be reached any more. */
        if (layer && layer->refcount <= 0 && !layer->configured) rnn__layer_destroy(layer);
        return NULL;
    }
    if (rnn_call_ex(layer, &x, 1, out, NULL) != RNN_OK) {
        if (layer && !layer->configured) rnn__layer_destroy(layer);
        return NULL;
    }
    return out[0];
}

/* ---------------------------------------------------------------- model construction */

rnn_status rnn__model_fail(rnn_model *m, rnn_status status) {
    if (m) snprintf(m->error, sizeof m->error, "%s", rnn_last_error());
    return status;
}

const char *rnn_model_error(const rnn_model *model) { return model ? model->error : ""; }
const char *rnn_model_warning(const rnn_model *model) { return model ? model->warning : ""; }

static rnn_model *model_alloc(const char *name, const char *default_name) {
    rnn_model *m = calloc(1, sizeof *m);
    if (!m) {
        rnn__fail(RNN_ERR_MEMORY, "out of memory");
        return NULL;
    }
    snprintf(m->name, sizeof m->name, "%s", name ? name : default_name);
    m->refcount = 1;
    rnn__rng_seed(&m->rng, 0);
    return m;
}

rnn_model *rnn_sequential(const char *name) {
    rnn_model *m = model_alloc(name, "sequential");
    if (m) m->sequential = 1;
    return m;
}

void rnn__model_retain(rnn_model *m) { m->refcount++; }

void rnn_model_free(rnn_model *m) {
    if (!m || --m->refcount > 0) return;
    for (int i = 0; i < m->n_layers; i++) rnn__layer_release(m->layers[i]);
    free(m->layers);
    rnn__set_free(&m->layer_set);
    rnn__set_free(&m->name_set);
    free(m->shared_symbols);
    free(m->weights);
    for (int k = 0; k < 3; k++) rnn__free(m->opt_slot[k]);
    free(m->clip_grads);
    free(m->clip_sizes);
    rnn__ws_free(&m->ws);
    rnn__context_release(m->context);
    free(m);
}

/* How many layers of this kind k holds; 0 for a kind it has none of. */
static int kind_count(const rnn_kind_counts *k, const void *ops) {
    for (int i = 0; i < k->n; i++)
        if (k->row[i].ops == ops) return k->row[i].count;
    return 0;
}

static void count_kind(rnn_kind_counts *k, const void *ops) {
    for (int i = 0; i < k->n; i++)
        if (k->row[i].ops == ops) {
            k->row[i].count++;
            return;
        }
    /* More kinds than librnn has layer classes cannot happen; the table has room for all. */
    RNN_INTERNAL_CHECK(k->n < (int)(sizeof k->row / sizeof k->row[0]));
    k->row[k->n].ops = ops;
    k->row[k->n++].count = 1;
}

static rnn_status append_layer(rnn_model *m, rnn_layer *layer) {
    if (rnn__set_add(&m->layer_set, layer) < 0) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    if (m->n_layers == m->layers_capacity) {
        int cap = m->layers_capacity ? 2 * m->layers_capacity : 8;
        rnn_layer **grown = realloc(m->layers, sizeof *grown * (size_t)cap);
        if (!grown) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
        m->layers = grown;
        m->layers_capacity = cap;
    }
    m->layers[m->n_layers++] = layer;
    layer->refcount++;
    count_kind(&m->kinds, layer->ops);
    return RNN_OK;
}

static int has_layer(const rnn_model *m, const rnn_layer *layer) {
    return rnn__set_has(&m->layer_set, layer);
}

/* Keras's automatic names, unique within the model: "lstm", "lstm_1", ... A layer named by the
 * user, or named by another model it is part of, keeps its name. */
static void name_layers(rnn_model *m) {
    rnn_kind_counts seen = {0}; /* layers of each kind before layer i */
    for (int i = 0; i < m->n_layers; i++) {
        rnn_layer *L = m->layers[i];
        const char *stem = L->ops->base_name;
        int count = kind_count(&seen, L->ops);
        count_kind(&seen, L->ops);
        if (L->name[0] && (!L->auto_named || strcmp(L->name, stem) != 0)) continue;
        if (count) snprintf(L->name, sizeof L->name, "%s_%d", stem, count);
        else snprintf(L->name, sizeof L->name, "%s", stem);
    }
}

static rnn_status check_unique_names(rnn_model *m) {
    rnn_hash_set names;
    rnn__set_init_strings(&names);
    rnn_status st = RNN_OK;
    for (int i = 0; i < m->n_layers && !st; i++) {
        int r = rnn__set_add(&names, m->layers[i]->name);
        if (r < 0) st = rnn__fail(RNN_ERR_MEMORY, "out of memory");
        else if (r > 0)
            st = rnn__fail(RNN_ERR_ARGUMENT,
                           "All layers added to a model should have unique names. Name "
                           "\"%s\" is already the name of a layer in this model.",
                           m->layers[i]->name);
    }
    rnn__set_free(&names);
    return st;
}

/* Counts gradient contributions per symbol and lists those needing an accumulation buffer. */
static rnn_status find_shared_symbols(rnn_model *m) {
    free(m->shared_symbols);
    m->shared_symbols = NULL;
    m->n_shared_symbols = 0;
    int cap = 0;
    /* Uses counted on the symbols themselves, in one pass over the graph. */
    for (int i = 0; i < m->n_layers; i++) {
        rnn_layer *L = m->layers[i];
        for (int k = 0; k < L->n_outputs; k++)
            if (L->outputs_sym[k]) L->outputs_sym[k]->uses = 0;
        for (int q = 0; q < L->n_inputs; q++) L->inputs_sym[q]->uses = 0;
    }
    for (int o = 0; o < m->n_outputs; o++)
        if (m->outputs[o]) m->outputs[o]->uses++;
    for (int j = 0; j < m->n_layers; j++)
        for (int q = 0; q < m->layers[j]->n_inputs; q++) m->layers[j]->inputs_sym[q]->uses++;
    for (int i = 0; i < m->n_layers; i++) {
        rnn_layer *P = m->layers[i];
        for (int k = 0; k < P->n_outputs; k++) {
            rnn_symbol *s = P->outputs_sym[k];
            if (!s) continue;
            if (s->uses < 2) continue;
            if (m->n_shared_symbols == cap) {
                cap = cap ? 2 * cap : 8;
                rnn_symbol **g = realloc(m->shared_symbols, sizeof *g * (size_t)cap);
                if (!g) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
                m->shared_symbols = g;
            }
            m->shared_symbols[m->n_shared_symbols++] = s;
        }
    }
    return RNN_OK;
}

/* Depth-first from a symbol to the inputs: appends producers after their inputs. */
static rnn_status visit(rnn_model *m, rnn_layer *layer, int depth) {
    if (has_layer(m, layer)) return RNN_OK;
    if (depth > 10000) return rnn__fail(RNN_ERR_ARGUMENT, "the graph is too deep");
    for (int k = 0; k < layer->n_inputs; k++) {
        rnn_status st = visit(m, layer->inputs_sym[k]->producer, depth + 1);
        if (st) return st;
    }
    if (rnn__is_input_layer(layer)) {
        int found = 0;
        for (int k = 0; k < m->n_inputs; k++) found |= m->inputs[k] == layer;
        if (!found)
            return rnn__fail(RNN_ERR_ARGUMENT,
                             "Graph disconnected: the outputs depend on input \"%s\", which is "
                             "not among the model's inputs", layer->name);
    }
    return append_layer(m, layer);
}

/* Position of a layer in m->layers (-1 if absent). */
static int layer_index(const rnn_model *m, const rnn_layer *layer) {
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i] == layer) return i;
    return -1;
}

/* Pre-order of a depth-first walk from the outputs, each call's inputs in order. */
static void preorder(const rnn_model *m, rnn_layer *layer, int *order, int *next) {
    int i = layer_index(m, layer);
    if (i < 0 || order[i] >= 0) return;
    order[i] = (*next)++;
    for (int k = 0; k < layer->n_inputs; k++)
        preorder(m, layer->inputs_sym[k]->producer, order, next);
}

/* Keras's order of model.layers, and so of get_weights (keras/src/ops/function.py, map_graph):
 * by decreasing depth, the longest path to an output, and within one depth in the order the
 * walk from the outputs first meets them. The InputLayers stay first, in the given order. It
 * is a topological order: a producer is deeper than its consumers. m->layers holds the layers
 * topologically (inputs before their consumers). */
static rnn_status keras_layer_order(rnn_model *m) {
    const int n = m->n_layers;
    int *depth = calloc((size_t)n + 1, sizeof *depth);
    int *order = malloc(sizeof *order * ((size_t)n + 1));
    rnn_layer **sorted = malloc(sizeof *sorted * ((size_t)n + 1));
    if (!depth || !order || !sorted) {
        free(depth); free(order); free(sorted);
        return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    }
    for (int i = n - 1; i >= 0; i--) /* consumers before producers */
        for (int k = 0; k < m->layers[i]->n_inputs; k++) {
            int p = layer_index(m, m->layers[i]->inputs_sym[k]->producer);
            if (p >= 0 && depth[p] < depth[i] + 1) depth[p] = depth[i] + 1;
        }
    for (int i = 0; i < n; i++) order[i] = -1;
    int next = 0;
    for (int k = 0; k < m->n_outputs; k++) preorder(m, m->outputs[k]->producer, order, &next);
    int count = 0;
    for (int i = 0; i < n; i++)
        if (rnn__is_input_layer(m->layers[i])) sorted[count++] = m->layers[i];
    const int first = count;
    for (int i = 0; i < n; i++) {
        if (rnn__is_input_layer(m->layers[i])) continue;
        int j = count++; /* insertion: depth descending, then walk order */
        while (j > first) {
            int q = layer_index(m, sorted[j - 1]);
            if (depth[q] > depth[i] || (depth[q] == depth[i] && order[q] < order[i])) break;
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = m->layers[i];
    }
    memcpy(m->layers, sorted, sizeof *sorted * (size_t)n);
    free(depth); free(order); free(sorted);
    return RNN_OK;
}

rnn_model *rnn_model_new(rnn_symbol *const *inputs, int n_inputs, rnn_symbol *const *outputs,
                         int n_outputs, const char *name) {
    if (!inputs || !outputs || n_inputs < 1 || n_outputs < 1 || n_inputs > RNN_MODEL_MAX_IO ||
        n_outputs > RNN_MODEL_MAX_IO) {
        rnn__fail(RNN_ERR_ARGUMENT, "a model needs 1 to %d inputs and outputs", RNN_MODEL_MAX_IO);
        return NULL;
    }
    for (int k = 0; k < n_inputs; k++)
        if (!inputs[k] || !rnn__is_input_layer(inputs[k]->producer)) {
            if (inputs[k] || !rnn_last_error()[0])
                rnn__fail(RNN_ERR_ARGUMENT, "model input %d is %s", k,
                          inputs[k] ? "not an input symbol (rnn_input_new)" : "NULL");
            return NULL;
        }
    for (int k = 0; k < n_outputs; k++)
        if (!outputs[k]) {
            if (!rnn_last_error()[0]) rnn__fail(RNN_ERR_ARGUMENT, "model output %d is NULL", k);
            return NULL; /* keep the message of the call that failed */
        }
    rnn_model *m = model_alloc(name, "functional");
    if (!m) return NULL;
    m->n_inputs = n_inputs;
    m->n_outputs = n_outputs;
    for (int k = 0; k < n_inputs; k++) m->inputs[k] = inputs[k]->producer;
    for (int k = 0; k < n_outputs; k++) m->outputs[k] = outputs[k];
    rnn_status st = RNN_OK;
    /* Inputs first, in the given order, as Keras lists them. */
    for (int k = 0; k < n_inputs && !st; k++) st = visit(m, m->inputs[k], 0);
    for (int k = 0; k < n_outputs && !st; k++) st = visit(m, outputs[k]->producer, 0);
    if (!st) st = keras_layer_order(m);
    if (!st) {
        name_layers(m);
        st = check_unique_names(m);
    }
    if (!st) st = find_shared_symbols(m);
    if (st) {
        /* Leave the caller's graph as it was (unowned), so it can be fixed and used again. */
        for (int i = 0; i < m->n_layers; i++) m->layers[i]->refcount--;
        m->n_layers = 0;
        rnn_model_free(m);
        return NULL;
    }
    return m;
}

rnn_model *rnn_model_simple(rnn_symbol *input, rnn_symbol *output, const char *name) {
    return rnn_model_new(&input, 1, &output, 1, name);
}

/* ---------------------------------------------------------------- Sequential */

rnn_status rnn_sequential_input(rnn_model *m, rnn_symbol *input) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "model is NULL");
    if (!input) return rnn__model_fail(m, RNN_ERR_ARGUMENT);
    if (!m->sequential || m->n_layers > 0)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_STATE,
                               "the input must be declared before the first layer is added"));
    if (!rnn__is_input_layer(input->producer))
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "not an input symbol"));
    m->n_inputs = 1;
    m->inputs[0] = input->producer;
    m->n_outputs = 1;
    m->outputs[0] = input;
    rnn_status st = append_layer(m, input->producer);
    if (!st) name_layers(m);
    return st ? rnn__model_fail(m, st) : RNN_OK;
}

rnn_status rnn_input(rnn_model *m, int64_t steps, int64_t features) {
    return rnn_batch_input(m, RNN_NONE, steps, features);
}

rnn_status rnn_batch_input(rnn_model *m, int64_t batch, int64_t steps, int64_t features) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_input: model is NULL");
    if (!m->sequential || m->n_layers > 0)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_STATE,
                               "the input must be declared before the first layer is added"));
    rnn_symbol *in = rnn_input_new(batch, steps, features, NULL);
    if (!in) return rnn__model_fail(m, RNN_ERR_SHAPE);
    return rnn_sequential_input(m, in);
}

/* Whether a layer of Sequential model m is named name. The name index follows layers[]; it is
 * rebuilt whenever a layer was added another way (the input layer). */
static int sequential_has_name(rnn_model *m, const char *name) {
    if (m->name_set.count != (size_t)m->n_layers) {
        rnn__set_free(&m->name_set);
        rnn__set_init_strings(&m->name_set);
        for (int i = 0; i < m->n_layers; i++) rnn__set_add(&m->name_set, m->layers[i]->name);
    }
    if (m->name_set.count != (size_t)m->n_layers) { /* out of memory, or duplicates: scan */
        for (int i = 0; i < m->n_layers; i++)
            if (strcmp(m->layers[i]->name, name) == 0) return 1;
        return 0;
    }
    return rnn__set_has(&m->name_set, name);
}

rnn_status rnn_add(rnn_model *m, rnn_layer *layer) {
    if (!m) {
        rnn_layer_free(layer);
        return rnn__fail(RNN_ERR_ARGUMENT, "rnn_add: model is NULL");
    }
    if (!layer) {
        char why[RNN_ERROR_MAX];
        snprintf(why, sizeof why, "%s", rnn_last_error());
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "rnn_add: layer is NULL (%s)",
                                            why[0] ? why : "not created"));
    }
    rnn_status st = RNN_OK;
    if (!m->sequential)
        st = rnn__fail(RNN_ERR_STATE, "rnn_add works on Sequential models; call layers on "
                       "symbols (rnn_call) to build a functional model");
    else if (m->n_inputs == 0)
        st = rnn__fail(RNN_ERR_STATE,
                       "declare the model's input before adding layers: rnn_input(model, steps, "
                       "features) or rnn_batch_input(...) (Keras: input_shape= or "
                       "batch_input_shape= on the first layer)");
    if (!st && layer->name[0] && sequential_has_name(m, layer->name))
        st = rnn__fail(RNN_ERR_ARGUMENT,
                       "All layers added to a Sequential model should have unique names. "
                       "Name \"%s\" is already the name of a layer in this model.",
                       layer->name);
    if (!st && layer->configured)
        st = rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" is already part of another model",
                       layer->name);
    if (st) {
        rnn_layer_free(layer);
        return rnn__model_fail(m, st);
    }
    /* Name it now, so messages from configure name it as Keras would. */
    if (!layer->name[0]) {
        int count = kind_count(&m->kinds, layer->ops);
        if (count) snprintf(layer->name, sizeof layer->name, "%s_%d", layer->ops->base_name, count);
        else snprintf(layer->name, sizeof layer->name, "%s", layer->ops->base_name);
    }
    rnn_symbol *out[RNN_LAYER_MAX_OUTPUTS];
    int n_out = 0;
    st = rnn_call_ex(layer, &m->outputs[0], 1, out, &n_out);
    if (!st && n_out > 1)
        st = rnn__fail(RNN_ERR_ARGUMENT,
                       "All layers in a Sequential model should have a single output tensor "
                       "(layer \"%s\" has return_state set). For multi-output layers, use the "
                       "functional API.", layer->name);
    if (!st) st = append_layer(m, layer);
    if (!st && m->name_set.strings && m->name_set.count + 1 == (size_t)m->n_layers)
        rnn__set_add(&m->name_set, layer->name); /* on failure the index is rebuilt next time */
    if (st) {
        rnn__layer_destroy(layer);
        return rnn__model_fail(m, st);
    }
    m->outputs[0] = out[0];
    m->built = 0;
    return RNN_OK;
}

int rnn_layer_count(const rnn_model *m) {
    if (!m) return 0;
    int n = 0;
    for (int i = 0; i < m->n_layers; i++) n += !rnn__is_input_layer(m->layers[i]);
    return n;
}

rnn_layer *rnn_get_layer(rnn_model *m, int index) {
    if (!m || index < 0) return NULL;
    for (int i = 0; i < m->n_layers; i++) {
        if (rnn__is_input_layer(m->layers[i])) continue;
        if (index-- == 0) return m->layers[i];
    }
    return NULL;
}

int rnn__model_walk(rnn_model *m, rnn_layer_visit fn, void *ctx) {
    for (int i = 0; i < m->n_layers; i++) {
        int r = rnn__layer_walk(m->layers[i], fn, ctx);
        if (r) return r;
    }
    return 0;
}

/* ---------------------------------------------------------------- build and weights */

typedef struct {
    rnn_weight **list;
    int n, cap;
} weight_list;

static int collect_weights(rnn_layer *L, void *ctx) {
    weight_list *w = ctx;
    for (int k = 0; k < L->n_weights; k++) {
        if (w->n == w->cap) {
            w->cap = w->cap ? 2 * w->cap : 16;
            rnn_weight **g = realloc(w->list, sizeof *g * (size_t)w->cap);
            if (!g) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
            w->list = g;
        }
        w->list[w->n++] = &L->weights[k];
    }
    return RNN_OK;
}

rnn_status rnn__model_build(rnn_model *m) { return rnn__model_build_weights(m, 1); }

rnn_status rnn__model_build_weights(rnn_model *m, int init) {
    if (m->built) return RNN_OK;
    if (m->n_inputs == 0 || m->n_layers <= m->n_inputs)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_STATE, "the model has no layers yet"));
    rnn_status st;
    for (int i = 0; i < m->n_layers; i++)
        if ((st = rnn__layer_build(m->layers[i], init ? &m->rng : NULL)))
            return rnn__model_fail(m, st);
    weight_list wl = {0};
    if ((st = (rnn_status)rnn__model_walk(m, collect_weights, &wl))) {
        free(wl.list);
        return rnn__model_fail(m, st);
    }
    rnn_weight **list = wl.list;
    int n = wl.n;
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += list[i]->size;
    /* Optimizer slots: kept for weights already trained when layers were appended. A slot not
     * allocated yet stays so: optim_step.c allocates it at the first training step. */
    float *slot[3] = {NULL, NULL, NULL};
    float **cg = malloc(sizeof *cg * (size_t)(n + 1));
    int64_t *cs = malloc(sizeof *cs * (size_t)(n + 1));
    int ok = cg && cs;
    for (int k = 0; k < 3; k++)
        if (m->opt_slot[k]) ok &= (slot[k] = rnn__calloc((size_t)total + 1, sizeof(float))) != NULL;
    if (!ok) {
        for (int k = 0; k < 3; k++) rnn__free(slot[k]);
        free(cg); free(cs); free(list);
        return rnn__model_fail(m, rnn__fail(RNN_ERR_MEMORY, "out of memory"));
    }
    for (int k = 0; k < 3; k++) {
        /* the kept weights' values; the appended weights' at the starting value, which a slot
         * not allocated yet holds too (Adagrad's initial_accumulator_value, not 0) */
        const int64_t kept = m->opt_slot[k] && m->n_params <= total ? m->n_params : 0;
        if (kept) memcpy(slot[k], m->opt_slot[k], sizeof(float) * (size_t)kept);
        if (slot[k]) {
            const float v = rnn__optimizer_slot_init(&m->optimizer, k);
            for (int64_t i = kept; v != 0.0f && i < total; i++) slot[k][i] = v;
        }
        rnn__free(m->opt_slot[k]);
        m->opt_slot[k] = slot[k];
    }
    for (int i = 0; i < n; i++) {
        cg[i] = list[i]->grad;
        cs[i] = list[i]->size;
    }
    free(m->clip_grads);
    free(m->clip_sizes);
    m->clip_grads = cg;
    m->clip_sizes = cs;
    free(m->weights);
    m->weights = list;
    m->n_weights = n;
    m->n_params = total;
    if ((st = find_shared_symbols(m))) return rnn__model_fail(m, st);
    m->built = 1;
    m->weights_drawn = 1;
    return RNN_OK;
}

void rnn__model_zero_grads(rnn_model *m) {
    for (int i = 0; i < m->n_weights; i++) {
        memset(m->weights[i]->grad, 0, sizeof(float) * (size_t)m->weights[i]->size);
        m->weights[i]->n_slice_sets = 0;
    }
}

static int reset_one(rnn_layer *L, void *ctx);

/* The layers with allocated weights, each once (a layer reached twice, through a model nested
 * in two places, is drawn once by the build too), in walk order: the build's order of draws. */
typedef struct {
    rnn_layer **list;
    int n, cap;
} layer_list;

static int list_built(rnn_layer *L, void *ctx) {
    layer_list *l = ctx;
    if (L->n_weights == 0 || !L->weight_block) return RNN_OK;
    for (int i = 0; i < l->n; i++)
        if (l->list[i] == L) return RNN_OK;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        rnn_layer **g = realloc(l->list, sizeof *g * (size_t)l->cap);
        if (!g) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
        l->list = g;
    }
    l->list[l->n++] = L;
    return RNN_OK;
}

/* Draws every weight again from the generator as the first build did: zeros first (the
 * initialisers leave biases at the allocation's zeros), then the layer's initialisers. What
 * belonged to the old weights goes with them: optimizer slots and step count, carried states. */
static rnn_status redraw_weights(rnn_model *m) {
    layer_list l = {0};
    rnn_status st = (rnn_status)rnn__model_walk(m, list_built, &l);
    if (st) {
        free(l.list);
        return st;
    }
    for (int i = 0; i < l.n; i++) {
        rnn_layer *L = l.list[i];
        int64_t total = 0;
        for (int k = 0; k < L->n_weights; k++) total += L->weights[k].size;
        memset(L->weight_block, 0, sizeof(float) * (size_t)total);
        memset(L->grad_block, 0, sizeof(float) * (size_t)total);
        if (L->ops->init_weights) L->ops->init_weights(L, &m->rng);
    }
    for (int i = 0; i < l.n; i++) rnn__layer_weights_changed(l.list[i]);
    free(l.list);
    m->iterations = 0;
    rnn__optimizer_reset_slots(m);
    rnn__model_walk(m, reset_one, NULL);
    return RNN_OK;
}

rnn_status rnn_set_seed(rnn_model *m, uint64_t seed) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_set_seed: model is NULL");
    rnn__rng_seed(&m->rng, seed);
    if (!m->weights_drawn) return RNN_OK;
    rnn_status st = redraw_weights(m);
    return st ? rnn__model_fail(m, st) : RNN_OK;
}

static int find_stateful_batch(rnn_layer *L, void *ctx) {
    if (L->ops->stateful_batch) *(int64_t *)ctx = L->ops->stateful_batch(L);
    return *(int64_t *)ctx != 0;
}

int64_t rnn__model_stateful_batch(rnn_model *m) {
    int64_t b = 0;
    rnn__model_walk(m, find_stateful_batch, &b);
    return b;
}

const rnn_shape *rnn__model_input_shape(const rnn_model *m, int k) {
    return &m->inputs[k]->output[0];
}

/* The steps of symbol s when the model's inputs have `steps` steps: the input's, changed by every
 * layer on the way that has output_steps (Conv1D); a nested model resolves its own. */
static int64_t symbol_steps(const rnn_symbol *s, int64_t steps, int depth) {
    if (s->shape.rank >= 2 && s->shape.dim[1] >= 0) return s->shape.dim[1];
    const rnn_layer *L = s->producer;
    if (!L || rnn__is_input_layer(L) || depth > 512 || L->n_inputs < 1 || !L->inputs_sym[0])
        return steps;
    int64_t in = symbol_steps(L->inputs_sym[0], steps, depth + 1);
    if (L->ops->output_steps) return L->ops->output_steps(L, in);
    return in;
}

rnn_shape rnn__model_output_shape(const rnn_model *m, int k, int64_t batch, int64_t steps) {
    rnn_shape s = m->outputs[k]->shape;
    s.dim[0] = batch;
    if (s.rank == 3 && s.dim[1] < 0) s.dim[1] = symbol_steps(m->outputs[k], steps, 0);
    if (s.rank == 2 && s.dim[1] < 0) s.dim[1] = steps; /* ids in, ids out */
    return s;
}

rnn_status rnn_output_shape(rnn_model *m, int *rank, int64_t shape[RNN_MAX_RANK]) {
    if (!m || !rank || !shape) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_output_shape: NULL argument");
    if (m->n_outputs == 0)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_STATE, "the model has no input yet"));
    const rnn_shape *s = &m->outputs[0]->shape;
    *rank = s->rank;
    for (int i = 0; i < RNN_MAX_RANK; i++) shape[i] = i < s->rank ? s->dim[i] : 0;
    return RNN_OK;
}

static int reset_one(rnn_layer *L, void *ctx) {
    (void)ctx;
    if (L->ops->reset_states) L->ops->reset_states(L);
    return 0;
}

rnn_status rnn_reset_states(rnn_model *m) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_reset_states: model is NULL");
    rnn__model_walk(m, reset_one, NULL);
    return RNN_OK;
}

int64_t rnn_count_params(rnn_model *m) {
    if (!m) return 0;
    int64_t n = 0;
    for (int i = 0; i < m->n_layers; i++) n += rnn__layer_param_count(m->layers[i]);
    return n;
}

int rnn_weight_count(rnn_model *m) {
    if (!m || rnn__model_build(m)) return 0;
    return m->n_weights;
}

typedef struct {
    const rnn_weight *w;
    rnn_layer *owner;
} owner_search;

static int owns_weight(rnn_layer *L, void *ctx) {
    owner_search *o = ctx;
    if (o->w >= L->weights && o->w < L->weights + L->n_weights) o->owner = L;
    return o->owner != NULL;
}

static rnn_layer *weight_owner(rnn_model *m, const rnn_weight *w) {
    owner_search o = {w, NULL};
    rnn__model_walk(m, owns_weight, &o);
    return o.owner;
}

rnn_status rnn_weight_info(rnn_model *m, int index, const char **name, int *rank,
                           int64_t shape[RNN_MAX_RANK]) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "model is NULL");
    rnn_status st = rnn__model_build(m);
    if (st) return st;
    if (index < 0 || index >= m->n_weights)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "no weight with index %d (the "
                               "model has %d)", index, m->n_weights));
    rnn_weight *w = m->weights[index];
    rnn_layer *L = weight_owner(m, w);
    char full[sizeof w->path];
    snprintf(full, sizeof full, "%s/%s", L ? L->name : "?", w->name);
    /* Written only when it changes (a layer renamed since the last call), so that a caller
     * holding the pointer while another thread asks again never sees a half-written name. */
    if (strcmp(full, w->path)) memcpy(w->path, full, sizeof full);
    if (name) *name = w->path;
    if (rank) *rank = w->rank;
    if (shape)
        for (int i = 0; i < RNN_MAX_RANK; i++) shape[i] = i < w->rank ? w->shape[i] : 0;
    return RNN_OK;
}

static rnn_status weight_access(rnn_model *m, int index, int64_t count, rnn_weight **out) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "model is NULL");
    rnn_status st = rnn__model_build(m);
    if (st) return st;
    if (index < 0 || index >= m->n_weights)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "no weight with index %d (the "
                               "model has %d)", index, m->n_weights));
    rnn_weight *w = m->weights[index];
    if (count != w->size) {
        rnn_layer *L = weight_owner(m, w);
        return rnn__model_fail(m, rnn__fail(RNN_ERR_SHAPE,
                               "weight %s/%s has %lld values, the buffer has %lld",
                               L ? L->name : "?", w->name, (long long)w->size, (long long)count));
    }
    *out = w;
    return RNN_OK;
}

rnn_status rnn_get_weight(rnn_model *m, int index, float *out, int64_t count) {
    rnn_weight *w;
    rnn_status st = weight_access(m, index, count, &w);
    if (st) return st;
    if (!out) return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "rnn_get_weight: NULL buffer"));
    memcpy(out, w->value, sizeof(float) * (size_t)count);
    return RNN_OK;
}

rnn_status rnn_set_weight(rnn_model *m, int index, const float *values, int64_t count) {
    rnn_weight *w;
    rnn_status st = weight_access(m, index, count, &w);
    if (st) return st;
    if (!values) return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "rnn_set_weight: NULL values"));
    for (int64_t i = 0; i < count; i++)
        if (!isfinite(values[i]))
            return rnn__model_fail(m, rnn__fail(RNN_ERR_NUMERIC,
                                   "rnn_set_weight: value %lld is not finite", (long long)i));
    memcpy(w->value, values, sizeof(float) * (size_t)count);
    rnn__weight_changed(w);
    return RNN_OK;
}

rnn_status rnn_copy_weights(rnn_model *dst, rnn_model *src) {
    if (!dst || !src) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_copy_weights: NULL model");
    rnn_status st = rnn__model_build(src);
    if (!st) st = rnn__model_build(dst);
    if (st) return st;
    if (src->n_weights != dst->n_weights)
        return rnn__model_fail(dst, rnn__fail(RNN_ERR_SHAPE,
                               "rnn_copy_weights: the models have %d and %d weights",
                               dst->n_weights, src->n_weights));
    for (int i = 0; i < src->n_weights; i++) {
        rnn_weight *a = src->weights[i], *b = dst->weights[i];
        if (a->size != b->size || a->rank != b->rank || a->shape[0] != b->shape[0] ||
            a->shape[1] != b->shape[1] || a->shape[2] != b->shape[2])
            return rnn__model_fail(dst, rnn__fail(RNN_ERR_SHAPE,
                                   "rnn_copy_weights: weight %d has a different shape", i));
    }
    for (int i = 0; i < src->n_weights; i++) {
        memcpy(dst->weights[i]->value, src->weights[i]->value,
               sizeof(float) * (size_t)src->weights[i]->size);
        rnn__weight_changed(dst->weights[i]);
    }
    return RNN_OK;
}

/* ---------------------------------------------------------------- inputs and outputs by index */

int rnn_input_count(const rnn_model *m) { return m ? m->n_inputs : 0; }
int rnn_output_count(const rnn_model *m) { return m ? m->n_outputs : 0; }

const char *rnn_input_name(const rnn_model *m, int k) {
    return m && k >= 0 && k < m->n_inputs ? m->inputs[k]->name : NULL;
}

const char *rnn_output_name(const rnn_model *m, int k) {
    return m && k >= 0 && k < m->n_outputs && m->outputs[k]->producer
               ? m->outputs[k]->producer->name
               : NULL;
}

rnn_status rnn_input_shape(rnn_model *m, int k, int *rank, int64_t shape[RNN_MAX_RANK]) {
    if (!m || !rank || !shape) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_input_shape: NULL argument");
    if (k < 0 || k >= m->n_inputs)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "rnn_input_shape: the model has %d "
                                            "input(s), not %d", m->n_inputs, k + 1));
    const rnn_shape *s = rnn__model_input_shape(m, k);
    *rank = s->rank;
    for (int i = 0; i < RNN_MAX_RANK; i++) shape[i] = i < s->rank ? s->dim[i] : 0;
    return RNN_OK;
}
