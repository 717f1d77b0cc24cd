/* The state of the optimizers of issue 16 in files: for Adagrad, Adadelta, Adamax, Nadam (with
 * its u_product), AdamW (plain and amsgrad) and an Adam with weight_decay, a model trained,
 * saved (.keras and .h5), loaded and trained further ends with bit-identical weights to the
 * model trained without the detour; the loaded model has the optimizer's kind and settings.
 * An Embedding with repeated ids takes part, so the per-occurrence update runs on both sides.
 * Also: rnn_compile's new names, and the optimizer slots an untrained model starts with
 * (Adagrad's initial_accumulator_value) surviving a save before the first step. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "rnn.h"

enum { N = 16, T = 5, V = 6 };
static float X[N * T], Y[N * 2];

static void make_data(void) {
    uint64_t s = 7;
    for (int i = 0; i < N * T; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        X[i] = (float)((s >> 33) % V); /* ids 0..5, many repeats, some 0 (padding) */
    }
    for (int i = 0; i < N * 2; i++) Y[i] = 0.3f * (float)((i * 7) % 5) - 0.5f;
}

/* ids -> Embedding(V, 3, mask_zero) -> GRU(4) -> Dense(2). */
static rnn_model *model(const rnn_optimizer *opt) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_set_seed(m, 3);
    rnn_embedding_options eo = rnn_embedding_defaults(V, 3);
    eo.mask_zero = 1;
    rnn_recurrent_options go = rnn_gru_defaults(4);
    rnn_status st = rnn_sequential_input(m, rnn_ids_input_new(RNN_NONE, T, NULL));
    if (!st) st = rnn_add(m, rnn_embedding(&eo));
    if (!st) st = rnn_add(m, rnn_gru(&go));
    if (!st) st = rnn_add(m, rnn_dense_simple(2, RNN_LINEAR));
    if (!st) st = rnn_compile_with(m, "huber", opt);
    CHECK(st == RNN_OK, "building the model: %s", rnn_last_error());
    return m;
}

static int same_weights(rnn_model *a, rnn_model *b) {
    int64_t n = rnn_count_params(a);
    if (n != rnn_count_params(b)) return 0;
    float *wa = malloc(sizeof(float) * (size_t)n), *wb = malloc(sizeof(float) * (size_t)n);
    int64_t off = 0;
    for (int i = 0; i < rnn_weight_count(a); i++) {
        const char *name;
        int rank;
        int64_t shape[4], size = 1;
        rnn_weight_info(a, i, &name, &rank, shape);
        for (int k = 0; k < rank; k++) size *= shape[k];
        rnn_get_weight(a, i, wa + off, size);
        rnn_get_weight(b, i, wb + off, size);
        off += size;
    }
    int same = memcmp(wa, wb, sizeof(float) * (size_t)n) == 0;
    free(wa);
    free(wb);
    return same;
}

static void round_trips(const char *dir) {
    rnn_optimizer opts[7] = {rnn_adagrad_defaults(), rnn_adadelta_defaults(),
                             rnn_adamax_defaults(), rnn_nadam_defaults(), rnn_adamw_defaults(),
                             rnn_adamw_defaults(), rnn_adam_defaults()};
    const char *names[7] = {"adagrad", "adadelta", "adamax", "nadam", "adamw",
                            "adamw(amsgrad)", "adam(weight_decay)"};
    opts[0].learning_rate = 0.1f;
    opts[1].learning_rate = 1.0f;
    opts[2].learning_rate = 0.02f;
    opts[3].learning_rate = 0.01f;
    opts[4].learning_rate = 0.01f;
    opts[5].amsgrad = 1;
    opts[5].weight_decay = 0.1f;
    opts[6].weight_decay = 0.05f;
    const char *exts[2] = {"keras", "h5"};
    rnn_tensor x = rnn_tensor2(X, N, T), y = rnn_tensor2(Y, N, 2);
    rnn_tensor xb = rnn_tensor2(X, 8, T), yb = rnn_tensor2(Y, 8, 2);
    for (int k = 0; k < 7; k++)
        for (int e = 0; e < 2; e++) {
            rnn_model *a = model(&opts[k]);
            rnn_fit_options fo = rnn_fit_defaults();
            fo.epochs = 2;
            fo.batch_size = 4;
            fo.verbose = 0;
            CHECK(rnn_fit(a, rnn_data_xy(x, y), &fo, NULL) == RNN_OK, "fit: %s", rnn_model_error(a));
            char name[64];
            snprintf(name, sizeof name, "opt_%d.%s", k, exts[e]);
            const char *path = check_path(dir, name);
            CHECK(rnn_save(a, path) == RNN_OK, "save %s: %s", path, rnn_model_error(a));
            rnn_model *b = rnn_load(path);
            CHECK(b != NULL, "load %s: %s", path, rnn_last_error());
            if (!b) {
                rnn_model_free(a);
                continue;
            }
            CHECK(!strcmp(rnn_model_warning(b), ""), "%s .%s: %s", names[k], exts[e],
                  rnn_model_warning(b));
            CHECK(rnn_optimizer_iterations(b) == 8 && rnn_optimizer_iterations(a) == 8,
                  "%s .%s: iterations %lld after loading, %lld before", names[k], exts[e],
                  (long long)rnn_optimizer_iterations(b), (long long)rnn_optimizer_iterations(a));
            for (int step = 0; step < 3; step++) {
                CHECK(rnn_train_on_batch(a, rnn_data_xy(xb, yb), NULL) == RNN_OK, "step a");
                CHECK(rnn_train_on_batch(b, rnn_data_xy(xb, yb), NULL) == RNN_OK, "step b: %s",
                      rnn_model_error(b));
            }
            CHECK(same_weights(a, b), "%s .%s: training after save/load differs from training "
                  "straight on (optimizer state lost?)", names[k], exts[e]);
            rnn_model_free(a);
            rnn_model_free(b);
        }
}

/* Saved before any step, an Adagrad model keeps accumulators at initial_accumulator_value: its
 * first steps after loading equal those of the model that was not saved. */
static void untrained_adagrad(const char *dir) {
    rnn_optimizer o = rnn_adagrad_defaults();
    o.learning_rate = 0.2f;
    o.initial_accumulator_value = 0.5f;
    rnn_model *a = model(&o);
    const char *path = check_path(dir, "untrained.keras");
    CHECK(rnn_save(a, path) == RNN_OK, "save: %s", rnn_model_error(a));
    rnn_model *b = rnn_load(path);
    CHECK(b != NULL, "load: %s", rnn_last_error());
    if (b) {
        rnn_tensor xb = rnn_tensor2(X, 8, T), yb = rnn_tensor2(Y, 8, 2);
        for (int step = 0; step < 2; step++) {
            rnn_train_on_batch(a, rnn_data_xy(xb, yb), NULL);
            rnn_train_on_batch(b, rnn_data_xy(xb, yb), NULL);
        }
        CHECK(same_weights(a, b), "untrained Adagrad: the accumulators did not start at "
              "initial_accumulator_value after loading");
        rnn_model_free(b);
    }
    rnn_model_free(a);
}

/* Huber's delta is saved (as keras.losses.Huber(delta=...)) and read back: the loaded model's
 * loss equals the saved one's, which differs from delta 1.0's. */
static void huber_delta(const char *dir) {
    rnn_optimizer o = rnn_sgd_defaults();
    rnn_model *a = model(&o);
    CHECK(rnn_set_huber_delta(a, 0.05f) == RNN_OK, "set delta: %s", rnn_model_error(a));
    CHECK(rnn_set_huber_delta(a, -1.0f) == RNN_ERR_ARGUMENT, "a negative delta was accepted");
    rnn_tensor x = rnn_tensor2(X, N, T), y = rnn_tensor2(Y, N, 2);
    const char *exts[2] = {"huber.keras", "huber.h5"};
    double la = 0, lb = -1, l1 = -2;
    rnn_evaluate(a, rnn_data_xy(x, y), 8, &la, NULL);
    for (int e = 0; e < 2; e++) {
        const char *path = check_path(dir, exts[e]);
        CHECK(rnn_save(a, path) == RNN_OK, "save: %s", rnn_model_error(a));
        rnn_model *b = rnn_load(path);
        CHECK(b != NULL, "load: %s", rnn_last_error());
        if (!b) continue;
        rnn_evaluate(b, rnn_data_xy(x, y), 8, &lb, NULL);
        CHECK(la == lb, "%s: Huber loss %.9g after loading, %.9g before", exts[e], lb, la);
        rnn_set_huber_delta(b, 1.0f);
        rnn_evaluate(b, rnn_data_xy(x, y), 8, &l1, NULL);
        CHECK(l1 != la, "delta 1.0 gives the same loss: the check above proves nothing");
        rnn_model_free(b);
    }
    rnn_model_free(a);
}

/* The names rnn_compile knows, and the dense option changing the Embedding's update. */
static void names_and_dense_option(void) {
    const char *ok[] = {"adagrad", "Adagrad", "adadelta", "adamax", "nadam", "adamw", "AdamW"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        rnn_optimizer o = rnn_adam_defaults();
        rnn_model *m = model(&o);
        CHECK(rnn_compile(m, "msle", ok[i]) == RNN_OK, "rnn_compile(%s): %s", ok[i],
              rnn_model_error(m));
        rnn_model_free(m);
    }
    /* Repeated ids: the per-occurrence (TensorFlow) and the dense (JAX, PyTorch) update differ
     * for Adam; SGD does not care. */
    for (int sgd = 0; sgd < 2; sgd++) {
        rnn_optimizer o = sgd ? rnn_sgd_defaults() : rnn_adam_defaults();
        rnn_model *a = model(&o);
        o.dense_embedding_gradients = 1;
        rnn_model *b = model(&o);
        rnn_tensor xb = rnn_tensor2(X, 8, T), yb = rnn_tensor2(Y, 8, 2);
        rnn_train_on_batch(a, rnn_data_xy(xb, yb), NULL);
        rnn_train_on_batch(b, rnn_data_xy(xb, yb), NULL);
        CHECK(same_weights(a, b) == sgd, "%s: dense_embedding_gradients %s the update",
              sgd ? "SGD" : "Adam", sgd ? "changed" : "did not change");
        rnn_model_free(a);
        rnn_model_free(b);
    }
}

int main(void) {
    make_data();
    names_and_dense_option();
#ifdef RNN_WITH_KERAS_IO
    char dir[] = "/tmp/rnn_optfiles_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    round_trips(dir);
    untrained_adagrad(dir);
    huber_delta(dir);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
#endif
    return check_report("test_optimizer_files");
}
