/* The input projection of a large LSTM computed inside the team's step loop from W's panels
 * (plan.project_panels, issue 18): each step's x W + b just before its h U, instead of one
 * product of all steps through the BLAS. Checked on odd shapes (units not a multiple of 16,
 * features past one panel chunk of RNN_PANEL_KC), against one thread (which keeps the BLAS
 * projection) within rounding, and for the same bits on 2 and 3 threads, where B = 40 splits
 * the steps by samples on 2 threads and by units on 3; prediction and a training step (which
 * keeps every step's pre-activations for backward). Predicting, the steps read the input in
 * place (plan.x_in_place) and write h into the returned sequence (plan.h_in_yseq): the same
 * bits as through the time-major copies. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/gemm.h"
#include "kernels/team.h"
#include "layers/recurrent.h"
#include "rnn.h"

enum { B = 40, T = 5, H = 40 };

typedef struct {
    float *y;          /* predictions (B, T, H) */
    double loss;       /* after them, one training step's loss ... */
    float *y_trained;  /* ... and the predictions after that step */
    int project_panels; /* the plan of the first prediction */
    int x_in_place;     /* ... which read the input in place */
    int h_in_yseq;      /* ... and wrote h straight into the returned sequence */
} run_result;

static void fill(float *x, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
    }
}

static float *predict_copy(rnn_model *m, const float *x, int F) {
    rnn_tensor out = {0};
    float *res = NULL;
    if (rnn_predict_on_batch(m, rnn_data_x(rnn_tensor3((float *)x, B, T, F)), &out, 1) != RNN_OK) {
        CHECK(0, "predict: %s", rnn_last_error());
    } else {
        res = malloc(sizeof(float) * (size_t)B * T * H);
        memcpy(res, out.data, sizeof(float) * (size_t)B * T * H);
    }
    rnn_tensor_free(&out);
    return res;
}

static run_result run(int threads, int F, int use_bias, int go_backwards, const float *x,
                      const float *y) {
    run_result res = {0};
    rnn_set_threads(threads > 1 ? 2 : 1);
    rnn__team_set_size(threads);
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options o = rnn_lstm_defaults(H);
    o.return_sequences = 1;
    o.use_bias = use_bias;
    o.go_backwards = go_backwards;
    rnn_layer *lstm = rnn_lstm(&o);
    if (!m || rnn_set_seed(m, 11) || rnn_input(m, T, F) || rnn_add(m, lstm) ||
        rnn_compile(m, "mse", "sgd")) {
        CHECK(0, "model on %d threads: %s", threads, rnn_last_error());
        rnn_model_free(m);
        return res;
    }
    if (use_bias) { /* a bias that is not zero, so that a wrong bias column shows */
        rnn_recurrent *r = rnn__recurrent_of(lstm);
        float *b = (float *)rnn__recurrent_value(r, RNN_W_BIAS);
        fill(b, 4 * H, 5);
        rnn__recurrent_weight(r, RNN_W_BIAS)->version++;
    }
    rnn_recurrent *r = rnn__recurrent_of(lstm);
    res.y = predict_copy(m, x, F);
    res.project_panels = r->plan.project_panels;
    res.x_in_place = r->plan.x_in_place;
    res.h_in_yseq = r->plan.h_in_yseq;
    /* the same prediction through the time-major copies (xt, hs copied to yseq): the same bits */
    r->keep_copies = 1;
    float *y_copied = predict_copy(m, x, F);
    CHECK(!r->plan.x_in_place && !r->plan.h_in_yseq,
          "F %d on %d threads: skipped a layout copy though told not to", F, threads);
    r->keep_copies = 0;
    if (res.y && y_copied)
        CHECK(memcmp(res.y, y_copied, sizeof(float) * (size_t)B * T * H) == 0,
              "F %d bias %d on %d threads: without the layout copies (x in place %d, h in yseq "
              "%d) and with them, different bits", F, use_bias, threads, res.x_in_place,
              res.h_in_yseq);
    free(y_copied);
    /* With h in the returned sequence, the steps write it into rnn_predict's result itself
     * (rnn_run_ctx.out), each batch's rows at their place: in batches of 16, 16 and 8 samples
     * the same bits as in one (the team's steps do the same operations whatever the batch),
     * and the layer's output is the result array. */
    rnn_tensor out = {0};
    if (res.h_in_yseq &&
        rnn_predict(m, rnn_data_x(rnn_tensor3((float *)x, B, T, F)), 16, &out, 1) != RNN_OK) {
        CHECK(0, "predict in batches: %s", rnn_last_error());
    } else if (res.h_in_yseq) {
        CHECK(r->plan.h_in_yseq && lstm->y[0].data == out.data + (size_t)32 * T * H,
              "F %d on %d threads: the last batch's sequence was not written in the result", F,
              threads);
        CHECK(!res.y || memcmp(out.data, res.y, sizeof(float) * (size_t)B * T * H) == 0,
              "F %d bias %d on %d threads: in batches of 16, different bits", F, use_bias,
              threads);
    }
    rnn_tensor_free(&out);
    if (rnn_train_on_batch(m, rnn_data_xy(rnn_tensor3((float *)x, B, T, F),
                                          rnn_tensor3((float *)y, B, T, H)),
                           &res.loss) != RNN_OK)
        CHECK(0, "train on %d threads: %s", threads, rnn_last_error());
    res.y_trained = predict_copy(m, x, F);
    rnn_model_free(m);
    return res;
}

static double worst_diff(const float *a, const float *b) {
    double w = 0;
    for (size_t i = 0; i < (size_t)B * T * H; i++) w = fmax(w, fabs((double)a[i] - b[i]));
    return w;
}

static void check_shape(int F, int use_bias, int go_backwards) {
    const size_t nx = (size_t)B * T * F, ny = (size_t)B * T * H;
    float *x = malloc(sizeof(float) * nx), *y = malloc(sizeof(float) * ny);
    fill(x, nx, 3 + (unsigned)F);
    fill(y, ny, 7);
    run_result r1 = run(1, F, use_bias, go_backwards, x, y),
               r2 = run(2, F, use_bias, go_backwards, x, y),
               r3 = run(3, F, use_bias, go_backwards, x, y);
    CHECK(!r1.project_panels, "F %d: one thread projected in the steps", F);
    /* the plan depends on the CPU (the AVX-512 panel tiles), never on the team's size */
    CHECK(r2.project_panels == !!rnn__gemm_panels_avx512() &&
              r3.project_panels == r2.project_panels,
          "F %d: project_panels %d on 2 threads, %d on 3, AVX-512 %d", F, r2.project_panels,
          r3.project_panels, rnn__gemm_panels_avx512());
    /* predicting with the projection in the steps reads the input in place, unless the steps
     * run backwards in time */
    CHECK(!r1.x_in_place && r2.x_in_place == (r2.project_panels && !go_backwards) &&
              r3.x_in_place == (r3.project_panels && !go_backwards),
          "F %d: x_in_place %d, %d, %d on 1, 2, 3 threads", F, r1.x_in_place, r2.x_in_place,
          r3.x_in_place);
    /* and writes h straight into the returned sequence (go_backwards too) */
    CHECK(!r1.h_in_yseq && r2.h_in_yseq == r2.project_panels &&
              r3.h_in_yseq == r3.project_panels,
          "F %d: h_in_yseq %d, %d, %d on 1, 2, 3 threads", F, r1.h_in_yseq, r2.h_in_yseq,
          r3.h_in_yseq);
    if (r1.y && r2.y && r3.y && r1.y_trained && r2.y_trained && r3.y_trained) {
        CHECK(memcmp(r2.y, r3.y, sizeof(float) * ny) == 0,
              "F %d bias %d: 2 and 3 threads predict different bits", F, use_bias);
        CHECK(memcmp(r2.y_trained, r3.y_trained, sizeof(float) * ny) == 0,
              "F %d bias %d: 2 and 3 threads differ after a training step", F, use_bias);
        const double d = worst_diff(r1.y, r2.y), dt = worst_diff(r1.y_trained, r2.y_trained);
        CHECK(d <= 2e-5, "F %d bias %d: one thread and the team differ by %g", F, use_bias, d);
        CHECK(dt <= 1e-4, "F %d bias %d: after a training step, one thread and the team differ "
              "by %g", F, use_bias, dt);
        CHECK(fabs(r1.loss - r2.loss) <= 1e-5 * fabs(r1.loss) && r1.loss > 0,
              "F %d bias %d: losses %.9g (one thread) and %.9g (team)", F, use_bias, r1.loss,
              r2.loss);
        /* the outputs vary along the sequence and the training step changed them */
        CHECK(r2.y[0] != r2.y[(size_t)(T - 1) * H], "F %d: flat outputs", F);
        CHECK(worst_diff(r2.y, r2.y_trained) > 0, "F %d: the training step changed nothing", F);
    }
    free(r1.y), free(r2.y), free(r3.y);
    free(r1.y_trained), free(r2.y_trained), free(r3.y_trained);
    free(x);
    free(y);
}

/* Bidirectional(LSTM, merge_mode sum / ave / mul), the model's only output: the merged
 * sequence has the size of each direction's, and neither direction may write its sequence into
 * rnn_predict's result (plan.h_in_yseq with rnn_run_ctx.out), where the backward one would
 * overwrite the forward one before the merge reads them (off by 0.4 to 0.9 here when both did). On 2
 * threads (the team's steps, h_in_yseq) against 1 (no team) within rounding, in batches of 16. */
static void check_bidirectional_merged(void) {
    enum { F = 136 };
    static const char *const merges[] = {"sum", "ave", "mul"};
    float *x = malloc(sizeof(float) * (size_t)B * T * F);
    if (!x) return;
    fill(x, (size_t)B * T * F, 7);
    for (size_t k = 0; k < sizeof merges / sizeof merges[0]; k++) {
        rnn_model *m = rnn_sequential(NULL);
        rnn_recurrent_options o = rnn_lstm_defaults(H);
        o.return_sequences = 1;
        CHECK(m && !rnn_set_seed(m, 5) && !rnn_input(m, T, F) &&
                  !rnn_add(m, rnn_bidirectional(rnn_lstm(&o), merges[k])),
              "model: %s", rnn_last_error());
        rnn_tensor y[2] = {{0}, {0}};
        for (int threads = 1; threads <= 2; threads++) {
            rnn_set_threads(threads);
            CHECK(m && rnn_predict(m, rnn_data_x(rnn_tensor3(x, B, T, F)), 16, &y[threads - 1],
                                   1) == RNN_OK,
                  "%s, %d threads: %s", merges[k], threads, rnn_last_error());
        }
        if (y[0].data && y[1].data) {
            const double d = worst_diff(y[0].data, y[1].data);
            CHECK(d < 1e-5, "Bidirectional %s: 2 threads differ from 1 by %g", merges[k], d);
        }
        rnn_tensor_free(&y[0]);
        rnn_tensor_free(&y[1]);
        rnn_model_free(m);
    }
    free(x);
}

int main(void) {
    check_shape(136, 1, 0); /* just above RNN_LOOP_PROJECTION_FEATURES */
    check_shape(136, 0, 0);
    check_shape(520, 1, 0); /* two chunks of the panels' sum */
    check_shape(136, 1, 1); /* go_backwards: from xt */
    check_bidirectional_merged();
    rnn_set_threads(0);
    return check_report("test_project_panels");
}
