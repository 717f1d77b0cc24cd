/* Gradient checks by central differences for every layer and option: weight gradients and
 * input gradients of Dense, Conv1D (each padding, strides, dilation_rate), SimpleRNN, LSTM and
 * GRU (both reset_after forms), with
 * return_sequences, return_state, go_backwards, use_bias=False, other activations and stateful
 * carry; plus the losses. A check also fails when the analytic gradient is (nearly) all zero. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "layer_harness.h"
#include "kernels/gemm_packed.h"
#include "kernels/team.h"
#include "losses.h"

#define EPS 1e-2
#define ATOL 5e-4
#define RTOL 1e-2

/* Saves and restores a recurrent layer's carried state, so stateful checks start every
 * evaluation from the same (non-zero) state. */
typedef struct {
    float *saved[2];
    int64_t n;
} state_snapshot;

static void snapshot_take(state_snapshot *s, rnn_layer *L) {
    rnn_recurrent *r = rnn__recurrent_of(L);
    s->n = r->state_batch * r->H;
    for (int k = 0; k < 2; k++) {
        s->saved[k] = NULL;
        if (r->state[k]) {
            s->saved[k] = malloc(sizeof(float) * (size_t)s->n);
            memcpy(s->saved[k], r->state[k], sizeof(float) * (size_t)s->n);
        }
    }
}

static void snapshot_restore(state_snapshot *s, rnn_layer *L) {
    rnn_recurrent *r = rnn__recurrent_of(L);
    for (int k = 0; k < 2; k++)
        if (s->saved[k]) memcpy(r->state[k], s->saved[k], sizeof(float) * (size_t)s->n);
}

static double loss_at(harness *h, state_snapshot *snap) {
    if (snap) snapshot_restore(snap, h->layer);
    rnn__layer_weights_changed(h->layer); /* the checks write weights directly: no stale copies */
    return harness_loss(h, RNN_MODE_TRAIN);
}

/* Compares the analytic gradient g of n values v with central differences, at every stride-th
 * value (1: all). */
static void compare(const char *what, harness *h, state_snapshot *snap, float *v,
                    const float *g, int64_t n, int64_t stride) {
    int bad = 0, nonzero = 0;
    int64_t checked = 0;
    double worst = 0;
    for (int64_t i = 0; i < n; i += stride, checked++) {
        float keep = v[i];
        v[i] = keep + (float)EPS;
        double lp = loss_at(h, snap);
        v[i] = keep - (float)EPS;
        double lm = loss_at(h, snap);
        v[i] = keep;
        double fd = (lp - lm) / (2 * EPS);
        double err = fabs(fd - g[i]);
        double tol = ATOL + RTOL * fmax(fabs(fd), fabs(g[i]));
        if (err > tol) {
            if (bad < 3)
                fprintf(stderr, "  %s[%lld]: analytic %.6g, numeric %.6g\n", what, (long long)i,
                        (double)g[i], fd);
            bad++;
        }
        if (err / tol > worst) worst = err / tol;
        if (fabs(g[i]) > 1e-4) nonzero++;
    }
    CHECK(bad == 0, "%s: %d of %lld gradients differ from finite differences", what, bad,
          (long long)checked);
    CHECK(nonzero * 2 >= checked, "%s: only %d of %lld gradients are non-zero (a trivial pass?)",
          what, nonzero, (long long)checked);
}

/* Runs forward + backward once and checks every weight and the input, or about `samples`
 * values of each, evenly spread (0: all). */
static void check_layer_sampled(const char *name, rnn_layer *layer, int B, int T, int F,
                                int stateful_warmup, int64_t samples) {
    harness h;
    if (harness_setup(&h, layer, B, T, F, 42) != 0) {
        CHECK(0, "%s: setup failed: %s", name, rnn_last_error());
        return;
    }
    state_snapshot snap_s, *snap = NULL;
    if (stateful_warmup) {
        /* One call leaves a non-zero state; the checked call continues from it. */
        harness_loss(&h, RNN_MODE_TRAIN);
        snapshot_take(&snap_s, h.layer);
        snap = &snap_s;
        rnn_recurrent *r = rnn__recurrent_of(h.layer);
        double sum = 0;
        for (int64_t i = 0; i < snap_s.n; i++) sum += fabs(snap_s.saved[0][i]);
        CHECK(sum > 1e-3, "%s: warm-up left a zero state", name);
        (void)r;
    }
    loss_at(&h, snap);
    memset(h.grads, 0, sizeof(float) * (size_t)h.n_params);
    harness_backward(&h);
    /* Copy the analytic gradients: the finite-difference passes overwrite layer buffers. */
    int64_t nx = rnn_tensor_size(&h.x);
    float *gw = malloc(sizeof(float) * (size_t)h.n_params);
    float *gx = malloc(sizeof(float) * (size_t)nx);
    memcpy(gw, h.grads, sizeof(float) * (size_t)h.n_params);
    memcpy(gx, h.layer->dx[0], sizeof(float) * (size_t)nx);
    int64_t off = 0;
    char what[128];
    for (int k = 0; k < h.layer->n_weights; k++) {
        snprintf(what, sizeof what, "%s %s", name, h.layer->weights[k].name);
        const int64_t n = h.layer->weights[k].size;
        compare(what, &h, snap, h.params + off, gw + off, n,
                samples && n > samples ? n / samples : 1);
        off += n;
    }
    snprintf(what, sizeof what, "%s input", name);
    compare(what, &h, snap, h.x.data, gx, nx, samples && nx > samples ? nx / samples : 1);
    free(gw);
    free(gx);
    if (snap)
        for (int k = 0; k < 2; k++) free(snap_s.saved[k]);
    harness_free(&h);
}

static void check_layer(const char *name, rnn_layer *layer, int B, int T, int F,
                        int stateful_warmup) {
    check_layer_sampled(name, layer, B, T, F, stateful_warmup, 0);
}

typedef rnn_layer *(*make_fn)(const rnn_recurrent_options *);

static void check_recurrent_options(const char *cls, make_fn make, rnn_recurrent_options base) {
    char name[96];
    struct {
        const char *label;
        int seq, state, back, bias, stateful;
        int act, ract;
    } cases[] = {
        {"default", 0, 0, 0, 1, 0, -1, -1},
        {"return_sequences", 1, 0, 0, 1, 0, -1, -1},
        {"return_state", 0, 1, 0, 1, 0, -1, -1},
        {"return_sequences+return_state", 1, 1, 0, 1, 0, -1, -1},
        {"go_backwards", 0, 0, 1, 1, 0, -1, -1},
        {"go_backwards+return_sequences", 1, 0, 1, 1, 0, -1, -1},
        {"use_bias=False", 1, 0, 0, 0, 0, -1, -1},
        {"stateful carry", 1, 1, 0, 1, 1, -1, -1},
        {"activation=relu", 1, 0, 0, 1, 0, RNN_ELU, -1},
        {"recurrent_activation=hard_sigmoid", 1, 0, 0, 1, 0, -1, RNN_HARD_SIGMOID},
        {"activation=softplus", 0, 0, 0, 1, 0, RNN_SOFTPLUS, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rnn_recurrent_options o = base;
        o.return_sequences = cases[i].seq;
        o.return_state = cases[i].state;
        o.go_backwards = cases[i].back;
        o.use_bias = cases[i].bias;
        o.stateful = cases[i].stateful;
        if (cases[i].act >= 0) o.activation = cases[i].act;
        if (cases[i].ract >= 0) o.recurrent_activation = cases[i].ract;
        snprintf(name, sizeof name, "%s %s", cls, cases[i].label);
        check_layer(name, make(&o), 3, 5, 4, cases[i].stateful);
    }
}

static void check_dense(void) {
    rnn_activation acts[] = {RNN_LINEAR, RNN_TANH, RNN_SIGMOID, RNN_ELU, RNN_SELU, RNN_SOFTPLUS};
    char name[64];
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        snprintf(name, sizeof name, "Dense 2-D %s", rnn_activation_name(acts[i]));
        check_layer(name, rnn_dense_simple(3, acts[i]), 4, 0, 5, 0);
        snprintf(name, sizeof name, "Dense 3-D %s", rnn_activation_name(acts[i]));
        check_layer(name, rnn_dense_simple(3, acts[i]), 2, 3, 5, 0);
    }
    rnn_dense_options o = rnn_dense_defaults(2);
    o.use_bias = 0;
    check_layer("Dense use_bias=False", rnn_dense(&o), 3, 0, 4, 0);
}

/* Conv1D: each padding, stride 2, dilation 2, without bias, and the activations; the kernel
 * (k, C, filters) and the input gradient through the padding. T = 7 and k = 3 give every padding
 * zeros on at least one side. relu: a central difference is wrong for a pre-activation within EPS
 * of the kink; with "same" padding one bias gradient here is such a case (0.646 vs 0.671), so
 * the relu case uses causal padding, whose values (seed 42) stay clear of 0. */
static void check_conv1d(void) {
    struct {
        const char *label;
        rnn_padding padding;
        int k, strides, dilation, bias;
        rnn_activation act;
    } cases[] = {
        {"valid", RNN_PADDING_VALID, 3, 1, 1, 1, RNN_LINEAR},
        {"same", RNN_PADDING_SAME, 3, 1, 1, 1, RNN_TANH},
        {"causal", RNN_PADDING_CAUSAL, 3, 1, 1, 1, RNN_TANH},
        {"same k=4 (uneven padding)", RNN_PADDING_SAME, 4, 1, 1, 1, RNN_LINEAR},
        {"valid strides=2", RNN_PADDING_VALID, 3, 2, 1, 1, RNN_TANH},
        {"same strides=2", RNN_PADDING_SAME, 2, 2, 1, 1, RNN_LINEAR},
        {"causal strides=2", RNN_PADDING_CAUSAL, 3, 2, 1, 1, RNN_TANH},
        {"valid dilation_rate=2", RNN_PADDING_VALID, 2, 1, 2, 1, RNN_TANH},
        {"same dilation_rate=2", RNN_PADDING_SAME, 3, 1, 2, 1, RNN_LINEAR},
        {"causal dilation_rate=2", RNN_PADDING_CAUSAL, 3, 1, 2, 1, RNN_TANH},
        {"use_bias=False", RNN_PADDING_CAUSAL, 3, 1, 1, 0, RNN_TANH},
        {"relu", RNN_PADDING_CAUSAL, 3, 1, 1, 1, RNN_RELU},
        {"sigmoid", RNN_PADDING_VALID, 2, 1, 1, 1, RNN_SIGMOID},
    };
    char name[96];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rnn_conv1d_options o = rnn_conv1d_defaults(3, cases[i].k);
        o.padding = cases[i].padding;
        o.strides = cases[i].strides;
        o.dilation_rate = cases[i].dilation;
        o.use_bias = cases[i].bias;
        o.activation = cases[i].act;
        snprintf(name, sizeof name, "Conv1D %s %s", cases[i].label,
                 rnn_activation_name(cases[i].act));
        check_layer(name, rnn_conv1d(&o), 2, 7, 2, 0);
    }
}

/* Every loss (and its from_logits form) against central differences of its masked mean. */
static void check_losses(void) {
    enum { R = 6, C = 4 };
    float pred[R * C], target[R * C], grad[R * C];
    uint8_t mask[R] = {1, 0, 1, 1, 0, 1};
    rnn_rng r;
    rnn__rng_seed(&r, 7);
    struct {
        rnn_loss_kind kind;
        int logits;
    } cases[] = {{RNN_LOSS_MSE, 0}, {RNN_LOSS_MAE, 0}, {RNN_LOSS_SPARSE_CATEGORICAL_CE, 0},
                 {RNN_LOSS_SPARSE_CATEGORICAL_CE, 1}, {RNN_LOSS_CATEGORICAL_CE, 0},
                 {RNN_LOSS_CATEGORICAL_CE, 1}, {RNN_LOSS_BINARY_CE, 0}, {RNN_LOSS_BINARY_CE, 1},
                 {RNN_LOSS_KLD, 0}, {RNN_LOSS_HUBER, 0}, {RNN_LOSS_MSLE, 0}, {RNN_LOSS_MAPE, 0},
                 {RNN_LOSS_LOG_COSH, 0}, {RNN_LOSS_POISSON, 0}, {RNN_LOSS_COSINE_SIMILARITY, 0},
                 {RNN_LOSS_HINGE, 0}, {RNN_LOSS_SQUARED_HINGE, 0}, {RNN_LOSS_CATEGORICAL_HINGE, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rnn_loss_spec spec = {cases[c].kind, cases[c].logits, 1.0f};
        /* values of either sign, except where the loss takes logs of the predictions */
        const int any_sign = spec.kind >= RNN_LOSS_HUBER && spec.kind != RNN_LOSS_MSLE &&
                             spec.kind != RNN_LOSS_POISSON;
        for (int i = 0; i < R * C; i++) {
            pred[i] = cases[c].logits || spec.kind <= RNN_LOSS_MAE || any_sign
                          ? (float)rnn__rng_uniform(&r) * 4 - 2
                          : 0.05f + 0.9f * (float)rnn__rng_uniform(&r);
            target[i] = (float)rnn__rng_uniform(&r);
        }
        if (spec.kind == RNN_LOSS_SPARSE_CATEGORICAL_CE)
            for (int i = 0; i < R; i++) target[i] = (float)(i % C);
        if (spec.kind == RNN_LOSS_BINARY_CE)
            for (int i = 0; i < R * C; i += 2) target[i] = (float)(i % 4 == 0);
        if (spec.kind == RNN_LOSS_CATEGORICAL_HINGE) /* one-hot rows */
            for (int i = 0; i < R * C; i++) target[i] = (float)(i % C == (i / C) % C);
        for (int with_mask = 0; with_mask < 2; with_mask++) {
            const uint8_t *mk = with_mask ? mask : NULL;
            double sum, lp, lm;
            int64_t count, cnt2;
            rnn__loss_eval(&spec, pred, target, R, C, mk, grad, &sum, &count);
            CHECK(count == (with_mask ? 4 : R), "%s: %lld rows counted", rnn__loss_name(spec.kind),
                  (long long)count);
            int nonzero = 0;
            for (int i = 0; i < R * C; i++) {
                float keep = pred[i];
                pred[i] = keep + 1e-3f;
                rnn__loss_eval(&spec, pred, target, R, C, mk, NULL, &lp, &cnt2);
                pred[i] = keep - 1e-3f;
                rnn__loss_eval(&spec, pred, target, R, C, mk, NULL, &lm, &cnt2);
                pred[i] = keep;
                double fd = (lp - lm) / (2e-3 * (double)count);
                CHECK(fabs(fd - grad[i]) < 2e-4 + 2e-3 * fabs(fd), "%s%s%s grad[%d]: %g vs %g",
                      rnn__loss_name(spec.kind), spec.from_logits ? " from_logits" : "",
                      with_mask ? " masked" : "", i, (double)grad[i], fd);
                nonzero += grad[i] != 0;
                if (with_mask && !mask[i / C]) CHECK(grad[i] == 0, "masked row has a gradient");
            }
            CHECK(nonzero >= (with_mask ? 4 : R) * ((spec.kind == RNN_LOSS_SPARSE_CATEGORICAL_CE && !spec.from_logits) || spec.kind == RNN_LOSS_CATEGORICAL_HINGE ? 1 : C) / 2,
                  "%s: only %d non-zero gradients", rnn__loss_name(spec.kind), nonzero);
        }
    }
    /* Known values: MSE of (1, 3) vs (0, 0) per row is 5; sparse CE of p = (0.25, 0.75), id 1
     * is -log 0.75. */
    float p2[2] = {1, 3}, t2[2] = {0, 0};
    double sum;
    int64_t count;
    rnn_loss_spec mse = {RNN_LOSS_MSE, 0, 1.0f}, sce = {RNN_LOSS_SPARSE_CATEGORICAL_CE, 0, 1.0f};
    rnn__loss_eval(&mse, p2, t2, 1, 2, NULL, NULL, &sum, &count);
    CHECK_CLOSE(sum, 5.0, 1e-9, 0, "mse value");
    float p3[2] = {0.25f, 0.75f}, id = 1;
    rnn__loss_eval(&sce, p3, &id, 1, 2, NULL, NULL, &sum, &count);
    CHECK_CLOSE(sum, -log(0.75), 1e-6, 0, "sparse CE value");
    /* hinge with 0/1 targets takes them as -1/1 (Keras's convert_binary_labels_to_hinge):
     * p = (0.5, -0.3), y = (1, 0): mean(max(1 - 0.5, 0), max(1 - 0.3, 0)) = 0.6; with y = (1, 0.5)
     * nothing is converted: mean(0.5, 1.15) = 0.825. Huber with delta 0.5 on e = (1, 0.2):
     * mean(0.5 - 0.125, 0.02) = 0.1975. */
    rnn_loss_spec hinge = {RNN_LOSS_HINGE, 0, 1.0f}, huber = {RNN_LOSS_HUBER, 0, 0.5f};
    float ph[2] = {0.5f, -0.3f}, yh[2] = {1, 0}, yh2[2] = {1, 0.5f};
    rnn__loss_eval(&hinge, ph, yh, 1, 2, NULL, NULL, &sum, &count);
    CHECK_CLOSE(sum, 0.6, 1e-6, 0, "hinge with binary targets");
    rnn__loss_eval(&hinge, ph, yh2, 1, 2, NULL, NULL, &sum, &count);
    CHECK_CLOSE(sum, 0.825, 1e-6, 0, "hinge with other targets");
    float pu[2] = {1, 0.2f}, yu[2] = {0, 0};
    rnn__loss_eval(&huber, pu, yu, 1, 2, NULL, NULL, &sum, &count);
    CHECK_CLOSE(sum, 0.1975, 1e-6, 0, "huber delta 0.5");
}

/* A large output's rows shared by the team (rnn__loss_eval_shared, MSE four rows at a time):
 * the loss and every gradient bit for bit those of one row at a time - MSE against its
 * definition written out here (each row's sum of squares in double in column order, the kept
 * rows' losses summed in row order), every kind against rnn__loss_eval on one thread. 1,027
 * rows (not a multiple of four, so the threads' shares and the last run of rows are partial) of
 * 67, masked rows among them. */
static void check_loss_rows_shared(void) {
    enum { R = 1027, C = 67 };
    static float pred[R * C], target[R * C], grad[R * C], grad1[R * C];
    static uint8_t mask[R];
    rnn_rng r;
    rnn__rng_seed(&r, 11);
    for (int i = 0; i < R * C; i++) {
        pred[i] = (float)rnn__rng_uniform(&r) * 4 - 2;
        target[i] = (float)rnn__rng_uniform(&r);
    }
    for (int i = 0; i < R; i++) mask[i] = i % 7 != 3 && i % 11 != 5;
    rnn_set_threads(2);
    const rnn_loss_kind kinds[] = {RNN_LOSS_MSE, RNN_LOSS_MAE, RNN_LOSS_HUBER, RNN_LOSS_LOG_COSH};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (int with_mask = 0; with_mask < 2; with_mask++) {
            const rnn_loss_spec spec = {kinds[k], 0, 1.0f};
            const uint8_t *mk = with_mask ? mask : NULL;
            double sum, sum1;
            int64_t count, count1;
            rnn__loss_eval_shared(&spec, pred, target, R, C, mk, grad, &sum, &count);
            if (spec.kind == RNN_LOSS_MSE) { /* the definition */
                sum1 = 0;
                count1 = 0;
                for (int i = 0; i < R; i++) count1 += !mk || mk[i];
                const float scale = (float)(1.0 / (double)count1);
                for (int i = 0; i < R; i++) {
                    double L = 0;
                    for (int j = 0; j < C; j++) {
                        const float p = pred[i * C + j], y = target[i * C + j];
                        const double d = (double)p - y;
                        L += d * d;
                        grad1[i * C + j] = mk && !mk[i] ? 0.0f : 2.0f * (p - y) * scale / (float)C;
                    }
                    if (!mk || mk[i]) sum1 += L / (double)C;
                }
            } else {
                rnn_set_threads(1);
                rnn__loss_eval(&spec, pred, target, R, C, mk, grad1, &sum1, &count1);
                rnn_set_threads(2);
            }
            CHECK(count == count1, "%s shared: %lld rows counted", rnn__loss_name(spec.kind),
                  (long long)count);
            CHECK(memcmp(&sum, &sum1, sizeof sum) == 0, "%s%s shared: loss %.17g vs %.17g",
                  rnn__loss_name(spec.kind), with_mask ? " masked" : "", sum, sum1);
            CHECK(memcmp(grad, grad1, sizeof grad) == 0, "%s%s shared: gradients differ",
                  rnn__loss_name(spec.kind), with_mask ? " masked" : "");
        }
}

/* The step loops split between threads (kernels/team.h): 20 units split 8 + 12 on two
 * threads (a whole block each and the 4-unit tail), batch 8 so that a step is large enough
 * to share; sequences and last outputs, stateful carry. */
static void check_team_paths(void) {
    rnn_set_threads(2);
    for (int cell = 0; cell < 2; cell++) {
        const char *cls = cell ? "GRU" : "LSTM";
        rnn_recurrent_options o = cell ? rnn_gru_defaults(20) : rnn_lstm_defaults(20);
        for (int seq = 0; seq < 2; seq++) {
            o.return_sequences = seq;
            rnn_layer *L = cell ? rnn_gru(&o) : rnn_lstm(&o);
            char name[96];
            snprintf(name, sizeof name, "%s(20) on the team, return_sequences=%d", cls, seq);
            harness h;
            if (harness_setup(&h, L, 8, 4, 3, 7) == 0) {
                CHECK(rnn__recurrent_use_team(rnn__recurrent_of(L), 8),
                      "%s: the step loops did not take the team path", name);
                harness_free(&h);
            }
            check_layer(name, cell ? rnn_gru(&o) : rnn_lstm(&o), 8, 4, 3, 0);
            /* 32 rows: each of the two threads runs the recurrence of its own 16 */
            snprintf(name, sizeof name, "%s(20) on the team split by rows, return_sequences=%d",
                     cls, seq);
            check_layer(name, cell ? rnn_gru(&o) : rnn_lstm(&o), 32, 3, 3, 0);
        }
    }
    /* The weight gradients summed in the job (lstm.c, lstm_grad_parts, where the CPU has
     * AVX-512F): 37 rows (blocks of 16, the last of 5) and 6 steps (a chunk of 4, then one of
     * 2 added to it), one feature; by rows on 2 threads, by units on 3 (37 < 48). */
    for (int threads = 2; threads <= 3; threads++) {
        rnn__team_set_size(threads);
        rnn_recurrent_options o = rnn_lstm_defaults(20);
        o.return_sequences = threads == 2;
        char name[96];
        snprintf(name, sizeof name, "LSTM(20) batch 37, 6 steps, 1 feature on %d threads", threads);
        check_layer(name, rnn_lstm(&o), 37, 6, 1, 0);
    }
    rnn__team_set_size(2);
    /* Steps large enough for the packed panels (B G H H >= 2^23), forward and backward reading
     * U and U^T from panels: 24 rows of LSTM(312) split by units, 152 + 160, so that thread 1
     * starts half way into a panel (and each gate block's last panel is half full); 48 rows of
     * LSTM(216) split by rows; GRU(344) (units 168 + 176) and GRU(248) the same ways. Sampled:
     * about 150 values of each weight and of the input. */
    const int units[4] = {312, 216, 344, 248}, rows[4] = {24, 48, 24, 48};
    for (int c = 0; c < 4; c++) {
        const int gru = c >= 2;
        rnn_recurrent_options o = gru ? rnn_gru_defaults(units[c]) : rnn_lstm_defaults(units[c]);
        o.return_sequences = c % 2 == 0;
        char name[96];
        snprintf(name, sizeof name, "%s(%d) on packed panels, batch %d", gru ? "GRU" : "LSTM",
                 units[c], rows[c]);
        harness h;
        rnn_layer *L = gru ? rnn_gru(&o) : rnn_lstm(&o);
        if (harness_setup(&h, L, rows[c], 2, 3, 7) == 0) {
            CHECK(!rnn__gemm_panels_available() ||
                      rnn__recurrent_use_panels(rnn__recurrent_of(L), rows[c], 0),
                  "%s: the step loops do not read panels", name);
            harness_free(&h);
        }
        check_layer_sampled(name, gru ? rnn_gru(&o) : rnn_lstm(&o), rows[c], 2, 3, 0, 150);
    }
    rnn_set_threads(0);
}

int main(void) {
    check_recurrent_options("SimpleRNN", rnn_simple_rnn, rnn_simple_rnn_defaults(4));
    check_recurrent_options("LSTM", rnn_lstm, rnn_lstm_defaults(4));
    check_recurrent_options("GRU(reset_after=True)", rnn_gru, rnn_gru_defaults(4));
    rnn_recurrent_options g = rnn_gru_defaults(4);
    g.reset_after = 0;
    check_recurrent_options("GRU(reset_after=False)", rnn_gru, g);
    check_team_paths();
    check_dense();
    check_conv1d();
    check_losses();
    check_loss_rows_shared();
    return check_report("test_gradcheck");
}
