/* Reduced-precision weight products (qmatvec.h). Streaming a step is bound by reading the
 * weights and by the instructions per weight. bf16: the weights are read as 2 bytes and
 * widened in registers, the arithmetic is float32; vdpbf16ps is not used: it sums pairs of
 * products, which would make the vector path's bits differ from the portable loop's. int8: the
 * activations are rounded to integers too (16 bits: two bytes), so that VNNI's vpdpbusd does
 * 64 exact multiply-adds per instruction with no widening, and integer sums make every path's
 * bits equal whatever the order. */
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


/* ---- int8: integer products (rnn__qmv_int8 in qmatvec.h) ----
 * A run of at most RNN_QMV_INT8_KC k of a row is rounded to integers xq = lrint(x 2^-e), e a
 * power of two making |xq| <= 2^14; xq + 2^15 (in [2^14, 3 2^14]) is cut into two unsigned
 * digits d0 + 2^8 d1, and each column's two sums S_d = sum_k d_d(k) q(k, j) are exact int32
 * (K <= RNN_QMV_INT8_KC keeps them below 2^31). The bias 2^15 = 2^8 128 comes out of S1 with
 * corr[j] = 128 sum_k q(k, j). The exact integer 2^8 (S1 - corr) + S0 (below 2^53) is rounded
 * once to float32, times 2^e (exact), and then y = fmaf(that, scale[j], y): the same
 * operations on every path, so the same bits. Two digits, not three (23 bits, as before
 * 2026-12-06): a third fewer vpdpbusd, which bound B5's int8 step; the 8-bit weights move the
 * outputs some hundred times more than the 16-bit activations (docs/export.md). */

/* d0, d1 of the run as two planes of RNN_QMV_INT8_KC bytes. */
typedef struct {
    uint8_t d[2][RNN_QMV_INT8_KC];
} int8_digits;

/* The largest |x[k]|, k < n, as its bits (0: all zero; from 0x7f800000: not finite). */
static uint32_t max_abs_bits(const float *x, int n) {
    uint32_t m = 0;
    for (int k = 0; k < n; k++) {
        uint32_t u;
        memcpy(&u, &x[k], sizeof u);
        u &= 0x7fffffffu;
        m = u > m ? u : m;
    }
    return m;
}

static float float_from_bits(uint32_t u) {
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* n k rounded at inv (a power of two) into dg, then up to a multiple of 4 with xq = 0. */
static void int8_quantize(const float *x, int n, float inv, int8_digits *dg) {
    const int n4 = (n + 3) & ~3;
    for (int k = 0; k < n4; k++) {
        const uint32_t u = (uint32_t)((k < n ? (int32_t)lrintf(x[k] * inv) : 0) + 0x8000);
        dg->d[0][k] = (uint8_t)u;
        dg->d[1][k] = (uint8_t)(u >> 8);
    }
}

/* The digit sums turned into y's new value (the header's comment above). */
static float int8_finish(int32_t s0, int32_t s1, int32_t corr, float sx, float scale, float y) {
    const int64_t t = (int64_t)(s1 - corr) * 256 + s0;
    return fmaf((float)t * sx, scale, y);
}

/* Columns [j0, N) of one run in one panel of N columns (wp: the run's first group in the
 * panel, rows 4 N bytes apart): plain integer loops. The kernels below take the same. */
static void int8_cols(int j0, int N, int ng, const int8_digits *dg, const int8_t *wp,
                      const int32_t *corr, const float *scale, float sx, float *y) {
    for (int j = j0; j < N; j++) {
        int32_t s[2] = {0, 0};
        for (int k = 0; k < 4 * ng; k++) {
            const int q = wp[((size_t)(k / 4) * N + j) * 4 + k % 4];
            for (int d = 0; d < 2; d++) s[d] += dg->d[d][k] * q;
        }
        y[j] = int8_finish(s[0], s[1], corr[j], sx, scale[j], y[j]);
    }
}

/* A run whose largest |x| is not finite, or too small for the scaling (below 2^-100): the
 * float32 sums of x q, k in order, as before this kernel had integer sums. */
static void int8_cols_float(int N, int K, const float *x, const int8_t *wp, const float *scale,
                            float *y) {
    for (int j = 0; j < N; j++) {
        float acc = 0.0f;
        for (int k = 0; k < K; k++)
            acc = fmaf(x[k], (float)wp[((size_t)(k / 4) * N + j) * 4 + k % 4], acc);
        y[j] = fmaf(acc, scale[j], y[j]);
    }
}

size_t rnn__qmv_int8_index(int k, int j, int K, int N) {
    const int p = j / RNN_QMV_INT8_NB, w = N - p * RNN_QMV_INT8_NB < RNN_QMV_INT8_NB
                                               ? N - p * RNN_QMV_INT8_NB
                                               : RNN_QMV_INT8_NB;
    return (size_t)p * RNN_QMV_INT8_NB * 4 * ((K + 3) / 4) +
           ((size_t)(k / 4) * w + (j - p * RNN_QMV_INT8_NB)) * 4 + k % 4;
}

size_t rnn__qmv_int8_bytes(int K, int N) { return (size_t)4 * ((K + 3) / 4) * (size_t)N; }

int rnn__qmv_int8_runs(int K) { return (K + RNN_QMV_INT8_KC - 1) / RNN_QMV_INT8_KC; }

void rnn__qmv_int8_corr(int K, int N, const int8_t *wp, int32_t *corr) {
    for (int c = 0; c < rnn__qmv_int8_runs(K); c++)
        for (int j = 0; j < N; j++) {
            int32_t s = 0;
            for (int k = c * RNN_QMV_INT8_KC; k < K && k < (c + 1) * RNN_QMV_INT8_KC; k++)
                s += wp[rnn__qmv_int8_index(k, j, K, N)];
            corr[(size_t)c * N + j] = 128 * s;
        }
}

void rnn__qmv_int8_pack(int K, int N, const int8_t *w, int ldw, int8_t *wp, int32_t *corr) {
    for (int k = 0; k < 4 * ((K + 3) / 4); k++)
        for (int j = 0; j < N; j++)
            wp[rnn__qmv_int8_index(k, j, K, N)] = k < K ? w[(size_t)k * ldw + j] : 0;
    rnn__qmv_int8_corr(K, N, wp, corr);
}

static int forced = -1;

#if defined(__GNUC__) && defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f,avx512bw,fma")))

/* AVX-VNNI (CPUID leaf 7, subleaf 1, EAX bit 4), read directly: clang 14's
 * __builtin_cpu_supports does not know "avxvnni". The caller has checked AVX2, so the OS saves
 * the ymm registers. */
static int has_avx_vnni(void) {
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && ((a >> 4) & 1u);
}

static int cpu_path(void) {
    static int path = -1;
    if (path < 0) {
        __builtin_cpu_init();
        const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        path = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") ? 3
               : avx2 && has_avx_vnni()                                                 ? 2
               : avx2                                                                   ? 1
                                                                                        : 0;
    }
    return path;
}

/* 1: AVX-VNNI, 2: AVX-512 VNNI (int8's integer products). */
static int cpu_has(int what) {
    static int has[3] = {0, -1, -1};
    if (has[what] < 0) {
        __builtin_cpu_init();
        has[what] = what == 1 ? __builtin_cpu_supports("avx2") && has_avx_vnni()
                              : __builtin_cpu_supports("avx512vnni") &&
                                    __builtin_cpu_supports("avx512vl");
    }
    return has[what];
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

/* f32_block_NV of one row over several inputs in turn (rnn__qmv_f32_segments): the weight rows
 * of segment s follow those of segment s - 1, and the sums stay in registers from `from` to y
 * across all of them (one pass over the rows, one load and one store of the sums). */
#define F32_SEGMENTS(NV)                                                                     \
    AVX512 static void f32_segments_##NV(int nseg, const float *const *xs, const int *ks,    \
                                         const float *w, int ldw, const float *from,         \
                                         float *y) {                                         \
        __m512 a[NV];                                                                        \
        _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++)                                \
            a[v] = _mm512_loadu_ps(from + 16 * v);                                           \
        for (int sgm = 0; sgm < nseg; sgm++) {                                               \
            const float *x = xs[sgm];                                                        \
            for (int k = 0; k < ks[sgm]; k++, w += ldw) {                                    \
                const __m512 xv = _mm512_set1_ps(x[k]);                                      \
                _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++)                        \
                    a[v] = _mm512_fmadd_ps(xv, _mm512_loadu_ps(w + 16 * v), a[v]);           \
            }                                                                                \
        }                                                                                    \
        _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++)                                \
            _mm512_storeu_ps(y + 16 * v, a[v]);                                              \
    }
F32_SEGMENTS(16)
F32_SEGMENTS(4)
F32_SEGMENTS(1)
#undef F32_SEGMENTS

AVX512 static int f32_segments_512(int N, int nseg, const float *const *xs, const int *ks,
                                   const float *w, int ldw, const float *from, float *y) {
    int j = 0;
    for (; j + 256 <= N; j += 256) f32_segments_16(nseg, xs, ks, w + j, ldw, from + j, y + j);
    for (; j + 64 <= N; j += 64) f32_segments_4(nseg, xs, ks, w + j, ldw, from + j, y + j);
    for (; j + 16 <= N; j += 16) f32_segments_1(nseg, xs, ks, w + j, ldw, from + j, y + j);
    return j;
}

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

/* The AVX2 bf16 mat-vec: y[b] += x[b] W over blocks of 32, then 8,
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

#undef MATVEC_256_BODY

/* int8 on AVX-512 VNNI: NV vectors of 16 columns, two int32 sums each (one per digit), in
 * registers over the run: per 4 k and 16 columns one load of 64 weight bytes and two
 * vpdpbusd (64 multiply-adds each) with the digits broadcast. */
#define AVX512V __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma")))

AVX512V static void int8_quantize_512(const float *x, int n, float inv, int8_digits *dg) {
    const __m512 iv = _mm512_set1_ps(inv);
    const __m512i bias = _mm512_set1_epi32(0x8000);
    for (int k = 0; k < n; k += 16) { /* past n: xq = 0, as int8_quantize pads */
        const __mmask16 m = n - k >= 16 ? 0xffff : (__mmask16)((1u << (n - k)) - 1);
        const __m512i u = _mm512_add_epi32(
            _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + k), iv)), bias);
        _mm_storeu_si128((__m128i *)(dg->d[0] + k), _mm512_cvtepi32_epi8(u));
        _mm_storeu_si128((__m128i *)(dg->d[1] + k),
                         _mm512_cvtepi32_epi8(_mm512_srli_epi32(u, 8)));
    }
}

AVX512V static uint32_t max_abs_bits_512(const float *x, int n) {
    const __m512i abs = _mm512_set1_epi32(0x7fffffff);
    __m512i m = _mm512_setzero_si512();
    for (int k = 0; k < n; k += 16) {
        const __mmask16 mk = n - k >= 16 ? 0xffff : (__mmask16)((1u << (n - k)) - 1);
        m = _mm512_max_epu32(m, _mm512_and_si512(_mm512_maskz_loadu_epi32(mk, x + k), abs));
    }
    return (uint32_t)_mm512_reduce_max_epu32(m);
}

/* int8_finish on 16 columns: the exact sum in double (every partial sum an integer below
 * 2^53), rounded once to float32. */
AVX512V static void int8_finish_512(__m512i s0, __m512i s1, const int32_t *corr,
                                    const float *scale, float sx, float *y) {
    s1 = _mm512_sub_epi32(s1, _mm512_loadu_si512((const void *)corr));
    const __m512d c8 = _mm512_set1_pd(256.0);
#define HALF(h)                                                                              \
    _mm512_cvtpd_ps(_mm512_fmadd_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(s1, h)), c8, \
                                    _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(s0, h))))
    const __m512 t = _mm512_castpd_ps(_mm512_insertf64x4(
        _mm512_castps_pd(_mm512_castps256_ps512(HALF(0))), _mm256_castps_pd(HALF(1)), 1));
#undef HALF
    _mm512_storeu_ps(y, _mm512_fmadd_ps(_mm512_mul_ps(t, _mm512_set1_ps(sx)),
                                        _mm512_loadu_ps(scale), _mm512_loadu_ps(y)));
}

/* vpdpbusd as an instruction: with the intrinsic GCC 12 copies every accumulator to a new
 * register (and the stack) around each one, several times the instruction's own cost. The
 * weights in a register: one load of each 64 bytes for the two digits (as a memory operand
 * each would load them again, slower when they come from L2). */
#define DPBUSD512(acc, b, w) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(b), "v"(w))
/* (named accumulators, not arrays: GCC then keeps all of them in registers) */
#define I8_DECL(v) __m512i a0##v = _mm512_setzero_si512(), a1##v = a0##v;
#define I8_STEP(v)                                                                           \
    {                                                                                        \
        const __m512i w = _mm512_loadu_si512((const void *)(wg + 64 * (v)));                 \
        DPBUSD512(a0##v, b0, w);                                                             \
        DPBUSD512(a1##v, b1, w);                                                             \
    }
#define I8_FINISH(v)                                                                         \
    int8_finish_512(a0##v, a1##v, corr + 16 * (v), scale + 16 * (v), sx, y + 16 * (v));
#define INT8_BLOCK_512(NAME, FOR)                                                            \
    AVX512V static void NAME(int N, int ng, const int8_digits *dg, const int8_t *wp,         \
                             const int32_t *corr, const float *scale, float sx, float *y) {  \
        FOR(I8_DECL)                                                                         \
        for (int g = 0; g < ng; g++) {                                                       \
            uint32_t u0, u1;                                                                 \
            memcpy(&u0, dg->d[0] + 4 * g, 4);                                                \
            memcpy(&u1, dg->d[1] + 4 * g, 4);                                                \
            const __m512i b0 = _mm512_set1_epi32((int)u0), b1 = _mm512_set1_epi32((int)u1);  \
            const int8_t *wg = wp + (size_t)g * N * 4;                                       \
            FOR(I8_STEP)                                                                     \
        }                                                                                    \
        FOR(I8_FINISH)                                                                       \
    }
#define I8_FOR8(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)
#define I8_FOR4(M) M(0) M(1) M(2) M(3)
#define I8_FOR1(M) M(0)
INT8_BLOCK_512(int8_block_512_8, I8_FOR8)
INT8_BLOCK_512(int8_block_512_4, I8_FOR4)
INT8_BLOCK_512(int8_block_512_1, I8_FOR1)
#undef INT8_BLOCK_512
#undef I8_DECL
#undef I8_STEP
#undef I8_FINISH

/* Columns [0, N) of one run in blocks of 128, 64 and 16; returns the columns done. */
AVX512V static int int8_512(int N, int ng, const int8_digits *dg, const int8_t *wp,
                            const int32_t *corr, const float *scale, float sx, float *y) {
    int j = 0;
    for (; j + 128 <= N; j += 128)
        int8_block_512_8(N, ng, dg, wp + 4 * j, corr + j, scale + j, sx, y + j);
    for (; j + 64 <= N; j += 64)
        int8_block_512_4(N, ng, dg, wp + 4 * j, corr + j, scale + j, sx, y + j);
    for (; j + 16 <= N; j += 16)
        int8_block_512_1(N, ng, dg, wp + 4 * j, corr + j, scale + j, sx, y + j);
    return j;
}


/* int8 on AVX2: vectors of 8 columns, with AVX-VNNI's vpdpbusd where the CPU has it, else the
 * same exact sums from 16-bit products (vpmaddwd of the even and the odd bytes). */
#define AVX2V __attribute__((target("avx2,fma,avxvnni")))

AVX2V static __m256i dpbusd_vnni(__m256i acc, __m256i a, __m256i b) {
    __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(a), "x"(b)); /* as DPBUSD512 */
    return acc;
}

AVX2 static __m256i dpbusd_avx2(__m256i acc, __m256i a, __m256i b) {
    const __m256i lo = _mm256_set1_epi16(0x00ff);
    const __m256i ae = _mm256_and_si256(a, lo), ao = _mm256_srli_epi16(a, 8);
    const __m256i be = _mm256_srai_epi16(_mm256_slli_epi16(b, 8), 8),
                  bo = _mm256_srai_epi16(b, 8);
    return _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(ae, be),
                                                  _mm256_madd_epi16(ao, bo)));
}

AVX2 static void int8_finish_256(__m256i s0, __m256i s1, const int32_t *corr,
                                 const float *scale, float sx, float *y) {
    s1 = _mm256_sub_epi32(s1, _mm256_loadu_si256((const __m256i *)corr));
    const __m256d c8 = _mm256_set1_pd(256.0);
#define HALF(h)                                                                              \
    _mm256_cvtpd_ps(_mm256_fmadd_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(s1, h)), c8, \
                                    _mm256_cvtepi32_pd(_mm256_extracti128_si256(s0, h))))
    const __m256 t = _mm256_set_m128(HALF(1), HALF(0));
#undef HALF
    _mm256_storeu_ps(y, _mm256_fmadd_ps(_mm256_mul_ps(t, _mm256_set1_ps(sx)),
                                        _mm256_loadu_ps(scale), _mm256_loadu_ps(y)));
}

#define I8_DECL(v) __m256i a0##v = _mm256_setzero_si256(), a1##v = a0##v;
#define I8_STEP(v)                                                                           \
    {                                                                                        \
        const __m256i w = _mm256_loadu_si256((const __m256i *)(wg + 32 * (v)));              \
        a0##v = DP(a0##v, b0, w);                                                            \
        a1##v = DP(a1##v, b1, w);                                                            \
    }
#define I8_FINISH(v)                                                                         \
    int8_finish_256(a0##v, a1##v, corr + 8 * (v), scale + 8 * (v), sx, y + 8 * (v));
#define INT8_BLOCK_256(NAME, TARGET, FOR)                                                    \
    TARGET static void NAME(int N, int ng, const int8_digits *dg, const int8_t *wp,         \
                            const int32_t *corr, const float *scale, float sx, float *y) {   \
        FOR(I8_DECL)                                                                         \
        for (int g = 0; g < ng; g++) {                                                       \
            uint32_t u0, u1;                                                                 \
            memcpy(&u0, dg->d[0] + 4 * g, 4);                                                \
            memcpy(&u1, dg->d[1] + 4 * g, 4);                                                \
            const __m256i b0 = _mm256_set1_epi32((int)u0), b1 = _mm256_set1_epi32((int)u1);  \
            const int8_t *wg = wp + (size_t)g * N * 4;                                       \
            FOR(I8_STEP)                                                                     \
        }                                                                                    \
        FOR(I8_FINISH)                                                                       \
    }
#define DP dpbusd_vnni
INT8_BLOCK_256(int8_vnni_4, AVX2V, I8_FOR4)
INT8_BLOCK_256(int8_vnni_1, AVX2V, I8_FOR1)
#undef DP
#define DP dpbusd_avx2
INT8_BLOCK_256(int8_avx2_4, AVX2, I8_FOR4)
INT8_BLOCK_256(int8_avx2_1, AVX2, I8_FOR1)
#undef DP
#undef INT8_BLOCK_256
#undef I8_DECL
#undef I8_STEP
#undef I8_FINISH
#undef I8_FOR8
#undef I8_FOR4
#undef I8_FOR1

/* Columns [0, N) of one run in blocks of 32 and 8 (vnni: AVX-VNNI); returns the columns done. */
AVX2 static int int8_256(int vnni, int N, int ng, const int8_digits *dg, const int8_t *wp,
                         const int32_t *corr, const float *scale, float sx, float *y) {
    int j = 0;
    for (; j + 32 <= N; j += 32)
        (vnni ? int8_vnni_4 : int8_avx2_4)(N, ng, dg, wp + 4 * j, corr + j, scale + j, sx, y + j);
    for (; j + 8 <= N; j += 8)
        (vnni ? int8_vnni_1 : int8_avx2_1)(N, ng, dg, wp + 4 * j, corr + j, scale + j, sx, y + j);
    return j;
}
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
    if (rnn__qmv_path() >= 3) j0 = f32_512(M, N, K, x, ldx, w, ldw, y, ldy);
#endif
    if (j0 < N)
        rnn__product(M, N - j0, K, x, ldx, w + j0, ldw, y + j0, ldy,
                     RNN_GEMM(.beta = 1.0f, .kernel = RNN_GEMM_OWN));
}

void rnn__qmv_f32_segments(int N, int nseg, const float *const *xs, const int *ks,
                           const float *w, int ldw, const float *from, float *y) {
    int j0 = 0;
    if (N <= 0) return;
#if defined(__GNUC__) && defined(__x86_64__)
    if (rnn__qmv_path() >= 3) j0 = f32_segments_512(N, nseg, xs, ks, w, ldw, from, y);
#endif
    if (j0 >= N) return;
    /* the columns left (or all of them): each segment's product in turn, from `from` */
    if (from != y) memcpy(y + j0, from + j0, sizeof(float) * (size_t)(N - j0));
    for (int s = 0; s < nseg; s++) {
        rnn__qmv_f32(1, N - j0, ks[s], xs[s], ks[s], w + j0, ldw, y + j0, N);
        w += (size_t)ks[s] * ldw;
    }
}

void rnn__qmv_bf16(int M, int N, int K, const float *x, int ldx, const uint16_t *w, int ldw,
                   float *y, int ldy) {
    int j0 = 0;
    if (M <= 0 || N <= 0) return;
#if defined(__GNUC__) && defined(__x86_64__)
    const int p = rnn__qmv_path();
    if (p >= 3) j0 = bf16_512(M, N, K, x, ldx, w, ldw, y, ldy);
    else if (p >= 1) j0 = bf16_256(M, N, K, x, ldx, w, ldw, y, ldy);
#endif
    bf16_cols(M, j0, N, K, x, ldx, w, ldw, y, ldy);
}


void rnn__qmv_int8(int M, int N, int K, const float *x, int ldx, const int8_t *wp,
                   const int32_t *corr, const float *scale, float *y, int ldy) {
    if (M <= 0 || N <= 0) return;
    const int p = rnn__qmv_path(), G = (K + 3) / 4;
#if defined(__GNUC__) && defined(__x86_64__)
    const int v512 = p >= 3 && cpu_has(2), vnni = p >= 2 && cpu_has(1);
#else
    const int v512 = 0;
#endif
    int8_digits dg;
    for (int b = 0; b < M; b++)
        for (int c = 0, k0 = 0; k0 < K; c++, k0 += RNN_QMV_INT8_KC) {
            const int n = K - k0 < RNN_QMV_INT8_KC ? K - k0 : RNN_QMV_INT8_KC, ng = (n + 3) / 4;
            const float *xr = x + (size_t)b * ldx + k0;
            const int32_t *cr = corr + (size_t)c * N;
            float *yr = y + (size_t)b * ldy;
#if defined(__GNUC__) && defined(__x86_64__)
            const uint32_t mb = v512 ? max_abs_bits_512(xr, n) : max_abs_bits(xr, n);
#else
            const uint32_t mb = max_abs_bits(xr, n);
#endif
            const int E = (int)(mb >> 23); /* |x| < 2^(E - 126) */
            if (mb == 0) continue;         /* all zero: nothing to add */
            const int scaled = E != 255 && E >= 27;
            const float inv = float_from_bits((uint32_t)(267 - E) << 23); /* 2^(140 - E) */
            const float sx = float_from_bits((uint32_t)(E - 13) << 23);   /* 1 / inv */
#if defined(__GNUC__) && defined(__x86_64__)
            if (scaled && v512) int8_quantize_512(xr, n, inv, &dg);
            else if (scaled) int8_quantize(xr, n, inv, &dg);
#else
            if (scaled) int8_quantize(xr, n, inv, &dg);
#endif
            /* panel by panel (qmatvec.h's layout): each panel's run is one contiguous stream */
            for (int j = 0; j < N; j += RNN_QMV_INT8_NB) {
                const int w = N - j < RNN_QMV_INT8_NB ? N - j : RNN_QMV_INT8_NB;
                const int8_t *wr = wp + (size_t)j * 4 * G + (size_t)(k0 / 4) * w * 4;
                if (!scaled) {
                    int8_cols_float(w, n, xr, wr, scale + j, yr + j);
                    continue;
                }
                int j0 = 0;
#if defined(__GNUC__) && defined(__x86_64__)
                if (v512) j0 = int8_512(w, ng, &dg, wr, cr + j, scale + j, sx, yr + j);
                else if (p >= 1) j0 = int8_256(vnni, w, ng, &dg, wr, cr + j, scale + j, sx, yr + j);
#endif
                int8_cols(j0, w, ng, &dg, wr, cr + j, scale + j, sx, yr + j);
            }
        }
}
