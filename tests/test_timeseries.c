/* Tests of the time-series helpers: MinMaxScaler values as scikit-learn computes them,
 * create_dataset windows of the airline tutorial, the train/test split point, and the errors. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "rnn.h"

static int contains(const char *haystack, const char *needle) {
    return haystack && strstr(haystack, needle) != NULL;
}

static void test_scaler_exact(void) {
    /* Powers of two: every step is exact, so the results must be exactly sklearn's. */
    float v[4] = {2, 4, 6, 10};
    rnn_minmax_scaler s = {0};
    CHECK(rnn_minmax_fit(&s, v, 4) == RNN_OK, "fit: %s", rnn_last_error());
    CHECK(s.data_min == 2.0f && s.data_max == 10.0f, "data range %g..%g", s.data_min,
          s.data_max);
    CHECK(s.range_min == 0.0f && s.range_max == 1.0f, "default range %g..%g", s.range_min,
          s.range_max);
    rnn_minmax_transform(&s, v, 4);
    CHECK(v[0] == 0.0f && v[1] == 0.25f && v[2] == 0.5f && v[3] == 1.0f,
          "scaled %g %g %g %g", v[0], v[1], v[2], v[3]);
    rnn_minmax_inverse(&s, v, 4);
    CHECK(v[0] == 2.0f && v[1] == 4.0f && v[2] == 6.0f && v[3] == 10.0f,
          "restored %g %g %g %g", v[0], v[1], v[2], v[3]);

    /* feature_range=(-1, 1) set before fitting. */
    float w[3] = {2, 6, 10};
    rnn_minmax_scaler r = {0};
    r.range_min = -1.0f;
    r.range_max = 1.0f;
    CHECK(rnn_minmax_fit(&r, w, 3) == RNN_OK, "fit (-1,1): %s", rnn_last_error());
    rnn_minmax_transform(&r, w, 3);
    CHECK(w[0] == -1.0f && w[1] == 0.0f && w[2] == 1.0f, "(-1,1) scaled %g %g %g", w[0], w[1],
          w[2]);
}

static void test_scaler_airline_values(void) {
    /* First year of the airline data; its min 104 and max 148 give scale 1/44. */
    float v[12] = {112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118};
    float orig[12];
    memcpy(orig, v, sizeof v);
    rnn_minmax_scaler s = {0};
    CHECK(rnn_minmax_fit(&s, v, 12) == RNN_OK, "fit: %s", rnn_last_error());
    rnn_minmax_transform(&s, v, 12);
    /* sklearn on float32 data: scale_ = 1/range and min_ = 0 - data_min*scale_ in float32,
     * then X *= scale_; X += min_ (two roundings). The same bits are expected here; the
     * difference to the exact (x - 104)/44 is float32 cancellation, under 1e-6. */
    volatile float scale = 1.0f / 44.0f; /* volatile: each step rounded to float as numpy does */
    volatile float min = 0.0f - 104.0f * scale;
    for (int i = 0; i < 12; i++) {
        volatile float scaled = orig[i] * scale;
        float expected = scaled + min;
        CHECK(v[i] == expected, "value %d: %.9g, sklearn float32 gives %.9g", i, v[i], expected);
        CHECK_CLOSE(v[i], (orig[i] - 104.0) / 44.0, 1e-6, 0, "scaled airline value");
    }
    CHECK(v[10] == 0.0f, "minimum maps to exactly 0, got %.9g", v[10]);
    CHECK_CLOSE(v[6], 1.0, 1e-7, 0, "maximum maps to 1");
    rnn_minmax_inverse(&s, v, 12);
    for (int i = 0; i < 12; i++) CHECK_CLOSE(v[i], orig[i], 0, 1e-6, "round trip");
}

static void test_scaler_constant(void) {
    /* sklearn divides a constant column by 1: every value becomes range_min. */
    float v[3] = {5, 5, 5};
    rnn_minmax_scaler s = {0};
    CHECK(rnn_minmax_fit(&s, v, 3) == RNN_OK, "fit constant: %s", rnn_last_error());
    rnn_minmax_transform(&s, v, 3);
    CHECK(v[0] == 0.0f && v[1] == 0.0f && v[2] == 0.0f, "constant scaled %g %g %g", v[0], v[1],
          v[2]);
    float other = 7.0f; /* a new value moves by its plain difference */
    rnn_minmax_transform(&s, &other, 1);
    CHECK(other == 2.0f, "7 after a constant fit on 5: %g", other);
    rnn_minmax_inverse(&s, v, 3);
    CHECK(v[0] == 5.0f && v[2] == 5.0f, "constant restored %g %g", v[0], v[2]);
}

static void test_scaler_errors(void) {
    float v[3] = {1, 2, 3};
    rnn_minmax_scaler s = {0};
    CHECK(rnn_minmax_fit(NULL, v, 3) == RNN_ERR_ARGUMENT, "NULL scaler");
    CHECK(rnn_minmax_fit(&s, NULL, 3) == RNN_ERR_ARGUMENT, "NULL values");
    CHECK(rnn_minmax_fit(&s, v, 0) == RNN_ERR_ARGUMENT, "n = 0");
    CHECK(contains(rnn_last_error(), "0"), "message names n: %s", rnn_last_error());
    CHECK(rnn_minmax_fit(&s, v, -5) == RNN_ERR_ARGUMENT, "n < 0");

    float bad[3] = {1, NAN, 3};
    CHECK(rnn_minmax_fit(&s, bad, 3) == RNN_ERR_NUMERIC, "NaN value");
    CHECK(contains(rnn_last_error(), "value 1"), "message names the index: %s",
          rnn_last_error());
    bad[1] = INFINITY;
    CHECK(rnn_minmax_fit(&s, bad, 3) == RNN_ERR_NUMERIC, "Inf value");

    rnn_minmax_scaler inverted = {0};
    inverted.range_min = 1.0f;
    inverted.range_max = 0.0f;
    CHECK(rnn_minmax_fit(&inverted, v, 3) == RNN_ERR_ARGUMENT, "range min >= max");
    CHECK(contains(rnn_last_error(), "range"), "message: %s", rnn_last_error());
    CHECK(inverted.range_min == 1.0f && inverted.data_max == 0.0f,
          "a failed fit leaves the scaler as it was");

    /* Values whose range does not fit a float cannot be scaled. */
    float huge[2] = {-3e38f, 3e38f};
    CHECK(rnn_minmax_fit(&s, huge, 2) == RNN_ERR_NUMERIC, "range overflow: %s",
          rnn_last_error());

    /* transform with NULL values does nothing and does not crash. */
    rnn_minmax_scaler ok = {0};
    CHECK(rnn_minmax_fit(&ok, v, 3) == RNN_OK, "fit");
    rnn_minmax_transform(&ok, NULL, 3);
    rnn_minmax_inverse(NULL, v, 3);
    CHECK(v[0] == 1.0f, "values untouched by a call without scaler");
}

static void test_create_dataset(void) {
    float series[10];
    for (int i = 0; i < 10; i++) series[i] = (float)(i + 1);
    rnn_tensor x, y;
    CHECK(rnn_create_dataset(series, 10, 3, &x, &y) == RNN_OK, "create: %s", rnn_last_error());
    CHECK(x.rank == 3 && x.shape[0] == 6 && x.shape[1] == 3 && x.shape[2] == 1,
          "x shape rank %d [%lld, %lld, %lld]", x.rank, (long long)x.shape[0],
          (long long)x.shape[1], (long long)x.shape[2]);
    CHECK(y.rank == 2 && y.shape[0] == 6 && y.shape[1] == 1, "y shape rank %d [%lld, %lld]",
          y.rank, (long long)y.shape[0], (long long)y.shape[1]);
    int windows_ok = 1;
    for (int i = 0; i < 6; i++) {
        for (int t = 0; t < 3; t++)
            if (x.data[i * 3 + t] != (float)(i + 1 + t)) windows_ok = 0;
        if (y.data[i] != (float)(i + 4)) windows_ok = 0;
    }
    CHECK(windows_ok, "windows: x[0] = %g %g %g, y[0] = %g", x.data[0], x.data[1], x.data[2],
          y.data[0]);
    CHECK(x.data[15] == 6.0f && x.data[17] == 8.0f && y.data[5] == 9.0f,
          "last window [6 7 8] -> 9, got [%g .. %g] -> %g", x.data[15], x.data[17], y.data[5]);
    rnn_tensor_free(&x);
    rnn_tensor_free(&y);
    CHECK(x.data == NULL && y.data == NULL, "tensors cleared by rnn_tensor_free");

    /* The smallest series that gives one window: look_back + 2 values. */
    CHECK(rnn_create_dataset(series, 5, 3, &x, &y) == RNN_OK, "5 values, look_back 3");
    CHECK(x.shape[0] == 1 && x.data[2] == 3.0f && y.data[0] == 4.0f, "one window");
    rnn_tensor_free(&x);
    rnn_tensor_free(&y);

    /* look_back 1, as in the tutorial. */
    CHECK(rnn_create_dataset(series, 10, 1, &x, &y) == RNN_OK, "look_back 1");
    CHECK(x.shape[0] == 8 && x.shape[1] == 1 && x.data[7] == 8.0f && y.data[7] == 9.0f,
          "look_back 1: %lld samples", (long long)x.shape[0]);
    rnn_tensor_free(&x);
    rnn_tensor_free(&y);
}

static void test_create_dataset_errors(void) {
    float series[10];
    for (int i = 0; i < 10; i++) series[i] = (float)i;
    rnn_tensor x, y;
    CHECK(rnn_create_dataset(series, 4, 3, &x, &y) == RNN_ERR_ARGUMENT, "too few values");
    CHECK(x.data == NULL && y.data == NULL && x.rank == 0, "nothing allocated on error");
    CHECK(contains(rnn_last_error(), "look_back 3"), "message: %s", rnn_last_error());
    CHECK(rnn_create_dataset(series, 10, 0, &x, &y) == RNN_ERR_ARGUMENT, "look_back 0");
    CHECK(contains(rnn_last_error(), "look_back is 0"), "message: %s", rnn_last_error());
    CHECK(rnn_create_dataset(series, 10, -2, &x, &y) == RNN_ERR_ARGUMENT, "look_back < 0");
    CHECK(rnn_create_dataset(series, 0, 1, &x, &y) == RNN_ERR_ARGUMENT, "n = 0");
    CHECK(rnn_create_dataset(NULL, 10, 1, &x, &y) == RNN_ERR_ARGUMENT, "NULL series");
    CHECK(rnn_create_dataset(series, 10, 1, NULL, &y) == RNN_ERR_ARGUMENT, "NULL x");
    CHECK(rnn_create_dataset(series, 10, 1, &x, &x) == RNN_ERR_ARGUMENT, "x and y the same");
    series[4] = NAN;
    CHECK(rnn_create_dataset(series, 10, 1, &x, &y) == RNN_ERR_NUMERIC, "NaN in series");
    CHECK(contains(rnn_last_error(), "series[4]"), "message: %s", rnn_last_error());
    CHECK(x.data == NULL && y.data == NULL, "nothing allocated on NaN");
}

static void test_split(void) {
    CHECK(rnn_train_test_split(144, 0.67) == 96, "int(144 * 0.67) = 96, got %lld",
          (long long)rnn_train_test_split(144, 0.67));
    CHECK(rnn_train_test_split(10, 0.5) == 5, "10 * 0.5");
    CHECK(rnn_train_test_split(3, 0.1) == 0, "floor below 1 is 0");
    CHECK(rnn_train_test_split(3650, 0.8) == 2920, "3650 * 0.8");
    CHECK(rnn_train_test_split(144, 0.0) == -1, "fraction 0");
    CHECK(contains(rnn_last_error(), "train_fraction"), "message: %s", rnn_last_error());
    CHECK(rnn_train_test_split(144, 1.0) == -1, "fraction 1");
    CHECK(rnn_train_test_split(144, NAN) == -1, "fraction NaN");
    CHECK(rnn_train_test_split(144, -0.5) == -1, "negative fraction");
    CHECK(rnn_train_test_split(0, 0.5) == -1, "n = 0");
    CHECK(contains(rnn_last_error(), "n is 0"), "message: %s", rnn_last_error());
}

int main(void) {
    test_scaler_exact();
    test_scaler_airline_values();
    test_scaler_constant();
    test_scaler_errors();
    test_create_dataset();
    test_create_dataset_errors();
    test_split();
    return check_report("test_timeseries");
}
