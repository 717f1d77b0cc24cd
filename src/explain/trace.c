/* The values one input produced, for rnn_explain: the model's own forward pass (predict mode)
 * over the whole batch given, with every recurrent layer asked to keep each step's gate
 * activations (rnn_recurrent.keep_gates), then one sample's values copied out. Nothing is
 * recomputed here, so the drawing shows what the library computes. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "explain/explain.h"
#include "layers/recurrent.h"
#include "train/train.h"

/* The recurrent layers of the model and their carried states, set aside during the trace. */
typedef struct {
    rnn_recurrent *r[256];
    float *saved[256][2];
    int n, oom;
} recurrent_set;

static int collect_recurrent(rnn_layer *L, void *ctx) {
    recurrent_set *s = ctx;
    if (!rnn__layer_is_recurrent(L) || s->n >= 256) return 0;
    rnn_recurrent *r = rnn__recurrent_of(L);
    for (int i = 0; i < s->n; i++)
        if (s->r[i] == r) return 0; /* a layer two nested models share */
    s->r[s->n] = r;
    for (int k = 0; k < 2; k++) {
        s->saved[s->n][k] = NULL;
        if (!r->state[k]) continue;
        size_t n = (size_t)r->state_batch * (size_t)r->H;
        if (!(s->saved[s->n][k] = malloc(sizeof(float) * (n ? n : 1)))) s->oom = 1;
        else memcpy(s->saved[s->n][k], r->state[k], sizeof(float) * n);
    }
    s->n++;
    return 0;
}

static void *copy_floats(const float *src, size_t n) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    if (p && src) memcpy(p, src, sizeof(float) * n);
    return p;
}

static rnn_status keep_cell(ex_trace *t, rnn_recurrent *r, int s) {
    if (t->n_cells >= 256 || r->B <= s) return RNN_OK;
    ex_cell_trace *c = &t->cells[t->n_cells];
    const int B = r->B, T = r->T, H = (int)r->H;
    const int G = r->cell->kind == RNN_CELL_SIMPLE ? 0 : r->cell->gates;
    memset(c, 0, sizeof *c);
    c->layer = r->layer;
    c->T = T;
    c->G = G;
    c->H = H;
    c->h = malloc(sizeof(float) * (size_t)T * H + 1);
    c->mask = malloc((size_t)T + 1);
    if (G) c->gates = malloc(sizeof(float) * (size_t)T * G * H + 1);
    if (r->cell->n_states == 2) c->c = malloc(sizeof(float) * (size_t)T * H + 1);
    t->n_cells++;
    if (!c->h || !c->mask || (G && !c->gates) || (r->cell->n_states == 2 && !c->c))
        return rnn__fail(RNN_ERR_MEMORY, "rnn_explain: out of memory");
    for (int k = 0; k < T; k++) {
        memcpy(c->h + (size_t)k * H, r->hs + ((size_t)(k + 1) * B + s) * H, sizeof(float) * H);
        if (G)
            memcpy(c->gates + (size_t)k * G * H, r->xw + ((size_t)k * B + s) * G * H,
                   sizeof(float) * G * H);
        if (c->c)
            memcpy(c->c + (size_t)k * H, rnn__lstm_c(r, k + 1) + (size_t)s * H,
                   sizeof(float) * H);
        c->mask[k] = r->mask ? r->mask[(size_t)k * B + s] != 0.0f : 1;
    }
    return RNN_OK;
}

typedef struct {
    ex_trace *t;
    int sample;
    int64_t n;
    rnn_status st;
} out_ctx;

static int keep_output(rnn_layer *L, void *ctx) {
    out_ctx *o = ctx;
    ex_trace *t = o->t;
    const rnn_tensor *y = &L->y[0];
    if (t->n_outs >= 256 || !y->data || y->rank < 2 || y->shape[0] != o->n) return 0;
    if (rnn__trace_out(t, L)) return 0;
    ex_out_trace *e = &t->outs[t->n_outs];
    memset(e, 0, sizeof *e);
    e->layer = L;
    if (y->rank == 3) {
        e->steps = (int)y->shape[1];
        e->n = (int)y->shape[2];
    } else if (rnn__is_input_layer(L) && rnn__input_is_ids(L)) {
        e->steps = (int)y->shape[1];
        e->n = 1;
    } else {
        e->steps = 0;
        e->n = (int)rnn__tensor_row_size(y);
    }
    const size_t per = (size_t)(e->steps ? e->steps : 1) * e->n;
    e->y = copy_floats(y->data + per * o->sample, per);
    t->n_outs++;
    if (!e->y) {
        o->st = rnn__fail(RNN_ERR_MEMORY, "rnn_explain: out of memory");
        return 1;
    }
    if (e->steps && L->mask_out && !rnn__is_input_layer(L)) {
        e->mask = malloc((size_t)e->steps);
        if (e->mask) memcpy(e->mask, L->mask_out + (size_t)o->sample * e->steps, (size_t)e->steps);
    }
    return 0;
}

rnn_status rnn__explain_trace(rnn_model *m, const rnn_tensor *inputs, int n_inputs, int sample,
                              ex_trace **out) {
    *out = NULL;
    call_data d;
    rnn_status st;
    if ((st = rnn__model_build(m)) || (st = rnn__check_x(m, inputs, n_inputs, &d)) ||
        (st = rnn__check_stateful_batches(m, d.n, (int)d.n)))
        return st;
    if (sample < 0 || sample >= d.n)
        return rnn__fail(RNN_ERR_ARGUMENT, "rnn_explain: sample %d is not a row of the input "
                         "(%lld samples)", sample, (long long)d.n);
    ex_trace *t = calloc(1, sizeof *t);
    recurrent_set *set = calloc(1, sizeof *set);
    if (!t || !set) {
        free(t);
        free(set);
        return rnn__fail(RNN_ERR_MEMORY, "rnn_explain: out of memory");
    }
    t->steps = d.steps;
    rnn__model_walk(m, collect_recurrent, set);
    if (set->oom) st = rnn__fail(RNN_ERR_MEMORY, "rnn_explain: out of memory");
    for (int i = 0; i < set->n; i++) set->r[i]->keep_gates = 1;
    rnn_run_ctx ctx = {.mode = RNN_MODE_PREDICT, .rng = &m->rng, .precision = RNN_F32};
    if (!st) st = rnn__model_forward(m, inputs, &ctx);
    for (int i = 0; !st && i < set->n; i++)
        if (set->r[i]->B == d.n) st = keep_cell(t, set->r[i], sample);
    if (!st) {
        out_ctx oc = {t, sample, d.n, RNN_OK};
        rnn__model_walk(m, keep_output, &oc);
        st = oc.st;
    }
    /* The trace is a look, not a step: the carried states are as they were. */
    for (int i = 0; i < set->n; i++) {
        rnn_recurrent *r = set->r[i];
        r->keep_gates = 0;
        for (int k = 0; k < 2; k++) {
            const size_t n = sizeof(float) * (size_t)r->state_batch * (size_t)r->H;
            if (set->saved[i][k] && r->state[k]) memcpy(r->state[k], set->saved[i][k], n);
            else if (r->state[k]) memset(r->state[k], 0, n); /* made by this run: fresh */
            free(set->saved[i][k]);
        }
    }
    free(set);
    if (st) {
        rnn__explain_trace_free(t);
        return st;
    }
    *out = t;
    return RNN_OK;
}

void rnn__explain_trace_free(ex_trace *t) {
    if (!t) return;
    for (int i = 0; i < t->n_cells; i++) {
        free(t->cells[i].gates);
        free(t->cells[i].h);
        free(t->cells[i].c);
        free(t->cells[i].mask);
    }
    for (int i = 0; i < t->n_outs; i++) {
        free(t->outs[i].y);
        free(t->outs[i].mask);
    }
    free(t);
}

const ex_cell_trace *rnn__trace_cell(const ex_trace *t, const rnn_layer *layer) {
    for (int i = 0; t && i < t->n_cells; i++)
        if (t->cells[i].layer == layer) return &t->cells[i];
    return NULL;
}

const ex_out_trace *rnn__trace_out(const ex_trace *t, const rnn_layer *layer) {
    for (int i = 0; t && i < t->n_outs; i++)
        if (t->outs[i].layer == layer) return &t->outs[i];
    return NULL;
}
