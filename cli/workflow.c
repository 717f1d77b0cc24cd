/* What the rnn tool's model commands share (see workflow.h), and `rnn init` / `rnn evaluate`. */
#include "workflow.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cli_verbose(const char *cmd, const char *t) {
    if (strcmp(t, "0") && strcmp(t, "1") && strcmp(t, "2")) {
        fprintf(stderr, "rnn %s: --verbose takes 0, 1 or 2, got \"%s\"\n", cmd, t);
        return -1;
    }
    return t[0] - '0';
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* ---------------------------------------------------------------- compile options */

int cli_compile_option(const char *cmd, int argc, char **argv, int *i, cli_compile *c) {
    const char *v;
    int r;
    if ((r = cli_opt(cmd, argc, argv, i, "--loss", &v))) return r < 0 ? -1 : (c->loss = v, 1);
    if ((r = cli_opt(cmd, argc, argv, i, "--optimizer", &v)))
        return r < 0 ? -1 : (c->optimizer = v, 1);
    if ((r = cli_opt(cmd, argc, argv, i, "--learning-rate", &v)))
        return r < 0 ? -1 : (c->learning_rate = v, 1);
    if ((r = cli_opt(cmd, argc, argv, i, "--metrics", &v))) return r < 0 ? -1 : (c->metrics = v, 1);
    if ((r = cli_opt(cmd, argc, argv, i, "--opt", &v))) {
        if (r < 0) return -1;
        if (!strchr(v, '=') || v[0] == '=') {
            fprintf(stderr, "rnn %s: --opt takes KEY=VALUE (an argument of the optimizer by its "
                    "Keras name, e.g. --opt beta_1=0.8), got \"%s\"\n", cmd, v);
            return -1;
        }
        if (c->n_opt == CLI_MAX_OPTS) {
            fprintf(stderr, "rnn %s: at most %d --opt\n", cmd, CLI_MAX_OPTS);
            return -1;
        }
        c->opt[c->n_opt++] = v;
        return 1;
    }
    return 0;
}

int cli_compile_given(const cli_compile *c) {
    return c->loss || c->optimizer || c->learning_rate || c->metrics || c->n_opt;
}

int cli_compile_apply(const char *cmd, rnn_model *m, const cli_compile *c) {
    if (!cli_compile_given(c)) return 0;
    rnn_compile_settings was;
    int compiled = rnn_compiled(m, &was);
    if (!compiled && !c->loss) {
        fprintf(stderr, "rnn %s: the model is not compiled: give --loss (and --optimizer, "
                "default rmsprop)\n", cmd);
        return 2;
    }
    char loss[64];
    snprintf(loss, sizeof loss, "%s", c->loss ? c->loss : was.loss);
    rnn_optimizer o;
    if (c->optimizer) {
        if (rnn_optimizer_by_name(c->optimizer, &o)) {
            fprintf(stderr, "rnn %s: --optimizer: %s\n", cmd, rnn_last_error());
            return 2;
        }
    } else if (compiled) o = was.optimizer;
    else rnn_optimizer_by_name("rmsprop", &o);
    if (c->learning_rate && rnn_optimizer_set_arg(&o, "learning_rate", c->learning_rate)) {
        fprintf(stderr, "rnn %s: --learning-rate: %s\n", cmd, rnn_last_error());
        return 2;
    }
    for (int k = 0; k < c->n_opt; k++) {
        char key[64];
        const char *eq = strchr(c->opt[k], '=');
        snprintf(key, sizeof key, "%.*s", (int)(eq - c->opt[k]), c->opt[k]);
        if (rnn_optimizer_set_arg(&o, key, eq + 1)) {
            fprintf(stderr, "rnn %s: --opt %s: %s\n", cmd, c->opt[k], rnn_last_error());
            return 2;
        }
    }
    /* The metrics kept (a compiled model's own, unless --metrics replaces them) are copied:
     * compiling anew clears the model's strings. */
    char metrics[256] = "";
    if (c->metrics) snprintf(metrics, sizeof metrics, "%s", c->metrics);
    else if (compiled)
        for (int k = 0; k < was.n_metrics; k++)
            snprintf(metrics + strlen(metrics), sizeof metrics - strlen(metrics), "%s%s",
                     k ? "," : "", was.metrics[k]);
    int logits = compiled && !c->loss && was.from_logits;
    if (rnn_compile_with(m, loss, &o)) {
        fprintf(stderr, "rnn %s: %s\n", cmd, rnn_model_error(m));
        return 2;
    }
    if (logits) rnn_set_from_logits(m, 1);
    for (char *tok = strtok(metrics, ","); tok; tok = strtok(NULL, ",")) {
        if (!*tok) continue;
        if (rnn_add_metric(m, tok)) {
            fprintf(stderr, "rnn %s: --metrics %s: %s\n", cmd, tok, rnn_model_error(m));
            return 2;
        }
    }
    return 0;
}

void cli_print_compile(rnn_model *m, FILE *out) {
    rnn_compile_settings s;
    if (!rnn_compiled(m, &s)) {
        fprintf(out, " Not compiled (rnn fit and rnn evaluate compile it with --loss and "
                "--optimizer)\n");
        return;
    }
    char opt[512];
    rnn_optimizer_describe(&s.optimizer, opt, sizeof opt);
    fprintf(out, " Loss: %s%s\n Optimizer: %s\n Metrics: ", s.loss,
            s.from_logits ? " (from_logits=True)" : "", opt);
    for (int k = 0; k < s.n_metrics; k++) fprintf(out, "%s%s", k ? ", " : "", s.metrics[k]);
    fprintf(out, "%s\n", s.n_metrics ? "" : "none");
}

/* ---------------------------------------------------------------- arrays */

int cli_list_add(const char *cmd, const char *opt, cli_list *l, const char *spec) {
    if (l->n == CLI_MAX_IO) {
        fprintf(stderr, "rnn %s: at most %d %s\n", cmd, CLI_MAX_IO, opt);
        return -1;
    }
    l->spec[l->n++] = spec;
    return 0;
}

static int array_ext(const char *path) { return ends_with(path, ".npy") || ends_with(path, ".csv"); }

int cli_list_check_ext(const char *cmd, const char *opt, const cli_list *l) {
    for (int k = 0; k < l->n; k++)
        if (!array_ext(l->spec[k])) {
            fprintf(stderr, "rnn %s: %s %s: arrays are read from .npy or .csv files (one row "
                    "per sample)\n", cmd, opt, l->spec[k]);
            return 2;
        }
    return 0;
}

static const char *io_name(rnn_model *m, int outputs, int k) {
    return outputs ? rnn_output_name(m, k) : rnn_input_name(m, k);
}

static void list_names(rnn_model *m, int outputs, int count) {
    for (int k = 0; k < count; k++) {
        const char *nm = io_name(m, outputs, k);
        fprintf(stderr, "%s%s", k ? ", " : "", nm ? nm : "?");
    }
}

int cli_list_resolve(const char *cmd, const char *opt, rnn_model *m, int outputs,
                     const cli_list *l, const char **paths) {
    int count = outputs ? rnn_output_count(m) : rnn_input_count(m);
    const char *what = outputs ? "output" : "input";
    for (int k = 0; k < count; k++) paths[k] = NULL;
    int positional[CLI_MAX_IO], n_pos = 0;
    for (int j = 0; j < l->n; j++) {
        const char *eq = strchr(l->spec[j], '=');
        int found = -1;
        for (int k = 0; eq && k < count; k++) {
            const char *nm = io_name(m, outputs, k);
            if (nm && strlen(nm) == (size_t)(eq - l->spec[j]) && !strncmp(nm, l->spec[j], (size_t)(eq - l->spec[j])))
                found = k;
        }
        if (found < 0) {
            positional[n_pos++] = j;
            continue;
        }
        if (paths[found]) {
            fprintf(stderr, "rnn %s: %s %s: the %s %s is given twice\n", cmd, opt, l->spec[j],
                    what, io_name(m, outputs, found));
            return 2;
        }
        paths[found] = eq + 1;
    }
    int p = 0;
    for (int k = 0; k < count && p < n_pos; k++)
        if (!paths[k]) paths[k] = l->spec[positional[p++]];
    int missing = 0;
    for (int k = 0; k < count; k++) missing += !paths[k];
    if (p < n_pos || missing) {
        fprintf(stderr, "rnn %s: the model has %d %s%s (", cmd, count, what, count == 1 ? "" : "s");
        list_names(m, outputs, count);
        fprintf(stderr, "), %d %s given: give %s once for each, in this order, or as %s NAME=FILE\n",
                l->n, opt, opt, opt);
        return 2;
    }
    return 0;
}

/* A .csv array: one row per sample. The header names the columns; "stepT_featureF" columns (the
 * ones cli_array_save writes for a 3-D array) give (samples, T+1, F+1). */
static int csv_load(const char *cmd, const char *path, rnn_model *m, int input, rnn_tensor *t) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "rnn %s: %s: %s\n", cmd, path, strerror(errno));
        return 1;
    }
    size_t cap = 1024, n = 0;
    float *v = malloc(cap * sizeof *v);
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    long rows = 0, cols = -1, lineno = 0, steps = 0, feats = 0;
    int rc = 1;
    while (v && (len = getline(&line, &line_cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (!len) continue;
        char *end;
        strtof(line, &end);
        if (rows == 0 && cols < 0 && end == line) { /* the header */
            const char *last = strrchr(line, ',');
            last = last ? last + 1 : line;
            long T, F;
            if (sscanf(last, "step%ld_feature%ld", &T, &F) == 2) steps = T + 1, feats = F + 1;
            cols = 1;
            for (const char *c = line; *c; c++) cols += *c == ',';
            continue;
        }
        long c = 0;
        for (char *s = line;; c++) {
            float x = strtof(s, &end);
            if (end == s || (*end && *end != ',')) {
                fprintf(stderr, "rnn %s: %s:%ld: column %ld is not a number\n", cmd, path, lineno, c + 1);
                goto done;
            }
            if (n == cap) {
                float *w = realloc(v, 2 * cap * sizeof *v);
                if (!w) goto oom;
                v = w, cap *= 2;
            }
            v[n++] = x;
            if (!*end) break;
            s = end + 1;
        }
        c++;
        if (cols >= 0 && c != cols) {
            fprintf(stderr, "rnn %s: %s:%ld: %ld columns, the first row has %ld\n", cmd, path,
                    lineno, c, cols);
            goto done;
        }
        cols = c;
        rows++;
    }
    if (!v) goto oom;
    if (rows == 0) {
        fprintf(stderr, "rnn %s: %s: no rows\n", cmd, path);
        goto done;
    }
    memset(t, 0, sizeof *t);
    t->data = v;
    t->shape[0] = rows;
    t->rank = 2;
    t->shape[1] = cols;
    /* Without a shape header, a model input of rank 3 gives the steps and features. */
    int r;
    int64_t s[RNN_MAX_RANK];
    if (!steps && input >= 0 && rnn_input_shape(m, input, &r, s) == RNN_OK && r == 3 && s[2] > 0 &&
        cols % s[2] == 0 && (s[1] < 0 || s[1] * s[2] == cols))
        steps = cols / s[2], feats = s[2];
    if (steps) {
        if (steps * feats != cols) {
            fprintf(stderr, "rnn %s: %s: the header says %ld steps of %ld features, the rows have "
                    "%ld values\n", cmd, path, steps, feats, cols);
            goto done;
        }
        t->rank = 3;
        t->shape[1] = steps;
        t->shape[2] = feats;
    }
    t->owned = 1;
    v = NULL;
    rc = 0;
    goto done;
oom:
    fprintf(stderr, "rnn %s: %s: out of memory\n", cmd, path);
done:
    free(v);
    free(line);
    fclose(f);
    return rc;
}

int cli_array_load(const char *cmd, const char *path, rnn_model *m, int input, rnn_tensor *t) {
    if (ends_with(path, ".csv")) return csv_load(cmd, path, m, input, t);
    if (rnn_npy_load(path, t)) {
        fprintf(stderr, "rnn %s: %s\n", cmd, rnn_last_error());
        return 1;
    }
    return 0;
}

static void shape_text(const rnn_tensor *t, char *buf, size_t size) {
    size_t n = (size_t)snprintf(buf, size, "(");
    for (int k = 0; k < t->rank && n < size; k++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", k ? ", " : "", (long long)t->shape[k]);
    if (n < size) snprintf(buf + n, size - n, "%s)", t->rank == 1 ? "," : "");
}

static int csv_save(const char *cmd, const char *path, const rnn_tensor *t) {
    rnn_output_file *of;
    FILE *f;
    if (rnn_output_file_open(path, &of, &f)) {
        fprintf(stderr, "rnn %s: %s\n", cmd, rnn_last_error());
        return 1;
    }
    int64_t rows = t->rank ? t->shape[0] : 1, cols = 1;
    for (int k = 1; k < t->rank; k++) cols *= t->shape[k];
    for (int64_t c = 0; c < cols; c++) {
        if (c) fputc(',', f);
        if (t->rank == 3) fprintf(f, "step%lld_feature%lld", (long long)(c / t->shape[2]), (long long)(c % t->shape[2]));
        else fprintf(f, "%s%lld", t->rank <= 1 ? "value" : "feature", (long long)c);
    }
    fputc('\n', f);
    /* %.9g: enough digits that every float reads back as itself. */
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            fprintf(f, "%.9g%c", (double)t->data[r * cols + c], c + 1 < cols ? ',' : '\n');
    if (rnn_output_file_commit(of)) {
        fprintf(stderr, "rnn %s: %s\n", cmd, rnn_last_error());
        return 1;
    }
    return 0;
}

int cli_array_save(const char *cmd, const char *path, const rnn_tensor *t) {
    char shape[128];
    shape_text(t, shape, sizeof shape);
    if (ends_with(path, ".csv")) {
        if (csv_save(cmd, path, t)) return 1;
        printf("wrote %s %s\n", path, shape);
        return 0;
    }
    if (rnn_npy_save(path, t)) {
        fprintf(stderr, "rnn %s: %s\n", cmd, rnn_last_error());
        return 1;
    }
    printf("wrote %s %s float32\n", path, shape);
    return 0;
}

int cli_check_output(const char *cmd, const char *opt, const char *path, const char *ext) {
    if (!ends_with(path, ext)) {
        fprintf(stderr, "rnn %s: %s %s: name it %s\n", cmd, opt, path, ext);
        return 2;
    }
    rnn_output_file *of;
    FILE *f;
    if (rnn_output_file_open(path, &of, &f) != RNN_OK) {
        fprintf(stderr, "rnn %s: %s %s: %s\n", cmd, opt, path, rnn_last_error());
        return 2;
    }
    rnn_output_file_discard(of);
    return 0;
}

int cli_check_array_output(const char *cmd, const char *opt, const char *path) {
    if (!array_ext(path)) {
        fprintf(stderr, "rnn %s: %s %s: arrays are written as .npy or .csv; name it so\n", cmd,
                opt, path);
        return 2;
    }
    return cli_check_output(cmd, opt, path, ends_with(path, ".csv") ? ".csv" : ".npy");
}

/* ---------------------------------------------------------------- progress */

static void time_per_step(FILE *f, double t) {
    if (t >= 1 || t == 0) fprintf(f, "%.0fs/step", t);
    else if (t >= 1e-3) fprintf(f, "%.0fms/step", t * 1e3);
    else fprintf(f, "%.0fus/step", t * 1e6);
}

void cli_progress(FILE *out, int verbose, long done, long steps, double seconds,
                  const char *const *names, const double *values, int n) {
    if (verbose == 0) return;
    int tty = isatty(fileno(out));
    if (done < steps && !(verbose == 1 && tty)) return;
    double per = done ? seconds / (double)done : 0;
    if (verbose == 2) {
        fprintf(out, "%ld/%ld - %.0fs - ", done, steps, seconds);
    } else {
        int width = snprintf(NULL, 0, "%ld", steps);
        if (tty) fputc('\r', out);
        fprintf(out, "%*ld/%ld ", width, done, steps);
        int filled = steps > 0 ? (int)(20 * done / steps) : 20;
        if (tty) fprintf(out, "\x1b[32m");
        for (int i = 0; i < 20; i++) {
            if (tty && i == filled) fprintf(out, "\x1b[37m");
            fputs("\xe2\x94\x81", out); /* U+2501, Keras's bar */
        }
        if (tty) fprintf(out, "\x1b[0m");
        fprintf(out, " %.0fs ", done < steps ? per * (double)(steps - done) : seconds);
    }
    time_per_step(out, per);
    for (int k = 0; k < n; k++)
        fprintf(out, fabs(values[k]) > 1e-3 ? " - %s: %.4f" : " - %s: %.4e", names[k], values[k]);
    if (tty && verbose == 1) fprintf(out, "\x1b[K");
    if (done >= steps) fputc('\n', out);
    fflush(out);
}

/* ---------------------------------------------------------------- rnn init */

#define INIT_USAGE                                                                             \
    "usage: rnn init CONFIG.json --output MODEL(.keras|.h5) [--seed N] [compile options]\n"   \
    "A new model from a Keras model config, the JSON text model.to_json() writes (Sequential\n" \
    "or Functional, nested models included), its weights drawn by the config's initializers\n"  \
    "from the seed (default 0).\n" CLI_COMPILE_USAGE

static char *read_text(const char *cmd, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "rnn %s: %s: %s\n", cmd, path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0, got;
    char *b = malloc(cap);
    while (b && (got = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *w = realloc(b, cap * 2);
            if (!w) {
                free(b);
                b = NULL;
            } else b = w, cap *= 2;
        }
    }
    if (!b) fprintf(stderr, "rnn %s: %s: out of memory\n", cmd, path);
    else b[n] = 0;
    fclose(f);
    return b;
}

int init_main(int argc, char **argv) {
    const char *config = NULL, *out = NULL, *v;
    long seed = 0;
    cli_compile c = {0};
    for (int i = 1; i < argc; i++) {
        int r;
        if (cli_is_help(argv[i])) {
            printf(INIT_USAGE);
            return 0;
        }
        if ((r = cli_opt("init", argc, argv, &i, "--output", &v))) {
            if (r < 0) return 2;
            out = v;
        } else if ((r = cli_opt("init", argc, argv, &i, "--seed", &v))) {
            if (r < 0) return 2;
            if (cli_parse_int(v, 0, 1L << 62, &seed)) {
                fprintf(stderr, "rnn init: --seed needs an integer >= 0, got \"%s\"\n", v);
                return 2;
            }
        } else if ((r = cli_compile_option("init", argc, argv, &i, &c))) {
            if (r < 0) return 2;
        } else if (argv[i][0] != '-' && !config) config = argv[i];
        else {
            fprintf(stderr, "rnn init: unexpected argument %s\n%s", argv[i], INIT_USAGE);
            return 2;
        }
    }
    if (!config || !out) {
        fprintf(stderr, "rnn init: missing %s\n%s", !config ? "CONFIG.json (the model config)"
                : "--output MODEL.keras (where the new model goes)", INIT_USAGE);
        return 2;
    }
    if (!strcmp(config, out)) {
        fprintf(stderr, "rnn init: --output %s is also the config; write the model to another "
                "file\n", out);
        return 2;
    }
    char *text = read_text("init", config);
    if (!text) return 1;
    rnn_model *m = rnn_model_from_json(text);
    free(text);
    if (!m) {
        fprintf(stderr, "rnn init: %s: %s\n", config, rnn_last_error());
        return 1;
    }
    int rc = cli_compile_apply("init", m, &c);
    if (!rc && rnn_set_seed(m, (uint64_t)seed)) {
        fprintf(stderr, "rnn init: %s\n", rnn_model_error(m));
        rc = 1;
    }
    if (!rc && rnn_save_check(m, out)) {
        fprintf(stderr, "rnn init: %s\n", rnn_model_error(m));
        rc = 2;
    }
    if (!rc && rnn_save(m, out)) {
        fprintf(stderr, "rnn init: %s\n", rnn_model_error(m));
        rc = 1;
    }
    if (!rc) printf("wrote %s (%lld parameters, %s)\n", out, (long long)rnn_count_params(m),
                    rnn_compiled(m, NULL) ? "compiled" : "not compiled");
    rnn_model_free(m);
    return rc;
}

/* ---------------------------------------------------------------- rnn evaluate */

#define EVALUATE_USAGE                                                                         \
    "usage: rnn evaluate MODEL --x X(.npy|.csv) --y Y(.npy|.csv) [--batch-size N]\n"           \
    "                    [--verbose 0|1|2] [compile options]\n"                                \
    "Prints Keras's evaluate line: the mean loss and the compiled metrics. A model with several\n" \
    "inputs or outputs takes --x / --y once for each, in the order of model.inputs /\n"         \
    "model.outputs, or as --x NAME=FILE. Default batch size: the model's fixed one, or 32.\n"  \
    CLI_COMPILE_USAGE

/* The default batch size of predict and evaluate: a model with a fixed batch size (stateful
 * layers need it) runs with that size, as Keras's predict(x) does; otherwise 32. */
int cli_default_batch(rnn_model *m) {
    int r;
    int64_t s[RNN_MAX_RANK];
    if (rnn_input_count(m) > 0 && rnn_input_shape(m, 0, &r, s) == RNN_OK && r >= 1 && s[0] > 0)
        return (int)s[0];
    return 32;
}

int evaluate_main(int argc, char **argv) {
    const char *model = NULL, *v;
    cli_list xs = {0}, ys = {0};
    cli_compile c = {0};
    long batch = 0;
    int verbose = 1;
    for (int i = 1; i < argc; i++) {
        int r;
        if (cli_is_help(argv[i])) {
            printf(EVALUATE_USAGE);
            return 0;
        }
        if ((r = cli_opt("evaluate", argc, argv, &i, "--x", &v))) {
            if (r < 0 || cli_list_add("evaluate", "--x", &xs, v)) return 2;
        } else if ((r = cli_opt("evaluate", argc, argv, &i, "--y", &v))) {
            if (r < 0 || cli_list_add("evaluate", "--y", &ys, v)) return 2;
        } else if ((r = cli_opt("evaluate", argc, argv, &i, "--batch-size", &v))) {
            if (r < 0) return 2;
            if (cli_parse_int(v, 1, 1L << 30, &batch)) {
                fprintf(stderr, "rnn evaluate: --batch-size needs a positive integer, got \"%s\"\n", v);
                return 2;
            }
        } else if ((r = cli_opt("evaluate", argc, argv, &i, "--verbose", &v))) {
            if (r < 0 || (verbose = cli_verbose("evaluate", v)) < 0) return 2;
        } else if ((r = cli_compile_option("evaluate", argc, argv, &i, &c))) {
            if (r < 0) return 2;
        } else if (argv[i][0] != '-' && !model) model = argv[i];
        else {
            fprintf(stderr, "rnn evaluate: unexpected argument %s\n%s", argv[i], EVALUATE_USAGE);
            return 2;
        }
    }
    if (!model || !xs.n || !ys.n) {
        fprintf(stderr, "rnn evaluate: missing %s\n%s",
                !model ? "MODEL" : !xs.n ? "--x (the inputs)" : "--y (the targets)", EVALUATE_USAGE);
        return 2;
    }
    if (cli_list_check_ext("evaluate", "--x", &xs) || cli_list_check_ext("evaluate", "--y", &ys))
        return 2;
    rnn_model *m = rnn_load(model);
    if (!m) {
        fprintf(stderr, "rnn evaluate: %s\n", rnn_last_error());
        return 1;
    }
    const char *xp[CLI_MAX_IO], *yp[CLI_MAX_IO];
    rnn_tensor x[CLI_MAX_IO] = {{0}}, y[CLI_MAX_IO] = {{0}};
    int nx = rnn_input_count(m), ny = rnn_output_count(m), rc;
    if ((rc = cli_compile_apply("evaluate", m, &c))) goto done;
    if (!rnn_compiled(m, NULL)) {
        fprintf(stderr, "rnn evaluate: the model is not compiled: give --loss (and --optimizer)\n");
        rc = 2;
        goto done;
    }
    if ((rc = cli_list_resolve("evaluate", "--x", m, 0, &xs, xp)) ||
        (rc = cli_list_resolve("evaluate", "--y", m, 1, &ys, yp)))
        goto done;
    for (int k = 0; k < nx && !rc; k++) rc = cli_array_load("evaluate", xp[k], m, k, &x[k]);
    for (int k = 0; k < ny && !rc; k++) rc = cli_array_load("evaluate", yp[k], m, -1, &y[k]);
    if (rc) goto done;
    if (!batch) batch = cli_default_batch(m);
    double loss, metrics[RNN_MAX_METRICS];
    double t0 = cli_now();
    if (rnn_evaluate(m, rnn_data_arrays(x, nx, y, ny), (int)batch, &loss, metrics)) {
        fprintf(stderr, "rnn evaluate: %s\n", rnn_model_error(m));
        rc = 1;
        goto done;
    }
    rnn_compile_settings s;
    rnn_compiled(m, &s);
    const char *names[1 + RNN_MAX_METRICS] = {"loss"};
    double values[1 + RNN_MAX_METRICS] = {loss};
    for (int k = 0; k < s.n_metrics; k++) names[1 + k] = s.metrics[k], values[1 + k] = metrics[k];
    long steps = (long)((x[0].shape[0] + batch - 1) / batch);
    /* The numbers are the command's result, so they are printed whatever --verbose says: 0
     * gives them alone, to 6 significant digits (more than Keras's 4, fewer than the last
     * bits, which the thread count may change). */
    if (verbose) cli_progress(stdout, verbose, steps, steps, cli_now() - t0, names, values, 1 + s.n_metrics);
    else {
        for (int k = 0; k < 1 + s.n_metrics; k++) printf("%s%s: %.6g", k ? " - " : "", names[k], values[k]);
        printf("\n");
    }
done:
    for (int k = 0; k < CLI_MAX_IO; k++) {
        rnn_tensor_free(&x[k]);
        rnn_tensor_free(&y[k]);
    }
    rnn_model_free(m);
    return rc;
}
