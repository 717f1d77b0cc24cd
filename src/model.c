/* Sequential models: building, weights, states. Training and inference are in train.c, the
 * summary table in summary.c. */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers/recurrent.h"

/* ---------------------------------------------------------------- shared layer helpers */

void rnn__weight_set(rnn_weight *w, const char *name, int rank, int64_t d0, int64_t d1) {
    snprintf(w->name, sizeof w->name, "%s", name);
    w->rank = rank;
    w->shape[0] = d0;
    w->shape[1] = rank == 2 ? d1 : 0;
    w->size = rank == 2 ? d0 * d1 : d0;
    w->value = w->grad = NULL;
}

void rnn__shape_format(const rnn_shape *s, char *buf, size_t size) {
    size_t used = 0;
    used += (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < s->rank && used < size; i++) {
        if (s->dim[i] < 0)
            used += (size_t)snprintf(buf + used, size - used, "%sNone", i ? ", " : "");
        else
            used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "",
                                     (long long)s->dim[i]);
    }
    if (used < size) snprintf(buf + used, size - used, ")");
}

int64_t rnn__layer_param_count(const rnn_layer *layer) {
    int64_t n = 0;
    for (int i = 0; i < layer->n_weights; i++) n += layer->weights[i].size;
    return n;
}

/* ---------------------------------------------------------------- model */

rnn_status rnn__model_fail(rnn_model *m, rnn_status status) {
    if (m) snprintf(m->error, sizeof m->error, "%s", rnn_last_error());
    return status;
}

const char *rnn_model_error(const rnn_model *model) { return model ? model->error : ""; }

rnn_model *rnn_sequential(const char *name) {
    rnn_model *m = calloc(1, sizeof *m);
    if (!m) {
        rnn__fail(RNN_ERR_MEMORY, "out of memory");
        return NULL;
    }
    snprintf(m->name, sizeof m->name, "%s", name ? name : "sequential");
    rnn__rng_seed(&m->rng, 0);
    return m;
}

void rnn_layer_free(rnn_layer *layer) {
    if (!layer) return;
    rnn__ws_free(&layer->ws);
    if (layer->ops && layer->ops->free_impl) layer->ops->free_impl(layer->impl);
    free(layer);
}

void rnn_model_free(rnn_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_layers; i++) rnn_layer_free(m->layers[i]);
    free(m->layers);
    rnn__free(m->params);
    rnn__free(m->grads);
    rnn__free(m->opt_m);
    rnn__free(m->opt_v);
    rnn__ws_free(&m->ws);
    free(m);
}

const char *rnn_layer_name(const rnn_layer *layer) { return layer ? layer->name : ""; }

rnn_status rnn_set_seed(rnn_model *m, uint64_t seed) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_set_seed: model is NULL");
    rnn__rng_seed(&m->rng, seed);
    return RNN_OK;
}

static rnn_status set_input(rnn_model *m, int64_t batch, int64_t steps, int64_t features) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_input: model is NULL");
    if (m->n_layers > 0)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_STATE,
                               "the input must be declared before the first layer is added"));
    if (features <= 0 || features > (1 << 24))
        return rnn__model_fail(m, rnn__fail(RNN_ERR_SHAPE,
                               "input features must be between 1 and 16777216, got %lld",
                               (long long)features));
    if (steps < RNN_NONE || steps > INT32_MAX)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_SHAPE,
                               "input steps must be RNN_NONE (unknown), 0 (no time axis) or "
                               "positive, got %lld", (long long)steps));
    if (batch == 0 || batch < RNN_NONE || batch > INT32_MAX)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_SHAPE,
                               "batch size must be positive, got %lld", (long long)batch));
    if (steps == 0)
        m->input = (rnn_shape){2, {batch, features, 0, 0}};
    else
        m->input = (rnn_shape){3, {batch, steps, features, 0}};
    m->has_input = 1;
    return RNN_OK;
}

rnn_status rnn_input(rnn_model *m, int64_t steps, int64_t features) {
    return set_input(m, RNN_NONE, steps, features);
}

rnn_status rnn_batch_input(rnn_model *m, int64_t batch, int64_t steps, int64_t features) {
    return set_input(m, batch, steps, features);
}

/* Keras's automatic names: the first LSTM is "lstm", the next "lstm_1", ... */
static void auto_name(rnn_model *m, rnn_layer *layer) {
    if (layer->name[0]) return;
    const char *stem = layer->ops->base_name;
    int count = 0;
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->ops == layer->ops) count++;
    if (count == 0)
        snprintf(layer->name, sizeof layer->name, "%s", stem);
    else
        snprintf(layer->name, sizeof layer->name, "%s_%d", stem, count);
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
    if (!m->has_input) {
        rnn_layer_free(layer);
        return rnn__model_fail(m, rnn__fail(RNN_ERR_STATE,
                               "declare the model's input before adding layers: "
                               "rnn_input(model, steps, features) or rnn_batch_input(...) "
                               "(Keras: input_shape= or batch_input_shape= on the first layer)"));
    }
    for (int i = 0; i < m->n_layers; i++)
        if (layer->name[0] && strcmp(m->layers[i]->name, layer->name) == 0) {
            rnn__fail(RNN_ERR_ARGUMENT,
                      "All layers added to a Sequential model should have unique names. Name "
                      "\"%s\" is already the name of a layer in this model.", layer->name);
            rnn_layer_free(layer);
            return rnn__model_fail(m, RNN_ERR_ARGUMENT);
        }
    auto_name(m, layer);
    const rnn_shape *in = m->n_layers ? &m->layers[m->n_layers - 1]->output[0] : &m->input;
    rnn_status st = layer->ops->configure(layer, in);
    if (st == RNN_OK && layer->n_outputs > 1)
        st = rnn__fail(RNN_ERR_ARGUMENT,
                       "All layers in a Sequential model should have a single output tensor "
                       "(layer \"%s\" has return_state set). For multi-output layers, use the "
                       "functional API.", layer->name);
    if (st != RNN_OK) {
        rnn_layer_free(layer);
        return rnn__model_fail(m, st);
    }
    if (m->n_layers == m->layers_capacity) {
        int cap = m->layers_capacity ? 2 * m->layers_capacity : 8;
        rnn_layer **grown = realloc(m->layers, sizeof *grown * (size_t)cap);
        if (!grown) {
            rnn_layer_free(layer);
            return rnn__model_fail(m, rnn__fail(RNN_ERR_MEMORY, "out of memory"));
        }
        m->layers = grown;
        m->layers_capacity = cap;
    }
    m->layers[m->n_layers++] = layer;
    return RNN_OK;
}

int rnn_layer_count(const rnn_model *m) { return m ? m->n_layers : 0; }

rnn_layer *rnn_get_layer(rnn_model *m, int index) {
    if (!m || index < 0 || index >= m->n_layers) return NULL;
    return m->layers[index];
}

rnn_status rnn__model_build(rnn_model *m) {
    if (m->built_layers == m->n_layers) return RNN_OK;
    int64_t total = 0;
    for (int i = 0; i < m->n_layers; i++) total += rnn__layer_param_count(m->layers[i]);
    float *params = rnn__calloc((size_t)total, sizeof(float));
    float *grads = rnn__calloc((size_t)total, sizeof(float));
    float *om = rnn__calloc((size_t)total, sizeof(float));
    float *ov = rnn__calloc((size_t)total, sizeof(float));
    if (!params || !grads || !om || !ov) {
        rnn__free(params); rnn__free(grads); rnn__free(om); rnn__free(ov);
        return rnn__model_fail(m, rnn__fail(RNN_ERR_MEMORY, "out of memory for %lld parameters",
                                            (long long)total));
    }
    /* Layers already built keep their values (and optimizer slots) at the same offsets. */
    if (m->params) {
        memcpy(params, m->params, sizeof(float) * (size_t)m->n_params);
        memcpy(om, m->opt_m, sizeof(float) * (size_t)m->n_params);
        memcpy(ov, m->opt_v, sizeof(float) * (size_t)m->n_params);
    }
    rnn__free(m->params); rnn__free(m->grads); rnn__free(m->opt_m); rnn__free(m->opt_v);
    m->params = params;
    m->grads = grads;
    m->opt_m = om;
    m->opt_v = ov;
    m->n_params = total;
    int64_t off = 0;
    for (int i = 0; i < m->n_layers; i++) {
        rnn_layer *L = m->layers[i];
        for (int k = 0; k < L->n_weights; k++) {
            L->weights[k].value = params + off;
            L->weights[k].grad = grads + off;
            off += L->weights[k].size;
        }
        if (i >= m->built_layers) {
            L->ops->init_weights(L, &m->rng);
            L->weights_ready = 1;
        }
    }
    m->built_layers = m->n_layers;
    return RNN_OK;
}

rnn_status rnn__model_forward(rnn_model *m, const rnn_tensor *x, rnn_run_mode mode,
                              const rnn_tensor **out) {
    rnn_status st = rnn__model_build(m);
    if (st != RNN_OK) return st;
    const rnn_tensor *cur = x;
    for (int i = 0; i < m->n_layers; i++) {
        rnn_layer *L = m->layers[i];
        int64_t B = cur->shape[0], T = cur->rank == 3 ? cur->shape[1] : 0;
        if (L->planned_batch != B || L->planned_steps != T || !L->ws.block) {
            st = L->ops->plan(L, B, T);
            if (st != RNN_OK) {
                L->planned_batch = -1;
                return rnn__model_fail(m, st);
            }
        }
        L->ops->forward(L, cur, mode);
        cur = &L->y[0];
    }
    *out = cur;
    return RNN_OK;
}

void rnn__model_backward(rnn_model *m, const rnn_tensor *x, float *dloss) {
    float *dy[RNN_LAYER_MAX_OUTPUTS] = {dloss, NULL, NULL};
    for (int i = m->n_layers - 1; i >= 0; i--) {
        rnn_layer *L = m->layers[i];
        const rnn_tensor *in = i ? &m->layers[i - 1]->y[0] : x;
        L->ops->backward(L, in, dy, i > 0);
        dy[0] = L->dx;
    }
}

int64_t rnn__model_stateful_batch(const rnn_model *m) {
    for (int i = 0; i < m->n_layers; i++) {
        const rnn_layer *L = m->layers[i];
        if (L->ops->is_stateful && L->ops->is_stateful(L)) return L->input.dim[0];
    }
    return 0;
}

rnn_shape rnn__model_output_shape(const rnn_model *m, int64_t batch, int64_t steps) {
    rnn_shape s = m->n_layers ? m->layers[m->n_layers - 1]->output[0] : m->input;
    s.dim[0] = batch;
    if (s.rank == 3 && s.dim[1] < 0) s.dim[1] = steps;
    return s;
}

rnn_status rnn_output_shape(rnn_model *m, int *rank, int64_t shape[RNN_MAX_RANK]) {
    if (!m || !rank || !shape) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_output_shape: NULL argument");
    if (!m->has_input)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_STATE, "the model has no input yet"));
    const rnn_shape *s = m->n_layers ? &m->layers[m->n_layers - 1]->output[0] : &m->input;
    *rank = s->rank;
    for (int i = 0; i < RNN_MAX_RANK; i++) shape[i] = i < s->rank ? s->dim[i] : 0;
    return RNN_OK;
}

rnn_status rnn_reset_states(rnn_model *m) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_reset_states: model is NULL");
    for (int i = 0; i < m->n_layers; i++) {
        rnn_layer *L = m->layers[i];
        if (L->ops->reset_states) L->ops->reset_states(L);
    }
    return RNN_OK;
}

/* ---------------------------------------------------------------- weights */

int64_t rnn_count_params(rnn_model *m) {
    if (!m) return 0;
    int64_t n = 0;
    for (int i = 0; i < m->n_layers; i++) n += rnn__layer_param_count(m->layers[i]);
    return n;
}

int rnn_weight_count(rnn_model *m) {
    if (!m) return 0;
    int n = 0;
    for (int i = 0; i < m->n_layers; i++) n += m->layers[i]->n_weights;
    return n;
}

static rnn_weight *weight_at(rnn_model *m, int index, rnn_layer **owner) {
    if (!m || index < 0) return NULL;
    for (int i = 0; i < m->n_layers; i++) {
        rnn_layer *L = m->layers[i];
        if (index < L->n_weights) {
            if (owner) *owner = L;
            return &L->weights[index];
        }
        index -= L->n_weights;
    }
    return NULL;
}

rnn_status rnn_weight_info(rnn_model *m, int index, const char **name, int *rank,
                           int64_t shape[RNN_MAX_RANK]) {
    rnn_layer *L = NULL;
    rnn_weight *w = weight_at(m, index, &L);
    if (!w)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "no weight with index %d (the "
                               "model has %d)", index, rnn_weight_count(m)));
    static _Thread_local char full[2 * RNN_NAME_MAX + 32];
    snprintf(full, sizeof full, "%s/%s", L->name, w->name);
    if (name) *name = full;
    if (rank) *rank = w->rank;
    if (shape)
        for (int i = 0; i < RNN_MAX_RANK; i++) shape[i] = i < w->rank ? w->shape[i] : 0;
    return RNN_OK;
}

static rnn_status weight_access(rnn_model *m, int index, int64_t count, rnn_weight **out) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "model is NULL");
    rnn_status st = rnn__model_build(m);
    if (st != RNN_OK) return st;
    rnn_layer *L = NULL;
    rnn_weight *w = weight_at(m, index, &L);
    if (!w)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "no weight with index %d (the "
                               "model has %d)", index, rnn_weight_count(m)));
    if (count != w->size)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_SHAPE,
                               "weight %s/%s has %lld values, the buffer has %lld", L->name,
                               w->name, (long long)w->size, (long long)count));
    *out = w;
    return RNN_OK;
}

rnn_status rnn_get_weight(rnn_model *m, int index, float *out, int64_t count) {
    rnn_weight *w;
    rnn_status st = weight_access(m, index, count, &w);
    if (st != RNN_OK) return st;
    if (!out) return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "rnn_get_weight: NULL buffer"));
    memcpy(out, w->value, sizeof(float) * (size_t)count);
    return RNN_OK;
}

rnn_status rnn_set_weight(rnn_model *m, int index, const float *values, int64_t count) {
    rnn_weight *w;
    rnn_status st = weight_access(m, index, count, &w);
    if (st != RNN_OK) return st;
    if (!values) return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "rnn_set_weight: NULL values"));
    for (int64_t i = 0; i < count; i++)
        if (!isfinite(values[i]))
            return rnn__model_fail(m, rnn__fail(RNN_ERR_NUMERIC,
                                   "rnn_set_weight: value %lld is not finite", (long long)i));
    memcpy(w->value, values, sizeof(float) * (size_t)count);
    return RNN_OK;
}

rnn_status rnn_copy_weights(rnn_model *dst, rnn_model *src) {
    if (!dst || !src) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_copy_weights: NULL model");
    int n = rnn_weight_count(src);
    if (n != rnn_weight_count(dst))
        return rnn__model_fail(dst, rnn__fail(RNN_ERR_SHAPE,
                               "rnn_copy_weights: the models have %d and %d weights",
                               rnn_weight_count(dst), n));
    rnn_status st = rnn__model_build(src);
    if (st == RNN_OK) st = rnn__model_build(dst);
    if (st != RNN_OK) return st;
    for (int i = 0; i < n; i++) {
        rnn_weight *a = weight_at(src, i, NULL), *b = weight_at(dst, i, NULL);
        if (a->size != b->size || a->rank != b->rank || a->shape[0] != b->shape[0])
            return rnn__model_fail(dst, rnn__fail(RNN_ERR_SHAPE,
                                   "rnn_copy_weights: weight %d has a different shape", i));
    }
    for (int i = 0; i < n; i++) {
        rnn_weight *a = weight_at(src, i, NULL), *b = weight_at(dst, i, NULL);
        memcpy(b->value, a->value, sizeof(float) * (size_t)a->size);
    }
    return RNN_OK;
}
