/* Loaders bounded by the file's real content (issue 14): a small file whose config declares huge
 * sizes is refused before anything of that size is allocated or initialised, a config member that
 * inflates to more than its cap is refused before inflating, and loading is linear in the number
 * of layers. The hostile files are built here from a small model librnn writes. Each load runs
 * in a child process under a 512 MB address-space limit (not under AddressSanitizer, whose shadow
 * memory needs more address space) and a wall-clock limit, so that a regression shows as a
 * failed check rather than as a machine out of memory. */
#define _DEFAULT_SOURCE /* setrlimit, kill */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "rnn.h"

#ifdef RNN_WITH_KERAS_IO
#include <hdf5.h>
#include <zip.h>

static char dir[64];

static const char *P(const char *name) { return check_path(dir, name); }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* rnn_load_ex(path) in a child under a 512 MB address-space limit, in process (in_process=1,
 * so that the limit applies to the code under test, not only to the reader program) or through
 * the reader. Returns the status the child saw (RNN_OK when it loaded), or -1 when the child died
 * or ran past limit_s; *took gets the wall time. */
static int load_bounded(const char *path, int in_process, double limit_s, double *took) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    fflush(NULL);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
#if !defined(__SANITIZE_ADDRESS__) /* ASan reserves terabytes of shadow address space */
        struct rlimit rl = {512ul << 20, 512ul << 20};
        setrlimit(RLIMIT_AS, &rl);
#endif
        rnn_load_options o = {0};
        o.in_process = in_process;
        rnn_model *m = rnn_load_ex(path, &o);
        int st = m ? RNN_OK : (int)rnn_last_status();
        if (!m) fprintf(stderr, "  (load of %s: %s)\n", path, rnn_last_error());
        rnn_model_free(m);
        if (write(fds[1], &st, sizeof st) != sizeof st) _exit(2);
        _exit(0);
    }
    close(fds[1]);
    int status = 0, st = -1;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (now_s() - t0 > limit_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fprintf(stderr, "  (load of %s still running after %.0f s: killed)\n", path, limit_s);
            close(fds[0]);
            *took = now_s() - t0;
            return -1;
        }
        struct timespec ms = {0, 2000000};
        nanosleep(&ms, NULL);
    }
    *took = now_s() - t0;
    if (!WIFEXITED(status) || read(fds[0], &st, sizeof st) != sizeof st) st = -1;
    close(fds[0]);
    return st;
}

/* Replaces member name of the zip at path with text (n bytes). */
static int member_replace(const char *path, const char *name, const char *text, size_t n) {
    int err = 0;
    zip_t *z = zip_open(path, 0, &err);
    if (!z) return -1;
    zip_source_t *src = zip_source_buffer(z, text, n, 0);
    zip_int64_t idx = zip_name_locate(z, name, 0);
    int bad = !src || idx < 0 || zip_file_replace(z, (zip_uint64_t)idx, src, 0) != 0;
    if (bad && src) zip_source_free(src);
    if (zip_close(z) != 0) {
        zip_discard(z);
        return -1;
    }
    return bad ? -1 : 0;
}

/* The text of member name, NUL-terminated (malloc'd), or NULL. */
static char *member_read(const char *path, const char *name) {
    int err = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY, &err);
    if (!z) return NULL;
    zip_stat_t sb;
    char *buf = NULL;
    if (zip_stat(z, name, 0, &sb) == 0) {
        zip_file_t *f = zip_fopen(z, name, 0);
        buf = malloc(sb.size + 1);
        if (f && buf && zip_fread(f, buf, sb.size) == (zip_int64_t)sb.size) buf[sb.size] = 0;
        else {
            free(buf);
            buf = NULL;
        }
        if (f) zip_fclose(f);
    }
    zip_discard(z);
    return buf;
}

/* config with every "units": 4 replaced by "units": units (malloc'd). */
static char *with_units(const char *config, long units) {
    size_t n = strlen(config);
    char *out = malloc(n * 2 + 64), *o = out;
    const char *key = "\"units\":4";
    for (const char *p = config; *p;) {
        if (!strncmp(p, key, strlen(key)) && (p[strlen(key)] == ',' || p[strlen(key)] == '}')) {
            o += sprintf(o, "\"units\":%ld", units);
            p += strlen(key);
        } else {
            *o++ = *p++;
        }
    }
    *o = 0;
    return out;
}

static rnn_model *small_lstm(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, 5, 3);
    rnn_recurrent_options o = rnn_lstm_defaults(4);
    rnn_add(m, rnn_lstm(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    return m;
}

static void huge_units_keras(void) {
    rnn_model *m = small_lstm();
    CHECK(rnn_save(m, P("small.keras")) == RNN_OK, "save: %s", rnn_model_error(m));
    rnn_model_free(m);
    char *config = member_read(P("small.keras"), "config.json");
    CHECK(config && strstr(config, "\"units\":4"), "the saved config has no \"units\":4");
    if (!config) return;
    const long sizes[] = {8000, 30000};
    for (int i = 0; i < 2; i++) {
        char name[64];
        snprintf(name, sizeof name, "units%ld.keras", sizes[i]);
        char cmd[400];
        snprintf(cmd, sizeof cmd, "cp %s %s", P("small.keras"), P(name));
        CHECK(system(cmd) == 0, "cp");
        char *hostile = with_units(config, sizes[i]);
        CHECK(member_replace(P(name), "config.json", hostile, strlen(hostile)) == 0, "rewriting the config");
        for (int in_process = 1; in_process >= 0; in_process--) {
            double took;
            int st = load_bounded(P(name), in_process, 20, &took);
            CHECK(st == RNN_ERR_FORMAT, "units=%ld (%s): status %d, not RNN_ERR_FORMAT", sizes[i],
                  in_process ? "in process" : "reader", st);
            CHECK(took < 3, "units=%ld (%s): refusing took %.1f s", sizes[i],
                  in_process ? "in process" : "reader", took);
        }
        free(hostile);
    }
    free(config);
}

/* The legacy .h5 whose model_config attribute declares 30000 units. */
static void huge_units_h5(void) {
    rnn_model *m = small_lstm();
    CHECK(rnn_save(m, P("small.h5")) == RNN_OK, "save: %s", rnn_model_error(m));
    rnn_model_free(m);
    hid_t f = H5Fopen(P("small.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(f >= 0, "opening the .h5");
    if (f < 0) return;
    hid_t a = H5Aopen(f, "model_config", H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    char *config = NULL;
    if (H5Tis_variable_str(t) > 0) {
        char *v = NULL;
        if (H5Aread(a, t, &v) >= 0 && v) config = strdup(v);
        if (v) H5free_memory(v);
    } else {
        size_t n = H5Tget_size(t);
        config = calloc(n + 1, 1);
        if (config) H5Aread(a, t, config);
    }
    H5Tclose(t);
    H5Aclose(a);
    CHECK(config && strstr(config, "\"units\":4"), "the .h5 config has no \"units\":4");
    if (config) {
        char *hostile = with_units(config, 30000);
        H5Adelete(f, "model_config");
        hid_t st = H5Tcopy(H5T_C_S1);
        H5Tset_size(st, strlen(hostile) + 1);
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t na = H5Acreate2(f, "model_config", st, sp, H5P_DEFAULT, H5P_DEFAULT);
        CHECK(na >= 0 && H5Awrite(na, st, hostile) >= 0, "writing the hostile config");
        H5Aclose(na);
        H5Sclose(sp);
        H5Tclose(st);
        free(hostile);
    }
    H5Fclose(f);
    free(config);
    double took;
    int st = load_bounded(P("small.h5"), 1, 20, &took);
    CHECK(st == RNN_ERR_FORMAT && took < 3, ".h5 with units=30000: status %d after %.1f s", st, took);
}

/* A config member that is valid JSON followed by 32 MiB of spaces (a tiny compressed member). */
static void inflating_config(void) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "cp %s %s", P("small.keras"), P("spaces.keras"));
    CHECK(system(cmd) == 0, "cp");
    char *config = member_read(P("small.keras"), "config.json");
    if (!config) return;
    size_t n = strlen(config), big = n + ((size_t)32 << 20);
    char *text = malloc(big);
    memcpy(text, config, n);
    memset(text + n, ' ', big - n);
    CHECK(member_replace(P("spaces.keras"), "config.json", text, big) == 0, "writing the config");
    free(text);
    free(config);
    double took;
    int st = load_bounded(P("spaces.keras"), 1, 20, &took);
    CHECK(st == RNN_ERR_FORMAT && took < 3, "a 32 MiB config member: status %d after %.1f s", st, took);
}

/* A Sequential config of n Dropout layers. */
static void write_layers(const char *path, int n) {
    size_t cap = (size_t)n * 160 + 1024, k = 0;
    char *cfg = malloc(cap);
    k += (size_t)sprintf(cfg + k, "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", "
                         "\"layers\": [{\"class_name\": \"InputLayer\", \"config\": "
                         "{\"batch_shape\": [null, 4], \"dtype\": \"float32\", \"name\": \"in\"}}");
    for (int i = 0; i < n; i++)
        k += (size_t)sprintf(cfg + k, ", {\"class_name\": \"Dropout\", \"config\": {\"name\": "
                             "\"d%d\", \"rate\": 0.0, \"dtype\": \"float32\"}}", i);
    k += (size_t)sprintf(cfg + k, "]}}");
    int err = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    zip_source_t *s1 = zip_source_buffer(z, cfg, k, 0);
    zip_source_t *s2 = zip_source_buffer(z, "{\"keras_version\": \"3.15.1\"}", 27, 0);
    zip_file_add(z, "config.json", s1, 0);
    zip_file_add(z, "metadata.json", s2, 0);
    CHECK(zip_close(z) == 0, "writing %s", path);
    free(cfg);
}

static void many_layers(void) {
    write_layers(P("layers.keras"), 20000);
    double took;
    int st = load_bounded(P("layers.keras"), 1, 30, &took);
    /* Linear: about 0.2 s here; the quadratic loader took over 9 s for 20,000 layers. */
    CHECK(st == RNN_OK && took < 3, "20,000 layers: status %d after %.1f s", st, took);
    fprintf(stderr, "test_bounded_load: a 20,000-layer Sequential config loaded in %.2f s\n", took);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/rnn_bounded_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    huge_units_keras();
    huge_units_h5();
    inflating_config();
    many_layers();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
    return check_report("test_bounded_load");
}
#else
int main(void) {
    CHECK(rnn_load("x.keras") == NULL && rnn_last_status() == RNN_ERR_UNSUPPORTED,
          "a build without Keras files refuses loads");
    return check_report("test_bounded_load (no Keras file support)");
}
#endif
