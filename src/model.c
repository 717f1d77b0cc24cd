/* Models: construction (Sequential and functional), layer lifetime, naming, weights and states.
 * Running the graph is in graph.c, training in train.c, the summary table in summary.c. */
#include "model.h"
#include "context.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- shared layer helpers */

rnn_layer *rnn__layer_new(const rnn_layer_ops *ops, void *impl, const char *name) {
    rnn_layer *layer = calloc(1, sizeof *layer);
    if (!layer) {
        if (ops->free_impl) ops->free_impl(impl);
        rnn__fail(RNN_ERR_MEMORY, "%s: out of memory", ops->class_name);
        return NULL;
    }
    layer->ops = ops;
    layer->impl = impl;
    if (name) snprintf(layer->name, sizeof layer->name, "%s", name);
    return layer;
}

void rnn__weight_set(rnn_weight *w, const char *name, int rank, int64_t d0, int64_t d1) {
    snprintf(w->name, sizeof w->name, "%s", name);
    w->rank = rank;
    w->shape[0] = d0;
    w->shape[1] = rank == 2 ? d1 : 0;
    w->shape[2] = 0;
    w->size = rank == 2 ? d0 * d1 : d0;
    w->value = w->grad = NULL;
}

void rnn__weight_set3(rnn_weight *w, const char *name, int64_t d0, int64_t d1, int64_t d2) {
    rnn__weight_set(w, name, 2, d0, d1);
    w->rank = 3;
    w->shape[2] = d2;
    w->size = d0 * d1 * d2;
}

void rnn__shape_format(const rnn_shape *s, char *buf, size_t size) {
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < s->rank && used < size; i++) {
        if (s->dim[i] < 0)
            used += (size_t)snprintf(buf + used, size - used, "%sNone", i ? ", " : "");
        else
            used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "",
                                     (long long)s->dim[i]);
    }
    if (used < size) snprintf(buf + used, size - used, s->rank == 1 ? ",)" : ")");
}

int rnn__shape_equal(const rnn_shape *a, const rnn_shape *b) {
    if (a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dim[i] != b->dim[i]) return 0;
    return 1;
}

rnn_status rnn__expect_rank(const rnn_layer *layer, const rnn_shape *in, int rank_a, int rank_b) {
    if (in->rank == rank_a || in->rank == rank_b) return RNN_OK;
    char s[96], want[32];
    rnn__shape_format(in, s, sizeof s);
    if (rank_b && rank_b != rank_a)
        snprintf(want, sizeof want, "ndim=%d or %d", rank_a, rank_b);
    else
        snprintf(want, sizeof want, "ndim=%d", rank_a);
    return rnn__fail(RNN_ERR_SHAPE,
                     "Input 0 of layer \"%s\" is incompatible with the layer: expected %s, found "
                     "ndim=%d. Full shape received: %s",
                     layer->name, want, in->rank, s);
}

int64_t rnn__layer_param_count(rnn_layer *layer) {
    int64_t n = 0;
    for (int i = 0; i < layer->n_weights; i++) n += layer->weights[i].size;
    if (layer->ops->children) {
        rnn_layer **kids;
        int nk = layer->ops->children(layer, &kids);
        for (int i = 0; i < nk; i++) n += rnn__layer_param_count(kids[i]);
    }
    return n;
}

int64_t rnn__tensor_row_size(const rnn_tensor *t) {
    int64_t n = 1;
    for (int i = 1; i < t->rank; i++) n *= t->shape[i];
    return n;
}

void rnn__layer_weights_changed(rnn_layer *layer) {
    for (int k = 0; k < layer->n_weights; k++) rnn__weight_changed(&layer->weights[k]);
    if (layer->ops->children) {
        rnn_layer **kids;
        int nk = layer->ops->children(layer, &kids);
        for (int i = 0; i < nk; i++) rnn__layer_weights_changed(kids[i]);
    }
}

rnn_status rnn__layer_build(rnn_layer *layer, rnn_rng *rng) {
    if (layer->n_weights > 0 && !layer->weight_block) {
        int64_t total = 0;
        for (int k = 0; k < layer->n_weights; k++) total += layer->weights[k].size;
        float *v = rnn__calloc((size_t)total, sizeof(float));
        float *g = rnn__calloc((size_t)total, sizeof(float));
        if (!v || !g) {
            rnn__free(v);
            rnn__free(g);
            return rnn__fail(RNN_ERR_MEMORY, "layer \"%s\": out of memory for %lld weights",
                             layer->name, (long long)total);
        }
        int64_t off = 0;
        for (int k = 0; k < layer->n_weights; k++) {
            layer->weights[k].value = v + off;
            layer->weights[k].grad = g + off;
            off += layer->weights[k].size;
        }
        layer->weight_block = v;
        layer->grad_block = g;
        if (layer->ops->init_weights && rng) layer->ops->init_weights(layer, rng);
        rnn__layer_weights_changed(layer);
    }
    if (layer->ops->children) {
        rnn_layer **kids;
        int nk = layer->ops->children(layer, &kids);
        for (int i = 0; i < nk; i++) {
            rnn_status st = rnn__layer_build(kids[i], rng);
            if (st) return st;
        }
    }
    return RNN_OK;
}

static void layer_destroy(rnn_layer *layer) {
    rnn__ws_free(&layer->ws);
    for (int k = 0; k < RNN_LAYER_MAX_OUTPUTS; k++)
        if (layer->outputs_sym[k]) {
            rnn__free(layer->outputs_sym[k]->acc);
            free(layer->outputs_sym[k]);
        }
    rnn__free(layer->weight_block);
    rnn__free(layer->grad_block);
    if (layer->ops && layer->ops->free_impl) layer->ops->free_impl(layer->impl);
    free(layer);
}

void rnn__layer_release(rnn_layer *layer) {
    if (!layer) return;
    if (--layer->refcount <= 0) layer_destroy(layer);
}

void rnn_layer_free(rnn_layer *layer) {
    if (layer && layer->refcount <= 0) layer_destroy(layer);
}

const char *rnn_layer_name(const rnn_layer *layer) { return layer ? layer->name : ""; }

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
        layer_destroy(layer);
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

rnn_symbol *rnn_new_input(int64_t batch, int64_t steps, int64_t features, const char *name) {
    if (check_input_dims(batch, steps, features, 0)) return NULL;
    rnn_shape s = steps == 0 ? (rnn_shape){2, {batch, features, 0, 0}}
                             : (rnn_shape){3, {batch, steps, features, 0}};
    return new_input(s, 0, name);
}

void rnn_input_free(rnn_symbol *input) {
    if (input && rnn__is_input_layer(input->producer) && input->producer->refcount <= 0)
        layer_destroy(input->producer);
}

rnn_symbol *rnn_new_ids_input(int64_t batch, int64_t steps, const char *name) {
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
    if (!layer->name[0])
        snprintf(layer->name, sizeof layer->name, "%s", layer->ops->base_name);
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
        if (layer && layer->refcount <= 0 && !layer->configured) layer_destroy(layer);
        return NULL;
    }
    if (rnn_call_ex(layer, &x, 1, out, NULL) != RNN_OK) {
        if (layer && !layer->configured) layer_destroy(layer);
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
    free(m->shared_symbols);
    free(m->weights);
    for (int k = 0; k < 3; k++) rnn__free(m->opt_slot[k]);
    free(m->clip_grads);
    free(m->clip_sizes);
    rnn__ws_free(&m->ws);
    rnn__context_release(m->context);
    free(m);
}

static rnn_status append_layer(rnn_model *m, rnn_layer *layer) {
    if (m->n_layers == m->layers_capacity) {
        int cap = m->layers_capacity ? 2 * m->layers_capacity : 8;
        rnn_layer **grown = realloc(m->layers, sizeof *grown * (size_t)cap);
        if (!grown) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
        m->layers = grown;
        m->layers_capacity = cap;
    }
    m->layers[m->n_layers++] = layer;
    layer->refcount++;
    return RNN_OK;
}

static int has_layer(const rnn_model *m, const rnn_layer *layer) {
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i] == layer) return 1;
    return 0;
}

/* Keras's automatic names, unique within the model: "lstm", "lstm_1", ... A layer named by the
 * user, or named by another model it is part of, keeps its name. */
static void name_layers(rnn_model *m) {
    for (int i = 0; i < m->n_layers; i++) {
        rnn_layer *L = m->layers[i];
        const char *stem = L->ops->base_name;
        if (L->name[0] && strcmp(L->name, stem) != 0) continue;
        int count = 0;
        for (int j = 0; j < i; j++)
            if (m->layers[j]->ops == L->ops) count++;
        if (count) snprintf(L->name, sizeof L->name, "%s_%d", stem, count);
        else snprintf(L->name, sizeof L->name, "%s", stem);
    }
}

static rnn_status check_unique_names(rnn_model *m) {
    for (int i = 0; i < m->n_layers; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(m->layers[i]->name, m->layers[j]->name) == 0)
                return rnn__fail(RNN_ERR_ARGUMENT,
                                 "All layers added to a model should have unique names. Name "
                                 "\"%s\" is already the name of a layer in this model.",
                                 m->layers[i]->name);
    return RNN_OK;
}

/* Counts gradient contributions per symbol and lists those needing an accumulation buffer. */
static rnn_status find_shared_symbols(rnn_model *m) {
    free(m->shared_symbols);
    m->shared_symbols = NULL;
    m->n_shared_symbols = 0;
    int cap = 0;
    for (int i = 0; i < m->n_layers; i++) {
        rnn_layer *P = m->layers[i];
        for (int k = 0; k < P->n_outputs; k++) {
            rnn_symbol *s = P->outputs_sym[k];
            if (!s) continue;
            int uses = 0;
            for (int o = 0; o < m->n_outputs; o++) uses += m->outputs[o] == s;
            for (int j = 0; j < m->n_layers; j++)
                for (int q = 0; q < m->layers[j]->n_inputs; q++)
                    uses += m->layers[j]->inputs_sym[q] == s;
            if (uses < 2) continue;
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
                          inputs[k] ? "not an input symbol (rnn_new_input)" : "NULL");
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
    rnn_symbol *in = rnn_new_input(batch, steps, features, NULL);
    if (!in) return rnn__model_fail(m, RNN_ERR_SHAPE);
    return rnn_sequential_input(m, in);
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
    for (int i = 0; !st && i < m->n_layers; i++)
        if (layer->name[0] && strcmp(m->layers[i]->name, layer->name) == 0)
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
        int count = 0;
        for (int i = 0; i < m->n_layers; i++) count += m->layers[i]->ops == layer->ops;
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
    if (st) {
        layer_destroy(layer);
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

int rnn__model_all_layers(rnn_model *m, rnn_layer **out, int capacity) {
    int n = 0;
    for (int i = 0; i < m->n_layers; i++) {
        rnn_layer *L = m->layers[i];
        if (n < capacity) out[n] = L;
        n++;
        if (L->ops->children) {
            rnn_layer **kids;
            int nk = L->ops->children(L, &kids);
            for (int j = 0; j < nk; j++) {
                if (n < capacity) out[n] = kids[j];
                n++;
            }
        }
    }
    return n;
}

/* ---------------------------------------------------------------- build and weights */

static rnn_status collect_weights(rnn_layer *L, rnn_weight ***list, int *n, int *cap) {
    for (int k = 0; k < L->n_weights; k++) {
        if (*n == *cap) {
            *cap = *cap ? 2 * *cap : 16;
            rnn_weight **g = realloc(*list, sizeof *g * (size_t)*cap);
            if (!g) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
            *list = g;
        }
        (*list)[(*n)++] = &L->weights[k];
    }
    if (L->ops->children) {
        rnn_layer **kids;
        int nk = L->ops->children(L, &kids);
        for (int i = 0; i < nk; i++) {
            rnn_status st = collect_weights(kids[i], list, n, cap);
            if (st) return st;
        }
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
    rnn_weight **list = NULL;
    int n = 0, cap = 0;
    for (int i = 0; i < m->n_layers; i++)
        if ((st = collect_weights(m->layers[i], &list, &n, &cap))) {
            free(list);
            return rnn__model_fail(m, st);
        }
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += list[i]->size;
    /* Optimizer slots: kept for weights already trained when layers were appended. */
    float *slot[3];
    float **cg = malloc(sizeof *cg * (size_t)(n + 1));
    int64_t *cs = malloc(sizeof *cs * (size_t)(n + 1));
    int ok = cg && cs;
    for (int k = 0; k < 3; k++) ok &= (slot[k] = rnn__calloc((size_t)total + 1, sizeof(float))) != NULL;
    if (!ok) {
        for (int k = 0; k < 3; k++) rnn__free(slot[k]);
        free(cg); free(cs); free(list);
        return rnn__model_fail(m, rnn__fail(RNN_ERR_MEMORY, "out of memory"));
    }
    for (int k = 0; k < 3; k++) {
        if (m->opt_slot[k] && m->n_params <= total)
            memcpy(slot[k], m->opt_slot[k], sizeof(float) * (size_t)m->n_params);
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
    return RNN_OK;
}

void rnn__model_zero_grads(rnn_model *m) {
    for (int i = 0; i < m->n_weights; i++)
        memset(m->weights[i]->grad, 0, sizeof(float) * (size_t)m->weights[i]->size);
}

rnn_status rnn_set_seed(rnn_model *m, uint64_t seed) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_set_seed: model is NULL");
    rnn__rng_seed(&m->rng, seed);
    return RNN_OK;
}

int64_t rnn__model_stateful_batch(rnn_model *m) {
    rnn_layer *all[512];
    int n = rnn__model_all_layers(m, all, 512);
    for (int i = 0; i < n && i < 512; i++)
        if (all[i]->ops->stateful_batch) {
            int64_t b = all[i]->ops->stateful_batch(all[i]);
            if (b) return b;
        }
    return 0;
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

rnn_status rnn_reset_states(rnn_model *m) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_reset_states: model is NULL");
    rnn_layer *all[512];
    int n = rnn__model_all_layers(m, all, 512);
    for (int i = 0; i < n && i < 512; i++)
        if (all[i]->ops->reset_states) all[i]->ops->reset_states(all[i]);
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

static rnn_layer *weight_owner(rnn_model *m, const rnn_weight *w) {
    rnn_layer *all[512];
    int n = rnn__model_all_layers(m, all, 512);
    for (int i = 0; i < n && i < 512; i++)
        if (w >= all[i]->weights && w < all[i]->weights + all[i]->n_weights) return all[i];
    return NULL;
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
    static _Thread_local char full[2 * RNN_NAME_MAX + 32];
    snprintf(full, sizeof full, "%s/%s", L ? L->name : "?", w->name);
    if (name) *name = full;
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
