/* Data-parallel fit on MPI (issue 20). The program is both the test and its MPI job: run plainly,
 * it writes the data, trains the single-process references itself and starts
 * `mpirun -np N <this program> worker CASE DIR` for the distributed runs; run as a worker, it
 * trains its rank's part and rank 0 writes the weights and history.
 *
 *  - equivalence: -np 2 and -np 4 training for 3 epochs of an LSTM (mapped arrays, shuffling,
 *    validation_split, a last global batch smaller than the ranks), a GRU text model
 *    (Embedding with mask_zero, sequence outputs, sparse cross-entropy, accuracy; an .npy batch
 *    source) and a stateful LSTM end with the weights and history of one process trained on
 *    the combined batches, within 1e-6 (the gradient sums add the ranks' partial sums, so the
 *    order of the additions differs from one process's: bit-identical is not expected, and the
 *    test prints whether it happened);
 *  - shards: the rows each rank's batch source hands out are its part of every global batch,
 *    and all ranks together read every row once per epoch;
 *  - faults: a rank killed mid-epoch (SIGKILL) ends the job non-zero within the time limit; a
 *    rank that stops answering (SIGSTOP) makes the others fail with the time-limit message;
 *    running the job again resumes from the last backup and ends with the weights of an
 *    uninterrupted run, bit for bit.
 * Built without MPI, or without mpirun on PATH, the test says so and passes. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "rnn.h"

#ifdef RNN_WITH_MPI
#include <mpi.h>

enum { LSTM_N = 83, LSTM_T = 6, LSTM_F = 3, LSTM_B = 8 };  /* per-rank batch 8 */
enum { TXT_N = 64, TXT_T = 7, TXT_V = 12, TXT_B = 6 };     /* per-rank batch 6 */
enum { ST_N = 48, ST_T = 5, ST_B = 4 };                    /* stateful: 4 rows per rank */
#define EPOCHS 3

/* ------------------------------------------------------------------ models */

static rnn_model *lstm_model(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_set_seed(m, 7);
    rnn_input(m, LSTM_T, LSTM_F);
    rnn_recurrent_options o = rnn_lstm_defaults(8);
    rnn_add(m, rnn_lstm(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_compile(m, "mse", "adam");
    return m;
}

static rnn_model *text_model(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_set_seed(m, 11);
    rnn_symbol *in = rnn_ids_input_new(RNN_NONE, TXT_T, NULL);
    rnn_sequential_input(m, in);
    rnn_embedding_options e = rnn_embedding_defaults(TXT_V, 6);
    e.mask_zero = 1;
    rnn_add(m, rnn_embedding(&e));
    rnn_recurrent_options g = rnn_gru_defaults(8);
    g.return_sequences = 1;
    rnn_add(m, rnn_gru(&g));
    rnn_add(m, rnn_dense_simple(TXT_V, RNN_SOFTMAX));
    rnn_compile(m, "sparse_categorical_crossentropy", "adam");
    rnn_add_metric(m, "accuracy");
    return m;
}

static rnn_model *stateful_model(int batch) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_set_seed(m, 5);
    rnn_batch_input(m, batch, ST_T, 1);
    rnn_recurrent_options o = rnn_lstm_defaults(6);
    o.stateful = 1;
    rnn_add(m, rnn_lstm(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_optimizer sgd = rnn_sgd_defaults();
    sgd.momentum = 0.9f;
    sgd.learning_rate = 0.05f;
    rnn_compile_with(m, "mse", &sgd);
    return m;
}

/* ------------------------------------------------------------------ data */

static uint64_t lcg = 12345;
static float urand(void) {
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((lcg >> 40) & 0xffffff) / (float)0x1000000;
}

static int write_data(const char *dir) {
    static float lx[LSTM_N * LSTM_T * LSTM_F], ly[LSTM_N];
    for (int i = 0; i < LSTM_N; i++) {
        float s = 0;
        for (int j = 0; j < LSTM_T * LSTM_F; j++) s += (lx[i * LSTM_T * LSTM_F + j] = urand() - 0.5f);
        ly[i] = 0.3f * s;
    }
    static float tx[TXT_N * TXT_T], ty[TXT_N * TXT_T];
    for (int i = 0; i < TXT_N; i++) {
        int len = 3 + (int)(urand() * 5); /* 3..7 tokens, then padding 0 */
        for (int t = 0; t < TXT_T; t++) {
            tx[i * TXT_T + t] = t < len ? (float)(1 + (int)(urand() * (TXT_V - 1))) : 0.0f;
            ty[i * TXT_T + t] = t < len ? (float)(((int)tx[i * TXT_T + t] * 5 + t) % TXT_V) : 0.0f;
        }
    }
    static float sx[ST_N * ST_T], sy[ST_N];
    for (int i = 0; i < ST_N; i++) {
        for (int t = 0; t < ST_T; t++) sx[i * ST_T + t] = urand();
        sy[i] = sx[i * ST_T + ST_T - 1] - 0.5f;
    }
    rnn_tensor t[6] = {rnn_tensor3(lx, LSTM_N, LSTM_T, LSTM_F), rnn_tensor2(ly, LSTM_N, 1),
                       rnn_tensor2(tx, TXT_N, TXT_T), rnn_tensor2(ty, TXT_N, TXT_T),
                       rnn_tensor3(sx, ST_N, ST_T, 1), rnn_tensor2(sy, ST_N, 1)};
    const char *names[6] = {"lx.npy", "ly.npy", "tx.npy", "ty.npy", "sx.npy", "sy.npy"};
    for (int i = 0; i < 6; i++)
        if (rnn_npy_save(check_path(dir, names[i]), &t[i])) {
            fprintf(stderr, "%s\n", rnn_last_error());
            return -1;
        }
    return 0;
}

/* ------------------------------------------------------------------ one training run */

/* The result of a run: every weight back to back, and the history. */
typedef struct {
    int n;
    float w[4096];
    double loss[EPOCHS], val_loss[EPOCHS], acc[EPOCHS];
} result;

static void take_result(rnn_model *m, const rnn_history *h, result *r) {
    memset(r, 0, sizeof *r);
    for (int i = 0; i < rnn_weight_count(m); i++) {
        int64_t shape[RNN_MAX_RANK];
        int rank;
        rnn_weight_info(m, i, NULL, &rank, shape);
        int64_t n = 1;
        for (int k = 0; k < rank; k++) n *= shape[k];
        rnn_get_weight(m, i, r->w + r->n, n);
        r->n += (int)n;
    }
    for (int e = 0; e < EPOCHS && e < h->epochs; e++) {
        r->loss[e] = h->loss[e];
        if (h->val_loss) r->val_loss[e] = h->val_loss[e];
        if (h->n_metrics) r->acc[e] = h->metric[0][e];
    }
}

/* A batch source that counts the rows it hands out and, on request, kills or stops its
 * process at its n-th call (the fault tests). */
typedef struct {
    rnn_batch_source inner;
    int64_t rows, calls, fault_at;
    int fault_signal;
} counting_source;

static rnn_status counting_get_part(void *user, int64_t index, int part, int parts, rnn_tensor *x,
                                    rnn_tensor *y) {
    counting_source *c = user;
    if (++c->calls == c->fault_at) raise(c->fault_signal);
    rnn_status st = c->inner.get_part(c->inner.user, index, part, parts, x, y);
    if (!st) c->rows += x[0].shape[0];
    return st;
}

static rnn_status counting_get(void *user, int64_t index, rnn_tensor *x, rnn_tensor *y) {
    return counting_get_part(user, index, 0, 1, x, y);
}

/* Trains CASE with `ranks` ranks (group NULL: one process with the combined batches). */
static int train_case(const char *which, const char *dir, rnn_distributed *group, int ranks,
                      const char *backup, result *res, int64_t *rows) {
    rnn_fit_options o = rnn_fit_defaults();
    o.epochs = EPOCHS;
    o.verbose = 0;
    o.distributed = group;
    o.backup.path = backup;
    o.backup.save_freq = backup ? 2 : 0;
    rnn_history h;
    rnn_model *m = NULL;
    rnn_status st;
    rnn_npy_map *maps[2] = {NULL, NULL};
    rnn_npy_source *ns = NULL;
    rnn_tensor x, y;
    const int per_rank = group != NULL;
    if (!strcmp(which, "lstm") || !strcmp(which, "stateful")) {
        const int stateful = which[0] == 's';
        m = stateful ? stateful_model(per_rank ? ST_B : ST_B * ranks) : lstm_model();
        o.batch_size = (stateful ? ST_B : LSTM_B) * (per_rank ? 1 : ranks);
        o.validation_split = stateful ? 0.0f : 0.2f;
        o.shuffle = !stateful;
        /* mapped, so that each rank reads only the pages of its rows */
        if ((st = rnn_npy_map_open(check_path(dir, stateful ? "sx.npy" : "lx.npy"), &x, &maps[0])) ||
            (st = rnn_npy_map_open(check_path(dir, stateful ? "sy.npy" : "ly.npy"), &y, &maps[1])))
            goto done;
        st = rnn_fit(m, rnn_data_xy(x, y), &o, &h);
    } else {
        m = text_model();
        o.batch_size = TXT_B; /* unused with a source: its batches are global ones */
        rnn_batch_source src;
        if ((st = rnn_npy_source_open(check_path(dir, "tx.npy"), check_path(dir, "ty.npy"),
                                      TXT_B * ranks, &src, &ns)))
            goto done;
        counting_source c = {src, 0, 0, 0, 0};
        const char *fault = getenv("MPI_TEST_FAULT"); /* "signal:call", on rank 1 */
        if (fault && rnn_distributed_rank(group) == 1)
            sscanf(fault, "%d:%lld", &c.fault_signal, (long long *)&c.fault_at);
        rnn_batch_source counted = {src.batches, counting_get, NULL, &c, counting_get_part};
        st = rnn_fit(m, rnn_data_source(&counted), &o, &h);
        *rows = c.rows;
    }
    if (!st) {
        take_result(m, &h, res);
        rnn_history_free(&h);
    }
done:
    if (st) fprintf(stderr, "%s (%d ranks): %s\n", which, ranks, rnn_last_error());
    rnn_npy_map_close(maps[0]);
    rnn_npy_map_close(maps[1]);
    rnn_npy_source_close(ns);
    rnn_model_free(m);
    return st ? -1 : 0;
}

/* ------------------------------------------------------------------ the MPI job */

static int worker(const char *which, const char *dir) {
    MPI_Init(NULL, NULL);
    rnn_mpi_options mo = rnn_mpi_defaults();
    mo.check_weights = 1;
    rnn_distributed *g = rnn_mpi_new(&mo);
    if (!g) {
        fprintf(stderr, "rnn_mpi_new: %s\n", rnn_last_error());
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    const int rank = rnn_distributed_rank(g), size = rnn_distributed_size(g);
    static result r;
    int64_t rows = 0;
    const char *backup = getenv("MPI_TEST_BACKUP");
    int rc = train_case(which, dir, g, size, backup && backup[0] ? backup : NULL, &r, &rows);
    char name[128];
    snprintf(name, sizeof name, "rows_%s_%d_%d", which, size, rank);
    FILE *f = fopen(check_path(dir, name), "w");
    if (f) {
        fprintf(f, "%lld\n", (long long)rows);
        fclose(f);
    }
    if (!rc && rank == 0) {
        snprintf(name, sizeof name, "result_%s_%d", which, size);
        f = fopen(check_path(dir, name), "wb");
        if (!f || fwrite(&r, sizeof r, 1, f) != 1) rc = -1;
        if (f) fclose(f);
    }
    rnn_distributed_free(g);
    if (rc) MPI_Abort(MPI_COMM_WORLD, 3);
    MPI_Finalize();
    return 0;
}

/* ------------------------------------------------------------------ the test */

static char self[1024];

/* Runs `mpirun -np n self worker which dir` (under a time limit of its own) and returns its
 * exit status; *seconds gets its wall time. */
static int run_job(int n, const char *which, const char *dir, const char *env, double *seconds) {
    char cmd[3000];
    snprintf(cmd, sizeof cmd,
             "%s timeout -k 10 120 mpirun --allow-run-as-root --oversubscribe --bind-to none "
             "-np %d %s worker %s %s >%s/log_%s_%d 2>&1",
             env ? env : "", n, self, which, dir, dir, which, n);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = system(cmd);
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (seconds) *seconds = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
    return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

static void show_log(const char *dir, const char *which, int n) {
    char path[1200];
    snprintf(path, sizeof path, "%s/log_%s_%d", dir, which, n);
    FILE *f = fopen(path, "r");
    char line[512];
    int k = 0;
    while (f && fgets(line, sizeof line, f) && k++ < 30) fprintf(stderr, "    | %s", line);
    if (f) fclose(f);
}

static int log_has(const char *dir, const char *which, int n, const char *text) {
    char path[1200], line[1024];
    snprintf(path, sizeof path, "%s/log_%s_%d", dir, which, n);
    FILE *f = fopen(path, "r");
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f)) found = strstr(line, text) != NULL;
    if (f) fclose(f);
    return found;
}

static int read_result(const char *dir, const char *which, int n, result *r) {
    char name[128];
    snprintf(name, sizeof name, "result_%s_%d", which, n);
    FILE *f = fopen(check_path(dir, name), "rb");
    int ok = f && fread(r, sizeof *r, 1, f) == 1;
    if (f) fclose(f);
    return ok ? 0 : -1;
}

static int64_t read_rows(const char *dir, const char *which, int n, int rank) {
    char name[128];
    snprintf(name, sizeof name, "rows_%s_%d_%d", which, n, rank);
    FILE *f = fopen(check_path(dir, name), "r");
    long long v = -1;
    if (!f || fscanf(f, "%lld", &v) != 1) v = -1;
    if (f) fclose(f);
    return v;
}

/* The distributed result against one process's: weights and history within 1e-6. */
static void compare(const char *which, int n, const result *dist, const result *ref) {
    double max_diff = 0;
    int bitwise = dist->n == ref->n && memcmp(dist->w, ref->w, sizeof(float) * (size_t)ref->n) == 0;
    CHECK(dist->n == ref->n && ref->n > 0, "%s -np %d: %d weights, one process %d", which, n,
          dist->n, ref->n);
    for (int i = 0; i < ref->n && i < dist->n; i++) {
        double d = fabs((double)dist->w[i] - (double)ref->w[i]);
        if (d > max_diff) max_diff = d;
    }
    CHECK(max_diff <= 1e-6, "%s -np %d: weights differ from one process's by up to %.3g", which,
          n, max_diff);
    for (int e = 0; e < EPOCHS; e++) {
        CHECK_CLOSE(dist->loss[e], ref->loss[e], 1e-6, 1e-6, "loss");
        CHECK_CLOSE(dist->val_loss[e], ref->val_loss[e], 1e-6, 1e-6, "val_loss");
        CHECK_CLOSE(dist->acc[e], ref->acc[e], 1e-6, 1e-6, "accuracy");
    }
    CHECK(ref->loss[EPOCHS - 1] != ref->loss[0], "%s: training changed nothing", which);
    fprintf(stderr, "%s -np %d vs one process on the combined batches: %s (largest weight "
            "difference %.3g, tolerance 1e-6)\n", which, n,
            bitwise ? "bit-identical" : max_diff <= 1e-6 ? "within tolerance, not bit-identical"
                                                        : "DIFFERENT", max_diff);
}

/* Rows of rank `rank`'s parts of the global batches of n rows in batches of `global`. */
static int64_t expected_rows(int64_t n, int64_t global, int rank, int ranks) {
    int64_t total = 0;
    for (int64_t s = 0; s < n; s += global) {
        int64_t c = n - s < global ? n - s : global;
        total += c * (rank + 1) / ranks - c * rank / ranks;
    }
    return total;
}

#ifdef RNN_WITH_KERAS_IO
/* `mpirun -np 2 rnn fit` against `rnn fit` in one process with the combined batch size. */
static void cli_fit(const char *dir) {
    char rnn[1100], cmd[4000];
    snprintf(rnn, sizeof rnn, "%s", self);
    char *slash = strrchr(rnn, '/');
    if (!slash) return;
    snprintf(slash, sizeof rnn - (size_t)(slash - rnn), "/../rnn");
    char rnn_mpi[1200];
    snprintf(rnn_mpi, sizeof rnn_mpi, "%s-mpi", rnn);
    if (access(rnn, X_OK) || access(rnn_mpi, X_OK)) { /* make test-sanitize builds no tool */
        fprintf(stderr, "mpirun rnn fit: skipped, %s or %s not built\n", rnn, rnn_mpi);
        return;
    }
    rnn_model *m = lstm_model();
    CHECK(rnn_save(m, check_path(dir, "m.keras")) == RNN_OK, "save: %s", rnn_model_error(m));
    rnn_model_free(m);
    const char *common = "--epochs 2 --verbose 0";
    snprintf(cmd, sizeof cmd, "%s fit %s --x %s --y %s --output %s --batch-size 16 %s >%s 2>&1", rnn,
             check_path(dir, "m.keras"), check_path(dir, "lx.npy"), check_path(dir, "ly.npy"),
             check_path(dir, "one.keras"), common, check_path(dir, "log_cli_1"));
    CHECK(system(cmd) == 0, "rnn fit in one process failed");
    snprintf(cmd, sizeof cmd, "timeout -k 10 120 mpirun --allow-run-as-root --oversubscribe "
             "--bind-to none -np 2 %s fit %s --x %s --y %s --output %s --batch-size 8 %s >%s 2>&1",
             rnn, check_path(dir, "m.keras"), check_path(dir, "lx.npy"), check_path(dir, "ly.npy"),
             check_path(dir, "two.keras"), common, check_path(dir, "log_cli_2"));
    int rc = system(cmd);
    CHECK(rc == 0, "mpirun -np 2 rnn fit failed (status %d)", rc);
    if (rc) show_log(dir, "cli", 2);
    rnn_model *a = rnn_load(check_path(dir, "one.keras")), *b = rnn_load(check_path(dir, "two.keras"));
    CHECK(a && b, "cannot load the results: %s", rnn_last_error());
    if (a && b) {
        rnn_history none = {0};
        static result ra, rb;
        take_result(a, &none, &ra);
        take_result(b, &none, &rb);
        double max_diff = 0;
        for (int i = 0; i < ra.n; i++) max_diff = fmax(max_diff, fabs((double)ra.w[i] - rb.w[i]));
        CHECK(ra.n == rb.n && ra.n > 0 && max_diff <= 1e-6, "rnn fit -np 2 vs one process: %d/%d "
              "weights, largest difference %.3g", ra.n, rb.n, max_diff);
        CHECK(rnn_optimizer_iterations(b) == rnn_optimizer_iterations(a) &&
              rnn_optimizer_iterations(a) == 2 * 6, "optimizer steps %lld and %lld",
              (long long)rnn_optimizer_iterations(a), (long long)rnn_optimizer_iterations(b));
        fprintf(stderr, "mpirun -np 2 rnn fit vs rnn fit: largest weight difference %.3g\n", max_diff);
    }
    rnn_model_free(a);
    rnn_model_free(b);
}
#endif

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "worker")) return worker(argv[2], argv[3]);
    if (system("command -v mpirun >/dev/null 2>&1") != 0) {
        printf("test_mpi: skipped: mpirun is not on PATH (scripts/deps.sh installs openmpi-bin)\n");
        return 0;
    }
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k <= 0) return 1;
    self[k] = 0;
    /* Under the sanitizers (make test-sanitize) the MPI library's own allocations at exit are
     * no leak of librnn's. */
    const char *asan = getenv("ASAN_OPTIONS");
    if (asan) {
        char opts[1024];
        snprintf(opts, sizeof opts, "%s:detect_leaks=0", asan);
        setenv("ASAN_OPTIONS", opts, 1);
    }
    char dir[] = "/tmp/rnn_mpi_XXXXXX";
    if (!mkdtemp(dir) || write_data(dir)) return 1;

    const char *cases[3] = {"lstm", "text", "stateful"};
    static result ref, dist;
    for (int c = 0; c < 3; c++)
        for (int n = 2; n <= 4; n += 2) {
            int64_t rows;
            CHECK(train_case(cases[c], dir, NULL, n, NULL, &ref, &rows) == 0, "%s: one process",
                  cases[c]);
            int rc = run_job(n, cases[c], dir, NULL, NULL);
            CHECK(rc == 0, "%s -np %d: exit %d", cases[c], n, rc);
            if (rc) show_log(dir, cases[c], n);
            if (rc || read_result(dir, cases[c], n, &dist)) continue;
            compare(cases[c], n, &dist, &ref);
            if (!strcmp(cases[c], "text")) { /* shards: each rank read its part of every batch */
                int64_t sum = 0;
                for (int r = 0; r < n; r++) {
                    int64_t got = read_rows(dir, "text", n, r);
                    int64_t want = EPOCHS * expected_rows(TXT_N, (int64_t)TXT_B * n, r, n);
                    CHECK(got == want, "-np %d: rank %d's source handed out %lld rows, its part is "
                          "%lld", n, r, (long long)got, (long long)want);
                    sum += got;
                }
                CHECK(sum == (int64_t)EPOCHS * TXT_N, "-np %d: the ranks read %lld rows in %d "
                      "epochs of %d", n, (long long)sum, EPOCHS, TXT_N);
            }
        }

#ifdef RNN_WITH_KERAS_IO
    cli_fit(dir);
#endif

    /* Faults, on the text model with 2 ranks and a backup every 2 batches. Rank 1's source is
     * called once per batch, 6 per epoch: call 9 is the third batch of epoch 2, after the
     * backup at its second; the stalled run resumes there and stops at its third call. */
    char env[1400];
    result plain;
    if (read_result(dir, "text", 2, &plain) == 0) {
        const double limit = 30;
        double secs;
        const char *backup = check_path(dir, "backup.keras");
        snprintf(env, sizeof env, "MPI_TEST_BACKUP=%s MPI_TEST_FAULT=%d:9 RNN_MPI_TIMEOUT=%g", backup,
                 SIGKILL, limit);
        remove(check_path(dir, "result_text_2"));
        int rc = run_job(2, "text", dir, env, &secs);
        CHECK(rc != 0 && secs < limit, "a killed rank: exit %d after %.1f s (limit %.0f s)", rc,
              secs, limit);
        fprintf(stderr, "rank 1 killed mid-epoch: the job ended with exit %d after %.1f s\n", rc, secs);
        struct stat sb;
        CHECK(stat(backup, &sb) == 0, "no backup was left by the interrupted run");
        /* a rank that stops answering: the others give up after RNN_MPI_TIMEOUT */
        snprintf(env, sizeof env, "MPI_TEST_BACKUP=%s MPI_TEST_FAULT=%d:3 RNN_MPI_TIMEOUT=3",
                 backup, SIGSTOP);
        rc = run_job(2, "text", dir, env, &secs);
        CHECK(rc != 0 && secs < limit, "a stopped rank: exit %d after %.1f s", rc, secs);
        CHECK(log_has(dir, "text", 2, "waited 3 s for the other ranks"),
              "a stopped rank: no time-limit message");
        if (!log_has(dir, "text", 2, "waited 3 s")) show_log(dir, "text", 2);
        fprintf(stderr, "rank 1 stopped: the job ended with exit %d after %.1f s\n", rc, secs);
        /* the same command again resumes from the backup */
        snprintf(env, sizeof env, "MPI_TEST_BACKUP=%s", backup);
        rc = run_job(2, "text", dir, env, NULL);
        CHECK(rc == 0, "the resumed run: exit %d", rc);
        if (rc) show_log(dir, "text", 2);
        result resumed;
        if (!rc && read_result(dir, "text", 2, &resumed) == 0) {
            CHECK(resumed.n == plain.n && memcmp(resumed.w, plain.w, sizeof(float) * (size_t)plain.n) == 0,
                  "the resumed run's weights differ from an uninterrupted run's");
            for (int e = 0; e < EPOCHS; e++) CHECK_CLOSE(resumed.loss[e], plain.loss[e], 0, 0, "loss");
        }
        CHECK(stat(backup, &sb) != 0, "the backup is still there after the finished run");
    }
    char rm[1100];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    if (!check_failures_ && system(rm) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_report("test_mpi");
}

#else
int main(void) {
    printf("test_mpi: skipped: built without MPI (scripts/deps.sh installs libopenmpi-dev; make "
           "MPI=1)\n");
    return 0;
}
#endif
