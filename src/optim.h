/* Optimizer updates with Keras 3's formulas, over one weight at a time, plus the learning-rate
 * schedules and gradient clipping applied before them. */
#ifndef RNN_OPTIM_H
#define RNN_OPTIM_H

#include <stdint.h>

#include "rnn.h"

/* Slots per weight value (Adam: m, v, v_hat; RMSprop: s, mean g, momentum; SGD: velocity). */
#define RNN_OPTIMIZER_SLOTS 3

/* The learning rate of the update after `iterations` applied steps. */
float rnn__optimizer_lr(const rnn_optimizer *opt, int64_t iterations);
/* One update of n parameters. step is the 1-based step count t (Keras: iterations + 1). */
void rnn__optimizer_apply(const rnn_optimizer *opt, float lr, float *params, const float *grads,
                          float *slot0, float *slot1, float *slot2, int64_t n, int64_t step);
/* Clips the gradients of n_weights arrays in place (clipnorm, clipvalue or global_clipnorm). */
void rnn__optimizer_clip(const rnn_optimizer *opt, float *const *grads, const int64_t *sizes,
                         int n_weights);
/* Checks an optimizer's settings; RNN_OK or an error naming the bad value. */
rnn_status rnn__optimizer_check(const rnn_optimizer *opt);

#endif
