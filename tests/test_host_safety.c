/* librnn in a host program that has its own uses for the BLAS and for threads (rnn_context in
 * rnn.h):
 *  - OpenBLAS's thread count, set by the host, is the same after rnn_fit and rnn_predict, with
 *    one team thread and with several, on the default context and on one of the caller's;
 *  - two models trained at the same time in two threads, each with its own context, give the
 *    same bits as each trained alone, and each ran its jobs on its own team (none fell back to
 *    one thread for finding a team busy);
 *  - training one model does not make another refill the packed copies of its recurrent
 *    kernel (weight versions are per weight), while a change of its own weights does. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "context.h"
#include "kernels/gemm_packed.h"
#include "kernels/team.h"
#include "layers/recurrent.h"
#include "rnn.h"

#if defined(RNN_USE_CBLAS)
#include <cblas.h>
#endif

enum { B = 16, T = 12, F = 4 };

static void fill(float *v, int n, unsigned seed) {
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
    }
}

/* LSTM(32) or GRU(32), then Dense(1): each step is large enough for the team (B H G H). */
static rnn_model *small_model(int gru, uint64_t seed) {
    rnn_model *m = rnn_sequential(NULL);
    if (!m || rnn_set_seed(m, seed) || rnn_input(m, T, F)) return m;
    rnn_recurrent_options o = gru ? rnn_gru_defaults(32) : rnn_lstm_defaults(32);
    rnn_add(m, gru ? rnn_gru(&o) : rnn_lstm(&o));
    rnn_dense_options d = rnn_dense_defaults(1);
    rnn_add(m, rnn_dense(&d));
    if (rnn_compile(m, "mse", "adam")) fprintf(stderr, "compile: %s\n", rnn_last_error());
    return m;
}

/* ------------------------------------------------------------ the host's BLAS settings */

static void check_blas_threads(void) {
#if defined(RNN_USE_CBLAS) && defined(OPENBLAS_VERSION)
    static float x[64 * T * F], y[64];
    fill(x, 64 * T * F, 3);
    fill(y, 64, 4);
    rnn_context *ctx = rnn_context_new(2);
    CHECK(ctx != NULL, "rnn_context_new: %s", rnn_last_error());
    /* a team of 2 (the default context's, then the caller's) and a team of 1 */
    const int teams[3] = {2, 2, 1};
    for (int c = 0; c < 3; c++) {
        openblas_set_num_threads(2);
        rnn_set_threads(teams[c]);
        /* LSTM(64): the weight-gradient product (64 x 256 x T B) is split between the team */
        rnn_model *m = rnn_sequential(NULL);
        rnn_set_seed(m, 5);
        rnn_input(m, T, F);
        rnn_recurrent_options o = rnn_lstm_defaults(64);
        rnn_add(m, rnn_lstm(&o));
        rnn_dense_options d = rnn_dense_defaults(1);
        rnn_add(m, rnn_dense(&d));
        rnn_compile(m, "mse", "adam");
        if (c == 1) rnn_model_set_context(m, ctx);
        rnn_fit_options fo = rnn_fit_defaults();
        fo.epochs = 2;
        fo.verbose = 0;
        CHECK(rnn_fit(m, rnn_data_xy(rnn_tensor3(x, 64, T, F), rnn_tensor2(y, 64, 1)), &fo, NULL) == RNN_OK,
              "fit: %s", rnn_last_error());
        CHECK(openblas_get_num_threads() == 2,
              "case %d: OpenBLAS's threads are %d after rnn_fit, the host set 2", c,
              openblas_get_num_threads());
        rnn_tensor out = {0};
        CHECK(rnn_predict(m, rnn_data_x(rnn_tensor3(x, 64, T, F)), 64, &out, 1) == RNN_OK, "predict: %s",
              rnn_last_error());
        rnn_tensor_free(&out);
        CHECK(openblas_get_num_threads() == 2,
              "case %d: OpenBLAS's threads are %d after rnn_predict, the host set 2", c,
              openblas_get_num_threads());
        rnn_model_free(m);
    }
    rnn_context_free(ctx);
    rnn_set_threads(0);
#else
    CHECK(1, "no OpenBLAS in this build");
#endif
}

/* ------------------------------------------------------------ two models at the same time */

typedef struct {
    int gru;
    rnn_context *ctx;
    float *result; /* predictions, then every weight */
    int64_t n;
    int ok;
} train_job;

enum { STEPS = 6 };

static void *train_one(void *arg) {
    train_job *j = arg;
    float x[B * T * F], y[B];
    fill(x, B * T * F, 7 + (unsigned)j->gru);
    fill(y, B, 9);
    rnn_model *m = small_model(j->gru, 21 + (uint64_t)j->gru);
    j->ok = m && rnn_model_set_context(m, j->ctx) == RNN_OK;
    for (int k = 0; j->ok && k < STEPS; k++)
        j->ok = rnn_train_on_batch(m, rnn_data_xy(rnn_tensor3(x, B, T, F), rnn_tensor2(y, B, 1)),
                                   NULL) ==
                RNN_OK;
    rnn_tensor out = {0};
    if (j->ok) j->ok = rnn_predict_on_batch(m, rnn_data_x(rnn_tensor3(x, B, T, F)), &out, 1) == RNN_OK;
    if (j->ok) {
        const int64_t ny = rnn_tensor_size(&out), nw = rnn_count_params(m);
        j->result = malloc(sizeof(float) * (size_t)(ny + nw));
        memcpy(j->result, out.data, sizeof(float) * (size_t)ny);
        float *w = j->result + ny;
        for (int i = 0; i < rnn_weight_count(m); i++) {
            int rank;
            int64_t shape[RNN_MAX_RANK], size = 1;
            rnn_weight_info(m, i, NULL, &rank, shape);
            for (int d = 0; d < rank; d++) size *= shape[d];
            rnn_get_weight(m, i, w, size);
            w += size;
        }
        j->n = ny + nw;
    }
    rnn_tensor_free(&out);
    rnn_model_free(m);
    return NULL;
}

static void check_two_models(void) {
    rnn_context *ctx[2] = {rnn_context_new(2), rnn_context_new(2)};
    CHECK(ctx[0] && ctx[1], "rnn_context_new: %s", rnn_last_error());
    if (!ctx[0] || !ctx[1]) return;
    CHECK(rnn_context_threads(ctx[0]) == 2, "a context of 2 threads has %d",
          rnn_context_threads(ctx[0]));
    train_job alone[2] = {{0, ctx[0], NULL, 0, 0}, {1, ctx[1], NULL, 0, 0}};
    train_job together[2] = {{0, ctx[0], NULL, 0, 0}, {1, ctx[1], NULL, 0, 0}};
    for (int k = 0; k < 2; k++) train_one(&alone[k]);
    unsigned long shared0[2], busy0[2];
    for (int k = 0; k < 2; k++) rnn__team_counts(rnn__context_team(ctx[k]), &shared0[k], &busy0[k]);
    pthread_t th[2];
    for (int k = 0; k < 2; k++) pthread_create(&th[k], NULL, train_one, &together[k]);
    for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < 2; k++) {
        const char *name = k ? "GRU" : "LSTM";
        CHECK(alone[k].ok && together[k].ok, "%s: a run failed: %s", name, rnn_last_error());
        if (!alone[k].ok || !together[k].ok) continue;
        CHECK(alone[k].n == together[k].n &&
                  memcmp(alone[k].result, together[k].result,
                         sizeof(float) * (size_t)alone[k].n) == 0,
              "%s: trained next to another model, not the bits it gets alone", name);
        unsigned long shared, busy;
        rnn__team_counts(rnn__context_team(ctx[k]), &shared, &busy);
        CHECK(shared > shared0[k], "%s: its context's team ran no job on two threads", name);
        CHECK(busy == busy0[k], "%s: %lu jobs found its own team busy and ran on one thread",
              name, busy - busy0[k]);
    }
    for (int k = 0; k < 2; k++) {
        free(alone[k].result);
        free(together[k].result);
        rnn_context_free(ctx[k]);
    }
}

/* ------------------------------------------------------------ per-weight versions */

static void check_no_foreign_repack(void) {
    rnn_set_threads(2);
    enum { BB = 48, TT = 2, FF = 8, H = 216 }; /* B 4H H >= 2^23: the steps read panels */
    rnn_model *b = rnn_sequential(NULL);
    rnn_set_seed(b, 3);
    rnn_input(b, TT, FF);
    rnn_recurrent_options o = rnn_lstm_defaults(H);
    rnn_layer *lstm = rnn_lstm(&o);
    rnn_add(b, lstm);
    rnn_model *a = small_model(0, 4);
    static float x[BB * TT * FF], xa[B * T * F], ya[B];
    fill(x, BB * TT * FF, 1);
    fill(xa, B * T * F, 2);
    fill(ya, B, 3);
    rnn_tensor out = {0};
    CHECK(rnn_predict_on_batch(b, rnn_data_x(rnn_tensor3(x, BB, TT, FF)), &out, 1) == RNN_OK, "predict: %s",
          rnn_last_error());
    const rnn_recurrent *r = rnn__recurrent_of(lstm);
    const unsigned long filled = rnn__recurrent_copies_filled(r);
    const int panels = rnn__gemm_panels_available();
    CHECK(!panels || filled == 1, "the first prediction filled the panels %lu times", filled);
    const unsigned long version = rnn__recurrent_weight(r, RNN_W_RECURRENT)->version;
    /* model A trains: nothing of B's changes */
    for (int k = 0; k < 3; k++)
        CHECK(rnn_train_on_batch(a, rnn_data_xy(rnn_tensor3(xa, B, T, F), rnn_tensor2(ya, B, 1)),
                                 NULL) ==
                  RNN_OK, "train A: %s", rnn_last_error());
    rnn_tensor_free(&out);
    CHECK(rnn_predict_on_batch(b, rnn_data_x(rnn_tensor3(x, BB, TT, FF)), &out, 1) == RNN_OK, "predict: %s",
          rnn_last_error());
    CHECK(rnn__recurrent_weight(r, RNN_W_RECURRENT)->version == version,
          "training model A moved model B's weight version");
    CHECK(rnn__recurrent_copies_filled(r) == filled,
          "training model A made model B refill its panels (%lu fills, then %lu)", filled,
          rnn__recurrent_copies_filled(r));
    /* B's own recurrent kernel changes: its panels follow */
    const int64_t n = (int64_t)H * 4 * H;
    float *u = malloc(sizeof(float) * (size_t)n);
    rnn_get_weight(b, 1, u, n);
    for (int64_t i = 0; i < n; i++) u[i] *= 0.5f;
    rnn_set_weight(b, 1, u, n);
    free(u);
    rnn_tensor_free(&out);
    CHECK(rnn_predict_on_batch(b, rnn_data_x(rnn_tensor3(x, BB, TT, FF)), &out, 1) == RNN_OK, "predict: %s",
          rnn_last_error());
    CHECK(rnn__recurrent_weight(r, RNN_W_RECURRENT)->version != version,
          "rnn_set_weight did not move the recurrent kernel's version");
    CHECK(!panels || rnn__recurrent_copies_filled(r) == filled + 1,
          "a new recurrent kernel: %lu fills, expected %lu", rnn__recurrent_copies_filled(r),
          filled + 1);
    rnn_tensor_free(&out);
    rnn_model_free(a);
    rnn_model_free(b);
    rnn_set_threads(0);
}

int main(void) {
    check_blas_threads();
    check_two_models();
    check_no_foreign_repack();
    return check_report("test_host_safety");
}
