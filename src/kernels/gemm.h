/* Matrix products, row-major, through one entry point:
 *
 *   C (M,N) = alpha * op(A) op(B) + beta * C      or, with a bias row,
 *   C (M,N) = bias + op(A) op(B)                  (bias: N floats added to every row)
 *
 * op(A) is A (M,K) with row stride lda, or, with trans_a, A stored as (K,M) and transposed.
 * op(B) likewise (K,N), or stored (N,K) with trans_b. How the product is computed is the
 * options' `kernel`: by default the library chooses from the sizes - a plain loop for tiny
 * products (a BLAS call costs more than the arithmetic), the AVX2 tiles for few rows, the BLAS
 * for large ones, and the current thread team (kernels/team.h) shares large products between
 * its threads. The team's step loops ask for their per-thread products explicitly, so that an
 * element's bits never depend on the number of threads. The kernels themselves are in
 * gemm_kernels.h (gemm.c, gemm_avx2.c, gemm_packed.c). */
#ifndef RNN_GEMM_H
#define RNN_GEMM_H

typedef enum {
    /* By size (above): the loops, the AVX2 tiles or the BLAS; large products split between
     * the current team's threads. */
    RNN_GEMM_AUTO = 0,
    /* On the calling thread, never the BLAS: the AVX2 tiles where the CPU has them (their
     * AVX-512 twins, the same bits, where it has those), else the loops. For the per-thread
     * products of the team's step loops. */
    RNN_GEMM_OWN,
    /* A team thread's slice of a step's product: the BLAS when `large` is set and the BLAS runs
     * single-threaded (the host's setting), else RNN_GEMM_OWN. The team decides `large` from
     * the whole product (rnn__recurrent_step_is_large), never from a slice. */
    RNN_GEMM_SLICE,
    /* B is rnn__pack_panels' copy (gemm_packed.h) of a K x (groups * width) matrix; op(B) is
     * the columns [col, col + N) of its block `group`, col a multiple of 8. The same bits as
     * RNN_GEMM_OWN for K <= RNN_PANEL_KC and M > 1, with the AVX2 or the AVX-512 tiles
     * (gemm_kernels.h). No transposes; alpha 1; beta 0 or 1. */
    RNN_GEMM_PANELS,
    /* The portable loops: the reference the tests compare the others with. */
    RNN_GEMM_LOOPS,
    /* The AVX2 tiles only (tests): nothing is computed where the CPU lacks them. */
    RNN_GEMM_AVX2,
} rnn_gemm_kernel;

typedef struct {
    int trans_a, trans_b;
    float alpha, beta; /* RNN_GEMM() sets alpha 1, beta 0 */
    /* A row of N floats standing in for beta * C (no transposes, alpha 1). */
    const float *bias;
    /* RNN_GEMM_PANELS with beta 1: C's old values read from here instead (rows ldc apart), so
     * a product can add to values kept elsewhere without copying them into C first. */
    const float *src;
    rnn_gemm_kernel kernel;
    int large;               /* RNN_GEMM_SLICE */
    int width, group, col;   /* RNN_GEMM_PANELS */
} rnn_gemm_opts;

/* Options with alpha 1 and the given fields: RNN_GEMM(.trans_b = 1, .beta = 1). */
#define RNN_GEMM(...) (&(const rnn_gemm_opts){.alpha = 1.0f, __VA_ARGS__})

/* Computes the product; returns 1, or 0 (nothing computed) where the kernel asked for is not
 * available on this CPU (RNN_GEMM_PANELS, RNN_GEMM_AVX2) or cannot do these options. */
int rnn__product(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                 int ldc, const rnn_gemm_opts *opts);

/* Whether RNN_GEMM_PANELS computes anything on this CPU. */
int rnn__gemm_panels_available(void);
/* Whether it runs the AVX-512 tiles (gemm_avx512.c) on this CPU: the same bits as the AVX2
 * ones, faster. */
int rnn__gemm_panels_avx512(void);

/* Whole products of a step from this many multiply-adds up are `large` for RNN_GEMM_SLICE
 * (bench/README.md, "Large products split by the same threads", has the measurements). */
#define RNN_SLICE_BLAS_MACS (1 << 23)

/* out[j] += sum_i m[i*ld + j] for i < rows, j < cols: bias gradients. */
void rnn__colsum_add(float *out, const float *m, int rows, int cols, int ld);
/* The same on the calling thread alone (for callers already inside a team job). */
void rnn__colsum_add_serial(float *out, const float *m, int rows, int cols, int ld);

/* "OpenBLAS 0.3.21 ..." or "portable loops". */
const char *rnn__blas_name(void);

#endif
