/* Bidirectional(layer, merge_mode): two copies of a SimpleRNN, LSTM or GRU read the sequence,
 * one forwards ("forward_<name>", the given layer) and one backwards ("backward_<name>", the same
 * options with go_backwards flipped, its own weights). Their outputs are merged:
 *
 *   y     the forward layer's output
 *   y_rev the backward layer's output, flipped back in time when returning sequences, so that
 *         position t of both refers to input step t (a bare go_backwards layer does not flip)
 *   concat [y, y_rev] on the last axis | sum y + y_rev | ave (y + y_rev) / 2 | mul y * y_rev
 *   None   the two as separate outputs
 *
 * Outputs: the merged output (two for None), then the forward states, then the backward states
 * (return_state). initial_state is [x, forward states..., backward states...], split in half.
 * With a mask both layers skip the masked steps and, when returning sequences, output zeros there
 * (Keras forces zero_output_for_mask = return_sequences on both). Weights: forward's then
 * backward's, each (kernel, recurrent_kernel, bias), as Keras's get_weights. Sources:
 * keras/src/layers/rnn/bidirectional.py (3.15), keras-semantics.md section 2.7. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "layers/layer.h"
#include "layers/layer_options.h"
#include "layers/recurrent.h"

typedef enum { MERGE_CONCAT = 0, MERGE_SUM, MERGE_MUL, MERGE_AVE, MERGE_NONE } merge_kind;

static const char *const merge_names[] = {"concat", "sum", "mul", "ave", NULL};

typedef struct {
    merge_kind merge;
    rnn_layer *sub[2]; /* forward, backward (the children) */
    int named;         /* the sub-layers' names are set (else from the class at configure) */
    int n_states;      /* per direction: 2 for LSTM, else 1 */
    int return_sequences, return_state;
    int64_t H;
    /* Planned buffers: the merged output (or None's flipped backward sequence), the gradients
     * handed to the two layers, and the summed input gradient. */
    float *y, *dyf, *dyb, *dx;
} bidi_impl;

/* Keras: "forward_" + name.removeprefix("forward_"), likewise backward; cut to RNN_NAME_MAX. */
static void sub_name(char out[RNN_NAME_MAX], const char *prefix, const char *name) {
    size_t n = strlen(prefix);
    if (!strncmp(name, prefix, n)) name += n;
    size_t m = strlen(name);
    if (n + m >= RNN_NAME_MAX) m = RNN_NAME_MAX - 1 - n;
    memcpy(out, prefix, n);
    memcpy(out + n, name, m);
    out[n + m] = '\0';
}

static void name_subs(bidi_impl *b, const char *inner_name) {
    char stem[RNN_NAME_MAX];
    snprintf(stem, sizeof stem, "%s", inner_name); /* inner_name may be sub[0]'s own name */
    sub_name(b->sub[0]->name, "forward_", stem);
    sub_name(b->sub[1]->name, "backward_", stem);
    b->named = 1;
}

static rnn_status bidi_configure(rnn_layer *layer, const rnn_shape *in, int n_inputs) {
    bidi_impl *b = layer->impl;
    if (!b->named) name_subs(b, b->sub[0]->ops->base_name);
    const int ns = b->n_states;
    if (n_inputs != 1 && n_inputs != 1 + 2 * ns)
        return rnn__fail(RNN_ERR_ARGUMENT,
                         "Bidirectional \"%s\" takes its input and optionally an initial state "
                         "of %d tensors (the forward layer's %s, then the backward layer's); got "
                         "%d inputs", layer->name, 2 * ns, ns == 2 ? "h, c" : "h", n_inputs);
    /* Each layer sees x and its half of the initial state. */
    for (int d = 0; d < 2; d++) {
        rnn_layer *s = b->sub[d];
        rnn_shape sin[RNN_LAYER_MAX_INPUTS];
        int n = n_inputs == 1 ? 1 : 1 + ns;
        sin[0] = in[0];
        for (int k = 1; k < n; k++) sin[k] = in[d * ns + k];
        rnn_status st = s->ops->configure(s, sin, n);
        if (st) return st;
        s->n_inputs = n;
        for (int k = 0; k < n; k++) s->input[k] = sin[k];
        s->configured = 1;
        rnn__recurrent_of(s)->zero_output_for_mask = b->return_sequences;
    }
    const rnn_layer *f = b->sub[0];
    rnn_shape out = f->output[0];
    b->H = out.dim[out.rank - 1];
    int k = 0;
    if (b->merge == MERGE_NONE) {
        layer->output[k++] = out;
        layer->output[k++] = out;
    } else {
        if (b->merge == MERGE_CONCAT) out.dim[out.rank - 1] = 2 * b->H;
        layer->output[k++] = out;
    }
    layer->mask_outputs = b->merge == MERGE_NONE ? 2 : 1;
    if (b->return_state)
        for (int d = 0; d < 2; d++)
            for (int j = 0; j < ns; j++) layer->output[k++] = b->sub[d]->output[1 + j];
    layer->n_outputs = k;
    return RNN_OK;
}

static rnn_status bidi_plan(rnn_layer *layer, int64_t batch, int64_t steps) {
    bidi_impl *b = layer->impl;
    for (int d = 0; d < 2; d++) {
        rnn_status st = b->sub[d]->ops->plan(b->sub[d], batch, steps);
        if (st) return st;
    }
    int64_t rows = b->return_sequences ? batch * steps : batch, n, nx;
    if (!rnn__mul_ok(rows, 2 * b->H, &n) || !rnn__mul_ok(batch * steps, layer->input[0].dim[2], &nx))
        return rnn__fail(RNN_ERR_MEMORY, "layer \"%s\": batch too large", layer->name);
    rnn__ws_begin(&layer->ws);
    rnn__ws_want(&layer->ws, &b->y, n);
    rnn__ws_want(&layer->ws, &b->dyf, n / 2);
    rnn__ws_want(&layer->ws, &b->dyb, n / 2);
    rnn__ws_want(&layer->ws, &b->dx, nx);
    if (rnn__ws_commit(&layer->ws))
        return rnn__fail(RNN_ERR_MEMORY, "layer \"%s\": out of memory", layer->name);
    layer->planned_batch = batch;
    layer->planned_steps = steps;
    return RNN_OK;
}

/* Row r of y_rev (rows are (b, t) with T steps per sample, or b alone): the backward output's
 * row for the same input step. */
static inline int64_t rev_row(int64_t r, int64_t T, int seq) {
    if (!seq) return r;
    int64_t b = r / T, t = r % T;
    return b * T + (T - 1 - t);
}

static rnn_status bidi_forward(rnn_layer *layer, const rnn_tensor *const *x, const rnn_run_ctx *ctx) {
    bidi_impl *b = layer->impl;
    if (ctx->mode == RNN_MODE_STREAM)
        return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (Bidirectional) reads the whole "
                         "sequence backwards: it cannot be run one step at a time "
                         "(rnn_predict_step); use rnn_predict", layer->name);
    const int ns = b->n_states;
    /* The two directions' outputs are merged into b->y: neither is the model's output, and
     * both would write their sequence into rnn_run_ctx.out (sum, ave, mul: the same size),
     * the second over the first before the merge reads them. */
    rnn_run_ctx sub_ctx = *ctx;
    sub_ctx.out = NULL;
    sub_ctx.out_floats = 0;
    for (int d = 0; d < 2; d++) {
        rnn_layer *s = b->sub[d];
        const rnn_tensor *in[RNN_LAYER_MAX_INPUTS] = {x[0]};
        for (int k = 1; k < s->n_inputs; k++) in[k] = x[d * ns + k];
        s->mask_in = layer->mask_in;
        rnn_status st = s->ops->forward(s, in, &sub_ctx);
        if (st) return st;
    }
    const rnn_tensor *yf = &b->sub[0]->y[0], *yb = &b->sub[1]->y[0];
    const int seq = b->return_sequences;
    const int64_t B = yf->shape[0], T = seq ? yf->shape[1] : 1, H = b->H, rows = B * T;
    int k = 0;
    if (b->merge == MERGE_NONE) {
        layer->y[k++] = *yf;
        layer->y[k] = *yb;
        if (seq) { /* flipped into b->y */
            for (int64_t r = 0; r < rows; r++)
                memcpy(b->y + r * H, yb->data + rev_row(r, T, seq) * H, sizeof(float) * (size_t)H);
            layer->y[k].data = b->y;
        }
        k++;
    } else {
        const int64_t W = b->merge == MERGE_CONCAT ? 2 * H : H;
        for (int64_t r = 0; r < rows; r++) {
            const float *p = yf->data + r * H, *q = yb->data + rev_row(r, T, seq) * H;
            float *o = b->y + r * W;
            switch (b->merge) {
            case MERGE_CONCAT:
                memcpy(o, p, sizeof(float) * (size_t)H);
                memcpy(o + H, q, sizeof(float) * (size_t)H);
                break;
            case MERGE_SUM: for (int64_t j = 0; j < H; j++) o[j] = p[j] + q[j]; break;
            case MERGE_AVE: for (int64_t j = 0; j < H; j++) o[j] = (p[j] + q[j]) / 2; break;
            case MERGE_MUL: for (int64_t j = 0; j < H; j++) o[j] = p[j] * q[j]; break;
            default: break;
            }
        }
        layer->y[k++] = seq ? rnn_tensor3(b->y, B, T, W) : rnn_tensor2(b->y, B, W);
    }
    if (b->return_state)
        for (int d = 0; d < 2; d++)
            for (int j = 0; j < ns; j++) layer->y[k++] = b->sub[d]->y[1 + j];
    /* Keras 3: the input mask goes on with a sequence (on both outputs of None), else none. */
    layer->mask_out = seq ? layer->mask_in : NULL;
    return RNN_OK;
}

static void bidi_backward(rnn_layer *layer, const rnn_tensor *const *x, float *const *dy,
                          const int *want) {
    bidi_impl *b = layer->impl;
    const int ns = b->n_states, seq = b->return_sequences;
    const rnn_tensor *yf = &b->sub[0]->y[0], *yb = &b->sub[1]->y[0];
    const int64_t B = yf->shape[0], T = seq ? yf->shape[1] : 1, H = b->H, rows = B * T;
    /* The gradients reaching each layer's output 0 (dyb in the backward layer's own order). */
    const int n_merged = b->merge == MERGE_NONE ? 2 : 1;
    float *gf = NULL, *gb = NULL;
    const float *d0 = dy[0], *d1 = b->merge == MERGE_NONE ? dy[1] : dy[0];
    if (b->merge == MERGE_NONE) {
        gf = dy[0];
        if (d1) {
            for (int64_t r = 0; r < rows; r++)
                memcpy(b->dyb + rev_row(r, T, seq) * H, d1 + r * H, sizeof(float) * (size_t)H);
            gb = b->dyb;
        }
    } else if (d0) {
        const int64_t W = b->merge == MERGE_CONCAT ? 2 * H : H;
        for (int64_t r = 0; r < rows; r++) {
            const float *g = d0 + r * W;
            const int64_t rr = rev_row(r, T, seq);
            float *pf = b->dyf + r * H, *pb = b->dyb + rr * H;
            const float *vf = yf->data + r * H, *vb = yb->data + rr * H;
            switch (b->merge) {
            case MERGE_CONCAT:
                memcpy(pf, g, sizeof(float) * (size_t)H);
                memcpy(pb, g + H, sizeof(float) * (size_t)H);
                break;
            case MERGE_SUM:
                memcpy(pf, g, sizeof(float) * (size_t)H);
                memcpy(pb, g, sizeof(float) * (size_t)H);
                break;
            case MERGE_AVE: for (int64_t j = 0; j < H; j++) pf[j] = pb[j] = g[j] / 2; break;
            case MERGE_MUL:
                for (int64_t j = 0; j < H; j++) {
                    pf[j] = g[j] * vb[j];
                    pb[j] = g[j] * vf[j];
                }
                break;
            default: break;
            }
        }
        gf = b->dyf;
        gb = b->dyb;
    }
    for (int d = 0; d < 2; d++) {
        rnn_layer *s = b->sub[d];
        float *g[RNN_LAYER_MAX_OUTPUTS] = {d ? gb : gf};
        if (b->return_state)
            for (int j = 0; j < ns; j++) g[1 + j] = dy[n_merged + d * ns + j];
        int w[RNN_LAYER_MAX_INPUTS] = {want[0]};
        const rnn_tensor *in[RNN_LAYER_MAX_INPUTS] = {x[0]};
        for (int k = 1; k < s->n_inputs; k++) {
            w[k] = want[d * ns + k];
            in[k] = x[d * ns + k];
        }
        s->ops->backward(s, in, g, w);
        for (int k = 1; k < s->n_inputs; k++) layer->dx[d * ns + k] = w[k] ? s->dx[k] : NULL;
    }
    if (want[0]) {
        const int64_t n = rnn_tensor_size(x[0]);
        const float *a = b->sub[0]->dx[0], *c = b->sub[1]->dx[0];
        for (int64_t i = 0; i < n; i++) b->dx[i] = a[i] + c[i];
        layer->dx[0] = b->dx;
    }
}

static void bidi_reset_states(rnn_layer *layer) {
    bidi_impl *b = layer->impl;
    for (int d = 0; d < 2; d++) b->sub[d]->ops->reset_states(b->sub[d]);
}

static int64_t bidi_stateful_batch(const rnn_layer *layer) {
    const bidi_impl *b = layer->impl;
    return b->sub[0]->ops->stateful_batch(b->sub[0]);
}

static int bidi_children(rnn_layer *layer, rnn_layer ***out) {
    bidi_impl *b = layer->impl;
    *out = b->sub;
    return 2;
}

static void bidi_free(void *impl) {
    bidi_impl *b = impl;
    if (!b) return;
    for (int d = 0; d < 2; d++) rnn__layer_release(b->sub[d]);
    free(b);
}

static const rnn_layer_ops bidi_ops = {
    .class_name = "Bidirectional", .base_name = "bidirectional", .configure = bidi_configure,
    .plan = bidi_plan, .forward = bidi_forward, .backward = bidi_backward,
    .reset_states = bidi_reset_states, .stateful_batch = bidi_stateful_batch,
    .free_impl = bidi_free, .children = bidi_children,
};

const char *rnn__bidirectional_merge_mode(const rnn_layer *layer) {
    return merge_names[((const bidi_impl *)layer->impl)->merge];
}

rnn_layer *rnn__bidirectional_sub(const rnn_layer *layer, int backward) {
    return ((const bidi_impl *)layer->impl)->sub[backward ? 1 : 0];
}

rnn_layer *rnn_bidirectional(rnn_layer *inner, const char *merge_mode) {
    if (!inner) {
        rnn__fail(RNN_ERR_ARGUMENT, "Bidirectional: the wrapped layer is NULL (%s)",
                  rnn_last_error());
        return NULL;
    }
    if (inner->configured) {
        rnn__fail(RNN_ERR_ARGUMENT, "Bidirectional: layer \"%s\" was already called", inner->name);
        return NULL;
    }
    merge_kind merge = MERGE_NONE;
    if (merge_mode && strcmp(merge_mode, "none") && strcmp(merge_mode, "None")) {
        int found = 0;
        for (int k = 0; merge_names[k] && !found; k++)
            if (!strcmp(merge_mode, merge_names[k])) {
                merge = (merge_kind)k;
                found = 1;
            }
        if (!found) {
            rnn__fail(RNN_ERR_ARGUMENT, "Invalid merge mode. Received: %s. Merge mode should be "
                      "one of {\"sum\", \"mul\", \"ave\", \"concat\", None} (NULL or \"none\")",
                      merge_mode);
            rnn_layer_free(inner);
            return NULL;
        }
    }
    if (!rnn__layer_is_recurrent(inner)) {
        rnn__fail(RNN_ERR_UNSUPPORTED, "Bidirectional wraps a SimpleRNN, LSTM or GRU layer; "
                  "got %s", inner->ops->class_name);
        rnn_layer_free(inner);
        return NULL;
    }
    const rnn_recurrent *r = rnn__recurrent_of(inner);
    /* The backward copy: the same options, reading the other way (tf.keras flips go_backwards;
     * Keras 3 sets it to True, which is the same for every layer it accepts). */
    rnn_recurrent_options opt = r->opt;
    opt.go_backwards = !opt.go_backwards;
    opt.name = NULL;
    rnn_layer *backward = rnn__recurrent_new(inner->ops, r->cell, &opt);
    bidi_impl *b = backward ? calloc(1, sizeof *b) : NULL;
    if (!b) {
        if (backward) rnn_layer_free(backward);
        rnn_layer_free(inner);
        rnn__fail(RNN_ERR_MEMORY, "Bidirectional: out of memory");
        return NULL;
    }
    b->merge = merge;
    b->sub[0] = inner;
    b->sub[1] = backward;
    inner->refcount++;
    backward->refcount++;
    b->n_states = r->cell->n_states;
    b->return_sequences = r->opt.return_sequences;
    b->return_state = r->opt.return_state;
    if (inner->name[0]) name_subs(b, inner->name);
    return rnn__layer_new(&bidi_ops, b, NULL);
}
