/* Kernels and initializers: the BLAS path of the matrix product against the plain loops (all
 * four transpose cases, strided operands, beta 0/1/other), Keras's initializers checked
 * statistically (glorot_uniform's limit and spread, orthogonal's orthonormal rows), and the
 * activations' derivatives-from-outputs against finite differences. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/activations.h"
#include "kernels/gates.h"
#include "kernels/gemm.h"
#include "kernels/gemm_kernels.h"
#include "kernels/gemm_packed.h"
#include "rng.h"

static void test_gemm(void) {
    rnn_rng r;
    rnn__rng_seed(&r, 1);
    int sizes[][3] = {{1, 4, 3}, {7, 33, 5}, {64, 48, 40}, {130, 70, 90}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
        int lda_pad = 3, ldb_pad = 2, ldc_pad = 1;
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int bi = 0; bi < 3; bi++) {
                    float beta = bi == 0 ? 0.0f : bi == 1 ? 1.0f : 0.5f;
                    int ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
                    int lda = ac + lda_pad, ldb = bc + ldb_pad, ldc = N + ldc_pad;
                    float *A = malloc(sizeof(float) * ar * lda), *B = malloc(sizeof(float) * br * ldb);
                    float *C1 = malloc(sizeof(float) * M * ldc), *C2 = malloc(sizeof(float) * M * ldc);
                    for (int i = 0; i < ar * lda; i++) A[i] = (float)rnn__rng_uniform(&r) - 0.5f;
                    for (int i = 0; i < br * ldb; i++) B[i] = (float)rnn__rng_uniform(&r) - 0.5f;
                    for (int i = 0; i < M * ldc; i++) C1[i] = C2[i] = (float)rnn__rng_uniform(&r);
                    const rnn_gemm_opts o = {.trans_a = ta, .trans_b = tb, .alpha = 0.75f,
                                             .beta = beta};
                    rnn__product(M, N, K, A, lda, B, ldb, C1, ldc, &o);
                    rnn__gemm_loops(ta, tb, M, N, K, 0.75f, A, lda, B, ldb, beta, C2, ldc);
                    double worst = 0;
                    for (int i = 0; i < M; i++)
                        for (int j = 0; j < N; j++)
                            worst = fmax(worst, fabs(C1[i * ldc + j] - C2[i * ldc + j]));
                    CHECK(worst < 1e-4, "gemm %dx%dx%d ta=%d tb=%d beta=%g: max diff %g", M, N, K,
                          ta, tb, (double)beta, worst);
                    /* padding columns of C are untouched */
                    for (int i = 0; i < M; i++)
                        CHECK(C1[i * ldc + N] == C2[i * ldc + N], "gemm wrote past N");
                    free(A); free(B); free(C1); free(C2);
                }
    }
    /* A known product. */
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {7, 8, 9, 10, 11, 12}, c[4];
    rnn__product(2, 2, 3, a, 3, b, 2, c, 2, RNN_GEMM());
    CHECK(c[0] == 58 && c[1] == 64 && c[2] == 139 && c[3] == 154, "2x3 * 3x2 = %g %g %g %g",
          (double)c[0], (double)c[1], (double)c[2], (double)c[3]);
}

/* The AVX2 kernel directly (rnn__product sends it only some shapes): every tile size and tail,
 * one row (the row-streaming path), K and N not multiples of 8, NN, TN and NT. */
static void test_gemm_fast(void) {
    rnn_rng r;
    rnn__rng_seed(&r, 2);
    int sizes[][3] = {{1, 512, 128}, {1, 13, 9}, {1, 7, 3}, {2, 40, 17}, {3, 72, 8},
                      {5, 23, 31}, {7, 136, 64}, {13, 64, 100}, {32, 256, 64}, {1, 520, 1},
                      {200, 40, 10}, {150, 136, 70}};
    int fast = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int bi = 0; bi < 3; bi++) {
                    if (ta && tb) continue;
                    float beta = bi == 0 ? 0.0f : bi == 1 ? 1.0f : 0.5f;
                    float alpha = bi == 2 ? 0.75f : 1.0f;
                    int ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
                    int lda = ac + 1, ldb = bc + 3, ldc = N + 2;
                    float *A = malloc(sizeof(float) * ar * lda), *B = malloc(sizeof(float) * br * ldb);
                    float *C1 = malloc(sizeof(float) * M * ldc), *C2 = malloc(sizeof(float) * M * ldc);
                    for (int i = 0; i < ar * lda; i++) A[i] = (float)rnn__rng_uniform(&r) - 0.5f;
                    for (int i = 0; i < br * ldb; i++) B[i] = (float)rnn__rng_uniform(&r) - 0.5f;
                    for (int i = 0; i < M * ldc; i++) C1[i] = C2[i] = (float)rnn__rng_uniform(&r);
                    if (beta == 0.0f) /* beta 0 must not read C */
                        for (int i = 0; i < M; i++) C1[i * ldc] = NAN;
                    int done = rnn__gemm_fast(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C1, ldc);
                    fast |= done;
                    if (!done) rnn__gemm_loops(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C1, ldc);
                    rnn__gemm_loops(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C2, ldc);
                    double worst = 0;
                    for (int i = 0; i < M; i++)
                        for (int j = 0; j < N; j++) {
                            double d = fabs(C1[i * ldc + j] - C2[i * ldc + j]);
                            worst = d == d ? fmax(worst, d) : INFINITY;
                        }
                    CHECK(worst < 1e-4 * (1 + K / 64), "gemm_fast %dx%dx%d ta=%d tb=%d beta=%g: max "
                          "diff %g", M, N, K, ta, tb, (double)beta, worst);
                    for (int i = 0; i < M; i++)
                        CHECK(C1[i * ldc + N] == C2[i * ldc + N] && C1[i * ldc + N + 1] == C2[i * ldc + N + 1],
                              "gemm_fast wrote past N");
                    free(A); free(B); free(C1); free(C2);
                }
    }
#if defined(__GNUC__) && defined(__x86_64__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        CHECK(fast, "the AVX2 kernel was never used on a CPU that has AVX2 and FMA");
#endif
    (void)fast;
}

/* The AVX-512 tiles behind rnn__gemm_fast (kernels/gemm_avx512.c, products of more than one
 * row, NN and TN, with and without a bias row) against the AVX2 tiles, forced with
 * rnn__gemm_avx2_only: the same bits on odd shapes (rows around the 12-row tiles and the
 * 96-row chunks, N around the 16- and 32-column tiles, alpha, beta 0, 1 and other), nothing
 * written past N. */
static void test_gemm_fast_avx512(void) {
    if (!rnn__panels_avx512_available()) return;
    rnn_rng r;
    rnn__rng_seed(&r, 12);
    const int sizes[][3] = {{2, 5, 3},    {3, 17, 9},   {11, 31, 8},  {12, 32, 64},
                            {13, 33, 1},  {25, 47, 17}, {97, 70, 40}, {16, 256, 64},
                            {130, 136, 7}, {6, 600, 100}};
    for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
        const int M = sizes[c][0], N = sizes[c][1], K = sizes[c][2];
        for (int ta = 0; ta < 2; ta++)
            for (int mode = 0; mode < 4; mode++) { /* beta 0, 1, 0.5 with alpha 0.75, bias */
                const float beta = mode == 0 ? 0.0f : mode == 2 ? 0.5f : 1.0f;
                const float alpha = mode == 2 ? 0.75f : 1.0f;
                if (ta && mode == 3) continue;
                const int lda = (ta ? M : K) + 1, ldb = N + 3, ldc = N + 2;
                float *A = malloc(sizeof(float) * (ta ? K : M) * lda), *B = malloc(sizeof(float) * K * ldb);
                float *bias = malloc(sizeof(float) * N), *C1 = malloc(sizeof(float) * M * ldc);
                float *C2 = malloc(sizeof(float) * M * ldc), *C0 = malloc(sizeof(float) * M * ldc);
                for (int i = 0; i < (ta ? K : M) * lda; i++) A[i] = (float)rnn__rng_uniform(&r) - 0.5f;
                for (int i = 0; i < K * ldb; i++) B[i] = (float)rnn__rng_uniform(&r) - 0.5f;
                for (int j = 0; j < N; j++) bias[j] = (float)rnn__rng_uniform(&r);
                for (int i = 0; i < M * ldc; i++) C0[i] = C1[i] = C2[i] = (float)rnn__rng_uniform(&r);
                if (mode == 0) C1[0] = C2[0] = NAN; /* beta 0 must not read C */
                int done = 1;
                for (int run = 0; run < 2; run++) {
                    float *C = run ? C2 : C1;
                    rnn__gemm_avx2_only = run;
                    if (mode == 3)
                        done &= rnn__gemm_fast_bias(M, N, K, A, lda, B, ldb, bias, C, ldc);
                    else
                        done &= rnn__gemm_fast(ta, 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
                }
                rnn__gemm_avx2_only = 0;
                CHECK(done, "gemm_fast avx512 %dx%dx%d: nothing computed", M, N, K);
                CHECK(memcmp(C1, C2, sizeof(float) * M * ldc) == 0,
                      "gemm_fast %dx%dx%d ta=%d mode %d: AVX-512 and AVX2 tiles differ", M, N, K,
                      ta, mode);
                int past = 1;
                for (int i = 0; i < M; i++) past &= C1[i * ldc + N] == C0[i * ldc + N];
                CHECK(past && !isnan(C1[0]), "gemm_fast %dx%dx%d mode %d: wrote past N or read C",
                      M, N, K, mode);
                free(A); free(B); free(bias); free(C0); free(C1); free(C2);
            }
    }
}

/* Weight-gradient products of few rows, A^T B with A stored (K x M) and M <= 12 (a layer's
 * x^T dZ over all steps for a few input features, B2's and B6's first layers): by size
 * (RNN_GEMM_AUTO) they take the library's AVX-512 tiles, one row tile reading both operands in
 * place, where the CPU has AVX-512F (gemm.c, OWN_TN_ROWS), so they give RNN_GEMM_OWN's bits,
 * which the plain loops bound; with more rows, or without AVX-512, the BLAS's. */
static void test_gemm_tn_few_rows(void) {
    rnn_rng r;
    rnn__rng_seed(&r, 18);
    const int sizes[][3] = {{8, 256, 1600}, {12, 100, 1000}, {5, 37, 3001}, {1, 300, 2000},
                            {11, 47, 777}};
    for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
        const int M = sizes[c][0], N = sizes[c][1], K = sizes[c][2], lda = M + 3, ldb = N + 1;
        float *A = malloc(sizeof(float) * K * lda), *B = malloc(sizeof(float) * K * ldb);
        float *C1 = malloc(sizeof(float) * M * N), *C2 = malloc(sizeof(float) * M * N);
        float *C3 = malloc(sizeof(float) * M * N);
        for (int i = 0; i < K * lda; i++) A[i] = (float)rnn__rng_uniform(&r) - 0.5f;
        for (int i = 0; i < K * ldb; i++) B[i] = (float)rnn__rng_uniform(&r) - 0.5f;
        for (int i = 0; i < M * N; i++) C1[i] = C2[i] = C3[i] = (float)rnn__rng_uniform(&r);
        rnn__product(M, N, K, A, lda, B, ldb, C1, N, RNN_GEMM(.trans_a = 1, .beta = 1.0f));
        rnn__product(M, N, K, A, lda, B, ldb, C2, N,
                     RNN_GEMM(.trans_a = 1, .beta = 1.0f, .kernel = RNN_GEMM_OWN));
        rnn__product(M, N, K, A, lda, B, ldb, C3, N,
                     RNN_GEMM(.trans_a = 1, .beta = 1.0f, .kernel = RNN_GEMM_LOOPS));
        double worst = 0.0;
        for (int i = 0; i < M * N; i++) worst = fmax(worst, fabs((double)C2[i] - C3[i]));
        CHECK(worst < 1e-3, "A^T B %dx%dx%d: own tiles and loops differ by %g", M, N, K, worst);
        if (rnn__panels_avx512_available())
            CHECK(memcmp(C1, C2, sizeof(float) * M * N) == 0,
                  "A^T B %dx%dx%d by size: not the AVX-512 tiles' bits", M, N, K);
        free(A); free(B); free(C1); free(C2); free(C3);
    }
}

/* rnn__gemm_tn_steps_avx512 (a weight gradient over the steps of some rows of a batch, lstm.c)
 * against its definition in plain C, bit for bit: each element one chain of fmaf from 0 over
 * the steps, then the step's rows, in order, stored or added to C's old value. Shapes around the 12-row and 32-column tiles (a
 * partial last vector), one row, B2's (64 x 256, 50 steps of 16 rows) and its input side
 * (8 x 256); nothing written past N. */
static void test_gemm_tn_steps(void) {
    if (!rnn__panels_avx512_available()) return;
    rnn_rng r;
    rnn__rng_seed(&r, 21);
    const int sizes[][4] = {{64, 256, 50, 16}, {8, 256, 50, 16}, {13, 33, 3, 5}, {12, 32, 1, 1},
                            {25, 47, 7, 3},   {1, 17, 4, 2},     {100, 400, 2, 16}};
    for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
        const int M = sizes[c][0], N = sizes[c][1], S = sizes[c][2], R = sizes[c][3];
        const int lda = M + 3, ldb = N + 5, ldc = N + 2;
        const ptrdiff_t astep = (ptrdiff_t)(R + 2) * lda, bstep = (ptrdiff_t)(R + 1) * ldb;
        float *A = malloc(sizeof(float) * (size_t)(S * astep)), *B = malloc(sizeof(float) * (size_t)(S * bstep));
        float *C = malloc(sizeof(float) * (size_t)M * ldc), *ref = malloc(sizeof(float) * (size_t)M * ldc);
        for (ptrdiff_t i = 0; i < S * astep; i++) A[i] = (float)rnn__rng_uniform(&r) - 0.5f;
        for (ptrdiff_t i = 0; i < S * bstep; i++) B[i] = (float)rnn__rng_uniform(&r) - 0.5f;
        for (int add = 0; add < 2; add++) {
            /* without add the old values are not read (NaN); with add, C + the chain */
            for (int i = 0; i < M * ldc; i++)
                C[i] = ref[i] = add ? (float)rnn__rng_uniform(&r) : NAN;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    float acc = 0.0f;
                    for (int s = 0; s < S; s++)
                        for (int k = 0; k < R; k++)
                            acc = fmaf(A[s * astep + (ptrdiff_t)k * lda + i],
                                       B[s * bstep + (ptrdiff_t)k * ldb + j], acc);
                    ref[i * ldc + j] = add ? ref[i * ldc + j] + acc : acc;
                }
            CHECK(rnn__gemm_tn_steps_avx512(M, N, S, R, A, lda, astep, B, ldb, bstep, C, ldc, add),
                  "tn_steps %dx%d, %d steps of %d rows: nothing computed", M, N, S, R);
            int same = 1;
            for (int i = 0; i < M * ldc; i++)
                same &= (isnan(C[i]) && isnan(ref[i])) || C[i] == ref[i];
            CHECK(same, "tn_steps %dx%d, %d steps of %d rows, add %d: not the chain's bits (or "
                        "wrote past N)", M, N, S, R, add);
        }
        free(A); free(B); free(C); free(ref);
    }
}

/* Products against packed panels (kernels/gemm_packed.c): for K <= RNN_PANEL_KC the same bits
 * as the unpacked AVX2 tiles (RNN_GEMM_OWN, with and without a bias row) on every column range a thread
 * can get (lo a multiple of 8, any hi), row counts around the 6-row tiles and their blocks,
 * beta 0 (C never read), C's old values and a bias row; B^T packed from its transpose; longer
 * sums (chunked) and single rows against the plain loops' values within rounding; nothing
 * written outside the range. */
static void test_gemm_panels(void) {
    if (!rnn__gemm_panels_available()) {
        CHECK(rnn__gemm_panels(1, 1, NULL, 1, NULL, 8, 0, 0, 8, 0, NULL, 0, NULL, 1) == 0,
              "gemm_panels claims work without AVX2");
        return;
    }
    rnn_rng r;
    rnn__rng_seed(&r, 3);
    /* M, K, width (per block), groups, lo, hi, trans_b */
    const int cases[][7] = {{1, 8, 16, 1, 0, 16, 0},    {5, 37, 29, 4, 8, 29, 0},
                            {6, 64, 40, 3, 0, 40, 1},   {13, 100, 100, 4, 48, 96, 0},
                            {32, 512, 72, 4, 16, 72, 0}, {64, 33, 8, 2, 0, 5, 1},
                            {7, 1300, 24, 1, 8, 24, 1}, {3, 600, 40, 4, 0, 40, 0},
                            {400, 16, 24, 4, 0, 24, 0}, /* rows in blocks of 96 (K 512): */
                            {200, 512, 40, 2, 8, 40, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const int M = cases[c][0], K = cases[c][1], W = cases[c][2], G = cases[c][3];
        const int lo = cases[c][4], hi = cases[c][5], tb = cases[c][6], N = G * W;
        const int lda = K + 3, ldc = N + 2, ldb = tb ? K + 1 : N + 5;
        float *A = malloc(sizeof(float) * M * lda), *B = malloc(sizeof(float) * (tb ? N : K) * ldb);
        float *Bn = malloc(sizeof(float) * K * N), *bias = malloc(sizeof(float) * N);
        float *C1 = malloc(sizeof(float) * M * ldc), *C2 = malloc(sizeof(float) * M * ldc);
        float *C3 = malloc(sizeof(float) * M * ldc);
        float *P = malloc(sizeof(float) * rnn__panels_floats(K, G, W));
        for (int i = 0; i < M * lda; i++) A[i] = (float)rnn__rng_uniform(&r) - 0.5f;
        for (int i = 0; i < (tb ? N : K) * ldb; i++) B[i] = (float)rnn__rng_uniform(&r) - 0.5f;
        for (int k = 0; k < K; k++) /* B as (K, N) whichever way it is stored */
            for (int j = 0; j < N; j++) Bn[k * N + j] = tb ? B[j * ldb + k] : B[k * ldb + j];
        for (int j = 0; j < N; j++) bias[j] = (float)rnn__rng_uniform(&r);
        rnn__pack_panels(P, B, ldb, tb, K, G, W, 0, 1); /* in two parts, as two threads do */
        rnn__pack_panels(P, B, ldb, tb, K, G, W, 1, -1);
        for (int mode = 0; mode < 3; mode++) { /* beta 0, C's old values, a bias row */
            for (int i = 0; i < M * ldc; i++) C1[i] = C2[i] = C3[i] = (float)rnn__rng_uniform(&r);
            if (mode == 0) C1[lo] = C3[lo] = NAN; /* beta 0 must not read C */
            for (int g = 0; g < G; g++) {
                const float *S = mode == 2 ? bias : C1;
                const int col0 = g * W + lo; /* rnn__product: C and the bias at the range */
                CHECK(rnn__product(M, hi - lo, K, A, lda, P, 0, C3 + col0, ldc,
                                   RNN_GEMM(.beta = mode != 0, .kernel = RNN_GEMM_PANELS,
                                            .bias = mode == 2 ? bias + col0 : NULL, .width = W,
                                            .group = g, .col = lo)),
                      "rnn__product's panels did nothing on a CPU with AVX2");
                CHECK(rnn__gemm_panels(M, K, A, lda, P, W, g, lo, hi, mode != 0, S,
                                       mode == 2 ? 0 : ldc, C1, ldc),
                      "gemm_panels did nothing on a CPU with AVX2");
                const int c0 = g * W + lo;
                if (mode == 2)
                    rnn__product(M, hi - lo, K, A, lda, Bn + c0, N, C2 + c0, ldc,
                                 RNN_GEMM(.bias = bias + c0, .kernel = RNN_GEMM_OWN));
                else
                    rnn__product(M, hi - lo, K, A, lda, Bn + c0, N, C2 + c0, ldc,
                                 RNN_GEMM(.beta = mode ? 1.0f : 0.0f, .kernel = RNN_GEMM_OWN));
            }
            int same = 1, outside = 1;
            double worst = 0;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < ldc; j++) {
                    const float a = C1[i * ldc + j], b = C2[i * ldc + j];
                    const int in = j < N && j % W >= lo && j % W < hi;
                    if (!in) outside &= a == b;
                    else {
                        same &= a == b;
                        worst = fmax(worst, fabs((double)a - b));
                    }
                }
            CHECK(outside, "gemm_panels case %zu mode %d wrote outside its columns", c, mode);
            CHECK(memcmp(C1, C3, sizeof(float) * M * ldc) == 0,
                  "gemm_panels case %zu mode %d: rnn__product's panels differ from the kernel's", c,
                  mode);
            if (K <= RNN_PANEL_KC && M > 1) /* RNN_GEMM_OWN streams one row differently */
                CHECK(same, "gemm_panels case %zu mode %d: not the AVX2 tiles' bits (max diff %g)",
                      c, mode, worst);
            else
                CHECK(worst < 1e-5 * K, "gemm_panels case %zu (K %d, chunked) mode %d: max diff %g",
                      c, K, mode, worst);
        }
        free(A); free(B); free(Bn); free(bias); free(C1); free(C2); free(C3); free(P);
    }
}

/* The recurrent step's forms of h U + z (layers/lstm.c): U as G gate blocks or joined as one
 * block of G W columns, with z's old values in C or read from elsewhere (.src, C then never
 * read: NaN there); all four give the same bits, on widths that are and are not multiples of
 * the panel's 16, and rows around the tile heights. */
static void test_gemm_panels_joined_src(void) {
    if (!rnn__gemm_panels_available()) return;
    rnn_rng r;
    rnn__rng_seed(&r, 5);
    const int shapes[][3] = {{32, 100, 4}, {13, 100, 4}, {7, 24, 3}, {25, 64, 4}}; /* M, W, G */
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        const int M = shapes[c][0], W = shapes[c][1], G = shapes[c][2], K = W, N = G * W;
        const int lda = K + 1, ldc = N + 3;
        float *A = malloc(sizeof(float) * M * lda), *B = malloc(sizeof(float) * K * N);
        float *S = malloc(sizeof(float) * M * ldc), *ref = malloc(sizeof(float) * M * ldc);
        float *Cg = malloc(sizeof(float) * M * ldc), *Cj = malloc(sizeof(float) * M * ldc);
        float *Pg = malloc(sizeof(float) * rnn__panels_floats(K, G, W));
        float *Pj = malloc(sizeof(float) * rnn__panels_floats(K, 1, N));
        for (int i = 0; i < M * lda; i++) A[i] = (float)rnn__rng_uniform(&r) - 0.5f;
        for (int i = 0; i < K * N; i++) B[i] = (float)rnn__rng_uniform(&r) - 0.5f;
        for (int i = 0; i < M * ldc; i++) S[i] = (float)rnn__rng_uniform(&r);
        rnn__pack_panels(Pg, B, N, 0, K, G, W, 0, -1);
        rnn__pack_panels(Pj, B, N, 0, K, 1, N, 0, -1);
        memcpy(ref, S, sizeof(float) * M * ldc); /* the old values in C */
        for (int i = 0; i < M * ldc; i++) Cg[i] = Cj[i] = NAN;
        int ok = 1;
        for (int g = 0; g < G; g++) {
            ok &= rnn__product(M, W, K, A, lda, Pg, 0, ref + g * W, ldc,
                               RNN_GEMM(.beta = 1, .kernel = RNN_GEMM_PANELS, .width = W,
                                        .group = g, .col = 0));
            ok &= rnn__product(M, W, K, A, lda, Pg, 0, Cg + g * W, ldc,
                               RNN_GEMM(.beta = 1, .src = S + g * W, .kernel = RNN_GEMM_PANELS,
                                        .width = W, .group = g, .col = 0));
        }
        ok &= rnn__product(M, N, K, A, lda, Pj, 0, Cj, ldc,
                           RNN_GEMM(.beta = 1, .src = S, .kernel = RNN_GEMM_PANELS, .width = N,
                                    .group = 0, .col = 0));
        CHECK(ok, "panels shape %zu: a product did nothing on a CPU with AVX2", c);
        int same_g = 1, same_j = 1;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                same_g &= memcmp(&Cg[i * ldc + j], &ref[i * ldc + j], sizeof(float)) == 0;
                same_j &= memcmp(&Cj[i * ldc + j], &ref[i * ldc + j], sizeof(float)) == 0;
            }
        CHECK(same_g, "panels shape %zu: .src gives other bits than the old values in C", c);
        CHECK(same_j, "panels shape %zu: U joined gives other bits than its gate blocks", c);
        CHECK(isnan(Cj[N]) && isnan(Cg[N]), "panels shape %zu: wrote past the columns", c);
        free(A); free(B); free(S); free(ref); free(Cg); free(Cj); free(Pg); free(Pj);
    }
    float one = 1.0f, out = 0.0f;
    CHECK(rnn__product(1, 1, 1, &one, 1, &one, 1, &out, 1,
                       RNN_GEMM(.beta = 1, .src = &one, .kernel = RNN_GEMM_OWN)) == 0,
          ".src accepted by a kernel that would ignore it");
}

/* The AVX-512 panel tiles (kernels/gemm_avx512.c) against the AVX2 ones, each forced: the same
 * bits on odd shapes - rows around the 8-row and 6-row tiles, column ranges that start half-way
 * into a panel and end anywhere, groups of 1 to 3 panels and their tails, chunked sums (K above
 * RNN_PANEL_KC) - with beta 0 (C never read: a NaN there), C's old values and a bias row, and
 * within rounding of the plain loops; nothing written outside the range. */
static void test_gemm_panels_isas(void) {
    const int has512 = rnn__panels_avx512_available(), has2 = rnn__gemm_panels_available();
    if (!has512 || !has2) {
        CHECK(!has512 || rnn__gemm_panels_isa(RNN_PANELS_AVX512, 0, 1, NULL, 1, NULL, 8, 0, 0, 8,
                                              0, NULL, 0, NULL, 1),
              "the AVX-512 panels refuse work on a CPU that has them");
        CHECK(has512 || !rnn__gemm_panels_isa(RNN_PANELS_AVX512, 1, 1, NULL, 1, NULL, 8, 0, 0, 8,
                                              0, NULL, 0, NULL, 1),
              "the AVX-512 panels claim work without AVX-512");
        return;
    }
    rnn_rng r;
    rnn__rng_seed(&r, 11);
    /* M, K, width (per block), groups, lo, hi */
    const int cases[][6] = {{1, 5, 16, 1, 0, 16},     {7, 3, 24, 2, 8, 24},
                            {9, 19, 72, 4, 8, 67},    {15, 64, 100, 3, 24, 97},
                            {17, 130, 56, 4, 0, 56},  {23, 512, 200, 1, 40, 200},
                            {33, 700, 48, 2, 8, 41},  {8, 1029, 80, 4, 16, 80},
                            {70, 40, 130, 3, 0, 130}, {2, 511, 33, 2, 0, 33}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const int M = cases[c][0], K = cases[c][1], W = cases[c][2], G = cases[c][3];
        const int lo = cases[c][4], hi = cases[c][5], N = G * W;
        const int lda = K + 1, ldc = N + 3, ldb = N + 2;
        float *A = malloc(sizeof(float) * M * lda), *B = malloc(sizeof(float) * K * ldb);
        float *bias = malloc(sizeof(float) * N), *P = malloc(sizeof(float) * rnn__panels_floats(K, G, W));
        float *C1 = malloc(sizeof(float) * M * ldc), *C2 = malloc(sizeof(float) * M * ldc);
        float *C3 = malloc(sizeof(float) * M * ldc);
        for (int i = 0; i < M * lda; i++) A[i] = (float)rnn__rng_uniform(&r) - 0.5f;
        for (int i = 0; i < K * ldb; i++) B[i] = (float)rnn__rng_uniform(&r) - 0.5f;
        for (int j = 0; j < N; j++) bias[j] = (float)rnn__rng_uniform(&r);
        rnn__pack_panels(P, B, ldb, 0, K, G, W, 0, -1);
        for (int mode = 0; mode < 3; mode++) { /* beta 0, C's old values, a bias row */
            for (int i = 0; i < M * ldc; i++) C1[i] = C2[i] = C3[i] = (float)rnn__rng_uniform(&r);
            if (mode == 0) C1[lo] = C2[lo] = NAN; /* in the range: overwritten */
            int done = 1;
            for (int g = 0; g < G; g++) {
                const float *S1 = mode == 2 ? bias : C1, *S2 = mode == 2 ? bias : C2;
                done &= rnn__gemm_panels_isa(RNN_PANELS_AVX512, M, K, A, lda, P, W, g, lo, hi,
                                             mode != 0, S1, mode == 2 ? 0 : ldc, C1, ldc);
                done &= rnn__gemm_panels_isa(RNN_PANELS_AVX2, M, K, A, lda, P, W, g, lo, hi,
                                             mode != 0, S2, mode == 2 ? 0 : ldc, C2, ldc);
                const int c0 = g * W + lo;
                if (mode == 2)
                    rnn__product(M, hi - lo, K, A, lda, B + c0, ldb, C3 + c0, ldc,
                                 RNN_GEMM(.bias = bias + c0, .kernel = RNN_GEMM_LOOPS));
                else
                    rnn__product(M, hi - lo, K, A, lda, B + c0, ldb, C3 + c0, ldc,
                                 RNN_GEMM(.beta = mode ? 1.0f : 0.0f, .kernel = RNN_GEMM_LOOPS));
            }
            CHECK(done, "panels isas case %zu mode %d: a kernel did nothing", c, mode);
            int outside = 1;
            double worst = 0;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < ldc; j++) {
                    const size_t e = (size_t)i * ldc + j;
                    const int in = j < N && j % W >= lo && j % W < hi;
                    if (!in) outside &= C1[e] == C3[e];
                    else worst = fmax(worst, fabs((double)C1[e] - C3[e]));
                }
            CHECK(memcmp(C1, C2, sizeof(float) * M * ldc) == 0,
                  "panels isas case %zu mode %d: AVX-512 and AVX2 differ", c, mode);
            CHECK(outside, "panels isas case %zu mode %d: AVX-512 wrote outside its columns", c,
                  mode);
            CHECK(worst < 1e-5 * K + 1e-6, "panels isas case %zu mode %d: max diff %g from the loops",
                  c, mode, worst);
        }
        free(A); free(B); free(bias); free(P); free(C1); free(C2); free(C3);
    }
}

/* The fused cell passes (kernels/gates.c) against the layers' general loops written out here
 * (vectorised sigmoid/tanh over arrays, scalar updates): the same bits, full vectors and tails,
 * with the FMA variant of the activations (where the CPU has it: both sides pick it) and with
 * the portable one. Widths up to 77 cover the 32-lane blocks, the 8-lane blocks and the tails. */
static void test_fused_gates(void) {
    rnn_rng r;
    rnn__rng_seed(&r, 4);
    for (int run = 0; run < 9; run++) {
        /* runs 0-4: the dispatched variant (AVX-512's 16 lanes where the CPU has them: 100 is
         * 64 + 16 + 16 + 4 units in gates.c's cell pass), 5-6 the portable one, 7-8 the 8-lane
         * FMA one on a CPU with AVX-512 too */
        const int H = (int[]){5, 13, 21, 77, 100, 13, 77, 13, 100}[run];
        rnn__vmath_portable = run >= 7 ? 2 : run >= 5;
        enum { B = 3, MAXH = 100 };
        float z1[B * 4 * MAXH], z2[B * 4 * MAXH], cp[B * MAXH], c1[B * MAXH], c2[B * MAXH];
        float t1[B * MAXH], t2[B * MAXH], h1[B * MAXH], h2[B * MAXH], dh[B * MAXH];
        float d1[B * MAXH], d2[B * MAXH], g1[B * 3 * MAXH], g2[B * 3 * MAXH];
        float a1[B * MAXH], a2[B * MAXH], hp[B * MAXH];
        for (int i = 0; i < B * 4 * H; i++) z1[i] = z2[i] = 4.0f * ((float)rnn__rng_uniform(&r) - 0.5f);
        for (int i = 0; i < B * H; i++) {
            cp[i] = 2.0f * ((float)rnn__rng_uniform(&r) - 0.5f);
            dh[i] = (float)rnn__rng_uniform(&r) - 0.5f;
            d1[i] = d2[i] = (float)rnn__rng_uniform(&r) - 0.5f;
            hp[i] = (float)rnn__rng_uniform(&r) - 0.5f;
        }
        /* LSTM forward; the same pass split in two unit ranges gives the same bits */
        float z3[B * 4 * MAXH], c3[B * MAXH], t3[B * MAXH], h3[B * MAXH];
        const int split = H / 3 + 1;
        memcpy(z3, z1, sizeof z3);
        rnn__lstm_gates_forward(z3, cp, c3, t3, h3, B, H, 0, split);
        rnn__lstm_gates_forward(z3, cp, c3, t3, h3, B, H, split, H);
        rnn__lstm_gates_forward(z1, cp, c1, t1, h1, B, H, 0, H);
        CHECK(memcmp(z1, z3, sizeof(float) * B * 4 * H) == 0 && memcmp(c1, c3, sizeof(float) * B * H) == 0 &&
              memcmp(t1, t3, sizeof(float) * B * H) == 0 && memcmp(h1, h3, sizeof(float) * B * H) == 0,
              "LSTM forward over [0, %d) and [%d, %d) differs from [0, %d)", split, split, H, H);
        for (int b = 0; b < B; b++) {
            float *zb = z2 + b * 4 * H;
            rnn__act_vec(RNN_SIGMOID, zb, 2 * H);
            rnn__act_vec(RNN_TANH, zb + 2 * H, H);
            rnn__act_vec(RNN_SIGMOID, zb + 3 * H, H);
            for (int j = 0; j < H; j++) t2[b * H + j] = c2[b * H + j] = zb[H + j] * cp[b * H + j] + zb[j] * zb[2 * H + j];
            rnn__act_vec(RNN_TANH, t2 + b * H, H);
            for (int j = 0; j < H; j++) h2[b * H + j] = zb[3 * H + j] * t2[b * H + j];
        }
        CHECK(memcmp(z1, z2, sizeof(float) * B * 4 * H) == 0 && memcmp(c1, c2, sizeof(float) * B * H) == 0 &&
              memcmp(t1, t2, sizeof(float) * B * H) == 0 && memcmp(h1, h2, sizeof(float) * B * H) == 0,
              "fused LSTM forward differs from the loops (H=%d)", H);
        /* LSTM backward with the output gradient dy (rows H + 3 apart) read alongside dh, over
         * two unit ranges: the same bits as the pass on dh + dy, and dh left as it was */
        {
            enum { DYROW = MAXH + 3 };
            float z4[B * 4 * MAXH], z5[B * 4 * MAXH], d4[B * MAXH], d5[B * MAXH];
            float dy[B * DYROW], dhs[B * MAXH], dh0[B * MAXH];
            memcpy(z4, z1, sizeof z4);
            memcpy(z5, z1, sizeof z5);
            memcpy(d4, d1, sizeof d4);
            memcpy(d5, d1, sizeof d5);
            memcpy(dh0, dh, sizeof dh0);
            for (int i = 0; i < B * DYROW; i++) dy[i] = (float)rnn__rng_uniform(&r) - 0.5f;
            for (int b = 0; b < B; b++)
                for (int j = 0; j < H; j++) dhs[b * H + j] = dh[b * H + j] + dy[b * DYROW + j];
            rnn__lstm_gates_backward_dy(z4, t1, cp, dh, dy, DYROW, d4, B, H, 0, split);
            rnn__lstm_gates_backward_dy(z4, t1, cp, dh, dy, DYROW, d4, B, H, split, H);
            rnn__lstm_gates_backward(z5, t1, cp, dhs, d5, B, H, 0, H);
            CHECK(memcmp(z4, z5, sizeof(float) * B * 4 * H) == 0 &&
                      memcmp(d4, d5, sizeof(float) * B * H) == 0 &&
                      memcmp(dh, dh0, sizeof(float) * B * H) == 0,
                  "LSTM backward with dy differs from the pass on dh + dy (H=%d)", H);
        }
        /* LSTM backward */
        rnn__lstm_gates_backward(z1, t1, cp, dh, d1, B, H, 0, H);
        for (int b = 0; b < B; b++)
            for (int j = 0; j < H; j++) {
                float *zb = z2 + b * 4 * H;
                float i = zb[j], f = zb[H + j], g = zb[2 * H + j], o = zb[3 * H + j], tcv = t2[b * H + j];
                float dct = d2[b * H + j] + dh[b * H + j] * o * rnn__act_grad(RNN_TANH, tcv);
                float dov = dh[b * H + j] * tcv;
                zb[j] = dct * g * rnn__act_grad(RNN_SIGMOID, i);
                zb[H + j] = dct * cp[b * H + j] * rnn__act_grad(RNN_SIGMOID, f);
                zb[2 * H + j] = dct * i * rnn__act_grad(RNN_TANH, g);
                zb[3 * H + j] = dov * rnn__act_grad(RNN_SIGMOID, o);
                d2[b * H + j] = dct * f;
            }
        CHECK(memcmp(z1, z2, sizeof(float) * B * 4 * H) == 0 && memcmp(d1, d2, sizeof(float) * B * H) == 0,
              "fused LSTM backward differs from the loops (H=%d)", H);
        /* GRU (reset_after) forward: x in z1/z2's first 3H per row, g in g1/g2 */
        for (int i = 0; i < B * 3 * H; i++) {
            z1[i] = z2[i] = 4.0f * ((float)rnn__rng_uniform(&r) - 0.5f);
            g1[i] = g2[i] = 2.0f * ((float)rnn__rng_uniform(&r) - 0.5f);
        }
        memcpy(z3, z1, sizeof z3);
        rnn__gru_gates_forward(z3, g1, hp, h3, c3, B, H, 0, split);
        rnn__gru_gates_forward(z3, g1, hp, h3, c3, B, H, split, H);
        rnn__gru_gates_forward(z1, g1, hp, h1, a1, B, H, 0, H);
        CHECK(memcmp(z1, z3, sizeof(float) * B * 3 * H) == 0 && memcmp(h1, h3, sizeof(float) * B * H) == 0 &&
              memcmp(a1, c3, sizeof(float) * B * H) == 0, "GRU forward split at %d differs (H=%d)", split, H);
        for (int b = 0; b < B; b++) {
            float *xb = z2 + b * 3 * H;
            const float *gb = g2 + b * 3 * H;
            for (int j = 0; j < 2 * H; j++) xb[j] += gb[j];
            rnn__act_vec(RNN_SIGMOID, xb, 2 * H);
            for (int j = 0; j < H; j++) xb[2 * H + j] += xb[H + j] * gb[2 * H + j];
            rnn__act_vec(RNN_TANH, xb + 2 * H, H);
            for (int j = 0; j < H; j++) {
                float zz = xb[j];
                h2[b * H + j] = zz * hp[b * H + j] + (1.0f - zz) * xb[2 * H + j];
                a2[b * H + j] = gb[2 * H + j];
            }
        }
        CHECK(memcmp(z1, z2, sizeof(float) * B * 3 * H) == 0 && memcmp(h1, h2, sizeof(float) * B * H) == 0 &&
              memcmp(a1, a2, sizeof(float) * B * H) == 0, "fused GRU forward differs (H=%d)", H);
        /* GRU backward */
        memcpy(t1, dh, sizeof(float) * B * H);
        memcpy(t2, dh, sizeof(float) * B * H);
        rnn__gru_gates_backward(z1, g1, a1, hp, t1, B, H, 0, H);
        for (int b = 0; b < B; b++)
            for (int j = 0; j < H; j++) {
                float *xb = z2 + b * 3 * H, *gb = g2 + b * 3 * H, *dhb = t2 + b * H, *ab = a2 + b * H;
                float zz = xb[j], rr = xb[H + j], hh = xb[2 * H + j];
                float dz = dhb[j] * (hp[b * H + j] - hh);
                float dah = dhb[j] * (1.0f - zz) * rnn__act_grad(RNN_TANH, hh);
                float daz = dz * rnn__act_grad(RNN_SIGMOID, zz);
                dhb[j] = dhb[j] * zz;
                xb[j] = daz;
                xb[2 * H + j] = dah;
                float dar = dah * ab[j] * rnn__act_grad(RNN_SIGMOID, rr);
                xb[H + j] = dar;
                ab[j] = dah * rr;
                gb[j] = daz;
                gb[H + j] = dar;
                gb[2 * H + j] = ab[j];
            }
        CHECK(memcmp(z1, z2, sizeof(float) * B * 3 * H) == 0 && memcmp(g1, g2, sizeof(float) * B * 3 * H) == 0 &&
              memcmp(a1, a2, sizeof(float) * B * H) == 0 && memcmp(t1, t2, sizeof(float) * B * H) == 0,
              "fused GRU backward differs (H=%d)", H);
    }
    rnn__vmath_portable = 0;
}

/* The vectorised sigmoid and tanh (vmath.c: the FMA variant where the CPU has AVX2 and FMA, and
 * the portable one) against double-precision references over the whole float range: a dense
 * sweep of [-30, 30], 64 mantissas of every exponent of both signs (tiny, huge, subnormal),
 * random bit patterns and random values, and the special points. Bounds: 3 ulp of the reference
 * where it is a normal float; where it is below FLT_MIN (sigmoid below x = -87.3, saturated to
 * about 6e-39 from x = -88) 1e-38 absolute; tanh exactly +-1 from |x| = 10, +-0 at +-0,
 * sigmoid exactly 0.5 at 0; every output finite, NaN stays NaN. */
static double ulp_of(double r) {
    r = fabs(r);
    return r < 0x1p-126 ? 0x1p-149 : ldexp(1.0, ilogb(r) - 23);
}

static void test_vmath_accuracy(void) {
    enum { NDENSE = 600001, NEXP = 255 * 64 * 2, NRBITS = 400000, NRVAL = 200000 };
    static const float special[] = {0.0f, -0.0f, 1e-45f, -1e-45f, 1.17549435e-38f, -1.17549435e-38f,
                                    1e-30f, -1e-30f, 0.3466f, -0.3466f, 0.625f, -0.625f, 8.66f,
                                    -8.66f, 9.01f, -9.01f, 17.0f, -17.0f, 20.0f, -20.0f, 86.5f,
                                    -86.5f, 87.3f, -87.3f, 88.0f, -88.0f, 88.8f, -88.8f, 100.0f,
                                    -100.0f, 1e10f, -1e10f, 3.40282347e38f, -3.40282347e38f};
    const long nspec = (long)(sizeof special / sizeof special[0]);
    const long n = NDENSE + NEXP + NRBITS + NRVAL + nspec;
    float *x = malloc(sizeof(float) * n), *ys = malloc(sizeof(float) * n), *yt = malloc(sizeof(float) * n);
    rnn_rng r;
    rnn__rng_seed(&r, 6);
    long m = 0;
    for (long i = 0; i < NDENSE; i++) x[m++] = (float)(-30.0 + 1e-4 * (double)i);
    for (uint32_t e = 0; e < 255; e++)
        for (uint32_t k = 0; k < 64; k++)
            for (uint32_t sgn = 0; sgn < 2; sgn++) {
                uint32_t bits = sgn << 31 | e << 23 | (k * 131071u) % (1u << 23);
                memcpy(&x[m++], &bits, sizeof bits);
            }
    while (m < NDENSE + NEXP + NRBITS) {
        uint32_t bits = (uint32_t)(rnn__rng_next(&r) >> 16);
        float v;
        memcpy(&v, &bits, sizeof v);
        if (isfinite(v)) x[m++] = v;
    }
    for (long i = 0; i < NRVAL; i++) x[m++] = (float)(40.0 * rnn__rng_uniform(&r) - 20.0);
    for (long i = 0; i < nspec; i++) x[m++] = special[i];
    for (int portable = 0; portable < 3; portable++) {
        rnn__vmath_portable = portable; /* 2: the 8-lane FMA variant on an AVX-512 CPU */
        rnn__v_sigmoid(ys, x, n);
        rnn__v_tanh(yt, x, n);
        double s_ulp = 0, t_ulp = 0, s_abs = 0, t_abs = 0;
        long bad_s = 0, bad_t = 0, bad_fin = 0;
        float bad_sx = 0, bad_tx = 0;
        for (long i = 0; i < n; i++) {
            double xd = x[i], rs = 1.0 / (1.0 + exp(-xd)), rt = tanh(xd);
            double es = fabs(ys[i] - rs), et = fabs(yt[i] - rt);
            if (!isfinite(ys[i]) || !isfinite(yt[i])) bad_fin++;
            s_abs = fmax(s_abs, es);
            t_abs = fmax(t_abs, et);
            if (rs >= 0x1p-126) {
                s_ulp = fmax(s_ulp, es / ulp_of(rs));
                if (!(es <= 3 * ulp_of(rs))) bad_s++, bad_sx = x[i];
            } else if (!(es <= 1e-38)) bad_s++, bad_sx = x[i];
            t_ulp = fmax(t_ulp, et / ulp_of(rt));
            if (!(et <= 3 * ulp_of(rt))) bad_t++, bad_tx = x[i];
            if (fabsf(x[i]) >= 10.0f && yt[i] != copysignf(1.0f, x[i])) bad_t++, bad_tx = x[i];
        }
        const char *which = portable == 1 ? "portable"
                            : portable == 2 ? "8-lane FMA (where available)"
                                            : "dispatched (AVX-512 or FMA where available)";
        CHECK(bad_fin == 0, "%s: %ld non-finite outputs for finite inputs", which, bad_fin);
        CHECK(bad_s == 0, "%s sigmoid: %ld values beyond 3 ulp / 1e-38 (e.g. x = %.9g), max %.2f ulp",
              which, bad_s, (double)bad_sx, s_ulp);
        CHECK(bad_t == 0, "%s tanh: %ld values beyond 3 ulp or not +-1 (e.g. x = %.9g), max %.2f ulp",
              which, bad_t, (double)bad_tx, t_ulp);
        CHECK(s_abs <= 1e-7 && t_abs <= 1e-7, "%s: max absolute error sigmoid %g, tanh %g", which,
              s_abs, t_abs);
        fprintf(stderr, "vmath %s: %ld inputs, sigmoid max %.2f ulp (abs %.2g), tanh max %.2f ulp (abs %.2g)\n",
                which, n, s_ulp, s_abs, t_ulp, t_abs);
        /* exact points */
        float sp[4] = {0.0f, -0.0f, -100.0f, 100.0f}, so[4], to[4];
        rnn__v_sigmoid(so, sp, 4);
        rnn__v_tanh(to, sp, 4);
        CHECK(so[0] == 0.5f && so[1] == 0.5f && so[2] >= 0.0f && so[2] < 1e-38f && so[3] == 1.0f,
              "%s sigmoid(0, -0, -100, 100) = %g %g %g %g", which, (double)so[0], (double)so[1],
              (double)so[2], (double)so[3]);
        CHECK(to[0] == 0.0f && !signbit(to[0]) && to[1] == 0.0f && signbit(to[1]) && to[2] == -1.0f &&
              to[3] == 1.0f, "%s tanh(0, -0, -100, 100) = %g %g %g %g", which, (double)to[0],
              (double)to[1], (double)to[2], (double)to[3]);
        float nan_in[2] = {NAN, -NAN}, nan_out[2];
        rnn__v_sigmoid(nan_out, nan_in, 2);
        CHECK(isnan(nan_out[0]) && isnan(nan_out[1]), "%s sigmoid(NaN) = %g", which, (double)nan_out[0]);
        rnn__v_tanh(nan_out, nan_in, 2);
        CHECK(isnan(nan_out[0]) && isnan(nan_out[1]), "%s tanh(NaN) = %g", which, (double)nan_out[0]);
        /* NaNs with any payload, both signs, quiet and signalling: the exponent step of the
         * sigmoid (2^k added to the exponent bits) once turned most of them into 1 */
        enum { NNAN = 4099 };
        float nx[NNAN], ns[NNAN], nt[NNAN];
        for (uint32_t i = 0; i < NNAN; i++) {
            uint32_t bits = (i & 1u) << 31 | 0x7f800000u | (1u + (i * 2047u) % 0x7fffffu);
            memcpy(&nx[i], &bits, sizeof bits);
        }
        rnn__v_sigmoid(ns, nx, NNAN);
        rnn__v_tanh(nt, nx, NNAN);
        long nan_lost = 0;
        for (int i = 0; i < NNAN; i++) nan_lost += !isnan(ns[i]) + !isnan(nt[i]);
        CHECK(nan_lost == 0, "%s: %ld of %d NaN inputs gave a number", which, nan_lost, 2 * NNAN);
    }
    rnn__vmath_portable = 0;
    free(x); free(ys); free(yt);
}

/* Bias-gradient column sums (AVX2 where available) against the plain loop: the same bits. */
static void test_colsum(void) {
    rnn_rng r;
    rnn__rng_seed(&r, 5);
    int shapes[][2] = {{1, 1}, {5, 7}, {33, 8}, {7, 65}, {33, 130}, {40, 200}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int rows = shapes[s][0], cols = shapes[s][1], ld = cols + 3;
        float *m = malloc(sizeof(float) * rows * ld), *o1 = malloc(sizeof(float) * (cols + 1)),
              *o2 = malloc(sizeof(float) * (cols + 1));
        for (int i = 0; i < rows * ld; i++) m[i] = (float)rnn__rng_uniform(&r) - 0.5f;
        for (int j = 0; j <= cols; j++) o1[j] = o2[j] = (float)rnn__rng_uniform(&r);
        rnn__colsum_add(o1, m, rows, cols, ld);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) o2[j] += m[i * ld + j];
        CHECK(memcmp(o1, o2, sizeof(float) * (cols + 1)) == 0, "colsum %dx%d differs from the loop",
              rows, cols);
        free(m); free(o1); free(o2);
    }
}

/* The orthogonal initializer as first written (Householder, one column at a time), kept here
 * as the reference for rng.c's faster loops, which must give the same bits: a model's initial
 * weights for a seed do not change between versions. */
static void reference_orthogonal(rnn_rng *r, float *w, int64_t rows, int64_t cols) {
    int64_t m = rows > cols ? rows : cols, n = rows > cols ? cols : rows;
    double *a = malloc(sizeof(double) * (size_t)(m * n)), *q = malloc(sizeof(double) * (size_t)(m * n));
    double *v = malloc(sizeof(double) * (size_t)m), *d = malloc(sizeof(double) * (size_t)n);
    double *vs = malloc(sizeof(double) * (size_t)(m * n));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) a[j * m + i] = rnn__rng_normal(r);
    for (int64_t k = 0; k < n; k++) {
        double norm = 0;
        for (int64_t i = k; i < m; i++) norm += a[k * m + i] * a[k * m + i];
        norm = sqrt(norm);
        double alpha = a[k * m + k] > 0 ? -norm : norm;
        for (int64_t i = 0; i < m; i++) v[i] = i < k ? 0 : a[k * m + i];
        v[k] -= alpha;
        double vn = 0;
        for (int64_t i = k; i < m; i++) vn += v[i] * v[i];
        if (vn > 0)
            for (int64_t j = k; j < n; j++) {
                double dot = 0;
                for (int64_t i = k; i < m; i++) dot += v[i] * a[j * m + i];
                double f = 2 * dot / vn;
                for (int64_t i = k; i < m; i++) a[j * m + i] -= f * v[i];
            }
        for (int64_t i = 0; i < m; i++) vs[k * m + i] = vn > 0 ? v[i] / sqrt(vn) : 0;
        d[k] = a[k * m + k];
    }
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < m; i++) q[j * m + i] = i == j ? 1 : 0;
    for (int64_t k = n - 1; k >= 0; k--)
        for (int64_t j = 0; j < n; j++) {
            double dot = 0;
            for (int64_t i = k; i < m; i++) dot += vs[k * m + i] * q[j * m + i];
            for (int64_t i = k; i < m; i++) q[j * m + i] -= 2 * dot * vs[k * m + i];
        }
    for (int64_t j = 0; j < n; j++) {
        double s = d[j] < 0 ? -1 : 1;
        for (int64_t i = 0; i < m; i++) q[j * m + i] *= s;
    }
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            w[i * cols + j] = (float)(rows >= cols ? q[j * m + i] : q[i * m + j]);
    free(a); free(q); free(v); free(d); free(vs);
}

static void test_orthogonal_bits(void) {
    const int shapes[][2] = {{4, 16}, {7, 7}, {30, 12}, {20, 80}, {67, 268}, {128, 512}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int rows = shapes[s][0], cols = shapes[s][1];
        float *w1 = malloc(sizeof(float) * rows * cols), *w2 = malloc(sizeof(float) * rows * cols);
        rnn_rng r1, r2;
        rnn__rng_seed(&r1, 40 + s);
        rnn__rng_seed(&r2, 40 + s);
        CHECK(rnn__init_orthogonal(&r1, w1, rows, cols) == 0, "orthogonal failed");
        reference_orthogonal(&r2, w2, rows, cols);
        CHECK(memcmp(w1, w2, sizeof(float) * rows * cols) == 0,
              "orthogonal (%d, %d): not the reference loops' bits", rows, cols);
        free(w1);
        free(w2);
    }
}

static void test_initializers(void) {
    rnn_rng r;
    rnn__rng_seed(&r, 3);
    /* glorot_uniform on (F=10, 4H=80): U(-L, L), L = sqrt(6 / 90); variance L^2 / 3. */
    enum { R = 10, C = 80 };
    static float w[R * C];
    rnn__init_glorot_uniform(&r, w, R, C);
    double L = sqrt(6.0 / (R + C)), mean = 0, var = 0, maxabs = 0;
    for (int i = 0; i < R * C; i++) {
        mean += w[i];
        var += (double)w[i] * w[i];
        maxabs = fmax(maxabs, fabs(w[i]));
    }
    mean /= R * C;
    var /= R * C;
    CHECK(maxabs <= L && maxabs > 0.95 * L, "glorot range: max %g, limit %g", maxabs, L);
    CHECK(fabs(mean) < 0.02, "glorot mean %g", mean);
    CHECK(fabs(var - L * L / 3) < 0.1 * L * L / 3, "glorot variance %g, expected %g", var, L * L / 3);
    /* orthogonal recurrent kernel (H, 4H): U U^T = I_H, and square (H, H): also U^T U = I. */
    int shapes[][2] = {{6, 24}, {8, 8}, {20, 5}};
    for (int s = 0; s < 3; s++) {
        int rows = shapes[s][0], cols = shapes[s][1];
        float *u = malloc(sizeof(float) * rows * cols);
        CHECK(rnn__init_orthogonal(&r, u, rows, cols) == 0, "orthogonal failed");
        int small = rows < cols ? rows : cols;
        double worst = 0;
        for (int i = 0; i < small; i++)
            for (int j = 0; j < small; j++) {
                double dot = 0;
                if (rows <= cols)
                    for (int k = 0; k < cols; k++) dot += (double)u[i * cols + k] * u[j * cols + k];
                else
                    for (int k = 0; k < rows; k++) dot += (double)u[k * cols + i] * u[k * cols + j];
                worst = fmax(worst, fabs(dot - (i == j)));
            }
        CHECK(worst < 1e-5, "orthogonal (%d, %d): max |U U^T - I| = %g", rows, cols, worst);
        free(u);
    }
    /* Same seed, same numbers. */
    rnn_rng a, b;
    rnn__rng_seed(&a, 99);
    rnn__rng_seed(&b, 99);
    CHECK(rnn__rng_next(&a) == rnn__rng_next(&b), "generator is not repeatable");
}

static void test_activations(void) {
    rnn_activation all[] = {RNN_LINEAR, RNN_TANH, RNN_SIGMOID, RNN_HARD_SIGMOID,
                            RNN_HARD_SIGMOID_LEGACY, RNN_RELU, RNN_ELU, RNN_SELU, RNN_SOFTPLUS};
    float xs[] = {-2.2f, -0.7f, -0.1f, 0.3f, 1.1f, 2.2f};
    for (size_t a = 0; a < sizeof all / sizeof all[0]; a++)
        for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
            double h = 1e-3, x = xs[i];
            double fd = (rnn__act(all[a], (float)(x + h)) - rnn__act(all[a], (float)(x - h))) / (2 * h);
            double g = rnn__act_grad(all[a], rnn__act(all[a], (float)x));
            CHECK(fabs(fd - g) < 2e-3 + 1e-2 * fabs(fd), "%s'(%g): %g vs %g",
                  rnn_activation_name(all[a]), x, g, fd);
        }
    /* Keras's exact formulas at known points. */
    CHECK(rnn__act(RNN_HARD_SIGMOID, 1.5f) == 0.75f, "Keras 3 hard_sigmoid(1.5) = relu6(4.5)/6");
    CHECK(fabsf(rnn__act(RNN_HARD_SIGMOID_LEGACY, 1.5f) - 0.8f) < 1e-7f, "legacy hard_sigmoid(1.5) = 0.8");
    CHECK(rnn__act(RNN_HARD_SIGMOID, 3.5f) == 1.0f && rnn__act(RNN_HARD_SIGMOID_LEGACY, 2.6f) == 1.0f,
          "hard_sigmoid saturation");
    CHECK(rnn_activation_from_name("hard_sigmoid") == RNN_HARD_SIGMOID &&
          rnn_activation_from_name("tanh") == RNN_TANH && rnn_activation_from_name("nope") == -1,
          "activation names");
}

int main(void) {
    test_gemm();
    test_gemm_fast();
    test_gemm_fast_avx512();
    test_gemm_tn_few_rows();
    test_gemm_tn_steps();
    test_gemm_panels();
    test_gemm_panels_joined_src();
    test_gemm_panels_isas();
    test_vmath_accuracy();
    test_fused_gates();
    test_colsum();
    test_initializers();
    test_orthogonal_bits();
    test_activations();
    return check_report("test_kernels");
}
