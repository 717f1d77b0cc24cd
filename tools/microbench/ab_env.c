/* Two settings of the library compared in one process, alternating repetitions, so that this
 * VM's drifting speed (bench/README.md) hits both alike. The library reads no such setting by
 * itself: for an experiment, give the code under test a temporary getenv switch (how the
 * panel, split and row-block variants in bench/README.md were compared), then remove it.
 * Cases, through the public API on 2 threads:
 *   B2i  B2's inference: LSTM(64) -> Dense(1), rnn_predict on (10240, 50, 8), batch 256
 *   B4f  B4's forward: LSTM(512, return_sequences) on (64, 100, 512)
 *   B4t  B4's training step (the same, MSE, Adam)
 *   B6t  B6's training step: LSTM(100) -> RepeatVector(30) -> LSTM(100, return_sequences) ->
 *        TimeDistributed(Dense(4)) on (64, 30, 4), fit(X, X), MSE, Adam; 5 steps per repetition
 *        (one step is 5 ms: single steps were too short to pair against this VM's jitter)
 * VAR is set to VALUE_A for the A repetitions and to VALUE_B for the B ones ("-": unset).
 * Prints the median of the paired ratios B_i / A_i (each B repetition against the A one just
 * before it, with the quartiles), then the median and best time of each. The paired ratio is the
 * figure to read on this VM: its speed drifts 1.5-2x within minutes (B4's training step 240 to
 * 460 ms for one setting within one run), which moves both medians, while two repetitions a
 * fraction of a second apart see nearly the same machine (with B the same as A, 30 pairs gave
 * 1.0004 and 1.0037; bench/README.md, "B4: six ideas measured by paired ratios").
 * Build (from the repository root, after make):
 *   cc -O2 -Iinclude tools/microbench/ab_env.c build/librnn.a -o /tmp/ab_env -lopenblas -lhdf5_serial -lzip -lcjson -lm -lpthread
 * Usage: /tmp/ab_env CASE VAR VALUE_A VALUE_B [reps] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "rnn.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static float *filled(size_t n, unsigned mul, float scale) {
    float *p = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) p[i] = scale * ((float)((i * mul) % 2001) / 1000.0f - 1.0f);
    return p;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s B2i|B4f|B4t|B6t VAR VALUE_A VALUE_B [reps]\n", argv[0]);
        return 2;
    }
    const char *cs = argv[1], *var = argv[2], *val[2] = {argv[3], argv[4]};
    int reps = argc > 5 ? atoi(argv[5]) : 10;
    if (reps < 1 || reps > 64) reps = 10;
    /* OpenBLAS as `rnn bench` runs it (B4t's weight gradients): single-threaded, so that the
     * team splits the products, and on its best kernels where it does not know the CPU */
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    rnn_blas_upgrade_kernels();
    const int b2 = !strcmp(cs, "B2i"), b6 = !strcmp(cs, "B6t");
    const int train = !strcmp(cs, "B4t") || b6, steps = b6 ? 5 : 1;
    const int N = b2 ? 10240 : 64, T = b2 ? 50 : b6 ? 30 : 100, F = b2 ? 8 : b6 ? 4 : 512;
    const int H = b2 ? 64 : b6 ? 100 : 512;
    float *xd = filled((size_t)N * T * F, 2654435761u, 1.0f);
    /* the target: B4t's own, B6t's its input */
    float *yd = train && !b6 ? filled((size_t)N * T * H, 40503u, 0.25f) : NULL;
    rnn_set_threads(2);
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options o = rnn_lstm_defaults(H);
    o.return_sequences = !b2 && !b6;
    rnn_set_seed(m, b6 ? 6 : 4);
    rnn_input(m, T, F);
    rnn_add(m, rnn_lstm(&o));
    if (b2) {
        rnn_dense_options d = rnn_dense_defaults(1);
        rnn_add(m, rnn_dense(&d));
    }
    if (b6) {
        rnn_recurrent_options dec = rnn_lstm_defaults(H);
        dec.return_sequences = 1;
        rnn_add(m, rnn_repeat_vector(T));
        rnn_add(m, rnn_lstm(&dec));
        rnn_add(m, rnn_time_distributed(rnn_dense_simple(F, RNN_LINEAR)));
    }
    if (rnn_compile(m, "mse", "adam")) {
        fprintf(stderr, "%s\n", rnn_last_error());
        return 1;
    }
    rnn_tensor x = rnn_tensor3(xd, N, T, F), out;
    rnn_tensor y = b6 ? x : rnn_tensor3(yd, N, T, H);
    double t_ab[2][64];
    for (int r = 0; r < 2 * reps + 2; r++) { /* the first two: warm-up */
        const int v = r & 1;
        if (!strcmp(val[v], "-")) unsetenv(var);
        else setenv(var, val[v], 1);
        double loss, t0 = now();
        rnn_status st = RNN_OK;
        for (int k = 0; k < steps && !st; k++)
            st = train ? rnn_train_on_batch(m, rnn_data_xy(x, y), &loss)
                 : b2  ? rnn_predict(m, rnn_data_x(x), 256, &out, 1)
                       : rnn_predict_on_batch(m, rnn_data_x(x), &out, 1);
        const double t = (now() - t0) / steps;
        if (st) {
            fprintf(stderr, "%s\n", rnn_last_error());
            return 1;
        }
        if (!train) rnn_tensor_free(&out);
        if (r >= 2) t_ab[v][(r - 2) / 2] = t;
    }
    double ratio[64];
    for (int i = 0; i < reps; i++) ratio[i] = t_ab[1][i] / t_ab[0][i];
    qsort(ratio, reps, sizeof(double), cmp);
    printf("%s paired B/A: median %.4f, quartiles %.4f %.4f\n", cs, ratio[reps / 2],
           ratio[reps / 4], ratio[3 * reps / 4]);
    for (int v = 0; v < 2; v++) {
        qsort(t_ab[v], reps, sizeof(double), cmp);
        printf("%s %s=%s: median %.2f ms, best %.2f ms%s", cs, var, val[v],
               t_ab[v][reps / 2] * 1e3, t_ab[v][0] * 1e3, v ? "\n" : " | ");
    }
    rnn_model_free(m);
    free(xd);
    free(yd);
    return 0;
}
