/* rnn_predict_step's streaming path (the per-thread pack: lstm_stream_packed, its one-row pass
 * over x W and h U in segments, the gates run on the scratch rows in place) on shapes other than
 * B5's: the smallest units the path takes (H = 16, 24: threads with no units on 3 and 4), one
 * feature, uneven splits of units, chains longer than RNN_STREAM_CHAIN_MAX, batches up to 8, a
 * Masking layer, rnn_reset_states between steps, in float32, bf16 and int8. Every shape's steps
 * must give the bits of one thread on 2, 3 and 4 threads; the bits of the products without
 * AVX-512 (rnn__qmv_force(0): each segment's product in turn); in float32 the bits of the
 * general loop (steps while the team is busy, on packs cut for the team), and outputs close to
 * rnn_predict of the whole sequence. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/qmatvec.h"
#include "kernels/team.h"
#include "rnn.h"

enum { T = 10, RESET_AT = 6, OUT = 2, LAYERS_MAX = 17, B_MAX = 8, F_MAX = 16 };

typedef struct {
    int layers, H[LAYERS_MAX], F, B, mask;
} shape;

/* (The team takes an LSTM's step from B H 4H >= 8192 multiply-adds on several threads, so a
 * float32 step of one row splits its units from H = 48 on; rows of 16 and 24 units split over 3
 * and 4 threads leave threads without units. Reduced-precision packs of at most 128 KiB are cut
 * for one thread, larger ones for the team: mixed chains.) */
static const shape shapes[] = {
    {1, {16}, 1, 1, 0},
    {2, {16, 24}, 1, 8, 0},
    {3, {48, 56, 40}, 3, 1, 0},
    {5, {48, 16, 64, 24, 136}, 7, 1, 0},
    {2, {136, 128}, 16, 8, 0},
    {2, {32, 48}, 4, 3, 1},
    {4, {128, 128, 128, 128}, 8, 1, 0},
    {3, {136, 136, 136}, 16, 1, 0},
    {17, {48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48}, 2, 1, 0},
};

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static float urand(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_state >> 40) & 0xFFFFFF) / 8388608.0f - 1.0f;
}

/* [Masking ->] LSTM(H[0]) -> ... -> LSTM(H[L-1]) -> Dense(OUT), every LSTM returning sequences;
 * stateful with steps of 1 for streaming, else the whole sequence. */
static rnn_model *make(const shape *s, int stateful) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_status st = !m || rnn_set_seed(m, 7) || rnn_batch_input(m, s->B, stateful ? 1 : T, s->F);
    if (!st && s->mask) st = rnn_add(m, rnn_masking(0.0f));
    for (int l = 0; l < s->layers && !st; l++) {
        rnn_recurrent_options o = rnn_lstm_defaults(s->H[l]);
        o.return_sequences = 1;
        o.stateful = stateful;
        st = rnn_add(m, rnn_lstm(&o));
    }
    if (!st) st = rnn_add(m, rnn_dense_simple(OUT, RNN_LINEAR));
    if (st) {
        fprintf(stderr, "model: %s\n", rnn_last_error());
        exit(1);
    }
    return m;
}

/* T steps of x (B, T, F) into y (B, T, OUT), the states reset before step RESET_AT. */
static void stream(rnn_model *m, const shape *s, const float *x, float *y) {
    const int B = s->B, F = s->F;
    rnn_reset_states(m);
    for (int t = 0; t < T; t++) {
        float xs[B_MAX * F_MAX], ys[B_MAX * OUT];
        if (t == RESET_AT) rnn_reset_states(m);
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

typedef struct {
    rnn_model *m;
    const shape *s;
    const float *x;
    float *y;
} busy_job;

static void busy_fn(void *arg, int tid, int n) {
    (void)n;
    busy_job *j = arg;
    if (tid == 0) stream(j->m, j->s, j->x, j->y);
}

/* rnn_predict of the whole model on x's steps [t0, t1) into y (B, T, OUT) at those steps. */
static void predict_part(rnn_model *whole, const shape *s, const float *x, int t0, int t1,
                         float *y) {
    const int B = s->B, F = s->F;
    static float xp[B_MAX * T * F_MAX];
    memset(xp, 0, sizeof xp);
    for (int b = 0; b < B; b++)
        memcpy(xp + (size_t)b * T * F, x + ((size_t)b * T + t0) * F, sizeof(float) * (t1 - t0) * F);
    /* the steps after t1 - t0: padding whose outputs are not looked at (causal) */
    rnn_tensor out;
    CHECK(rnn_predict(whole, rnn_data_x(rnn_tensor3(xp, B, T, F)), B, &out, 1) == RNN_OK, "%s",
          rnn_last_error());
    for (int b = 0; b < B; b++)
        memcpy(y + ((size_t)b * T + t0) * OUT, out.data + (size_t)b * T * OUT,
               sizeof(float) * (t1 - t0) * OUT);
    rnn_tensor_free(&out);
}

/* Whether a layer's float32 step is large enough for the team (rnn__recurrent_use_team). */
static int team_sized(const shape *s) {
    for (int l = 0; l < s->layers; l++)
        if ((long)s->B * s->H[l] * 4 * s->H[l] >= 8192) return 1;
    return 0;
}

static void one_shape(int k, const shape *s, rnn_precision prec) {
    const int B = s->B, F = s->F;
    const size_t ny = (size_t)B * T * OUT;
    static float x[B_MAX * T * F_MAX], ref[B_MAX * T * OUT], y[B_MAX * T * OUT];
    for (int i = 0; i < B * T * F; i++) x[i] = urand();
    if (s->mask) /* some rows' steps masked (every feature 0), the first row's never */
        for (int b = 1; b < B; b++)
            for (int t = b; t < T; t += 3) memset(x + ((size_t)b * T + t) * F, 0, sizeof(float) * F);
    const char *pname = prec == RNN_F32 ? "f32" : prec == RNN_BF16 ? "bf16" : "int8";
    rnn_set_threads(1);
    rnn_model *whole = make(s, 0);
    predict_part(whole, s, x, 0, RESET_AT, ref);
    predict_part(whole, s, x, RESET_AT, T, ref);
    /* one thread, the products at their best */
    rnn_model *m = make(s, 1);
    CHECK(rnn_copy_weights(m, whole) == RNN_OK, "%s", rnn_last_error());
    CHECK(rnn_set_precision(m, prec) == RNN_OK, "%s", rnn_last_error());
    static float y1[B_MAX * T * OUT];
    stream(m, s, x, y1);
    if (prec == RNN_F32) {
        int far = 0;
        for (size_t i = 0; i < ny; i++)
            far += fabsf(y1[i] - ref[i]) > 1e-5f + 1e-5f * fabsf(ref[i]);
        CHECK(far == 0, "shape %d: %d streamed outputs differ from rnn_predict", k, far);
    }
    for (int n = 1; n <= 4; n++) {
        rnn_set_threads(n);
        if (n > 1) {
            unsigned long shared0, busy0, shared1, busy1;
            rnn__team_counts(rnn__team_default(), &shared0, &busy0);
            stream(m, s, x, y);
            rnn__team_counts(rnn__team_default(), &shared1, &busy1);
            /* (not a test that passes because nothing ran on the team) */
            if (prec == RNN_F32 && team_sized(s))
                CHECK(shared1 > shared0, "shape %d, %d threads: no step shared the team", k, n);
            CHECK(memcmp(y, y1, sizeof(float) * ny) == 0,
                  "shape %d %s: %d threads give other bits than one", k, pname, n);
        }
        /* without AVX-512's products: each segment's product in turn */
        rnn__qmv_force(0);
        stream(m, s, x, y);
        rnn__qmv_force(-1);
        CHECK(memcmp(y, y1, sizeof(float) * ny) == 0,
              "shape %d %s, %d threads: the products without AVX-512 give other bits", k, pname,
              n);
        if (prec == RNN_F32 && n > 1) {
            /* the general loop: steps inside a job of the same team run alone on packs cut
             * for n threads */
            busy_job job = {m, s, x, y};
            unsigned long shared0, busy0, shared1, busy1;
            rnn__team_counts(rnn__team_default(), &shared0, &busy0);
            CHECK(rnn__team_run(busy_fn, &job) == n, "the outer job runs on %d threads", n);
            rnn__team_counts(rnn__team_default(), &shared1, &busy1);
            if (team_sized(s))
                CHECK(busy1 > busy0, "shape %d, %d threads: no step found the team busy", k, n);
            CHECK(memcmp(y, y1, sizeof(float) * ny) == 0,
                  "shape %d, %d threads: the general loop (busy team) gives other bits", k, n);
        }
    }
    rnn_set_threads(1);
    rnn_model_free(m);
    rnn_model_free(whole);
}

int main(void) {
    const rnn_precision precs[3] = {RNN_F32, RNN_BF16, RNN_INT8};
    for (int p = 0; p < 3; p++)
        for (int k = 0; k < (int)(sizeof shapes / sizeof *shapes); k++)
            one_shape(k, &shapes[k], precs[p]);
    return check_report("test_stream_shapes");
}
