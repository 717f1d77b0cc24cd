/* Scenario 1: window regression on a univariate series (the airline tutorial).
 * Each sample is a window of look_back = 3 months, shaped [samples, 3, 1] (3 time steps of
 * 1 feature); the target is the next month. LSTM(4) -> Dense(1), MSE, Adam, batch 1.
 * Checks: the test RMSE beats always predicting the training mean. It takes well under a second,
 * so RNN_QUICK=1 changes nothing here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <rnn.h>
#include "gallery.h"

static double rmse(rnn_model *m, rnn_tensor x, rnn_tensor y, const rnn_minmax_scaler *s) {
    rnn_tensor p;
    double se = 0;
    rnn_predict(m, rnn_data_x(x), 32, &p, 1);
    rnn_minmax_inverse(s, p.data, p.shape[0]);
    for (int64_t i = 0; i < p.shape[0]; i++) {
        float t = y.data[i];
        rnn_minmax_inverse(s, &t, 1);
        se += pow(p.data[i] - t, 2);
    }
    rnn_tensor_free(&p);
    return sqrt(se / y.shape[0]);
}

int main(int argc, char **argv) {
    float *series; int64_t n; rnn_tensor x, y, xt, yt;
    if (rnn_csv_load_column(argc > 1 ? argv[1] : "data/airline-passengers.csv", "passengers", 0,
                            &series, &n)) { fprintf(stderr, "%s\n", rnn_last_error()); return 1; }
    rnn_minmax_scaler scaler = {0};
    rnn_minmax_fit(&scaler, series, n); rnn_minmax_transform(&scaler, series, n);
    int64_t split = rnn_train_test_split(n, 0.67);
    rnn_create_dataset(series, split, 3, &x, &y);              /* x: [92, 3, 1], y: [92, 1] */
    rnn_create_dataset(series + split, n - split, 3, &xt, &yt); /* x: [44, 3, 1] */

    rnn_model *m = rnn_sequential(NULL);
    rnn_set_seed(m, 7);
    rnn_recurrent_options lstm = rnn_lstm_defaults(4);
    rnn_input(m, 3, 1);                            /* input_shape=(look_back, features) */
    rnn_add(m, rnn_lstm(&lstm));                   /* LSTM(4): [batch, 4] */
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));   /* Dense(1): [batch, 1] */
    if (gallery(m, "s01_many_to_one_window")) return 0; /* make gallery */
    rnn_compile(m, "mean_squared_error", "adam");
    rnn_fit_options fit = rnn_fit_defaults();
    fit.epochs = 100; fit.batch_size = 1; fit.verbose = 0;
    rnn_history h;
    if (rnn_fit(m, rnn_data_xy(x, y), &fit, &h)) { fprintf(stderr, "%s\n", rnn_model_error(m)); return 1; }

    double mean = 0, se = 0, se_last = 0; /* baselines: the training mean; last month again */
    for (int64_t i = 0; i < split; i++) mean += series[i] / split;
    for (int64_t i = 0; i < yt.shape[0]; i++) {
        se += pow(yt.data[i] - mean, 2);
        se_last += pow(yt.data[i] - xt.data[i * 3 + 2], 2);
    }
    double scale = scaler.data_max - scaler.data_min, base = sqrt(se / yt.shape[0]) * scale;
    double train = rmse(m, x, y, &scaler), test = rmse(m, xt, yt, &scaler);
    printf("train input [%lld, 3, 1]: %lld windows of 3 time steps (months) of 1 feature;"
           " target [%lld, 1]: the month after each window\n",
           (long long)x.shape[0], (long long)x.shape[0], (long long)y.shape[0]);
    printf("loss (scaled MSE) epoch 1 -> %d: %.4f -> %.4f\n", h.epochs, h.loss[0],
           h.loss[h.epochs - 1]);
    printf("RMSE in thousands of passengers: train %.2f, test %.2f (tutorial: 23.7 / 58.9)\n",
           train, test);
    printf("baselines on test: 'the training mean' %.2f, 'same as last month' %.2f\n", base,
           sqrt(se_last / yt.shape[0]) * scale);
    int ok = test < base && h.loss[h.epochs - 1] < h.loss[0];
    printf("%s\n", ok ? "OK: the LSTM learnt the trend"
                      : "FAILED: the LSTM is no better than the mean");
    rnn_history_free(&h); rnn_model_free(m); free(series);
    rnn_tensor_free(&x); rnn_tensor_free(&y); rnn_tensor_free(&xt); rnn_tensor_free(&yt);
    return !ok;
}
