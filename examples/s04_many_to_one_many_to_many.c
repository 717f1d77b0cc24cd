/* Scenario 4: many-to-one and many-to-many on the same data (Beijing hourly air data, 5
 * features per hour, windows of 6 hours: input [samples, 6, 5]).
 *  many-to-one:  LSTM(32)                        -> Dense(1): output [samples, 1], the hour
 *                after the window;
 *  many-to-many: LSTM(32, return_sequences=True) -> Dense(1): output [samples, 6, 1]; Dense
 *                on 3-D input is applied at every step, each step predicting the next hour.
 * Checks: the output shapes, and that both models' losses fall well below the variance of the
 * target (the loss of always predicting the mean). RNN_QUICK=1: 3000 hours; else one year. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <rnn.h>

#include "pollution_data.h"
#include "gallery.h"

enum { F = 5, T = 6 };

static rnn_model *model(int return_sequences) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options o = rnn_lstm_defaults(32);
    o.return_sequences = return_sequences;
    rnn_input(m, T, F);
    rnn_add(m, rnn_lstm(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_compile(m, "mse", "adam");
    return m;
}

int main(int argc, char **argv) {
    int quick = getenv("RNN_QUICK") && atoi(getenv("RNN_QUICK"));
    if (getenv("RNN_GALLERY")) { /* make gallery: both models, without the data */
        rnn_model *one = model(0), *many = model(1);
        gallery(one, "s04_many_to_one");
        gallery(many, "s04_many_to_many");
        rnn_model_free(one); rnn_model_free(many);
        return 0;
    }
    const char *path = argc > 1 ? argv[1] : "../shared/data/pollution.csv";
    float *v = NULL, lo[F], hi[F];
    int n = load_pollution(path, quick ? 3000 : 8760, &v);
    if (n == 0) { printf("skipped: %s not found\n", path); return 0; }
    if (n < 0) return 1;
    for (int j = 0; j < F; j++) {               /* min-max scale each feature */
        lo[j] = hi[j] = v[j];
        for (int i = 0; i < n; i++)
            lo[j] = fminf(lo[j], v[i * F + j]), hi[j] = fmaxf(hi[j], v[i * F + j]);
        for (int i = 0; i < n; i++) v[i * F + j] = (v[i * F + j] - lo[j]) / (hi[j] - lo[j]);
    }
    int N = n - T; /* window i: hours i..i+5; targets: pm2.5 of hours i+1..i+6 */
    float *x = malloc(sizeof(float) * N * T * F), *y1 = malloc(sizeof(float) * N),
          *yseq = malloc(sizeof(float) * N * T);
    double mean = 0, var = 0;
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < T * F; k++) x[i * T * F + k] = v[i * F + k];
        for (int t = 0; t < T; t++) yseq[i * T + t] = v[(i + t + 1) * F];
        y1[i] = yseq[i * T + T - 1];
        mean += y1[i] / N;
    }
    for (int i = 0; i < N; i++) var += pow(y1[i] - mean, 2) / N;
    rnn_tensor X = rnn_tensor3(x, N, T, F);
    rnn_tensor Y[2] = {rnn_tensor2(y1, N, 1), rnn_tensor3(yseq, N, T, 1)};
    rnn_fit_options f = rnn_fit_defaults();
    f.epochs = quick ? 8 : 30; f.batch_size = 32; f.verbose = 0;
    int ok = 1;
    printf("input [%d, %d, %d]: %d windows of %d hours, %d measurements per hour\n", N, T, F, N, T,
           F);
    for (int seq = 0; seq < 2; seq++) {
        rnn_model *m = model(seq);
        rnn_history h;
        rnn_tensor p;
        if (rnn_fit(m, rnn_data_xy(X, Y[seq]), &f, &h) || rnn_predict(m, rnn_data_x(X), 256, &p, 1)) {
            fprintf(stderr, "%s\n", rnn_model_error(m)); return 1;
        }
        double last_step = 0; /* the error of the last step alone, comparable across models */
        for (int i = 0; i < N; i++)
            last_step += pow(p.data[seq ? i * T + T - 1 : i] - y1[i], 2) / N;
        printf("%s: output [%lld, %lld%s], loss epoch 1 -> %d: %.5f -> %.5f, last step MSE %.5f\n",
               seq ? "return_sequences=True  (many-to-many)"
                   : "return_sequences=False (many-to-one) ",
               (long long)p.shape[0], (long long)p.shape[1], seq ? ", 1" : "", f.epochs, h.loss[0],
               h.loss[h.epochs - 1], last_step);
        ok = ok && p.rank == (seq ? 3 : 2) && p.shape[1] == (seq ? T : 1) &&
             h.loss[h.epochs - 1] < 0.35 * var;
        rnn_tensor_free(&p); rnn_history_free(&h); rnn_model_free(m);
    }
    printf("loss of always predicting the mean (variance of the target): %.5f\n", var);
    printf("%s\n", ok ? "OK: both shapes as expected, both models learnt"
                      : "FAILED: wrong shape or a model did not learn");
    free(v); free(x); free(y1); free(yseq);
    return !ok;
}
