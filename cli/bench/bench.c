/* `rnn bench CASE`: the benchmark cases of issue 5 through the public API (rnn.h) only.
 *
 * Every case: float32, Adam(learning_rate=1e-3), data from a fixed seed (splitmix64, the same
 * values the Python peers generate), a warm-up, then the median of --reps repetitions (at least
 * 5). One JSON line on stdout with the metric names of the issue and peak_rss_mb (getrusage).
 *
 *   B1 airline  LSTM(4) -> Dense(1) on (92, 3, 1), rnn_fit(epochs=100, batch_size=1, shuffle)
 *               train_100_epochs_s, us_per_step = seconds / (100 * 92)
 *   B2 sensor   LSTM(64) -> Dense(1), T=50, F=8, 10,240 samples, rnn_fit one epoch of batch 32
 *               train_samples_per_s; infer_b256_samples_per_s = rnn_predict(batch_size=256)
 *   B4 large    LSTM(512, return_sequences) on (64, 100, 512), MSE on the outputs
 *               forward_ms (rnn_predict_on_batch), train_step_ms (rnn_train_on_batch),
 *               forward_GFLOPs = 2*T*B*4H*(I+H) / forward, train_GFLOPs = 3 * that / train
 *   B5 stream   stateful LSTM(128) -> LSTM(128) -> Dense(1) on 8 features, batch 1,
 *               rnn_predict_step; us_per_step = median of the times of 10,000 single steps
 *               after 500 warm-up steps (the steps are the repetitions; --reps is not used)
 *   B3 charrnn  Embedding(65, 64) -> GRU(512, return_sequences) -> GRU(128, return_sequences)
 *               -> TimeDistributed(Dense(65, softmax)), sparse categorical cross-entropy,
 *               batch 32, T=100: train_step_ms (rnn_train_on_batch), tokens_per_s = 3200 / step
 *   B6 autoenc  LSTM(100) -> RepeatVector(30) -> LSTM(100, return_sequences)
 *               -> TimeDistributed(Dense(4)) on (64, 30, 4), fit(X, X) with MSE:
 *               train_step_ms = one rnn_train_on_batch on the 64 samples
 *   sgemm       not a case: the BLAS's sgemm rate on large products, the machine's yardstick
 */
#include "bench.h"
#include "bench_common.h"

#include "../args.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../airline_data.h"
#include "rnn.h"

#if defined(RNN_USE_CBLAS)
#include <cblas.h>
#endif
#include "kernels/blas_core.h"

#define MIN_REPS 5

/* This program's own OpenBLAS threads (librnn never changes them): n of them. librnn loads
 * OpenBLAS at its first large product (src/kernels/blas_core.c); until then the setting goes
 * through OPENBLAS_NUM_THREADS, which OpenBLAS reads as it loads (the program has no threads of
 * its own yet). */
static void bench_blas_threads(int n) {
    const rnn_openblas *ob = rnn__openblas_loaded();
    if (ob) {
        ob->set_num_threads(n);
    } else {
        char v[16];
        snprintf(v, sizeof v, "%d", n);
        setenv("OPENBLAS_NUM_THREADS", v, 1);
    }
}

/* With several team threads, OpenBLAS single-threaded, so that librnn's team threads call it on
 * their slices of the large products: OpenBLAS's own threads, started as it loads, would poll
 * for about 2^28 cycles before sleeping and compete with the team for the cores. */
static void bench_blas_for_team(void) {
    if (rnn_context_threads(NULL) > 1) bench_blas_threads(1);
}

/* ---------------------------------------------------------------- helpers */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double peak_rss_mb(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1.0;
    return (double)ru.ru_maxrss / 1024.0; /* Linux: kilobytes */
}

void bench_uniform(float *out, int64_t n, uint64_t seed, float scale) {
    seeded_uniform(out, n, seed, scale);
}

static float *new_floats(int64_t n) {
    float *p = malloc(sizeof(float) * (size_t)n);
    if (!p) fprintf(stderr, "rnn bench: out of memory (%lld floats)\n", (long long)n);
    return p;
}

static int fail(const char *what, rnn_model *m) {
    fprintf(stderr, "rnn bench: %s: %s\n", what, m ? rnn_model_error(m) : rnn_last_error());
    return 1;
}

/* Common compile: MSE and Adam(learning_rate=1e-3), Keras's other defaults. */
static rnn_status compile_adam(rnn_model *m) {
    rnn_optimizer adam = rnn_adam_defaults();
    adam.learning_rate = 1e-3f;
    return rnn_compile_with(m, "mean_squared_error", &adam);
}

void bench_print_head(const bench_args *a) {
    printf("{\"impl\": \"librnn\", \"version\": \"%s\", \"case\": \"%s\", \"threads\": %d, "
           "\"reps\": %d",
           rnn_version(), a->name, a->threads, a->reps);
}

void bench_print_tail(void) {
    printf(", \"peak_rss_mb\": %.1f}\n", peak_rss_mb());
    fflush(stdout);
}

/* ---------------------------------------------------------------- B1 airline */

static int bench_b1(const bench_args *a) {
    float series[AIRLINE_MONTHS];
    memcpy(series, airline_passengers, sizeof series);
    rnn_minmax_scaler scaler = {0};
    if (rnn_minmax_fit(&scaler, series, AIRLINE_MONTHS)) return fail("scaler", NULL);
    rnn_minmax_transform(&scaler, series, AIRLINE_MONTHS);
    int64_t split = rnn_train_test_split(AIRLINE_MONTHS, 0.67); /* 96 */
    rnn_tensor x, y;
    if (rnn_create_dataset(series, split, 3, &x, &y)) return fail("create_dataset", NULL);
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options lstm = rnn_lstm_defaults(4);
    int rc = 1;
    if (!m || rnn_set_seed(m, 7) || rnn_input(m, 3, 1) || rnn_add(m, rnn_lstm(&lstm)) ||
        rnn_add(m, rnn_dense_simple(1, RNN_LINEAR)) || compile_adam(m)) {
        rc = fail("B1 model", m);
        goto done;
    }
    rnn_fit_options fit = rnn_fit_defaults(); /* shuffle on, as in the tutorial */
    fit.batch_size = 1;
    fit.verbose = 0;
    fit.epochs = 10; /* warm-up */
    if (rnn_fit(m, rnn_data_xy(x, y), &fit, NULL)) { rc = fail("B1 fit", m); goto done; }
    fit.epochs = 100;
    double t[64];
    for (int r = 0; r < a->reps; r++) {
        double t0 = now_s();
        if (rnn_fit(m, rnn_data_xy(x, y), &fit, NULL)) { rc = fail("B1 fit", m); goto done; }
        t[r] = now_s() - t0;
    }
    double s = bench_median(t, a->reps);
    bench_print_head(a);
    printf(", \"train_100_epochs_s\": %.6f, \"us_per_step\": %.4f, \"steps\": %lld", s,
           s * 1e6 / (100.0 * (double)x.shape[0]), (long long)(100 * x.shape[0]));
    bench_print_tail();
    rc = 0;
done:
    rnn_model_free(m);
    rnn_tensor_free(&x);
    rnn_tensor_free(&y);
    return rc;
}

/* ---------------------------------------------------------------- B2 sensor */

static const char *precision_name(int p) { return p == RNN_BF16 ? "bf16" : p == RNN_INT8 ? "int8" : "f32"; }

#define B2_N 10240
#define B2_T 50
#define B2_F 8

/* y[n] = mean over the steps of feature 0: a target the model can learn. */
static void b2_targets(const float *x, float *y) {
    for (int64_t n = 0; n < B2_N; n++) {
        double s = 0.0;
        for (int t = 0; t < B2_T; t++) s += x[(n * B2_T + t) * B2_F];
        y[n] = (float)(s / B2_T);
    }
}

static int bench_b2(const bench_args *a) {
    float *xd = new_floats((int64_t)B2_N * B2_T * B2_F), *yd = new_floats(B2_N);
    rnn_model *m = NULL;
    int rc = 1;
    if (!xd || !yd) goto done;
    bench_uniform(xd, (int64_t)B2_N * B2_T * B2_F, 2, 1.0f);
    b2_targets(xd, yd);
    rnn_tensor x = rnn_tensor3(xd, B2_N, B2_T, B2_F), y = rnn_tensor2(yd, B2_N, 1);
    m = rnn_sequential(NULL);
    rnn_recurrent_options lstm = rnn_lstm_defaults(64);
    if (!m || rnn_set_seed(m, 2) || rnn_input(m, B2_T, B2_F) || rnn_add(m, rnn_lstm(&lstm)) ||
        rnn_add(m, rnn_dense_simple(1, RNN_LINEAR)) || compile_adam(m)) {
        rc = fail("B2 model", m);
        goto done;
    }
    rnn_fit_options fit = rnn_fit_defaults();
    fit.batch_size = 32;
    fit.epochs = 1;
    fit.verbose = 0;
    /* warm-up: 32 batches of training, 4 batches of inference */
    if (rnn_fit(m, rnn_data_xy(rnn_tensor3(xd, 1024, B2_T, B2_F), rnn_tensor2(yd, 1024, 1)), &fit,
                NULL))
        { rc = fail("B2 fit", m); goto done; }
    rnn_tensor pred;
    if (rnn_predict(m, rnn_data_x(rnn_tensor3(xd, 1024, B2_T, B2_F)), 256, &pred, 1))
        { rc = fail("B2 predict", m); goto done; }
    rnn_tensor_free(&pred);
    double tt[64], ti[64], tq[64];
    for (int r = 0; r < a->reps; r++) {
        double t0 = now_s();
        if (rnn_fit(m, rnn_data_xy(x, y), &fit, NULL)) { rc = fail("B2 fit", m); goto done; }
        tt[r] = now_s() - t0;
    }
    /* --precision: float32 and the reduced precision alternate (which goes first alternates
     * too), so that both see the same machine load */
    const int quant = a->precision != RNN_F32;
    for (int r = 0; r < a->reps; r++)
        for (int k = 0; k < 1 + quant; k++) {
            const int reduced = quant && (k ^ (r & 1));
            if (rnn_set_precision(m, reduced ? (rnn_precision)a->precision : RNN_F32))
                { rc = fail("B2 precision", m); goto done; }
            double t0 = now_s();
            if (rnn_predict(m, rnn_data_x(x), 256, &pred, 1)) { rc = fail("B2 predict", m); goto done; }
            (reduced ? tq : ti)[r] = now_s() - t0;
            rnn_tensor_free(&pred);
        }
    bench_print_head(a);
    printf(", \"train_samples_per_s\": %.1f, \"infer_b256_samples_per_s\": %.1f",
           B2_N / bench_median(tt, a->reps), B2_N / bench_median(ti, a->reps));
    if (quant)
        printf(", \"precision\": \"%s\", \"infer_b256_reduced_samples_per_s\": %.1f, "
               "\"reduced_speedup\": %.3f", precision_name(a->precision), B2_N / bench_median(tq, a->reps),
               bench_median(ti, a->reps) / bench_median(tq, a->reps));
    bench_print_tail();
    rc = 0;
done:
    rnn_model_free(m);
    free(xd);
    free(yd);
    return rc;
}

/* ---------------------------------------------------------------- B4 large */

#define B4_B 64
#define B4_T 100
#define B4_I 512
#define B4_H 512

static int bench_b4(const bench_args *a) {
    const int64_t nx = (int64_t)B4_B * B4_T * B4_I, ny = (int64_t)B4_B * B4_T * B4_H;
    float *xd = new_floats(nx), *yd = new_floats(ny);
    rnn_model *m = NULL;
    int rc = 1;
    if (!xd || !yd) goto done;
    bench_uniform(xd, nx, 4, 1.0f);
    bench_uniform(yd, ny, 44, 0.5f);
    rnn_tensor x = rnn_tensor3(xd, B4_B, B4_T, B4_I), y = rnn_tensor3(yd, B4_B, B4_T, B4_H);
    m = rnn_sequential(NULL);
    rnn_recurrent_options lstm = rnn_lstm_defaults(B4_H);
    lstm.return_sequences = 1;
    if (!m || rnn_set_seed(m, 4) || rnn_input(m, B4_T, B4_I) || rnn_add(m, rnn_lstm(&lstm)) ||
        compile_adam(m)) {
        rc = fail("B4 model", m);
        goto done;
    }
    rnn_tensor out;
    double loss;
    if (rnn_predict_on_batch(m, rnn_data_x(x), &out, 1)) { rc = fail("B4 forward", m); goto done; } /* warm-up */
    rnn_tensor_free(&out);
    if (rnn_train_on_batch(m, rnn_data_xy(x, y), &loss)) { rc = fail("B4 train", m); goto done; }
    double tf[64], tt[64];
    for (int r = 0; r < a->reps; r++) {
        double t0 = now_s();
        if (rnn_predict_on_batch(m, rnn_data_x(x), &out, 1)) { rc = fail("B4 forward", m); goto done; }
        tf[r] = now_s() - t0;
        rnn_tensor_free(&out);
    }
    for (int r = 0; r < a->reps; r++) {
        double t0 = now_s();
        if (rnn_train_on_batch(m, rnn_data_xy(x, y), &loss)) { rc = fail("B4 train", m); goto done; }
        tt[r] = now_s() - t0;
    }
    const double flops = 2.0 * B4_T * B4_B * 4.0 * B4_H * (B4_I + B4_H);
    double f = bench_median(tf, a->reps), t = bench_median(tt, a->reps);
    bench_print_head(a);
    printf(", \"forward_ms\": %.3f, \"train_step_ms\": %.3f, \"forward_GFLOPs\": %.2f, "
           "\"train_GFLOPs\": %.2f",
           f * 1e3, t * 1e3, flops / f * 1e-9, 3.0 * flops / t * 1e-9);
    bench_print_tail();
    rc = 0;
done:
    rnn_model_free(m);
    free(xd);
    free(yd);
    return rc;
}

/* ---------------------------------------------------------------- B5 stream */

#define B5_F 8
#define B5_H 128
#define B5_STEPS 10000
#define B5_WARMUP 500

static int bench_b5(const bench_args *a) {
    const int64_t nx = (int64_t)(B5_WARMUP + B5_STEPS) * B5_F;
    float *xd = new_floats(nx);
    double *ts = malloc(sizeof(double) * B5_STEPS);
    rnn_model *m = NULL;
    int rc = 1;
    if (!xd || !ts) goto done;
    bench_uniform(xd, nx, 5, 1.0f);
    m = rnn_sequential(NULL);
    rnn_recurrent_options l1 = rnn_lstm_defaults(B5_H), l2 = rnn_lstm_defaults(B5_H);
    l1.stateful = l2.stateful = 1;
    l1.return_sequences = 1;
    if (!m || rnn_set_seed(m, 5) || rnn_batch_input(m, 1, 1, B5_F) || rnn_add(m, rnn_lstm(&l1)) ||
        rnn_add(m, rnn_lstm(&l2)) || rnn_add(m, rnn_dense_simple(1, RNN_LINEAR)) ||
        compile_adam(m) || rnn_set_precision(m, (rnn_precision)a->precision)) {
        rc = fail("B5 model", m);
        goto done;
    }
    float yv[1];
    for (int s = 0; s < B5_WARMUP; s++)
        if (rnn_predict_step(m, xd + (int64_t)s * B5_F, yv)) { rc = fail("B5 step", m); goto done; }
    /* the 10,000 timed steps are the repetitions: the median of their times */
    const float *xs = xd + (int64_t)B5_WARMUP * B5_F;
    for (int s = 0; s < B5_STEPS; s++) {
        double t0 = now_s();
        if (rnn_predict_step(m, xs + (int64_t)s * B5_F, yv)) { rc = fail("B5 step", m); goto done; }
        ts[s] = now_s() - t0;
    }
    if (!isfinite(yv[0])) { fprintf(stderr, "rnn bench: B5 output is not finite\n"); goto done; }
    bench_print_head(a);
    static const char *const prec_name[3] = {"f32", "bf16", "int8"};
    printf(", \"precision\": \"%s\", \"us_per_step\": %.4f, \"steps\": %d",
           prec_name[a->precision], bench_median(ts, B5_STEPS) * 1e6, B5_STEPS);
    bench_print_tail();
    rc = 0;
done:
    rnn_model_free(m);
    free(xd);
    free(ts);
    return rc;
}

/* ---------------------------------------------------------------- B3 charrnn */

#define B3_B 32
#define B3_T 100
#define B3_V 65

static int bench_b3(const bench_args *a) {
    const int64_t n = (int64_t)B3_B * (B3_T + 1);
    float *ids = new_floats(n), *xd = new_floats((int64_t)B3_B * B3_T);
    float *yd = new_floats((int64_t)B3_B * B3_T);
    rnn_model *m = NULL;
    int rc = 1;
    if (!ids || !xd || !yd) goto done;
    /* ids in [0, 65) from the same generator as the peers: x = ids[:, :T], y = ids[:, 1:] */
    bench_uniform(ids, n, 3, 1.0f);
    for (int64_t i = 0; i < n; i++) {
        int id = (int)((ids[i] + 1.0f) * 0.5f * (float)B3_V);
        ids[i] = (float)(id < B3_V - 1 ? id : B3_V - 1);
    }
    for (int b = 0; b < B3_B; b++)
        for (int t = 0; t < B3_T; t++) {
            xd[b * B3_T + t] = ids[b * (B3_T + 1) + t];
            yd[b * B3_T + t] = ids[b * (B3_T + 1) + t + 1];
        }
    m = rnn_sequential(NULL);
    rnn_embedding_options emb = rnn_embedding_defaults(B3_V, 64);
    rnn_recurrent_options g1 = rnn_gru_defaults(512), g2 = rnn_gru_defaults(128);
    g1.return_sequences = g2.return_sequences = 1;
    rnn_optimizer adam = rnn_adam_defaults();
    adam.learning_rate = 1e-3f;
    if (!m || rnn_set_seed(m, 3) ||
        rnn_sequential_input(m, rnn_ids_input_new(RNN_NONE, B3_T, NULL)) ||
        rnn_add(m, rnn_embedding(&emb)) || rnn_add(m, rnn_gru(&g1)) || rnn_add(m, rnn_gru(&g2)) ||
        rnn_add(m, rnn_time_distributed(rnn_dense_simple(B3_V, RNN_SOFTMAX))) ||
        rnn_compile_with(m, "sparse_categorical_crossentropy", &adam)) {
        rc = fail("B3 model", m);
        goto done;
    }
    rnn_tensor x = rnn_tensor2(xd, B3_B, B3_T), y = rnn_tensor2(yd, B3_B, B3_T);
    double loss, t[64];
    if (rnn_train_on_batch(m, rnn_data_xy(x, y), &loss)) { rc = fail("B3 train", m); goto done; } /* warm-up */
    for (int r = 0; r < a->reps; r++) {
        double t0 = now_s();
        if (rnn_train_on_batch(m, rnn_data_xy(x, y), &loss)) { rc = fail("B3 train", m); goto done; }
        t[r] = now_s() - t0;
    }
    double s = bench_median(t, a->reps);
    bench_print_head(a);
    printf(", \"train_step_ms\": %.3f, \"tokens_per_s\": %.1f", s * 1e3, B3_B * B3_T / s);
    bench_print_tail();
    rc = 0;
done:
    rnn_model_free(m);
    free(ids);
    free(xd);
    free(yd);
    return rc;
}

/* ---------------------------------------------------------------- B6 autoencoder */

#define B6_N 64
#define B6_T 30
#define B6_F 4
#define B6_H 100

static int bench_b6(const bench_args *a) {
    const int64_t nx = (int64_t)B6_N * B6_T * B6_F;
    float *xd = new_floats(nx);
    rnn_model *m = NULL;
    int rc = 1;
    if (!xd) goto done;
    bench_uniform(xd, nx, 6, 1.0f);
    m = rnn_sequential(NULL);
    rnn_recurrent_options enc = rnn_lstm_defaults(B6_H), dec = rnn_lstm_defaults(B6_H);
    dec.return_sequences = 1;
    if (!m || rnn_set_seed(m, 6) || rnn_input(m, B6_T, B6_F) || rnn_add(m, rnn_lstm(&enc)) ||
        rnn_add(m, rnn_repeat_vector(B6_T)) || rnn_add(m, rnn_lstm(&dec)) ||
        rnn_add(m, rnn_time_distributed(rnn_dense_simple(B6_F, RNN_LINEAR))) || compile_adam(m)) {
        rc = fail("B6 model", m);
        goto done;
    }
    /* fit(X, X): one step on the whole (64, 30, 4) batch */
    rnn_tensor x = rnn_tensor3(xd, B6_N, B6_T, B6_F);
    double loss, t[64];
    if (rnn_train_on_batch(m, rnn_data_xy(x, x), &loss)) { rc = fail("B6 train", m); goto done; } /* warm-up */
    for (int r = 0; r < a->reps; r++) {
        double t0 = now_s();
        if (rnn_train_on_batch(m, rnn_data_xy(x, x), &loss)) { rc = fail("B6 train", m); goto done; }
        t[r] = now_s() - t0;
    }
    bench_print_head(a);
    printf(", \"train_step_ms\": %.3f", bench_median(t, a->reps) * 1e3);
    bench_print_tail();
    rc = 0;
done:
    rnn_model_free(m);
    free(xd);
    return rc;
}

/* ---------------------------------------------------------------- the BLAS yardstick */

#if defined(RNN_USE_CBLAS)
/* GFLOP/s of C (M,N) = A (M,K) B (K,N), median of reps after one warm-up. */
static double sgemm_rate(int M, int N, int K, int reps) {
    float *A = new_floats((int64_t)M * K), *B = new_floats((int64_t)K * N);
    float *C = new_floats((int64_t)M * N);
    double t[64], rate = -1.0;
    if (A && B && C) {
        bench_uniform(A, (int64_t)M * K, 11, 1.0f);
        bench_uniform(B, (int64_t)K * N, 12, 1.0f);
        for (int r = -1; r < reps; r++) {
            double t0 = now_s();
            rnn__openblas()->sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A,
                                   K, B, N, 0.0f, C, N);
            if (r >= 0) t[r] = now_s() - t0;
        }
        rate = 2.0 * M * N * K / bench_median(t, reps) * 1e-9;
    }
    free(A);
    free(B);
    free(C);
    return rate;
}
#endif

static int bench_sgemm(const bench_args *a) {
#if defined(RNN_USE_CBLAS)
    /* the BLAS's own threads: the yardstick runs on --threads of them */
    if (a->threads > 0) bench_blas_threads(a->threads);
    const rnn_openblas *ob = rnn__openblas();
    if (!ob) {
        fprintf(stderr, "rnn bench sgemm: %s\n", rnn__openblas_error());
        return 1;
    }
    bench_print_head(a);
    printf(", \"blas\": \"%s\", \"blas_core\": \"%s\", \"blas_threads\": %d", ob->get_config(),
           ob->get_corename(), ob->get_num_threads());
    /* the yardstick, then the two shapes of B4: the input projection of all steps and the
     * per-step recurrent product */
    printf(", \"sgemm_4096_GFLOPs\": %.2f", sgemm_rate(4096, 4096, 4096, a->reps));
    printf(", \"sgemm_6400x2048x512_GFLOPs\": %.2f", sgemm_rate(6400, 2048, 512, a->reps));
    printf(", \"sgemm_64x2048x512_GFLOPs\": %.2f", sgemm_rate(64, 2048, 512, a->reps));
    printf(", \"sgemm_1x512x128_GFLOPs\": %.2f", sgemm_rate(1, 512, 128, a->reps));
    bench_print_tail();
    return 0;
#else
    (void)a;
    fprintf(stderr, "rnn bench sgemm: this build has no CBLAS (BLAS=none)\n");
    return 1;
#endif
}

/* ---------------------------------------------------------------- command line */

static void usage(FILE *f) {
    fprintf(f,
            "usage: rnn bench CASE [--threads N] [--reps N] [--precision f32|bf16|int8]\n"
            "  CASE: B1 (airline LSTM(4), batch 1, 100 epochs)\n"
            "        B2 (sensor LSTM(64), T=50, batch 32; inference at batch 256)\n"
            "        B3 (char-RNN: Embedding -> GRU(512) -> GRU(128) -> TimeDistributed(Dense))\n"
            "        B4 (LSTM(512) on 512 features, T=100, batch 64)\n"
            "        B5 (stateful LSTM(128) x2 -> Dense(1), one step per call)\n"
            "        B6 (LSTM(100) -> RepeatVector(30) -> LSTM(100) autoencoder on (64, 30, 4))\n"
            "        sgemm (the BLAS's sgemm rate on large products)\n"
            "        ceilings (the cores' FMA peak; the time to read B5's weights once)\n"
            "  --threads N  threads of the default context (rnn_set_threads); 0: the library's default\n"
            "  --reps N     timed repetitions after the warm-up, median reported (>= %d)\n"
            "  --precision P  B5: the LSTM weights' precision in the step; B2: inference also in\n"
            "               this precision, alternating with float32 (rnn_set_precision)\n"
            "Prints one JSON line with the case's metrics and peak_rss_mb.\n",
            MIN_REPS);
}

int bench_parse(int argc, char **argv, bench_args *out) {
    bench_args a = {NULL, 0, MIN_REPS, RNN_F32};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if ((!strcmp(argv[i], "--threads") || !strcmp(argv[i], "--reps")) && i + 1 < argc) {
            long v;
            if (cli_parse_int(argv[i + 1], 0, 1000000, &v)) {
                fprintf(stderr, "rnn bench: %s needs a non-negative integer, got \"%s\"\n",
                        argv[i], argv[i + 1]);
                return 2;
            }
            if (argv[i][2] == 't') a.threads = (int)v;
            else a.reps = (int)v;
            i++;
        } else if (!strcmp(argv[i], "--precision") && i + 1 < argc) {
            const int p = rnn_precision_from_name(argv[i + 1]);
            if (p < 0) {
                fprintf(stderr, "rnn bench: --precision is f32, bf16 or int8, got \"%s\"\n",
                        argv[i + 1]);
                return 2;
            }
            a.precision = p;
            i++;
        } else if (argv[i][0] != '-' && !a.name) {
            a.name = argv[i];
        } else {
            fprintf(stderr, "rnn bench: unexpected argument \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!a.name) {
        usage(stderr);
        return 2;
    }
    if (a.reps < MIN_REPS || a.reps > 64) {
        fprintf(stderr, "rnn bench: --reps must be between %d and 64, got %d\n", MIN_REPS, a.reps);
        return 2;
    }
    if (a.precision != RNN_F32 && strcmp(a.name, "B5") != 0 && strcmp(a.name, "B2") != 0) {
        fprintf(stderr, "rnn bench: --precision is for B2 and B5 only\n");
        return 2;
    }
    *out = a;
    return -1;
}

int bench_main(int argc, char **argv) {
    bench_args a;
    int parsed = bench_parse(argc, argv, &a);
    if (parsed >= 0) return parsed;
    if (rnn_set_threads(a.threads)) return fail("--threads", NULL);
    if (strcmp(a.name, "sgemm") != 0 && strcmp(a.name, "ceilings") != 0) bench_blas_for_team();
    if (!strcmp(a.name, "B1")) return bench_b1(&a);
    if (!strcmp(a.name, "B2")) return bench_b2(&a);
    if (!strcmp(a.name, "B4")) return bench_b4(&a);
    if (!strcmp(a.name, "B5")) return bench_b5(&a);
    if (!strcmp(a.name, "sgemm")) return bench_sgemm(&a);
    if (!strcmp(a.name, "ceilings")) return bench_ceilings(&a);
    if (!strcmp(a.name, "B3")) return bench_b3(&a);
    if (!strcmp(a.name, "B6")) return bench_b6(&a);
    fprintf(stderr, "rnn bench: unknown case \"%s\"\n", a.name);
    usage(stderr);
    return 2;
}
