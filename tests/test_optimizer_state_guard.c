/* Optimizer states that no optimizer can have (issue 14): a step count of INT64_MAX (what HDF5
 * makes of a float64 1e30), one of -5, a NaN learning rate and a NaN Adam moment are ignored with
 * a warning that names the variable (rnn_model_warning; the rnn tool prints it), the weights stay
 * the file's, and training then runs from step 0 instead of overflowing the step counter. A
 * sound state still loads silently. The files are legacy .h5 written by librnn and edited here
 * with libhdf5. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "rnn.h"

#ifdef RNN_WITH_KERAS_IO
#include <hdf5.h>

static char dir[64];

static const char *P(const char *name) { return check_path(dir, name); }

static float X[16 * 5 * 2], Y[16];

/* A compiled LSTM trained for a few steps with Adam, saved to path (slots and step count in). */
static void trained_model(const char *path) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_set_seed(m, 5);
    rnn_input(m, 5, 2);
    rnn_recurrent_options o = rnn_lstm_defaults(3);
    rnn_add(m, rnn_lstm(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_compile(m, "mse", "adam");
    rnn_fit_options fo = rnn_fit_defaults();
    fo.epochs = 2;
    fo.batch_size = 8;
    fo.verbose = 0;
    CHECK(rnn_fit(m, rnn_data_xy(rnn_tensor3(X, 16, 5, 2), rnn_tensor2(Y, 16, 1)), &fo, NULL) == RNN_OK, "fit: %s",
          rnn_model_error(m));
    CHECK(rnn_save(m, path) == RNN_OK, "save: %s", rnn_model_error(m));
    rnn_model_free(m);
}

/* The dataset name of optimizer variable k of a legacy .h5 (weight_names[k]) into out. */
static int var_name(hid_t g, int k, char *out, size_t n) {
    hid_t a = H5Aopen(g, "weight_names", H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t t = H5Aget_type(a), s = H5Aget_space(a);
    hssize_t count = H5Sget_simple_extent_npoints(s);
    int rc = -1;
    if (k < count) {
        if (H5Tis_variable_str(t) > 0) {
            char **v = calloc((size_t)count, sizeof *v);
            if (H5Aread(a, t, v) >= 0 && v[k]) {
                snprintf(out, n, "%s", v[k]);
                rc = 0;
            }
            H5Dvlen_reclaim(t, s, H5P_DEFAULT, v);
            free(v);
        } else {
            size_t w = H5Tget_size(t);
            char *buf = calloc((size_t)count, w + 1);
            if (H5Aread(a, t, buf) >= 0) {
                snprintf(out, n, "%.*s", (int)w, buf + (size_t)k * w);
                rc = 0;
            }
            free(buf);
        }
    }
    H5Sclose(s);
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

/* Replaces optimizer variable k of the .h5 at path with values (n numbers) of HDF5 type type. */
static void set_var(const char *path, int k, hid_t type, const void *values, hsize_t n) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t g = f >= 0 ? H5Gopen2(f, "optimizer_weights", H5P_DEFAULT) : -1;
    char name[256];
    CHECK(g >= 0 && var_name(g, k, name, sizeof name) == 0, "finding optimizer variable %d", k);
    if (g >= 0) {
        hid_t d0 = H5Dopen2(g, name, H5P_DEFAULT);
        hid_t s0 = H5Dget_space(d0);
        int rank = H5Sget_simple_extent_ndims(s0);
        H5Sclose(s0);
        H5Dclose(d0);
        H5Ldelete(g, name, H5P_DEFAULT);
        hid_t s = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
        hid_t d = H5Dcreate2(g, name, type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        CHECK(d >= 0 && H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) >= 0,
              "rewriting %s", name);
        H5Dclose(d);
        H5Sclose(s);
        H5Gclose(g);
    }
    if (f >= 0) H5Fclose(f);
}

static void expect_ignored(const char *file, const char *why) {
    rnn_model *m = rnn_load(P(file));
    CHECK(m != NULL, "%s: %s", file, rnn_last_error());
    if (!m) return;
    CHECK(strstr(rnn_model_warning(m), "optimizer state was ignored") &&
              strstr(rnn_model_warning(m), why),
          "%s: warning \"%s\" lacks \"%s\"", file, rnn_model_warning(m), why);
    CHECK(rnn_optimizer_iterations(m) == 0, "%s: the step count is %lld, not restarted", file,
          (long long)rnn_optimizer_iterations(m));
    /* Training goes on from step 0 with finite numbers. */
    rnn_fit_options fo = rnn_fit_defaults();
    fo.verbose = 0;
    fo.batch_size = 8;
    rnn_history h = {0};
    CHECK(rnn_fit(m, rnn_data_xy(rnn_tensor3(X, 16, 5, 2), rnn_tensor2(Y, 16, 1)), &fo, &h) == RNN_OK &&
              h.epochs == 1 && isfinite(h.loss[0]) && rnn_optimizer_iterations(m) == 2,
          "%s: training after the ignored state: %s", file, rnn_model_error(m));
    rnn_history_free(&h);
    rnn_model_free(m);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/rnn_optstate_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    for (int i = 0; i < 16 * 5 * 2; i++) X[i] = (float)((i * 7) % 13) / 13.0f;
    for (int i = 0; i < 16; i++) Y[i] = (float)(i % 4) / 4.0f;
    trained_model(P("good.h5"));
    /* A sound state: no warning, the step count kept. */
    rnn_model *good = rnn_load(P("good.h5"));
    CHECK(good && rnn_model_warning(good)[0] == '\0' && rnn_optimizer_iterations(good) == 4,
          "a sound state: warning \"%s\", %lld steps", good ? rnn_model_warning(good) : "",
          good ? (long long)rnn_optimizer_iterations(good) : -1LL);
    rnn_model_free(good);
    const char *names[] = {"huge.h5", "negative.h5", "nan_rate.h5", "nan_slot.h5"};
    for (int i = 0; i < 4; i++) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "cp %s %s", P("good.h5"), P(names[i]));
        CHECK(system(cmd) == 0, "cp");
    }
    double huge = 1e30;
    int64_t negative = -5;
    float nan_rate = NAN;
    set_var(P("huge.h5"), 0, H5T_NATIVE_DOUBLE, &huge, 1);
    set_var(P("negative.h5"), 0, H5T_NATIVE_INT64, &negative, 1);
    set_var(P("nan_rate.h5"), 1, H5T_NATIVE_FLOAT, &nan_rate, 1);
    float slot[2 * 12];
    for (int i = 0; i < 24; i++) slot[i] = i == 3 ? NAN : 0.01f;
    set_var(P("nan_slot.h5"), 2, H5T_NATIVE_FLOAT, slot, 24); /* the LSTM kernel's first moment */
    expect_ignored("huge.h5", "iteration = 9223372036854775807");
    expect_ignored("negative.h5", "iteration = -5");
    expect_ignored("nan_rate.h5", "learning_rate = nan");
    expect_ignored("nan_slot.h5", "NaN or infinite");
    /* The rnn tool prints the warning and trains. */
    if (access("build/rnn", X_OK) == 0) {
        rnn_tensor x = rnn_tensor3(X, 16, 5, 2), y = rnn_tensor2(Y, 16, 1);
        rnn_npy_save(P("x.npy"), &x);
        rnn_npy_save(P("y.npy"), &y);
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "build/rnn fit %s --x %s --y %s --verbose 0 --output %s 2>%s",
                 P("huge.h5"), P("x.npy"), P("y.npy"), P("out.h5"), P("err.txt"));
        int rc = system(cmd);
        FILE *f = fopen(P("err.txt"), "r");
        char buf[1024] = {0};
        if (f) {
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            buf[n] = 0;
            fclose(f);
        }
        CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 0 && strstr(buf, "warning") &&
                  strstr(buf, "iteration"),
              "rnn fit on a file with a huge step count: exit %d, \"%s\"", rc, buf);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
    return check_report("test_optimizer_state_guard");
}
#else
int main(void) {
    CHECK(rnn_model_warning(NULL)[0] == '\0', "no model, no warning");
    return check_report("test_optimizer_state_guard (no Keras file support)");
}
#endif
