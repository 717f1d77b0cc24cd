/* Reduced-precision products for whole sequences (qgemm.h). For a batch of rows the products
 * are bound by arithmetic, not by reading the weights (a step's weights stay in cache): only
 * AMX's tile products beat float32 FMAs there. vdpbf16ps alone does not pay: it does as many
 * multiply-adds per instruction as two float32 FMA ports, and half that once the activation
 * is split into two parts. Where AMX is missing, the float32 kernels run on a float32 copy of
 * the rounded weights: the same results (to float32 rounding), at float32's speed. */
#define _DEFAULT_SOURCE /* syscall() for arch_prctl */
#include "kernels/qgemm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/qmatvec.h"
#include "memory.h"

static int use_best = 1, split = 1;

/* The AMX code needs GCC 11 or Clang 12 intrinsics; -DRNN_NO_AMX leaves it out. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(RNN_NO_AMX) && \
    (__GNUC__ >= 11 || (defined(__clang__) && __clang_major__ >= 12))
#define HAVE_AMX_CODE 1
#else
#define HAVE_AMX_CODE 0
#endif

void rnn__qgemm_force(int best) { use_best = best; }
void rnn__qgemm_split(int on) { split = on; }

void rnn__qweights_free(rnn_qweights *q) {
    rnn__free(q->deq);
    rnn__free(q->scale);
    rnn__free(q->tiles);
    memset(q, 0, sizeof *q);
}

/* Tiles: for column tile ct (16 columns) and k block kb (32 k), 16 rows of 32 bf16, row p
 * holding w(32 kb + 2p, j), w(32 kb + 2p + 1, j) for the tile's 16 columns j; zeros past K and
 * N. */
static size_t tile_index(int nkb, int ct, int kb, int p, int c, int e) {
    return (((size_t)ct * nkb + kb) * 16 + p) * 32 + 2 * c + e;
}

#if HAVE_AMX_CODE
static int amx_available(void);
#endif

int rnn__qweights_prepare(rnn_qweights *q, const float *W, int K, int N, unsigned long version,
                          rnn_precision precision) {
#if HAVE_AMX_CODE
    (void)amx_available(); /* decided here, on the calling thread, before any product */
#endif
    if (q->precision == precision && q->block == W && q->version == version && q->K == K &&
        q->N == N && q->deq)
        return 0;
    rnn__qweights_free(q);
    const int nkb = (K + 31) / 32, nct = (N + 15) / 16;
    q->deq = rnn__alloc(sizeof(float) * (size_t)K * N);
    q->scale = rnn__alloc(sizeof(float) * (size_t)N);
    if (K <= RNN_QGEMM_MAX_K)
        q->tiles = rnn__calloc((size_t)nct * nkb * 512, sizeof(uint16_t));
    if (!q->deq || !q->scale || (K <= RNN_QGEMM_MAX_K && !q->tiles)) {
        rnn__qweights_free(q);
        return -1;
    }
    for (int j = 0; j < N; j++) {
        float s = 0.0f;
        for (int k = 0; k < K; k++)
            if (fabsf(W[(size_t)k * N + j]) > s) s = fabsf(W[(size_t)k * N + j]);
        s /= 127.0f;
        q->scale[j] = precision == RNN_INT8 ? s : 1.0f;
        for (int k = 0; k < K; k++) {
            const float w = W[(size_t)k * N + j];
            float v; /* the tile's value: bf16(w), or q (exact in bf16) */
            if (precision == RNN_BF16) {
                v = rnn__bf16_to_float(rnn__bf16_from_float(w));
                q->deq[(size_t)k * N + j] = v;
            } else {
                long r = s > 0 ? lrintf(w / s) : 0;
                r = r > 127 ? 127 : r < -127 ? -127 : r;
                v = (float)r;
                q->deq[(size_t)k * N + j] = (float)r * s;
            }
            if (q->tiles)
                q->tiles[tile_index(nkb, j / 16, k / 32, (k % 32) / 2, j % 16, k % 2)] =
                    rnn__bf16_from_float(v);
        }
    }
    q->precision = precision;
    q->block = W;
    q->version = version;
    q->K = K;
    q->N = N;
    return 0;
}

/* int8: the column's sum of a q, scaled, added to S. (bf16 sums start from S.) */
static float out_value(const rnn_qweights *q, int j, float acc, float s) {
    return q->precision == RNN_INT8 ? fmaf(acc, q->scale[j], s) : acc;
}

void rnn__qgemm_ref(const rnn_qweights *q, int M, int j0, int j1, const float *A, int lda,
                    const float *S, int lds, float *C, int ldc) {
    const int K = q->K, nkb = (K + 31) / 32;
    for (int i = 0; i < M; i++)
        for (int j = j0; j < j1; j++) {
            const float s = S ? S[(size_t)i * lds + j - j0] : 0.0f;
            float acc = q->precision == RNN_INT8 ? 0.0f : s;
            for (int k = 0; k < K; k++) {
                const float w = rnn__bf16_to_float(
                    q->tiles[tile_index(nkb, j / 16, k / 32, (k % 32) / 2, j % 16, k % 2)]);
                const float a = A[(size_t)i * lda + k];
                const float hi = rnn__bf16_to_float(rnn__bf16_from_float(a));
                const float lo = rnn__bf16_to_float(rnn__bf16_from_float(a - hi));
                acc += hi * w;
                if (split) acc += lo * w;
            }
            C[(size_t)i * ldc + j - j0] = out_value(q, j, acc, s);
        }
}

/* The copy path: float32 products on the rounded values. */
static void copy_gemm(const rnn_qweights *q, int M, int j0, int j1, const float *A, int lda,
                      const float *S, int lds, float *C, int ldc, int kernel) {
    const int n = j1 - j0;
    const float *B = q->deq + j0;
    float beta = 0.0f;
    const float *bias = NULL;
    if (S && lds == 0) {
        bias = S;
    } else if (S) {
        if (S != C)
            for (int i = 0; i < M; i++)
                memmove(C + (size_t)i * ldc, S + (size_t)i * lds, sizeof(float) * n);
        beta = 1.0f;
    }
    rnn__product(M, n, q->K, A, lda, B, q->N, C, ldc,
                 RNN_GEMM(.beta = beta, .bias = bias, .kernel = (rnn_gemm_kernel)kernel));
}

#if HAVE_AMX_CODE
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AMXF __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512bf16,fma")))
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static int amx_state = -1;

/* AMX-BF16 and AVX512_BF16 in CPUID, and Linux's permission to use the tile data (asked once
 * for the process). */
static int amx_available(void) {
    if (amx_state < 0) {
        unsigned a, b, c, d, a1 = 0, b1, c1, d1;
        int ok = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 24)) &&
                 (d & (1u << 22)) && (b & (1u << 16)) && (b & (1u << 30));
        if (ok) ok = __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1) && (a1 & (1u << 5));
        if (ok) ok = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
        amx_state = ok;
    }
    return amx_state;
}

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

/* Rows [0, rows) of A (16 - rows zero rows after them) as bf16 hi and lo parts, per k block a
 * 16 x 32 tile. */
AMXF static void convert_rows(const float *A, int lda, int rows, int K, int nkb, uint16_t *hi,
                              uint16_t *lo) {
    const __m512i zero = _mm512_setzero_si512();
    for (int r = 0; r < 16; r++)
        for (int kb = 0; kb < nkb; kb++) {
            uint16_t *h = hi + ((size_t)kb * 16 + r) * 32, *l = lo + ((size_t)kb * 16 + r) * 32;
            if (r >= rows) {
                _mm512_storeu_si512((void *)h, zero);
                _mm512_storeu_si512((void *)l, zero);
                continue;
            }
            const float *a = A + (size_t)r * lda + kb * 32;
            const int n = K - kb * 32;
            const __mmask16 m0 = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
            const __mmask16 m1 = n >= 32 ? 0xFFFF : n > 16 ? (__mmask16)((1u << (n - 16)) - 1) : 0;
            const __m512 a0 = _mm512_maskz_loadu_ps(m0, a), a1 = _mm512_maskz_loadu_ps(m1, a + 16);
            const __m512i hb = (__m512i)_mm512_cvtne2ps_pbh(a1, a0);
            const __m512 h0 = _mm512_castsi512_ps(
                _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(hb)), 16));
            const __m512 h1 = _mm512_castsi512_ps(
                _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(hb, 1)), 16));
            const __m512i lb =
                (__m512i)_mm512_cvtne2ps_pbh(_mm512_sub_ps(a1, h1), _mm512_sub_ps(a0, h0));
            _mm512_storeu_si512((void *)h, hb);
            _mm512_storeu_si512((void *)l, split ? lb : zero);
        }
}

/* One operand of a product: its weight tiles, its activation rows, and their bf16 parts for the
 * current 16 rows (nkb tiles each). */
typedef struct {
    const rnn_qweights *q;
    const float *A;
    int lda, nkb;
    uint16_t *hi, *lo;
} amx_operand;

/* int8: C = S + s_0 acc_0 (+ s_1 acc_1) for the stage tiles of columns [c0, c0 + 16) of rows
 * [i0, i0 + rows): the scale applied as each tile leaves the accumulator, in the order
 * rnn__qgemm_ref and two rnn__qgemm calls in a row give (fmaf(acc, s, S), then the second
 * operand's fmaf on that). */
AMXF static void epilogue_int8(const amx_operand *op, int nops, const float (*st0)[16],
                               const float (*st1)[16], int i0, int rows, int c0, int j0, int j1,
                               const float *S, int lds, float *C, int ldc) {
    const float *sc0 = op[0].q->scale, *sc1 = nops > 1 ? op[1].q->scale : NULL;
    if (c0 >= j0 && c0 + 16 <= j1) {
        const __m512 s0 = _mm512_loadu_ps(sc0 + c0);
        const __m512 s1 = sc1 ? _mm512_loadu_ps(sc1 + c0) : s0;
        float *c = C + (size_t)i0 * ldc + c0 - j0;
        const float *s = S ? S + (size_t)i0 * lds + c0 - j0 : NULL;
        for (int r = 0; r < rows; r++, c += ldc) {
            __m512 v = s ? _mm512_loadu_ps(s + (size_t)r * lds) : _mm512_setzero_ps();
            v = _mm512_fmadd_ps(_mm512_loadu_ps(st0[r]), s0, v);
            if (sc1) v = _mm512_fmadd_ps(_mm512_loadu_ps(st1[r]), s1, v);
            _mm512_storeu_ps(c, v);
        }
        return;
    }
    const int lo = c0 > j0 ? c0 : j0, hi = c0 + 16 < j1 ? c0 + 16 : j1;
    for (int r = 0; r < rows; r++)
        for (int j = lo; j < hi; j++) {
            float v = S ? S[(size_t)(i0 + r) * lds + j - j0] : 0.0f;
            v = fmaf(st0[r][j - c0], sc0[j], v);
            if (sc1) v = fmaf(st1[r][j - c0], sc1[j], v);
            C[(size_t)(i0 + r) * ldc + j - j0] = v;
        }
}

/* bf16 through the stage tile (sums that started from S): C = acc in the columns of [j0, j1). */
AMXF static void epilogue_bf16(const float (*stage)[16], int i0, int rows, int c0, int j0,
                               int j1, float *C, int ldc) {
    const int lo = c0 > j0 ? c0 : j0, hi = c0 + 16 < j1 ? c0 + 16 : j1;
    for (int r = 0; r < rows; r++)
        for (int j = lo; j < hi; j++) C[(size_t)(i0 + r) * ldc + j - j0] = stage[r][j - c0];
}

/* Where a bf16 tile ct of rows [i0, i0 + rows) starts from and goes to (int8 sums start from 0
 * and go through the stage tiles to epilogue_int8). A whole 16 x 16 tile is loaded from S (a
 * bias row: stride 0) and stored to C in place; any other goes through the stage tile, with the
 * same values, so every element sees the same operations. */
static int tile_in_place(int rows, int ct, int j0, int j1) {
    return rows == 16 && ct * 16 >= j0 && ct * 16 + 16 <= j1;
}

static void stage_start(float (*stage)[16], int i0, int rows, int ct, int j0, int j1,
                        const float *S, int lds) {
    memset(stage, 0, sizeof(float) * 256);
    if (!S) return;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < 16; c++) {
            const int j = ct * 16 + c;
            if (j >= j0 && j < j1) stage[r][c] = S[(size_t)(i0 + r) * lds + j - j0];
        }
}

/* The tile operations take their tile numbers as literal tokens: X(t, reg) for the column tiles
 * of a group, t the accumulator, reg the weight tile (two alternate so that loads overlap). */
#define FOR_TILES(NT, X)     \
    do {                     \
        X(0, 6);             \
        if ((NT) > 1) {      \
            X(1, 7);         \
            X(2, 6);         \
            X(3, 7);         \
        }                    \
    } while (0)
#define T_ZERO(t, reg) _tile_zero(t)
#define T_STORE_STAGE(t, reg) _tile_stored(t, stage[o][t], 64)
#define T_START(t, reg)                                                                      \
    do {                                                                                     \
        if (tile_in_place(rows, ct + (t), j0, j1) && S)                                      \
            _tile_loadd(t, S + (size_t)i0 * lds + (ct + (t)) * 16 - j0, (long)lds * 4);      \
        else if (tile_in_place(rows, ct + (t), j0, j1) || !S)                                \
            _tile_zero(t);                                                                   \
        else {                                                                               \
            stage_start(stage[0][t], i0, rows, ct + (t), j0, j1, S, lds);                    \
            _tile_loadd(t, stage[0][t], 64);                                                 \
        }                                                                                    \
    } while (0)
#define T_FINISH(t, reg)                                                                     \
    do {                                                                                     \
        if (tile_in_place(rows, ct + (t), j0, j1)) {                                         \
            _tile_stored(t, C + (size_t)i0 * ldc + (ct + (t)) * 16 - j0, (long)ldc * 4);     \
        } else {                                                                             \
            _tile_stored(t, stage[0][t], 64);                                                \
            epilogue_bf16((const float(*)[16])stage[0][t], i0, rows, (ct + (t)) * 16, j0, j1, \
                          C, ldc);                                                           \
        }                                                                                    \
    } while (0)
#define T_STEP(t, reg)                                                                       \
    do {                                                                                     \
        _tile_loadd(reg, wt + ((size_t)(ct + (t)) * nkb + kb) * 512, 64);                    \
        _tile_dpbf16ps(t, 4, reg);                                                           \
        if (split) _tile_dpbf16ps(t, 5, reg);                                                \
    } while (0)
/* operand o's sums into the group's accumulators: for each k block, hi then lo */
#define ACCUMULATE(NT, o)                                                                    \
    do {                                                                                     \
        const uint16_t *wt = op[o].q->tiles;                                                 \
        const int nkb = op[o].nkb;                                                           \
        for (int kb = 0; kb < nkb; kb++) {                                                   \
            _tile_loadd(4, op[o].hi + (size_t)kb * 512, 64);                                 \
            if (split) _tile_loadd(5, op[o].lo + (size_t)kb * 512, 64);                      \
            FOR_TILES(NT, T_STEP);                                                           \
        }                                                                                    \
    } while (0)
/* A group of NT (4 or 1) column tiles from ct. bf16: the sums start from S and take every
 * operand in turn; int8: each operand's sums start from 0, go to its stage tiles, and
 * epilogue_int8 scales them into C. */
#define GROUP(NT)                                                                            \
    do {                                                                                     \
        if (int8) {                                                                          \
            for (int o = 0; o < nops; o++) {                                                 \
                FOR_TILES(NT, T_ZERO);                                                       \
                ACCUMULATE(NT, o);                                                           \
                FOR_TILES(NT, T_STORE_STAGE);                                                \
            }                                                                                \
            for (int t = 0; t < (NT); t++)                                                   \
                epilogue_int8(op, nops, (const float(*)[16])stage[0][t],                     \
                              (const float(*)[16])stage[1][t], i0, rows, (ct + t) * 16, j0,  \
                              j1, S, lds, C, ldc);                                           \
        } else {                                                                             \
            FOR_TILES(NT, T_START);                                                          \
            for (int o = 0; o < nops; o++) ACCUMULATE(NT, o);                                \
            FOR_TILES(NT, T_FINISH);                                                         \
        }                                                                                    \
    } while (0)

/* C = S + sum over the operands of A w for rows [0, M) and columns [j0, j1). staging: the
 * operands' bf16 parts, 1024 values per k block. */
AMXF static void amx_gemm(amx_operand *op, int nops, int M, int j0, int j1, const float *S,
                          int lds, float *C, int ldc, uint16_t *staging) {
    const int int8 = op[0].q->precision == RNN_INT8, ct0 = j0 / 16, ct1 = (j1 + 15) / 16;
    float stage[2][4][16][16];
    for (int o = 0; o < nops; o++) {
        op[o].hi = staging;
        op[o].lo = staging + (size_t)op[o].nkb * 512;
        staging += (size_t)op[o].nkb * 1024;
    }
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
    for (int i0 = 0; i0 < M; i0 += 16) {
        const int rows = M - i0 < 16 ? M - i0 : 16;
        for (int o = 0; o < nops; o++)
            convert_rows(op[o].A + (size_t)i0 * op[o].lda, op[o].lda, rows, op[o].q->K,
                         op[o].nkb, op[o].hi, op[o].lo);
        int ct = ct0;
        /* four column tiles per group (tmm0-3), then one at a time: the same operations per
         * element either way (hi then lo for each k block, in order) */
        for (; ct + 4 <= ct1; ct += 4) GROUP(4);
        for (; ct < ct1; ct++) GROUP(1);
    }
    _tile_release();
}

int rnn__qgemm_amx(void) { return use_best && amx_available(); }
#else
int rnn__qgemm_amx(void) { return 0; }
#endif

/* k blocks of activation parts converted on the stack (16 KiB; K <= 256 over the operands):
 * longer sums take their staging from the heap, or the copy path when that fails. */
#define STACK_KB 8

static void qgemm_run(const rnn_qweights *q, const float *A, int lda, const rnn_qweights *q2,
                      const float *A2, int lda2, int M, int j0, int j1, const float *S, int lds,
                      float *C, int ldc, int kernel) {
    if (M <= 0 || j1 <= j0) return;
    if (q2 && (!q->tiles || !q2->tiles)) {
        /* a sum past RNN_QGEMM_MAX_K (no tiles) takes the copy path, the other operand's may
         * not: the two products in turn, each on the path rnn__qgemm gives it, so the bits
         * stay those of the two calls (and of the loops that make them) */
        qgemm_run(q, A, lda, NULL, NULL, 0, M, j0, j1, S, lds, C, ldc, kernel);
        qgemm_run(q2, A2, lda2, NULL, NULL, 0, M, j0, j1, C, ldc, C, ldc, kernel);
        return;
    }
#if HAVE_AMX_CODE
    if (q->tiles && (!q2 || q2->tiles) && rnn__qgemm_amx()) {
        amx_operand op[2] = {{q, A, lda, (q->K + 31) / 32, NULL, NULL},
                             {q2, A2, lda2, q2 ? (q2->K + 31) / 32 : 0, NULL, NULL}};
        const size_t need = (size_t)(op[0].nkb + op[1].nkb) * 1024;
        uint16_t local[STACK_KB * 1024];
        uint16_t *staging =
            need <= STACK_KB * 1024 ? local : rnn__alloc(sizeof(uint16_t) * need);
        if (staging) {
            amx_gemm(op, q2 ? 2 : 1, M, j0, j1, S, lds, C, ldc, staging);
            if (staging != local) rnn__free(staging);
            return;
        }
    }
#endif
    copy_gemm(q, M, j0, j1, A, lda, S, lds, C, ldc, kernel);
    if (q2) copy_gemm(q2, M, j0, j1, A2, lda2, C, ldc, C, ldc, kernel);
}

void rnn__qgemm(const rnn_qweights *q, int M, int j0, int j1, const float *A, int lda,
                const float *S, int lds, float *C, int ldc, int kernel) {
    qgemm_run(q, A, lda, NULL, NULL, 0, M, j0, j1, S, lds, C, ldc, kernel);
}

void rnn__qgemm2(const rnn_qweights *q, const float *A, int lda, const rnn_qweights *q2,
                 const float *A2, int lda2, int M, int j0, int j1, const float *S, int lds,
                 float *C, int ldc, int kernel) {
    qgemm_run(q, A, lda, q2, A2, lda2, M, j0, j1, S, lds, C, ldc, kernel);
}
