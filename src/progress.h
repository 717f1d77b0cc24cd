/* Keras 3's fit progress display (keras/src/utils/progbar.py), verbose 1 and 2.
 * verbose=1: "Epoch e/E" then "92/92 ━━━━━━━━━━━━━━━━━━━━ 0s 1ms/step - loss: 0.0123", redrawn
 * in place on a terminal (at most every 50 ms) and printed once per epoch otherwise.
 * verbose=2: one line per epoch "92/92 - 0s - 1ms/step - loss: 0.0123". */
#ifndef RNN_PROGRESS_H
#define RNN_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "rnn.h"

typedef struct {
    FILE *out;
    int verbose, dynamic, color;
    int64_t target;
    double start, first_step_end, last_draw;
} rnn_progress;

void rnn__progress_begin(rnn_progress *p, FILE *out, int verbose, int epoch, int epochs,
                         int64_t target);
/* Logged values (rnn_log_entry, rnn.h) are printed in the order given (Keras 3: the training
 * keys sorted by name, then the val_ keys sorted). */

/* After step `current` (1-based) with the running values. */
void rnn__progress_step(rnn_progress *p, int64_t current, const rnn_log_entry *logs, int n);
/* End of the epoch: the final line. */
void rnn__progress_end(rnn_progress *p, const rnn_log_entry *logs, int n);

double rnn__now_seconds(void);

#endif
