#include "gemm.h"

#include <stddef.h>

#ifdef RNN_USE_CBLAS
#include <cblas.h>
#endif

/* Below this many multiply-adds the plain loops win over a BLAS call (measured on LSTM(4),
 * batch 1, where every product is a few dozen flops). */
#define SMALL_GEMM_FLOPS 8192

/* Up to this many multiply-adds, and when op(A) has few rows, the AVX2 kernel of
 * gemm_avx2.c (operands read in place) beats the BLAS, which packs both operands on every call:
 * that covers every per-step product of batch <= 64 with units <= 128 (B2, B5, B6, the second
 * GRU of B3). Larger products (B4's per-step (64 x 512) x (512 x 2048), the input projections,
 * the weight gradients over all steps) go to the BLAS and its threads. Measured: DESIGN notes
 * in bench/README.md. */
#define OWN_GEMM_MACS (1 << 22)
#define OWN_GEMM_ROWS 64

void rnn__gemm_loops(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        if (beta == 0.0f)
            for (int j = 0; j < N; j++) c[j] = 0.0f;
        else if (beta != 1.0f)
            for (int j = 0; j < N; j++) c[j] *= beta;
    }
    if (!trans_b) {
        /* C[i,:] += a_ik * B[k,:]: unit-stride inner loop over N. */
        for (int i = 0; i < M; i++) {
            float *c = C + (size_t)i * ldc;
            for (int k = 0; k < K; k++) {
                float a = alpha * (trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]);
                const float *b = B + (size_t)k * ldb;
                for (int j = 0; j < N; j++) c[j] += a * b[j];
            }
        }
    } else {
        /* C[i,j] += dot(A[i,:], B[j,:]). */
        for (int i = 0; i < M; i++) {
            float *c = C + (size_t)i * ldc;
            for (int j = 0; j < N; j++) {
                const float *b = B + (size_t)j * ldb;
                float s = 0.0f;
                if (!trans_a) {
                    const float *a = A + (size_t)i * lda;
                    for (int k = 0; k < K; k++) s += a[k] * b[k];
                } else {
                    for (int k = 0; k < K; k++) s += A[(size_t)k * lda + i] * b[k];
                }
                c[j] += alpha * s;
            }
        }
    }
}

void rnn__gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* empty sum: C = beta * C */
        rnn__gemm_loops(0, 0, M, N, 0, alpha, A, 1, B, 1, beta, C, ldc);
        return;
    }
#ifdef RNN_USE_CBLAS
    const double macs = (double)M * N * K;
    if (macs > SMALL_GEMM_FLOPS && (trans_a || M > OWN_GEMM_ROWS || macs > OWN_GEMM_MACS)) {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C,
                    ldc);
        return;
    }
#endif
    if (rnn__gemm_fast(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
    rnn__gemm_loops(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void rnn__colsum_add(float *out, const float *m, int rows, int cols, int ld) {
    for (int i = 0; i < rows; i++) {
        const float *r = m + (size_t)i * ld;
        for (int j = 0; j < cols; j++) out[j] += r[j];
    }
}

#if defined(RNN_USE_CBLAS) && defined(OPENBLAS_VERSION)
void rnn__blas_set_threads(int n) { openblas_set_num_threads(n); }
const char *rnn__blas_name(void) { return OPENBLAS_VERSION; }
#elif defined(RNN_USE_CBLAS)
void rnn__blas_set_threads(int n) { (void)n; }
const char *rnn__blas_name(void) { return "CBLAS"; }
#else
void rnn__blas_set_threads(int n) { (void)n; }
const char *rnn__blas_name(void) { return "portable loops"; }
#endif
