/* Questions asked of "every layer" reach every layer: a stateful LSTM in a model nested three
 * deep (outer -> middle -> inner -> LSTM, with a TimeDistributed wrapper beside it) is reset by
 * rnn_reset_states, counted by rnn_weight_count, saved and loaded by rnn_save/rnn_load (.keras
 * and .h5) and trained by rnn_fit. And rnn_set_seed decides the weights in every order of calls:
 * before the build, after rnn_summary, rnn_weight_count or rnn_get_weight, twice, after a layer
 * was added, after fit, on nested models; a loaded model keeps its file's weights until then. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "rnn.h"

enum { B = 2, T = 5, F = 3, UNITS = 4, N = 8 };

static uint64_t rng_state = 7;
static float frand(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng_state >> 40) & 0xffffff) / 16777216.0f - 0.5f;
}

/* inner: TimeDistributed(Dense(3)) -> LSTM(4, stateful); middle: inner -> Dense(2);
 * outer: middle -> Dense(1). The inner and middle models stay owned by the outer one; with
 * keep_inner the caller also holds the inner model (and frees it), to look at its weights
 * without going through the outer model. */
static rnn_model *nested_model(uint64_t seed, int set_seed, rnn_model **keep_inner) {
    rnn_model *inner = rnn_sequential("inner");
    rnn_recurrent_options o = rnn_lstm_defaults(UNITS);
    o.stateful = 1;
    rnn_status st = rnn_batch_input(inner, B, T, F) ||
                    rnn_add(inner, rnn_time_distributed(rnn_dense_simple(3, RNN_TANH))) ||
                    rnn_add(inner, rnn_lstm(&o));
    rnn_model *middle = rnn_sequential("middle");
    st = st || rnn_batch_input(middle, B, T, F) || rnn_add(middle, rnn_model_as_layer(inner)) ||
         rnn_add(middle, rnn_dense_simple(2, RNN_TANH));
    rnn_model *outer = rnn_sequential("outer");
    if (set_seed) rnn_set_seed(outer, seed);
    st = st || rnn_batch_input(outer, B, T, F) || rnn_add(outer, rnn_model_as_layer(middle)) ||
         rnn_add(outer, rnn_dense_simple(1, RNN_LINEAR));
    CHECK(st == RNN_OK, "nested model: %s", rnn_last_error());
    if (keep_inner) *keep_inner = inner;
    else rnn_model_free(inner);
    rnn_model_free(middle);
    if (st) {
        rnn_model_free(outer);
        return NULL;
    }
    return outer;
}

static int same_bits(const float *a, const float *b, int64_t n) {
    return memcmp(a, b, sizeof(float) * (size_t)n) == 0;
}

static int64_t weight_size(rnn_model *m, int i) {
    int rank = 0;
    int64_t shape[RNN_MAX_RANK], n = 1;
    if (rnn_weight_info(m, i, NULL, &rank, shape)) return 0;
    for (int k = 0; k < rank; k++) n *= shape[k];
    return n;
}

/* Every weight of the model back to back (malloc'd); *total receives the count. */
static float *all_weights(rnn_model *m, int64_t *total) {
    int n = rnn_weight_count(m);
    int64_t size = 0;
    for (int i = 0; i < n; i++) size += weight_size(m, i);
    float *w = malloc(sizeof(float) * (size_t)(size + 1));
    int64_t off = 0;
    for (int i = 0; w && i < n; i++) {
        int64_t k = weight_size(m, i);
        if (rnn_get_weight(m, i, w + off, k)) {
            free(w);
            return NULL;
        }
        off += k;
    }
    *total = size;
    return w;
}

/* The index of the first weight whose name starts with prefix ("lstm/"), -1 if none. */
static int weight_named(rnn_model *m, const char *prefix) {
    for (int i = 0; i < rnn_weight_count(m); i++) {
        const char *name = NULL;
        if (!rnn_weight_info(m, i, &name, NULL, NULL) && strncmp(name, prefix, strlen(prefix)) == 0)
            return i;
    }
    return -1;
}

static float xs[2][B * T * F];

static int predict(rnn_model *m, int which, float out[B]) {
    rnn_tensor y;
    if (rnn_predict(m, rnn_data_x(rnn_tensor3(xs[which], B, T, F)), B, &y, 1)) return -1;
    memcpy(out, y.data, sizeof(float) * B);
    rnn_tensor_free(&y);
    return 0;
}

static void test_reset(void) {
    rnn_model *m = nested_model(5, 1, NULL), *fresh = nested_model(5, 1, NULL);
    if (!m || !fresh) return;
    float a[B], b[B], want[B];
    /* m runs on xs[0], then on xs[1] with the state xs[0] left. */
    CHECK(predict(m, 0, a) == 0 && predict(m, 1, b) == 0, "predict: %s", rnn_model_error(m));
    /* The carried state changes the next call: without it the deepest LSTM would not matter. */
    float b_fresh[B];
    CHECK(predict(fresh, 1, b_fresh) == 0, "predict: %s", rnn_model_error(fresh));
    CHECK(!same_bits(b, b_fresh, B), "the state carried by the deepest LSTM changed nothing");
    CHECK(rnn_reset_states(m) == RNN_OK, "reset: %s", rnn_model_error(m));
    CHECK(predict(m, 1, want) == 0, "predict: %s", rnn_model_error(m));
    CHECK(same_bits(want, b_fresh, B),
          "after rnn_reset_states the output differs from a fresh model's: %.9g vs %.9g",
          want[0], b_fresh[0]);
    rnn_model_free(m);
    rnn_model_free(fresh);
}

static void test_weight_count(void) {
    rnn_model *m = nested_model(5, 1, NULL);
    if (!m) return;
    /* inner: TimeDistributed(Dense(3)) kernel+bias, LSTM kernel+recurrent+bias; Dense(2) and
     * Dense(1): kernel+bias each. */
    const int64_t inner_params = (F * 3 + 3) + (3 * 4 * UNITS + UNITS * 4 * UNITS + 4 * UNITS);
    CHECK(rnn_weight_count(m) == 5 + 2 + 2, "weight count %d, want 9", rnn_weight_count(m));
    CHECK(rnn_count_params(m) == inner_params + (UNITS * 2 + 2) + (2 * 1 + 1),
          "params %lld, want %lld", (long long)rnn_count_params(m),
          (long long)(inner_params + (UNITS * 2 + 2) + 3));
    int64_t total = 0;
    float *w = all_weights(m, &total);
    CHECK(w != NULL && total == rnn_count_params(m), "weights hold %lld values", (long long)total);
    free(w);
    CHECK(weight_named(m, "lstm/") >= 0, "no weight of the deepest LSTM is listed");
    rnn_model_free(m);
}

#ifdef RNN_WITH_KERAS_IO
static void test_save_load(const char *dir) {
    static const char *const ext[] = {".keras", ".h5"};
    for (int e = 0; e < 2; e++) {
        rnn_model *inner = NULL, *m = nested_model(5, 1, &inner);
        if (!m) return;
        char path[512];
        snprintf(path, sizeof path, "%s/nested%s", dir, ext[e]);
        CHECK(rnn_save(m, path) == RNN_OK, "save %s: %s", ext[e], rnn_model_error(m));
        rnn_model *back = rnn_load(path);
        CHECK(back != NULL, "load %s: %s", ext[e], rnn_last_error());
        if (back) {
            int64_t na = 0, nb = 0;
            float *a = all_weights(m, &na), *b = all_weights(back, &nb);
            CHECK(a && b && na == nb && na > 0 && same_bits(a, b, na),
                  "%s: the weights did not round-trip", ext[e]);
            /* The deepest LSTM's weights, read from the inner model itself, are in the file. */
            int i = weight_named(inner, "lstm/"), j = weight_named(back, "lstm/");
            CHECK(i >= 0 && j >= 0, "%s: the deepest LSTM's weights are at %d and %d", ext[e], i, j);
            for (int k = 0; i >= 0 && j >= 0 && k < 3; k++) {
                int64_t n = weight_size(inner, i + k);
                float *u = malloc(sizeof(float) * (size_t)n), *v = malloc(sizeof(float) * (size_t)n);
                CHECK(u && v && weight_size(back, j + k) == n && !rnn_get_weight(inner, i + k, u, n) &&
                      !rnn_get_weight(back, j + k, v, n) && same_bits(u, v, n),
                      "%s: LSTM weight %d differs after loading", ext[e], k);
                free(u);
                free(v);
            }
            float y0[B], y1[B];
            CHECK(predict(m, 0, y0) == 0 && predict(back, 0, y1) == 0 && same_bits(y0, y1, B),
                  "%s: the loaded model predicts otherwise", ext[e]);
            free(a);
            free(b);
            rnn_model_free(back);
        }
        unlink(path);
        rnn_model_free(m);
        rnn_model_free(inner);
    }
}
#endif

/* The deepest LSTM's weights as the inner model itself holds them (malloc'd). */
static float *lstm_weights(rnn_model *inner, int64_t *total) {
    int i = weight_named(inner, "lstm/");
    int64_t n[3], size = 0;
    for (int k = 0; k < 3; k++) size += n[k] = i < 0 ? 0 : weight_size(inner, i + k);
    float *w = i < 0 ? NULL : malloc(sizeof(float) * (size_t)size);
    for (int k = 0, off = 0; w && k < 3; off += (int)n[k], k++) rnn_get_weight(inner, i + k, w + off, n[k]);
    *total = size;
    return w;
}

static void test_training(void) {
    rnn_model *inner = NULL, *m = nested_model(5, 1, &inner);
    if (!m) return;
    static float x[N * T * F], y[N];
    for (int i = 0; i < N * T * F; i++) x[i] = frand();
    for (int i = 0; i < N; i++) y[i] = frand();
    CHECK(rnn_compile(m, "mse", "adam") == RNN_OK, "compile: %s", rnn_model_error(m));
    int64_t n0 = 0, n1 = 0, l0 = 0, l1 = 0;
    float *before = all_weights(m, &n0), *lstm_before = lstm_weights(inner, &l0);
    rnn_fit_options fo = rnn_fit_defaults();
    fo.epochs = 2;
    fo.batch_size = B;
    fo.verbose = 0;
    fo.shuffle = 0;
    CHECK(rnn_fit(m, rnn_data_xy(rnn_tensor3(x, N, T, F), rnn_tensor2(y, N, 1)), &fo, NULL) == RNN_OK,
          "fit: %s", rnn_model_error(m));
    float *after = all_weights(m, &n1), *lstm_after = lstm_weights(inner, &l1);
    /* Every weight the outer model lists moved ... */
    int64_t off = 0;
    for (int i = 0; before && after && n0 == n1 && i < rnn_weight_count(m); i++) {
        int64_t k = weight_size(m, i);
        const char *name = NULL;
        rnn_weight_info(m, i, &name, NULL, NULL);
        CHECK(!same_bits(before + off, after + off, k), "training left weight %d (%s) unchanged", i,
              name);
        off += k;
    }
    CHECK(off > 0 && off == n0, "compared %lld of %lld values", (long long)off, (long long)n0);
    /* ... and so did the deepest LSTM's, seen from the inner model. */
    CHECK(lstm_before && lstm_after && l0 == l1 && l0 == 3 * 4 * UNITS + UNITS * 4 * UNITS + 4 * UNITS,
          "the inner model's LSTM weights: %lld values", (long long)l0);
    for (int64_t i = 0, k = 0; lstm_before && lstm_after && k < 3; k++) {
        int64_t n = k == 0 ? 3 * 4 * UNITS : k == 1 ? UNITS * 4 * UNITS : 4 * UNITS;
        CHECK(!same_bits(lstm_before + i, lstm_after + i, n), "training left LSTM weight %d unchanged",
              (int)k);
        i += n;
    }
    free(before);
    free(after);
    free(lstm_before);
    free(lstm_after);
    rnn_model_free(m);
    rnn_model_free(inner);
}

/* ---------------------------------------------------------------- seeds */

/* LSTM(4) -> Dense(1) (and a Dense(2) before the last when extra), seeded first if set_seed. */
static rnn_model *plain_model(uint64_t seed, int set_seed, int extra) {
    rnn_model *m = rnn_sequential(NULL);
    if (set_seed) rnn_set_seed(m, seed);
    rnn_recurrent_options o = rnn_lstm_defaults(UNITS);
    rnn_status st = rnn_input(m, T, F) || rnn_add(m, rnn_lstm(&o)) ||
                    (extra && rnn_add(m, rnn_dense_simple(2, RNN_TANH))) ||
                    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    CHECK(st == RNN_OK, "plain model: %s", rnn_model_error(m));
    return m;
}

/* 1 when both models hold the same number of weight values with the same bits. */
static int same_weights(rnn_model *a, rnn_model *b) {
    int64_t na = 0, nb = 0;
    float *wa = all_weights(a, &na), *wb = all_weights(b, &nb);
    int same = wa && wb && na == nb && na > 0 && same_bits(wa, wb, na);
    free(wa);
    free(wb);
    return same;
}

static rnn_status fit_quietly(rnn_model *m, float *x, float *y) {
    rnn_fit_options fo = rnn_fit_defaults();
    fo.epochs = 2;
    fo.batch_size = 4;
    fo.verbose = 0;
    return rnn_fit(m, rnn_data_xy(rnn_tensor3(x, N, T, F), rnn_tensor2(y, N, 1)), &fo, NULL);
}

static void test_seeds(const char *dir) {
    enum { SEED = 1234 };
    FILE *null = fopen("/dev/null", "w");
    rnn_model *ref = plain_model(SEED, 1, 0), *zero = plain_model(0, 0, 0);
    CHECK(!same_weights(ref, zero), "seeds %d and 0 draw the same weights", SEED);

    /* Each order of calls, then rnn_set_seed(SEED): the weights of ref. */
    for (int order = 0; order < 6; order++) {
        rnn_model *m = plain_model(0, 0, 0);
        float w0[F * 4 * UNITS];
        const char *what = "?";
        switch (order) {
        case 0: what = "before the build"; break;
        case 1: what = "after rnn_summary"; rnn_summary(m, null); break;
        case 2: what = "after rnn_weight_count"; rnn_weight_count(m); break;
        case 3: what = "after rnn_get_weight"; rnn_get_weight(m, 0, w0, F * 4 * UNITS); break;
        case 4: what = "after another seed"; rnn_summary(m, null); rnn_set_seed(m, 99); break;
        case 5: what = "set twice"; rnn_weight_count(m); rnn_set_seed(m, SEED); break;
        }
        CHECK(rnn_set_seed(m, SEED) == RNN_OK, "%s: %s", what, rnn_model_error(m));
        CHECK(same_weights(m, ref), "rnn_set_seed %s: not the weights of a model built with it", what);
        rnn_model_free(m);
    }

    /* A layer added after the build: the redrawn weights and the new layer's, drawn at the next
     * build, are those of the whole model built with the seed. */
    {
        rnn_model *want = plain_model(SEED, 1, 1);
        rnn_model *grown = rnn_sequential(NULL);
        rnn_recurrent_options o = rnn_lstm_defaults(UNITS);
        rnn_input(grown, T, F);
        rnn_add(grown, rnn_lstm(&o));
        rnn_add(grown, rnn_dense_simple(2, RNN_TANH));
        rnn_weight_count(grown); /* LSTM and Dense(2) drawn with seed 0 */
        rnn_add(grown, rnn_dense_simple(1, RNN_LINEAR));
        CHECK(rnn_set_seed(grown, SEED) == RNN_OK, "grown: %s", rnn_model_error(grown));
        CHECK(same_weights(grown, want), "a layer added after the build: not the seeded weights");
        rnn_model_free(want);
        rnn_model_free(grown);
    }

    /* After training: the seeded weights again, no trace of the first training (optimizer
     * moments, step count): a second fit gives the bits of a fresh model's fit. */
    {
        static float x[N * T * F], y[N];
        for (int i = 0; i < N * T * F; i++) x[i] = frand();
        for (int i = 0; i < N; i++) y[i] = frand();
        rnn_model *m = plain_model(0, 0, 0), *fresh = plain_model(SEED, 1, 0);
        rnn_compile(m, "mse", "adam");
        rnn_compile(fresh, "mse", "adam");
        CHECK(fit_quietly(m, x, y) == RNN_OK, "fit: %s", rnn_model_error(m));
        CHECK(rnn_set_seed(m, SEED) == RNN_OK, "after fit: %s", rnn_model_error(m));
        CHECK(same_weights(m, ref), "rnn_set_seed after fit: not the seeded weights");
        CHECK(rnn_optimizer_iterations(m) == 0, "the optimizer's step count stayed at %lld",
              (long long)rnn_optimizer_iterations(m));
        CHECK(fit_quietly(m, x, y) == RNN_OK && fit_quietly(fresh, x, y) == RNN_OK, "fit: %s",
              rnn_last_error());
        CHECK(same_weights(m, fresh), "fit after rnn_set_seed differs from a fresh model's fit");
        rnn_model_free(m);
        rnn_model_free(fresh);
    }

    /* Nested models: the redraw reaches the deepest layers. */
    {
        rnn_model *m = nested_model(0, 0, NULL), *want = nested_model(SEED, 1, NULL);
        if (m && want) {
            rnn_weight_count(m);
            CHECK(!same_weights(m, want), "nested: seeds 0 and %d draw the same weights", SEED);
            CHECK(rnn_set_seed(m, SEED) == RNN_OK, "nested: %s", rnn_model_error(m));
            CHECK(same_weights(m, want), "nested: rnn_set_seed after the build: not the seeded weights");
        }
        rnn_model_free(m);
        rnn_model_free(want);
    }

#ifdef RNN_WITH_KERAS_IO
    /* A loaded model keeps the file's weights through everything that builds a model, until
     * rnn_set_seed is called on it. */
    static const char *const ext[] = {".keras", ".h5"};
    for (int e = 0; e < 2; e++) {
        rnn_model *saved = plain_model(5, 1, 0);
        char path[512];
        snprintf(path, sizeof path, "%s/seeded%s", dir, ext[e]);
        CHECK(rnn_save(saved, path) == RNN_OK, "save: %s", rnn_model_error(saved));
        rnn_model *back = rnn_load(path);
        CHECK(back != NULL, "load %s: %s", ext[e], rnn_last_error());
        if (back) {
            float y0[B];
            rnn_summary(back, null);
            rnn_weight_count(back);
            CHECK(predict(back, 0, y0) == 0, "predict: %s", rnn_model_error(back));
            CHECK(same_weights(back, saved), "%s: the loaded model lost the file's weights", ext[e]);
            CHECK(rnn_set_seed(back, SEED) == RNN_OK, "%s: %s", ext[e], rnn_model_error(back));
            CHECK(same_weights(back, ref), "%s: rnn_set_seed on a loaded model: not the seeded weights",
                  ext[e]);
            rnn_model_free(back);
        }
        unlink(path);
        rnn_model_free(saved);
    }
#else
    (void)dir;
#endif
    rnn_model_free(ref);
    rnn_model_free(zero);
    if (null) fclose(null);
}

int main(void) {
    for (int w = 0; w < 2; w++)
        for (int i = 0; i < B * T * F; i++) xs[w][i] = frand();
    test_reset();
    test_weight_count();
#ifdef RNN_WITH_KERAS_IO
    char dir[] = "/tmp/rnn_arch_XXXXXX";
    if (mkdtemp(dir)) {
        test_save_load(dir);
        test_seeds(dir);
        rmdir(dir);
    } else {
        CHECK(0, "mkdtemp failed");
    }
#else
    test_seeds(NULL);
#endif
    test_training();
    return check_report("test_architecture");
}
