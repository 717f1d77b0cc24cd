/* The work around a large batch's steps (issue 18, B4): the layout copies of the input (x into
 * the time-major xt), of the returned sequence (hs into yseq) and of the predictions into the
 * caller's array, and the bias rows of a product split between the team (the input
 * projection), which the team's threads share above a size; and the input check for NaN and
 * Inf, which screens blocks of values before it searches one. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef RNN_USE_CBLAS
#include <cblas.h>
#endif

#include "check.h"
#include "kernels/gemm.h"
#include "kernels/team.h"
#include "rnn.h"
#include "train/train.h"

/* ---------------------------------------------------------------- copies on the team */

/* B T F and B T H both above the size from which the copies are shared (2^18 floats). */
enum { B = 48, T = 64, F = 96, H = 96 };

static float *predict(int threads, int go_backwards, const float *x) {
    rnn_set_threads(threads > 1 ? 2 : 1);
    rnn__team_set_size(threads);
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options o = rnn_lstm_defaults(H);
    o.return_sequences = 1;
    o.go_backwards = go_backwards;
    float *res = NULL;
    rnn_tensor out = {0};
    if (!m || rnn_set_seed(m, 7) || rnn_input(m, T, F) || rnn_add(m, rnn_lstm(&o)) ||
        rnn_predict_on_batch(m, rnn_data_x(rnn_tensor3((float *)x, B, T, F)), &out, 1)) {
        CHECK(0, "predict on %d threads: %s", threads, rnn_last_error());
    } else {
        CHECK(out.rank == 3 && out.shape[0] == B && out.shape[1] == T && out.shape[2] == H,
              "output shape");
        res = malloc(sizeof(float) * (size_t)B * T * H);
        memcpy(res, out.data, sizeof(float) * (size_t)B * T * H);
    }
    rnn_tensor_free(&out);
    rnn_model_free(m);
    return res;
}

/* One thread copies alone; 2 and 3 threads share the copies in different cuts. A row copied
 * to the wrong step, or left out, changes that row's outputs far beyond rounding. */
static void check_copies(int go_backwards) {
    static float x[B * T * F];
    unsigned seed = 3;
    for (int i = 0; i < B * T * F; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
    }
    float *r1 = predict(1, go_backwards, x), *r2 = predict(2, go_backwards, x),
          *r3 = predict(3, go_backwards, x);
    if (r1 && r2 && r3) {
        CHECK(memcmp(r2, r3, sizeof(float) * (size_t)B * T * H) == 0,
              "go_backwards %d: 2 and 3 threads give different predictions", go_backwards);
        double worst = 0;
        for (size_t i = 0; i < (size_t)B * T * H; i++)
            worst = fmax(worst, fabs((double)r1[i] - r2[i]));
        CHECK(worst <= 2e-5, "go_backwards %d: one thread and the team differ by %g",
              go_backwards, worst);
        /* the outputs vary along the sequence: a copy that repeated one step would not */
        CHECK(r2[0] != r2[(size_t)(T - 1) * H], "go_backwards %d: flat outputs", go_backwards);
    }
    free(r1);
    free(r2);
    free(r3);
}

/* ---------------------------------------------------------------- bias rows on the team */

/* C = bias + A B by size (RNN_GEMM_AUTO) on teams of 1 to 3, split by rows (M >= N) and by
 * columns, against the loops; C starts as NaN, so a row or column the bias copy missed shows. */
static void check_bias_split(void) {
#ifdef OPENBLAS_VERSION
    openblas_set_num_threads(1); /* the team splits products only over a one-thread BLAS */
#endif
    const int shapes[2][3] = {{200, 96, 128}, {48, 400, 128}};
    rnn_set_threads(2);
    for (int s = 0; s < 2; s++) {
        const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = malloc(sizeof(float) * (size_t)M * K);
        float *Bm = malloc(sizeof(float) * (size_t)K * N);
        float *bias = malloc(sizeof(float) * (size_t)N), *C = malloc(sizeof(float) * (size_t)M * N);
        float *R = malloc(sizeof(float) * (size_t)M * N);
        for (int i = 0; i < M * K; i++) A[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
        for (int i = 0; i < K * N; i++) Bm[i] = (float)((i * 53) % 97) / 48.0f - 1.0f;
        for (int j = 0; j < N; j++) bias[j] = 10.0f + (float)j;
        rnn__product(M, N, K, A, K, Bm, N, R, N, RNN_GEMM(.bias = bias, .kernel = RNN_GEMM_LOOPS));
        for (int n = 1; n <= 3; n++) {
            rnn__team_set_size(n);
            for (int i = 0; i < M * N; i++) C[i] = NAN;
            rnn__product(M, N, K, A, K, Bm, N, C, N, RNN_GEMM(.bias = bias));
            double worst = 0;
            for (int i = 0; i < M * N; i++)
                worst = fmax(worst, isnan(C[i]) ? INFINITY : fabs((double)C[i] - R[i]));
            CHECK(worst <= 1e-3, "(%d x %d) x (%d x %d) with a bias on %d threads: off by %g", M,
                  K, K, N, n, worst);
        }
        free(A);
        free(Bm);
        free(bias);
        free(C);
        free(R);
    }
    rnn_set_threads(0);
}

/* ---------------------------------------------------------------- NaN and Inf in x */

/* Several blocks of 1024 values and a tail: a Dense model on (N, 4) inputs. */
enum { ROWS = 1300, COLS = 4, N = ROWS * COLS };

static rnn_status predict_dense(const float *x) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_dense_options d = rnn_dense_defaults(2);
    rnn_tensor out = {0};
    rnn_status st = RNN_ERR_STATE;
    if (m && !rnn_set_seed(m, 1) && !rnn_input(m, 0, COLS) && !rnn_add(m, rnn_dense(&d)))
        st = rnn_predict_on_batch(m, rnn_data_x(rnn_tensor2((float *)x, ROWS, COLS)), &out, 1);
    rnn_tensor_free(&out);
    rnn_model_free(m);
    return st;
}

static void check_nonfinite(void) {
    static float x[N];
    for (int i = 0; i < N; i++) x[i] = (float)(i % 13) - 6.0f;
    /* finite extremes pass */
    x[5] = FLT_MAX;
    x[1500] = -FLT_MAX;
    x[2100] = FLT_MIN / 8.0f; /* subnormal */
    x[3000] = -0.0f;
    CHECK(predict_dense(x) == RNN_OK, "finite input refused: %s", rnn_last_error());
    /* one bad value at block edges, inside a block and in the tail; then two, the first named */
    const int at[] = {0, 1023, 1024, 2047, 2048, 3071, 3500, 4095, 4096, N - 1};
    const float bad[] = {NAN, INFINITY, -INFINITY};
    const char *bad_name[] = {"NaN", "Inf", "Inf"};
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++)
        for (int v = 0; v < 3; v++) {
            const float keep = x[at[k]];
            x[at[k]] = bad[v];
            const rnn_status st = predict_dense(x);
            char want[64];
            snprintf(want, sizeof want, "x contains %s at flat index %d", bad_name[v], at[k]);
            CHECK(st == RNN_ERR_NUMERIC && strstr(rnn_last_error(), want),
                  "%s: status %d, \"%s\"", want, (int)st, rnn_last_error());
            x[at[k]] = keep;
        }
    x[4500] = INFINITY;
    x[2500] = NAN;
    CHECK(predict_dense(x) == RNN_ERR_NUMERIC &&
              strstr(rnn_last_error(), "x contains NaN at flat index 2500"),
          "two bad values: \"%s\"", rnn_last_error());
}

/* An input large enough for the team to share its screen (data.c, TEAM_SCREEN_VALUES: 2^20 values):
 * on one and two threads the same first bad value is named, whichever thread's part holds it,
 * with a later one in the other part. */
static void check_nonfinite_shared(void) {
    /* 2^20 values: data.c's team screen starts there, and its halves (whole blocks of 1,024)
     * meet at BIG / 2 */
    enum { BIG_ROWS = (1 << 20) / COLS, BIG = BIG_ROWS * COLS };
    float *x = malloc(sizeof(float) * BIG);
    rnn_model *m = rnn_sequential(NULL);
    rnn_dense_options d = rnn_dense_defaults(2);
    CHECK(x && m && !rnn_set_seed(m, 1) && !rnn_input(m, 0, COLS) && !rnn_add(m, rnn_dense(&d)),
          "model: %s", rnn_last_error());
    if (!x || !m) goto done;
    for (int i = 0; i < BIG; i++) x[i] = (float)(i % 11) - 5.0f;
    /* the first value, the last of part 0 and the first of part 1, the last value */
    const int at[] = {0, BIG / 2 - 1, BIG / 2, BIG - 1};
    for (int threads = 1; threads <= 2; threads++) {
        rnn_set_threads(threads);
        rnn_tensor out = {0};
        CHECK(rnn_predict_on_batch(m, rnn_data_x(rnn_tensor2(x, BIG_ROWS, COLS)), &out, 1) ==
                  RNN_OK, "%d threads: finite input refused: %s", threads, rnn_last_error());
        rnn_tensor_free(&out);
        for (size_t k = 0; k < sizeof at / sizeof at[0]; k++)
            for (int later = 0; later < 2; later++) {
                const int second = at[k] < BIG / 2 ? BIG - 3 : -1; /* in the other part */
                x[at[k]] = NAN;
                if (later && second >= 0) x[second] = INFINITY;
                const rnn_status st =
                    rnn_predict_on_batch(m, rnn_data_x(rnn_tensor2(x, BIG_ROWS, COLS)), &out, 1);
                rnn_tensor_free(&out);
                char want[64];
                snprintf(want, sizeof want, "x contains NaN at flat index %d", at[k]);
                CHECK(st == RNN_ERR_NUMERIC && strstr(rnn_last_error(), want),
                      "%d threads, %s%s: status %d, \"%s\"", threads, want,
                      later ? " (and a later Inf)" : "", (int)st, rnn_last_error());
                x[at[k]] = 1.0f;
                if (second >= 0) x[second] = 1.0f;
            }
        /* only the second part holds one */
        x[BIG / 2 + 17] = -INFINITY;
        const rnn_status st =
            rnn_predict_on_batch(m, rnn_data_x(rnn_tensor2(x, BIG_ROWS, COLS)), &out, 1);
        rnn_tensor_free(&out);
        char want[64];
        snprintf(want, sizeof want, "x contains Inf at flat index %d", BIG / 2 + 17);
        CHECK(st == RNN_ERR_NUMERIC && strstr(rnn_last_error(), want), "%d threads, %s: \"%s\"",
              threads, want, rnn_last_error());
        x[BIG / 2 + 17] = 1.0f;
    }
    rnn_set_threads(0);
done:
    rnn_model_free(m);
    free(x);
}

/* The screen itself on short and odd lengths (a training step screens every gradient and weight,
 * most far shorter than a block): every position of a bad value in lengths around the 16-value
 * and 1,024-value screens, the first of two named. */
static void check_nonfinite_lengths(void) {
    static float y[2100];
    const int lens[] = {1, 7, 15, 16, 17, 31, 32, 33, 101, 1023, 1024, 1025, 1040, 1041, 2100};
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
        const int n = lens[l];
        for (int i = 0; i < n; i++) y[i] = (float)(i % 7) - 3.0f;
        CHECK(rnn__first_nonfinite(y, n) == -1, "n=%d: finite values reported", n);
        int wrong = 0;
        for (int at = 0; at < n; at++) {
            y[at] = (at % 2) ? NAN : -INFINITY;
            wrong += rnn__first_nonfinite(y, n) != at;
            if (at + 5 < n) {
                y[at + 5] = INFINITY; /* a later one does not hide the first */
                wrong += rnn__first_nonfinite(y, n) != at;
                y[at + 5] = 1.0f;
            }
            y[at] = 2.0f;
        }
        CHECK(wrong == 0, "n=%d: %d positions not found", n, wrong);
        /* a bad value just past n is not looked at */
        y[n - 1] = 0.5f;
        if (n < 2100) {
            y[n] = NAN;
            CHECK(rnn__first_nonfinite(y, n) == -1, "n=%d: read past the end", n);
            y[n] = 0.0f;
        }
    }
}

int main(void) {
    check_nonfinite_lengths();
    check_copies(0);
    check_copies(1);
    rnn_set_threads(0);
    check_bias_split();
    check_nonfinite();
    check_nonfinite_shared();
    return check_report("test_large_batch_paths");
}
