/* Training that continues where it stopped:
 *  - the optimizer's state in saved files: a model trained, saved (.keras and .h5), loaded and
 *    trained further ends with bit-identical weights to the model trained without the detour,
 *    for Adam (plain and amsgrad), SGD with momentum and RMSprop (centered, momentum);
 *  - BackupAndRestore: a fit killed with SIGKILL (at an epoch end, in the middle of an epoch,
 *    and at random moments) and started again with the same call finishes with weights
 *    bit-identical to an uninterrupted run - with shuffling, dropout, validation, metrics,
 *    EarlyStopping, a stateful model, every callback at once (LearningRateScheduler,
 *    ReduceLROnPlateau, CSVLogger - whose file must equal the straight run's -, TerminateOnNaN,
 *    on_train_batch_end, validation_data arrays), and through `rnn fit --resume`. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "rnn.h"

static char dir[256];

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

enum { N = 48, T = 6, F = 3 };
static float X[N * T * F], Y[N];

static void make_data(void) {
    uint64_t s = 11;
    for (int i = 0; i < N * T * F; i++) X[i] = frand(&s);
    for (int i = 0; i < N; i++) Y[i] = 0.5f * X[i * T * F] - 0.25f * X[i * T * F + 4] + 0.1f * frand(&s);
}

/* LSTM(8, dropout) -> Dense(1) (stateful with a fixed batch when batch > 0). */
static rnn_model *model(const rnn_optimizer *opt, int batch, float dropout) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_set_seed(m, 5);
    rnn_recurrent_options o = rnn_lstm_defaults(8);
    o.dropout = dropout;
    o.recurrent_dropout = dropout;
    o.stateful = batch > 0;
    rnn_status st = batch > 0 ? rnn_batch_input(m, batch, T, F) : rnn_input(m, T, F);
    if (!st) st = rnn_add(m, rnn_lstm(&o));
    if (!st) st = rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    if (!st) st = rnn_compile_with(m, "mse", opt);
    CHECK(st == RNN_OK, "building the model: %s", rnn_last_error());
    return m;
}

/* All weights back to back. */
static float *weights_of(rnn_model *m, int64_t *n) {
    int64_t total = rnn_count_params(m), off = 0;
    float *w = malloc(sizeof(float) * (size_t)total);
    for (int i = 0; i < rnn_weight_count(m); i++) {
        int64_t shape[RNN_MAX_RANK], size = 1;
        int rank;
        const char *name;
        rnn_weight_info(m, i, &name, &rank, shape);
        for (int k = 0; k < rank; k++) size *= shape[k];
        rnn_get_weight(m, i, w + off, size);
        off += size;
    }
    *n = total;
    return w;
}

static int same_weights(rnn_model *a, rnn_model *b) {
    int64_t na, nb;
    float *wa = weights_of(a, &na), *wb = weights_of(b, &nb);
    int same = na == nb && memcmp(wa, wb, sizeof(float) * (size_t)na) == 0;
    free(wa);
    free(wb);
    return same;
}

/* ------------------------------------------------------------ optimizer state in files */

static void test_optimizer_state_in_files(void) {
    rnn_optimizer opts[4] = {rnn_adam_defaults(), rnn_adam_defaults(), rnn_sgd_defaults(),
                             rnn_rmsprop_defaults()};
    const char *names[4] = {"adam", "adam(amsgrad)", "sgd(momentum)", "rmsprop(centered, momentum)"};
    opts[1].amsgrad = 1;
    opts[2].momentum = 0.9f;
    opts[3].centered = 1;
    opts[3].momentum = 0.5f;
    const char *exts[2] = {"keras", "h5"};
    rnn_tensor x = rnn_tensor3(X, N, T, F), y = rnn_tensor2(Y, N, 1);
    rnn_tensor xb = rnn_tensor3(X, 16, T, F), yb = rnn_tensor2(Y, 16, 1);
    for (int k = 0; k < 4; k++) {
        for (int e = 0; e < 2; e++) {
            rnn_model *a = model(&opts[k], 0, 0.0f);
            rnn_fit_options fo = rnn_fit_defaults();
            fo.epochs = 2;
            fo.batch_size = 16;
            fo.verbose = 0;
            CHECK(rnn_fit(a, rnn_data_xy(x, y), &fo, NULL) == RNN_OK, "fit: %s", rnn_model_error(a));
            char path[400];
            snprintf(path, sizeof path, "%s/opt_%d.%s", dir, k, exts[e]);
            CHECK(rnn_save(a, path) == RNN_OK, "save %s: %s", path, rnn_model_error(a));
            rnn_model *b = rnn_load(path);
            CHECK(b != NULL, "load %s: %s", path, rnn_last_error());
            if (!b) {
                rnn_model_free(a);
                continue;
            }
            CHECK(rnn_optimizer_iterations(b) == rnn_optimizer_iterations(a) &&
                  rnn_optimizer_iterations(a) == 6, "%s .%s: iterations %lld after loading, %lld "
                  "before", names[k], exts[e], (long long)rnn_optimizer_iterations(b),
                  (long long)rnn_optimizer_iterations(a));
            for (int step = 0; step < 3; step++) {
                CHECK(rnn_train_on_batch(a, rnn_data_xy(xb, yb), NULL) == RNN_OK, "step a");
                CHECK(rnn_train_on_batch(b, rnn_data_xy(xb, yb), NULL) == RNN_OK, "step b: %s", rnn_model_error(b));
            }
            CHECK(same_weights(a, b), "%s .%s: training after save/load differs from training "
                  "straight on (optimizer state lost?)", names[k], exts[e]);
            rnn_model_free(a);
            rnn_model_free(b);
        }
    }
    /* Without the state the moments restart: the weights then differ (the check above can
     * fail). Shown with a model whose file has the optimizer stripped by recompiling. */
    rnn_optimizer adam = rnn_adam_defaults();
    rnn_model *a = model(&adam, 0, 0.0f);
    rnn_model *c = model(&adam, 0, 0.0f);
    rnn_fit_options fo = rnn_fit_defaults();
    fo.epochs = 1;
    fo.verbose = 0;
    rnn_fit(a, rnn_data_xy(x, y), &fo, NULL);
    rnn_copy_weights(c, a); /* same weights, fresh optimizer */
    rnn_train_on_batch(a, rnn_data_xy(xb, yb), NULL);
    rnn_train_on_batch(c, rnn_data_xy(xb, yb), NULL);
    CHECK(!same_weights(a, c), "a fresh optimizer should give other weights (the test's premise)");
    rnn_model_free(a);
    rnn_model_free(c);
}

/* ------------------------------------------------------------ BackupAndRestore */

typedef struct {
    int stateful, early, save_freq, source;
    int kill_epoch;        /* SIGKILL in on_epoch_end of this epoch (-1: never) */
    int64_t kill_batch;    /* SIGKILL when the source is asked for this many batches (-1) */
    int all;               /* every callback of fit on, validation_data arrays, a CSV log */
} scenario;

/* The callbacks of the `all` scenarios: pure functions of their arguments, as a resume needs. */
static double halve_late(void *user, int epoch, double lr) {
    (void)user;
    return epoch < 3 ? 0.004 : lr * 0.9;
}

static int64_t batch_calls;
static int count_batches(void *user, int64_t batch, const rnn_log_entry *logs, int n) {
    (void)user;
    (void)batch;
    (void)logs;
    (void)n;
    batch_calls++;
    return 0;
}

static int64_t batches_served;
static int64_t kill_at_batch = -1;

static rnn_status source_get(void *user, int64_t index, rnn_tensor *x, rnn_tensor *y) {
    (void)user;
    if (kill_at_batch >= 0 && batches_served++ == kill_at_batch) raise(SIGKILL);
    x[0] = rnn_tensor3(X + index * 8 * T * F, 8, T, F);
    y[0] = rnn_tensor2(Y + index * 8, 8, 1);
    return RNN_OK;
}

static int kill_epoch_ = -1;
static int on_epoch(void *user, int epoch, const rnn_history *h) {
    (void)user;
    (void)h;
    if (epoch == kill_epoch_) raise(SIGKILL);
    return 0;
}

/* One fit of the scenario (10 epochs) with the backup at backup (NULL: none); the final
 * weights are saved to out. Returns fit's status. */
static rnn_status run_fit(const scenario *sc, const char *backup, const char *out,
                          rnn_history *h) {
    rnn_optimizer adam = rnn_adam_defaults();
    rnn_model *m = model(&adam, sc->stateful ? 8 : 0, 0.2f);
    rnn_fit_options fo = rnn_fit_defaults();
    fo.epochs = 10;
    fo.batch_size = 8;
    fo.verbose = 0;
    fo.shuffle = !sc->stateful;
    fo.validation_split = sc->source ? 0.0f : 0.25f;
    fo.on_epoch_end = on_epoch;
    if (sc->early) {
        fo.early_stopping.enabled = 1;
        fo.early_stopping.monitor = "loss";
        fo.early_stopping.patience = 2;
        fo.early_stopping.min_delta = 0.004f;
        fo.early_stopping.restore_best_weights = 1;
    }
    if (backup) {
        fo.backup.path = backup;
        fo.backup.save_freq = sc->save_freq;
    }
    rnn_tensor x = rnn_tensor3(X, N, T, F), y = rnn_tensor2(Y, N, 1);
    char csv[512];
    if (sc->all) {
        enum { NT = N * 3 / 4 };
        x = rnn_tensor3(X, NT, T, F);
        y = rnn_tensor2(Y, NT, 1);
        fo.validation_split = 0.0f;
        fo.validation_data = rnn_data_xy(rnn_tensor3(X + NT * T * F, N - NT, T, F),
                                         rnn_tensor2(Y + NT, N - NT, 1));
        fo.lr_scheduler.schedule = halve_late;
        fo.reduce_lr.enabled = 1;
        fo.reduce_lr.monitor = "val_loss";
        fo.reduce_lr.patience = 2;
        fo.reduce_lr.factor = 0.5;
        fo.reduce_lr.min_delta = 0.002;
        fo.reduce_lr.cooldown = 2;
        snprintf(csv, sizeof csv, "%s.csv", out);
        fo.csv_logger.filename = csv;
        fo.terminate_on_nan = 1;
        fo.on_train_batch_end = count_batches;
    }
    rnn_status st;
    if (sc->source) {
        rnn_batch_source src = {N / 8, source_get, NULL, NULL, NULL};
        st = rnn_fit(m, rnn_data_source(&src), &fo, h);
    } else {
        st = rnn_fit(m, rnn_data_xy(x, y), &fo, h);
    }
    if (!st && out) st = rnn_save(m, out);
    rnn_model_free(m);
    return st;
}

/* Runs the fit in a child that may be killed; returns 1 if the child was killed. */
static int child_fit(const scenario *sc, const char *backup, const char *out, int kill_epoch,
                     int64_t kill_batch, int kill_after_us) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        kill_epoch_ = kill_epoch;
        kill_at_batch = kill_batch;
        batches_served = 0;
        rnn_status st = run_fit(sc, backup, out, NULL);
        if (st) fprintf(stderr, "child fit: %s\n", rnn_last_error());
        _exit(st ? 3 : 0);
    }
    if (kill_after_us > 0) {
        usleep((useconds_t)kill_after_us);
        kill(pid, SIGKILL);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) return 1;
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the resumed fit failed (status %d)", status);
    return 0;
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* A kill delay drawn as a fraction (5 to 75 %) of how long the uninterrupted run took on this
 * machine now: fixed delays let a fast machine finish before the first kill, and then nothing
 * was tested. */
static int kill_delay_us(double run_us) {
    double d = run_us * (5 + rand() % 71) / 100.0;
    return d < 500 ? 500 : (int)d;
}

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

static void test_backup_and_restore(void) {
    const scenario scenarios[] = {
        {0, 0, 0, 0, 3, -1, 0},   /* killed at the end of epoch 4: resumes at an epoch start */
        {0, 0, 2, 0, -1, -1, 0},  /* save every 2 batches (arrays); killed at random below */
        {0, 0, 1, 1, -1, 17, 0},  /* batch source, shuffled: killed in epoch 3, batch 6 */
        {1, 0, 1, 1, -1, 22, 0},  /* stateful LSTM: the carried state is in the backup */
        {0, 1, 0, 0, 1, -1, 0},   /* EarlyStopping with restore_best_weights */
        {0, 0, 1, 0, -1, -1, 1}, /* every callback (CSV, schedules, ...): random kills */
        {0, 1, 0, 0, 4, -1, 1},  /* every callback and EarlyStopping: killed after epoch 5 */
        {0, 0, 1, 1, -1, 9, 1},  /* every callback, a batch source: killed in epoch 2 */
        {0, 0, 0, 0, 6, -1, 1},  /* killed after epoch 7: ReduceLROnPlateau's wait is 1 */
        {0, 0, 0, 0, 7, -1, 1},  /* killed after epoch 8: it is in its cooldown */
    };
    for (size_t k = 0; k < sizeof scenarios / sizeof scenarios[0]; k++) {
        const scenario *sc = &scenarios[k];
        char straight[400], resumed[400], backup[400];
        snprintf(straight, sizeof straight, "%s/straight_%zu.keras", dir, k);
        snprintf(resumed, sizeof resumed, "%s/resumed_%zu.keras", dir, k);
        snprintf(backup, sizeof backup, "%s/backup_%zu.keras", dir, k);
        rnn_history h1 = {0}, h2 = {0};
        double t0 = now_us();
        CHECK(run_fit(sc, NULL, straight, &h1) == RNN_OK, "straight fit %zu: %s", k, rnn_last_error());
        double straight_us = now_us() - t0;
        int killed = 0;
        if (sc->kill_epoch >= 0 || sc->kill_batch >= 0) {
            killed = child_fit(sc, backup, resumed, sc->kill_epoch, sc->kill_batch, 0);
            CHECK(killed, "scenario %zu: the child was not killed where planned", k);
            CHECK(file_exists(backup), "scenario %zu: no backup after the kill", k);
        } else {
            /* Random kill points: up to 25 runs, each killed at a random share of the straight
             * run's time unless it finished (the runs go on from each other's backups); the call
             * below finishes the job. */
            srand(7);
            for (int tries = 0; tries < 25; tries++) {
                int r = child_fit(sc, backup, resumed, -1, -1, kill_delay_us(straight_us));
                killed += r;
                if (!r) break;
            }
            CHECK(killed > 0, "scenario %zu: no run was interrupted", k);
        }
        /* The same call again, in this process: it resumes and finishes. */
        CHECK(run_fit(sc, backup, resumed, &h2) == RNN_OK, "resumed fit %zu: %s", k, rnn_last_error());
        CHECK(!file_exists(backup), "scenario %zu: the backup should be deleted at the end", k);
        rnn_model *a = rnn_load(straight), *b = rnn_load(resumed);
        CHECK(a && b, "loading the results");
        if (a && b)
            CHECK(same_weights(a, b), "scenario %zu (%d kills): resumed weights differ from the "
                  "uninterrupted run", k, killed);
        CHECK(h1.epochs == h2.epochs && h1.stopped_early == h2.stopped_early,
              "scenario %zu: history epochs %d vs %d", k, h1.epochs, h2.epochs);
        for (int e = 0; e < h1.epochs && e < h2.epochs; e++)
            CHECK(h1.loss[e] == h2.loss[e], "scenario %zu: epoch %d loss %.17g vs %.17g", k, e,
                  h1.loss[e], h2.loss[e]);
        if (sc->all) {
            int reduced = 0; /* ReduceLROnPlateau halved the rate (the schedule takes 0.9) */
            CHECK(h1.learning_rate && h2.learning_rate, "scenario %zu: no learning rates", k);
            for (int e = 0; h1.learning_rate && h2.learning_rate && e < h1.epochs && e < h2.epochs; e++) {
                CHECK(h1.learning_rate[e] == h2.learning_rate[e], "scenario %zu: epoch %d "
                      "learning rate %.9g vs %.9g", k, e, h1.learning_rate[e], h2.learning_rate[e]);
                reduced |= e > 3 && h1.learning_rate[e] < 0.8 * h1.learning_rate[e - 1];
            }
            CHECK(reduced, "scenario %zu: ReduceLROnPlateau never reduced the rate (the test's "
                  "premise)", k);
            /* the CSV log of the interrupted runs equals the straight run's */
            char ca[512], cb[512];
            snprintf(ca, sizeof ca, "%s.csv", straight);
            snprintf(cb, sizeof cb, "%s.csv", resumed);
            FILE *fa = fopen(ca, "rb"), *fb = fopen(cb, "rb");
            static char ba[1 << 16], bb[1 << 16];
            size_t na = fa ? fread(ba, 1, sizeof ba, fa) : 0, nb = fb ? fread(bb, 1, sizeof bb, fb) : 0;
            if (fa) fclose(fa);
            if (fb) fclose(fb);
            CHECK(na > 100 && na == nb && !memcmp(ba, bb, na), "scenario %zu: the CSV logs differ "
                  "(%zu vs %zu bytes):\n%.*s\n---\n%.*s", k, na, nb, (int)na, ba, (int)nb, bb);
        }
        if (sc->early) CHECK(h1.stopped_early && h1.epochs < 10, "EarlyStopping should stop early");
        fprintf(stderr, "backup scenario %zu: %d kill(s), %d epochs, final loss %.6f\n", k, killed,
                h2.epochs, h2.epochs ? h2.loss[h2.epochs - 1] : 0.0);
        rnn_history_free(&h1);
        rnn_history_free(&h2);
        rnn_model_free(a);
        rnn_model_free(b);
    }
}

static void test_backup_errors(void) {
    rnn_optimizer adam = rnn_adam_defaults();
    rnn_model *m = model(&adam, 0, 0.0f);
    rnn_tensor x = rnn_tensor3(X, N, T, F), y = rnn_tensor2(Y, N, 1);
    rnn_fit_options fo = rnn_fit_defaults();
    fo.verbose = 0;
    char path[400];
    /* A backup that is not one: an ordinary model file. */
    snprintf(path, sizeof path, "%s/plain.keras", dir);
    rnn_save(m, path);
    fo.backup.path = path;
    CHECK(rnn_fit(m, rnn_data_xy(x, y), &fo, NULL) == RNN_ERR_FORMAT &&
          strstr(rnn_model_error(m), "not a librnn training backup"), "plain model as backup: %s",
          rnn_model_error(m));
    /* A backup of another model. */
    fo.backup.path = NULL;
    rnn_model *other = rnn_sequential(NULL);
    rnn_input(other, T, F);
    rnn_recurrent_options g = rnn_gru_defaults(4);
    rnn_add(other, rnn_gru(&g));
    rnn_add(other, rnn_dense_simple(1, RNN_LINEAR));
    rnn_compile(other, "mse", "adam");
    snprintf(path, sizeof path, "%s/other_backup.keras", dir);
    rnn_fit_options fk = fo;
    fk.backup.path = path;
    fk.backup.delete_checkpoint = 0;
    CHECK(rnn_fit(other, rnn_data_xy(x, y), &fk, NULL) == RNN_OK, "fit other: %s", rnn_model_error(other));
    CHECK(file_exists(path), "delete_checkpoint=0 keeps the backup");
    fo.backup.path = path;
    CHECK(rnn_fit(m, rnn_data_xy(x, y), &fo, NULL) == RNN_ERR_FORMAT &&
          strstr(rnn_model_error(m), "another model"), "other model's backup: %s",
          rnn_model_error(m));
    fo.backup.path = "/nonexistent-dir/b.keras";
    CHECK(rnn_fit(m, rnn_data_xy(x, y), &fo, NULL) != RNN_OK && strstr(rnn_model_error(m), "BackupAndRestore"),
          "backup in a missing directory: %s", rnn_model_error(m));
    rnn_model_free(m);
    rnn_model_free(other);
}

/* ------------------------------------------------------------ the command line */

static int run_rnn(const char *args, int kill_after_us) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "exec build/rnn %s >/dev/null 2>&1", args);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    if (kill_after_us > 0) {
        usleep((useconds_t)kill_after_us);
        kill(pid, SIGKILL);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status) ? -1 : WEXITSTATUS(status);
}

static void test_cli_resume(void) {
    if (access("build/rnn", X_OK) != 0) {
        CHECK(0, "build/rnn is missing (run from the repository root after make)");
        return;
    }
    rnn_optimizer adam = rnn_adam_defaults();
    rnn_model *m = model(&adam, 0, 0.2f);
    char base[300], xs[300], ys[300], a[300], b[300], bk[300], args[2048];
    snprintf(base, sizeof base, "%s/cli_model.keras", dir);
    snprintf(xs, sizeof xs, "%s/x.npy", dir);
    snprintf(ys, sizeof ys, "%s/y.npy", dir);
    snprintf(a, sizeof a, "%s/cli_straight.keras", dir);
    snprintf(b, sizeof b, "%s/cli_resumed.keras", dir);
    snprintf(bk, sizeof bk, "%s/cli_backup.keras", dir);
    rnn_tensor x = rnn_tensor3(X, N, T, F), y = rnn_tensor2(Y, N, 1);
    CHECK(rnn_save(m, base) == RNN_OK && rnn_npy_save(xs, &x) == RNN_OK && rnn_npy_save(ys, &y) == RNN_OK,
          "writing the inputs");
    rnn_model_free(m);
    snprintf(args, sizeof args, "fit %s --x %s --y %s --epochs 12 --batch-size 4 --verbose 0 "
             "--output %s", base, xs, ys, a);
    double t0 = now_us();
    CHECK(run_rnn(args, 0) == 0, "rnn fit (straight)");
    double straight_us = now_us() - t0;
    snprintf(args, sizeof args, "fit %s --x %s --y %s --epochs 12 --batch-size 4 --verbose 0 "
             "--output %s --resume %s --backup-every 3", base, xs, ys, b, bk);
    int kills = 0, rc = -1;
    srand(3);
    for (int tries = 0; tries < 40 && rc != 0; tries++) {
        rc = run_rnn(args, kill_delay_us(straight_us));
        kills += rc == -1;
    }
    if (rc != 0) rc = run_rnn(args, 0);
    CHECK(rc == 0, "rnn fit --resume finished (rc %d)", rc);
    CHECK(kills > 0, "no rnn fit --resume run was interrupted: the resume was not tested");
    CHECK(!file_exists(bk), "the command's backup is removed when it finishes");
    rnn_model *ma = rnn_load(a), *mb = rnn_load(b);
    CHECK(ma && mb && same_weights(ma, mb), "rnn fit --resume after %d kill(s): weights differ "
          "from the uninterrupted command", kills);
    fprintf(stderr, "rnn fit --resume: %d kill(s) before it finished\n", kills);
    rnn_model_free(ma);
    rnn_model_free(mb);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/rnn_resume_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    make_data();
    {
        /* Built without the Keras file libraries: backups are refused with a clear message. */
        rnn_optimizer adam = rnn_adam_defaults();
        rnn_model *m = model(&adam, 0, 0.0f);
        char p[300];
        snprintf(p, sizeof p, "%s/probe.keras", dir);
        if (rnn_save(m, p) == RNN_ERR_UNSUPPORTED) {
            rnn_fit_options fo = rnn_fit_defaults();
            fo.verbose = 0;
            fo.backup.path = p;
            rnn_tensor x = rnn_tensor3(X, N, T, F), y = rnn_tensor2(Y, N, 1);
            CHECK(rnn_fit(m, rnn_data_xy(x, y), &fo, NULL) == RNN_ERR_UNSUPPORTED &&
                  strstr(rnn_model_error(m), "KERAS_IO=none"), "backup without Keras I/O: %s",
                  rnn_model_error(m));
            rnn_model_free(m);
            rmdir(dir);
            return check_report("test_resume (without Keras file support)");
        }
        rnn_model_free(m);
    }
    test_optimizer_state_in_files();
    test_backup_and_restore();
    test_backup_errors();
    test_cli_resume();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_report("test_resume");
}
