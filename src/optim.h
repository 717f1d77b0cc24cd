/* Optimizer updates with Keras 3's formulas, over the model's flat parameter array. */
#ifndef RNN_OPTIM_H
#define RNN_OPTIM_H

#include <stdint.h>

#include "rnn.h"

/* One update of n parameters. `step` is the 1-based step count t (Keras: iterations + 1).
 * m and v are the optimizer slots (Adam moments; SGD uses m as the velocity). */
void rnn__optimizer_apply(const rnn_optimizer *opt, float *params, const float *grads, float *m,
                          float *v, int64_t n, int64_t step);
/* Checks an optimizer's settings; RNN_OK or an error naming the bad value. */
rnn_status rnn__optimizer_check(const rnn_optimizer *opt);

#endif
