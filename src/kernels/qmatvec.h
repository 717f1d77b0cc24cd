/* Products of a few float32 rows with reduced-precision weights (rnn_set_precision's streaming
 * step): the weights are widened to float32 in registers and every sum is accumulated in
 * float32 with fused multiply-adds, k in order, one accumulator per output column, so each
 * output's bits are the same on every path (AVX-512, AVX2, the portable loop) and for every
 * split of the columns between threads. */
#ifndef RNN_QMATVEC_H
#define RNN_QMATVEC_H

#include <stdint.h>

/* bfloat16: the upper 16 bits of a float32. */
uint16_t rnn__bf16_from_float(float v); /* round to nearest even (finite v) */
float rnn__bf16_to_float(uint16_t b);

/* y[b*ldy + j] += sum_k x[b*ldx + k] * w(k, j) for b < M, j < N, k < K, w(k, j) the weight
 * at w[k*ldw + j]:
 *   _bf16: w(k, j) = bf16 value;
 *   _int8: y += scale[j] * sum_k x q(k, j) (the scale applied once per output). */
void rnn__qmv_bf16(int M, int N, int K, const float *x, int ldx, const uint16_t *w, int ldw,
                   float *y, int ldy);
void rnn__qmv_int8(int M, int N, int K, const float *x, int ldx, const int8_t *w, int ldw,
                   const float *scale, float *y, int ldy);

/* The float32 streaming pack's product, y[b*ldy + j] += sum_k x[b*ldx + k] w[k*ldw + j], each
 * y element one chain of fused multiply-adds from its old value, k in order: the same operations
 * per element as the AVX2 tiles and the loops (rnn__product), so the same bits. Up to 256
 * columns at a time stay in AVX-512 registers over all of K, so the weights are read once and
 * y once; without AVX-512 it is rnn__product (RNN_GEMM_OWN). */
void rnn__qmv_f32(int M, int N, int K, const float *x, int ldx, const float *w, int ldw, float *y,
                  int ldy);

/* For the tests: 0 portable, 1 AVX2, 2 AVX-512 (what the calls above use); rnn__qmv_force
 * picks a lower path (-1: the best again). */
int rnn__qmv_path(void);
void rnn__qmv_force(int path);

#endif
