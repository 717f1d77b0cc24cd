/* librnn against real Keras: every case under tests/fixtures/keras/ (written by
 * tools/make_keras_fixtures.py with Keras 3 / TensorFlow on the CPU) is rebuilt through the public
 * API from its case.txt, given Keras's weights, and must reproduce Keras's numbers within the
 * tolerances of issue 4:
 *   outputs (predict; stateful: two chunks in a row), the loss (train_on_batch and evaluate):
 *       |got - expected| <= 1e-5, or <= 1e-4 |expected| where |expected| > 1
 *   gradients of the loss with respect to every weight:
 *       |got - expected| <= max(1e-6, 1e-3 |expected|)
 *   weights after 5 train_on_batch steps, and the loss each step returned: as outputs;
 *   saved with rnn_save as .keras and as .h5 and loaded back: bit-identical predictions.
 * On a mismatch it prints the case, the array, the flat index, the expected and the obtained
 * value. At the end it prints the largest differences seen per quantity.
 *
 * A case is a Sequential stack (rnn_sequential, rnn_input, rnn_add) or a functional graph
 * (rnn_input_new / rnn_ids_input_new, rnn_call_ex on each layer, nested models through
 * rnn_model_as_layer, rnn_model_new); models with several inputs or outputs run through the
 * list form of the data (rnn_data_arrays). Conv1D lines carry filters, kernel_size, strides, padding (valid, same, causal),
 * dilation_rate, activation and use_bias, sizes as plain integers. Predict-only cases (Dropout with rate > 0) compare the outputs and the
 * evaluate loss only.
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
#include <unistd.h>

#include "check.h"
#include "rnn.h"

#define ROOT "tests/fixtures/keras"
#define MAX_CASES 256
#define MAX_LAYERS 32
#define MAX_OPS 48
#define MAX_SYMBOLS 64
#define MAX_MODELS 8
#define MAX_IO 8
#define MAX_WEIGHTS 64
#define NAME_LEN 48
#define GRAD_LR 16777216.0f /* 2^24 */
#define SHOW_MISMATCHES 5

/* ---------------------------------------------------------------- case.txt */

typedef struct {
    char cls[24];          /* Keras class; "Model" for a nested model's call */
    char inner[24];        /* TimeDistributed: the wrapped class (Dense); Bidirectional: the
                            * wrapped recurrent class, whose options rec holds */
    char merge[8];         /* Bidirectional: concat, sum, mul, ave, or "" for None */
    char id[NAME_LEN];     /* graph: the call's name (its output symbol); "" in a Sequential */
    int n_inputs;          /* graph: the symbols it is called on */
    char inputs[5][NAME_LEN];
    char model[NAME_LEN];  /* Model: the called model */
    rnn_recurrent_options rec;
    rnn_dense_options dense;
    rnn_conv1d_options conv;
    rnn_embedding_options emb;
    int repeat_n;
    rnn_activation activation;
    float rate;
    float mask_value;      /* Masking */
    int axis;              /* Concatenate */
    int axes[2];           /* Dot */
    int normalize;         /* Dot */
} layer_spec;

/* One line of a functional graph, in file order. */
typedef enum { OP_INPUT, OP_IDS_INPUT, OP_LAYER, OP_MODEL } op_kind;
typedef struct {
    op_kind kind;
    char name[NAME_LEN];
    int64_t steps, features;          /* inputs */
    int layer;                        /* OP_LAYER: index into layers */
    int n_in, n_out;                  /* OP_MODEL */
    char in[MAX_IO][NAME_LEN], out[MAX_IO][NAME_LEN];
} graph_op;

typedef struct {
    char name[128];
    int graph;       /* a functional graph (ops) rather than a Sequential stack */
    int batch_input; /* Sequential: batch_input (fixed batch) rather than input */
    int64_t batch, steps, features;
    int n_layers;
    layer_spec layers[MAX_LAYERS];
    int n_ops;
    graph_op ops[MAX_OPS];
    char loss[40];
    int from_logits;
    float huber_delta;     /* 0: the loss has none */
    int n_metrics;
    char metrics[RNN_MAX_METRICS][40];
    rnn_optimizer opt;
    int has_opt;
    int train_steps;
    int chunks;
    int predict_only;
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

static int is_recurrent(const char *cls) {
    return !strcmp(cls, "LSTM") || !strcmp(cls, "GRU") || !strcmp(cls, "SimpleRNN");
}

/* The element-wise merge classes (rnn_merge), or -1. */
static int merge_op(const char *cls) {
    static const char *const names[] = {"Add", "Subtract", "Multiply", "Average", "Maximum",
                                        "Minimum"};
    for (int i = 0; i < 6; i++)
        if (!strcmp(cls, names[i])) return i;
    return -1;
}

/* Splits "a,b,c" into at most max names; returns the count, or -1. */
static int split_names(const char *list, char out[][NAME_LEN], int max) {
    int n = 0;
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (n == max || len == 0 || len >= NAME_LEN) return -1;
        memcpy(out[n], p, len);
        out[n][len] = '\0';
        n++;
        p += len + (comma ? 1 : 0);
        if (comma && !*p) return -1;
    }
    return n;
}

/* The defaults of a class, from the options that size it (units, input_dim/output_dim). */
static int layer_defaults(layer_spec *L, const char *cls, char **tok, int n) {
    int64_t units = -1, input_dim = -1, output_dim = -1, filters = -1, kernel_size = -1;
    for (int i = 0; i < n; i++) {
        if (!strncmp(tok[i], "units=", 6) && !parse_int(tok[i] + 6, &units)) return 0;
        if (!strncmp(tok[i], "filters=", 8) && !parse_int(tok[i] + 8, &filters)) return 0;
        if (!strncmp(tok[i], "kernel_size=", 12) && !parse_int(tok[i] + 12, &kernel_size)) return 0;
        if (!strncmp(tok[i], "input_dim=", 10) && !parse_int(tok[i] + 10, &input_dim)) return 0;
        if (!strncmp(tok[i], "output_dim=", 11) && !parse_int(tok[i] + 11, &output_dim)) return 0;
    }
    if (!strcmp(cls, "LSTM")) L->rec = rnn_lstm_defaults((int)units);
    else if (!strcmp(cls, "GRU")) L->rec = rnn_gru_defaults((int)units);
    else if (!strcmp(cls, "SimpleRNN")) L->rec = rnn_simple_rnn_defaults((int)units);
    else if (!strcmp(cls, "Dense")) L->dense = rnn_dense_defaults((int)units);
    else if (!strcmp(cls, "Conv1D")) {
        if (filters <= 0 || kernel_size <= 0) return 0;
        L->conv = rnn_conv1d_defaults((int)filters, (int)kernel_size);
        return 1;
    } else if (!strcmp(cls, "Embedding"))
        L->emb = rnn_embedding_defaults((int)input_dim, (int)output_dim);
    else if (merge_op(cls) >= 0 || !strcmp(cls, "Concatenate") || !strcmp(cls, "Dot"))
        return 1;
    else return !strcmp(cls, "RepeatVector") || !strcmp(cls, "Activation") ||
                !strcmp(cls, "Dropout") || !strcmp(cls, "Model") || !strcmp(cls, "Masking") ||
                !strcmp(cls, "Flatten");
    if ((is_recurrent(cls) || !strcmp(cls, "Dense")) && units <= 0) return 0;
    if (!strcmp(cls, "Embedding") && (input_dim <= 0 || output_dim <= 0)) return 0;
    return 1;
}

/* Applies key=value to a layer; 0 if the key or value is not understood. */
static int layer_option(layer_spec *L, const char *key, const char *value) {
    /* TimeDistributed, Bidirectional: the inner layer's */
    const char *cls = L->inner[0] ? L->inner : L->cls;
    const int dense = !strcmp(cls, "Dense"), rec = is_recurrent(cls), conv = !strcmp(cls, "Conv1D");
    int64_t iv = 0;
    if (conv && !strcmp(key, "padding")) {
        if (!strcmp(value, "valid")) L->conv.padding = RNN_PADDING_VALID;
        else if (!strcmp(value, "same")) L->conv.padding = RNN_PADDING_SAME;
        else if (!strcmp(value, "causal")) L->conv.padding = RNN_PADDING_CAUSAL;
        else return 0;
        return 1;
    }
    if (!strcmp(key, "inputs")) {
        L->n_inputs = split_names(value, L->inputs, 5);
        return L->n_inputs > 0;
    }
    if (!strcmp(key, "merge_mode")) {
        if (strcmp(L->cls, "Bidirectional")) return 0;
        if (!strcmp(value, "None")) L->merge[0] = '\0';
        else if (!strcmp(value, "concat") || !strcmp(value, "sum") || !strcmp(value, "mul") ||
                 !strcmp(value, "ave"))
            snprintf(L->merge, sizeof L->merge, "%s", value);
        else return 0;
        return 1;
    }
    if (!strcmp(key, "mask_value"))
        return !strcmp(cls, "Masking") && parse_float(value, &L->mask_value);
    if (!strcmp(L->cls, "Model")) {
        if (strcmp(key, "model") || strlen(value) >= NAME_LEN) return 0;
        snprintf(L->model, sizeof L->model, "%s", value);
        return 1;
    }
    if (!strcmp(key, "activation") || !strcmp(key, "recurrent_activation")) {
        int a = rnn_activation_from_name(value);
        if (a < 0) return 0;
        if (!strcmp(key, "recurrent_activation")) {
            if (!rec) return 0;
            L->rec.recurrent_activation = (rnn_activation)a;
        } else if (dense) {
            L->dense.activation = (rnn_activation)a;
        } else if (conv) {
            L->conv.activation = (rnn_activation)a;
        } else if (rec) {
            L->rec.activation = (rnn_activation)a;
        } else if (!strcmp(cls, "Activation")) {
            L->activation = (rnn_activation)a;
        } else {
            return 0;
        }
        return 1;
    }
    if (!strcmp(key, "rate")) return !strcmp(cls, "Dropout") && parse_float(value, &L->rate);
    if (!strcmp(key, "axes") && !strcmp(cls, "Dot")) { /* 2 or 2,1 */
        const char *comma = strchr(value, ',');
        char first[24];
        int64_t a, b;
        snprintf(first, sizeof first, "%.*s", comma ? (int)(comma - value) : (int)strlen(value),
                 value);
        if (!parse_int(first, &a) || (comma && !parse_int(comma + 1, &b))) return 0;
        L->axes[0] = (int)a;
        L->axes[1] = comma ? (int)b : (int)a;
        return 1;
    }
    if (!parse_int(value, &iv)) return 0;
    if (!strcmp(key, "units")) return dense || rec; /* applied when the defaults were made */
    if (conv) {
        if (!strcmp(key, "strides")) L->conv.strides = (int)iv;
        else if (!strcmp(key, "dilation_rate")) L->conv.dilation_rate = (int)iv;
        else if (!strcmp(key, "use_bias")) L->conv.use_bias = (int)iv;
        else if (strcmp(key, "filters") && strcmp(key, "kernel_size")) return 0;
        return 1;
    }
    if (!strcmp(cls, "Embedding")) {
        if (!strcmp(key, "mask_zero")) L->emb.mask_zero = (int)iv;
        else if (strcmp(key, "input_dim") && strcmp(key, "output_dim")) return 0;
        return 1;
    }
    if (!strcmp(cls, "Concatenate") && !strcmp(key, "axis")) {
        L->axis = (int)iv;
        return 1;
    }
    if (!strcmp(cls, "Dot") && !strcmp(key, "normalize")) {
        L->normalize = (int)iv;
        return 1;
    }
    if (!strcmp(cls, "RepeatVector") && !strcmp(key, "n")) {
        L->repeat_n = (int)iv;
        return 1;
    }
    if (!strcmp(key, "use_bias") && (dense || rec)) {
        if (dense) L->dense.use_bias = (int)iv;
        else L->rec.use_bias = (int)iv;
        return 1;
    }
    if (!rec) return 0;
    if (!strcmp(key, "return_sequences")) L->rec.return_sequences = (int)iv;
    else if (!strcmp(key, "return_state")) L->rec.return_state = (int)iv;
    else if (!strcmp(key, "go_backwards")) L->rec.go_backwards = (int)iv;
    else if (!strcmp(key, "stateful")) L->rec.stateful = (int)iv;
    else if (!strcmp(key, "unit_forget_bias") && !strcmp(cls, "LSTM"))
        L->rec.unit_forget_bias = (int)iv;
    else if (!strcmp(key, "reset_after") && !strcmp(cls, "GRU")) L->rec.reset_after = (int)iv;
    else return 0;
    return 1;
}

static int optimizer_option(rnn_optimizer *o, const char *key, const char *value) {
    float v;
    int64_t iv;
    if (!strcmp(key, "schedule")) {
        if (!strcmp(value, "inverse_time")) o->schedule = RNN_SCHEDULE_INVERSE_TIME;
        else if (!strcmp(value, "exponential")) o->schedule = RNN_SCHEDULE_EXPONENTIAL;
        else return 0;
        return 1;
    }
    if (!strcmp(key, "decay_steps")) {
        if (!parse_int(value, &iv) || iv <= 0) return 0;
        o->decay_steps = iv;
        return 1;
    }
    if (!parse_float(value, &v)) return 0;
    const int adamw = o->kind == RNN_OPT_ADAMW;
    const int adam = o->kind == RNN_OPT_ADAM || adamw, sgd = o->kind == RNN_OPT_SGD,
              rms = o->kind == RNN_OPT_RMSPROP, betas = adam || o->kind == RNN_OPT_ADAMAX ||
              o->kind == RNN_OPT_NADAM;
    if (!strcmp(key, "learning_rate")) o->learning_rate = v;
    else if (!strcmp(key, "beta_1") && betas) o->beta_1 = v;
    else if (!strcmp(key, "beta_2") && betas) o->beta_2 = v;
    else if (!strcmp(key, "epsilon") && !sgd) o->epsilon = v;
    else if (!strcmp(key, "amsgrad") && adam) o->amsgrad = v != 0;
    else if (!strcmp(key, "momentum") && (sgd || rms)) o->momentum = v;
    else if (!strcmp(key, "nesterov") && sgd) o->nesterov = v != 0;
    else if (!strcmp(key, "rho") && (rms || o->kind == RNN_OPT_ADADELTA)) o->rho = v;
    else if (!strcmp(key, "initial_accumulator_value") && o->kind == RNN_OPT_ADAGRAD)
        o->initial_accumulator_value = v;
    else if (!strcmp(key, "weight_decay")) o->weight_decay = v;
    else if (!strcmp(key, "centered") && rms) o->centered = v != 0;
    else if (!strcmp(key, "clipnorm")) o->clipnorm = v;
    else if (!strcmp(key, "clipvalue")) o->clipvalue = v;
    else if (!strcmp(key, "global_clipnorm")) o->global_clipnorm = v;
    else if (!strcmp(key, "decay_rate")) o->decay_rate = v;
    else if (!strcmp(key, "staircase")) o->staircase = v != 0;
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
    int line_no = 0, have_input = 0, have_seq_input = 0, have_model = 0;
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
        int64_t v;
        if (!strcmp(tok[0], "case") && n == 2) {
            snprintf(c->name, sizeof c->name, "%s", tok[1]);
        } else if (!strcmp(tok[0], "versions")) {
            /* informational */
        } else if ((!strcmp(tok[0], "input") || !strcmp(tok[0], "batch_input")) && n == 4 &&
                   parse_int(tok[1], &v)) {
            /* Sequential: input B T F */
            c->batch_input = !strcmp(tok[0], "batch_input");
            if (!parse_int(tok[1], &c->batch) || !parse_int(tok[2], &c->steps) ||
                !parse_int(tok[3], &c->features))
                PARSE_FAIL("bad input line");
            have_input = have_seq_input = 1;
        } else if ((!strcmp(tok[0], "input") && n == 4) ||
                   (!strcmp(tok[0], "ids_input") && n == 3)) {
            /* graph: input NAME T F | ids_input NAME T */
            if (c->n_ops == MAX_OPS) PARSE_FAIL("too many lines");
            graph_op *op = &c->ops[c->n_ops++];
            op->kind = !strcmp(tok[0], "input") ? OP_INPUT : OP_IDS_INPUT;
            if (strlen(tok[1]) >= NAME_LEN) PARSE_FAIL("name too long");
            snprintf(op->name, sizeof op->name, "%s", tok[1]);
            if (!parse_int(tok[2], &op->steps) || (n == 4 && !parse_int(tok[3], &op->features)))
                PARSE_FAIL("bad %s line", tok[0]);
            c->graph = have_input = 1;
        } else if (!strcmp(tok[0], "layer") && n >= 2) {
            if (c->n_layers == MAX_LAYERS) PARSE_FAIL("too many layers");
            layer_spec *L = &c->layers[c->n_layers++];
            /* graph: layer NAME CLASS inputs=... ; Sequential: layer CLASS ... */
            int graph_line = n >= 4 && !strncmp(tok[3], "inputs=", 7);
            int first = graph_line ? 3 : 2;
            const char *cls = tok[first - 1];
            snprintf(L->cls, sizeof L->cls, "%s", cls);
            if (graph_line) {
                if (strlen(tok[1]) >= NAME_LEN) PARSE_FAIL("name too long");
                snprintf(L->id, sizeof L->id, "%s", tok[1]);
                if (c->n_ops == MAX_OPS) PARSE_FAIL("too many lines");
                graph_op *op = &c->ops[c->n_ops++];
                op->kind = OP_LAYER;
                op->layer = c->n_layers - 1;
                memcpy(op->name, tok[1], strlen(tok[1]) + 1);
                c->graph = 1;
            }
            if (!strcmp(cls, "TimeDistributed") || !strcmp(cls, "Bidirectional")) {
                if (n <= first + graph_line || strncmp(tok[first + graph_line], "layer=", 6))
                    PARSE_FAIL("%s without layer=", cls);
                snprintf(L->inner, sizeof L->inner, "%s", tok[first + graph_line] + 6);
                if (!strcmp(cls, "TimeDistributed") ? strcmp(L->inner, "Dense") != 0
                                                    : !is_recurrent(L->inner))
                    PARSE_FAIL("%s(%s)", cls, L->inner);
            }
            if (!layer_defaults(L, L->inner[0] ? L->inner : cls, tok + first, n - first))
                PARSE_FAIL("unknown layer class %s, or its sizes are missing", cls);
            for (int i = first; i < n; i++) {
                if (L->inner[0] && !strncmp(tok[i], "layer=", 6)) continue;
                char *eq = strchr(tok[i], '=');
                if (!eq) PARSE_FAIL("expected key=value, got %s", tok[i]);
                *eq = '\0';
                if (!strcmp(tok[i], "inputs") && !graph_line) PARSE_FAIL("inputs= out of place");
                if (!layer_option(L, tok[i], eq + 1))
                    PARSE_FAIL("%s: unknown option or value %s=%s", cls, tok[i], eq + 1);
            }
            if (!strcmp(cls, "Model") && (!graph_line || !L->model[0]))
                PARSE_FAIL("a Model call needs inputs= and model=");
        } else if (!strcmp(tok[0], "model") && n == 4 && !strncmp(tok[2], "inputs=", 7) &&
                   !strncmp(tok[3], "outputs=", 8)) {
            if (c->n_ops == MAX_OPS) PARSE_FAIL("too many lines");
            graph_op *op = &c->ops[c->n_ops++];
            op->kind = OP_MODEL;
            if (strlen(tok[1]) >= NAME_LEN) PARSE_FAIL("name too long");
            snprintf(op->name, sizeof op->name, "%s", tok[1]);
            op->n_in = split_names(tok[2] + 7, op->in, MAX_IO);
            op->n_out = split_names(tok[3] + 8, op->out, MAX_IO);
            if (op->n_in <= 0 || op->n_out <= 0) PARSE_FAIL("bad model line");
            c->graph = have_model = 1;
        } else if (!strcmp(tok[0], "loss") && n >= 2 && n <= 3) {
            snprintf(c->loss, sizeof c->loss, "%s", tok[1]);
            if (n == 3) {
                if (!strncmp(tok[2], "from_logits=", 12) && parse_int(tok[2] + 12, &v))
                    c->from_logits = v != 0;
                else if (!strncmp(tok[2], "delta=", 6) && parse_float(tok[2] + 6, &c->huber_delta))
                    ;
                else
                    PARSE_FAIL("bad loss option %s", tok[2]);
            }
        } else if (!strcmp(tok[0], "optimizer") && n >= 2) {
            if (!strcmp(tok[1], "adam")) c->opt = rnn_adam_defaults();
            else if (!strcmp(tok[1], "sgd")) c->opt = rnn_sgd_defaults();
            else if (!strcmp(tok[1], "rmsprop")) c->opt = rnn_rmsprop_defaults();
            else if (!strcmp(tok[1], "adagrad")) c->opt = rnn_adagrad_defaults();
            else if (!strcmp(tok[1], "adadelta")) c->opt = rnn_adadelta_defaults();
            else if (!strcmp(tok[1], "adamax")) c->opt = rnn_adamax_defaults();
            else if (!strcmp(tok[1], "nadam")) c->opt = rnn_nadam_defaults();
            else if (!strcmp(tok[1], "adamw")) c->opt = rnn_adamw_defaults();
            else PARSE_FAIL("unknown optimizer %s", tok[1]);
            c->has_opt = 1;
            for (int i = 2; i < n; i++) {
                char *eq = strchr(tok[i], '=');
                if (!eq) PARSE_FAIL("bad optimizer option %s", tok[i]);
                *eq = '\0';
                if (!optimizer_option(&c->opt, tok[i], eq + 1))
                    PARSE_FAIL("unknown optimizer option or value %s=%s", tok[i], eq + 1);
            }
        } else if (!strcmp(tok[0], "metric") && n == 2) {
            if (c->n_metrics == RNN_MAX_METRICS || strlen(tok[1]) >= sizeof c->metrics[0])
                PARSE_FAIL("too many metrics or too long a name");
            snprintf(c->metrics[c->n_metrics++], sizeof c->metrics[0], "%s", tok[1]);
        } else if (!strcmp(tok[0], "train_steps") && n == 2) {
            if (!parse_int(tok[1], &v) || v < 1 || v > 1000) PARSE_FAIL("bad train_steps");
            c->train_steps = (int)v;
        } else if (!strcmp(tok[0], "stateful_chunks") && n == 2) {
            if (!parse_int(tok[1], &v) || v != 2) PARSE_FAIL("stateful_chunks must be 2");
            c->chunks = 2;
        } else if (!strcmp(tok[0], "predict_only") && n == 2) {
            if (!parse_int(tok[1], &v) || v != 1) PARSE_FAIL("predict_only must be 1");
            c->predict_only = 1;
        } else {
            PARSE_FAIL("unknown line starting with '%s'", tok[0]);
        }
    }
    fclose(f);
    if (c->graph && (have_seq_input || c->batch_input || c->chunks || !have_model)) {
        fprintf(stderr, "%s: a graph needs model lines and no Sequential input or stateful "
                "chunks\n", path);
        return 0;
    }
    if (!c->name[0] || !have_input || c->n_layers == 0 || !c->loss[0] || !c->has_opt ||
        (!c->train_steps && !c->predict_only)) {
        fprintf(stderr, "%s: incomplete (needs case, input, layer, loss, optimizer, "
                "train_steps or predict_only)\n", path);
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

/* ---------------------------------------------------------------- building the model */

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

/* The file of array k of n: stem.npy for a single array, stem<k>.npy for several. */
static void array_file(char *buf, size_t size, const char *stem, int k, int n) {
    if (n == 1) snprintf(buf, size, "%s.npy", stem);
    else snprintf(buf, size, "%s%d.npy", stem, k);
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

/* A new layer from its spec (a Model call's layer is made by the caller). */
static rnn_layer *new_layer(const layer_spec *L) {
    const char *cls = L->cls;
    if (!strcmp(cls, "LSTM")) return rnn_lstm(&L->rec);
    if (!strcmp(cls, "GRU")) return rnn_gru(&L->rec);
    if (!strcmp(cls, "SimpleRNN")) return rnn_simple_rnn(&L->rec);
    if (!strcmp(cls, "Dense")) return rnn_dense(&L->dense);
    if (!strcmp(cls, "Conv1D")) return rnn_conv1d(&L->conv);
    if (!strcmp(cls, "Embedding")) return rnn_embedding(&L->emb);
    if (!strcmp(cls, "TimeDistributed")) return rnn_time_distributed(rnn_dense(&L->dense));
    if (!strcmp(cls, "RepeatVector")) return rnn_repeat_vector(L->repeat_n);
    if (!strcmp(cls, "Activation")) return rnn_activation_layer(L->activation);
    if (!strcmp(cls, "Dropout")) return rnn_dropout(L->rate);
    if (!strcmp(cls, "Masking")) return rnn_masking(L->mask_value);
    if (!strcmp(cls, "Flatten")) return rnn_flatten();
    if (merge_op(cls) >= 0) return rnn_merge((rnn_merge_op)merge_op(cls));
    if (!strcmp(cls, "Concatenate")) return rnn_concatenate(L->axis);
    if (!strcmp(cls, "Dot")) return rnn_dot(L->axes[0], L->axes[1], L->normalize);
    if (!strcmp(cls, "Bidirectional")) {
        rnn_layer *inner = !strcmp(L->inner, "LSTM") ? rnn_lstm(&L->rec)
                           : !strcmp(L->inner, "GRU") ? rnn_gru(&L->rec) : rnn_simple_rnn(&L->rec);
        return rnn_bidirectional(inner, L->merge[0] ? L->merge : NULL);
    }
    return NULL;
}

/* The models a case builds: the tested one is the last; all are freed with it. */
typedef struct {
    int n;
    char name[MAX_MODELS][NAME_LEN];
    rnn_model *model[MAX_MODELS];
    int n_inputs, n_outputs; /* of the tested model */
} built_models;

static void free_models(built_models *bm) {
    for (int i = bm->n - 1; i >= 0; i--) rnn_model_free(bm->model[i]);
    bm->n = 0;
}

static rnn_model *build_sequential(const case_spec *c, built_models *bm) {
    rnn_model *m = rnn_sequential(NULL);
    if (!m) return NULL;
    bm->model[bm->n++] = m;
    bm->n_inputs = bm->n_outputs = 1;
    rnn_status st = c->batch_input
                        ? rnn_batch_input(m, c->batch, c->steps, c->features)
                        : rnn_input(m, c->steps < 0 ? RNN_NONE : c->steps, c->features);
    for (int i = 0; st == RNN_OK && i < c->n_layers; i++) {
        rnn_layer *layer = new_layer(&c->layers[i]);
        st = layer ? rnn_add(m, layer) : RNN_ERR_ARGUMENT;
    }
    CHECK(st == RNN_OK, "case %s: building the model: %s", c->name, rnn_model_error(m));
    return st == RNN_OK ? m : NULL;
}

typedef struct {
    int n;
    char name[MAX_SYMBOLS][NAME_LEN];
    rnn_symbol *sym[MAX_SYMBOLS];
} symbol_table;

static rnn_symbol *find_symbol(const symbol_table *t, const char *name) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->name[i], name)) return t->sym[i];
    return NULL;
}

static int add_symbol(symbol_table *t, const char *name, rnn_symbol *s) {
    if (t->n == MAX_SYMBOLS || strlen(name) >= NAME_LEN || find_symbol(t, name)) return 0;
    memcpy(t->name[t->n], name, strlen(name) + 1);
    t->sym[t->n++] = s;
    return 1;
}

/* A functional graph through the public API, line by line. */
static rnn_model *build_graph(const case_spec *c, built_models *bm) {
    symbol_table syms = {0};
    rnn_model *last = NULL;
    for (int i = 0; i < c->n_ops; i++) {
        const graph_op *op = &c->ops[i];
        if (op->kind == OP_INPUT || op->kind == OP_IDS_INPUT) {
            rnn_symbol *s = op->kind == OP_INPUT
                                ? rnn_input_new(RNN_NONE, op->steps < 0 ? RNN_NONE : op->steps,
                                                op->features, op->name)
                                : rnn_ids_input_new(RNN_NONE, op->steps, op->name);
            CHECK(s != NULL, "case %s: input %s: %s", c->name, op->name, rnn_last_error());
            if (!s || !add_symbol(&syms, op->name, s)) return NULL;
        } else if (op->kind == OP_LAYER) {
            const layer_spec *L = &c->layers[op->layer];
            rnn_symbol *in[5], *out[6] = {NULL};
            for (int k = 0; k < L->n_inputs; k++) {
                in[k] = find_symbol(&syms, L->inputs[k]);
                CHECK(in[k] != NULL, "case %s: layer %s: unknown input %s", c->name, L->id,
                      L->inputs[k]);
                if (!in[k]) return NULL;
            }
            rnn_layer *layer = NULL;
            if (!strcmp(L->cls, "Model")) {
                for (int k = 0; k < bm->n; k++)
                    if (!strcmp(bm->name[k], L->model)) layer = rnn_model_as_layer(bm->model[k]);
            } else {
                layer = new_layer(L);
            }
            CHECK(layer != NULL, "case %s: layer %s (%s): %s", c->name, L->id, L->cls,
                  rnn_last_error());
            if (!layer) return NULL;
            int n_out = 0;
            rnn_status st = rnn_call_ex(layer, in, L->n_inputs, out, &n_out);
            CHECK(st == RNN_OK, "case %s: calling %s (%s): %s", c->name, L->id, L->cls,
                  rnn_last_error());
            if (st != RNN_OK) return NULL;
            for (int k = 0; k < n_out; k++) {
                char name[NAME_LEN + 8];
                if (k == 0) snprintf(name, sizeof name, "%s", L->id);
                else snprintf(name, sizeof name, "%s:%d", L->id, k);
                if (!add_symbol(&syms, name, out[k])) return NULL;
            }
        } else {
            rnn_symbol *in[MAX_IO], *out[MAX_IO];
            for (int k = 0; k < op->n_in + op->n_out; k++) {
                const char *name = k < op->n_in ? op->in[k] : op->out[k - op->n_in];
                rnn_symbol *s = find_symbol(&syms, name);
                CHECK(s != NULL, "case %s: model %s: unknown symbol %s", c->name, op->name, name);
                if (!s) return NULL;
                if (k < op->n_in) in[k] = s;
                else out[k - op->n_in] = s;
            }
            if (bm->n == MAX_MODELS) return NULL;
            last = rnn_model_new(in, op->n_in, out, op->n_out, op->name);
            CHECK(last != NULL, "case %s: model %s: %s", c->name, op->name, rnn_last_error());
            if (!last) return NULL;
            snprintf(bm->name[bm->n], NAME_LEN, "%s", op->name);
            bm->model[bm->n++] = last;
            bm->n_inputs = op->n_in;
            bm->n_outputs = op->n_out;
        }
    }
    return last;
}

/* compile(loss, optimizer) and the loss's from_logits. */
static int compile_case(rnn_model *m, const case_spec *c, const rnn_optimizer *opt) {
    rnn_status st = rnn_compile_with(m, c->loss, opt);
    if (st == RNN_OK && c->from_logits) st = rnn_set_from_logits(m, 1);
    if (st == RNN_OK && c->huber_delta > 0) st = rnn_set_huber_delta(m, c->huber_delta);
    for (int k = 0; k < c->n_metrics && st == RNN_OK; k++) st = rnn_add_metric(m, c->metrics[k]);
    CHECK(st == RNN_OK, "case %s: compile: %s", c->name, rnn_model_error(m));
    return st == RNN_OK;
}

/* The single-array data for one input and one output (as most programs call them), the lists
 * (rnn_data_arrays) otherwise. */
static rnn_status predict(rnn_model *m, const rnn_tensor *x, int nx, int batch, rnn_tensor *y,
                          int ny) {
    if (nx == 1 && ny == 1) return rnn_predict(m, rnn_data_x(x[0]), batch, y, 1);
    return rnn_predict(m, rnn_data_arrays(x, nx, NULL, 0), batch, y, ny);
}

static rnn_status evaluate(rnn_model *m, const rnn_tensor *x, int nx, const rnn_tensor *y,
                           int ny, int batch, double *loss, double *metrics) {
    if (nx == 1 && ny == 1) return rnn_evaluate(m, rnn_data_xy(x[0], y[0]), batch, loss, metrics);
    return rnn_evaluate(m, rnn_data_arrays(x, nx, y, ny), batch, loss, metrics);
}

static rnn_status train_on_batch(rnn_model *m, const rnn_tensor *x, int nx, const rnn_tensor *y,
                                 int ny, double *loss) {
    if (nx == 1 && ny == 1) return rnn_train_on_batch(m, rnn_data_xy(x[0], y[0]), loss);
    return rnn_train_on_batch(m, rnn_data_arrays(x, nx, y, ny), loss);
}

/* ---------------------------------------------------------------- one case */

static char tmpdir[64]; /* for the saved models; "" if none could be made */
static int round_trips, round_trips_refused;

/* Saved as .keras and as legacy .h5 and loaded back, the model predicts the same bits as before
 * (from a fresh state). A file kind that cannot express an activation of the model is refused
 * by name (hard_sigmoid: Keras 3's and the Keras 1/2 form differ) and leaves no file. Without
 * Keras file support (KERAS_IO=none) rnn_save refuses every model; nothing is compared then. */
static void save_round_trip(rnn_model *m, const case_spec *c, const rnn_tensor *x, int nx, int B,
                            int ny) {
    static const char *const exts[2] = {".keras", ".h5"};
    rnn_tensor want[MAX_IO] = {{0}}, got[MAX_IO] = {{0}};
    if (!tmpdir[0]) return;
    rnn_reset_states(m);
    if (predict(m, x, nx, B, want, ny) != RNN_OK) return; /* reported by the caller's predict */
    for (int e = 0; e < 2; e++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s%s", tmpdir, c->name, exts[e]);
        rnn_status st = rnn_save(m, path);
        if (st == RNN_ERR_UNSUPPORTED && (strstr(rnn_model_error(m), "hard_sigmoid") ||
                                          strstr(rnn_model_error(m), "KERAS_IO"))) {
            CHECK(!file_exists(path), "case %s: a refused %s save left a file", c->name, exts[e]);
            round_trips_refused++;
            continue;
        }
        CHECK(st == RNN_OK, "case %s: rnn_save %s: %s", c->name, exts[e], rnn_model_error(m));
        rnn_model *back = st == RNN_OK ? rnn_load(path) : NULL;
        CHECK(st != RNN_OK || back != NULL, "case %s: rnn_load %s: %s", c->name, exts[e],
              rnn_last_error());
        if (back && predict(back, x, nx, B, got, ny) == RNN_OK) {
            for (int k = 0; k < ny; k++) {
                int64_t n = rnn_tensor_size(&want[k]);
                CHECK(rnn_tensor_size(&got[k]) == n &&
                      memcmp(got[k].data, want[k].data, sizeof(float) * (size_t)n) == 0,
                      "case %s: output %d after a %s round trip is not bit-identical", c->name, k,
                      exts[e]);
                rnn_tensor_free(&got[k]);
            }
            round_trips++;
        } else if (back) {
            CHECK(0, "case %s: predict after %s: %s", c->name, exts[e], rnn_model_error(back));
        }
        rnn_model_free(back);
        unlink(path);
    }
    for (int k = 0; k < ny; k++) rnn_tensor_free(&want[k]);
    rnn_reset_states(m);
}

static void run_case(const char *dir) {
    char path[1024];
    static case_spec c; /* large: kept off the stack */
    snprintf(path, sizeof path, "%s/case.txt", dir);
    int parsed = parse_case(path, &c);
    CHECK(parsed, "%s: case.txt does not parse", dir);
    if (!parsed) return;

    rnn_tensor x[MAX_IO] = {{0}}, y[MAX_IO] = {{0}}, out[MAX_IO] = {{0}}, pred[MAX_IO] = {{0}};
    rnn_tensor loss = {0}, train_loss = {0}, x2 = {0}, out2 = {0};
    rnn_tensor w[MAX_WEIGHTS] = {{0}}, grad[MAX_WEIGHTS] = {{0}}, after[MAX_WEIGHTS] = {{0}};
    float *scratch[MAX_WEIGHTS] = {0};
    built_models bm = {0};
    int nw = 0;
    while (nw < MAX_WEIGHTS) {
        snprintf(path, sizeof path, "%s/w%d.npy", dir, nw);
        if (!file_exists(path)) break;
        nw++;
    }
    rnn_model *m = c.graph ? build_graph(&c, &bm) : build_sequential(&c, &bm);
    CHECK(m != NULL, "case %s: no model", c.name);
    if (!m) goto done;
    const int nx = bm.n_inputs, ny = bm.n_outputs;

    char name[64];
    int ok = load(dir, "loss.npy", &loss);
    for (int k = 0; ok && k < nx; k++) {
        array_file(name, sizeof name, "x", k, nx);
        ok = load(dir, name, &x[k]);
    }
    for (int k = 0; ok && k < ny; k++) {
        array_file(name, sizeof name, "y", k, ny);
        ok = load(dir, name, &y[k]);
        array_file(name, sizeof name, c.chunks ? "out1" : "out", k, ny);
        ok = ok && load(dir, name, &out[k]);
    }
    if (ok && c.chunks) ok = load(dir, "x2.npy", &x2) && load(dir, "out2.npy", &out2);
    if (ok && !c.predict_only) ok = load(dir, "train_loss.npy", &train_loss);
    for (int k = 0; ok && k < nw; k++) {
        snprintf(name, sizeof name, "w%d.npy", k);
        ok = load(dir, name, &w[k]);
        if (c.predict_only) continue;
        snprintf(name, sizeof name, "grad%d.npy", k);
        ok = ok && load(dir, name, &grad[k]);
        snprintf(name, sizeof name, "after%d.npy", k);
        ok = ok && load(dir, name, &after[k]);
    }
    CHECK(!ok || c.predict_only || rnn_tensor_size(&train_loss) == c.train_steps,
          "case %s: train_loss.npy has %lld values, train_steps is %d", c.name,
          (long long)rnn_tensor_size(&train_loss), c.train_steps);
    if (!ok || !compile_case(m, &c, &c.opt)) goto done;

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
    const int B = (int)x[0].shape[0];

    /* 1. Outputs: predict (stateful: two chunks in a row from a fresh state). */
    if (predict(m, x, nx, B, pred, ny) != RNN_OK) {
        CHECK(0, "case %s: predict: %s", c.name, rnn_model_error(m));
        goto done;
    }
    for (int k = 0; k < ny; k++) {
        array_file(name, sizeof name, c.chunks ? "out1" : "out", k, ny);
        *strrchr(name, '.') = '\0';
        if (same_shape(c.name, name, &pred[k], &out[k]))
            compare(Q_OUT, c.name, name, pred[k].data, out[k].data, rnn_tensor_size(&out[k]));
        rnn_tensor_free(&pred[k]);
    }
    if (c.chunks) {
        if (rnn_predict(m, rnn_data_x(x2), B, &pred[0], 1) != RNN_OK) {
            CHECK(0, "case %s: predict (chunk 2): %s", c.name, rnn_model_error(m));
            goto done;
        }
        if (same_shape(c.name, "out2", &pred[0], &out2))
            compare(Q_OUT, c.name, "out2", pred[0].data, out2.data, rnn_tensor_size(&out2));
        rnn_tensor_free(&pred[0]);
    }
    rnn_reset_states(m);
    save_round_trip(m, &c, x, nx, B, ny);

    /* 2. The loss, by evaluate (no update) from a fresh state. */
    double value = NAN, mvalues[RNN_MAX_METRICS];
    CHECK(evaluate(m, x, nx, y, ny, B, &value, mvalues) == RNN_OK, "case %s: evaluate: %s",
          c.name, rnn_model_error(m));
    float fvalue = (float)value;
    compare(Q_LOSS, c.name, "loss (evaluate)", &fvalue, loss.data, 1);
    /* The compiled metrics (metrics.npy: model.evaluate's values after the loss). */
    if (c.n_metrics) {
        rnn_tensor mt = {0};
        if (load(dir, "metrics.npy", &mt)) {
            CHECK(rnn_tensor_size(&mt) == c.n_metrics, "case %s: metrics.npy has %lld values",
                  c.name, (long long)rnn_tensor_size(&mt));
            for (int k = 0; k < c.n_metrics && k < rnn_tensor_size(&mt); k++) {
                float fm = (float)mvalues[k];
                char what[64];
                snprintf(what, sizeof what, "metric %s", c.metrics[k]);
                compare(Q_LOSS, c.name, what, &fm, mt.data + k, 1);
            }
            rnn_tensor_free(&mt);
        }
    }
    rnn_reset_states(m);
    if (c.predict_only) goto done;

    /* 3. Gradients: one SGD step with learning rate 2^24 (see the top of the file), whose
     * returned loss is the loss too; then the weights and the state are restored. */
    rnn_optimizer probe = rnn_sgd_defaults();
    probe.learning_rate = GRAD_LR;
    probe.momentum = 0.0f;
    if (!compile_case(m, &c, &probe)) goto done;
    value = NAN;
    CHECK(train_on_batch(m, x, nx, y, ny, &value) == RNN_OK, "case %s: train_on_batch: %s",
          c.name, rnn_model_error(m));
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
    if (!compile_case(m, &c, &c.opt)) goto done;
    for (int s = 0; s < c.train_steps; s++) {
        value = NAN;
        CHECK(train_on_batch(m, x, nx, y, ny, &value) == RNN_OK,
              "case %s: train_on_batch %d: %s", c.name, s, rnn_model_error(m));
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
    free_models(&bm);
    for (int k = 0; k < MAX_IO; k++) {
        rnn_tensor_free(&x[k]); rnn_tensor_free(&y[k]); rnn_tensor_free(&out[k]);
        rnn_tensor_free(&pred[k]);
    }
    rnn_tensor_free(&loss); rnn_tensor_free(&train_loss); rnn_tensor_free(&x2);
    rnn_tensor_free(&out2);
    for (int k = 0; k < MAX_WEIGHTS; k++) {
        rnn_tensor_free(&w[k]); rnn_tensor_free(&grad[k]); rnn_tensor_free(&after[k]);
        free(scratch[k]);
    }
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rnn_fixtures_XXXXXX");
    if (!mkdtemp(tmpdir)) tmpdir[0] = '\0';
    CHECK(tmpdir[0], "cannot make a temporary directory for the save round trips");
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
        printf("%-58s %s\n", names[i], check_failures_ == before ? "ok" : "FAILED");
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
    printf("  saved and loaded back (.keras and .h5): %d bit-identical, %d refused by name "
           "(hard_sigmoid)\n", round_trips, round_trips_refused);
    if (tmpdir[0]) rmdir(tmpdir);
    return check_report("test_keras_fixtures");
}
