#include "rng.h"

#include <math.h>
#include <stdlib.h>

#include "memory.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void rnn__rng_seed(rnn_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rnn__rng_next(rnn_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rnn__rng_uniform(rnn_rng *r) { return (double)(rnn__rng_next(r) >> 11) * 0x1.0p-53; }

double rnn__rng_normal(rnn_rng *r) {
    /* Box-Muller; one value per call keeps the stream simple to reason about. */
    double u1 = rnn__rng_uniform(r), u2 = rnn__rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t rnn__rng_below(rnn_rng *r, uint64_t n) {
    if (n <= 1) return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = rnn__rng_next(r);
    while (x >= limit);
    return x % n;
}

void rnn__init_glorot_uniform(rnn_rng *r, float *w, int64_t fan_in, int64_t fan_out) {
    double limit = sqrt(6.0 / (double)(fan_in + fan_out));
    int64_t n = fan_in * fan_out;
    for (int64_t i = 0; i < n; i++) w[i] = (float)((2.0 * rnn__rng_uniform(r) - 1.0) * limit);
}

/* column -= f v over entries k..m-1, with f = 2 dot / vn while factorizing and f = 2 dot while
 * building Q (vn = 0), formed exactly as the one-column loops formed them. */
static void reflect_one(double *restrict c, int64_t m, int64_t k, const double *restrict v, double vn,
                        double dot) {
    const double f = vn > 0 ? 2 * dot / vn : 2 * dot;
    for (int64_t i = k; i < m; i++) c[i] -= f * v[i];
}

/* Applies the reflection along v (entries k..m-1) to `cols` columns of m doubles starting at c
 * (reflect_one for each). Four columns go through the sums together: their sums are
 * independent chains the CPU runs side by side, while each column's own sum is still taken in
 * the same order, so the results are the same bits as one column at a time (those sequential
 * sums were the initializer's whole cost: 2.4 s for an LSTM(512)'s 512 x 2048 kernel). */
static void reflect_columns(double *c, int64_t cols, int64_t m, int64_t k, const double *v,
                            double vn) {
    int64_t j = 0;
    for (; j + 4 <= cols; j += 4) {
        double *c0 = c + j * m, *c1 = c0 + m, *c2 = c1 + m, *c3 = c2 + m;
        double d0 = 0, d1 = 0, d2 = 0, d3 = 0;
        for (int64_t i = k; i < m; i++) {
            d0 += v[i] * c0[i];
            d1 += v[i] * c1[i];
            d2 += v[i] * c2[i];
            d3 += v[i] * c3[i];
        }
        reflect_one(c0, m, k, v, vn, d0);
        reflect_one(c1, m, k, v, vn, d1);
        reflect_one(c2, m, k, v, vn, d2);
        reflect_one(c3, m, k, v, vn, d3);
    }
    for (; j < cols; j++) {
        double *cj = c + j * m, d = 0;
        for (int64_t i = k; i < m; i++) d += v[i] * cj[i];
        reflect_one(cj, m, k, v, vn, d);
    }
}

int rnn__init_orthogonal(rnn_rng *r, float *w, int64_t rows, int64_t cols) {
    /* A is (m, n) with m >= n, column-major in a[j*m + i] for easy Householder sweeps. */
    int64_t m = rows > cols ? rows : cols, n = rows > cols ? cols : rows;
    /* The (m, n) array straight from the system and back (rnn__alloc_zeroed), not from the
     * heap: freed heap memory stays in the process (the allocator raises its threshold for the
     * system after the first large block), where this build's temporaries made up 1 MB of a
     * streaming program's 5.8 MB peak (rnn bench B5). */
    const size_t an_bytes = sizeof(double) * (size_t)(m * n);
    double *a = rnn__alloc_zeroed(an_bytes);
    double *v = rnn__alloc(sizeof(double) * (size_t)m);
    double *d = rnn__alloc(sizeof(double) * (size_t)n);
    double *q = rnn__alloc(sizeof(double) * (size_t)m); /* one column of Q */
    if (!a || !q || !v || !d) {
        rnn__free_zeroed(a, an_bytes);
        rnn__free(v); rnn__free(d); rnn__free(q);
        return -1;
    }
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) a[j * m + i] = rnn__rng_normal(r);
    /* Householder reflections H_0..H_{n-1} reduce A to R (its diagonal kept in d); reflection
     * k's unit vector is kept in column k of a, which no later reflection reads (step k' works
     * on columns k'.. only). */
    double *vs = a; /* reflection vectors, column k once step k is done */
    for (int64_t k = 0; k < n; k++) {
        double norm = 0;
        for (int64_t i = k; i < m; i++) norm += a[k * m + i] * a[k * m + i];
        norm = sqrt(norm);
        double alpha = a[k * m + k] > 0 ? -norm : norm;
        for (int64_t i = 0; i < m; i++) v[i] = i < k ? 0 : a[k * m + i];
        v[k] -= alpha;
        double vn = 0;
        for (int64_t i = k; i < m; i++) vn += v[i] * v[i];
        if (vn > 0) reflect_columns(a + k * m, n - k, m, k, v, vn);
        d[k] = a[k * m + k];
        for (int64_t i = 0; i < m; i++) vs[k * m + i] = vn > 0 ? v[i] / sqrt(vn) : 0;
    }
    /* Q = H_0 H_1 ... H_{n-1} I[:, :n], one column at a time (one m-vector instead of a second
     * (m, n) array: LSTM(128)'s was 512 KB): column j is e_j, which reflection k > j leaves
     * exactly as it is (v_k is zero above entry k, so the dot is a signed zero and the update
     * subtracts zeros), so H_j .. H_0 are applied to it, each by the same one-column arithmetic
     * as before. Then Q * diag(sign(diag(R))), as Keras does, so the result is uniformly
     * distributed. Q is (m, n): the weight is Q itself if rows >= cols, else its transpose. */
    for (int64_t j = 0; j < n; j++) {
        for (int64_t i = 0; i < m; i++) q[i] = i == j ? 1 : 0;
        for (int64_t k = j; k >= 0; k--) reflect_columns(q, 1, m, k, vs + k * m, 0);
        const double s = d[j] < 0 ? -1 : 1;
        for (int64_t i = 0; i < m; i++) q[i] *= s;
        for (int64_t i = 0; i < m; i++) {
            if (rows >= cols)
                w[i * cols + j] = (float)q[i];
            else
                w[j * cols + i] = (float)q[i];
        }
    }
    rnn__free_zeroed(a, an_bytes);
    rnn__free(v); rnn__free(d); rnn__free(q);
    return 0;
}
