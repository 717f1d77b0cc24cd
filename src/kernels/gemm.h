/* Matrix products, row-major: C (M,N) = alpha * op(A) op(B) + beta * C.
 * op(A) is A (M,K) with row stride lda, or, if trans_a, A stored as (K,M) and transposed.
 * op(B) likewise (K,N) or stored (N,K) if trans_b. Large products go to the CBLAS; small ones
 * (tiny layers, batch 1) to a plain loop, where a BLAS call costs more than the arithmetic. */
#ifndef RNN_GEMM_H
#define RNN_GEMM_H

void rnn__gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* The portable loop, always available (the reference the tests compare the BLAS path with). */
void rnn__gemm_loops(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* The AVX2/FMA kernel (gemm_avx2.c) for any size; returns 0, computing nothing, where the CPU
 * or compiler lacks it (the caller then uses the loops) or for trans_a && trans_b. */
int rnn__gemm_fast(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* rnn__gemm_fast where available, else the loops; never the BLAS. For the per-thread products
 * of the step-loop team (team.h), whose threads must not start BLAS threads of their own. */
void rnn__gemm_own(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* C (M,N) = bias + A B with bias one row of N (broadcast down the rows), A (M,K) and B (K,N)
 * not transposed: the same additions, in the same order, as copying the bias into every row of
 * C and calling rnn__gemm_own with beta 1, without writing the copies. rnn__gemm_fast_bias
 * returns 0 where the AVX2 kernel is unavailable (rnn__gemm_own_bias then copies and loops). */
int rnn__gemm_fast_bias(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                        const float *bias, float *C, int ldc);
void rnn__gemm_own_bias(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                        const float *bias, float *C, int ldc);

/* On the calling thread only, for the team's slices of a step's product: the BLAS when large
 * is set, the library has one and it is set to one thread, else rnn__gemm_own. The team
 * decides `large` from the whole product's size, never from a slice's, so that the kernel, and
 * with it every element's bits, does not depend on the number of threads. */
void rnn__gemm_slice(int large, int trans_a, int trans_b, int M, int N, int K, float alpha,
                     const float *A, int lda, const float *B, int ldb, float beta, float *C,
                     int ldc);
/* Whole products from this many multiply-adds up are `large` for rnn__gemm_slice: measured
 * for B4's step ((64 x 512) x (512 x 256) slices), OpenBLAS on one thread reached 62 to 72
 * GFLOP/s and the AVX2 tiles 41 (their B panels, K x 16, outgrow L1 at K = 512). */
#define RNN_SLICE_BLAS_MACS (1 << 23)

/* The same with AVX2 (gemm_avx2.c), same bits; 0 (nothing done) where unavailable. */
int rnn__colsum_fast(float *out, const float *m, int rows, int cols, int ld);

/* out[j] += sum_i m[i*ld + j] for i < rows, j < cols: bias gradients. */
void rnn__colsum_add(float *out, const float *m, int rows, int cols, int ld);

/* "OpenBLAS 0.3.21 ..." or "portable loops". */
const char *rnn__blas_name(void);

#endif
