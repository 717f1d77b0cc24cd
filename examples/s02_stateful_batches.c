/* Scenario 2: stateful training over batches. 400 independent series (noisy sine waves, each
 * with its own frequency and phase) share one network: batch_input_shape = (400, 1, 1), i.e.
 * row i of every batch is series i, and batch k holds time step k of all 400 series. With
 * stateful=True the state left by batch k is row by row the initial state of batch k+1, so the
 * network sees each series as one long sequence although every sample is a single step.
 * Nothing is shuffled; reset_states() between epochs. One value alone cannot tell whether a
 * wave is rising or falling; only the carried state can. Checks: the prediction error with the
 * state carried is far below the error when the state is reset before every batch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <rnn.h>
#include "gallery.h"

enum { S = 400 }; /* parallel series = batch size */

int main(void) {
    int quick = getenv("RNN_QUICK") && atoi(getenv("RNN_QUICK"));
    int K = quick ? 60 : 200, epochs = quick ? 12 : 40; /* K steps (batches) per series */
    float *x = malloc(sizeof(float) * K * S), *y = malloc(sizeof(float) * K * S);
    srand(1);
    for (int i = 0; i < S; i++) {
        double w = 0.15 + 0.3 * rand() / RAND_MAX, phase = 6.283 * rand() / RAND_MAX;
        for (int k = 0; k <= K; k++) { /* sample k*S + i: series i at step k, target step k+1 */
            float v = (float)(0.8 * sin(w * k + phase) + 0.02 * (rand() / (double)RAND_MAX - 0.5));
            if (k < K) x[k * S + i] = v;
            if (k > 0) y[(k - 1) * S + i] = v;
        }
    }
    rnn_tensor X = rnn_tensor3(x, (int64_t)K * S, 1, 1), Y = rnn_tensor2(y, (int64_t)K * S, 1);

    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options o = rnn_lstm_defaults(8);
    o.stateful = 1;
    rnn_batch_input(m, S, 1, 1);                   /* batch_input_shape=(400, look_back=1, 1) */
    rnn_add(m, rnn_lstm(&o));                      /* LSTM(8, stateful=True) */
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    if (gallery(m, "s02_stateful_batches")) return 0; /* make gallery */
    rnn_optimizer adam = rnn_adam_defaults();
    adam.learning_rate = 0.01f;
    rnn_compile_with(m, "mse", &adam);
    rnn_fit_options f = rnn_fit_defaults();
    f.batch_size = S; f.shuffle = 0; f.verbose = 0;
    double first = 0, last = 0;
    for (int e = 0; e < epochs; e++) {             /* for e in range(epochs): fit(...); reset */
        rnn_history h;
        if (rnn_fit(m, rnn_data_xy(X, Y), &f, &h)) { fprintf(stderr, "%s\n", rnn_model_error(m)); return 1; }
        if (e == 0) first = h.loss[0];
        last = h.loss[0];
        rnn_history_free(&h);
        rnn_reset_states(m);
    }
    /* Predict every batch in order with the state carried, then again resetting before each. */
    rnn_tensor carried, one;
    rnn_predict(m, rnn_data_x(X), S, &carried, 1);
    rnn_reset_states(m);
    double se_carried = 0, se_reset = 0;
    float row0[2] = {0};
    for (int k = 0; k < K; k++) {
        rnn_reset_states(m);
        rnn_predict_on_batch(m, rnn_data_x(rnn_tensor3(x + k * S, S, 1, 1)), &one, 1);
        for (int i = 0; i < S; i++) {
            se_carried += pow(carried.data[k * S + i] - y[k * S + i], 2) / ((double)K * S);
            se_reset += pow(one.data[i] - y[k * S + i], 2) / ((double)K * S);
        }
        if (k == K / 2) { row0[0] = carried.data[k * S]; row0[1] = one.data[0]; }
        rnn_tensor_free(&one);
    }
    rnn_reset_states(m);
    printf("%d epochs of %d batches [400, 1, 1]: batch k = step k of all 400 series\n", epochs, K);
    printf("training loss (MSE) epoch 1 -> %d: %.4f -> %.4f\n", epochs, first, last);
    printf("series 0 at step %d: true next %.3f, predicted with carried state %.3f, "
           "after a reset %.3f\n",
           K / 2, y[(K / 2) * S], row0[0], row0[1]);
    printf("MSE over all rows and batches: state carried %.4f, reset before each batch %.4f\n",
           se_carried, se_reset);
    int ok = last < first && se_carried < 0.5 * se_reset;
    printf("%s\n", ok ? "OK: each row's state carries its own series from batch to batch"
                      : "FAILED: the carried state does not help");
    rnn_tensor_free(&carried); rnn_model_free(m); free(x); free(y);
    return !ok;
}
