/* Training guards (issue 6, item 6): a non-finite loss stops fit with a clear message before
 * the update; a non-finite gradient is caught before it reaches the weights (which stay as they
 * were); an update that overflows the weights stops training instead of returning a model of
 * Inf; and with ModelCheckpoint the last good checkpoint file stays as it was.
 *
 * Finite inputs that overflow on the way are the realistic route to NaN here (the inputs
 * themselves are refused, see test_bad_input): weights of 3e38 make a Dense output Inf, a
 * target of 3e38 makes the MSE gradient 2 (p - y) overflow float while the loss, summed in
 * double, stays finite, and a learning rate of 1e38 makes an ordinary gradient step overflow. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bad_input_util.h"
#include "check.h"
#include "rnn.h"

#define EXPECT(call, status, fragment)                                                        \
    do {                                                                                      \
        rnn_status got_ = (call);                                                             \
        CHECK(got_ == (status), "%s returned %s, expected %s (%s)", #call,                    \
              rnn_status_name(got_), rnn_status_name(status), rnn_last_error());              \
        CHECK(strstr(rnn_last_error(), (fragment)) != NULL,                                   \
              "%s: message \"%s\" lacks \"%s\"", #call, rnn_last_error(), (fragment));        \
    } while (0)

/* Input(2) -> Dense(1) -> Dense(1), linear; mse with the given optimizer. 5 weights. */
static rnn_model *two_dense(const char *optimizer) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_set_seed(m, 3);
    rnn_input(m, 0, 2);
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_compile(m, "mse", optimizer);
    return m;
}

/* All weights of a model, concatenated (at most 64 values here). */
static int snapshot(rnn_model *m, float *out) {
    int n = 0;
    for (int i = 0; i < rnn_weight_count(m); i++) {
        const char *name;
        int rank;
        int64_t shape[RNN_MAX_RANK];
        rnn_weight_info(m, i, &name, &rank, shape);
        int64_t c = 1;
        for (int r = 0; r < rank; r++) c *= shape[r];
        rnn_get_weight(m, i, out + n, c);
        n += (int)c;
    }
    return n;
}

static int all_finite(const float *v, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

static float x4[4 * 2] = {1, 1, 0.5f, -1, 0, 1, -0.5f, 0.25f};
static float y4[4] = {0.5f, -0.5f, 1, 0};

/* A NaN loss (Inf * 0 in the forward pass) stops fit and train_on_batch with "the loss is NaN"
 * and leaves the weights as they were. */
static void nan_loss_stops(void) {
    rnn_model *m = two_dense("adam");
    float k1[2] = {3e38f, 3e38f}, k2[1] = {0.0f};
    CHECK(rnn_set_weight(m, 0, k1, 2) == RNN_OK && rnn_set_weight(m, 2, k2, 1) == RNN_OK,
          "set: %s", rnn_last_error());
    float before[64], after[64];
    int n = snapshot(m, before);
    rnn_fit_options fo = rnn_fit_defaults();
    fo.verbose = 0;
    fo.epochs = 3;
    rnn_history h;
    EXPECT(rnn_fit(m, rnn_data_xy(rnn_tensor2(x4, 4, 2), rnn_tensor2(y4, 4, 1)), &fo, &h), RNN_ERR_NUMERIC,
           "the loss is NaN: training stopped before the update (iteration 0)");
    CHECK(h.epochs == 0, "history says %d epochs completed", h.epochs);
    rnn_history_free(&h);
    snapshot(m, after);
    CHECK(memcmp(before, after, sizeof(float) * (size_t)n) == 0, "the weights changed");
    double loss = 0;
    EXPECT(rnn_train_on_batch(m, rnn_data_xy(rnn_tensor2(x4, 4, 2), rnn_tensor2(y4, 4, 1)), &loss),
           RNN_ERR_NUMERIC, "the loss is NaN");
    /* An Inf loss (the output overflows, kernel 2 is 1) the same. */
    k2[0] = 1.0f;
    rnn_set_weight(m, 2, k2, 1);
    EXPECT(rnn_train_on_batch(m, rnn_data_xy(rnn_tensor2(x4, 4, 2), rnn_tensor2(y4, 4, 1)), &loss),
           RNN_ERR_NUMERIC, "the loss is Inf");
    rnn_model_free(m);
}

/* A target of 3e38: the loss is finite (summed in double), the gradient 2 (p - y) overflows.
 * The step is refused and no weight moves (nor the optimizer's step count: a later good batch
 * trains as if the bad one never came). */
static void nan_gradient_not_applied(void) {
    rnn_model *m = two_dense("adam");
    rnn_model *ref = two_dense("adam"); /* same seed: same weights */
    float before[64], after[64], yb[4] = {0.5f, 3e38f, 1, 0};
    int n = snapshot(m, before);
    double loss = 0;
    EXPECT(rnn_train_on_batch(m, rnn_data_xy(rnn_tensor2(x4, 4, 2), rnn_tensor2(yb, 4, 1)), &loss),
           RNN_ERR_NUMERIC, "a gradient of dense/kernel is not finite: the update was not applied (iteration 0)");
    snapshot(m, after);
    CHECK(memcmp(before, after, sizeof(float) * (size_t)n) == 0,
          "a NaN-gradient batch changed the weights");
    CHECK(all_finite(after, n), "weights not finite");
    /* the next good batch gives exactly what a model that never saw the bad batch gives */
    double l1 = 0, l2 = 0;
    CHECK(rnn_train_on_batch(m, rnn_data_xy(rnn_tensor2(x4, 4, 2), rnn_tensor2(y4, 4, 1)), &l1) == RNN_OK,
          "good batch: %s", rnn_last_error());
    rnn_train_on_batch(ref, rnn_data_xy(rnn_tensor2(x4, 4, 2), rnn_tensor2(y4, 4, 1)), &l2);
    float a[64], b[64];
    snapshot(m, a);
    snapshot(ref, b);
    CHECK(l1 == l2 && memcmp(a, b, sizeof(float) * (size_t)n) == 0,
          "the refused batch left a trace (loss %g vs %g)", l1, l2);
    rnn_model_free(m);
    rnn_model_free(ref);
}

/* Dense(1) under SGD with learning rate 1e38 and targets of +-50: the loss and the gradient
 * are finite, the first step overflows the weights to Inf. */
static float overflow_y[4] = {50, -50, 50, -50};
static rnn_model *overflowing_model(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, 0, 2);
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_optimizer sgd = rnn_sgd_defaults();
    sgd.learning_rate = 1e38f;
    rnn_compile_with(m, "mse", &sgd);
    return m;
}

/* fit must not return RNN_OK with a model of Inf weights. */
static void overflowing_update_stops(void) {
    rnn_model *m = overflowing_model();
    float *yb = overflow_y;
    rnn_fit_options fo = rnn_fit_defaults();
    fo.verbose = 0;
    fo.epochs = 1;
    fo.batch_size = 4;
    EXPECT(rnn_fit(m, rnn_data_xy(rnn_tensor2(x4, 4, 2), rnn_tensor2(yb, 4, 1)), &fo, NULL), RNN_ERR_NUMERIC,
           "dense/kernel is not finite after the update of iteration 0");
    rnn_model_free(m);
}

/* ModelCheckpoint writes checkpoint.keras after every epoch. After epoch 1 the callback makes
 * the weights overflow the forward pass; epoch 2's first loss is Inf, fit stops, and the file
 * still holds epoch 1's model. Then: an update that overflows on the last batch of an epoch
 * must not reach the checkpoint either. */
typedef struct {
    rnn_model *m;
    float saved[64];
    int n;
} poison;

static int poison_after_epoch(void *user, int epoch, const rnn_history *h) {
    (void)h;
    poison *p = user;
    if (epoch == 0) {
        p->n = snapshot(p->m, p->saved);
        float k1[2] = {3e38f, 3e38f}, k2[1] = {1.0f};
        rnn_set_weight(p->m, 0, k1, 2);
        rnn_set_weight(p->m, 2, k2, 1);
    }
    return 0;
}

static void checkpoint_keeps_last_good(const char *dir) {
    char path[600];
    snprintf(path, sizeof path, "%s/checkpoint.keras", dir);
    rnn_model *m = two_dense("adam");
    poison p = {m, {0}, 0};
    rnn_fit_options fo = rnn_fit_defaults();
    fo.verbose = 0;
    fo.epochs = 3;
    fo.batch_size = 2;
    fo.checkpoint.filepath = path;
    fo.on_epoch_end = poison_after_epoch;
    fo.user = &p;
    rnn_status st = rnn_fit(m, rnn_data_xy(rnn_tensor2(x4, 4, 2), rnn_tensor2(y4, 4, 1)), &fo, NULL);
    if (st == RNN_ERR_UNSUPPORTED) { /* built without Keras files */
        rnn_model_free(m);
        return;
    }
    CHECK(st == RNN_ERR_NUMERIC && strstr(rnn_last_error(), "the loss is Inf"),
          "fit: %s (%s)", rnn_status_name(st), rnn_last_error());
    rnn_model *ck = rnn_load(path);
    CHECK(ck != NULL, "checkpoint: %s", rnn_last_error());
    if (ck) {
        float w[64];
        int n = snapshot(ck, w);
        CHECK(n == p.n && memcmp(w, p.saved, sizeof(float) * (size_t)n) == 0,
              "the checkpoint is not epoch 1's model");
        rnn_model_free(ck);
    }
    rnn_model_free(m);

    /* the last batch of epoch 1 overflows the weights: no checkpoint may be written */
    char path2[600];
    snprintf(path2, sizeof path2, "%s/overflow.keras", dir);
    m = overflowing_model();
    float *yb = overflow_y;
    rnn_fit_options f2 = rnn_fit_defaults();
    f2.verbose = 0;
    f2.epochs = 2;
    f2.batch_size = 4;
    f2.checkpoint.filepath = path2;
    st = rnn_fit(m, rnn_data_xy(rnn_tensor2(x4, 4, 2), rnn_tensor2(yb, 4, 1)), &f2, NULL);
    CHECK(st == RNN_ERR_NUMERIC, "fit with an overflowing update: %s (%s)", rnn_status_name(st),
          rnn_last_error());
    CHECK(access(path2, F_OK) != 0, "a checkpoint with non-finite weights was written");
    rnn_model_free(m);
}

int main(void) {
    char dir[] = "/tmp/rnn_guardXXXXXX";
    if (!mkdtemp(dir)) return 1;
    nan_loss_stops();
    nan_gradient_not_applied();
    overflowing_update_stops();
    checkpoint_keeps_last_good(dir);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return check_report("test_training_guards");
}
