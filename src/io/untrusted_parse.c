/* rnn_load's guard: libhdf5 and libzip read the model file in a child process.
 *
 * Why: libhdf5 is not safe on hostile or corrupted files. Debian 12's libhdf5 1.10.8 reads out
 * of bounds inside H5Aexists on a .h5 file with a few flipped bytes, and asks malloc for ~2^62
 * bytes on others; no check in librnn can prevent what happens inside the library, and a
 * structural pre-validation of HDF5 would be a second HDF5 parser. So the whole file-format work
 * (zip container, HDF5, JSON, building the model, reading and converting the weights) runs in a
 * forked child (rnn__keras_load_in_process). The child sends back through a pipe only plain data:
 * the model JSON text and Keras version the model was built from (the "recipe"), the weight
 * values in the model's get_weights order, and the optimizer's state (step count, learning
 * rate, slots) when the file held one. The parent rebuilds the model from the recipe with
 * the same code (cJSON and keras_config.c, which are fuzzed in-process and never see HDF5) and
 * copies the weights in, checking every count and size. If the child crashes, is killed or
 * stops half way, rnn_load returns an error saying so; the caller's process is never touched.
 *
 * Cost: one fork (copy-on-write), building the model twice and one copy of the weights through
 * a pipe; measured in the README (Reliability). The child leaves with _exit: no atexit handlers
 * and no stdio flushes of the caller's buffers run twice.
 *
 * Limits: POSIX only (fork); a file that makes libhdf5 loop forever makes rnn_load wait forever
 * too, as it did without the guard. */
#ifdef RNN_WITH_KERAS_IO
#define _GNU_SOURCE /* F_SETPIPE_SZ (Linux) */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "io/keras_io.h"

#define MSG_MAGIC 0x4c4e4e52u /* "RNNL" */
#define MSG_END 0x444e4552u   /* "REND" */
#define NO_STRING UINT64_MAX
#define MAX_TEXT ((uint64_t)1 << 32)

void rnn__keras_recipe_free(rnn_keras_recipe *r) {
    free(r->config);
    free(r->compile);
    memset(r, 0, sizeof *r);
}

rnn_model *rnn__keras_recipe_model(const rnn_keras_recipe *r, int init) {
    cJSON *json = cJSON_Parse(r->config);
    if (!json) {
        rnn__fail(RNN_ERR_FORMAT, "the model config is not valid JSON");
        return NULL;
    }
    rnn_model *m = rnn__keras_model_from_json_init(json, &r->origin, init);
    if (m && !r->compile_legacy)
        rnn__keras_apply_compile(m, cJSON_GetObjectItemCaseSensitive(json, "compile_config"), 0);
    if (m && r->compile_legacy && r->compile) {
        cJSON *t = cJSON_Parse(r->compile);
        if (t) rnn__keras_apply_compile(m, t, 1);
        cJSON_Delete(t);
    }
    cJSON_Delete(json);
    return m;
}

/* ---------------------------------------------------------------- the pipe */

static int write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* 0 when all n bytes came; -1 at an early end of the stream or an error. */
static int read_all(int fd, void *buf, size_t n) {
    char *p = buf;
    while (n > 0) {
        ssize_t k = read(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int put_u32(int fd, uint32_t v) { return write_all(fd, &v, sizeof v); }
static int put_string(int fd, const char *s) {
    uint64_t n = s ? strlen(s) : NO_STRING;
    return write_all(fd, &n, sizeof n) || (s && write_all(fd, s, (size_t)n)) ? -1 : 0;
}

static int get_string(int fd, char **out) {
    uint64_t n;
    *out = NULL;
    if (read_all(fd, &n, sizeof n)) return -1;
    if (n == NO_STRING) return 0;
    if (n > MAX_TEXT || !(*out = malloc((size_t)n + 1))) return -1;
    if (read_all(fd, *out, (size_t)n)) return -1;
    (*out)[n] = 0;
    return 0;
}

/* ---------------------------------------------------------------- optimizer state */

/* The optimizer's state read from the file (keras_optimizer_state.c): compiled flag; then the
 * step count, the learning rate, the parameter count and, once a step was taken, the three
 * slot arrays. */
static int put_optimizer_state(int fd, const rnn_model *m) {
    int32_t compiled = m->compiled, slots = m->compiled && m->iterations > 0;
    if (write_all(fd, &compiled, sizeof compiled)) return -1;
    if (!compiled) return 0;
    int64_t n = m->n_params;
    if (write_all(fd, &m->iterations, sizeof m->iterations) ||
        write_all(fd, &m->optimizer.learning_rate, sizeof m->optimizer.learning_rate) ||
        write_all(fd, &n, sizeof n) || write_all(fd, &slots, sizeof slots))
        return -1;
    for (int k = 0; k < 3 && slots; k++)
        if (write_all(fd, m->opt_slot[k], sizeof(float) * (size_t)n)) return -1;
    return 0;
}

/* 0 on success; -1 when the stream broke; -2 when the child's model disagrees with this one
 * (message set). */
static int get_optimizer_state(int fd, rnn_model *m, const char *path) {
    int32_t compiled, slots;
    int64_t it, n;
    float lr;
    if (read_all(fd, &compiled, sizeof compiled)) return -1;
    if (!compiled) return 0;
    if (read_all(fd, &it, sizeof it) || read_all(fd, &lr, sizeof lr) ||
        read_all(fd, &n, sizeof n) || read_all(fd, &slots, sizeof slots))
        return -1;
    if (!m->compiled || n != m->n_params || it < 0) {
        rnn__fail(RNN_ERR_FORMAT, "%s: the reader process compiled the model, this process %s",
                  path, m->compiled ? "sized it differently" : "did not");
        return -2;
    }
    m->iterations = it;
    m->optimizer.learning_rate = lr;
    for (int k = 0; k < 3 && slots; k++)
        if (read_all(fd, m->opt_slot[k], sizeof(float) * (size_t)n)) return -1;
    return 0;
}

/* ---------------------------------------------------------------- the child */

/* Loads, then writes: magic, status; on failure the message; on success the recipe, the weight
 * count, the model's generator state and each weight's size and values; then the end mark. */
static void child_run(int fd, const char *path, rnn_keras_loader load) {
    rnn_keras_recipe r = {0};
    rnn_model *m = load(path, &r);
    /* rnn_load reports only a message (rnn_last_error), so a failure's status stays here. */
    int32_t status = m ? 0 : 1;
    int bad = put_u32(fd, MSG_MAGIC) || write_all(fd, &status, sizeof status);
    if (!m) {
        bad = bad || put_string(fd, rnn_last_error());
    } else {
        int32_t legacy = r.compile_legacy, major = r.origin.major, n = m->n_weights;
        /* The version text up to its NUL; the rest of the array was never written (valgrind). */
        char version[sizeof r.origin.version] = {0};
        memcpy(version, r.origin.version, strnlen(r.origin.version, sizeof version - 1));
        bad = bad || put_string(fd, r.config) || put_string(fd, r.compile) ||
              write_all(fd, &legacy, sizeof legacy) || write_all(fd, &major, sizeof major) ||
              write_all(fd, version, sizeof version) ||
              write_all(fd, &n, sizeof n) || write_all(fd, m->rng.s, sizeof m->rng.s);
        for (int i = 0; i < n && !bad; i++) {
            const rnn_weight *w = m->weights[i];
            int64_t size = w->size;
            bad = write_all(fd, &size, sizeof size) ||
                  write_all(fd, w->value, (size_t)size * sizeof(float));
        }
        bad = bad || put_optimizer_state(fd, m);
    }
    bad = bad || put_u32(fd, MSG_END);
    /* Freed although the process ends: leak checkers (valgrind, LSan) follow forked children. */
    rnn_model_free(m);
    rnn__keras_recipe_free(&r);
    _exit(bad ? 3 : 0);
}

/* ---------------------------------------------------------------- the parent */

/* Reads the child's answer into a model (NULL with the message set). *complete is 1 when the
 * whole message arrived, so that a child that died half way is told apart. */
static rnn_model *parent_read(int fd, const char *path, int *complete) {
    uint32_t magic = 0, end = 0;
    int32_t status = 0;
    *complete = 0;
    if (read_all(fd, &magic, sizeof magic) || magic != MSG_MAGIC ||
        read_all(fd, &status, sizeof status))
        return NULL;
    if (status != 0) {
        char *msg = NULL;
        if (get_string(fd, &msg) || !msg || read_all(fd, &end, sizeof end) || end != MSG_END) {
            free(msg);
            return NULL;
        }
        *complete = 1;
        rnn__fail(RNN_ERR_FORMAT, "%s", msg);
        free(msg);
        return NULL;
    }
    rnn_keras_recipe r = {0};
    int32_t legacy, major, n;
    rnn_model *m = NULL;
    if (get_string(fd, &r.config) || !r.config || get_string(fd, &r.compile) ||
        read_all(fd, &legacy, sizeof legacy) || read_all(fd, &major, sizeof major) ||
        read_all(fd, r.origin.version, sizeof r.origin.version) || read_all(fd, &n, sizeof n))
        goto done;
    r.compile_legacy = legacy;
    r.origin.major = major;
    r.origin.version[sizeof r.origin.version - 1] = 0;
    /* Every weight is overwritten below: no initialisers (their QR costs as much as reading). */
    m = rnn__keras_recipe_model(&r, 0);
    if (!m || m->n_weights != n) {
        /* The same config built a different model in the child: a librnn bug, not the file's. */
        if (m) rnn__fail(RNN_ERR_FORMAT, "%s: the reader process built %d weights, this process "
                         "%d", path, (int)n, m->n_weights);
        *complete = 1;
        goto fail;
    }
    /* The generator as the child's initialisers left it: fit's shuffling and dropout after a
     * load draw the same numbers as they did when the load ran in the caller. */
    if (read_all(fd, m->rng.s, sizeof m->rng.s)) goto fail;
    for (int i = 0; i < n; i++) {
        int64_t size;
        if (read_all(fd, &size, sizeof size)) goto fail;
        if (size != m->weights[i]->size) {
            rnn__fail(RNN_ERR_FORMAT, "%s: weight %d has %lld values from the reader process, %lld "
                      "here", path, i, (long long)size, (long long)m->weights[i]->size);
            *complete = 1;
            goto fail;
        }
        if (read_all(fd, m->weights[i]->value, (size_t)size * sizeof(float))) goto fail;
    }
    int opt = get_optimizer_state(fd, m, path);
    if (opt == -2) *complete = 1;
    if (opt) goto fail;
    if (read_all(fd, &end, sizeof end) || end != MSG_END) goto fail;
    *complete = 1;
    goto done;
fail:
    rnn_model_free(m);
    m = NULL;
done:
    rnn__keras_recipe_free(&r);
    return m;
}

rnn_model *rnn__keras_load_untrusted(const char *path) {
    return rnn__keras_load_guarded(path, rnn__keras_load_in_process);
}

rnn_model *rnn__keras_load_guarded(const char *path, rnn_keras_loader load) {
    int p[2];
    if (pipe(p) != 0) {
        rnn__fail(RNN_ERR_IO, "rnn_load(%s): cannot create a pipe: %s", path, strerror(errno));
        return NULL;
    }
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    fcntl(p[1], F_SETFD, FD_CLOEXEC);
#ifdef F_SETPIPE_SZ
    /* 1 MB instead of 64 KB: megabytes of weights pass in a few turns of the two processes
     * rather than dozens (a best effort: the limit for unprivileged users is 1 MB). */
    fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
#endif
    pid_t pid = fork();
    if (pid < 0) {
        rnn__fail(RNN_ERR_IO, "rnn_load(%s): cannot start the reader process: %s", path,
                  strerror(errno));
        close(p[0]);
        close(p[1]);
        return NULL;
    }
    if (pid == 0) {
        close(p[0]);
        /* A parent that stops reading (an error on its side) must end the child, not block it. */
        signal(SIGPIPE, SIG_DFL);
        child_run(p[1], path, load);
    }
    close(p[1]);
    int complete = 0;
    rnn_model *m = parent_read(p[0], path, &complete);
    close(p[0]); /* a child still writing gets SIGPIPE and ends */
    int ws = 0;
    pid_t w;
    while ((w = waitpid(pid, &ws, 0)) < 0 && errno == EINTR) {}
    /* w < 0 (ECHILD): the application ignores SIGCHLD, so the child was reaped already; a
     * complete message is then the only evidence, and enough. */
    int child_ok = w < 0 ? complete : WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
    if (complete && child_ok) return m;
    rnn_model_free(m);
    if (complete) return NULL; /* the child's own error, already the message */
    if (w > 0 && WIFSIGNALED(ws))
        rnn__fail(RNN_ERR_FORMAT, "%s: reading the file crashed the HDF5/zip reader process "
                  "(signal %d: %s); the file is corrupted or hostile; nothing was loaded", path,
                  WTERMSIG(ws), strsignal(WTERMSIG(ws)));
    else /* also a crash under a sanitizer, which reports and exits 1 */
        rnn__fail(RNN_ERR_FORMAT, "%s: the HDF5/zip reader process stopped (exit status %d) "
                  "before finishing; the file is probably corrupted or hostile; nothing was "
                  "loaded", path, w > 0 && WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
    return NULL;
}

#endif
