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

int main(void) {
    test_kernel();
    return check_report("test_precision_predict");
}
