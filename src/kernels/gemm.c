#include "gemm.h"

#include <stddef.h>

#ifdef RNN_USE_CBLAS
#include <cblas.h>
#endif

#include "kernels/team.h"

/* Below this many multiply-adds the plain loops win over a BLAS call (measured on LSTM(4),
 * batch 1, where every product is a few dozen flops). */
#define SMALL_GEMM_FLOPS 8192

/* Which products skip the BLAS for the AVX2 kernel of gemm_avx2.c (operands read in place;
 * the BLAS packs both operands on every call). Measured with bench/README.md's shapes, best of
 * hundreds of calls:
 *  - one row (B5's (1 x 128) x (128 x 512)): 38 GFLOP/s against OpenBLAS's 6, threads or not;
 *  - up to 64 rows and 4M multiply-adds with the BLAS on one thread (B2's (32 x 64) x
 *    (64 x 256), B6's (64 x 100) x (100 x 400)): the same rate as OpenBLAS (62 to 90 GFLOP/s);
 *  - the same products with the BLAS on two threads: OpenBLAS ahead (B6's shape 100 against 69
 *    GFLOP/s), so with several BLAS threads only products of at most OWN_GEMM_FEW_ROWS rows
 *    come here.
 * Larger products (B4's per-step (64 x 512) x (512 x 2048), the input projections, the weight
 * gradients over all steps) always go to the BLAS. */
#define OWN_GEMM_MACS (1 << 22)
#define OWN_GEMM_ROWS 64
#define OWN_GEMM_FEW_ROWS 8

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

/* BLAS=openblas promises OpenBLAS: a cblas.h without OPENBLAS_VERSION (the reference BLAS's,
 * which Debian's libblas-dev puts first on the include path) would compile the thread handling
 * below out and link against a slower library without a word. */
#if defined(RNN_BLAS_OPENBLAS) && !defined(OPENBLAS_VERSION)
#error "BLAS=openblas but this cblas.h is not OpenBLAS's (no OPENBLAS_VERSION): run scripts/deps.sh"
#endif

#if defined(RNN_USE_CBLAS) && defined(OPENBLAS_VERSION)
static int blas_threads(void) { return openblas_get_num_threads(); }
#elif defined(RNN_USE_CBLAS)
static int blas_threads(void) { return 1; }
#endif

/* Whether a product may go to the BLAS when the current team has team_n threads. The BLAS's
 * thread count is the host program's to set, never the library's: with a team of several
 * threads only a single-threaded BLAS is called (from each team thread on its slice), since
 * BLAS threads started next to the team's would compete with them for the cores (OpenBLAS's
 * poll for a while after each call). With one team thread, whole products go to the BLAS on
 * the threads it is set to. */
#ifdef RNN_USE_CBLAS
static int blas_allowed(int team_n) { return team_n <= 1 || blas_threads() == 1; }
#endif

/* Large products with several team threads: the team splits the product's larger dimension
 * and each thread computes its slice, through a single-threaded BLAS or the library's own
 * kernel (blas_allowed). */
#define TEAM_GEMM_MACS (1 << 21)

typedef struct {
    int trans_a, trans_b, M, N, K;
    float alpha, beta;
    const float *A, *B;
    int lda, ldb, ldc;
    float *C;
    int blas; /* the slices may use the BLAS */
} gemm_job;

static void blas_or_own(int blas, int trans_a, int trans_b, int M, int N, int K, float alpha,
                        const float *A, int lda, const float *B, int ldb, float beta, float *C,
                        int ldc);

/* Thread tid's slice: rows of C when M >= N, else columns, in multiples of 16. */
static void gemm_slice(void *arg, int tid, int n) {
    const gemm_job *j = arg;
    const int split_rows = j->M >= j->N, total = split_rows ? j->M : j->N;
    const int blocks = (total + 15) / 16;
    int lo = 16 * (int)((long)blocks * tid / n), hi = 16 * (int)((long)blocks * (tid + 1) / n);
    if (hi > total) hi = total;
    if (lo >= hi) return;
    if (split_rows) {
        const float *A = j->trans_a ? j->A + lo : j->A + (size_t)lo * j->lda;
        blas_or_own(j->blas, j->trans_a, j->trans_b, hi - lo, j->N, j->K, j->alpha, A, j->lda, j->B,
                    j->ldb, j->beta, j->C + (size_t)lo * j->ldc, j->ldc);
    } else {
        const float *B = j->trans_b ? j->B + (size_t)lo * j->ldb : j->B + lo;
        blas_or_own(j->blas, j->trans_a, j->trans_b, j->M, hi - lo, j->K, j->alpha, j->A, j->lda, B,
                    j->ldb, j->beta, j->C + lo, j->ldc);
    }
}

void rnn__gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* empty sum: C = beta * C */
        rnn__gemm_loops(0, 0, M, N, 0, alpha, A, 1, B, 1, beta, C, ldc);
        return;
    }
    const int team_n = rnn__team_size();
#ifdef RNN_USE_CBLAS
    const int blas = blas_allowed(team_n);
#else
    const int blas = 0;
#endif
    if ((double)M * N * K >= TEAM_GEMM_MACS && (M >= 32 || N >= 32) && team_n > 1) {
        gemm_job job = {trans_a, trans_b, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C, blas};
        rnn__team_run(gemm_slice, &job);
        return;
    }
    blas_or_own(blas, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void blas_or_own(int blas, int trans_a, int trans_b, int M, int N, int K, float alpha,
                        const float *A, int lda, const float *B, int ldb, float beta, float *C,
                        int ldc) {
#ifdef RNN_USE_CBLAS
    const double macs = (double)M * N * K;
    const int own = !trans_a && macs <= OWN_GEMM_MACS &&
                    (M <= OWN_GEMM_FEW_ROWS || (M <= OWN_GEMM_ROWS && blas_threads() == 1));
    if (blas && macs > SMALL_GEMM_FLOPS && !own) {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C,
                    ldc);
        return;
    }
#else
    (void)blas;
#endif
    if (rnn__gemm_fast(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
    rnn__gemm_loops(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void rnn__gemm_own(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K > 0 && rnn__gemm_fast(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))
        return;
    rnn__gemm_loops(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void rnn__gemm_own_bias(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                        const float *bias, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K > 0 && rnn__gemm_fast_bias(M, N, K, A, lda, B, ldb, bias, C, ldc)) return;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = bias[j];
    rnn__gemm_loops(0, 0, M, N, K, 1.0f, A, lda, B, ldb, 1.0f, C, ldc);
}

void rnn__gemm_slice(int large, int trans_a, int trans_b, int M, int N, int K, float alpha,
                     const float *A, int lda, const float *B, int ldb, float beta, float *C,
                     int ldc) {
#ifdef RNN_USE_CBLAS
    if (large && M > 0 && N > 0 && K > 0 && blas_threads() == 1) {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C,
                    ldc);
        return;
    }
#else
    (void)large;
#endif
    rnn__gemm_own(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void rnn__colsum_add(float *out, const float *m, int rows, int cols, int ld) {
    if (rows > 0 && cols > 0 && rnn__colsum_fast(out, m, rows, cols, ld)) return;
    for (int i = 0; i < rows; i++) {
        const float *r = m + (size_t)i * ld;
        for (int j = 0; j < cols; j++) out[j] += r[j];
    }
}

#if defined(RNN_USE_CBLAS) && defined(OPENBLAS_VERSION)
/* What the loaded library says of itself (version, build options, the core it runs on). */
const char *rnn__blas_name(void) { return openblas_get_config(); }
#elif defined(RNN_USE_CBLAS)
const char *rnn__blas_name(void) { return "CBLAS"; }
#else
const char *rnn__blas_name(void) { return "portable loops"; }
#endif
