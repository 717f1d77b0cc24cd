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
                    rnn__gemm(ta, tb, M, N, K, 0.75f, A, lda, B, ldb, beta, C1, ldc);
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
    rnn__gemm(0, 0, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c, 2);
    CHECK(c[0] == 58 && c[1] == 64 && c[2] == 139 && c[3] == 154, "2x3 * 3x2 = %g %g %g %g",
          (double)c[0], (double)c[1], (double)c[2], (double)c[3]);
}

/* The AVX2 kernel directly (rnn__gemm sends it only some shapes): every tile size and tail,
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

/* The fused cell passes (kernels/gates.c) against the layers' general loops written out here
 * (vectorised sigmoid/tanh over arrays, scalar updates): the same bits, full vectors and tails. */
static void test_fused_gates(void) {
    rnn_rng r;
    rnn__rng_seed(&r, 4);
    for (int H = 5; H <= 21; H += 8) {
        enum { B = 3, MAXH = 21 };
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
        /* LSTM forward */
        rnn__lstm_gates_forward(z1, cp, c1, t1, h1, B, H, 0, H);
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
        rnn__gru_gates_forward(z1, g1, hp, h1, a1, B, H, 0, H);
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
    test_fused_gates();
    test_colsum();
    test_initializers();
    test_activations();
    return check_report("test_kernels");
}
