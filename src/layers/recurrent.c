#include "layers/recurrent.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kernels/gemm.h"
#include "kernels/gemm_packed.h"
#include "kernels/team.h"
#include "kernels/vadd.h"
#include "layers/dense.h"
#include "model.h"

/* Below this many multiply-adds per step (B x H x G H) the team's barrier costs more than
 * sharing the step saves (LSTM(4) at batch 1 is 64). */
#define TEAM_MIN_STEP_MACS 8192

rnn_recurrent *rnn__recurrent_of(rnn_layer *layer) { return (rnn_recurrent *)layer->impl; }

rnn_recurrent_options rnn__recurrent_defaults(int units) {
    rnn_recurrent_options o;
    memset(&o, 0, sizeof o);
    o.units = units;
    o.activation = RNN_TANH;
    o.recurrent_activation = RNN_SIGMOID;
    o.use_bias = 1;
    o.unit_forget_bias = 1;
    o.reset_after = 1;
    return o;
}

static _Atomic unsigned long state_epoch;

unsigned long rnn__recurrent_state_epoch(void) { return state_epoch; }

void rnn__recurrent_stream_precision(rnn_layer *layer, rnn_precision precision) {
    rnn_recurrent *r = layer->impl;
    if (r->stream_precision == precision) return;
    r->stream_precision = precision;
    state_epoch++;
}

int rnn__recurrent_use_team(const rnn_recurrent *r, int B) {
    const int64_t H = r->H, G = r->cell->gates;
    const int has_team_path = r->cell->kind == RNN_CELL_LSTM ||
                              (r->cell->kind == RNN_CELL_GRU && r->opt.reset_after);
    return has_team_path && r->opt.activation == RNN_TANH &&
           r->opt.recurrent_activation == RNN_SIGMOID && !r->plan.rec_drop && H >= 16 &&
           (int64_t)B * H * G * H >= TEAM_MIN_STEP_MACS && rnn__team_size() > 1;
}

int rnn__recurrent_use_panels(const rnn_recurrent *r, int B, int backward) {
    if (!rnn__recurrent_use_team(r, B) || !rnn__gemm_panels_available()) return 0;
    if (backward || rnn__gemm_panels_avx512())
        return B >= 4 && (backward || r->H <= RNN_PANEL_KC || rnn__recurrent_step_is_large(r, B));
    return rnn__recurrent_step_is_large(r, B);
}

void rnn__recurrent_project_step(const rnn_recurrent *r, float *z, const float *x, int ldx,
                                 int rows, int lo, int hi) {
    const int H = (int)r->H, G = r->cell->gates, GH = G * H, F = (int)r->F, nu = hi - lo;
    const float *W = rnn__recurrent_value(r, RNN_W_KERNEL);
    const float *bias = rnn__recurrent_value(r, RNN_W_BIAS);
    if (r->plan.qseq) {
        for (int g = 0; g < (nu == H ? 1 : G); g++) {
            const int c = nu == H ? 0 : g * H + lo, n = nu == H ? GH : nu;
            rnn__qgemm(&r->qw[RNN_W_KERNEL], rows, c, c + n, x, ldx, bias ? bias + c : NULL, 0,
                       z + c, GH, RNN_GEMM_OWN);
        }
        return;
    }
    /* the bias row stands in for z's old values: no copy of it per row */
    if (nu == H) {
        rnn__product(rows, GH, F, x, ldx, W, GH, z, GH,
                     RNN_GEMM(.bias = bias, .kernel = RNN_GEMM_OWN));
        return;
    }
    for (int g = 0; g < G; g++) {
        const int c = g * H + lo;
        rnn__product(rows, nu, F, x, ldx, W + c, GH, z + c, GH,
                     RNN_GEMM(.bias = bias ? bias + c : NULL, .kernel = RNN_GEMM_OWN));
    }
}

void rnn__recurrent_project_panels(const rnn_recurrent *r, const float *w_panels, float *z,
                                   const float *x, int ldx, int rows, int lo, int hi) {
    const int H = (int)r->H, G = r->cell->gates, GH = G * H, F = (int)r->F;
    const float *bias = rnn__recurrent_value(r, RNN_W_BIAS);
    for (int g = 0; g < G; g++) {
        const int c = g * H + lo;
        RNN_INTERNAL_CHECK(rnn__product(
            rows, hi - lo, F, x, ldx, w_panels, 0, z + c, GH,
            bias ? RNN_GEMM(.bias = bias + c, .kernel = RNN_GEMM_PANELS, .width = H, .group = g,
                            .col = lo)
                 : RNN_GEMM(.kernel = RNN_GEMM_PANELS, .width = H, .group = g, .col = lo)));
    }
}

int rnn__layer_is_recurrent(const rnn_layer *layer) {
    return layer->ops->configure == rnn__recurrent_configure;
}

rnn_layer *rnn__recurrent_new(const rnn_layer_ops *ops, const rnn_cell_ops *cell,
                              const rnn_recurrent_options *options) {
    if (!options) {
        rnn__fail(RNN_ERR_ARGUMENT, "%s: options are NULL", ops->class_name);
        return NULL;
    }
    rnn_recurrent *r = calloc(1, sizeof *r);
    if (!r) {
        rnn__fail(RNN_ERR_MEMORY, "%s: out of memory", ops->class_name);
        return NULL;
    }
    r->opt = *options;
    r->opt.name = NULL; /* the caller's string is copied into layer->name */
    r->cell = cell;
    rnn_layer *layer = rnn__layer_new(ops, r, options->name);
    if (layer) r->layer = layer;
    return layer;
}

/* Recurrent cells apply activations element by element: softmax does not fit there. */
static int valid_activation(rnn_activation a) {
    return (int)a >= 0 && a < RNN_ACTIVATION_COUNT && a != RNN_SOFTMAX;
}

rnn_status rnn__recurrent_configure(rnn_layer *layer, const rnn_shape *inputs, int n_inputs) {
    rnn_recurrent *r = layer->impl;
    const char *cls = layer->ops->class_name;
    const rnn_shape *in = &inputs[0];
    if (r->opt.units <= 0 || r->opt.units > (1 << 20))
        return rnn__fail(RNN_ERR_ARGUMENT,
                         "%s \"%s\": received an invalid value for argument `units`, expected a "
                         "positive integer (at most 1048576), got %d",
                         cls, layer->name, r->opt.units);
    if (!valid_activation(r->opt.activation) || !valid_activation(r->opt.recurrent_activation))
        return rnn__fail(RNN_ERR_ARGUMENT, "%s \"%s\": unknown activation", cls, layer->name);
    if (in->rank != 3) {
        char s[96];
        rnn__shape_format(in, s, sizeof s);
        return rnn__fail(RNN_ERR_SHAPE,
                         "Input 0 of layer \"%s\" is incompatible with the layer: expected "
                         "ndim=3, found ndim=%d. Full shape received: %s",
                         layer->name, in->rank, s);
    }
    if (in->dim[2] <= 0)
        return rnn__fail(RNN_ERR_SHAPE, "%s \"%s\": the last dimension (features) of the input "
                         "must be known and positive", cls, layer->name);
    if (in->dim[2] > (1 << 24))
        return rnn__fail(RNN_ERR_MEMORY, "%s \"%s\": %lld input features is too many", cls,
                         layer->name, (long long)in->dim[2]);
    if (in->dim[1] == 0)
        return rnn__fail(RNN_ERR_SHAPE, "%s \"%s\": zero time steps", cls, layer->name);
    if (r->opt.stateful && in->dim[0] <= 0)
        return rnn__fail(RNN_ERR_SHAPE,
                         "%s \"%s\": if a RNN is stateful, it needs to know its batch size. "
                         "Specify the batch size of your input with rnn_batch_input(model, batch, "
                         "steps, features) (Keras: batch_input_shape / batch_shape)",
                         cls, layer->name);
    r->F = in->dim[2];
    r->H = r->opt.units;
    int64_t B = in->dim[0], T = in->dim[1], H = r->H, G = r->cell->gates;
    /* initial_state: [x, h0] or [x, h0, c0], each (batch, units). */
    if (n_inputs != 1 && n_inputs != 1 + r->cell->n_states)
        return rnn__fail(RNN_ERR_ARGUMENT,
                         "%s \"%s\" takes its input and optionally an initial state of %d "
                         "tensor%s; got %d inputs", cls, layer->name, r->cell->n_states,
                         r->cell->n_states > 1 ? "s (h, c)" : " (h)", n_inputs);
    for (int k = 1; k < n_inputs; k++)
        if (inputs[k].rank != 2 || inputs[k].dim[1] != H)
            return rnn__fail(RNN_ERR_SHAPE, "%s \"%s\": initial state %d must have shape "
                             "(batch, %lld)", cls, layer->name, k - 1, (long long)H);
    r->has_initial_state = n_inputs > 1;
    if (!(r->opt.dropout >= 0.0f && r->opt.dropout < 1.0f) ||
        !(r->opt.recurrent_dropout >= 0.0f && r->opt.recurrent_dropout < 1.0f))
        return rnn__fail(RNN_ERR_ARGUMENT, "%s \"%s\": dropout and recurrent_dropout must be in "
                         "[0, 1), got %g and %g", cls, layer->name, (double)r->opt.dropout,
                         (double)r->opt.recurrent_dropout);
    layer->n_outputs = 1;
    if (r->opt.return_sequences)
        layer->output[0] = (rnn_shape){3, {B, T, H, 0}};
    else
        layer->output[0] = (rnn_shape){2, {B, H, 0, 0}};
    if (r->opt.return_state) {
        for (int k = 0; k < r->cell->n_states; k++)
            layer->output[1 + k] = (rnn_shape){2, {B, H, 0, 0}};
        layer->n_outputs = 1 + r->cell->n_states;
    }
    rnn__weight_set(rnn__recurrent_weight(r, RNN_W_KERNEL), "kernel", 2, r->F, G * H);
    rnn__weight_set(rnn__recurrent_weight(r, RNN_W_RECURRENT), "recurrent_kernel", 2, H, G * H);
    layer->n_weights = 2;
    if (r->opt.use_bias) {
        rnn_weight *b = rnn__recurrent_weight(r, RNN_W_BIAS);
        if (r->cell->kind == RNN_CELL_GRU && r->opt.reset_after)
            rnn__weight_set(b, "bias", 2, 2, G * H);
        else
            rnn__weight_set(b, "bias", 1, G * H, 0);
        layer->n_weights = 3;
    }
    r->state_batch = 0;
    return RNN_OK;
}

void rnn__recurrent_init_weights(rnn_layer *layer, rnn_rng *rng) {
    rnn_recurrent *r = layer->impl;
    int64_t G = r->cell->gates, H = r->H;
    float *U = rnn__recurrent_value(r, RNN_W_RECURRENT);
    rnn__init_glorot_uniform(rng, rnn__recurrent_value(r, RNN_W_KERNEL), r->F, G * H);
    if (rnn__init_orthogonal(rng, U, H, G * H) != 0)
        memset(U, 0, sizeof(float) * (size_t)(H * G * H));
    if (r->opt.use_bias) {
        rnn_weight *b = rnn__recurrent_weight(r, RNN_W_BIAS);
        memset(b->value, 0, sizeof(float) * (size_t)b->size);
        /* unit_forget_bias: the forget block (second of i, f, c, o) starts at 1. */
        if (r->cell->kind == RNN_CELL_LSTM && r->opt.unit_forget_bias)
            for (int64_t j = 0; j < H; j++) b->value[H + j] = 1.0f;
    }
}

rnn_status rnn__recurrent_ensure_state(rnn_layer *layer, int64_t B);

/* Inverted dropout: keep with probability 1 - rate, scaled by 1 / (1 - rate). */
static void draw_keep(float *keep, int64_t n, float rate, rnn_rng *rng) {
    const float scale = 1.0f / (1.0f - rate);
    for (int64_t i = 0; i < n; i++) keep[i] = rnn__rng_uniform(rng) >= rate ? scale : 0.0f;
}

void rnn__recurrent_mask_state(rnn_recurrent *r, int t) {
    if (!r->plan.rec_drop) return;
    const size_t BH = (size_t)r->B * r->H;
    const float *h = r->hs + (size_t)t * BH;
    float *o = r->hm + (size_t)t * BH;
    for (size_t i = 0; i < BH; i++) o[i] = h[i] * r->rec_keep[i];
}

void rnn__recurrent_add_state_grad(const rnn_recurrent *r, float *dh, const float *g) {
    const size_t BH = (size_t)r->B * r->H;
    if (r->plan.rec_drop)
        for (size_t i = 0; i < BH; i++) dh[i] += g[i] * r->rec_keep[i];
    else
        for (size_t i = 0; i < BH; i++) dh[i] += g[i];
}

void rnn__recurrent_finish_state_grad(const rnn_recurrent *r, float *dh, int t, int masked_rows) {
    const int B = r->B, H = (int)r->H;
    const size_t BH = (size_t)B * H;
    if (r->plan.rec_drop) /* the kernel saw h * keep */
        for (size_t k = 0; k < BH; k++) dh[k] *= r->rec_keep[k];
    if (masked_rows)
        for (int b = 0; b < B; b++)
            if (r->mask[(size_t)t * B + b] == 0.0f)
                memcpy(dh + (size_t)b * H, r->dh_keep + (size_t)b * H, sizeof(float) * H);
}

void rnn__recurrent_add_seq_grad(const rnn_seq_grad *g, int t, float *dh, int H, int b0, int b1,
                                 int lo, int hi) {
    if (!g->data || lo >= hi) return;
    for (int b = b0; b < b1; b++)
        rnn__add_into(dh + (size_t)b * H + lo,
                      g->data + (size_t)t * g->step + (size_t)b * g->row + lo, (size_t)(hi - lo));
}

/* Up to this many floats per block of rows, the LSTM team's backward by rows sums the weight
 * gradients in its job (grad_part): B2's LSTM(64) on 8 features 18,688, B6's encoder
 * 41,600 and decoder 80,400; B4's LSTM(512) (2.1M, far over L2) keeps the products over all
 * steps after the loop. */
#define GRAD_PART_MAX_FLOATS (1 << 17)

/* The blocks of rows (rnn__recurrent_grad_block) that grad_part needs room for: where the
 * team's backward can run by rows (rnn__team_split on 2 threads or more), else 0. */
static int grad_parts(const rnn_recurrent *r, int64_t B) {
    if (r->cell->kind != RNN_CELL_LSTM || B < 2 * RNN_TEAM_MIN_ROWS || B > INT32_MAX ||
        rnn__team_size() < 2 || !rnn__gemm_panels_avx512() ||
        !rnn__recurrent_use_team(r, (int)B) ||
        rnn__recurrent_grad_part_floats(r) > GRAD_PART_MAX_FLOATS)
        return 0;
    const int block = rnn__recurrent_grad_block((int)B);
    return ((int)B + block - 1) / block;
}

/* The blocks of rows that bias_part needs room for: an LSTM with a bias whose backward can run
 * on the team by rows, where grad_part is not planned; else 0. A 52 MB pass over B4's dZ after
 * the loop (3 ms of a 250 ms step) becomes a sum of each step's rows just written. */
static int bias_parts(const rnn_recurrent *r, int64_t B) {
    if (r->cell->kind != RNN_CELL_LSTM || !r->opt.use_bias || B < 2 * RNN_TEAM_MIN_ROWS ||
        B > INT32_MAX || rnn__team_size() < 2 || !rnn__recurrent_use_team(r, (int)B) ||
        grad_parts(r, B) > 0)
        return 0;
    const int block = rnn__recurrent_grad_block((int)B);
    return ((int)B + block - 1) / block;
}

rnn_status rnn__recurrent_plan(rnn_layer *layer, int64_t batch, int64_t steps) {
    rnn_recurrent *r = layer->impl;
    if (r->opt.stateful && batch != layer->input[0].dim[0])
        return rnn__fail(RNN_ERR_STATE,
                         "layer \"%s\" is stateful with a batch size of %lld, but received a "
                         "batch of %lld samples; a stateful model needs every batch to have its "
                         "fixed size (choose a number of samples divisible by it)",
                         layer->name, (long long)layer->input[0].dim[0], (long long)batch);
    if (steps <= 0)
        return rnn__fail(RNN_ERR_SHAPE, "layer \"%s\": zero time steps", layer->name);
    int64_t B = batch, T = steps, F = r->F, H = r->H, G = r->cell->gates;
    int64_t TB, TBF, TBGH, T1BH, TBH, BH, BGH;
    if (!rnn__mul_ok(T, B, &TB) || !rnn__mul_ok(TB, F, &TBF) || !rnn__mul_ok(TB, G * H, &TBGH) ||
        !rnn__mul_ok(T + 1, B * H, &T1BH) || !rnn__mul_ok(TB, H, &TBH) ||
        !rnn__mul_ok(B, H, &BH) || !rnn__mul_ok(B, G * H, &BGH) || TBGH > ((int64_t)1 << 40) ||
        B > INT32_MAX || T > INT32_MAX || TB > INT32_MAX)
        return rnn__fail(RNN_ERR_MEMORY, "layer \"%s\": a batch of %lld x %lld steps is too large",
                         layer->name, (long long)B, (long long)T);
    r->stamp++;
    rnn_workspace *ws = &layer->ws;
    rnn__ws_begin(ws);
    rnn__ws_want(ws, &r->xt, TBF);
    rnn__ws_want(ws, &r->xw, TBGH);
    rnn__ws_want(ws, &r->hs, T1BH);
    rnn__ws_want(ws, &r->cs, r->cell->n_states == 2 ? T1BH : 0);
    rnn__ws_want(ws, &r->aux, r->cell->kind == RNN_CELL_GRU ? TBH : 0);
    rnn__ws_want(ws, &r->tc, r->cell->kind == RNN_CELL_LSTM ? TBH : 0);
    rnn__ws_want(ws, &r->step, 2 * BGH); /* two: the team's GRU backward alternates */
    rnn__ws_want(ws, &r->dh, BH);
    rnn__ws_want(ws, &r->dc, BH);
    /* backward reads the output gradient in place unless masked steps zero it */
    rnn__ws_want(ws, &r->dhseq, r->opt.return_sequences && r->zero_output_for_mask ? TBH : 0);
    rnn__ws_want(ws, &r->dxt, TBF);
    rnn__ws_want(ws, &r->yseq, r->opt.return_sequences ? TBH : 0);
    rnn__ws_want(ws, &layer->dx[0], TBF);
    rnn__ws_want(ws, &r->mask_t, TB);
    rnn__ws_want(ws, &r->dh_keep, BH);
    rnn__ws_want(ws, &r->in_keep, r->opt.dropout > 0 ? B * F : 0);
    rnn__ws_want(ws, &r->rec_keep, r->opt.recurrent_dropout > 0 ? BH : 0);
    rnn__ws_want(ws, &r->hm, r->opt.recurrent_dropout > 0 ? T1BH : 0);
    const int parts = grad_parts(r, B);
    rnn__ws_want(ws, &r->grad_part, (int64_t)parts * (int64_t)rnn__recurrent_grad_part_floats(r));
    const int bparts = bias_parts(r, B);
    rnn__ws_want(ws, &r->bias_part, (int64_t)bparts * G * H);
    if (rnn__ws_commit(ws) != 0)
        return rnn__fail(RNN_ERR_MEMORY, "layer \"%s\": out of memory for a batch of %lld x %lld",
                         layer->name, (long long)B, (long long)T);
    if (r->opt.stateful) {
        rnn_status st = rnn__recurrent_ensure_state(layer, B);
        if (st != RNN_OK) return st;
    }
    r->grad_parts = parts;
    r->bias_parts = bparts;
    r->B = (int)B;
    r->T = (int)T;
    layer->planned_batch = B;
    layer->planned_steps = T;
    return RNN_OK;
}

int64_t rnn__recurrent_stateful_batch(const rnn_layer *layer) {
    return ((const rnn_recurrent *)layer->impl)->opt.stateful ? layer->input[0].dim[0] : 0;
}

void rnn__recurrent_reset_states(rnn_layer *layer) {
    rnn_recurrent *r = layer->impl;
    for (int k = 0; k < 2; k++)
        if (r->state[k]) memset(r->state[k], 0, sizeof(float) * (size_t)(r->state_batch * r->H));
}

rnn_status rnn__recurrent_ensure_state(rnn_layer *layer, int64_t B) {
    rnn_recurrent *r = layer->impl;
    if (r->state_batch == B && r->state[0]) return RNN_OK;
    state_epoch++;
    for (int k = 0; k < 2; k++) {
        rnn__free(r->state[k]);
        rnn__free(r->state_next[k]);
        r->state[k] = r->state_next[k] = NULL;
    }
    r->state_batch = 0;
    for (int k = 0; k < r->cell->n_states; k++) {
        r->state[k] = rnn__calloc((size_t)B * (size_t)r->H, sizeof(float));
        if (!r->state[k])
            return rnn__fail(RNN_ERR_MEMORY, "layer \"%s\": out of memory for its state",
                             layer->name);
    }
    r->state_batch = B;
    return RNN_OK;
}

/* 1 when every step of xt (T, B, F) equals step 0, bit for bit. Usually the first row
 * compared differs and this returns at once. */
static int steps_repeat(const float *xt, int T, int B, int F) {
    const size_t step = (size_t)B * F;
    for (int t = 1; t < T; t++)
        if (memcmp(xt + (size_t)t * step, xt, sizeof(float) * step) != 0) return 0;
    return 1;
}

int rnn__recurrent_steps_repeat(const rnn_recurrent *r) {
    /* (with plan.repeat_input xt holds only step 0: forward_begin) */
    return r->T > 1 && (r->plan.repeat_input || steps_repeat(r->xt, r->T, r->B, (int)r->F));
}

/* steps_repeat on the input x (B, T, F) itself. */
static int input_steps_repeat(const float *x, int T, int B, int F) {
    for (int b = 0; b < B; b++) {
        const float *row = x + (size_t)b * T * F;
        for (int t = 1; t < T; t++)
            if (memcmp(row + (size_t)t * F, row, sizeof(float) * (size_t)F) != 0) return 0;
    }
    return 1;
}

/* The layout copies around the steps (x into xt, hs into yseq): large ones are shared by the
 * team's threads, each its own rows (the same copies, so the same values; on one thread they
 * kept the other core waiting: bench/README.md, "B4's forward pass: the serial work around the
 * products"). */
#define TEAM_COPY_FLOATS (1 << 18)

typedef struct {
    rnn_recurrent *r;
    const float *x; /* the input (B, T, F) */
    int steps;      /* copy_xt_job: the first this many steps of xt (T, or 1: repeat_input) */
} copy_job;

static int copy_on_team(size_t floats) {
    return floats >= TEAM_COPY_FLOATS && rnn__team_size() > 1;
}

/* xt (T,B,F) from x (B,T,F) for thread tid's steps of the first job->steps; go_backwards
 * consumes input T-1 first. */
static void copy_xt_job(void *arg, int tid, int n) {
    const copy_job *job = arg;
    rnn_recurrent *r = job->r;
    const int B = r->B, T = r->T, F = (int)r->F, S = job->steps;
    const int t0 = (int)((long)S * tid / n), t1 = (int)((long)S * (tid + 1) / n);
    for (int t = t0; t < t1; t++) {
        int src_t = r->opt.go_backwards ? T - 1 - t : t;
        for (int b = 0; b < B; b++) {
            float *dst = r->xt + ((size_t)t * B + b) * F;
            const float *src = job->x + ((size_t)b * T + src_t) * F;
            if (F <= 16) /* a few features: a call to memcpy per row costs more than the copy */
                for (int f = 0; f < F; f++) dst[f] = src[f];
            else
                memcpy(dst, src, sizeof(float) * (size_t)F);
            if (r->plan.in_drop)
                for (int f = 0; f < F; f++) dst[f] *= r->in_keep[(size_t)b * F + f];
        }
    }
}

/* yseq (B,T,H) from hs[1..T] (T,B,H) for thread tid's samples. */
static void copy_yseq_job(void *arg, int tid, int n) {
    const copy_job *job = arg;
    const rnn_recurrent *r = job->r;
    const int B = r->B, T = r->T, H = (int)r->H;
    const int b0 = (int)((long)B * tid / n), b1 = (int)((long)B * (tid + 1) / n);
    for (int b = b0; b < b1; b++)
        for (int t = 0; t < T; t++)
            memcpy(r->yseq + ((size_t)b * T + t) * H, r->hs + ((size_t)(t + 1) * B + b) * H,
                   sizeof(float) * H);
}

static int repeat_possible(const rnn_recurrent *r, const rnn_step_plan *p, int T) {
    return p->project_in_loop && r->cell->kind == RNN_CELL_LSTM && T > 1;
}

/* The step plan of a forward call (rnn_step_plan), after the mask is in place and before xt is
 * made (x: the call's input, NULL for a chained streaming step). Only x_in_place looks at the
 * input's values (whether its steps repeat); repeat_input is decided after it by
 * decide_repeat, on xt. Nothing depends on timing. */
static void decide_plan(rnn_recurrent *r, rnn_run_mode mode, int B, int T,
                        rnn_precision precision, rnn_precision predict_precision,
                        const float *x) {
    /* decided in a copy and written back only when it changed: the team's workers read the
     * plan, and a store of the same values would still take the line from them at every
     * streaming step */
    rnn_step_plan plan = r->plan, *p = &plan;
    p->qseq = mode == RNN_MODE_PREDICT ? predict_precision : RNN_F32;
    const size_t TB = (size_t)T * B;
    p->keep_steps = mode == RNN_MODE_TRAIN || r->keep_gates;
    /* A streaming step of an LSTM that the per-thread pack can serve (H % 8: every thread's
     * share is whole vectors, so the packed product does the same operations per element as
     * the unpacked one; B <= 8: always split by units, which the parts assume). */
    const int stream = mode == RNN_MODE_STREAM && T == 1 && B <= 8 && r->H % 8 == 0 &&
                       r->H >= 16 && r->cell->kind == RNN_CELL_LSTM &&
                       r->opt.activation == RNN_TANH &&
                       r->opt.recurrent_activation == RNN_SIGMOID && !r->plan.rec_drop;
    /* reduced-precision weights: only the streaming pack has them, so such a step takes the
     * team's path (and its pack) with any number of threads; so does a float32 one on a team
     * of one (the pack's product keeps the weights in registers' reach, and a chain of such
     * layers runs as one job: rnn__recurrent_stream_run) */
    const int quant = stream && precision != RNN_F32;
    p->team = rnn__recurrent_use_team(r, B) || quant || (stream && rnn__team_size() == 1);
    p->back_team = p->team && !r->mask;
    p->large = rnn__recurrent_step_is_large(r, B);
    /* (from shapes, the mode and the CPU, never from the team's size: see project_panels) */
    p->project_panels = p->team && TB > 8 && r->F > RNN_LOOP_PROJECTION_FEATURES &&
                        r->cell->kind == RNN_CELL_LSTM && mode != RNN_MODE_STREAM &&
                        !p->qseq && rnn__gemm_panels_avx512() &&
                        rnn__recurrent_use_panels(r, B, 0);
    p->project_in_loop = (TB <= 8 || r->F <= RNN_LOOP_PROJECTION_FEATURES ||
                          p->project_panels) && p->team;
    p->x_in_place = p->project_panels && mode == RNN_MODE_PREDICT && x && !r->opt.go_backwards &&
                    !p->in_drop && !r->keep_copies &&
                    !(repeat_possible(r, p, T) && input_steps_repeat(x, T, B, (int)r->F));
    /* (repeat_input: decide_repeat, once xt is made) */
    p->h_in_yseq = p->project_panels && mode == RNN_MODE_PREDICT && r->opt.return_sequences &&
                   !r->opt.return_state && !r->opt.stateful && !r->mask && !r->keep_gates &&
                   !r->keep_copies && r->cell->kind == RNN_CELL_LSTM;
    p->stream_pack = stream && p->team && p->project_in_loop;
    p->yseq_in_loop = p->team && !p->stream_pack && r->opt.return_sequences && !p->h_in_yseq &&
                      !r->keep_copies && r->cell->kind == RNN_CELL_LSTM;
    p->state_in_place = p->stream_pack && !r->mask && !r->has_initial_state && !r->keep_gates &&
                        !r->keep_copies && r->cell->stream_step != NULL;
    p->precision = quant && p->stream_pack ? precision : RNN_F32;
    /* (a streaming step that reads the per-thread pack needs no panels) */
    p->panels = !p->stream_pack && !p->qseq && rnn__recurrent_use_panels(r, B, 0);
    p->qstep = p->qseq != RNN_F32 && !p->team && r->cell->kind == RNN_CELL_LSTM &&
               rnn__qgemm_amx() && r->F <= RNN_QGEMM_MAX_K && r->H <= RNN_QGEMM_MAX_K;
    p->back_panels = p->back_team && rnn__recurrent_use_panels(r, B, 1);
    if (memcmp(p, &r->plan, sizeof plan) != 0) r->plan = plan;
}

/* plan.repeat_input (written only when it changes: decide_plan). x_repeats: every step of
 * the input x equals step 0 (then xt holds only step 0, which is all the steps read); else
 * whether xt's steps do, once it is in place (input dropout can make them equal). */
static void decide_repeat(rnn_recurrent *r, int B, int T, int x_repeats) {
    const int repeat = x_repeats || (repeat_possible(r, &r->plan, T) && !r->plan.x_in_place &&
                                      steps_repeat(r->xt, T, B, (int)r->F));
    if (r->plan.repeat_input != repeat) r->plan.repeat_input = repeat;
}

/* A forward call up to its steps: dropout masks, xt and the mask, the plan, the pack, the
 * initial state in hs[0] (and cs). chained: a streaming step whose input is the previous
 * layer's new state, read by the steps themselves (rnn__recurrent_stream_run): no xt and no
 * mask (inputs unused). */
static rnn_status forward_begin(rnn_layer *layer, const rnn_tensor *const *inputs,
                                const rnn_run_ctx *ctx, int chained) {
    rnn_recurrent *r = layer->impl;
    const rnn_tensor *x = chained ? NULL : inputs[0];
    const rnn_run_mode mode = ctx->mode;
    const int B = r->B, T = r->T, F = (int)r->F, H = (int)r->H, GH = r->cell->gates * H;
    r->stamp++;

    /* Dropout masks, drawn once per call (per batch) and shared by all steps. */
    const int in_drop = mode == RNN_MODE_TRAIN && r->opt.dropout > 0.0f;
    const int rec_drop = mode == RNN_MODE_TRAIN && r->opt.recurrent_dropout > 0.0f;
    if (r->plan.in_drop != in_drop) r->plan.in_drop = in_drop; /* (decide_plan: why) */
    if (r->plan.rec_drop != rec_drop) r->plan.rec_drop = rec_drop;
    if (r->plan.in_drop) draw_keep(r->in_keep, (int64_t)B * F, r->opt.dropout, ctx->rng);
    if (r->plan.rec_drop)
        draw_keep(r->rec_keep, (int64_t)B * H, r->opt.recurrent_dropout, ctx->rng);
    /* The mask of input steps, time-major in processing order (NULL: every step is real). */
    if (r->mask) r->mask = NULL;
    if (layer->mask_in && !chained) {
        for (int t = 0; t < T; t++) {
            int src_t = r->opt.go_backwards ? T - 1 - t : t;
            for (int b = 0; b < B; b++)
                r->mask_t[(size_t)t * B + b] = layer->mask_in[(size_t)b * T + src_t] ? 1.0f : 0.0f;
        }
        r->mask = r->mask_t;
    }
    if (r->x_in != (chained ? NULL : x->data)) r->x_in = chained ? NULL : x->data;
    decide_plan(r, mode, B, T, r->stream_precision, ctx->precision, r->x_in);
    float *hseq = r->plan.h_in_yseq && ctx->out && ctx->out_floats == (int64_t)B * T * H
                      ? ctx->out
                      : r->yseq;
    if (r->hseq != hseq) r->hseq = hseq; /* (decide_plan: why only when it changes) */
    /* xt (T,B,F) from x (B,T,F), unless the steps read x in place; go_backwards consumes input
     * T-1 first. When every step of x is step 0 (a RepeatVector's output), only step 0: the
     * steps project it once, and backward sums over the steps (rnn__recurrent_backward), so
     * the other steps of xt are never read (B6's decoder: a serial copy of 768 KB and a
     * comparison of it, skipped). Input dropout's mask is the same at every step, so xt's
     * steps repeat too. */
    int x_repeats = 0;
    if (!chained && !r->plan.x_in_place) {
        x_repeats = repeat_possible(r, &r->plan, T) && input_steps_repeat(x->data, T, B, F);
        copy_job job = {r, x->data, x_repeats ? 1 : T};
        if (!x_repeats && copy_on_team((size_t)T * B * F)) rnn__team_run(copy_xt_job, &job);
        else copy_xt_job(&job, 0, 1);
    }
    decide_repeat(r, B, T, x_repeats);
    if (r->plan.stream_pack) {
        rnn_status st = rnn__copies_prepare_stream(r);
        if (st != RNN_OK) return st;
    }
    for (int s = 0; s < 2 && r->plan.qseq; s++) {
        const rnn_weight *w = rnn__recurrent_weight(r, (rnn_recurrent_slot)s);
        if (rnn__qweights_prepare(&r->qw[s], w->value, (int)w->shape[0], GH, w->version,
                                  r->plan.qseq) != 0)
            return rnn__fail(RNN_ERR_MEMORY, "layer \"%s\": out of memory for the %s copy of "
                             "its weights", layer->name,
                             r->plan.qseq == RNN_BF16 ? "bf16" : "int8");
    }
    /* xw = xt W + b (the input bias row for GRU reset_after), all steps in one product, unless
     * the team's threads compute each step's part in the step loop */
    if (r->plan.qstep)
        ; /* in the step loop (lstm.c) */
    else if (!r->plan.project_in_loop && r->plan.qseq)
        rnn__qgemm(&r->qw[RNN_W_KERNEL], (int)((size_t)T * B), 0, GH, r->xt, F,
                   rnn__recurrent_value(r, RNN_W_BIAS), 0, r->xw, GH, RNN_GEMM_AUTO);
    else if (!r->plan.project_in_loop)
        rnn__product((int)((size_t)T * B), GH, F, r->xt, F, rnn__recurrent_value(r, RNN_W_KERNEL),
                     GH, r->xw, GH, RNN_GEMM(.bias = rnn__recurrent_value(r, RNN_W_BIAS)));

    int carried = r->opt.stateful || mode == RNN_MODE_STREAM;
    const size_t BH = (size_t)B * H;
    /* plan() (stateful) or rnn__recurrent_ensure_state (streaming) made the state. */
    if (carried) RNN_INTERNAL_CHECK(r->state[0] && r->state_batch == B);
    if (r->plan.state_in_place) { /* the steps read the state where it is */
        for (int k = 0; k < r->cell->n_states; k++)
            if (!r->state_next[k] && !(r->state_next[k] = rnn__calloc(BH, sizeof(float))))
                return rnn__fail(RNN_ERR_MEMORY, "layer \"%s\": out of memory for its state",
                                 layer->name);
        return RNN_OK;
    }
    for (int k = 0; k < r->cell->n_states; k++) {
        float *s0 = k == 0 ? r->hs : r->cs;
        if (r->has_initial_state)
            memcpy(s0, inputs[1 + k]->data, sizeof(float) * BH);
        else if (carried)
            memcpy(s0, r->state[k], sizeof(float) * BH);
        else
            memset(s0, 0, sizeof(float) * BH);
    }

    rnn__recurrent_mask_state(r, 0);
    return RNN_OK;
}

/* After the steps: the carried state, the outputs (views of hs where possible), the mask. */
static void forward_end(rnn_layer *layer, const rnn_run_ctx *ctx) {
    rnn_recurrent *r = layer->impl;
    const int B = r->B, T = r->T, H = (int)r->H;
    const size_t BH = (size_t)B * H;
    const int carried = r->opt.stateful || ctx->mode == RNN_MODE_STREAM;
    const int in_place = r->plan.state_in_place;
    if (in_place) /* the new state becomes the carried one (T = 1) */
        for (int k = 0; k < r->cell->n_states; k++) {
            float *old = r->state[k];
            r->state[k] = r->state_next[k];
            r->state_next[k] = old;
        }
    else if (carried) {
        memcpy(r->state[0], r->hs + (size_t)T * BH, sizeof(float) * BH);
        if (r->cell->n_states == 2) memcpy(r->state[1], rnn__lstm_c(r, T), sizeof(float) * BH);
    }

    /* Outputs. The last state is contiguous in hs[T], or it is the carried state (in_place):
     * return views, not copies; with in_place the one step's sequence is that view too. */
    float *h_last = in_place ? r->state[0] : r->hs + (size_t)T * BH;
    float *c_last = r->cell->n_states < 2 ? NULL : in_place ? r->state[1] : rnn__lstm_c(r, T);
    if (r->opt.return_sequences && in_place) {
        layer->y[0] = rnn_tensor3(h_last, B, 1, H);
    } else if (r->opt.return_sequences) {
        copy_job job = {r, NULL, 0};
        if (r->plan.h_in_yseq || r->plan.yseq_in_loop)
            ; /* the steps wrote it (in hseq, or as a copy in yseq) */
        else if (copy_on_team((size_t)T * B * H)) rnn__team_run(copy_yseq_job, &job);
        else copy_yseq_job(&job, 0, 1);
        if (r->zero_output_for_mask && r->mask)
            for (int t = 0; t < T; t++)
                for (int b = 0; b < B; b++)
                    if (r->mask[(size_t)t * B + b] == 0.0f)
                        memset(r->yseq + ((size_t)b * T + t) * H, 0, sizeof(float) * H);
        layer->y[0] = rnn_tensor3(r->plan.h_in_yseq ? r->hseq : r->yseq, B, T, H);
    } else {
        layer->y[0] = rnn_tensor2(h_last, B, H);
    }
    if (r->opt.return_state) {
        layer->y[1] = rnn_tensor2(h_last, B, H);
        if (c_last) layer->y[2] = rnn_tensor2(c_last, B, H);
    }
    /* Keras passes the input mask on with the sequence; a last-step output has none. */
    layer->mask_out = r->opt.return_sequences ? layer->mask_in : NULL;
}

rnn_status rnn__recurrent_forward(rnn_layer *layer, const rnn_tensor *const *inputs,
                                  const rnn_run_ctx *ctx) {
    rnn_status st = forward_begin(layer, inputs, ctx, 0);
    if (st) return st;
    rnn__recurrent_stream_finish(layer, ctx);
    return RNN_OK;
}

rnn_status rnn__recurrent_stream_begin(rnn_layer *layer, const rnn_tensor *const *inputs,
                                       const rnn_run_ctx *ctx, int chained) {
    return forward_begin(layer, inputs, ctx, chained);
}

int rnn__recurrent_stream_chainable(const rnn_layer *layer) {
    const rnn_recurrent *r = layer->impl;
    return r->plan.stream_pack && !r->mask && !r->has_initial_state && r->cell->stream_step;
}

unsigned long rnn__recurrent_stream_stamp(const rnn_layer *layer) {
    const rnn_recurrent *r = layer->impl;
    return rnn__recurrent_stream_chainable(layer) && r->plan.state_in_place && !r->keep_gates &&
                   !r->keep_copies
               ? r->stamp
               : 0;
}

rnn_status rnn__recurrent_stream_again(rnn_layer *layer, const float *x) {
    rnn_recurrent *r = layer->impl;
    /* forward_begin's copy of x into xt for T = 1 without dropout (streaming): B x F in order */
    if (x) memcpy(r->xt, x, sizeof(float) * (size_t)r->B * (size_t)r->F);
    return rnn__copies_prepare_stream(r);
}

void rnn__recurrent_stream_finish(rnn_layer *layer, const rnn_run_ctx *ctx) {
    rnn_recurrent *r = layer->impl;
    r->cell->forward_steps(r, r->B, r->T);
    forward_end(layer, ctx);
}

typedef struct {
    rnn_recurrent *r[RNN_STREAM_CHAIN_MAX];
    int n;
    rnn_layer *dense; /* the Dense after the chain that thread 0 begins (layers/dense.h) */
} stream_chain_job;

/* The lines a step of the chain reads that another thread wrote since the last step (each
 * layer's carried h, the first layer's input, the pointers to them), requested at once when the
 * job starts: one line crossing costs a few hundred nanoseconds, and the products read their
 * inputs one value at a time, so each line met in a product stalled it on its own. */
#define PREFETCH_STATE_FLOATS 1024
static void prefetch_chain_inputs(const stream_chain_job *job) {
    for (int l = 0; l < job->n; l++) {
        const rnn_recurrent *r = job->r[l];
        __builtin_prefetch(&r->state[0]);
        __builtin_prefetch(&r->state_next[0]);
        __builtin_prefetch(&r->xt);
    }
    for (int l = 0; l < job->n; l++) {
        const rnn_recurrent *r = job->r[l];
        const size_t bh = (size_t)r->B * (size_t)r->H, bf = (size_t)r->B * (size_t)r->F;
        if (bh > PREFETCH_STATE_FLOATS) continue;
        const float *h = rnn__stream_h_prev(r);
        for (size_t i = 0; i < bh; i += 16) __builtin_prefetch(h + i);
        if (l == 0 && bf <= PREFETCH_STATE_FLOATS)
            for (size_t i = 0; i < bf; i += 16) __builtin_prefetch(r->xt + i);
    }
}

/* Every thread runs its units of each layer in turn. The next layer needs all of the previous
 * one's new state, but not at once: each thread signals when its units of a layer are done, and
 * the next layer's steps wait for each thread's units just before they read them (a thread
 * starts on its own units of the input while the other finishes; a barrier here made the first
 * thread to arrive wait for the line round trip of the last). */
static void stream_chain_run(void *arg, int tid, int n) {
    const stream_chain_job *job = arg;
    prefetch_chain_inputs(job);
    /* the count at which the previous layer's units are ready: its signal, after any barriers
     * its steps passed (the general loop's, when its pack is cut for another thread count) */
    int ready = 0;
    for (int l = 0; l < job->n; l++) {
        rnn_recurrent *r = job->r[l];
        const float *x = r->xt;
        if (l > 0) {
            const rnn_recurrent *p = job->r[l - 1];
            x = rnn__stream_h_new(p); /* the previous layer's h_t */
        }
        r->cell->stream_step(r, r->B, tid, n, x, ready);
        if (l + 1 < job->n) ready = rnn__team_signal();
    }
    if (tid == 0 && job->dense) {
        /* thread 0's units of the last layer's h_t are done (on the general loop, after its
         * barrier, all of them): the Dense's sums over them while the others finish theirs */
        const rnn_recurrent *last = job->r[job->n - 1];
        int lo, hi;
        rnn__team_units((int)last->H, 0, n, &lo, &hi);
        if (hi > lo) rnn__dense_stream_prefix(job->dense, rnn__stream_h_new(last), hi);
    }
}

/* The job, per calling thread: the team's workers read it at every step, and rewriting it
 * with the same layers would take its line from them each time (written only when it changes). */
static _Thread_local stream_chain_job tls_chain;

void rnn__recurrent_stream_run(rnn_layer *const *layers, int n, rnn_layer *dense,
                               const rnn_run_ctx *ctx) {
    stream_chain_job *job = &tls_chain;
    if (job->n != n) job->n = n;
    if (job->dense != dense) job->dense = dense;
    int alone = 1; /* every pack cut for one thread (rnn__copies_stream_threads) */
    for (int l = 0; l < n; l++) {
        if (job->r[l] != layers[l]->impl) job->r[l] = layers[l]->impl;
        alone &= rnn__copies_stream_cut(job->r[l]) == 1;
    }
    int threads = 1;
    if (alone) rnn__team_run_alone(stream_chain_run, job);
    else threads = rnn__team_run(stream_chain_run, job);
    if (threads > 1) {
        /* the last layer's h_t, which the layer after the chain reads: the other threads'
         * units of it requested at once, while the layers' ends below run */
        const rnn_recurrent *last = job->r[n - 1];
        const size_t bh = (size_t)last->B * (size_t)last->H;
        if (bh <= PREFETCH_STATE_FLOATS)
            for (size_t i = 0; i < bh; i += 16) __builtin_prefetch(rnn__stream_h_new(last) + i);
    }
    for (int l = 0; l < n; l++) {
        rnn__copies_stream_done(job->r[l], threads);
        forward_end(layers[l], ctx);
    }
}

/* out = rows[0] + rows[1] + ... + rows[T-1], each row n floats (ld apart), added in that order;
 * columns [lo, hi). */
static void sum_steps_cols(const float *rows, int T, size_t ld, size_t lo, size_t hi, float *out) {
    memcpy(out + lo, rows + lo, sizeof(float) * (hi - lo));
    for (int t = 1; t < T; t++) rnn__add_into(out + lo, rows + (size_t)t * ld + lo, hi - lo);
}

typedef struct {
    const float *rows;
    int T;
    size_t n;
    float *out;
} sum_steps_job;

static void sum_steps_slice(void *arg, int tid, int n) {
    const sum_steps_job *j = arg;
    const size_t runs = (j->n + 15) / 16;
    const size_t lo = 16 * (runs * (size_t)tid / (size_t)n);
    size_t hi = 16 * (runs * (size_t)(tid + 1) / (size_t)n);
    if (hi > j->n) hi = j->n;
    if (lo < hi) sum_steps_cols(j->rows, j->T, j->n, lo, hi, j->out);
}

/* Over this many values the team shares the sum, by columns: each column is the same chain
 * whichever thread adds it, so the bits do not depend on the team (B6's decoder: 30 steps of
 * 25,600 values, read from L2 and memory). */
#define TEAM_SUM_STEPS_VALUES (1 << 18)

/* out = rows[0] + rows[1] + ... + rows[T-1], each row n floats, added in that order. */
static void sum_steps(const float *rows, int T, size_t n, float *out) {
    if ((size_t)T * n >= TEAM_SUM_STEPS_VALUES && n >= 64 && rnn__team_size() > 1) {
        sum_steps_job job = {rows, T, n, out};
        rnn__team_run(sum_steps_slice, &job);
        return;
    }
    sum_steps_cols(rows, T, n, 0, n, out);
}

void rnn__recurrent_backward(rnn_layer *layer, const rnn_tensor *const *x, float *const *dy,
                             const int *want_dx) {
    (void)x;
    rnn_recurrent *r = layer->impl;
    const int B = r->B, T = r->T, F = (int)r->F, H = (int)r->H, GH = r->cell->gates * H;
    const size_t BH = (size_t)B * H, TB = (size_t)T * B;
    /* dh: gradient reaching h_T from outside the step loop (last output and the h state);
     * dc: from the c state. The per-step output gradients (return_sequences) reach the step
     * loops through dhseq: dy[0] itself, or under zero_output_for_mask with a mask a
     * time-major copy in r->dhseq with the masked steps zeroed. */
    memset(r->dh, 0, sizeof(float) * BH);
    memset(r->dc, 0, sizeof(float) * BH);
    rnn_seq_grad dhseq = {NULL, 0, 0};
    if (r->opt.return_sequences && dy[0] && !(r->zero_output_for_mask && r->mask)) {
        /* the steps read the output gradient (B, T, H) in place: copying it into the
         * time-major layout was a pass over it written and read back from memory (B4: about
         * 2 ms of a 182 ms training step, issue 18); the same values, so the same bits */
        dhseq = (rnn_seq_grad){dy[0], (size_t)H, (size_t)T * H};
    } else if (r->opt.return_sequences) {
        if (dy[0]) {
            for (int t = 0; t < T; t++)
                for (int b = 0; b < B; b++) {
                    float *dst = r->dhseq + ((size_t)t * B + b) * H;
                    /* a zeroed output passes no gradient back */
                    if (r->zero_output_for_mask && r->mask && r->mask[(size_t)t * B + b] == 0.0f)
                        memset(dst, 0, sizeof(float) * H);
                    else
                        memcpy(dst, dy[0] + ((size_t)b * T + t) * H, sizeof(float) * H);
                }
            dhseq = (rnn_seq_grad){r->dhseq, BH, (size_t)H};
        }
    } else if (dy[0]) {
        for (size_t i = 0; i < BH; i++) r->dh[i] += dy[0][i];
    }
    if (r->opt.return_state) {
        if (dy[1])
            for (size_t i = 0; i < BH; i++) r->dh[i] += dy[1][i];
        if (r->cell->n_states == 2 && dy[2])
            for (size_t i = 0; i < BH; i++) r->dc[i] += dy[2][i];
    }

    r->cell->backward_steps(r, B, T, &dhseq);

    /* r->xw now holds dZ (T*B, GH). Input-side gradients in large products. */
    const float *dz_sum = NULL;
    if (r->input_grads_done) {
        ; /* x^T dZ and the bias gradient summed by the team's backward job (lstm.c) */
    } else if (rnn__recurrent_steps_repeat(r)) {
        /* Every step's input is step 0's (a RepeatVector's output, bit for bit, as in a sequence
         * autoencoder's decoder): sum_t x_t^T dZ_t = x_0^T (sum_t dZ_t), so the steps' dZ are
         * summed first, in step order, and a product of B rows replaces the one of T*B (B6's
         * decoder: 64 rows instead of 1,920); the bias gradient is that sum's column sum. The
         * sums run in another order than the product over all rows (other last bits), the same
         * whatever the number of threads. */
        sum_steps(r->xw, T, (size_t)B * GH, r->step); /* free after the step loop */
        dz_sum = r->step;
        rnn__product(F, GH, B, r->xt, F, dz_sum, GH, rnn__recurrent_grad(r, RNN_W_KERNEL), GH,
                     RNN_GEMM(.trans_a = 1, .beta = 1.0f));
        if (r->opt.use_bias)
            rnn__colsum_add(rnn__recurrent_grad(r, RNN_W_BIAS), dz_sum, B, GH, GH);
    } else {
        rnn__product(F, GH, (int)TB, r->xt, F, r->xw, GH, rnn__recurrent_grad(r, RNN_W_KERNEL),
                     GH, RNN_GEMM(.trans_a = 1, .beta = 1.0f));
        if (r->opt.use_bias && !r->bias_grad_done) /* (else summed by the team's job: lstm.c) */
            rnn__colsum_add(rnn__recurrent_grad(r, RNN_W_BIAS), r->xw, (int)TB, GH, GH);
    }
    if (want_dx[0] && dz_sum && rnn__input_grad_summed_over_steps(layer, 0)) {
        /* The repeated input comes straight from a RepeatVector, whose backward pass only adds
         * the steps' gradients: sum_t dZ_t W^T = (sum_t dZ_t) W^T goes to the input's first step
         * and zeros to the others (B6's decoder: a product of 64 rows instead of 1,920). Input
         * dropout's mask is the same at every step, so it applies to the sum alike. */
        memset(layer->dx[0], 0, sizeof(float) * TB * (size_t)F);
        rnn__product(B, F, GH, dz_sum, GH, rnn__recurrent_value(r, RNN_W_KERNEL), GH, r->dxt, F,
                     RNN_GEMM(.trans_b = 1));
        for (int b = 0; b < B; b++) {
            float *dst = layer->dx[0] + (size_t)b * T * F;
            memcpy(dst, r->dxt + (size_t)b * F, sizeof(float) * (size_t)F);
            if (r->plan.in_drop)
                for (int f = 0; f < F; f++) dst[f] *= r->in_keep[(size_t)b * F + f];
        }
    } else if (want_dx[0]) {
        rnn__product((int)TB, F, GH, r->xw, GH, rnn__recurrent_value(r, RNN_W_KERNEL), GH, r->dxt,
                     F, RNN_GEMM(.trans_b = 1));
        for (int t = 0; t < T; t++) {
            int src_t = r->opt.go_backwards ? T - 1 - t : t;
            for (int b = 0; b < B; b++) {
                float *dst = layer->dx[0] + ((size_t)b * T + src_t) * F;
                memcpy(dst, r->dxt + ((size_t)t * B + b) * F, sizeof(float) * (size_t)F);
                if (r->plan.in_drop)
                    for (int f = 0; f < F; f++) dst[f] *= r->in_keep[(size_t)b * F + f];
            }
        }
    }
    /* After the loop dh and dc hold the gradients with respect to the initial state. */
    if (r->has_initial_state) {
        layer->dx[1] = r->dh;
        if (r->cell->n_states == 2) layer->dx[2] = r->dc;
    }
}

void rnn__recurrent_free(void *impl) {
    rnn_recurrent *r = impl;
    if (!r) return;
    for (int k = 0; k < 2; k++) {
        rnn__free(r->state[k]);
        rnn__free(r->state_next[k]);
    }
    rnn__copies_free(&r->copies);
    rnn__qweights_free(&r->qw[0]);
    rnn__qweights_free(&r->qw[1]);
    free(r);
}
