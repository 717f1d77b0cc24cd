/* librnn against real Keras: every case under tests/fixtures/keras/ (written by
 * tools/make_keras_fixtures.py with Keras 3 / TensorFlow on the CPU) is rebuilt through the public
 * API from its case.txt, given Keras's weights, and must reproduce Keras's numbers within the
 * tolerances of issue 4:
 *   outputs (predict; stateful: two chunks in a row), the loss (train_on_batch and evaluate):
 *       |got - expected| <= 1e-5, or <= 1e-4 |expected| where |expected| > 1
 *   gradients of the loss with respect to every weight:
 *       |got - expected| <= max(1e-6, 1e-3 |expected|)
 *   weights after 5 train_on_batch steps, and the loss each step returned: as outputs.
 * On a mismatch it prints the case, the array, the flat index, the expected and the obtained
 * value. At the end it prints the largest differences seen per quantity.
 *
 * Gradients are read through the public API: one train_on_batch step of plain SGD with learning
 * rate L = 2^24 turns w into w - L g (L g is exact, a power of two), so g = (w - w') / L. Its
 * error is about eps (|g| + |w| / L): 6e-8 relative plus 4e-15 absolute, far inside the
 * tolerance; and it is the gradient that training applies. The weights are restored after. */
#define _GNU_SOURCE
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "rnn.h"

#define ROOT "tests/fixtures/keras"
#define MAX_CASES 256
#define MAX_LAYERS 16
#define MAX_WEIGHTS 64
#define GRAD_LR 16777216.0f /* 2^24 */
#define SHOW_MISMATCHES 5

/* ---------------------------------------------------------------- case.txt */

typedef struct {
    char cls[16];
    rnn_recurrent_options rec;
    rnn_dense_options dense;
} layer_spec;

typedef struct {
    char name[128];
    int batch_input; /* batch_input (fixed batch) rather than input */
    int64_t batch, steps, features;
    int n_layers;
    layer_spec layers[MAX_LAYERS];
    char loss[16];
    rnn_optimizer opt;
    int has_opt;
    int train_steps;
    int chunks;
} case_spec;

static int parse_int(const char *s, int64_t *v) {
    char *end;
    long long x = strtoll(s, &end, 10);
    if (end == s || *end) return 0;
    *v = x;
    return 1;
}

static int parse_float(const char *s, float *v) {
    char *end;
    *v = strtof(s, &end);
    return end != s && !*end;
}

/* Applies key=value to a layer; 0 if the key or value is not understood. */
static int layer_option(layer_spec *L, const char *key, const char *value) {
    int64_t iv = 0;
    int is_dense = !strcmp(L->cls, "Dense");
    if (!strcmp(key, "activation") || !strcmp(key, "recurrent_activation")) {
        int a = rnn_activation_from_name(value);
        if (a < 0) return 0;
        if (is_dense && !strcmp(key, "activation")) L->dense.activation = (rnn_activation)a;
        else if (!strcmp(key, "activation")) L->rec.activation = (rnn_activation)a;
        else if (!is_dense) L->rec.recurrent_activation = (rnn_activation)a;
        else return 0;
        return 1;
    }
    if (!parse_int(value, &iv)) return 0;
    if (!strcmp(key, "units")) return 1; /* applied when the defaults were made */
    if (!strcmp(key, "use_bias")) {
        if (is_dense) L->dense.use_bias = (int)iv;
        else L->rec.use_bias = (int)iv;
        return 1;
    }
    if (is_dense) return 0;
    if (!strcmp(key, "return_sequences")) L->rec.return_sequences = (int)iv;
    else if (!strcmp(key, "go_backwards")) L->rec.go_backwards = (int)iv;
    else if (!strcmp(key, "stateful")) L->rec.stateful = (int)iv;
    else if (!strcmp(key, "unit_forget_bias") && !strcmp(L->cls, "LSTM")) L->rec.unit_forget_bias = (int)iv;
    else if (!strcmp(key, "reset_after") && !strcmp(L->cls, "GRU")) L->rec.reset_after = (int)iv;
    else return 0;
    return 1;
}

#define PARSE_FAIL(...)                                                                       \
    do {                                                                                      \
        fprintf(stderr, "%s line %d: ", path, line_no);                                      \
        fprintf(stderr, __VA_ARGS__);                                                         \
        fputc('\n', stderr);                                                                  \
        fclose(f);                                                                            \
        return 0;                                                                             \
    } while (0)

static int parse_case(const char *path, case_spec *c) {
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        return 0;
    }
    char line[1024];
    int line_no = 0, have_input = 0;
    while (fgets(line, sizeof line, f)) {
        line_no++;
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *tok[40], *save = NULL;
        int n = 0;
        for (char *t = strtok_r(line, " \t\r\n", &save); t && n < 40;
             t = strtok_r(NULL, " \t\r\n", &save))
            tok[n++] = t;
        if (n == 0) continue;
        if (!strcmp(tok[0], "case") && n == 2) {
            snprintf(c->name, sizeof c->name, "%s", tok[1]);
        } else if (!strcmp(tok[0], "versions")) {
            /* informational */
        } else if ((!strcmp(tok[0], "input") || !strcmp(tok[0], "batch_input")) && n == 4) {
            c->batch_input = !strcmp(tok[0], "batch_input");
            if (!parse_int(tok[1], &c->batch) || !parse_int(tok[2], &c->steps) ||
                !parse_int(tok[3], &c->features))
                PARSE_FAIL("bad input line");
            have_input = 1;
        } else if (!strcmp(tok[0], "layer") && n >= 3) {
            if (c->n_layers == MAX_LAYERS) PARSE_FAIL("too many layers");
            layer_spec *L = &c->layers[c->n_layers++];
            snprintf(L->cls, sizeof L->cls, "%s", tok[1]);
            int64_t units = -1;
            for (int i = 2; i < n; i++)
                if (!strncmp(tok[i], "units=", 6) && !parse_int(tok[i] + 6, &units))
                    PARSE_FAIL("bad units");
            if (units <= 0) PARSE_FAIL("layer without units");
            if (!strcmp(L->cls, "LSTM")) L->rec = rnn_lstm_defaults((int)units);
            else if (!strcmp(L->cls, "GRU")) L->rec = rnn_gru_defaults((int)units);
            else if (!strcmp(L->cls, "SimpleRNN")) L->rec = rnn_simple_rnn_defaults((int)units);
            else if (!strcmp(L->cls, "Dense")) L->dense = rnn_dense_defaults((int)units);
            else PARSE_FAIL("unknown layer class %s", L->cls);
            for (int i = 2; i < n; i++) {
                char *eq = strchr(tok[i], '=');
                if (!eq) PARSE_FAIL("expected key=value, got %s", tok[i]);
                *eq = '\0';
                if (!layer_option(L, tok[i], eq + 1))
                    PARSE_FAIL("%s: unknown option or value %s=%s", L->cls, tok[i], eq + 1);
            }
        } else if (!strcmp(tok[0], "loss") && n == 2) {
            snprintf(c->loss, sizeof c->loss, "%s", tok[1]);
        } else if (!strcmp(tok[0], "optimizer") && n >= 2) {
            if (!strcmp(tok[1], "adam")) c->opt = rnn_adam_defaults();
            else if (!strcmp(tok[1], "sgd")) c->opt = rnn_sgd_defaults();
            else PARSE_FAIL("unknown optimizer %s", tok[1]);
            c->has_opt = 1;
            for (int i = 2; i < n; i++) {
                char *eq = strchr(tok[i], '=');
                float v;
                if (!eq || !parse_float(eq + 1, &v)) PARSE_FAIL("bad optimizer option %s", tok[i]);
                *eq = '\0';
                if (!strcmp(tok[i], "learning_rate")) c->opt.learning_rate = v;
                else if (!strcmp(tok[i], "beta_1") && c->opt.kind == RNN_OPT_ADAM) c->opt.beta_1 = v;
                else if (!strcmp(tok[i], "beta_2") && c->opt.kind == RNN_OPT_ADAM) c->opt.beta_2 = v;
                else if (!strcmp(tok[i], "epsilon") && c->opt.kind == RNN_OPT_ADAM) c->opt.epsilon = v;
                else if (!strcmp(tok[i], "momentum") && c->opt.kind == RNN_OPT_SGD) c->opt.momentum = v;
                else if (!strcmp(tok[i], "nesterov") && c->opt.kind == RNN_OPT_SGD) c->opt.nesterov = v != 0;
                else PARSE_FAIL("unknown optimizer option %s", tok[i]);
            }
        } else if (!strcmp(tok[0], "train_steps") && n == 2) {
            int64_t v;
            if (!parse_int(tok[1], &v) || v < 1 || v > 1000) PARSE_FAIL("bad train_steps");
            c->train_steps = (int)v;
        } else if (!strcmp(tok[0], "stateful_chunks") && n == 2) {
            int64_t v;
            if (!parse_int(tok[1], &v) || v != 2) PARSE_FAIL("stateful_chunks must be 2");
            c->chunks = 2;
        } else {
            PARSE_FAIL("unknown line starting with '%s'", tok[0]);
        }
    }
    fclose(f);
    if (!c->name[0] || !have_input || c->n_layers == 0 || !c->loss[0] || !c->has_opt ||
        !c->train_steps) {
        fprintf(stderr, "%s: incomplete (needs case, input, layer, loss, optimizer, "
                "train_steps)\n", path);
        return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- comparisons */

/* The largest differences seen per quantity, for the closing report. */
typedef struct {
    const char *what;
    double max_abs;         /* over elements with |expected| <= big */
    double max_rel;         /* over elements with |expected| > big */
    double max_ratio;       /* worst |diff| / allowed */
    char where_abs[160], where_rel[160], where_ratio[160];
    long long compared;
} quantity;

enum { Q_OUT, Q_LOSS, Q_GRAD, Q_AFTER, Q_TRAIN_LOSS, Q_COUNT };
static quantity stats[Q_COUNT] = {
    {"outputs", 0, 0, 0, "", "", "", 0},        {"loss", 0, 0, 0, "", "", "", 0},
    {"gradients", 0, 0, 0, "", "", "", 0},      {"weights after training", 0, 0, 0, "", "", "", 0},
    {"train_on_batch losses", 0, 0, 0, "", "", "", 0},
};

/* Allowed difference for an expected value e. Values (outputs, losses, weights): 1e-5, or
 * 1e-4 |e| where |e| > 1. Gradients: 1e-3 |e|, at least 1e-6. */
static double allowed(int q, double e) {
    if (q == Q_GRAD) return fmax(1e-6, 1e-3 * fabs(e));
    return fabs(e) > 1.0 ? 1e-4 * fabs(e) : 1e-5;
}

/* Compares n values; records the statistics; prints the first mismatches. Returns 1 if all
 * are within tolerance. */
static int compare(int q, const char *case_name, const char *array, const float *got,
                   const float *expected, int64_t n) {
    quantity *s = &stats[q];
    const double big = q == Q_GRAD ? 1e-3 : 1.0;
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = expected[i], g = got[i], d = fabs(g - e);
        if (isnan(d)) d = INFINITY;
        s->compared++;
        if (fabs(e) <= big && d > s->max_abs) {
            s->max_abs = d;
            snprintf(s->where_abs, sizeof s->where_abs, "%s %s[%lld]", case_name, array, (long long)i);
        }
        if (fabs(e) > big && d / fabs(e) > s->max_rel) {
            s->max_rel = d / fabs(e);
            snprintf(s->where_rel, sizeof s->where_rel, "%s %s[%lld]", case_name, array, (long long)i);
        }
        double ratio = d / allowed(q, e);
        if (ratio > s->max_ratio) {
            s->max_ratio = ratio;
            snprintf(s->where_ratio, sizeof s->where_ratio, "%s %s[%lld]", case_name, array,
                     (long long)i);
        }
        if (!(d <= allowed(q, e))) {
            if (bad < SHOW_MISMATCHES)
                fprintf(stderr, "MISMATCH case %s, %s, index %lld: expected %.9g, got %.9g "
                        "(diff %.3g, allowed %.3g)\n", case_name, array, (long long)i, e, g, d,
                        allowed(q, e));
            bad++;
        }
    }
    if (bad > SHOW_MISMATCHES)
        fprintf(stderr, "MISMATCH case %s, %s: %d of %lld values differ\n", case_name, array, bad,
                (long long)n);
    CHECK(bad == 0, "case %s: %s: %d of %lld values outside tolerance", case_name, array, bad,
          (long long)n);
    return bad == 0;
}

/* ---------------------------------------------------------------- one case */

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Loads dir/name; prints and counts a failure if it cannot. */
static int load(const char *dir, const char *name, rnn_tensor *t) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    rnn_status st = rnn_npy_load(path, t);
    CHECK(st == RNN_OK, "loading %s: %s", path, rnn_last_error());
    return st == RNN_OK;
}

static int same_shape(const char *case_name, const char *what, const rnn_tensor *a,
                      const rnn_tensor *b) {
    int same = a->rank == b->rank;
    for (int i = 0; same && i < a->rank; i++) same = a->shape[i] == b->shape[i];
    CHECK(same, "case %s: %s has rank %d shape (%lld, %lld, %lld), expected rank %d (%lld, "
          "%lld, %lld)", case_name, what, a->rank, (long long)a->shape[0], (long long)a->shape[1],
          (long long)a->shape[2], b->rank, (long long)b->shape[0], (long long)b->shape[1],
          (long long)b->shape[2]);
    return same;
}

static rnn_model *build_model(const case_spec *c) {
    rnn_model *m = rnn_sequential(NULL);
    if (!m) return NULL;
    rnn_status st = c->batch_input
                        ? rnn_batch_input(m, c->batch, c->steps, c->features)
                        : rnn_input(m, c->steps < 0 ? RNN_NONE : c->steps, c->features);
    for (int i = 0; st == RNN_OK && i < c->n_layers; i++) {
        const layer_spec *L = &c->layers[i];
        rnn_layer *layer = !strcmp(L->cls, "LSTM")  ? rnn_lstm(&L->rec)
                           : !strcmp(L->cls, "GRU") ? rnn_gru(&L->rec)
                           : !strcmp(L->cls, "SimpleRNN") ? rnn_simple_rnn(&L->rec)
                                                          : rnn_dense(&L->dense);
        st = rnn_add(m, layer);
    }
    if (st == RNN_OK) st = rnn_compile_with(m, c->loss, &c->opt);
    CHECK(st == RNN_OK, "case %s: building the model: %s", c->name, rnn_model_error(m));
    if (st != RNN_OK) {
        rnn_model_free(m);
        return NULL;
    }
    return m;
}

static void run_case(const char *dir) {
    char path[1024];
    case_spec c;
    snprintf(path, sizeof path, "%s/case.txt", dir);
    int parsed = parse_case(path, &c);
    CHECK(parsed, "%s: case.txt does not parse", dir);
    if (!parsed) return;

    rnn_tensor x = {0}, y = {0}, out = {0}, loss = {0}, train_loss = {0}, x2 = {0}, out2 = {0};
    rnn_tensor w[MAX_WEIGHTS] = {{0}}, grad[MAX_WEIGHTS] = {{0}}, after[MAX_WEIGHTS] = {{0}};
    float *scratch[MAX_WEIGHTS] = {0};
    rnn_model *m = NULL;
    int nw = 0;
    while (nw < MAX_WEIGHTS) {
        snprintf(path, sizeof path, "%s/w%d.npy", dir, nw);
        if (!file_exists(path)) break;
        nw++;
    }
    int ok = load(dir, "x.npy", &x) && load(dir, "y.npy", &y) &&
             load(dir, c.chunks ? "out1.npy" : "out.npy", &out) && load(dir, "loss.npy", &loss) &&
             load(dir, "train_loss.npy", &train_loss);
    if (ok && c.chunks) ok = load(dir, "x2.npy", &x2) && load(dir, "out2.npy", &out2);
    for (int k = 0; ok && k < nw; k++) {
        char name[32];
        snprintf(name, sizeof name, "w%d.npy", k);
        ok = load(dir, name, &w[k]);
        snprintf(name, sizeof name, "grad%d.npy", k);
        ok = ok && load(dir, name, &grad[k]);
        snprintf(name, sizeof name, "after%d.npy", k);
        ok = ok && load(dir, name, &after[k]);
    }
    CHECK(!ok || rnn_tensor_size(&train_loss) == c.train_steps,
          "case %s: train_loss.npy has %lld values, train_steps is %d", c.name,
          (long long)rnn_tensor_size(&train_loss), c.train_steps);
    if (!ok || (m = build_model(&c)) == NULL) goto done;

    /* Weights: the same count and shapes as Keras's get_weights(). */
    CHECK(rnn_weight_count(m) == nw, "case %s: librnn has %d weights, Keras %d", c.name,
          rnn_weight_count(m), nw);
    if (rnn_weight_count(m) != nw) goto done;
    for (int k = 0; k < nw; k++) {
        const char *wname;
        rnn_tensor info = {0};
        rnn_weight_info(m, k, &wname, &info.rank, info.shape);
        char what[128];
        snprintf(what, sizeof what, "weight %d (%s)", k, wname);
        if (!same_shape(c.name, what, &info, &w[k])) goto done;
        rnn_status st = rnn_set_weight(m, k, w[k].data, rnn_tensor_size(&w[k]));
        CHECK(st == RNN_OK, "case %s: rnn_set_weight %d: %s", c.name, k, rnn_model_error(m));
        scratch[k] = malloc(sizeof(float) * (size_t)rnn_tensor_size(&w[k]));
        if (!scratch[k]) goto done;
    }
    const int B = (int)x.shape[0];

    /* 1. Outputs: predict (stateful: two chunks in a row from a fresh state). */
    rnn_tensor pred;
    if (rnn_predict(m, x, B, &pred) != RNN_OK) {
        CHECK(0, "case %s: predict: %s", c.name, rnn_model_error(m));
        goto done;
    }
    if (same_shape(c.name, c.chunks ? "out1" : "out", &pred, &out))
        compare(Q_OUT, c.name, c.chunks ? "out1" : "out", pred.data, out.data,
                rnn_tensor_size(&out));
    rnn_tensor_free(&pred);
    if (c.chunks) {
        if (rnn_predict(m, x2, B, &pred) != RNN_OK) {
            CHECK(0, "case %s: predict (chunk 2): %s", c.name, rnn_model_error(m));
            goto done;
        }
        if (same_shape(c.name, "out2", &pred, &out2))
            compare(Q_OUT, c.name, "out2", pred.data, out2.data, rnn_tensor_size(&out2));
        rnn_tensor_free(&pred);
    }
    rnn_reset_states(m);

    /* 2. The loss, by evaluate (no update) from a fresh state. */
    double value = NAN;
    CHECK(rnn_evaluate(m, x, y, B, &value) == RNN_OK, "case %s: evaluate: %s", c.name,
          rnn_model_error(m));
    float fvalue = (float)value;
    compare(Q_LOSS, c.name, "loss (evaluate)", &fvalue, loss.data, 1);
    rnn_reset_states(m);

    /* 3. Gradients: one SGD step with learning rate 2^24 (see the top of the file), whose
     * returned loss is the loss too; then the weights and the state are restored. */
    rnn_optimizer probe = rnn_sgd_defaults();
    probe.learning_rate = GRAD_LR;
    probe.momentum = 0.0f;
    CHECK(rnn_compile_with(m, c.loss, &probe) == RNN_OK, "case %s: compile: %s", c.name,
          rnn_model_error(m));
    value = NAN;
    CHECK(rnn_train_on_batch(m, x, y, &value) == RNN_OK, "case %s: train_on_batch: %s", c.name,
          rnn_model_error(m));
    fvalue = (float)value;
    compare(Q_LOSS, c.name, "loss (train_on_batch)", &fvalue, loss.data, 1);
    for (int k = 0; k < nw; k++) {
        int64_t n = rnn_tensor_size(&w[k]);
        rnn_get_weight(m, k, scratch[k], n);
        for (int64_t i = 0; i < n; i++) scratch[k][i] = (w[k].data[i] - scratch[k][i]) / GRAD_LR;
        char what[32];
        snprintf(what, sizeof what, "grad%d", k);
        compare(Q_GRAD, c.name, what, scratch[k], grad[k].data, n);
        rnn_set_weight(m, k, w[k].data, n);
    }
    rnn_reset_states(m);

    /* 4. Training: the compiled optimizer from fresh slots, train_steps train_on_batch calls on
     * (x, y); each returned loss and the final weights. Stateful layers carry their state from
     * step to step, as in Keras. */
    CHECK(rnn_compile_with(m, c.loss, &c.opt) == RNN_OK, "case %s: compile: %s", c.name,
          rnn_model_error(m));
    for (int s = 0; s < c.train_steps; s++) {
        value = NAN;
        CHECK(rnn_train_on_batch(m, x, y, &value) == RNN_OK, "case %s: train_on_batch %d: %s",
              c.name, s, rnn_model_error(m));
        fvalue = (float)value;
        char what[32];
        snprintf(what, sizeof what, "train_loss[%d]", s);
        compare(Q_TRAIN_LOSS, c.name, what, &fvalue, train_loss.data + s, 1);
    }
    for (int k = 0; k < nw; k++) {
        int64_t n = rnn_tensor_size(&after[k]);
        CHECK(n == rnn_tensor_size(&w[k]), "case %s: after%d has the wrong size", c.name, k);
        if (n != rnn_tensor_size(&w[k])) continue;
        rnn_get_weight(m, k, scratch[k], n);
        char what[32];
        snprintf(what, sizeof what, "after%d", k);
        compare(Q_AFTER, c.name, what, scratch[k], after[k].data, n);
    }

done:
    rnn_model_free(m);
    rnn_tensor_free(&x); rnn_tensor_free(&y); rnn_tensor_free(&out); rnn_tensor_free(&loss);
    rnn_tensor_free(&train_loss); rnn_tensor_free(&x2); rnn_tensor_free(&out2);
    for (int k = 0; k < MAX_WEIGHTS; k++) {
        rnn_tensor_free(&w[k]); rnn_tensor_free(&grad[k]); rnn_tensor_free(&after[k]);
        free(scratch[k]);
    }
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void) {
    DIR *d = opendir(ROOT);
    CHECK(d != NULL, "cannot open %s (run the tests from the repository root)", ROOT);
    if (!d) return check_report("test_keras_fixtures");
    char *names[MAX_CASES];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_CASES) {
        if (e->d_name[0] == '.') continue;
        char path[512];
        snprintf(path, sizeof path, ROOT "/%s/case.txt", e->d_name);
        if (file_exists(path)) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    CHECK(n > 0, "no fixture cases found under %s", ROOT);
    qsort(names, (size_t)n, sizeof *names, by_name);
    for (int i = 0; i < n; i++) {
        char dir[512];
        snprintf(dir, sizeof dir, ROOT "/%s", names[i]);
        int before = check_failures_;
        run_case(dir);
        printf("%-34s %s\n", names[i], check_failures_ == before ? "ok" : "FAILED");
        free(names[i]);
    }
    printf("\n%d cases. Largest differences from Keras (tolerance ratio 1 = at the limit):\n", n);
    for (int q = 0; q < Q_COUNT; q++) {
        const quantity *s = &stats[q];
        printf("  %-24s %6lld values  max abs %.3g (%s)\n", s->what, s->compared, s->max_abs,
               s->where_abs[0] ? s->where_abs : "-");
        printf("  %-24s %6s         max rel %.3g (%s)\n", "", "", s->max_rel,
               s->where_rel[0] ? s->where_rel : "-");
        printf("  %-24s %6s         worst ratio to tolerance %.3g (%s)\n", "", "", s->max_ratio,
               s->where_ratio[0] ? s->where_ratio : "-");
    }
    return check_report("test_keras_fixtures");
}
