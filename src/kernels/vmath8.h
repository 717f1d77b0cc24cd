/* 8-lane sigmoid and tanh on GCC vector types, shared by vmath.c (over arrays) and gates.c
 * (inside the fused LSTM/GRU cell passes), so both compute the same bits. Formulas and error:
 * vmath.c.
 *
 * Two variants of every function, from the one body at the end of this file (included twice):
 *   sigmoid8, tanh8, apply8, ...   portable, plain IEEE float operations without contraction
 *                                  (-std=c11); cloned for AVX2 and the baseline by the callers;
 *   sigmoid8_fma, tanh8_fma, ...   AVX2 + FMA (x86 only): explicit fused multiply-adds, min/max
 *                                  for the clamps; callers choose it at run time (vmath_fma()).
 * The two differ in the last bits (the FMA variant rounds fewer times); each is deterministic,
 * and vmath.c and gates.c always pick the same one, so the fused passes still give the bits of
 * the layers' general loops on any one machine. */
#ifndef RNN_VMATH8_H
#define RNN_VMATH8_H

#include <stdint.h>
#include <string.h>

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef uint32_t v8u __attribute__((vector_size(32)));
/* 8 floats at any float-aligned address, for loads and stores. */
typedef float v8f_u __attribute__((vector_size(32), aligned(4), may_alias));

/* RNN_NO_CLONES (the clang fuzz build, compiled with -mavx2): one plain copy. clang 14 emits
 * no dispatcher for a cloned function that other files call through an unattributed
 * declaration, so the link fails there. (The FMA variants are chosen by an explicit test,
 * vmath_fma(), and need no clones.) */
#ifdef RNN_NO_CLONES
#define VMATH_CLONES
#else
#define VMATH_CLONES __attribute__((target_clones("avx2", "default")))
#endif

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define VMATH_HAVE_FMA 1
#include <immintrin.h>
#define VMATH_FMA_ATTR __attribute__((target("avx2,fma")))
#else
#define VMATH_HAVE_FMA 0
#endif

/* Tests set this to 1 to run the portable variant on an FMA machine, 2 for the 8-lane FMA variant
 * on an AVX-512 machine (vmath.c, activations.h). */
extern int rnn__vmath_portable;

/* Whether to call the _fma variants: the CPU has AVX2 and FMA (and no test asked otherwise). */
static inline int vmath_fma(void) {
#if VMATH_HAVE_FMA
    return rnn__vmath_portable != 1 && __builtin_cpu_supports("avx2") &&
           __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

static inline __attribute__((always_inline)) v8f select8(v8i mask, v8f a, v8f b) { /* mask ? a : b, lane by lane */
    v8i r = (mask & (v8i)a) | (~mask & (v8i)b);
    return (v8f)r;
}

/* n < 8 floats through a zero-padded vector (the tails of rows whose width is not a multiple
 * of 8). */
static inline __attribute__((always_inline)) v8f load_n(const float *p, int n) {
    float buf[8] = {0};
    memcpy(buf, p, sizeof(float) * (size_t)n);
    v8f v;
    memcpy(&v, buf, sizeof v);
    return v;
}
static inline __attribute__((always_inline)) void store_n(float *p, v8f v, int n) {
    float buf[8];
    memcpy(buf, &v, sizeof v);
    memcpy(p, buf, sizeof(float) * (size_t)n);
}

#if VMATH_HAVE_FMA
/* load_n and store_n with AVX2's masked moves, for the FMA variants: the same zero-padded
 * vector and the same n floats written, without the trip through a stack buffer. There a narrow
 * store is followed by a wider load, which the core cannot forward, so every tail waited for the
 * store to retire: in a small layer (LSTM(4): every row is a tail) most of the gate pass.
 * Masked-off lanes are neither read nor written, so a row that ends at the end of a mapping is as
 * safe as with load_n. */
static inline __attribute__((always_inline)) VMATH_FMA_ATTR __m256i lanes_below(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline __attribute__((always_inline)) VMATH_FMA_ATTR v8f load_n_fma(const float *p, int n) {
    return (v8f)_mm256_maskload_ps(p, lanes_below(n));
}
static inline __attribute__((always_inline)) VMATH_FMA_ATTR void store_n_fma(float *p, v8f v,
                                                                             int n) {
    _mm256_maskstore_ps(p, lanes_below(n), (__m256)v);
}
#endif

#define C8(c) ((v8f){c, c, c, c, c, c, c, c})
#define V8_EACH(k) for (int k = 0; k < K; k++)
#if VMATH_HAVE_FMA
/* e * 2^k for e in [0.7, 1.42] and a normal result, k in the low bits of t (reduce8): k added to
 * the exponent bits (a NaN may come out a number: the sigmoid puts the input's NaN back). */
static inline __attribute__((always_inline)) VMATH_FMA_ATTR v8f scale2k_fma(v8f e, v8f t) {
    v8u eb, tb;
    memcpy(&eb, &e, sizeof eb);
    memcpy(&tb, &t, sizeof tb);
    eb += tb << 23;
    memcpy(&e, &eb, sizeof e);
    return e;
}
#endif

/* The portable variant. MADD(a, b, c) = a * b + c; LO(x, c) = max(x, c), HI(x, c) = min(x, c),
 * both returning x where x is NaN (so NaN propagates). */
#define V8_NAME(f) f
#define V8_ATTR __attribute__((always_inline))
#define MADD(a, b, c) ((a) * (b) + (c))
#define LO(x, c) select8((x) < (c), C8(c), (x))
#define HI(x, c) select8((x) > (c), C8(c), (x))
#define KEEP_NAN(y, x) select8((x) != (x), (x), (y))
#include "kernels/vmath8.h"
#undef V8_NAME
#undef V8_ATTR
#undef MADD
#undef LO
#undef HI

#if VMATH_HAVE_FMA
#define V8_NAME(f) f##_fma
#define V8_ATTR __attribute__((always_inline)) VMATH_FMA_ATTR
#define MADD(a, b, c) ((v8f)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
/* maxps/minps return their second operand where either is NaN: x. */
#define LO(x, c) ((v8f)_mm256_max_ps(_mm256_set1_ps(c), (__m256)(x)))
#define HI(x, c) ((v8f)_mm256_min_ps(_mm256_set1_ps(c), (__m256)(x)))
#define NMADD(a, b, c) ((v8f)_mm256_fnmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#define NMSUB(a, b, c) ((v8f)_mm256_fnmsub_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#define SCALE2K(e, t, k) scale2k_fma((e), (t))
#undef KEEP_NAN
#define KEEP_NAN(y, x) \
    ((v8f)_mm256_blendv_ps((__m256)(y), (__m256)(x), _mm256_cmp_ps((__m256)(x), (__m256)(x), _CMP_UNORD_Q)))
#include "kernels/vmath8.h"
#undef NMADD
#undef NMSUB
#undef SCALE2K
#undef V8_NAME
#undef V8_ATTR
#undef MADD
#undef LO
#undef HI

/* The FMA variant on 16 lanes, for the fused cell passes (gates.c) and vmath.c's arrays where
 * the CPU has AVX-512F: the same operations lane by lane (fused multiply-adds, max/min with the
 * same NaN rule, IEEE division), so the same bits as the 8-lane FMA variant for every input but
 * NaNs (all 2^32 checked when this was written); the sigmoid's 2^k by vscalefps, which equals the
 * exponent-bit addition on its normal results and keeps a NaN a NaN; apply16_512 below. */
typedef float v16f __attribute__((vector_size(64)));
typedef uint32_t v16u __attribute__((vector_size(64)));
typedef float v16f_u __attribute__((vector_size(64), aligned(4), may_alias));
#define VMATH_512_ATTR __attribute__((target("avx512f,avx2,fma")))
static inline int vmath_512(void) {
    return rnn__vmath_portable == 0 && vmath_fma() && __builtin_cpu_supports("avx512f");
}
#undef C8
#define C8(c) ((v16f){c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c})
#define v8f v16f
#define v8u v16u
#define V8_NO_APPLY
#define V8_NAME(f) f##_512
#define V8_ATTR __attribute__((always_inline)) VMATH_512_ATTR
#define MADD(a, b, c) ((v16f)_mm512_fmadd_ps((__m512)(a), (__m512)(b), (__m512)(c)))
#define LO(x, c) ((v16f)_mm512_max_ps(_mm512_set1_ps(c), (__m512)(x)))
#define HI(x, c) ((v16f)_mm512_min_ps(_mm512_set1_ps(c), (__m512)(x)))
#define NMADD(a, b, c) ((v16f)_mm512_fnmadd_ps((__m512)(a), (__m512)(b), (__m512)(c)))
#define NMSUB(a, b, c) ((v16f)_mm512_fnmsub_ps((__m512)(a), (__m512)(b), (__m512)(c)))
#define SCALE2K(e, t, k) ((v16f)_mm512_scalef_ps((__m512)(e), (__m512)(k)))
#undef KEEP_NAN
#define KEEP_NAN(y, x) (y) /* vscalefps keeps a NaN a NaN */
#include "kernels/vmath8.h"
#undef NMADD
#undef NMSUB
#undef SCALE2K
#undef KEEP_NAN
#undef V8_NAME
#undef V8_ATTR
#undef MADD
#undef LO
#undef HI
#undef V8_NO_APPLY
#undef v8f
#undef v8u
#undef C8
#define C8(c) ((v8f){c, c, c, c, c, c, c, c})

/* apply8_fma on 16 lanes: 64 floats at a time, then 16, the rest (under 16) through apply8_fma;
 * lanes are independent, so every grouping gives the same bits. */
static inline __attribute__((always_inline)) VMATH_512_ATTR void apply16_512(float *y,
                                                                              const float *x,
                                                                              long n,
                                                                              const int is_tanh) {
    long i = 0;
    for (; i + 64 <= n; i += 64) {
        v16f v[4];
        for (int k = 0; k < 4; k++) v[k] = *(const v16f_u *)(x + i + 16 * k);
        if (is_tanh) tanh8n_512(v, 4);
        else sigmoid8n_512(v, 4);
        for (int k = 0; k < 4; k++) *(v16f_u *)(y + i + 16 * k) = v[k];
    }
    for (; i + 16 <= n; i += 16) {
        v16f v = *(const v16f_u *)(x + i);
        if (is_tanh) tanh8n_512(&v, 1);
        else sigmoid8n_512(&v, 1);
        *(v16f_u *)(y + i) = v;
    }
    if (i < n) { /* the tail on masked lanes: the lanes outside are neither read nor written */
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        v16f v = (v16f)_mm512_maskz_loadu_ps(m, x + i);
        if (is_tanh) tanh8n_512(&v, 1);
        else sigmoid8n_512(&v, 1);
        _mm512_mask_storeu_ps(y + i, m, (__m512)v);
    }
}
#endif

#elif defined(V8_NAME) /* the body, included three times above */

/* Every function works on K <= 4 independent vectors at once (K a constant: the loops over k
 * unroll), one step of all K after the other, so that the core has K exp chains in flight
 * instead of one: a lone chain is about 20 dependent operations, and the out-of-order window
 * holds too few of them to hide that latency (2.4x slower per vector measured). */
/* e^r - 1 for |r| <= ln 2 / 2 (a little beyond is fine): r + r^2 P(r), Cephes's degree-5 P
 * (the expf polynomial e^r = 1 + r + r^2 P(r)); no cancellation, so tiny r keep full precision. */
static inline V8_ATTR void V8_NAME(expm1_red8)(v8f *q, const v8f *r, const int K) {
    v8f z[4], p[4];
    V8_EACH(k) z[k] = r[k] * r[k];
    V8_EACH(k) p[k] = MADD(r[k], C8(1.9875691500e-4f), C8(1.3981999507e-3f));
    V8_EACH(k) p[k] = MADD(p[k], r[k], C8(8.3334519073e-3f));
    V8_EACH(k) p[k] = MADD(p[k], r[k], C8(4.1665795894e-2f));
    V8_EACH(k) p[k] = MADD(p[k], r[k], C8(1.6666665459e-1f));
    V8_EACH(k) p[k] = MADD(p[k], r[k], C8(5.0000001201e-1f));
    V8_EACH(k) q[k] = MADD(p[k], z[k], r[k]);
}

/* x = k ln 2 + r: k = round(x / ln 2) through the 1.5 * 2^23 shifter (the low bits of t hold k),
 * r by Cephes's two-part ln 2 (k * 0.693359375 is exact). Writes r and kbits = k << 23, the
 * exponent increment of 2^k. |x| <= 127 ln 2. */
static inline V8_ATTR void V8_NAME(reduce8)(v8f *r, v8u *kbits, const v8f *x, const int K) {
    const float shifter = 12582912.0f; /* 1.5 * 2^23 */
    v8f t[4], k[4];
    V8_EACH(i) t[i] = MADD(x[i], C8(1.44269504088896341f), C8(shifter));
    V8_EACH(i) k[i] = t[i] - shifter;
    V8_EACH(i) {
        v8u tb;
        memcpy(&tb, &t[i], sizeof tb);
        kbits[i] = tb << 23; /* t's bits are those of 1.5 * 2^23 + k: the shift leaves k << 23 */
    }
    V8_EACH(i) r[i] = MADD(k[i], C8(-0.693359375f), x[i]);
    V8_EACH(i) r[i] = MADD(k[i], C8(2.12194440e-4f), r[i]);
}

/* x = sigmoid(x) = 1 / (1 + e^-x), e^-x with -x clamped to [-86.5, 88] (2^k normal, e^-x <=
 * 1.7e38): relative error about 2 ulp; 1 exactly from x = 17, 6e-39 below x = -88. */
static inline V8_ATTR void V8_NAME(sigmoid8n)(v8f *x, const int K) {
#ifdef NMADD
    /* The FMA variants: the same values without negating x first. With xc = -u (x clamped to
     * [-88, 86.5]): fma(u, log2e, S) = fnmadd(xc, log2e, S), fma(k, -ln2hi, u) = fnmsub(k,
     * ln2hi, xc), exactly (negation is exact and round to nearest is symmetric). */
    {
        const float shifter = 12582912.0f;
        v8f xc[4], t[4], kf[4], r[4], e[4];
        V8_EACH(k) xc[k] = LO(HI(x[k], 86.5f), -88.0f);
        V8_EACH(k) t[k] = NMADD(xc[k], C8(1.44269504088896341f), C8(shifter));
        V8_EACH(k) kf[k] = t[k] - shifter;
        V8_EACH(k) r[k] = NMSUB(kf[k], C8(0.693359375f), xc[k]);
        V8_EACH(k) r[k] = MADD(kf[k], C8(2.12194440e-4f), r[k]);
        V8_NAME(expm1_red8)(e, r, K);
        V8_EACH(k) e[k] += 1.0f;
        V8_EACH(k) e[k] = SCALE2K(e[k], t[k], kf[k]);
        V8_EACH(k) e[k] += 1.0f;
        V8_EACH(k) x[k] = KEEP_NAN(1.0f / e[k], x[k]);
        return;
    }
#endif
    v8f u[4], r[4], e[4];
    v8u kb[4];
    V8_EACH(k) u[k] = HI(LO(-x[k], -86.5f), 88.0f);
    V8_NAME(reduce8)(r, kb, u, K);
    V8_NAME(expm1_red8)(e, r, K);
    V8_EACH(k) e[k] += 1.0f;
    V8_EACH(k) {
        v8u eb;
        memcpy(&eb, &e[k], sizeof eb);
        eb += kb[k]; /* e in [0.7, 1.42]: adding k to the exponent is e * 2^k */
        memcpy(&e[k], &eb, sizeof eb);
    }
    V8_EACH(k) e[k] += 1.0f;
    V8_EACH(k) x[k] = KEEP_NAN(1.0f / e[k], x[k]);
}

/* x = tanh(x): tanh |x| = m / (m + 2) with m = e^{2|x|} - 1 = 2^k (e^r - 1) + (2^k - 1) (k >= 0,
 * so no cancellation: tiny x stay exact, 0 gives 0), the sign put back by its bit. 2|x| is
 * clamped to 40: from there m + 2 rounds to m and the result is 1 exactly (true from |x| = 9.02
 * on). One exponential and one division per lane, no branch between a small-x polynomial and
 * the exponential as before. */
static inline V8_ATTR void V8_NAME(tanh8n)(v8f *x, const int K) {
    v8u sign[4], kb[4];
    v8f y[4], r[4], q[4], m[4];
    V8_EACH(k) {
        v8u vb;
        memcpy(&vb, &x[k], sizeof vb);
        sign[k] = vb & 0x80000000u;
        vb ^= sign[k];
        memcpy(&y[k], &vb, sizeof vb);
    }
    V8_EACH(k) y[k] = HI(y[k] + y[k], 40.0f);
    V8_NAME(reduce8)(r, kb, y, K);
    V8_NAME(expm1_red8)(q, r, K);
    V8_EACH(k) {
        v8f s;
        v8u sb = kb[k] + 0x3f800000u; /* 2^k */
        memcpy(&s, &sb, sizeof s);
        m[k] = MADD(s, q[k], s - 1.0f);
    }
    V8_EACH(k) m[k] = m[k] / (m[k] + 2.0f);
    V8_EACH(k) {
        v8u tb;
        memcpy(&tb, &m[k], sizeof tb);
        tb ^= sign[k];
        memcpy(&x[k], &tb, sizeof tb);
    }
}

#ifndef V8_NO_APPLY
/* y[0, n) = tanh or sigmoid (is_tanh a constant) of x[0, n); y == x allowed. 32 floats at a time,
 * then 8, then the tail through a zero-padded vector: lanes are independent, so every grouping
 * gives the same bits. */
static inline V8_ATTR void V8_NAME(apply8)(float *y, const float *x, long n, const int is_tanh) {
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        v8f v[4]; /* unaligned 32-byte loads and stores (memcpy of each vector in a loop became
                     16-byte copies through the stack that the 32-byte loads could not forward from) */
        for (int k = 0; k < 4; k++) v[k] = *(const v8f_u *)(x + i + 8 * k);
        if (is_tanh) V8_NAME(tanh8n)(v, 4);
        else V8_NAME(sigmoid8n)(v, 4);
        for (int k = 0; k < 4; k++) *(v8f_u *)(y + i + 8 * k) = v[k];
    }
    for (; i + 8 <= n; i += 8) {
        v8f v;
        memcpy(&v, x + i, sizeof v);
        if (is_tanh) V8_NAME(tanh8n)(&v, 1);
        else V8_NAME(sigmoid8n)(&v, 1);
        memcpy(y + i, &v, sizeof v);
    }
    if (i < n) {
        v8f v = V8_NAME(load_n)(x + i, (int)(n - i));
        if (is_tanh) V8_NAME(tanh8n)(&v, 1);
        else V8_NAME(sigmoid8n)(&v, 1);
        V8_NAME(store_n)(y + i, v, (int)(n - i));
    }
}

#endif

static inline V8_ATTR v8f V8_NAME(sigmoid8)(v8f x) {
    V8_NAME(sigmoid8n)(&x, 1);
    return x;
}
static inline V8_ATTR v8f V8_NAME(tanh8)(v8f x) {
    V8_NAME(tanh8n)(&x, 1);
    return x;
}

#endif
