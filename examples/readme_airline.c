/* The README's program: scenario 1 (airline window regression) through the public API. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <rnn.h>

int main(int argc, char **argv) {
    float *series; int64_t n, split; rnn_tensor x, y, xt, yt, pred;
    if (rnn_csv_load_column(argc > 1 ? argv[1] : "data/airline-passengers.csv", "passengers", 0,
                            &series, &n)) { fprintf(stderr, "%s\n", rnn_last_error()); return 1; }
    rnn_minmax_scaler scaler = {0};                    /* scale to [0, 1] */
    rnn_minmax_fit(&scaler, series, n); rnn_minmax_transform(&scaler, series, n);
    split = rnn_train_test_split(n, 0.67);             /* 96 months train, 48 test */
    rnn_create_dataset(series, split, 3, &x, &y);     /* x: [92, 3, 1], y: [92, 1] */
    rnn_create_dataset(series + split, n - split, 3, &xt, &yt);
    rnn_model *model = rnn_sequential(NULL);
    rnn_recurrent_options lstm = rnn_lstm_defaults(4);
    rnn_input(model, 3, 1);                            /* input_shape=(look_back, 1) */
    rnn_add(model, rnn_lstm(&lstm));                   /* LSTM(4) */
    rnn_add(model, rnn_dense_simple(1, RNN_LINEAR));   /* Dense(1) */
    rnn_compile(model, "mean_squared_error", "adam");
    rnn_fit_options fit = rnn_fit_defaults(); fit.epochs = 100; fit.batch_size = 1; fit.verbose = 2;
    if (rnn_fit(model, rnn_data_xy(x, y), &fit, NULL)) { fprintf(stderr, "%s\n", rnn_model_error(model)); return 1; }
    rnn_predict(model, rnn_data_x(xt), 32, &pred, 1);
    rnn_minmax_inverse(&scaler, pred.data, pred.shape[0]); rnn_minmax_inverse(&scaler, yt.data, yt.shape[0]);
    double se = 0;
    for (int64_t i = 0; i < pred.shape[0]; i++) se += pow(pred.data[i] - yt.data[i], 2);
    double rmse = sqrt(se / pred.shape[0]);
    printf("test RMSE: %.2f\n", rmse);
    rnn_model_free(model); free(series); rnn_tensor_free(&x); rnn_tensor_free(&y);
    rnn_tensor_free(&xt); rnn_tensor_free(&yt); rnn_tensor_free(&pred);
    return rmse < 100 ? 0 : 1; /* the tests run this program: fail if it learnt nothing */
}
