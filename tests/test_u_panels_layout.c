/* U's panels for the LSTM's forward steps on the team come in two layouts (recurrent_copies.c):
 * four gate blocks of H columns each padded to panels of 16 (split by units: a small batch), or
 * one block of 4H columns (split by rows: lstm_forward_steps's u_joined). Where H is 13, 14 or
 * 15 past a multiple of 16 the two have the same size (LSTM(61): 4 x 64 = 256 lanes either way),
 * so a batch that takes the other layout with the same weights must repack the copy rather
 * than read the first layout's as its own (off by 1e-2 when it did). On 2 threads, a batch of
 * 64 then one of 8 and the other way round, each against 1 thread (no panels) within
 * rounding; H 64 and 100 (sizes that differ) as controls. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "rnn.h"

enum { T = 3, F = 8, BIG = 64, SMALL = 8 };

static void check_order(int H, int first, int second) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options o = rnn_lstm_defaults(H);
    o.return_sequences = 1;
    CHECK(m && !rnn_set_seed(m, 3) && !rnn_input(m, T, F) && !rnn_add(m, rnn_lstm(&o)),
          "model: %s", rnn_last_error());
    float x[BIG * T * F];
    for (int i = 0; i < BIG * T * F; i++) x[i] = sinf((float)i * 0.37f) * 0.5f;
    rnn_tensor alone = {0}, before = {0}, after = {0};
    rnn_set_threads(1);
    CHECK(m && !rnn_predict_on_batch(m, rnn_data_x(rnn_tensor3(x, second, T, F)), &alone, 1),
          "1 thread: %s", rnn_last_error());
    rnn_set_threads(2);
    CHECK(m && !rnn_predict_on_batch(m, rnn_data_x(rnn_tensor3(x, first, T, F)), &before, 1) &&
              !rnn_predict_on_batch(m, rnn_data_x(rnn_tensor3(x, second, T, F)), &after, 1),
          "2 threads: %s", rnn_last_error());
    double worst = 0;
    for (int64_t i = 0; alone.data && after.data && i < rnn_tensor_size(&alone); i++)
        worst = fmax(worst, fabs((double)alone.data[i] - after.data[i]));
    CHECK(alone.data && after.data && worst < 1e-6,
          "LSTM(%d), %d samples after %d on 2 threads: off by %g from 1 thread", H, second, first,
          worst);
    rnn_tensor_free(&alone);
    rnn_tensor_free(&before);
    rnn_tensor_free(&after);
    rnn_model_free(m);
}

int main(void) {
    static const int units[] = {61, 62, 63, 77, 64, 100};
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
        check_order(units[k], BIG, SMALL);
        check_order(units[k], SMALL, BIG);
    }
    rnn_set_threads(0);
    return check_report("test_u_panels_layout");
}
