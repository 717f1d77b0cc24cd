/* Keras model files: rnn_load / rnn_save.
 *  - every model in ../shared/data/keras-models (skipped when the folder is absent) loads,
 *    summarises and predicts, or fails with RNN_ERR_UNSUPPORTED naming the layer it lacks;
 *  - DL4J's reference predictions (Keras 1.2.2 and 2.1.3 files) are matched within 1e-5;
 *  - save -> load round trips (.keras and .h5) predict bit-identically;
 *  - bad files (missing, random bytes, truncated, another kind, unknown layer, Lambda, custom
 *    object, wrong weight shape, invalid JSON, missing weights, byte-flip fuzz) are errors, and
 *    failed saves leave nothing behind.
 * Built without the Keras libraries (KERAS_IO=none), it checks that both calls say so. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "rnn.h"

#ifndef RNN_WITH_KERAS_IO
int main(void) {
    rnn_model *m = rnn_load("x.keras");
    CHECK(m == NULL && strstr(rnn_last_error(), "KERAS_IO"), "%s", rnn_last_error());
    rnn_model *s = rnn_sequential(NULL);
    CHECK(rnn_save(s, "x.keras") == RNN_ERR_UNSUPPORTED, "save without Keras I/O");
    rnn_model_free(s);
    printf("test_keras_io: built without Keras I/O (KERAS_IO=none): only the refusal is tested\n");
    return check_report("test_keras_io");
}
#else
#include <hdf5.h>
#include <zip.h>

#define SHARED "../shared/data/keras-models/"

static char tmpdir[256];

static uint64_t rng_state = 42;
static float frand(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng_state >> 40) & 0xffffff) / 16777216.0f;
}

static int file_exists(const char *p) { return access(p, F_OK) == 0; }

typedef struct {
    const char *file;
    const char *unsupported; /* NULL: must load; else the class the message must name */
    int64_t batch, steps, features; /* input 0: features 0 = token ids [batch, steps] */
    int64_t state_features;         /* a second input (initial state), 0 if none */
} shared_case;

static const shared_case shared_cases[] = {
    {"arimagru_gru.h5", NULL, 3, 60, 1, 0},
    {"btc_gru_v2_keras3.keras", NULL, 3, 60, 9, 0},
    {"dl4j_masking_zero_lstm.h5", NULL, 3, 10, 42, 0},
    {"dl4j_simple_flatten_rnn_tf_keras2_model.h5", NULL, 25, 1, 1, 0},
    {"dl4j_simple_lstm_tf_keras1_model.h5", NULL, 3, 1, 1, 0},
    {"dl4j_simple_lstm_tf_keras2_model.h5", NULL, 25, 1, 1, 0},
    {"dl4j_simple_lstm_th_keras1_model.h5", NULL, 3, 1, 1, 0},
    {"dl4j_simple_rnn_tf_keras2_model.h5", NULL, 25, 1, 1, 0},
    {"dl4j_tfkeras_rnn_0.h5", NULL, 3, 3, 4, 0},
    {"dl4j_tfkeras_rnn_221.h5", NULL, 3, 6, 1, 0},
    {"dl4j_tfkeras_rnn_31.h5", NULL, 3, 3, 4, 0},
    {"dl4j_tfkeras_rnn_5.h5", NULL, 3, 3, 4, 0},
    {"fdeep_gru_stateful_nobias.h5", NULL, 1, 3, 1, 1},
    {"fdeep_lstm.h5", NULL, 3, 0, 0, 0}, /* five inputs: fdeep_inputs */
    {"gru_deploy_gru_model.h5", NULL, 3, 7, 20, 0},
    {"imdb_embedding_gru_keras3.h5", NULL, 2, 500, 0, 0},
    {"keras2c_example_model.h5", NULL, 3, 8, 32, 0},
    {"komei_lstm_keras3.keras", NULL, 3, 12, 24, 0},
    {"lstm_autoencoder_td.h5", NULL, 3, 8, 1, 0},
    {"lstmmulti_model.h5", NULL, 3, 1, 56, 0},
    {"sunspot_conv_lstm.h5", NULL, 3, 30, 1, 0},
    {"traffic_gru.h5", NULL, 3, 12, 1, 0},
    {"traffic_lstm.h5", NULL, 3, 12, 1, 0},
};

typedef struct {
    float *data[5];
    rnn_tensor x[5];
    int nx;
} inputs;

/* fdeep_lstm.h5's inputs: [17, 4], [1, 10], [6 (None), 4] steps x features, then two
 * initial states of 12 (features 0: no time axis). */
static const int64_t fdeep_inputs[5][2] = {{17, 4}, {1, 10}, {6, 4}, {0, 12}, {0, 12}};

static void inputs_make(inputs *in, const shared_case *c) {
    memset(in, 0, sizeof *in);
    if (c->steps == 0) { /* fdeep_lstm.h5 */
        for (int k = 0; k < 5; k++) {
            int64_t T = fdeep_inputs[k][0], F = fdeep_inputs[k][1];
            int64_t n = c->batch * (T ? T : 1) * F;
            in->data[k] = malloc(sizeof(float) * (size_t)n);
            for (int64_t i = 0; i < n; i++) in->data[k][i] = frand() - 0.5f;
            in->x[k] = T ? rnn_tensor3(in->data[k], c->batch, T, F)
                         : rnn_tensor2(in->data[k], c->batch, F);
        }
        in->nx = 5;
        return;
    }
    int64_t n = c->batch * c->steps * (c->features ? c->features : 1);
    in->data[0] = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        in->data[0][i] = c->features ? 2 * frand() - 1 : (float)(i % c->steps < 3 ? 0 : (int)(frand() * 50));
    in->x[0] = c->features ? rnn_tensor3(in->data[0], c->batch, c->steps, c->features)
                           : rnn_tensor2(in->data[0], c->batch, c->steps);
    in->nx = 1;
    if (c->state_features) {
        int64_t k = c->batch * c->state_features;
        in->data[1] = malloc(sizeof(float) * (size_t)k);
        for (int64_t i = 0; i < k; i++) in->data[1][i] = frand() - 0.5f;
        in->x[1] = rnn_tensor2(in->data[1], c->batch, c->state_features);
        in->nx = 2;
    }
}

static void inputs_free(inputs *in) {
    for (int k = 0; k < 5; k++) free(in->data[k]);
}

static int all_finite(const rnn_tensor *t) {
    int64_t n = rnn_tensor_size(t);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(t->data[i])) return 0;
    return n > 0;
}

/* Output 0 of the model (the others, if any, are computed and dropped). */
static rnn_status predict(rnn_model *m, const inputs *in, rnn_tensor *y) {
    memset(y, 0, sizeof *y);
    int batch = (int)in->x[0].shape[0]; /* one batch: stateful models need their own size */
    if (in->nx == 1) return rnn_predict(m, rnn_data_x(in->x[0]), batch, y, 1);
    int ny = in->nx == 5 ? 17 : 1; /* fdeep_lstm.h5 has 17 outputs */
    rnn_tensor ys[17];
    memset(ys, 0, sizeof ys);
    rnn_status st = rnn_predict(m, rnn_data_arrays(in->x, in->nx, NULL, 0), batch, ys, ny);
    *y = ys[0];
    for (int k = 1; k < ny; k++) {
        if (!st && !all_finite(&ys[k])) st = RNN_ERR_NUMERIC;
        rnn_tensor_free(&ys[k]);
    }
    return st;
}

static int same_bits(const rnn_tensor *a, const rnn_tensor *b) {
    int64_t n = rnn_tensor_size(a);
    return n == rnn_tensor_size(b) && a->rank == b->rank &&
           memcmp(a->data, b->data, sizeof(float) * (size_t)n) == 0;
}

/* Saves m as path, loads it back, and checks the predictions are bit-identical. */
static void round_trip(rnn_model *m, const inputs *in, const rnn_tensor *want, const char *ext,
                       const char *what) {
    char path[512];
    snprintf(path, sizeof path, "%s/rt%s", tmpdir, ext);
    rnn_status st = rnn_save(m, path);
    if (st == RNN_ERR_UNSUPPORTED) {
        /* hard_sigmoid of the other Keras generation: refused, and no file left */
        CHECK(strstr(rnn_model_error(m), "hard_sigmoid") && !file_exists(path), "%s %s: %s",
              what, ext, rnn_model_error(m));
        return;
    }
    CHECK(st == RNN_OK, "%s: save %s: %s", what, ext, rnn_model_error(m));
    if (st) return;
    rnn_model *back = rnn_load(path);
    CHECK(back != NULL, "%s: reload %s: %s", what, ext, rnn_last_error());
    if (back) {
        rnn_tensor y;
        CHECK(predict(back, in, &y) == RNN_OK, "%s: predict after %s: %s", what, ext,
              rnn_model_error(back));
        CHECK(same_bits(&y, want), "%s: %s round trip is not bit-identical", what, ext);
        CHECK(rnn_count_params(back) == rnn_count_params(m), "%s: parameter count", what);
        rnn_tensor_free(&y);
        rnn_model_free(back);
    }
    unlink(path);
}

static void test_shared_models(void) {
    if (!file_exists(SHARED)) {
        printf("test_keras_io: %s not found: shared model checks skipped\n", SHARED);
        return;
    }
    int loaded = 0, refused = 0;
    for (size_t i = 0; i < sizeof shared_cases / sizeof shared_cases[0]; i++) {
        const shared_case *c = &shared_cases[i];
        char path[512];
        snprintf(path, sizeof path, SHARED "%s", c->file);
        rnn_model *m = rnn_load(path);
        if (c->unsupported) {
            CHECK(m == NULL, "%s should be refused", c->file);
            char want[64];
            snprintf(want, sizeof want, "class %s", c->unsupported);
            CHECK(strstr(rnn_last_error(), want) != NULL, "%s: message \"%s\" does not name %s",
                  c->file, rnn_last_error(), c->unsupported);
            refused += m == NULL;
            rnn_model_free(m);
            continue;
        }
        CHECK(m != NULL, "%s: %s", c->file, rnn_last_error());
        if (!m) continue;
        loaded++;
        FILE *f = tmpfile();
        CHECK(f && rnn_summary(m, f) == RNN_OK && ftell(f) > 200, "%s: summary", c->file);
        if (f) fclose(f);
        inputs in;
        inputs_make(&in, c);
        rnn_tensor y;
        rnn_status st = predict(m, &in, &y);
        CHECK(st == RNN_OK && all_finite(&y), "%s: predict: %s", c->file, rnn_model_error(m));
        if (!st) {
            rnn_reset_states(m);
            rnn_tensor y0;
            predict(m, &in, &y0);
            rnn_reset_states(m);
            round_trip(m, &in, &y0, ".keras", c->file);
            rnn_reset_states(m);
            round_trip(m, &in, &y0, ".h5", c->file);
            rnn_tensor_free(&y0);
        }
        rnn_tensor_free(&y);
        inputs_free(&in);
        rnn_model_free(m);
    }
    printf("test_keras_io: shared models: %d loaded and predicted, %d refused by name\n", loaded,
           refused);
}

/* ---------------------------------------------------------------- DL4J references */

static float *h5_read(const char *file, const char *dataset, int64_t *n) {
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return NULL;
    hid_t d = H5Dopen2(f, dataset, H5P_DEFAULT);
    float *buf = NULL;
    if (d >= 0) {
        hid_t s = H5Dget_space(d);
        *n = H5Sget_simple_extent_npoints(s);
        buf = malloc(sizeof(float) * (size_t)*n);
        if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
            free(buf);
            buf = NULL;
        }
        H5Sclose(s);
        H5Dclose(d);
    }
    H5Fclose(f);
    return buf;
}

static void test_dl4j_references(void) {
    static const struct {
        const char *base, *input, *output;
        int64_t batch;
    } refs[] = {
        {"dl4j_simple_lstm_tf_keras1", "inputs/lstm_input_1", "predictions/dense_1", 100},
        {"dl4j_simple_lstm_th_keras1", "inputs/lstm_input_1", "predictions/dense_1", 100},
        {"dl4j_simple_rnn_tf_keras2", "inputs/simple_rnn_1_input", "predictions/dense_1", 25},
        {"dl4j_simple_flatten_rnn_tf_keras2", "inputs/simple_rnn_1_input", "predictions/dense_1",
         25},
    };
    if (!file_exists(SHARED)) return;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        char model_path[512], data_path[512];
        snprintf(model_path, sizeof model_path, SHARED "%s_model.h5", refs[i].base);
        snprintf(data_path, sizeof data_path, SHARED "%s_inputs_and_outputs.h5", refs[i].base);
        int64_t nx = 0, ny = 0;
        float *x = h5_read(data_path, refs[i].input, &nx);
        float *want = h5_read(data_path, refs[i].output, &ny);
        rnn_model *m = rnn_load(model_path);
        CHECK(x && want && m && nx == refs[i].batch && ny == refs[i].batch, "%s: reference data",
              refs[i].base);
        if (x && want && m) {
            rnn_tensor y;
            CHECK(rnn_predict(m, rnn_data_x(rnn_tensor3(x, nx, 1, 1)), 25, &y, 1) == RNN_OK, "%s: %s",
                  refs[i].base, rnn_model_error(m));
            double worst = 0;
            for (int64_t k = 0; k < ny && y.data; k++) {
                double d = fabs(y.data[k] - want[k]);
                double tol = fabs(want[k]) > 1 ? 1e-4 * fabs(want[k]) : 1e-5;
                CHECK(d <= tol, "%s: output %lld: %.9g vs Keras %.9g", refs[i].base,
                      (long long)k, y.data[k], want[k]);
                if (d > worst) worst = d;
            }
            printf("test_keras_io: %s vs Keras's predictions: max |diff| %.3g\n", refs[i].base,
                   worst);
            rnn_tensor_free(&y);
        }
        rnn_model_free(m);
        free(x);
        free(want);
    }
}

/* ---------------------------------------------------------------- bad files */

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

static unsigned char *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size + 1);
    *n = fread(buf, 1, (size_t)size, f);
    fclose(f);
    return buf;
}

/* A copy of a .keras file with config.json edited (first `from` replaced by `to`) and, if
 * drop_weights, without model.weights.h5. */
static int rewrite_keras(const char *src, const char *dst, const char *from, const char *to,
                         int drop_weights) {
    int err = 0;
    zip_t *in = zip_open(src, ZIP_RDONLY, &err);
    if (!in) return -1;
    zip_t *out = zip_open(dst, ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!out) {
        zip_discard(in);
        return -1;
    }
    static char *keep[8];
    int nkeep = 0;
    zip_int64_t n = zip_get_num_entries(in, 0);
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(in, (zip_uint64_t)i, 0);
        zip_stat_t sb;
        zip_stat_index(in, (zip_uint64_t)i, 0, &sb);
        char *buf = malloc(sb.size + 1 + (to ? strlen(to) : 0));
        zip_file_t *zf = zip_fopen_index(in, (zip_uint64_t)i, 0);
        zip_fread(zf, buf, sb.size);
        zip_fclose(zf);
        buf[sb.size] = 0;
        size_t size = sb.size;
        if (!strcmp(name, "model.weights.h5") && drop_weights) {
            free(buf);
            continue;
        }
        if (!strcmp(name, "config.json") && from) {
            char *at = strstr(buf, from);
            if (at) {
                size_t pre = (size_t)(at - buf), tail = strlen(at + strlen(from));
                char *nb = malloc(pre + strlen(to) + tail + 1);
                memcpy(nb, buf, pre);
                memcpy(nb + pre, to, strlen(to));
                memcpy(nb + pre + strlen(to), at + strlen(from), tail + 1);
                free(buf);
                buf = nb;
                size = strlen(nb);
            }
        }
        keep[nkeep++] = buf;
        zip_source_t *s = zip_source_buffer(out, buf, size, 0);
        zip_file_add(out, name, s, ZIP_FL_OVERWRITE);
    }
    int rc = zip_close(out);
    for (int i = 0; i < nkeep; i++) free(keep[i]);
    zip_discard(in);
    return rc;
}

static void expect_load_error(const char *path, rnn_status want, const char *needle,
                              const char *what) {
    rnn_model *m = rnn_load(path);
    CHECK(m == NULL, "%s: should not load", what);
    rnn_model_free(m);
    rnn_model *again = rnn_load(path); /* status through a second call: same result */
    rnn_model_free(again);
    (void)want;
    CHECK(strlen(rnn_last_error()) > 10, "%s: no message", what);
    if (needle)
        CHECK(strstr(rnn_last_error(), needle) != NULL, "%s: message \"%s\" lacks \"%s\"", what,
              rnn_last_error(), needle);
}

static rnn_model *small_model(void) {
    rnn_model *m = rnn_sequential("small");
    rnn_recurrent_options o = rnn_lstm_defaults(4);
    o.return_sequences = 1;
    rnn_input(m, 5, 3);
    rnn_add(m, rnn_lstm(&o));
    rnn_add(m, rnn_time_distributed(rnn_dense_simple(2, RNN_TANH)));
    rnn_add(m, rnn_dropout(0.25f));
    rnn_recurrent_options g = rnn_gru_defaults(3);
    g.reset_after = 0;
    rnn_add(m, rnn_gru(&g));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_set_seed(m, 3);
    rnn_compile(m, "mse", "adam");
    return m;
}

static void test_bad_files(void) {
    char good[512], bad[512];
    snprintf(good, sizeof good, "%s/good.keras", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.keras", tmpdir);
    rnn_model *m = small_model();
    CHECK(rnn_save(m, good) == RNN_OK, "save small: %s", rnn_model_error(m));
    rnn_model *back = rnn_load(good);
    CHECK(back != NULL, "reload small: %s", rnn_last_error());
    rnn_model_free(back);

    rnn_model *none = rnn_load("/nonexistent/dir/model.keras");
    CHECK(none == NULL && strstr(rnn_last_error(), "cannot open"), "missing file: %s",
          rnn_last_error());

    unsigned char noise[4096];
    for (size_t i = 0; i < sizeof noise; i++) noise[i] = (unsigned char)(frand() * 256);
    write_bytes(bad, noise, sizeof noise);
    expect_load_error(bad, RNN_ERR_FORMAT, "not a Keras model file", "random bytes");

    write_bytes(bad, "Month,Passengers\n1949-01,112\n", 29);
    expect_load_error(bad, RNN_ERR_FORMAT, "not a Keras model file", "a CSV file");

    size_t n;
    unsigned char *bytes = read_bytes(good, &n);
    CHECK(bytes && n > 1000, "read good.keras");
    if (bytes) {
        write_bytes(bad, bytes, n / 2);
        expect_load_error(bad, RNN_ERR_FORMAT, NULL, "truncated .keras");
        write_bytes(bad, bytes, 30);
        expect_load_error(bad, RNN_ERR_FORMAT, NULL, "truncated .keras (header only)");
        /* byte-flip fuzz: never a crash; a load that succeeds is a real model */
        int loaded = 0;
        for (int round = 0; round < 300; round++) {
            unsigned char *copy = malloc(n);
            memcpy(copy, bytes, n);
            int flips = 1 + (int)(frand() * 8);
            for (int k = 0; k < flips; k++) copy[(size_t)(frand() * (float)n) % n] ^= (unsigned char)(1 + frand() * 254);
            write_bytes(bad, copy, n);
            rnn_model *fm = rnn_load(bad);
            if (fm) {
                loaded++;
                CHECK(rnn_layer_count(fm) >= 1, "fuzzed model without layers");
                rnn_model_free(fm);
            } else {
                CHECK(strlen(rnn_last_error()) > 10, "fuzz: no message");
            }
            free(copy);
        }
        printf("test_keras_io: byte-flip fuzz: %d of 300 corrupted .keras files still loaded "
               "(flips in unused bytes), none crashed\n", loaded);
        free(bytes);
    }

    CHECK(rewrite_keras(good, bad, "\"class_name\":\"GRU\"", "\"class_name\":\"Conv2D\"", 0) == 0, "rewrite");
    expect_load_error(bad, RNN_ERR_UNSUPPORTED, "class Conv2D", "unknown layer");
    CHECK(rewrite_keras(good, bad, "\"class_name\":\"Dropout\"", "\"class_name\":\"Lambda\"", 0) == 0, "rewrite");
    expect_load_error(bad, RNN_ERR_UNSUPPORTED, "Lambda", "Lambda layer");
    CHECK(rewrite_keras(good, bad, "\"class_name\":\"Dropout\",\"config\"",
                        "\"class_name\":\"MyDrop\",\"registered_name\":\"my_pkg>MyDrop\",\"config\"", 0) == 0, "rewrite");
    expect_load_error(bad, RNN_ERR_UNSUPPORTED, "custom object", "custom object");
    CHECK(rewrite_keras(good, bad, "\"units\":4", "\"units\":5", 0) == 0, "rewrite");
    expect_load_error(bad, RNN_ERR_FORMAT, "shape", "wrong weight shape");
    CHECK(rewrite_keras(good, bad, "\"reset_after\":false", "\"reset_after\":true", 0) == 0, "rewrite");
    expect_load_error(bad, RNN_ERR_FORMAT, "shape", "GRU bias of the other reset_after");
    CHECK(rewrite_keras(good, bad, "{\"module\"", "{{\"module\"", 0) == 0, "rewrite");
    expect_load_error(bad, RNN_ERR_FORMAT, "JSON", "invalid JSON");
    CHECK(rewrite_keras(good, bad, NULL, NULL, 1) == 0, "rewrite");
    expect_load_error(bad, RNN_ERR_FORMAT, "model.weights.h5", "missing weights");
    CHECK(rewrite_keras(good, bad, "\"return_sequences\":true", "\"return_sequences\":\"yes\"", 0) == 0, "rewrite");
    expect_load_error(bad, RNN_ERR_FORMAT, "return_sequences", "option of the wrong type");
    CHECK(rewrite_keras(good, bad, "\"dropout\":0,", "\"dropout\":0,\"kernel_regularizer\":{\"class_name\":\"L2\"},", 0) == 0, "rewrite");
    expect_load_error(bad, RNN_ERR_UNSUPPORTED, "kernel_regularizer", "regularizer");

    /* A legacy .h5 with a truncated tail, and an HDF5 file that is not a Keras model. */
    char h5[512];
    snprintf(h5, sizeof h5, "%s/good.h5", tmpdir);
    CHECK(rnn_save(m, h5) == RNN_OK, "save .h5: %s", rnn_model_error(m));
    bytes = read_bytes(h5, &n);
    if (bytes) {
        snprintf(bad, sizeof bad, "%s/bad.h5", tmpdir);
        write_bytes(bad, bytes, n / 2);
        expect_load_error(bad, RNN_ERR_FORMAT, NULL, "truncated .h5");
        /* byte flips inside the HDF5 structures and data (no checksum protects them) */
        int loaded = 0;
        for (int round = 0; round < 300; round++) {
            unsigned char *copy = malloc(n);
            memcpy(copy, bytes, n);
            int flips = 1 + (int)(frand() * 4);
            for (int k = 0; k < flips; k++) copy[(size_t)(frand() * (float)n) % n] ^= (unsigned char)(1 + frand() * 254);
            write_bytes(bad, copy, n);
            rnn_model *fm = rnn_load(bad);
            if (fm) loaded++;
            else CHECK(strlen(rnn_last_error()) > 10, "h5 fuzz: no message");
            rnn_model_free(fm);
            free(copy);
        }
        printf("test_keras_io: byte-flip fuzz of a legacy .h5: %d of 300 still loaded (flipped "
               "weight values or unused bytes), none crashed\n", loaded);
        free(bytes);
    }
    hid_t f = H5Fcreate(bad, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    expect_load_error(bad, RNN_ERR_FORMAT, "not a Keras model", "HDF5 without model_config");

    /* Failed saves leave nothing behind. */
    char path[512];
    snprintf(path, sizeof path, "%s/no_such_dir/m.keras", tmpdir);
    CHECK(rnn_save(m, path) == RNN_ERR_IO, "save into a missing directory");
    snprintf(path, sizeof path, "%s/m.txt", tmpdir);
    CHECK(rnn_save(m, path) == RNN_ERR_ARGUMENT && !file_exists(path), "save with a bad extension");
    rnn_model *hs = rnn_sequential(NULL);
    rnn_recurrent_options o = rnn_lstm_defaults(2);
    o.recurrent_activation = RNN_HARD_SIGMOID_LEGACY;
    rnn_input(hs, 3, 1);
    rnn_add(hs, rnn_lstm(&o));
    snprintf(path, sizeof path, "%s/hs.keras", tmpdir);
    CHECK(rnn_save(hs, path) == RNN_ERR_UNSUPPORTED && !file_exists(path),
          "legacy hard_sigmoid to .keras: %s", rnn_model_error(hs));
    rnn_model_free(hs);
    /* No temporary files left in the directory. */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp", tmpdir);
    FILE *p = popen(cmd, "r");
    int tmps = -1;
    if (p) {
        if (fscanf(p, "%d", &tmps) != 1) tmps = -1;
        pclose(p);
    }
    CHECK(tmps == 0, "temporary files left behind: %d", tmps);
    rnn_model_free(m);
}

/* Compile settings survive a round trip (.keras and .h5): training continues identically. */
/* Bidirectional models through both file kinds: a Sequential stack (concat, then sum, then
 * Dense) and a functional Masking -> Bidirectional(GRU, merge_mode=None) with two outputs; the
 * predictions after loading are bit-identical and the sub-layers keep their names. Then the
 * refusals: an unknown merge_mode, and a backward_layer that is not the flipped forward one. */
static void test_bidirectional_round_trip(void) {
    enum { N = 4, T = 5, F = 3 };
    static float x[N * T * F];
    for (int i = 0; i < N * T * F; i++) x[i] = 2 * frand() - 1;
    for (int f = 0; f < F; f++) x[(2 * T + 4) * F + f] = 0.0f; /* masked for Masking(0) */
    rnn_model *seq = rnn_sequential("bidi_stack");
    rnn_recurrent_options l = rnn_lstm_defaults(4), g = rnn_gru_defaults(3);
    l.return_sequences = 1;
    rnn_status st = rnn_input(seq, T, F) || rnn_add(seq, rnn_bidirectional(rnn_lstm(&l), "concat")) ||
                    rnn_add(seq, rnn_bidirectional(rnn_gru(&g), "sum")) ||
                    rnn_add(seq, rnn_dense_simple(2, RNN_LINEAR));
    CHECK(st == RNN_OK, "Bidirectional stack: %s", rnn_model_error(seq));
    rnn_set_seed(seq, 11);
    inputs in = {{x}, {rnn_tensor3(x, N, T, F)}, 1};
    rnn_tensor y0;
    if (!st && predict(seq, &in, &y0) == RNN_OK) {
        round_trip(seq, &in, &y0, ".keras", "Bidirectional stack");
        round_trip(seq, &in, &y0, ".h5", "Bidirectional stack");
        rnn_tensor_free(&y0);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/bidi.keras", tmpdir);
    CHECK(rnn_save(seq, path) == RNN_OK, "save: %s", rnn_model_error(seq));
    rnn_model *back = rnn_load(path);
    const char *name = NULL;
    if (back) rnn_weight_info(back, 3, &name, NULL, NULL);
    CHECK(name && !strcmp(name, "backward_lstm/kernel"), "weight 3 after loading: %s",
          name ? name : rnn_last_error());
    rnn_model_free(back);
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bidi_bad.keras", tmpdir);
    CHECK(rewrite_keras(path, bad, "\"merge_mode\":\"sum\"", "\"merge_mode\":\"max\"", 0) == 0,
          "rewrite");
    expect_load_error(bad, RNN_ERR_ARGUMENT, "Invalid merge mode. Received: max", "merge_mode max");
    CHECK(rewrite_keras(path, bad, "\"name\":\"backward_gru\",\"trainable\":true,\"dtype\":\"float32\",\"return_sequences\":false",
                        "\"name\":\"backward_gru\",\"trainable\":true,\"dtype\":\"float32\",\"return_sequences\":true", 0) == 0,
          "rewrite");
    expect_load_error(bad, RNN_ERR_UNSUPPORTED, "backward_layer", "a different backward_layer");
    unlink(bad);
    unlink(path);
    rnn_model_free(seq);

    rnn_symbol *xin = rnn_input_new(RNN_NONE, T, F, "x"), *outs[6];
    rnn_recurrent_options o = rnn_gru_defaults(3);
    o.return_sequences = 1;
    int n = 0;
    rnn_symbol *m = rnn_call(rnn_masking(0.0f), xin);
    st = rnn_call_ex(rnn_bidirectional(rnn_gru(&o), NULL), &m, 1, outs, &n);
    rnn_model *fm = st ? NULL : rnn_model_new(&xin, 1, outs, 2, "bidi_none");
    CHECK(fm != NULL && n == 2, "Bidirectional None: %s", rnn_last_error());
    if (!fm) return;
    rnn_set_seed(fm, 5);
    rnn_tensor want[2], got[2];
    CHECK(rnn_predict(fm, rnn_data_arrays(in.x, 1, NULL, 0), N, want, 2) == RNN_OK, "predict: %s", rnn_model_error(fm));
    for (int k = 0; k < 3; k++)
        CHECK(want[0].data[(2 * T + 4) * 3 + k] == 0.0f && want[1].data[(2 * T + 4) * 3 + k] == 0.0f,
              "masked step not zero");
    const char *exts[2] = {".keras", ".h5"};
    for (int e = 0; e < 2; e++) {
        snprintf(path, sizeof path, "%s/bidi_none%s", tmpdir, exts[e]);
        CHECK(rnn_save(fm, path) == RNN_OK, "save %s: %s", exts[e], rnn_model_error(fm));
        rnn_model *b2 = rnn_load(path);
        CHECK(b2 != NULL, "load %s: %s", exts[e], rnn_last_error());
        if (b2 && rnn_predict(b2, rnn_data_arrays(in.x, 1, NULL, 0), N, got, 2) == RNN_OK) {
            for (int k = 0; k < 2; k++) {
                CHECK(same_bits(&got[k], &want[k]), "Bidirectional None %s output %d", exts[e], k);
                rnn_tensor_free(&got[k]);
            }
        }
        rnn_model_free(b2);
        unlink(path);
    }
    for (int k = 0; k < 2; k++) rnn_tensor_free(&want[k]);
    rnn_model_free(fm);
}

/* Files written by real Keras (tools/make_keras_files.py): Keras 3's Bidirectional configs and
 * weight groups, the not_equal/any operations of a Masking mask in a functional model, and
 * tf.keras's legacy Bidirectional; predictions within 1e-5 (relative 1e-4 above 1) of Keras's. */
/* Conv1D in librnn's own files: both formats reload bit-identically (rank-3 kernels, strides,
 * dilation, no bias, padding names), and what librnn does not have is refused by name. */
static void test_conv1d_files(void) {
    rnn_model *m = rnn_sequential("convs");
    rnn_input(m, RNN_NONE, 3);
    rnn_conv1d_options a = rnn_conv1d_defaults(4, 3);
    a.strides = 2;
    a.padding = RNN_PADDING_SAME;
    a.activation = RNN_TANH;
    rnn_conv1d_options b = rnn_conv1d_defaults(3, 2);
    b.dilation_rate = 2;
    b.use_bias = 0;
    rnn_conv1d_options c = rnn_conv1d_defaults(2, 3);
    c.padding = RNN_PADDING_CAUSAL;
    c.activation = RNN_RELU;
    CHECK(rnn_add(m, rnn_conv1d(&a)) == RNN_OK && rnn_add(m, rnn_conv1d(&b)) == RNN_OK &&
          rnn_add(m, rnn_conv1d(&c)) == RNN_OK, "build: %s", rnn_model_error(m));
    rnn_recurrent_options g = rnn_gru_defaults(2);
    g.return_sequences = 1;
    CHECK(rnn_add(m, rnn_gru(&g)) == RNN_OK, "GRU: %s", rnn_model_error(m));
    rnn_set_seed(m, 7);
    inputs in;
    shared_case sc = {"convs", NULL, 3, 11, 3, 0};
    inputs_make(&in, &sc);
    rnn_tensor y;
    CHECK(predict(m, &in, &y) == RNN_OK, "predict: %s", rnn_model_error(m));
    /* 11 steps -> same, strides 2: 6 -> valid, k 2, dilation 2: 4 -> causal: 4 */
    CHECK(y.rank == 3 && y.shape[1] == 4 && y.shape[2] == 2, "output shape (%lld steps)",
          (long long)y.shape[1]);
    round_trip(m, &in, &y, ".keras", "Conv1D stack");
    round_trip(m, &in, &y, ".h5", "Conv1D stack");
    rnn_tensor_free(&y);

    char good[512], bad[512];
    snprintf(good, sizeof good, "%s/conv.keras", tmpdir);
    snprintf(bad, sizeof bad, "%s/conv_bad.keras", tmpdir);
    CHECK(rnn_save(m, good) == RNN_OK, "save: %s", rnn_model_error(m));
    static const struct {
        const char *from, *to, *needle;
    } edits[] = {
        {"\"data_format\":\"channels_last\"", "\"data_format\":\"channels_first\"", "channels_first"},
        {"\"groups\":1", "\"groups\":2", "groups=2"},
        {"\"padding\":\"causal\"", "\"padding\":\"full\"", "padding=\"full\""},
        {"\"kernel_size\":[3]", "\"kernel_size\":[3,3]", "kernel_size"},
        {"\"filters\":4", "\"filters\":5", "shape"},
        {"\"strides\":[2]", "\"strides\":[2],\"lora_rank\":4", "lora_rank"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        CHECK(rewrite_keras(good, bad, edits[i].from, edits[i].to, 0) == 0, "rewrite");
        expect_load_error(bad, RNN_ERR_UNSUPPORTED, edits[i].needle, edits[i].to);
    }
    inputs_free(&in);
    rnn_model_free(m);
}

/* The kinds of model whose .h5 tf.keras 2's form could not give Keras 3 (merge layers,
 * TimeDistributed over Sequential and Functional models, Keras 3's hard_sigmoid, initial_state,
 * Bidirectional, nested models), read from Keras 3's files: librnn saves each as .keras and as
 * .h5 (none refused), and both reload to the same predictions, bit for bit. Keras 3 loading
 * these files is checked by tools/check_keras_roundtrip.py. */
static void test_keras3_kinds_both_formats(void) {
    static const char *const cases[] = {"k3_merge_layers", "k3_merge_masked",
                                        "k3_time_distributed_models", "k3_hard_sigmoid",
                                        "k3_initial_state_bidirectional_nested"};
    static const int outputs[] = {5, 2, 1, 1, 2};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "tests/fixtures/keras_files/%s/model.keras", cases[i]);
        rnn_model *m = rnn_load(path);
        CHECK(m != NULL, "%s: %s", path, rnn_last_error());
        snprintf(path, sizeof path, "tests/fixtures/keras_files/%s/x.npy", cases[i]);
        rnn_tensor x = {0}, want[8], got[8];
        if (!m || rnn_npy_load(path, &x) != RNN_OK) {
            rnn_model_free(m);
            continue;
        }
        int ny = outputs[i], batch = (int)x.shape[0];
        CHECK(rnn_predict(m, rnn_data_x(x), batch, want, ny) == RNN_OK, "%s: predict: %s",
              cases[i], rnn_model_error(m));
        for (int f = 0; f < 2; f++) {
            snprintf(path, sizeof path, "%s/kinds%s", tmpdir, f ? ".h5" : ".keras");
            CHECK(rnn_save(m, path) == RNN_OK, "%s: save %s: %s", cases[i], path,
                  rnn_model_error(m));
            rnn_model *back = rnn_load(path);
            CHECK(back != NULL, "%s: reload %s: %s", cases[i], path, rnn_last_error());
            if (back && rnn_predict(back, rnn_data_x(x), batch, got, ny) == RNN_OK) {
                for (int k = 0; k < ny; k++) {
                    CHECK(same_bits(&got[k], &want[k]), "%s: output %d after the %s round trip "
                          "differs", cases[i], k, f ? ".h5" : ".keras");
                    rnn_tensor_free(&got[k]);
                }
            } else {
                CHECK(0, "%s: predict after %s: %s", cases[i], path, rnn_last_error());
            }
            rnn_model_free(back);
            unlink(path);
        }
        for (int k = 0; k < ny; k++) rnn_tensor_free(&want[k]);
        rnn_tensor_free(&x);
        rnn_model_free(m);
    }
}

static void test_keras_written_files(void) {
    static const char *const cases[] = {"k3_functional_masking_bidirectional/model.keras",
                                        "k3_sequential_bidirectional_stack/model.keras",
                                        "tfk2_bidirectional_gru_concat/model.h5",
                                        "k3_masking_conv1d_causal_lstm/model.keras",
                                        "tfk2_conv1d_same_strides_dilation_gru/model.h5",
                                        "shared_sunspot_conv_lstm_tf_keras/model.h5",
                                        /* merge layers, TimeDistributed over Sequential and
                                         * Functional models, Keras 3's hard_sigmoid,
                                         * initial_state, Bidirectional and nested models: as
                                         * .keras and as Keras 3's own .h5 */
                                        "k3_merge_layers/model.keras",
                                        "k3_merge_layers/model.h5",
                                        "k3_merge_masked/model.keras",
                                        "k3_time_distributed_models/model.keras",
                                        "k3_time_distributed_models/model.h5",
                                        "k3_hard_sigmoid/model.keras",
                                        "k3_hard_sigmoid/model.h5",
                                        "k3_initial_state_bidirectional_nested/model.keras",
                                        "k3_initial_state_bidirectional_nested/model.h5"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512], dir[512];
        snprintf(path, sizeof path, "tests/fixtures/keras_files/%s", cases[i]);
        snprintf(dir, sizeof dir, "%s", path);
        *strrchr(dir, '/') = '\0';
        if (!strncmp(cases[i], "shared_sunspot", 14)) { /* the shared model, tf.keras's outputs */
            if (!file_exists(SHARED)) continue;
            snprintf(path, sizeof path, SHARED "sunspot_conv_lstm.h5");
        }
        rnn_model *m = rnn_load(path);
        CHECK(m != NULL, "%s: %s", cases[i], rnn_last_error());
        if (!m) continue;
        rnn_tensor x, want[8], got[8];
        int ny = 0;
        char name[600];
        snprintf(name, sizeof name, "%s/x.npy", dir);
        CHECK(rnn_npy_load(name, &x) == RNN_OK, "%s: %s", name, rnn_last_error());
        snprintf(name, sizeof name, "%s/out.npy", dir);
        if (file_exists(name)) { /* one output: out.npy; several: out0.npy, out1.npy, ... */
            if (rnn_npy_load(name, &want[0]) == RNN_OK) ny = 1;
        } else {
            for (; ny < 8; ny++) {
                snprintf(name, sizeof name, "%s/out%d.npy", dir, ny);
                if (!file_exists(name) || rnn_npy_load(name, &want[ny]) != RNN_OK) break;
            }
        }
        CHECK(ny > 0, "%s: no reference outputs", cases[i]);
        double worst = 0;
        if (ny > 0 && rnn_predict(m, rnn_data_arrays(&x, 1, NULL, 0), (int)x.shape[0], got, ny) == RNN_OK) {
            for (int k = 0; k < ny; k++) {
                int64_t n = rnn_tensor_size(&want[k]);
                CHECK(rnn_tensor_size(&got[k]) == n, "%s: output %d size", cases[i], k);
                for (int64_t j = 0; j < n && rnn_tensor_size(&got[k]) == n; j++) {
                    double d = fabs(got[k].data[j] - want[k].data[j]);
                    double tol = fabs(want[k].data[j]) > 1 ? 1e-4 * fabs(want[k].data[j]) : 1e-5;
                    CHECK(d <= tol, "%s: output %d[%lld]: %.9g vs Keras %.9g", cases[i], k,
                          (long long)j, got[k].data[j], want[k].data[j]);
                    if (d > worst) worst = d;
                }
                rnn_tensor_free(&got[k]);
            }
        } else {
            CHECK(0, "%s: predict: %s", cases[i], rnn_model_error(m));
        }
        printf("test_keras_io: %s vs Keras's predictions (%d output%s): max |diff| %.3g\n",
               cases[i], ny, ny > 1 ? "s" : "", worst);
        for (int k = 0; k < ny; k++) rnn_tensor_free(&want[k]);
        rnn_tensor_free(&x);
        rnn_model_free(m);
    }
}

static void test_compile_round_trip(void) {
    rnn_model *m = small_model();
    float x[2 * 5 * 3], y[2];
    for (int i = 0; i < 30; i++) x[i] = frand() - 0.5f;
    y[0] = 0.3f;
    y[1] = -0.2f;
    const char *exts[2] = {".keras", ".h5"};
    for (int e = 0; e < 2; e++) {
        char path[512];
        snprintf(path, sizeof path, "%s/c%s", tmpdir, exts[e]);
        CHECK(rnn_save(m, path) == RNN_OK, "save: %s", rnn_model_error(m));
        rnn_model *a = rnn_load(path), *b = rnn_load(path);
        double la = 0, lb = 0;
        CHECK(a && b && rnn_train_on_batch(a,
                                           rnn_data_xy(rnn_tensor3(x, 2, 5, 3), rnn_tensor2(y, 2, 1)),
                                           &la) == RNN_OK,
              "loaded %s model trains (compiled from the file): %s", exts[e],
              a ? rnn_model_error(a) : rnn_last_error());
        if (b) rnn_train_on_batch(b, rnn_data_xy(rnn_tensor3(x, 2, 5, 3), rnn_tensor2(y, 2, 1)),
                                  &lb);
        CHECK(la == lb && la > 0, "%s: same loss after reload %.9g %.9g", exts[e], la, lb);
        rnn_model_free(a);
        rnn_model_free(b);
        unlink(path);
    }
    rnn_model_free(m);
}

/* Saved files get the umask's permissions, as Keras's model.save: 0644 under umask 022, not
 * the 0600 of a mkstemp temporary file renamed into place. */
static void test_saved_mode(void) {
    rnn_model *m = small_model();
    mode_t old = umask(022);
    const char *exts[2] = {".keras", ".h5"};
    for (int e = 0; e < 2; e++) {
        char path[512];
        snprintf(path, sizeof path, "%s/mode%s", tmpdir, exts[e]);
        struct stat sb;
        CHECK(rnn_save(m, path) == RNN_OK && stat(path, &sb) == 0, "save: %s", rnn_last_error());
        CHECK((sb.st_mode & 0777) == 0644, "%s saved with mode %o under umask 022", exts[e],
              (unsigned)(sb.st_mode & 0777));
        unlink(path);
    }
    umask(old);
    rnn_model_free(m);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rnn_keras_io_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "cannot create a temporary directory\n");
        return 1;
    }
    test_shared_models();
    test_dl4j_references();
    test_bad_files();
    test_compile_round_trip();
    test_saved_mode();
    test_bidirectional_round_trip();
    test_keras_written_files();
    test_keras3_kinds_both_formats();
    test_conv1d_files();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_report("test_keras_io");
}
#endif
