/* Issue 15: a Keras user's whole workflow with the rnn tool and no Python.
 *  - rnn init from a Keras config (tests/fixtures/cli/workflow/config.json, model.to_json() of
 *    real Keras), rnn fit with --loss/--optimizer/--opt, --history, rnn evaluate, rnn predict
 *    (.npy and .csv), rnn convert to .keras and .h5; the training agrees with Keras's from the
 *    same initial weights (tools/make_cli_workflow_fixture.py trained the file rnn init writes
 *    in Keras) within the tolerances of issue 4: 1e-5, or 1e-4 relative above 1.
 *  - predict on models with several inputs and outputs of ../shared/data/keras-models
 *    (skipped when absent) equals the C API's rnn_predict exactly, inputs by order and by name.
 *  - every refusal of item 3 (output name, place and format, the records' files, compile
 *    settings) exits 2 before the first epoch: no epoch line, no files written.
 * Runs build/rnn from the repository root (as make test does). */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "rnn.h"

#define FIX "tests/fixtures/cli/workflow/"
#define SHARED "../shared/data/keras-models/"

static char dir[] = "/tmp/rnn_cli_workflowXXXXXX";
static char out_text[1 << 16], err_text[1 << 16];

static void slurp_into(const char *p, char *buf, size_t cap) {
    FILE *f = fopen(p, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
}

/* build/rnn ARGS (formatted) with stdout and stderr kept in out_text / err_text; returns the
 * exit status (-1 for a signal). */
static int rnn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int rnn(const char *fmt, ...) {
    char args[4096], cmd[4600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "build/rnn %s >%s/out.txt 2>%s/err.txt", args, dir, dir);
    int rc = system(cmd);
    slurp_into(check_path(dir, "out.txt"), out_text, sizeof out_text);
    slurp_into(check_path(dir, "err.txt"), err_text, sizeof err_text);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static const char *tmp(const char *name) { return check_path(dir, name); }

/* Issue 4's tolerance for a value computed by Keras. */
static int close_to_keras(double got, double want) {
    return fabs(got - want) <= (fabs(want) > 1 ? 1e-4 * fabs(want) : 1e-5);
}

static int count_far(const float *got, const float *want, int64_t n) {
    int bad = 0;
    for (int64_t i = 0; i < n; i++) bad += !close_to_keras(got[i], want[i]);
    return bad;
}

static int same_npy(const char *a, const char *b) {
    rnn_tensor x = {0}, y = {0};
    int same = rnn_npy_load(a, &x) == RNN_OK && rnn_npy_load(b, &y) == RNN_OK &&
               x.rank == y.rank && rnn_tensor_size(&x) == rnn_tensor_size(&y) &&
               !memcmp(x.shape, y.shape, sizeof x.shape) &&
               !memcmp(x.data, y.data, sizeof(float) * (size_t)rnn_tensor_size(&x));
    rnn_tensor_free(&x);
    rnn_tensor_free(&y);
    return same;
}

/* The model's weights flattened in get_weights order. */
static float *flat_weights(rnn_model *m, int64_t *n) {
    *n = rnn_count_params(m);
    float *w = malloc(sizeof(float) * (size_t)(*n ? *n : 1)), *p = w;
    for (int k = 0; w && k < rnn_weight_count(m); k++) {
        const char *name;
        int rank;
        int64_t shape[4], size = 1;
        rnn_weight_info(m, k, &name, &rank, shape);
        for (int d = 0; d < rank; d++) size *= shape[d];
        rnn_get_weight(m, k, p, size);
        p += size;
    }
    return w;
}

static void workflow(void) {
    /* init: a new, uncompiled model from the config, the same weights for the same seed. */
    CHECK(rnn("init " FIX "config.json --output %s --seed 7", tmp("m.keras")) == 0, "init: %s", err_text);
    CHECK(strstr(out_text, "wrote ") && strstr(out_text, "m.keras (525 parameters, not compiled)"),
          "init's wrote line: %s", out_text);
    CHECK(rnn("init " FIX "config.json --output=%s --seed=7", tmp("m2.keras")) == 0, "init: %s", err_text);
    rnn_model *a = rnn_load(tmp("m.keras")), *b = rnn_load(tmp("m2.keras"));
    CHECK(a && b, "the initial models do not load: %s", rnn_last_error());
    if (a && b) {
        int64_t na, nb;
        float *wa = flat_weights(a, &na), *wb = flat_weights(b, &nb);
        CHECK(na == 525 && na == nb && !memcmp(wa, wb, sizeof(float) * (size_t)na),
              "rnn init --seed 7 twice gave different weights");
        CHECK(!rnn_compiled(a, NULL), "a model from a config without compile_config is compiled");
        free(wa);
        free(wb);
    }
    rnn_model_free(a);
    rnn_model_free(b);
    CHECK(rnn("summary %s", tmp("m.keras")) == 0 && strstr(out_text, " Not compiled"),
          "summary of an uncompiled model: %s", out_text);

    /* fit, compiled from the command line as the fixture's Keras model was. */
    CHECK(rnn("fit %s --x " FIX "x.npy --y " FIX "y.npy --loss mse --optimizer adam "
              "--learning-rate 0.01 --opt beta_1=0.85 --batch-size 16 --epochs 3 "
              "--validation-split 0.25 --no-shuffle --verbose 2 --history %s --plot-history %s "
              "--output %s", tmp("m.keras"), tmp("h.csv"), tmp("loss.svg"), tmp("t.keras")) == 0,
          "fit: %s", err_text);
    CHECK(strstr(out_text, "Epoch 3/3\n3/3 - ") && strstr(out_text, "val_loss: "),
          "fit's epoch lines (Keras verbose=2): %s", out_text);
    CHECK(strstr(out_text, "t.keras (525 parameters, 3 epochs trained)") &&
              strstr(out_text, "h.csv (3 epochs)") && strstr(out_text, "loss.svg (3 epochs)"),
          "fit's wrote lines: %s", out_text);
    /* The history against Keras's CSVLogger file, row by row. */
    char got[4096], want[4096];
    slurp_into(tmp("h.csv"), got, sizeof got);
    slurp_into(FIX "expected/history.csv", want, sizeof want);
    /* Python's csv module ends Keras's lines with \r\n; the tool writes \n. */
    for (char *r = want, *w = want;; r++)
        if (*r != '\r' && !(*w++ = *r)) break;
    CHECK(!strncmp(got, "epoch,loss,val_loss\n", 20) && !strncmp(want, "epoch,loss,val_loss\n", 20),
          "the history's header: %s", got);
    char *gp = got + 20, *wp = want + 20;
    int rows = 0;
    for (int e = 0; e < 3; e++) {
        int ge, we;
        double gl, gv, wl, wv;
        int n1 = sscanf(gp, "%d,%lf,%lf", &ge, &gl, &gv), n2 = sscanf(wp, "%d,%lf,%lf", &we, &wl, &wv);
        if (n1 == 3 && n2 == 3 && ge == e && we == e && close_to_keras(gl, wl) && close_to_keras(gv, wv))
            rows++;
        else
            fprintf(stderr, "history row %d: got %.40s, Keras %.40s\n", e, gp, wp);
        gp = strchr(gp, '\n') ? strchr(gp, '\n') + 1 : gp;
        wp = strchr(wp, '\n') ? strchr(wp, '\n') + 1 : wp;
    }
    CHECK(rows == 3 && !*gp, "the history differs from Keras's (%d of 3 rows agree)", rows);
    slurp_into(tmp("loss.svg"), got, sizeof got);
    CHECK(strstr(got, "<svg") && strstr(got, ">epoch</text>") && strstr(got, ">loss</text>") &&
              strstr(got, ">val_loss</text>"), "the loss plot has no labelled axes or legend");
    /* The trained weights against Keras's. */
    rnn_model *t = rnn_load(tmp("t.keras"));
    rnn_tensor kw = {0};
    CHECK(t && rnn_npy_load(FIX "expected/weights.npy", &kw) == RNN_OK, "load: %s", rnn_last_error());
    if (t && kw.data) {
        rnn_compile_settings s;
        CHECK(rnn_compiled(t, &s) && !strcmp(s.loss, "mean_squared_error") &&
                  s.optimizer.kind == RNN_OPT_ADAM && s.optimizer.learning_rate == 0.01f &&
                  s.optimizer.beta_1 == 0.85f, "the trained file's compile settings");
        CHECK(rnn_optimizer_iterations(t) == 9, "9 optimizer steps, got %lld",
              (long long)rnn_optimizer_iterations(t));
        int64_t n;
        float *w = flat_weights(t, &n);
        int bad = n == rnn_tensor_size(&kw) ? count_far(w, kw.data, n) : -1;
        CHECK(bad == 0, "trained weights vs Keras: %d of %lld outside tolerance", bad, (long long)n);
        free(w);
    }
    rnn_tensor_free(&kw);
    rnn_model_free(t);
    CHECK(rnn("summary %s", tmp("t.keras")) == 0 && strstr(out_text, " Loss: mean_squared_error\n") &&
              strstr(out_text, " Optimizer: Adam(learning_rate=0.01, beta_1=0.85, beta_2=0.999"),
          "summary's compile lines: %s", out_text);

    /* evaluate: Keras's line, and with --verbose 0 the loss in full. */
    CHECK(rnn("evaluate %s --x " FIX "x.npy --y " FIX "y.npy --batch-size 16", tmp("t.keras")) == 0 &&
              strstr(out_text, "3/3 \xe2\x94\x81") && strstr(out_text, "/step - loss: "),
          "evaluate's line: %s%s", out_text, err_text);
    double loss = NAN, kloss = NAN;
    CHECK(rnn("evaluate %s --x=" FIX "x.npy --y=" FIX "y.npy --batch-size=16 --verbose 0",
              tmp("t.keras")) == 0 && sscanf(out_text, "loss: %lf", &loss) == 1,
          "evaluate --verbose 0: %s%s", out_text, err_text);
    slurp_into(FIX "expected/evaluate.txt", got, sizeof got);
    CHECK(sscanf(got, "%lf", &kloss) == 1 && close_to_keras(loss, kloss),
          "evaluate: %.9g, Keras %.9g", loss, kloss);

    /* predict, .npy and .csv, against Keras's predictions. */
    CHECK(rnn("predict %s --input " FIX "x.npy --output %s --verbose 0", tmp("t.keras"), tmp("p.npy")) == 0 &&
              strstr(out_text, "p.npy (48, 1) float32\n"), "predict: %s%s", out_text, err_text);
    rnn_tensor p = {0}, kp = {0};
    CHECK(rnn_npy_load(tmp("p.npy"), &p) == RNN_OK && rnn_npy_load(FIX "expected/pred.npy", &kp) == RNN_OK,
          "predictions: %s", rnn_last_error());
    if (p.data && kp.data)
        CHECK(rnn_tensor_size(&p) == 48 && rnn_tensor_size(&kp) == 48 && count_far(p.data, kp.data, 48) == 0,
              "predictions differ from Keras's");
    CHECK(rnn("predict %s --input " FIX "x.npy --output %s", tmp("t.keras"), tmp("p.csv")) == 0 &&
              strstr(out_text, "p.csv (48, 1)\n"), "predict to .csv: %s%s", out_text, err_text);
    FILE *f = fopen(tmp("p.csv"), "r");
    int same = f != NULL && p.data != NULL;
    char line[256];
    same = same && fgets(line, sizeof line, f) && !strcmp(line, "feature0\n");
    for (int i = 0; same && i < 48; i++) same = fgets(line, sizeof line, f) && strtof(line, NULL) == p.data[i];
    if (f) fclose(f);
    CHECK(same, "the .csv predictions are not the .npy ones");
    rnn_tensor_free(&p);
    rnn_tensor_free(&kp);

    /* convert to .h5 and back to .keras: the same predictions, bit for bit. */
    CHECK(rnn("convert %s %s", tmp("t.keras"), tmp("t.h5")) == 0 && strstr(out_text, "t.h5 (525 parameters, compiled)"),
          "convert to .h5: %s%s", out_text, err_text);
    CHECK(rnn("convert %s %s", tmp("t.h5"), tmp("t2.keras")) == 0, "convert to .keras: %s", err_text);
    CHECK(rnn("predict %s --input " FIX "x.npy --output %s", tmp("t.h5"), tmp("p_h5.npy")) == 0 &&
              rnn("predict %s --input " FIX "x.npy --output %s", tmp("t2.keras"), tmp("p_k.npy")) == 0,
          "predict from the converted files: %s", err_text);
    CHECK(same_npy(tmp("p.npy"), tmp("p_h5.npy")) && same_npy(tmp("p.npy"), tmp("p_k.npy")),
          "the converted models predict differently");

    /* A compiled file's settings are replaced by those given: fit with SGD continues from the
     * trained model; --opt with a key the optimizer lacks is refused, naming those it has. */
    CHECK(rnn("fit %s --x " FIX "x.npy --y " FIX "y.npy --optimizer sgd --opt momentum=0.5 "
              "--opt nesterov=true --epochs 1 --output %s", tmp("t.keras"), tmp("s.keras")) == 0,
          "fit --optimizer sgd: %s", err_text);
    rnn_model *s = rnn_load(tmp("s.keras"));
    rnn_compile_settings cs;
    CHECK(s && rnn_compiled(s, &cs) && cs.optimizer.kind == RNN_OPT_SGD && cs.optimizer.momentum == 0.5f &&
              cs.optimizer.nesterov == 1 && !strcmp(cs.loss, "mean_squared_error"),
          "fit --optimizer sgd did not replace the optimizer (and keep the loss)");
    rnn_model_free(s);
    CHECK(rnn("fit %s --x " FIX "x.npy --y " FIX "y.npy --optimizer sgd --opt beta_1=0.5 "
              "--output %s", tmp("t.keras"), tmp("never.keras")) == 2 &&
              strstr(err_text, "SGD has no argument \"beta_1\" (its arguments: learning_rate, momentum, nesterov"),
          "a bad --opt: %s", err_text);
}

/* Item 3: every refusal comes before the first epoch: exit 2, no epoch printed, nothing
 * written. */
static void refused_before_training(const char *what, const char *args, const char *reason) {
    unlink(tmp("o.keras"));
    int rc = rnn("fit %s --verbose 2 --epochs 2 %s", tmp("t.keras"), args);
    CHECK(rc == 2, "%s: exit %d, not 2 (%s)", what, rc, err_text);
    CHECK(!strstr(out_text, "Epoch") && !strstr(out_text, "loss") && !out_text[0],
          "%s: refused after training had begun: %s", what, out_text);
    CHECK(strstr(err_text, reason) != NULL, "%s: the reason \"%s\" is not given: %s", what, reason, err_text);
    CHECK(access(tmp("h.csv"), F_OK) != 0 && access(tmp("o.keras"), F_OK) != 0 &&
              access(tmp("bk.keras"), F_OK) != 0, "%s: a file was written", what);
}

static void refusals(void) {
    unlink(tmp("h.csv"));
    char args[2048];
    const char *xy = "--x " FIX "x.npy --y " FIX "y.npy";
    snprintf(args, sizeof args, "%s --output %s", xy, tmp("o.txt"));
    refused_before_training("--output o.txt", args, ".keras");
    snprintf(args, sizeof args, "%s --output %s/no/such/dir/o.h5", xy, dir);
    refused_before_training("--output in a missing directory", args, "No such file or directory");
    snprintf(args, sizeof args, "%s --output %s --history %s", xy, tmp("o.keras"), tmp("h.txt"));
    refused_before_training("--history h.txt", args, "name it .csv");
    snprintf(args, sizeof args, "%s --output %s --history %s/no/such/h.csv", xy, tmp("o.keras"), dir);
    refused_before_training("--history in a missing directory", args, "No such file");
    snprintf(args, sizeof args, "%s --output %s --plot-history %s", xy, tmp("o.keras"), tmp("p.png"));
    refused_before_training("--plot-history p.png", args, "name it .svg");
    snprintf(args, sizeof args, "%s --output %s --resume %s", xy, tmp("o.keras"), tmp("bk.h5"));
    refused_before_training("--resume bk.h5", args, ".keras");
    snprintf(args, sizeof args, "--x " FIX "x.txt --y " FIX "y.npy --output %s", tmp("o.keras"));
    refused_before_training("--x x.txt", args, ".npy or .csv");
    snprintf(args, sizeof args, "%s --output %s --loss nonsense", xy, tmp("o.keras"));
    refused_before_training("--loss nonsense", args, "nonsense");
    snprintf(args, sizeof args, "%s --output %s --metrics nonsense", xy, tmp("o.keras"));
    refused_before_training("--metrics nonsense", args, "nonsense");
    snprintf(args, sizeof args, "%s --output %s --learning-rate fast", xy, tmp("o.keras"));
    refused_before_training("--learning-rate fast", args, "learning_rate takes a number");
    /* An uncompiled model without --loss. */
    unlink(tmp("o.keras"));
    CHECK(rnn("fit %s %s --epochs 2 --verbose 2 --output %s", tmp("m.keras"), xy, tmp("o.keras")) == 2 &&
              strstr(err_text, "not compiled") && !out_text[0] && access(tmp("o.keras"), F_OK) != 0,
          "fit of an uncompiled model without --loss: %s%s", out_text, err_text);
    /* A model that cannot be written as .keras (Keras 1/2's hard_sigmoid). */
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, 6, 2);
    rnn_recurrent_options o = rnn_lstm_defaults(3);
    o.recurrent_activation = RNN_HARD_SIGMOID_LEGACY;
    rnn_add(m, rnn_lstm(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_compile(m, "mse", "adam");
    CHECK(rnn_save(m, tmp("legacy.h5")) == RNN_OK, "save: %s", rnn_last_error());
    rnn_model_free(m);
    CHECK(rnn("fit %s %s --epochs 2 --verbose 2 --output %s", tmp("legacy.h5"), xy, tmp("o.keras")) == 2 &&
              strstr(err_text, "hard_sigmoid") && !out_text[0] && access(tmp("o.keras"), F_OK) != 0,
          "fit of a Keras 1/2 hard_sigmoid model to .keras: %s%s", out_text, err_text);
    CHECK(rnn("convert %s %s", tmp("legacy.h5"), tmp("o.keras")) == 2 && strstr(err_text, "hard_sigmoid") &&
              access(tmp("o.keras"), F_OK) != 0, "convert of a hard_sigmoid model to .keras: %s", err_text);
    CHECK(rnn("fit %s %s --epochs 1 --verbose 2 --output %s", tmp("legacy.h5"), xy, tmp("o.h5")) == 0,
          "the same model to .h5: %s", err_text);
}

/* Usage conventions of item 5. */
static void conventions(void) {
    const char *cmds[] = {"init", "summary", "fit", "evaluate", "predict", "convert", "demo", "bench"};
    for (int k = 0; k < 8; k++) {
        CHECK(rnn("%s -h", cmds[k]) == 0 && strstr(out_text, "usage: rnn "), "rnn %s -h: %s", cmds[k], err_text);
        CHECK(rnn("%s --help", cmds[k]) == 0 && strstr(out_text, "usage: rnn "), "rnn %s --help", cmds[k]);
    }
    CHECK(rnn("--help") == 0 && strstr(out_text, "bench") && strstr(out_text, "evaluate") &&
              strstr(out_text, "exit status: 0"), "rnn --help: %s", out_text);
    CHECK(rnn("-v") == 0 && strstr(out_text, "librnn ") && rnn("-V") == 0 && rnn("--version") == 0,
          "rnn -v / -V / --version");
    CHECK(rnn("predict %s --input " FIX "x.npy", tmp("t.keras")) == 2 &&
              strstr(err_text, "rnn predict: missing --output"), "a missing --output: %s", err_text);
    CHECK(rnn("fit %s --x " FIX "x.npy --output %s", tmp("t.keras"), tmp("o.keras")) == 2 &&
              strstr(err_text, "rnn fit: missing --y"), "a missing --y: %s", err_text);
    CHECK(rnn("evaluate %s --x " FIX "x.npy --y", tmp("t.keras")) == 2 &&
              strstr(err_text, "--y needs a value"), "a --y without its value: %s", err_text);
    CHECK(rnn("convert --help") == 0 && strstr(out_text, "Keras 1/2") && strstr(out_text, "cannot become .keras"),
          "convert --help does not say that Keras 1/2 models cannot become .keras");
    CHECK(rnn("predict %s --input " FIX "x.npy --output %s", tmp("t.keras"), tmp("p.txt")) == 2 &&
              access(tmp("p.txt"), F_OK) != 0, "predict --output p.txt: %s", err_text);
}

/* Several inputs and outputs: the tool's predictions are rnn_predict's, bit for bit. */
static void multi_io(void) {
    if (access(SHARED "fdeep_lstm.h5", R_OK) != 0) {
        fprintf(stderr, "test_cli_workflow: skipping the multi-input models (%s is absent)\n", SHARED);
        return;
    }
    /* fdeep_lstm.h5: 5 inputs, 17 outputs. */
    rnn_model *m = rnn_load(SHARED "fdeep_lstm.h5");
    CHECK(m && rnn_input_count(m) == 5 && rnn_output_count(m) == 17, "fdeep_lstm.h5: %s", rnn_last_error());
    if (!m) return;
    const int64_t shapes[5][3] = {{17, 4}, {1, 10}, {6, 4}, {12}, {12}};
    const int ranks[5] = {3, 3, 3, 2, 2};
    const int64_t N = 40;
    rnn_tensor x[5];
    float *data[5];
    char in_args[2048] = "", out_args[4096] = "";
    uint64_t seed = 15;
    for (int k = 0; k < 5; k++) {
        int64_t per = shapes[k][0] * (ranks[k] == 3 ? shapes[k][1] : 1);
        data[k] = malloc(sizeof(float) * (size_t)(N * per));
        for (int64_t i = 0; i < N * per; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            data[k][i] = (float)((seed >> 40) % 2001) / 1000.0f - 1.0f;
        }
        x[k] = ranks[k] == 3 ? rnn_tensor3(data[k], N, shapes[k][0], shapes[k][1])
                             : rnn_tensor2(data[k], N, shapes[k][0]);
        char name[32];
        snprintf(name, sizeof name, "in%d.npy", k);
        CHECK(rnn_npy_save(tmp(name), &x[k]) == RNN_OK, "npy");
        /* In the order of model.inputs, except that input_4 and input_5 come by name, swapped. */
        if (k < 3) snprintf(in_args + strlen(in_args), sizeof in_args - strlen(in_args), " --input %s", tmp(name));
    }
    snprintf(in_args + strlen(in_args), sizeof in_args - strlen(in_args), " --input %s=%s --input %s=%s",
             rnn_input_name(m, 4), tmp("in4.npy"), rnn_input_name(m, 3), tmp("in3.npy"));
    for (int k = 0; k < 17; k++) {
        char name[32];
        snprintf(name, sizeof name, "out%d.npy", k);
        snprintf(out_args + strlen(out_args), sizeof out_args - strlen(out_args), " --output %s", tmp(name));
    }
    CHECK(rnn("predict " SHARED "fdeep_lstm.h5 %s%s --verbose 0", in_args, out_args) == 0,
          "predict with 5 inputs: %s", err_text);
    rnn_tensor y[17];
    CHECK(rnn_predict(m, rnn_data_arrays(x, 5, NULL, 0), 32, y, 17) == RNN_OK, "rnn_predict: %s", rnn_model_error(m));
    int same = 0, lines = 0;
    for (const char *s = out_text; (s = strstr(s, "wrote ")); s++) lines++;
    for (int k = 0; k < 17; k++) {
        char name[32];
        snprintf(name, sizeof name, "out%d.npy", k);
        rnn_tensor got = {0};
        if (rnn_npy_load(tmp(name), &got) == RNN_OK && got.rank == y[k].rank &&
            !memcmp(got.shape, y[k].shape, sizeof got.shape) &&
            !memcmp(got.data, y[k].data, sizeof(float) * (size_t)rnn_tensor_size(&got)))
            same++;
        rnn_tensor_free(&got);
        rnn_tensor_free(&y[k]);
    }
    CHECK(same == 17 && lines == 17, "%d of 17 outputs equal rnn_predict's (%d wrote lines)", same, lines);
    CHECK(rnn("predict " SHARED "fdeep_lstm.h5 %s --output %s", in_args, tmp("one.npy")) == 2 &&
              strstr(err_text, "17 outputs") && access(tmp("one.npy"), F_OK) != 0,
          "one --output for 17 outputs: %s", err_text);
    rnn_model_free(m);
    for (int k = 0; k < 5; k++) free(data[k]);

    /* fdeep_gru_stateful_nobias.h5: two inputs (the sequence and the initial state), a fixed
     * batch size of 1 that predict uses by default; the sequence as .csv without a header. */
    m = rnn_load(SHARED "fdeep_gru_stateful_nobias.h5");
    CHECK(m && rnn_input_count(m) == 2, "fdeep_gru_stateful_nobias.h5: %s", rnn_last_error());
    if (!m) return;
    float seq[5 * 3], state[5];
    FILE *f = fopen(tmp("seq.csv"), "w");
    for (int i = 0; i < 5; i++) {
        for (int t = 0; t < 3; t++) {
            seq[i * 3 + t] = 0.25f * (float)(i - t) + 0.125f;
            fprintf(f, "%s%.9g", t ? "," : "", (double)seq[i * 3 + t]);
        }
        fputc('\n', f);
        state[i] = 0.5f - 0.2f * (float)i;
    }
    fclose(f);
    rnn_tensor xs[2] = {rnn_tensor3(seq, 5, 3, 1), rnn_tensor2(state, 5, 1)};
    CHECK(rnn_npy_save(tmp("state.npy"), &xs[1]) == RNN_OK, "npy");
    CHECK(rnn("predict " SHARED "fdeep_gru_stateful_nobias.h5 --input %s=%s --input %s=%s --output %s",
              rnn_input_name(m, 1), tmp("state.npy"), rnn_input_name(m, 0), tmp("seq.csv"), tmp("g.npy")) == 0,
          "predict on the stateful two-input model without --batch-size: %s", err_text);
    rnn_tensor yg = {0}, got = {0};
    CHECK(rnn_predict(m, rnn_data_arrays(xs, 2, NULL, 0), 1, &yg, 1) == RNN_OK, "rnn_predict: %s", rnn_model_error(m));
    CHECK(rnn_npy_load(tmp("g.npy"), &got) == RNN_OK && yg.data && rnn_tensor_size(&got) == rnn_tensor_size(&yg) &&
              !memcmp(got.data, yg.data, sizeof(float) * (size_t)rnn_tensor_size(&yg)),
          "the stateful model's predictions differ from rnn_predict's");
    rnn_tensor_free(&yg);
    rnn_tensor_free(&got);
    rnn_model_free(m);
}

/* The library calls behind the tool's options: optimizers by name and argument, and a model
 * from a config's text. */
static void library_calls(void) {
    rnn_optimizer o;
    CHECK(rnn_optimizer_by_name("RMSprop", &o) == RNN_OK && o.kind == RNN_OPT_RMSPROP &&
              rnn_optimizer_by_name("rmsprop", &o) == RNN_OK, "rmsprop by name");
    CHECK(rnn_optimizer_by_name("adamw2", &o) == RNN_ERR_ARGUMENT &&
              strstr(rnn_last_error(), "adamw2") && strstr(rnn_last_error(), "Adam, SGD, RMSprop"),
          "an unknown optimizer: %s", rnn_last_error());
    CHECK(rnn_optimizer_set_arg(&o, "centered", "True") == RNN_OK && o.centered == 1 &&
              rnn_optimizer_set_arg(&o, "rho", "0.8") == RNN_OK && o.rho == 0.8f &&
              rnn_optimizer_set_arg(&o, "clipnorm", "None") == RNN_OK && o.clipnorm == 0.0f,
          "RMSprop arguments");
    CHECK(rnn_optimizer_set_arg(&o, "centered", "maybe") == RNN_ERR_ARGUMENT &&
              rnn_optimizer_set_arg(&o, "rho", "0.8x") == RNN_ERR_ARGUMENT &&
              rnn_optimizer_set_arg(&o, "rho", "") == RNN_ERR_ARGUMENT &&
              rnn_optimizer_set_arg(&o, "rho", "1e999") == RNN_ERR_ARGUMENT,
          "bad argument values were accepted");
    CHECK(rnn_optimizer_set_arg(&o, "nesterov", "1") == RNN_ERR_ARGUMENT &&
              strstr(rnn_last_error(), "RMSprop has no argument \"nesterov\" (its arguments: "
                     "learning_rate, rho, momentum, epsilon, centered, weight_decay, clipnorm"),
          "an argument RMSprop lacks: %s", rnn_last_error());
    char text[512];
    o = rnn_sgd_defaults();
    rnn_optimizer_set_arg(&o, "momentum", "0.9");
    CHECK(rnn_optimizer_describe(&o, text, sizeof text) == RNN_OK &&
              !strcmp(text, "SGD(learning_rate=0.01, momentum=0.9, nesterov=False, "
                      "weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None)"),
          "describe: %s", text);
    /* the optimizers of issue 16 by name and argument, with Keras's defaults */
    CHECK(rnn_optimizer_by_name("adamw", &o) == RNN_OK && o.kind == RNN_OPT_ADAMW &&
              rnn_optimizer_set_arg(&o, "weight_decay", "0.01") == RNN_OK &&
              rnn_optimizer_describe(&o, text, sizeof text) == RNN_OK &&
              !strcmp(text, "AdamW(learning_rate=0.001, weight_decay=0.01, beta_1=0.9, "
                      "beta_2=0.999, epsilon=1e-07, amsgrad=False, clipnorm=None, "
                      "clipvalue=None, global_clipnorm=None)"), "AdamW: %s", text);
    CHECK(rnn_optimizer_by_name("Adagrad", &o) == RNN_OK && o.kind == RNN_OPT_ADAGRAD &&
              rnn_optimizer_set_arg(&o, "initial_accumulator_value", "0.2") == RNN_OK &&
              o.initial_accumulator_value == 0.2f && rnn_optimizer_by_name("nadam", &o) == RNN_OK &&
              o.kind == RNN_OPT_NADAM && rnn_optimizer_by_name("adamax", &o) == RNN_OK &&
              rnn_optimizer_by_name("adadelta", &o) == RNN_OK && o.rho == 0.95f,
          "the issue-16 optimizers by name");
    CHECK(rnn_optimizer_describe(&o, text, 8) == RNN_OK && strlen(text) == 7, "a short buffer");
    CHECK(rnn_model_from_json("{\"class_name\": \"Sequential\"") == NULL &&
              rnn_last_status() == RNN_ERR_FORMAT, "broken JSON was accepted");
    rnn_model *m = rnn_model_from_json(
        "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
        "{\"class_name\": \"InputLayer\", \"config\": {\"batch_shape\": [4, 5, 3], \"name\": \"in\"}},"
        "{\"class_name\": \"GRU\", \"config\": {\"name\": \"g\", \"units\": 2, \"stateful\": true}}]}}");
    int rank = 0;
    int64_t shape[RNN_MAX_RANK];
    CHECK(m && rnn_count_params(m) == 42 && rnn_input_count(m) == 1 && rnn_output_count(m) == 1 &&
              rnn_input_shape(m, 0, &rank, shape) == RNN_OK && rank == 3 && shape[0] == 4 &&
              shape[1] == 5 && shape[2] == 3 && rnn_input_name(m, 1) == NULL &&
              rnn_output_name(m, 0) != NULL && !rnn_compiled(m, NULL),
          "a model from JSON: %s", rnn_last_error());
    rnn_model_free(m);
}

int main(void) {
    /* the kernels the rnn tool runs on (it calls this first), so that its outputs and this
     * program's rnn_predict come from the same products, bit for bit */
    rnn_blas_upgrade_kernels();
    if (!mkdtemp(dir)) return 1;
    if (access("build/rnn", X_OK) != 0) {
        CHECK(0, "build/rnn is missing (run from the repository root after make)");
        return check_report("test_cli_workflow");
    }
    rnn_model *probe = rnn_sequential(NULL);
    rnn_input(probe, 2, 1);
    rnn_add(probe, rnn_dense_simple(1, RNN_LINEAR));
    rnn_status st = rnn_save(probe, tmp("probe.keras"));
    rnn_model_free(probe);
    if (st == RNN_ERR_UNSUPPORTED) {
        fprintf(stderr, "test_cli_workflow: skipped (%s)\n", rnn_last_error());
        CHECK(1, "skipped");
    } else {
        library_calls();
        workflow();
        refusals();
        conventions();
        multi_io();
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
    return check_report("test_cli_workflow");
}
