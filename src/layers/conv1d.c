/* Conv1D over [batch, steps, channels] (Keras's channels_last), as keras/src/layers/
 * convolutional/conv1d.py and base_conv.py compute it:
 *
 *   y[b, t, f] = act( bias[f] + sum_{j < k} sum_{c < C} xp[b, t*s + j*d, c] kernel[j, c, f] )
 *
 * with xp the input padded on the left by pl steps (and on the right as far as needed) with
 * zeros. kernel (k, C, filters), bias (filters,): Keras's shapes and order. Padding:
 *   valid   pl = 0,                  Tout = floor((T - d*(k-1) - 1) / s) + 1
 *   same    pl = floor(total / 2),   Tout = ceil(T / s), where total = max((Tout-1)*s +
 *           d*(k-1) + 1 - T, 0): TensorFlow's SAME, which Keras's ops.conv uses
 *   causal  pl = d*(k-1),            Tout = floor((T - 1) / s) + 1 (pad left, then valid)
 *
 * Forward is im2col + one GEMM: the rows (b, t) of cols hold the k*C input values the output
 * step reads, in kernel order (j, c), so the kernel read as a (k*C, filters) matrix multiplies
 * them directly. Backward mirrors it: dW = cols^T dz, dcols = dz W^T scattered back (col2im).
 *
 * Masks: Keras 3's Conv1D does not support masking; Layer.__call__ warns that it "will
 * therefore destroy the mask information" and computes over every step. librnn does the same
 * (no output mask, every step computed) and, as a library that never prints, says so in the
 * header instead of warning. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kernels/activations.h"
#include "kernels/gemm.h"
#include "layers/layer.h"
#include "layers/layer_options.h"

typedef struct {
    rnn_conv1d_options opt;
    int64_t C;        /* input channels */
    int64_t T, Tout;  /* steps of the planned call, in and out */
    int64_t pad_left;
    int64_t rows;     /* batch * Tout */
    float *cols, *y, *dz, *dcols;
} conv1d_impl;

static const char *padding_name(rnn_padding p) {
    return p == RNN_PADDING_SAME ? "same" : p == RNN_PADDING_CAUSAL ? "causal" : "valid";
}

/* Output steps for T input steps (T < 0: unknown); 0 or less when valid padding leaves none. */
static int64_t out_steps(const rnn_conv1d_options *o, int64_t T) {
    if (T < 0) return RNN_NONE;
    int64_t s = o->strides, span = (int64_t)o->dilation_rate * (o->kernel_size - 1);
    if (o->padding == RNN_PADDING_VALID) {
        int64_t n = T - span - 1;
        /* floor division (n may be negative) */
        return (n >= 0 ? n / s : -((-n + s - 1) / s)) + 1;
    }
    return (T - 1) / s + 1;
}

static int64_t left_pad(const rnn_conv1d_options *o, int64_t T, int64_t Tout) {
    int64_t span = (int64_t)o->dilation_rate * (o->kernel_size - 1);
    if (o->padding == RNN_PADDING_CAUSAL) return span;
    if (o->padding == RNN_PADDING_SAME) {
        int64_t total = (Tout - 1) * o->strides + span + 1 - T;
        return total > 0 ? total / 2 : 0;
    }
    return 0;
}

static rnn_status conv_configure(rnn_layer *layer, const rnn_shape *inputs, int n_inputs) {
    conv1d_impl *c = layer->impl;
    const rnn_conv1d_options *o = &c->opt;
    const char *nm = layer->name;
    if (n_inputs != 1)
        return rnn__fail(RNN_ERR_ARGUMENT, "Conv1D \"%s\" takes one input, got %d", nm, n_inputs);
    if (o->filters <= 0 || o->filters > (1 << 24))
        return rnn__fail(RNN_ERR_ARGUMENT, "Conv1D \"%s\": Invalid value for argument `filters`. "
                         "Expected a strictly positive value. Received filters=%d.", nm,
                         o->filters);
    if (o->kernel_size <= 0 || o->kernel_size > (1 << 16))
        return rnn__fail(RNN_ERR_ARGUMENT, "Conv1D \"%s\": The argument `kernel_size` must be a "
                         "positive integer (at most 65536). Received kernel_size=%d.", nm,
                         o->kernel_size);
    if (o->strides <= 0 || o->strides > (1 << 16))
        return rnn__fail(RNN_ERR_ARGUMENT, "Conv1D \"%s\": The argument `strides` must be a "
                         "positive integer (at most 65536). Received strides=%d.", nm, o->strides);
    if (o->dilation_rate <= 0 || o->dilation_rate > (1 << 16))
        return rnn__fail(RNN_ERR_ARGUMENT, "Conv1D \"%s\": The argument `dilation_rate` must be "
                         "a positive integer (at most 65536). Received dilation_rate=%d.", nm,
                         o->dilation_rate);
    if (o->strides > 1 && o->dilation_rate > 1)
        return rnn__fail(RNN_ERR_ARGUMENT, "Conv1D \"%s\": `strides > 1` not supported in "
                         "conjunction with `dilation_rate > 1`. Received: strides=(%d,) and "
                         "dilation_rate=(%d,)", nm, o->strides, o->dilation_rate);
    if ((int)o->padding < 0 || o->padding > RNN_PADDING_CAUSAL)
        return rnn__fail(RNN_ERR_ARGUMENT, "Conv1D \"%s\": unknown padding %d (valid, same or "
                         "causal)", nm, (int)o->padding);
    if (o->groups != 1)
        return rnn__fail(o->groups > 1 ? RNN_ERR_UNSUPPORTED : RNN_ERR_ARGUMENT,
                         "Conv1D \"%s\": groups=%d is not supported by librnn (groups=1 only)",
                         nm, o->groups);
    if ((int)o->activation < 0 || o->activation >= RNN_ACTIVATION_COUNT)
        return rnn__fail(RNN_ERR_ARGUMENT, "Conv1D \"%s\": unknown activation", nm);
    rnn_status st = rnn__expect_rank(layer, &inputs[0], 3, 3);
    if (st) return st;
    const rnn_shape *in = &inputs[0];
    int64_t C = in->dim[2], kc;
    if (C <= 0 || C > (1 << 24) || !rnn__mul_ok(C, o->kernel_size, &kc) || kc > (1 << 26) ||
        kc * o->filters > (1 << 28))
        return rnn__fail(RNN_ERR_SHAPE, "Conv1D \"%s\": the channel dimension of the input must "
                         "be known, positive and small enough for the kernel (got %lld)", nm,
                         (long long)C);
    int64_t Tout = out_steps(o, in->dim[1]);
    if (in->dim[1] >= 0 && Tout <= 0) {
        char s[96];
        rnn__shape_format(in, s, sizeof s);
        return rnn__fail(RNN_ERR_SHAPE, "Conv1D \"%s\": Computed output size would be zero or "
                         "negative. Received `inputs shape=%s`, `kernel shape=(%d, %lld, %d)`, "
                         "`dilation_rate=[%d]`, `strides=[%d]`, `padding=%s`.", nm, s,
                         o->kernel_size, (long long)C, o->filters, o->dilation_rate, o->strides,
                         padding_name(o->padding));
    }
    c->C = C;
    layer->n_outputs = 1;
    layer->output[0] = (rnn_shape){3, {in->dim[0], Tout, o->filters, 0}};
    layer->n_weights = 0;
    rnn__weight_set3(&layer->weights[layer->n_weights++], "kernel", o->kernel_size, C, o->filters);
    if (o->use_bias) rnn__weight_set(&layer->weights[layer->n_weights++], "bias", 1, o->filters, 0);
    return RNN_OK;
}

/* Keras's defaults: glorot_uniform with fan_in = k*C and fan_out = k*filters (the receptive
 * field counts in both), zero bias. */
static void conv_init(rnn_layer *layer, rnn_rng *rng) {
    conv1d_impl *c = layer->impl;
    int64_t k = c->opt.kernel_size, F = c->opt.filters;
    double limit = sqrt(6.0 / (double)(k * c->C + k * F));
    rnn_weight *w = &layer->weights[0];
    for (int64_t i = 0; i < w->size; i++)
        w->value[i] = (float)((2.0 * rnn__rng_uniform(rng) - 1.0) * limit);
    if (c->opt.use_bias) memset(layer->weights[1].value, 0, sizeof(float) * (size_t)F);
}

static rnn_status conv_plan(rnn_layer *layer, int64_t batch, int64_t steps) {
    conv1d_impl *c = layer->impl;
    const rnn_conv1d_options *o = &c->opt;
    int64_t Tout = out_steps(o, steps);
    if (Tout <= 0)
        return rnn__fail(RNN_ERR_SHAPE, "Conv1D \"%s\": Computed output size would be zero or "
                         "negative for %lld steps (kernel_size=%d, dilation_rate=%d, strides=%d, "
                         "padding=%s)", layer->name, (long long)steps, o->kernel_size,
                         o->dilation_rate, o->strides, padding_name(o->padding));
    int64_t rows, ncols, ny, bt, nx;
    const int64_t kc = o->kernel_size * c->C;
    if (!rnn__mul_ok(batch, Tout, &rows) || rows > INT32_MAX || !rnn__mul_ok(rows, kc, &ncols) ||
        !rnn__mul_ok(rows, o->filters, &ny) || !rnn__mul_ok(batch, steps, &bt) ||
        !rnn__mul_ok(bt, c->C, &nx))
        return rnn__fail(RNN_ERR_MEMORY, "Conv1D \"%s\": batch too large", layer->name);
    rnn_workspace *ws = &layer->ws;
    rnn__ws_begin(ws);
    rnn__ws_want(ws, &c->cols, ncols);
    rnn__ws_want(ws, &c->y, ny);
    rnn__ws_want(ws, &c->dz, ny);
    rnn__ws_want(ws, &c->dcols, ncols);
    rnn__ws_want(ws, &layer->dx[0], nx);
    if (rnn__ws_commit(ws) != 0)
        return rnn__fail(RNN_ERR_MEMORY, "Conv1D \"%s\": out of memory", layer->name);
    c->T = steps;
    c->Tout = Tout;
    c->pad_left = left_pad(o, steps, Tout);
    c->rows = rows;
    layer->planned_batch = batch;
    layer->planned_steps = steps;
    return RNN_OK;
}

/* cols[(b, t), j*C + ch] = x[b, t*s - pl + j*d, ch], 0 outside [0, T). */
static void im2col(const conv1d_impl *c, const float *x, int64_t B, float *cols) {
    const int64_t C = c->C, k = c->opt.kernel_size, s = c->opt.strides, d = c->opt.dilation_rate;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < c->Tout; t++) {
            float *row = cols + (b * c->Tout + t) * k * C;
            for (int64_t j = 0; j < k; j++) {
                int64_t src = t * s - c->pad_left + j * d;
                if (src < 0 || src >= c->T) memset(row + j * C, 0, sizeof(float) * (size_t)C);
                else memcpy(row + j * C, x + (b * c->T + src) * C, sizeof(float) * (size_t)C);
            }
        }
}

/* dx[b, t*s - pl + j*d, ch] += dcols[(b, t), j*C + ch]: im2col's adjoint. */
static void col2im(const conv1d_impl *c, const float *dcols, int64_t B, float *dx) {
    const int64_t C = c->C, k = c->opt.kernel_size, s = c->opt.strides, d = c->opt.dilation_rate;
    memset(dx, 0, sizeof(float) * (size_t)(B * c->T * C));
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < c->Tout; t++) {
            const float *row = dcols + (b * c->Tout + t) * k * C;
            for (int64_t j = 0; j < k; j++) {
                int64_t dst = t * s - c->pad_left + j * d;
                if (dst < 0 || dst >= c->T) continue;
                float *o = dx + (b * c->T + dst) * C;
                for (int64_t ch = 0; ch < C; ch++) o[ch] += row[j * C + ch];
            }
        }
}

static rnn_status conv_forward(rnn_layer *layer, const rnn_tensor *const *in,
                               const rnn_run_ctx *ctx) {
    conv1d_impl *c = layer->impl;
    const rnn_conv1d_options *o = &c->opt;
    /* One step at a time a convolution would see no past steps: only a pointwise one (k = 1,
     * stride 1) gives the result of the whole sequence. */
    if (ctx && ctx->mode == RNN_MODE_STREAM && (o->kernel_size > 1 || o->strides > 1))
        return rnn__fail(RNN_ERR_STATE, "Conv1D \"%s\" (kernel_size=%d, strides=%d) cannot run "
                         "one step at a time: each output step reads %d input steps", layer->name,
                         o->kernel_size, o->strides, o->kernel_size);
    const rnn_tensor *x = in[0];
    const int64_t B = x->shape[0];
    const int rows = (int)c->rows, n = o->filters, kc = (int)(o->kernel_size * c->C);
    im2col(c, x->data, B, c->cols);
    if (o->use_bias) {
        const float *b = layer->weights[1].value;
        for (int i = 0; i < rows; i++) memcpy(c->y + (size_t)i * n, b, sizeof(float) * n);
    }
    rnn__product(rows, n, kc, c->cols, kc, layer->weights[0].value, n, c->y, n,
                 RNN_GEMM(.beta = o->use_bias ? 1.0f : 0.0f));
    rnn__activation_forward(o->activation, c->y, rows, n);
    layer->y[0] = rnn_tensor3(c->y, B, c->Tout, n);
    layer->mask_out = NULL; /* Keras 3: Conv1D does not support masking and drops the mask */
    return RNN_OK;
}

/* dz = dy act'(y);  dW += cols^T dz;  db += sum_rows dz;  dx = col2im(dz W^T) */
static void conv_backward(rnn_layer *layer, const rnn_tensor *const *in, float *const *dy,
                          const int *want) {
    conv1d_impl *c = layer->impl;
    const rnn_conv1d_options *o = &c->opt;
    const int64_t B = in[0]->shape[0];
    const int rows = (int)c->rows, n = o->filters, kc = (int)(o->kernel_size * c->C);
    if (!dy[0]) {
        if (want[0]) memset(layer->dx[0], 0, sizeof(float) * (size_t)(B * c->T * c->C));
        return;
    }
    const float *dz = dy[0];
    if (o->activation != RNN_LINEAR) {
        rnn__activation_backward(o->activation, c->y, dy[0], c->dz, rows, n);
        dz = c->dz;
    }
    rnn__product(kc, n, rows, c->cols, kc, dz, n, layer->weights[0].grad, n,
                 RNN_GEMM(.trans_a = 1, .beta = 1.0f));
    if (o->use_bias) rnn__colsum_add(layer->weights[1].grad, dz, rows, n, n);
    if (want[0]) {
        rnn__product(rows, kc, n, dz, n, layer->weights[0].value, n, c->dcols, kc,
                     RNN_GEMM(.trans_b = 1));
        col2im(c, c->dcols, B, layer->dx[0]);
    }
}

static int64_t conv_output_steps(const rnn_layer *layer, int64_t steps) {
    return out_steps(&((const conv1d_impl *)layer->impl)->opt, steps);
}

static const rnn_layer_ops conv1d_ops = {
    .class_name = "Conv1D",
    .base_name = "conv1d",
    .configure = conv_configure,
    .init_weights = conv_init,
    .plan = conv_plan,
    .forward = conv_forward,
    .backward = conv_backward,
    .output_steps = conv_output_steps,
    .free_impl = free,
};

const rnn_conv1d_options *rnn__conv1d_options(const rnn_layer *layer) {
    return &((const conv1d_impl *)layer->impl)->opt;
}

const char *rnn__conv1d_padding_name(rnn_padding padding) { return padding_name(padding); }

rnn_conv1d_options rnn_conv1d_defaults(int filters, int kernel_size) {
    rnn_conv1d_options o;
    memset(&o, 0, sizeof o);
    o.filters = filters;
    o.kernel_size = kernel_size;
    o.strides = 1;
    o.padding = RNN_PADDING_VALID;
    o.dilation_rate = 1;
    o.groups = 1;
    o.activation = RNN_LINEAR;
    o.use_bias = 1;
    return o;
}

rnn_layer *rnn_conv1d(const rnn_conv1d_options *options) {
    if (!options) {
        rnn__fail(RNN_ERR_ARGUMENT, "Conv1D: options are NULL");
        return NULL;
    }
    conv1d_impl *c = calloc(1, sizeof *c);
    if (!c) {
        rnn__fail(RNN_ERR_MEMORY, "Conv1D: out of memory");
        return NULL;
    }
    c->opt = *options;
    c->opt.name = NULL;
    return rnn__layer_new(&conv1d_ops, c, options->name);
}
