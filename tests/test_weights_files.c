/* Weights files, frozen layers and copies (issue 16 item 5), against real Keras 3 where it
 * matters (tests/fixtures/weights/, tools/make_weights_fixtures.py):
 *  - rnn_load_weights reads Keras's model.save_weights() file: same predictions, the
 *    optimizer's step count; refuses another architecture, a wrong name, a missing file;
 *  - rnn_save_weights -> rnn_load_weights restores weights and optimizer bit for bit;
 *  - a Keras model with a frozen GRU (trainable=False): loaded frozen, summary's parameter
 *    counts equal Keras's, 5 Adam steps leave the GRU bit-identical and match Keras's losses
 *    and Dense weights, no optimizer slots for the GRU; the flag survives .keras, .h5 and
 *    .weights.h5 round trips;
 *  - rnn_clone_model: a copy predicts bit for bit the same; fresh weights are those of a model
 *    built with the seed; a stateful batch-1 clone streams exactly as the hand-built copy of
 *    scenario 6b.
 * With RNN_WEIGHTS_EXPORT=DIR it also writes, for tools/check_weights_roundtrip.py, librnn's
 * files of a few models (arch.keras, librnn.weights.h5, x.npy, y.npy) into DIR/<case>/. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "rnn.h"

static char dir[256];
#define FIX "tests/fixtures/weights/"

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

static int64_t weight_size(rnn_model *m, int i) {
    int rank;
    int64_t shape[RNN_MAX_RANK], size = 1;
    if (rnn_weight_info(m, i, NULL, &rank, shape)) return 0;
    for (int k = 0; k < rank; k++) size *= shape[k];
    return size;
}

static int same_weights(rnn_model *a, rnn_model *b) {
    if (rnn_weight_count(a) != rnn_weight_count(b)) return 0;
    for (int i = 0; i < rnn_weight_count(a); i++) {
        int64_t n = weight_size(a, i);
        float *wa = malloc(sizeof(float) * (size_t)n), *wb = malloc(sizeof(float) * (size_t)n);
        int same = !rnn_get_weight(a, i, wa, n) && !rnn_get_weight(b, i, wb, n) &&
                   !memcmp(wa, wb, sizeof(float) * (size_t)n);
        free(wa);
        free(wb);
        if (!same) return 0;
    }
    return 1;
}

static double max_diff(const float *a, const float *b, int64_t n) {
    double d = 0;
    for (int64_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

/* Sequential Input(5, 3) -> LSTM(4, return_sequences) -> GRU(3) -> Dense(2), Adam(0.01). */
static rnn_model *lstm_gru(int gru_units) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options a = rnn_lstm_defaults(4), b = rnn_gru_defaults(gru_units);
    a.return_sequences = 1;
    rnn_optimizer adam = rnn_adam_defaults();
    adam.learning_rate = 0.01f;
    rnn_status st = rnn_input(m, 5, 3);
    if (!st) st = rnn_add(m, rnn_lstm(&a));
    if (!st) st = rnn_add(m, rnn_gru(&b));
    if (!st) st = rnn_add(m, rnn_dense_simple(2, RNN_LINEAR));
    if (!st) st = rnn_compile_with(m, "mse", &adam);
    CHECK(st == RNN_OK, "model: %s", rnn_last_error());
    return m;
}

static void test_keras_weights_file(void) {
    rnn_model *m = lstm_gru(3);
    rnn_tensor x = {0}, y = {0}, p = {0};
    CHECK(rnn_npy_load(FIX "keras_saved/x.npy", &x) == RNN_OK &&
          rnn_npy_load(FIX "keras_saved/y.npy", &y) == RNN_OK, "fixture arrays");
    CHECK(rnn_load_weights(m, FIX "keras_saved/model.weights.h5") == RNN_OK,
          "load_weights of Keras's file: %s", rnn_model_error(m));
    CHECK(rnn_optimizer_iterations(m) == 2, "the optimizer's step count: %lld",
          (long long)rnn_optimizer_iterations(m));
    CHECK(rnn_predict(m, rnn_data_x(x), 32, &p, 1) == RNN_OK, "predict");
    double d = p.data ? max_diff(p.data, y.data, rnn_tensor_size(&y)) : 1e9;
    CHECK(d < 1e-5, "predictions after load_weights differ from Keras's by %g", d);
    rnn_tensor_free(&p);
    /* errors */
    CHECK(rnn_load_weights(m, FIX "frozen/initial.keras") == RNN_ERR_ARGUMENT &&
          strstr(rnn_model_error(m), ".weights.h5"), "a name without .weights.h5: %s",
          rnn_model_error(m));
    CHECK(rnn_load_weights(m, "/nonexistent/a.weights.h5") == RNN_ERR_IO, "missing file");
    rnn_model *other = lstm_gru(5);
    CHECK(rnn_load_weights(other, FIX "keras_saved/model.weights.h5") == RNN_ERR_FORMAT,
          "another architecture accepted: %s", rnn_model_error(other));
    char bad[400];
    snprintf(bad, sizeof bad, "%s/bad.weights.h5", dir);
    FILE *f = fopen(bad, "wb");
    fputs("not an HDF5 file at all", f);
    fclose(f);
    CHECK(rnn_load_weights(other, bad) == RNN_ERR_FORMAT, "garbage accepted: %s",
          rnn_model_error(other));
    rnn_model_free(other);
    /* librnn's own round trip: weights and optimizer state, then training goes on the same */
    char path[400];
    snprintf(path, sizeof path, "%s/m.weights.h5", dir);
    CHECK(rnn_save_weights(m, "x.h5") == RNN_ERR_ARGUMENT, "save_weights to .h5 accepted");
    CHECK(rnn_save_weights(m, path) == RNN_OK, "save_weights: %s", rnn_model_error(m));
    rnn_model *c = lstm_gru(3);
    CHECK(rnn_load_weights(c, path) == RNN_OK, "load_weights: %s", rnn_model_error(c));
    CHECK(same_weights(m, c) && rnn_optimizer_iterations(c) == 2, "round trip");
    rnn_tensor yt = rnn_tensor2(y.data, y.shape[0], 2);
    rnn_train_on_batch(m, rnn_data_xy(x, yt), NULL);
    rnn_train_on_batch(c, rnn_data_xy(x, yt), NULL);
    CHECK(same_weights(m, c), "training after the round trip differs (optimizer state lost)");
    rnn_model_free(c);
    rnn_model_free(m);
    rnn_tensor_free(&x);
    rnn_tensor_free(&y);
}

/* The lines of a summary that hold `what` ("Trainable params"), whole. */
static int summary_line(rnn_model *m, const char *want) {
    char path[400];
    snprintf(path, sizeof path, "%s/summary.txt", dir);
    FILE *f = fopen(path, "w+");
    rnn_summary(m, f);
    rewind(f);
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, f)) found |= !strcmp(line, want);
    fclose(f);
    return found;
}

static void test_frozen(void) {
    rnn_model *m = rnn_load(FIX "frozen/initial.keras");
    CHECK(m != NULL, "loading a model with trainable=False: %s", rnn_last_error());
    if (!m) return;
    CHECK(rnn_layer_trainable(rnn_get_layer(m, 0)) == 0 &&
          rnn_layer_trainable(rnn_get_layer(m, 1)) == 1, "trainable flags after load");
    /* Keras's summary lines */
    FILE *ks = fopen(FIX "frozen/summary.txt", "r");
    char line[512];
    int lines = 0;
    while (ks && fgets(line, sizeof line, ks))
        if (strstr(line, "params:")) {
            lines++;
            CHECK(summary_line(m, line), "summary lacks Keras's line: %s", line);
        }
    if (ks) fclose(ks);
    CHECK(lines == 3, "Keras's summary has %d parameter lines", lines);
    int64_t n0 = weight_size(m, 0), n1 = weight_size(m, 1), n2 = weight_size(m, 2);
    float *gru0 = malloc(sizeof(float) * (size_t)(n0 + n1 + n2));
    rnn_get_weight(m, 0, gru0, n0);
    rnn_get_weight(m, 1, gru0 + n0, n1);
    rnn_get_weight(m, 2, gru0 + n0 + n1, n2);
    rnn_tensor x = {0}, y = {0}, losses = {0};
    rnn_npy_load(FIX "frozen/x.npy", &x);
    rnn_npy_load(FIX "frozen/y.npy", &y);
    rnn_npy_load(FIX "frozen/losses.npy", &losses);
    for (int s = 0; s < 5; s++) {
        double loss = 0;
        CHECK(rnn_train_on_batch(m, rnn_data_xy(x, y), &loss) == RNN_OK, "step %d: %s", s,
              rnn_model_error(m));
        CHECK(fabs(loss - losses.data[s]) < 1e-5, "step %d loss %.7f, Keras %.7f", s, loss,
              (double)losses.data[s]);
    }
    for (int i = 0; i < 5; i++) {
        char p[256];
        snprintf(p, sizeof p, FIX "frozen/w5_%d.npy", i);
        rnn_tensor w = {0};
        rnn_npy_load(p, &w);
        float got[64];
        int64_t n = weight_size(m, i);
        rnn_get_weight(m, i, got, n);
        double d = w.data ? max_diff(got, w.data, n) : 1e9;
        CHECK(d < (i < 3 ? 0.0 : 1e-5) + 1e-12, "weight %d after 5 steps differs from Keras's "
              "by %g", i, d);
        if (i < 3) {
            const float *orig = gru0 + (i == 0 ? 0 : i == 1 ? n0 : n0 + n1);
            CHECK(!memcmp(got, orig, sizeof(float) * (size_t)n), "frozen weight %d changed", i);
        }
        rnn_tensor_free(&w);
    }
    free(gru0);
    /* no slots for the frozen GRU: Keras's iteration, learning_rate, 2 x 8 Dense slots */
    CHECK(summary_line(m, " Optimizer params: 18 (72.00 B)\n"), "optimizer params");
    /* Keras's file after training: its optimizer variables skip the frozen GRU */
    rnn_model *kt = rnn_load(FIX "frozen/trained.keras");
    CHECK(kt && rnn_optimizer_iterations(kt) == 5 && !rnn_model_warning(kt)[0],
          "Keras's trained frozen model: optimizer state not taken (%s)",
          kt ? rnn_model_warning(kt) : rnn_last_error());
    rnn_model_free(kt);
    /* the flag and the optimizer's state through every file format */
    const char *exts[] = {"keras", "h5"};
    for (int k = 0; k < 2; k++) {
        char path[400];
        snprintf(path, sizeof path, "%s/frozen.%s", dir, exts[k]);
        CHECK(rnn_save(m, path) == RNN_OK, "save %s: %s", path, rnn_model_error(m));
        rnn_model *b = rnn_load(path);
        CHECK(b && rnn_layer_trainable(rnn_get_layer(b, 0)) == 0 &&
              rnn_layer_trainable(rnn_get_layer(b, 1)) == 1 && same_weights(m, b) &&
              rnn_optimizer_iterations(b) == 5 && !rnn_model_warning(b)[0],
              "frozen model through .%s: %s %s", exts[k], rnn_last_error(),
              b ? rnn_model_warning(b) : "");
        rnn_model_free(b);
    }
    char wp[400];
    snprintf(wp, sizeof wp, "%s/frozen.weights.h5", dir);
    rnn_model *b = rnn_load(FIX "frozen/initial.keras");
    CHECK(rnn_save_weights(m, wp) == RNN_OK && rnn_load_weights(b, wp) == RNN_OK &&
          same_weights(m, b) && rnn_optimizer_iterations(b) == 5, "frozen .weights.h5: %s",
          rnn_model_error(b));
    rnn_train_on_batch(m, rnn_data_xy(x, y), NULL);
    rnn_train_on_batch(b, rnn_data_xy(x, y), NULL);
    CHECK(same_weights(m, b), "training on after .weights.h5 differs");
    /* unfreezing trains the GRU again */
    float before[64], after[64];
    rnn_get_weight(b, 0, before, n0);
    rnn_set_trainable(rnn_get_layer(b, 0), 1);
    rnn_compile(b, "mse", "adam");
    rnn_train_on_batch(b, rnn_data_xy(x, y), NULL);
    rnn_get_weight(b, 0, after, n0);
    CHECK(memcmp(before, after, sizeof(float) * (size_t)n0) != 0, "an unfrozen layer stays put");
    rnn_model_free(b);
    rnn_model_free(m);
    rnn_tensor_free(&x);
    rnn_tensor_free(&y);
    rnn_tensor_free(&losses);
}

/* ------------------------------------------------------------ clone_model */

enum { NC = 64, LC = 12 };

static void test_clone(void) {
    rnn_model *m = lstm_gru(3);
    rnn_set_seed(m, 3);
    rnn_set_trainable(rnn_get_layer(m, 2), 0);
    rnn_clone_options co = rnn_clone_defaults();
    co.copy_weights = 1;
    rnn_model *c = rnn_clone_model(m, &co);
    CHECK(c != NULL, "clone: %s", rnn_last_error());
    if (!c) return;
    CHECK(same_weights(m, c) && rnn_layer_trainable(rnn_get_layer(c, 2)) == 0,
          "the copy's weights or trainable flag differ");
    static float X[8 * 5 * 3];
    uint64_t s = 1;
    for (int i = 0; i < 8 * 5 * 3; i++) X[i] = frand(&s);
    rnn_tensor pa = {0}, pb = {0}, x = rnn_tensor3(X, 8, 5, 3);
    rnn_predict(m, rnn_data_x(x), 32, &pa, 1);
    rnn_predict(c, rnn_data_x(x), 32, &pb, 1);
    CHECK(pa.data && pb.data && !memcmp(pa.data, pb.data, sizeof(float) * 16),
          "the copy predicts differently");
    rnn_tensor_free(&pa);
    rnn_tensor_free(&pb);
    CHECK(rnn_optimizer_iterations(c) == -1, "a clone is uncompiled, as in Keras");
    rnn_model_free(c);
    /* fresh weights: those of the same architecture built with the seed */
    co = rnn_clone_defaults();
    co.seed = 7;
    c = rnn_clone_model(m, &co);
    rnn_model *ref = lstm_gru(3);
    rnn_set_seed(ref, 7);
    CHECK(c && same_weights(c, ref) && !same_weights(c, m), "fresh weights of the clone");
    rnn_model_free(ref);
    rnn_model_free(c);
    /* stateful without a fixed batch: refused */
    co = rnn_clone_defaults();
    co.stateful = 1;
    co.batch_size = RNN_NONE;
    CHECK(rnn_clone_model(m, &co) == NULL, "stateful clone without a batch size accepted");
    rnn_model_free(m);

    /* scenario 6b: a model trained on next-step prediction, then its stateful batch-1 copy
     * fed its own predictions, one step at a time */
    static float xb[NC * (LC - 1) * 2], yb[NC * (LC - 1) * 2];
    for (int i = 0; i < NC; i++) {
        float r = 0.4f + 0.5f * (frand(&s) + 1) / 2, th = 3.1f * (frand(&s) + 1);
        for (int t = 0; t < LC; t++) {
            float px = r * cosf(th + 0.3f * t), py = r * sinf(th + 0.3f * t);
            if (t < LC - 1) xb[(i * (LC - 1) + t) * 2] = px, xb[(i * (LC - 1) + t) * 2 + 1] = py;
            if (t > 0) yb[(i * (LC - 1) + t - 1) * 2] = px, yb[(i * (LC - 1) + t - 1) * 2 + 1] = py;
        }
    }
    rnn_model *b = rnn_sequential(NULL), *g = rnn_sequential(NULL);
    rnn_recurrent_options ob = rnn_lstm_defaults(16);
    ob.return_sequences = 1;
    rnn_input(b, RNN_NONE, 2);
    rnn_add(b, rnn_lstm(&ob));
    rnn_add(b, rnn_dense_simple(2, RNN_LINEAR));
    rnn_compile(b, "mse", "adam");
    rnn_fit_options f = rnn_fit_defaults();
    f.epochs = 3;
    f.verbose = 0;
    CHECK(rnn_fit(b, rnn_data_xy(rnn_tensor3(xb, NC, LC - 1, 2), rnn_tensor3(yb, NC, LC - 1, 2)),
                  &f, NULL) == RNN_OK, "fit 6b");
    ob.stateful = 1; /* by hand, as examples/s06_one_to_many.c does */
    rnn_batch_input(g, 1, 1, 2);
    rnn_add(g, rnn_lstm(&ob));
    rnn_add(g, rnn_dense_simple(2, RNN_LINEAR));
    CHECK(rnn_copy_weights(g, b) == RNN_OK, "copy weights");
    co = rnn_clone_defaults();
    co.batch_size = 1;
    co.stateful = 1;
    co.copy_weights = 1;
    rnn_model *g2 = rnn_clone_model(b, &co);
    CHECK(g2 != NULL, "the stateful batch-1 clone: %s", rnn_last_error());
    if (g2) {
        float sa[2] = {0.7f, 0.0f}, sb[2] = {0.7f, 0.0f};
        int same = 1;
        rnn_reset_states(g);
        rnn_reset_states(g2);
        for (int t = 1; t < LC; t++) {
            rnn_tensor p1 = {0}, p2 = {0};
            rnn_predict(g, rnn_data_x(rnn_tensor3(sa, 1, 1, 2)), 1, &p1, 1);
            CHECK(rnn_predict(g2, rnn_data_x(rnn_tensor3(sb, 1, 1, 2)), 1, &p2, 1) == RNN_OK,
                  "clone predict: %s", rnn_model_error(g2));
            if (!p1.data || !p2.data) break;
            memcpy(sa, p1.data, sizeof sa);
            memcpy(sb, p2.data, sizeof sb);
            same &= !memcmp(sa, sb, sizeof sa);
            rnn_tensor_free(&p1);
            rnn_tensor_free(&p2);
        }
        CHECK(same, "the stateful clone streams differently from the hand-built copy");
        /* the state is carried: a fresh start gives another output than the step after it */
        CHECK(sa[0] != 0.7f || sa[1] != 0.0f, "the stream did not move");
    }
    rnn_model_free(g2);
    rnn_model_free(g);
    rnn_model_free(b);
}

/* ------------------------------------------------------------ files for the Keras check */

static void export_case(const char *root, const char *name, rnn_model *m, rnn_tensor x) {
    char d[512], p[600];
    snprintf(d, sizeof d, "%s/%s", root, name);
    mkdir(d, 0755);
    /* the architecture with its compile information (the check script overwrites the
     * weights with noise before load_weights) */
    snprintf(p, sizeof p, "%s/arch.keras", d);
    CHECK(rnn_save(m, p) == RNN_OK, "export %s: %s", name, rnn_last_error());
    snprintf(p, sizeof p, "%s/librnn.weights.h5", d);
    CHECK(rnn_save_weights(m, p) == RNN_OK, "export weights %s", name);
    rnn_tensor y = {0};
    rnn_predict(m, rnn_data_x(x), 32, &y, 1);
    snprintf(p, sizeof p, "%s/x.npy", d);
    rnn_npy_save(p, &x);
    snprintf(p, sizeof p, "%s/y.npy", d);
    rnn_npy_save(p, &y);
    rnn_tensor_free(&y);
}

static void export_for_keras(const char *root) {
    static float X[8 * 5 * 3], Y[8 * 2];
    uint64_t s = 9;
    for (int i = 0; i < 8 * 5 * 3; i++) X[i] = frand(&s);
    for (int i = 0; i < 16; i++) Y[i] = frand(&s);
    rnn_tensor x = rnn_tensor3(X, 8, 5, 3), y = rnn_tensor2(Y, 8, 2);
    rnn_model *m = lstm_gru(3);
    rnn_fit_options f = rnn_fit_defaults();
    f.epochs = 2;
    f.verbose = 0;
    rnn_fit(m, rnn_data_xy(x, y), &f, NULL);
    export_case(root, "lstm_gru_trained", m, x);
    rnn_set_trainable(rnn_get_layer(m, 1), 0);
    rnn_fit(m, rnn_data_xy(x, y), &f, NULL);
    export_case(root, "lstm_frozen_trained", m, x);
    rnn_model_free(m);
    /* Bidirectional and TimeDistributed: nested weight groups */
    m = rnn_sequential(NULL);
    rnn_recurrent_options a = rnn_gru_defaults(3);
    a.return_sequences = 1;
    rnn_input(m, 5, 3);
    rnn_add(m, rnn_bidirectional(rnn_gru(&a), "concat"));
    rnn_add(m, rnn_time_distributed(rnn_dense_simple(2, RNN_TANH)));
    rnn_compile(m, "mse", "rmsprop");
    static float Y3[8 * 5 * 2];
    for (int i = 0; i < 80; i++) Y3[i] = frand(&s);
    rnn_fit(m, rnn_data_xy(x, rnn_tensor3(Y3, 8, 5, 2)), &f, NULL);
    export_case(root, "bidi_td_rmsprop", m, x);
    rnn_model_free(m);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/rnn_weights_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    {
        rnn_model *m = lstm_gru(3);
        char p[300];
        snprintf(p, sizeof p, "%s/probe.weights.h5", dir);
        if (rnn_save_weights(m, p) == RNN_ERR_UNSUPPORTED) {
            CHECK(rnn_load_weights(m, p) == RNN_ERR_UNSUPPORTED, "load_weights without Keras I/O");
            rnn_model_free(m);
            rmdir(dir);
            return check_report("test_weights_files (without Keras file support)");
        }
        rnn_model_free(m);
    }
    test_keras_weights_file();
    test_frozen();
    test_clone();
    const char *exp = getenv("RNN_WEIGHTS_EXPORT");
    if (exp && *exp) export_for_keras(exp);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_report("test_weights_files");
}
