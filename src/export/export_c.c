/* rnn_export_c: a model as dependency-free C99 (NAME.h, NAME.c). The generated code needs only
 * <math.h>: weights are const arrays, the streaming state is a struct the caller owns, the
 * whole-sequence path works in static buffers of NAME_MAX_STEPS steps; nothing is allocated.
 *
 * The model is read as a chain of operations (Dense, Embedding, recurrent layers,
 * Bidirectional, Activation, Masking, RepeatVector; Dropout and InputLayers vanish, nested
 * models and TimeDistributed are opened), each with its input and output width and whether a
 * time axis is there. The generated file is a fixed runtime (only the parts the chain uses, so
 * that -Wunused-function stays quiet) followed by the weights and one call per operation.
 *
 * Numerics follow the library's: sigmoid and tanh are vmath8.h's polynomials (the portable
 * variant, one lane), the other activations activations.h's formulas, the cells the layers'
 * order of operations (bias, then x W, then h U). Sums run in another order than the library's
 * products, so float32 results agree to rounding, not bit for bit.
 *
 * Weights are stored output-major (the transpose of Keras's (in, out) kernels) so that each
 * output is one contiguous dot product. bf16 keeps the upper 16 bits of each float (rounded to
 * nearest even), float32 accumulation; int8 keeps round(w / s_j) with one scale s_j =
 * max_i |w_ij| / 127 per output j, float32 accumulation, the scale applied once per output.
 * Biases, activations and states stay float32. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "layers/layer_options.h"
#include "layers/recurrent.h"
#include "model.h"

#define MAX_OPS 64

typedef enum { OP_DENSE, OP_EMB, OP_REC, OP_BIDI, OP_ACT, OP_MASK, OP_REPEAT } op_kind;

typedef struct {
    op_kind kind;
    rnn_layer *layer;  /* Dense, Embedding, recurrent, Masking; Bidirectional's forward layer */
    rnn_layer *back;   /* Bidirectional's backward layer */
    rnn_layer *named;  /* the layer whose name comments name the operation */
    int merge;         /* Bidirectional: 0 concat, 1 sum, 2 mul, 3 ave */
    int in_seq, out_seq;
    int64_t in_w, out_w;
    int64_t repeat_n;
    int act;           /* Activation */
} op_t;

typedef struct {
    op_t op[MAX_OPS];
    int n;
    int ids;            /* the input is token ids */
    int in_seq;         /* the input has a time axis */
    int64_t in_steps;   /* known input steps (0: unknown or none) */
    int64_t in_w;
} chain_t;

static int sym_is_seq(const rnn_shape *s) { return s->rank == 3; }

static rnn_status add_op(chain_t *c, op_t op) {
    if (c->n >= MAX_OPS)
        return rnn__fail(RNN_ERR_UNSUPPORTED, "rnn_export_c: more than %d layers", MAX_OPS);
    if (!op.named) op.named = op.layer;
    c->op[c->n++] = op;
    return RNN_OK;
}

static const rnn_shape *in_shape(const rnn_layer *L) { return &L->input[0]; }
static const rnn_shape *out_shape(const rnn_layer *L) { return &L->output[0]; }

static rnn_status chain_model(chain_t *c, rnn_model *m);

/* One layer (not an InputLayer) into operations. */
static rnn_status chain_layer(chain_t *c, rnn_layer *L, int in_td) {
    const char *cls = L->ops->class_name;
    op_t op;
    memset(&op, 0, sizeof op);
    op.layer = L;
    op.in_seq = in_td || sym_is_seq(in_shape(L));
    op.out_seq = in_td || sym_is_seq(out_shape(L));
    const rnn_shape *is = in_shape(L), *os = out_shape(L);
    op.in_w = is->dim[is->rank - 1];
    op.out_w = os->dim[os->rank - 1];
    if (!strcmp(cls, "Dense")) {
        op.kind = OP_DENSE;
        return add_op(c, op);
    }
    if (!strcmp(cls, "Dropout")) return RNN_OK; /* the identity at inference */
    if (!strcmp(cls, "Activation")) {
        op.kind = OP_ACT;
        op.act = (int)rnn__activation_layer_kind(L);
        return add_op(c, op);
    }
    if (in_td)
        return rnn__fail(RNN_ERR_UNSUPPORTED,
                         "rnn_export_c: TimeDistributed(%s) is not supported (Dense, Activation "
                         "and Dropout are)", cls);
    if (!strcmp(cls, "Embedding")) {
        op.kind = OP_EMB;
        op.in_w = 1;
        return add_op(c, op);
    }
    if (!strcmp(cls, "Masking")) {
        op.kind = OP_MASK;
        return add_op(c, op);
    }
    if (!strcmp(cls, "RepeatVector")) {
        op.kind = OP_REPEAT;
        op.repeat_n = rnn__repeat_vector_n(L);
        return add_op(c, op);
    }
    if (!strcmp(cls, "TimeDistributed")) {
        rnn_layer *inner = rnn__time_distributed_inner(L);
        return chain_layer(c, inner, 1);
    }
    if (!strcmp(cls, "Sequential") || !strcmp(cls, "Functional"))
        return chain_model(c, rnn__model_layer_inner(L));
    if (rnn__layer_is_recurrent(L)) {
        rnn_recurrent *r = rnn__recurrent_of(L);
        if (r->opt.return_state)
            return rnn__fail(RNN_ERR_UNSUPPORTED, "rnn_export_c: layer \"%s\" returns its state "
                             "(only single-output chains are exported)", L->name);
        op.kind = OP_REC;
        return add_op(c, op);
    }
    if (!strcmp(cls, "Bidirectional")) {
        const char *mm = rnn__bidirectional_merge_mode(L);
        static const char *const modes[] = {"concat", "sum", "mul", "ave"};
        op.kind = OP_BIDI;
        op.merge = -1;
        for (int k = 0; mm && k < 4; k++)
            if (!strcmp(mm, modes[k])) op.merge = k;
        op.named = L;
        op.layer = rnn__bidirectional_sub(L, 0);
        op.back = rnn__bidirectional_sub(L, 1);
        if (op.merge < 0 || rnn__recurrent_of(op.layer)->opt.return_state)
            return rnn__fail(RNN_ERR_UNSUPPORTED, "rnn_export_c: Bidirectional \"%s\" with "
                             "merge_mode=None or return_state (two outputs) is not supported",
                             L->name);
        return add_op(c, op);
    }
    return rnn__fail(RNN_ERR_UNSUPPORTED, "rnn_export_c: layer \"%s\" (%s) is not supported",
                     L->name, cls);
}

/* A model whose layers form one chain: each layer takes exactly the previous layer's output. */
static rnn_status chain_model(chain_t *c, rnn_model *m) {
    if (m->n_inputs != 1 || m->n_outputs != 1)
        return rnn__fail(RNN_ERR_UNSUPPORTED, "rnn_export_c: model \"%s\" has %d inputs and %d "
                         "outputs (one of each is supported)", m->name, m->n_inputs, m->n_outputs);
    rnn_symbol *prev = m->inputs[0]->outputs_sym[0];
    for (int i = 0; i < m->n_layers; i++) {
        rnn_layer *L = m->layers[i];
        if (rnn__is_input_layer(L)) continue;
        if (L->n_inputs != 1 || L->inputs_sym[0] != prev)
            return rnn__fail(RNN_ERR_UNSUPPORTED, "rnn_export_c: layer \"%s\" of model \"%s\" "
                             "is not a link of one chain (several inputs, initial states or "
                             "branches are not supported)", L->name, m->name);
        rnn_status st = chain_layer(c, L, 0);
        if (st) return st;
        prev = L->outputs_sym[0];
    }
    if (m->outputs[0] != prev)
        return rnn__fail(RNN_ERR_UNSUPPORTED, "rnn_export_c: the output of model \"%s\" is not "
                         "its last layer's", m->name);
    return RNN_OK;
}

/* ---------------------------------------------------------------- writing */

typedef struct {
    FILE *f;
    int err;
    int64_t weight_bytes; /* const data written so far */
} out_t;

static void put(out_t *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (vfprintf(o->f, fmt, ap) < 0) o->err = 1;
    va_end(ap);
}

/* A float as a C float literal that reads back to the same value ("0.0f", "1.5e-07f"). */
static const char *flit(char *buf, float v) {
    snprintf(buf, 40, "%.9g", (double)v);
    if (!strpbrk(buf, ".eE")) strcat(buf, ".0");
    strcat(buf, "f");
    return buf;
}

static uint16_t to_bf16(float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    u += 0x7FFFu + ((u >> 16) & 1u); /* round to nearest even (weights are finite) */
    return (uint16_t)(u >> 16);
}

/* A (rows, cols) float array written as NAME[cols][rows] (transposed: output-major), or as is
 * (transpose 0, for embedding tables: row-major, scales per column). */
static void emit_matrix(out_t *o, const char *name, const float *w, int64_t rows, int64_t cols,
                        int transpose, rnn_precision prec) {
    const int64_t n = rows * cols;
    const char *type = prec == RNN_BF16 ? "unsigned short" : prec == RNN_INT8 ? "signed char"
                                                                               : "float";
    float *scale = NULL;
    if (prec == RNN_INT8) {
        scale = calloc((size_t)cols, sizeof *scale);
        if (!scale) {
            o->err = 2;
            return;
        }
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) {
                float a = fabsf(w[i * cols + j]);
                if (a > scale[j]) scale[j] = a;
            }
        for (int64_t j = 0; j < cols; j++) scale[j] /= 127.0f;
    }
    put(o, "static const %s %s[%lld] = {", type, name, (long long)n);
    for (int64_t k = 0; k < n; k++) {
        int64_t i, j; /* source element (i, j) of the (rows, cols) array */
        if (transpose) {
            j = k / rows;
            i = k % rows;
        } else {
            i = k / cols;
            j = k % cols;
        }
        float v = w[i * cols + j];
        if (k % 8 == 0) put(o, "\n   ");
        if (prec == RNN_BF16) put(o, " 0x%04x,", (unsigned)to_bf16(v));
        else if (prec == RNN_INT8) {
            float q = scale[j] > 0 ? v / scale[j] : 0.0f;
            long r = lrintf(q);
            if (r > 127) r = 127;
            if (r < -127) r = -127;
            put(o, " %ld,", r);
        } else {
            char fb[48];
            put(o, " %s,", flit(fb, v));
        }
    }
    put(o, "\n};\n");
    o->weight_bytes += n * (prec == RNN_BF16 ? 2 : prec == RNN_INT8 ? 1 : 4);
    if (scale) {
        put(o, "static const float %s_s[%lld] = {", name, (long long)cols);
        for (int64_t j = 0; j < cols; j++) {
            char fb[48];
            put(o, "%s %s,", j % 8 ? "" : "\n   ", flit(fb, scale[j]));
        }
        put(o, "\n};\n");
        o->weight_bytes += cols * 4;
        free(scale);
    }
}

static void emit_vector(out_t *o, const char *name, const float *v, int64_t n) {
    put(o, "static const float %s[%lld] = {", name, (long long)n);
    for (int64_t k = 0; k < n; k++) {
        char fb[48];
        put(o, "%s %s,", k % 8 ? "" : "\n   ", flit(fb, v[k]));
    }
    put(o, "\n};\n");
    o->weight_bytes += n * 4;
}

/* The scale array's name for a matrix, or 0 (no scales). */
static const char *sname(char *buf, size_t size, const char *name, rnn_precision prec) {
    if (prec != RNN_INT8) return "0";
    snprintf(buf, size, "%s_s", name);
    return buf;
}

static int rec_kind(const rnn_layer *L) {
    const char *cls = L->ops->class_name;
    return !strcmp(cls, "LSTM") ? 1 : !strcmp(cls, "GRU") ? 2 : 0;
}
static int rec_gates(int kind) { return kind == 1 ? 4 : kind == 2 ? 3 : 1; }

/* Weights and the rec_w struct of recurrent layer L as R<id>. */
static void emit_rec(out_t *o, rnn_layer *L, const char *id, rnn_precision prec) {
    rnn_recurrent *r = rnn__recurrent_of(L);
    const int kind = rec_kind(L), G = rec_gates(kind);
    const int64_t F = r->F, H = r->H;
    char nw[48], nu[48], nb[48], s1[56], s2[56];
    snprintf(nw, sizeof nw, "%s_W", id);
    snprintf(nu, sizeof nu, "%s_U", id);
    snprintf(nb, sizeof nb, "%s_b", id);
    emit_matrix(o, nw, L->weights[RNN_W_KERNEL].value, F, G * H, 1, prec);
    emit_matrix(o, nu, L->weights[RNN_W_RECURRENT].value, H, G * H, 1, prec);
    if (r->opt.use_bias) emit_vector(o, nb, L->weights[RNN_W_BIAS].value, L->weights[RNN_W_BIAS].size);
    put(o, "static const rec_w %s = {%d, %lld, %lld, %d, %d, %d, %d, %d, %d, %s, %s, %s, %s, %s};\n",
        id, kind, (long long)F, (long long)H, (int)r->opt.activation,
        (int)r->opt.recurrent_activation, kind == 2 && r->opt.reset_after,
        r->opt.go_backwards, r->opt.return_sequences, r->zero_output_for_mask, nw,
        sname(s1, sizeof s1, nw, prec), nu, sname(s2, sizeof s2, nu, prec),
        r->opt.use_bias ? nb : "0");
}

static void emit_dense(out_t *o, rnn_layer *L, const char *id, rnn_precision prec) {
    const rnn_dense_options *d = rnn__dense_options(L);
    const int64_t in = L->weights[0].shape[0], out = L->weights[0].shape[1];
    char nw[48], nb[48], s1[56];
    snprintf(nw, sizeof nw, "%s_W", id);
    snprintf(nb, sizeof nb, "%s_b", id);
    emit_matrix(o, nw, L->weights[0].value, in, out, 1, prec);
    if (d->use_bias) emit_vector(o, nb, L->weights[1].value, out);
    put(o, "static const dense_w %s = {%lld, %lld, %d, %s, %s, %s};\n", id, (long long)in,
        (long long)out, (int)d->activation, nw, sname(s1, sizeof s1, nw, prec),
        d->use_bias ? nb : "0");
}

/* ---------------------------------------------------------------- the runtime */

static const char *const rt_bits =
    "/* float bits (unsigned int is 32 bits on every target this file is for: checked here) */\n"
    "typedef union { float f; unsigned int u; } fbits;\n"
    "typedef char check_uint32_[sizeof(unsigned int) == 4 && sizeof(float) == 4 ? 1 : -1];\n";

/* vmath8.h's portable polynomials, one lane. */
static const char *const rt_act =
    "static float lo_(float x, float c) { return x < c ? c : x; }\n"
    "static float hi_(float x, float c) { return x > c ? c : x; }\n"
    "/* e^r - 1 for |r| <= ln2/2: r + r^2 P(r), Cephes's degree-5 P */\n"
    "static float expm1_red(float r) {\n"
    "    float z = r * r, p = r * 1.9875691500e-4f + 1.3981999507e-3f;\n"
    "    p = p * r + 8.3334519073e-3f;\n"
    "    p = p * r + 4.1665795894e-2f;\n"
    "    p = p * r + 1.6666665459e-1f;\n"
    "    p = p * r + 5.0000001201e-1f;\n"
    "    return p * z + r;\n"
    "}\n"
    "/* x = k ln2 + r; *kbits = k << 23 */\n"
    "static float reduce(float x, unsigned int *kbits) {\n"
    "    fbits t;\n"
    "    float k, r;\n"
    "    t.f = x * 1.44269504088896341f + 12582912.0f;\n"
    "    k = t.f - 12582912.0f;\n"
    "    *kbits = t.u << 23;\n"
    "    r = k * -0.693359375f + x;\n"
    "    return k * 2.12194440e-4f + r;\n"
    "}\n"
    "static float sigm(float x) {\n"
    "    unsigned int kb;\n"
    "    fbits e;\n"
    "    float r = reduce(hi_(lo_(-x, -86.5f), 88.0f), &kb);\n"
    "    e.f = expm1_red(r) + 1.0f;\n"
    "    e.u += kb;\n"
    "    return 1.0f / (e.f + 1.0f);\n"
    "}\n"
    "static float tanh_(float x) {\n"
    "    unsigned int kb, sign;\n"
    "    fbits v, s, m;\n"
    "    float y, q;\n"
    "    v.f = x;\n"
    "    sign = v.u & 0x80000000u;\n"
    "    v.u ^= sign;\n"
    "    y = hi_(v.f + v.f, 40.0f);\n"
    "    q = expm1_red(reduce(y, &kb));\n"
    "    s.u = kb + 0x3f800000u;\n"
    "    m.f = s.f * q + (s.f - 1.0f);\n"
    "    m.f = m.f / (m.f + 2.0f);\n"
    "    m.u ^= sign;\n"
    "    return m.f;\n"
    "}\n"
    "/* librnn's rnn_activation numbering */\n"
    "static float act(int a, float x) {\n"
    "    float t;\n"
    "    switch (a) {\n"
    "    case 1: return tanh_(x);\n"
    "    case 2: return sigm(x);\n"
    "    case 3: t = x + 3.0f; t = t < 0.0f ? 0.0f : (t > 6.0f ? 6.0f : t); return t / 6.0f;\n"
    "    case 4: t = 0.2f * x + 0.5f; return t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);\n"
    "    case 5: return x > 0.0f ? x : 0.0f;\n"
    "    case 6: return x > 0.0f ? x : expm1f(x);\n"
    "    case 7: return x > 0.0f ? 1.0507009873554805f * x\n"
    "                            : 1.0507009873554805f * 1.6732632423543772f * expm1f(x);\n"
    "    case 8: return x > 20.0f ? x : log1pf(expf(x));\n"
    "    default: return x;\n"
    "    }\n"
    "}\n";

static const char *const rt_act_row =
    "/* an activation over one row; 9: softmax over the row */\n"
    "static void act_row(int a, float *v, int n) {\n"
    "    int j;\n"
    "    if (a == 9) {\n"
    "        float mx = v[0], sum = 0.0f;\n"
    "        for (j = 1; j < n; j++) mx = v[j] > mx ? v[j] : mx;\n"
    "        for (j = 0; j < n; j++) sum += (v[j] = expf(v[j] - mx));\n"
    "        for (j = 0; j < n; j++) v[j] /= sum;\n"
    "    } else if (a != 0) {\n"
    "        for (j = 0; j < n; j++) v[j] = act(a, v[j]);\n"
    "    }\n"
    "}\n";

static const char *const rt_wt[3] = {
    "typedef float wt_t;\n#define DQ(w, i) ((w)[i])\n",
    "typedef unsigned short wt_t; /* bfloat16: the upper half of a float */\n"
    "static float dq16(unsigned short h) {\n"
    "    fbits b;\n"
    "    b.u = (unsigned int)h << 16;\n"
    "    return b.f;\n"
    "}\n#define DQ(w, i) dq16((w)[i])\n",
    "typedef signed char wt_t; /* int8, one float scale per output */\n"
    "#define DQ(w, i) ((float)(w)[i])\n",
};

static const char *const rt_mv =
    "/* y[j] += s[j] * sum_i x[i] w[j][i] (s 0: no scale); w output-major (n_out rows of n_in) */\n"
    "static void mv(const wt_t *w, const float *s, int n_in, int n_out, const float *x, float *y) {\n"
    "    int i, j;\n"
    "    for (j = 0; j < n_out; j++) {\n"
    "        const wt_t *r = w + (long)j * n_in;\n"
    "        float acc = 0.0f;\n"
    "        for (i = 0; i < n_in; i++) acc += x[i] * DQ(r, i);\n"
    "        y[j] += s ? acc * s[j] : acc;\n"
    "    }\n"
    "}\n";

static const char *const rt_dense =
    "typedef struct { int n_in, n_out, act; const wt_t *W; const float *Ws, *b; } dense_w;\n"
    "static void dense(const dense_w *d, const float *x, float *y) {\n"
    "    int j;\n"
    "    for (j = 0; j < d->n_out; j++) y[j] = d->b ? d->b[j] : 0.0f;\n"
    "    mv(d->W, d->Ws, d->n_in, d->n_out, x, y);\n"
    "    act_row(d->act, y, d->n_out);\n"
    "}\n";

static const char *const rt_rec =
    "/* kind: 0 SimpleRNN, 1 LSTM, 2 GRU; W (G H x F) and U (G H x H) output-major */\n"
    "typedef struct {\n"
    "    int kind, F, H, act, ract, reset_after, backwards, ret_seq, zero_masked;\n"
    "    const wt_t *W;\n"
    "    const float *Ws;\n"
    "    const wt_t *U;\n"
    "    const float *Us, *b;\n"
    "} rec_w;\n";

static const char *const rt_srnn =
    "static void srnn_cell(const rec_w *w, const float *x, float *h, float *z) {\n"
    "    int j;\n"
    "    for (j = 0; j < w->H; j++) z[j] = w->b ? w->b[j] : 0.0f;\n"
    "    mv(w->W, w->Ws, w->F, w->H, x, z);\n"
    "    mv(w->U, w->Us, w->H, w->H, h, z);\n"
    "    for (j = 0; j < w->H; j++) h[j] = act(w->act, z[j]);\n"
    "}\n";

static const char *const rt_lstm =
    "/* gates i, f, c, o; c = f c + i g, h = o act(c) */\n"
    "static void lstm_cell(const rec_w *w, const float *x, float *h, float *c, float *z) {\n"
    "    int j, H = w->H;\n"
    "    for (j = 0; j < 4 * H; j++) z[j] = w->b ? w->b[j] : 0.0f;\n"
    "    mv(w->W, w->Ws, w->F, 4 * H, x, z);\n"
    "    mv(w->U, w->Us, H, 4 * H, h, z);\n"
    "    for (j = 0; j < H; j++) {\n"
    "        float i = act(w->ract, z[j]), f = act(w->ract, z[H + j]);\n"
    "        float g = act(w->act, z[2 * H + j]), o = act(w->ract, z[3 * H + j]);\n"
    "        c[j] = f * c[j] + i * g;\n"
    "        h[j] = o * act(w->act, c[j]);\n"
    "    }\n"
    "}\n";

static const char *const rt_gru =
    "/* gates z, r, h; reset_after: hh = act(x_h + r (h U_h + b_h)), else act(x_h + (r h) U_h) */\n"
    "static void gru_cell(const rec_w *w, const float *x, float *h, float *z) {\n"
    "    int j, H = w->H;\n"
    "    float *g = z + 3 * H, *a = z + 6 * H;\n"
    "    for (j = 0; j < 3 * H; j++) {\n"
    "        z[j] = w->b ? w->b[j] : 0.0f;\n"
    "        g[j] = w->b && w->reset_after ? w->b[3 * H + j] : 0.0f;\n"
    "    }\n"
    "    mv(w->W, w->Ws, w->F, 3 * H, x, z);\n"
    "    mv(w->U, w->Us, H, w->reset_after ? 3 * H : 2 * H, h, g);\n"
    "    for (j = 0; j < 2 * H; j++) z[j] = act(w->ract, z[j] + g[j]);\n"
    "    if (w->reset_after) {\n"
    "        for (j = 0; j < H; j++) z[2 * H + j] = act(w->act, z[2 * H + j] + z[H + j] * g[2 * H + j]);\n"
    "    } else {\n"
    "        for (j = 0; j < H; j++) a[j] = z[H + j] * h[j];\n"
    "        mv(w->U + (long)2 * H * H, w->Us ? w->Us + 2 * H : 0, H, H, a, g + 2 * H);\n"
    "        for (j = 0; j < H; j++) z[2 * H + j] = act(w->act, z[2 * H + j] + g[2 * H + j]);\n"
    "    }\n"
    "    for (j = 0; j < H; j++) h[j] = z[j] * h[j] + (1.0f - z[j]) * z[2 * H + j];\n"
    "}\n";

static const char *const rt_seq =
    "/* a recurrent layer over T steps from a zero state: y gets T rows of H (ret_seq, in\n"
    " * processing order) or the last h; masked steps keep the state */\n"
    "static void rec_seq(const rec_w *w, const float *x, int T, const unsigned char *mask,\n"
    "                    float *y, float *h, float *c, float *z) {\n"
    "    int p, j;\n"
    "    for (j = 0; j < w->H; j++) h[j] = c[j] = 0.0f;\n"
    "    for (p = 0; p < T; p++) {\n"
    "        int t = w->backwards ? T - 1 - p : p, masked = mask && !mask[t];\n"
    "        if (!masked) cell(w, x + (long)t * w->F, h, c, z);\n"
    "        if (w->ret_seq)\n"
    "            for (j = 0; j < w->H; j++) y[(long)p * w->H + j] = masked && w->zero_masked ? 0.0f : h[j];\n"
    "    }\n"
    "    if (!w->ret_seq)\n"
    "        for (j = 0; j < w->H; j++) y[j] = h[j];\n"
    "}\n";

static const char *const rt_embed =
    "/* row id of a (V, D) table; -1 for an id that is not an integer in [0, V) */\n"
    "static int embed(const wt_t *E, const float *s, int V, int D, float v, float *y) {\n"
    "    int j;\n"
    "    long id;\n"
    "    if (!(v >= 0.0f && v < (float)V) || v != floorf(v)) return -1;\n"
    "    id = (long)v;\n"
    "    for (j = 0; j < D; j++) y[j] = s ? DQ(E, id * D + j) * s[j] : DQ(E, id * D + j);\n"
    "    return (int)id;\n"
    "}\n";

static const char *const rt_mask =
    "/* Masking: the step is kept when a feature differs from v (and keep_in); else zeros */\n"
    "static int mask_row(float v, int keep_in, const float *x, int n, float *y) {\n"
    "    int k = 0, j;\n"
    "    for (j = 0; j < n; j++) if (x[j] != v) k = 1;\n"
    "    k = k && keep_in;\n"
    "    for (j = 0; j < n; j++) y[j] = k ? x[j] : 0.0f;\n"
    "    return k;\n"
    "}\n";

static const char *const rt_copy =
    "static void copy(float *y, const float *x, long n) {\n"
    "    long i;\n"
    "    for (i = 0; i < n; i++) y[i] = x[i];\n"
    "}\n";

/* ---------------------------------------------------------------- export */

static int valid_name(const char *s) {
    if (!s || !*s || strlen(s) > 48 || !(isalpha((unsigned char)*s) || *s == '_')) return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_')) return 0;
    return 1;
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

static int layer_weights_finite(rnn_layer *L) {
    for (int k = 0; k < L->n_weights; k++)
        for (int64_t i = 0; i < L->weights[k].size; i++)
            if (!isfinite(L->weights[k].value[i])) return 0;
    return 1;
}

rnn_status rnn_export_c(rnn_model *m, const char *dir, const char *name, rnn_precision prec) {
    if (!m || !dir || !name) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_export_c: NULL argument");
    if (!valid_name(name))
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "rnn_export_c: name \"%s\" is not "
                                            "a C identifier of at most 48 characters", name));
    if (prec != RNN_F32 && prec != RNN_BF16 && prec != RNN_INT8)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "rnn_export_c: unknown precision %d",
                                            (int)prec));
    rnn_status st = rnn__model_build(m);
    if (st) return rnn__model_fail(m, st);
    chain_t *c = calloc(1, sizeof *c);
    if (!c) return rnn__model_fail(m, rnn__fail(RNN_ERR_MEMORY, "rnn_export_c: out of memory"));
    if ((st = chain_model(c, m))) goto done;
    if (c->n == 0) {
        st = rnn__fail(RNN_ERR_UNSUPPORTED, "rnn_export_c: the model has no layers");
        goto done;
    }
    {
        const rnn_shape *is = rnn__model_input_shape(m, 0);
        c->ids = rnn__input_is_ids(m->inputs[0]);
        c->in_seq = c->ids || is->rank == 3;
        c->in_steps = c->in_seq && is->dim[1] > 0 ? is->dim[1] : 0;
        c->in_w = c->ids ? 1 : is->dim[is->rank - 1];
        if (!c->ids && is->rank != 3 && is->rank != 2) {
            st = rnn__fail(RNN_ERR_UNSUPPORTED, "rnn_export_c: input of rank %d", is->rank);
            goto done;
        }
    }
    /* What the chain needs: widths, steps, the runtime's parts. */
    int streaming = c->in_seq, any_unknown = c->in_seq && !c->in_steps, has_mask = 0;
    int use_dense = 0, use_act_row = 0, use_act = 0, use_rec = 0, use_kind[3] = {0, 0, 0};
    int use_emb = 0, use_mask = 0, use_bidi = 0;
    int64_t max_steps = c->in_steps, max_w = c->in_w, max_h = 1, max_z = 1, bidi_h = 1;
    for (int i = 0; i < c->n; i++) {
        op_t *op = &c->op[i];
        max_w = max64(max_w, max64(op->in_w, op->out_w));
        switch (op->kind) {
        case OP_DENSE: use_dense = use_act_row = use_act = 1; break;
        case OP_ACT: use_act_row = use_act = 1; break;
        case OP_EMB:
            use_emb = 1;
            if (rnn__embedding_options(op->layer)->mask_zero) has_mask = 1;
            break;
        case OP_MASK: use_mask = has_mask = 1; break;
        case OP_REPEAT:
            streaming = 0;
            max_steps = max64(max_steps, op->repeat_n);
            break;
        case OP_BIDI:
            streaming = 0;
            use_bidi = 1;
            /* fall through */
        case OP_REC: {
            use_rec = use_act = 1;
            for (int d = 0; d < (op->kind == OP_BIDI ? 2 : 1); d++) {
                rnn_layer *L = d ? op->back : op->layer;
                int kind = rec_kind(L);
                int64_t H = rnn__recurrent_of(L)->H;
                use_kind[kind] = 1;
                max_h = max64(max_h, H);
                max_z = max64(max_z, kind == 2 ? 7 * H : rec_gates(kind) * H);
                if (op->kind == OP_BIDI) bidi_h = max64(bidi_h, H);
            }
            break;
        }
        }
        rnn_layer *Ls[2] = {op->layer, op->back};
        for (int d = 0; d < 2; d++)
            if (Ls[d] && !layer_weights_finite(Ls[d])) {
                st = rnn__fail(RNN_ERR_NUMERIC, "rnn_export_c: layer \"%s\" has a NaN or Inf "
                               "weight", Ls[d]->name);
                goto done;
            }
    }
    if (max_steps == 0) max_steps = 1;
    const op_t *last = &c->op[c->n - 1];
    const int out_seq = last->out_seq;
    const int64_t out_w = last->out_w;

    /* ------------------------------------------------ NAME.c */
    char path[4096], fb[48], up[64];
    for (size_t k = 0; k <= strlen(name); k++) up[k] = (char)toupper((unsigned char)name[k]);
    snprintf(path, sizeof path, "%s/%s.c", dir, name);
    out_t o = {fopen(path, "w"), 0, 0};
    if (!o.f) {
        st = rnn__fail(RNN_ERR_IO, "rnn_export_c: cannot write %s: %s", path, strerror(errno));
        goto done;
    }
    static const char *const prec_name[3] = {"float32", "bfloat16", "int8"};
    put(&o, "/* %s: model \"%s\" exported by librnn %s (rnn_export_c), weights in %s.\n"
            " * Plain C99; needs only <math.h> (link with -lm). */\n"
            "#include <math.h>\n\n#include \"%s.h\"\n\n", name, m->name, rnn_version(),
        prec_name[prec], name);
    put(&o, "%s", rt_bits);
    put(&o, "%s", rt_wt[prec]);
    if (use_act) put(&o, "%s", rt_act);
    if (use_act_row) put(&o, "%s", rt_act_row);
    if (use_dense || use_rec) put(&o, "%s", rt_mv);
    if (use_dense) put(&o, "%s", rt_dense);
    if (use_rec) {
        put(&o, "%s", rt_rec);
        if (use_kind[0]) put(&o, "%s", rt_srnn);
        if (use_kind[1]) put(&o, "%s", rt_lstm);
        if (use_kind[2]) put(&o, "%s", rt_gru);
        put(&o, "static void cell(const rec_w *w, const float *x, float *h, float *c, float *z) {\n"
                "    switch (w->kind) {\n");
        if (use_kind[0]) put(&o, "    case 0: srnn_cell(w, x, h, z); break;\n");
        if (use_kind[1]) put(&o, "    case 1: lstm_cell(w, x, h, c, z); break;\n");
        if (use_kind[2]) put(&o, "    case 2: gru_cell(w, x, h, z); break;\n");
        put(&o, "    default: break;\n    }\n    (void)c;\n}\n");
        put(&o, "%s", rt_seq);
    }
    if (use_emb) put(&o, "%s", rt_embed);
    if (use_mask) put(&o, "%s", rt_mask);
    put(&o, "%s", rt_copy);

    /* weights */
    put(&o, "\n/* ---------------- weights */\n");
    for (int i = 0; i < c->n && !o.err; i++) {
        op_t *op = &c->op[i];
        char id[32];
        snprintf(id, sizeof id, "L%d", i);
        if (op->kind == OP_DENSE) emit_dense(&o, op->layer, id, prec);
        else if (op->kind == OP_REC) emit_rec(&o, op->layer, id, prec);
        else if (op->kind == OP_BIDI) {
            snprintf(id, sizeof id, "L%df", i);
            emit_rec(&o, op->layer, id, prec);
            snprintf(id, sizeof id, "L%db", i);
            emit_rec(&o, op->back, id, prec);
        } else if (op->kind == OP_EMB) {
            const rnn_embedding_options *e = rnn__embedding_options(op->layer);
            snprintf(id, sizeof id, "L%d_E", i);
            emit_matrix(&o, id, op->layer->weights[0].value, e->input_dim, e->output_dim, 0, prec);
        }
    }
    if (o.err == 2) {
        fclose(o.f);
        st = rnn__fail(RNN_ERR_MEMORY, "rnn_export_c: out of memory");
        goto done;
    }

    /* NAME_reset, NAME_step */
    put(&o, "\n/* ---------------- streaming */\n");
    if (streaming) {
        put(&o, "void %s_reset(%s_state *s) {\n    int j;\n", name, name);
        int any_state = 0;
        for (int i = 0; i < c->n; i++)
            if (c->op[i].kind == OP_REC) {
                any_state = 1;
                put(&o, "    for (j = 0; j < %lld; j++) s->h%d[j] = 0.0f;\n",
                    (long long)rnn__recurrent_of(c->op[i].layer)->H, i);
                if (rec_kind(c->op[i].layer) == 1)
                    put(&o, "    for (j = 0; j < %lld; j++) s->c%d[j] = 0.0f;\n",
                        (long long)rnn__recurrent_of(c->op[i].layer)->H, i);
            }
        if (!any_state) put(&o, "    s->unused = 0.0f;\n    (void)j;\n");
        put(&o, "}\n\n");
        put(&o, "int %s_step(%s_state *s, const float *x, float *y) {\n", name, name);
        put(&o, "    float a[%lld], b[%lld];\n", (long long)max_w, (long long)max_w);
        if (use_rec) put(&o, "    float z[%lld];\n", (long long)max_z);
        if (has_mask) put(&o, "    int m = 1;\n");
        put(&o, "    const float *in = x;\n    float *out = a;\n    (void)s;\n");
        for (int i = 0; i < c->n; i++) {
            op_t *op = &c->op[i];
            put(&o, "    /* %s */\n", op->named->name);
            switch (op->kind) {
            case OP_EMB: {
                const rnn_embedding_options *e = rnn__embedding_options(op->layer);
                char sc[32] = "0";
                if (prec == RNN_INT8) snprintf(sc, sizeof sc, "L%d_E_s", i);
                put(&o, "    {\n        int id = embed(L%d_E, %s, %d, %d, in[0], out);\n"
                        "        if (id < 0) return -1;\n", i, sc, e->input_dim, e->output_dim);
                if (e->mask_zero) put(&o, "        m = id != 0;\n");
                put(&o, "    }\n");
                break;
            }
            case OP_MASK:
                put(&o, "    m = mask_row(%s, m, in, %lld, out);\n",
                    flit(fb, rnn__masking_value(op->layer)), (long long)op->in_w);
                break;
            case OP_DENSE: put(&o, "    dense(&L%d, in, out);\n", i); break;
            case OP_ACT:
                put(&o, "    copy(out, in, %lld);\n    act_row(%d, out, %lld);\n",
                    (long long)op->in_w, op->act, (long long)op->in_w);
                break;
            case OP_REC: {
                rnn_recurrent *r = rnn__recurrent_of(op->layer);
                char cst[32] = "0";
                if (rec_kind(op->layer) == 1) snprintf(cst, sizeof cst, "s->c%d", i);
                put(&o, "    %scell(&L%d, in, s->h%d, %s, z);\n", has_mask ? "if (m) " : "", i, i,
                    cst);
                put(&o, "    copy(out, s->h%d, %lld);\n", i, (long long)r->H);
                if (has_mask && !r->opt.return_sequences) put(&o, "    m = 1;\n");
                break;
            }
            default: break;
            }
            put(&o, "    in = out;\n    out = out == a ? b : a;\n");
        }
        put(&o, "    copy(y, in, %lld);\n", (long long)out_w);
        if (has_mask) put(&o, "    (void)m;\n");
        put(&o, "    return 0;\n}\n");
    }

    /* NAME_predict */
    put(&o, "\n/* ---------------- whole sequences (static buffers: not reentrant) */\n");
    put(&o, "static float B0[(long)%s_MAX_STEPS * %lld], B1[(long)%s_MAX_STEPS * %lld];\n", up,
        (long long)max_w, up, (long long)max_w);
    if (has_mask) put(&o, "static unsigned char M[%s_MAX_STEPS];\n", up);
    if (use_rec)
        put(&o, "static float H_[%lld], C_[%lld], Z_[%lld];\n", (long long)max_h, (long long)max_h,
            (long long)max_z);
    if (use_bidi)
        put(&o, "static float BF[(long)%s_MAX_STEPS * %lld], BB[(long)%s_MAX_STEPS * %lld];\n",
            up, (long long)bidi_h, up, (long long)bidi_h);
    put(&o, "\nint %s_predict(const float *x, int steps, float *y) {\n", name);
    put(&o, "    const float *in = x;\n    float *out = B0;\n    int T = steps, t;\n");
    if (c->in_seq)
        put(&o, "    if (steps < 1 || steps > %s_MAX_STEPS) return -2;\n", up);
    else
        put(&o, "    if (steps != 1) return -2;\n");
    int mask_live = 0, seq = c->in_seq;
    for (int i = 0; i < c->n; i++) {
        op_t *op = &c->op[i];
        put(&o, "    /* %s */\n", op->named->name);
        const char *rows = seq ? "T" : "1";
        switch (op->kind) {
        case OP_EMB: {
            const rnn_embedding_options *e = rnn__embedding_options(op->layer);
            char sc[32] = "0";
            if (prec == RNN_INT8) snprintf(sc, sizeof sc, "L%d_E_s", i);
            put(&o, "    for (t = 0; t < T; t++) {\n"
                    "        int id = embed(L%d_E, %s, %d, %d, in[t], out + (long)t * %d);\n"
                    "        if (id < 0) return -1;\n", i, sc, e->input_dim, e->output_dim,
                e->output_dim);
            if (e->mask_zero) put(&o, "        M[t] = id != 0;\n");
            put(&o, "    }\n");
            mask_live = e->mask_zero;
            break;
        }
        case OP_MASK:
            put(&o, "    for (t = 0; t < T; t++)\n"
                    "        M[t] = (unsigned char)mask_row(%s, %s, in + (long)t * %lld, %lld, "
                    "out + (long)t * %lld);\n",
                flit(fb, rnn__masking_value(op->layer)), mask_live ? "M[t]" : "1",
                (long long)op->in_w, (long long)op->in_w, (long long)op->in_w);
            mask_live = 1;
            break;
        case OP_DENSE:
            put(&o, "    for (t = 0; t < %s; t++) dense(&L%d, in + (long)t * %lld, out + (long)t * "
                    "%lld);\n", rows, i, (long long)op->in_w, (long long)op->out_w);
            break;
        case OP_ACT:
            put(&o, "    for (t = 0; t < %s; t++) {\n"
                    "        copy(out + (long)t * %lld, in + (long)t * %lld, %lld);\n"
                    "        act_row(%d, out + (long)t * %lld, %lld);\n    }\n",
                rows, (long long)op->in_w, (long long)op->in_w, (long long)op->in_w, op->act,
                (long long)op->in_w, (long long)op->in_w);
            break;
        case OP_REPEAT:
            put(&o, "    T = %lld;\n    for (t = 0; t < T; t++) copy(out + (long)t * %lld, in, "
                    "%lld);\n", (long long)op->repeat_n, (long long)op->in_w,
                (long long)op->in_w);
            mask_live = 0;
            seq = 1;
            break;
        case OP_REC:
            put(&o, "    rec_seq(&L%d, in, T, %s, out, H_, C_, Z_);\n", i, mask_live ? "M" : "0");
            if (!op->out_seq) {
                mask_live = 0;
                seq = 0;
            }
            break;
        case OP_BIDI: {
            const int64_t H = rnn__recurrent_of(op->layer)->H;
            put(&o, "    rec_seq(&L%df, in, T, %s, BF, H_, C_, Z_);\n", i, mask_live ? "M" : "0");
            put(&o, "    rec_seq(&L%db, in, T, %s, BB, H_, C_, Z_);\n", i, mask_live ? "M" : "0");
            put(&o, "    for (t = 0; t < %s; t++) {\n"
                    "        const float *p = BF + (long)t * %lld, *q = BB + (long)(%s) * %lld;\n"
                    "        float *o = out + (long)t * %lld;\n        int j;\n"
                    "        for (j = 0; j < %lld; j++) ",
                op->out_seq ? "T" : "1", (long long)H, op->out_seq ? "T - 1 - t" : "0",
                (long long)H, (long long)op->out_w, (long long)H);
            switch (op->merge) {
            case 0: put(&o, "{\n            o[j] = p[j];\n            o[j + %lld] = q[j];\n        }\n",
                        (long long)H); break;
            case 1: put(&o, "o[j] = p[j] + q[j];\n"); break;
            case 2: put(&o, "o[j] = p[j] * q[j];\n"); break;
            default: put(&o, "o[j] = (p[j] + q[j]) / 2;\n"); break;
            }
            put(&o, "    }\n");
            if (!op->out_seq) {
                mask_live = 0;
                seq = 0;
            }
            break;
        }
        }
        put(&o, "    in = out;\n    out = out == B0 ? B1 : B0;\n");
    }
    put(&o, "    copy(y, in, (long)%s * %lld);\n", out_seq ? "T" : "1", (long long)out_w);
    put(&o, "    (void)t;\n    (void)T;\n    return %s;\n}\n", out_seq ? "T" : "1");
    (void)any_unknown;
    if (fclose(o.f) != 0) o.err = 1;
    if (o.err) {
        st = rnn__fail(RNN_ERR_IO, "rnn_export_c: cannot write %s", path);
        goto done;
    }

    /* ------------------------------------------------ NAME.h */
    snprintf(path, sizeof path, "%s/%s.h", dir, name);
    out_t h = {fopen(path, "w"), 0, 0};
    if (!h.f) {
        st = rnn__fail(RNN_ERR_IO, "rnn_export_c: cannot write %s: %s", path, strerror(errno));
        goto done;
    }
    put(&h, "/* %s: model \"%s\" exported by librnn %s (rnn_export_c), weights in %s.\n", name,
        m->name, rnn_version(), prec_name[prec]);
    put(&h, " *\n * Input:  %s x %lld %s per step%s%s%s.\n", c->in_seq ? "steps" : "1",
        (long long)c->in_w, c->ids ? "token id (an integer in a float)" :
        "floats", c->in_steps ? " (the model was built for " : "", c->in_steps ? up : "",
        c->in_steps ? "_INPUT_STEPS steps)" : "");
    put(&h, " * Output: %s x %lld floats.\n", out_seq ? "steps" : "1", (long long)out_w);
    put(&h, " * Layers:");
    for (int i = 0; i < c->n; i++)
        put(&h, "%s %s (%s)", i ? "," : "", c->op[i].named->name,
            c->op[i].named->ops->class_name);
    put(&h, ".\n *\n");
    if (streaming)
        put(&h, " * Streaming: %s_reset(&s) once, then %s_step(&s, x, y) per step: x holds one\n"
                " * step's %s_INPUT_FEATURES values, y receives %s_OUTPUT_FEATURES; the state s\n"
                " * (%s_STATE_BYTES bytes) is the caller's and carries every recurrent layer's\n"
                " * state from step to step. Returns 0, or -1 for a token id that is not in the\n"
                " * vocabulary.\n", name, name, up, up, up);
    else
        put(&h, " * No streaming: the model reads whole sequences (RepeatVector, Bidirectional or\n"
                " * an input without a time axis); use %s_predict.\n", name);
    put(&h, " * Whole sequences: %s_predict(x, steps, y) reads steps x %s_INPUT_FEATURES values\n"
            " * and writes %s x %s_OUTPUT_FEATURES values to y; returns the number of output\n"
            " * steps written, -1 for a bad token id, -2 for steps outside [1, %s_MAX_STEPS].\n"
            " * It works in static buffers (%s_PREDICT_BYTES bytes): not reentrant.\n */\n",
        name, up, out_seq ? "(output steps)" : "1", up, up, up);
    put(&h, "#ifndef %s_H\n#define %s_H\n\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n", up, up);
    put(&h, "#define %s_INPUT_FEATURES %lld\n", up, (long long)c->in_w);
    put(&h, "#define %s_INPUT_STEPS %lld /* 0: any number of steps */\n", up,
        (long long)c->in_steps);
    put(&h, "#define %s_INPUT_IS_TOKEN_IDS %d\n", up, c->ids);
    put(&h, "#define %s_OUTPUT_FEATURES %lld\n", up, (long long)out_w);
    put(&h, "#define %s_OUTPUT_IS_SEQUENCE %d\n", up, out_seq);
    put(&h, "#define %s_STREAMING %d\n", up, streaming);
    put(&h, "/* the longest sequence %s_predict takes (define it to change it) */\n", name);
    put(&h, "#ifndef %s_MAX_STEPS\n#define %s_MAX_STEPS %lld\n#endif\n", up, up,
        (long long)(c->in_seq && !c->in_steps ? max64(64, max_steps) : max_steps));
    put(&h, "#define %s_WEIGHT_BYTES %lld /* const data: weights, biases, scales */\n", up,
        (long long)o.weight_bytes);
    put(&h, "#define %s_PREDICT_BYTES (%lldL * %s_MAX_STEPS + %lld) /* static, for %s_predict */\n",
        up, (long long)(4 * (2 * max_w + (use_bidi ? 2 * bidi_h : 0)) + (has_mask ? 1 : 0)), up,
        (long long)(4 * (use_rec ? 2 * max_h + max_z : 0)), name);
    put(&h, "\nint %s_predict(const float *x, int steps, float *y);\n", name);
    if (streaming) {
        put(&h, "\n/* the streaming state: h (and c for LSTM) of each recurrent layer */\n"
                "typedef struct {\n");
        int any = 0;
        int64_t bytes = 0;
        for (int i = 0; i < c->n; i++)
            if (c->op[i].kind == OP_REC) {
                int64_t H = rnn__recurrent_of(c->op[i].layer)->H;
                put(&h, "    float h%d[%lld]; /* %s */\n", i, (long long)H, c->op[i].layer->name);
                bytes += 4 * H;
                if (rec_kind(c->op[i].layer) == 1) {
                    put(&h, "    float c%d[%lld];\n", i, (long long)H);
                    bytes += 4 * H;
                }
                any = 1;
            }
        if (!any) {
            put(&h, "    float unused;\n");
            bytes = 4;
        }
        put(&h, "} %s_state;\n#define %s_STATE_BYTES %lld\n", name, up, (long long)bytes);
        put(&h, "#define %s_STEP_STACK_BYTES %lld /* scratch on the stack per step */\n", up,
            (long long)(4 * (2 * max_w + (use_rec ? max_z : 0))));
        put(&h, "void %s_reset(%s_state *s);\nint %s_step(%s_state *s, const float *x, float *y);\n",
            name, name, name, name);
    }
    put(&h, "\n#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
    if (fclose(h.f) != 0) h.err = 1;
    if (h.err) st = rnn__fail(RNN_ERR_IO, "rnn_export_c: cannot write %s", path);
done:
    free(c);
    return st ? rnn__model_fail(m, st) : RNN_OK;
}

int rnn_precision_from_name(const char *name) {
    if (!name) return -1;
    if (!strcmp(name, "f32") || !strcmp(name, "float32")) return RNN_F32;
    if (!strcmp(name, "bf16") || !strcmp(name, "bfloat16")) return RNN_BF16;
    if (!strcmp(name, "int8")) return RNN_INT8;
    return -1;
}

/* The values the exported code computes with: each float through bf16, or int8 with the
 * channel's scale (emit_matrix's rule), for the matrices rnn_export_c quantizes. */
static void quantize_matrix(float *w, int64_t rows, int64_t cols, rnn_precision prec) {
    for (int64_t j = 0; j < cols; j++) {
        float s = 0.0f;
        for (int64_t i = 0; i < rows; i++)
            if (fabsf(w[i * cols + j]) > s) s = fabsf(w[i * cols + j]);
        s /= 127.0f;
        for (int64_t i = 0; i < rows; i++) {
            float *v = &w[i * cols + j];
            if (prec == RNN_BF16) {
                uint32_t u = (uint32_t)to_bf16(*v) << 16;
                memcpy(v, &u, sizeof u);
            } else {
                long r = s > 0 ? lrintf(*v / s) : 0;
                r = r > 127 ? 127 : r < -127 ? -127 : r;
                *v = (float)r * s;
            }
        }
    }
}

rnn_status rnn_quantize_weights(rnn_model *m, rnn_precision prec) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_quantize_weights: model is NULL");
    if (prec != RNN_F32 && prec != RNN_BF16 && prec != RNN_INT8)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT,
                                            "rnn_quantize_weights: unknown precision %d", (int)prec));
    rnn_status st = rnn__model_build(m);
    if (st) return rnn__model_fail(m, st);
    if (prec == RNN_F32) return RNN_OK;
    for (int k = 0; k < m->n_weights; k++) {
        rnn_weight *w = m->weights[k];
        if (w->rank != 2 || !(!strcmp(w->name, "kernel") || !strcmp(w->name, "recurrent_kernel") ||
                              !strcmp(w->name, "embeddings")))
            continue;
        quantize_matrix(w->value, w->shape[0], w->shape[1], prec);
        rnn__weight_changed(w);
    }
    return RNN_OK;
}
