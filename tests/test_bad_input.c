/* The bad-input matrix (issue 6): every way a user can hand librnn or the rnn tool wrong data,
 * one table row each. A row names the case, the action, the expected status (an rnn_status for
 * library calls, the exit code for rnn commands), a fragment the message must contain and,
 * where a file could be written, what must hold afterwards: the output absent, or the previous
 * file byte for byte intact. Every case runs in a forked child in its own fresh directory, so a
 * crash or abort is reported as a failed case (with the signal) instead of ending the test, and
 * the directory is checked for temporary files left behind. Library calls must not print: their
 * child's stderr must stay empty (HDF5's own error printing included).
 *
 * Files are built on the fly: raw .npy headers, .keras zips assembled from a saved model's
 * members with an edited config.json, truncated copies of real files.
 *
 * The tests may run as root, which chmod cannot lock out of a directory; an unwritable output
 * is therefore a path whose parent is a regular file (ENOTDIR) and a path under /proc (which
 * refuses new files to root too). A disk that fills up is RLIMIT_FSIZE in the child, with
 * SIGXFSZ ignored so the write fails with EFBIG instead of killing the process. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bad_input_util.h"
#include "check.h"
#include "model_files.h"
#include "plot_svg.h"
#include "rnn.h"

#ifdef RNN_WITH_KERAS_IO
#include <zip.h>
#endif

/* ---------------------------------------------------------------- the case's directory */

static char case_dir[512];

/* A path inside the current case's directory (32 rotating buffers: a case uses far fewer at once). */
static const char *P(const char *name) {
    static char buf[32][700];
    static int k;
    k = (k + 1) % 32;
    snprintf(buf[k], sizeof buf[k], "%s/%s", case_dir, name);
    return buf[k];
}

/* ---------------------------------------------------------------- data and files */

static float xw[8 * 4], yw[8];

static void fill_data(void) {
    for (int i = 0; i < 8 * 4; i++) xw[i] = (float)(i % 7) / 7.0f;
    for (int i = 0; i < 8; i++) yw[i] = (float)(i % 3) / 3.0f;
}

static rnn_tensor X(void) { return rnn_tensor3(xw, 8, 4, 1); }
static rnn_tensor Y(void) { return rnn_tensor2(yw, 8, 1); }

static rnn_fit_options quiet(void) {
    rnn_fit_options o = rnn_fit_defaults();
    o.verbose = 0;
    o.epochs = 1;
    o.batch_size = 4;
    return o;
}

/* A .npy file with the given header dict and `data_bytes` zero bytes of data. */
static void npy_raw(const char *path, const char *dict, size_t data_bytes) {
    size_t dl = strlen(dict), total = 10 + dl + 1;
    total += (64 - total % 64) % 64;
    unsigned char *b = calloc(1, total + data_bytes);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)((total - 10) & 0xff);
    b[9] = (unsigned char)((total - 10) >> 8);
    memset(b + 10, ' ', total - 10);
    memcpy(b + 10, dict, dl);
    b[total - 1] = '\n';
    util_write(path, b, total + data_bytes);
    free(b);
}

/* The first n bytes of src into dst. */
static void truncated_copy(const char *src, const char *dst, size_t n) {
    size_t len;
    char *b = util_read(src, &len);
    util_write(dst, b, n < len ? n : len);
    free(b);
}

static void save_npy(const char *name, rnn_tensor t) { rnn_npy_save(P(name), &t); }

/* Saves the window model (seed 1) as name. */
static void save_window(const char *name) {
    rnn_model *m = util_window_model(1);
    rnn_save(m, P(name));
    rnn_model_free(m);
}

static const unsigned char png_bytes[] = {0x89, 'P',  'N',  'G',  '\r', '\n', 0x1a, '\n',
                                          0,    0,    0,    13,   'I',  'H',  'D',  'R',
                                          0,    0,    0,    1,    0,    0,    0,    1,
                                          8,    6,    0,    0,    0,    0x1f, 0x15, 0xc4};

#ifdef RNN_WITH_KERAS_IO
/* A member of a zip file (NUL-terminated), or NULL. */
static char *zip_member(const char *path, const char *name, size_t *n) {
    zip_t *z = zip_open(path, ZIP_RDONLY, NULL);
    if (!z) return NULL;
    zip_stat_t sb;
    char *buf = NULL;
    if (zip_stat(z, name, 0, &sb) == 0 && (buf = malloc(sb.size + 1))) {
        zip_file_t *f = zip_fopen(z, name, 0);
        if (!f || zip_fread(f, buf, sb.size) != (zip_int64_t)sb.size) {
            free(buf);
            buf = NULL;
        } else {
            buf[sb.size] = '\0';
            *n = sb.size;
        }
        if (f) zip_fclose(f);
    }
    zip_discard(z);
    return buf;
}

/* A .keras file with this config.json and the weights of the .keras file `weights_from`. */
static void keras_from_parts(const char *path, const char *config, const char *weights_from) {
    size_t wn = 0;
    char *w = zip_member(weights_from, "model.weights.h5", &wn);
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, NULL);
    if (!z || !w) {
        free(w);
        if (z) zip_discard(z);
        return;
    }
    zip_file_add(z, "config.json", zip_source_buffer(z, config, strlen(config), 0), 0);
    zip_file_add(z, "model.weights.h5", zip_source_buffer(z, w, wn, 0), 0);
    zip_close(z);
    free(w);
}

/* The config.json of the window model with `from` replaced by `to` (first occurrence); the
 * result is written as `name` with the window model's weights. Returns -1 (and the case then
 * fails on its status) if `from` was not found, so an edit that no longer applies is noticed. */
static int keras_edited(const char *name, const char *from, const char *to) {
    save_window("base.keras");
    size_t n;
    char *cfg = zip_member(P("base.keras"), "config.json", &n);
    char *at = cfg ? strstr(cfg, from) : NULL;
    if (!at) {
        free(cfg);
        return -1;
    }
    size_t fl = strlen(from), tl = strlen(to);
    char *out = malloc(n - fl + tl + 1);
    memcpy(out, cfg, (size_t)(at - cfg));
    memcpy(out + (at - cfg), to, tl);
    strcpy(out + (at - cfg) + tl, at + fl);
    keras_from_parts(P(name), out, P("base.keras"));
    free(cfg);
    free(out);
    return 0;
}
#endif

/* ---------------------------------------------------------------- disk full */

/* Limits the size of files this process writes to `bytes`; SIGXFSZ ignored, so write() fails
 * with EFBIG (as on a full disk it fails with ENOSPC) instead of killing the process. */
static void limit_file_size(rlim_t bytes) {
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl;
    getrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &rl);
}

static void unlimit_file_size(void) {
    struct rlimit rl;
    getrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_FSIZE, &rl);
}

static off_t file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* ---------------------------------------------------------------- the rnn tool */

static int cli(int (*cmd)(int, char **), int argc, const char *const *args) {
    char *argv[24];
    for (int i = 0; i < argc && i < 24; i++) argv[i] = (char *)args[i];
    return cmd(argc, argv);
}

/* ================================================================ the cases */

/* ---- shapes of fit / predict / evaluate */

static int fit_x_rank2(void) {
    rnn_model *m = util_window_model(1);
    rnn_fit_options o = quiet();
    return rnn_fit(m, rnn_data_xy(rnn_tensor2(xw, 8, 4), Y()), &o, NULL);
}
static int fit_x_features(void) {
    rnn_model *m = util_window_model(1);
    rnn_fit_options o = quiet();
    return rnn_fit(m, rnn_data_xy(rnn_tensor3(xw, 4, 4, 2), rnn_tensor2(yw, 4, 1)), &o, NULL);
}
static int fit_y_shape(void) {
    rnn_model *m = util_window_model(1);
    rnn_fit_options o = quiet();
    return rnn_fit(m, rnn_data_xy(X(), rnn_tensor2(yw, 4, 2)), &o, NULL);
}
static int fit_y_rank3(void) {
    rnn_model *m = util_window_model(1);
    rnn_fit_options o = quiet();
    return rnn_fit(m, rnn_data_xy(X(), rnn_tensor3(yw, 8, 1, 1)), &o, NULL);
}
static int predict_x_rank4(void) {
    rnn_model *m = util_window_model(1);
    rnn_tensor x = X(), y = {0};
    x.rank = 4;
    x.shape[3] = 1;
    return rnn_predict(m, rnn_data_x(x), 32, &y, 1);
}
static int predict_x_steps(void) {
    rnn_model *m = util_window_model(1);
    rnn_tensor y = {0};
    return rnn_predict(m, rnn_data_x(rnn_tensor3(xw, 4, 8, 1)), 32, &y, 1);
}
static int evaluate_samples(void) {
    rnn_model *m = util_window_model(1);
    double loss;
    return rnn_evaluate(m, rnn_data_xy(X(), rnn_tensor2(yw, 5, 1)), 32, &loss, NULL);
}
static int evaluate_x_negative(void) {
    rnn_model *m = util_window_model(1);
    double loss;
    return rnn_evaluate(m, rnn_data_xy(rnn_tensor3(xw, 8, 4, -1), Y()), 32, &loss, NULL);
}
static int train_on_batch_uncompiled(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, 4, 1);
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    double loss;
    return rnn_train_on_batch(m, rnn_data_xy(X(), rnn_tensor3(yw, 8, 4, 1)), &loss);
}

/* ---- stateful batch size */

static rnn_model *stateful_model(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_batch_input(m, 4, 4, 1);
    rnn_recurrent_options o = rnn_gru_defaults(3);
    o.stateful = 1;
    rnn_add(m, rnn_gru(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_compile(m, "mse", "sgd");
    return m;
}
static int stateful_fit_batch(void) {
    rnn_model *m = stateful_model();
    rnn_fit_options o = quiet();
    o.batch_size = 2;
    return rnn_fit(m, rnn_data_xy(X(), Y()), &o, NULL);
}
static int stateful_fit_rows(void) {
    rnn_model *m = stateful_model();
    rnn_fit_options o = quiet();
    return rnn_fit(m, rnn_data_xy(rnn_tensor3(xw, 6, 4, 1), rnn_tensor2(yw, 6, 1)), &o, NULL);
}
static int stateful_predict_batch(void) {
    rnn_model *m = stateful_model();
    rnn_tensor y = {0};
    return rnn_predict(m, rnn_data_x(X()), 8, &y, 1);
}

/* ---- zero samples, zero steps */

static int fit_zero_samples(void) {
    rnn_model *m = util_window_model(1);
    rnn_fit_options o = quiet();
    return rnn_fit(m, rnn_data_xy(rnn_tensor3(xw, 0, 4, 1), rnn_tensor2(yw, 0, 1)), &o, NULL);
}
static int predict_zero_samples(void) {
    rnn_model *m = util_window_model(1);
    rnn_tensor y = {0};
    return rnn_predict(m, rnn_data_x(rnn_tensor3(xw, 0, 4, 1)), 32, &y, 1);
}
static int predict_zero_steps(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, RNN_NONE, 1);
    rnn_recurrent_options o = rnn_lstm_defaults(2);
    rnn_add(m, rnn_lstm(&o));
    rnn_tensor y = {0};
    return rnn_predict(m, rnn_data_x(rnn_tensor3(xw, 4, 0, 1)), 32, &y, 1);
}
static int fit_zero_steps(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, RNN_NONE, 1);
    rnn_recurrent_options o = rnn_lstm_defaults(1);
    rnn_add(m, rnn_lstm(&o));
    rnn_compile(m, "mse", "adam");
    rnn_fit_options fo = quiet();
    return rnn_fit(m, rnn_data_xy(rnn_tensor3(xw, 8, 0, 1), Y()), &fo, NULL);
}

/* ---- NaN and Inf */

static int fit_x_nan(void) {
    rnn_model *m = util_window_model(1);
    rnn_fit_options o = quiet();
    xw[13] = NAN;
    return rnn_fit(m, rnn_data_xy(X(), Y()), &o, NULL);
}
static int fit_y_inf(void) {
    rnn_model *m = util_window_model(1);
    rnn_fit_options o = quiet();
    yw[5] = -INFINITY;
    return rnn_fit(m, rnn_data_xy(X(), Y()), &o, NULL);
}
static int evaluate_y_nan(void) {
    rnn_model *m = util_window_model(1);
    double loss;
    yw[0] = NAN;
    return rnn_evaluate(m, rnn_data_xy(X(), Y()), 32, &loss, NULL);
}
static int train_on_batch_x_inf(void) {
    rnn_model *m = util_window_model(1);
    double loss;
    xw[0] = INFINITY;
    return rnn_train_on_batch(m, rnn_data_xy(X(), Y()), &loss);
}
static int predict_x_nan(void) {
    rnn_model *m = util_window_model(1);
    rnn_tensor y = {0};
    xw[31] = NAN;
    return rnn_predict(m, rnn_data_x(X()), 32, &y, 1);
}
static int predict_step_nan(void) {
    rnn_model *m = util_window_model(1);
    float x1 = NAN, y1;
    return rnn_predict_step(m, &x1, &y1);
}
static int set_weight_nan(void) {
    rnn_model *m = util_window_model(1);
    float w[12] = {0};
    w[3] = NAN;
    return rnn_set_weight(m, 0, w, 12);
}

/* ---- Embedding ids */

static rnn_model *embedding_model(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_sequential_input(m, rnn_ids_input_new(RNN_NONE, 4, NULL));
    rnn_embedding_options e = rnn_embedding_defaults(10, 3);
    rnn_add(m, rnn_embedding(&e));
    rnn_recurrent_options o = rnn_gru_defaults(2);
    rnn_add(m, rnn_gru(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_SIGMOID));
    rnn_compile(m, "binary_crossentropy", "adam");
    return m;
}
static float ids[2 * 4] = {1, 2, 3, 4, 5, 6, 7, 8};
static int embedding_id_high(void) {
    rnn_model *m = embedding_model();
    rnn_tensor y = {0};
    ids[6] = 10;
    return rnn_predict(m, rnn_data_x(rnn_tensor2(ids, 2, 4)), 32, &y, 1);
}
static int embedding_id_negative(void) {
    rnn_model *m = embedding_model();
    float t[2] = {0, 1};
    double loss;
    ids[0] = -1;
    return rnn_train_on_batch(m, rnn_data_xy(rnn_tensor2(ids, 2, 4), rnn_tensor2(t, 2, 1)), &loss);
}
static int embedding_id_fraction(void) {
    rnn_model *m = embedding_model();
    float t[2] = {0, 1};
    rnn_fit_options o = quiet();
    ids[3] = 2.5f;
    return rnn_fit(m, rnn_data_xy(rnn_tensor2(ids, 2, 4), rnn_tensor2(t, 2, 1)), &o, NULL);
}
static int embedding_id_huge(void) {
    rnn_model *m = embedding_model();
    rnn_tensor y = {0};
    ids[1] = 3e9f; /* beyond int32: must not wrap into a valid row */
    return rnn_predict(m, rnn_data_x(rnn_tensor2(ids, 2, 4)), 32, &y, 1);
}
static int sparse_target_range(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, 4, 1);
    rnn_recurrent_options o = rnn_simple_rnn_defaults(3);
    rnn_add(m, rnn_simple_rnn(&o));
    rnn_add(m, rnn_dense_simple(3, RNN_SOFTMAX));
    rnn_compile(m, "sparse_categorical_crossentropy", "adam");
    float t[8] = {0, 1, 2, 3, 0, 1, 2, 0};
    double loss;
    return rnn_train_on_batch(m, rnn_data_xy(X(), rnn_tensor2(t, 8, 1)), &loss);
}

/* ---- sizes whose products overflow */

static int predict_huge_rows(void) {
    rnn_model *m = util_window_model(1);
    rnn_tensor y = {0};
    return rnn_predict(m, rnn_data_x(rnn_tensor3(xw, INT64_MAX / 2, 4, 1)), 32, &y, 1);
}
static int fit_huge_product(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, RNN_NONE, 1);
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_compile(m, "mse", "sgd");
    rnn_fit_options o = quiet();
    /* (2^32, 2^32, 1) x: each dimension fine, the product 2^64 wraps to 0 in int64 */
    return rnn_fit(m,
                   rnn_data_xy(rnn_tensor3(xw, (int64_t)1 << 32, (int64_t)1 << 32, 1), rnn_tensor3(yw, (int64_t)1 << 32, (int64_t)1 << 32, 1)),
                   &o, NULL);
}
static int huge_units_api(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, 4, 1 << 20);
    rnn_recurrent_options o = rnn_lstm_defaults(1 << 20); /* 4 * 2^20 * 2^21 = 2^43 params */
    rnn_status st = rnn_add(m, rnn_lstm(&o));
    if (st) return st;
    float *x = calloc((size_t)4 << 20, sizeof(float));
    rnn_tensor y = {0};
    return rnn_predict(m, rnn_data_x(rnn_tensor3(x, 1, 4, 1 << 20)), 1, &y, 1); /* builds: 32 TiB of weights */
}
static int npy_huge_shape(void) {
    npy_raw(P("big.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, "
                          "1099511627776), }", 16);
    rnn_tensor t;
    return rnn_npy_load(P("big.npy"), &t);
}
static int npy_product_overflow(void) {
    /* every dimension below the per-dimension bound, the product 2^80 */
    npy_raw(P("big.npy"), "{'descr': '<f8', 'fortran_order': False, 'shape': (1048576, 1048576, "
                          "1048576, 1048576), }", 16);
    rnn_tensor t;
    return rnn_npy_load(P("big.npy"), &t);
}
static int npy_huge_dimension_digits(void) {
    npy_raw(P("big.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': "
                          "(99999999999999999999999999999,), }", 16);
    rnn_tensor t;
    return rnn_npy_load(P("big.npy"), &t);
}
static int npy_save_huge(void) {
    rnn_tensor t = rnn_tensor3(xw, (int64_t)1 << 40, (int64_t)1 << 40, 1);
    return rnn_npy_save(P("out.npy"), &t);
}

/* ---- truncated files and files of the wrong kind */

static int npy_truncated(void) {
    save_npy("full.npy", X());
    truncated_copy(P("full.npy"), P("cut.npy"), 128 + 50);
    rnn_tensor t;
    return rnn_npy_load(P("cut.npy"), &t);
}
static int npy_truncated_header(void) {
    save_npy("full.npy", X());
    truncated_copy(P("full.npy"), P("cut.npy"), 40);
    rnn_tensor t;
    return rnn_npy_load(P("cut.npy"), &t);
}
static int npy_empty(void) {
    util_write(P("empty.npy"), "", 0);
    rnn_tensor t;
    return rnn_npy_load(P("empty.npy"), &t);
}
static int npy_is_png(void) {
    util_write(P("x.npy"), png_bytes, sizeof png_bytes);
    rnn_tensor t;
    return rnn_npy_load(P("x.npy"), &t);
}
static int npy_is_keras(void) {
    save_window("m.keras");
    rnn_tensor t;
    return rnn_npy_load(P("m.keras"), &t);
}
static int npy_bool_dtype(void) {
    rnn_tensor t;
    return rnn_npy_load("tests/fixtures/npy/bool.npy", &t);
}
static int npy_directory(void) {
    rnn_tensor t;
    return rnn_npy_load(case_dir, &t);
}
static int csv_truncated(void) {
    util_write(P("d.csv"), "Month,Passengers\n1949-01,112\n1949-02,", 37);
    float *v;
    int64_t n;
    return rnn_csv_load_column(P("d.csv"), "Passengers", 0, &v, &n);
}
static int csv_cut_in_quotes(void) {
    util_write(P("d.csv"), "Month,Passengers\n1949-01,112\n\"1949-02,11", 39);
    float *v;
    int64_t n;
    return rnn_csv_load_column(P("d.csv"), "Passengers", 0, &v, &n);
}
static int csv_is_png(void) {
    util_write(P("d.csv"), png_bytes, sizeof png_bytes);
    float *v;
    int64_t n;
    return rnn_csv_load_column(P("d.csv"), "Passengers", 0, &v, &n);
}

/* rnn_load returns a model or NULL, not a status: its cases expect LOAD_NULL and the message. */
#define LOAD_NULL 100
static int load_null(const char *path) {
    rnn_model *m = rnn_load(path);
    if (m) {
        rnn_model_free(m);
        return 0;
    }
    return LOAD_NULL;
}
static int keras_truncated(void) {
    save_window("m.keras");
    truncated_copy(P("m.keras"), P("cut.keras"), (size_t)file_size(P("m.keras")) / 2);
    return load_null(P("cut.keras"));
}
static int keras_truncated_tail(void) {
    save_window("m.keras");
    truncated_copy(P("m.keras"), P("cut.keras"), (size_t)file_size(P("m.keras")) - 10);
    return load_null(P("cut.keras"));
}
static int h5_truncated(void) {
    save_window("m.h5");
    truncated_copy(P("m.h5"), P("cut.h5"), (size_t)file_size(P("m.h5")) / 2);
    return load_null(P("cut.h5"));
}
static int h5_truncated_header(void) {
    save_window("m.h5");
    truncated_copy(P("m.h5"), P("cut.h5"), 300);
    return load_null(P("cut.h5"));
}
static int keras_is_png(void) {
    util_write(P("photo.keras"), png_bytes, sizeof png_bytes);
    return load_null(P("photo.keras"));
}
static int h5_is_png(void) {
    util_write(P("photo.h5"), png_bytes, sizeof png_bytes);
    return load_null(P("photo.h5"));
}
static int model_is_npy(void) {
    save_npy("x.npy", X());
    return load_null(P("x.npy"));
}
static int model_empty(void) {
    util_write(P("empty.keras"), "", 0);
    return load_null(P("empty.keras"));
}
static int model_missing(void) { return load_null(P("nowhere.keras")); }
static int keras_zip_without_config(void) {
#ifdef RNN_WITH_KERAS_IO
    zip_t *z = zip_open(P("m.keras"), ZIP_CREATE | ZIP_TRUNCATE, NULL);
    zip_file_add(z, "readme.txt", zip_source_buffer(z, "hello", 5, 0), 0);
    zip_close(z);
#endif
    return load_null(P("m.keras"));
}

/* ---- weights of the wrong shape */

static int set_weight_count(void) {
    rnn_model *m = util_window_model(1);
    float w[13] = {0};
    return rnn_set_weight(m, 0, w, 13);
}
static int set_weight_index(void) {
    rnn_model *m = util_window_model(1);
    float w[12] = {0};
    return rnn_set_weight(m, 5, w, 12);
}
static int copy_weights_mismatch(void) {
    rnn_model *a = util_window_model(1), *b = embedding_model();
    return rnn_copy_weights(a, b);
}
#ifdef RNN_WITH_KERAS_IO
static int keras_weights_shape(void) {
    /* the config says LSTM(4); the weights are LSTM(3)'s */
    if (keras_edited("m.keras", "\"units\":3", "\"units\":4")) return -1;
    return load_null(P("m.keras"));
}
static int keras_huge_units(void) {
    if (keras_edited("m.keras", "\"units\":3", "\"units\":1000000000000")) return -1;
    return load_null(P("m.keras"));
}
static int keras_units_overflow_int(void) {
    if (keras_edited("m.keras", "\"units\":3", "\"units\":4294967299")) return -1;
    return load_null(P("m.keras"));
}
static int keras_huge_input(void) {
    if (keras_edited("m.keras", "\"batch_shape\":[null,4,1]",
                     "\"batch_shape\":[null,4,9223372036854775807]"))
        return -1;
    return load_null(P("m.keras"));
}
static int keras_unknown_layer(void) {
    if (keras_edited("m.keras", "\"class_name\":\"LSTM\"", "\"class_name\":\"FancyLSTM\"")) return -1;
    return load_null(P("m.keras"));
}
static int keras_unknown_activation(void) {
    if (keras_edited("m.keras", "\"activation\":\"tanh\"", "\"activation\":\"swish\"")) return -1;
    return load_null(P("m.keras"));
}
static int keras_regularizer(void) {
    if (keras_edited("m.keras", "\"units\":3", "\"units\":3,\"kernel_regularizer\":{\"class_name\":"
                     "\"L2\",\"config\":{\"l2\":0.01}}"))
        return -1;
    return load_null(P("m.keras"));
}
static int keras_bad_json(void) {
    if (keras_edited("m.keras", "\"units\":3", "\"units\":3,,")) return -1;
    return load_null(P("m.keras"));
}
/* The first occurrence of weight 0's first value in buf, replaced by a NaN; 0 if found. */
static int poison_bytes(char *buf, size_t n) {
    rnn_model *m = util_window_model(1);
    float w[12], nan_value = NAN;
    rnn_get_weight(m, 0, w, 12);
    rnn_model_free(m);
    for (size_t i = 0; i + 4 <= n; i++)
        if (!memcmp(buf + i, &w[0], 4)) {
            memcpy(buf + i, &nan_value, 4);
            return 0;
        }
    return -1;
}
static int h5_nan_weight(void) {
    save_window("m.h5");
    size_t n;
    char *b = util_read(P("m.h5"), &n);
    int found = b ? poison_bytes(b, n) : -1;
    if (!found) util_write(P("nan.h5"), b, n);
    free(b);
    return found ? -1 : load_null(P("nan.h5"));
}
static int keras_nan_weight(void) {
    save_window("m.keras");
    size_t n, cn;
    char *w = zip_member(P("m.keras"), "model.weights.h5", &n);
    char *cfg = zip_member(P("m.keras"), "config.json", &cn);
    if (!w || !cfg || poison_bytes(w, n)) return -1;
    zip_t *z = zip_open(P("nan.keras"), ZIP_CREATE | ZIP_TRUNCATE, NULL);
    zip_file_add(z, "config.json", zip_source_buffer(z, cfg, cn, 0), 0);
    zip_file_add(z, "model.weights.h5", zip_source_buffer(z, w, n, 0), 0);
    zip_close(z);
    free(w);
    free(cfg);
    return load_null(P("nan.keras"));
}
static int keras_units_string(void) {
    if (keras_edited("m.keras", "\"units\":3", "\"units\":\"three\"")) return -1;
    return load_null(P("m.keras"));
}
#endif

/* ---- configuration errors through the API */

static int compile_unknown_loss(void) {
    rnn_model *m = util_window_model(1);
    return rnn_compile(m, "huber_loss", "adam");
}
static int unknown_metric(void) {
    rnn_model *m = util_window_model(1);
    return rnn_add_metric(m, "f1_score");
}
static int unknown_activation_code(void) {
    rnn_model *m = util_window_model(1);
    rnn_dense_options o = rnn_dense_defaults(2);
    o.activation = (rnn_activation)99;
    return rnn_add(m, rnn_dense(&o));
}

/* ---- outputs that cannot be written */

static int save_keras_missing_dir(void) {
    rnn_model *m = util_window_model(1);
    return rnn_save(m, P("no/such/dir/m.keras"));
}
static int save_h5_missing_dir(void) {
    rnn_model *m = util_window_model(1);
    return rnn_save(m, P("no/m.h5"));
}
static int npy_save_missing_dir(void) { return rnn_npy_save(P("no/y.npy"), &(rnn_tensor){.data = xw, .rank = 1, .shape = {3}}); }
static int save_parent_is_file(void) {
    util_write(P("file"), "x", 1);
    rnn_model *m = util_window_model(1);
    return rnn_save(m, P("file/m.keras"));
}
static int npy_save_parent_is_file(void) {
    util_write(P("file"), "x", 1);
    rnn_tensor t = X();
    return rnn_npy_save(P("file/y.npy"), &t);
}
static int save_under_proc(void) {
    rnn_model *m = util_window_model(1);
    return rnn_save(m, "/proc/rnn_bad_input_test.h5");
}
static int npy_save_under_proc(void) {
    rnn_tensor t = X();
    return rnn_npy_save("/proc/rnn_bad_input_test.npy", &t);
}
static int save_onto_directory(void) {
    mkdir(P("m.keras"), 0755);
    rnn_model *m = util_window_model(1);
    return rnn_save(m, P("m.keras"));
}
static int save_bad_extension(void) {
    rnn_model *m = util_window_model(1);
    return rnn_save(m, P("m.pt"));
}

/* ---- the disk fills up during a save: the previous file stays, no temporary file is left */

static int save_full(const char *name, int half) {
    rnn_model *a = util_window_model(1), *b = util_window_model(2);
    rnn_save(a, P(name));
    char before[64];
    snprintf(before, sizeof before, "%s.before", name);
    util_copy(P(name), P(before));
    limit_file_size(half ? (rlim_t)file_size(P(name)) / 2 : 64);
    int st = rnn_save(b, P(name));
    unlimit_file_size();
    return st;
}
static int full_keras_start(void) { return save_full("m.keras", 0); }
static int full_keras_middle(void) { return save_full("m.keras", 1); }
static int full_h5_start(void) { return save_full("m.h5", 0); }
static int full_h5_middle(void) { return save_full("m.h5", 1); }
static int full_npy(void) {
    float big[1000];
    for (int i = 0; i < 1000; i++) big[i] = (float)i;
    rnn_tensor a = X(), b = rnn_tensor2(big, 500, 2);
    rnn_npy_save(P("y.npy"), &a);
    util_copy(P("y.npy"), P("y.npy.before"));
    limit_file_size(1000);
    int st = rnn_npy_save(P("y.npy"), &b);
    unlimit_file_size();
    return st;
}

/* ================================================================ the rnn tool */

/* The files a command needs: a compiled model m.keras, x.npy (8, 4, 1) and y.npy (8, 1). */
static void cli_inputs(void) {
    save_window("m.keras");
    save_npy("x.npy", X());
    save_npy("y.npy", Y());
}

static int cli_predict_shape(void) {
    cli_inputs();
    save_npy("x3.npy", rnn_tensor3(xw, 4, 4, 2));
    const char *a[] = {"predict", P("m.keras"), "--input", P("x3.npy"), "--output", P("out.npy")};
    return cli(predict_main, 6, a);
}
static int cli_predict_rank2(void) {
    cli_inputs();
    save_npy("x2.npy", rnn_tensor2(xw, 8, 4));
    const char *a[] = {"predict", P("m.keras"), "--input", P("x2.npy"), "--output", P("out.npy")};
    return cli(predict_main, 6, a);
}
static int cli_predict_nan(void) {
    xw[2] = NAN;
    cli_inputs();
    const char *a[] = {"predict", P("m.keras"), "--input", P("x.npy"), "--output", P("out.npy")};
    return cli(predict_main, 6, a);
}
static int cli_predict_truncated(void) {
    cli_inputs();
    truncated_copy(P("x.npy"), P("cut.npy"), 140);
    const char *a[] = {"predict", P("m.keras"), "--input", P("cut.npy"), "--output", P("out.npy")};
    return cli(predict_main, 6, a);
}
static int cli_predict_missing_dir(void) {
    cli_inputs();
    const char *a[] = {"predict", P("m.keras"), "--input", P("x.npy"), "--output", P("no/out.npy")};
    return cli(predict_main, 6, a);
}
static int cli_predict_model_is_npy(void) {
    cli_inputs();
    const char *a[] = {"predict", P("x.npy"), "--input", P("x.npy"), "--output", P("out.npy")};
    return cli(predict_main, 6, a);
}
static int cli_predict_zero_batch(void) {
    cli_inputs();
    const char *a[] = {"predict", P("m.keras"), "--input", P("x.npy"), "--output", P("out.npy"),
                       "--batch-size", "0"};
    return cli(predict_main, 8, a);
}
static int cli_predict_full(void) {
    cli_inputs();
    const char *a[] = {"predict", P("m.keras"), "--input", P("x.npy"), "--output", P("out.npy")};
    if (cli(predict_main, 6, a) != 0) return -1;
    util_copy(P("out.npy"), P("out.npy.before"));
    float big[4000];
    for (int i = 0; i < 4000; i++) big[i] = (float)(i % 5) / 5.0f;
    save_npy("x.npy", rnn_tensor3(big, 1000, 4, 1));
    limit_file_size(1000);
    int rc = cli(predict_main, 6, a);
    unlimit_file_size();
    return rc;
}
static int cli_summary_png(void) {
    util_write(P("photo.keras"), png_bytes, sizeof png_bytes);
    const char *a[] = {"summary", P("photo.keras")};
    return cli(summary_main, 2, a);
}
static int cli_summary_truncated_h5(void) {
    save_window("m.h5");
    truncated_copy(P("m.h5"), P("cut.h5"), 1000);
    const char *a[] = {"summary", P("cut.h5")};
    return cli(summary_main, 2, a);
}
static int cli_fit_y_nan(void) {
    cli_inputs();
    yw[1] = NAN;
    save_npy("y.npy", Y());
    const char *a[] = {"fit", P("m.keras"), "--x", P("x.npy"), "--y", P("y.npy"), "--verbose",
                       "0", "--output", P("out.keras")};
    return cli(fit_main, 10, a);
}
static int cli_fit_zero_samples(void) {
    cli_inputs();
    save_npy("x0.npy", rnn_tensor3(xw, 0, 4, 1));
    save_npy("y0.npy", rnn_tensor2(yw, 0, 1));
    const char *a[] = {"fit", P("m.keras"), "--x", P("x0.npy"), "--y", P("y0.npy"), "--verbose",
                       "0", "--output", P("out.keras")};
    return cli(fit_main, 10, a);
}
static int cli_fit_y_samples(void) {
    cli_inputs();
    save_npy("y5.npy", rnn_tensor2(yw, 5, 1));
    const char *a[] = {"fit", P("m.keras"), "--x", P("x.npy"), "--y", P("y5.npy"), "--verbose",
                       "0", "--output", P("out.keras")};
    return cli(fit_main, 10, a);
}
static int cli_fit_uncompiled(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, 4, 1);
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_save(m, P("plain.keras"));
    save_npy("x.npy", X());
    save_npy("y.npy", rnn_tensor3(xw, 8, 4, 1)); /* 32 values: one per output step */
    const char *a[] = {"fit", P("plain.keras"), "--x", P("x.npy"), "--y", P("y.npy"), "--verbose",
                       "0", "--output", P("out.keras")};
    return cli(fit_main, 10, a);
}
static int cli_fit_output_parent_file(void) {
    cli_inputs();
    util_write(P("file"), "x", 1);
    const char *a[] = {"fit", P("m.keras"), "--x", P("x.npy"), "--y", P("y.npy"), "--verbose",
                       "0", "--output", P("file/out.keras")};
    return cli(fit_main, 10, a);
}
static int cli_fit_full(void) {
    cli_inputs();
    util_copy(P("m.keras"), P("out.keras"));
    util_copy(P("out.keras"), P("out.keras.before"));
    const char *a[] = {"fit", P("m.keras"), "--x", P("x.npy"), "--y", P("y.npy"), "--verbose",
                       "0", "--output", P("out.keras")};
    limit_file_size(4096);
    int rc = cli(fit_main, 10, a);
    unlimit_file_size();
    return rc;
}
static int cli_fit_bad_epochs(void) {
    cli_inputs();
    const char *a[] = {"fit", P("m.keras"), "--x", P("x.npy"), "--y", P("y.npy"), "--epochs",
                       "-3", "--output", P("out.keras")};
    return cli(fit_main, 10, a);
}
static int cli_fit_unknown_option(void) {
    cli_inputs();
    const char *a[] = {"fit", P("m.keras"), "--x", P("x.npy"), "--y", P("y.npy"), "--lr",
                       "0.1", "--output", P("out.keras")};
    return cli(fit_main, 10, a);
}
static int cli_convert_extension(void) {
    cli_inputs();
    const char *a[] = {"convert", P("m.keras"), P("m.onnx")};
    return cli(convert_main, 3, a);
}
static int cli_convert_full_h5(void) {
    cli_inputs();
    rnn_model *m = util_window_model(7);
    rnn_save(m, P("old.h5"));
    util_copy(P("old.h5"), P("old.h5.before"));
    const char *a[] = {"convert", P("m.keras"), P("old.h5")};
    limit_file_size(2048);
    int rc = cli(convert_main, 3, a);
    unlimit_file_size();
    return rc;
}
static int cli_convert_truncated(void) {
    cli_inputs();
    truncated_copy(P("m.keras"), P("cut.keras"), 3000);
    const char *a[] = {"convert", P("cut.keras"), P("m.h5")};
    return cli(convert_main, 3, a);
}

/* The demo's --plot output (cli/plot_svg.c) on a full disk. */
static int cli_plot_full(void) {
    float v[400];
    for (int i = 0; i < 400; i++) v[i] = (float)(i % 37);
    plot_series s[1] = {{"passengers", NULL, v, 400, 0}};
    if (plot_svg_write(P("plot.svg"), "small", s, 1) != 0) return -1;
    util_copy(P("plot.svg"), P("plot.svg.before"));
    limit_file_size(2000);
    int rc = plot_svg_write(P("plot.svg"), "full", s, 1) != 0;
    unlimit_file_size();
    if (rc) fprintf(stderr, "rnn demo: could not write the plot: %s\n", plot_svg_error());
    return rc;
}

/* ================================================================ the table */

typedef enum { OUT_NONE = 0, OUT_ABSENT, OUT_INTACT } out_check;

typedef struct {
    const char *name;
    int (*run)(void);
    int is_cli;          /* 1: the rnn tool (exit code, message on stderr) */
    int keras;           /* 1: needs the Keras file support */
    int expect;          /* rnn_status, exit code, or LOAD_NULL (rnn_load returned NULL) */
    const char *message; /* must appear in the message */
    out_check out;
    const char *output;  /* in the case's directory: must not exist / must equal output.before */
} bad_case;

#define S(st) ((int)(st))
static const bad_case cases[] = {
    /* shapes */
    {"fit: x of rank 2 for a rank-3 model", fit_x_rank2, 0, 0, S(RNN_ERR_SHAPE), "x has rank 2 but the model expects rank 3", 0, 0},
    {"fit: x with 2 features for 1", fit_x_features, 0, 0, S(RNN_ERR_SHAPE), "features on axis 2", 0, 0},
    {"fit: y of shape (4, 2) for (8, 1)", fit_y_shape, 0, 0, S(RNN_ERR_SHAPE), "y has 4 samples but x has 8", 0, 0},
    {"fit: y of rank 3 for a rank-2 output", fit_y_rank3, 0, 0, S(RNN_ERR_SHAPE), "y has shape (8, 1, 1) but the model's output has shape (8, 1)", 0, 0},
    {"predict: x of rank 4", predict_x_rank4, 0, 0, S(RNN_ERR_SHAPE), "x has rank 4", 0, 0},
    {"predict: 8 time steps for a 4-step model", predict_x_steps, 0, 0, S(RNN_ERR_SHAPE), "8 time steps on axis 1", 0, 0},
    {"evaluate: 5 target rows for 8 samples", evaluate_samples, 0, 0, S(RNN_ERR_SHAPE), "y has 5 samples but x has 8", 0, 0},
    {"evaluate: negative dimension", evaluate_x_negative, 0, 0, S(RNN_ERR_SHAPE), "x has -1 features on axis 2", 0, 0},
    {"train_on_batch: not compiled", train_on_batch_uncompiled, 0, 0, S(RNN_ERR_STATE), "compile", 0, 0},
    /* stateful */
    {"stateful fit: batch_size 2 for a fixed batch of 4", stateful_fit_batch, 0, 0, S(RNN_ERR_STATE), "fixed batch size of 4, but batch_size is 2", 0, 0},
    {"stateful fit: 6 samples do not divide into batches of 4", stateful_fit_rows, 0, 0, S(RNN_ERR_STATE), "do not divide into full batches", 0, 0},
    {"stateful predict: batch_size 8 for a fixed batch of 4", stateful_predict_batch, 0, 0, S(RNN_ERR_STATE), "stateful", 0, 0},
    /* zero sizes */
    {"fit: zero samples", fit_zero_samples, 0, 0, S(RNN_ERR_SHAPE), "zero samples", 0, 0},
    {"predict: zero samples", predict_zero_samples, 0, 0, S(RNN_ERR_SHAPE), "zero samples", 0, 0},
    {"predict: zero time steps", predict_zero_steps, 0, 0, S(RNN_ERR_SHAPE), "zero time steps", 0, 0},
    {"fit: zero time steps", fit_zero_steps, 0, 0, S(RNN_ERR_SHAPE), "zero time steps", 0, 0},
    /* NaN and Inf */
    {"fit: NaN in x", fit_x_nan, 0, 0, S(RNN_ERR_NUMERIC), "x contains NaN at flat index 13", 0, 0},
    {"fit: -Inf in y", fit_y_inf, 0, 0, S(RNN_ERR_NUMERIC), "y contains Inf at flat index 5", 0, 0},
    {"evaluate: NaN in y", evaluate_y_nan, 0, 0, S(RNN_ERR_NUMERIC), "y contains NaN at flat index 0", 0, 0},
    {"train_on_batch: Inf in x", train_on_batch_x_inf, 0, 0, S(RNN_ERR_NUMERIC), "x contains Inf", 0, 0},
    {"predict: NaN in x", predict_x_nan, 0, 0, S(RNN_ERR_NUMERIC), "x contains NaN at flat index 31", 0, 0},
    {"predict_step: NaN in x", predict_step_nan, 0, 0, S(RNN_ERR_NUMERIC), "x contains NaN", 0, 0},
    {"set_weight: NaN value", set_weight_nan, 0, 0, S(RNN_ERR_NUMERIC), "value 3 is not finite", 0, 0},
    /* Embedding ids and class ids */
    {"Embedding: id 10 with input_dim 10", embedding_id_high, 0, 0, S(RNN_ERR_ARGUMENT), "token id 10 at flat index 6 is not an integer in [0, 10)", 0, 0},
    {"Embedding: id -1", embedding_id_negative, 0, 0, S(RNN_ERR_ARGUMENT), "token id -1", 0, 0},
    {"Embedding: id 2.5", embedding_id_fraction, 0, 0, S(RNN_ERR_ARGUMENT), "token id 2.5", 0, 0},
    {"Embedding: id 3e9 (beyond int32)", embedding_id_huge, 0, 0, S(RNN_ERR_ARGUMENT), "token id 3e+09", 0, 0},
    {"sparse_categorical_crossentropy: class id 3 of 3", sparse_target_range, 0, 0, S(RNN_ERR_ARGUMENT), "y[3] = 3 is not a class id in [0, 3)", 0, 0},
    /* overflowing sizes */
    {"predict: 2^62 samples", predict_huge_rows, 0, 0, S(RNN_ERR_MEMORY), "too large", 0, 0},
    {"fit: (2^32, 2^32, 1) wraps int64 to 0", fit_huge_product, 0, 0, S(RNN_ERR_MEMORY), "too large", 0, 0},
    {"LSTM with 2^20 units on 2^20 features", huge_units_api, 0, 0, S(RNN_ERR_MEMORY), "out of memory for 8796097216512 weights", 0, 0},
    {"npy: shape (2^40, 2^40)", npy_huge_shape, 0, 0, S(RNN_ERR_FORMAT), "overflows or exceeds 2^34", 0, 0},
    {"npy: shape (2^20,)*4, product 2^80", npy_product_overflow, 0, 0, S(RNN_ERR_FORMAT), "overflows or exceeds 2^34", 0, 0},
    {"npy: a 29-digit dimension", npy_huge_dimension_digits, 0, 0, S(RNN_ERR_FORMAT), "absurdly large", 0, 0},
    {"npy_save: shape (2^40, 2^40, 1)", npy_save_huge, 0, 0, S(RNN_ERR_MEMORY), "overflows or exceeds 2^34", OUT_ABSENT, "out.npy"},
    /* truncated files, wrong kinds */
    {"npy: truncated in the data", npy_truncated, 0, 0, S(RNN_ERR_FORMAT), "truncated: the shape needs 128 bytes", 0, 0},
    {"npy: truncated in the header", npy_truncated_header, 0, 0, S(RNN_ERR_FORMAT), "truncated in the header", 0, 0},
    {"npy: empty file", npy_empty, 0, 0, S(RNN_ERR_FORMAT), "the file is empty", 0, 0},
    {"npy: a PNG named .npy", npy_is_png, 0, 0, S(RNN_ERR_FORMAT), "not a NumPy .npy file", 0, 0},
    {"npy: a .keras file given as .npy", npy_is_keras, 0, 1, S(RNN_ERR_FORMAT), "not a NumPy .npy file", 0, 0},
    {"npy: bool dtype", npy_bool_dtype, 0, 0, S(RNN_ERR_UNSUPPORTED), "unsupported dtype '|b1'", 0, 0},
    {"npy: a directory", npy_directory, 0, 0, S(RNN_ERR_IO), "is a directory", 0, 0},
    {"CSV: cut after the separator", csv_truncated, 0, 0, S(RNN_ERR_FORMAT), "line 3, column 1 (\"Passengers\"): empty field", 0, 0},
    {"CSV: cut inside a quoted field", csv_cut_in_quotes, 0, 0, S(RNN_ERR_FORMAT), "line 3", 0, 0},
    {"CSV: a PNG named .csv", csv_is_png, 0, 0, S(RNN_ERR_ARGUMENT), "Passengers", 0, 0},
    {"load: .keras cut in half", keras_truncated, 0, 1, LOAD_NULL, "not a readable .keras (zip) file", 0, 0},
    {"load: .keras missing its last 10 bytes", keras_truncated_tail, 0, 1, LOAD_NULL, "not a readable .keras (zip) file", 0, 0},
    {"load: .h5 cut in half", h5_truncated, 0, 1, LOAD_NULL, "truncated", 0, 0},
    {"load: .h5 cut after 300 bytes", h5_truncated_header, 0, 1, LOAD_NULL, "truncated", 0, 0},
    {"load: a PNG named .keras", keras_is_png, 0, 1, LOAD_NULL, "is not a Keras model file (neither a .keras zip nor an HDF5 .h5 file)", 0, 0},
    {"load: a PNG named .h5", h5_is_png, 0, 1, LOAD_NULL, "not a readable HDF5 file", 0, 0},
    {"load: a .npy given as model", model_is_npy, 0, 1, LOAD_NULL, "is not a Keras model file", 0, 0},
    {"load: empty .keras", model_empty, 0, 1, LOAD_NULL, "is not a Keras model file", 0, 0},
    {"load: missing file", model_missing, 0, 1, LOAD_NULL, "cannot open", 0, 0},
    {"load: zip without config.json", keras_zip_without_config, 0, 1, LOAD_NULL, "needs config.json, which is missing", 0, 0},
    /* weights */
    {"set_weight: 13 values for 12", set_weight_count, 0, 0, S(RNN_ERR_SHAPE), "has 12 values", 0, 0},
    {"set_weight: index 5 of 5", set_weight_index, 0, 0, S(RNN_ERR_ARGUMENT), "no weight with index 5", 0, 0},
    {"copy_weights: other architecture", copy_weights_mismatch, 0, 0, S(RNN_ERR_SHAPE), "the models have 5 and 6 weights", 0, 0},
#ifdef RNN_WITH_KERAS_IO
    {"load: config LSTM(4), weights of LSTM(3)", keras_weights_shape, 0, 1, LOAD_NULL, "lstm", 0, 0},
    {"load: units 10^12 in the config", keras_huge_units, 0, 1, LOAD_NULL, "units", 0, 0},
    {"load: units 2^32+3 (wraps int32 to 3)", keras_units_overflow_int, 0, 1, LOAD_NULL, "units", 0, 0},
    {"load: input features 2^63-1", keras_huge_input, 0, 1, LOAD_NULL, "input shape", 0, 0},
    {"load: unknown layer FancyLSTM", keras_unknown_layer, 0, 1, LOAD_NULL, "FancyLSTM", 0, 0},
    {"load: unknown activation swish", keras_unknown_activation, 0, 1, LOAD_NULL, "activation \"swish\" is not supported", 0, 0},
    {"load: kernel_regularizer", keras_regularizer, 0, 1, LOAD_NULL, "option kernel_regularizer is not supported", 0, 0},
    {"load: config.json not JSON", keras_bad_json, 0, 1, LOAD_NULL, "config.json is not valid JSON", 0, 0},
    {"load: units \"three\"", keras_units_string, 0, 1, LOAD_NULL, "units", 0, 0},
    {"load: .h5 with a NaN weight", h5_nan_weight, 0, 1, LOAD_NULL, "lstm/kernel in the file is NaN", 0, 0},
    {"load: .keras with a NaN weight", keras_nan_weight, 0, 1, LOAD_NULL, "lstm/kernel in the file is NaN", 0, 0},
#endif
    /* configuration names */
    {"compile: unknown loss", compile_unknown_loss, 0, 0, S(RNN_ERR_ARGUMENT), "loss identifier: huber_loss", 0, 0},
    {"add_metric: unknown metric", unknown_metric, 0, 0, S(RNN_ERR_ARGUMENT), "f1_score", 0, 0},
    {"Dense: activation code 99", unknown_activation_code, 0, 0, S(RNN_ERR_ARGUMENT), "Dense \"dense_1\": unknown activation", 0, 0},
    /* unwritable outputs */
    {"save .keras: missing directory", save_keras_missing_dir, 0, 1, S(RNN_ERR_IO), "No such file or directory", OUT_ABSENT, "no"},
    {"save .h5: missing directory", save_h5_missing_dir, 0, 1, S(RNN_ERR_IO), "No such file or directory", OUT_ABSENT, "no"},
    {"npy_save: missing directory", npy_save_missing_dir, 0, 0, S(RNN_ERR_IO), "No such file or directory", OUT_ABSENT, "no"},
    {"save .keras: parent is a regular file", save_parent_is_file, 0, 1, S(RNN_ERR_IO), "Not a directory", 0, 0},
    {"npy_save: parent is a regular file", npy_save_parent_is_file, 0, 0, S(RNN_ERR_IO), "Not a directory", 0, 0},
    {"save .h5 under /proc (read-only, also for root)", save_under_proc, 0, 1, S(RNN_ERR_IO), "/proc/rnn_bad_input_test.h5", 0, 0},
    {"npy_save under /proc", npy_save_under_proc, 0, 0, S(RNN_ERR_IO), "cannot create a temporary file", 0, 0},
    {"save .keras onto a directory", save_onto_directory, 0, 1, S(RNN_ERR_IO), "Is a directory", 0, 0},
    {"save: extension .pt", save_bad_extension, 0, 1, S(RNN_ERR_ARGUMENT), "must end in .keras", OUT_ABSENT, "m.pt"},
    /* disk full */
    {"disk full: save .keras, at the start", full_keras_start, 0, 1, S(RNN_ERR_IO), "File too large", OUT_INTACT, "m.keras"},
    {"disk full: save .keras, half way", full_keras_middle, 0, 1, S(RNN_ERR_IO), "File too large", OUT_INTACT, "m.keras"},
    {"disk full: save .h5, at the start", full_h5_start, 0, 1, S(RNN_ERR_IO), "File too large", OUT_INTACT, "m.h5"},
    {"disk full: save .h5, half way", full_h5_middle, 0, 1, S(RNN_ERR_IO), "File too large", OUT_INTACT, "m.h5"},
    {"disk full: npy_save", full_npy, 0, 0, S(RNN_ERR_IO), "write failed: File too large", OUT_INTACT, "y.npy"},
    /* the rnn tool */
    {"rnn predict: x with 2 features", cli_predict_shape, 1, 1, 1, "rnn: x has 2 features on axis 2", OUT_ABSENT, "out.npy"},
    {"rnn predict: x of rank 2", cli_predict_rank2, 1, 1, 1, "rnn: x has rank 2", OUT_ABSENT, "out.npy"},
    {"rnn predict: NaN in x", cli_predict_nan, 1, 1, 1, "rnn: x contains NaN at flat index 2", OUT_ABSENT, "out.npy"},
    {"rnn predict: truncated x.npy", cli_predict_truncated, 1, 1, 1, "truncated", OUT_ABSENT, "out.npy"},
    /* Exit 2 (issue 15): whatever is refused before any work is a usage error. */
    {"rnn predict: output in a missing directory", cli_predict_missing_dir, 1, 1, 2, "No such file or directory", OUT_ABSENT, "no"},
    {"rnn predict: a .npy as the model", cli_predict_model_is_npy, 1, 1, 1, "is not a Keras model file", OUT_ABSENT, "out.npy"},
    {"rnn predict: --batch-size 0", cli_predict_zero_batch, 1, 1, 2, "--batch-size needs a positive integer", OUT_ABSENT, "out.npy"},
    {"rnn predict: disk full", cli_predict_full, 1, 1, 1, "File too large", OUT_INTACT, "out.npy"},
    {"rnn summary: a PNG", cli_summary_png, 1, 1, 1, "is not a Keras model file", 0, 0},
    {"rnn summary: truncated .h5", cli_summary_truncated_h5, 1, 1, 1, "truncated", 0, 0},
    {"rnn fit: NaN in y", cli_fit_y_nan, 1, 1, 1, "y contains NaN at flat index 1", OUT_ABSENT, "out.keras"},
    {"rnn fit: zero samples", cli_fit_zero_samples, 1, 1, 1, "zero samples", OUT_ABSENT, "out.keras"},
    {"rnn fit: 5 targets for 8 samples", cli_fit_y_samples, 1, 1, 1, "y has 5 samples but x has 8", OUT_ABSENT, "out.keras"},
    {"rnn fit: model without compile information", cli_fit_uncompiled, 1, 1, 2, "compile the model in Keras", OUT_ABSENT, "out.keras"},
    {"rnn fit: output's parent is a file", cli_fit_output_parent_file, 1, 1, 2, "Not a directory", 0, 0},
    {"rnn fit: disk full", cli_fit_full, 1, 1, 1, "File too large", OUT_INTACT, "out.keras"},
    {"rnn fit: --epochs -3", cli_fit_bad_epochs, 1, 1, 2, "--epochs needs a positive integer, got \"-3\"", OUT_ABSENT, "out.keras"},
    {"rnn fit: unknown option --lr", cli_fit_unknown_option, 1, 1, 2, "unexpected argument --lr", OUT_ABSENT, "out.keras"},
    {"rnn convert: output .onnx", cli_convert_extension, 1, 1, 2, "must end in .keras", OUT_ABSENT, "m.onnx"},
    {"rnn convert: disk full writing .h5", cli_convert_full_h5, 1, 1, 1, "File too large", OUT_INTACT, "old.h5"},
    {"rnn demo --plot: disk full", cli_plot_full, 1, 0, 1, "File too large", OUT_INTACT, "plot.svg"},
    {"rnn convert: truncated input", cli_convert_truncated, 1, 1, 1, "not a readable .keras", OUT_ABSENT, "m.h5"},
};

/* ================================================================ the runner */

/* Under AddressSanitizer (make test-sanitize): the cases build models and leave them to the
 * exit of their forked child (each case is one short-lived process), so LeakSanitizer at the
 * child's exit would report the harness's own objects, replace the exit status the test reads
 * and print into the stderr it checks. Leak detection is off for this binary only (the error
 * paths' leaks are checked by every other test under LeakSanitizer), and huge requests return
 * NULL as glibc's malloc does instead of aborting: case "LSTM with 2^20 units" checks exactly
 * that librnn reports a failed allocation. The defaults below apply when ASAN_OPTIONS is unset;
 * make test-sanitize sets it, so main() appends the two flags (the last one wins) and re-runs
 * itself once. */
#define SANITIZER_FLAGS "detect_leaks=0:allocator_may_return_null=1"
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return SANITIZER_FLAGS; }

static void sanitizer_flags_for_cases(char **argv) {
#if defined(__SANITIZE_ADDRESS__)
    const char *now = getenv("ASAN_OPTIONS");
    if (!now || strstr(now, SANITIZER_FLAGS)) return;
    char *both = malloc(strlen(now) + sizeof SANITIZER_FLAGS + 2);
    if (!both) return;
    sprintf(both, "%s:%s", now, SANITIZER_FLAGS);
    setenv("ASAN_OPTIONS", both, 1);
    free(both);
    execv("/proc/self/exe", argv);
    /* if the re-run fails, go on with the caller's flags */
#else
    (void)argv;
#endif
}

static void run_one(const bad_case *c, int index, const char *root) {
    snprintf(case_dir, sizeof case_dir, "%s/case%03d", root, index);
    mkdir(case_dir, 0755);
    char err_path[600], msg_path[600];
    snprintf(err_path, sizeof err_path, "%s/stderr.txt", case_dir);
    snprintf(msg_path, sizeof msg_path, "%s/message.txt", case_dir);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(err_path, "w", stderr)) _exit(120);
        fill_data();
        int r = c->run();
        fflush(stderr);
        if (!c->is_cli) {
            FILE *f = fopen(msg_path, "w");
            if (f) {
                fputs(rnn_last_error(), f);
                fclose(f);
            }
        }
        /* exit, not _exit: the libraries' exit handlers run too (HDF5 closes what it still
         * holds there, and crashed there after a failed save). */
        exit(r < 0 || r > 100 ? 101 : r);
    }
    int ws = 0;
    waitpid(pid, &ws, 0);
    CHECK(WIFEXITED(ws), "[%s] crashed: %s", c->name,
          WIFSIGNALED(ws) ? strsignal(WTERMSIG(ws)) : "stopped");
    if (!WIFEXITED(ws)) return;
    int code = WEXITSTATUS(ws);
    char *err = util_read(err_path, NULL), *msg = util_read(c->is_cli ? err_path : msg_path, NULL);
    if (!msg) msg = strdup("");
    if (getenv("RNN_TEST_VERBOSE")) fprintf(stderr, "%3d %-55s %d  %s%s", index, c->name, code, msg,
                                            c->is_cli ? "" : "\n");
    CHECK(code != 0, "[%s] succeeded", c->name);
    CHECK(code == c->expect, "[%s] status %d (%s), expected %d (%s); message: %s", c->name, code,
          c->is_cli ? "exit code" : code == LOAD_NULL ? "NULL model" : rnn_status_name((rnn_status)code),
          c->expect, c->is_cli ? "exit code" : c->expect == LOAD_NULL ? "NULL model"
                                                : rnn_status_name((rnn_status)c->expect), msg);
    CHECK(strstr(msg, c->message) != NULL, "[%s] message \"%s\" lacks \"%s\"", c->name, msg,
          c->message);
    CHECK(strlen(msg) > 10, "[%s] message too short: \"%s\"", c->name, msg);
    if (err) { /* AddressSanitizer's own note on a refused huge request is not the library's */
        char *w;
        while ((w = strstr(err, "WARNING: AddressSanitizer failed to allocate"))) {
            while (w > err && w[-1] != '\n') w--; /* the line's start ("==pid==") */
            char *next = strchr(w, '\n');
            next = next ? next + 1 : w + strlen(w);
            memmove(w, next, strlen(next) + 1);
        }
    }
    if (!c->is_cli)
        CHECK(err && err[0] == '\0', "[%s] the library printed: %s", c->name, err ? err : "");
    if (c->out == OUT_ABSENT) {
        CHECK(access(P(c->output), F_OK) != 0, "[%s] %s was written", c->name, c->output);
    } else if (c->out == OUT_INTACT) {
        char before[128];
        snprintf(before, sizeof before, "%s.before", c->output);
        CHECK(util_same_file(P(c->output), P(before)), "[%s] %s is not the previous file",
              c->name, c->output);
    }
    int tmp = util_temp_files(case_dir, 0);
    CHECK(tmp == 0, "[%s] %d temporary file(s) left behind", c->name, tmp);
    free(err);
    free(msg);
}

int main(int argc, char **argv) {
    (void)argc;
    sanitizer_flags_for_cases(argv);
    signal(SIGPIPE, SIG_IGN);
    char root[] = "/tmp/rnn_badXXXXXX";
    if (!mkdtemp(root)) return 1;
    rnn_model *probe = util_window_model(1);
    char probe_path[600];
    snprintf(probe_path, sizeof probe_path, "%s/probe.keras", root);
    int keras = rnn_save(probe, probe_path) != RNN_ERR_UNSUPPORTED;
    rnn_model_free(probe);
    int n = (int)(sizeof cases / sizeof cases[0]), ran = 0, before = check_failures_;
    for (int i = 0; i < n; i++) {
        if (cases[i].keras && !keras) continue;
        int f0 = check_failures_;
        run_one(&cases[i], i, root);
        ran++;
        if (check_failures_ != f0) fprintf(stderr, "  ^ case %d failed: %s\n", i, cases[i].name);
    }
    fprintf(stderr, "test_bad_input: %d of %d cases ran (%d skipped: built without the Keras "
            "file support), %d checks failed\n", ran, n, n - ran, check_failures_ - before);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (check_failures_ == before && system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return check_report("test_bad_input");
}
