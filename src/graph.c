/* Running a model's graph: forward in topological order, backward in reverse with gradients
 * summed where a symbol feeds several layers. */
#include <string.h>

#include "context.h"
#include "kernels/team.h"
#include "layers/dense.h"
#include "layers/recurrent.h"
#include "model.h"

const rnn_tensor *rnn__model_output(const rnn_model *m, int k) {
    return &m->outputs[k]->producer->y[m->outputs[k]->index];
}

/* The mask a symbol carries: output k of its producer, if that output is masked. */
static const uint8_t *symbol_mask(const rnn_symbol *s) {
    const rnn_layer *P = s->producer;
    return s->index == 0 || s->index < P->mask_outputs ? P->mask_out : NULL;
}

const uint8_t *rnn__model_output_mask(const rnn_model *m, int k) {
    return symbol_mask(m->outputs[k]);
}

static const rnn_tensor *symbol_value(const rnn_symbol *s) { return &s->producer->y[s->index]; }

/* Symbols with several gradient contributions need room to sum them. Grows only. */
static rnn_status plan_shared(rnn_model *m) {
    for (int i = 0; i < m->n_shared_symbols; i++) {
        rnn_symbol *s = m->shared_symbols[i];
        int64_t n = rnn_tensor_size(symbol_value(s));
        if ((size_t)n > s->acc_capacity) {
            float *acc = rnn__alloc(sizeof(float) * (size_t)n);
            if (!acc) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
            rnn__free(s->acc);
            s->acc = acc;
            s->acc_capacity = (size_t)n;
        }
    }
    return RNN_OK;
}

/* Plans layer L for inputs of batch B and T steps unless it already is. */
static rnn_status plan_layer(rnn_model *m, rnn_layer *L, int64_t B, int64_t T) {
    if (L->planned_batch == B && L->planned_steps == T && L->ws.block) return RNN_OK;
    rnn_status st = L->ops->plan(L, B, T);
    if (st) {
        L->planned_batch = -1;
        return rnn__model_fail(m, st);
    }
    return RNN_OK;
}

_Static_assert(RNN_STREAM_PLAN_MAX >= RNN_STREAM_CHAIN_MAX, "a chain fits rnn_stream_plan");

/* The chain of a full streaming step, for rnn_predict_step's fast path: only a chain right
 * after the model's inputs (nothing before it computes, so nothing before it is skipped) whose
 * head reads the input unmasked, and whose layers can each run again (their stamps). */
static void record_chain(rnn_model *m, int i, rnn_layer *const *chain, int n) {
    rnn_stream_plan *p = &m->stream;
    for (int k = 0; k < i; k++)
        if (!rnn__is_input_layer(m->layers[k])) return;
    if (chain[0]->n_inputs != 1 || chain[0]->mask_in) return;
    for (int k = 0; k < n; k++) {
        p->chain[k] = chain[k];
        if (!(p->stamps[k] = rnn__recurrent_stream_stamp(chain[k]))) return;
    }
    p->head = i;
    p->n = n;
    p->threads = rnn__team_size();
    p->n_layers = m->n_layers;
    p->found = 1;
}

/* The Dense at layers[next] when it takes the chain's last layer's output 0 alone and its
 * product can begin in the chain's job (layers/dense.h); else NULL. A Dense not planned for one
 * row yet (the first step) is not; one planned anew before its forward call goes on from
 * scratch (dense_plan drops the pending piece). */
static rnn_layer *dense_after(const rnn_model *m, int next, const rnn_layer *last) {
    if (next >= m->n_layers) return NULL;
    rnn_layer *D = m->layers[next];
    const rnn_symbol *s = D->n_inputs == 1 ? D->inputs_sym[0] : NULL;
    return s && s->producer == last && s->index == 0 && rnn__dense_stream_splittable(D) ? D
                                                                                     : NULL;
}

/* Streaming: layer i (recurrent, planned, masks set) and the recurrent layers after it that
 * each take the previous one's output 0 alone, as one team job per step where they can
 * (rnn__recurrent_stream_run). Sets *ran to the number of layers done. */
static rnn_status stream_chain(rnn_model *m, int i, const rnn_tensor *const *in,
                               const rnn_run_ctx *ctx, int *ran) {
    rnn_layer *chain[RNN_STREAM_CHAIN_MAX];
    rnn_layer *L = m->layers[i];
    rnn_status st;
    *ran = 1;
    if ((st = rnn__recurrent_stream_begin(L, in, ctx, 0))) return st;
    int n = 0;
    chain[n++] = L;
    while (rnn__recurrent_stream_chainable(chain[n - 1]) && n < RNN_STREAM_CHAIN_MAX &&
           i + n < m->n_layers) {
        rnn_layer *N = m->layers[i + n];
        const rnn_symbol *s = N->n_inputs == 1 ? N->inputs_sym[0] : NULL;
        if (!rnn__layer_is_recurrent(N) || !s || s->producer != chain[n - 1] || s->index != 0)
            break;
        /* the previous layer returns sequences here (N takes [batch, steps, features]): one
         * step of its batch */
        if ((st = plan_layer(m, N, in[0]->shape[0], 1))) return st;
        N->mask_in = N->masks_in[0] = NULL; /* the previous layer is unmasked (chainable) */
        if ((st = rnn__recurrent_stream_begin(N, NULL, ctx, 1))) return st;
        if (!rnn__recurrent_stream_chainable(N)) break; /* runs on its own after the chain */
        chain[n++] = N;
    }
    if (!rnn__recurrent_stream_chainable(L)) {
        rnn__recurrent_stream_finish(L, ctx);
        return RNN_OK;
    }
    record_chain(m, i, chain, n);
    rnn__recurrent_stream_run(chain, n, dense_after(m, i + n, chain[n - 1]), ctx);
    *ran = n;
    return RNN_OK;
}

/* Layers from..n_layers-1 of a forward pass. */
static rnn_status forward_layers(rnn_model *m, int from, const rnn_run_ctx *ctx) {
    rnn_status st;
    for (int i = from; i < m->n_layers; i++) {
        rnn_layer *L = m->layers[i];
        if (rnn__is_input_layer(L)) continue;
        const rnn_tensor *in[RNN_LAYER_MAX_INPUTS];
        for (int k = 0; k < L->n_inputs; k++) in[k] = symbol_value(L->inputs_sym[k]);
        /* steps: axis 1 of the first input (for rank-2 inputs the layer ignores it, except
         * Embedding, whose ids are [batch, steps]). */
        int64_t B = in[0]->shape[0], T = in[0]->rank >= 2 ? in[0]->shape[1] : 0;
        if ((st = plan_layer(m, L, B, T))) return st;
        L->mask_in = symbol_mask(L->inputs_sym[0]);
        for (int k = 0; k < L->n_inputs; k++) L->masks_in[k] = symbol_mask(L->inputs_sym[k]);
        if (ctx->mode == RNN_MODE_STREAM && rnn__layer_is_recurrent(L)) {
            int ran = 1;
            if ((st = stream_chain(m, i, in, ctx, &ran))) return rnn__model_fail(m, st);
            i += ran - 1;
            continue;
        }
        /* rnn_run_ctx.out: for the layer that makes the model's only output */
        rnn_run_ctx layer_ctx = *ctx;
        if (!(m->n_outputs == 1 && m->outputs[0]->producer == L && m->outputs[0]->index == 0)) {
            layer_ctx.out = NULL;
            layer_ctx.out_floats = 0;
        }
        if ((st = L->ops->forward(L, in, &layer_ctx))) return rnn__model_fail(m, st);
    }
    if ((st = plan_shared(m))) return rnn__model_fail(m, st);
    return RNN_OK;
}

static void forward_inputs(rnn_model *m, const rnn_tensor *x, const rnn_run_ctx *ctx) {
    for (int k = 0; k < m->n_inputs; k++) {
        const rnn_tensor *xs[1] = {&x[k]};
        m->inputs[k]->ops->forward(m->inputs[k], xs, ctx);
    }
}

static rnn_status forward_graph(rnn_model *m, const rnn_tensor *x, const rnn_run_ctx *ctx) {
    rnn_status st = rnn__model_build(m);
    if (st) return st;
    forward_inputs(m, x, ctx);
    return forward_layers(m, 0, ctx);
}

/* The recorded chain (record_chain) holds when the model and the team are as then and no
 * other call planned or began its layers since (their stamps). */
static int chain_holds(const rnn_model *m) {
    const rnn_stream_plan *p = &m->stream;
    if (!p->valid || !m->built || p->n_layers != m->n_layers || p->precision != m->precision ||
        p->threads != rnn__team_size() || p->epoch != rnn__recurrent_state_epoch())
        return 0;
    for (int k = 0; k < p->n; k++)
        if (m->layers[p->head + k] != p->chain[k] ||
            rnn__recurrent_stream_stamp(p->chain[k]) != p->stamps[k])
            return 0;
    return 1;
}

int rnn__model_stream_again(rnn_model *m, const float *x, const rnn_run_ctx *ctx) {
    rnn_stream_plan *p = &m->stream;
    rnn__team *previous = rnn__team_enter(rnn__context_team(m->context));
    if (!chain_holds(m)) {
        rnn__team_leave(previous);
        p->valid = 0;
        return -1;
    }
    /* the input layers' outputs, views of x as rnn_predict_step's full step makes them */
    rnn_tensor xt = p->ids ? rnn_tensor2((float *)x, p->batch, 1)
                           : rnn_tensor3((float *)x, p->batch, 1, p->features);
    forward_inputs(m, &xt, ctx);
    rnn_status st = RNN_OK;
    for (int k = 0; k < p->n && !st; k++)
        st = rnn__recurrent_stream_again(p->chain[k], k == 0 ? x : NULL);
    if (!st) {
        rnn__recurrent_stream_run(p->chain, p->n, dense_after(m, p->head + p->n, p->chain[p->n - 1]),
                                  ctx);
        p->fast_steps++;
        st = forward_layers(m, p->head + p->n, ctx);
    } else {
        st = rnn__model_fail(m, st);
    }
    rnn__team_leave(previous);
    return (int)st;
}

/* Adds the gradient src (n values) for symbol s: the first contribution is used in place. */
static void add_grad(rnn_symbol *s, float *src, int64_t n) {
    if (!s->grad) {
        s->grad = src;
        return;
    }
    if (!s->grad_in_acc) {
        memcpy(s->acc, s->grad, sizeof(float) * (size_t)n);
        s->grad = s->acc;
        s->grad_in_acc = 1;
    }
    for (int64_t i = 0; i < n; i++) s->grad[i] += src[i];
}

static void backward_graph(rnn_model *m, float *const *dy, int need_input_grads) {
    for (int i = 0; i < m->n_layers; i++) {
        rnn_layer *L = m->layers[i];
        for (int k = 0; k < L->n_outputs; k++)
            if (L->outputs_sym[k]) {
                L->outputs_sym[k]->grad = NULL;
                L->outputs_sym[k]->grad_in_acc = 0;
            }
    }
    for (int k = 0; k < m->n_outputs; k++)
        if (dy[k]) add_grad(m->outputs[k], dy[k], rnn_tensor_size(symbol_value(m->outputs[k])));
    for (int i = m->n_layers - 1; i >= 0; i--) {
        rnn_layer *L = m->layers[i];
        if (rnn__is_input_layer(L)) continue;
        float *g[RNN_LAYER_MAX_OUTPUTS] = {NULL};
        int any = 0;
        for (int k = 0; k < L->n_outputs; k++) {
            g[k] = L->outputs_sym[k] ? L->outputs_sym[k]->grad : NULL;
            any |= g[k] != NULL;
        }
        if (!any) continue; /* nothing depends on this layer: its gradients stay zero */
        const rnn_tensor *in[RNN_LAYER_MAX_INPUTS];
        int want[RNN_LAYER_MAX_INPUTS] = {0};
        for (int k = 0; k < L->n_inputs; k++) {
            in[k] = symbol_value(L->inputs_sym[k]);
            want[k] = need_input_grads || !rnn__is_input_layer(L->inputs_sym[k]->producer);
        }
        L->ops->backward(L, in, g, want);
        for (int k = 0; k < L->n_inputs; k++)
            if (want[k] && L->dx[k]) add_grad(L->inputs_sym[k], L->dx[k], rnn_tensor_size(in[k]));
    }
}

/* The passes run on the model's context's team (kernels/team.h); a model without a context
 * of its own uses the current team (its outer model's, or the process's default). */
rnn_status rnn__model_forward(rnn_model *m, const rnn_tensor *x, const rnn_run_ctx *ctx) {
    rnn__team *previous = rnn__team_enter(rnn__context_team(m->context));
    const rnn_status st = forward_graph(m, x, ctx);
    rnn__team_leave(previous);
    return st;
}

void rnn__model_backward(rnn_model *m, float *const *dy, int need_input_grads) {
    rnn__team *previous = rnn__team_enter(rnn__context_team(m->context));
    backward_graph(m, dy, need_input_grads);
    rnn__team_leave(previous);
}
