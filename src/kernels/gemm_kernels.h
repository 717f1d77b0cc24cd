/* The kernels behind rnn__product (gemm.h), for gemm.c and the tests only: layers call
 * rnn__product. Same conventions as gemm.h. */
#ifndef RNN_GEMM_KERNELS_H
#define RNN_GEMM_KERNELS_H

#include <stddef.h>

/* The portable loops, always available. */
void rnn__gemm_loops(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* The AVX2/FMA tiles (gemm_avx2.c) for any size; return 0, computing nothing, where the CPU or
 * compiler lacks them, or for trans_a && trans_b. _bias: C = bias + A B, the same additions in
 * the same order as copying the bias into every row of C and calling rnn__gemm_fast with
 * beta 1, without writing the copies. */
int rnn__gemm_fast(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc);
int rnn__gemm_fast_bias(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                        const float *bias, float *C, int ldc);
int rnn__colsum_fast(float *out, const float *m, int rows, int cols, int ld);

/* C[i, g*width + j] = (beta ? S[i*lds + g*width + j] : 0) + sum_k A[i,k] B[k, g*width + j]
 * for rows i < M and block columns lo <= j < hi, B given as panels (gemm_packed.h); beta is 0
 * or 1, S may be C itself (lds = ldc) or a bias row (lds = 0). Returns 0, computing nothing,
 * where the CPU lacks AVX2/FMA or lo is not a multiple of 8 (a caller's bug). */
int rnn__gemm_panels(int M, int K, const float *A, int lda, const float *panels, int width,
                     int g, int lo, int hi, int beta, const float *S, int lds,
                     float *C, int ldc);

/* The panel kernels' instruction sets. rnn__gemm_panels is rnn__gemm_panels_isa with
 * RNN_PANELS_BEST: the AVX-512 tiles (gemm_avx512.c) where the CPU has AVX-512F, else the AVX2
 * tiles. Both compute every element by the same fused multiply-adds in the same order, so they
 * give the same bits; the tests force each (0 where the CPU lacks the one asked for). */
enum { RNN_PANELS_BEST = 0, RNN_PANELS_AVX2, RNN_PANELS_AVX512 };
int rnn__gemm_panels_isa(int isa, int M, int K, const float *A, int lda, const float *panels,
                         int width, int g, int lo, int hi, int beta, const float *S, int lds,
                         float *C, int ldc);

/* gemm_avx512.c: whether the CPU (and compiler) has the AVX-512 panel tiles, and one chunk of
 * rnn__gemm_panels with them: rows [0, K) of the panels of block `block` (ld_panel rows apart),
 * columns [lo, hi) of the block, C and S addressed at column col0 + j. */
int rnn__panels_avx512_available(void);
/* gemm_avx2.c's NN/TN tiles (A element (i,k) at A[i*ars + k*acs]; C = alpha acc + beta S, S
 * C itself or a bias row with lds 0) with AVX-512, for M > 1: the same bits. Returns 0,
 * computing nothing, where the CPU lacks AVX-512F. */
int rnn__gemm_nn_avx512(int M, int N, int K, float alpha, const float *A, ptrdiff_t ars,
                        ptrdiff_t acs, const float *B, ptrdiff_t ldb, float beta, float *C,
                        ptrdiff_t ldc, const float *S, ptrdiff_t lds);
/* C (M, N) = sum over steps s of A_s^T B_s (add: C + that sum), where A_s (rows, M) starts
 * at A + s astep and B_s (rows, N) at B + s bstep, rows lda and ldb apart: a weight gradient
 * h^T dZ over some steps of some rows of a batch (lstm.c). Each element is one chain, acc = 0,
 * acc = fma(a, b, acc) over s, then over the step's rows, in order; C = acc, or old C + acc
 * (without add its old values are not read). Returns 0, computing nothing, where the CPU
 * lacks AVX-512F. */
int rnn__gemm_tn_steps_avx512(int M, int N, int steps, int rows, const float *A, ptrdiff_t lda,
                              ptrdiff_t astep, const float *B, ptrdiff_t ldb, ptrdiff_t bstep,
                              float *C, ptrdiff_t ldc, int add);
/* Tests set this to 1 to run the AVX2 tiles of rnn__gemm_fast on a CPU with AVX-512. */
extern int rnn__gemm_avx2_only;
void rnn__panels_chunk_avx512(int M, int K, int ld_panel, const float *A, int lda,
                              const float *block, int lo, int hi, size_t col0, int beta,
                              const float *S, int lds, float *C, int ldc);

#endif
