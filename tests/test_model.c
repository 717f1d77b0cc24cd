/* Sequential models through the public API: summary and parameter counts, training that
 * learns, Keras's fit details (validation split, history, train_on_batch loss before the
 * update), optimizer formulas, determinism, stateful carry across calls, reset_states, the
 * streaming step (equal to a full pass, no allocation after the first call) and variable
 * sequence lengths. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "memory.h"
#include "optim.h"
#include "rnn.h"

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

static rnn_model *lstm_model(int64_t batch, int64_t steps, int64_t features, int units,
                             int stateful, int seq) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options o = rnn_lstm_defaults(units);
    o.stateful = stateful;
    o.return_sequences = seq;
    rnn_status st = batch > 0 ? rnn_batch_input(m, batch, steps, features)
                              : rnn_input(m, steps, features);
    if (!st) st = rnn_add(m, rnn_lstm(&o));
    if (!st) st = rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    if (!st) st = rnn_compile(m, "mse", "adam");
    CHECK(st == RNN_OK, "building the model: %s", rnn_last_error());
    return m;
}

static int64_t single_layer_params(rnn_layer *layer) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, 10, 8);
    CHECK(rnn_add(m, layer) == RNN_OK, "%s", rnn_last_error());
    int64_t n = rnn_count_params(m);
    rnn_model_free(m);
    return n;
}

static void test_summary(void) {
    /* Keras's documented counts on 8 features: LSTM(32) 5,248; GRU(32) 4,032 (reset_after) and
     * 3,936 (not); SimpleRNN(32) 32*(8+32)+32 = 1,312; Dense(1) on 8 -> 9. */
    rnn_recurrent_options l = rnn_lstm_defaults(32), g = rnn_gru_defaults(32),
                          s = rnn_simple_rnn_defaults(32);
    CHECK(single_layer_params(rnn_lstm(&l)) == 5248, "LSTM(32) params");
    CHECK(single_layer_params(rnn_gru(&g)) == 4032, "GRU(32) params");
    g.reset_after = 0;
    CHECK(single_layer_params(rnn_gru(&g)) == 3936, "GRU(32, reset_after=False) params");
    CHECK(single_layer_params(rnn_simple_rnn(&s)) == 1312, "SimpleRNN(32) params");
    CHECK(single_layer_params(rnn_dense_simple(1, RNN_LINEAR)) == 9, "Dense(1) params");
    l.use_bias = 0;
    CHECK(single_layer_params(rnn_lstm(&l)) == 5248 - 128, "LSTM(32, use_bias=False) params");

    /* A stack: later layers see 32 features. GRU(32) on 32: 3*(32*64 + 2*32) = 6,336; without
     * reset_after 6,240; SimpleRNN(32) on 32: 2,080; Dense(1) on 32: 33. */
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, 10, 8);
    rnn_recurrent_options zero_units = rnn_lstm_defaults(0);
    CHECK(rnn_add(m, rnn_lstm(&zero_units)) == RNN_ERR_ARGUMENT, "LSTM(0) accepted");
    CHECK(rnn_layer_count(m) == 0, "a rejected layer was added");
    l = rnn_lstm_defaults(32);
    l.return_sequences = 1;
    CHECK(rnn_add(m, rnn_lstm(&l)) == RNN_OK, "%s", rnn_last_error());
    g = rnn_gru_defaults(32);
    g.return_sequences = 1;
    CHECK(rnn_add(m, rnn_gru(&g)) == RNN_OK, "%s", rnn_last_error());
    g.reset_after = 0;
    CHECK(rnn_add(m, rnn_gru(&g)) == RNN_OK, "%s", rnn_last_error());
    CHECK(rnn_add(m, rnn_simple_rnn(&s)) == RNN_OK, "%s", rnn_last_error());
    CHECK(rnn_add(m, rnn_dense_simple(1, RNN_LINEAR)) == RNN_OK, "%s", rnn_last_error());
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(rnn_summary(m, f) == RNN_OK, "summary");
    fclose(f);
    const char *want[] = {"Model: \"sequential\"", "lstm (LSTM)", "(None, 10, 32)", "5,248",
                          "gru (GRU)", "6,336", "gru_1 (GRU)", "6,240", "simple_rnn (SimpleRNN)",
                          "(None, 32)", "2,080", "dense (Dense)", "(None, 1)", "33",
                          "Total params: 19,937 (77.88 KB)", "Non-trainable params: 0 (0.00 B)"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK(text && strstr(text, want[i]), "summary lacks \"%s\":\n%s", want[i], text);
    CHECK(rnn_count_params(m) == 19937, "count_params %lld", (long long)rnn_count_params(m));
    free(text);
    rnn_model_free(m);
}

/* Sum of the first 4 inputs of each window: a tiny task an LSTM learns quickly. */
static void make_task(float *x, float *y, int n, int T, uint64_t seed) {
    for (int i = 0; i < n; i++) {
        float s = 0;
        for (int t = 0; t < T; t++) {
            x[i * T + t] = frand(&seed) * 0.5f;
            if (t < 4) s += x[i * T + t];
        }
        y[i] = s;
    }
}

static void test_training_learns(void) {
    enum { N = 256, T = 6 };
    static float x[N * T], y[N];
    make_task(x, y, N, T, 3);
    rnn_model *m = lstm_model(0, T, 1, 8, 0, 0);
    rnn_fit_options fo = rnn_fit_defaults();
    fo.epochs = 30;
    fo.verbose = 0;
    fo.validation_split = 0.25f;
    rnn_history h;
    CHECK(rnn_fit(m, rnn_data_xy(rnn_tensor3(x, N, T, 1), rnn_tensor2(y, N, 1)), &fo, &h) == RNN_OK, "fit: %s",
          rnn_model_error(m));
    CHECK(h.epochs == 30 && h.val_loss, "history: %d epochs", h.epochs);
    if (h.epochs == 30 && h.val_loss) {
        CHECK(h.loss[29] < 0.2 * h.loss[0], "loss did not fall: %g -> %g", h.loss[0], h.loss[29]);
        /* Keras validates on the LAST 25 %: val_loss equals evaluate on that tail. */
        double tail;
        CHECK(rnn_evaluate(m,
                           rnn_data_xy(rnn_tensor3(x + 192 * T, 64, T, 1), rnn_tensor2(y + 192, 64, 1)),
                           32, &tail, NULL) == RNN_OK, "evaluate");
        CHECK_CLOSE(h.val_loss[29], tail, 1e-9, 1e-6, "val_loss = evaluate(last 25%)");
    }
    rnn_history_free(&h);
    /* train_on_batch returns the loss before the update: equal to evaluate just before. */
    double before, reported, after;
    rnn_tensor xb = rnn_tensor3(x, 16, T, 1), yb = rnn_tensor2(y, 16, 1);
    rnn_evaluate(m, rnn_data_xy(xb, yb), 16, &before, NULL);
    CHECK(rnn_train_on_batch(m, rnn_data_xy(xb, yb), &reported) == RNN_OK, "train_on_batch");
    rnn_evaluate(m, rnn_data_xy(xb, yb), 16, &after, NULL);
    CHECK_CLOSE(reported, before, 1e-7, 1e-5, "train_on_batch loss is the loss before the update");
    CHECK(after != before, "train_on_batch did not change the weights");
    /* y given as (N,) for an (N, 1) output is accepted, as in Keras. */
    CHECK(rnn_evaluate(m, rnn_data_xy(xb, rnn_tensor1(y, 16)), 16, &after, NULL) == RNN_OK, "y of rank 1: %s",
          rnn_last_error());
    rnn_model_free(m);
}

static void test_determinism(void) {
    enum { N = 64, T = 5 };
    static float x[N * T], y[N];
    make_task(x, y, N, T, 9);
    float w[2][4 * 8];
    for (int run = 0; run < 2; run++) {
        rnn_model *m = lstm_model(0, T, 1, 8, 0, 0);
        rnn_set_seed(m, 1234);
        rnn_fit_options fo = rnn_fit_defaults();
        fo.epochs = 3;
        fo.batch_size = 8;
        fo.verbose = 0;
        rnn_fit(m, rnn_data_xy(rnn_tensor3(x, N, T, 1), rnn_tensor2(y, N, 1)), &fo, NULL);
        CHECK(rnn_get_weight(m, 0, w[run], 4 * 8) == RNN_OK, "get_weight");
        rnn_model_free(m);
    }
    CHECK(memcmp(w[0], w[1], sizeof w[0]) == 0, "same seed, different weights");
}

/* Adam and SGD against the formulas written out in double. */
static void test_optimizers(void) {
    float p[5], g[5], mm[5] = {0}, vv[5] = {0};
    double rp[5], rm[5] = {0}, rv[5] = {0};
    uint64_t s = 5;
    for (int i = 0; i < 5; i++) rp[i] = p[i] = frand(&s);
    rnn_optimizer adam = rnn_adam_defaults();
    CHECK(adam.learning_rate == 0.001f && adam.beta_1 == 0.9f && adam.beta_2 == 0.999f &&
          adam.epsilon == 1e-7f, "Adam defaults are not Keras 3's");
    for (int step = 1; step <= 5; step++) {
        for (int i = 0; i < 5; i++) g[i] = frand(&s);
        rnn__optimizer_apply(&adam, rnn__optimizer_lr(&adam, step - 1), p, g, mm, vv, NULL, 5, step);
        double alpha = 0.001 * sqrt(1 - pow(0.999, step)) / (1 - pow(0.9, step));
        for (int i = 0; i < 5; i++) {
            rm[i] = 0.9 * rm[i] + 0.1 * g[i];
            rv[i] = 0.999 * rv[i] + 0.001 * (double)g[i] * g[i];
            rp[i] -= alpha * rm[i] / (sqrt(rv[i]) + 1e-7);
        }
    }
    for (int i = 0; i < 5; i++) CHECK_CLOSE(p[i], rp[i], 1e-6, 1e-5, "Adam after 5 steps");
    rnn_optimizer sgd = rnn_sgd_defaults();
    sgd.momentum = 0.9f;
    for (int nest = 0; nest < 2; nest++) {
        sgd.nesterov = nest;
        float q[3] = {1, 2, 3}, gq[3] = {0.5f, -1, 2}, vel[3] = {0};
        double rq[3] = {1, 2, 3}, rvel[3] = {0};
        for (int step = 1; step <= 3; step++) {
            rnn__optimizer_apply(&sgd, rnn__optimizer_lr(&sgd, step - 1), q, gq, vel, NULL, NULL, 3, step);
            for (int i = 0; i < 3; i++) {
                rvel[i] = 0.9 * rvel[i] - 0.01 * gq[i];
                rq[i] += nest ? 0.9 * rvel[i] - 0.01 * gq[i] : rvel[i];
            }
        }
        for (int i = 0; i < 3; i++) CHECK_CLOSE(q[i], rq[i], 1e-6, 1e-5, "SGD momentum");
    }
}

/* Stateful: row i of batch k+1 continues row i of batch k; predict keeps state until reset. */
static void test_stateful(void) {
    enum { B = 3, T = 4, F = 2, H = 5 };
    static float x[2 * B * T * F];
    uint64_t s = 77;
    for (int i = 0; i < 2 * B * T * F; i++) x[i] = frand(&s);
    rnn_model *m = lstm_model(B, T, F, H, 1, 0);
    /* A non-stateful model with the same weights over 2T steps is the reference. */
    rnn_model *ref = lstm_model(0, RNN_NONE, F, H, 0, 0);
    CHECK(rnn_copy_weights(ref, m) == RNN_OK, "copy_weights: %s", rnn_last_error());
    /* Chunks: x[:, 0:T] then x[:, T:2T], from one (B, 2T, F) array. */
    static float whole[B * 2 * T * F], c1[B * T * F], c2[B * T * F];
    memcpy(whole, x, sizeof whole);
    for (int b = 0; b < B; b++) {
        memcpy(c1 + b * T * F, whole + b * 2 * T * F, sizeof(float) * T * F);
        memcpy(c2 + b * T * F, whole + b * 2 * T * F + T * F, sizeof(float) * T * F);
    }
    rnn_tensor y1, y2, yref, yfresh;
    CHECK(rnn_predict(m, rnn_data_x(rnn_tensor3(c1, B, T, F)), B, &y1, 1) == RNN_OK, "%s", rnn_last_error());
    CHECK(rnn_predict(m, rnn_data_x(rnn_tensor3(c2, B, T, F)), B, &y2, 1) == RNN_OK, "%s", rnn_last_error());
    CHECK(rnn_predict(ref, rnn_data_x(rnn_tensor3(whole, B, 2 * T, F)), B, &yref, 1) == RNN_OK, "%s", rnn_last_error());
    for (int b = 0; b < B; b++) CHECK_CLOSE(y2.data[b], yref.data[b], 1e-6, 1e-5, "chunked == whole");
    /* reset_states really resets: chunk 2 alone from zero state. */
    rnn_reset_states(m);
    CHECK(rnn_predict(m, rnn_data_x(rnn_tensor3(c2, B, T, F)), B, &yfresh, 1) == RNN_OK, "%s", rnn_last_error());
    rnn_tensor yref2;
    rnn_predict(ref, rnn_data_x(rnn_tensor3(c2, B, T, F)), B, &yref2, 1);
    int differs = 0;
    for (int b = 0; b < B; b++) {
        CHECK_CLOSE(yfresh.data[b], yref2.data[b], 1e-6, 1e-5, "after reset == fresh");
        differs += fabsf(yfresh.data[b] - y2.data[b]) > 1e-4f;
    }
    CHECK(differs > 0, "the carried state made no difference");
    /* A stateful model rejects other batch sizes. */
    rnn_tensor bad;
    CHECK(rnn_predict(m, rnn_data_x(rnn_tensor3(c1, 2, T, F)), 2, &bad, 1) == RNN_ERR_STATE,
          "batch 2 on a stateful batch-3 model was accepted");
    CHECK(strstr(rnn_model_error(m), "stateful") != NULL, "message: %s", rnn_model_error(m));
    /* States survive fit: fit on chunk 1 (one batch) then predict chunk 2 continues it. */
    rnn_reset_states(m);
    float yt[B] = {0.1f, 0.2f, 0.3f};
    rnn_fit_options fo = rnn_fit_defaults();
    fo.batch_size = B;
    fo.shuffle = 0;
    fo.verbose = 0;
    CHECK(rnn_fit(m, rnn_data_xy(rnn_tensor3(c1, B, T, F), rnn_tensor2(yt, B, 1)), &fo, NULL) == RNN_OK, "%s",
          rnn_last_error());
    rnn_tensor y3;
    rnn_predict(m, rnn_data_x(rnn_tensor3(c2, B, T, F)), B, &y3, 1);
    rnn_copy_weights(ref, m);
    rnn_tensor yref3;
    rnn_predict(ref, rnn_data_x(rnn_tensor3(whole, B, 2 * T, F)), B, &yref3, 1);
    /* fit's forward ran on the pre-update weights, so compare with tolerance for that update:
     * the state was carried (differs from a fresh start) if y3 is closer to yref3. */
    rnn_reset_states(m);
    rnn_tensor y4;
    rnn_predict(m, rnn_data_x(rnn_tensor3(c2, B, T, F)), B, &y4, 1);
    double d_carried = 0, d_fresh = 0;
    for (int b = 0; b < B; b++) {
        d_carried += fabs(y3.data[b] - yref3.data[b]);
        d_fresh += fabs(y4.data[b] - yref3.data[b]);
    }
    CHECK(d_carried < d_fresh, "state after fit was not carried into predict (%g vs %g)",
          d_carried, d_fresh);
    rnn_tensor *all[] = {&y1, &y2, &yref, &yfresh, &yref2, &y3, &yref3, &y4};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rnn_tensor_free(all[i]);
    rnn_model_free(m);
    rnn_model_free(ref);
}

/* Streaming one step at a time equals predicting the whole sequence, allocates nothing after
 * its first call, and batch 400 of parallel sequences works. */
static void test_stream(void) {
    enum { T = 12, F = 3 };
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, RNN_NONE, F);
    rnn_recurrent_options a = rnn_lstm_defaults(6);
    a.return_sequences = 1;
    rnn_add(m, rnn_lstm(&a));
    rnn_recurrent_options b = rnn_gru_defaults(5);
    b.return_sequences = 1;
    rnn_add(m, rnn_gru(&b));
    rnn_add(m, rnn_dense_simple(2, RNN_TANH));
    static float x[T * F];
    uint64_t s = 11;
    for (int i = 0; i < T * F; i++) x[i] = frand(&s);
    rnn_tensor full;
    CHECK(rnn_predict(m, rnn_data_x(rnn_tensor3(x, 1, T, F)), 1, &full, 1) == RNN_OK, "%s", rnn_last_error());
    float y[2];
    uint64_t allocs = 0;
    for (int t = 0; t < T; t++) {
        CHECK(rnn_predict_step(m, x + t * F, y) == RNN_OK, "step: %s", rnn_last_error());
        if (t == 0) allocs = rnn__allocation_count();
        for (int k = 0; k < 2; k++) CHECK_CLOSE(y[k], full.data[t * 2 + k], 1e-6, 1e-5, "step == full");
    }
    CHECK(rnn__allocation_count() == allocs, "predict_step allocated %llu times after its first call",
          (unsigned long long)(rnn__allocation_count() - allocs));
    rnn_reset_states(m);
    rnn_predict_step(m, x, y);
    CHECK_CLOSE(y[0], full.data[0], 1e-6, 1e-5, "reset_states restarts the stream");
    rnn_tensor_free(&full);
    rnn_model_free(m);

    /* 400 parallel series in one stateful batch, each row with its own state. */
    enum { B = 400 };
    rnn_model *p = lstm_model(B, 1, 1, 4, 1, 0);
    static float xb[B], yb[B], y1[B];
    for (int i = 0; i < B; i++) xb[i] = (float)i / B;
    CHECK(rnn_predict_step(p, xb, yb) == RNN_OK, "batch 400 step: %s", rnn_last_error());
    CHECK(rnn_predict_step(p, xb, y1) == RNN_OK, "batch 400 step 2");
    int moved = 0;
    for (int i = 0; i < B; i++) moved += y1[i] != yb[i];
    CHECK(moved > B / 2, "state not carried in batch 400");
    CHECK(yb[0] != yb[B - 1], "rows are not independent");
    rnn_model_free(p);
}

static void test_variable_length(void) {
    rnn_model *m = lstm_model(0, RNN_NONE, 2, 4, 0, 1);
    int lengths[] = {3, 17, 1};
    float x[2 * 17 * 2], y[2 * 17];
    uint64_t s = 3;
    for (int i = 0; i < 2 * 17 * 2; i++) x[i] = frand(&s);
    for (int i = 0; i < 2 * 17; i++) y[i] = frand(&s);
    for (int k = 0; k < 3; k++) {
        int T = lengths[k];
        rnn_tensor out;
        CHECK(rnn_predict(m, rnn_data_x(rnn_tensor3(x, 2, T, 2)), 2, &out, 1) == RNN_OK, "T=%d: %s", T, rnn_last_error());
        CHECK(out.rank == 3 && out.shape[0] == 2 && out.shape[1] == T && out.shape[2] == 1,
              "T=%d: output shape", T);
        rnn_tensor_free(&out);
        double loss;
        CHECK(rnn_train_on_batch(m, rnn_data_xy(rnn_tensor3(x, 2, T, 2), rnn_tensor3(y, 2, T, 1)),
                                 &loss) == RNN_OK,
              "train T=%d: %s", T, rnn_last_error());
    }
    rnn_model_free(m);
}

int main(void) {
    test_summary();
    test_training_learns();
    test_determinism();
    test_optimizers();
    test_stateful();
    test_stream();
    test_variable_length();
    return check_report("test_model");
}
