/* Reduced-precision weight products (qmatvec.h). Streaming a step is bound by reading the
 * weights, so the weights are read as 2 (bf16) or 1 (int8) bytes and widened in registers;
 * the arithmetic is float32. vdpbf16ps is not used: it sums pairs of products, which would
 * make the vector path's bits differ from the portable loop's. */
#include "kernels/qmatvec.h"

#include <math.h>
#include <string.h>

#include "kernels/gemm.h"

uint16_t rnn__bf16_from_float(float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float rnn__bf16_to_float(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Columns [j0, N) one at a time: the same fused operations as a vector lane. */
static void bf16_cols(int M, int j0, int N, int K, const float *x, int ldx, const uint16_t *w,
                      int ldw, float *y, int ldy) {
    for (int b = 0; b < M; b++)
        for (int j = j0; j < N; j++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++)
                acc = fmaf(x[(size_t)b * ldx + k], rnn__bf16_to_float(w[(size_t)k * ldw + j]), acc);
            y[(size_t)b * ldy + j] += acc;
        }
}

static void int8_cols(int M, int j0, int N, int K, const float *x, int ldx, const int8_t *w,
                      int ldw, const float *scale, float *y, int ldy) {
    for (int b = 0; b < M; b++)
        for (int j = j0; j < N; j++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++)
                acc = fmaf(x[(size_t)b * ldx + k], (float)w[(size_t)k * ldw + j], acc);
            y[(size_t)b * ldy + j] = fmaf(acc, scale[j], y[(size_t)b * ldy + j]);
        }
}

static int forced = -1;

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f,avx512bw,fma")))

static int cpu_path(void) {
    static int path = -1;
    if (path < 0) {
        __builtin_cpu_init();
        path = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") ? 2
               : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 1
                                                                                    : 0;
    }
    return path;
}

/* NV vectors of 16 columns held in registers over all of K: one load per fused multiply-add,
 * none of y inside the loop; NV = 16 (256 columns, a thread's share of an LSTM(128) layer on
 * two threads) leaves 15 registers for the broadcast and the loads. from_zero: the sums start
 * at 0 and are added to y at the end, as the AVX2 tiles do for several rows (one row, as
 * their one-row loop, chains from y itself). */
#define F32_BLOCK(NV)                                                                        \
    AVX512 static void f32_block_##NV(int K, const float *x, const float *w, int ldw,        \
                                      float *y, int from_zero) {                             \
        __m512 a[NV];                                                                        \
        _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++)                                \
            a[v] = from_zero ? _mm512_setzero_ps() : _mm512_loadu_ps(y + 16 * v);            \
        for (int k = 0; k < K; k++) {                                                        \
            const float *wk = w + (size_t)k * ldw;                                           \
            const __m512 xv = _mm512_set1_ps(x[k]);                                          \
            _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++)                            \
                a[v] = _mm512_fmadd_ps(xv, _mm512_loadu_ps(wk + 16 * v), a[v]);              \
        }                                                                                    \
        _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++) {                              \
            if (from_zero) a[v] = _mm512_add_ps(_mm512_loadu_ps(y + 16 * v), a[v]);          \
            _mm512_storeu_ps(y + 16 * v, a[v]);                                              \
        }                                                                                    \
    }
F32_BLOCK(16)
F32_BLOCK(4)
F32_BLOCK(1)
#undef F32_BLOCK

/* Returns the columns done (whole vectors of 16); the rest is left to the caller. */
AVX512 static int f32_512(int M, int N, int K, const float *x, int ldx, const float *w, int ldw,
                          float *y, int ldy) {
    int j = 0;
    const int from_zero = M > 1;
    for (int b = 0; b < M; b++) {
        const float *xb = x + (size_t)b * ldx;
        float *yb = y + (size_t)b * ldy;
        for (j = 0; j + 256 <= N; j += 256) f32_block_16(K, xb, w + j, ldw, yb + j, from_zero);
        for (; j + 64 <= N; j += 64) f32_block_4(K, xb, w + j, ldw, yb + j, from_zero);
        for (; j + 16 <= N; j += 16) f32_block_1(K, xb, w + j, ldw, yb + j, from_zero);
    }
    return j;
}

/* Four vectors of columns per k: four independent chains of fused multiply-adds. */
/* 256 columns per row k (a thread's share of an LSTM(128) layer on two threads) as eight
 * vectors of 32 bf16, widened as in bf16_512 below into 16 accumulators that stay in registers
 * over all of K: each row of the share is read in one 512-byte run. */
AVX512 static void bf16_block_256(int K, const float *x, const uint16_t *w, int ldw, float *y) {
    const __m512i zero = _mm512_setzero_si512();
    const __m512i lo_idx = _mm512_set_epi32(23, 22, 21, 20, 7, 6, 5, 4, 19, 18, 17, 16, 3, 2, 1,
                                            0);
    const __m512i hi_idx = _mm512_set_epi32(31, 30, 29, 28, 15, 14, 13, 12, 27, 26, 25, 24, 11,
                                            10, 9, 8);
    __m512 a[16];
    _Pragma("GCC unroll 16") for (int v = 0; v < 16; v++) a[v] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        const uint16_t *wk = w + (size_t)k * ldw;
        const __m512 xv = _mm512_set1_ps(x[k]);
        _Pragma("GCC unroll 8") for (int v = 0; v < 8; v++) {
            const __m512i q = _mm512_loadu_si512((const void *)(wk + 32 * v));
            a[2 * v] = _mm512_fmadd_ps(xv, _mm512_castsi512_ps(_mm512_unpacklo_epi16(zero, q)),
                                       a[2 * v]);
            a[2 * v + 1] = _mm512_fmadd_ps(
                xv, _mm512_castsi512_ps(_mm512_unpackhi_epi16(zero, q)), a[2 * v + 1]);
        }
    }
    _Pragma("GCC unroll 8") for (int v = 0; v < 8; v++) {
        const __m512 c0 = _mm512_permutex2var_ps(a[2 * v], lo_idx, a[2 * v + 1]);
        const __m512 c1 = _mm512_permutex2var_ps(a[2 * v], hi_idx, a[2 * v + 1]);
        _mm512_storeu_ps(y + 32 * v, _mm512_add_ps(_mm512_loadu_ps(y + 32 * v), c0));
        _mm512_storeu_ps(y + 32 * v + 16, _mm512_add_ps(_mm512_loadu_ps(y + 32 * v + 16), c1));
    }
}

AVX512 static int bf16_512(int M, int N, int K, const float *x, int ldx, const uint16_t *w,
                           int ldw, float *y, int ldy) {
    int j = 0;
    for (int b = 0; b < M; b++) {
        const float *xb = x + (size_t)b * ldx;
        float *yb = y + (size_t)b * ldy;
        /* 64 columns per row k as two vectors of 32 bf16, each widened by interleaving with
         * zeros (one shuffle per 16 floats): the accumulators hold the columns of each 128-bit
         * lane's low and high four words, put back in order once at the end */
        const __m512i zero = _mm512_setzero_si512();
        const __m512i lo_idx = _mm512_set_epi32(23, 22, 21, 20, 7, 6, 5, 4, 19, 18, 17, 16, 3,
                                                2, 1, 0);
        const __m512i hi_idx = _mm512_set_epi32(31, 30, 29, 28, 15, 14, 13, 12, 27, 26, 25, 24,
                                                11, 10, 9, 8);
        for (j = 0; j + 256 <= N; j += 256) bf16_block_256(K, xb, w + j, ldw, yb + j);
        for (; j + 64 <= N; j += 64) {
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (int k = 0; k < K; k++) {
                const uint16_t *wk = w + (size_t)k * ldw + j;
                const __m512 xv = _mm512_set1_ps(xb[k]);
                const __m512i v0 = _mm512_loadu_si512((const void *)wk);
                const __m512i v1 = _mm512_loadu_si512((const void *)(wk + 32));
                a0 = _mm512_fmadd_ps(xv, _mm512_castsi512_ps(_mm512_unpacklo_epi16(zero, v0)), a0);
                a1 = _mm512_fmadd_ps(xv, _mm512_castsi512_ps(_mm512_unpackhi_epi16(zero, v0)), a1);
                a2 = _mm512_fmadd_ps(xv, _mm512_castsi512_ps(_mm512_unpacklo_epi16(zero, v1)), a2);
                a3 = _mm512_fmadd_ps(xv, _mm512_castsi512_ps(_mm512_unpackhi_epi16(zero, v1)), a3);
            }
            const __m512 c0 = _mm512_permutex2var_ps(a0, lo_idx, a1);
            const __m512 c1 = _mm512_permutex2var_ps(a0, hi_idx, a1);
            const __m512 c2 = _mm512_permutex2var_ps(a2, lo_idx, a3);
            const __m512 c3 = _mm512_permutex2var_ps(a2, hi_idx, a3);
            _mm512_storeu_ps(yb + j, _mm512_add_ps(_mm512_loadu_ps(yb + j), c0));
            _mm512_storeu_ps(yb + j + 16, _mm512_add_ps(_mm512_loadu_ps(yb + j + 16), c1));
            _mm512_storeu_ps(yb + j + 32, _mm512_add_ps(_mm512_loadu_ps(yb + j + 32), c2));
            _mm512_storeu_ps(yb + j + 48, _mm512_add_ps(_mm512_loadu_ps(yb + j + 48), c3));
        }
#define WIDEN(p) _mm512_castsi512_ps(_mm512_slli_epi32( \
    _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p))), 16))
        for (; j + 16 <= N; j += 16) {
            __m512 a0 = _mm512_setzero_ps();
            for (int k = 0; k < K; k++)
                a0 = _mm512_fmadd_ps(_mm512_set1_ps(xb[k]), WIDEN(w + (size_t)k * ldw + j), a0);
            _mm512_storeu_ps(yb + j, _mm512_add_ps(_mm512_loadu_ps(yb + j), a0));
        }
#undef WIDEN
    }
    return j;
}

AVX512 static int int8_512(int M, int N, int K, const float *x, int ldx, const int8_t *w,
                           int ldw, const float *scale, float *y, int ldy) {
    int j = 0;
    for (int b = 0; b < M; b++) {
        const float *xb = x + (size_t)b * ldx;
        float *yb = y + (size_t)b * ldy;
#define WIDEN(p) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p))))
#define STORE(o, a) _mm512_storeu_ps(yb + j + (o), _mm512_fmadd_ps((a), \
    _mm512_loadu_ps(scale + j + (o)), _mm512_loadu_ps(yb + j + (o))))
        /* 128 columns (two cache lines of weights) per row k */
        for (j = 0; j + 128 <= N; j += 128) {
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0,
                   a6 = a0, a7 = a0;
            for (int k = 0; k < K; k++) {
                const int8_t *wk = w + (size_t)k * ldw + j;
                const __m512 xv = _mm512_set1_ps(xb[k]);
                a0 = _mm512_fmadd_ps(xv, WIDEN(wk), a0);
                a1 = _mm512_fmadd_ps(xv, WIDEN(wk + 16), a1);
                a2 = _mm512_fmadd_ps(xv, WIDEN(wk + 32), a2);
                a3 = _mm512_fmadd_ps(xv, WIDEN(wk + 48), a3);
                a4 = _mm512_fmadd_ps(xv, WIDEN(wk + 64), a4);
                a5 = _mm512_fmadd_ps(xv, WIDEN(wk + 80), a5);
                a6 = _mm512_fmadd_ps(xv, WIDEN(wk + 96), a6);
                a7 = _mm512_fmadd_ps(xv, WIDEN(wk + 112), a7);
            }
            STORE(0, a0);
            STORE(16, a1);
            STORE(32, a2);
            STORE(48, a3);
            STORE(64, a4);
            STORE(80, a5);
            STORE(96, a6);
            STORE(112, a7);
        }
        for (; j + 64 <= N; j += 64) {
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (int k = 0; k < K; k++) {
                const int8_t *wk = w + (size_t)k * ldw + j;
                const __m512 xv = _mm512_set1_ps(xb[k]);
                a0 = _mm512_fmadd_ps(xv, WIDEN(wk), a0);
                a1 = _mm512_fmadd_ps(xv, WIDEN(wk + 16), a1);
                a2 = _mm512_fmadd_ps(xv, WIDEN(wk + 32), a2);
                a3 = _mm512_fmadd_ps(xv, WIDEN(wk + 48), a3);
            }
            STORE(0, a0);
            STORE(16, a1);
            STORE(32, a2);
            STORE(48, a3);
        }
        for (; j + 16 <= N; j += 16) {
            __m512 a0 = _mm512_setzero_ps();
            for (int k = 0; k < K; k++)
                a0 = _mm512_fmadd_ps(_mm512_set1_ps(xb[k]), WIDEN(w + (size_t)k * ldw + j), a0);
            STORE(0, a0);
        }
#undef WIDEN
#undef STORE
    }
    return j;
}

/* The AVX2 reduced-precision mat-vec of one type: y[b] += x[b] W over blocks of 32, then 8,
 * columns, with WIDEN(p) (8 weights at p as floats) and STORE(o, a) (a's sums into y at
 * column j + o) defined by the caller; returns the first column not computed. */
#define MATVEC_256_BODY(wtype)                                                              \
    int j = 0;                                                                              \
    for (int b = 0; b < M; b++) {                                                           \
        const float *xb = x + (size_t)b * ldx;                                              \
        float *yb = y + (size_t)b * ldy;                                                    \
        for (j = 0; j + 32 <= N; j += 32) {                                                 \
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                     \
            for (int k = 0; k < K; k++) {                                                   \
                const wtype *wk = w + (size_t)k * ldw + j;                                  \
                const __m256 xv = _mm256_set1_ps(xb[k]);                                    \
                a0 = _mm256_fmadd_ps(xv, WIDEN(wk), a0);                                    \
                a1 = _mm256_fmadd_ps(xv, WIDEN(wk + 8), a1);                                \
                a2 = _mm256_fmadd_ps(xv, WIDEN(wk + 16), a2);                               \
                a3 = _mm256_fmadd_ps(xv, WIDEN(wk + 24), a3);                               \
            }                                                                               \
            STORE(0, a0);                                                                   \
            STORE(8, a1);                                                                   \
            STORE(16, a2);                                                                  \
            STORE(24, a3);                                                                  \
        }                                                                                   \
        for (; j + 8 <= N; j += 8) {                                                        \
            __m256 a0 = _mm256_setzero_ps();                                                \
            for (int k = 0; k < K; k++)                                                     \
                a0 = _mm256_fmadd_ps(_mm256_set1_ps(xb[k]), WIDEN(w + (size_t)k * ldw + j), \
                                     a0);                                                   \
            STORE(0, a0);                                                                   \
        }                                                                                   \
    }                                                                                       \
    return j;

AVX2 static int bf16_256(int M, int N, int K, const float *x, int ldx, const uint16_t *w,
                         int ldw, float *y, int ldy) {
#define WIDEN(p) _mm256_castsi256_ps(_mm256_slli_epi32( \
    _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))
#define STORE(o, a) _mm256_storeu_ps(yb + j + (o), _mm256_add_ps(_mm256_loadu_ps(yb + j + (o)), (a)))
    MATVEC_256_BODY(uint16_t)
#undef WIDEN
#undef STORE
}

AVX2 static int int8_256(int M, int N, int K, const float *x, int ldx, const int8_t *w,
                         int ldw, const float *scale, float *y, int ldy) {
#define WIDEN(p) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p))))
#define STORE(o, a) _mm256_storeu_ps(yb + j + (o), _mm256_fmadd_ps((a), \
    _mm256_loadu_ps(scale + j + (o)), _mm256_loadu_ps(yb + j + (o))))
    MATVEC_256_BODY(int8_t)
#undef WIDEN
#undef STORE
}
#undef MATVEC_256_BODY
#else
static int cpu_path(void) { return 0; }
#endif

int rnn__qmv_path(void) {
    const int p = cpu_path();
    return forced >= 0 && forced < p ? forced : p;
}

void rnn__qmv_force(int path) { forced = path; }

void rnn__qmv_f32(int M, int N, int K, const float *x, int ldx, const float *w, int ldw, float *y,
                  int ldy) {
    int j0 = 0;
    if (M <= 0 || N <= 0 || K <= 0) return;
#if defined(__GNUC__) && defined(__x86_64__)
    if (rnn__qmv_path() == 2) j0 = f32_512(M, N, K, x, ldx, w, ldw, y, ldy);
#endif
    if (j0 < N)
        rnn__product(M, N - j0, K, x, ldx, w + j0, ldw, y + j0, ldy,
                     RNN_GEMM(.beta = 1.0f, .kernel = RNN_GEMM_OWN));
}

void rnn__qmv_bf16(int M, int N, int K, const float *x, int ldx, const uint16_t *w, int ldw,
                   float *y, int ldy) {
    int j0 = 0;
    if (M <= 0 || N <= 0) return;
#if defined(__GNUC__) && defined(__x86_64__)
    const int p = rnn__qmv_path();
    if (p == 2) j0 = bf16_512(M, N, K, x, ldx, w, ldw, y, ldy);
    else if (p == 1) j0 = bf16_256(M, N, K, x, ldx, w, ldw, y, ldy);
#endif
    bf16_cols(M, j0, N, K, x, ldx, w, ldw, y, ldy);
}

void rnn__qmv_int8(int M, int N, int K, const float *x, int ldx, const int8_t *w, int ldw,
                   const float *scale, float *y, int ldy) {
    int j0 = 0;
    if (M <= 0 || N <= 0) return;
#if defined(__GNUC__) && defined(__x86_64__)
    const int p = rnn__qmv_path();
    if (p == 2) j0 = int8_512(M, N, K, x, ldx, w, ldw, scale, y, ldy);
    else if (p == 1) j0 = int8_256(M, N, K, x, ldx, w, ldw, scale, y, ldy);
#endif
    int8_cols(M, j0, N, K, x, ldx, w, ldw, scale, y, ldy);
}
