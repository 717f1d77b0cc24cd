/* The layer base (layer.h): creating and releasing layers, weight and shape helpers, the walk
 * over a layer and its inner layers, building (allocating and drawing) weights, and the count of
 * weight changes. The layer classes are the other files of this directory; InputLayer is in
 * model.c. */
#include "layers/layer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "model.h" /* struct rnn_symbol: a layer frees the symbols of its outputs */

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

int rnn__layer_walk(rnn_layer *layer, rnn_layer_visit fn, void *ctx) {
    int r = fn(layer, ctx);
    if (r || !layer->ops->children) return r;
    rnn_layer **kids;
    int nk = layer->ops->children(layer, &kids);
    for (int i = 0; i < nk; i++)
        if ((r = rnn__layer_walk(kids[i], fn, ctx))) return r;
    return 0;
}

static int add_param_count(rnn_layer *layer, void *ctx) {
    for (int i = 0; i < layer->n_weights; i++) *(int64_t *)ctx += layer->weights[i].size;
    return 0;
}

typedef struct {
    rnn_weight **out;
    int n, cap;
} weight_slots;

static int list_weights(rnn_layer *layer, void *ctx) {
    weight_slots *w = ctx;
    for (int k = 0; k < layer->n_weights; k++, w->n++)
        if (w->n < w->cap) w->out[w->n] = &layer->weights[k];
    return 0;
}

int rnn__layer_weight_list(rnn_layer *layer, rnn_weight **out, int cap) {
    weight_slots w = {out, 0, cap};
    rnn__layer_walk(layer, list_weights, &w);
    return w.n;
}

int64_t rnn__layer_param_count(rnn_layer *layer) {
    int64_t n = 0;
    rnn__layer_walk(layer, add_param_count, &n);
    return n;
}

int64_t rnn__tensor_row_size(const rnn_tensor *t) {
    int64_t n = 1;
    for (int i = 1; i < t->rank; i++) n *= t->shape[i];
    return n;
}

/* A layer's weights and its inner layers' weights changed: what is derived from them (packed
 * copies of U) is stale. */
static int mark_changed(rnn_layer *L, void *ctx) {
    (void)ctx;
    for (int k = 0; k < L->n_weights; k++) rnn__weight_changed(&L->weights[k]);
    return 0;
}
void rnn__layer_weights_changed(rnn_layer *layer) { rnn__layer_walk(layer, mark_changed, NULL); }

/* One layer's own weights (its inner layers are visited by the walk). */
static int build_one(rnn_layer *layer, void *rng) {
    if (layer->n_weights == 0 || layer->weight_block) return RNN_OK;
    int64_t total = 0;
    for (int k = 0; k < layer->n_weights; k++) total += layer->weights[k].size;
    /* The gradients as untouched zero pages: a model that only predicts never backs them with
     * memory (rnn bench B5: 789 KB). total fits a size_t: rnn__calloc checked the same product. */
    float *v = rnn__calloc((size_t)total, sizeof(float));
    const size_t grad_bytes = sizeof(float) * (size_t)total;
    float *g = v ? rnn__alloc_zeroed(grad_bytes) : NULL;
    if (!v || !g) {
        rnn__free(v);
        rnn__free_zeroed(g, grad_bytes);
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
    layer->grad_bytes = grad_bytes;
    if (layer->ops->init_weights && rng) layer->ops->init_weights(layer, rng);
    for (int k = 0; k < layer->n_weights; k++) rnn__weight_changed(&layer->weights[k]);
    return RNN_OK;
}

rnn_status rnn__layer_build(rnn_layer *layer, rnn_rng *rng) {
    return (rnn_status)rnn__layer_walk(layer, build_one, rng);
}

void rnn__layer_destroy(rnn_layer *layer) {
    rnn__ws_free(&layer->ws);
    for (int k = 0; k < RNN_LAYER_MAX_OUTPUTS; k++)
        if (layer->outputs_sym[k]) {
            rnn__free(layer->outputs_sym[k]->acc);
            free(layer->outputs_sym[k]);
        }
    rnn__free(layer->weight_block);
    rnn__free_zeroed(layer->grad_block, layer->grad_bytes);
    if (layer->ops && layer->ops->free_impl) layer->ops->free_impl(layer->impl);
    free(layer);
}

void rnn__layer_release(rnn_layer *layer) {
    if (!layer) return;
    if (--layer->refcount <= 0) rnn__layer_destroy(layer);
}

void rnn_layer_free(rnn_layer *layer) {
    if (layer && layer->refcount <= 0) rnn__layer_destroy(layer);
}

const char *rnn_layer_name(const rnn_layer *layer) { return layer ? layer->name : ""; }
