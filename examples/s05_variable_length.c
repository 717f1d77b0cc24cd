/* Scenario 5: variable-length sequences. input_shape=(None, 1): the number of time steps is
 * free, so every batch may have its own length. Task: each sequence is a hidden level c
 * (uniform in [-1, 1]) plus strong noise (sd 0.5) at every step; the model must estimate c.
 * The longer the sequence, the more evidence it holds, so a model that really reads all the
 * steps gets better with length. Trained with train_on_batch on batches of 3 to 20 steps;
 * tested on 3, 10 and 30 steps (30: longer than anything seen in training). Checks: the error
 * beats the baselines at every length and falls from 3 to 30 steps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <rnn.h>
#include "gallery.h"

enum { B = 32, MAXT = 30 };

static double gauss(void) { /* Box-Muller */
    double u = (rand() + 1.0) / (RAND_MAX + 2.0), v = (rand() + 1.0) / (RAND_MAX + 2.0);
    return sqrt(-2 * log(u)) * cos(6.283185307 * v);
}
static void make_batch(float *x, float *y, int steps) {
    for (int b = 0; b < B; b++) {
        y[b] = (float)(2.0 * rand() / RAND_MAX - 1);
        for (int t = 0; t < steps; t++) x[b * steps + t] = y[b] + (float)(0.5 * gauss());
    }
}

int main(void) {
    int quick = getenv("RNN_QUICK") && atoi(getenv("RNN_QUICK"));
    static float x[B * MAXT], y[B];
    srand(5);
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options o = rnn_lstm_defaults(16);
    rnn_input(m, RNN_NONE, 1);                    /* input_shape=(None, 1) */
    rnn_add(m, rnn_lstm(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    if (gallery(m, "s05_variable_length")) return 0; /* make gallery */
    rnn_optimizer adam = rnn_adam_defaults();
    adam.learning_rate = 0.005f;
    rnn_compile_with(m, "mse", &adam);
    int batches = quick ? 600 : 3000;
    double early = 0, late = 0, loss;
    for (int i = 0; i < batches; i++) {
        int steps = 3 + rand() % 18;              /* a new length for every batch: 3..20 */
        make_batch(x, y, steps);
        if (rnn_train_on_batch(m, rnn_data_xy(rnn_tensor3(x, B, steps, 1), rnn_tensor2(y, B, 1)),
                               &loss)) {
            fprintf(stderr, "%s\n", rnn_model_error(m)); return 1;
        }
        if (i < 50) early += loss / 50;
        if (i >= batches - 50) late += loss / 50;
    }
    printf("trained on %d batches [32, steps, 1] with steps from 3 to 20; loss %.3f -> %.3f\n",
           batches, early, late);
    printf("baselines: predicting 0 has MSE 0.333, the last value 0.25, "
           "the mean of the steps 0.25/steps\n");
    int ok = late < early;
    double prev = 1;
    const int test_steps[3] = {3, 10, MAXT};
    for (int k = 0; k < 3; k++) {
        double se = 0;
        rnn_tensor p;
        for (int r = 0; r < 20; r++) { /* 20 batches of 32 */
            make_batch(x, y, test_steps[k]);
            rnn_predict(m, rnn_data_x(rnn_tensor3(x, B, test_steps[k], 1)), B, &p, 1);
            for (int b = 0; b < B; b++) se += pow(p.data[b] - y[b], 2) / (20 * B);
            rnn_tensor_free(&p);
        }
        printf("predict on [32, %2d, 1] -> [32, 1]: MSE %.4f (mean of the steps: %.4f)\n",
               test_steps[k], se, 0.25 / test_steps[k]);
        ok = ok && se < 0.2 && se < prev;
        prev = se;
    }
    printf("%s\n", ok ? "OK: one model, any length; longer sequences give better estimates"
                      : "FAILED: the model does not use the whole sequence");
    rnn_model_free(m);
    return !ok;
}
