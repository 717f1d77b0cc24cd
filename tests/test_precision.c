/* Reduced-precision streaming weights (rnn_set_precision, kernels/qmatvec.h): the bf16 and int8
 * products against a plain loop, rnn_predict_step against a float32 model whose weights went
 * through rnn_quantize_weights, RNN_F32 after RNN_BF16 bit for bit, one thread against two. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/qmatvec.h"
#include "rnn.h"

static unsigned long long seed_ = 88172645463325252ull;
static float urand(void) { /* [-1, 1) */
    seed_ ^= seed_ << 13;
    seed_ ^= seed_ >> 7;
    seed_ ^= seed_ << 17;
    return (float)((double)(seed_ >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static void test_bf16_rounding(void) {
    /* 1 + 2^-8 is halfway between two bf16 values: to the even one (0x3f80); 1 + 3 2^-8 goes
     * up to 0x3f82; 1 + 2^-8 + 2^-20 is above halfway (0x3f81) */
    CHECK(rnn__bf16_from_float(1.00390625f) == 0x3f80, "tie to even: %04x",
          rnn__bf16_from_float(1.00390625f));
    CHECK(rnn__bf16_from_float(1.01171875f) == 0x3f82, "tie to even (up): %04x",
          rnn__bf16_from_float(1.01171875f));
    CHECK(rnn__bf16_from_float(1.00390625f + 0x1p-20f) == 0x3f81, "above half: %04x",
          rnn__bf16_from_float(1.00390625f + 0x1p-20f));
    CHECK(rnn__bf16_to_float(0xc0a0) == -5.0f, "widen: %g", rnn__bf16_to_float(0xc0a0));
}

/* Every path (portable, AVX2, AVX-512 where the CPU has them) against a double loop, on shapes
 * around the vector widths, and every path's bits equal to the portable loop's. */
static void test_kernels(void) {
    static const int Ns[] = {1, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 100, 129};
    static const int Ks[] = {1, 3, 8, 37, 130};
    const int best = rnn__qmv_path();
    printf("qmatvec path: %d (0 portable, 1 AVX2, 2 AVX2 + AVX-VNNI, 3 AVX-512)\n", best);
    for (int ni = 0; ni < (int)(sizeof Ns / sizeof *Ns); ni++)
        for (int ki = 0; ki < (int)(sizeof Ks / sizeof *Ks); ki++) {
            const int N = Ns[ni], K = Ks[ki], M = 1 + (ni + ki) % 8;
            const int ldx = K + 1, ldw = N + 3, ldy = N + 2;
            float *x = malloc(sizeof(float) * M * ldx), *y0 = malloc(sizeof(float) * M * ldy);
            float *y = malloc(sizeof(float) * M * ldy), *yp = malloc(sizeof(float) * M * ldy);
            float *scale = malloc(sizeof(float) * N);
            uint16_t *wb = malloc(sizeof(uint16_t) * K * ldw);
            int8_t *wq = malloc((size_t)K * ldw), *wp = malloc(rnn__qmv_int8_bytes(K, N));
            int32_t *corr = malloc(sizeof(int32_t) * N * rnn__qmv_int8_runs(K));
            for (int i = 0; i < M * ldx; i++) x[i] = urand();
            for (int i = 0; i < M * ldy; i++) y0[i] = urand();
            for (int i = 0; i < K * ldw; i++) {
                wb[i] = rnn__bf16_from_float(urand() * 2.0f);
                wq[i] = (int8_t)lrintf(urand() * 127.0f);
            }
            for (int j = 0; j < N; j++) scale[j] = 0.001f + (urand() + 1.0f) * 0.01f;
            rnn__qmv_int8_pack(K, N, wq, ldw, wp, corr);
            for (int prec = 0; prec < 2; prec++) {
                for (int path = 0; path <= best; path++) {
                    memcpy(y, y0, sizeof(float) * M * ldy);
                    rnn__qmv_force(path);
                    if (prec == 0) rnn__qmv_bf16(M, N, K, x, ldx, wb, ldw, y, ldy);
                    else rnn__qmv_int8(M, N, K, x, ldx, wp, corr, scale, y, ldy);
                    rnn__qmv_force(-1);
                    if (path == 0) memcpy(yp, y, sizeof(float) * M * ldy);
                    int bad = 0, same = 1;
                    for (int b = 0; b < M; b++)
                        for (int j = 0; j < ldy; j++) {
                            const size_t o = (size_t)b * ldy + j;
                            if (j >= N) { /* beyond N: untouched */
                                bad += y[o] != y0[o];
                                continue;
                            }
                            double s = 0, mag = 0, xmax = 0, wsum = 0;
                            for (int k = 0; k < K; k++) {
                                const double w = prec == 0 ? rnn__bf16_to_float(wb[k * ldw + j])
                                                           : (double)wq[k * ldw + j] * scale[j];
                                s += (double)x[b * ldx + k] * w;
                                mag += fabs((double)x[b * ldx + k] * w);
                                xmax = fmax(xmax, fabs((double)x[b * ldx + k]));
                                wsum += fabs(w);
                            }
                            const double ref = y0[o] + s;
                            /* int8 also rounds each x to 2^-14 of the row's largest |x|
                             * (qmatvec.h) */
                            const double rounding = prec ? 0x1p-14 * xmax * wsum : 0;
                            bad += fabs(y[o] - ref) >
                                   1e-6 * (mag + fabs(y0[o])) + rounding + 1e-30;
                            same &= memcmp(&y[o], &yp[o], sizeof(float)) == 0;
                        }
                    CHECK(bad == 0, "%s path %d M %d N %d K %d: %d outputs off",
                          prec ? "int8" : "bf16", path, M, N, K, bad);
                    CHECK(same, "%s path %d M %d N %d K %d: bits differ from the portable loop",
                          prec ? "int8" : "bf16", path, M, N, K);
                }
            }
            free(x), free(y0), free(y), free(yp), free(scale), free(wb), free(wq), free(wp);
            free(corr);
        }
}

/* Stateful LSTM(H1, sequences) -> LSTM(H2) on F features, B streams; no Dense, whose weights
 * rnn_quantize_weights would round but rnn_set_precision leaves float32. */
static rnn_model *make(int B, int F, int H1, int H2, int threads, rnn_context **ctx) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options l1 = rnn_lstm_defaults(H1), l2 = rnn_lstm_defaults(H2);
    l1.stateful = l2.stateful = 1;
    l1.return_sequences = 1;
    if (!m || rnn_set_seed(m, 17) || rnn_batch_input(m, B, 1, F) || rnn_add(m, rnn_lstm(&l1)) ||
        rnn_add(m, rnn_lstm(&l2))) {
        fprintf(stderr, "model: %s\n", rnn_last_error());
        exit(1);
    }
    *ctx = rnn_context_new(threads);
    if (!*ctx || rnn_model_set_context(m, *ctx)) exit(1);
    return m;
}

#define STEPS 12

/* STEPS steps of xs (STEPS, B, F) into ys (STEPS, B, H2). */
static void run(rnn_model *m, const float *xs, float *ys, int B, int F, int H2) {
    for (int s = 0; s < STEPS; s++)
        CHECK(rnn_predict_step(m, xs + (size_t)s * B * F, ys + (size_t)s * B * H2) == RNN_OK,
              "step %d: %s", s, rnn_last_error());
}

static void test_model(int B, int F, int H1, int H2) {
    const size_t nx = (size_t)STEPS * B * F, ny = (size_t)STEPS * B * H2;
    float *xs = malloc(sizeof(float) * nx), *yf = malloc(sizeof(float) * ny);
    float *yr = malloc(sizeof(float) * ny), *y1 = malloc(sizeof(float) * ny);
    float *y2 = malloc(sizeof(float) * ny), *yf2 = malloc(sizeof(float) * ny);
    for (size_t i = 0; i < nx; i++) xs[i] = urand();
    rnn_context *c1, *c2, *cr, *cf;
    rnn_model *plain = make(B, F, H1, H2, 2, &cf);
    run(plain, xs, yf, B, F, H2);
    for (int p = RNN_BF16; p <= RNN_INT8; p++) {
        const char *name = p == RNN_BF16 ? "bf16" : "int8";
        rnn_model *ref = make(B, F, H1, H2, 1, &cr), *m1 = make(B, F, H1, H2, 1, &c1);
        rnn_model *m2 = make(B, F, H1, H2, 2, &c2);
        CHECK(rnn_quantize_weights(ref, (rnn_precision)p) == RNN_OK, "%s", rnn_last_error());
        CHECK(rnn_set_precision(m1, (rnn_precision)p) == RNN_OK, "%s", rnn_last_error());
        CHECK(rnn_set_precision(m2, (rnn_precision)p) == RNN_OK, "%s", rnn_last_error());
        run(ref, xs, yr, B, F, H2);
        run(m1, xs, y1, B, F, H2);
        run(m2, xs, y2, B, F, H2);
        /* int8 rounds x and h to 16 bits in its products (qmatvec.h): the outputs move by
         * some 1e-6 (measured 3.6e-6 and 4.4e-6 here), the 8-bit weights themselves by some
         * 1e-4 (6e-4), so the rounding of the activations must stay far below the weights' */
        const float abs_tol = p == RNN_INT8 ? 2e-5f : 1e-6f;
        int bad = 0, moved = 0;
        double d_act = 0, d_weights = 0;
        for (size_t i = 0; i < ny; i++) {
            bad += fabsf(y1[i] - yr[i]) > abs_tol + 1e-5f * fabsf(yr[i]);
            moved += y1[i] != yf[i];
            d_act = fmax(d_act, fabs(y1[i] - yr[i]));
            d_weights = fmax(d_weights, fabs(yr[i] - yf[i]));
        }
        printf("%s B %d F %d H %d,%d: largest difference %.3g from the rounded-weights model, "
               "which is %.3g from float32\n", name, B, F, H1, H2, d_act, d_weights);
        CHECK(d_act * 20 < d_weights, "%s: the products' own rounding (%.3g) is not far below "
              "the weights' (%.3g)", name, d_act, d_weights);
        CHECK(bad == 0, "%s B %d F %d H %d,%d: %d of %zu outputs differ from the rounded "
              "float32 model's", name, B, F, H1, H2, bad, ny);
        /* the reduced weights are really read: the outputs are not the float32 model's */
        CHECK(moved > (int)ny / 2, "%s: only %d of %zu outputs differ from float32", name,
              moved, ny);
        CHECK(memcmp(y1, y2, sizeof(float) * ny) == 0, "%s B %d: 1 and 2 threads differ", name,
              B);
        /* back to float32: the same bits as a model never switched (after a reset, since the
         * state carried so far is the reduced-precision one) */
        CHECK(rnn_set_precision(m2, RNN_F32) == RNN_OK, "%s", rnn_last_error());
        CHECK(rnn_reset_states(m2) == RNN_OK, "%s", rnn_last_error());
        run(m2, xs, yf2, B, F, H2);
        CHECK(memcmp(yf2, yf, sizeof(float) * ny) == 0, "%s then f32: bits differ", name);
        rnn_model_free(ref), rnn_model_free(m1), rnn_model_free(m2);
        rnn_context_free(cr), rnn_context_free(c1), rnn_context_free(c2);
    }
    rnn_model_free(plain);
    rnn_context_free(cf);
    free(xs), free(yf), free(yr), free(y1), free(y2), free(yf2);
}

static void test_errors(void) {
    rnn_context *c;
    rnn_model *m = make(1, 3, 16, 16, 1, &c);
    CHECK(rnn_set_precision(m, (rnn_precision)7) == RNN_ERR_ARGUMENT, "unknown precision");
    CHECK(strstr(rnn_last_error(), "precision") != NULL, "message: %s", rnn_last_error());
    CHECK(rnn_set_precision(NULL, RNN_BF16) == RNN_ERR_ARGUMENT, "NULL model");
    rnn_model_free(m);
    rnn_context_free(c);
}

int main(void) {
    test_bf16_rounding();
    test_kernels();
    test_model(1, 8, 128, 128); /* B5's shape */
    test_model(3, 5, 24, 16);   /* parts of 8 and 16 units on two threads, odd F */
    test_errors();
    return check_report("test_precision");
}
