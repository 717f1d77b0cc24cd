/* The panel products (gemm_packed.h) with AVX-512: one panel of 16 columns is one zmm vector,
 * and the 32 vector registers hold a tile of up to 12 rows x 2 panels (24 accumulators, two
 * panel vectors, one broadcast) against the AVX2 kernel's 6 rows x 2 half-panels, so each
 * broadcast of A feeds twice and each load of a panel twice the multiply-adds, at twice the
 * width (12 x 2 measured ahead of 8 x 3, 6 x 4, 14 x 2 and 16 x 1 on B4's and B3's per-thread
 * steps, bench/README.md). Used for the recurrent kernels on the team (forward h U, backward
 * dZ U^T); rnn__gemm_panels picks it where the CPU has AVX-512F. Also here: the same tiles on B
 * read in place, for gemm_avx2.c's products of several rows (rnn__gemm_nn_avx512).
 *
 * Numerics: each lane runs acc = 0; acc = fma(a_k, b_kj, acc) for k in order, then old value +
 * acc (or acc), exactly the AVX2 tiles' chain for that element, so the bits are the AVX2
 * kernel's whatever the tile an element falls in. Columns outside [lo, hi) are computed in the
 * lanes of a partial panel but masked off on store (and never loaded from C or S). Compiled at
 * -O3 (Makefile) so the fixed-size tiles unroll into registers. */
#include "kernels/gemm_kernels.h"

#include "kernels/gemm_packed.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,fma")))
#define INLINE static inline __attribute__((always_inline))

/* As gemm_packed.c: a block of A of at most this size stays in L2 while the panels pass by. */
#define ROW_BLOCK_BYTES (192 * 1024)
#define MR_MAX 12
#define NP_MAX 2
/* The last three panels of a range as one group of 8-row tiles (24 accumulators, three panel
 * vectors, one broadcast) instead of a pair and a single: a single panel's tile makes 12
 * multiply-adds per 13 loads (its 12 broadcasts and one panel vector), so it ran at about half
 * the rate of the pairs. B6's LSTM(100): the backward's dZ U^T has 7 panels (2 2 3 instead of
 * 2 2 2 1), the forward's joined U 25 (11 pairs and 3). */
#define MR3_MAX 8
#define NP_REG 3
#ifndef L1_AHEAD
#define L1_AHEAD 8
#endif

/* MR rows x NP panels; P the first panel at row 0 of the chunk, the next ones ps floats apart.
 * m0: the lanes stored of the first panel, m1 of the last (NP 1: m0 & m1). PF (the first row
 * tile of a panel group): bring the next group into L2, one line of each of its panels per k,
 * as the AVX2 kernel does, so that its first tile does not wait for memory. */
INLINE AVX512 void ztile(const int MR, const int NP, const int PF, int K, const float *A,
                         ptrdiff_t lda, const float *P, ptrdiff_t ps, const float *next, float *C,
                         ptrdiff_t ldc, const float *S, ptrdiff_t lds, int beta, __mmask16 m0,
                         __mmask16 m1) {
    __m512 acc[MR_MAX][NP_REG];
    _Pragma("GCC unroll 12")
    for (int i = 0; i < MR; i++)
        _Pragma("GCC unroll 3")
        for (int v = 0; v < NP; v++) acc[i][v] = _mm512_setzero_ps();
    _Pragma("GCC unroll 12")
    for (int i = 0; i < MR; i++) /* C's lines, written at the end (a buffer of all steps) */
        _Pragma("GCC unroll 3")
        for (int v = 0; v < NP; v++) {
            _mm_prefetch((const char *)(C + i * ldc + 16 * v), _MM_HINT_T0);
            _mm_prefetch((const char *)(C + i * ldc + 16 * v + 15), _MM_HINT_T0);
        }
    for (int k = 0; k < K; k++) {
        const float *b = P + (ptrdiff_t)k * RNN_PANEL;
        if (PF)
            _Pragma("GCC unroll 3")
            for (int v = 0; v < NP; v++)
                _mm_prefetch((const char *)(next + v * ps + (ptrdiff_t)k * RNN_PANEL),
                             _MM_HINT_T1);
        _Pragma("GCC unroll 3")
        for (int v = 0; v < NP; v++)
            _mm_prefetch((const char *)(b + v * ps + L1_AHEAD * RNN_PANEL), _MM_HINT_T0);
        __m512 bv[NP_REG];
        _Pragma("GCC unroll 3")
        for (int v = 0; v < NP; v++) bv[v] = _mm512_loadu_ps(b + v * ps);
        _Pragma("GCC unroll 12")
        for (int i = 0; i < MR; i++) {
            const __m512 av = _mm512_set1_ps(A[i * lda + k]);
            _Pragma("GCC unroll 3")
            for (int v = 0; v < NP; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
        }
    }
    _Pragma("GCC unroll 12")
    for (int i = 0; i < MR; i++)
        _Pragma("GCC unroll 3")
        for (int v = 0; v < NP; v++) {
            const __mmask16 m = NP == 1 ? (__mmask16)(m0 & m1)
                                : v == 0 ? m0 : v == NP - 1 ? m1 : (__mmask16)0xffff;
            float *c = C + i * ldc + 16 * v;
            __m512 x = acc[i][v];
            if (beta) x = _mm512_add_ps(_mm512_maskz_loadu_ps(m, S + i * lds + 16 * v), x);
            _mm512_mask_storeu_ps(c, m, x);
        }
}

typedef void (*ztile_fn)(int, const float *, ptrdiff_t, const float *, ptrdiff_t, const float *,
                         float *, ptrdiff_t, const float *, ptrdiff_t, int, __mmask16, __mmask16);
#define ZT(MR, NP, PF)                                                                        \
    AVX512 static void zt_##MR##_##NP##_##PF(int K, const float *A, ptrdiff_t lda,           \
                                             const float *P, ptrdiff_t ps, const float *next, \
                                             float *C, ptrdiff_t ldc, const float *S,         \
                                             ptrdiff_t lds, int beta, __mmask16 m0,           \
                                             __mmask16 m1) {                                  \
        ztile(MR, NP, PF, K, A, lda, P, ps, next, C, ldc, S, lds, beta, m0, m1);             \
    }
#define ZROW(MR, PF) ZT(MR, 1, PF) ZT(MR, 2, PF)
#define ZALL(PF)                                                                              \
    ZROW(1, PF) ZROW(2, PF) ZROW(3, PF) ZROW(4, PF) ZROW(5, PF) ZROW(6, PF) ZROW(7, PF)      \
    ZROW(8, PF) ZROW(9, PF) ZROW(10, PF) ZROW(11, PF) ZROW(12, PF)
ZALL(0) ZALL(1)
#define Z3(PF)                                                                                \
    ZT(1, 3, PF) ZT(2, 3, PF) ZT(3, 3, PF) ZT(4, 3, PF) ZT(5, 3, PF) ZT(6, 3, PF) ZT(7, 3, PF) \
    ZT(8, 3, PF)
Z3(0) Z3(1)
#define Z3ENTRY(MR, PF) [MR] = zt_##MR##_3_##PF
/* ztiles3[pf][rows]: three panels */
static const ztile_fn ztiles3[2][MR3_MAX + 1] = {
    {Z3ENTRY(1, 0), Z3ENTRY(2, 0), Z3ENTRY(3, 0), Z3ENTRY(4, 0), Z3ENTRY(5, 0), Z3ENTRY(6, 0),
     Z3ENTRY(7, 0), Z3ENTRY(8, 0)},
    {Z3ENTRY(1, 1), Z3ENTRY(2, 1), Z3ENTRY(3, 1), Z3ENTRY(4, 1), Z3ENTRY(5, 1), Z3ENTRY(6, 1),
     Z3ENTRY(7, 1), Z3ENTRY(8, 1)},
};
#define ZENTRY(MR, PF) [MR] = {0, zt_##MR##_1_##PF, zt_##MR##_2_##PF}
/* ztiles[pf][rows][panels] */
static const ztile_fn ztiles[2][MR_MAX + 1][NP_MAX + 1] = {
    {ZENTRY(1, 0), ZENTRY(2, 0), ZENTRY(3, 0), ZENTRY(4, 0), ZENTRY(5, 0), ZENTRY(6, 0),
     ZENTRY(7, 0), ZENTRY(8, 0), ZENTRY(9, 0), ZENTRY(10, 0), ZENTRY(11, 0), ZENTRY(12, 0)},
    {ZENTRY(1, 1), ZENTRY(2, 1), ZENTRY(3, 1), ZENTRY(4, 1), ZENTRY(5, 1), ZENTRY(6, 1),
     ZENTRY(7, 1), ZENTRY(8, 1), ZENTRY(9, 1), ZENTRY(10, 1), ZENTRY(11, 1), ZENTRY(12, 1)},
};

int rnn__panels_avx512_available(void) { return __builtin_cpu_supports("avx512f"); }

/* The lanes of panel q that fall in the block columns [lo, hi). */
static __mmask16 lanes(int q, int lo, int hi) {
    const int a = lo > q * RNN_PANEL ? lo - q * RNN_PANEL : 0;
    const int b = hi < (q + 1) * RNN_PANEL ? hi - q * RNN_PANEL : RNN_PANEL;
    return (__mmask16)(((1u << b) - 1u) & ~((1u << a) - 1u));
}

void rnn__panels_chunk_avx512(int M, int K, int ld_panel, const float *A, int lda,
                              const float *block, int lo, int hi, size_t col0, int beta,
                              const float *S, int lds, float *C, int ldc) {
    int rows = (int)(ROW_BLOCK_BYTES / (sizeof(float) * (size_t)K));
    rows = rows < MR_MAX ? MR_MAX : rows / MR_MAX * MR_MAX;
    const ptrdiff_t ps = (ptrdiff_t)RNN_PANEL * ld_panel; /* floats from a panel to the next */
    const int q0 = lo / RNN_PANEL, q1 = (hi + RNN_PANEL - 1) / RNN_PANEL;
    for (int i0 = 0; i0 < M; i0 += rows) {
        const int i1 = M - i0 < rows ? M : i0 + rows;
        for (int q = q0; q < q1;) {
            const int np = q1 - q == 3 ? 3 : q1 - q < NP_MAX ? q1 - q : NP_MAX;
            const __mmask16 m0 = lanes(q, lo, hi), m1 = lanes(q + np - 1, lo, hi);
            const float *P = block + (size_t)q * ps;
            const int pf = q + np < q1; /* the next group, if the range has one */
            const float *next = pf ? P + np * ps : P;
            const size_t cc = col0 + (size_t)q * RNN_PANEL;
            const int mr_max = np == 3 ? MR3_MAX : MR_MAX;
            for (int i = i0; i < i1; i += mr_max) {
                const int mr = i1 - i < mr_max ? i1 - i : mr_max;
                const ztile_fn tile =
                    np == 3 ? ztiles3[pf && i == i0][mr] : ztiles[pf && i == i0][mr][np];
                tile(K, A + (size_t)i * lda, lda, P, ps, next, C + (size_t)i * ldc + cc, ldc,
                     S + (lds ? (size_t)i * lds : 0) + cc, lds, beta, m0, m1);
            }
            q += np;
        }
    }
}

/* gemm_avx2.c's NN and TN products of more than one row, on B in place: MR rows x NV vectors
 * of 16 columns, the last keeping the lanes m. Per element the AVX2 tiles' operations (acc
 * chain from 0 in k order, then alpha, then beta with C or the bias row S), so the same bits;
 * beta 0 never reads S. */
INLINE AVX512 void nn_ztile(const int MR, const int NV, int K, const float *A, ptrdiff_t ars,
                            ptrdiff_t acs, const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc,
                            const float *S, ptrdiff_t lds, float alpha, float beta, __mmask16 m) {
    __m512 acc[MR_MAX][NP_MAX];
    if (beta != 0.0f) /* C's old values (or the bias row), read at the end */
        _Pragma("GCC unroll 12")
        for (int i = 0; i < MR; i++) _mm_prefetch((const char *)(S + i * lds), _MM_HINT_T0);
    _Pragma("GCC unroll 12")
    for (int i = 0; i < MR; i++)
        _Pragma("GCC unroll 2")
        for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        const float *b = B + (ptrdiff_t)k * ldb;
        /* rows of B lie ldb apart: ask for the row 8 ahead (the stream prefetcher stops at page
         * boundaries), as the AVX2 tiles do */
        _Pragma("GCC unroll 2")
        for (int v = 0; v < NV; v++)
            _mm_prefetch((const char *)(b + 8 * ldb + 16 * v), _MM_HINT_T0);
        __m512 bv[NP_MAX];
        _Pragma("GCC unroll 2")
        for (int v = 0; v < NV; v++)
            bv[v] = v + 1 < NV ? _mm512_loadu_ps(b + 16 * v) : _mm512_maskz_loadu_ps(m, b + 16 * v);
        _Pragma("GCC unroll 12")
        for (int i = 0; i < MR; i++) {
            const __m512 av = _mm512_set1_ps(A[i * ars + (ptrdiff_t)k * acs]);
            _Pragma("GCC unroll 2")
            for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
        }
    }
    _Pragma("GCC unroll 12")
    for (int i = 0; i < MR; i++)
        _Pragma("GCC unroll 2")
        for (int v = 0; v < NV; v++) {
            const __mmask16 mv = v + 1 < NV ? (__mmask16)0xffff : m;
            const float *s = S + i * lds + 16 * v;
            __m512 x = acc[i][v];
            if (alpha != 1.0f) x = _mm512_mul_ps(x, _mm512_set1_ps(alpha));
            if (beta == 1.0f) x = _mm512_add_ps(_mm512_maskz_loadu_ps(mv, s), x);
            else if (beta != 0.0f)
                x = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(mv, s), x);
            _mm512_mask_storeu_ps(C + i * ldc + 16 * v, mv, x);
        }
}

typedef void (*nn_fn)(int, const float *, ptrdiff_t, ptrdiff_t, const float *, ptrdiff_t, float *,
                      ptrdiff_t, const float *, ptrdiff_t, float, float, __mmask16);
#define NZ(MR, NV)                                                                            \
    AVX512 static void nz_##MR##_##NV(int K, const float *A, ptrdiff_t ars, ptrdiff_t acs,    \
                                      const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc, \
                                      const float *S, ptrdiff_t lds, float alpha, float beta, \
                                      __mmask16 m) {                                          \
        nn_ztile(MR, NV, K, A, ars, acs, B, ldb, C, ldc, S, lds, alpha, beta, m);             \
    }
#define NZROW(MR) NZ(MR, 1) NZ(MR, 2)
NZROW(1) NZROW(2) NZROW(3) NZROW(4) NZROW(5) NZROW(6) NZROW(7) NZROW(8) NZROW(9) NZROW(10)
NZROW(11) NZROW(12)
#define NZENTRY(MR) [MR] = {0, nz_##MR##_1, nz_##MR##_2}
static const nn_fn nztiles[MR_MAX + 1][NP_MAX + 1] = {
    NZENTRY(1), NZENTRY(2), NZENTRY(3), NZENTRY(4),  NZENTRY(5),  NZENTRY(6),
    NZENTRY(7), NZENTRY(8), NZENTRY(9), NZENTRY(10), NZENTRY(11), NZENTRY(12)};

int rnn__gemm_nn_avx512(int M, int N, int K, float alpha, const float *A, ptrdiff_t ars,
                        ptrdiff_t acs, const float *B, ptrdiff_t ldb, float beta, float *C,
                        ptrdiff_t ldc, const float *S, ptrdiff_t lds) {
    if (!rnn__panels_avx512_available()) return 0;
    const int nvec = (N + 15) / 16;
    /* chunks of MC rows: their rows of A stay in L2 across the column tiles, each column tile of
     * B in L1/L2 across the chunk (gemm_avx2.c's order; the order never changes the bits) */
    enum { MC = 96 };
    for (int m0 = 0; m0 < M; m0 += MC) {
        const int m1 = M - m0 < MC ? M : m0 + MC;
        for (int j0 = 0; j0 < nvec; j0 += NP_MAX) {
            const int nv = nvec - j0 < NP_MAX ? nvec - j0 : NP_MAX;
            const int last = N - 16 * (j0 + nv - 1); /* columns in the last vector */
            const __mmask16 m = (__mmask16)(last >= 16 ? 0xffffu : (1u << last) - 1u);
            for (int i0 = m0; i0 < m1; i0 += MR_MAX) {
                const int mr = m1 - i0 < MR_MAX ? m1 - i0 : MR_MAX;
                nztiles[mr][nv](K, A + i0 * ars, ars, acs, B + 16 * j0, ldb,
                                C + (ptrdiff_t)i0 * ldc + 16 * j0, ldc,
                                S + (ptrdiff_t)i0 * lds + 16 * j0, lds, alpha, beta, m);
            }
        }
    }
    return 1;
}

/* rnn__gemm_tn_steps_avx512's tile: MR rows of C (columns i0.. of the A_s) by NV vectors,
 * the chain over every step's rows in its registers, C written once. */
INLINE AVX512 void tn_steps_tile(const int MR, const int NV, int steps, int rows, const float *A,
                                 ptrdiff_t lda, ptrdiff_t astep, const float *B, ptrdiff_t ldb,
                                 ptrdiff_t bstep, float *C, ptrdiff_t ldc, __mmask16 m, int add) {
    __m512 acc[MR_MAX][NP_MAX];
    _Pragma("GCC unroll 12")
    for (int i = 0; i < MR; i++)
        _Pragma("GCC unroll 2")
        for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
    for (int s = 0; s < steps; s++) {
        const float *as = A + (ptrdiff_t)s * astep, *bs = B + (ptrdiff_t)s * bstep;
        for (int r = 0; r < rows; r++) {
            const float *b = bs + (ptrdiff_t)r * ldb;
            /* the row 8 ahead, in this step or the next one (rows lie ldb apart: the stream
             * prefetcher stops at page boundaries) */
            const float *ahead = r + 8 < rows ? b + 8 * ldb
                                 : s + 1 < steps ? bs + bstep + (ptrdiff_t)(r + 8 - rows) * ldb
                                                 : NULL;
            if (ahead)
                _Pragma("GCC unroll 2")
                for (int v = 0; v < NV; v++) _mm_prefetch((const char *)(ahead + 16 * v), _MM_HINT_T0);
            __m512 bv[NP_MAX];
            _Pragma("GCC unroll 2")
            for (int v = 0; v < NV; v++)
                bv[v] = v + 1 < NV ? _mm512_loadu_ps(b + 16 * v) : _mm512_maskz_loadu_ps(m, b + 16 * v);
            const float *a = as + (ptrdiff_t)r * lda;
            _Pragma("GCC unroll 12")
            for (int i = 0; i < MR; i++) {
                const __m512 av = _mm512_set1_ps(a[i]);
                _Pragma("GCC unroll 2")
                for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
            }
        }
    }
    _Pragma("GCC unroll 12")
    for (int i = 0; i < MR; i++)
        _Pragma("GCC unroll 2")
        for (int v = 0; v < NV; v++) {
            const __mmask16 mv = v + 1 < NV ? (__mmask16)0xffff : m;
            __m512 x = acc[i][v];
            if (add) x = _mm512_add_ps(_mm512_maskz_loadu_ps(mv, C + i * ldc + 16 * v), x);
            _mm512_mask_storeu_ps(C + i * ldc + 16 * v, mv, x);
        }
}

typedef void (*tn_steps_fn)(int, int, const float *, ptrdiff_t, ptrdiff_t, const float *,
                            ptrdiff_t, ptrdiff_t, float *, ptrdiff_t, __mmask16, int);
#define TS(MR, NV)                                                                            \
    AVX512 static void ts_##MR##_##NV(int steps, int rows, const float *A, ptrdiff_t lda,      \
                                      ptrdiff_t astep, const float *B, ptrdiff_t ldb,         \
                                      ptrdiff_t bstep, float *C, ptrdiff_t ldc, __mmask16 m,  \
                                      int add) {                                              \
        tn_steps_tile(MR, NV, steps, rows, A, lda, astep, B, ldb, bstep, C, ldc, m, add);     \
    }
#define TSROW(MR) TS(MR, 1) TS(MR, 2)
TSROW(1) TSROW(2) TSROW(3) TSROW(4) TSROW(5) TSROW(6) TSROW(7) TSROW(8) TSROW(9) TSROW(10)
TSROW(11) TSROW(12)
#define TSENTRY(MR) [MR] = {0, ts_##MR##_1, ts_##MR##_2}
static const tn_steps_fn tstiles[MR_MAX + 1][NP_MAX + 1] = {
    TSENTRY(1), TSENTRY(2), TSENTRY(3), TSENTRY(4),  TSENTRY(5),  TSENTRY(6),
    TSENTRY(7), TSENTRY(8), TSENTRY(9), TSENTRY(10), TSENTRY(11), TSENTRY(12)};

int rnn__gemm_tn_steps_avx512(int M, int N, int steps, int rows, const float *A, ptrdiff_t lda,
                              ptrdiff_t astep, const float *B, ptrdiff_t ldb, ptrdiff_t bstep,
                              float *C, ptrdiff_t ldc, int add) {
    if (!rnn__panels_avx512_available()) return 0;
    const int nvec = (N + 15) / 16;
    for (int j0 = 0; j0 < nvec; j0 += NP_MAX) { /* a column panel of every B_s, then its rows */
        const int nv = nvec - j0 < NP_MAX ? nvec - j0 : NP_MAX;
        const int last = N - 16 * (j0 + nv - 1);
        const __mmask16 m = (__mmask16)(last >= 16 ? 0xffffu : (1u << last) - 1u);
        for (int i0 = 0; i0 < M; i0 += MR_MAX) {
            const int mr = M - i0 < MR_MAX ? M - i0 : MR_MAX;
            tstiles[mr][nv](steps, rows, A + i0, lda, astep, B + 16 * j0, ldb, bstep,
                            C + (ptrdiff_t)i0 * ldc + 16 * j0, ldc, m, add);
        }
    }
    return 1;
}

#else

int rnn__panels_avx512_available(void) { return 0; }

int rnn__gemm_tn_steps_avx512(int M, int N, int steps, int rows, const float *A, ptrdiff_t lda,
                              ptrdiff_t astep, const float *B, ptrdiff_t ldb, ptrdiff_t bstep,
                              float *C, ptrdiff_t ldc, int add) {
    (void)M; (void)N; (void)steps; (void)rows; (void)A; (void)lda; (void)astep; (void)B;
    (void)ldb; (void)bstep; (void)C; (void)ldc; (void)add;
    return 0;
}

int rnn__gemm_nn_avx512(int M, int N, int K, float alpha, const float *A, ptrdiff_t ars,
                        ptrdiff_t acs, const float *B, ptrdiff_t ldb, float beta, float *C,
                        ptrdiff_t ldc, const float *S, ptrdiff_t lds) {
    (void)M; (void)N; (void)K; (void)alpha; (void)A; (void)ars; (void)acs; (void)B; (void)ldb;
    (void)beta; (void)C; (void)ldc; (void)S; (void)lds;
    return 0;
}

void rnn__panels_chunk_avx512(int M, int K, int ld_panel, const float *A, int lda,
                              const float *block, int lo, int hi, size_t col0, int beta,
                              const float *S, int lds, float *C, int ldc) {
    (void)M; (void)K; (void)ld_panel; (void)A; (void)lda; (void)block; (void)lo; (void)hi;
    (void)col0; (void)beta; (void)S; (void)lds; (void)C; (void)ldc;
}

#endif
