/* Scenario 6: one-to-many, both ways.
 * (a) RepeatVector: one input vector [batch, 2] = (amplitude, frequency) is repeated over 10
 *     steps ([batch, 10, 2]) and LSTM(32, return_sequences) -> TimeDistributed(Dense(1)) draws
 *     the wave a*sin(w*t) for t = 1..10: output [batch, 10, 1].
 * (b) Feeding predictions back: a model learns one step of a rotation (a point (x, y) on a
 *     circle moves 0.3 rad per step; its output has as many features as its input). Its weights
 *     go into a stateful batch-1 copy (batch_input_shape=(1, 1, 2)), which gets only the start
 *     point and then its own predictions, one step at a time, with reset_states() before and
 *     after. Checks: (a) the loss is far below the target's variance; (b) the generated circle
 *     stays far closer to the true one than standing still at the start point does. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <rnn.h>

enum { N = 512, T = 10, L = 20 };

static float urand(float lo, float hi) { return lo + (hi - lo) * (float)rand() / (float)RAND_MAX; }

int main(void) {
    int quick = getenv("RNN_QUICK") && atoi(getenv("RNN_QUICK"));
    static float pa[N * 2], ya[N * T], xb[N * (L - 1) * 2], yb[N * (L - 1) * 2];
    srand(6);
    double var = 0;
    for (int i = 0; i < N; i++) {
        pa[2 * i] = urand(0.2f, 1), pa[2 * i + 1] = urand(0.2f, 0.8f);
        for (int t = 0; t < T; t++) ya[i * T + t] = pa[2 * i] * sinf(pa[2 * i + 1] * (t + 1));
        for (int t = 0; t < T; t++) var += ya[i * T + t] * ya[i * T + t] / (N * T);
    }
    /* (a) Input((2,)) -> RepeatVector(10) -> LSTM(32, seq) -> TimeDistributed(Dense(1)) */
    rnn_recurrent_options o = rnn_lstm_defaults(32);
    o.return_sequences = 1;
    rnn_symbol *in = rnn_input_new(RNN_NONE, 0, 2, NULL);
    rnn_symbol *h = rnn_call(rnn_lstm(&o), rnn_call(rnn_repeat_vector(T), in));
    h = rnn_call(rnn_time_distributed(rnn_dense_simple(1, RNN_LINEAR)), h);
    rnn_model *a = rnn_model_simple(in, h, NULL);
    rnn_optimizer adam = rnn_adam_defaults();
    adam.learning_rate = 0.005f;
    rnn_compile_with(a, "mse", &adam);
    rnn_fit_options f = rnn_fit_defaults();
    f.epochs = quick ? 30 : 150; f.batch_size = 32; f.verbose = 0;
    rnn_history hist;
    if (rnn_fit(a, rnn_data_xy(rnn_tensor2(pa, N, 2), rnn_tensor3(ya, N, T, 1)), &f, &hist)) {
        fprintf(stderr, "%s\n", rnn_model_error(a)); return 1;
    }
    rnn_tensor p;
    rnn_predict(a, rnn_data_x(rnn_tensor2(pa, N, 2)), 256, &p, 1);
    printf("(a) input [%d, 2] -> RepeatVector -> [%d, %d, 2] -> output [%lld, %lld, %lld]; "
           "loss %.4f -> %.4f (target variance %.4f)\n", N, N, T, (long long)p.shape[0],
           (long long)p.shape[1],
           (long long)p.shape[2], hist.loss[0], hist.loss[hist.epochs - 1], var);
    printf("    sample 1, a=%.2f w=%.2f: wave %.2f %.2f %.2f ..., predicted %.2f %.2f %.2f ...\n",
           pa[2], pa[3], ya[T], ya[T + 1], ya[T + 2], p.data[T], p.data[T + 1], p.data[T + 2]);
    int ok_a = hist.loss[hist.epochs - 1] < 0.1 * var;
    rnn_tensor_free(&p); rnn_history_free(&hist);

    /* (b) train next-step prediction on whole circles: X = seq[:, :-1], Y = seq[:, 1:] */
    for (int i = 0; i < N; i++) {
        float r = urand(0.4f, 0.9f), th = urand(0, 6.2832f);
        for (int t = 0; t < L; t++) {
            float px = r * cosf(th + 0.3f * t), py = r * sinf(th + 0.3f * t);
            if (t < L - 1) xb[(i * (L - 1) + t) * 2] = px, xb[(i * (L - 1) + t) * 2 + 1] = py;
            if (t > 0) yb[(i * (L - 1) + t - 1) * 2] = px, yb[(i * (L - 1) + t - 1) * 2 + 1] = py;
        }
    }
    rnn_model *b = rnn_sequential(NULL), *g = rnn_sequential(NULL);
    rnn_recurrent_options ob = rnn_lstm_defaults(32);
    ob.return_sequences = 1;
    rnn_input(b, RNN_NONE, 2);
    rnn_add(b, rnn_lstm(&ob));
    rnn_add(b, rnn_dense_simple(2, RNN_LINEAR)); /* output features = input features */
    rnn_compile_with(b, "mse", &adam);
    f.epochs = quick ? 25 : 100;
    if (rnn_fit(b, rnn_data_xy(rnn_tensor3(xb, N, L - 1, 2), rnn_tensor3(yb, N, L - 1, 2)), &f,
                NULL)) {
        fprintf(stderr, "%s\n", rnn_model_error(b)); return 1;
    }
    ob.stateful = 1;                             /* the same architecture, stateful, batch 1 */
    rnn_batch_input(g, 1, 1, 2);
    rnn_add(g, rnn_lstm(&ob));
    rnn_add(g, rnn_dense_simple(2, RNN_LINEAR));
    if (rnn_copy_weights(g, b)) { fprintf(stderr, "%s\n", rnn_model_error(g)); return 1; }
    float step[2] = {0.7f, 0.0f}, se = 0, se_still = 0; /* start point: radius 0.7, angle 0 */
    rnn_reset_states(g);
    printf("(b) start (%.2f, %.2f), then each prediction [1, 1, 2] is the next input:\n   ",
           step[0], step[1]);
    for (int t = 1; t < L; t++) {
        rnn_predict(g, rnn_data_x(rnn_tensor3(step, 1, 1, 2)), 1, &p, 1);
        step[0] = p.data[0], step[1] = p.data[1];
        rnn_tensor_free(&p);
        float tx = 0.7f * cosf(0.3f * t), ty = 0.7f * sinf(0.3f * t);
        se += ((step[0] - tx) * (step[0] - tx) + (step[1] - ty) * (step[1] - ty)) / (L - 1);
        se_still += ((0.7f - tx) * (0.7f - tx) + ty * ty) / (L - 1);
        if (t % 4 == 0) printf(" t=%d (%.2f, %.2f) true (%.2f, %.2f)", t, step[0], step[1], tx, ty);
    }
    rnn_reset_states(g);
    printf("\n    squared distance to the true circle over %d steps: %.4f (standing still: %.4f)\n",
           L - 1, se, se_still);
    int ok_b = se < 0.2f * se_still;
    printf("%s\n", ok_a && ok_b ? "OK: one input, many outputs, both ways"
                                : ok_a ? "FAILED: (b) the fed-back predictions drift away"
                                       : "FAILED: (a) the RepeatVector model did not learn");
    rnn_model_free(a); rnn_model_free(b); rnn_model_free(g);
    return !(ok_a && ok_b);
}
