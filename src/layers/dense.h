/* Dense's part in a streaming step (rnn__recurrent_stream_run): a Dense of a few units on one
 * row right after a chain of recurrent layers begins its product inside the chain's team job.
 * Thread 0, once its own units of the last layer's new state are done, runs the product over
 * those units (x[0, k1) W[0, k1, :], from the bias) while the other threads finish theirs; the
 * Dense's forward call then goes on over x[k1, K). One row's product chains its sums from the
 * output itself (gemv_rows, the loops), and k1 is a multiple of 8, so the two pieces do the
 * same operations in the same order as the whole product: the same bits. */
#ifndef RNN_LAYERS_DENSE_H
#define RNN_LAYERS_DENSE_H

#include "layers/layer.h"

int rnn__layer_is_dense(const rnn_layer *layer);
/* 1 when layer is a Dense planned for one row whose product is one the pieces reproduce (few
 * units: the AVX2 or plain one-row product, never the BLAS's nor split over the team). */
int rnn__dense_stream_splittable(const rnn_layer *layer);
/* y = bias + x[0, k1) W[0, k1, :] (k1 % 8 == 0), remembered for the next forward call on x. */
void rnn__dense_stream_prefix(rnn_layer *layer, const float *x, int k1);
/* Forward calls that went on from a prefix (tests). */
unsigned long rnn__dense_stream_resumed(const rnn_layer *layer);

#endif
