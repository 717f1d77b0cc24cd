/* The accuracy of reduced-precision weights on the demo's airline model (scenario 1: windows of
 * 3 months, LSTM(4) -> Dense(1), 100 epochs of Adam with batch 1, as examples/readme_airline.c):
 * the test RMSE in passengers with float32, bf16 and int8 weights (rnn_quantize_weights: the
 * values rnn_export_c's code computes with; tests/test_export.c checks that the exported code
 * agrees with them). Issue 19's bar: bf16 and int8 within 5 % of float32's RMSE. Prints the
 * table docs/export.md quotes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "rnn.h"

static rnn_model *airline_model(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options lstm = rnn_lstm_defaults(4);
    rnn_input(m, 3, 1);
    rnn_add(m, rnn_lstm(&lstm));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    return m;
}

int main(void) {
    float *series;
    int64_t n;
    rnn_tensor x, y, xt, yt;
    rnn_status st = rnn_csv_load_column("data/airline-passengers.csv", "passengers", 0, &series, &n);
    CHECK(st == RNN_OK, "%s (run from the repository root)", rnn_last_error());
    if (st) return check_report("test_export_airline");
    rnn_minmax_scaler scaler = {0};
    rnn_minmax_fit(&scaler, series, n);
    rnn_minmax_transform(&scaler, series, n);
    int64_t split = rnn_train_test_split(n, 0.67);
    rnn_create_dataset(series, split, 3, &x, &y);
    rnn_create_dataset(series + split, n - split, 3, &xt, &yt);
    rnn_model *model = airline_model();
    rnn_compile(model, "mean_squared_error", "adam");
    rnn_fit_options fit = rnn_fit_defaults();
    fit.epochs = 100;
    fit.batch_size = 1;
    fit.verbose = 0;
    st = rnn_fit(model, rnn_data_xy(x, y), &fit, NULL);
    CHECK(st == RNN_OK, "fit: %s", rnn_model_error(model));
    /* tests/fixtures/export/airline.keras, which the README exports, is this model, and
     * airline_test_x.npy / airline_test_y.npy (scaled) the test windows docs/export.md gives
     * rnn quantize-report: RNN_AIRLINE_SAVE=tests/fixtures/export build/tests/test_export_airline
     * writes them (before yt is put back on the passengers' scale below). */
    const char *save = getenv("RNN_AIRLINE_SAVE");
    if (save && st == RNN_OK) {
        char path[512];
        snprintf(path, sizeof path, "%s/airline.keras", save);
        CHECK(rnn_save(model, path) == RNN_OK, "%s", rnn_model_error(model));
        snprintf(path, sizeof path, "%s/airline_test_x.npy", save);
        CHECK(rnn_npy_save(path, &xt) == RNN_OK, "%s", rnn_last_error());
        snprintf(path, sizeof path, "%s/airline_test_y.npy", save);
        CHECK(rnn_npy_save(path, &yt) == RNN_OK, "%s", rnn_last_error());
    }
    rnn_minmax_inverse(&scaler, yt.data, yt.shape[0]);
    static const char *const names[3] = {"float32", "bf16", "int8"};
    double rmse[3] = {0, 0, 0};
    for (int p = 0; st == RNN_OK && p < 3; p++) {
        rnn_model *q = airline_model();
        rnn_tensor pred = {0};
        CHECK(rnn_copy_weights(q, model) == RNN_OK, "copy: %s", rnn_model_error(q));
        CHECK(rnn_quantize_weights(q, (rnn_precision)p) == RNN_OK, "%s", rnn_model_error(q));
        CHECK(rnn_predict(q, rnn_data_x(xt), 32, &pred, 1) == RNN_OK, "%s", rnn_model_error(q));
        if (pred.data) {
            rnn_minmax_inverse(&scaler, pred.data, pred.shape[0]);
            double se = 0;
            for (int64_t i = 0; i < pred.shape[0]; i++) se += pow(pred.data[i] - yt.data[i], 2);
            rmse[p] = sqrt(se / (double)pred.shape[0]);
        }
        printf("airline test RMSE with %-7s weights: %.3f passengers (%+.2f %% of float32's)\n",
               names[p], rmse[p], rmse[0] > 0 ? 100 * (rmse[p] / rmse[0] - 1) : 0.0);
        rnn_tensor_free(&pred);
        rnn_model_free(q);
    }
    CHECK(rmse[0] > 0 && rmse[0] < 100, "float32 RMSE %.3f: the model learnt nothing", rmse[0]);
    for (int p = 1; p < 3; p++)
        CHECK(rmse[p] > 0 && rmse[p] <= 1.05 * rmse[0], "%s: RMSE %.3f is more than 5 %% above "
              "float32's %.3f", names[p], rmse[p], rmse[0]);
    /* the precisions did change the weights: the predictions are not float32's */
    CHECK(rmse[1] != rmse[0] && rmse[2] != rmse[0], "bf16 or int8 gave float32's RMSE exactly");
    rnn_model_free(model);
    free(series);
    rnn_tensor_free(&x);
    rnn_tensor_free(&y);
    rnn_tensor_free(&xt);
    rnn_tensor_free(&yt);
    return check_report("test_export_airline");
}
