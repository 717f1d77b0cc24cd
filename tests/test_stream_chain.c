/* Streaming steps of stacked recurrent layers as one team job (rnn__recurrent_stream_run) and
 * the float32 pack's product (rnn__qmv_f32; rnn__qmv_f32_segments, over several inputs in one
 * pass from another row): the product's bits against the AVX2 tiles it replaces, and the bf16
 * product's on wide shares against the portable loop; rnn_predict_step of a stack of LSTMs (a
 * chain broken by a GRU and by a layer too small for the team) on 1, 2 and 3 threads, the same
 * bits on each and close to rnn_predict of the same weights on the whole sequence; and steps run
 * while the team is busy (alone, on packs cut for two threads), which must give the same bits;
 * and rnn_reset_states between runs of steps; and the fast path of steps after the first
 * (rnn__model_stream_again), which must notice what changed; and the Dense after a chain begun
 * inside the chain's job (layers/dense.h), which must give the bits of the same Dense run on its
 * own; and a model streamed on its own and as a layer of another (rnn_model_as_layer), whose
 * steps must not run on what the other model's left; and small int8 layers, whose packs are cut
 * for one thread on a team of two, also in mixed chains on a team whose size and precision
 * change between steps. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/gemm.h"
#include "kernels/qmatvec.h"
#include "kernels/team.h"
#include "layers/dense.h"
#include "layers/recurrent.h"
#include "context.h"
#include "model.h"
#include "rnn.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float urand(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_state >> 40) & 0xFFFFFF) / 8388608.0f - 1.0f;
}

/* rnn__qmv_f32 against rnn__product on the AVX2 tiles (RNN_GEMM_OWN, beta 1): the same bits
 * for every shape, including columns that are not whole vectors of 16 and K = 0. */
static void kernel_bits(void) {
    const int Ms[] = {1, 2, 3}, Ns[] = {8, 16, 24, 48, 64, 80, 256, 264, 320, 512, 520};
    const int Ks[] = {0, 1, 7, 8, 136, 256};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < (int)(sizeof Ns / sizeof *Ns); b++)
            for (int c = 0; c < (int)(sizeof Ks / sizeof *Ks); c++) {
                const int M = Ms[a], N = Ns[b], K = Ks[c], ldw = N + 8, ldx = K + 3, ldy = N + 5;
                float *w = malloc(sizeof(float) * ((size_t)K * ldw + 1));
                float *x = malloc(sizeof(float) * ((size_t)M * ldx + 1));
                float *y = malloc(sizeof(float) * (size_t)M * ldy);
                float *yr = malloc(sizeof(float) * (size_t)M * ldy);
                for (size_t i = 0; i < (size_t)K * ldw; i++) w[i] = urand();
                for (size_t i = 0; i < (size_t)M * ldx; i++) x[i] = urand();
                for (size_t i = 0; i < (size_t)M * ldy; i++) y[i] = yr[i] = urand();
                rnn__qmv_f32(M, N, K, x, ldx, w, ldw, y, ldy);
                rnn__product(M, N, K, x, ldx, w, ldw, yr, ldy,
                             RNN_GEMM(.beta = 1.0f, .kernel = RNN_GEMM_OWN));
                CHECK(memcmp(y, yr, sizeof(float) * (size_t)M * ldy) == 0,
                      "qmv_f32 M %d N %d K %d: bits differ from the AVX2 tiles", M, N, K);
                float *from = malloc(sizeof(float) * (size_t)N);
                for (int j = 0; j < N; j++) from[j] = urand();
                /* the rows in segments over other inputs (a streaming step's x W pieces and
                 * h U in one pass), from another row: the bits of a copy of that row and
                 * qmv_f32 per segment */
                for (int cut = 0; cut <= 2; cut++) {
                    const int k1 = cut == 0 ? 0 : cut == 1 ? K / 2 : K, k2 = K - k1;
                    float *h = malloc(sizeof(float) * ((size_t)k2 + 1));
                    for (int i = 0; i < k2; i++) h[i] = urand();
                    const float *xs[3] = {x, x + k1 / 2, h};
                    const int ks[3] = {k1 / 2, k1 - k1 / 2, k2};
                    for (size_t i = 0; i < (size_t)ldy; i++) y[i] = urand();
                    memcpy(yr, from, sizeof(float) * (size_t)N);
                    rnn__qmv_f32(1, N, ks[0], xs[0], ks[0], w, ldw, yr, N);
                    rnn__qmv_f32(1, N, ks[1], xs[1], ks[1], w + (size_t)ks[0] * ldw, ldw, yr, N);
                    rnn__qmv_f32(1, N, ks[2], xs[2], ks[2], w + (size_t)k1 * ldw, ldw, yr, N);
                    rnn__qmv_f32_segments(N, 3, xs, ks, w, ldw, from, y);
                    CHECK(memcmp(y, yr, sizeof(float) * (size_t)N) == 0,
                          "qmv_f32_segments N %d K %d cut %d: bits differ from the pieces", N, K,
                          cut);
                    memcpy(y, from, sizeof(float) * (size_t)N); /* from y itself */
                    rnn__qmv_f32_segments(N, 3, xs, ks, w, ldw, y, y);
                    CHECK(memcmp(y, yr, sizeof(float) * (size_t)N) == 0,
                          "qmv_f32_segments N %d K %d cut %d: from y, other bits", N, K, cut);
                    rnn__qmv_force(0); /* without AVX-512: each segment's product in turn */
                    rnn__qmv_f32_segments(N, 3, xs, ks, w, ldw, from, y);
                    rnn__qmv_force(-1);
                    CHECK(memcmp(y, yr, sizeof(float) * (size_t)N) == 0,
                          "qmv_f32_segments N %d K %d cut %d: portable path, other bits", N, K,
                          cut);
                    free(h);
                }
                free(from);
                /* bf16 on wide shares (blocks of 256 columns) against the portable loop */
                uint16_t *wb = malloc(sizeof(uint16_t) * ((size_t)K * ldw + 1));
                for (size_t i = 0; i < (size_t)K * ldw; i++) wb[i] = rnn__bf16_from_float(w[i]);
                for (size_t i = 0; i < (size_t)M * ldy; i++) y[i] = yr[i] = (float)i * 0.01f;
                rnn__qmv_bf16(M, N, K, x, ldx, wb, ldw, y, ldy);
                rnn__qmv_force(0);
                rnn__qmv_bf16(M, N, K, x, ldx, wb, ldw, yr, ldy);
                rnn__qmv_force(-1);
                CHECK(memcmp(y, yr, sizeof(float) * (size_t)M * ldy) == 0,
                      "qmv_bf16 M %d N %d K %d: bits differ from the portable loop", M, N, K);
                free(wb), free(w), free(x), free(y), free(yr);
            }
}

enum { B_MAX = 3, F = 5, T = 9, OUT = 3 };

/* Input -> LSTM(48) -> LSTM(56) -> GRU(16) -> LSTM(24) -> LSTM(64) -> Dense(3), every recurrent
 * layer returning sequences: the first two form a chain; the GRU has no streaming pack;
 * LSTM(24) on one stream is below the team's size (rnn__recurrent_use_team) on several
 * threads, a chain of one on one thread; LSTM(64) then heads a chain of one. Stateful with
 * steps of 1 for streaming, else T steps. */
static rnn_model *make(int B, int stateful, rnn_context *ctx) {
    const int units[5] = {48, 56, 16, 24, 64};
    rnn_model *m = rnn_sequential(NULL);
    rnn_status st = !m || rnn_set_seed(m, 23) || rnn_batch_input(m, B, stateful ? 1 : T, F);
    for (int k = 0; k < 5 && !st; k++) {
        rnn_recurrent_options o = k == 2 ? rnn_gru_defaults(units[k]) : rnn_lstm_defaults(units[k]);
        o.return_sequences = 1;
        o.stateful = stateful;
        st = rnn_add(m, k == 2 ? rnn_gru(&o) : rnn_lstm(&o));
    }
    rnn_dense_options d = rnn_dense_defaults(OUT);
    if (!st) st = rnn_add(m, rnn_dense(&d));
    if (!st && ctx) st = rnn_model_set_context(m, ctx);
    if (st) {
        fprintf(stderr, "model: %s\n", rnn_last_error());
        exit(1);
    }
    return m;
}

/* T steps of x (B, T, F) through rnn_predict_step into y (B, T, OUT). */
static void stream(rnn_model *m, int B, const float *x, float *y) {
    rnn_reset_states(m);
    for (int t = 0; t < T; t++) {
        float xs[B_MAX * F], ys[B_MAX * OUT];
        for (int b = 0; b < B; b++)
            memcpy(xs + b * F, x + ((size_t)b * T + t) * F, sizeof(float) * F);
        if (rnn_predict_step(m, xs, ys) != RNN_OK) {
            CHECK(0, "step %d: %s", t, rnn_last_error());
            return;
        }
        for (int b = 0; b < B; b++)
            memcpy(y + ((size_t)b * T + t) * OUT, ys + b * OUT, sizeof(float) * OUT);
    }
}

static void chain_bits(int B) {
    static float x[B_MAX * T * F], whole_y[B_MAX * T * OUT], y[3][B_MAX * T * OUT];
    for (int i = 0; i < B * T * F; i++) x[i] = urand();
    rnn_model *whole = make(B, 0, NULL);
    rnn_tensor out;
    CHECK(rnn_predict(whole, rnn_data_x(rnn_tensor3(x, B, T, F)), B, &out, 1) == RNN_OK, "%s",
          rnn_last_error());
    memcpy(whole_y, out.data, sizeof(float) * (size_t)B * T * OUT);
    rnn_tensor_free(&out);
    for (int n = 1; n <= 3; n++) {
        rnn_context *ctx = rnn_context_new(n);
        rnn_model *m = make(B, 1, ctx);
        CHECK(rnn_copy_weights(m, whole) == RNN_OK, "%s", rnn_last_error());
        stream(m, B, x, y[n - 1]);
        /* one thread projects all of rnn_predict's steps in one product (another order of
         * additions than a step's): close; every thread count's steps: the same bits */
        int far = 0;
        for (int i = 0; i < B * T * OUT; i++)
            far += fabsf(y[n - 1][i] - whole_y[i]) > 1e-5f + 1e-5f * fabsf(whole_y[i]);
        CHECK(far == 0, "B %d, %d threads: %d steps' outputs differ from rnn_predict", B, n, far);
        if (n > 1)
            CHECK(memcmp(y[n - 1], y[0], sizeof(float) * (size_t)B * T * OUT) == 0,
                  "B %d: %d threads and one give different bits", B, n);
        rnn_model_free(m);
        rnn_context_free(ctx);
    }
    rnn_model_free(whole);
}

/* A step while the team is busy: rnn_predict_step inside a job of the same team runs alone
 * (n = 1) on packs cut for the team's two threads, so the chain takes the general loop. */
typedef struct {
    rnn_model *m;
    const float *x;
    float *y;
    int B;
} busy_job;

static void busy_fn(void *arg, int tid, int n) {
    (void)n;
    busy_job *j = arg;
    if (tid == 0) stream(j->m, j->B, j->x, j->y);
}

static void busy_team(void) {
    enum { B = 2 };
    static float x[B * T * F], y[B * T * OUT], yb[B * T * OUT];
    for (int i = 0; i < B * T * F; i++) x[i] = urand();
    rnn_set_threads(2);
    rnn_model *m = make(B, 1, NULL);
    stream(m, B, x, y);
    unsigned long shared0, busy0, shared1, busy1;
    rnn__team_counts(rnn__team_default(), &shared0, &busy0);
    busy_job job = {m, x, yb, B};
    CHECK(rnn__team_run(busy_fn, &job) == 2, "the outer job runs on two threads");
    rnn__team_counts(rnn__team_default(), &shared1, &busy1);
    CHECK(busy1 > busy0, "the steps did not find the team busy");
    CHECK(memcmp(y, yb, sizeof y) == 0, "a busy team's steps differ");
    rnn_model_free(m);
}

/* The chain's steps read and write the carried state in place, two buffers that trade places
 * each step (plan.state_in_place): rnn_reset_states after an odd number of steps, and steps of
 * other inputs in between, must leave the next run exactly as a fresh one. */
static void reset_mid_stream(void) {
    enum { B = 1 };
    static float x[B * T * F], x2[B * T * F], y[B * T * OUT], y2[B * T * OUT], y3[B * T * OUT];
    for (int i = 0; i < B * T * F; i++) x[i] = urand(), x2[i] = urand();
    for (int n = 1; n <= 2; n++) {
        rnn_context *ctx = rnn_context_new(n);
        rnn_model *m = make(B, 1, ctx);
        stream(m, B, x, y);   /* T = 9 steps: the buffers end swapped */
        stream(m, B, x2, y2); /* (stream resets the states first) */
        stream(m, B, x, y3);
        CHECK(memcmp(y, y3, sizeof y) == 0,
              "%d threads: a stream after rnn_reset_states differs from the first", n);
        CHECK(memcmp(y, y2, sizeof y) != 0, "%d threads: other inputs gave the same outputs", n);
        rnn_model_free(m);
        rnn_context_free(ctx);
    }
}

/* rnn_predict_step's later steps run the chain the first step recorded (rnn__model_stream_again)
 * and must see what changed in between: an rnn_predict (which plans and begins the chain's
 * layers for another mode), new weights, another precision, another thread count. Each run of
 * steps after such a change must give the bits of a model that never streamed before it. */
static void fast_path_notices(void) {
    enum { B = 1 };
    static float x[B * T * F], y[B * T * OUT], y2[B * T * OUT], yo[B * T * OUT];
    static float yb[B * T * OUT], y1[B * T * OUT];
    for (int i = 0; i < B * T * F; i++) x[i] = urand();
    rnn_context *ctx = rnn_context_new(2);
    rnn_model *m = make(B, 1, ctx);
    stream(m, B, x, y);
    CHECK(m->stream.fast_steps >= T - 1, "the fast path took %lu of %d steps",
          m->stream.fast_steps, T);
    /* a whole-sequence predict in between, then steps from a reset state */
    rnn_tensor out;
    CHECK(rnn_predict(m, rnn_data_x(rnn_tensor3(x, B, 1, F)), B, &out, 1) == RNN_OK, "%s",
          rnn_last_error());
    rnn_tensor_free(&out);
    stream(m, B, x, y2);
    CHECK(memcmp(y, y2, sizeof y) == 0, "steps after rnn_predict differ from the first run");
    /* other weights (drawn from another seed before o's first step) */
    rnn_model *o = make(B, 1, ctx);
    CHECK(rnn_set_seed(o, 99) == RNN_OK, "%s", rnn_last_error());
    stream(o, B, x, yo);
    CHECK(rnn_copy_weights(m, o) == RNN_OK, "%s", rnn_last_error());
    stream(m, B, x, y2);
    CHECK(memcmp(yo, y2, sizeof y) == 0, "steps after rnn_copy_weights differ from the source's");
    CHECK(memcmp(yo, y, sizeof y) != 0, "other weights gave the same outputs");
    /* bf16 from the first step on o, switched to on m after float32 steps; then back */
    CHECK(rnn_set_precision(o, RNN_BF16) == RNN_OK, "%s", rnn_last_error());
    stream(o, B, x, yb);
    CHECK(rnn_set_precision(m, RNN_BF16) == RNN_OK, "%s", rnn_last_error());
    stream(m, B, x, y2);
    CHECK(memcmp(yb, y2, sizeof y) == 0, "steps after rnn_set_precision differ");
    CHECK(memcmp(yb, yo, sizeof y) != 0, "bf16 gave the float32 bits");
    CHECK(rnn_set_precision(m, RNN_F32) == RNN_OK, "%s", rnn_last_error());
    stream(m, B, x, y2);
    CHECK(memcmp(yo, y2, sizeof y) == 0, "steps back in float32 differ");
    /* one thread, then three: the same bits as two (chain_bits) */
    for (int n = 1; n <= 3; n += 2) {
        CHECK(rnn_context_set_threads(ctx, n) == RNN_OK, "%s", rnn_last_error());
        stream(m, B, x, y1);
        CHECK(memcmp(yo, y1, sizeof y) == 0, "steps on %d threads after 2 differ", n);
    }
    CHECK(m->stream.fast_steps >= 6 * (T - 1), "the fast path took %lu steps",
          m->stream.fast_steps);
    rnn_model_free(o);
    rnn_model_free(m);
    rnn_context_free(ctx);
}

/* Input -> LSTM(48) -> LSTM(56) [-> Activation(linear)] -> Dense(units): with the Activation in
 * between, the Dense runs on its own after the chain; without it, thread 0 begins its product
 * in the chain's job (rnn__dense_stream_prefix) and the forward call goes on from there. */
static rnn_model *make_head_chain(int units, int between, rnn_context *ctx) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_status st = !m || rnn_set_seed(m, 31) || rnn_batch_input(m, 1, 1, F);
    for (int k = 0; k < 2 && !st; k++) {
        rnn_recurrent_options o = rnn_lstm_defaults(k ? 56 : 48);
        o.return_sequences = 1;
        o.stateful = 1;
        st = rnn_add(m, rnn_lstm(&o));
    }
    if (!st && between) st = rnn_add(m, rnn_activation_layer(RNN_LINEAR));
    rnn_dense_options d = rnn_dense_defaults(units);
    d.activation = RNN_TANH;
    if (!st) st = rnn_add(m, rnn_dense(&d));
    if (!st) st = rnn_model_set_context(m, ctx);
    if (st) {
        fprintf(stderr, "model: %s\n", rnn_last_error());
        exit(1);
    }
    return m;
}

static void dense_begun_in_job(void) {
    enum { STEPS = 7, UNITS_MAX = 20 };
    const int units[] = {1, 3, 8, 20};
    float x[STEPS * F], y[STEPS * UNITS_MAX], yr[STEPS * UNITS_MAX];
    for (int i = 0; i < STEPS * F; i++) x[i] = urand();
    /* the make() model: Dense(3) after a chain of one, LSTM(64), not at the head */
    for (int n = 1; n <= 3; n++) {
        rnn_context *ctx = rnn_context_new(n);
        rnn_model *m = make(1, 1, ctx);
        static float xs[T * F], ys[T * OUT];
        for (int i = 0; i < T * F; i++) xs[i] = urand();
        stream(m, 1, xs, ys);
        CHECK(rnn__dense_stream_resumed(m->layers[m->n_layers - 1]) >= T - 1,
              "%d threads: the Dense after LSTM(64) went on from the job %lu times", n,
              rnn__dense_stream_resumed(m->layers[m->n_layers - 1]));
        rnn_model_free(m);
        rnn_context_free(ctx);
    }
    for (int u = 0; u < 4; u++)
        for (int n = 1; n <= 3; n++) {
            rnn_context *ctx = rnn_context_new(n);
            rnn_model *a = make_head_chain(units[u], 0, ctx), *b = make_head_chain(units[u], 1, ctx);
            CHECK(rnn_copy_weights(b, a) == RNN_OK, "%s", rnn_last_error());
            for (int t = 0; t < STEPS; t++) {
                CHECK(rnn_predict_step(a, x + t * F, y + t * units[u]) == RNN_OK, "%s",
                      rnn_last_error());
                CHECK(rnn_predict_step(b, x + t * F, yr + t * units[u]) == RNN_OK, "%s",
                      rnn_last_error());
            }
            CHECK(memcmp(y, yr, sizeof(float) * (size_t)STEPS * units[u]) == 0,
                  "Dense(%d), %d threads: begun in the job, other bits than on its own",
                  units[u], n);
            const rnn_layer *da = a->layers[a->n_layers - 1], *db = b->layers[b->n_layers - 1];
            CHECK(rnn__dense_stream_resumed(da) >= STEPS - 1 && rnn__dense_stream_resumed(db) == 0,
                  "Dense(%d), %d threads: went on from the job %lu and %lu times", units[u], n,
                  rnn__dense_stream_resumed(da), rnn__dense_stream_resumed(db));
            rnn_model_free(a);
            rnn_model_free(b);
            rnn_context_free(ctx);
        }
}

/* Input -> LSTM(48) -> Dense(3), batch free (one stream), on one thread: a chain of one. */
static rnn_model *make_inner(rnn_context *ctx) {
    rnn_model *m = rnn_sequential("inner");
    rnn_recurrent_options o = rnn_lstm_defaults(48);
    rnn_status st = !m || rnn_set_seed(m, 41) || rnn_input(m, 1, F) || rnn_add(m, rnn_lstm(&o)) ||
                    rnn_add(m, rnn_dense_simple(OUT, RNN_LINEAR)) || rnn_model_set_context(m, ctx);
    if (st) {
        fprintf(stderr, "model: %s\n", rnn_last_error());
        exit(1);
    }
    return m;
}

/* A model streamed on its own (its fast path recorded), then one step of an outer model that
 * holds it as a layer and so runs its LSTM: in bf16 (kind 0), on a batch of 2 (kind 1), or on a
 * batch of 2 that fails in an Embedding after the step's walks made the LSTM's state anew for
 * it without beginning the LSTM (kind 2). The inner model's next steps (from a reset state) must
 * give the bits of a fresh model with its weights, on its own plan for one stream (the outer
 * step's chain is not its record), and take the fast path again afterwards. */
static void nested_model_keeps_record(void) {
    enum { B = 1 };
    static float x[B * T * F], y[B * T * OUT], yr[B * T * OUT];
    for (int i = 0; i < B * T * F; i++) x[i] = urand();
    for (int kind = 0; kind < 3; kind++) {
        rnn_context *ctx = rnn_context_new(1);
        rnn_model *inner = make_inner(ctx), *fresh = make_inner(ctx);
        CHECK(rnn_copy_weights(fresh, inner) == RNN_OK, "%s", rnn_last_error());
        stream(fresh, B, x, yr);
        stream(inner, B, x, y);
        CHECK(memcmp(y, yr, sizeof y) == 0, "kind %d: the inner model's first steps differ", kind);
        const int BW = kind ? 2 : 1;
        rnn_model *outer = rnn_sequential("outer");
        rnn_status st = !outer;
        if (!st && kind == 2) {
            rnn_embedding_options e = rnn_embedding_defaults(10, F);
            st = rnn_sequential_input(outer, rnn_ids_input_new(BW, 1, NULL)) ||
                 rnn_add(outer, rnn_embedding(&e));
        } else if (!st) {
            st = rnn_batch_input(outer, BW, 1, F);
        }
        if (!st) st = rnn_add(outer, rnn_model_as_layer(inner));
        if (!st) st = rnn_model_set_context(outer, ctx);
        if (!st && kind == 0) st = rnn_set_precision(outer, RNN_BF16);
        CHECK(st == RNN_OK, "kind %d: the outer model: %s", kind, rnn_last_error());
        float xo[2 * F], yo[2 * OUT];
        for (int i = 0; i < 2 * F; i++) xo[i] = kind == 2 ? (i ? 1.0f : 99.0f) : urand();
        st = rnn_predict_step(outer, xo, yo);
        CHECK(kind == 2 ? st != RNN_OK : st == RNN_OK, "kind %d: the outer step: %s", kind,
              st ? rnn_last_error() : "ok");
        const unsigned long fast = inner->stream.fast_steps;
        stream(inner, B, x, y);
        CHECK(memcmp(y, yr, sizeof y) == 0,
              "kind %d: the inner model's steps after the outer one's differ from a fresh model's",
              kind);
        const rnn_recurrent *r = inner->layers[1]->impl;
        CHECK(r->B == 1 && r->state_batch == 1, "kind %d: the inner LSTM ran a batch of %d", kind,
              r->B);
        CHECK(inner->stream.fast_steps >= fast + T - 2, "kind %d: the fast path took %lu of %d",
              kind, inner->stream.fast_steps - fast, T);
        rnn_model_free(outer);
        rnn_model_free(inner);
        rnn_model_free(fresh);
        rnn_context_free(ctx);
    }
}

/* Stateful LSTM(F=8 features, H1 sequences) -> LSTM(H2) -> Dense(1), batch 1, in int8, on ctx. */
static rnn_model *make_int8(int H1, int H2, rnn_context *ctx) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options l1 = rnn_lstm_defaults(H1), l2 = rnn_lstm_defaults(H2);
    l1.stateful = l2.stateful = 1;
    l1.return_sequences = 1;
    if (!m || rnn_set_seed(m, 23) || rnn_batch_input(m, 1, 1, 8) || rnn_add(m, rnn_lstm(&l1)) ||
        rnn_add(m, rnn_lstm(&l2)) || rnn_add(m, rnn_dense_simple(1, RNN_LINEAR)) ||
        rnn_model_set_context(m, ctx) || rnn_set_precision(m, RNN_INT8)) {
        fprintf(stderr, "model: %s\n", rnn_last_error());
        exit(1);
    }
    return m;
}

/* A reduced-precision pack of at most RNN_STREAM_ALONE_BYTES is cut for one thread
 * (rnn__copies_stream_threads): a chain of such layers runs alone on a team of two (no shared
 * job), one of them before a larger layer is thread 0's while the team shares the larger one;
 * each gives one thread's bits, and each pack is made once, not at every step. */
static void small_int8_runs_alone(void) {
    static const int H2s[2] = {128, 256}; /* 68 and 128 KiB: alone; 128 and 384 KiB: mixed */
    for (int c = 0; c < 2; c++) {
        float x[8], y1[12], y2[12];
        rnn_context *ctx1 = rnn_context_new(1), *ctx2 = rnn_context_new(2);
        rnn_model *m1 = make_int8(128, H2s[c], ctx1), *m2 = make_int8(128, H2s[c], ctx2);
        unsigned long shared0, busy0, shared1, busy1, fills0 = 0, fills1 = 0;
        for (int t = 0; t < 12; t++) {
            for (int k = 0; k < 8; k++) x[k] = urand();
            CHECK(rnn_predict_step(m1, x, y1 + t) == RNN_OK, "%s", rnn_last_error());
            CHECK(rnn_predict_step(m2, x, y2 + t) == RNN_OK, "%s", rnn_last_error());
            if (t == 0) {
                rnn__team_counts(rnn__context_team(ctx2), &shared0, &busy0);
                for (int l = 0; l < m2->n_layers; l++)
                    if (rnn__layer_is_recurrent(m2->layers[l]))
                        fills0 += rnn__recurrent_copies_filled(rnn__recurrent_of(m2->layers[l]));
            }
        }
        rnn__team_counts(rnn__context_team(ctx2), &shared1, &busy1);
        int pending = 0;
        for (int l = 0; l < m2->n_layers; l++)
            if (rnn__layer_is_recurrent(m2->layers[l])) {
                const rnn_recurrent *r = rnn__recurrent_of(m2->layers[l]);
                fills1 += rnn__recurrent_copies_filled(r);
                pending += r->copies.qstream_pending;
            }
        CHECK(memcmp(y1, y2, sizeof y1) == 0, "H2 %d: two threads and one give different bits",
              H2s[c]);
        CHECK(c == 0 ? shared1 == shared0 : shared1 > shared0,
              "H2 %d: %lu steps shared with the team", H2s[c], shared1 - shared0);
        CHECK(fills1 == fills0 && pending == 0, "H2 %d: the packs were made again %lu times, "
              "%d left to quantize at every step", H2s[c], fills1 - fills0, pending);
        rnn_model_free(m1), rnn_model_free(m2);
        rnn_context_free(ctx1), rnn_context_free(ctx2);
    }
}

/* Mixed chains (a pack cut for one thread before a team-sized one, and after one) on a team
 * whose size changes between steps, with the precision switched to float32, back to int8, to
 * bf16 and back, and rnn_reset_states in between: every step gives the bits of the same steps
 * on one thread (the packs cut for the team are made again for its new size, those cut for
 * one are kept). */
static void small_int8_survives_changes(void) {
    static const int H1s[2] = {128, 256}, H2s[2] = {256, 64}; /* 68 | 384 KiB, 264 | 80 KiB */
    for (int c = 0; c < 2; c++) {
        rnn_context *ctx1 = rnn_context_new(1), *ctx2 = rnn_context_new(2);
        rnn_model *m1 = make_int8(H1s[c], H2s[c], ctx1), *m2 = make_int8(H1s[c], H2s[c], ctx2);
        int differ = -1;
        for (int t = 0; t < 50; t++) {
            float x[8], y1, y2;
            for (int k = 0; k < 8; k++) x[k] = urand();
            const int threads = t < 10 ? 2 : t < 15 ? 1 : t < 25 ? 2 : t < 30 ? 1 : 2;
            const rnn_precision p = t < 20 ? RNN_INT8 : t < 28 ? RNN_F32 : t < 40 ? RNN_INT8
                                    : t < 45 ? RNN_BF16 : RNN_INT8;
            CHECK(rnn_context_set_threads(ctx2, threads) == RNN_OK &&
                      rnn_set_precision(m1, p) == RNN_OK && rnn_set_precision(m2, p) == RNN_OK,
                  "%s", rnn_last_error());
            if (t == 35) rnn_reset_states(m1), rnn_reset_states(m2);
            CHECK(rnn_predict_step(m1, x, &y1) == RNN_OK, "%s", rnn_last_error());
            CHECK(rnn_predict_step(m2, x, &y2) == RNN_OK, "%s", rnn_last_error());
            if (differ < 0 && memcmp(&y1, &y2, sizeof y1) != 0) differ = t;
        }
        CHECK(differ < 0, "H %d,%d: step %d differs between one thread and a changing team",
              H1s[c], H2s[c], differ);
        rnn_model_free(m1), rnn_model_free(m2);
        rnn_context_free(ctx1), rnn_context_free(ctx2);
    }
}

int main(void) {
    kernel_bits();
    reset_mid_stream();
    chain_bits(1);
    chain_bits(3);
    busy_team();
    fast_path_notices();
    dense_begun_in_job();
    nested_model_keeps_record();
    small_int8_runs_alone();
    small_int8_survives_changes();
    return check_report("test_stream_chain");
}
