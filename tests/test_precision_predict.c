/* Reduced precision in rnn_predict (rnn_set_precision, kernels/qgemm.h): the product kernel's
 * paths against a double loop on shapes around the tile sizes, the AMX path against its plain
 * loop; rnn_predict of LSTM, GRU (both forms), SimpleRNN and Dense models in bf16 and int8
 * against a float32 model whose weights went through rnn_quantize_weights; one thread against
 * two bit for bit; RNN_F32 after RNN_BF16 bit for bit. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/gemm.h"
#include "kernels/qgemm.h"
#include "kernels/qmatvec.h"
#include "rnn.h"

static unsigned long long seed_ = 0x9E3779B97F4A7C15ull;
static float urand(void) { /* [-1, 1) */
    seed_ ^= seed_ << 13;
    seed_ ^= seed_ >> 7;
    seed_ ^= seed_ << 17;
    return (float)((double)(seed_ >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* The rounded weight w(k, j) as rnn_quantize_weights makes it, in double. */
static double rounded(const rnn_qweights *q, int k, int j) { return q->deq[(size_t)k * q->N + j]; }

/* Each path of rnn__qgemm (AMX where the CPU has it, the float32 copy) against a double loop
 * over the rounded weights with float32 activations, for S absent, a bias row and S = C, and
 * column ranges that start and end inside a 16-column tile. The bound: the float32 sum's
 * rounding plus the AMX path's activation parts (2^-16 relative) over sum |a w|. */
static void test_kernel(void) {
    static const int Ms[] = {1, 5, 16, 17, 40};
    static const int Ns[] = {1, 15, 16, 17, 64, 65, 100};
    static const int Ks[] = {1, 8, 31, 32, 33, 64, 100};
    const int amx = rnn__qgemm_amx();
    printf("qgemm AMX path: %s\n", amx ? "yes" : "no (copy path only)");
    int cases = 0;
    for (int pr = 0; pr < 2; pr++)
        for (int mi = 0; mi < 5; mi++)
            for (int ni = 0; ni < 7; ni++)
                for (int ki = 0; ki < 7; ki++) {
                    const int M = Ms[mi], N = Ns[ni], K = Ks[ki];
                    const rnn_precision prec = pr ? RNN_INT8 : RNN_BF16;
                    float *W = malloc(sizeof(float) * K * N), *A = malloc(sizeof(float) * M * K);
                    float *S = malloc(sizeof(float) * M * N), *C = malloc(sizeof(float) * M * N);
                    float *R = malloc(sizeof(float) * M * N);
                    for (int i = 0; i < K * N; i++) W[i] = urand() * 0.5f;
                    for (int i = 0; i < M * K; i++) A[i] = urand() * 3.0f;
                    for (int i = 0; i < M * N; i++) S[i] = urand();
                    rnn_qweights q;
                    memset(&q, 0, sizeof q);
                    CHECK(rnn__qweights_prepare(&q, W, K, N, 1, prec) == 0, "prepare");
                    const int j0 = N > 20 ? 3 : 0, j1 = N > 20 ? N - 2 : N, n = j1 - j0;
                    for (int mode = 0; mode < 3; mode++) /* S: none, bias row, C itself */
                        for (int path = 0; path < 2; path++) {
                            rnn__qgemm_force(path);
                            if (path == 1 && !amx) continue;
                            for (int i = 0; i < M; i++)
                                for (int j = 0; j < n; j++) C[i * n + j] = S[i * N + j0 + j];
                            const float *Sp = mode == 0 ? NULL : mode == 1 ? S + j0 : C;
                            const int lds = mode == 1 ? 0 : n;
                            rnn__qgemm(&q, M, j0, j1, A, K, Sp, lds, C, n, RNN_GEMM_OWN);
                            for (int i = 0; i < M; i++)
                                for (int j = j0; j < j1; j++) {
                                    double ref = mode == 0 ? 0.0 : mode == 1 ? S[j] : S[i * N + j];
                                    double mag = fabs(ref);
                                    for (int k = 0; k < K; k++) {
                                        ref += (double)A[i * K + k] * rounded(&q, k, j);
                                        mag += fabs((double)A[i * K + k] * rounded(&q, k, j));
                                    }
                                    const double got = C[i * n + j - j0];
                                    const double tol = mag * ((K + 2) * 0x1p-24 + 0x1p-16);
                                    if (fabs(got - ref) > tol) {
                                        CHECK(0, "%s M=%d N=%d K=%d S mode %d path %d (%d,%d): "
                                              "%.9g vs %.9g (tol %.3g)", pr ? "int8" : "bf16",
                                              M, N, K, mode, path, i, j, got, ref, tol);
                                        i = M;
                                        break;
                                    }
                                }
                            /* the AMX path's bits against its plain loop: only the order of
                             * a tile product's additions may differ */
                            if (path == 1) {
                                rnn__qgemm_ref(&q, M, j0, j1, A, K, Sp == C ? S + j0 : Sp,
                                               mode == 2 ? N : lds, R, n);
                                for (int i = 0; i < M * n; i++) {
                                    const double tol = 1e-6 * (1.0 + fabs(R[i])) * K;
                                    if (fabs(R[i] - C[i]) > tol) {
                                        CHECK(0, "AMX vs plain loop %s M=%d N=%d K=%d at %d: "
                                              "%.9g vs %.9g", pr ? "int8" : "bf16", M, N, K, i,
                                              C[i], R[i]);
                                        break;
                                    }
                                }
                            }
                            cases++;
                        }
                    rnn__qgemm_force(1);
                    rnn__qweights_free(&q);
                    free(W);
                    free(A);
                    free(S);
                    free(C);
                    free(R);
                }
    printf("kernel cases: %d\n", cases);
}

/* rnn__qgemm2 (two operands in one pass: a recurrent step's input and recurrent products) on
 * each path: the same bits as rnn__qgemm for the first operand and then for the second on C;
 * the AMX path within rounding of its plain loop (rnn__qgemm_ref twice) and of a double loop;
 * odd shapes, column ranges inside tiles, int8's two different column scales, and sums longer
 * than the stack's staging (K over 256 in all). */
static void test_kernel2(void) {
    static const int Ms[] = {1, 5, 16, 17, 40};
    static const int Ns[] = {1, 17, 64, 100};
    static const int K1s[] = {1, 8, 33};
    static const int K2s[] = {8, 31, 64, 300};
    const int amx = rnn__qgemm_amx();
    int cases = 0;
    for (int pr = 0; pr < 2; pr++)
        for (int mi = 0; mi < 5; mi++)
            for (int ni = 0; ni < 4; ni++)
                for (int ki = 0; ki < 12; ki++) {
                    const int M = Ms[mi], N = Ns[ni], K1 = K1s[ki % 3], K2 = K2s[ki / 3];
                    const rnn_precision prec = pr ? RNN_INT8 : RNN_BF16;
                    float *W1 = malloc(sizeof(float) * K1 * N), *W2 = malloc(sizeof(float) * K2 * N);
                    float *A1 = malloc(sizeof(float) * M * K1), *A2 = malloc(sizeof(float) * M * K2);
                    float *S = malloc(sizeof(float) * M * N), *C = malloc(sizeof(float) * M * N);
                    float *C2 = malloc(sizeof(float) * M * N), *R = malloc(sizeof(float) * M * N);
                    /* the second weight 0.1 of the first's size: other int8 scales */
                    for (int i = 0; i < K1 * N; i++) W1[i] = urand() * 0.5f;
                    for (int i = 0; i < K2 * N; i++) W2[i] = urand() * 0.05f;
                    for (int i = 0; i < M * K1; i++) A1[i] = urand() * 3.0f;
                    for (int i = 0; i < M * K2; i++) A2[i] = urand();
                    for (int i = 0; i < M * N; i++) S[i] = urand();
                    rnn_qweights q1, q2;
                    memset(&q1, 0, sizeof q1);
                    memset(&q2, 0, sizeof q2);
                    CHECK(rnn__qweights_prepare(&q1, W1, K1, N, 1, prec) == 0 &&
                              rnn__qweights_prepare(&q2, W2, K2, N, 1, prec) == 0, "prepare");
                    const int j0 = N > 20 ? 5 : 0, j1 = N > 20 ? N - 3 : N, n = j1 - j0;
                    for (int mode = 0; mode < 3; mode++) /* S: none, bias row, C itself */
                        for (int path = 0; path < 2; path++) {
                            if (path == 1 && !amx) continue;
                            rnn__qgemm_force(path);
                            const int lds = mode == 1 ? 0 : n;
                            for (int i = 0; i < M; i++)
                                for (int j = 0; j < n; j++)
                                    C[i * n + j] = C2[i * n + j] = S[i * N + j0 + j];
                            rnn__qgemm2(&q1, A1, K1, &q2, A2, K2, M, j0, j1,
                                        mode == 0 ? NULL : mode == 1 ? S + j0 : C, lds, C, n,
                                        RNN_GEMM_OWN);
                            rnn__qgemm(&q1, M, j0, j1, A1, K1,
                                       mode == 0 ? NULL : mode == 1 ? S + j0 : C2, lds, C2, n,
                                       RNN_GEMM_OWN);
                            rnn__qgemm(&q2, M, j0, j1, A2, K2, C2, n, C2, n, RNN_GEMM_OWN);
                            if (memcmp(C, C2, sizeof(float) * M * n) != 0)
                                CHECK(0, "qgemm2 %s M=%d N=%d K=%d+%d S mode %d path %d: not the "
                                      "bits of the two products in turn", pr ? "int8" : "bf16",
                                      M, N, K1, K2, mode, path);
                            for (int i = 0; i < M; i++)
                                for (int j = j0; j < j1; j++) {
                                    double ref = mode == 0 ? 0.0 : mode == 1 ? S[j] : S[i * N + j];
                                    double mag = fabs(ref);
                                    for (int k = 0; k < K1; k++) {
                                        ref += (double)A1[i * K1 + k] * rounded(&q1, k, j);
                                        mag += fabs((double)A1[i * K1 + k] * rounded(&q1, k, j));
                                    }
                                    for (int k = 0; k < K2; k++) {
                                        ref += (double)A2[i * K2 + k] * rounded(&q2, k, j);
                                        mag += fabs((double)A2[i * K2 + k] * rounded(&q2, k, j));
                                    }
                                    const double got = C[i * n + j - j0];
                                    const double tol = mag * ((K1 + K2 + 4) * 0x1p-24 + 0x1p-16);
                                    if (fabs(got - ref) > tol) {
                                        CHECK(0, "qgemm2 %s M=%d N=%d K=%d+%d S mode %d path %d "
                                              "(%d,%d): %.9g vs %.9g (tol %.3g)",
                                              pr ? "int8" : "bf16", M, N, K1, K2, mode, path, i,
                                              j, got, ref, tol);
                                        i = M;
                                        break;
                                    }
                                }
                            if (path == 1) {
                                rnn__qgemm_ref(&q1, M, j0, j1, A1, K1,
                                               mode == 0 ? NULL : S + j0,
                                               mode == 2 ? N : lds, R, n);
                                rnn__qgemm_ref(&q2, M, j0, j1, A2, K2, R, n, R, n);
                                for (int i = 0; i < M * n; i++) {
                                    const double tol = 1e-6 * (1.0 + fabs(R[i])) * (K1 + K2);
                                    if (fabs(R[i] - C[i]) > tol) {
                                        CHECK(0, "qgemm2 AMX vs plain loop %s M=%d N=%d K=%d+%d "
                                              "at %d: %.9g vs %.9g", pr ? "int8" : "bf16", M, N,
                                              K1, K2, i, C[i], R[i]);
                                        break;
                                    }
                                }
                            }
                            cases++;
                        }
                    rnn__qgemm_force(1);
                    rnn__qweights_free(&q1);
                    rnn__qweights_free(&q2);
                    free(W1);
                    free(W2);
                    free(A1);
                    free(A2);
                    free(S);
                    free(C);
                    free(C2);
                    free(R);
                }
    printf("qgemm2 cases: %d\n", cases);
}

/* rnn__qgemm2 where one operand's sum is past RNN_QGEMM_MAX_K (no tiles: the copy path) and the
 * other's is not (a layer with many features and few units, or the reverse): still the bits of
 * the two rnn__qgemm calls in turn, each on its own path, as the one-thread loop gives and
 * a team's rows gave before the two products were fused. */
static void test_kernel2_mixed(void) {
    enum { M = 17, N = 40, KBIG = RNN_QGEMM_MAX_K + 37, KSMALL = 45 };
    int cases = 0;
    for (int pr = 0; pr < 2; pr++)
        for (int big_first = 0; big_first < 2; big_first++) {
            const rnn_precision prec = pr ? RNN_INT8 : RNN_BF16;
            const int K1 = big_first ? KBIG : KSMALL, K2 = big_first ? KSMALL : KBIG;
            float *W1 = malloc(sizeof(float) * K1 * N), *W2 = malloc(sizeof(float) * K2 * N);
            float *A1 = malloc(sizeof(float) * M * K1), *A2 = malloc(sizeof(float) * M * K2);
            float *bias = malloc(sizeof(float) * N), *C = malloc(sizeof(float) * M * N);
            float *C2 = malloc(sizeof(float) * M * N);
            for (int i = 0; i < K1 * N; i++) W1[i] = urand() * 0.5f;
            for (int i = 0; i < K2 * N; i++) W2[i] = urand() * 0.5f;
            for (int i = 0; i < M * K1; i++) A1[i] = urand() * 3.0f;
            for (int i = 0; i < M * K2; i++) A2[i] = urand() * 3.0f;
            for (int i = 0; i < N; i++) bias[i] = urand();
            rnn_qweights q1, q2;
            memset(&q1, 0, sizeof q1);
            memset(&q2, 0, sizeof q2);
            CHECK(rnn__qweights_prepare(&q1, W1, K1, N, 1, prec) == 0 &&
                      rnn__qweights_prepare(&q2, W2, K2, N, 1, prec) == 0, "prepare");
            rnn__qgemm2(&q1, A1, K1, &q2, A2, K2, M, 0, N, bias, 0, C, N, RNN_GEMM_OWN);
            rnn__qgemm(&q1, M, 0, N, A1, K1, bias, 0, C2, N, RNN_GEMM_OWN);
            rnn__qgemm(&q2, M, 0, N, A2, K2, C2, N, C2, N, RNN_GEMM_OWN);
            CHECK(memcmp(C, C2, sizeof(float) * M * N) == 0,
                  "qgemm2 %s K=%d+%d: not the bits of the two products in turn",
                  pr ? "int8" : "bf16", K1, K2);
            cases++;
            rnn__qweights_free(&q1);
            rnn__qweights_free(&q2);
            free(W1);
            free(W2);
            free(A1);
            free(A2);
            free(bias);
            free(C);
            free(C2);
        }
    printf("qgemm2 mixed cases: %d (AMX path: %d)\n", cases, rnn__qgemm_amx());
}

/* The models: every layer with a reduced path, units that are not multiples of 16. */
enum { M_LSTM, M_GRU, M_GRU_BEFORE, M_SIMPLE, M_LSTM_SEQ, M_COUNT };
static const char *model_name[M_COUNT] = {"LSTM(40)->Dense(3)", "GRU(36)->Dense(2)",
                                          "GRU(20, reset_after=False)->Dense(2)",
                                          "SimpleRNN(24)->Dense(1)",
                                          "LSTM(48, seq)->TimeDistributed(Dense(4))"};
#define T_STEPS 12
#define F_IN 10

static rnn_model *make(int kind, int threads, rnn_context **ctx) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options o;
    rnn_layer *rec = NULL, *out = NULL;
    switch (kind) {
    case M_LSTM: o = rnn_lstm_defaults(40); rec = rnn_lstm(&o); out = rnn_dense_simple(3, RNN_LINEAR); break;
    case M_GRU: o = rnn_gru_defaults(36); rec = rnn_gru(&o); out = rnn_dense_simple(2, RNN_SIGMOID); break;
    case M_GRU_BEFORE:
        o = rnn_gru_defaults(20);
        o.reset_after = 0;
        rec = rnn_gru(&o);
        out = rnn_dense_simple(2, RNN_LINEAR);
        break;
    case M_SIMPLE: o = rnn_simple_rnn_defaults(24); rec = rnn_simple_rnn(&o); out = rnn_dense_simple(1, RNN_LINEAR); break;
    default:
        o = rnn_lstm_defaults(48);
        o.return_sequences = 1;
        rec = rnn_lstm(&o);
        out = rnn_time_distributed(rnn_dense_simple(4, RNN_LINEAR));
        break;
    }
    if (!m || rnn_set_seed(m, 5) || rnn_input(m, T_STEPS, F_IN) || rnn_add(m, rec) ||
        rnn_add(m, out)) {
        fprintf(stderr, "model: %s\n", rnn_last_error());
        exit(1);
    }
    *ctx = rnn_context_new(threads);
    if (!*ctx || rnn_model_set_context(m, *ctx)) exit(1);
    return m;
}

static float *predict(rnn_model *m, const float *x, int n, int64_t *size) {
    rnn_tensor y;
    if (rnn_predict(m, rnn_data_x(rnn_tensor3((float *)x, n, T_STEPS, F_IN)), 64, &y, 1) != RNN_OK) {
        CHECK(0, "predict: %s", rnn_last_error());
        return NULL;
    }
    *size = rnn_tensor_size(&y);
    float *out = malloc(sizeof(float) * (size_t)*size);
    memcpy(out, y.data, sizeof(float) * (size_t)*size);
    rnn_tensor_free(&y);
    return out;
}

static double max_diff(const float *a, const float *b, int64_t n) {
    double d = 0;
    for (int64_t i = 0; i < n; i++)
        if (fabs((double)a[i] - b[i]) > d) d = fabs((double)a[i] - b[i]);
    return d;
}

/* rnn_predict with rnn_set_precision against the float32 model whose weights went through
 * rnn_quantize_weights (the same values, float32 products): within PRED_TOL, while both are
 * much further from the plain float32 model (so the reduced weights are really used). Batch
 * 64 (the team's rows) and a last batch of 7 (the team's units, or one thread). One thread and
 * two give the same bits on the AMX path; RNN_F32 afterwards gives float32's bits again. */
#define PRED_TOL 2e-4
static void test_predict(int path) {
    const int n = 71;
    rnn__qgemm_force(path);
    if (path == 1 && !rnn__qgemm_amx()) return;
    printf("rnn_predict on the %s path\n", path ? "AMX" : "float32 copy");
    float *x = malloc(sizeof(float) * n * T_STEPS * F_IN);
    for (int i = 0; i < n * T_STEPS * F_IN; i++) x[i] = urand() * 2.0f;
    for (int kind = 0; kind < M_COUNT; kind++)
        for (int pr = 1; pr <= 2; pr++) {
            const rnn_precision prec = (rnn_precision)pr;
            rnn_context *c1, *c2, *c3;
            rnn_model *m = make(kind, 2, &c1), *mq = make(kind, 2, &c2), *m1 = make(kind, 1, &c3);
            int64_t sz, sz2;
            float *f32 = predict(m, x, n, &sz);
            CHECK(rnn_quantize_weights(mq, prec) == RNN_OK, "quantize");
            float *ref = predict(mq, x, n, &sz2);
            CHECK(rnn_set_precision(m, prec) == RNN_OK && rnn_set_precision(m1, prec) == RNN_OK,
                  "set_precision");
            float *got = predict(m, x, n, &sz2), *got1 = predict(m1, x, n, &sz2);
            CHECK(rnn_set_precision(m, RNN_F32) == RNN_OK, "back to f32");
            float *back = predict(m, x, n, &sz2);
            if (!f32 || !ref || !got || !got1 || !back) exit(1);
            const double d = max_diff(got, ref, sz), dq = max_diff(f32, ref, sz);
            double dn = -1; /* AMX with activations rounded to bf16 (no lo part), measured */
            if (path == 1) {
                rnn__qgemm_split(0);
                float *ns = predict(m1, x, n, &sz2);
                rnn__qgemm_split(1);
                dn = ns ? max_diff(ns, ref, sz) : -1;
                free(ns);
            }
            printf("%-42s %s: max |reduced - quantized f32| %.2e (activations in bf16: %.2e), "
                   "|f32 - quantized f32| %.2e\n", model_name[kind], pr == 1 ? "bf16" : "int8",
                   d, dn, dq);
            CHECK(d <= PRED_TOL, "%s %d: reduced path %.3g from the quantized model",
                  model_name[kind], pr, d);
            CHECK(dq > 10 * d, "%s %d: the reduced path (%.3g) is not closer to the quantized "
                  "model than float32 (%.3g)", model_name[kind], pr, d, dq);
            if (rnn__qgemm_amx())
                CHECK(memcmp(got, got1, sizeof(float) * sz) == 0, "%s %d: 1 and 2 threads differ",
                      model_name[kind], pr);
            else
                CHECK(max_diff(got, got1, sz) <= PRED_TOL, "%s %d: 1 and 2 threads",
                      model_name[kind], pr);
            CHECK(memcmp(f32, back, sizeof(float) * sz) == 0, "%s %d: RNN_F32 after reduced "
                  "precision changed float32's bits", model_name[kind], pr);
            free(f32);
            free(ref);
            free(got);
            free(got1);
            free(back);
            rnn_model_free(m);
            rnn_model_free(mq);
            rnn_model_free(m1);
            rnn_context_free(c1);
            rnn_context_free(c2);
            rnn_context_free(c3);
        }
    rnn__qgemm_force(1);
    free(x);
}

int main(void) {
    test_kernel();
    test_kernel2();
    test_kernel2_mixed();
    test_predict(1);
    test_predict(0);
    return check_report("test_precision_predict");
}
