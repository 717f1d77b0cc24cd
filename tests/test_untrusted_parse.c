/* rnn_load's guard (src/io/untrusted_parse.c): the model file is read by the reader program.
 *  - a model loaded through the guard has bit-identical weights and predictions to the same
 *    file read in this process, for .keras and .h5;
 *  - a reader that crashes (SIGSEGV, abort) or exits early gives NULL and a message saying so,
 *    and this process goes on; an answer that does not fit the model is refused;
 *  - a reader's own error message comes through unchanged;
 *  - it still works when the application ignores SIGCHLD (children reaped automatically);
 *  - every model file directly under tests/fixtures/regress/ (inputs that crash libhdf5 or make
 *    it ask for absurd memory) gives NULL with a message through rnn_load;
 *  - a weight shape larger than its layer is refused before allocating (fuzz_h5's finding).
 * The misbehaving readers are tests/fault_reader.c (build/tests/fault_reader), which runs
 * rnn-reader's code with a loader chosen by RNN_FAULT_READER. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "rnn.h"

#ifdef RNN_WITH_KERAS_IO
#include "io/keras_io.h"

/* Under AddressSanitizer a crashing child reports and exits 1 instead of dying by the signal. */
#if defined(__SANITIZE_ADDRESS__)
#define CRASH_WORDS "nothing was loaded"
#else
#define CRASH_WORDS "crashed the HDF5/zip reader process"
#endif
#include "model.h"

/* The fault reader beside this test program, in the mode given (NULL: it loads for real). */
static char fault_reader[4096];
static rnn_model *load_faulty(const char *path, const char *mode) {
    setenv("RNN_FAULT_READER", mode, 1);
    rnn_load_options o = {.reader = fault_reader};
    rnn_model *m = rnn_load_ex(path, &o);
    unsetenv("RNN_FAULT_READER");
    return m;
}

static int same_weights(rnn_model *a, rnn_model *b) {
    if (a->n_weights != b->n_weights || a->n_weights == 0) return 0;
    for (int i = 0; i < a->n_weights; i++) {
        if (a->weights[i]->size != b->weights[i]->size) return 0;
        if (memcmp(a->weights[i]->value, b->weights[i]->value,
                   sizeof(float) * (size_t)a->weights[i]->size))
            return 0;
    }
    return 1;
}

static int same_predictions(rnn_model *a, rnn_model *b) {
    float xv[2 * 5 * 3];
    for (int i = 0; i < 30; i++) xv[i] = (float)((i * 37) % 11) / 7.0f - 0.6f;
    rnn_tensor x = rnn_tensor3(xv, 2, 5, 3);
    rnn_tensor ya = {0}, yb = {0};
    int ok = !rnn_predict(a, rnn_data_x(x), 2, &ya, 1) && !rnn_predict(b, rnn_data_x(x), 2, &yb, 1) && ya.rank == 3 &&
             yb.rank == 3 && !memcmp(ya.shape, yb.shape, sizeof ya.shape) &&
             !memcmp(ya.data, yb.data, sizeof(float) * 2 * 5 * 2);
    rnn_tensor_free(&ya);
    rnn_tensor_free(&yb);
    return ok;
}

static void check_regress_files(void) {
    const char *dir = "tests/fixtures/regress";
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot open %s", dir);
    if (!d) return;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *name = e->d_name;
        size_t len = strlen(name);
        int model = (len > 3 && !strcmp(name + len - 3, ".h5")) ||
                    (len > 6 && !strcmp(name + len - 6, ".keras"));
        if (!model) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        rnn_model *m = rnn_load(path);
        CHECK(m == NULL && rnn_last_error()[0], "%s: a crashing input loaded, or no message",
              path);
        rnn_model_free(m);
        n++;
    }
    closedir(d);
    printf("test_untrusted_parse: %d crashing model files from the fuzzers refused\n", n);
}

int main(void) {
    ssize_t len = readlink("/proc/self/exe", fault_reader, sizeof fault_reader - 32);
    CHECK(len > 0, "readlink /proc/self/exe");
    if (len <= 0) return check_report("test_untrusted_parse");
    fault_reader[len] = 0;
    strcpy(strrchr(fault_reader, '/'), "/fault_reader");
    char tmpl[] = "/tmp/rnn_untrusted_XXXXXX";
    char *dir = mkdtemp(tmpl);
    CHECK(dir != NULL, "mkdtemp");
    if (!dir) return check_report("test_untrusted_parse");

    rnn_model *m = rnn_sequential("small");
    rnn_recurrent_options o = rnn_lstm_defaults(4);
    o.return_sequences = 1;
    rnn_input(m, 5, 3);
    rnn_add(m, rnn_lstm(&o));
    rnn_add(m, rnn_time_distributed(rnn_dense_simple(2, RNN_TANH)));
    rnn_set_seed(m, 3);
    rnn_compile(m, "mse", "adam");
    const char *exts[2] = {".keras", ".h5"};
    char path[600];
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/m%s", dir, exts[k]);
        CHECK(rnn_save(m, path) == RNN_OK, "save %s: %s", path, rnn_model_error(m));
        rnn_keras_recipe r = {0};
        rnn_model *direct = rnn__keras_load_in_process(path, &r);
        rnn__keras_recipe_free(&r);
        rnn_model *guarded = rnn_load(path);
        CHECK(direct && guarded, "%s: %s", path, rnn_last_error());
        if (direct && guarded) {
            CHECK(same_weights(direct, guarded), "%s: weights differ through the guard", path);
            CHECK(same_weights(m, guarded), "%s: weights differ from the saved model", path);
            CHECK(same_predictions(direct, guarded), "%s: predictions differ", path);
            CHECK(!memcmp(&direct->rng, &guarded->rng, sizeof direct->rng),
                  "%s: the generator state differs through the guard", path);
        }
        rnn_model_free(direct);
        rnn_model_free(guarded);
    }

    struct {
        const char *mode;
        const char *want;
    } bad[] = {
        {"segv", CRASH_WORDS},    {"abort", CRASH_WORDS},
        {"exit1", "exit status 1"}, {"inconsistent", "built -5 weights"},
        {"own_error", "a message from the reader"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rnn_model *g = load_faulty(path, bad[i].mode);
        CHECK(g == NULL, "case %zu loaded", i);
        CHECK(strstr(rnn_last_error(), bad[i].want) != NULL, "case %zu: message \"%s\"", i,
              rnn_last_error());
        rnn_model_free(g);
    }

    /* An application that ignores SIGCHLD: its children are reaped without waitpid. */
    void (*old)(int) = signal(SIGCHLD, SIG_IGN);
    rnn_model *g = rnn_load(path);
    CHECK(g != NULL && same_weights(m, g), "SIGCHLD ignored: %s", rnn_last_error());
    rnn_model_free(g);
    g = load_faulty(path, "segv");
    CHECK(g == NULL && rnn_last_error()[0], "SIGCHLD ignored, crashing reader: no error");
    rnn_model_free(g);
    signal(SIGCHLD, old);

    check_regress_files();

    /* A corrupted dataset shape (2.7e9 values for a 4-weight layer, found by fuzz_h5) is refused
     * before anything is allocated: in this process, with the reason. */
    {
        const char *huge = "tests/fixtures/regress/fuzz_h5/huge_weight_shape.h5";
        rnn_keras_recipe r = {0};
        rnn_model *h = rnn__keras_load_in_process(huge, &r);
        rnn__keras_recipe_free(&r);
        CHECK(h == NULL && strstr(rnn_last_error(), "more than the layer's 4 weights"),
              "%s: %s", huge, rnn_last_error());
        rnn_model_free(h);
    }
    rnn_model_free(m);
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/m%s", dir, exts[k]);
        unlink(path);
    }
    rmdir(dir);
    return check_report("test_untrusted_parse");
}

#else

int main(void) {
    CHECK(rnn_load("x.keras") == NULL && strstr(rnn_last_error(), "KERAS_IO"),
          "built without Keras files, rnn_load must say so");
    return check_report("test_untrusted_parse");
}

#endif
