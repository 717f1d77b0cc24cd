/* The merge layers refuse what does not fit with Keras's messages (or, where Keras would
 * broadcast, with librnn's), at the call; inputs whose unknown step counts differ at run time
 * are an error, not a buffer overrun. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "rnn.h"

/* Calls layer on inputs of these shapes ([batch, steps, features]; steps 0: rank 2); returns
 * the status and leaves the message in rnn_last_error(). */
static rnn_status call_on(rnn_layer *layer, int n, const int64_t (*shape)[2]) {
    rnn_symbol *in[4] = {NULL}, *out[6];
    for (int k = 0; k < n; k++) in[k] = rnn_input_new(RNN_NONE, shape[k][0], shape[k][1], NULL);
    rnn_status st = rnn_call_ex(layer, in, n, out, NULL);
    if (st) rnn_layer_free(layer);
    for (int k = 0; k < n; k++) rnn_input_free(in[k]);
    return st;
}

static void expect(const char *what, rnn_status got, rnn_status want, const char *needle) {
    CHECK(got == want, "%s: status %s, want %s (%s)", what, rnn_status_name(got),
          rnn_status_name(want), rnn_last_error());
    CHECK(strstr(rnn_last_error(), needle) != NULL, "%s: message \"%s\" lacks \"%s\"", what,
          rnn_last_error(), needle);
}

static void call_errors(void) {
    expect("Subtract of 3", call_on(rnn_merge(RNN_MERGE_SUBTRACT), 3,
                                    (const int64_t[][2]){{5, 3}, {5, 3}, {5, 3}}),
           RNN_ERR_ARGUMENT, "A `Subtract` layer should be called on exactly 2 inputs. Received: "
           "input_shape=[(None, 5, 3), (None, 5, 3), (None, 5, 3)]");
    expect("Add of clashing shapes", call_on(rnn_merge(RNN_MERGE_ADD), 2,
                                             (const int64_t[][2]){{5, 3}, {5, 4}}),
           RNN_ERR_SHAPE, "Inputs have incompatible shapes. Received shapes (5, 3) and (5, 4)");
    expect("Maximum that Keras would broadcast", call_on(rnn_merge(RNN_MERGE_MAXIMUM), 2,
                                                        (const int64_t[][2]){{5, 3}, {1, 3}}),
           RNN_ERR_UNSUPPORTED, "broadcast");
    expect("Multiply of ranks 3 and 2", call_on(rnn_merge(RNN_MERGE_MULTIPLY), 2,
                                                (const int64_t[][2]){{5, 3}, {0, 3}}),
           RNN_ERR_UNSUPPORTED, "broadcast");
    expect("Concatenate of clashing shapes", call_on(rnn_concatenate(-1), 2,
                                                     (const int64_t[][2]){{5, 3}, {4, 3}}),
           RNN_ERR_SHAPE, "A `Concatenate` layer requires inputs with matching shapes except for "
           "the concatenation axis. Received: input_shape=[(None, 5, 3), (None, 4, 3)]");
    expect("Concatenate along the batch", call_on(rnn_concatenate(0), 2,
                                                  (const int64_t[][2]){{5, 3}, {5, 3}}),
           RNN_ERR_UNSUPPORTED, "axis=0");
    expect("Concatenate along unknown steps", call_on(rnn_concatenate(1), 2,
                                                      (const int64_t[][2]){{RNN_NONE, 3}, {4, 3}}),
           RNN_ERR_UNSUPPORTED, "known number of steps");
    expect("Dot of 3", call_on(rnn_dot(1, 1, 0), 3, (const int64_t[][2]){{0, 3}, {0, 3}, {0, 3}}),
           RNN_ERR_ARGUMENT, "A `Dot` layer should be called on a list of 2 inputs");
    expect("Dot over clashing axes", call_on(rnn_dot(2, 2, 0), 2,
                                             (const int64_t[][2]){{5, 3}, {5, 4}}),
           RNN_ERR_SHAPE, "Incompatible input shapes: axis values 3 (at axis 2) != 4 (at axis 2). "
           "Full input shapes: (None, 5, 3), (None, 5, 4)");
    expect("Dot over the batch", call_on(rnn_dot(0, 0, 0), 2, (const int64_t[][2]){{0, 3}, {0, 3}}),
           RNN_ERR_ARGUMENT, "Cannot perform batch_dot over axis 0");
    expect("Dot axes out of range", call_on(rnn_dot(3, 1, 0), 2,
                                            (const int64_t[][2]){{5, 3}, {0, 3}}),
           RNN_ERR_ARGUMENT, "out of range");
    expect("Dot with an unknown output dimension", call_on(rnn_dot(2, 2, 0), 2,
                                                           (const int64_t[][2]){{5, 3},
                                                                                {RNN_NONE, 3}}),
           RNN_ERR_UNSUPPORTED, "unknown dimension");
    CHECK(rnn_merge((rnn_merge_op)17) == NULL && strstr(rnn_last_error(), "unknown merge"),
          "an unknown merge operation: %s", rnn_last_error());
    /* what does fit: shapes and names as Keras gives them */
    rnn_symbol *a = rnn_input_new(RNN_NONE, 5, 3, NULL), *b = rnn_input_new(RNN_NONE, 7, 3, NULL);
    rnn_symbol *out[6];
    rnn_layer *cat = rnn_concatenate(1), *dot = rnn_dot(2, 2, 1);
    CHECK(rnn_call_ex(cat, (rnn_symbol *[]){a, b}, 2, out, NULL) == RNN_OK, "%s", rnn_last_error());
    rnn_symbol *d[1];
    CHECK(rnn_call_ex(dot, (rnn_symbol *[]){a, b}, 2, d, NULL) == RNN_OK, "%s", rnn_last_error());
    rnn_model *m = rnn_model_new((rnn_symbol *[]){a, b}, 2, (rnn_symbol *[]){out[0], d[0]}, 2, NULL);
    CHECK(m != NULL, "model: %s", rnn_last_error());
    if (m) {
        CHECK(!strcmp(rnn_layer_name(cat), "concatenate") && !strcmp(rnn_layer_name(dot), "dot"),
              "names %s %s", rnn_layer_name(cat), rnn_layer_name(dot));
        int rank;
        int64_t shape[RNN_MAX_RANK];
        CHECK(rnn_output_shape(m, &rank, shape) == RNN_OK && rank == 3 && shape[1] == 12 &&
              shape[2] == 3, "Concatenate(axis=1) output (None, 12, 3)");
        rnn_model_free(m);
    }
}

/* Two inputs of unknown steps fed different step counts: refused when run (the buffers are
 * planned from the first input's steps); fed equal ones: run. */
static void runtime_mismatch(void) {
    static float xa[2 * 4 * 2], xb[2 * 6 * 2];
    for (int i = 0; i < 2 * 6 * 2; i++) xb[i] = (float)(i % 5) - 2;
    for (int i = 0; i < 2 * 4 * 2; i++) xa[i] = (float)(i % 3) - 1;
    for (int c = 0; c < 3; c++) {
        rnn_symbol *a = rnn_input_new(RNN_NONE, RNN_NONE, 2, NULL);
        rnn_symbol *b = rnn_input_new(RNN_NONE, RNN_NONE, 2, NULL);
        rnn_layer *layer = c == 0 ? rnn_merge(RNN_MERGE_ADD) : c == 1 ? rnn_concatenate(-1)
                                                                      : rnn_dot(1, 1, 0);
        rnn_symbol *out[6];
        CHECK(rnn_call_ex(layer, (rnn_symbol *[]){a, b}, 2, out, NULL) == RNN_OK, "%s",
              rnn_last_error());
        rnn_model *m = rnn_model_new((rnn_symbol *[]){a, b}, 2, out, 1, NULL);
        CHECK(m != NULL, "model: %s", rnn_last_error());
        if (!m) continue;
        rnn_tensor x[2] = {rnn_tensor3(xa, 2, 4, 2), rnn_tensor3(xb, 2, 6, 2)}, y = {0};
        rnn_status st = rnn_predict(m, rnn_data_arrays(x, 2, NULL, 0), 2, &y, 1);
        CHECK(st == RNN_ERR_SHAPE && strstr(rnn_model_error(m), "do not fit together"),
              "%s on 4 and 6 steps: %s %s", rnn_layer_name(layer), rnn_status_name(st),
              rnn_model_error(m));
        rnn_tensor_free(&y);
        x[1] = rnn_tensor3(xb, 2, 4, 2);
        CHECK(rnn_predict(m, rnn_data_arrays(x, 2, NULL, 0), 2, &y, 1) == RNN_OK,
              "%s on 4 and 4 steps: %s", rnn_layer_name(layer), rnn_model_error(m));
        rnn_tensor_free(&y);
        rnn_model_free(m);
    }
}

/* rnn_predict_step: Concatenate along the steps and Dot across them cannot run one step at a
 * time and say so; an element-wise merge streams, step by step as over the whole sequence. */
static void streaming(void) {
    for (int c = 0; c < 3; c++) {
        rnn_symbol *in = rnn_input_new(1, 4, 2, NULL);
        rnn_symbol *br[2] = {rnn_call(rnn_dense_simple(3, RNN_TANH), in),
                             rnn_call(rnn_dense_simple(3, RNN_LINEAR), in)};
        rnn_layer *layer = c == 0 ? rnn_concatenate(1) : c == 1 ? rnn_dot(1, 1, 0)
                                                                : rnn_merge(RNN_MERGE_ADD);
        rnn_symbol *out[6];
        CHECK(rnn_call_ex(layer, br, 2, out, NULL) == RNN_OK, "%s", rnn_last_error());
        rnn_model *m = rnn_model_simple(in, out[0], NULL);
        CHECK(m != NULL, "model: %s", rnn_last_error());
        if (!m) continue;
        float x[4 * 2] = {0.5f, -1, 0.25f, 2, -0.75f, 1, 1.5f, -0.5f}, y[3 * 3];
        rnn_status st = rnn_predict_step(m, x, y);
        if (c < 2) {
            CHECK(st == RNN_ERR_STATE && strstr(rnn_model_error(m), "one step at a time"),
                  "%s streamed: %s %s", rnn_layer_name(layer), rnn_status_name(st),
                  rnn_model_error(m));
        } else {
            rnn_tensor all = {0};
            CHECK(rnn_predict(m, rnn_data_x(rnn_tensor3(x, 1, 4, 2)), 1, &all, 1) == RNN_OK,
                  "predict: %s", rnn_model_error(m));
            for (int t = 0; t < 4 && all.data; t++) {
                CHECK(rnn_predict_step(m, x + 2 * t, y) == RNN_OK, "step %d: %s", t,
                      rnn_model_error(m));
                CHECK(!memcmp(y, all.data + 3 * t, sizeof(float) * 3), "Add: step %d differs", t);
            }
            rnn_tensor_free(&all);
        }
        rnn_model_free(m);
    }
}

int main(void) {
    call_errors();
    runtime_mismatch();
    streaming();
    return check_report("test_merge_errors");
}
