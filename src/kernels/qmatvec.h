/* Products of a few float32 rows with reduced-precision weights (rnn_set_precision's streaming
 * step). bf16: the weights are widened to float32 in registers and every sum is accumulated in
 * float32 with fused multiply-adds, k in order, one accumulator per output column; int8: exact
 * integer sums (below). Either way each output's bits are the same on every path (AVX-512,
 * AVX2, the portable loop) and for every split of the columns between threads. */
#ifndef RNN_QMATVEC_H
#define RNN_QMATVEC_H

#include <stddef.h>
#include <stdint.h>

/* bfloat16: the upper 16 bits of a float32. */
uint16_t rnn__bf16_from_float(float v); /* round to nearest even (finite v) */
float rnn__bf16_to_float(uint16_t b);

/* y[b*ldy + j] += sum_k x[b*ldx + k] * w(k, j) for b < M, j < N, k < K, w(k, j) the weight
 * at w[k*ldw + j], w(k, j) = bf16 value. */
void rnn__qmv_bf16(int M, int N, int K, const float *x, int ldx, const uint16_t *w, int ldw,
                   float *y, int ldy);

/* int8 (VNNI's integer products): y[b*ldy + j] += scale[j] * sum_k x[b*ldx + k] q(k, j), with
 * the activations rounded too: each run of at most RNN_QMV_INT8_KC k of a row is scaled by a
 * power of two that brings its largest |x| into [2^13, 2^14) and rounded to integers (so an
 * element moves by at most 2^-14 of the run's largest; the int8 weights move by up to 2^-8 of
 * their column's largest), the integer sums are exact, rounded once to float32, unscaled and then
 * y = fmaf(sum, scale[j], y) per run. A run whose largest |x| is not finite or is below 2^-100
 * takes float32 sums of x q instead (k in order); an all-zero run adds nothing.
 * The weights are packed (rnn__qmv_int8_pack): panels of RNN_QMV_INT8_NB columns (the last
 * one narrower), one after the other, each its 4 ceil(K / 4) rows of 4 consecutive k per
 * column, so that a panel's part of a run is read as one contiguous stream:
 * q(k, j) at wp[rnn__qmv_int8_index(k, j, K, N)], rnn__qmv_int8_bytes(K, N) bytes with 0
 * beyond K; and corr[c * N + j] = 128 times the sum of column j's q over run c
 * (rnn__qmv_int8_runs(K) runs; rnn__qmv_int8_corr). */
#define RNN_QMV_INT8_KC 4096
#define RNN_QMV_INT8_NB 128
size_t rnn__qmv_int8_index(int k, int j, int K, int N);
void rnn__qmv_int8(int M, int N, int K, const float *x, int ldx, const int8_t *wp,
                   const int32_t *corr, const float *scale, float *y, int ldy);
size_t rnn__qmv_int8_bytes(int K, int N);
int rnn__qmv_int8_runs(int K);
/* w (K x N, row stride ldw) into wp and corr. */
void rnn__qmv_int8_pack(int K, int N, const int8_t *w, int ldw, int8_t *wp, int32_t *corr);
/* corr from wp already packed. */
void rnn__qmv_int8_corr(int K, int N, const int8_t *wp, int32_t *corr);

/* The float32 streaming pack's product, y[b*ldy + j] += sum_k x[b*ldx + k] w[k*ldw + j], each
 * y element one chain of fused multiply-adds from its old value, k in order: the same operations
 * per element as the AVX2 tiles and the loops (rnn__product), so the same bits. Up to 256
 * columns at a time stay in AVX-512 registers over all of K, so the weights are read once and
 * y once; without AVX-512 it is rnn__product (RNN_GEMM_OWN). */
void rnn__qmv_f32(int M, int N, int K, const float *x, int ldx, const float *w, int ldw, float *y,
                  int ldy);
/* One row over several inputs in turn: y = from + x_0 w_0 + x_1 w_1 + ..., segment s being
 * ks[s] values of xs[s] against the ks[s] weight rows that follow segment s - 1's from w (ldw
 * apart): the same chains as a copy of `from` into y and rnn__qmv_f32 per segment (so the same
 * bits), the sums kept in registers across the segments (a streaming step's x W and h U in
 * one pass over its pack's rows, from the bias row in the pack). nseg >= 0; from may be y. */
void rnn__qmv_f32_segments(int N, int nseg, const float *const *xs, const int *ks,
                           const float *w, int ldw, const float *from, float *y);

/* For the tests: 0 portable, 1 AVX2, 2 AVX2 with AVX-VNNI (int8's products; otherwise as 1),
 * 3 AVX-512 (int8: with AVX-512 VNNI, else AVX2's) - what the calls above use; rnn__qmv_force
 * picks a lower path (-1: the best again). */
int rnn__qmv_path(void);
void rnn__qmv_force(int path);

#endif
