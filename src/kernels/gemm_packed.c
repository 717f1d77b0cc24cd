/* Products against packed panels (gemm_packed.h): an AVX2/FMA 6 x 16 register tile that reads
 * its 16 columns of B as one contiguous stream (64 bytes per k) instead of 16-float pieces of
 * rows 8 KB apart, which is what held back the unpacked tiles on B4's K = 512 step (the
 * hardware prefetchers stop at page boundaries; bench/README.md). Rows of A are read in place:
 * a block of at most ROW_BLOCK_BYTES of A stays in L2 while every panel of the column range passes by it,
 * so each panel is read from memory or L3 once per row block, and a panel is read from L2 once
 * per tile of 6 rows. Compiled at -O3 (Makefile) so the fixed-size tiles unroll into registers.
 */
#include "kernels/gemm_packed.h"

#include "kernels/gemm.h"
#include "kernels/gemm_kernels.h"

#include <string.h>

size_t rnn__panels_floats(int K, int groups, int width) {
    const size_t panels = (size_t)(width + RNN_PANEL - 1) / RNN_PANEL;
    return (size_t)groups * panels * RNN_PANEL * (size_t)K;
}

void rnn__pack_panels(float *panels, const float *B, int ldb, int trans_b, int K, int groups,
                      int width, int p0, int p1) {
    const int np = (width + RNN_PANEL - 1) / RNN_PANEL;
    if (p1 < 0 || p1 > np) p1 = np;
    for (int g = 0; g < groups; g++)
        for (int p = p0; p < p1; p++) {
            float *dst = panels + ((size_t)g * np + p) * RNN_PANEL * K;
            const int c0 = g * width + p * RNN_PANEL;
            const int w = width - p * RNN_PANEL < RNN_PANEL ? width - p * RNN_PANEL : RNN_PANEL;
            for (int k = 0; k < K; k++) {
                float *d = dst + (size_t)k * RNN_PANEL;
                if (!trans_b) {
                    memcpy(d, B + (size_t)k * ldb + c0, sizeof(float) * w);
                } else {
                    for (int j = 0; j < w; j++) d[j] = B[(size_t)(c0 + j) * ldb + k];
                }
                for (int j = w; j < RNN_PANEL; j++) d[j] = 0.0f;
            }
        }
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

/* Rows of A per block: the block (rows x K floats) stays in L2 (512 KB per core here) while
 * the panels pass by. */
#define ROW_BLOCK_BYTES (192 * 1024)

static const int32_t mask_tab[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* MR rows x NV vectors of one panel, starting at P (the panel, or its second half). The last
 * vector keeps `tail` columns (8: all). */
INLINE AVX2 void panel_tile(const int MR, const int NV, const int PF, int K, const float *A,
                            ptrdiff_t lda, const float *P, const float *next, float *C,
                            ptrdiff_t ldc, const float *S, ptrdiff_t lds, int beta, int tail) {
    __m256 acc[6][2];
    _Pragma("GCC unroll 6")
    for (int i = 0; i < MR; i++)
        _Pragma("GCC unroll 2")
        for (int v = 0; v < NV; v++) acc[i][v] = _mm256_setzero_ps();
    const float *a[6];
    _Pragma("GCC unroll 6")
    for (int i = 0; i < MR; i++) {
        a[i] = A + i * lda;
        /* C's lines, written at the end: usually not in cache (a buffer of all steps) */
        _mm_prefetch((const char *)(C + i * ldc), _MM_HINT_T0);
        if (NV == 2 && tail == 8) _mm_prefetch((const char *)(C + i * ldc + 15), _MM_HINT_T0);
    }
    for (int k = 0; k < K; k++) {
        const float *b = P + (ptrdiff_t)k * RNN_PANEL;
        /* PF (the first row tile of a panel): bring the next panel into L2, one line per k, so
         * that its first tile does not wait for memory (in a layer's forward pass the buffer
         * of all steps' pre-activations streams through the caches and pushes the kernel's
         * panels out of L3 between steps). */
        if (PF) _mm_prefetch((const char *)(next + (ptrdiff_t)k * RNN_PANEL), _MM_HINT_T1);
        __m256 bv[2];
        _Pragma("GCC unroll 2")
        for (int v = 0; v < NV; v++) bv[v] = _mm256_loadu_ps(b + 8 * v);
        _Pragma("GCC unroll 6")
        for (int i = 0; i < MR; i++) {
            const __m256 av = _mm256_broadcast_ss(a[i] + k);
            _Pragma("GCC unroll 2")
            for (int v = 0; v < NV; v++) acc[i][v] = _mm256_fmadd_ps(av, bv[v], acc[i][v]);
        }
    }
    const __m256i m = _mm256_loadu_si256((const __m256i *)(mask_tab + 8 - tail));
    _Pragma("GCC unroll 6")
    for (int i = 0; i < MR; i++)
        _Pragma("GCC unroll 2")
        for (int v = 0; v < NV; v++) {
            float *c = C + i * ldc + 8 * v;
            const float *s = S + i * lds + 8 * v;
            __m256 x = acc[i][v];
            if (v + 1 < NV || tail == 8) {
                if (beta) x = _mm256_add_ps(_mm256_loadu_ps(s), x);
                _mm256_storeu_ps(c, x);
            } else {
                if (beta) x = _mm256_add_ps(_mm256_maskload_ps(s, m), x);
                _mm256_maskstore_ps(c, m, x);
            }
        }
}

typedef void (*tile_fn)(int, const float *, ptrdiff_t, const float *, const float *, float *,
                        ptrdiff_t, const float *, ptrdiff_t, int, int);
#define TILE(MR, NV, PF)                                                                      \
    AVX2 static void tile_##MR##_##NV##_##PF(int K, const float *A, ptrdiff_t lda,           \
                                             const float *P, const float *next, float *C,    \
                                             ptrdiff_t ldc, const float *S, ptrdiff_t lds,   \
                                             int beta, int tail) {                           \
        panel_tile(MR, NV, PF, K, A, lda, P, next, C, ldc, S, lds, beta, tail);              \
    }
#define TILES(PF)                                                                             \
    TILE(1, 1, PF) TILE(2, 1, PF) TILE(3, 1, PF) TILE(4, 1, PF) TILE(5, 1, PF) TILE(6, 1, PF) \
    TILE(1, 2, PF) TILE(2, 2, PF) TILE(3, 2, PF) TILE(4, 2, PF) TILE(5, 2, PF) TILE(6, 2, PF)
TILES(0) TILES(1)
/* tiles[pf][rows][vectors] */
static const tile_fn tiles[2][7][3] = {
    {[1] = {0, tile_1_1_0, tile_1_2_0}, [2] = {0, tile_2_1_0, tile_2_2_0},
     [3] = {0, tile_3_1_0, tile_3_2_0}, [4] = {0, tile_4_1_0, tile_4_2_0},
     [5] = {0, tile_5_1_0, tile_5_2_0}, [6] = {0, tile_6_1_0, tile_6_2_0}},
    {[1] = {0, tile_1_1_1, tile_1_2_1}, [2] = {0, tile_2_1_1, tile_2_2_1},
     [3] = {0, tile_3_1_1, tile_3_2_1}, [4] = {0, tile_4_1_1, tile_4_2_1},
     [5] = {0, tile_5_1_1, tile_5_2_1}, [6] = {0, tile_6_1_1, tile_6_2_1}},
};

static void chunk(int M, int K, int ld_panel, const float *A, int lda, const float *block,
                  int lo, int hi, size_t col0, int beta, const float *S, int lds, float *C,
                  int ldc);

static void chunk_avx512(int M, int K, int ld_panel, const float *A, int lda, const float *block,
                         int lo, int hi, size_t col0, int beta, const float *S, int lds, float *C,
                         int ldc) {
    rnn__panels_chunk_avx512(M, K, ld_panel, A, lda, block, lo, hi, col0, beta, S, lds, C, ldc);
}

int rnn__gemm_panels_available(void) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

int rnn__gemm_panels_avx512(void) { return rnn__panels_avx512_available(); }

typedef void (*chunk_fn)(int, int, int, const float *, int, const float *, int, int, size_t, int,
                         const float *, int, float *, int);

/* The AVX-512 chunk where the CPU has it (and isa allows it), else the AVX2 one; NULL: none. */
static chunk_fn chunk_for(int isa) {
    if (isa != RNN_PANELS_AVX2 && rnn__panels_avx512_available()) return chunk_avx512;
    if (isa == RNN_PANELS_AVX512 || !rnn__gemm_panels_available()) return NULL;
    return chunk;
}

int rnn__gemm_panels(int M, int K, const float *A, int lda, const float *panels, int width,
                     int g, int lo, int hi, int beta, const float *S, int lds,
                     float *C, int ldc) {
    return rnn__gemm_panels_isa(RNN_PANELS_BEST, M, K, A, lda, panels, width, g, lo, hi, beta, S,
                                lds, C, ldc);
}

int rnn__gemm_panels_isa(int isa, int M, int K, const float *A, int lda, const float *panels,
                         int width, int g, int lo, int hi, int beta, const float *S, int lds,
                         float *C, int ldc) {
    const chunk_fn run = chunk_for(isa);
    if (!run || (lo & 7)) return 0;
    if (M <= 0 || hi <= lo) return 1;
    if (!beta) { /* S is never read; keep its pointer arithmetic inside C */
        S = C;
        lds = ldc;
    }
    const int np = (width + RNN_PANEL - 1) / RNN_PANEL;
    const float *block = panels + (size_t)g * np * RNN_PANEL * K;
    const size_t col0 = (size_t)g * width;
    if (K <= 0) { /* an empty sum */
        for (int i = 0; i < M; i++)
            for (int j = lo; j < hi; j++)
                C[(size_t)i * ldc + col0 + j] = beta ? S[(size_t)i * lds + col0 + j] : 0.0f;
        return 1;
    }
    if (K > RNN_PANEL_KC) { /* in chunks of RNN_PANEL_KC rows of B, each added to C in turn */
        for (int k0 = 0; k0 < K; k0 += RNN_PANEL_KC) {
            const int kc = K - k0 < RNN_PANEL_KC ? K - k0 : RNN_PANEL_KC;
            run(M, kc, K, A + k0, lda, block + (size_t)k0 * RNN_PANEL, lo, hi, col0,
                k0 ? 1 : beta, k0 ? C : S, k0 ? ldc : lds, C, ldc);
        }
        return 1;
    }
    run(M, K, K, A, lda, block, lo, hi, col0, beta, S, lds, C, ldc);
    return 1;
}

/* One chunk: rows [0, K) of every panel, which lie `ld_panel` rows apart. */
static void chunk(int M, int K, int ld_panel, const float *A, int lda, const float *block,
                  int lo, int hi, size_t col0, int beta, const float *S, int lds, float *C,
                  int ldc) {
    int rows = (int)(ROW_BLOCK_BYTES / (sizeof(float) * (size_t)K));
    rows = rows < 6 ? 6 : rows / 6 * 6;
    for (int i0 = 0; i0 < M; i0 += rows) {
        const int i1 = M - i0 < rows ? M : i0 + rows;
        for (int p = lo / RNN_PANEL; p * RNN_PANEL < hi; p++) {
            const int c0 = lo > p * RNN_PANEL ? lo : p * RNN_PANEL;
            const int c1 = hi < (p + 1) * RNN_PANEL ? hi : (p + 1) * RNN_PANEL;
            const int off = c0 - p * RNN_PANEL, w = c1 - c0;
            const int nv = w > 8 ? 2 : 1, tail = w - 8 * (nv - 1);
            const float *P = block + (size_t)p * RNN_PANEL * ld_panel + off;
            /* the panel after this one, if the range has one */
            const int pf = (p + 1) * RNN_PANEL < hi;
            const float *next = pf ? block + (size_t)(p + 1) * RNN_PANEL * ld_panel : P;
            const size_t cc = col0 + (size_t)c0;
            for (int i = i0; i < i1; i += 6) {
                const int mr = i1 - i < 6 ? i1 - i : 6;
                tiles[pf && i == i0][mr][nv](K, A + (size_t)i * lda, lda, P, next,
                                             C + (size_t)i * ldc + cc, ldc,
                                             S + (lds ? (size_t)i * lds : 0) + cc, lds, beta,
                                             tail);
            }
        }
    }
}

#else

int rnn__gemm_panels_available(void) { return 0; }

int rnn__gemm_panels_avx512(void) { return 0; }

int rnn__gemm_panels(int M, int K, const float *A, int lda, const float *panels, int width,
                     int g, int lo, int hi, int beta, const float *S, int lds,
                     float *C, int ldc) {
    return rnn__gemm_panels_isa(RNN_PANELS_BEST, M, K, A, lda, panels, width, g, lo, hi, beta, S,
                                lds, C, ldc);
}

int rnn__gemm_panels_isa(int isa, int M, int K, const float *A, int lda, const float *panels,
                         int width, int g, int lo, int hi, int beta, const float *S, int lds,
                         float *C, int ldc) {
    (void)isa; (void)M; (void)K; (void)A; (void)lda; (void)panels; (void)width; (void)g;
    (void)lo; (void)hi; (void)beta; (void)S; (void)lds; (void)C; (void)ldc;
    return 0;
}

#endif
