/* Scenario 3: multivariate input. Beijing's hourly air data has several measurements per hour;
 * 5 of them (pm2.5, dew point, temperature, pressure, wind speed) are the features, so each
 * sample is [3 hours, 5 features] and the input is [samples, 3, 5]. The target is the next
 * hour's pm2.5. LSTM(32) -> Dense(1), MSE, Adam. The file's missing pm2.5 values ("NA") are
 * filled with the last known value. Checks: the test RMSE is far below always predicting the
 * training mean. RNN_QUICK=1: 3000 hours and 8 epochs; otherwise one year and 30 epochs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <rnn.h>

#include "pollution_data.h"

enum { F = 5, LOOK = 3 };

int main(int argc, char **argv) {
    int quick = getenv("RNN_QUICK") && atoi(getenv("RNN_QUICK"));
    const char *path = argc > 1 ? argv[1] : "../shared/data/pollution.csv";
    float *v = NULL, lo[F], hi[F];
    int n = load_pollution(path, quick ? 3000 : 8760, &v);
    if (n == 0) { printf("skipped: %s not found\n", path); return 0; }
    if (n < 0) return 1;
    int split = (int)(n * 0.67);
    for (int j = 0; j < F; j++) {               /* min-max scale each feature on the train part */
        lo[j] = hi[j] = v[j];
        for (int i = 0; i < split; i++)
            lo[j] = fminf(lo[j], v[i * F + j]), hi[j] = fmaxf(hi[j], v[i * F + j]);
        for (int i = 0; i < n; i++) v[i * F + j] = (v[i * F + j] - lo[j]) / (hi[j] - lo[j]);
    }
    int N = n - LOOK; /* window i: hours i..i+2 (all features) -> pm2.5 of hour i+3 */
    float *x = malloc(sizeof(float) * N * LOOK * F), *y = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < LOOK * F; k++) x[i * LOOK * F + k] = v[i * F + k];
        y[i] = v[(i + LOOK) * F];
    }
    int ntr = split - LOOK;
    rnn_tensor X = rnn_tensor3(x, ntr, LOOK, F), Y = rnn_tensor2(y, ntr, 1);
    rnn_tensor Xt = rnn_tensor3(x + ntr * LOOK * F, N - ntr, LOOK, F);
    rnn_tensor Yt = rnn_tensor2(y + ntr, N - ntr, 1);

    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options o = rnn_lstm_defaults(32);
    rnn_input(m, LOOK, F);                        /* input_shape=(3, 5) */
    rnn_add(m, rnn_lstm(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_compile(m, "mse", "adam");
    rnn_fit_options f = rnn_fit_defaults();
    f.epochs = quick ? 30 : 30; f.batch_size = 32; f.verbose = 0;
    rnn_history h;
    if (rnn_fit(m, rnn_data_xy(X, Y), &f, &h)) { fprintf(stderr, "%s\n", rnn_model_error(m)); return 1; }
    rnn_tensor p;
    rnn_predict(m, rnn_data_x(Xt), 256, &p, 1);
    double se = 0, se_mean = 0, se_last = 0, mean = 0, s = hi[0] - lo[0];
    for (int i = 0; i < ntr; i++) mean += y[i] / ntr;
    for (int64_t i = 0; i < p.shape[0]; i++) {
        se += pow((p.data[i] - Yt.data[i]) * s, 2) / p.shape[0];
        se_mean += pow((mean - Yt.data[i]) * s, 2) / p.shape[0];
        se_last += pow((Xt.data[i * LOOK * F + (LOOK - 1) * F] - Yt.data[i]) * s, 2) / p.shape[0];
    }
    printf("%d hours, %d features per hour; train input [%d, %d, %d], test input [%d, %d, %d]\n",
           n, F, ntr, LOOK, F, N - ntr, LOOK, F);
    printf("training loss (scaled MSE) epoch 1 -> %d: %.5f -> %.5f\n", f.epochs, h.loss[0],
           h.loss[h.epochs - 1]);
    printf("test RMSE of next hour's pm2.5 (ug/m3): LSTM %.1f; baselines: training mean %.1f, "
           "same as this hour %.1f\n", sqrt(se), sqrt(se_mean), sqrt(se_last));
    int ok = sqrt(se) < 0.5 * sqrt(se_mean);
    printf("%s\n", ok ? "OK: the LSTM predicts next hour's pm2.5 from 5 measurements of 3 hours"
                      : "FAILED: no better than the mean");
    rnn_tensor_free(&p); rnn_history_free(&h); rnn_model_free(m); free(v); free(x); free(y);
    return !ok;
}
