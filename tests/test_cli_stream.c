/* `rnn predict --stateful-stream`: the input's steps fed one at a time with the state carried
 * equal the full-sequence prediction of the same model (every step's output); a model with a
 * fixed batch streams that many sequences; wrong shapes are refused with the expected shape. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "rnn.h"

static char dir[64];

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

/* Runs build/rnn with args; stderr goes to dir/err.txt. Returns the exit status. */
static int rnn_cmd(const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "build/rnn %s >/dev/null 2>%s/err.txt", args, dir);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int err_contains(const char *text) {
    char p[128], buf[4096] = {0};
    snprintf(p, sizeof p, "%s/err.txt", dir);
    FILE *f = fopen(p, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, text) != NULL;
}

/* LSTM(6, return_sequences) -> GRU(4, return_sequences) -> Dense(2) on 3 features; batch B
 * fixed (stateful) when B > 1. */
static rnn_model *stream_model(int B) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_set_seed(m, 9);
    rnn_recurrent_options l = rnn_lstm_defaults(6), g = rnn_gru_defaults(4);
    l.return_sequences = g.return_sequences = 1;
    l.stateful = g.stateful = B > 1;
    rnn_status st = B > 1 ? rnn_batch_input(m, B, RNN_NONE, 3) : rnn_input(m, RNN_NONE, 3);
    if (!st) st = rnn_add(m, rnn_lstm(&l));
    if (!st) st = rnn_add(m, rnn_gru(&g));
    if (!st) st = rnn_add(m, rnn_dense_simple(2, RNN_TANH));
    CHECK(st == RNN_OK, "model: %s", rnn_last_error());
    return m;
}

static void check_stream(int B, int with_batch_axis) {
    enum { T = 9, F = 3, O = 2 };
    rnn_model *m = stream_model(B);
    float x[4 * T * F];
    uint64_t s = 5 + (uint64_t)B;
    for (int i = 0; i < B * T * F; i++) x[i] = frand(&s);
    char model[128], xin[128], yout[128], args[1024];
    snprintf(model, sizeof model, "%s/m%d.keras", dir, B);
    snprintf(xin, sizeof xin, "%s/x%d.npy", dir, B);
    snprintf(yout, sizeof yout, "%s/y%d.npy", dir, B);
    rnn_tensor xt = with_batch_axis ? rnn_tensor3(x, B, T, F) : rnn_tensor2(x, T, F);
    CHECK(rnn_save(m, model) == RNN_OK, "save: %s", rnn_model_error(m));
    CHECK(rnn_npy_save(xin, &xt) == RNN_OK, "npy");
    snprintf(args, sizeof args, "predict %s --input %s --output %s --stateful-stream", model, xin, yout);
    CHECK(rnn_cmd(args) == 0, "rnn predict --stateful-stream (B=%d) failed", B);
    rnn_tensor ys = {0}, yfull = {0};
    CHECK(rnn_npy_load(yout, &ys) == RNN_OK, "reading the output: %s", rnn_last_error());
    rnn_reset_states(m);
    CHECK(rnn_predict(m, rnn_data_x(rnn_tensor3(x, B, T, F)), B, &yfull, 1) == RNN_OK, "predict: %s",
          rnn_model_error(m));
    CHECK(ys.rank == (with_batch_axis ? 3 : 2) && ys.shape[ys.rank - 2] == T &&
          ys.shape[ys.rank - 1] == O, "output shape: rank %d", ys.rank);
    double worst = 0;
    if (ys.data && yfull.data && rnn_tensor_size(&ys) == B * T * O)
        for (int i = 0; i < B * T * O; i++) {
            double d = fabs((double)ys.data[i] - yfull.data[i]);
            if (d > worst) worst = d;
        }
    else
        worst = 1;
    CHECK(worst <= 1e-6, "B=%d: streamed steps differ from the full-sequence prediction by %g", B,
          worst);
    fprintf(stderr, "stream B=%d: max |step - sequence| = %.2g\n", B, worst);
    rnn_tensor_free(&ys);
    rnn_tensor_free(&yfull);
    rnn_model_free(m);
}

/* One stream of one feature given as (steps, 1): 50 steps, not 50 streams (it was refused with
 * a message that named this very shape as accepted). */
static void check_one_feature(void) {
    enum { T = 50 };
    rnn_model *m = rnn_sequential(NULL);
    rnn_set_seed(m, 4);
    rnn_recurrent_options l = rnn_lstm_defaults(3);
    l.return_sequences = 1;
    rnn_status st = rnn_input(m, RNN_NONE, 1);
    if (!st) st = rnn_add(m, rnn_lstm(&l));
    if (!st) st = rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    CHECK(st == RNN_OK, "model: %s", rnn_last_error());
    float x[T];
    uint64_t seed = 11;
    for (int i = 0; i < T; i++) x[i] = frand(&seed);
    char model[128], xin[128], yout[128], args[1024];
    snprintf(model, sizeof model, "%s/one.keras", dir);
    snprintf(xin, sizeof xin, "%s/one_x.npy", dir);
    snprintf(yout, sizeof yout, "%s/one_y.npy", dir);
    rnn_tensor xt = rnn_tensor2(x, T, 1);
    CHECK(rnn_save(m, model) == RNN_OK && rnn_npy_save(xin, &xt) == RNN_OK, "writing the inputs");
    snprintf(args, sizeof args, "predict %s --input %s --output %s --stateful-stream", model, xin, yout);
    CHECK(rnn_cmd(args) == 0, "a (50, 1) input of a one-feature model was refused");
    rnn_tensor ys = {0}, yfull = {0};
    CHECK(rnn_npy_load(yout, &ys) == RNN_OK && ys.rank == 2 && ys.shape[0] == T && ys.shape[1] == 1,
          "the (steps, 1) stream's output should be (50, 1)");
    CHECK(rnn_predict(m, rnn_data_x(rnn_tensor3(x, 1, T, 1)), 1, &yfull, 1) == RNN_OK, "predict");
    int same = ys.data && yfull.data && ys.rank == 2 && ys.shape[0] == T;
    for (int i = 0; same && i < T; i++) same = fabsf(ys.data[i] - yfull.data[i]) <= 1e-6f;
    CHECK(same, "the streamed steps differ from the full-sequence prediction");
    rnn_tensor_free(&ys);
    rnn_tensor_free(&yfull);
    rnn_model_free(m);
}

int main(void) {
    /* the kernels the rnn tool runs on (it calls this first), so that its outputs and this
     * program's rnn_predict come from the same products, bit for bit */
    rnn_blas_upgrade_kernels();
    if (access("build/rnn", X_OK) != 0) {
        fprintf(stderr, "run from the repository root after make (build/rnn missing)\n");
        return 1;
    }
    snprintf(dir, sizeof dir, "/tmp/rnn_stream_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    {
        rnn_model *m = stream_model(1);
        char p[128];
        snprintf(p, sizeof p, "%s/probe.keras", dir);
        int no_io = rnn_save(m, p) == RNN_ERR_UNSUPPORTED;
        if (no_io)
            CHECK(strstr(rnn_model_error(m), "KERAS_IO=none") != NULL,
                  "without Keras file support the save says why: %s", rnn_model_error(m));
        rnn_model_free(m);
        if (no_io) {
            rmdir(dir);
            return check_report("test_cli_stream (skipped: no Keras file support)");
        }
    }
    check_stream(1, 1); /* (1, T, F) */
    check_stream(1, 0); /* (T, F) */
    check_stream(4, 1); /* a stateful model with 4 parallel streams */
    check_one_feature();
    /* A wrong batch for the stateful model: refused, naming the expected shape. */
    char args[1024];
    snprintf(args, sizeof args, "predict %s/m4.keras --input %s/x1.npy --output %s/bad.npy "
             "--stateful-stream", dir, dir, dir);
    CHECK(rnn_cmd(args) == 2 && err_contains("must be (4, steps, 3)"), "wrong stream batch");
    char bad[128];
    snprintf(bad, sizeof bad, "%s/bad.npy", dir);
    CHECK(access(bad, F_OK) != 0, "nothing is written when the shape is refused");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
    return check_report("test_cli_stream");
}
