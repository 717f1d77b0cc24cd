/* The model-file commands of the rnn tool. Uses only the public header. */
#include "model_files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "mpi_launch.h"
#include "plot_svg.h"
#include "rnn.h"
#include "workflow.h"

static rnn_model *load_or_report(const char *path) {
    rnn_model *m = rnn_load(path);
    if (!m) fprintf(stderr, "rnn: %s\n", rnn_last_error());
    else if (rnn_model_warning(m)[0]) fprintf(stderr, "rnn: warning: %s: %s\n", path, rnn_model_warning(m));
    return m;
}

/* Whether two paths name the same existing file (links followed). */
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return a && b && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* An output must not be one of the command's inputs: writing it would destroy what the command
 * reads (`rnn predict m.keras --input x.npy --output m.keras` turned the model into a .npy). The
 * inputs list ends with NULL. Prints the refusal; 0 when out is none of them. */
static int refuse_output_onto_input(const char *cmd, const char *opt, const char *out,
                                    const char *const *inputs) {
    for (int i = 0; inputs[i]; i++)
        if (same_file(out, inputs[i]) || !strcmp(out, inputs[i])) {
            fprintf(stderr, "rnn %s: %s %s is also an input of this command (%s); write the "
                    "result to another file\n", cmd, opt, out, inputs[i]);
            return 1;
        }
    return 0;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* A positive integer option value; prints the error and returns -1 otherwise. */
static long positive_int(const char *cmd, const char *opt, const char *text) {
    long v;
    if (cli_parse_int(text, 1, 1L << 30, &v)) {
        fprintf(stderr, "rnn %s: %s needs a positive integer, got \"%s\"\n", cmd, opt, text);
        return -1;
    }
    return v;
}


int summary_main(int argc, char **argv) {
    if (argc != 2 || cli_is_help(argv[1])) {
        int help = argc == 2;
        fprintf(help ? stdout : stderr, "usage: rnn summary MODEL(.keras|.h5)\n"
                "Prints Keras's model.summary() table, then the compile settings (loss, optimizer\n"
                "with its arguments, metrics) or \"Not compiled\".\n");
        if (!help) fprintf(stderr, "rnn summary: %s\n", argc < 2 ? "missing MODEL" : "one MODEL only");
        return help ? 0 : 2;
    }
    rnn_model *m = load_or_report(argv[1]);
    if (!m) return 1;
    int rc = rnn_summary(m, stdout) ? 1 : 0;
    if (rc) fprintf(stderr, "rnn: %s\n", rnn_model_error(m));
    else cli_print_compile(m, stdout);
    rnn_model_free(m);
    return rc;
}

#define PREDICT_USAGE                                                                         \
    "usage: rnn predict MODEL --input x(.npy|.csv) --output y(.npy|.csv) [--batch-size N]\n"   \
    "                   [--verbose 0|1|2] [--stateful-stream]\n"                              \
    "A model with several inputs takes --input once for each, in the order of model.inputs,\n" \
    "or by name: --input encoder_inputs=a.npy. A model with several outputs takes --output\n"   \
    "once for each, in the order of model.outputs (or --output NAME=FILE): one file per\n"     \
    "output. .csv: one row per sample; a 3-D array is flattened per sample, its header naming\n" \
    "the columns stepT_featureF. Default batch size: the model's fixed one (a stateful model\n" \
    "saved with batch_shape), else 32. --verbose: 1 (default) Keras's progress bar (drawn as\n" \
    "it goes on a terminal), 2 one line, 0 none.\n"                                         \
    "--stateful-stream: feed the input one time step at a time, every recurrent layer carrying\n" \
    "its state from step to step (a stateful model called on one step after another); x is\n"   \
    "(B, T, F) with B the model's fixed batch size (or 1), or (T, F) when B is 1 (token ids:\n"  \
    "(B, T) or (T)); y holds the output of every step: (B, T, outputs), or (T, outputs).\n"

static int predict_stream(rnn_model *m, const rnn_tensor *x, const char *out) {
    int64_t B, F, O;
    if (rnn_stream_shape(m, &B, &F, &O)) {
        fprintf(stderr, "rnn: %s\n", rnn_model_error(m));
        return 1;
    }
    /* Accepted layouts, the first that fits the model wins: (B, T, F); with one feature (token
     * ids) also (B, T); and when B is 1, (T, F), and (T) with one feature. A (50, 1) input of a
     * one-stream, one-feature model is 50 steps, not 50 streams. */
    int has_batch = -1;
    int64_t T = 0;
    const int64_t *s = x->shape;
    if (x->rank == 3 && s[0] == B && s[2] == F) has_batch = 1, T = s[1];
    else if (x->rank == 2 && F == 1 && s[0] == B) has_batch = 1, T = s[1];
    else if (x->rank == 2 && B == 1 && s[1] == F) has_batch = 0, T = s[0];
    else if (x->rank == 1 && B == 1 && F == 1) has_batch = 0, T = s[0];
    if (has_batch < 0 || T < 1) {
        fprintf(stderr, "rnn predict --stateful-stream: the model streams %lld sequence(s) of %lld "
                "feature(s) per step: the input must be (%lld, steps, %lld)", (long long)B,
                (long long)F, (long long)B, (long long)F);
        if (F == 1) fprintf(stderr, " or (%lld, steps)", (long long)B);
        if (B == 1) fprintf(stderr, " or (steps, %lld)", (long long)F);
        if (B == 1 && F == 1) fprintf(stderr, " or (steps)");
        fprintf(stderr, ", with at least one step; got (");
        for (int k = 0; k < x->rank; k++)
            fprintf(stderr, "%s%lld", k ? ", " : "", (long long)x->shape[k]);
        fprintf(stderr, ")\n");
        return 2;
    }
    rnn_tensor y = {0};
    y.rank = has_batch ? 3 : 2;
    int64_t *d = y.shape;
    if (has_batch) *d++ = B;
    d[0] = T;
    d[1] = O;
    float *xs = malloc(sizeof(float) * (size_t)(B * F)), *ys = malloc(sizeof(float) * (size_t)(B * O));
    y.data = malloc(sizeof(float) * (size_t)(B * T * O));
    int rc = 1;
    if (!xs || !ys || !y.data) {
        fprintf(stderr, "rnn: out of memory\n");
        goto done;
    }
    rnn_reset_states(m);
    for (int64_t t = 0; t < T; t++) {
        for (int64_t b = 0; b < B; b++) /* step t of every stream: x[b, t, :] */
            memcpy(xs + b * F, x->data + (b * T + t) * F, sizeof(float) * (size_t)F);
        if (rnn_predict_step(m, xs, ys)) {
            fprintf(stderr, "rnn: step %lld: %s\n", (long long)t, rnn_model_error(m));
            goto done;
        }
        for (int64_t b = 0; b < B; b++)
            memcpy(y.data + (b * T + t) * O, ys + b * O, sizeof(float) * (size_t)O);
    }
    rc = cli_array_save("predict", out, &y);
done:
    free(xs);
    free(ys);
    free(y.data);
    return rc;
}

/* The file of "NAME=FILE" (a NAME has no '/'), else the whole text. */
static const char *spec_path(const char *spec) {
    const char *eq = strchr(spec, '=');
    return eq && !memchr(spec, '/', (size_t)(eq - spec)) ? eq + 1 : spec;
}

int predict_parse(int argc, char **argv, predict_args *a) {
    memset(a, 0, sizeof *a);
    a->verbose = 1;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;
        if (cli_is_help(argv[i])) {
            printf(PREDICT_USAGE);
            return 0;
        }
        if ((r = cli_opt("predict", argc, argv, &i, "--input", &v))) {
            if (r < 0 || cli_list_add("predict", "--input", &a->in, v)) return 2;
        } else if ((r = cli_opt("predict", argc, argv, &i, "--output", &v))) {
            if (r < 0 || cli_list_add("predict", "--output", &a->out, v)) return 2;
        } else if ((r = cli_opt("predict", argc, argv, &i, "--batch-size", &v))) {
            long b;
            if (r < 0 || (b = positive_int("predict", "--batch-size", v)) < 0) return 2;
            a->batch = (int)b;
        } else if ((r = cli_opt("predict", argc, argv, &i, "--verbose", &v))) {
            if (r < 0 || (a->verbose = cli_verbose("predict", v)) < 0) return 2;
        } else if (!strcmp(argv[i], "--stateful-stream")) {
            a->stream = 1;
        } else if (argv[i][0] != '-' && !a->model) a->model = argv[i];
        else {
            fprintf(stderr, "rnn predict: unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!a->model || !a->in.n || !a->out.n) {
        fprintf(stderr, "rnn predict: missing %s\n" PREDICT_USAGE,
                !a->model ? "MODEL" : !a->in.n ? "--input (the model's input array)"
                                               : "--output (where the predictions go)");
        return 2;
    }
    if (a->stream && (a->in.n > 1 || a->out.n > 1)) {
        fprintf(stderr, "rnn predict: --stateful-stream runs a model of one input and one output\n");
        return 2;
    }
    return -1;
}

/* rnn_predict over the inputs, a few batches at a time so that the progress bar moves on a
 * terminal; the batches are the same as one call's, and so are the predictions. */
static rnn_status predict_with_progress(rnn_model *m, const rnn_tensor *x, int nx, int batch,
                                        rnn_tensor *y, int ny, int verbose) {
    int64_t n = x[0].shape[0];
    long steps = (long)((n + batch - 1) / batch);
    double t0 = cli_now();
    int live = verbose == 1 && isatty(fileno(stdout)) && steps > 1;
    if (!live) {
        rnn_status st = rnn_predict(m, rnn_data_arrays(x, nx, NULL, 0), batch, y, ny);
        if (!st) cli_progress(stdout, verbose, steps, steps, cli_now() - t0, NULL, NULL, 0);
        return st;
    }
    long per_chunk = steps / 50 > 0 ? steps / 50 : 1;
    for (int k = 0; k < ny; k++) memset(&y[k], 0, sizeof y[k]);
    for (long done = 0; done < steps;) {
        long take = steps - done < per_chunk ? steps - done : per_chunk;
        int64_t s0 = (int64_t)done * batch, cnt = (int64_t)take * batch;
        if (s0 + cnt > n) cnt = n - s0;
        rnn_tensor xv[CLI_MAX_IO], yc[CLI_MAX_IO];
        for (int k = 0; k < nx; k++) {
            int64_t row = 1;
            for (int d = 1; d < x[k].rank; d++) row *= x[k].shape[d];
            xv[k] = x[k];
            xv[k].owned = 0;
            xv[k].data = x[k].data + s0 * row;
            xv[k].shape[0] = cnt;
        }
        rnn_status st = rnn_predict(m, rnn_data_arrays(xv, nx, NULL, 0), batch, yc, ny);
        if (st) return st;
        for (int k = 0; k < ny; k++) {
            int64_t row = 1;
            for (int d = 1; d < yc[k].rank; d++) row *= yc[k].shape[d];
            if (!y[k].data) {
                y[k] = yc[k];
                y[k].shape[0] = n;
                int64_t total = n * row;
                y[k].data = malloc(sizeof(float) * (size_t)(total > 0 ? total : 1));
                y[k].owned = 1;
                if (!y[k].data) {
                    rnn_tensor_free(&yc[k]);
                    fprintf(stderr, "rnn predict: out of memory\n");
                    return RNN_ERR_MEMORY;
                }
            }
            memcpy(y[k].data + s0 * row, yc[k].data, sizeof(float) * (size_t)(cnt * row));
            rnn_tensor_free(&yc[k]);
        }
        done += take;
        cli_progress(stdout, verbose, done, steps, cli_now() - t0, NULL, NULL, 0);
    }
    return RNN_OK;
}

int predict_main(int argc, char **argv) {
    predict_args a;
    int parsed = predict_parse(argc, argv, &a);
    if (parsed >= 0) return parsed;
    const char *inputs[CLI_MAX_IO + 2];
    inputs[0] = a.model;
    for (int k = 0; k < a.in.n; k++) inputs[1 + k] = spec_path(a.in.spec[k]);
    inputs[1 + a.in.n] = NULL;
    /* Every file's name and every output's place are checked before the model is run. */
    if (cli_list_check_ext("predict", "--input", &a.in)) return 2;
    for (int k = 0; k < a.out.n; k++) {
        const char *o = spec_path(a.out.spec[k]);
        if (refuse_output_onto_input("predict", "--output", o, inputs)) return 2;
        int bad = cli_check_array_output("predict", "--output", o);
        if (bad) return bad;
    }
    rnn_model *m = load_or_report(a.model);
    if (!m) return 1;
    const char *xp[CLI_MAX_IO], *yp[CLI_MAX_IO];
    rnn_tensor x[CLI_MAX_IO] = {{0}}, y[CLI_MAX_IO] = {{0}};
    int nx = rnn_input_count(m), ny = rnn_output_count(m), rc;
    if ((rc = cli_list_resolve("predict", "--input", m, 0, &a.in, xp)) ||
        (!a.stream && (rc = cli_list_resolve("predict", "--output", m, 1, &a.out, yp))))
        goto done;
    for (int k = 0; k < nx && !rc; k++) rc = cli_array_load("predict", xp[k], m, a.stream ? -1 : k, &x[k]);
    if (rc) goto done;
    if (a.stream) {
        rc = predict_stream(m, &x[0], a.out.spec[0]);
        goto done;
    }
    if (predict_with_progress(m, x, nx, a.batch ? a.batch : cli_default_batch(m), y, ny, a.verbose)) {
        fprintf(stderr, "rnn: %s\n", rnn_model_error(m));
        rc = 1;
        goto done;
    }
    for (int k = 0; k < ny && !rc; k++) rc = cli_array_save("predict", yp[k], &y[k]);
done:
    for (int k = 0; k < CLI_MAX_IO; k++) {
        rnn_tensor_free(&x[k]);
        rnn_tensor_free(&y[k]);
    }
    rnn_model_free(m);
    return rc;
}

#define CONVERT_USAGE                                                                         \
    "usage: rnn convert IN(.keras|.h5) OUT(.keras|.h5)\n"                                     \
    "Writes the model in the format OUT's extension names: .keras (Keras 3) or .h5 (legacy\n"  \
    "HDF5), with its weights, compile settings and optimizer state. A model from a Keras 1/2\n" \
    "file that uses hard_sigmoid (Keras 1/2's 0.2x + 0.5, which Keras 3 does not have)\n"      \
    "cannot become .keras; keep it .h5. Likewise Keras 3's hard_sigmoid cannot become .h5.\n"

int convert_main(int argc, char **argv) {
    if (argc != 3) {
        int help = argc == 2 && cli_is_help(argv[1]);
        fprintf(help ? stdout : stderr, CONVERT_USAGE);
        if (!help) fprintf(stderr, "rnn convert: %s\n", argc < 2 ? "missing IN and OUT"
                           : argc == 2 ? "missing OUT" : "IN and OUT only");
        return help ? 0 : 2;
    }
    const char *inputs[] = {argv[1], NULL};
    if (refuse_output_onto_input("convert", "OUT", argv[2], inputs)) return 2;
    rnn_model *m = load_or_report(argv[1]);
    if (!m) return 1;
    int rc = 0;
    if (rnn_save_check(m, argv[2])) {
        fprintf(stderr, "rnn convert: %s\n", rnn_model_error(m));
        rc = 2;
    } else if (rnn_save(m, argv[2])) {
        fprintf(stderr, "rnn convert: %s\n", rnn_model_error(m));
        rc = 1;
    } else {
        printf("wrote %s (%lld parameters, %s)\n", argv[2], (long long)rnn_count_params(m),
               rnn_compiled(m, NULL) ? "compiled" : "not compiled");
    }
    rnn_model_free(m);
    return rc;
}

#define FIT_USAGE                                                                             \
    "usage: rnn fit MODEL --x X --y Y --output OUT(.keras|.h5) [--epochs N]\n"                 \
    "               [--batch-size N] [--validation-split F] [--no-shuffle] [--verbose 0|1|2]\n" \
    "               [--history H.csv] [--plot-history LOSS.svg]\n"                           \
    "               [--resume BACKUP.keras [--backup-every N]] [compile options]\n"          \
    "Trains the model (X and Y: .npy or .csv; a model with several inputs or outputs takes\n"   \
    "--x / --y once for each, in the order of model.inputs / model.outputs, or NAME=FILE).\n"   \
    "A compiled model trains with its loss and optimizer (and the optimizer's state when\n"    \
    "saved); the compile options below compile an uncompiled one or replace them. Everything\n" \
    "the command will write (OUT, its format for this model, the backup, the history and the\n" \
    "plot) is checked before the first epoch. --verbose: 1 Keras's progress bar on a terminal,\n" \
    "2 (default elsewhere) one line per epoch, 0 quiet. --history: Keras's CSVLogger file\n"   \
    "(epoch, then the logs' keys in sorted order: loss, metrics, val_loss, ...).\n"           \
    "--plot-history: loss and val_loss per epoch as an SVG plot.\n"                           \
    "--resume: BackupAndRestore - the run writes BACKUP.keras after every epoch (and every N\n" \
    "batches); run the same command again after an interruption and it continues from the\n"  \
    "backup, ending with the same weights as an uninterrupted run. The backup is removed\n"   \
    "when the command finishes. If OUT cannot be written after the training all the same\n"  \
    "(disk full), the model is saved beside it as rnn-fit-rescued-PID.EXT and the message\n"  \
    "says where.\n" CLI_COMPILE_USAGE

int fit_parse(int argc, char **argv, fit_args *p) {
    memset(p, 0, sizeof *p);
    p->fo = rnn_fit_defaults();
    p->fo.verbose = isatty(fileno(stdout)) ? 1 : 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        long n;
        int r;
        if (cli_is_help(a)) {
            printf(FIT_USAGE);
            return 0;
        }
        if ((r = cli_opt("fit", argc, argv, &i, "--x", &v))) {
            if (r < 0 || cli_list_add("fit", "--x", &p->x, v)) return 2;
        } else if ((r = cli_opt("fit", argc, argv, &i, "--y", &v))) {
            if (r < 0 || cli_list_add("fit", "--y", &p->y, v)) return 2;
        } else if ((r = cli_opt("fit", argc, argv, &i, "--output", &v))) {
            if (r < 0) return 2;
            p->out = v;
        } else if ((r = cli_opt("fit", argc, argv, &i, "--history", &v))) {
            if (r < 0) return 2;
            p->history = v;
        } else if ((r = cli_opt("fit", argc, argv, &i, "--plot-history", &v))) {
            if (r < 0) return 2;
            p->plot = v;
        } else if (!strcmp(a, "--no-shuffle")) p->fo.shuffle = 0;
        else if ((r = cli_opt("fit", argc, argv, &i, "--resume", &v))) {
            if (r < 0) return 2;
            p->fo.backup.path = v;
        } else if ((r = cli_opt("fit", argc, argv, &i, "--backup-every", &v))) {
            if (r < 0 || (n = positive_int("fit", "--backup-every", v)) < 0) return 2;
            p->fo.backup.save_freq = (int)n;
        } else if ((r = cli_opt("fit", argc, argv, &i, "--epochs", &v))) {
            if (r < 0 || (n = positive_int("fit", "--epochs", v)) < 0) return 2;
            p->fo.epochs = (int)n;
        } else if ((r = cli_opt("fit", argc, argv, &i, "--batch-size", &v))) {
            if (r < 0 || (n = positive_int("fit", "--batch-size", v)) < 0) return 2;
            p->fo.batch_size = (int)n;
        } else if ((r = cli_opt("fit", argc, argv, &i, "--verbose", &v))) {
            if (r < 0 || (p->fo.verbose = cli_verbose("fit", v)) < 0) return 2;
        } else if ((r = cli_opt("fit", argc, argv, &i, "--validation-split", &v))) {
            double f;
            if (r < 0) return 2;
            if (cli_parse_fraction(v, 0.0, 1.0, &f)) {
                fprintf(stderr, "rnn fit: --validation-split takes a fraction in [0, 1)\n");
                return 2;
            }
            p->fo.validation_split = (float)f;
        } else if ((r = cli_compile_option("fit", argc, argv, &i, &p->compile))) {
            if (r < 0) return 2;
        } else if (a[0] != '-' && !p->model) p->model = a;
        else {
            fprintf(stderr, "rnn fit: unexpected argument %s\n%s", a, FIT_USAGE);
            return 2;
        }
    }
    if (!p->model || !p->x.n || !p->y.n || !p->out) {
        fprintf(stderr, "rnn fit: missing %s\n%s",
                !p->model ? "MODEL" : !p->x.n ? "--x (the inputs)" : !p->y.n ? "--y (the targets)"
                : "--output OUT.keras (where the trained model goes)", FIT_USAGE);
        return 2;
    }
    if (p->fo.backup.save_freq && !p->fo.backup.path) {
        fprintf(stderr, "rnn fit: --backup-every needs --resume BACKUP.keras\n");
        return 2;
    }
    return -1;
}

/* The trained model, when OUT cannot be written after all (the disk filled up, its directory
 * vanished): saved under a name of its own beside OUT, else beside the backup, in the current
 * directory or in TMPDIR, so that the training is not lost. Prints where; 0 when it was saved. */
static int save_rescue(rnn_model *m, const char *out, const char *backup) {
    const char *ext = ends_with(out, ".keras") ? ".keras" : ".h5";
    char dirs[4][1024];
    int n = 0;
    const char *beside[2] = {out, backup};
    for (int k = 0; k < 2; k++)
        if (beside[k]) {
            const char *slash = strrchr(beside[k], '/');
            snprintf(dirs[n++], sizeof dirs[0], "%.*s", slash ? (int)(slash - beside[k]) : 1,
                     slash ? beside[k] : ".");
            if (!dirs[n - 1][0]) snprintf(dirs[n - 1], sizeof dirs[0], "/");
        }
    snprintf(dirs[n++], sizeof dirs[0], ".");
    const char *tmp = getenv("TMPDIR");
    snprintf(dirs[n++], sizeof dirs[0], "%s", tmp && tmp[0] ? tmp : "/tmp");
    for (int i = 0; i < n; i++) {
        char path[1100];
        if (snprintf(path, sizeof path, "%.1000s/rnn-fit-rescued-%ld%s", dirs[i], (long)getpid(), ext) < 0)
            continue;
        if (rnn_save(m, path) == RNN_OK) {
            fprintf(stderr, "rnn fit: the trained model was saved to %s instead\n", path);
            return 0;
        }
    }
    fprintf(stderr, "rnn fit: the trained model could not be saved anywhere: %s\n", rnn_last_error());
    return 1;
}

/* Python's repr of a float: the shortest text that reads back as the same double (CSVLogger
 * writes str(value)). */
static void write_double(FILE *f, double v) {
    char buf[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, v);
        if (strtod(buf, NULL) == v) break;
    }
    if (!strchr(buf, '.') && !strchr(buf, 'e') && !strchr(buf, 'n') && !strchr(buf, 'i'))
        strcat(buf, ".0");
    fputs(buf, f);
}

/* Keras's CSVLogger: a header "epoch" and the logs' keys in sorted order, one row per epoch
 * (0-based). */
static int write_history(const char *path, const rnn_history *h) {
    const char *keys[2 + 2 * RNN_MAX_METRICS];
    const double *cols[2 + 2 * RNN_MAX_METRICS];
    char names[RNN_MAX_METRICS][64];
    int n = 0;
    keys[n] = "loss", cols[n++] = h->loss;
    for (int k = 0; k < h->n_metrics; k++) keys[n] = h->metric_names[k], cols[n++] = h->metric[k];
    if (h->val_loss) {
        keys[n] = "val_loss", cols[n++] = h->val_loss;
        for (int k = 0; k < h->n_metrics; k++) {
            snprintf(names[k], sizeof names[k], "val_%s", h->metric_names[k]);
            keys[n] = names[k], cols[n++] = h->val_metric[k];
        }
    }
    for (int a = 1; a < n; a++) /* sorted(logs) */
        for (int b = a; b > 0 && strcmp(keys[b - 1], keys[b]) > 0; b--) {
            const char *tk = keys[b];
            const double *tc = cols[b];
            keys[b] = keys[b - 1], cols[b] = cols[b - 1];
            keys[b - 1] = tk, cols[b - 1] = tc;
        }
    rnn_output_file *of;
    FILE *f;
    if (rnn_output_file_open(path, &of, &f)) return 1;
    fputs("epoch", f);
    for (int k = 0; k < n; k++) fprintf(f, ",%s", keys[k]);
    fputc('\n', f);
    for (int e = 0; e < h->epochs; e++) {
        fprintf(f, "%d", e);
        for (int k = 0; k < n; k++) {
            fputc(',', f);
            if (cols[k]) write_double(f, cols[k][e]);
        }
        fputc('\n', f);
    }
    return rnn_output_file_commit(of) ? 1 : 0;
}

static int plot_history(const char *path, const rnn_history *h) {
    float *loss = malloc(sizeof(float) * (size_t)(h->epochs + 1)),
          *val = malloc(sizeof(float) * (size_t)(h->epochs + 1));
    int rc = -1;
    if (loss && val) {
        for (int e = 0; e < h->epochs; e++) {
            loss[e] = (float)h->loss[e];
            if (h->val_loss) val[e] = (float)h->val_loss[e];
        }
        plot_series s[2] = {{"loss", NULL, loss, h->epochs, 1}, {"val_loss", NULL, val, h->epochs, 1}};
        rc = plot_svg_write_labelled(path, "Loss per epoch", "epoch", "loss", s, h->val_loss ? 2 : 1);
    }
    free(loss);
    free(val);
    return rc;
}

int fit_main(int argc, char **argv) {
    fit_args p;
    int parsed = fit_parse(argc, argv, &p);
    if (parsed >= 0) return parsed;
    const char *model = p.model, *out = p.out;
    rnn_fit_options fo = p.fo;
    const char *backup = fo.backup.path;
    const char *inputs[2 * CLI_MAX_IO + 2];
    int n_in = 0;
    inputs[n_in++] = model;
    for (int k = 0; k < p.x.n; k++) inputs[n_in++] = p.x.spec[k];
    for (int k = 0; k < p.y.n; k++) inputs[n_in++] = p.y.spec[k];
    inputs[n_in] = NULL;
    /* Before any work (exit 2): the names and places of everything the command will write, and
     * that none of them is an input. */
    if (refuse_output_onto_input("fit", "--output", out, inputs)) return 2;
    if (backup && (refuse_output_onto_input("fit", "--resume", backup, inputs) ||
                   (!strcmp(backup, out) || same_file(backup, out)))) {
        if (!strcmp(backup, out) || same_file(backup, out))
            fprintf(stderr, "rnn fit: --resume and --output name the same file\n");
        return 2;
    }
    if (backup && !ends_with(backup, ".keras")) {
        fprintf(stderr, "rnn fit: --resume %s: a training backup is a .keras file\n", backup);
        return 2;
    }
    if (cli_list_check_ext("fit", "--x", &p.x) || cli_list_check_ext("fit", "--y", &p.y)) return 2;
    if (p.history && (refuse_output_onto_input("fit", "--history", p.history, inputs) ||
                      cli_check_output("fit", "--history", p.history, ".csv")))
        return 2;
    if (p.plot && (refuse_output_onto_input("fit", "--plot-history", p.plot, inputs) ||
                   cli_check_output("fit", "--plot-history", p.plot, ".svg")))
        return 2;
    rnn_model *m = load_or_report(model);
    if (!m) return 1;
    rnn_tensor x[CLI_MAX_IO] = {{0}}, y[CLI_MAX_IO] = {{0}};
    const char *xp[CLI_MAX_IO], *yp[CLI_MAX_IO];
    int nx = rnn_input_count(m), ny = rnn_output_count(m);
    rnn_history h = {0};
    rnn_npy_map *maps[2 * CLI_MAX_IO] = {0};
    rnn_distributed *group = NULL;
    int rank0 = 1;
    int rc = cli_compile_apply("fit", m, &p.compile);
    if (rc) goto done;
    if (!rnn_compiled(m, NULL)) {
        fprintf(stderr, "rnn fit: the model is not compiled (its file has no compile settings "
                "librnn has): give --loss (and --optimizer, default rmsprop), or compile the model in Keras "
                "before saving it\n");
        rc = 2;
        goto done;
    }
    /* Everything that could make the final save fail is checked before the training: the
     * output's name, format (a Keras 1/2 model cannot always become .keras) and directory. */
    if (rnn_save_check(m, out) || (backup && rnn_save_check(m, backup))) {
        fprintf(stderr, "rnn fit: %s\n", rnn_model_error(m));
        rc = 2;
        goto done;
    }
    if ((rc = cli_list_resolve("fit", "--x", m, 0, &p.x, xp)) ||
        (rc = cli_list_resolve("fit", "--y", m, 1, &p.y, yp)))
        goto done;
    /* Under mpirun or srun: data-parallel, each rank reading its rows of mapped arrays (float32
     * .npy files), and rank 0 writing the files. */
    if (cli_mpi_begin(&group)) {
        rc = 1;
        goto done;
    }
    fo.distributed = group;
    rank0 = rnn_distributed_rank(group) == 0;
    for (int k = 0; k < nx + ny && !rc; k++) {
        const char *path = k < nx ? xp[k] : yp[k - nx];
        rnn_tensor *t = k < nx ? &x[k] : &y[k - nx];
        if (!group) {
            rc = cli_array_load("fit", path, m, k < nx ? k : -1, t);
        } else if (rnn_npy_map_open(path, t, &maps[k])) {
            fprintf(stderr, "rnn fit: %s (a distributed fit maps its arrays: float32 .npy "
                    "files)\n", rnn_last_error());
            rc = 1;
        }
    }
    if (rc) goto done;
    rc = 1;
    /* The backup goes only once the result is safely written (below). */
    fo.backup.delete_checkpoint = 0;
    if (rnn_fit(m, rnn_data_arrays(x, nx, y, ny), &fo, &h)) {
        fprintf(stderr, "rnn: %s\n", rnn_model_error(m));
    } else if (!rank0) {
        rc = 0; /* rank 0 writes the files */
    } else if (rnn_save(m, out)) {
        fprintf(stderr, "rnn fit: cannot save %s: %s\n", out, rnn_model_error(m));
        save_rescue(m, out, backup);
        if (backup) fprintf(stderr, "rnn fit: the backup %s is kept\n", backup);
    } else {
        rc = 0;
        printf("wrote %s (%lld parameters, %d epoch%s trained)\n", out,
               (long long)rnn_count_params(m), h.epochs, h.epochs == 1 ? "" : "s");
        if (backup && unlink(backup) != 0 && errno != ENOENT)
            fprintf(stderr, "rnn fit: warning: cannot remove the backup %s: %s\n", backup,
                    strerror(errno));
    }
    /* The records of a training are written whether or not the model could be. */
    if (rank0 && h.epochs > 0 && p.history) {
        if (write_history(p.history, &h)) {
            fprintf(stderr, "rnn fit: --history %s: %s\n", p.history, rnn_last_error());
            rc = 1;
        } else printf("wrote %s (%d epoch%s)\n", p.history, h.epochs, h.epochs == 1 ? "" : "s");
    }
    if (rank0 && h.epochs > 0 && p.plot) {
        if (plot_history(p.plot, &h)) {
            fprintf(stderr, "rnn fit: --plot-history %s: %s\n", p.plot, plot_svg_error());
            rc = 1;
        } else printf("wrote %s (%d epoch%s)\n", p.plot, h.epochs, h.epochs == 1 ? "" : "s");
    }
done:
    rnn_history_free(&h);
    for (int k = 0; k < CLI_MAX_IO; k++) {
        rnn_tensor_free(&x[k]);
        rnn_tensor_free(&y[k]);
    }
    for (int k = 0; k < 2 * CLI_MAX_IO; k++) rnn_npy_map_close(maps[k]);
    rnn_model_free(m);
    cli_mpi_end(group, rc != 0);
    return rc;
}
