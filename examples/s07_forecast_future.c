/* Scenario 7: many-to-many forecasting of unknown future steps. 8 noisy sine series (one per
 * batch row, each with its own phase and period) of 200 known steps. Training: next-step
 * prediction on whole sequences, X = seq[:, :-1], Y = seq[:, 1:], with train_on_batch on a
 * stateful LSTM(32, return_sequences) -> Dense(1), batch_input_shape=(8, None, 1), and
 * reset_states() each epoch. Forecast: reset, predict the known sequences (this warms the state
 * up), take the last predicted step as the first new step, then feed each new step back
 * without resetting, 50 steps ahead; reset at the end. Checks: the forecast's error against the
 * true (noise-free) continuation beats repeating the last known value and predicting zero. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <rnn.h>
#include "gallery.h"

enum { B = 8, T = 200, AHEAD = 50 };

int main(void) {
    int quick = getenv("RNN_QUICK") && atoi(getenv("RNN_QUICK"));
    static float seq[B][T + AHEAD], truth[B][T + AHEAD], known[B * T];
    static float x[B * (T - 1)], y[B * (T - 1)];
    srand(7);
    for (int b = 0; b < B; b++) {
        double phase = 6.283 * rand() / RAND_MAX, period = 18 + 8.0 * rand() / RAND_MAX;
        for (int t = 0; t < T + AHEAD; t++) {
            truth[b][t] = (float)(0.7 * sin(6.283 * t / period + phase));
            seq[b][t] = truth[b][t] + (float)(0.1 * (2.0 * rand() / RAND_MAX - 1));
        }
        for (int t = 0; t < T - 1; t++)
            x[b * (T - 1) + t] = seq[b][t], y[b * (T - 1) + t] = seq[b][t + 1];
        for (int t = 0; t < T; t++) known[b * T + t] = seq[b][t];
    }
    rnn_tensor X = rnn_tensor3(x, B, T - 1, 1), Y = rnn_tensor3(y, B, T - 1, 1);
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options o = rnn_lstm_defaults(32);
    o.return_sequences = 1; o.stateful = 1;
    rnn_batch_input(m, B, RNN_NONE, 1);           /* batch_input_shape=(8, None, 1) */
    rnn_add(m, rnn_lstm(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    if (gallery(m, "s07_forecast_stateful")) return 0; /* make gallery */
    rnn_optimizer adam = rnn_adam_defaults();
    adam.learning_rate = 0.01f;
    rnn_compile_with(m, "mse", &adam);
    int epochs = quick ? 450 : 600;
    double loss, first = 0;
    for (int e = 0; e < epochs; e++) {            /* for epoch in range(epochs): */
        rnn_reset_states(m);                       /*     model.reset_states() */
        if (rnn_train_on_batch(m, rnn_data_xy(X, Y), &loss)) {
            fprintf(stderr, "%s\n", rnn_model_error(m)); return 1;
        }
        if (e == 0) first = loss;
    }
    rnn_reset_states(m);
    rnn_tensor p;                                  /* warm up on all T known steps: */
    if (rnn_predict(m, rnn_data_x(rnn_tensor3(known, B, T, 1)), B, &p, 1)) {
        fprintf(stderr, "%s\n", rnn_model_error(m)); return 1;
    }
    float step[B], fc[B][AHEAD];
    for (int b = 0; b < B; b++) fc[b][0] = step[b] = p.data[b * T + T - 1]; /* the first new step */
    rnn_tensor_free(&p);
    for (int k = 1; k < AHEAD; k++) {              /* feed each new step back, [8, 1, 1] */
        rnn_predict(m, rnn_data_x(rnn_tensor3(step, B, 1, 1)), B, &p, 1);
        for (int b = 0; b < B; b++) fc[b][k] = step[b] = p.data[b];
        rnn_tensor_free(&p);
    }
    rnn_reset_states(m);
    double se = 0, se_last = 0, se_zero = 0;
    for (int b = 0; b < B; b++)
        for (int k = 0; k < AHEAD; k++) {
            se += pow(fc[b][k] - truth[b][T + k], 2) / (B * AHEAD);
            se_last += pow(seq[b][T - 1] - truth[b][T + k], 2) / (B * AHEAD);
            se_zero += pow(truth[b][T + k], 2) / (B * AHEAD);
        }
    printf("X [8, %d, 1] = seq[:, :-1], Y = seq[:, 1:]; %d epochs of train_on_batch, "
           "loss %.4f -> %.4f\n",
           T - 1, epochs, first, loss);
    printf("series 0, steps +1 +10 +25 +50: forecast %.2f %.2f %.2f %.2f, "
           "true %.2f %.2f %.2f %.2f\n",
           fc[0][0], fc[0][9], fc[0][24], fc[0][49], truth[0][T], truth[0][T + 9], truth[0][T + 24],
           truth[0][T + 49]);
    printf("RMSE over %d steps ahead: forecast %.3f; baselines: last known value %.3f, zero %.3f\n",
           AHEAD, sqrt(se), sqrt(se_last), sqrt(se_zero));
    int ok = loss < first && se < 0.5 * se_last && se < 0.5 * se_zero;
    printf("%s\n", ok ? "OK: the warmed-up stateful model continues the waves"
                      : "FAILED: the forecast is no better than a naive one");
    rnn_model_free(m);
    return !ok;
}
