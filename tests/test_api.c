/* The public header's contracts (issue 13 item 7): one data description (rnn_data) for fit,
 * evaluate, predict, train_on_batch and predict_on_batch, whichever form the data takes; owned
 * arrays and borrowed views (rnn_tensor_free frees only the former). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "rnn.h"

enum { N = 12, T = 5, F = 3 };

static float xs[N * T * F], ys[N];

static rnn_model *small_model(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, T, F);
    rnn_recurrent_options o = rnn_lstm_defaults(4);
    rnn_add(m, rnn_lstm(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_set_seed(m, 7);
    rnn_compile(m, "mse", "adam");
    return m;
}

typedef struct {
    rnn_tensor x, y;
} one_batch;

static rnn_status one_get(void *user, int64_t index, rnn_tensor *x, rnn_tensor *y) {
    (void)index;
    one_batch *b = user;
    x[0] = b->x;
    y[0] = b->y;
    return RNN_OK;
}

static void test_forms_agree(void) {
    rnn_model *m = small_model();
    rnn_tensor x = rnn_tensor3(xs, N, T, F), y = rnn_tensor2(ys, N, 1);
    rnn_add_metric(m, "binary_accuracy");

    /* predict: one array, a list of one, and predict_on_batch give the same bits */
    rnn_tensor p1 = {0}, p2 = {0}, p3 = {0};
    CHECK(rnn_predict(m, rnn_data_x(x), 4, &p1, 1) == RNN_OK, "%s", rnn_last_error());
    CHECK(rnn_predict(m, rnn_data_arrays(&x, 1, NULL, 0), 4, &p2, 1) == RNN_OK, "%s",
          rnn_last_error());
    CHECK(rnn_predict_on_batch(m, rnn_data_arrays(&x, 1, NULL, 0), &p3, 1) == RNN_OK, "%s",
          rnn_last_error());
    CHECK(p1.data && p2.data && p3.data && p1.shape[0] == N && p2.shape[0] == N &&
              p3.shape[0] == N,
          "predict shapes");
    if (p1.data && p2.data && p3.data) {
        CHECK(memcmp(p1.data, p2.data, sizeof(float) * N) == 0, "list form predicts other bits");
        CHECK(memcmp(p1.data, p3.data, sizeof(float) * N) == 0,
              "predict_on_batch predicts other bits");
    }
    rnn_tensor_free(&p1);
    rnn_tensor_free(&p2);
    rnn_tensor_free(&p3);

    /* evaluate: arrays, lists and a one-batch source give the same loss and metric */
    double l1 = -1, l2 = -2, l3 = -3, m1[RNN_MAX_METRICS] = {-1}, m2[RNN_MAX_METRICS] = {-2},
           m3[RNN_MAX_METRICS] = {-3};
    CHECK(rnn_evaluate(m, rnn_data_xy(x, y), N, &l1, m1) == RNN_OK, "%s", rnn_last_error());
    CHECK(rnn_evaluate(m, rnn_data_arrays(&x, 1, &y, 1), N, &l2, m2) == RNN_OK, "%s",
          rnn_last_error());
    one_batch b = {x, y};
    rnn_batch_source src = {1, one_get, NULL, &b, NULL};
    CHECK(rnn_evaluate(m, rnn_data_source(&src), 0, &l3, m3) == RNN_OK, "%s", rnn_last_error());
    CHECK(l1 == l2 && l1 == l3, "losses %.9g %.9g %.9g", l1, l2, l3);
    CHECK(m1[0] == m2[0] && m1[0] == m3[0], "metrics %.9g %.9g %.9g", m1[0], m2[0], m3[0]);
    rnn_model_free(m);
}

static void test_forms_refused(void) {
    rnn_model *m = small_model();
    rnn_tensor x = rnn_tensor3(xs, N, T, F), y = rnn_tensor2(ys, N, 1);
    one_batch b = {x, y};
    rnn_batch_source src = {1, one_get, NULL, &b, NULL};
    rnn_fit_options fo = rnn_fit_defaults();
    fo.verbose = 0;

    rnn_data mixed = rnn_data_xy(x, y);
    mixed.source = &src;
    CHECK(rnn_fit(m, mixed, &fo, NULL) == RNN_ERR_ARGUMENT, "mixed forms accepted by fit");
    CHECK(strstr(rnn_model_error(m), "mixes") != NULL, "message: %s", rnn_model_error(m));
    double loss;
    rnn_data mixed2 = rnn_data_arrays(&x, 1, &y, 1);
    mixed2.x = x;
    CHECK(rnn_evaluate(m, mixed2, 4, &loss, NULL) == RNN_ERR_ARGUMENT,
          "mixed forms accepted by evaluate");

    fo.validation_source = &src;
    CHECK(rnn_fit(m, rnn_data_xy(x, y), &fo, NULL) == RNN_ERR_ARGUMENT,
          "validation_source accepted with arrays");
    CHECK(rnn_fit(m, rnn_data_source(&src), &fo, NULL) == RNN_OK, "fit on a source: %s",
          rnn_model_error(m));

    rnn_tensor p = {0};
    CHECK(rnn_predict(m, rnn_data_source(&src), 4, &p, 1) == RNN_ERR_ARGUMENT,
          "predict on a source accepted");
    CHECK(strstr(rnn_model_error(m), "rnn_predict_source") != NULL, "message: %s",
          rnn_model_error(m));
    CHECK(p.data == NULL, "no output on failure");
    CHECK(rnn_train_on_batch(m, rnn_data_source(&src), &loss) == RNN_ERR_ARGUMENT,
          "train_on_batch on a source accepted");
    rnn_model_free(m);
}

/* rnn_tensor_free leaves a view's memory alone (free() on a stack buffer would abort) and frees
 * what the library allocated (LeakSanitizer in make test-sanitize sees a leak otherwise). */
static void test_views_and_owned(void) {
    float stack[6] = {1, 2, 3, 4, 5, 6};
    rnn_tensor v = rnn_tensor2(stack, 3, 2);
    CHECK(v.owned == 0, "rnn_tensor2 makes a view");
    rnn_tensor_free(&v);
    CHECK(v.data == NULL && v.rank == 0, "the view is cleared");
    CHECK(stack[0] == 1 && stack[5] == 6, "the viewed memory is untouched");
    rnn_tensor_free(NULL);

    rnn_tensor x = {0}, y = {0};
    float series[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    CHECK(rnn_create_dataset(series, 10, 3, &x, &y) == RNN_OK, "%s", rnn_last_error());
    CHECK(x.owned == 1 && y.owned == 1, "rnn_create_dataset gives owned arrays");

    /* a batch of an array source is a view, even over an owned array */
    rnn_batch_source src;
    rnn_array_source_state st;
    CHECK(rnn_array_source(&src, &st, x, y, 2) == RNN_OK, "%s", rnn_last_error());
    rnn_tensor bx[1] = {{0}}, by[1] = {{0}};
    CHECK(src.get(src.user, 1, bx, by) == RNN_OK, "%s", rnn_last_error());
    CHECK(bx[0].owned == 0 && by[0].owned == 0 && bx[0].data == x.data + 6, "batch views");
    rnn_tensor_free(&bx[0]); /* must not free the middle of x */
    rnn_tensor_free(&by[0]);

    char path[64];
    snprintf(path, sizeof path, "/tmp/rnn_test_api_%ld.npy", (long)getpid());
    CHECK(rnn_npy_save(path, &x) == RNN_OK, "%s", rnn_last_error());
    rnn_tensor l = {0};
    CHECK(rnn_npy_load(path, &l) == RNN_OK, "%s", rnn_last_error());
    CHECK(l.owned == 1 && l.rank == 3 && l.shape[0] == 6, "rnn_npy_load gives an owned array");
    CHECK(l.data && l.data[6] == x.data[6], "loaded values");
    unlink(path);
    rnn_tensor_free(&l);
    CHECK(l.data == NULL && l.owned == 0, "the owned array is cleared");

    rnn_model *m = small_model();
    rnn_tensor p = {0};
    CHECK(rnn_predict(m, rnn_data_x(rnn_tensor3(xs, N, T, F)), 4, &p, 1) == RNN_OK, "%s",
          rnn_last_error());
    CHECK(p.owned == 1, "rnn_predict gives an owned array");
    rnn_tensor_free(&p);
    rnn_model_free(m);
    rnn_tensor_free(&x);
    rnn_tensor_free(&y);
}

/* Weight names stay valid and right while the model lives, however many are asked for. */
static void test_weight_names(void) {
    rnn_model *m = small_model();
    const char *a = NULL, *b = NULL, *c = NULL;
    CHECK(rnn_weight_info(m, 0, &a, NULL, NULL) == RNN_OK, "%s", rnn_last_error());
    CHECK(rnn_weight_info(m, 1, &b, NULL, NULL) == RNN_OK, "%s", rnn_last_error());
    for (int i = 0; i < rnn_weight_count(m); i++) rnn_weight_info(m, i, &c, NULL, NULL);
    CHECK(a && !strcmp(a, "lstm/kernel"), "first name: %s", a ? a : "(null)");
    CHECK(b && !strcmp(b, "lstm/recurrent_kernel"), "second name: %s", b ? b : "(null)");
    CHECK(c && !strcmp(c, "dense/bias"), "last name: %s", c ? c : "(null)");
    rnn_model_free(m);
}

int main(void) {
    uint64_t s = 1;
    for (int i = 0; i < N * T * F; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        xs[i] = (float)((s >> 40) & 0xffff) / 65536.0f;
    }
    for (int i = 0; i < N; i++) ys[i] = xs[i * T * F] > 0.5f ? 1.0f : 0.0f;
    test_forms_agree();
    test_forms_refused();
    test_views_and_owned();
    test_weight_names();
    return check_report("test_api");
}
