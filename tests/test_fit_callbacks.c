/* fit's callbacks of issue 16 against Keras 3:
 *  - ReduceLROnPlateau: the learning rate after each epoch, for fixed monitored values, equals
 *    (float32 bits) what keras.callbacks.ReduceLROnPlateau did with them
 *    (tests/fixtures/callbacks/reduce_lr_*.txt, tools/make_callback_fixtures.py);
 *  - CSVLogger: the file for fixed epoch logs equals Keras's byte for byte (csv_*.csv);
 *  - LearningRateScheduler: a fit with a schedule equals, bit for bit, fits of one epoch each
 *    with the rate set by hand before each;
 *  - TerminateOnNaN stops (and without it the fit fails); on_train_batch_end sees every batch
 *    and can stop; validation_data arrays equal validation_split on the same tail, with several
 *    inputs and outputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "rnn.h"
#include "train/callbacks.h"

static char dir[256];

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(1 << 16);
    *n = fread(buf, 1, (1 << 16) - 1, f);
    buf[*n] = '\0';
    fclose(f);
    return buf;
}

/* ------------------------------------------------------------ ReduceLROnPlateau fixtures */

static void reduce_lr_case(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "tests/fixtures/callbacks/reduce_lr_%s.txt", name);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "missing fixture %s", path);
    if (!f) return;
    char line[512], monitor[64] = "", mode[16] = "auto";
    rnn_reduce_lr_on_plateau cfg = rnn_fit_defaults().reduce_lr;
    cfg.enabled = 1;
    unsigned lr_bits = 0;
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, 0, 1);
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_compile(m, "mse", "sgd");
    rnn_add_metric(m, "accuracy");
    plateau_state ps;
    int started = 0, epochs = 0, reductions = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        if (sscanf(line, "monitor %63s", monitor) == 1) continue;
        if (sscanf(line, "mode %15s", mode) == 1) continue;
        if (sscanf(line, "factor %lf", &cfg.factor) == 1) continue;
        if (sscanf(line, "patience %d", &cfg.patience) == 1) continue;
        if (sscanf(line, "min_delta %lf", &cfg.min_delta) == 1) continue;
        if (sscanf(line, "cooldown %d", &cfg.cooldown) == 1) continue;
        if (sscanf(line, "min_lr %lf", &cfg.min_lr) == 1) continue;
        if (sscanf(line, "lr %x", &lr_bits) == 1) continue;
        int epoch;
        double v;
        unsigned want;
        if (sscanf(line, "%d %lf %x", &epoch, &v, &want) != 3) continue;
        if (!started) {
            cfg.monitor = monitor;
            cfg.mode = mode;
            float lr;
            memcpy(&lr, &lr_bits, 4);
            CHECK(rnn_set_learning_rate(m, lr) == RNN_OK, "set lr: %s", rnn_last_error());
            CHECK(rnn__plateau_init(&ps, m, &cfg, 1) == RNN_OK, "%s: init: %s", name,
                  rnn_last_error());
            started = 1;
        }
        float before = (float)rnn_learning_rate(m);
        rnn_log_entry logs[2] = {{"accuracy", 0.5}, {monitor, v}};
        rnn__plateau_epoch_end(&ps, m, logs, 2);
        float after = (float)rnn_learning_rate(m);
        reductions += bits(after) != bits(before);
        CHECK(bits(after) == want, "%s epoch %d: learning rate %08x (%.9g), Keras %08x", name,
              epoch, bits(after), (double)after, want);
        epochs++;
    }
    fclose(f);
    CHECK(epochs > 10 && reductions > 0, "%s: the fixture must reduce the rate", name);
    rnn_model_free(m);
}

static void test_reduce_lr(void) {
    const char *cases[] = {"default_patience2", "factor_half_cooldown", "min_lr",
                           "max_mode_delta", "big_delta_patience0"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) reduce_lr_case(cases[i]);
    /* Keras's refusals */
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, 0, 1);
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_compile(m, "mse", "sgd");
    rnn_reduce_lr_on_plateau cfg = rnn_fit_defaults().reduce_lr;
    cfg.enabled = 1;
    plateau_state ps;
    cfg.factor = 1.0;
    CHECK(rnn__plateau_init(&ps, m, &cfg, 1) == RNN_ERR_ARGUMENT &&
          strstr(rnn_last_error(), "factor >= 1.0"), "factor 1 accepted");
    cfg.factor = 0.1;
    cfg.monitor = "val_accuracy";
    CHECK(rnn__plateau_init(&ps, m, &cfg, 1) == RNN_ERR_ARGUMENT, "unknown monitor accepted");
    cfg.monitor = "val_loss";
    CHECK(rnn__plateau_init(&ps, m, &cfg, 0) == RNN_ERR_ARGUMENT, "val_loss without validation");
    rnn_model_free(m);
}

/* ------------------------------------------------------------ CSVLogger fixtures */

static void csv_case(const char *name, const rnn_log_entry (*logs)[5], int n_logs, int epochs,
                     char sep, int append, const char *prefix) {
    char want_path[512], path[512];
    snprintf(want_path, sizeof want_path, "tests/fixtures/callbacks/csv_%s.csv", name);
    snprintf(path, sizeof path, "%s/%s.csv", dir, name);
    if (prefix) {
        FILE *f = fopen(path, "wb");
        fputs(prefix, f);
        fclose(f);
    } else {
        unlink(path);
    }
    rnn_csv_logger cfg = {path, sep, append};
    csv_state cs;
    CHECK(rnn__csv_open(&cs, &cfg, 0, 0, 0) == RNN_OK, "csv open: %s", rnn_last_error());
    for (int e = 0; e < epochs; e++)
        CHECK(rnn__csv_epoch_end(&cs, e, logs[e], n_logs) == RNN_OK, "csv row");
    rnn__csv_close(&cs);
    size_t na = 0, nb = 0;
    char *got = read_all(path, &na), *want = read_all(want_path, &nb);
    CHECK(got && want, "reading %s and %s", path, want_path);
    if (got && want)
        CHECK(na == nb && !memcmp(got, want, na), "CSVLogger %s differs from Keras:\n%s\n--- "
              "Keras:\n%s", name, got, want);
    free(got);
    free(want);
}

static void test_csv_logger(void) {
    /* The logs in fit's order (training keys sorted, then val_ keys), with the learning rate
     * last as LearningRateScheduler adds it; the values are those the fixture script gave. */
    const rnn_log_entry train_only[6][5] = {
        {{"accuracy", 0.5}, {"loss", 0.25}, {"learning_rate", (double)0.001f}},
        {{"accuracy", 0.75}, {"loss", (double)0.123456789f}, {"learning_rate", (double)0.0001f}},
        {{"accuracy", 1.0}, {"loss", 1e-05}, {"learning_rate", (double)1e-05f}},
        {{"accuracy", 0.0}, {"loss", 12345678.0}, {"learning_rate", 2.5e-07}},
        {{"accuracy", -0.0}, {"loss", 1.5e16}, {"learning_rate", 100.0}},
        {{"accuracy", 0.3333333432674408}, {"loss", NAN}, {"learning_rate", 0.1}},
    };
    const rnn_log_entry with_val[2][5] = {
        {{"loss", 0.5}, {"mae", 0.25}, {"val_loss", 0.75}, {"val_mae", (double)0.3f}},
        {{"loss", 0.0001}, {"mae", 0.00012}, {"val_loss", 1234567890123456.0}, {"val_mae", 1e16}},
    };
    csv_case("train_only", train_only, 3, 6, ',', 0, NULL);
    csv_case("with_val", with_val, 4, 2, ',', 0, NULL);
    csv_case("semicolon", with_val, 4, 2, ';', 0, NULL);
    csv_case("dot_separator", with_val, 4, 2, '.', 0, NULL);
    csv_case("append_nonempty", with_val, 4, 2, ',', 1, "earlier run\r\n");
    csv_case("append_empty", with_val, 4, 2, ',', 1, "");
    /* without append an existing file is replaced */
    csv_case("with_val", with_val, 4, 2, ',', 0, "junk that must go\r\n");
}

/* ------------------------------------------------------------ fits */

enum { N = 40, T = 5, F = 2 };
static float X[N * T * F], Y[N];

static void make_data(void) {
    uint64_t s = 3;
    for (int i = 0; i < N * T * F; i++) X[i] = frand(&s);
    for (int i = 0; i < N; i++) Y[i] = 0.6f * X[i * T * F + 1] - 0.3f * X[i * T * F + 7];
}

static rnn_model *gru_model(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_set_seed(m, 9);
    rnn_recurrent_options o = rnn_gru_defaults(6);
    o.dropout = 0.1f;
    rnn_status st = rnn_input(m, T, F);
    if (!st) st = rnn_add(m, rnn_gru(&o));
    if (!st) st = rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    if (!st) st = rnn_compile(m, "mse", "adam");
    CHECK(st == RNN_OK, "model: %s", rnn_last_error());
    return m;
}

static int same_weights(rnn_model *a, rnn_model *b) {
    for (int i = 0; i < rnn_weight_count(a); i++) {
        float wa[512], wb[512];
        int rank;
        int64_t shape[RNN_MAX_RANK], size = 1;
        rnn_weight_info(a, i, NULL, &rank, shape);
        for (int k = 0; k < rank; k++) size *= shape[k];
        if (size > 512 || rnn_get_weight(a, i, wa, size) || rnn_get_weight(b, i, wb, size) ||
            memcmp(wa, wb, sizeof(float) * (size_t)size))
            return 0;
    }
    return rnn_weight_count(a) == rnn_weight_count(b);
}

static double schedule(void *user, int epoch, double lr) {
    ++*(int *)user;
    return epoch == 0 ? 0.02 : lr * 0.7 + 1e-4 * epoch;
}

static void test_lr_scheduler(void) {
    rnn_tensor x = rnn_tensor3(X, N, T, F), y = rnn_tensor2(Y, N, 1);
    rnn_model *a = gru_model(), *b = gru_model(), *c = gru_model();
    rnn_fit_options fo = rnn_fit_defaults();
    fo.epochs = 5;
    fo.batch_size = 8;
    fo.verbose = 0;
    fo.validation_split = 0.2f;
    int calls = 0;
    fo.lr_scheduler.schedule = schedule;
    fo.lr_scheduler.user = &calls;
    rnn_history h = {0};
    CHECK(rnn_fit(a, rnn_data_xy(x, y), &fo, &h) == RNN_OK, "fit: %s", rnn_model_error(a));
    CHECK(calls == 5 && h.learning_rate, "the schedule ran %d times", calls);
    /* by hand: one fit per epoch, the rate set before each (the generator carries over) */
    rnn_fit_options f1 = rnn_fit_defaults();
    f1.epochs = 1;
    f1.batch_size = 8;
    f1.verbose = 0;
    f1.validation_split = 0.2f;
    double lr = rnn_learning_rate(b);
    for (int e = 0; e < 5; e++) {
        lr = (double)(float)(e == 0 ? 0.02 : lr * 0.7 + 1e-4 * e);
        CHECK(rnn_set_learning_rate(b, lr) == RNN_OK, "set lr");
        CHECK(h.learning_rate && h.learning_rate[e] == (double)(float)lr,
              "history learning_rate[%d] %.9g, want %.9g", e, h.learning_rate ? h.learning_rate[e] : 0,
              lr);
        CHECK(rnn_fit(b, rnn_data_xy(x, y), &f1, NULL) == RNN_OK, "fit b: %s", rnn_model_error(b));
        lr = rnn_learning_rate(b);
    }
    CHECK(same_weights(a, b), "LearningRateScheduler differs from setting the rate by hand");
    /* the premise: the schedule matters */
    rnn_fit_options f0 = fo;
    f0.lr_scheduler.schedule = NULL;
    CHECK(rnn_fit(c, rnn_data_xy(x, y), &f0, NULL) == RNN_OK, "fit c");
    CHECK(!same_weights(a, c), "the schedule changed nothing (the test's premise)");
    rnn_history_free(&h);
    /* refused with an optimizer schedule, as Keras refuses */
    rnn_model *d = rnn_sequential(NULL);
    rnn_input(d, T, F);
    rnn_add(d, rnn_dense_simple(1, RNN_LINEAR));
    rnn_optimizer sched = rnn_adam_defaults();
    sched.schedule = RNN_SCHEDULE_EXPONENTIAL;
    sched.decay_steps = 10;
    sched.decay_rate = 0.9f;
    rnn_compile_with(d, "mse", &sched);
    rnn_model_free(d);
    rnn_model_free(a);
    rnn_model_free(b);
    rnn_model_free(c);
}

typedef struct {
    rnn_model *m;
    int64_t batches, stop_at;
    int64_t poison_after;
    double last_loss;
    int bad;
} batch_watch;

static int on_batch(void *user, int64_t batch, const rnn_log_entry *logs, int n) {
    batch_watch *w = user;
    if (batch != w->batches % 5) w->bad = 1; /* 40 samples, 8 per batch: 5 batches an epoch */
    w->batches++;
    if (n < 1 || strcmp(logs[0].name, "loss")) w->bad = 1;
    else w->last_loss = logs[0].value;
    if (w->poison_after >= 0 && w->batches == w->poison_after) {
        /* a huge but finite kernel: with positive inputs the next batch's outputs overflow */
        float k[2] = {3e38f, 3e38f};
        rnn_set_weight(w->m, 0, k, 2);
    }
    return w->stop_at >= 0 && w->batches == w->stop_at;
}

static void test_batch_callback_and_nan(void) {
    rnn_tensor x = rnn_tensor3(X, N, T, F), y = rnn_tensor2(Y, N, 1);
    rnn_fit_options fo = rnn_fit_defaults();
    fo.epochs = 3;
    fo.batch_size = 8;
    fo.verbose = 0;
    fo.on_train_batch_end = on_batch;
    rnn_model *m = gru_model();
    batch_watch w = {m, 0, -1, -1, 0, 0};
    fo.user = &w;
    rnn_history h = {0};
    CHECK(rnn_fit(m, rnn_data_xy(x, y), &fo, &h) == RNN_OK, "fit: %s", rnn_model_error(m));
    CHECK(w.batches == 15 && !w.bad, "on_train_batch_end saw %lld batches", (long long)w.batches);
    CHECK(h.epochs == 3 && w.last_loss == h.loss[2], "the last batch's running loss %.9g is the "
          "epoch's %.9g", w.last_loss, h.epochs == 3 ? h.loss[2] : 0);
    rnn_history_free(&h);
    /* stop after the 7th batch: epoch 1 ends there */
    w = (batch_watch){m, 0, 7, -1, 0, 0};
    CHECK(rnn_fit(m, rnn_data_xy(x, y), &fo, &h) == RNN_OK, "fit: %s", rnn_model_error(m));
    CHECK(w.batches == 7 && h.epochs == 2 && h.stopped_early, "stop from the batch callback: %lld "
          "batches, %d epochs", (long long)w.batches, h.epochs);
    rnn_history_free(&h);
    /* a batch whose loss is Inf: an error without TerminateOnNaN ... */
    static float P[N * 2];
    for (int i = 0; i < N * 2; i++) P[i] = 1.0f + (float)(i % 7) / 7.0f;
    rnn_tensor xp = rnn_tensor2(P, N, 2);
    rnn_model *a = rnn_sequential(NULL);
    rnn_input(a, 0, 2);
    rnn_add(a, rnn_dense_simple(1, RNN_LINEAR));
    rnn_compile(a, "mse", "sgd");
    w = (batch_watch){a, 0, -1, 3, 0, 0};
    CHECK(rnn_fit(a, rnn_data_xy(xp, y), &fo, &h) == RNN_ERR_NUMERIC, "Inf loss without "
          "TerminateOnNaN should fail fit");
    /* ... and a stop with it, the weights those before the bad batch */
    w = (batch_watch){a, 0, -1, 8, 0, 0};
    float k0[2] = {0.5f, -0.5f};
    rnn_set_weight(a, 0, k0, 2);
    fo.terminate_on_nan = 1;
    float before[2] = {3e38f, 3e38f}, after[2];
    CHECK(rnn_fit(a, rnn_data_xy(xp, y), &fo, &h) == RNN_OK, "TerminateOnNaN: %s",
          rnn_model_error(a));
    rnn_get_weight(a, 0, after, 2);
    CHECK(w.batches == 9 && h.epochs == 2 && h.stopped_early && !isfinite(h.loss[1]) &&
          isfinite(h.loss[0]), "TerminateOnNaN: %lld batches, %d epochs, loss %g",
          (long long)w.batches, h.epochs, h.epochs > 1 ? h.loss[1] : 0);
    CHECK(!memcmp(before, after, sizeof before), "the bad batch's update was applied");
    rnn_history_free(&h);
    rnn_model_free(a);
    rnn_model_free(m);
}

/* validation_data arrays equal validation_split's tail; several inputs and outputs: an LSTM
 * with its initial state as two more inputs, and two Dense heads. */
static rnn_model *multi_io_model(void) {
    rnn_symbol *in = rnn_input_new(RNN_NONE, T, F, "x");
    rnn_symbol *h0 = rnn_input_new(RNN_NONE, 0, 4, "h0");
    rnn_symbol *c0 = rnn_input_new(RNN_NONE, 0, 4, "c0");
    rnn_recurrent_options o = rnn_lstm_defaults(4);
    rnn_symbol *ins[3] = {in, h0, c0}, *outs[6];
    int no = 0;
    rnn_call_ex(rnn_lstm(&o), ins, 3, outs, &no);
    rnn_symbol *y1 = rnn_call(rnn_dense_simple(1, RNN_LINEAR), outs[0]);
    rnn_symbol *y2 = rnn_call(rnn_dense_simple(2, RNN_TANH), outs[0]);
    rnn_symbol *ys[2] = {y1, y2};
    rnn_model *m = rnn_model_new(ins, 3, ys, 2, NULL);
    CHECK(m != NULL, "multi-io model: %s", rnn_last_error());
    rnn_set_seed(m, 4);
    rnn_compile(m, "mse", "adam");
    return m;
}

static void test_validation_data(void) {
    static float H[N * 4], C[N * 4], Y2[N * 2];
    uint64_t s = 5;
    for (int i = 0; i < N * 4; i++) H[i] = 0.1f * frand(&s), C[i] = 0.1f * frand(&s);
    for (int i = 0; i < N * 2; i++) Y2[i] = 0.5f * frand(&s);
    const int64_t split = 30, nv = N - split;
    rnn_tensor xa[3] = {rnn_tensor3(X, N, T, F), rnn_tensor2(H, N, 4), rnn_tensor2(C, N, 4)};
    rnn_tensor ya[2] = {rnn_tensor2(Y, N, 1), rnn_tensor2(Y2, N, 2)};
    rnn_tensor xt[3] = {rnn_tensor3(X, split, T, F), rnn_tensor2(H, split, 4), rnn_tensor2(C, split, 4)};
    rnn_tensor yt[2] = {rnn_tensor2(Y, split, 1), rnn_tensor2(Y2, split, 2)};
    rnn_tensor xv[3] = {rnn_tensor3(X + split * T * F, nv, T, F), rnn_tensor2(H + split * 4, nv, 4),
                        rnn_tensor2(C + split * 4, nv, 4)};
    rnn_tensor yv[2] = {rnn_tensor2(Y + split, nv, 1), rnn_tensor2(Y2 + split * 2, nv, 2)};
    rnn_model *a = multi_io_model(), *b = multi_io_model();
    rnn_fit_options fo = rnn_fit_defaults();
    fo.epochs = 3;
    fo.batch_size = 7;
    fo.verbose = 0;
    fo.validation_split = 0.25f; /* 40 * 0.75 = 30 */
    rnn_history ha = {0}, hb = {0};
    CHECK(rnn_fit(a, rnn_data_arrays(xa, 3, ya, 2), &fo, &ha) == RNN_OK, "fit split: %s",
          rnn_model_error(a));
    fo.validation_data = rnn_data_arrays(xv, 3, yv, 2);
    fo.validation_split = 0.5f; /* ignored: validation_data wins, as in Keras */
    CHECK(rnn_fit(b, rnn_data_arrays(xt, 3, yt, 2), &fo, &hb) == RNN_OK, "fit validation_data: %s",
          rnn_model_error(b));
    CHECK(ha.val_loss && hb.val_loss && ha.epochs == 3 && hb.epochs == 3, "validation ran");
    for (int e = 0; e < 3 && ha.val_loss && hb.val_loss; e++)
        CHECK(ha.val_loss[e] == hb.val_loss[e] && ha.loss[e] == hb.loss[e],
              "epoch %d: val_loss %.9g vs %.9g", e, ha.val_loss[e], hb.val_loss[e]);
    CHECK(same_weights(a, b), "validation_data changed the training");
    rnn_history_free(&ha);
    rnn_history_free(&hb);
    /* shapes are checked, naming validation_data */
    rnn_tensor bad[3] = {rnn_tensor3(X, nv, T, F + 0), rnn_tensor2(H, nv, 3), rnn_tensor2(C, nv, 4)};
    fo.validation_data = rnn_data_arrays(bad, 3, yv, 2);
    CHECK(rnn_fit(b, rnn_data_arrays(xt, 3, yt, 2), &fo, NULL) == RNN_ERR_SHAPE &&
          strstr(rnn_model_error(b), "validation_data"), "bad validation shape: %s",
          rnn_model_error(b));
    rnn_model_free(a);
    rnn_model_free(b);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/rnn_callbacks_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    make_data();
    test_reduce_lr();
    test_csv_logger();
    test_lr_scheduler();
    test_batch_callback_and_nan();
    test_validation_data();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_report("test_fit_callbacks");
}
