/* Fused LSTM/GRU cell passes (gates.h): per batch row, every element-wise operation of a step
 * while the row is in L1. The forward passes apply the activations 32 lanes at a time
 * (vmath8.h's apply8: several independent exp chains in flight) and then do the cell update;
 * the backward passes go 8 units at a time without any exp. Before these passes, a step made
 * five to seven passes over its rows and the backward loop called the generic
 * activation-derivative switch per element, which the compiler cannot vectorise.
 *
 * The forward passes come in two variants like vmath.c's: AVX2 + FMA activations where the CPU
 * has them (chosen at run time by vmath_fma(); on 16 lanes where it also has AVX-512F,
 * vmath_512(), the same operations per lane and so the same bits), the portable activations
 * (cloned for AVX2 and the baseline) elsewhere. The cell arithmetic outside the activations has no contraction
 * (-std=c11), and vmath.c picks the same variant, so on any one machine the fused passes give
 * the same bits as the general loops of the layers (tests/test_kernels.c checks both variants).
 * Results of the FMA variant differ in the last bits from the portable one, as the AVX2 product
 * already does. The backward passes have no activations: the portable copy (cloned) and the
 * FMA machines' copy differ only in the tails' moves, so they give the same bits. */
#include "kernels/gates.h"

#include "kernels/vmath8.h"

/* Loads n <= 8 floats at p (n == 8: straight from memory). A row's last n < 8 go through
 * LOAD_TAIL and STORE_TAIL, which name the tail moves of the variant being defined: load_n and
 * store_n for the portable one, AVX2's masked moves for the FMA and AVX-512 ones (vmath8.h; the
 * same values either way). The macros below are expanded where each variant is defined, so
 * each sees the names set just before it. */
#define LD(p, n) ((n) == 8 ? load8(p) : LOAD_TAIL((p), (n)))
#define ST(p, v, n) ((n) == 8 ? store8((p), (v)) : STORE_TAIL((p), (v), (n)))
#define LOAD_TAIL load_n
#define STORE_TAIL store_n

static inline __attribute__((always_inline)) v8f load8(const float *p) {
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline __attribute__((always_inline)) void store8(float *p, v8f v) { memcpy(p, &v, sizeof v); }

/* LSTM forward, per row: the four gate activations of the units [j0, j1), 32 at a time (vmath8.h:
 * several exp chains in flight), then the cell update c = f c_prev + i g (plain multiplies and
 * adds, as the layers' loops), tanh(c) and h = o tanh(c). One loop that did all of it per 8
 * units kept about 200 dependent operations in flight and ran at the latency of the exp chains
 * (2.3 to 3x slower). */
#define LSTM_FORWARD(NAME, ATTR, APPLY)                                                          \
    ATTR static void NAME(float *z, const float *c_prev, float *c, float *tc, float *h, int B,   \
                          int H, int j0, int j1) {                                               \
        const int w = j1 - j0;                                                                   \
        for (int b = 0; b < B; b++) {                                                            \
            float *zb = z + (size_t)b * 4 * H;                                                   \
            const size_t o = (size_t)b * H;                                                      \
            if (w == H) APPLY(zb, zb, 2 * H, 0); /* i and f side by side */                      \
            else {                                                                               \
                APPLY(zb + j0, zb + j0, w, 0);                                                   \
                APPLY(zb + H + j0, zb + H + j0, w, 0);                                           \
            }                                                                                    \
            APPLY(zb + 2 * H + j0, zb + 2 * H + j0, w, 1);                                       \
            APPLY(zb + 3 * H + j0, zb + 3 * H + j0, w, 0);                                       \
            for (int j = j0; j < j1; j += 8) {                                                   \
                const int n = j1 - j < 8 ? j1 - j : 8;                                           \
                v8f i = LD(zb + j, n), f = LD(zb + H + j, n), g = LD(zb + 2 * H + j, n);         \
                ST(c + o + j, f * LD(c_prev + o + j, n) + i * g, n);                             \
            }                                                                                    \
            APPLY(tc + o + j0, c + o + j0, w, 1);                                                \
            for (int j = j0; j < j1; j += 8) {                                                   \
                const int n = j1 - j < 8 ? j1 - j : 8;                                           \
                ST(h + o + j, LD(zb + 3 * H + j, n) * LD(tc + o + j, n), n);                     \
            }                                                                                    \
        }                                                                                        \
    }

/* LSTM backward, per row, 8 units at a time: no activations, only their derivatives from the
 * forward's outputs. */
#define LSTM_BACKWARD(NAME, ATTR)                                                                \
    ATTR static void NAME(float *z, const float *tc, const float *c_prev, const float *dh,        \
                          const float *dy, size_t dy_row, float *dc, int B, int H, int j0,        \
                          int j1) {                                                               \
        for (int b = 0; b < B; b++) {                                                            \
            float *zb = z + (size_t)b * 4 * H;                                                   \
            const size_t o = (size_t)b * H;                                                      \
            const float *dyb = dy ? dy + (size_t)b * dy_row : NULL;                              \
            for (int j = j0; j < j1; j += 8) {                                                   \
                const int n = j1 - j < 8 ? j1 - j : 8;                                           \
                v8f i = LD(zb + j, n), f = LD(zb + H + j, n), g = LD(zb + 2 * H + j, n);         \
                v8f og = LD(zb + 3 * H + j, n), t = LD(tc + o + j, n), d = LD(dh + o + j, n);    \
                if (dyb) d = d + LD(dyb + j, n);                                                 \
                v8f dct = LD(dc + o + j, n) + d * og * (1.0f - t * t);                           \
                v8f dov = d * t;                                                                 \
                ST(zb + j, dct * g * (i * (1.0f - i)), n);                                       \
                ST(zb + H + j, dct * LD(c_prev + o + j, n) * (f * (1.0f - f)), n);               \
                ST(zb + 2 * H + j, dct * i * (1.0f - g * g), n);                                 \
                ST(zb + 3 * H + j, dov * (og * (1.0f - og)), n);                                 \
                ST(dc + o + j, dct * f, n);                                                      \
            }                                                                                    \
        }                                                                                        \
    }

LSTM_FORWARD(lstm_forward, VMATH_CLONES, apply8)
LSTM_BACKWARD(lstm_backward, VMATH_CLONES)
#if VMATH_HAVE_FMA
#undef LOAD_TAIL
#undef STORE_TAIL
#define LOAD_TAIL load_n_fma
#define STORE_TAIL store_n_fma
LSTM_FORWARD(lstm_forward_fma, VMATH_FMA_ATTR, apply8_fma)

/* lstm_forward on 16 lanes (AVX-512): the gate activations as above, then the cell update, tanh(c)
 * and h = o tanh(c) of 64 units at a time with c still in registers (4 tanh chains in flight, as
 * apply16_512's), instead of three more passes over the row at 8 lanes (store c, reload it for
 * tanh, reload tc for h). The same operations on every element (c = f c_prev + i g without
 * contraction, the same tanh), so the same bits as lstm_forward_fma. */
static inline __attribute__((always_inline)) VMATH_512_ATTR void cell16_512(
    const float *zb, const float *cp, float *c, float *tc, float *h, int H, int j, const int K,
    __mmask16 m) {
    v16f cv[4];
    for (int k = 0; k < K; k++) {
        const int q = j + 16 * k;
        const v16f i = (v16f)_mm512_maskz_loadu_ps(m, zb + q);
        const v16f f = (v16f)_mm512_maskz_loadu_ps(m, zb + H + q);
        const v16f g = (v16f)_mm512_maskz_loadu_ps(m, zb + 2 * H + q);
        cv[k] = f * (v16f)_mm512_maskz_loadu_ps(m, cp + q) + i * g;
        _mm512_mask_storeu_ps(c + q, m, (__m512)cv[k]);
    }
    tanh8n_512(cv, K);
    for (int k = 0; k < K; k++) {
        const int q = j + 16 * k;
        _mm512_mask_storeu_ps(tc + q, m, (__m512)cv[k]);
        const v16f o = (v16f)_mm512_maskz_loadu_ps(m, zb + 3 * H + q);
        _mm512_mask_storeu_ps(h + q, m, (__m512)(o * cv[k]));
    }
}

VMATH_512_ATTR static void lstm_forward_512(float *z, const float *c_prev, float *c, float *tc,
                                            float *h, int B, int H, int j0, int j1) {
    const int w = j1 - j0;
    for (int b = 0; b < B; b++) {
        float *zb = z + (size_t)b * 4 * H;
        const size_t o = (size_t)b * H;
        if (w == H) apply16_512(zb, zb, 2 * H, 0); /* i and f side by side */
        else {
            apply16_512(zb + j0, zb + j0, w, 0);
            apply16_512(zb + H + j0, zb + H + j0, w, 0);
        }
        apply16_512(zb + 2 * H + j0, zb + 2 * H + j0, w, 1);
        apply16_512(zb + 3 * H + j0, zb + 3 * H + j0, w, 0);
        int j = j0;
        for (; j + 64 <= j1; j += 64) cell16_512(zb, c_prev + o, c + o, tc + o, h + o, H, j, 4, 0xffff);
        for (; j + 16 <= j1; j += 16) cell16_512(zb, c_prev + o, c + o, tc + o, h + o, H, j, 1, 0xffff);
        if (j < j1)
            cell16_512(zb, c_prev + o, c + o, tc + o, h + o, H, j, 1,
                       (__mmask16)((1u << (j1 - j)) - 1u));
    }
}
/* the same operations as the portable clones (no contraction under -std=c11), so the same bits */
LSTM_BACKWARD(lstm_backward_fma, VMATH_FMA_ATTR)
#undef LOAD_TAIL
#undef STORE_TAIL
#define LOAD_TAIL load_n
#define STORE_TAIL store_n
#endif

void rnn__lstm_gates_forward(float *z, const float *c_prev, float *c, float *tc, float *h, int B,
                             int H, int j0, int j1) {
#if VMATH_HAVE_FMA
    if (vmath_512()) {
        lstm_forward_512(z, c_prev, c, tc, h, B, H, j0, j1);
        return;
    }
    if (vmath_fma()) {
        lstm_forward_fma(z, c_prev, c, tc, h, B, H, j0, j1);
        return;
    }
#endif
    lstm_forward(z, c_prev, c, tc, h, B, H, j0, j1);
}

void rnn__lstm_gates_backward_dy(float *z, const float *tc, const float *c_prev, const float *dh,
                                 const float *dy, size_t dy_row, float *dc, int B, int H, int j0,
                                 int j1) {
#if VMATH_HAVE_FMA
    if (vmath_fma()) {
        lstm_backward_fma(z, tc, c_prev, dh, dy, dy_row, dc, B, H, j0, j1);
        return;
    }
#endif
    lstm_backward(z, tc, c_prev, dh, dy, dy_row, dc, B, H, j0, j1);
}

void rnn__lstm_gates_backward(float *z, const float *tc, const float *c_prev, const float *dh,
                              float *dc, int B, int H, int j0, int j1) {
    rnn__lstm_gates_backward_dy(z, tc, c_prev, dh, NULL, 0, dc, B, H, j0, j1);
}

/* GRU forward, per row as the LSTM's: z and r (x + g summed first, in place, as the layers'
 * loops), then the candidate and h. */
#define GRU_FORWARD(NAME, ATTR, APPLY)                                                           \
    ATTR static void NAME(float *x, const float *g, const float *h_prev, float *h, float *aux,   \
                          int B, int H, int j0, int j1) {                                        \
        const int w = j1 - j0;                                                                   \
        for (int b = 0; b < B; b++) {                                                            \
            float *xb = x + (size_t)b * 3 * H;                                                   \
            const float *gb = g + (size_t)b * 3 * H;                                             \
            const size_t o = (size_t)b * H;                                                      \
            for (int q = 0; q < 2; q++) {                                                        \
                float *xq = xb + (size_t)q * H;                                                  \
                const float *gq = gb + (size_t)q * H;                                            \
                for (int j = j0; j < j1; j += 8) {                                               \
                    const int n = j1 - j < 8 ? j1 - j : 8;                                       \
                    ST(xq + j, LD(xq + j, n) + LD(gq + j, n), n);                                \
                }                                                                                \
            }                                                                                    \
            if (w == H) APPLY(xb, xb, 2 * H, 0);                                                 \
            else {                                                                               \
                APPLY(xb + j0, xb + j0, w, 0);                                                   \
                APPLY(xb + H + j0, xb + H + j0, w, 0);                                           \
            }                                                                                    \
            for (int j = j0; j < j1; j += 8) {                                                   \
                const int n = j1 - j < 8 ? j1 - j : 8;                                           \
                v8f r = LD(xb + H + j, n), gh = LD(gb + 2 * H + j, n);                           \
                ST(xb + 2 * H + j, LD(xb + 2 * H + j, n) + r * gh, n);                           \
                ST(aux + o + j, gh, n);                                                          \
            }                                                                                    \
            APPLY(xb + 2 * H + j0, xb + 2 * H + j0, w, 1);                                       \
            for (int j = j0; j < j1; j += 8) {                                                   \
                const int n = j1 - j < 8 ? j1 - j : 8;                                           \
                v8f z = LD(xb + j, n), hh = LD(xb + 2 * H + j, n);                               \
                ST(h + o + j, z * LD(h_prev + o + j, n) + (1.0f - z) * hh, n);                   \
            }                                                                                    \
        }                                                                                        \
    }

/* GRU backward, per row, 8 units at a time, as the LSTM's. */
#define GRU_BACKWARD(NAME, ATTR)                                                                 \
    ATTR static void NAME(float *x, float *g, float *aux, const float *h_prev, float *dh, int B,  \
                          int H, int j0, int j1) {                                               \
        for (int b = 0; b < B; b++) {                                                            \
            float *xb = x + (size_t)b * 3 * H, *gb = g + (size_t)b * 3 * H;                      \
            const size_t o = (size_t)b * H;                                                      \
            for (int j = j0; j < j1; j += 8) {                                                   \
                const int n = j1 - j < 8 ? j1 - j : 8;                                           \
                v8f z = LD(xb + j, n), r = LD(xb + H + j, n), hh = LD(xb + 2 * H + j, n);        \
                v8f d = LD(dh + o + j, n);                                                       \
                v8f dz = d * (LD(h_prev + o + j, n) - hh);                                       \
                v8f dah = d * (1.0f - z) * (1.0f - hh * hh);                                     \
                v8f daz = dz * (z * (1.0f - z));                                                 \
                v8f dar = dah * LD(aux + o + j, n) * (r * (1.0f - r));                           \
                v8f dgh = dah * r;                                                               \
                ST(dh + o + j, d * z, n);                                                        \
                ST(xb + j, daz, n);                                                              \
                ST(xb + H + j, dar, n);                                                          \
                ST(xb + 2 * H + j, dah, n);                                                      \
                ST(aux + o + j, dgh, n);                                                         \
                ST(gb + j, daz, n);                                                              \
                ST(gb + H + j, dar, n);                                                          \
                ST(gb + 2 * H + j, dgh, n);                                                      \
            }                                                                                    \
        }                                                                                        \
    }

GRU_FORWARD(gru_forward, VMATH_CLONES, apply8)
GRU_BACKWARD(gru_backward, VMATH_CLONES)
#if VMATH_HAVE_FMA
#undef LOAD_TAIL
#undef STORE_TAIL
#define LOAD_TAIL load_n_fma
#define STORE_TAIL store_n_fma
GRU_FORWARD(gru_forward_fma, VMATH_FMA_ATTR, apply8_fma)
GRU_FORWARD(gru_forward_512, VMATH_512_ATTR, apply16_512)
GRU_BACKWARD(gru_backward_fma, VMATH_FMA_ATTR)
#undef LOAD_TAIL
#undef STORE_TAIL
#define LOAD_TAIL load_n
#define STORE_TAIL store_n
#endif

void rnn__gru_gates_forward(float *x, const float *g, const float *h_prev, float *h, float *aux,
                            int B, int H, int j0, int j1) {
#if VMATH_HAVE_FMA
    if (vmath_512()) {
        gru_forward_512(x, g, h_prev, h, aux, B, H, j0, j1);
        return;
    }
    if (vmath_fma()) {
        gru_forward_fma(x, g, h_prev, h, aux, B, H, j0, j1);
        return;
    }
#endif
    gru_forward(x, g, h_prev, h, aux, B, H, j0, j1);
}

void rnn__gru_gates_backward(float *x, float *g, float *aux, const float *h_prev, float *dh,
                             int B, int H, int j0, int j1) {
#if VMATH_HAVE_FMA
    if (vmath_fma()) {
        gru_backward_fma(x, g, aux, h_prev, dh, B, H, j0, j1);
        return;
    }
#endif
    gru_backward(x, g, aux, h_prev, dh, B, H, j0, j1);
}
