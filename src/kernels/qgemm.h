/* Products of float32 rows with reduced-precision weights for whole sequences (rnn_predict with
 * rnn_set_precision): a layer's kernel or recurrent kernel is copied once (rnn_qweights) as
 * bf16 values (round to nearest even) or int8 values with one scale per output column
 * (rnnquantize_weights's rule: s = max |w| / 127, q = lrint(w / s) in [-127, 127]); sums are
 * float32, the results are float32.
 *
 * Paths (chosen at run time):
 *   AMX    (AMX-BF16 with the kernel's permission, arch_prctl(ARCH_REQ_XCOMP_PERM)): the weights
 *          as bf16 tiles (an int8 q is exact in bf16; its scale multiplies the column's sum
 *          once); the activation operand a is split into two bf16 parts hi = bf16(a),
 *          lo = bf16(a - hi), both multiplied, so it keeps 16 of float32's 24 mantissa bits
 *          instead of 8: the products differ from those with float32 activations by about
 *          2^-17 relatively, far below the weights' own rounding (2^-9 for bf16).
 *   copy   elsewhere (or K above RNN_QGEMM_MAX_K): the float32 products (gemm.h) on a float32
 *          copy of the rounded weights (q s for int8), the values rnn_quantize_weights writes.
 * Either way an element's operations depend only on its row and column, never on how a
 * product is split into rows or columns, so a team's split does not change any bit. */
#ifndef RNN_QGEMM_H
#define RNN_QGEMM_H

#include <stddef.h>
#include <stdint.h>

#include "rnn.h"

/* The AMX path's longest sum (longer ones take the copy path). A call converts its activation
 * rows into about 16 KiB of stack and keeps 8 KiB of float32 tiles there (sums longer than 256
 * over the operands convert into the heap instead). */
#define RNN_QGEMM_MAX_K 1024

typedef struct {
    rnn_precision precision; /* RNN_BF16 or RNN_INT8; RNN_F32: empty */
    int K, N;
    const float *block;      /* the weight it was made from, and that weight's version */
    unsigned long version;
    float *deq;              /* K x N: the rounded values as float32 (the copy path) */
    float *scale;            /* N: int8 per-column scales (AMX path) */
    uint16_t *tiles;         /* AMX: bf16 tiles (16 k-pairs x 16 columns); NULL otherwise */
} rnn_qweights;

/* Makes q hold W (K x N, row stride N, version `version`) at the precision, unless it already
 * does; returns 0, or -1 when out of memory (q is then empty). */
int rnn__qweights_prepare(rnn_qweights *q, const float *W, int K, int N, unsigned long version,
                          rnn_precision precision);
void rnn__qweights_free(rnn_qweights *q);

/* C[i*ldc + j - j0] = S[i*lds + j - j0] + sum_k A[i*lda + k] w(k, j) for i < M, j0 <= j < j1
 * (S NULL: 0; lds 0: one row for all, a bias; S may be C). The copy path takes the gemm.h
 * kernel `kernel` (RNN_GEMM_OWN or RNN_GEMM_AUTO). */
void rnn__qgemm(const rnn_qweights *q, int M, int j0, int j1, const float *A, int lda,
                const float *S, int lds, float *C, int ldc, int kernel);

/* C = S + A w + A2 w2 over the same rows and columns (q2: the same precision and N as q): the
 * bits of rnn__qgemm(q, A, S -> C) followed by rnn__qgemm(q2, A2, C -> C), in one pass over C
 * (a recurrent step's input and recurrent products: int8 scales each operand's sums as they
 * leave the tile, bf16 keeps one accumulator for both). */
void rnn__qgemm2(const rnn_qweights *q, const float *A, int lda, const rnn_qweights *q2,
                 const float *A2, int lda2, int M, int j0, int j1, const float *S, int lds,
                 float *C, int ldc, int kernel);

/* For the tests: the plain loop of the AMX path's arithmetic (hi and lo parts, float32 sums);
 * 1 when the AMX path is used; rnn__qgemm_force(0) makes rnn__qgemm take the copy path, 1 the
 * best again; rnn__qgemm_split(0) multiplies only hi (activations rounded to bf16, for
 * measuring that choice). */
void rnn__qgemm_ref(const rnn_qweights *q, int M, int j0, int j1, const float *A, int lda,
                    const float *S, int lds, float *C, int ldc);
int rnn__qgemm_amx(void);
void rnn__qgemm_force(int best);
void rnn__qgemm_split(int on);

#endif
