/* Keras's losses. Each is computed per row of the last axis (C values; one class id per row for
 * sparse_categorical_crossentropy) and reduced as Keras's "sum_over_batch_size": the mean over
 * rows, i.e. over batch and time for sequence outputs, and over the unmasked rows only when the
 * output carries a mask (Keras 3). */
#ifndef RNN_LOSSES_H
#define RNN_LOSSES_H

#include <stdint.h>

#include "model.h"

#define RNN_LOSS_EPSILON 1e-7f /* keras.config.epsilon() */

/* Keras name -> loss (from_logits = 0); returns 0, or -1 for an unknown name. */
int rnn__loss_from_name(const char *name, rnn_loss_spec *out);
const char *rnn__loss_name(rnn_loss_kind kind);
/* 1 if the targets hold one class id per row instead of C values. */
int rnn__loss_sparse_targets(rnn_loss_kind kind);

/* Over R rows of C predictions: *sum receives the sum of the per-row losses over the rows kept
 * by mask (R values, NULL: all) and *count their number. With grad non-NULL, grad (R*C) gets
 * d(sum / count)/d pred (zero on masked rows). */
void rnn__loss_eval(const rnn_loss_spec *spec, const float *pred, const float *target, int64_t R,
                    int64_t C, const uint8_t *mask, float *grad, double *sum, int64_t *count);
/* rnn__loss_eval with the rows shared among the current team's threads (rnn__team_enter):
 * the same values (each row is computed alone, the rows' losses summed in row order). */
void rnn__loss_eval_shared(const rnn_loss_spec *spec, const float *pred, const float *target,
                           int64_t R, int64_t C, const uint8_t *mask, float *grad, double *sum,
                           int64_t *count);
/* The same with the gradient of sum / denominator (denominator > 0; 0: count): a data-parallel
 * step divides by the unmasked rows of the whole global batch, as one process would. */
void rnn__loss_eval_over(const rnn_loss_spec *spec, const float *pred, const float *target,
                         int64_t R, int64_t C, const uint8_t *mask, float *grad,
                         int64_t denominator, double *sum, int64_t *count);

#endif
