/* rnn__product (gemm.h): the choice of kernel, and the team's split of large products. */
#include "kernels/gemm.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#ifdef RNN_USE_CBLAS
#include <cblas.h>
#endif

#include "kernels/blas_core.h"
#include "kernels/gemm_kernels.h"
#include "kernels/gemm_packed.h"
#include "kernels/team.h"

/* Below this many multiply-adds the plain loops win over a BLAS call (LSTM(4) at batch 1,
 * where every product is a few dozen flops). */
#define SMALL_GEMM_FLOPS 8192

/* Which products skip the BLAS for the AVX2 tiles of gemm_avx2.c (operands read in place; the
 * BLAS packs both operands on every call): one row, threads or not; up to OWN_GEMM_ROWS rows
 * and OWN_GEMM_MACS multiply-adds with a single-threaded BLAS, where both reach the same rate;
 * with several BLAS threads only products of at most OWN_GEMM_FEW_ROWS rows, since the BLAS's
 * threads pull ahead on the others. A^T B products of at most OWN_TN_ROWS rows (the weight
 * gradient x^T dZ over all steps of a layer with a few input features) where the CPU has
 * AVX-512: one row tile of gemm_avx512.c streams B once, while the BLAS spent more on packing
 * the two operands than on the arithmetic. Larger products (B4's per-step product, the input
 * projections, the other weight gradients over all steps) go to the BLAS. bench/README.md ("Own
 * kernel for small products", "Training's products over all steps") has the measurements. */
#define OWN_GEMM_MACS (1 << 22)

#define OWN_GEMM_ROWS 64
#define OWN_TN_ROWS 12
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

#if defined(RNN_USE_CBLAS)
/* OpenBLAS's threads; 1 where it cannot be loaded (the products then take librnn's kernels). */
static int blas_threads(void) {
    const rnn_openblas *ob = rnn__openblas();
    return ob ? ob->get_num_threads() : 1;
}
#endif

/* Large products with several team threads: the team splits the product's larger dimension
 * and each thread computes its slice through the BLAS, single-threaded. The BLAS's thread count
 * is the host program's to set, never the library's, so this happens only where the host has
 * set the BLAS to one thread (team_may_split): a BLAS on several threads gets whole products
 * from the calling thread and runs them on its own threads, since team threads each calling a
 * threaded BLAS would start its threads next to theirs, and the library's own kernels are far
 * slower on the transposed weight-gradient products. */
#define TEAM_GEMM_MACS (1 << 21)

#ifdef RNN_USE_CBLAS
/* OpenBLAS takes a 128 MB work buffer for each calling thread on its first large product and,
 * when that allocation fails under an address-space limit (ulimit -v, RLIMIT_AS, which batch
 * schedulers set), retries it forever at 100 % CPU: Debian's 0.3.21 on its SSE3 kernels never
 * returned from `rnn fit` under `ulimit -v 65536` (its AVX-512 kernels only escaped there
 * because that model's products were small enough for their buffer-free path). So under a
 * finite limit with less than BLAS_HEADROOM of address space left, the products take the
 * library's own kernels instead: slower on the transposed ones, other last bits, never stuck.
 * Without a limit this costs one getrlimit per BLAS call. */
#define BLAS_HEADROOM ((unsigned long long)512 << 20)

static int blas_may_allocate(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1;
    unsigned long long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%llu", &pages) != 1) pages = 0;
        fclose(f);
    }
    const long page = sysconf(_SC_PAGESIZE);
    if (pages == 0 || page <= 0) return 0; /* the address space in use is unknown */
    const unsigned long long used = pages * (unsigned long long)page;
    return (unsigned long long)rl.rlim_cur > used &&
           (unsigned long long)rl.rlim_cur - used >= BLAS_HEADROOM;
}

static int team_may_split(void) { return blas_threads() == 1; }
#else
static int team_may_split(void) { return 1; }
#endif

/* C = bias rows; the caller then adds the product with beta 1. */
static void copy_bias_rows(int M, int N, const float *bias, float *C, int ldc) {
    for (int i = 0; i < M; i++) memcpy(C + (size_t)i * ldc, bias, sizeof(float) * (size_t)N);
}

typedef struct {
    int trans_a, trans_b, M, N, K;
    float alpha, beta;
    const float *A, *B;
    int lda, ldb, ldc;
    float *C;
    const float *bias; /* non-NULL: C = bias rows first (beta is then 1) */
} gemm_job;

/* The BLAS for the products it does best, else the AVX2 tiles, else the loops. */
static void blas_or_own(int trans_a, int trans_b, int M, int N, int K, float alpha,
                        const float *A, int lda, const float *B, int ldb, float beta, float *C,
                        int ldc) {
#ifdef RNN_USE_CBLAS
    /* small products first: they never load OpenBLAS (blas_core.c) */
    const double macs = (double)M * N * K;
    const int own = macs <= SMALL_GEMM_FLOPS ||
                    (macs <= OWN_GEMM_MACS &&
                     ((!trans_a && (M <= OWN_GEMM_FEW_ROWS ||
                                    (M <= OWN_GEMM_ROWS && blas_threads() == 1))) ||
                      (trans_a && !trans_b && M <= OWN_TN_ROWS && rnn__gemm_panels_avx512())));
    const rnn_openblas *ob = own ? NULL : rnn__openblas();
    if (ob && blas_may_allocate()) {
        ob->sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                  trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C,
                  ldc);
        return;
    }
#endif
    if (rnn__gemm_fast(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
    rnn__gemm_loops(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* Thread tid's slice: rows of C when M >= N, else columns, in multiples of 16. */
static void gemm_slice(void *arg, int tid, int n) {
    const gemm_job *j = arg;
    const int split_rows = j->M >= j->N, total = split_rows ? j->M : j->N;
    const int blocks = (total + 15) / 16;
    int lo = 16 * (int)((long)blocks * tid / n), hi = 16 * (int)((long)blocks * (tid + 1) / n);
    if (hi > total) hi = total;
    if (lo >= hi) return;
    if (j->bias) /* each thread its own part: on one thread this copy of every row of a large
                  * product kept the other core waiting (bench/README.md) */
        copy_bias_rows(split_rows ? hi - lo : j->M, split_rows ? j->N : hi - lo,
                       split_rows ? j->bias : j->bias + lo,
                       j->C + (split_rows ? (size_t)lo * j->ldc : (size_t)lo), j->ldc);
    if (split_rows) {
        const float *A = j->trans_a ? j->A + lo : j->A + (size_t)lo * j->lda;
        blas_or_own(j->trans_a, j->trans_b, hi - lo, j->N, j->K, j->alpha, A, j->lda, j->B,
                    j->ldb, j->beta, j->C + (size_t)lo * j->ldc, j->ldc);
    } else {
        const float *B = j->trans_b ? j->B + (size_t)lo * j->ldb : j->B + lo;
        blas_or_own(j->trans_a, j->trans_b, j->M, hi - lo, j->K, j->alpha, j->A, j->lda, B,
                    j->ldb, j->beta, j->C + lo, j->ldc);
    }
}

/* bias: C = bias rows + op(A) op(B) (beta 1), else C = alpha op(A) op(B) + beta C. */
static void product_auto(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                         int lda, const float *B, int ldb, float beta, float *C, int ldc,
                         const float *bias) {
    const int split = K > 0 && (double)M * N * K >= TEAM_GEMM_MACS && (M >= 32 || N >= 32) &&
                      rnn__team_size() > 1 && team_may_split();
    if (bias && !split) {
        copy_bias_rows(M, N, bias, C, ldc);
        bias = NULL;
    }
    if (K <= 0) { /* empty sum: C = beta * C */
        rnn__gemm_loops(0, 0, M, N, 0, alpha, A, 1, B, 1, beta, C, ldc);
        return;
    }
    if (split) {
        gemm_job job = {ta, tb, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C, bias};
        rnn__team_run(gemm_slice, &job);
        return;
    }
    blas_or_own(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void product_own(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                        int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (K > 0 && rnn__gemm_fast(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
    rnn__gemm_loops(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

int rnn__product(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                 int ldc, const rnn_gemm_opts *o) {
    const int ta = o->trans_a, tb = o->trans_b;
    float alpha = o->alpha, beta = o->beta;
    if (o->bias && (ta || tb || alpha != 1.0f)) return 0;
    if (o->src && o->kernel != RNN_GEMM_PANELS) return 0;
    switch (o->kernel) {
    case RNN_GEMM_PANELS: {
        if (ta || tb || alpha != 1.0f || (beta != 0.0f && beta != 1.0f)) return 0;
        /* the kernel addresses C and its source S from the start of the block's row */
        const int c0 = o->group * o->width + o->col;
        const int beta01 = o->bias || beta != 0.0f;
        const float *S = o->bias ? o->bias - c0 : (o->src ? o->src : C) - c0;
        return rnn__gemm_panels(M, K, A, lda, B, o->width, o->group, o->col, o->col + N, beta01,
                                S, o->bias ? 0 : ldc, C - c0, ldc);
    }
    case RNN_GEMM_AVX2:
        if (o->bias) return rnn__gemm_fast_bias(M, N, K, A, lda, B, ldb, o->bias, C, ldc);
        return rnn__gemm_fast(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    default:
        break;
    }
    if (M <= 0 || N <= 0) return 1;
    if (o->bias) {
        if (o->kernel == RNN_GEMM_OWN && K > 0 &&
            rnn__gemm_fast_bias(M, N, K, A, lda, B, ldb, o->bias, C, ldc))
            return 1;
        beta = 1.0f;
        if (o->kernel != RNN_GEMM_LOOPS && o->kernel != RNN_GEMM_OWN &&
            o->kernel != RNN_GEMM_SLICE) { /* by size: the team's threads copy their parts */
            product_auto(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, o->bias);
            return 1;
        }
        copy_bias_rows(M, N, o->bias, C, ldc);
    }
    switch (o->kernel) {
    case RNN_GEMM_LOOPS:
        rnn__gemm_loops(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        break;
    case RNN_GEMM_OWN:
        product_own(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        break;
    case RNN_GEMM_SLICE: {
#ifdef RNN_USE_CBLAS
        const rnn_openblas *ob = o->large && K > 0 ? rnn__openblas() : NULL;
        if (ob && ob->get_num_threads() == 1 && blas_may_allocate()) {
            ob->sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                      tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C,
                      ldc);
            break;
        }
#endif
        product_own(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        break;
    }
    default:
        product_auto(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL);
        break;
    }
    return 1;
}

void rnn__colsum_add_serial(float *out, const float *m, int rows, int cols, int ld) {
    if (rows > 0 && cols > 0 && rnn__colsum_fast(out, m, rows, cols, ld)) return;
    for (int i = 0; i < rows; i++) {
        const float *r = m + (size_t)i * ld;
        for (int j = 0; j < cols; j++) out[j] += r[j];
    }
}

/* A column sum this large (B4's bias gradient: 6,400 rows of 2,048, read from memory) is shared
 * by the team, each thread its columns in blocks of 64; every column is the same chain (its
 * old value, then the rows in order) whichever thread sums it, so the bits do not depend on
 * the team's size. */
#define TEAM_COLSUM_VALUES (1 << 20)

typedef struct {
    float *out;
    const float *m;
    int rows, cols, ld;
} colsum_job;

static void colsum_slice(void *arg, int tid, int n) {
    const colsum_job *j = arg;
    const int blocks = (j->cols + 63) / 64;
    const int lo = 64 * (int)((long)blocks * tid / n);
    int hi = 64 * (int)((long)blocks * (tid + 1) / n);
    if (hi > j->cols) hi = j->cols;
    if (lo < hi) rnn__colsum_add_serial(j->out + lo, j->m + lo, j->rows, hi - lo, j->ld);
}

void rnn__colsum_add(float *out, const float *m, int rows, int cols, int ld) {
    if ((double)rows * cols >= TEAM_COLSUM_VALUES && cols >= 128 && rnn__team_size() > 1) {
        colsum_job job = {out, m, rows, cols, ld};
        rnn__team_run(colsum_slice, &job);
        return;
    }
    rnn__colsum_add_serial(out, m, rows, cols, ld);
}

#if defined(RNN_USE_CBLAS)
/* What the loaded library says of itself (version, build options, the core it runs on), or why
 * it could not be loaded. */
const char *rnn__blas_name(void) {
    const rnn_openblas *ob = rnn__openblas();
    return ob ? ob->get_config() : rnn__openblas_error();
}
#else
const char *rnn__blas_name(void) { return "portable loops"; }
#endif
