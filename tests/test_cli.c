/* The rnn tool's model-file commands as a user runs them: `rnn fit` continues training a saved,
 * compiled model from .npy files and writes a model that loads and has moved; bad arguments
 * exit 2 without writing anything. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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

/* The bytes of a file, for "left as it was" checks; NULL if unreadable. */
static char *slurp(const char *p, long *n) {
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)*n + 1);
    if (b && fread(b, 1, (size_t)*n, f) != (size_t)*n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

static int unchanged(const char *p, const char *before, long n) {
    long m;
    char *now = slurp(p, &m);
    int same = now && m == n && !memcmp(now, before, (size_t)n);
    free(now);
    return same;
}

/* build/rnn ARGS as its own process, stderr to err; returns the exit status (-1: signal). */
static int rnn_process(const char *args, const char *err) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "build/rnn %s >/dev/null 2>%s", args, err);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int file_has(const char *p, const char *text) {
    long n;
    char *b = slurp(p, &n);
    int has = b && (b[n] = 0, strstr(b, text) != NULL);
    free(b);
    return has;
}

/* Issue 14, no lost work and no destroyed inputs: outputs onto inputs are refused, outputs that
 * cannot be written are refused before any training, and a final save that fails after all
 * keeps the training in a rescue file and keeps the backup. */
static void outputs_and_inputs(const char *dir, const char *model, const char *xp, const char *yp) {
    char err[300], args[2048], csv[300], sub[300], out[340], bk[300];
    snprintf(err, sizeof err, "%s/err.txt", dir);
    long n;
    char *model_bytes = slurp(model, &n);
    snprintf(args, sizeof args, "predict %s --input %s --output %s", model, xp, model);
    CHECK(rnn_process(args, err) == 2 && file_has(err, "also an input"), "predict onto its model");
    CHECK(model_bytes && unchanged(model, model_bytes, n), "predict --output MODEL changed the model");
    snprintf(args, sizeof args, "predict %s --input %s --output %s", model, xp, xp);
    CHECK(rnn_process(args, err) == 2, "predict onto its input");
    snprintf(csv, sizeof csv, "%s/p.csv", dir);
    snprintf(args, sizeof args, "predict %s --input %s --output %s", model, xp, csv);
    /* Issue 15 made .csv an output format: the file holds CSV text, not .npy bytes. */
    CHECK(rnn_process(args, err) == 0 && file_has(csv, "feature0\n") && !file_has(csv, "NUMPY"),
          "predict --output p.csv wrote .npy bytes into a .csv");
    snprintf(args, sizeof args, "convert %s %s", model, model);
    CHECK(rnn_process(args, err) == 2 && unchanged(model, model_bytes, n), "convert onto itself");
    snprintf(args, sizeof args, "fit %s --x %s --y %s --output %s", model, xp, yp, model);
    CHECK(rnn_process(args, err) == 2 && unchanged(model, model_bytes, n), "fit --output MODEL");
    /* Unwritable or unusable outputs: refused before training (nothing trained, nothing lost). */
    snprintf(bk, sizeof bk, "%s/bk.keras", dir);
    snprintf(args, sizeof args, "fit %s --x %s --y %s --epochs 2 --output %s/no/such/o.keras "
             "--resume %s", model, xp, yp, dir, bk);
    /* Exit 2 since issue 15: every refusal before the work is a usage error. */
    CHECK(rnn_process(args, err) == 2 && file_has(err, "No such file or directory") &&
              access(bk, F_OK) != 0, "fit into a missing directory trained (a backup exists) or "
          "did not say why");
    snprintf(args, sizeof args, "fit %s --x %s --y %s --epochs 2 --output %s/o.txt", model, xp, yp, dir);
    CHECK(rnn_process(args, err) == 2 && file_has(err, ".keras"), "fit --output o.txt");
    /* A final save that fails after all: the output's directory disappears while the fit runs
     * (the process is stopped while it goes, so that the fit cannot finish first). */
    snprintf(sub, sizeof sub, "%s/vanishing", dir);
    snprintf(out, sizeof out, "%s/o.keras", sub);
    CHECK(mkdir(sub, 0755) == 0, "mkdir");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        freopen(err, "w", stderr);
        freopen("/dev/null", "w", stdout);
        execl("build/rnn", "rnn", "fit", model, "--x", xp, "--y", yp, "--epochs", "400",
              "--batch-size", "4", "--verbose", "0", "--output", out, "--resume", bk, (char *)NULL);
        _exit(127);
    }
    /* The backup appears after the first epoch: the training is under way. */
    struct timespec half_ms = {0, 500000};
    for (int i = 0; i < 20000 && access(bk, F_OK) != 0; i++) nanosleep(&half_ms, NULL);
    kill(pid, SIGSTOP);
    snprintf(args, sizeof args, "rm -rf %s", sub);
    CHECK(system(args) == 0, "removing the output's directory");
    kill(pid, SIGCONT);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1, "a failed final save should exit 1");
    CHECK(file_has(err, "saved to") && file_has(err, "rnn-fit-rescued-"), "no rescue file named");
    CHECK(access(bk, F_OK) == 0, "the backup was removed although the result was not saved");
    /* The rescue file sits beside the backup and holds the trained model. */
    DIR *d = opendir(dir);
    struct dirent *e;
    int rescued = 0;
    while (d && (e = readdir(d)) != NULL)
        if (!strncmp(e->d_name, "rnn-fit-rescued-", 16)) {
            char p[600];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            rnn_model *r = rnn_load(p);
            rescued += r != NULL;
            rnn_model_free(r);
        }
    if (d) closedir(d);
    CHECK(rescued == 1, "the rescue file beside the backup does not load (%d found)", rescued);
    free(model_bytes);
}

int main(void) {
    /* the kernels the rnn tool runs on (it calls this first), so that its outputs and this
     * program's rnn_predict come from the same products, bit for bit */
    rnn_blas_upgrade_kernels();
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
        rnn_evaluate(m, rnn_data_xy(X, Y), 16, &l0, NULL);
        rnn_evaluate(tuned, rnn_data_xy(X, Y), 16, &l1, NULL);
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
    if (access("build/rnn", X_OK) == 0) outputs_and_inputs(dir, model, xp, yp);
    else CHECK(0, "build/rnn is missing (run from the repository root after make)");
    rnn_model_free(m);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
    return check_report("test_cli");
}
