/* The int8 streaming product (rnn__qmv_int8, kernels/qmatvec.h) against a plain reference of
 * its documented arithmetic written here without the kernel's digits: per run of
 * RNN_QMV_INT8_KC k, xq = lrint(x 2^(140 - E)) from the largest |x|'s exponent field E, the
 * int64 sum of xq q, rounded once to float32, times 2^(E - 140), then fmaf with the scale; runs
 * with a non-finite or tiny largest |x| as float32 sums; all-zero runs add nothing. Every path
 * (portable, AVX2, AVX-VNNI, AVX-512 VNNI where the CPU has them) must give the reference's
 * bits, on shapes that are not multiples of 4, 8, 16, 64 or 128 and on K over one run; and
 * the result must be within the documented rounding of the exact sum of x q scale. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/qmatvec.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float urand(void) { /* [-1, 1) */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* Row kinds: ordinary, one large element among small ones, an infinity, a NaN, all zero, all
 * below 2^-100, huge. */
enum { ROW_PLAIN, ROW_SPIKE, ROW_INF, ROW_NAN, ROW_ZERO, ROW_TINY, ROW_HUGE, ROW_KINDS };

static void fill_row(float *x, int K, int kind) {
    for (int k = 0; k < K; k++) {
        const float u = urand();
        x[k] = kind == ROW_ZERO   ? 0.0f
               : kind == ROW_TINY ? u * 0x1p-101f
               : kind == ROW_HUGE ? u * 1e30f
               : kind == ROW_SPIKE ? u * 1e-3f
                                   : u * 2.0f;
    }
    if (kind == ROW_SPIKE) x[K / 2] = 37.5f;
    if (kind == ROW_TINY && K > 1) /* the smallest largest |x| scaled; the largest not */
        x[1] = K % 2 ? 0x1p-100f : 0x1.8p-101f;
    if (kind == ROW_INF) x[K - 1] = -INFINITY;
    if (kind == ROW_NAN) x[0] = NAN;
}

/* The reference of one row's columns, y updated in place; also the exact sum of x q scale
 * over the row and its error bound (for finite, scaled runs) into exact and bound. */
static void reference(int N, int K, const float *x, const int8_t *w, int ldw, const float *scale,
                      float *y, double *exact, double *bound) {
    for (int j = 0; j < N; j++) exact[j] = bound[j] = 0;
    for (int k0 = 0; k0 < K; k0 += RNN_QMV_INT8_KC) {
        const int n = K - k0 < RNN_QMV_INT8_KC ? K - k0 : RNN_QMV_INT8_KC;
        float m = 0;
        int finite = 1;
        for (int k = k0; k < k0 + n; k++) {
            if (!isfinite(x[k])) finite = 0;
            else if (fabsf(x[k]) > m) m = fabsf(x[k]);
        }
        if (finite && m == 0) continue;
        int e;
        frexpf(m, &e); /* m in [2^(e-1), 2^e): the exponent field is E = e + 126 */
        if (!finite || e - 1 < -100) {
            for (int j = 0; j < N; j++) {
                float acc = 0;
                for (int k = k0; k < k0 + n; k++)
                    acc = fmaf(x[k], (float)w[(size_t)k * ldw + j], acc);
                y[j] = fmaf(acc, scale[j], y[j]);
            }
            continue;
        }
        for (int j = 0; j < N; j++) {
            int64_t t = 0;
            double ex = 0, sq = 0;
            for (int k = k0; k < k0 + n; k++) {
                const int q = w[(size_t)k * ldw + j];
                t += (int64_t)llrint(ldexp(x[k], 14 - e)) * q;
                ex += (double)x[k] * q;
                sq += abs(q);
            }
            y[j] = fmaf((float)t * ldexpf(1.0f, e - 14), scale[j], y[j]);
            exact[j] += ex * scale[j];
            /* each x moved by at most 2^(e-15) <= m 2^-14; then the rounding of t, of the fma */
            bound[j] += (sq * ldexp(1.0, e - 15) + fabs(ex) * 0x1p-23) * scale[j];
        }
    }
}

static int cases, exact_checked;

static void one(int M, int N, int K, int kinds_from) {
    const int ldx = K + 3, ldw = N + 5, ldy = N + 2;
    float *x = malloc(sizeof(float) * (size_t)M * ldx), *y0 = malloc(sizeof(float) * M * ldy);
    float *y = malloc(sizeof(float) * M * ldy), *yr = malloc(sizeof(float) * M * ldy);
    float *scale = malloc(sizeof(float) * N);
    double *exact = malloc(sizeof(double) * N), *bound = malloc(sizeof(double) * N);
    int8_t *w = malloc((size_t)K * ldw), *wp = malloc(rnn__qmv_int8_bytes(K, N));
    int32_t *corr = malloc(sizeof(int32_t) * N * rnn__qmv_int8_runs(K));
    for (size_t i = 0; i < (size_t)K * ldw; i++) w[i] = (int8_t)lrintf(urand() * 127.0f);
    if (K > 2) w[ldw + 0] = -127, w[2 * ldw + 0] = 127; /* the extremes, column 0 */
    for (int j = 0; j < N; j++) scale[j] = 0.001f + (urand() + 1.0f) * 0.01f;
    for (int b = 0; b < M; b++) fill_row(x + (size_t)b * ldx, K, (kinds_from + b) % ROW_KINDS);
    if (M > 0 && K > RNN_QMV_INT8_KC) /* a second run much smaller than the first */
        for (int k = RNN_QMV_INT8_KC; k < K; k++) x[k] *= 1e-6f;
    for (int i = 0; i < M * ldy; i++) /* tiny rows: y as small, so that their sums count */
        y0[i] = urand() * ((kinds_from + i / ldy) % ROW_KINDS == ROW_TINY ? 1e-33f : 1.0f);
    rnn__qmv_int8_pack(K, N, w, ldw, wp, corr);
    memcpy(yr, y0, sizeof(float) * M * ldy);
    for (int b = 0; b < M; b++) {
        const int kind = (kinds_from + b) % ROW_KINDS;
        reference(N, K, x + (size_t)b * ldx, w, ldw, scale, yr + (size_t)b * ldy, exact, bound);
        if (kind == ROW_INF || kind == ROW_NAN || kind == ROW_TINY || kind == ROW_ZERO) continue;
        for (int j = 0; j < N; j++) { /* the reference's accuracy, as qmatvec.h states it */
            const double got = (double)yr[(size_t)b * ldy + j] - y0[(size_t)b * ldy + j];
            const double tol = bound[j] + 0x1p-23 * fabs((double)y0[(size_t)b * ldy + j]);
            if (fabs(got - exact[j]) > tol) {
                CHECK(0, "M %d N %d K %d row %d col %d: %.9g vs exact %.9g (bound %.3g)", M, N,
                      K, b, j, got, exact[j], tol);
                break;
            }
            exact_checked++;
        }
    }
    const int best = rnn__qmv_path();
    for (int path = 0; path <= best; path++) {
        memcpy(y, y0, sizeof(float) * M * ldy);
        rnn__qmv_force(path);
        rnn__qmv_int8(M, N, K, x, ldx, wp, corr, scale, y, ldy);
        rnn__qmv_force(-1);
        int bad = -1;
        for (int i = 0; i < M * ldy && bad < 0; i++)
            if (memcmp(&y[i], &yr[i], sizeof(float)) != 0 && !(isnan(y[i]) && isnan(yr[i])))
                bad = i;
        CHECK(bad < 0, "path %d M %d N %d K %d: element %d (row kind %d) %.9g, reference %.9g",
              path, M, N, K, bad, bad < 0 ? 0 : (kinds_from + bad / ldy) % ROW_KINDS,
              bad < 0 ? 0.0 : y[bad], bad < 0 ? 0.0 : yr[bad]);
        cases++;
    }
    free(x), free(y0), free(y), free(yr), free(scale), free(exact), free(bound), free(w);
    free(wp), free(corr);
}

/* The digit sums at their extremes: a full run of RNN_QMV_INT8_KC k, every weight -128 or
 * 127, and rows whose every xq is +2^14 (a largest |x| just below a power of two rounds up to
 * it: the second digit at its top, 192), -2^14 (64), 2^13 (|x| a power of two) and 2^14 - 1
 * (both digits' largest, 255 and 191), and one of denormals under a largest |x| of 1: each
 * column's two int32 sums reach 4096 255 128 < 2^27 and the total 2^33, so every path must
 * still give the reference's int64 bits. */
static void extremes(void) {
    enum { M = 5, N = 136, K = RNN_QMV_INT8_KC };
    float *x = malloc(sizeof(float) * M * K), y0[M * N], y[M * N], yr[M * N], scale[N];
    int8_t *w = malloc((size_t)K * N), *wp = malloc(rnn__qmv_int8_bytes(K, N));
    int32_t *corr = malloc(sizeof(int32_t) * N * rnn__qmv_int8_runs(K));
    double exact[N], bound[N];
    for (int k = 0; k < K; k++) {
        x[k] = 0x1.fffffep0f;                     /* xq = 2^14 */
        x[K + k] = -0x1.fffffep0f;                /* -2^14 */
        x[2 * K + k] = 1.0f;                      /* 2^13 */
        x[3 * K + k] = k ? 16383 * 0x1p-13f : 0x1.fffffep0f; /* 2^14 - 1 (and 2^14) */
        x[4 * K + k] = k ? (k % 2 ? 0x1p-149f : -0x1p-130f) : 1.0f; /* 0 under 1 */
        for (int j = 0; j < N; j++) w[(size_t)k * N + j] = j % 3 == 0 ? -128 : j % 3 == 1 ? 127
                                                          : (k % 2 ? 127 : -128);
    }
    for (int j = 0; j < N; j++) scale[j] = 1.0f + j * 0x1p-7f;
    for (int i = 0; i < M * N; i++) y0[i] = 0.5f;
    rnn__qmv_int8_pack(K, N, w, N, wp, corr);
    memcpy(yr, y0, sizeof yr);
    for (int b = 0; b < M; b++)
        reference(N, K, x + (size_t)b * K, w, N, scale, yr + b * N, exact, bound);
    for (int path = 0; path <= rnn__qmv_path(); path++) {
        memcpy(y, y0, sizeof y);
        rnn__qmv_force(path);
        rnn__qmv_int8(M, N, K, x, K, wp, corr, scale, y, N);
        rnn__qmv_force(-1);
        int bad = -1;
        for (int i = 0; i < M * N && bad < 0; i++)
            if (memcmp(&y[i], &yr[i], sizeof(float)) != 0) bad = i;
        CHECK(bad < 0, "extremes, path %d: row %d col %d %.9g, reference %.9g", path,
              bad < 0 ? 0 : bad / N, bad < 0 ? 0 : bad % N, bad < 0 ? 0.0 : y[bad],
              bad < 0 ? 0.0 : yr[bad]);
        cases++;
    }
    /* and the reference itself: the first row's columns are exactly 0.5 + scale 2^15 sum q */
    CHECK(yr[0] == 0.5f + scale[0] * (float)(-128.0 * K * 2.0) &&
              yr[1] == 0.5f + scale[1] * (float)(127.0 * K * 2.0),
          "extremes: the reference gives %.9g and %.9g", yr[0], yr[1]);
    free(x), free(w), free(wp), free(corr);
}

int main(void) {
    static const int Ns[] = {1, 7, 8, 9, 15, 16, 17, 33, 63, 64, 65, 127, 128, 129, 200, 264, 520};
    static const int Ks[] = {1, 2, 3, 4, 5, 7, 63, 64, 65, 129, 256};
    printf("qmatvec path: %d (0 portable, 1 AVX2, 2 AVX2 + AVX-VNNI, 3 AVX-512)\n",
           rnn__qmv_path());
    int n = 0;
    for (int ni = 0; ni < (int)(sizeof Ns / sizeof *Ns); ni++)
        for (int ki = 0; ki < (int)(sizeof Ks / sizeof *Ks); ki++, n++)
            one(1 + n % 3, Ns[ni], Ks[ki], n % ROW_KINDS);
    /* K over one run (two and three runs, the last ones short) */
    one(2, 40, RNN_QMV_INT8_KC + 5, ROW_PLAIN);
    one(1, 136, 2 * RNN_QMV_INT8_KC + 77, ROW_SPIKE);
    extremes();
    printf("%d kernel cases, %d outputs checked against the exact sum\n", cases, exact_checked);
    CHECK(exact_checked > 10000, "only %d outputs checked against the exact sum", exact_checked);
    return check_report("test_qmv_int8");
}
