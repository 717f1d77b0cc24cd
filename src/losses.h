/* Losses with Keras's reduction: per element over the last axis, then the mean over every other
 * axis ("sum_over_batch_size"). For MSE/MAE every row has the same width, so this is the mean
 * over all n elements. */
#ifndef RNN_LOSSES_H
#define RNN_LOSSES_H

#include <stdint.h>

#include "model.h"

/* Keras name -> kind; -1 for an unknown name. */
int rnn__loss_from_name(const char *name);
const char *rnn__loss_name(rnn_loss_kind kind);
/* Sum over the n elements of the per-element loss (divide by n for the mean). */
double rnn__loss_sum(rnn_loss_kind kind, const float *pred, const float *target, int64_t n);
/* grad[i] = d(mean loss over `divisor` elements)/d pred[i] for i < n. */
void rnn__loss_grad(rnn_loss_kind kind, const float *pred, const float *target, int64_t n,
                    double divisor, float *grad);

#endif
