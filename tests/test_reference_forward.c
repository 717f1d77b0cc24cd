/* Forward passes of SimpleRNN, LSTM, GRU (reset_after True and False) and Dense against an
 * independent reference: plain double-precision loops written from the equations of
 * keras-semantics.md §1.1-1.5 (cells, gate orders i,f,c,o and z,r,h, activations) and §2.1-2.2
 * (the loop, return_sequences, go_backwards: input reversed, outputs in processing order).
 *
 *  (a) public API: rnn_sequential + rnn_input + rnn_add, weights in Keras layout through
 *      rnn_set_weight, rnn_predict; every cell, activation / recurrent_activation, use_bias,
 *      return_sequences, go_backwards, for B,T,F,H = 3,5,4,6 / 1,1,4,6 / 2,40,3,5; Dense on 2-D
 *      and 3-D input; stacks (LSTM -> GRU -> Dense, ...).
 *  (b) return_state and a non-zero initial state, through the layer harness (y[1] = h_T,
 *      y[2] = c_T, and the carried state after the call).
 *  (c) stateful: chunk 1 then chunk 2 equals the run over the whole sequence; after
 *      rnn_reset_states chunk 2 equals a fresh run; consecutive batches of one predict carry
 *      row i to row i; a stateful stack.
 *  (d) variable length: rnn_input(RNN_NONE, F) with 3, 17 and 1 steps.
 *  (e) rnn_predict_step streaming equals the per-step outputs of the reference.
 *
 * Tolerance: |got - expected| <= 1e-5, or <= 1e-4 * |expected| where |expected| > 1. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "layer_harness.h"
#include "rnn.h"

#define ATOL 1e-5
#define RTOL_ABOVE_1 1e-4
#define MAXL 4

/* ------------------------------------------------------------------ random numbers (own) */

static uint64_t rnd_state = 0x243F6A8885A308D3ull;

static uint64_t rnd_next(void) { /* splitmix64 */
    uint64_t z = (rnd_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float rnd_uniform(double lo, double hi) {
    double u = (double)(rnd_next() >> 11) * (1.0 / 9007199254740992.0);
    return (float)(lo + (hi - lo) * u);
}

static float *rnd_array(int64_t n, double lo, double hi) {
    float *a = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    for (int64_t i = 0; i < n; i++) a[i] = rnd_uniform(lo, hi);
    return a;
}

static double *to_double(const float *a, int64_t n) {
    double *d = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    for (int64_t i = 0; i < n; i++) d[i] = a[i];
    return d;
}

/* ------------------------------------------------------------------ layer descriptions */

typedef enum { K_SIMPLE = 0, K_LSTM, K_GRU, K_DENSE } kind_t;

typedef struct {
    kind_t kind;
    int F, H, G; /* input features, units, gate blocks (1, 4, 3; Dense 1) */
    rnn_activation act, ract;
    int use_bias, reset_after, return_sequences, go_backwards, stateful, return_state;
    double wscale; /* the scale the weights were drawn with */
    /* Weights in Keras layout: kernel, recurrent_kernel, bias (Dense: kernel, bias). */
    int nw;
    float *w[3];
    int64_t wsize[3];
    int wrank[3];
    int64_t wshape[3][2];
} spec;

static spec spec_make(kind_t kind, int F, int H) {
    spec s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.F = F;
    s.H = H;
    s.G = kind == K_LSTM ? 4 : kind == K_GRU ? 3 : 1;
    s.act = kind == K_DENSE ? RNN_LINEAR : RNN_TANH;
    s.ract = RNN_SIGMOID;
    s.use_bias = 1;
    s.reset_after = 1;
    return s;
}

static void spec_set_weight(spec *s, int k, int rank, int64_t d0, int64_t d1, double a) {
    s->wrank[k] = rank;
    s->wshape[k][0] = d0;
    s->wshape[k][1] = rank == 2 ? d1 : 0;
    s->wsize[k] = rank == 2 ? d0 * d1 : d0;
    s->w[k] = rnd_array(s->wsize[k], -a, a);
}

/* Random weights (call after the options are final). Kernels U(-a, a) with a = scale/sqrt(fan
 * in), biases U(-0.6, 0.6): non-zero everywhere, so a bias or gate mix-up shows. */
static void spec_weights(spec *s, double scale) {
    int GH = s->G * s->H;
    s->wscale = scale;
    s->nw = 0;
    if (s->kind == K_DENSE) {
        spec_set_weight(s, s->nw++, 2, s->F, s->H, scale / sqrt(s->F));
        if (s->use_bias) spec_set_weight(s, s->nw++, 1, s->H, 0, 0.6);
        return;
    }
    spec_set_weight(s, s->nw++, 2, s->F, GH, scale / sqrt(s->F));
    spec_set_weight(s, s->nw++, 2, s->H, GH, scale / sqrt(s->H));
    if (s->use_bias) {
        if (s->kind == K_GRU && s->reset_after)
            spec_set_weight(s, s->nw++, 2, 2, GH, 0.6);
        else
            spec_set_weight(s, s->nw++, 1, GH, 0, 0.6);
    }
}

static void spec_free(spec *s) {
    for (int k = 0; k < 3; k++) free(s->w[k]);
    memset(s->w, 0, sizeof s->w);
}

static const char *kind_name(const spec *s) {
    switch (s->kind) {
    case K_SIMPLE: return "SimpleRNN";
    case K_LSTM: return "LSTM";
    case K_GRU: return s->reset_after ? "GRU(reset_after=True)" : "GRU(reset_after=False)";
    default: return "Dense";
    }
}

static void spec_label(const spec *s, char *buf, size_t n) {
    if (s->kind == K_DENSE) {
        snprintf(buf, n, "Dense(%d, %s, bias=%d)", s->H, rnn_activation_name(s->act), s->use_bias);
        return;
    }
    snprintf(buf, n, "%s(%d, act=%s%s%s, bias=%d, seq=%d, back=%d%s)", kind_name(s), s->H,
             rnn_activation_name(s->act), s->kind == K_SIMPLE ? "" : ", ract=",
             s->kind == K_SIMPLE ? "" : rnn_activation_name(s->ract), s->use_bias,
             s->return_sequences, s->go_backwards, s->stateful ? ", stateful" : "");
}

/* ------------------------------------------------------------------ the reference */

static double clip01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

static double ref_act(rnn_activation a, double v) {
    switch (a) {
    case RNN_LINEAR: return v;
    case RNN_TANH: return tanh(v);
    case RNN_SIGMOID: return 1.0 / (1.0 + exp(-v));
    case RNN_HARD_SIGMOID: return clip01(v / 6.0 + 0.5);
    case RNN_HARD_SIGMOID_LEGACY: return clip01(0.2 * v + 0.5);
    case RNN_RELU: return v > 0 ? v : 0;
    case RNN_ELU: return v > 0 ? v : expm1(v);
    case RNN_SELU: {
        const double alpha = 1.6732632423543772848170429916717;
        const double scale = 1.0507009873554804934193349852946;
        return scale * (v > 0 ? v : alpha * expm1(v));
    }
    case RNN_SOFTPLUS: return v > 0 ? v + log1p(exp(-v)) : log1p(exp(v));
    default: return NAN;
    }
}

/* One recurrent layer over x (B, T, F). h_io / c_io (B, H): the initial state on entry, the
 * final state on return. y: (B, T, H) with return_sequences (processing order), else (B, H). */
static void ref_recurrent(const spec *s, const double *x, int B, int T, double *h_io,
                          double *c_io, double *y) {
    const int F = s->F, H = s->H, GH = s->G * H;
    const float *W = s->w[0], *U = s->w[1], *bias = s->use_bias ? s->w[2] : NULL;
    double *h = calloc((size_t)H, sizeof(double)), *c = calloc((size_t)H, sizeof(double));
    double *xp = calloc((size_t)GH, sizeof(double)), *hp = calloc((size_t)GH, sizeof(double));
    double *hn = calloc((size_t)H, sizeof(double)), *zg = calloc((size_t)H, sizeof(double));
    double *rg = calloc((size_t)H, sizeof(double));
    for (int b = 0; b < B; b++) {
        for (int j = 0; j < H; j++) {
            h[j] = h_io[(size_t)b * H + j];
            c[j] = c_io[(size_t)b * H + j];
        }
        for (int k = 0; k < T; k++) {
            const int t = s->go_backwards ? T - 1 - k : k; /* input index consumed at step k */
            const double *xt = x + ((size_t)b * T + t) * F;
            /* xp = x_t W (+ b, or + b^x, the GRU reset_after input bias row) */
            for (int j = 0; j < GH; j++) {
                double acc = bias ? (double)bias[j] : 0.0;
                for (int f = 0; f < F; f++) acc += xt[f] * (double)W[(size_t)f * GH + j];
                xp[j] = acc;
            }
            /* hp = h_{t-1} U (+ b^h, the GRU reset_after recurrent bias row) */
            for (int j = 0; j < GH; j++) {
                double acc = (bias && s->kind == K_GRU && s->reset_after) ? (double)bias[GH + j]
                                                                           : 0.0;
                for (int i = 0; i < H; i++) acc += h[i] * (double)U[(size_t)i * GH + j];
                hp[j] = acc;
            }
            switch (s->kind) {
            case K_SIMPLE:
                for (int j = 0; j < H; j++) hn[j] = ref_act(s->act, xp[j] + hp[j]);
                break;
            case K_LSTM: /* blocks i, f, c, o */
                for (int j = 0; j < H; j++) {
                    double ig = ref_act(s->ract, xp[j] + hp[j]);
                    double fg = ref_act(s->ract, xp[H + j] + hp[H + j]);
                    double cc = ref_act(s->act, xp[2 * H + j] + hp[2 * H + j]);
                    double og = ref_act(s->ract, xp[3 * H + j] + hp[3 * H + j]);
                    c[j] = fg * c[j] + ig * cc;
                    hn[j] = og * ref_act(s->act, c[j]);
                }
                break;
            case K_GRU: /* blocks z, r, h */
                for (int j = 0; j < H; j++) {
                    zg[j] = ref_act(s->ract, xp[j] + hp[j]);
                    rg[j] = ref_act(s->ract, xp[H + j] + hp[H + j]);
                }
                for (int j = 0; j < H; j++) {
                    double cand;
                    if (s->reset_after) {
                        cand = xp[2 * H + j] + rg[j] * hp[2 * H + j];
                    } else { /* (r ⊙ h_{t-1}) U_h */
                        double acc = 0;
                        for (int i = 0; i < H; i++)
                            acc += rg[i] * h[i] * (double)U[(size_t)i * GH + 2 * H + j];
                        cand = xp[2 * H + j] + acc;
                    }
                    double hh = ref_act(s->act, cand);
                    hn[j] = zg[j] * h[j] + (1.0 - zg[j]) * hh;
                }
                break;
            default:
                break;
            }
            memcpy(h, hn, sizeof(double) * (size_t)H);
            if (s->return_sequences)
                memcpy(y + ((size_t)b * T + k) * H, h, sizeof(double) * (size_t)H);
        }
        if (!s->return_sequences) memcpy(y + (size_t)b * H, h, sizeof(double) * (size_t)H);
        memcpy(h_io + (size_t)b * H, h, sizeof(double) * (size_t)H);
        memcpy(c_io + (size_t)b * H, c, sizeof(double) * (size_t)H);
    }
    free(h);
    free(c);
    free(xp);
    free(hp);
    free(hn);
    free(zg);
    free(rg);
}

/* Dense on the last axis of `rows` rows. */
static void ref_dense(const spec *s, const double *x, int64_t rows, double *y) {
    for (int64_t r = 0; r < rows; r++)
        for (int j = 0; j < s->H; j++) {
            double acc = s->use_bias ? (double)s->w[1][j] : 0.0;
            for (int f = 0; f < s->F; f++)
                acc += x[r * s->F + f] * (double)s->w[0][(size_t)f * s->H + j];
            y[r * s->H + j] = ref_act(s->act, acc);
        }
}

/* Carried state of a reference model: one (h, c) pair of (B, H) per layer. */
typedef struct {
    int B;
    double *h[MAXL], *c[MAXL];
} ref_state;

static void ref_state_init(ref_state *st, spec *const *L, int n, int B) {
    memset(st, 0, sizeof *st);
    st->B = B;
    for (int i = 0; i < n; i++) {
        st->h[i] = calloc((size_t)B * L[i]->H, sizeof(double));
        st->c[i] = calloc((size_t)B * L[i]->H, sizeof(double));
    }
}

static void ref_state_zero(ref_state *st, spec *const *L, int n) {
    for (int i = 0; i < n; i++) {
        memset(st->h[i], 0, sizeof(double) * (size_t)st->B * L[i]->H);
        memset(st->c[i], 0, sizeof(double) * (size_t)st->B * L[i]->H);
    }
}

static void ref_state_free(ref_state *st) {
    for (int i = 0; i < MAXL; i++) {
        free(st->h[i]);
        free(st->c[i]);
    }
}

/* Runs layers L[0..n) on x (B, T, F) (T = 0: rank 2 (B, F)). Layers marked stateful start from
 * and update `carry` (which may be NULL when none is stateful); the others start from zeros.
 * Returns a new array; *rank and shape[] describe it. */
static double *ref_model(spec *const *L, int n, const double *x, int B, int T, ref_state *carry,
                         int *rank, int64_t shape[3]) {
    int64_t cur_n = (int64_t)B * (T ? T : 1) * L[0]->F;
    double *cur = malloc(sizeof(double) * (size_t)cur_n);
    memcpy(cur, x, sizeof(double) * (size_t)cur_n);
    int cur_T = T; /* 0 once the time axis is gone */
    for (int i = 0; i < n; i++) {
        const spec *s = L[i];
        double *out;
        if (s->kind == K_DENSE) {
            int64_t rows = (int64_t)B * (cur_T ? cur_T : 1);
            out = malloc(sizeof(double) * (size_t)(rows * s->H));
            ref_dense(s, cur, rows, out);
        } else {
            int64_t nout = (int64_t)B * (s->return_sequences ? cur_T : 1) * s->H;
            out = malloc(sizeof(double) * (size_t)nout);
            double *h = calloc((size_t)B * s->H, sizeof(double));
            double *c = calloc((size_t)B * s->H, sizeof(double));
            if (s->stateful && carry) {
                memcpy(h, carry->h[i], sizeof(double) * (size_t)B * s->H);
                memcpy(c, carry->c[i], sizeof(double) * (size_t)B * s->H);
            }
            ref_recurrent(s, cur, B, cur_T, h, c, out);
            if (s->stateful && carry) {
                memcpy(carry->h[i], h, sizeof(double) * (size_t)B * s->H);
                memcpy(carry->c[i], c, sizeof(double) * (size_t)B * s->H);
            }
            free(h);
            free(c);
            if (!s->return_sequences) cur_T = 0;
        }
        free(cur);
        cur = out;
    }
    int H = L[n - 1]->H;
    if (cur_T) {
        *rank = 3;
        shape[0] = B, shape[1] = cur_T, shape[2] = H;
    } else {
        *rank = 2;
        shape[0] = B, shape[1] = H, shape[2] = 0;
    }
    return cur;
}

/* ------------------------------------------------------------------ comparison */

static double worst_abs_err = 0;

static double tol_for(double expected) {
    double a = fabs(expected);
    return a > 1 ? fmax(ATOL, RTOL_ABOVE_1 * a) : ATOL;
}

static void format_index(char *buf, size_t n, int64_t flat, int rank, const int64_t *shape) {
    int64_t idx[4] = {0, 0, 0, 0};
    for (int d = rank - 1; d >= 0; d--) {
        idx[d] = shape[d] > 0 ? flat % shape[d] : 0;
        flat = shape[d] > 0 ? flat / shape[d] : 0;
    }
    if (rank == 3)
        snprintf(buf, n, "[%lld,%lld,%lld]", (long long)idx[0], (long long)idx[1],
                 (long long)idx[2]);
    else if (rank == 2)
        snprintf(buf, n, "[%lld,%lld]", (long long)idx[0], (long long)idx[1]);
    else
        snprintf(buf, n, "[%lld]", (long long)idx[0]);
}

/* Compares n library values with the reference; prints the first differences. Also fails when
 * the reference itself is degenerate (all ~0), which would make the comparison meaningless. */
static void compare_values(const char *what, const float *got, const double *expected, int64_t n,
                           int rank, const int64_t *shape) {
    int64_t bad = 0;
    double worst = 0, biggest = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = expected[i], g = got[i];
        double err = fabs(g - e);
        if (!(err <= tol_for(e))) { /* NaN fails too */
            if (bad < 4) {
                char ix[64];
                format_index(ix, sizeof ix, i, rank, shape);
                fprintf(stderr, "  %s: first differences: %s expected %.9g, got %.9g (|diff| %.3g)\n",
                        what, ix, e, g, err);
            }
            bad++;
        }
        if (err > worst || err != err) worst = err;
        if (fabs(e) > biggest) biggest = fabs(e);
    }
    if (worst > worst_abs_err) worst_abs_err = worst;
    CHECK(bad == 0, "%s: %lld of %lld values differ from the reference (max |diff| %.3g)", what,
          (long long)bad, (long long)n, worst);
    CHECK(biggest > 1e-3, "%s: the reference output is all ~0 (max %.3g): a trivial comparison",
          what, biggest);
}

/* Checks the library's output tensor's shape, then its values. */
static void compare_tensor(const char *what, const rnn_tensor *y, const double *expected,
                           int rank, const int64_t *shape) {
    int same = y->rank == rank;
    for (int d = 0; same && d < rank; d++) same = y->shape[d] == shape[d];
    if (!same) {
        CHECK(0, "%s: output has rank %d shape (%lld, %lld, %lld), expected rank %d (%lld, %lld, "
                 "%lld)",
              what, y->rank, (long long)y->shape[0], (long long)(y->rank > 1 ? y->shape[1] : 0),
              (long long)(y->rank > 2 ? y->shape[2] : 0), rank, (long long)shape[0],
              (long long)(rank > 1 ? shape[1] : 0), (long long)(rank > 2 ? shape[2] : 0));
        return;
    }
    int64_t n = 1;
    for (int d = 0; d < rank; d++) n *= shape[d];
    compare_values(what, y->data, expected, n, rank, shape);
}

/* ------------------------------------------------------------------ library models */

static rnn_layer *make_layer(const spec *s) {
    if (s->kind == K_DENSE) {
        rnn_dense_options o = rnn_dense_defaults(s->H);
        o.activation = s->act;
        o.use_bias = s->use_bias;
        return rnn_dense(&o);
    }
    rnn_recurrent_options o = s->kind == K_LSTM  ? rnn_lstm_defaults(s->H)
                              : s->kind == K_GRU ? rnn_gru_defaults(s->H)
                                                 : rnn_simple_rnn_defaults(s->H);
    o.activation = s->act;
    o.recurrent_activation = s->ract;
    o.use_bias = s->use_bias;
    o.return_sequences = s->return_sequences;
    o.go_backwards = s->go_backwards;
    o.stateful = s->stateful;
    o.return_state = s->return_state;
    o.reset_after = s->reset_after;
    return s->kind == K_LSTM  ? rnn_lstm(&o)
           : s->kind == K_GRU ? rnn_gru(&o)
                              : rnn_simple_rnn(&o);
}

static const char *const weight_names[2][3] = {{"kernel", "recurrent_kernel", "bias"},
                                               {"kernel", "bias", ""}};

/* Sequential model of the layers, input (batch, steps, F) (batch RNN_NONE: free), with the
 * weights of the specs set through rnn_set_weight in Keras layout. NULL on failure. */
static rnn_model *build_model(const char *what, spec *const *L, int n, int64_t batch,
                              int64_t steps) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_status st = batch > 0 ? rnn_batch_input(m, batch, steps, L[0]->F)
                              : rnn_input(m, steps, L[0]->F);
    CHECK(st == RNN_OK, "%s: input: %s", what, rnn_model_error(m));
    for (int i = 0; st == RNN_OK && i < n; i++) {
        st = rnn_add(m, make_layer(L[i]));
        CHECK(st == RNN_OK, "%s: rnn_add(layer %d): %s", what, i, rnn_model_error(m));
    }
    if (st != RNN_OK) {
        rnn_model_free(m);
        return NULL;
    }
    int total = 0;
    for (int i = 0; i < n; i++) total += L[i]->nw;
    CHECK(rnn_weight_count(m) == total, "%s: %d weights, expected %d", what, rnn_weight_count(m),
          total);
    int index = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < L[i]->nw; k++, index++) {
            const char *name = NULL;
            int rank = 0;
            int64_t shape[RNN_MAX_RANK] = {0};
            st = rnn_weight_info(m, index, &name, &rank, shape);
            const char *want = weight_names[L[i]->kind == K_DENSE][k];
            const char *slash = name ? strrchr(name, '/') : NULL;
            int ok = st == RNN_OK && rank == L[i]->wrank[k] && shape[0] == L[i]->wshape[k][0] &&
                     (rank == 1 || shape[1] == L[i]->wshape[k][1]) && slash &&
                     strcmp(slash + 1, want) == 0;
            CHECK(ok, "%s: weight %d is %s rank %d (%lld, %lld); expected .../%s rank %d (%lld, "
                      "%lld)",
                  what, index, name ? name : "?", rank, (long long)shape[0], (long long)shape[1],
                  want, L[i]->wrank[k], (long long)L[i]->wshape[k][0],
                  (long long)L[i]->wshape[k][1]);
            if (!ok) {
                rnn_model_free(m);
                return NULL;
            }
            st = rnn_set_weight(m, index, L[i]->w[k], L[i]->wsize[k]);
            CHECK(st == RNN_OK, "%s: rnn_set_weight(%d): %s", what, index, rnn_model_error(m));
        }
    return m;
}

/* rnn_predict on x (N, T, F) (T = 0: rank 2) and compares with `expected`. */
static void predict_compare(const char *what, rnn_model *m, float *x, int N, int T, int F,
                            int batch_size, const double *expected, int rank,
                            const int64_t *shape) {
    rnn_tensor xt = T ? rnn_tensor3(x, N, T, F) : rnn_tensor2(x, N, F);
    rnn_tensor y;
    rnn_status st = rnn_predict(m, rnn_data_x(xt), batch_size, &y, 1);
    CHECK(st == RNN_OK, "%s: rnn_predict: %s", what, rnn_model_error(m));
    if (st == RNN_OK) compare_tensor(what, &y, expected, rank, shape);
    rnn_tensor_free(&y);
}

/* One stateless model against the reference on random input. */
static void run_case(const char *what, spec *const *L, int n, int B, int T, double x_scale,
                     int batch_size) {
    int F = L[0]->F;
    int64_t nx = (int64_t)B * (T ? T : 1) * F;
    float *x = NULL;
    double *xd = NULL, *expected = NULL;
    int rank;
    int64_t shape[3];
    /* Redraw input and weights while the reference output is all ~0: with relu gates and one
     * sample of one step that happens by chance, and would make the comparison trivial. */
    for (int attempt = 0; attempt < 20; attempt++) {
        if (attempt > 0) {
            free(x);
            free(xd);
            free(expected);
            for (int i = 0; i < n; i++) {
                spec_free(L[i]);
                spec_weights(L[i], L[i]->wscale);
            }
        }
        x = rnd_array(nx, -x_scale, x_scale);
        xd = to_double(x, nx);
        expected = ref_model(L, n, xd, B, T, NULL, &rank, shape);
        int64_t ne = 1;
        double biggest = 0;
        for (int d = 0; d < rank; d++) ne *= shape[d];
        for (int64_t i = 0; i < ne; i++) biggest = fmax(biggest, fabs(expected[i]));
        if (biggest > 0.05) break;
    }
    rnn_model *m = build_model(what, L, n, RNN_NONE, T);
    if (m) predict_compare(what, m, x, B, T, F, batch_size, expected, rank, shape);
    rnn_model_free(m);
    free(x);
    free(xd);
    free(expected);
}

/* ------------------------------------------------------------------ (a) single layers */

static spec cell_spec(int cell, int F, int H) {
    /* cell: 0 SimpleRNN, 1 LSTM, 2 GRU reset_after=True, 3 GRU reset_after=False */
    spec s = spec_make(cell == 0 ? K_SIMPLE : cell == 1 ? K_LSTM : K_GRU, F, H);
    if (cell == 3) s.reset_after = 0;
    return s;
}

static const rnn_activation all_acts[] = {RNN_TANH,   RNN_SIGMOID, RNN_HARD_SIGMOID,
                                          RNN_HARD_SIGMOID_LEGACY, RNN_RELU, RNN_LINEAR,
                                          RNN_ELU,    RNN_SELU,    RNN_SOFTPLUS};
#define N_ACTS ((int)(sizeof all_acts / sizeof all_acts[0]))

static int is_hard(rnn_activation a) {
    return a == RNN_HARD_SIGMOID || a == RNN_HARD_SIGMOID_LEGACY;
}

static void one_layer_case(spec *s, int B, int T) {
    spec_weights(s, 1.0);
    char label[200], what[260];
    spec_label(s, label, sizeof label);
    snprintf(what, sizeof what, "(a) %s on B=%d T=%d F=%d", label, B, T, s->F);
    /* Larger inputs where a hard sigmoid is used, so its clipping at +-2.5 / +-3 is reached. */
    double xs = is_hard(s->act) || is_hard(s->ract) ? 4.0 : 1.0;
    spec *L[1] = {s};
    run_case(what, L, 1, B, T, xs, B > 1 ? 2 : 1); /* batch_size 2: a partial last batch */
    spec_free(s);
}

/* B, T, F, H. The last is large enough for the library's BLAS path (products over 8192
 * multiply-adds); the others use its small-product loops. */
static const int layer_shapes[][4] = {{3, 5, 4, 6}, {1, 1, 4, 6}, {2, 40, 3, 5}, {8, 12, 16, 32}};
#define N_LAYER_SHAPES ((int)(sizeof layer_shapes / sizeof layer_shapes[0]))

static void test_single_layers(void) {
    const int(*shapes)[4] = layer_shapes;
    for (int cell = 0; cell < 4; cell++)
        for (int si = 0; si < N_LAYER_SHAPES; si++) {
            int B = shapes[si][0], T = shapes[si][1], F = shapes[si][2], H = shapes[si][3];
            /* flags: return_sequences x go_backwards x use_bias */
            for (int flags = 0; flags < 8; flags++) {
                spec s = cell_spec(cell, F, H);
                s.return_sequences = flags & 1;
                s.go_backwards = (flags >> 1) & 1;
                s.use_bias = !((flags >> 2) & 1);
                one_layer_case(&s, B, T);
            }
            /* activation sweep */
            for (int a = 0; a < N_ACTS; a++) {
                spec s = cell_spec(cell, F, H);
                s.act = all_acts[a];
                s.return_sequences = 1;
                s.go_backwards = a & 1;
                one_layer_case(&s, B, T);
            }
            /* recurrent_activation sweep (LSTM and GRU). Unbounded gate functions (relu,
             * linear, elu, ...) make the recurrence explode or turn chaotic over many steps,
             * where float32 cannot follow any reference: those only on short sequences. */
            if (cell != 0)
                for (int a = 0; a < N_ACTS; a++) {
                    int bounded = all_acts[a] == RNN_TANH || all_acts[a] == RNN_SIGMOID ||
                                  is_hard(all_acts[a]);
                    if (!bounded && T > 5) continue;
                    spec s = cell_spec(cell, F, H);
                    s.ract = all_acts[a];
                    s.return_sequences = (a & 1) == 0;
                    s.go_backwards = (a & 2) != 0;
                    one_layer_case(&s, B, T);
                }
            /* Keras 1/2-era settings: hard_sigmoid (legacy) with reset_after=False etc. */
            if (cell != 0) {
                spec s = cell_spec(cell, F, H);
                s.ract = RNN_HARD_SIGMOID_LEGACY;
                s.return_sequences = 1;
                s.use_bias = 0;
                s.go_backwards = 1;
                one_layer_case(&s, B, T);
            }
        }
}

/* ------------------------------------------------------------------ (a) Dense and stacks */

static void test_dense(void) {
    const rnn_activation acts[] = {RNN_LINEAR, RNN_TANH, RNN_SIGMOID, RNN_RELU,
                                   RNN_HARD_SIGMOID, RNN_SOFTPLUS};
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++)
        for (int bias = 0; bias < 2; bias++) {
            char label[200], what[260];
            /* 3-D input straight into Dense: applied to the last axis */
            spec d = spec_make(K_DENSE, 4, 3);
            d.act = acts[a];
            d.use_bias = bias;
            spec_weights(&d, 2.0);
            spec *L[1] = {&d};
            spec_label(&d, label, sizeof label);
            snprintf(what, sizeof what, "(a) %s on 3-D input (3, 5, 4)", label);
            run_case(what, L, 1, 3, 5, 1.0, 2);
            /* 2-D input */
            snprintf(what, sizeof what, "(a) %s on 2-D input (4, 4)", label);
            run_case(what, L, 1, 4, 0, 1.0, 3);
            spec_free(&d);
        }
}

static void run_stack(const char *name, spec *const *L, int n) {
    const int shapes[][2] = {{3, 5}, {1, 1}, {2, 40}, {8, 12}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        char what[300];
        snprintf(what, sizeof what, "(a) stack %s on B=%d T=%d F=%d", name, shapes[si][0],
                 shapes[si][1], L[0]->F);
        run_case(what, L, n, shapes[si][0], shapes[si][1], 1.0, 2);
    }
}

static void test_stacks(void) {
    for (int variant = 0; variant < 4; variant++) {
        /* LSTM(return_sequences) -> GRU -> Dense(2) */
        spec a = cell_spec(1, 4, 6), b = cell_spec(variant & 1 ? 3 : 2, 6, 5);
        spec d = spec_make(K_DENSE, 5, 2);
        a.return_sequences = 1;
        a.go_backwards = variant >= 2;
        b.go_backwards = variant == 3;
        spec_weights(&a, 1.0);
        spec_weights(&b, 1.0);
        spec_weights(&d, 1.0);
        spec *L[3] = {&a, &b, &d};
        char name[128];
        snprintf(name, sizeof name, "LSTM(seq%s) -> %s%s -> Dense(2)",
                 a.go_backwards ? ", back" : "", kind_name(&b), b.go_backwards ? "(back)" : "");
        run_stack(name, L, 3);
        spec_free(&a);
        spec_free(&b);
        spec_free(&d);
    }
    {
        /* wide layers (BLAS path): LSTM(32, seq) -> GRU(24) -> Dense(3) */
        spec a = cell_spec(1, 16, 32), b = cell_spec(2, 32, 24), d = spec_make(K_DENSE, 24, 3);
        a.return_sequences = 1;
        spec_weights(&a, 1.0);
        spec_weights(&b, 1.0);
        spec_weights(&d, 1.0);
        spec *L[3] = {&a, &b, &d};
        run_stack("LSTM(32, seq) -> GRU(24) -> Dense(3)", L, 3);
        spec_free(&a);
        spec_free(&b);
        spec_free(&d);
    }
    {
        /* SimpleRNN(relu, seq) -> LSTM(seq, back) -> Dense(3, sigmoid) on 3-D */
        spec a = cell_spec(0, 3, 5), b = cell_spec(1, 5, 4), d = spec_make(K_DENSE, 4, 3);
        a.act = RNN_RELU;
        a.return_sequences = 1;
        b.return_sequences = 1;
        b.go_backwards = 1;
        d.act = RNN_SIGMOID;
        spec_weights(&a, 1.0);
        spec_weights(&b, 1.0);
        spec_weights(&d, 2.0);
        spec *L[3] = {&a, &b, &d};
        run_stack("SimpleRNN(relu, seq) -> LSTM(seq, back) -> Dense(3, sigmoid) on 3-D", L, 3);
        spec_free(&a);
        spec_free(&b);
        spec_free(&d);
    }
    {
        /* Dense(5, tanh) on 3-D -> GRU(reset_after=False, seq) -> Dense(1) on 3-D */
        spec d0 = spec_make(K_DENSE, 4, 5), g = cell_spec(3, 5, 6), d1 = spec_make(K_DENSE, 6, 1);
        d0.act = RNN_TANH;
        g.return_sequences = 1;
        spec_weights(&d0, 1.5);
        spec_weights(&g, 1.0);
        spec_weights(&d1, 1.0);
        spec *L[3] = {&d0, &g, &d1};
        run_stack("Dense(5, tanh) -> GRU(reset_after=False, seq) -> Dense(1)", L, 3);
        spec_free(&d0);
        spec_free(&g);
        spec_free(&d1);
    }
}

/* ------------------------------------------------------------------ (b) return_state, h0 */

/* One layer through the harness, with return_state; `initial` != 0 makes it stateful and
 * loads a random non-zero initial state (h0, c0) into its carried state. */
static void harness_case(spec *s, int B, int T, int initial) {
    s->stateful = initial;
    spec_weights(s, 1.0);
    char label[200], what[300];
    spec_label(s, label, sizeof label);
    snprintf(what, sizeof what, "(b) %s return_state%s, B=%d T=%d", label,
             initial ? " from a random initial state" : "", B, T);
    s->return_state = 1;
    rnn_layer *layer = make_layer(s);
    harness h;
    if (harness_setup(&h, layer, B, T, s->F, 1000 + (uint64_t)B * 31 + (uint64_t)T) != 0) {
        CHECK(0, "%s: harness setup failed: %s", what, rnn_last_error());
        rnn_layer_free(layer);
        spec_free(s);
        return;
    }
    int nstates = s->kind == K_LSTM ? 2 : 1;
    CHECK(layer->n_outputs == 1 + nstates, "%s: %d outputs, expected %d", what, layer->n_outputs,
          1 + nstates);
    CHECK(layer->n_weights == s->nw, "%s: %d weights, expected %d", what, layer->n_weights, s->nw);
    for (int k = 0; k < s->nw && k < layer->n_weights; k++) {
        CHECK(layer->weights[k].size == s->wsize[k], "%s: weight %d has %lld values, expected %lld",
              what, k, (long long)layer->weights[k].size, (long long)s->wsize[k]);
        if (layer->weights[k].size == s->wsize[k])
            memcpy(layer->weights[k].value, s->w[k], sizeof(float) * (size_t)s->wsize[k]);
    }
    int64_t nx = (int64_t)B * T * s->F, BH = (int64_t)B * s->H;
    double *xd = to_double(h.x.data, nx);
    double *h0 = calloc((size_t)BH, sizeof(double)), *c0 = calloc((size_t)BH, sizeof(double));
    rnn_recurrent *r = rnn__recurrent_of(layer);
    if (initial) {
        CHECK(r->state[0] && r->state_batch == B, "%s: no carried state after plan", what);
        if (!r->state[0] || r->state_batch != B) goto done;
        for (int k = 0; k < nstates; k++) {
            CHECK(r->state[k] != NULL, "%s: state %d missing", what, k);
            if (!r->state[k]) goto done;
            for (int64_t i = 0; i < BH; i++) {
                r->state[k][i] = rnd_uniform(-0.9, 0.9);
                (k ? c0 : h0)[i] = r->state[k][i];
            }
        }
    }
    {
        int64_t ny = (int64_t)B * (s->return_sequences ? T : 1) * s->H;
        double *y = malloc(sizeof(double) * (size_t)ny);
        ref_recurrent(s, xd, B, T, h0, c0, y); /* h0, c0 now hold h_T, c_T */
        harness_loss(&h, RNN_MODE_PREDICT);
        int64_t shape3[3] = {B, T, s->H}, shape2[3] = {B, s->H, 0};
        char w2[480];
        CHECK(harness_output_size(&h, 0) == ny, "%s: output has %lld values, expected %lld", what,
              (long long)harness_output_size(&h, 0), (long long)ny);
        if (harness_output_size(&h, 0) == ny)
            compare_values(what, layer->y[0].data, y, ny, s->return_sequences ? 3 : 2,
                           s->return_sequences ? shape3 : shape2);
        for (int k = 0; k < nstates; k++) {
            snprintf(w2, sizeof w2, "%s y[%d] (%s_T)", what, 1 + k, k ? "c" : "h");
            CHECK(harness_output_size(&h, 1 + k) == BH, "%s: %lld values, expected %lld", w2,
                  (long long)harness_output_size(&h, 1 + k), (long long)BH);
            if (harness_output_size(&h, 1 + k) == BH)
                compare_values(w2, layer->y[1 + k].data, k ? c0 : h0, BH, 2, shape2);
            if (initial) {
                snprintf(w2, sizeof w2, "%s carried state %d after the call", what, k);
                compare_values(w2, r->state[k], k ? c0 : h0, BH, 2, shape2);
            }
        }
        free(y);
    }
done:
    free(xd);
    free(h0);
    free(c0);
    harness_free(&h);
    spec_free(s);
}

static void test_return_state(void) {
    const int(*shapes)[4] = layer_shapes;
    for (int cell = 0; cell < 4; cell++)
        for (int si = 0; si < N_LAYER_SHAPES; si++)
            for (int flags = 0; flags < 8; flags++) {
                spec s = cell_spec(cell, shapes[si][2], shapes[si][3]);
                s.return_sequences = flags & 1;
                s.go_backwards = (flags >> 1) & 1;
                if (flags == 7) { /* one case with other activations and no bias */
                    s.use_bias = 0;
                    s.act = RNN_HARD_SIGMOID_LEGACY;
                    s.ract = RNN_HARD_SIGMOID;
                    if (cell == 0) s.act = RNN_RELU;
                }
                harness_case(&s, shapes[si][0], shapes[si][1], (flags >> 2) & 1);
            }
}

/* ------------------------------------------------------------------ (c) stateful */

/* x (B, T, F): columns [t0, t0 + n) of every sample. */
static float *slice_steps(const float *x, int B, int T, int F, int t0, int n) {
    float *out = malloc(sizeof(float) * (size_t)B * n * F);
    for (int b = 0; b < B; b++)
        memcpy(out + (size_t)b * n * F, x + ((size_t)b * T + t0) * F, sizeof(float) * (size_t)n * F);
    return out;
}

static double *slice_steps_d(const double *y, int B, int T, int H, int t0, int n) {
    double *out = malloc(sizeof(double) * (size_t)B * n * H);
    for (int b = 0; b < B; b++)
        memcpy(out + (size_t)b * n * H, y + ((size_t)b * T + t0) * H,
               sizeof(double) * (size_t)n * H);
    return out;
}

/* The model L (all recurrent layers stateful) with batch B and chunks of Tc steps. */
static void stateful_case(const char *name, spec *const *L, int n, int B, int Tc) {
    const int F = L[0]->F, T = 2 * Tc;
    char what[400];
    float *x = rnd_array((int64_t)B * T * F, -1, 1);
    double *xd = to_double(x, (int64_t)B * T * F);
    float *x1 = slice_steps(x, B, T, F, 0, Tc), *x2 = slice_steps(x, B, T, F, Tc, Tc);
    double *x1d = to_double(x1, (int64_t)B * Tc * F), *x2d = to_double(x2, (int64_t)B * Tc * F);
    int any_back = 0, seq_out = 0;
    for (int i = 0; i < n; i++) any_back |= L[i]->kind != K_DENSE && L[i]->go_backwards;
    snprintf(what, sizeof what, "(c) stateful %s B=%d", name, B);
    rnn_model *m = build_model(what, L, n, B, Tc);
    if (!m) {
        free(x);
        free(xd);
        free(x1);
        free(x2);
        free(x1d);
        free(x2d);
        return;
    }
    ref_state carry;
    ref_state_init(&carry, L, n, B);
    int rank;
    int64_t shape[3];
    /* chunk 1 */
    double *e1 = ref_model(L, n, x1d, B, Tc, &carry, &rank, shape);
    seq_out = rank == 3;
    snprintf(what, sizeof what, "(c) stateful %s B=%d: chunk 1", name, B);
    predict_compare(what, m, x1, B, Tc, F, B, e1, rank, shape);
    /* chunk 2, continuing: the reference carries its state too */
    double *e2 = ref_model(L, n, x2d, B, Tc, &carry, &rank, shape);
    snprintf(what, sizeof what, "(c) stateful %s B=%d: chunk 2 after chunk 1", name, B);
    predict_compare(what, m, x2, B, Tc, F, B, e2, rank, shape);
    if (!any_back) {
        /* Without go_backwards the chunked run is the run over the concatenated sequence. */
        int frank;
        int64_t fshape[3];
        double *ef = ref_model(L, n, xd, B, T, NULL, &frank, fshape);
        double *tail = seq_out ? slice_steps_d(ef, B, T, (int)fshape[2], Tc, Tc) : NULL;
        snprintf(what, sizeof what, "(c) stateful %s B=%d: chunked reference vs whole sequence",
                 name, B);
        /* (reference self-consistency, through the same comparison) */
        int64_t ne = (int64_t)B * (seq_out ? Tc : 1) * shape[rank - 1];
        float *e2f = malloc(sizeof(float) * (size_t)ne);
        for (int64_t i = 0; i < ne; i++) e2f[i] = (float)e2[i];
        compare_values(what, e2f, seq_out ? tail : ef, ne, rank, shape);
        free(e2f);
        free(tail);
        free(ef);
    }
    /* reset: chunk 2 alone */
    rnn_status st = rnn_reset_states(m);
    CHECK(st == RNN_OK, "%s: rnn_reset_states: %s", what, rnn_model_error(m));
    ref_state_zero(&carry, L, n);
    double *e3 = ref_model(L, n, x2d, B, Tc, &carry, &rank, shape);
    snprintf(what, sizeof what, "(c) stateful %s B=%d: chunk 2 after rnn_reset_states", name, B);
    predict_compare(what, m, x2, B, Tc, F, B, e3, rank, shape);
    /* Two batches in one predict: rows of the second batch continue the rows of the first. */
    {
        rnn_reset_states(m);
        ref_state_zero(&carry, L, n);
        float *xx = malloc(sizeof(float) * (size_t)2 * B * Tc * F);
        memcpy(xx, x1, sizeof(float) * (size_t)B * Tc * F);
        memcpy(xx + (size_t)B * Tc * F, x2, sizeof(float) * (size_t)B * Tc * F);
        double *ea = ref_model(L, n, x1d, B, Tc, &carry, &rank, shape);
        double *eb = ref_model(L, n, x2d, B, Tc, &carry, &rank, shape);
        int64_t per = 1;
        for (int d = 0; d < rank; d++) per *= shape[d];
        double *e = malloc(sizeof(double) * (size_t)2 * per);
        memcpy(e, ea, sizeof(double) * (size_t)per);
        memcpy(e + per, eb, sizeof(double) * (size_t)per);
        int64_t shape2[3] = {2 * shape[0], shape[1], shape[2]};
        snprintf(what, sizeof what,
                 "(c) stateful %s B=%d: one predict of 2 batches (batch 2 continues batch 1)",
                 name, B);
        predict_compare(what, m, xx, 2 * B, Tc, F, B, e, rank, shape2);
        free(xx);
        free(ea);
        free(eb);
        free(e);
    }
    free(e1);
    free(e2);
    free(e3);
    ref_state_free(&carry);
    rnn_model_free(m);
    free(x);
    free(xd);
    free(x1);
    free(x2);
    free(x1d);
    free(x2d);
}

static void test_stateful(void) {
    for (int cell = 0; cell < 4; cell++)
        for (int flags = 0; flags < 4; flags++) {
            spec s = cell_spec(cell, 4, 6);
            s.stateful = 1;
            s.return_sequences = flags & 1;
            s.go_backwards = (flags >> 1) & 1;
            spec_weights(&s, 1.0);
            char label[200];
            spec_label(&s, label, sizeof label);
            spec *L[1] = {&s};
            stateful_case(label, L, 1, 3, 5);
            if (flags == 0) stateful_case(label, L, 1, 1, 20);
            spec_free(&s);
            /* a size that takes the BLAS path */
            spec big = cell_spec(cell, 16, 32);
            big.stateful = 1;
            big.return_sequences = flags & 1;
            big.go_backwards = (flags >> 1) & 1;
            spec_weights(&big, 1.0);
            spec_label(&big, label, sizeof label);
            L[0] = &big;
            stateful_case(label, L, 1, 8, 6);
            spec_free(&big);
        }
    /* stateful stack: LSTM(seq) -> GRU -> Dense(1) */
    for (int back = 0; back < 2; back++) {
        spec a = cell_spec(1, 4, 6), b = cell_spec(2, 6, 5), d = spec_make(K_DENSE, 5, 1);
        a.stateful = b.stateful = 1;
        a.return_sequences = 1;
        b.go_backwards = back;
        spec_weights(&a, 1.0);
        spec_weights(&b, 1.0);
        spec_weights(&d, 1.0);
        spec *L[3] = {&a, &b, &d};
        stateful_case(back ? "LSTM(seq) -> GRU(back) -> Dense(1)" : "LSTM(seq) -> GRU -> Dense(1)",
                      L, 3, 3, 5);
        spec_free(&a);
        spec_free(&b);
        spec_free(&d);
    }
}

/* ------------------------------------------------------------------ (d) variable length */

static void var_length_case(const char *name, spec *const *L, int n) {
    const int steps[] = {3, 17, 1, 3};
    const int N = 3, F = L[0]->F;
    char what[400];
    snprintf(what, sizeof what, "(d) %s with input (None, %d)", name, F);
    rnn_model *m = build_model(what, L, n, RNN_NONE, RNN_NONE);
    if (!m) return;
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        int T = steps[k];
        float *x = rnd_array((int64_t)N * T * F, -1, 1);
        double *xd = to_double(x, (int64_t)N * T * F);
        int rank;
        int64_t shape[3];
        double *e = ref_model(L, n, xd, N, T, NULL, &rank, shape);
        snprintf(what, sizeof what, "(d) %s with input (None, %d): batch of %d steps", name, F, T);
        predict_compare(what, m, x, N, T, F, N, e, rank, shape);
        free(x);
        free(xd);
        free(e);
    }
    rnn_model_free(m);
}

static void test_variable_length(void) {
    for (int cell = 0; cell < 4; cell++)
        for (int flags = 0; flags < 4; flags++) {
            spec s = cell_spec(cell, 4, 6);
            s.return_sequences = flags & 1;
            s.go_backwards = (flags >> 1) & 1;
            spec_weights(&s, 1.0);
            char label[200];
            spec_label(&s, label, sizeof label);
            spec *L[1] = {&s};
            var_length_case(label, L, 1);
            spec_free(&s);
        }
    spec a = cell_spec(1, 4, 6), b = cell_spec(3, 6, 5), d = spec_make(K_DENSE, 5, 2);
    a.return_sequences = 1;
    b.return_sequences = 1;
    b.go_backwards = 1;
    d.act = RNN_TANH;
    spec_weights(&a, 1.0);
    spec_weights(&b, 1.0);
    spec_weights(&d, 1.0);
    spec *L[3] = {&a, &b, &d};
    var_length_case("LSTM(seq) -> GRU(reset_after=False, seq, back) -> Dense(2, tanh) on 3-D", L, 3);
    spec_free(&a);
    spec_free(&b);
    spec_free(&d);
}

/* ------------------------------------------------------------------ (e) predict_step */

static void test_predict_step(void) {
    for (int cell = 0; cell < 4; cell++) {
        const int T = 7, F = 3;
        spec s = cell_spec(cell, F, 5), d = spec_make(K_DENSE, 5, 2);
        spec_weights(&s, 1.0);
        spec_weights(&d, 1.0);
        spec *L[2] = {&s, &d};
        char what[300];
        snprintf(what, sizeof what, "(e) rnn_predict_step %s -> Dense(2)", kind_name(&s));
        rnn_model *m = build_model(what, L, 2, RNN_NONE, RNN_NONE);
        if (!m) {
            spec_free(&s);
            spec_free(&d);
            continue;
        }
        float *x = rnd_array((int64_t)T * F, -1, 1);
        double *xd = to_double(x, (int64_t)T * F);
        /* reference: the whole sequence with return_sequences, then Dense on every step */
        s.return_sequences = 1;
        int rank;
        int64_t shape[3];
        double *e = ref_model(L, 2, xd, 1, T, NULL, &rank, shape);
        s.return_sequences = 0;
        for (int pass = 0; pass < 2; pass++) { /* pass 1: after rnn_reset_states */
            float *got = malloc(sizeof(float) * (size_t)T * 2);
            rnn_status st = RNN_OK;
            for (int t = 0; t < T && st == RNN_OK; t++)
                st = rnn_predict_step(m, x + (size_t)t * F, got + (size_t)t * 2);
            CHECK(st == RNN_OK, "%s: %s", what, rnn_model_error(m));
            char w2[480];
            snprintf(w2, sizeof w2, "%s%s", what, pass ? " after rnn_reset_states" : "");
            int64_t sh[3] = {1, T, 2};
            if (st == RNN_OK) compare_values(w2, got, e, (int64_t)T * 2, 3, sh);
            free(got);
            rnn_reset_states(m);
        }
        /* Streaming state must not leak into rnn_predict of this (non-stateful) model. */
        {
            float *y1 = malloc(sizeof(float) * 2);
            rnn_status st = rnn_predict_step(m, x, y1); /* leaves a non-zero carried state */
            CHECK(st == RNN_OK, "%s: %s", what, rnn_model_error(m));
            free(y1);
            double *e_last = ref_model(L, 2, xd, 1, T, NULL, &rank, shape);
            char w2[480];
            snprintf(w2, sizeof w2, "%s, then rnn_predict on the whole sequence", what);
            predict_compare(w2, m, x, 1, T, F, 1, e_last, rank, shape);
            free(e_last);
        }
        free(x);
        free(xd);
        free(e);
        rnn_model_free(m);
        spec_free(&s);
        spec_free(&d);
    }
}

/* ------------------------------------------------------------------ main */

int main(void) {
    test_single_layers();
    test_dense();
    test_stacks();
    test_return_state();
    test_stateful();
    test_variable_length();
    test_predict_step();
    fprintf(stderr, "test_reference_forward: largest |library - reference| seen: %.3g\n",
            worst_abs_err);
    return check_report("test_reference_forward");
}
