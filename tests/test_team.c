/* The step-loop thread team (src/kernels/team.c) and the LSTM/GRU paths that use it:
 *  - the team itself: every thread runs, barriers order the rounds, a nested or concurrent run
 *    falls back to one thread, changing the size restarts the workers, a forked child gets a
 *    team of its own; many short jobs posted just as the workers fall asleep (signals, waits
 *    for signals and barriers) all run on every thread and end;
 *  - through the public API, LSTM and GRU models (masks, stacked, a stateful stream) give the
 *    same bits with 2 and 3 step threads, and agree with the one-thread path (which uses the
 *    BLAS) to float rounding, in prediction and over several training steps.
 * Gradients of the team path are checked against finite differences in test_gradcheck. */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "kernels/gemm.h"
#include "kernels/team.h"
#include "layers/recurrent.h"
#include "rnn.h"
#include "train/train.h"

/* ---------------------------------------------------------------- the team itself */

enum { ROUNDS = 2000, MAXT = 8 };
static int slots[MAXT];
static atomic_int ran[MAXT];
static int rounds_ok;

/* Each round every thread writes its slot, waits, then checks all slots of the round. */
static void rounds_fn(void *arg, int tid, int n) {
    (void)arg;
    atomic_fetch_add(&ran[tid], 1);
    int ok = 1;
    /* more threads than cores: each barrier may wait for a time slice; fewer rounds */
    const int rounds = n <= 2 ? ROUNDS : ROUNDS / 20;
    for (int k = 0; k < rounds; k++) {
        slots[tid] = k;
        rnn__team_barrier();
        for (int i = 0; i < n; i++) ok &= slots[i] == k;
        rnn__team_barrier();
    }
    if (!ok) rounds_ok = 0;
}

static int nested_n = -1;
static void inner_fn(void *arg, int tid, int n) {
    (void)arg;
    (void)tid;
    nested_n = n;
}
static void outer_fn(void *arg, int tid, int n) {
    (void)arg;
    (void)n;
    if (tid == 0) rnn__team_run(inner_fn, NULL); /* the team is busy: runs alone */
}

static void check_team(int n) {
    rnn__team_set_size(n);
    CHECK(rnn__team_size() == n, "team size %d: got %d", n, rnn__team_size());
    for (int i = 0; i < MAXT; i++) atomic_store(&ran[i], 0);
    rounds_ok = 1;
    for (int rep = 0; rep < 3; rep++) rnn__team_run(rounds_fn, NULL);
    CHECK(rounds_ok, "team of %d: a barrier let a thread through early", n);
    for (int i = 0; i < MAXT; i++)
        CHECK(atomic_load(&ran[i]) == (i < n ? 3 : 0), "team of %d: thread %d ran %d times", n,
              i, atomic_load(&ran[i]));
    nested_n = -1;
    rnn__team_run(outer_fn, NULL);
    CHECK(nested_n == 1, "team of %d: a nested run used %d threads, expected 1", n, nested_n);
}

/* The hand-off: rnn__team_run returns only after every worker's last write of the job, and
 * each job reaches the workers with its own argument, across many short jobs (the streaming
 * case: the same function posted again and again, which the team does not rewrite when it is
 * unchanged) and across changes of the team's size (the count of finished jobs restarts). */
typedef struct {
    int job;
    int out[MAXT];
} join_arg;

static void join_fn(void *arg, int tid, int n) {
    join_arg *a = arg;
    (void)n;
    volatile int spin = 0;
    for (int i = 0; i < 300 * tid; i++) spin += i; /* the workers finish after the caller */
    a->out[tid] = a->job;
}

static void check_join(void) {
    static join_arg args[2];
    const int sizes[] = {2, 3, 2, 1, 4, 2};
    int bad = 0, first_bad_n = 0, first_bad_job = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const int n = sizes[s];
        rnn__team_set_size(n);
        const int jobs = n <= 2 ? 3000 : 100;
        for (int j = 0; j < jobs; j++) {
            /* the same argument for a run of jobs, then the other one */
            join_arg *a = &args[(j / 7) & 1];
            a->job = (int)s * 100000 + j + 1;
            for (int t = 0; t < MAXT; t++) a->out[t] = 0;
            const int ran_on = rnn__team_run(join_fn, a);
            for (int t = 0; t < ran_on; t++)
                if (a->out[t] != a->job && !bad++) {
                    first_bad_n = n;
                    first_bad_job = j;
                }
        }
    }
    CHECK(bad == 0, "%d jobs returned before a worker's write (or gave it another job's "
          "argument); first: team of %d, job %d", bad, first_bad_n, first_bad_job);
}

/* Jobs posted while a worker falls asleep. The post looks at team->sleepers without a fence, so
 * a worker going to sleep at that instant can miss the job; the waits of the job's other
 * threads (a barrier, a wait for a signal, the end of the job) must then wake it. Each job
 * writes one value per thread and round, signals or passes a barrier, and reads the others'
 * values; the gaps between jobs go round the workers' spin time (team.c's SPIN_NS, 50 us), so
 * that some posts meet a worker on its way to sleep. A lost wake-up hangs: the alarm fails the
 * test instead. */
enum { SLEEP_JOBS = 4000, SLEEP_ROUNDS = 4 };
static int sleep_values[MAXT][SLEEP_ROUNDS];
static int sleep_job;
static atomic_int sleep_bad;

static void sleep_fn(void *arg, int tid, int n) {
    (void)arg;
    int events = 0; /* signals and barriers so far: every thread passes the same ones */
    for (int r = 0; r < SLEEP_ROUNDS; r++) {
        sleep_values[tid][r] = sleep_job * SLEEP_ROUNDS + r;
        if (r & 1) {
            rnn__team_barrier();
            events++;
        } else {
            rnn__team_signal();
            events++;
        }
        for (int j = 0; j < n; j++) {
            if (!(r & 1)) rnn__team_wait_signal(j, events);
            if (sleep_values[j][r] != sleep_job * SLEEP_ROUNDS + r) atomic_fetch_add(&sleep_bad, 1);
        }
    }
}

static void sleep_alarm(int sig) {
    (void)sig;
    static const char msg[] = "test_team: jobs posted to sleeping workers hang (lost wake-up)\n";
    if (write(2, msg, sizeof msg - 1) < 0) _exit(1);
    _exit(1);
}

static long monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void check_sleeping_workers(int n) {
    rnn__team *team = rnn__team_new(n);
    rnn__team *previous = rnn__team_enter(team);
    signal(SIGALRM, sleep_alarm);
    alarm(20); /* the jobs take under a second */
    int on_all = 0;
    atomic_store(&sleep_bad, 0);
    const int jobs = n <= 2 ? SLEEP_JOBS : SLEEP_JOBS / 4;
    for (sleep_job = 0; sleep_job < jobs; sleep_job++) {
        on_all += rnn__team_run(sleep_fn, NULL) == n;
        /* 40 to 60 us, spread by a stride prime to the range (busy: a sleep would oversleep) */
        const long gap = 40000 + (long)sleep_job * 7919 % 20000, t0 = monotonic_ns();
        while (monotonic_ns() - t0 < gap) {
        }
    }
    alarm(0);
    signal(SIGALRM, SIG_DFL);
    CHECK(on_all == jobs, "%d threads: %d of %d jobs ran on every thread", n, on_all, jobs);
    CHECK(atomic_load(&sleep_bad) == 0, "%d threads: %d values read before they were written",
          n, atomic_load(&sleep_bad));
    rnn__team_leave(previous);
    rnn__team_free(team);
}

static void check_units(void) {
    int lo, hi, covered = 0, ok = 1;
    for (int n = 1; n <= 8; n++)
        for (int H = 1; H <= 70; H++) {
            int next = 0;
            for (int t = 0; t < n; t++) {
                rnn__team_units(H, t, n, &lo, &hi);
                ok &= lo == next && hi >= lo && (lo % 8 == 0) && (hi % 8 == 0 || hi == H);
                next = hi;
            }
            ok &= next == H;
            covered++;
        }
    CHECK(ok, "rnn__team_units: the ranges do not tile [0, H) in blocks of 8 (%d cases)", covered);
}

static void check_fork(void) {
    rnn__team_set_size(2);
    rounds_ok = 1;
    rnn__team_run(rounds_fn, NULL); /* workers exist in the parent */
    pid_t pid = fork();
    if (pid == 0) {
        rounds_ok = 1;
        rnn__team_run(rounds_fn, NULL); /* must not wait for the parent's workers */
        _exit(rounds_ok ? 0 : 3);
    }
    int status = 0;
    alarm(60);
    waitpid(pid, &status, 0);
    alarm(0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a forked child's team run failed "
          "(status %d)", status);
}

/* ---------------------------------------------------------------- layers on the team */

typedef struct {
    int gru, units, stacked, masked, return_sequences, batch;
    int repeat; /* an encoder, RepeatVector(T), then the checked layer (B6's shape) */
} model_spec;

/* Batches of 6 split by units; of 48, by rows on 2 and 3 threads and by units on 4. */
enum { MAXB = 48, T = 9, F = 5, TRAIN_STEPS = 4 };

static rnn_layer *cell(const model_spec *s, int units, int seq) {
    rnn_recurrent_options o = s->gru ? rnn_gru_defaults(units) : rnn_lstm_defaults(units);
    o.return_sequences = seq;
    return s->gru ? rnn_gru(&o) : rnn_lstm(&o);
}

static rnn_model *build(const model_spec *s) {
    rnn_model *m = rnn_sequential(NULL);
    if (!m || rnn_set_seed(m, 11) || rnn_input(m, T, F)) return m;
    if (s->masked) rnn_add(m, rnn_masking(0.0f));
    if (s->stacked) rnn_add(m, cell(s, s->units, 1));
    if (s->repeat) {
        rnn_add(m, cell(s, s->units, 0));
        rnn_add(m, rnn_repeat_vector(T));
    }
    rnn_add(m, cell(s, s->units, s->return_sequences));
    rnn_dense_options d = rnn_dense_defaults(3);
    rnn_add(m, rnn_dense(&d));
    if (rnn_compile(m, "mse", "adam")) fprintf(stderr, "compile: %s\n", rnn_last_error());
    return m;
}

/* Predictions, then the weights after TRAIN_STEPS Adam steps, all in one array. */
static float *run(const model_spec *s, int threads, const float *x, const float *y, int64_t *n) {
    const int B = s->batch;
    rnn_set_threads(threads > 1 ? 2 : 1); /* the default context's team, then its exact size */
    rnn__team_set_size(threads);
    rnn_model *m = build(s);
    rnn_tensor out = {0};
    float *res = NULL;
    if (rnn_predict_on_batch(m, rnn_data_x(rnn_tensor3((float *)x, B, T, F)), &out, 1) != RNN_OK) {
        CHECK(0, "predict: %s", rnn_last_error());
        rnn_tensor_free(&out);
        rnn_model_free(m);
        return NULL;
    }
    const int64_t ny = rnn_tensor_size(&out);
    const int64_t nw = rnn_count_params(m);
    res = malloc(sizeof(float) * (size_t)(ny + nw + TRAIN_STEPS));
    memcpy(res, out.data, sizeof(float) * (size_t)ny);
    rnn_tensor_free(&out);
    rnn_tensor yt = s->return_sequences ? rnn_tensor3((float *)y, B, T, 3)
                                        : rnn_tensor2((float *)y, B, 3);
    for (int k = 0; k < TRAIN_STEPS; k++) {
        double loss = 0;
        CHECK(rnn_train_on_batch(m, rnn_data_xy(rnn_tensor3((float *)x, B, T, F), yt), &loss) == RNN_OK,
              "train: %s", rnn_last_error());
        res[ny + nw + k] = (float)loss;
    }
    float *w = res + ny;
    for (int i = 0; i < rnn_weight_count(m); i++) {
        int rank;
        int64_t shape[RNN_MAX_RANK], size = 1;
        rnn_weight_info(m, i, NULL, &rank, shape);
        for (int d = 0; d < rank; d++) size *= shape[d];
        rnn_get_weight(m, i, w, size);
        w += size;
    }
    *n = ny + nw + TRAIN_STEPS;
    rnn_model_free(m);
    return res;
}

static int64_t nweights_of(const model_spec *s) {
    rnn_model *m = build(s);
    const int64_t n = rnn_count_params(m);
    rnn_model_free(m);
    return n;
}

static void check_model(const model_spec *s) {
    const int B = s->batch;
    char name[128];
    snprintf(name, sizeof name, "%s(%d)%s%s%s%s batch %d", s->gru ? "GRU" : "LSTM", s->units,
             s->stacked ? " stacked" : "", s->masked ? " masked" : "",
             s->repeat ? " after RepeatVector" : "", s->return_sequences ? " sequences" : "", B);
    static float x[MAXB * T * F], y[MAXB * T * 3];
    unsigned seed = 5;
    for (int i = 0; i < B * T * F; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
    }
    if (s->masked) /* rows end early: the last steps of rows 1 and 4 are all zero */
        for (int b = 1; b < B; b += 3)
            for (int t = T - 3; t < T; t++)
                memset(x + ((size_t)b * T + t) * F, 0, sizeof(float) * F);
    for (int i = 0; i < B * T * 3; i++) y[i] = 0.1f * (float)(i % 7) - 0.3f;
    int64_t n1 = 0, n2 = 0, n3 = 0, n4 = 0;
    float *r1 = run(s, 1, x, y, &n1), *r2 = run(s, 2, x, y, &n2), *r3 = run(s, 3, x, y, &n3);
    float *r4 = run(s, 4, x, y, &n4);
    if (r1 && r2 && r3 && r4 && n1 == n2 && n2 == n3 && n3 == n4) {
        /* Predictions: the same bits for any number of step threads. After training, the
         * large weight-gradient products (split between the threads, each slice through the
         * BLAS or the AVX2 tiles, whose last bits can depend on the slice's width) may differ
         * in rounding. */
        const int64_t ny = n2 - nweights_of(s) - TRAIN_STEPS;
        CHECK(memcmp(r2, r3, sizeof(float) * (size_t)ny) == 0 &&
              memcmp(r2, r4, sizeof(float) * (size_t)ny) == 0,
              "%s: 2, 3 and 4 step threads give different predictions", name);
        double spread = 0;
        for (int64_t i = ny; i < n2; i++)
            spread = fmax(spread, fmax(fabs((double)r2[i] - r3[i]), fabs((double)r2[i] - r4[i])));
        CHECK(spread <= 1e-6, "%s: 2, 3 and 4 threads differ by %g after training", name, spread);
        double worst = 0;
        for (int64_t i = 0; i < n1; i++) worst = fmax(worst, fabs((double)r1[i] - r2[i]));
        CHECK(worst <= 2e-5, "%s: one thread and the team differ by %g", name, worst);
    } else {
        CHECK(0, "%s: a run failed", name);
    }
    free(r1);
    free(r2);
    free(r3);
    free(r4);
}

/* A stateful stream, one step at a time, on the team (the input projection is shared too,
 * from the per-thread packed weights) against the same steps with one thread, and with 3
 * threads (the same bits as 2). Between phases the weights change - rnn_set_weight, a training
 * step, rnn_copy_weights - and the packed copies must follow: each phase is compared. */
enum { STREAM_STEPS = 12, PHASES = 4 };

static rnn_model *stream_model(int gru, uint64_t seed) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_set_seed(m, seed);
    rnn_batch_input(m, 1, 1, 8);
    for (int k = 0; k < 2; k++) {
        rnn_recurrent_options o = gru ? rnn_gru_defaults(128) : rnn_lstm_defaults(128);
        o.return_sequences = k == 0;
        o.stateful = 1;
        rnn_add(m, gru ? rnn_gru(&o) : rnn_lstm(&o));
    }
    rnn_dense_options d = rnn_dense_defaults(1);
    rnn_add(m, rnn_dense(&d));
    rnn_compile(m, "mse", "adam");
    return m;
}

static void stream_phase(rnn_model *m, float *out) {
    rnn_reset_states(m);
    for (int k = 0; k < STREAM_STEPS; k++) {
        float xs[8];
        for (int f = 0; f < 8; f++) xs[f] = sinf(0.3f * (float)(k + f));
        if (rnn_predict_step(m, xs, &out[k]) != RNN_OK) {
            CHECK(0, "stream step: %s", rnn_last_error());
            return;
        }
    }
}

static void stream_run(int gru, int threads, float out[PHASES][STREAM_STEPS]) {
    rnn_set_threads(threads > 1 ? 2 : 1);
    rnn__team_set_size(threads);
    rnn_model *m = stream_model(gru, 3), *other = stream_model(gru, 4);
    stream_phase(m, out[0]);
    /* phase 1: the recurrent kernel of the first layer halved through rnn_set_weight */
    int rank;
    int64_t shape[RNN_MAX_RANK];
    rnn_weight_info(m, 1, NULL, &rank, shape);
    float *u = malloc(sizeof(float) * (size_t)(shape[0] * shape[1]));
    rnn_get_weight(m, 1, u, shape[0] * shape[1]);
    for (int64_t i = 0; i < shape[0] * shape[1]; i++) u[i] *= 0.5f;
    rnn_set_weight(m, 1, u, shape[0] * shape[1]);
    free(u);
    stream_phase(m, out[1]);
    /* phase 2: one training step */
    float x[8 * 1], y[1] = {0.7f};
    for (int f = 0; f < 8; f++) x[f] = 0.1f * (float)f;
    double loss;
    rnn_reset_states(m);
    CHECK(rnn_train_on_batch(m, rnn_data_xy(rnn_tensor3(x, 1, 1, 8), rnn_tensor2(y, 1, 1)), &loss) == RNN_OK,
          "train: %s", rnn_last_error());
    stream_phase(m, out[2]);
    /* phase 3: every weight replaced by another model's */
    rnn_copy_weights(m, other);
    stream_phase(m, out[3]);
    rnn_model_free(m);
    rnn_model_free(other);
}

static void check_stream(int gru) {
    static float out[3][PHASES][STREAM_STEPS];
    const int threads[3] = {1, 2, 3};
    for (int k = 0; k < 3; k++) stream_run(gru, threads[k], out[k]);
    for (int ph = 0; ph < PHASES; ph++) {
        double worst = 0, moved = 0;
        for (int k = 0; k < STREAM_STEPS; k++) {
            worst = fmax(worst, fabs((double)out[0][ph][k] - out[1][ph][k]));
            if (ph) moved = fmax(moved, fabs((double)out[1][ph][k] - out[1][ph - 1][k]));
        }
        CHECK(worst <= 1e-5, "%s stream, phase %d: one thread and the team differ by %g",
              gru ? "GRU" : "LSTM", ph, worst);
        CHECK(memcmp(out[1][ph], out[2][ph], sizeof out[1][ph]) == 0,
              "%s stream, phase %d: 2 and 3 threads give different bits", gru ? "GRU" : "LSTM",
              ph);
        if (ph)
            CHECK(moved > 1e-4, "%s stream, phase %d: the weight change did not reach the "
                  "output (%g)", gru ? "GRU" : "LSTM", ph, moved);
    }
}

/* The team's shares of the training step outside the step loops: a large bias-gradient column
 * sum (kernels/gemm.c: columns in blocks of 64, 1,000 columns so the last block is partial)
 * gives the bits of the one-thread sum, and Dense models whose kernels (300 x 300, 130 x 130)
 * are large enough for the team's optimizer update (optim_step.c: runs of 16) train to the same
 * bits on 1, 2 and 3 threads; the screen for NaN and Inf finds the first one. */
static void check_shared_training_parts(void) {
    enum { ROWS = 1100, COLS = 1000, FEAT = 300, N = 8 };
    float *m = malloc(sizeof(float) * ROWS * COLS), *out = malloc(sizeof(float) * COLS);
    float *ref = malloc(sizeof(float) * COLS);
    for (int i = 0; i < ROWS * COLS; i++) m[i] = (float)(((int64_t)i * 7919) % 1013) / 1013.0f - 0.5f;
    for (int j = 0; j < COLS; j++) ref[j] = out[j] = (float)j / COLS;
    for (int i = 0; i < ROWS; i++)
        for (int j = 0; j < COLS; j++) ref[j] += m[(size_t)i * COLS + j];
    rnn_set_threads(2);
    rnn__colsum_add(out, m, ROWS, COLS, COLS);
    CHECK(memcmp(out, ref, sizeof(float) * COLS) == 0, "shared column sum differs");
    free(m);
    free(out);
    free(ref);
    static float x[N * FEAT], y[N * FEAT], w[3][FEAT * FEAT];
    /* 300 x 300 = 90,000 values, and 130 x 130 = 16,900 (shared from 2^14 values since B6's
     * LSTM(100) kernels, and not a multiple of the runs of 16: the last run is partial) */
    const int widths[2] = {FEAT, 130};
    for (int k = 0; k < 2; k++) {
        const int f = widths[k];
        for (int i = 0; i < N * f; i++) {
            x[i] = (float)((i * 31) % 97) / 97.0f - 0.5f;
            y[i] = (float)((i * 17) % 89) / 89.0f - 0.5f;
        }
        for (int threads = 1; threads <= 3; threads++) {
            rnn_set_threads(threads);
            rnn_model *model = rnn_sequential(NULL);
            CHECK(model && !rnn_set_seed(model, 3) && !rnn_input(model, 0, f) &&
                      !rnn_add(model, rnn_dense_simple(f, RNN_LINEAR)) &&
                      !rnn_compile(model, "mse", "adam"),
                  "dense model");
            double loss;
            for (int step = 0; step < 3; step++)
                CHECK(!rnn_train_on_batch(model, rnn_data_xy(rnn_tensor2(x, N, f), rnn_tensor2(y, N, f)),
                                          &loss),
                      "train step");
            CHECK(!rnn_get_weight(model, 0, w[threads - 1], f * f), "kernel");
            rnn_model_free(model);
        }
        const size_t bytes = sizeof(float) * (size_t)f * f;
        CHECK(memcmp(w[0], w[1], bytes) == 0 && memcmp(w[0], w[2], bytes) == 0,
              "the shared optimizer update of %d values depends on the threads", f * f);
    }
    /* the screen for NaN and Inf (train/data.c), shared from 2^20 values: the first index
     * whichever thread's range holds it, and -1 for a finite array */
    enum { SCREEN = 3 << 20 };
    float *v = calloc(SCREEN, sizeof(float));
    CHECK(v != NULL, "screen array");
    if (!v) return;
    for (int threads = 1; threads <= 3; threads++) {
        rnn_set_threads(threads);
        CHECK(rnn__first_nonfinite(v, SCREEN) == -1, "%d threads: a finite array has a NaN",
              threads);
        v[SCREEN - 5] = INFINITY; /* the last thread's range */
        CHECK(rnn__first_nonfinite(v, SCREEN) == SCREEN - 5, "%d threads: Inf at the end",
              threads);
        v[SCREEN / 2 + 3] = NAN; /* the middle */
        CHECK(rnn__first_nonfinite(v, SCREEN) == SCREEN / 2 + 3, "%d threads: NaN in the middle",
              threads);
        v[1500] = NAN; /* the first thread's range, before the others */
        CHECK(rnn__first_nonfinite(v, SCREEN) == 1500, "%d threads: the first of three",
              threads);
        v[1500] = v[SCREEN / 2 + 3] = v[SCREEN - 5] = 0.0f;
    }
    free(v);
}

/* A sequence autoencoder's decoder (LSTM -> RepeatVector -> LSTM(return_sequences)), large
 * enough for the team to share the sum of its steps' dZ (recurrent.c, B6's shape): training
 * gives the same bits on 2 and 3 threads in the decoder's kernel, recurrent kernel and bias
 * (the kernel and bias are where the sum goes), and agrees with one thread (whose step loops
 * take the BLAS path, other last bits) to float rounding: a fault common to every split, such
 * as a step left out of the shared sum, gives the same bits on 2 and 3 threads. */
static void check_repeat_decoder(void) {
    enum { B = 64, STEPS = 30, FEAT = 4, H = 100, NW = 4 * H * H + 4 * H * H + 4 * H };
    static float x[B * STEPS * FEAT], w[3][NW];
    for (int i = 0; i < B * STEPS * FEAT; i++) x[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    for (int threads = 1; threads <= 3; threads++) {
        rnn_set_threads(threads);
        rnn_model *m = rnn_sequential(NULL);
        rnn_recurrent_options enc = rnn_lstm_defaults(H), dec = rnn_lstm_defaults(H);
        dec.return_sequences = 1;
        CHECK(m && !rnn_set_seed(m, 6) && !rnn_input(m, STEPS, FEAT) && !rnn_add(m, rnn_lstm(&enc)) &&
                  !rnn_add(m, rnn_repeat_vector(STEPS)) && !rnn_add(m, rnn_lstm(&dec)) &&
                  !rnn_add(m, rnn_time_distributed(rnn_dense_simple(FEAT, RNN_LINEAR))) &&
                  !rnn_compile(m, "mse", "adam"),
              "autoencoder");
        rnn_tensor xt = rnn_tensor3(x, B, STEPS, FEAT);
        double loss;
        for (int step = 0; step < 2; step++)
            CHECK(!rnn_train_on_batch(m, rnn_data_xy(xt, xt), &loss), "autoencoder step");
        float *wt = w[threads - 1];
        CHECK(!rnn_get_weight(m, 3, wt, 4 * H * H) &&
                  !rnn_get_weight(m, 4, wt + 4 * H * H, 4 * H * H) &&
                  !rnn_get_weight(m, 5, wt + 8 * H * H, 4 * H),
              "decoder's weights");
        rnn_model_free(m);
    }
    CHECK(memcmp(w[1], w[2], sizeof w[1]) == 0,
          "the decoder's training differs between 2 and 3 threads");
    double worst = 0;
    for (int i = 0; i < NW; i++) worst = fmax(worst, fabs((double)w[0][i] - w[1][i]));
    CHECK(worst <= 2e-5, "the decoder's training: one thread and the team differ by %g", worst);
}

/* The LSTM team's backward by rows sums the weight gradients of each thread's rows in its job
 * (lstm.c, grad_part: B2's shape, LSTM(64) on 8 features, here at batch 64 = 4 blocks of 16
 * rows, and at batch 48 = 3 blocks): the path is taken on 2 and 3 threads, gives the same bits
 * in the kernel, recurrent kernel and bias after an SGD step (which passes every gradient's
 * bits on) on both, and agrees with one thread (the products over all steps after the loop,
 * the BLAS's order) to float rounding, so a fault common to every split (a step or a block
 * left out of the sum) shows there. */
static void check_grad_parts(void) {
    enum { STEPS = 7, FEAT = 8, H = 64, NW = FEAT * 4 * H + H * 4 * H + 4 * H };
    static float x[64 * STEPS * FEAT], y[64], w[3][NW];
    for (int i = 0; i < 64 * STEPS * FEAT; i++) x[i] = (float)((i * 53) % 97) / 97.0f - 0.5f;
    for (int i = 0; i < 64; i++) y[i] = (float)(i % 9) / 9.0f - 0.4f;
    const int batches[2] = {64, 48};
    for (int c = 0; c < 2; c++) {
        const int B = batches[c];
        for (int threads = 1; threads <= 3; threads++) {
            rnn_set_threads(threads);
            rnn_model *m = rnn_sequential(NULL);
            rnn_recurrent_options o = rnn_lstm_defaults(H);
            rnn_layer *lstm = rnn_lstm(&o);
            rnn_optimizer sgd = rnn_sgd_defaults();
            sgd.learning_rate = 0.5f;
            CHECK(m && lstm && !rnn_set_seed(m, 8) && !rnn_input(m, STEPS, FEAT) && !rnn_add(m, lstm) &&
                      !rnn_add(m, rnn_dense_simple(1, RNN_LINEAR)) &&
                      !rnn_compile_with(m, "mse", &sgd),
                  "grad parts model");
            double loss;
            CHECK(!rnn_train_on_batch(m, rnn_data_xy(rnn_tensor3(x, B, STEPS, FEAT),
                                                     rnn_tensor2(y, B, 1)), &loss),
                  "grad parts step: %s", rnn_last_error());
            CHECK(rnn__recurrent_of(lstm)->input_grads_done == (threads > 1),
                  "batch %d, %d threads: the gradients %s summed by the backward job", B,
                  threads, threads > 1 ? "were not" : "were");
            float *wt = w[threads - 1];
            CHECK(!rnn_get_weight(m, 0, wt, FEAT * 4 * H) &&
                      !rnn_get_weight(m, 1, wt + FEAT * 4 * H, H * 4 * H) &&
                      !rnn_get_weight(m, 2, wt + FEAT * 4 * H + H * 4 * H, 4 * H),
                  "grad parts weights");
            rnn_model_free(m);
        }
        CHECK(memcmp(w[1], w[2], sizeof w[1]) == 0,
              "batch %d: the gradients summed by blocks differ between 2 and 3 threads", B);
        double worst = 0;
        for (int i = 0; i < NW; i++) worst = fmax(worst, fabs((double)w[0][i] - w[1][i]));
        CHECK(worst <= 1e-6, "batch %d: the gradients summed by blocks and one thread's differ "
                             "by %g after an SGD step", B, worst);
    }
    rnn_set_threads(0);
}

int main(void) {
    check_units();
    check_grad_parts();
    check_repeat_decoder();
    check_shared_training_parts();
    for (int n = 1; n <= 4; n++) check_team(n);
    check_join();
    check_fork();
    check_sleeping_workers(2);
    check_sleeping_workers(3);
    const model_spec specs[] = {
        {0, 20, 0, 0, 1, 6, 0}, {0, 64, 0, 0, 0, 6, 0}, {0, 20, 1, 1, 1, 6, 0}, {0, 36, 0, 1, 0, 6, 0},
        {1, 20, 0, 0, 1, 6, 0}, {1, 64, 0, 0, 0, 6, 0}, {1, 20, 1, 1, 1, 6, 0}, {1, 36, 0, 1, 0, 6, 0},
        {0, 20, 1, 1, 1, 48, 0}, {0, 64, 0, 0, 0, 48, 0}, {1, 20, 1, 1, 1, 48, 0}, {1, 64, 0, 0, 0, 48, 0},
        {0, 24, 0, 0, 1, 48, 1}, {0, 24, 0, 0, 1, 6, 1}, {1, 24, 0, 0, 1, 48, 1},
        /* steps large enough for the packed panels (rnn__recurrent_use_panels, B 4H H >= 2^23):
         * H % 16 == 8, so that the last panel of each gate block is half full and a thread's
         * units can start half way into a panel; by rows (batch 48 on 2 and 3 threads) and by
         * units (batch 24), with a mask */
        {0, 216, 0, 0, 1, 48, 0}, {0, 296, 0, 1, 0, 24, 0},
        {1, 248, 0, 0, 1, 48, 0}, {1, 344, 0, 1, 0, 24, 0}, /* GRU: B 3H H >= 2^23 */
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) check_model(&specs[i]);
    check_stream(0);
    check_stream(1);
    rnn_set_threads(0);
    return check_report("test_team");
}
