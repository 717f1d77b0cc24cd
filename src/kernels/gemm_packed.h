/* Products with a right-hand operand packed once ("panels"), for the recurrent kernels of large
 * layers: the weights do not change within a forward or backward pass, so they are copied once
 * into the layout the product reads fastest, instead of every step (OpenBLAS packs B on every
 * call; bench/README.md, "Packed recurrent kernels", has the measurements). The product is
 * rnn__product's RNN_GEMM_PANELS (gemm.h).
 *
 * Layout. B (K x N) is seen as `groups` blocks of `width` columns side by side (N = groups *
 * width; the four gate blocks of an LSTM kernel, or one block). Each block's columns are cut
 * into panels of 16; panel p of block g holds, for k = 0..K-1, the 16 floats B[k, g*width +
 * 16p .. +16) (zeros past the block's end), so a product walks each panel front to back.
 *
 * Kernels: AVX-512 tiles of 12 rows x 2 panels (gemm_avx512.c) where the CPU has AVX-512F,
 * else AVX2 tiles of 6 rows x 16 columns (gemm_packed.c); both run the chain below per element,
 * so they give the same bits.
 *
 * Numerics: for K <= RNN_PANEL_KC every element of C is computed exactly as the AVX2 tiles of
 * gemm_avx2.c compute it (acc = 0; acc = fma(a_k, b_kj, acc) for k in order; then old value +
 * acc; RNN_GEMM_OWN sends single rows to another path), whatever the column range, the row
 * count or the tile an element falls in; longer sums
 * add each chunk's acc to C in turn. Either way an element's bits never depend on how a product
 * is split between threads. */
#ifndef RNN_GEMM_PACKED_H
#define RNN_GEMM_PACKED_H

#include <stddef.h>

#define RNN_PANEL 16
/* Longer sums are cut into chunks of this many k: a chunk of a panel (32 KB) and the rows of A
 * it meets stay in L1 and L2 while the row tiles pass. */
#define RNN_PANEL_KC 512

/* Floats needed for the panels of a K x (groups * width) operand. */
size_t rnn__panels_floats(int K, int groups, int width);

/* Fills the panels of B (K x groups*width, row stride ldb) or, with trans_b, of B^T where B is
 * stored (groups*width x K). Copies only the panels [p0, p1) of each block (the team's threads
 * fill disjoint parts; p1 = -1 for all). */
void rnn__pack_panels(float *panels, const float *B, int ldb, int trans_b, int K, int groups,
                      int width, int p0, int p1);

#endif
