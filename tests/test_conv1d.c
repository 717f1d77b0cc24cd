/* Conv1D through the public API: output steps against Keras's formulas for every padding,
 * strides and dilation_rate; the forward pass against a direct (loop) convolution written from
 * the definition, independent of the im2col path; unknown steps whose length the layer changes
 * (predict and train_on_batch shapes); a mask is dropped as in Keras 3; predict_step refuses a
 * kernel wider than one step; bad options fail by name. (Gradients: test_gradcheck; Keras's
 * numbers: the conv1d_* Keras fixtures; files: test_keras_io.) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rnn.h"

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

/* Keras's compute_conv_output_shape, written out. */
static int64_t keras_steps(rnn_padding p, int64_t T, int k, int s, int d) {
    if (p == RNN_PADDING_VALID) return (int64_t)floor((double)(T - (int64_t)d * (k - 1) - 1) / s) + 1;
    return (int64_t)floor((double)(T - 1) / s) + 1;
}

static rnn_model *conv_model(int64_t steps, int64_t C, const rnn_conv1d_options *o) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_set_seed(m, 5);
    rnn_input(m, steps, C);
    if (rnn_add(m, rnn_conv1d(o)) != RNN_OK) {
        rnn_model_free(m);
        return NULL;
    }
    return m;
}

/* y[b, t, f] = act(bias[f] + sum_j sum_c x[b, t*s - pl + j*d, c] W[j, c, f]), zeros outside. */
static void direct_conv(const float *x, int64_t B, int64_t T, int64_t C, const float *W,
                        const float *bias, const rnn_conv1d_options *o, int64_t Tout, float *y) {
    int64_t span = (int64_t)o->dilation_rate * (o->kernel_size - 1), pl = 0;
    if (o->padding == RNN_PADDING_CAUSAL) pl = span;
    if (o->padding == RNN_PADDING_SAME) {
        int64_t total = (Tout - 1) * o->strides + span + 1 - T;
        pl = total > 0 ? total / 2 : 0;
    }
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < Tout; t++)
            for (int f = 0; f < o->filters; f++) {
                double acc = bias ? bias[f] : 0.0;
                for (int j = 0; j < o->kernel_size; j++) {
                    int64_t src = t * o->strides - pl + (int64_t)j * o->dilation_rate;
                    if (src < 0 || src >= T) continue;
                    for (int64_t c = 0; c < C; c++)
                        acc += (double)x[(b * T + src) * C + c] * W[(j * C + c) * o->filters + f];
                }
                y[(b * Tout + t) * o->filters + f] =
                    o->activation == RNN_TANH ? (float)tanh(acc) : (float)acc;
            }
}

static void test_shapes_and_values(void) {
    const rnn_padding pads[3] = {RNN_PADDING_VALID, RNN_PADDING_SAME, RNN_PADDING_CAUSAL};
    const int kinds[][3] = {{1, 1, 1}, {3, 1, 1}, {4, 1, 1}, {3, 2, 1}, {2, 3, 1}, {3, 1, 2},
                            {2, 1, 3}, {5, 1, 1}};
    const int64_t lengths[] = {1, 2, 5, 8, 11};
    enum { B = 2, C = 3 };
    uint64_t seed = 1;
    int compared = 0;
    for (int p = 0; p < 3; p++)
        for (size_t kk = 0; kk < sizeof kinds / sizeof kinds[0]; kk++)
            for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
                int k = kinds[kk][0], s = kinds[kk][1], d = kinds[kk][2];
                int64_t T = lengths[li], want = keras_steps(pads[p], T, k, s, d);
                rnn_conv1d_options o = rnn_conv1d_defaults(4, k);
                o.padding = pads[p];
                o.strides = s;
                o.dilation_rate = d;
                o.activation = (kk % 2) ? RNN_TANH : RNN_LINEAR;
                rnn_model *m = conv_model(T, C, &o);
                if (want <= 0) { /* Keras: "Computed output size would be zero or negative" */
                    CHECK(m == NULL && strstr(rnn_last_error(), "zero or negative"),
                          "T=%lld k=%d d=%d valid should be refused: %s", (long long)T, k, d,
                          rnn_last_error());
                    rnn_model_free(m);
                    continue;
                }
                CHECK(m != NULL, "T=%lld k=%d s=%d d=%d: %s", (long long)T, k, s, d,
                      rnn_last_error());
                if (!m) continue;
                int rank;
                int64_t shape[RNN_MAX_RANK];
                rnn_output_shape(m, &rank, shape);
                CHECK(rank == 3 && shape[1] == want && shape[2] == 4,
                      "padding %d T=%lld k=%d s=%d d=%d: %lld steps, Keras %lld", p, (long long)T,
                      k, s, d, (long long)shape[1], (long long)want);
                /* random weights, bias included, and a direct convolution to compare with */
                float W[5 * C * 4], bias[4], x[B * 11 * C], ref[B * 11 * 4];
                for (int i = 0; i < k * C * 4; i++) W[i] = frand(&seed);
                for (int i = 0; i < 4; i++) bias[i] = frand(&seed);
                for (int i = 0; i < B * T * C; i++) x[i] = frand(&seed);
                CHECK(rnn_set_weight(m, 0, W, k * C * 4) == RNN_OK, "set kernel: %s",
                      rnn_model_error(m));
                CHECK(rnn_set_weight(m, 1, bias, 4) == RNN_OK, "set bias");
                rnn_tensor y;
                rnn_status st = rnn_predict(m, rnn_data_x(rnn_tensor3(x, B, T, C)), B, &y, 1);
                CHECK(st == RNN_OK, "predict: %s", rnn_model_error(m));
                if (!st) {
                    CHECK(y.rank == 3 && y.shape[1] == want, "predicted steps");
                    direct_conv(x, B, T, C, W, bias, &o, want, ref);
                    double worst = 0;
                    for (int64_t i = 0; i < B * want * 4; i++)
                        worst = fmax(worst, fabs((double)y.data[i] - ref[i]));
                    CHECK(worst < 1e-5, "padding %d T=%lld k=%d s=%d d=%d: differs from the "
                          "direct convolution by %g", p, (long long)T, k, s, d, worst);
                    compared++;
                    rnn_tensor_free(&y);
                }
                rnn_model_free(m);
            }
    CHECK(compared > 80, "only %d configurations compared", compared);
}

/* None steps through a stride-2 valid convolution: predict and train see the layer's length. */
static void test_unknown_steps(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, RNN_NONE, 2);
    rnn_conv1d_options o = rnn_conv1d_defaults(3, 3);
    o.strides = 2;
    CHECK(rnn_add(m, rnn_conv1d(&o)) == RNN_OK, "%s", rnn_model_error(m));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    CHECK(rnn_compile(m, "mse", "adam") == RNN_OK, "compile: %s", rnn_model_error(m));
    int rank;
    int64_t shape[RNN_MAX_RANK];
    rnn_output_shape(m, &rank, shape);
    CHECK(rank == 3 && shape[1] == RNN_NONE, "declared output steps should be None");
    float x[2 * 11 * 2], y[2 * 5];
    uint64_t s = 9;
    for (int i = 0; i < 2 * 11 * 2; i++) x[i] = frand(&s);
    for (int i = 0; i < 2 * 5; i++) y[i] = frand(&s);
    const int64_t lengths[] = {11, 3, 8};
    for (int i = 0; i < 3; i++) {
        int64_t T = lengths[i], Tout = (T - 3) / 2 + 1;
        rnn_tensor out;
        CHECK(rnn_predict(m, rnn_data_x(rnn_tensor3(x, 2, T, 2)), 2, &out, 1) == RNN_OK, "T=%lld: %s",
              (long long)T, rnn_model_error(m));
        CHECK(out.rank == 3 && out.shape[1] == Tout && out.shape[2] == 1, "T=%lld: %lld steps",
              (long long)T, (long long)out.shape[1]);
        rnn_tensor_free(&out);
        double loss;
        CHECK(rnn_train_on_batch(m,
                                 rnn_data_xy(rnn_tensor3(x, 2, T, 2), rnn_tensor3(y, 2, Tout, 1)),
                                 &loss) ==
              RNN_OK, "train T=%lld: %s", (long long)T, rnn_model_error(m));
        CHECK(rnn_train_on_batch(m, rnn_data_xy(rnn_tensor3(x, 2, T, 2), rnn_tensor3(y, 2, T, 1)),
                                 &loss) ==
              RNN_ERR_SHAPE, "a target with the input's steps must be refused (T=%lld)",
              (long long)T);
    }
    /* too short for the kernel: an error, not a crash */
    rnn_tensor out;
    CHECK(rnn_predict(m, rnn_data_x(rnn_tensor3(x, 2, 2, 2)), 2, &out, 1) == RNN_ERR_SHAPE &&
          strstr(rnn_model_error(m), "zero or negative"), "T=2 with kernel 3: %s",
          rnn_model_error(m));
    rnn_model_free(m);
}

/* Keras 3: Conv1D does not support masking, so the mask of Masking stops there: the LSTM after it
 * runs over every step. With Masking(0) in front the model predicts what it predicts without. */
static void test_mask_dropped(void) {
    enum { B = 2, T = 6, C = 2 };
    rnn_model *a = rnn_sequential(NULL), *b = rnn_sequential(NULL);
    rnn_input(a, T, C);
    rnn_input(b, T, C);
    rnn_conv1d_options o = rnn_conv1d_defaults(3, 2);
    o.padding = RNN_PADDING_CAUSAL;
    rnn_recurrent_options l = rnn_lstm_defaults(3);
    CHECK(rnn_add(a, rnn_masking(0.0f)) == RNN_OK, "%s", rnn_model_error(a));
    CHECK(rnn_add(a, rnn_conv1d(&o)) == RNN_OK, "%s", rnn_model_error(a));
    CHECK(rnn_add(a, rnn_lstm(&l)) == RNN_OK, "%s", rnn_model_error(a));
    CHECK(rnn_add(b, rnn_conv1d(&o)) == RNN_OK, "%s", rnn_model_error(b));
    CHECK(rnn_add(b, rnn_lstm(&l)) == RNN_OK, "%s", rnn_model_error(b));
    CHECK(rnn_copy_weights(b, a) == RNN_OK, "copy weights: %s", rnn_model_error(b));
    float x[B * T * C];
    uint64_t s = 4;
    for (int i = 0; i < B * T * C; i++) x[i] = frand(&s);
    for (int c = 0; c < C; c++) x[(0 * T + 5) * C + c] = x[(1 * T + 2) * C + c] = 0.0f;
    rnn_tensor ya, yb;
    CHECK(rnn_predict(a, rnn_data_x(rnn_tensor3(x, B, T, C)), B, &ya, 1) == RNN_OK, "%s", rnn_model_error(a));
    CHECK(rnn_predict(b, rnn_data_x(rnn_tensor3(x, B, T, C)), B, &yb, 1) == RNN_OK, "%s", rnn_model_error(b));
    CHECK(rnn_tensor_size(&ya) == 6 && memcmp(ya.data, yb.data, sizeof(float) * 6) == 0,
          "Masking before Conv1D changed the result: the mask must be dropped");
    rnn_tensor_free(&ya);
    rnn_tensor_free(&yb);
    rnn_model_free(a);
    rnn_model_free(b);
}

static void test_stream(void) {
    rnn_conv1d_options o = rnn_conv1d_defaults(2, 3);
    o.padding = RNN_PADDING_CAUSAL;
    rnn_model *m = conv_model(RNN_NONE, 1, &o);
    float x = 0.5f, y[2];
    CHECK(rnn_predict_step(m, &x, y) == RNN_ERR_STATE && strstr(rnn_model_error(m), "Conv1D"),
          "predict_step over a 3-step kernel must be refused: %s", rnn_model_error(m));
    rnn_model_free(m);
    o = rnn_conv1d_defaults(2, 1); /* pointwise: one step is the whole story */
    m = conv_model(RNN_NONE, 1, &o);
    rnn_tensor full;
    CHECK(rnn_predict(m, rnn_data_x(rnn_tensor3(&x, 1, 1, 1)), 1, &full, 1) == RNN_OK, "%s", rnn_model_error(m));
    CHECK(rnn_predict_step(m, &x, y) == RNN_OK && y[0] == full.data[0] && y[1] == full.data[1],
          "kernel_size=1 streams: %s", rnn_model_error(m));
    rnn_tensor_free(&full);
    rnn_model_free(m);
}

static void expect_refused(rnn_conv1d_options o, int64_t steps, int rank2, const char *needle) {
    rnn_model *m = rnn_sequential(NULL);
    if (rank2) rnn_input(m, 0, 4);
    else rnn_input(m, steps, 4);
    rnn_status st = rnn_add(m, rnn_conv1d(&o));
    CHECK(st != RNN_OK && strstr(rnn_model_error(m), needle), "expected \"%s\", got %s: %s",
          needle, rnn_status_name(st), rnn_model_error(m));
    rnn_model_free(m);
}

static void test_bad_options(void) {
    rnn_conv1d_options o = rnn_conv1d_defaults(0, 3);
    expect_refused(o, 8, 0, "filters");
    o = rnn_conv1d_defaults(4, 0);
    expect_refused(o, 8, 0, "kernel_size");
    o = rnn_conv1d_defaults(4, 3);
    o.strides = 0;
    expect_refused(o, 8, 0, "strides");
    o = rnn_conv1d_defaults(4, 3);
    o.dilation_rate = -1;
    expect_refused(o, 8, 0, "dilation_rate");
    o = rnn_conv1d_defaults(4, 3);
    o.strides = 2;
    o.dilation_rate = 2;
    expect_refused(o, 8, 0, "`strides > 1` not supported in conjunction with `dilation_rate > 1`");
    o = rnn_conv1d_defaults(4, 3);
    o.groups = 2;
    expect_refused(o, 8, 0, "groups=2");
    o = rnn_conv1d_defaults(4, 3);
    o.padding = (rnn_padding)7;
    expect_refused(o, 8, 0, "padding");
    o = rnn_conv1d_defaults(4, 3);
    o.activation = (rnn_activation)99;
    expect_refused(o, 8, 0, "activation");
    o = rnn_conv1d_defaults(4, 3);
    expect_refused(o, 8, 1, "ndim");
    o = rnn_conv1d_defaults(4, 9);
    expect_refused(o, 8, 0, "zero or negative");
    CHECK(rnn_conv1d(NULL) == NULL && strstr(rnn_last_error(), "NULL"), "NULL options");
}

int main(void) {
    test_shapes_and_values();
    test_unknown_steps();
    test_mask_dropped();
    test_stream();
    test_bad_options();
    return check_report("test_conv1d");
}
