/* Functional and nested models, metrics, callbacks and batch sources through the public API:
 * weights shared between an autoencoder and its encoder; return_state outputs; the summary's
 * "Connected to"; accuracy; EarlyStopping with restore_best_weights; the epoch callback; fit
 * from a batch source equal to fit from arrays; a stateful model fed a long series in pieces
 * equal to one pass; the scenario-7 forecasting loop equal to one long stateful pass; and the
 * bad-input errors of the patterns; Bidirectional against its definition. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "rnn.h"

static uint64_t seed = 5;
static float frand(void) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((seed >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

static void nested_sharing(void) {
    enum { N = 32, T = 5, F = 2, H = 3 };
    static float x[N * T * F];
    for (int i = 0; i < N * T * F; i++) x[i] = 0.5f * sinf(0.3f * (float)i);
    rnn_symbol *ein = rnn_input_new(RNN_NONE, T, F, NULL);
    rnn_recurrent_options e = rnn_lstm_defaults(H);
    rnn_model *encoder = rnn_model_simple(ein, rnn_call(rnn_lstm(&e), ein), "encoder");
    rnn_symbol *din = rnn_input_new(RNN_NONE, 0, H, NULL);
    rnn_recurrent_options d = rnn_lstm_defaults(F);
    d.return_sequences = 1;
    rnn_model *decoder = rnn_model_simple(din, rnn_call(rnn_lstm(&d), rnn_call(rnn_repeat_vector(T), din)),
                                          "decoder");
    rnn_symbol *ain = rnn_input_new(RNN_NONE, T, F, NULL);
    rnn_model *ae = rnn_model_simple(ain, rnn_call_model(decoder, rnn_call_model(encoder, ain)), "autoencoder");
    CHECK(ae != NULL, "autoencoder: %s", rnn_last_error());
    if (!ae) return;
    CHECK(rnn_weight_count(ae) == rnn_weight_count(encoder) + rnn_weight_count(decoder),
          "weights: %d vs %d + %d", rnn_weight_count(ae), rnn_weight_count(encoder),
          rnn_weight_count(decoder));
    CHECK(rnn_compile(ae, "mse", "adam") == RNN_OK, "%s", rnn_last_error());
    float before[2 * 4 * H];
    rnn_get_weight(encoder, 0, before, F * 4 * H);
    rnn_fit_options fo = rnn_fit_defaults();
    fo.epochs = 20;
    fo.batch_size = 8;
    fo.verbose = 0;
    rnn_history h;
    rnn_tensor X = rnn_tensor3(x, N, T, F);
    CHECK(rnn_fit(ae, rnn_data_xy(X, X), &fo, &h) == RNN_OK, "fit: %s", rnn_last_error());
    CHECK(h.epochs == 20 && h.loss[19] < h.loss[0], "reconstruction error did not fall: %g -> %g",
          h.loss[0], h.epochs ? h.loss[h.epochs - 1] : 0);
    rnn_history_free(&h);
    float after[2 * 4 * H], via_ae[2 * 4 * H];
    rnn_get_weight(encoder, 0, after, F * 4 * H);
    rnn_get_weight(ae, 0, via_ae, F * 4 * H);
    CHECK(memcmp(before, after, sizeof after) != 0, "training the autoencoder left the encoder as it was");
    CHECK(memcmp(after, via_ae, sizeof after) == 0, "encoder and autoencoder weights differ");
    rnn_tensor code;
    CHECK(rnn_predict(encoder, rnn_data_x(X), 32, &code, 1) == RNN_OK && code.rank == 2 && code.shape[1] == H,
          "encoder predict: %s", rnn_last_error());
    rnn_tensor_free(&code);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    rnn_summary(ae, f);
    fclose(f);
    CHECK(strstr(text, "encoder (Functional)") && strstr(text, "decoder (Functional)") &&
          strstr(text, "input_layer (InputLayer)"), "summary:\n%s", text);
    free(text);
    rnn_model_free(encoder); /* the autoencoder keeps its parts alive */
    rnn_model_free(decoder);
    CHECK(rnn_predict(ae, rnn_data_x(X), 32, &code, 1) == RNN_OK, "autoencoder after freeing its parts' handles");
    rnn_tensor_free(&code);
    rnn_model_free(ae);
}

static void multi_output(void) {
    enum { N = 4, T = 3, F = 2 };
    static float x[N * T * F];
    for (int i = 0; i < N * T * F; i++) x[i] = frand();
    rnn_symbol *in = rnn_input_new(RNN_NONE, T, F, NULL), *out[3];
    rnn_recurrent_options o = rnn_lstm_defaults(4);
    o.return_state = 1;
    int n = 0;
    CHECK(rnn_call_ex(rnn_lstm(&o), &in, 1, out, &n) == RNN_OK && n == 3, "return_state: %d", n);
    rnn_model *m = rnn_model_new(&in, 1, out, 3, NULL);
    CHECK(m != NULL, "%s", rnn_last_error());
    rnn_tensor y[3];
    rnn_tensor X = rnn_tensor3(x, N, T, F);
    CHECK(rnn_predict(m, rnn_data_arrays(&X, 1, NULL, 0), 32, y, 3) == RNN_OK, "%s", rnn_last_error());
    CHECK(memcmp(y[0].data, y[1].data, sizeof(float) * N * 4) == 0, "output != h");
    int differs = 0;
    for (int i = 0; i < N * 4; i++) differs += y[2].data[i] != y[1].data[i];
    CHECK(differs > 0, "c equals h");
    for (int k = 0; k < 3; k++) rnn_tensor_free(&y[k]);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    rnn_summary(m, f);
    fclose(f);
    CHECK(strstr(text, "Connected to") && strstr(text, "input_layer[0][0]") &&
          strstr(text, "[(None, 4), (None, 4), (None, 4)]"), "summary:\n%s", text);
    free(text);
    rnn_model_free(m);
}

static void metrics_and_callbacks(void) {
    enum { N = 96, T = 4, F = 1, C = 3 };
    static float x[N * T * F], y[N];
    for (int i = 0; i < N; i++) {
        float s = 0;
        for (int t = 0; t < T; t++) s += (x[i * T + t] = frand());
        y[i] = s < -0.5f ? 0 : s < 0.5f ? 1 : 2;
    }
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, T, F);
    rnn_recurrent_options o = rnn_gru_defaults(8);
    rnn_add(m, rnn_gru(&o));
    rnn_dense_options d = rnn_dense_defaults(C);
    d.activation = RNN_SOFTMAX;
    rnn_add(m, rnn_dense(&d));
    rnn_optimizer adam = rnn_adam_defaults();
    adam.learning_rate = 0.02f;
    CHECK(rnn_compile_with(m, "sparse_categorical_crossentropy", &adam) == RNN_OK, "%s", rnn_last_error());
    CHECK(rnn_add_metric(m, "accuracy") == RNN_OK, "%s", rnn_last_error());
    rnn_fit_options fo = rnn_fit_defaults();
    fo.epochs = 40;
    fo.batch_size = 16;
    fo.verbose = 2;
    fo.validation_split = 0.25f;
    fo.early_stopping.enabled = 1;
    fo.early_stopping.monitor = "val_accuracy";
    fo.early_stopping.patience = 3;
    fo.early_stopping.restore_best_weights = 1;
    char *text = NULL;
    size_t len = 0;
    fo.out = open_memstream(&text, &len);
    rnn_history h;
    rnn_tensor X = rnn_tensor3(x, N, T, F), Y = rnn_tensor1(y, N);
    CHECK(rnn_fit(m, rnn_data_xy(X, Y), &fo, &h) == RNN_OK, "fit: %s", rnn_last_error());
    fclose(fo.out);
    CHECK(strstr(text, " - accuracy: ") && strstr(text, " - loss: ") && strstr(text, " - val_accuracy: "),
          "progress lines lack the metrics:\n%.400s", text);
    CHECK(strstr(text, "accuracy") < strstr(text, "loss"), "keys not in Keras's sorted order");
    free(text);
    CHECK(h.n_metrics == 1 && !strcmp(h.metric_names[0], "accuracy"), "history metrics");
    if (h.epochs > 0 && h.val_metric[0]) {
        CHECK(h.metric[0][h.epochs - 1] > 0.6, "accuracy stayed at %g", h.metric[0][h.epochs - 1]);
        /* restore_best_weights: evaluating the validation tail gives the best epoch's value */
        if (h.stopped_early) {
            double loss, acc;
            rnn_evaluate(m, rnn_data_xy(rnn_tensor3(x + 72 * T, 24, T, F), rnn_tensor1(y + 72, 24)),
                         16, &loss, &acc);
            CHECK_CLOSE(acc, h.val_metric[0][h.best_epoch], 1e-9, 0, "restored best weights");
            CHECK(h.epochs - 1 - h.best_epoch >= 3, "stopped before patience ran out");
        }
    }
    rnn_history_free(&h);
    rnn_model_free(m);
}

static int stop_after_two(void *user, int epoch, const rnn_history *h) {
    (void)h;
    ++*(int *)user;
    return epoch >= 1;
}

static void epoch_callback(void) {
    float x[8] = {0, 1, 2, 3, 4, 5, 6, 7}, y[4] = {1, 2, 3, 4};
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, 2, 1);
    rnn_recurrent_options o = rnn_simple_rnn_defaults(2);
    rnn_add(m, rnn_simple_rnn(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_compile(m, "mse", "sgd");
    rnn_fit_options fo = rnn_fit_defaults();
    fo.verbose = 0;
    fo.epochs = 10;
    int calls = 0;
    fo.user = &calls;
    fo.on_epoch_end = stop_after_two;
    rnn_history h;
    CHECK(rnn_fit(m, rnn_data_xy(rnn_tensor3(x, 4, 2, 1), rnn_tensor2(y, 4, 1)), &fo, &h) == RNN_OK, "fit");
    CHECK(calls == 2 && h.epochs == 2 && h.stopped_early, "callback: %d calls, %d epochs", calls, h.epochs);
    rnn_history_free(&h);
    rnn_model_free(m);
}

/* A batch source over a long series: batch k is rows [k*B, (k+1)*B). */
typedef struct {
    float *x, *y;
    int64_t B, T, F;
    int epochs_ended;
} series_source;

static rnn_status series_get(void *user, int64_t index, rnn_tensor *x, rnn_tensor *y) {
    series_source *s = user;
    x[0] = rnn_tensor3(s->x + index * s->B * s->T * s->F, s->B, s->T, s->F);
    y[0] = rnn_tensor2(s->y + index * s->B, s->B, 1);
    return RNN_OK;
}

static void series_epoch_end(void *user) { ((series_source *)user)->epochs_ended++; }

static void batch_sources(void) {
    enum { N = 40, T = 6, F = 2, B = 8 };
    static float x[N * T * F], y[N];
    for (int i = 0; i < N * T * F; i++) x[i] = frand();
    for (int i = 0; i < N; i++) y[i] = frand();
    float w_arrays[F * 4 * 5], w_source[F * 4 * 5];
    for (int run = 0; run < 2; run++) {
        rnn_model *m = rnn_sequential(NULL);
        rnn_set_seed(m, 3);
        rnn_input(m, T, F);
        rnn_recurrent_options o = rnn_lstm_defaults(5);
        rnn_add(m, rnn_lstm(&o));
        rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
        rnn_compile(m, "mse", "adam");
        rnn_fit_options fo = rnn_fit_defaults();
        fo.verbose = 0;
        fo.epochs = 3;
        fo.batch_size = B;
        fo.shuffle = 0;
        if (run == 0) {
            CHECK(rnn_fit(m, rnn_data_xy(rnn_tensor3(x, N, T, F), rnn_tensor2(y, N, 1)), &fo, NULL) == RNN_OK, "fit");
            rnn_get_weight(m, 0, w_arrays, F * 4 * 5);
        } else {
            series_source s = {x, y, B, T, F, 0};
            rnn_batch_source src = {N / B, series_get, series_epoch_end, &s, NULL};
            fo.validation_source = &src;
            CHECK(rnn_fit(m, rnn_data_source(&src), &fo, NULL) == RNN_OK, "fit_source: %s", rnn_last_error());
            CHECK(s.epochs_ended == 3, "on_epoch_end called %d times (once per training epoch)", s.epochs_ended);
            rnn_get_weight(m, 0, w_source, F * 4 * 5);
            double l1, l2;
            rnn_evaluate(m, rnn_data_source(&src), 0, &l1, NULL);
            rnn_evaluate(m, rnn_data_xy(rnn_tensor3(x, N, T, F), rnn_tensor2(y, N, 1)), B, &l2,
                         NULL);
            CHECK_CLOSE(l1, l2, 1e-9, 1e-6, "evaluate_source == evaluate");
        }
        rnn_model_free(m);
    }
    CHECK(memcmp(w_arrays, w_source, sizeof w_arrays) == 0, "fit from a source differs from fit on arrays");
}

/* A series larger than we pretend memory is: saved as .npy, mapped, fed in pieces to a stateful
 * model through an array source; equal to fitting on the arrays in memory. */
static void mapped_series(void) {
    enum { N = 24, T = 5, F = 1, B = 4 };
    static float x[N * T * F], y[N];
    for (int i = 0; i < N * T; i++) x[i] = sinf(0.2f * (float)i);
    for (int i = 0; i < N; i++) y[i] = cosf(0.3f * (float)i);
    char xp[] = "/tmp/rnn_map_xXXXXXX", yp[] = "/tmp/rnn_map_yXXXXXX";
    int fx = mkstemp(xp), fy = mkstemp(yp);
    if (fx < 0 || fy < 0) {
        CHECK(0, "mkstemp failed");
        return;
    }
    close(fx);
    close(fy);
    rnn_tensor X = rnn_tensor3(x, N, T, F), Y = rnn_tensor2(y, N, 1);
    CHECK(rnn_npy_save(xp, &X) == RNN_OK && rnn_npy_save(yp, &Y) == RNN_OK, "save: %s", rnn_last_error());
    rnn_tensor mx, my;
    rnn_npy_map *hx = NULL, *hy = NULL;
    CHECK(rnn_npy_map_open(xp, &mx, &hx) == RNN_OK && rnn_npy_map_open(yp, &my, &hy) == RNN_OK,
          "map: %s", rnn_last_error());
    float w[2][F * 4 * 3];
    for (int run = 0; run < 2 && hx && hy; run++) {
        rnn_model *m = rnn_sequential(NULL);
        rnn_set_seed(m, 8);
        rnn_batch_input(m, B, T, F);
        rnn_recurrent_options o = rnn_lstm_defaults(3);
        o.stateful = 1;
        rnn_add(m, rnn_lstm(&o));
        rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
        rnn_compile(m, "mse", "adam");
        rnn_fit_options fo = rnn_fit_defaults();
        fo.verbose = 0;
        fo.epochs = 2;
        fo.batch_size = B;
        fo.shuffle = 0;
        if (run == 0) {
            CHECK(rnn_fit(m, rnn_data_xy(X, Y), &fo, NULL) == RNN_OK, "fit: %s", rnn_last_error());
        } else {
            rnn_batch_source src;
            rnn_array_source_state st;
            CHECK(rnn_array_source(&src, &st, mx, my, B) == RNN_OK, "%s", rnn_last_error());
            CHECK(rnn_fit(m, rnn_data_source(&src), &fo, NULL) == RNN_OK, "fit_source: %s", rnn_last_error());
        }
        rnn_get_weight(m, 0, w[run], F * 4 * 3);
        rnn_model_free(m);
    }
    CHECK(memcmp(w[0], w[1], sizeof w[0]) == 0, "stateful fit from the mapped file differs");
    rnn_npy_map_close(hx);
    rnn_npy_map_close(hy);
    unlink(xp);
    unlink(yp);
    CHECK(rnn_npy_map_open("/nonexistent.npy", &mx, &hx) == RNN_ERR_IO, "missing file mapped");
}

/* Scenario 7: warm up on the known sequence, then feed predictions back without resetting:
 * the same numbers as one stateful pass over [known, predictions]. */
static void forecasting_loop(void) {
    enum { T0 = 20, AHEAD = 10 };
    rnn_model *m = rnn_sequential(NULL);
    rnn_batch_input(m, 1, RNN_NONE, 1);
    rnn_recurrent_options o = rnn_lstm_defaults(6);
    o.return_sequences = 1;
    o.stateful = 1;
    rnn_add(m, rnn_lstm(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    float seq[T0 + AHEAD];
    for (int t = 0; t < T0; t++) seq[t] = sinf(0.4f * (float)t);
    rnn_tensor y;
    CHECK(rnn_predict(m, rnn_data_x(rnn_tensor3(seq, 1, T0, 1)), 1, &y, 1) == RNN_OK, "warm-up: %s", rnn_last_error());
    seq[T0] = y.data[T0 - 1];
    rnn_tensor_free(&y);
    for (int k = 1; k < AHEAD; k++) { /* one step at a time, no reset */
        CHECK(rnn_predict(m, rnn_data_x(rnn_tensor3(seq + T0 + k - 1, 1, 1, 1)), 1, &y, 1) == RNN_OK, "step");
        seq[T0 + k] = y.data[0];
        rnn_tensor_free(&y);
    }
    rnn_reset_states(m);
    CHECK(rnn_predict(m, rnn_data_x(rnn_tensor3(seq, 1, T0 + AHEAD - 1, 1)), 1, &y, 1) == RNN_OK, "one pass");
    for (int k = 0; k < AHEAD; k++)
        CHECK_CLOSE(y.data[T0 - 1 + k], seq[T0 + k], 1e-6, 1e-5, "feedback loop == one pass");
    rnn_tensor_free(&y);
    rnn_model_free(m);
}

static void pattern_errors(void) {
    /* ids out of range */
    rnn_symbol *in = rnn_ids_input_new(RNN_NONE, 3, NULL);
    rnn_embedding_options eo = rnn_embedding_defaults(5, 2);
    /* a failed call passes NULL on, and the model built from it fails with the first reason */
    rnn_recurrent_options zero = rnn_lstm_defaults(0);
    rnn_symbol *bad = rnn_call(rnn_dense_simple(1, RNN_LINEAR), rnn_call(rnn_lstm(&zero), in));
    rnn_model *m = rnn_model_simple(in, bad, NULL);
    CHECK(m == NULL && strstr(rnn_last_error(), "units"), "a model from a failed call: %s",
          rnn_last_error());
    rnn_symbol *h = rnn_call(rnn_embedding(&eo), in);
    rnn_recurrent_options o = rnn_gru_defaults(2);
    m = rnn_model_simple(in, rnn_call(rnn_gru(&o), h), NULL);
    CHECK(m != NULL, "%s", rnn_last_error());
    float ids[6] = {1, 2, 3, 4, 5, 0}, half[6] = {1, 2.5f, 0, 0, 0, 0};
    rnn_tensor y;
    CHECK(rnn_predict(m, rnn_data_x(rnn_tensor2(ids, 2, 3)), 2, &y, 1) == RNN_ERR_ARGUMENT &&
          strstr(rnn_last_error(), "token id 5"), "id out of range: %s", rnn_last_error());
    CHECK(rnn_predict(m, rnn_data_x(rnn_tensor2(half, 2, 3)), 2, &y, 1) == RNN_ERR_ARGUMENT, "id 2.5 accepted");
    /* wrong input count */
    rnn_tensor two[2] = {rnn_tensor2(ids, 2, 3), rnn_tensor2(ids, 2, 3)};
    CHECK(rnn_predict(m, rnn_data_arrays(two, 2, NULL, 0), 2, &y, 1) == RNN_ERR_ARGUMENT &&
          strstr(rnn_last_error(), "1 input"), "two inputs for one: %s", rnn_last_error());
    /* a loss that does not fit the output */
    rnn_compile(m, "sparse_categorical_crossentropy", "adam");
    float t[6] = {0};
    double loss;
    CHECK(rnn_train_on_batch(m, rnn_data_xy(rnn_tensor2(ids, 2, 3), rnn_tensor2(t, 2, 3)), &loss) == RNN_ERR_SHAPE,
          "targets of the wrong shape: %s", rnn_last_error());
    float t2[2] = {0, 7};
    ids[4] = 1;
    CHECK(rnn_train_on_batch(m, rnn_data_xy(rnn_tensor2(ids, 2, 3), rnn_tensor1(t2, 2)), &loss) == RNN_ERR_ARGUMENT &&
          strstr(rnn_last_error(), "class id"), "class 7 of 2: %s", rnn_last_error());
    CHECK(rnn_add_metric(m, "precision") == RNN_ERR_ARGUMENT, "unknown metric accepted");
    rnn_model_free(m);
    /* graph disconnected, layer called twice, wrong ranks */
    rnn_symbol *a = rnn_input_new(RNN_NONE, 3, 2, "a"), *b = rnn_input_new(RNN_NONE, 3, 2, "b");
    rnn_layer *lstm = rnn_lstm(&(rnn_recurrent_options){.units = 2, .activation = RNN_TANH,
                                                        .recurrent_activation = RNN_SIGMOID});
    rnn_symbol *ha = rnn_call(lstm, a);
    CHECK(rnn_call(lstm, b) == NULL && strstr(rnn_last_error(), "already called"), "%s", rnn_last_error());
    CHECK(rnn_model_simple(b, ha, NULL) == NULL && strstr(rnn_last_error(), "Graph disconnected"),
          "%s", rnn_last_error());
    CHECK(rnn_call(rnn_repeat_vector(3), a) == NULL && strstr(rnn_last_error(), "expected ndim=2"),
          "%s", rnn_last_error());
    CHECK(rnn_call(rnn_time_distributed(rnn_dense_simple(2, RNN_LINEAR)), ha) == NULL,
          "TimeDistributed on rank 2 accepted");
    CHECK(rnn_call(rnn_dropout(1.5f), a) == NULL, "Dropout(1.5) accepted");
    rnn_recurrent_options sm = rnn_lstm_defaults(2);
    sm.activation = RNN_SOFTMAX;
    CHECK(rnn_call(rnn_lstm(&sm), a) == NULL, "LSTM with softmax accepted");
    rnn_model *ok = rnn_model_simple(a, ha, NULL);
    CHECK(ok != NULL, "the graph is still usable after the errors: %s", rnn_last_error());
    rnn_input_free(b); /* no model took it */
    rnn_input_free(a); /* a model holds it: nothing happens */
    CHECK(rnn_add(ok, rnn_dense_simple(1, RNN_LINEAR)) == RNN_ERR_STATE, "rnn_add on a functional model");
    rnn_model_free(ok);
}

/* Streaming a character model one id at a time equals predicting the whole id sequence. */
static void stream_ids(void) {
    rnn_symbol *in = rnn_ids_input_new(1, RNN_NONE, NULL);
    rnn_recurrent_options a = rnn_gru_defaults(8);
    a.return_sequences = 1;
    a.stateful = 1;
    rnn_embedding_options e = rnn_embedding_defaults(5, 4);
    rnn_dense_options d = rnn_dense_defaults(5);
    d.activation = RNN_SOFTMAX;
    rnn_symbol *h = rnn_call(rnn_gru(&a), rnn_call(rnn_embedding(&e), in));
    rnn_model *m = rnn_model_simple(in, rnn_call(rnn_time_distributed(rnn_dense(&d)), h), NULL);
    float ids[6] = {1, 4, 2, 0, 3, 3}, y[5];
    rnn_tensor whole;
    CHECK(m && rnn_predict(m, rnn_data_x(rnn_tensor2(ids, 1, 6)), 1, &whole, 1) == RNN_OK, "%s", rnn_last_error());
    rnn_reset_states(m);
    for (int t = 0; t < 6; t++) {
        CHECK(rnn_predict_step(m, &ids[t], y) == RNN_OK, "step with ids: %s", rnn_last_error());
        for (int k = 0; k < 5; k++) CHECK_CLOSE(y[k], whole.data[t * 5 + k], 1e-6, 1e-5, "ids stream");
    }
    rnn_tensor_free(&whole);
    rnn_model_free(m);
}

/* ModelCheckpoint: one file per epoch, named from the epoch and the logs; with save_best_only
 * only improvements are written. Each file loads and predicts like the model at that epoch. */
static void checkpoints(void) {
    char dir[] = "/tmp/rnn_ckptXXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    float x[24], y[8];
    for (int i = 0; i < 24; i++) x[i] = sinf((float)i);
    for (int i = 0; i < 8; i++) y[i] = cosf((float)i);
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, 3, 1);
    rnn_recurrent_options o = rnn_gru_defaults(3);
    rnn_add(m, rnn_gru(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_compile(m, "mse", "adam");
    char pattern[256], path[300];
    snprintf(pattern, sizeof pattern, "%s/model_{epoch:02d}.keras", dir);
    rnn_fit_options fo = rnn_fit_defaults();
    fo.verbose = 0;
    fo.epochs = 3;
    fo.checkpoint.filepath = pattern;
    rnn_status st = rnn_fit(m, rnn_data_xy(rnn_tensor3(x, 8, 3, 1), rnn_tensor2(y, 8, 1)), &fo,
                            NULL);
    if (st == RNN_ERR_UNSUPPORTED) { /* built without the Keras file libraries */
        fprintf(stderr, "checkpoints: skipped (%s)\n", rnn_last_error());
        rnn_model_free(m);
        return;
    }
    CHECK(st == RNN_OK, "fit with checkpoints: %s", rnn_last_error());
    for (int e = 1; e <= 3; e++) {
        snprintf(path, sizeof path, "%s/model_%02d.keras", dir, e);
        CHECK(access(path, R_OK) == 0, "no checkpoint %s", path);
    }
    rnn_model *back = rnn_load(path);
    CHECK(back != NULL, "load %s: %s", path, rnn_last_error());
    if (back) {
        rnn_tensor a, b;
        rnn_predict(m, rnn_data_x(rnn_tensor3(x, 8, 3, 1)), 8, &a, 1);
        rnn_predict(back, rnn_data_x(rnn_tensor3(x, 8, 3, 1)), 8, &b, 1);
        CHECK(memcmp(a.data, b.data, sizeof(float) * 8) == 0, "the last checkpoint predicts differently");
        rnn_tensor_free(&a);
        rnn_tensor_free(&b);
        rnn_model_free(back);
        unlink(path);
    }
    for (int e = 1; e <= 2; e++) {
        snprintf(path, sizeof path, "%s/model_%02d.keras", dir, e);
        unlink(path);
    }
    /* save_best_only on loss with the value in the name; a bad pattern is an error */
    snprintf(pattern, sizeof pattern, "%s/best_{loss:.4f}.keras", dir);
    fo.checkpoint.save_best_only = 1;
    fo.checkpoint.monitor = "loss";
    fo.epochs = 4;
    CHECK(rnn_fit(m, rnn_data_xy(rnn_tensor3(x, 8, 3, 1), rnn_tensor2(y, 8, 1)), &fo, NULL) == RNN_OK, "%s", rnn_last_error());
    snprintf(pattern, sizeof pattern, "%s/x_{nope}.keras", dir);
    CHECK(rnn_fit(m, rnn_data_xy(rnn_tensor3(x, 8, 3, 1), rnn_tensor2(y, 8, 1)), &fo, NULL) == RNN_ERR_ARGUMENT &&
          strstr(rnn_last_error(), "nope"), "unknown key: %s", rnn_last_error());
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
    rnn_model_free(m);
}

/* TimeDistributed over a small model: the same weights applied at every step. */
static void time_distributed_model(void) {
    rnn_symbol *sin = rnn_input_new(RNN_NONE, 0, 3, NULL);
    rnn_symbol *sh = rnn_call(rnn_dense_simple(2, RNN_RELU), sin);
    rnn_model *step = rnn_model_simple(sin, rnn_call(rnn_dense_simple(1, RNN_LINEAR), sh), "step");
    rnn_symbol *in = rnn_input_new(RNN_NONE, 4, 3, NULL);
    rnn_model *m = rnn_model_simple(in, rnn_call(rnn_time_distributed(rnn_model_as_layer(step)), in), NULL);
    CHECK(m != NULL, "TimeDistributed(model): %s", rnn_last_error());
    float x[2 * 4 * 3];
    for (int i = 0; i < 24; i++) x[i] = 0.1f * (float)(i % 7) - 0.3f;
    rnn_tensor whole, one;
    CHECK(m && rnn_predict(m, rnn_data_x(rnn_tensor3(x, 2, 4, 3)), 2, &whole, 1) == RNN_OK, "%s", rnn_last_error());
    CHECK(rnn_predict(step, rnn_data_x(rnn_tensor2(x, 8, 3)), 8, &one, 1) == RNN_OK, "%s", rnn_last_error());
    if (whole.data && one.data)
        for (int i = 0; i < 8; i++) CHECK_CLOSE(whole.data[i], one.data[i], 0, 0, "TimeDistributed(model)");
    rnn_tensor_free(&whole);
    rnn_tensor_free(&one);
    rnn_model_free(m);
    rnn_model_free(step);
}

/* Bidirectional against its definition: with the same weights, the forward half of a concat
 * output is a plain LSTM's, the backward half a go_backwards LSTM's sequence flipped in time;
 * under a mask the masked steps are 0 in both halves; summary names and parameter counts; the
 * errors (bad merge mode, a wrapped Dense, predict_step). */
static void bidirectional_definition(void) {
    enum { B = 2, T = 4, F = 3, U = 2 };
    static float x[B * T * F];
    for (int i = 0; i < B * T * F; i++) x[i] = frand();
    for (int f = 0; f < F; f++) x[(1 * T + 3) * F + f] = 0.0f; /* sample 1, last step: masked */
    rnn_tensor X = rnn_tensor3(x, B, T, F);
    rnn_model *bi = rnn_sequential(NULL), *fw = rnn_sequential(NULL), *bw = rnn_sequential(NULL);
    rnn_recurrent_options o = rnn_lstm_defaults(U);
    o.return_sequences = 1;
    rnn_status st = rnn_input(bi, T, F) || rnn_add(bi, rnn_masking(0.0f)) ||
                    rnn_add(bi, rnn_bidirectional(rnn_lstm(&o), "concat"));
    CHECK(st == RNN_OK, "Bidirectional model: %s", rnn_model_error(bi));
    rnn_input(fw, T, F);
    rnn_add(fw, rnn_lstm(&o));
    o.go_backwards = 1;
    rnn_input(bw, T, F);
    rnn_add(bw, rnn_lstm(&o));
    CHECK(rnn_count_params(bi) == 2 * rnn_count_params(fw), "parameters %lld, expected 2 x %lld",
          (long long)rnn_count_params(bi), (long long)rnn_count_params(fw));
    const char *name = NULL;
    rnn_weight_info(bi, 3, &name, NULL, NULL);
    CHECK(name && !strcmp(name, "backward_lstm/kernel"), "weight 3 is %s", name ? name : "?");
    for (int k = 0; k < 3; k++) {
        int64_t shape[RNN_MAX_RANK], n = 1;
        int rank = 0;
        rnn_weight_info(fw, k, NULL, &rank, shape);
        for (int i = 0; i < rank; i++) n *= shape[i];
        float *w = malloc(sizeof(float) * (size_t)n);
        rnn_get_weight(bi, k, w, n);
        rnn_set_weight(fw, k, w, n);
        rnn_get_weight(bi, 3 + k, w, n);
        rnn_set_weight(bw, k, w, n);
        free(w);
    }
    /* Without the masked step: plain predictions on sample 0 only (sample 1 is masked). */
    rnn_tensor y, yf, yb;
    CHECK(rnn_predict(bi, rnn_data_x(X), B, &y, 1) == RNN_OK, "predict: %s", rnn_model_error(bi));
    rnn_predict(fw, rnn_data_x(rnn_tensor3(x, 1, T, F)), 1, &yf, 1);
    rnn_predict(bw, rnn_data_x(rnn_tensor3(x, 1, T, F)), 1, &yb, 1);
    CHECK(y.rank == 3 && y.shape[2] == 2 * U, "output shape");
    for (int t = 0; t < T; t++)
        for (int j = 0; j < U; j++) {
            /* Not bit for bit: the two models run different batch sizes (2 and 1), which the
             * product kernels tile differently, adding in another order (differences ~1e-8). */
            CHECK_CLOSE(y.data[t * 2 * U + j], yf.data[t * U + j], 1e-6, 0, "forward half");
            CHECK_CLOSE(y.data[t * 2 * U + U + j], yb.data[(T - 1 - t) * U + j], 1e-6, 0,
                        "backward half, flipped");
        }
    for (int j = 0; j < 2 * U; j++)
        CHECK(y.data[(1 * T + 3) * 2 * U + j] == 0.0f, "masked step %d: %g", j,
              (double)y.data[(1 * T + 3) * 2 * U + j]);
    float step[F];
    CHECK(rnn_predict_step(bi, step, y.data) != RNN_OK &&
          strstr(rnn_model_error(bi), "one step at a time"), "predict_step: %s",
          rnn_model_error(bi));
    rnn_tensor_free(&y);
    rnn_tensor_free(&yf);
    rnn_tensor_free(&yb);
    rnn_model_free(bi);
    rnn_model_free(fw);
    rnn_model_free(bw);
    /* stateful: both layers carry their state to the next call, and reset_states resets both */
    rnn_model *st_m = rnn_sequential(NULL);
    rnn_recurrent_options so = rnn_gru_defaults(U);
    so.stateful = 1;
    st = rnn_batch_input(st_m, B, T, F) || rnn_add(st_m, rnn_bidirectional(rnn_gru(&so), "sum"));
    CHECK(st == RNN_OK, "stateful Bidirectional: %s", rnn_model_error(st_m));
    rnn_tensor s1, s2, s3;
    if (!st && rnn_predict(st_m, rnn_data_x(X), B, &s1, 1) == RNN_OK) {
        rnn_predict(st_m, rnn_data_x(X), B, &s2, 1);
        rnn_reset_states(st_m);
        rnn_predict(st_m, rnn_data_x(X), B, &s3, 1);
        CHECK(memcmp(s1.data, s2.data, sizeof(float) * B * U) != 0, "the state did not carry");
        CHECK(memcmp(s1.data, s3.data, sizeof(float) * B * U) == 0, "reset_states did not reset");
        rnn_tensor_free(&s1);
        rnn_tensor_free(&s2);
        rnn_tensor_free(&s3);
    }
    rnn_model_free(st_m);
    /* an initial state must hold both layers' states; Flatten needs known steps */
    rnn_symbol *ins[3] = {rnn_input_new(RNN_NONE, T, F, NULL), rnn_input_new(RNN_NONE, 0, U, NULL),
                          rnn_input_new(RNN_NONE, 0, U, NULL)};
    rnn_layer *half = rnn_bidirectional(rnn_lstm(&o), "concat");
    CHECK(rnn_call_ex(half, ins, 3, NULL, NULL) != RNN_OK &&
          strstr(rnn_last_error(), "initial state of 4 tensors"), "half an initial state: %s",
          rnn_last_error());
    rnn_layer_free(half);
    for (int k = 0; k < 3; k++) rnn_input_free(ins[k]);
    rnn_symbol *free_steps = rnn_input_new(RNN_NONE, RNN_NONE, F, NULL);
    CHECK(rnn_call(rnn_flatten(), free_steps) == NULL && strstr(rnn_last_error(), "steps must be known"),
          "Flatten over unknown steps: %s", rnn_last_error());
    rnn_input_free(free_steps);
    CHECK(rnn_bidirectional(rnn_lstm(&o), "max") == NULL && strstr(rnn_last_error(), "merge mode"),
          "bad merge mode: %s", rnn_last_error());
    CHECK(rnn_bidirectional(rnn_dense_simple(2, RNN_LINEAR), NULL) == NULL &&
          strstr(rnn_last_error(), "Dense"), "Bidirectional(Dense): %s", rnn_last_error());
}

int main(void) {
    bidirectional_definition();
    checkpoints();
    time_distributed_model();
    stream_ids();
    nested_sharing();
    multi_output();
    metrics_and_callbacks();
    epoch_callback();
    batch_sources();
    mapped_series();
    forecasting_loop();
    pattern_errors();
    return check_report("test_functional");
}
