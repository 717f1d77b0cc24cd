/* The rnn tool's model-file commands as a user runs them: `rnn fit` continues training a saved,
 * compiled model from .npy files and writes a model that loads and has moved; bad arguments
 * exit 2 without writing anything. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "args.h"
#include "model_files.h"
#include "rnn.h"

static int run(int (*cmd)(int, char **), const char *const *args, int n) {
    char *argv[16];
    for (int i = 0; i < n; i++) argv[i] = (char *)args[i];
    return cmd(n, argv);
}

int main(void) {
    char dir[] = "/tmp/rnn_cliXXXXXX";
    if (!mkdtemp(dir)) return 1;
    char model[256], out[256], xp[256], yp[256], bad[256];
    snprintf(model, sizeof model, "%s/m.keras", dir);
    snprintf(out, sizeof out, "%s/tuned.keras", dir);
    snprintf(xp, sizeof xp, "%s/x.npy", dir);
    snprintf(yp, sizeof yp, "%s/y.npy", dir);
    snprintf(bad, sizeof bad, "%s/never.keras", dir);
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, 4, 1);
    rnn_recurrent_options o = rnn_lstm_defaults(3);
    rnn_add(m, rnn_lstm(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_compile(m, "mse", "adam");
    rnn_status st = rnn_save(m, model);
    if (st == RNN_ERR_UNSUPPORTED) {
        fprintf(stderr, "test_cli: skipped (%s)\n", rnn_last_error());
        CHECK(1, "skipped");
        rnn_model_free(m);
        return check_report("test_cli");
    }
    CHECK(st == RNN_OK, "save: %s", rnn_last_error());
    float x[16 * 4], y[16];
    for (int i = 0; i < 64; i++) x[i] = (float)(i % 9) / 9.0f;
    for (int i = 0; i < 16; i++) y[i] = (float)(i % 3) / 3.0f;
    rnn_tensor X = rnn_tensor3(x, 16, 4, 1), Y = rnn_tensor2(y, 16, 1);
    CHECK(rnn_npy_save(xp, &X) == RNN_OK && rnn_npy_save(yp, &Y) == RNN_OK, "npy");
    const char *args[] = {"fit", model, "--x", xp, "--y", yp, "--epochs", "3", "--batch-size",
                          "4", "--verbose", "0", "--output", out};
    CHECK(run(fit_main, args, 14) == 0, "rnn fit failed");
    rnn_model *tuned = rnn_load(out);
    CHECK(tuned != NULL, "load the tuned model: %s", rnn_last_error());
    if (tuned) {
        float a[12], b[12];
        rnn_get_weight(m, 0, a, 12);
        rnn_get_weight(tuned, 0, b, 12);
        CHECK(memcmp(a, b, sizeof a) != 0, "rnn fit left the weights as they were");
        double l0, l1;
        rnn_evaluate(m, X, Y, 16, &l0);
        rnn_evaluate(tuned, X, Y, 16, &l1);
        CHECK(l1 < l0, "loss did not fall: %g -> %g", l0, l1);
        rnn_model_free(tuned);
    }
    const char *bad_args[] = {"fit", model, "--x", xp, "--y", yp, "--epochs", "zero", "--output", bad};
    CHECK(run(fit_main, bad_args, 10) == 2, "a bad --epochs was accepted");
    const char *missing[] = {"fit", model, "--x", xp, "--output", bad};
    CHECK(run(fit_main, missing, 6) == 2, "missing --y was accepted");
    /* Number options: the whole text must be the number (an empty text was strtod's 0). */
    const char *split_empty[] = {"fit", model, "--x", xp, "--y", yp, "--validation-split", "",
                                 "--output", bad};
    CHECK(run(fit_main, split_empty, 10) == 2, "an empty --validation-split was accepted");
    const char *huge_epochs[] = {"fit", model, "--x", xp, "--y", yp, "--epochs",
                                 "99999999999999999999999", "--output", bad};
    CHECK(run(fit_main, huge_epochs, 10) == 2, "an overflowing --epochs was accepted");
    long v;
    double f;
    CHECK(cli_parse_int("12", 1, 20, &v) == 0 && v == 12, "12 in [1, 20]");
    CHECK(cli_parse_int("12x", 1, 20, &v) && cli_parse_int("", 1, 20, &v) &&
          cli_parse_int("21", 1, 20, &v) && cli_parse_int("0", 1, 20, &v), "bad integers passed");
    CHECK(cli_parse_fraction("0.25", 0, 1, &f) == 0 && f == 0.25, "0.25 in [0, 1)");
    CHECK(cli_parse_fraction("nan", 0, 1, &f) && cli_parse_fraction("1", 0, 1, &f) &&
          cli_parse_fraction("", 0, 1, &f) && cli_parse_fraction("0.5 ", 0, 1, &f),
          "bad fractions passed");
    CHECK(access(bad, F_OK) != 0, "a failed command wrote %s", bad);
    rnn_model_free(m);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
    return check_report("test_cli");
}
