/* Scenario 8: a sequence autoencoder built from nested models.
 *  encoder:     Input((10, 2)) -> LSTM(32, seq) -> LSTM(16, seq) -> LSTM(8): a sequence of 10
 *               steps of 2 features becomes one code of 8 numbers [batch, 8];
 *  decoder:     Input((8,)) -> RepeatVector(10) -> LSTM(16, seq) -> LSTM(2, seq): back to
 *               [batch, 10, 2];
 *  autoencoder: Input((10, 2)) -> encoder -> decoder, the two models used as layers;
 *               trained with fit(X, X).
 * The data: 512 short pieces of two waves (sine and cosine of one random frequency and phase).
 * Checks: the reconstruction error falls well below the data's variance, and the encoder alone
 * (the same, now trained, weights) encodes: decoder(encoder.predict(X)) equals the
 * autoencoder's output. RNN_QUICK=1: 30 epochs; otherwise 200. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <rnn.h>
#include "gallery.h"

enum { N = 512, T = 10, F = 2 };

static rnn_layer *lstm(int units, int seq) {
    rnn_recurrent_options o = rnn_lstm_defaults(units);
    o.return_sequences = seq;
    return rnn_lstm(&o);
}

int main(void) {
    int quick = getenv("RNN_QUICK") && atoi(getenv("RNN_QUICK"));
    static float x[N * T * F];
    srand(8);
    double var = 0;
    for (int i = 0; i < N; i++) {
        double w = 0.2 + 0.6 * rand() / RAND_MAX, ph = 6.283 * rand() / RAND_MAX;
        for (int t = 0; t < T; t++) {
            x[(i * T + t) * F] = (float)(0.8 * sin(w * t + ph));
            x[(i * T + t) * F + 1] = (float)(0.8 * cos(w * t + ph));
            var += (pow(x[(i * T + t) * F], 2) + pow(x[(i * T + t) * F + 1], 2)) / (N * T * F);
        }
    }
    rnn_tensor X = rnn_tensor3(x, N, T, F);

    rnn_symbol *ein = rnn_input_new(RNN_NONE, T, F, NULL);
    rnn_model *encoder = rnn_model_simple(ein, rnn_call(lstm(8, 0), rnn_call(lstm(16, 1),
                                          rnn_call(lstm(32, 1), ein))), "encoder");
    rnn_symbol *din = rnn_input_new(RNN_NONE, 0, 8, NULL);
    rnn_model *decoder = rnn_model_simple(din, rnn_call(lstm(F, 1), rnn_call(lstm(16, 1),
                                          rnn_call(rnn_repeat_vector(T), din))), "decoder");
    rnn_symbol *ain = rnn_input_new(RNN_NONE, T, F, NULL);
    rnn_model *ae = rnn_model_simple(ain, rnn_call_model(decoder, rnn_call_model(encoder, ain)),
                                     "autoencoder");
    if (!ae) { fprintf(stderr, "%s\n", rnn_last_error()); return 1; }
    if (gallery(ae, "s08_autoencoder")) return 0; /* make gallery */
    rnn_optimizer adam = rnn_adam_defaults();
    adam.learning_rate = 0.005f;
    rnn_compile_with(ae, "mse", &adam);
    rnn_fit_options f = rnn_fit_defaults();
    f.epochs = quick ? 30 : 200; f.batch_size = 32; f.verbose = 0;
    double before, after;
    rnn_evaluate(ae, rnn_data_xy(X, X), 256, &before, NULL);
    if (rnn_fit(ae, rnn_data_xy(X, X), &f, NULL)) { fprintf(stderr, "%s\n", rnn_model_error(ae)); return 1; }
    rnn_evaluate(ae, rnn_data_xy(X, X), 256, &after, NULL);

    rnn_tensor code, rec, direct;                 /* the encoder alone, then the decoder */
    if (rnn_predict(encoder, rnn_data_x(X), 256, &code, 1) || rnn_predict(decoder, rnn_data_x(code), 256, &rec, 1) ||
        rnn_predict(ae, rnn_data_x(X), 256, &direct, 1)) { fprintf(stderr, "%s\n", rnn_last_error()); return 1; }
    double diff = 0;
    for (int64_t i = 0; i < rnn_tensor_size(&rec); i++)
        diff = fmax(diff, fabs(rec.data[i] - direct.data[i]));
    printf("input [%d, %d, %d] -> encoder -> code [%lld, %lld] -> decoder -> [%lld, %lld, %lld]\n",
           N, T, F, (long long)code.shape[0], (long long)code.shape[1], (long long)rec.shape[0],
           (long long)rec.shape[1], (long long)rec.shape[2]);
    printf("reconstruction MSE before training %.4f, after %d epochs %.4f (data variance %.4f)\n",
           before, f.epochs, after, var);
    printf("sample 0, steps 0..2 of feature 0: %.2f %.2f %.2f -> code %.2f %.2f ... "
           "-> %.2f %.2f %.2f\n",
           x[0], x[2], x[4], code.data[0], code.data[1], rec.data[0], rec.data[2], rec.data[4]);
    printf("decoder(encoder.predict(X)) vs autoencoder.predict(X): largest difference %.2g\n",
           diff);
    int ok = after < 0.25 * var && after < before && diff < 1e-5 && code.rank == 2 &&
             code.shape[1] == 8;
    printf("%s\n", ok ? "OK: the autoencoder learnt, and the trained encoder works on its own"
                      : "FAILED");
    rnn_tensor_free(&code); rnn_tensor_free(&rec); rnn_tensor_free(&direct);
    rnn_model_free(ae); rnn_model_free(encoder); rnn_model_free(decoder);
    return !ok;
}
