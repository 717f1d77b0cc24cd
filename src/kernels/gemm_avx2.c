/* Small and medium matrix products with AVX2 + FMA, one thread, no packing, no allocation.
 *
 * Why: a recurrent step multiplies a few rows (the batch: 1 for streaming, 32 or 64 for
 * training) by the recurrent kernel. OpenBLAS packs the whole kernel into its own layout on
 * every call, which for B5's one-row products costs more than the arithmetic (bench/README.md
 * has the measurements). Here the operands are read where they lie: each tile of C
 * keeps its accumulators in registers for the whole K loop and streams K rows of a narrow
 * column panel of B (at most 256 bytes per row), which stays in L1/L2 across the row blocks.
 *
 *   NN  C (M,N) = alpha * A B + beta * C        A element (i,k) at A[i*ars + k*acs], so the same
 *   TN  C (M,N) = alpha * A^T B + beta * C      tile code serves A and A^T (A^T: ars 1, acs lda)
 *   NT  C (M,N) = alpha * A B^T + beta * C      dot products along K (B stored (N,K))
 *
 * Numerics: IEEE float with fused multiply-adds and a different summation order than the plain
 * loops or the BLAS (each is a valid float evaluation of the same sum; tests/test_kernels.c
 * compares them). The result does not depend on anything but the operands and shapes: no
 * threads, no run-time blocking choices. beta == 0 never reads C (NaN/Inf in C are dropped, as
 * the BLAS does). Compiled at -O3 (Makefile) so that the fixed-size tiles unroll into
 * registers. Selected at run time with __builtin_cpu_supports; other CPUs and compilers get
 * rnn__gemm_fast() == 0 and the caller's plain loops. Where the CPU has AVX-512F, NN and TN
 * products of more than one row run gemm_avx512.c's 16-lane tiles instead, which do the same
 * operations per element and so give the same bits. */
#include "kernels/gemm_kernels.h"

int rnn__gemm_avx2_only = 0;

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

/* r -1s then zeros: mask_from(r) = loadu(mask_tab + 8 - r), for K tails of r < 8 floats. */
static const int32_t mask_tab[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* c = alpha * acc + beta * s, beta 0 without reading s. s is c itself, or a bias row that
 * stands in for c's old values (rnn__gemm_fast_bias: the same additions as copying the bias
 * into c first, without the copy). */
INLINE AVX2 void store8(float *c, const float *s, __m256 acc, float alpha, float beta) {
    if (alpha != 1.0f) acc = _mm256_mul_ps(acc, _mm256_set1_ps(alpha));
    if (beta == 1.0f) acc = _mm256_add_ps(_mm256_loadu_ps(s), acc);
    else if (beta != 0.0f) acc = _mm256_fmadd_ps(_mm256_set1_ps(beta), _mm256_loadu_ps(s), acc);
    _mm256_storeu_ps(c, acc);
}

INLINE float store1(float c, float acc, float alpha, float beta) {
    acc = alpha * acc;
    if (beta == 1.0f) return c + acc;
    if (beta != 0.0f) return beta * c + acc;
    return acc;
}

#define PF_ROWS 8

/* One MR x (8 NV) tile of NN/TN: for each k, NV vectors of B's row k times MR broadcast
 * elements of A. MR * NV <= 12 accumulators plus NV row vectors fit the 16 ymm registers. */
INLINE AVX2 void nn_tile(const int MR, const int NV, int K, const float *A, ptrdiff_t ars,
                         ptrdiff_t acs, const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc,
                         const float *S, ptrdiff_t lds, float alpha, float beta) {
    __m256 acc[6][8];
    /* C is read at the end (beta != 0): a step's pre-activations in a buffer of all steps,
     * usually not in cache. Ask for its lines now; the K loop hides the wait. */
    if (beta != 0.0f)
        _Pragma("GCC unroll 8")
        for (int i = 0; i < MR; i++) {
            _mm_prefetch((const char *)(S + i * lds), _MM_HINT_T0);
            _mm_prefetch((const char *)(S + i * lds + 8 * NV - 1), _MM_HINT_T0);
        }
    _Pragma("GCC unroll 8")
    for (int i = 0; i < MR; i++)
        _Pragma("GCC unroll 8")
        for (int v = 0; v < NV; v++) acc[i][v] = _mm256_setzero_ps();
    for (int k = 0; k < K; k++) {
        const float *b = B + (ptrdiff_t)k * ldb;
        /* Rows of B lie ldb apart (2 KB for a 512-wide kernel), too far for the hardware's
         * stream prefetcher, which stops at page boundaries: ask for the row PF_ROWS ahead.
         * (Prefetches never fault, also past the end of B.) */
        _Pragma("GCC unroll 8")
        for (int l = 0; l < (NV + 1) / 2; l++)
            _mm_prefetch((const char *)(b + PF_ROWS * ldb + 16 * l), _MM_HINT_T0);
        __m256 bv[8];
        _Pragma("GCC unroll 8")
        for (int v = 0; v < NV; v++) bv[v] = _mm256_loadu_ps(b + 8 * v);
        _Pragma("GCC unroll 8")
        for (int i = 0; i < MR; i++) {
            __m256 a = _mm256_broadcast_ss(A + i * ars + (ptrdiff_t)k * acs);
            _Pragma("GCC unroll 8")
            for (int v = 0; v < NV; v++) acc[i][v] = _mm256_fmadd_ps(a, bv[v], acc[i][v]);
        }
    }
    _Pragma("GCC unroll 8")
    for (int i = 0; i < MR; i++)
        _Pragma("GCC unroll 8")
        for (int v = 0; v < NV; v++)
            store8(C + i * ldc + 8 * v, S + i * lds + 8 * v, acc[i][v], alpha, beta);
}

typedef void (*nn_fn)(int, const float *, ptrdiff_t, ptrdiff_t, const float *, ptrdiff_t,
                      float *, ptrdiff_t, const float *, ptrdiff_t, float, float);

#define NN(MR, NV)                                                                            \
    AVX2 static void nn_##MR##_##NV(int K, const float *A, ptrdiff_t ars, ptrdiff_t acs,      \
                                    const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc,   \
                                    const float *S, ptrdiff_t lds, float alpha, float beta) { \
        nn_tile(MR, NV, K, A, ars, acs, B, ldb, C, ldc, S, lds, alpha, beta);                 \
    }
/* One row (streaming, batch 1): up to 8 vectors, so 8 independent FMA chains. Two or three
 * rows: up to 4. Blocks of four to six rows: 2 (6 x 16 is the classic AVX2 shape). */
NN(1, 1) NN(1, 2) NN(1, 3) NN(1, 4) NN(1, 5) NN(1, 6) NN(1, 7) NN(1, 8)
NN(2, 1) NN(2, 2) NN(2, 3) NN(2, 4)
NN(3, 1) NN(3, 2) NN(3, 3) NN(3, 4)
NN(4, 1) NN(4, 2) NN(5, 1) NN(5, 2) NN(6, 1) NN(6, 2)

static const nn_fn nn_tiles[7][9] = {
    [1] = {0, nn_1_1, nn_1_2, nn_1_3, nn_1_4, nn_1_5, nn_1_6, nn_1_7, nn_1_8},
    [2] = {0, nn_2_1, nn_2_2, nn_2_3, nn_2_4},
    [3] = {0, nn_3_1, nn_3_2, nn_3_3, nn_3_4},
    [4] = {0, nn_4_1, nn_4_2},
    [5] = {0, nn_5_1, nn_5_2},
    [6] = {0, nn_6_1, nn_6_2},
};

/* Up to 6 rows times one masked vector (the N % 8 tail columns): as nn_tile with NV = 1. */
AVX2 static void nn_tail(int MR, int K, const float *A, ptrdiff_t ars, ptrdiff_t acs,
                         const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc,
                         const float *S, ptrdiff_t lds, float alpha, float beta, __m256i m) {
    __m256 acc[6];
    for (int i = 0; i < 6; i++) acc[i] = _mm256_setzero_ps();
    for (int k = 0; k < K; k++) {
        const __m256 bv = _mm256_maskload_ps(B + (ptrdiff_t)k * ldb, m);
        for (int i = 0; i < MR; i++)
            acc[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(A + i * ars + (ptrdiff_t)k * acs), bv,
                                     acc[i]);
    }
    for (int i = 0; i < MR; i++) {
        float *c = C + i * ldc;
        const float *sr = S + i * lds;
        __m256 v = acc[i];
        if (alpha != 1.0f) v = _mm256_mul_ps(v, _mm256_set1_ps(alpha));
        if (beta == 1.0f) v = _mm256_add_ps(_mm256_maskload_ps(sr, m), v);
        else if (beta != 0.0f)
            v = _mm256_fmadd_ps(_mm256_set1_ps(beta), _mm256_maskload_ps(sr, m), v);
        _mm256_maskstore_ps(c, m, v);
    }
}

/* One row of op(A) (batch 1, streaming): c += sum_k a_k B[k,:] walking B row by row. Rows of
 * B are contiguous, so B streams through the hardware prefetchers at full L2 bandwidth; the
 * tiles below walk a narrow column panel down B instead (one 256-byte piece per 2 KB row of a
 * 512-wide kernel), which reads B more slowly for B5's (1 x 128) x (128 x 512) products
 * (bench/README.md). Four rows
 * of B per pass over c: four FMAs per load and store of c. */
AVX2 static void gemv_rows(int N, int K, float alpha, const float *a, ptrdiff_t acs,
                           const float *B, ptrdiff_t ldb, float beta, float *c,
                           const float *init) {
    const int N8 = N & ~7;
    const __m256i tail = _mm256_loadu_si256((const __m256i *)(mask_tab + 8 - (N - N8)));
    if (init != c && beta != 0.0f) /* a bias row standing in for c's old values */
        for (int j = 0; j < N; j++) c[j] = init[j];
    if (beta == 0.0f) {
        for (int j = 0; j < N; j++) c[j] = 0.0f;
    } else if (beta != 1.0f) {
        for (int j = 0; j < N; j++) c[j] *= beta;
    }
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        const float *b = B + (ptrdiff_t)k * ldb;
        float s[8];
        __m256 av[8];
        _Pragma("GCC unroll 8")
        for (int r = 0; r < 8; r++) {
            s[r] = alpha * a[(k + r) * acs];
            av[r] = _mm256_set1_ps(s[r]);
        }
        for (int j = 0; j < N8; j += 8) {
            __m256 v = _mm256_loadu_ps(c + j);
            _Pragma("GCC unroll 8")
            for (int r = 0; r < 8; r++) v = _mm256_fmadd_ps(av[r], _mm256_loadu_ps(b + r * ldb + j), v);
            _mm256_storeu_ps(c + j, v);
        }
    }
    for (; k < K; k++) {
        const float *b0 = B + (ptrdiff_t)k * ldb;
        const float s0 = alpha * a[k * acs];
        const __m256 a0 = _mm256_set1_ps(s0);
        for (int j = 0; j < N8; j += 8)
            _mm256_storeu_ps(c + j, _mm256_fmadd_ps(a0, _mm256_loadu_ps(b0 + j),
                                                    _mm256_loadu_ps(c + j)));
    }
    /* The last N % 8 columns (Dense(1) after a streaming step) as one masked vector kept in a
     * register over all of K: the same fused multiply-adds in the same order as a full vector,
     * so the same bits. (A masked store of c read back by the next group's masked load cannot
     * be forwarded and waited for the store to complete, every 8 rows of B.) */
    if (N8 < N) {
        __m256 v = _mm256_maskload_ps(c + N8, tail);
        for (int kk = 0; kk < K; kk++)
            v = _mm256_fmadd_ps(_mm256_set1_ps(alpha * a[kk * acs]),
                                _mm256_maskload_ps(B + (ptrdiff_t)kk * ldb + N8, tail), v);
        _mm256_maskstore_ps(c + N8, tail, v);
    }
}

/* Column panels outside, row blocks inside: a panel of B (K rows of at most 256 bytes) is read
 * from memory once and from cache by the following row blocks. */
AVX2 static void gemm_nn(int M, int N, int K, float alpha, const float *A, ptrdiff_t ars,
                         ptrdiff_t acs, const float *B, ptrdiff_t ldb, float beta, float *C,
                         ptrdiff_t ldc, const float *S, ptrdiff_t lds) {
    if (M == 1) {
        gemv_rows(N, K, alpha, A, acs, B, ldb, beta, C, S);
        return;
    }
    /* the same operations per element on 16 lanes where the CPU has AVX-512 */
    if (!rnn__gemm_avx2_only &&
        rnn__gemm_nn_avx512(M, N, K, alpha, A, ars, acs, B, ldb, beta, C, ldc, S, lds))
        return;
    const int mr_max = M <= 3 ? M : 6;
    const int nv_max = mr_max == 1 ? 8 : mr_max <= 3 ? 4 : 2;
    const int nvec = N / 8;
    if ((size_t)K * N <= 8192) {
        /* B fits in L1 (the input projection x W of a few features): rows outside, so that
         * C, the large operand here, is written once in order. */
        for (int i0 = 0; i0 < M; i0 += mr_max) {
            const int mr = M - i0 < mr_max ? M - i0 : mr_max;
            for (int j0 = 0; j0 < nvec; j0 += nv_max) {
                const int nv = nvec - j0 < nv_max ? nvec - j0 : nv_max;
                nn_tiles[mr][nv](K, A + i0 * ars, ars, acs, B + 8 * j0, ldb,
                                 C + (ptrdiff_t)i0 * ldc + 8 * j0, ldc,
                                 S + (ptrdiff_t)i0 * lds + 8 * j0, lds, alpha, beta);
            }
        }
    } else {
        /* Chunks of MC rows (the per-step products have at most 64): the chunk's rows of A
         * stay in L2 across the column panels, each panel of B in L1 across the chunk. */
        enum { MC = 96 };
        for (int m0 = 0; m0 < M; m0 += MC) {
            const int m1 = M - m0 < MC ? M : m0 + MC;
            for (int j0 = 0; j0 < nvec; j0 += nv_max) {
                const int nv = nvec - j0 < nv_max ? nvec - j0 : nv_max;
                for (int i0 = m0; i0 < m1; i0 += mr_max) {
                    const int mr = m1 - i0 < mr_max ? m1 - i0 : mr_max;
                    nn_tiles[mr][nv](K, A + i0 * ars, ars, acs, B + 8 * j0, ldb,
                                     C + (ptrdiff_t)i0 * ldc + 8 * j0, ldc,
                                     S + (ptrdiff_t)i0 * lds + 8 * j0, lds, alpha, beta);
                }
            }
        }
    }
    /* The last N % 8 columns (Dense(1), widths such as 4 x 100): one masked vector per row
     * block, the same fused multiply-adds in the same order as the full vectors, so an element
     * gets the same bits whether it falls in a tail or not (threads that split a product by
     * columns then agree with one thread doing all of it). */
    if (N % 8) {
        const __m256i m = _mm256_loadu_si256((const __m256i *)(mask_tab + 8 - N % 8));
        for (int i0 = 0; i0 < M; i0 += 6) {
            const int mr = M - i0 < 6 ? M - i0 : 6;
            nn_tail(mr, K, A + i0 * ars, ars, acs, B + 8 * nvec, ldb,
                    C + (ptrdiff_t)i0 * ldc + 8 * nvec, ldc, S + (ptrdiff_t)i0 * lds + 8 * nvec,
                    lds, alpha, beta, m);
        }
    }
}

INLINE AVX2 float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* One MR x NR tile of NT: MR rows of A against NR rows of B, 8 values of K at a time, the
 * last K % 8 through masked loads; each of the MR * NR sums reduced once at the end. */
INLINE AVX2 void nt_tile(const int MR, const int NR, int K, const float *A, ptrdiff_t lda,
                         const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc, float alpha,
                         float beta) {
    __m256 acc[3][4];
    _Pragma("GCC unroll 8")
    for (int i = 0; i < MR; i++)
        _Pragma("GCC unroll 8")
        for (int j = 0; j < NR; j++) acc[i][j] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 a[3];
        _Pragma("GCC unroll 8")
        for (int i = 0; i < MR; i++) a[i] = _mm256_loadu_ps(A + i * lda + k);
        _Pragma("GCC unroll 8")
        for (int j = 0; j < NR; j++) {
            __m256 b = _mm256_loadu_ps(B + j * ldb + k);
            _Pragma("GCC unroll 8")
            for (int i = 0; i < MR; i++) acc[i][j] = _mm256_fmadd_ps(a[i], b, acc[i][j]);
        }
    }
    if (k < K) {
        const __m256i m = _mm256_loadu_si256((const __m256i *)(mask_tab + 8 - (K - k)));
        __m256 a[3];
        _Pragma("GCC unroll 8")
        for (int i = 0; i < MR; i++) a[i] = _mm256_maskload_ps(A + i * lda + k, m);
        _Pragma("GCC unroll 8")
        for (int j = 0; j < NR; j++) {
            __m256 b = _mm256_maskload_ps(B + j * ldb + k, m);
            _Pragma("GCC unroll 8")
            for (int i = 0; i < MR; i++) acc[i][j] = _mm256_fmadd_ps(a[i], b, acc[i][j]);
        }
    }
    _Pragma("GCC unroll 8")
    for (int i = 0; i < MR; i++)
        _Pragma("GCC unroll 8")
        for (int j = 0; j < NR; j++) {
            float *c = C + i * ldc + j;
            *c = store1(*c, hsum8(acc[i][j]), alpha, beta);
        }
}

typedef void (*nt_fn)(int, const float *, ptrdiff_t, const float *, ptrdiff_t, float *,
                      ptrdiff_t, float, float);

#define NT(MR, NR)                                                                            \
    AVX2 static void nt_##MR##_##NR(int K, const float *A, ptrdiff_t lda, const float *B,     \
                                    ptrdiff_t ldb, float *C, ptrdiff_t ldc, float alpha,      \
                                    float beta) {                                             \
        nt_tile(MR, NR, K, A, lda, B, ldb, C, ldc, alpha, beta);                              \
    }
NT(1, 1) NT(1, 2) NT(1, 3) NT(1, 4)
NT(2, 1) NT(2, 2) NT(2, 3) NT(2, 4)
NT(3, 1) NT(3, 2) NT(3, 3) NT(3, 4)

static const nt_fn nt_tiles[4][5] = {
    [1] = {0, nt_1_1, nt_1_2, nt_1_3, nt_1_4},
    [2] = {0, nt_2_1, nt_2_2, nt_2_3, nt_2_4},
    [3] = {0, nt_3_1, nt_3_2, nt_3_3, nt_3_4},
};

/* Row blocks of A outside (3 rows of K floats stay in L1), column blocks of B inside. */
AVX2 static void gemm_nt(int M, int N, int K, float alpha, const float *A, ptrdiff_t lda,
                         const float *B, ptrdiff_t ldb, float beta, float *C, ptrdiff_t ldc) {
    for (int i0 = 0; i0 < M; i0 += 3) {
        const int mr = M - i0 < 3 ? M - i0 : 3;
        for (int j0 = 0; j0 < N; j0 += 4) {
            const int nr = N - j0 < 4 ? N - j0 : 4;
            nt_tiles[mr][nr](K, A + (ptrdiff_t)i0 * lda, lda, B + (ptrdiff_t)j0 * ldb, ldb,
                             C + (ptrdiff_t)i0 * ldc + j0, ldc, alpha, beta);
        }
    }
}

/* out[j] += sum_i m[i,j]: 64 columns at a time held in registers down all rows (the plain loop
 * loads and stores out once per row and does not vectorise). Each column is summed in the same
 * order as the loop (out, then row 0, 1, ...): the same bits. */
AVX2 static void colsum_avx2(float *out, const float *m, int rows, int cols, ptrdiff_t ld) {
    int j0 = 0;
    for (; j0 + 64 <= cols; j0 += 64) {
        __m256 acc[8];
        _Pragma("GCC unroll 8")
        for (int v = 0; v < 8; v++) acc[v] = _mm256_loadu_ps(out + j0 + 8 * v);
        for (int i = 0; i < rows; i++) {
            const float *r = m + (ptrdiff_t)i * ld + j0;
            _Pragma("GCC unroll 8")
            for (int v = 0; v < 8; v++) acc[v] = _mm256_add_ps(acc[v], _mm256_loadu_ps(r + 8 * v));
        }
        _Pragma("GCC unroll 8")
        for (int v = 0; v < 8; v++) _mm256_storeu_ps(out + j0 + 8 * v, acc[v]);
    }
    for (; j0 + 8 <= cols; j0 += 8) {
        __m256 acc = _mm256_loadu_ps(out + j0);
        for (int i = 0; i < rows; i++) acc = _mm256_add_ps(acc, _mm256_loadu_ps(m + (ptrdiff_t)i * ld + j0));
        _mm256_storeu_ps(out + j0, acc);
    }
    for (; j0 < cols; j0++) {
        float acc = out[j0];
        for (int i = 0; i < rows; i++) acc += m[(ptrdiff_t)i * ld + j0];
        out[j0] = acc;
    }
}

int rnn__colsum_fast(float *out, const float *m, int rows, int cols, int ld) {
    if (!__builtin_cpu_supports("avx2")) return 0;
    colsum_avx2(out, m, rows, cols, ld);
    return 1;
}

int rnn__gemm_fast(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (trans_a && trans_b) return 0; /* not used by the layers: the loops handle it */
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
    if (!trans_b)
        gemm_nn(M, N, K, alpha, A, trans_a ? 1 : lda, trans_a ? lda : 1, B, ldb, beta, C, ldc, C,
                ldc);
    else
        gemm_nt(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return 1;
}

int rnn__gemm_fast_bias(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                        const float *bias, float *C, int ldc) {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
    gemm_nn(M, N, K, 1.0f, A, lda, 1, B, ldb, 1.0f, C, ldc, bias, 0);
    return 1;
}

#else

int rnn__gemm_fast_bias(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                        const float *bias, float *C, int ldc) {
    (void)M; (void)N; (void)K; (void)A; (void)lda; (void)B; (void)ldb; (void)bias; (void)C;
    (void)ldc;
    return 0;
}

int rnn__colsum_fast(float *out, const float *m, int rows, int cols, int ld) {
    (void)out; (void)m; (void)rows; (void)cols; (void)ld;
    return 0;
}

int rnn__gemm_fast(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    (void)trans_a; (void)trans_b; (void)M; (void)N; (void)K; (void)alpha; (void)A; (void)lda;
    (void)B; (void)ldb; (void)beta; (void)C; (void)ldc;
    return 0;
}

#endif
