/* Time-series helpers of the airline tutorial: a scikit-learn MinMaxScaler over one column,
 * create_dataset (sliding windows) and the train/test split point.
 *
 * The scaler works in float32 throughout, as scikit-learn does on the tutorial's float32 data
 * (MinMaxScaler keeps the input dtype), so scaled values match it bit for bit:
 *   scale = (hi - lo) / data_range   (data_range below 10*eps counts as 1: a constant column)
 *   min   = lo - data_min * scale
 *   transform: x * scale + min       inverse: (x - min) / scale
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "error.h"
#include "rnn.h"

/* The scaler's derived parameters, computed from the four stored fields every time so that the
 * struct stays the plain data declared in rnn.h. */
typedef struct {
    float scale, min;
} minmax_params;

/* A zeroed range (the caller set none) is scikit-learn's default feature_range=(0, 1). */
static void effective_range(const rnn_minmax_scaler *s, float *lo, float *hi) {
    if (s->range_min == 0.0f && s->range_max == 0.0f) {
        *lo = 0.0f;
        *hi = 1.0f;
    } else {
        *lo = s->range_min;
        *hi = s->range_max;
    }
}

static rnn_status check_range(float lo, float hi) {
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi) || !isfinite(hi - lo))
        return rnn__fail(RNN_ERR_ARGUMENT,
                         "minmax scaler: feature range (%g, %g) is invalid: the minimum must be "
                         "smaller than the maximum and both finite",
                         (double)lo, (double)hi);
    return RNN_OK;
}

/* Same steps and float32 rounding as sklearn's MinMaxScaler.partial_fit. */
static rnn_status compute_params(const rnn_minmax_scaler *s, minmax_params *p) {
    float lo, hi;
    effective_range(s, &lo, &hi);
    rnn_status st = check_range(lo, hi);
    if (st != RNN_OK) return st;
    if (!isfinite(s->data_min) || !isfinite(s->data_max) || s->data_min > s->data_max)
        return rnn__fail(RNN_ERR_STATE,
                         "minmax scaler: data_min %g / data_max %g are not a fitted range "
                         "(call rnn_minmax_fit first)",
                         (double)s->data_min, (double)s->data_max);
    float data_range = s->data_max - s->data_min;
    if (!isfinite(data_range))
        return rnn__fail(RNN_ERR_NUMERIC,
                         "minmax scaler: data range %g .. %g overflows float32",
                         (double)s->data_min, (double)s->data_max);
    /* sklearn's _handle_zeros_in_scale: a near-constant column is divided by 1, not by ~0. */
    if (data_range < 10.0f * FLT_EPSILON) data_range = 1.0f;
    p->scale = (hi - lo) / data_range;
    p->min = lo - s->data_min * p->scale;
    if (!isfinite(p->scale) || !isfinite(p->min) || p->scale == 0.0f)
        return rnn__fail(RNN_ERR_NUMERIC,
                         "minmax scaler: range (%g, %g) over data %g .. %g gives a scale that is "
                         "not usable in float32",
                         (double)lo, (double)hi, (double)s->data_min, (double)s->data_max);
    return RNN_OK;
}

rnn_status rnn_minmax_fit(rnn_minmax_scaler *scaler, const float *values, int64_t n) {
    if (!scaler) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_minmax_fit: scaler is NULL");
    if (!values) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_minmax_fit: values is NULL");
    if (n <= 0)
        return rnn__fail(RNN_ERR_ARGUMENT, "rnn_minmax_fit: n is %lld, needs at least 1 value",
                         (long long)n);
    float lo, hi;
    effective_range(scaler, &lo, &hi);
    rnn_status st = check_range(lo, hi);
    if (st != RNN_OK) return st;

    float mn = values[0], mx = values[0];
    for (int64_t i = 0; i < n; i++) {
        float v = values[i];
        if (!isfinite(v))
            return rnn__fail(RNN_ERR_NUMERIC, "rnn_minmax_fit: value %lld is %g (not finite)",
                             (long long)i, (double)v);
        if (v < mn) mn = v;
        if (v > mx) mx = v;
    }
    /* Build the result aside so that a failure leaves the caller's scaler as it was. */
    rnn_minmax_scaler fitted = {mn, mx, lo, hi};
    minmax_params p;
    st = compute_params(&fitted, &p);
    if (st != RNN_OK) return st;
    *scaler = fitted;
    rnn__clear_error();
    return RNN_OK;
}

void rnn_minmax_transform(const rnn_minmax_scaler *scaler, float *values, int64_t n) {
    /* void in the API: bad arguments leave the values untouched and a message behind. */
    if (!scaler || (!values && n > 0)) {
        (void)rnn__fail(RNN_ERR_ARGUMENT, "rnn_minmax_transform: scaler or values is NULL");
        return;
    }
    minmax_params p;
    if (compute_params(scaler, &p) != RNN_OK) return;
    for (int64_t i = 0; i < n; i++) {
        float v = values[i] * p.scale; /* two roundings, as numpy's X *= scale; X += min */
        values[i] = v + p.min;
    }
}

void rnn_minmax_inverse(const rnn_minmax_scaler *scaler, float *values, int64_t n) {
    if (!scaler || (!values && n > 0)) {
        (void)rnn__fail(RNN_ERR_ARGUMENT, "rnn_minmax_inverse: scaler or values is NULL");
        return;
    }
    minmax_params p;
    if (compute_params(scaler, &p) != RNN_OK) return;
    for (int64_t i = 0; i < n; i++) {
        float v = values[i] - p.min; /* numpy's X -= min; X /= scale */
        values[i] = v / p.scale;
    }
}

rnn_status rnn_create_dataset(const float *series, int64_t n, int look_back, rnn_tensor *x,
                              rnn_tensor *y) {
    if (!x || !y) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_create_dataset: x or y is NULL");
    if (x == y)
        return rnn__fail(RNN_ERR_ARGUMENT, "rnn_create_dataset: x and y are the same tensor");
    /* The outputs are cleared first, so that on any error they hold nothing to free. */
    *x = (rnn_tensor){0};
    *y = (rnn_tensor){0};
    if (!series) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_create_dataset: series is NULL");
    if (n <= 0)
        return rnn__fail(RNN_ERR_ARGUMENT, "rnn_create_dataset: n is %lld, must be positive",
                         (long long)n);
    if (look_back < 1)
        return rnn__fail(RNN_ERR_ARGUMENT, "rnn_create_dataset: look_back is %d, must be >= 1",
                         look_back);
    /* The tutorial's loop is range(len(dataset) - look_back - 1): one value fewer than the
     * windows that would fit. Kept on purpose so that results match it. */
    int64_t samples = n - (int64_t)look_back - 1;
    if (samples < 1)
        return rnn__fail(RNN_ERR_ARGUMENT,
                         "rnn_create_dataset: %lld values are too few for look_back %d "
                         "(needs at least %lld values for one window)",
                         (long long)n, look_back, (long long)look_back + 2);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(series[i]))
            return rnn__fail(RNN_ERR_NUMERIC,
                             "rnn_create_dataset: series[%lld] is %g (not finite)", (long long)i,
                             (double)series[i]);
    /* samples * look_back < n * look_back; check the byte count fits size_t before malloc. */
    if ((uint64_t)samples > SIZE_MAX / sizeof(float) / (uint64_t)look_back)
        return rnn__fail(RNN_ERR_MEMORY,
                         "rnn_create_dataset: %lld windows of %d values overflow the address "
                         "space",
                         (long long)samples, look_back);
    size_t x_count = (size_t)samples * (size_t)look_back;
    float *xd = malloc(x_count * sizeof(float));
    float *yd = malloc((size_t)samples * sizeof(float));
    if (!xd || !yd) {
        free(xd);
        free(yd);
        return rnn__fail(RNN_ERR_MEMORY, "rnn_create_dataset: out of memory for %lld windows",
                         (long long)samples);
    }
    for (int64_t i = 0; i < samples; i++) {
        float *row = xd + (size_t)i * (size_t)look_back;
        for (int t = 0; t < look_back; t++) row[t] = series[i + t];
        yd[i] = series[i + look_back];
    }
    /* Filled by hand rather than with rnn_tensor3/rnn_tensor2 so this file needs nothing but
     * the error functions; rnn_tensor_free releases data with free(). */
    x->data = xd;
    x->owned = 1;
    x->rank = 3;
    x->shape[0] = samples;
    x->shape[1] = look_back;
    x->shape[2] = 1;
    y->data = yd;
    y->owned = 1;
    y->rank = 2;
    y->shape[0] = samples;
    y->shape[1] = 1;
    rnn__clear_error();
    return RNN_OK;
}

int64_t rnn_train_test_split(int64_t n, double train_fraction) {
    if (n <= 0) {
        (void)rnn__fail(RNN_ERR_ARGUMENT, "rnn_train_test_split: n is %lld, must be positive",
                        (long long)n);
        return -1;
    }
    /* Written as a negated test so that NaN is refused too. */
    if (!(train_fraction > 0.0 && train_fraction < 1.0)) {
        (void)rnn__fail(RNN_ERR_ARGUMENT,
                        "rnn_train_test_split: train_fraction is %g, must be in (0, 1)",
                        train_fraction);
        return -1;
    }
    /* Python's int(len(dataset) * 0.67): truncation of a positive double, i.e. floor. */
    double split = floor((double)n * train_fraction);
    rnn__clear_error();
    return (int64_t)split;
}
