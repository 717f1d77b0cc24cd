/* OpenBLAS, libhdf5 and libzip are loaded on first use, not linked (src/kernels/blas_core.c,
 * src/io/keras_libs.c). This program links none of them (the Makefile gives it no TEST_LIBS):
 * a model streamed one step at a time must leave them out of the process (B5's case, where they
 * were most of its memory); the first large product must bring OpenBLAS (and the product must be
 * right), and the first save libhdf5 and libzip (and the file must load back the same). Where
 * they cannot be loaded (a child given names that do not exist): the products on librnn's own
 * kernels, and rnn_save's error naming the library, with no file written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "build_config.h"
#include "check.h"
#include "kernels/blas_core.h"
#include "kernels/gemm.h"
#include "rnn.h"
#ifdef RNN_WITH_KERAS_IO
#include "io/keras_libs.h"
#endif

/* Whether a file whose name starts as soname does before ".so" is mapped into this process (the
 * maps show the file the name resolves to: libopenblas.so.0 is libopenblasp-r0.3.21.so). */
static int mapped(const char *soname) {
    char stem[256];
    snprintf(stem, sizeof stem, "/%s", soname);
    char *so = strstr(stem, ".so");
    if (so) *so = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return -1;
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) found = strstr(line, stem) != NULL;
    fclose(f);
    return found;
}

/* Two stacked LSTM(128) and a Dense(1), stateful, batch 1: B5's model. */
static rnn_model *streaming_model(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_status st = !m || rnn_set_seed(m, 5) || rnn_batch_input(m, 1, 1, 1);
    for (int k = 0; k < 2 && !st; k++) {
        rnn_recurrent_options o = rnn_lstm_defaults(128);
        o.return_sequences = k == 0;
        o.stateful = 1;
        st = rnn_add(m, rnn_lstm(&o));
    }
    rnn_dense_options d = rnn_dense_defaults(1);
    if (!st) st = rnn_add(m, rnn_dense(&d));
    if (st) {
        CHECK(0, "model: %s", rnn_last_error());
        rnn_model_free(m);
        return NULL;
    }
    return m;
}

/* A large product: 1 if every checked entry is right (small integers: exact in float32). */
static int large_product_right(void) {
    enum { M = 200, N = 300, K = 400 };
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
    float *C = malloc(sizeof(float) * M * N);
    for (int i = 0; i < M * K; i++) A[i] = (float)(i % 7) - 3.0f;
    for (int i = 0; i < K * N; i++) B[i] = (float)(i % 5) - 2.0f;
    rnn__product(M, N, K, A, K, B, N, C, N, RNN_GEMM(.beta = 0.0f));
    int wrong = 0;
    for (int i = 0; i < M; i += 37)
        for (int j = 0; j < N; j += 41) {
            double s = 0;
            for (int k = 0; k < K; k++) s += (double)A[i * K + k] * B[k * N + j];
            wrong += C[i * N + j] != (float)s;
        }
    free(A), free(B), free(C);
    return wrong == 0;
}

/* In a child whose libraries cannot be loaded (names that do not exist): the product still
 * right on librnn's own kernels, rnn_build_info saying why, rnn_save failing with
 * RNN_ERR_UNSUPPORTED and the library's name, no file left. */
static void libraries_missing(void) {
    pid_t pid = fork();
    if (pid == 0) {
        rnn__openblas_set_soname("libopenblas-not-here.so.0");
#ifdef RNN_WITH_KERAS_IO
        rnn__keras_libs_set_sonames("libhdf5-not-here.so.0", "libzip-not-here.so.0");
#endif
        CHECK(large_product_right(), "the large product without OpenBLAS is wrong");
#ifdef RNN_USE_CBLAS
        CHECK(strstr(rnn_build_info(), "libopenblas-not-here.so.0 could not be loaded") != NULL,
              "build info: %s", rnn_build_info());
#endif
#ifdef RNN_WITH_KERAS_IO
        rnn_model *m = streaming_model();
        char path[] = "/tmp/test_lazy_libs_missing.keras";
        unlink(path);
        const rnn_status st = m ? rnn_save(m, path) : RNN_ERR_STATE;
        CHECK(st == RNN_ERR_UNSUPPORTED && strstr(rnn_last_error(), "libhdf5-not-here.so.0"),
              "rnn_save without libhdf5: status %d, '%s'", (int)st, rnn_last_error());
        CHECK(access(path, F_OK) != 0, "rnn_save without libhdf5 left %s", path);
        unlink(path);
        rnn_model_free(m);
#endif
        _exit(check_report("test_lazy_libs (libraries missing)"));
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the child without libraries: status %d", status);
}

int main(void) {
    if (access("/proc/self/maps", R_OK) != 0) {
        fprintf(stderr, "test_lazy_libs: no /proc/self/maps: skipped\n");
        return check_report("test_lazy_libs");
    }
#ifdef RNN_USE_CBLAS
    const char *blas = RNN_OPENBLAS_SONAME;
#endif
#ifdef RNN_WITH_KERAS_IO
    const char *h5 = RNN_HDF5_SONAME, *zip = RNN_LIBZIP_SONAME;
#endif
    libraries_missing(); /* first: the child must start with nothing loaded */
    rnn_model *m = streaming_model();
    float y[1] = {0}, y_first = 0;
    for (int t = 0; m && t < 50; t++) {
        const float x = 0.01f * (float)t;
        CHECK(rnn_predict_step(m, &x, y) == RNN_OK, "step %d: %s", t, rnn_last_error());
        if (t == 0) y_first = y[0];
    }
#ifdef RNN_USE_CBLAS
    CHECK(mapped(blas) == 0, "%s was loaded by streaming steps", blas);
    CHECK(rnn__openblas_loaded() == NULL, "OpenBLAS loaded by streaming steps");
#endif
#ifdef RNN_WITH_KERAS_IO
    CHECK(mapped(h5) == 0 && mapped(zip) == 0, "%s or %s loaded by streaming steps", h5, zip);
#endif

#ifdef RNN_USE_CBLAS
    /* a product large enough for OpenBLAS (one thread's: the team's split is not this test's) */
    CHECK(large_product_right(), "the large product is wrong");
    CHECK(rnn__openblas_loaded() != NULL && mapped(blas) == 1, "a large product did not load %s (%s)",
          blas, rnn__openblas_loaded() ? "loaded, not mapped" : "not loaded");
    CHECK(strstr(rnn_build_info(), "BLAS loaded: OpenBLAS") != NULL, "build info: %s",
          rnn_build_info());
#endif

#ifdef RNN_WITH_KERAS_IO
    char dir[] = "/tmp/test_lazy_libs_XXXXXX";
    if (m && mkdtemp(dir)) {
        char path[64];
        snprintf(path, sizeof path, "%s/m.keras", dir);
        rnn_reset_states(m);
        CHECK(rnn_save(m, path) == RNN_OK, "rnn_save: %s", rnn_last_error());
        CHECK(mapped(h5) == 1 && mapped(zip) == 1, "rnn_save did not load %s and %s", h5, zip);
        rnn_model *back = rnn_load(path);
        CHECK(back != NULL, "rnn_load: %s", rnn_last_error());
        float yb[1] = {0};
        const float x0 = 0.0f;
        if (back) {
            CHECK(rnn_predict_step(back, &x0, yb) == RNN_OK, "step: %s", rnn_last_error());
            CHECK(yb[0] == y_first, "the loaded model's first step %.9g, the saved one's %.9g",
                  yb[0], y_first);
        }
        rnn_model_free(back);
        unlink(path);
        rmdir(dir);
    }
#endif
    rnn_model_free(m);
    (void)y_first;
    return check_report("test_lazy_libs");
}
