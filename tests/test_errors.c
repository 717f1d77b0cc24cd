/* Every error path of the foundation: each bad call returns the right status and a message that
 * names the problem, and the model stays usable afterwards. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "error.h"
#include "rnn.h"

#define EXPECT(call, status, fragment)                                                        \
    do {                                                                                      \
        rnn_status got_ = (call);                                                             \
        CHECK(got_ == (status), "%s returned %s, expected %s (%s)", #call,                    \
              rnn_status_name(got_), rnn_status_name(status), rnn_last_error());              \
        CHECK(strstr(rnn_last_error(), (fragment)) != NULL,                                   \
              "%s: message \"%s\" lacks \"%s\"", #call, rnn_last_error(), (fragment));        \
    } while (0)

static rnn_model *window_model(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, 3, 1);
    rnn_recurrent_options o = rnn_lstm_defaults(4);
    rnn_add(m, rnn_lstm(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    return m;
}

static void building_errors(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options o = rnn_lstm_defaults(4);
    EXPECT(rnn_add(m, rnn_lstm(&o)), RNN_ERR_STATE, "declare the model's input");
    EXPECT(rnn_input(m, 3, 0), RNN_ERR_SHAPE, "features");
    EXPECT(rnn_input(m, 3, (int64_t)1 << 30), RNN_ERR_SHAPE, "features");
    EXPECT(rnn_batch_input(m, 0, 3, 1), RNN_ERR_SHAPE, "batch size");
    EXPECT(rnn_input(m, -5, 1), RNN_ERR_SHAPE, "steps");
    CHECK(rnn_input(m, 3, 2) == RNN_OK, "rnn_input: %s", rnn_last_error());
    EXPECT(rnn_add(m, NULL), RNN_ERR_ARGUMENT, "layer is NULL");
    CHECK(rnn_lstm(NULL) == NULL, "rnn_lstm(NULL) made a layer");
    o.units = 0;
    EXPECT(rnn_add(m, rnn_lstm(&o)), RNN_ERR_ARGUMENT, "units");
    o.units = 1 << 30; /* impossible size */
    EXPECT(rnn_add(m, rnn_lstm(&o)), RNN_ERR_ARGUMENT, "units");
    o = rnn_lstm_defaults(4);
    o.activation = (rnn_activation)99;
    EXPECT(rnn_add(m, rnn_lstm(&o)), RNN_ERR_ARGUMENT, "activation");
    o = rnn_lstm_defaults(4);
    o.return_state = 1;
    EXPECT(rnn_add(m, rnn_lstm(&o)), RNN_ERR_ARGUMENT, "single output tensor");
    o = rnn_lstm_defaults(4);
    o.stateful = 1; /* batch size unknown */
    EXPECT(rnn_add(m, rnn_lstm(&o)), RNN_ERR_SHAPE, "stateful");
    o = rnn_lstm_defaults(4);
    o.name = "encoder";
    CHECK(rnn_add(m, rnn_lstm(&o)) == RNN_OK, "add: %s", rnn_last_error());
    EXPECT(rnn_add(m, rnn_lstm(&o)), RNN_ERR_ARGUMENT, "unique names");
    /* LSTM after a many-to-one LSTM gets rank-2 input: Keras's ndim message. */
    rnn_recurrent_options o2 = rnn_gru_defaults(3);
    EXPECT(rnn_add(m, rnn_gru(&o2)), RNN_ERR_SHAPE, "expected ndim=3, found ndim=2");
    CHECK(strstr(rnn_model_error(m), "ndim=3") != NULL, "model message: %s", rnn_model_error(m));
    CHECK(rnn_layer_count(m) == 1, "rejected layers were added: %d", rnn_layer_count(m));
    EXPECT(rnn_input(m, 3, 2), RNN_ERR_STATE, "before the first layer");
    EXPECT(rnn_compile(m, "binary_focal_crossentropy", "adam"), RNN_ERR_ARGUMENT,
           "loss identifier: binary_focal_crossentropy");
    EXPECT(rnn_compile(m, "mse", "lion"), RNN_ERR_ARGUMENT, "optimizer identifier: lion");
    rnn_optimizer bad = rnn_adam_defaults();
    bad.beta_1 = 1.5f;
    EXPECT(rnn_compile_with(m, "mse", &bad), RNN_ERR_ARGUMENT, "beta_1");
    bad = rnn_adam_defaults();
    bad.learning_rate = NAN;
    EXPECT(rnn_compile_with(m, "mse", &bad), RNN_ERR_ARGUMENT, "learning_rate");
    /* weights */
    float w[8];
    EXPECT(rnn_get_weight(m, 0, w, 8), RNN_ERR_SHAPE, "has 32 values");
    EXPECT(rnn_get_weight(m, 17, w, 8), RNN_ERR_ARGUMENT, "no weight with index 17");
    float wk[32];
    for (int i = 0; i < 32; i++) wk[i] = i == 5 ? INFINITY : 0.1f;
    EXPECT(rnn_set_weight(m, 0, wk, 32), RNN_ERR_NUMERIC, "not finite");
    rnn_model_free(m);
    EXPECT(rnn_add(NULL, NULL), RNN_ERR_ARGUMENT, "model is NULL");
}

static void data_errors(void) {
    rnn_model *m = window_model();
    float x[4 * 3 * 1] = {0.1f, 0.2f, 0.3f, 0.2f, 0.3f, 0.4f, 0.3f, 0.4f, 0.5f, 0.4f, 0.5f, 0.6f};
    float y[4] = {0.4f, 0.5f, 0.6f, 0.7f};
    rnn_tensor X = rnn_tensor3(x, 4, 3, 1), Y = rnn_tensor2(y, 4, 1);
    double loss;
    EXPECT(rnn_fit(m, rnn_data_xy(X, Y), NULL, NULL), RNN_ERR_STATE, "compile()");
    CHECK(rnn_compile(m, "mse", "adam") == RNN_OK, "compile: %s", rnn_last_error());
    rnn_fit_options fo = rnn_fit_defaults();
    fo.verbose = 0;
    EXPECT(rnn_fit(m, rnn_data_xy(rnn_tensor2(x, 4, 3), Y), &fo, NULL), RNN_ERR_SHAPE, "rank 2");
    EXPECT(rnn_fit(m, rnn_data_xy(rnn_tensor3(x, 4, 1, 3), Y), &fo, NULL), RNN_ERR_SHAPE, "time steps");
    EXPECT(rnn_fit(m, rnn_data_xy(rnn_tensor3(x, 2, 3, 2), Y), &fo, NULL), RNN_ERR_SHAPE, "features");
    EXPECT(rnn_fit(m, rnn_data_xy(rnn_tensor3(x, 0, 3, 1), Y), &fo, NULL), RNN_ERR_SHAPE, "zero samples");
    EXPECT(rnn_fit(m, rnn_data_xy(X, rnn_tensor2(y, 3, 1)), &fo, NULL), RNN_ERR_SHAPE, "samples");
    EXPECT(rnn_fit(m, rnn_data_xy(X, rnn_tensor2(y, 2, 2)), &fo, NULL), RNN_ERR_SHAPE, "samples");
    EXPECT(rnn_fit(m, rnn_data_xy(X, rnn_tensor3(y, 4, 1, 1)), &fo, NULL), RNN_ERR_SHAPE, "output has shape (4, 1)");
    x[4] = NAN;
    EXPECT(rnn_fit(m, rnn_data_xy(X, Y), &fo, NULL), RNN_ERR_NUMERIC, "NaN at flat index 4");
    EXPECT(rnn_predict(m, rnn_data_x(X), 32, &(rnn_tensor){0}, 1), RNN_ERR_NUMERIC, "NaN");
    x[4] = 0.3f;
    y[2] = INFINITY;
    EXPECT(rnn_train_on_batch(m, rnn_data_xy(X, Y), &loss), RNN_ERR_NUMERIC, "y contains Inf");
    y[2] = 0.6f;
    fo.batch_size = 0;
    EXPECT(rnn_fit(m, rnn_data_xy(X, Y), &fo, NULL), RNN_ERR_ARGUMENT, "batch_size");
    fo.batch_size = 32;
    fo.validation_split = 0.1f; /* floor(4 * 0.9) = 3 train, 1 validation: fine */
    CHECK(rnn_fit(m, rnn_data_xy(X, Y), &fo, NULL) == RNN_OK, "fit with validation: %s", rnn_last_error());
    fo.validation_split = 0.9f; /* floor(4 * 0.1) = 0 training samples */
    EXPECT(rnn_fit(m, rnn_data_xy(X, Y), &fo, NULL), RNN_ERR_ARGUMENT, "validation_split");
    fo.validation_split = 1.0f;
    EXPECT(rnn_fit(m, rnn_data_xy(X, Y), &fo, NULL), RNN_ERR_ARGUMENT, "validation_split");
    /* sizes whose product overflows: rejected before anything is read */
    float one = 0;
    EXPECT(rnn_predict(m, rnn_data_x(rnn_tensor3(&one, (int64_t)1 << 40, 3, 1)), 32,
                       &(rnn_tensor){0}, 1),
           RNN_ERR_MEMORY, "too large");
    EXPECT(rnn_predict(m, rnn_data_x(rnn_tensor3(&one, INT64_MAX, 3, 1)), 32, &(rnn_tensor){0}, 1),
           RNN_ERR_MEMORY, "too large");
    /* the model still works */
    rnn_tensor p;
    CHECK(rnn_predict(m, rnn_data_x(X), 32, &p, 1) == RNN_OK && p.shape[0] == 4, "predict after errors: %s",
          rnn_last_error());
    rnn_tensor_free(&p);
    EXPECT(rnn_predict_step(m, NULL, NULL), RNN_ERR_ARGUMENT, "NULL");
    rnn_model_free(m);

    /* variable-length model: zero steps */
    rnn_model *v = rnn_sequential(NULL);
    rnn_input(v, RNN_NONE, 1);
    rnn_recurrent_options o = rnn_simple_rnn_defaults(2);
    rnn_add(v, rnn_simple_rnn(&o));
    EXPECT(rnn_predict(v, rnn_data_x(rnn_tensor3(x, 2, 0, 1)), 32, &(rnn_tensor){0}, 1), RNN_ERR_SHAPE,
           "zero time steps");
    rnn_model_free(v);
}

static void stateful_errors(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_batch_input(m, 2, 3, 1);
    rnn_recurrent_options o = rnn_gru_defaults(4);
    o.stateful = 1;
    rnn_add(m, rnn_gru(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_compile(m, "mae", "sgd");
    float x[6 * 3] = {0}, y[6] = {0};
    rnn_fit_options fo = rnn_fit_defaults();
    fo.verbose = 0;
    fo.shuffle = 0;
    fo.batch_size = 3;
    EXPECT(rnn_fit(m, rnn_data_xy(rnn_tensor3(x, 6, 3, 1), rnn_tensor2(y, 6, 1)), &fo, NULL), RNN_ERR_STATE,
           "fixed batch size of 2");
    fo.batch_size = 2;
    EXPECT(rnn_fit(m, rnn_data_xy(rnn_tensor3(x, 5, 3, 1), rnn_tensor2(y, 5, 1)), &fo, NULL), RNN_ERR_STATE,
           "do not divide");
    CHECK(rnn_fit(m, rnn_data_xy(rnn_tensor3(x, 6, 3, 1), rnn_tensor2(y, 6, 1)), &fo, NULL) == RNN_OK,
          "stateful fit: %s", rnn_last_error());
    EXPECT(rnn_predict(m, rnn_data_x(rnn_tensor3(x, 6, 3, 1)), 3, &(rnn_tensor){0}, 1), RNN_ERR_STATE, "stateful");
    double loss;
    EXPECT(rnn_train_on_batch(m, rnn_data_xy(rnn_tensor3(x, 1, 3, 1), rnn_tensor2(y, 1, 1)), &loss),
           RNN_ERR_STATE, "stateful");
    rnn_model_free(m);
}

static void helper_errors(void) {
    float v[3] = {1, 2, 3};
    rnn_tensor a, b;
    EXPECT(rnn_create_dataset(v, 3, 3, &a, &b), RNN_ERR_ARGUMENT, "");
    rnn_minmax_scaler s = {0};
    v[1] = NAN;
    CHECK(rnn_minmax_fit(&s, v, 3) != RNN_OK, "scaler accepted NaN");
    float *col;
    int64_t n;
    EXPECT(rnn_csv_load_column("/nonexistent/file.csv", "x", 0, &col, &n), RNN_ERR_IO,
           "/nonexistent/file.csv");
    CHECK(rnn_train_test_split(10, 1.5) < 0, "split accepted 1.5");
}

/* A message that wraps the previous one (rnn__fail(st, "...: %s", rnn_last_error())) must read
 * as written: formatting a buffer into itself once printed "b.keras is not a librnn training
 * backup: b.keras is not a librnn training backup: ing_state.json, which is missing". */
static void wrapped_messages(void) {
    rnn__fail(RNN_ERR_FORMAT, "the file lacks training_state.json, which is missing");
    CHECK(rnn__fail(RNN_ERR_FORMAT, "b.keras is not a librnn training backup: %s", rnn_last_error()) ==
              RNN_ERR_FORMAT, "rnn__fail returns its status");
    CHECK(!strcmp(rnn_last_error(),
                  "b.keras is not a librnn training backup: the file lacks training_state.json, which is missing"),
          "wrapped message garbled: \"%s\"", rnn_last_error());
    rnn__fail(RNN_ERR_IO, "%s", rnn_last_error());
    CHECK(!strncmp(rnn_last_error(), "b.keras is not", 14), "a message wrapped twice: \"%s\"", rnn_last_error());
}

int main(void) {
    wrapped_messages();
    building_errors();
    data_errors();
    stateful_errors();
    helper_errors();
    return check_report("test_errors");
}
