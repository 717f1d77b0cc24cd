/* oneDNN peer of `rnn bench` (issue 18): the RNN primitives of oneDNN (Debian's libdnnl-dev, the
 * C API of dnnl.h) on the recurrent part of B2, B3 and B4, for a comparison with the library a
 * user would pick for fast recurrent layers on an Intel CPU.
 *
 *   onednn_rnn CASE [--reps N]     CASE: B2, B3 or B4; one JSON line on stdout, the keys of
 *                                  `rnn bench` where the metric is the same
 *   onednn_rnn --check             the primitives against naive double loops on small shapes
 *
 * What is timed (each: warm-up, then the median of --reps repetitions, at least 5):
 *   B2  infer_b256_samples_per_s: LSTM(64) forward inference over the 10,240 samples of
 *       (50, 8) in batches of 256 (40 primitive calls), and the Dense(1) on the last step's h
 *       as a plain C loop. The inputs are put into oneDNN's time-major layout (tnc) before the
 *       clock starts; no training (the primitive has no optimizer or loss).
 *   B3  recurrent_forward_ms: forward inference of the two linear-before-reset GRU layers
 *       (oneDNN's lbr_gru = Keras's GRU with reset_after=True): GRU(512) on 64 features, then
 *       GRU(128), batch 32, T = 100. recurrent_fwd_bwd_ms: their forward-training and backward
 *       primitives (the second layer's output gradient is a seeded array; the first layer's
 *       comes from the second's backward). Not timed, because oneDNN has no such primitives
 *       for them here: the Embedding, the Dense, the loss and the optimizer; the input is a
 *       (100, 32, 64) seeded array in place of the embedding's output. Neither is the same
 *       metric as librnn's (a whole training step), so they are reported apart.
 *   B4  forward_ms: LSTM(512) forward inference on (T=100, N=64, 512), all steps' outputs.
 *       train_step_ms: forward training (keeping the workspace), the MSE gradient of the
 *       outputs against the seeded target, backward (data and weights), and an Adam update of
 *       the 2.1 M parameters as a plain C loop (on the gradients in the layout the primitive
 *       gives them; copying the updated weights back into the forward primitive's layout is
 *       not done). fwd_bwd_ms: the same without the Adam loop.
 *       forward_GFLOPs and train_GFLOPs as in `rnn bench` (2TB4H(I+H) per forward, 3x that per
 *       training step).
 * Inputs and targets are the seeded values of cli/bench/bench.c (bench_uniform: splitmix64 cut
 * to 24 bits), in the same (batch, time, feature) order, transposed to time-major untimed.
 * Weights are seeded uniform values in [-0.05, 0.05): the speed does not depend on them.
 * Threads: oneDNN from Debian runs on OpenMP; OMP_NUM_THREADS (set by bench/run.sh) sizes it.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <dnnl.h>
#include "bench_common.h" /* cli/bench: the same seeded data and median as rnn bench */

#define CHECK(f)                                                                                \
    do {                                                                                        \
        dnnl_status_t s_ = (f);                                                                 \
        if (s_ != dnnl_success) {                                                               \
            fprintf(stderr, "onednn_rnn: %s failed (status %d, line %d)\n", #f, (int)s_,       \
                    __LINE__);                                                                  \
            exit(1);                                                                            \
        }                                                                                       \
    } while (0)

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}


static float *floats(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) {
        fprintf(stderr, "onednn_rnn: out of memory\n");
        exit(1);
    }
    return p;
}

/* (batch, time, feature) -> time-major (time, batch, feature), oneDNN's tnc. */
static void to_tnc(const float *btf, float *tnc, int B, int T, int F) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            memcpy(tnc + ((size_t)t * B + b) * F, btf + ((size_t)b * T + t) * F, F * sizeof(float));
}

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* ------------------------------------------------------------------ memory helpers */

static dnnl_memory_desc_t md(int ndims, const dnnl_dims_t dims, dnnl_format_tag_t tag) {
    dnnl_memory_desc_t m;
    CHECK(dnnl_memory_desc_init_by_tag(&m, ndims, dims, dnnl_f32, tag));
    return m;
}

static const dnnl_memory_desc_t *md_of(dnnl_memory_t m) {
    const dnnl_memory_desc_t *d;
    CHECK(dnnl_memory_get_memory_desc(m, &d));
    return d;
}

static float *ptr(dnnl_memory_t m) {
    void *p;
    CHECK(dnnl_memory_get_data_handle(m, &p));
    return p;
}

static size_t bytes(dnnl_memory_t m) { return dnnl_memory_desc_get_size(md_of(m)); }

/* A new zeroed memory of a descriptor, allocated by oneDNN. */
static dnnl_memory_t mem_new(const dnnl_memory_desc_t *d) {
    dnnl_memory_t m;
    CHECK(dnnl_memory_create(&m, d, engine, DNNL_MEMORY_ALLOCATE));
    memset(ptr(m), 0, dnnl_memory_desc_get_size(d));
    return m;
}

/* A memory over the caller's plain array. */
static dnnl_memory_t mem_user(const dnnl_memory_desc_t *d, float *data) {
    dnnl_memory_t m;
    CHECK(dnnl_memory_create(&m, d, engine, data));
    return m;
}

static void reorder(dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t r;
    CHECK(dnnl_reorder_primitive_desc_create(&rpd, md_of(from), engine, md_of(to), engine, NULL));
    CHECK(dnnl_primitive_create(&r, rpd));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    CHECK(dnnl_primitive_execute(r, stream, 2, args));
    CHECK(dnnl_stream_wait(stream));
    dnnl_primitive_destroy(r);
    dnnl_primitive_desc_destroy(rpd);
}

static const dnnl_memory_desc_t *arg_md(const_dnnl_primitive_desc_t pd, int arg) {
    return dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
}

/* The user's memory in the layout the primitive wants for arg: itself, or a reordered copy. */
static dnnl_memory_t for_arg(const_dnnl_primitive_desc_t pd, int arg, dnnl_memory_t user) {
    const dnnl_memory_desc_t *want = arg_md(pd, arg);
    if (dnnl_memory_desc_equal(want, md_of(user))) return user;
    dnnl_memory_t m = mem_new(want);
    reorder(user, m);
    return m;
}

/* ------------------------------------------------------------------ one recurrent layer */

/* One unidirectional layer, T steps of N rows: LSTM (gates i, f, c~, o, as Keras) or
 * linear-before-reset GRU (gates u, r, o and a fourth bias for the recurrent o product, as
 * Keras's reset_after=True). Weights are plain: wx (I, G, H), wh (H, G, H), b (Gb, H). */
typedef struct {
    int gru, T, N, I, H, G, Gb;
    float *wx, *wh, *b;
    dnnl_memory_t u_wx, u_wh, u_b; /* the plain weights as oneDNN memories */
} layer;

static void layer_init(layer *l, int gru, int T, int N, int I, int H, uint64_t seed) {
    l->gru = gru, l->T = T, l->N = N, l->I = I, l->H = H;
    l->G = gru ? 3 : 4;
    l->Gb = 4;
    l->wx = floats((size_t)I * l->G * H);
    l->wh = floats((size_t)H * l->G * H);
    l->b = floats((size_t)l->Gb * H);
    seeded_uniform(l->wx, (int64_t)I * l->G * H, seed, 0.05f);
    seeded_uniform(l->wh, (int64_t)H * l->G * H, seed + 1, 0.05f);
    seeded_uniform(l->b, (int64_t)l->Gb * H, seed + 2, 0.05f);
    dnnl_memory_desc_t dwx = md(5, (dnnl_dims_t){1, 1, I, l->G, H}, dnnl_ldigo);
    dnnl_memory_desc_t dwh = md(5, (dnnl_dims_t){1, 1, H, l->G, H}, dnnl_ldigo);
    dnnl_memory_desc_t db = md(4, (dnnl_dims_t){1, 1, l->Gb, H}, dnnl_ldgo);
    l->u_wx = mem_user(&dwx, l->wx);
    l->u_wh = mem_user(&dwh, l->wh);
    l->u_b = mem_user(&db, l->b);
}

/* The primitive descriptor of a forward (prop: inference or training) or, with fwd_hint, a
 * backward pass. Weights in whatever layout the primitive prefers (format any). */
static dnnl_primitive_desc_t layer_pd(const layer *l, dnnl_prop_kind_t prop,
                                      const_dnnl_primitive_desc_t fwd_hint) {
    dnnl_memory_desc_t none, src, dst, wx, wh, b, hi, ci;
    memset(&none, 0, sizeof none);
    src = md(3, (dnnl_dims_t){l->T, l->N, l->I}, dnnl_tnc);
    dst = md(3, (dnnl_dims_t){l->T, l->N, l->H}, dnnl_tnc);
    wx = md(5, (dnnl_dims_t){1, 1, l->I, l->G, l->H}, dnnl_format_tag_any);
    wh = md(5, (dnnl_dims_t){1, 1, l->H, l->G, l->H}, dnnl_format_tag_any);
    b = md(4, (dnnl_dims_t){1, 1, l->Gb, l->H}, dnnl_ldgo);
    /* Explicit zero initial states (and their gradients on the backward pass): without them
     * oneDNN 2.6's LSTM backward computed wrong recurrent-weight gradients (see --check). */
    hi = md(4, (dnnl_dims_t){1, 1, l->N, l->H}, dnnl_ldnc);
    ci = l->gru ? none : hi;
    dnnl_rnn_desc_t d;
    const dnnl_rnn_direction_t dir = dnnl_unidirectional_left2right;
    if (prop != dnnl_backward) {
        if (l->gru)
            CHECK(dnnl_lbr_gru_forward_desc_init(&d, prop, dir, &src, &hi, &wx, &wh, &b, &dst,
                                                 &none, 0));
        else
            CHECK(dnnl_lstm_forward_desc_init(&d, prop, dir, &src, &hi, &ci, &wx, &wh, &b, &dst,
                                              &none, &none, 0));
    } else {
        dnnl_memory_desc_t dwx = wx, dwh = wh, dbias = b, dsrc = src, ddst = dst, dhi = hi,
                           dci = ci;
        if (l->gru)
            CHECK(dnnl_lbr_gru_backward_desc_init(&d, prop, dir, &src, &hi, &wx, &wh, &b, &dst,
                                                  &none, &dsrc, &dhi, &dwx, &dwh, &dbias, &ddst,
                                                  &none, 0));
        else
            CHECK(dnnl_lstm_backward_desc_init(&d, prop, dir, &src, &hi, &ci, &wx, &wh, &b,
                                               &dst, &none, &none, &dsrc, &dhi, &dci, &dwx,
                                               &dwh, &dbias, &ddst, &none, &none, 0));
    }
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_primitive_desc_create(&pd, &d, NULL, engine, fwd_hint));
    return pd;
}

/* A zeroed memory for an argument of a primitive (initial states, their gradients). */
static dnnl_memory_t zeros_for(const_dnnl_primitive_desc_t pd, int arg) {
    return mem_new(arg_md(pd, arg));
}

/* A ready primitive with its arguments. */
typedef struct {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p;
    dnnl_exec_arg_t args[16];
    int nargs;
} prim;

static void prim_make(prim *q, dnnl_primitive_desc_t pd) {
    q->pd = pd;
    q->nargs = 0;
    CHECK(dnnl_primitive_create(&q->p, pd));
}

static void prim_arg(prim *q, int arg, dnnl_memory_t m) {
    q->args[q->nargs].arg = arg;
    q->args[q->nargs].memory = m;
    q->nargs++;
}

static void prim_run(const prim *q) {
    CHECK(dnnl_primitive_execute(q->p, stream, q->nargs, q->args));
    CHECK(dnnl_stream_wait(stream));
}

/* Forward primitive of a layer on src (tnc, user memory) into dst (tnc); ws: the training
 * workspace out (NULL for inference). */
static void make_forward(prim *q, const layer *l, dnnl_prop_kind_t prop, dnnl_memory_t src,
                         dnnl_memory_t dst, dnnl_memory_t *ws) {
    prim_make(q, layer_pd(l, prop, NULL));
    prim_arg(q, DNNL_ARG_SRC_LAYER, src);
    prim_arg(q, DNNL_ARG_WEIGHTS_LAYER, for_arg(q->pd, DNNL_ARG_WEIGHTS_LAYER, l->u_wx));
    prim_arg(q, DNNL_ARG_WEIGHTS_ITER, for_arg(q->pd, DNNL_ARG_WEIGHTS_ITER, l->u_wh));
    prim_arg(q, DNNL_ARG_BIAS, for_arg(q->pd, DNNL_ARG_BIAS, l->u_b));
    prim_arg(q, DNNL_ARG_DST_LAYER, dst);
    prim_arg(q, DNNL_ARG_SRC_ITER, zeros_for(q->pd, DNNL_ARG_SRC_ITER));
    if (!l->gru) prim_arg(q, DNNL_ARG_SRC_ITER_C, zeros_for(q->pd, DNNL_ARG_SRC_ITER_C));
    if (ws) {
        *ws = mem_new(arg_md(q->pd, DNNL_ARG_WORKSPACE));
        prim_arg(q, DNNL_ARG_WORKSPACE, *ws);
    }
}

/* Backward primitive (data and weights) after a training forward with workspace ws. Gradient
 * memories come back in *dwx, *dwh, *db (the primitive's layouts) and dsrc. */
static void make_backward(prim *q, const layer *l, const prim *fwd, dnnl_memory_t src,
                          dnnl_memory_t dst, dnnl_memory_t ws, dnnl_memory_t ddst,
                          dnnl_memory_t dsrc, dnnl_memory_t *dwx, dnnl_memory_t *dwh,
                          dnnl_memory_t *db) {
    prim_make(q, layer_pd(l, dnnl_backward, fwd->pd));
    prim_arg(q, DNNL_ARG_SRC_LAYER, src);
    prim_arg(q, DNNL_ARG_WEIGHTS_LAYER, for_arg(q->pd, DNNL_ARG_WEIGHTS_LAYER, l->u_wx));
    prim_arg(q, DNNL_ARG_WEIGHTS_ITER, for_arg(q->pd, DNNL_ARG_WEIGHTS_ITER, l->u_wh));
    prim_arg(q, DNNL_ARG_BIAS, for_arg(q->pd, DNNL_ARG_BIAS, l->u_b));
    prim_arg(q, DNNL_ARG_DST_LAYER, dst);
    prim_arg(q, DNNL_ARG_WORKSPACE, ws);
    prim_arg(q, DNNL_ARG_DIFF_DST_LAYER, ddst);
    prim_arg(q, DNNL_ARG_DIFF_SRC_LAYER, dsrc);
    prim_arg(q, DNNL_ARG_SRC_ITER, zeros_for(q->pd, DNNL_ARG_SRC_ITER));
    prim_arg(q, DNNL_ARG_DIFF_SRC_ITER, zeros_for(q->pd, DNNL_ARG_DIFF_SRC_ITER));
    if (!l->gru) {
        prim_arg(q, DNNL_ARG_SRC_ITER_C, zeros_for(q->pd, DNNL_ARG_SRC_ITER_C));
        prim_arg(q, DNNL_ARG_DIFF_SRC_ITER_C, zeros_for(q->pd, DNNL_ARG_DIFF_SRC_ITER_C));
    }
    *dwx = mem_new(arg_md(q->pd, DNNL_ARG_DIFF_WEIGHTS_LAYER));
    *dwh = mem_new(arg_md(q->pd, DNNL_ARG_DIFF_WEIGHTS_ITER));
    *db = mem_new(arg_md(q->pd, DNNL_ARG_DIFF_BIAS));
    prim_arg(q, DNNL_ARG_DIFF_WEIGHTS_LAYER, *dwx);
    prim_arg(q, DNNL_ARG_DIFF_WEIGHTS_ITER, *dwh);
    prim_arg(q, DNNL_ARG_DIFF_BIAS, *db);
}

static dnnl_memory_t tnc_mem(int T, int N, int C, float *data) {
    dnnl_memory_desc_t d = md(3, (dnnl_dims_t){T, N, C}, dnnl_tnc);
    return data ? mem_user(&d, data) : mem_new(&d);
}

/* ------------------------------------------------------------------ naive reference (double) */

static double sigm(double v) { return 1.0 / (1.0 + exp(-v)); }

/* Forward of a layer in double from plain weights (wx, wh, b in the layer's layouts); x, out:
 * tnc. */
static void ref_forward(const layer *l, const double *wx, const double *wh, const double *b,
                        const double *x, double *out) {
    const int T = l->T, N = l->N, I = l->I, H = l->H, G = l->G;
    double *h = calloc((size_t)N * H, sizeof(double)), *c = calloc((size_t)N * H, sizeof(double));
    double *zx = malloc(sizeof(double) * G * H), *zh = malloc(sizeof(double) * G * H);
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            const double *xt = x + ((size_t)t * N + n) * I;
            double *hn = h + (size_t)n * H, *cn = c + (size_t)n * H;
            for (int g = 0; g < G; g++)
                for (int o = 0; o < H; o++) {
                    double sx = 0, sh = 0;
                    for (int i = 0; i < I; i++) sx += xt[i] * wx[((size_t)i * G + g) * H + o];
                    for (int j = 0; j < H; j++) sh += hn[j] * wh[((size_t)j * G + g) * H + o];
                    zx[g * H + o] = sx;
                    zh[g * H + o] = sh;
                }
            for (int o = 0; o < H; o++) {
                if (!l->gru) {
                    const double ig = sigm(zx[o] + zh[o] + b[o]);
                    const double fg = sigm(zx[H + o] + zh[H + o] + b[H + o]);
                    const double cc = tanh(zx[2 * H + o] + zh[2 * H + o] + b[2 * H + o]);
                    const double og = sigm(zx[3 * H + o] + zh[3 * H + o] + b[3 * H + o]);
                    cn[o] = fg * cn[o] + ig * cc;
                    out[((size_t)t * N + n) * H + o] = og * tanh(cn[o]);
                } else {
                    const double u = sigm(zx[o] + zh[o] + b[o]);
                    const double r = sigm(zx[H + o] + zh[H + o] + b[H + o]);
                    const double cc = tanh(zx[2 * H + o] + b[2 * H + o] + r * (zh[2 * H + o] + b[3 * H + o]));
                    out[((size_t)t * N + n) * H + o] = u * hn[o] + (1.0 - u) * cc;
                }
            }
            for (int o = 0; o < H; o++) hn[o] = out[((size_t)t * N + n) * H + o];
        }
    free(h), free(c), free(zx), free(zh);
}

static double *to_double(const float *v, size_t n) {
    double *d = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) d[i] = v[i];
    return d;
}

static double max_err(const float *a, const double *b, size_t n) {
    double e = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - b[i]);
        e = d > e ? d : e;
    }
    return e;
}

/* Loss sum(out * gw) of the reference, for central differences. */
static double ref_loss(const layer *l, const double *wx, const double *wh, const double *b,
                       const double *x, const double *gw, double *out) {
    ref_forward(l, wx, wh, b, x, out);
    double s = 0;
    for (size_t i = 0; i < (size_t)l->T * l->N * l->H; i++) s += out[i] * gw[i];
    return s;
}

/* Central differences of ref_loss over the entries of v (one of wx, wh, b, x) against g: every
 * entry, or about 60 spread over v when it is larger than that. */
static double grad_err(const layer *l, double *wx, double *wh, double *b, double *x,
                       const double *gw, double *out, double *v, size_t n, const float *g) {
    const double eps = 1e-5;
    const size_t stride = n > 60 ? n / 60 + (n / 60) % 2 + 1 : 1; /* odd: every gate, column */
    double e = 0;
    for (size_t k = 0; k < n; k += stride) {
        const double keep = v[k];
        v[k] = keep + eps;
        const double lp = ref_loss(l, wx, wh, b, x, gw, out);
        v[k] = keep - eps;
        const double lm = ref_loss(l, wx, wh, b, x, gw, out);
        v[k] = keep;
        const double d = fabs((lp - lm) / (2 * eps) - (double)g[k]);
        e = d > e ? d : e;
    }
    return e;
}

/* A plain (user-layout) copy of a gradient memory in the primitive's layout. */
static float *plain(dnnl_memory_t from, const dnnl_memory_desc_t *plain_md, size_t n) {
    float *v = floats(n);
    dnnl_memory_t to = mem_user(plain_md, v);
    reorder(from, to);
    dnnl_memory_destroy(to);
    return v;
}

/* Every primitive used by the benchmark against the reference on small shapes. */
static int check(void) {
    const double tol_fwd = 2e-5, tol_grad = 1e-4;
    int ok = 1;
    printf("{\"impl\": \"onednn\", \"check\": true");
    /* a small shape (oneDNN's reference code) and one where its optimised kernels run */
    for (int run = 0; run < 4; run++) {
        const int gru = run % 2, big = run / 2;
        layer l;
        const int T = big ? 6 : 5, N = big ? 16 : 3, I = big ? 64 : 7, H = big ? 96 : 6;
        layer_init(&l, gru, T, N, I, H, 100 + gru);
        /* larger weights than the benchmark's so that the gates leave their linear range */
        for (size_t k = 0; k < (size_t)I * l.G * H; k++) l.wx[k] *= 10;
        for (size_t k = 0; k < (size_t)H * l.G * H; k++) l.wh[k] *= 10;
        for (size_t k = 0; k < (size_t)l.Gb * H; k++) l.b[k] *= 10;
        float *x = floats((size_t)T * N * I), *y = floats((size_t)T * N * H);
        seeded_uniform(x, (int64_t)T * N * I, 7, 1.0f);
        double *dx = to_double(x, (size_t)T * N * I), *ref = calloc((size_t)T * N * H, sizeof(double));
        double *dwx = to_double(l.wx, (size_t)I * l.G * H), *dwh = to_double(l.wh, (size_t)H * l.G * H);
        double *db = to_double(l.b, (size_t)l.Gb * H);
        ref_forward(&l, dwx, dwh, db, dx, ref);
        dnnl_memory_t src = tnc_mem(T, N, I, x), dst = tnc_mem(T, N, H, y);
        prim f;
        make_forward(&f, &l, dnnl_forward_inference, src, dst, NULL);
        prim_run(&f);
        const double e_inf = max_err(y, ref, (size_t)T * N * H);
        ok &= e_inf <= tol_fwd;
        printf(", \"%s_inference_max_err\": %.3g",
               gru ? (big ? "lbr_gru_6x16x64x96" : "lbr_gru_5x3x7x6")
                   : (big ? "lstm_6x16x64x96" : "lstm_5x3x7x6"), e_inf);

        /* training forward + backward of the loss sum(y * gw) */
        float *y2 = floats((size_t)T * N * H), *g = floats((size_t)T * N * H);
        float *gx = floats((size_t)T * N * I);
        seeded_uniform(g, (int64_t)T * N * H, 8, 1.0f);
        double *gw = to_double(g, (size_t)T * N * H);
        dnnl_memory_t dst2 = tnc_mem(T, N, H, y2), ddst = tnc_mem(T, N, H, g);
        dnnl_memory_t dsrc = tnc_mem(T, N, I, gx), ws, gwx, gwh, gb;
        prim ft, bw;
        make_forward(&ft, &l, dnnl_forward_training, src, dst2, &ws);
        make_backward(&bw, &l, &ft, src, dst2, ws, ddst, dsrc, &gwx, &gwh, &gb);
        prim_run(&ft);
        prim_run(&bw);
        const double e_tr = max_err(y2, ref, (size_t)T * N * H);
        float *pwx = plain(gwx, md_of(l.u_wx), (size_t)I * l.G * H);
        float *pwh = plain(gwh, md_of(l.u_wh), (size_t)H * l.G * H);
        float *pb = plain(gb, md_of(l.u_b), (size_t)l.Gb * H);
        const double e_wx = grad_err(&l, dwx, dwh, db, dx, gw, ref, dwx, (size_t)I * l.G * H, pwx);
        const double e_wh = grad_err(&l, dwx, dwh, db, dx, gw, ref, dwh, (size_t)H * l.G * H, pwh);
        const double e_b = grad_err(&l, dwx, dwh, db, dx, gw, ref, db, (size_t)l.Gb * H, pb);
        const double e_x = grad_err(&l, dwx, dwh, db, dx, gw, ref, dx, (size_t)T * N * I, gx);
        ok &= e_tr <= tol_fwd && e_wx <= tol_grad && e_wh <= tol_grad && e_b <= tol_grad &&
              e_x <= tol_grad;
        const char *name = gru ? (big ? "lbr_gru_6x16x64x96" : "lbr_gru_5x3x7x6")
                               : (big ? "lstm_6x16x64x96" : "lstm_5x3x7x6");
        printf(", \"%s_training_fwd_max_err\": %.3g, \"%s_dW_max_err\": %.3g, "
               "\"%s_dU_max_err\": %.3g, \"%s_dbias_max_err\": %.3g, \"%s_dx_max_err\": %.3g",
               name, e_tr, name, e_wx, name, e_wh, name, e_b, name, e_x);
    }
    printf(", \"tolerances\": \"forward %.0e, gradients %.0e (central differences of a double "
           "reference)\", \"ok\": %s}\n", tol_fwd, tol_grad, ok ? "true" : "false");
    return ok ? 0 : 1;
}

/* ------------------------------------------------------------------ the cases */

static void head(const char *c, int reps) {
    const dnnl_version_t *v = dnnl_version();
    const char *omp = getenv("OMP_NUM_THREADS");
    printf("{\"impl\": \"onednn\", \"version\": \"%d.%d.%d\", \"case\": \"%s\", "
           "\"omp_num_threads\": \"%s\", \"reps\": %d",
           v->major, v->minor, v->patch, c, omp ? omp : "default", reps);
}

static void tail(void) {
    printf(", \"peak_rss_mb\": %.1f}\n", peak_rss_mb());
    fflush(stdout);
}

static int case_b2(int reps) {
    const int S = 10240, T = 50, F = 8, H = 64, NB = 256, batches = S / NB;
    float *x = floats((size_t)S * T * F);
    seeded_uniform(x, (int64_t)S * T * F, 2, 1.0f);
    layer l;
    layer_init(&l, 0, T, NB, F, H, 21);
    float *wd = floats(H), bd = 0.01f, *pred = floats(S);
    seeded_uniform(wd, H, 24, 0.1f);
    float **xb = malloc(sizeof(float *) * batches), *y = floats((size_t)T * NB * H);
    dnnl_memory_t dst = tnc_mem(T, NB, H, y);
    prim *f = malloc(sizeof(prim) * batches);
    for (int k = 0; k < batches; k++) {
        xb[k] = floats((size_t)T * NB * F);
        to_tnc(x + (size_t)k * NB * T * F, xb[k], NB, T, F);
        make_forward(&f[k], &l, dnnl_forward_inference, tnc_mem(T, NB, F, xb[k]), dst, NULL);
    }
    double ts[64];
    for (int r = -1; r < reps; r++) {
        const double t0 = seconds();
        for (int k = 0; k < batches; k++) {
            prim_run(&f[k]);
            const float *last = y + (size_t)(T - 1) * NB * H; /* h of the last step */
            for (int n = 0; n < NB; n++) {
                float s = bd;
                for (int j = 0; j < H; j++) s += last[(size_t)n * H + j] * wd[j];
                pred[k * NB + n] = s;
            }
        }
        if (r >= 0) ts[r] = seconds() - t0;
    }
    if (!isfinite(pred[S - 1])) return fprintf(stderr, "onednn_rnn: B2 output not finite\n"), 1;
    head("B2", reps);
    printf(", \"infer_b256_samples_per_s\": %.1f", S / bench_median(ts, reps));
    tail();
    return 0;
}

static int case_b3(int reps) {
    const int B = 32, T = 100, E = 64, H1 = 512, H2 = 128;
    float *e = floats((size_t)B * T * E), *et = floats((size_t)T * B * E);
    seeded_uniform(e, (int64_t)B * T * E, 3, 1.0f);
    to_tnc(e, et, B, T, E);
    layer l1, l2;
    layer_init(&l1, 1, T, B, E, H1, 31);
    layer_init(&l2, 1, T, B, H1, H2, 34);
    float *y1 = floats((size_t)T * B * H1), *y2 = floats((size_t)T * B * H2);
    dnnl_memory_t src = tnc_mem(T, B, E, et), m1 = tnc_mem(T, B, H1, y1);
    dnnl_memory_t m2 = tnc_mem(T, B, H2, y2);
    prim f1, f2;
    make_forward(&f1, &l1, dnnl_forward_inference, src, m1, NULL);
    make_forward(&f2, &l2, dnnl_forward_inference, m1, m2, NULL);
    /* training: both layers forward (keeping workspaces), then backward from a seeded gradient
     * of the second layer's outputs down to the first layer's input */
    float *gy2 = floats((size_t)T * B * H2);
    seeded_uniform(gy2, (int64_t)T * B * H2, 35, 1e-3f);
    dnnl_memory_t t1 = tnc_mem(T, B, H1, NULL), t2 = tnc_mem(T, B, H2, NULL);
    dnnl_memory_t g2 = tnc_mem(T, B, H2, gy2), g1 = tnc_mem(T, B, H1, NULL);
    dnnl_memory_t g0 = tnc_mem(T, B, E, NULL), ws1, ws2, d[6];
    prim ft1, ft2, bw1, bw2;
    make_forward(&ft1, &l1, dnnl_forward_training, src, t1, &ws1);
    make_forward(&ft2, &l2, dnnl_forward_training, t1, t2, &ws2);
    make_backward(&bw2, &l2, &ft2, t1, t2, ws2, g2, g1, &d[0], &d[1], &d[2]);
    make_backward(&bw1, &l1, &ft1, src, t1, ws1, g1, g0, &d[3], &d[4], &d[5]);
    double ts[64], tt[64];
    for (int r = -1; r < reps; r++) {
        const double t0 = seconds();
        prim_run(&f1);
        prim_run(&f2);
        if (r >= 0) ts[r] = seconds() - t0;
    }
    for (int r = -1; r < reps; r++) {
        const double t0 = seconds();
        prim_run(&ft1);
        prim_run(&ft2);
        for (int k = 0; k < 6; k++) memset(ptr(d[k]), 0, bytes(d[k]));
        prim_run(&bw2);
        prim_run(&bw1);
        if (r >= 0) tt[r] = seconds() - t0;
    }
    if (!isfinite(y2[(size_t)T * B * H2 - 1]) || !isfinite(ptr(g0)[0]))
        return fprintf(stderr, "onednn_rnn: B3 output not finite\n"), 1;
    head("B3", reps);
    printf(", \"recurrent_forward_ms\": %.3f, \"recurrent_fwd_bwd_ms\": %.3f",
           bench_median(ts, reps) * 1e3, bench_median(tt, reps) * 1e3);
    tail();
    return 0;
}

typedef struct {
    float *m, *v, *w;
    size_t n;
} adam_state;

/* Keras's Adam(learning_rate=1e-3, epsilon=1e-7) on n gradients, step t. */
static void adam(adam_state *a, const float *g, int t) {
    const float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-7f;
    const float c1 = 1.0f - powf(b1, (float)t), c2 = 1.0f - powf(b2, (float)t);
    const float alpha = lr * sqrtf(c2) / c1;
    for (size_t k = 0; k < a->n; k++) {
        a->m[k] = b1 * a->m[k] + (1 - b1) * g[k];
        a->v[k] = b2 * a->v[k] + (1 - b2) * g[k] * g[k];
        a->w[k] -= alpha * a->m[k] / (sqrtf(a->v[k]) + eps);
    }
}

static void adam_init(adam_state *a, dnnl_memory_t grad) {
    a->n = bytes(grad) / sizeof(float);
    a->m = floats(a->n), a->v = floats(a->n), a->w = floats(a->n);
}

static int case_b4(int reps) {
    const int B = 64, T = 100, I = 512, H = 512;
    const size_t nx = (size_t)B * T * I, ny = (size_t)B * T * H;
    float *x = floats(nx), *xt = floats(nx), *tg = floats(ny), *tgt = floats(ny);
    seeded_uniform(x, (int64_t)nx, 4, 1.0f);
    seeded_uniform(tg, (int64_t)ny, 44, 0.5f);
    to_tnc(x, xt, B, T, I);
    to_tnc(tg, tgt, B, T, H);
    layer l;
    layer_init(&l, 0, T, B, I, H, 41);
    float *y = floats(ny), *y2 = floats(ny), *dy = floats(ny), *dx = floats(nx);
    dnnl_memory_t src = tnc_mem(T, B, I, xt), dst = tnc_mem(T, B, H, y);
    dnnl_memory_t dst2 = tnc_mem(T, B, H, y2), ddst = tnc_mem(T, B, H, dy);
    dnnl_memory_t dsrc = tnc_mem(T, B, I, dx), ws, gwx, gwh, gb;
    prim inf, ft, bw;
    make_forward(&inf, &l, dnnl_forward_inference, src, dst, NULL);
    make_forward(&ft, &l, dnnl_forward_training, src, dst2, &ws);
    make_backward(&bw, &l, &ft, src, dst2, ws, ddst, dsrc, &gwx, &gwh, &gb);
    adam_state a[3];
    adam_init(&a[0], gwx), adam_init(&a[1], gwh), adam_init(&a[2], gb);
    dnnl_memory_t grads[3] = {gwx, gwh, gb};
    double tf[64], tt[64], tb[64];
    for (int r = -1; r < reps; r++) {
        double t0 = seconds();
        prim_run(&inf);
        if (r >= 0) tf[r] = seconds() - t0;
    }
    int step = 0;
    for (int r = -1; r < reps; r++) {
        const double t0 = seconds();
        prim_run(&ft);
        const float scale = 2.0f / (float)ny; /* d mean((y - t)^2) / dy */
        for (size_t k = 0; k < ny; k++) dy[k] = scale * (y2[k] - tgt[k]);
        for (int k = 0; k < 3; k++) memset(ptr(grads[k]), 0, bytes(grads[k]));
        prim_run(&bw);
        const double t1 = seconds();
        step++;
        for (int k = 0; k < 3; k++) adam(&a[k], ptr(grads[k]), step);
        if (r >= 0) tt[r] = seconds() - t0, tb[r] = t1 - t0;
    }
    if (!isfinite(y[ny - 1]) || !isfinite(dx[0]))
        return fprintf(stderr, "onednn_rnn: B4 output not finite\n"), 1;
    const double f = bench_median(tf, reps), t = bench_median(tt, reps), fb = bench_median(tb, reps);
    const double flops = 2.0 * T * B * 4 * H * (I + H);
    head("B4", reps);
    printf(", \"forward_ms\": %.3f, \"train_step_ms\": %.3f, \"fwd_bwd_ms\": %.3f, "
           "\"forward_GFLOPs\": %.2f, \"train_GFLOPs\": %.2f",
           f * 1e3, t * 1e3, fb * 1e3, flops / f * 1e-9, 3 * flops / t * 1e-9);
    tail();
    return 0;
}

int main(int argc, char **argv) {
    const char *c = NULL;
    int reps = 5, do_check = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--check"))
            do_check = 1;
        else if (!c && argv[i][0] != '-')
            c = argv[i];
        else {
            fprintf(stderr, "onednn_rnn: unexpected argument \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if ((!c && !do_check) || reps < 5 || reps > 64) {
        fprintf(stderr, "usage: onednn_rnn B2|B3|B4 [--reps N (5 to 64)] | onednn_rnn --check\n");
        return 2;
    }
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    if (do_check) return check();
    if (!strcmp(c, "B2")) return case_b2(reps);
    if (!strcmp(c, "B3")) return case_b3(reps);
    if (!strcmp(c, "B4")) return case_b4(reps);
    fprintf(stderr, "onednn_rnn: no oneDNN peer for case \"%s\" (B2, B3, B4)\n", c);
    return 2;
}
