/* model.summary() in Keras 3's layout: a table of "name (Class)", output shape and parameter
 * count, then the totals with their size in memory (float32, 1024-based units). */
#include <stdio.h>
#include <string.h>

#include "model.h"

/* 5281 -> "5,281" */
static void with_commas(int64_t v, char *buf, size_t size) {
    char digits[32];
    snprintf(digits, sizeof digits, "%lld", (long long)v);
    size_t n = strlen(digits), o = 0;
    for (size_t i = 0; i < n && o + 1 < size; i++) {
        if (i && (n - i) % 3 == 0 && o + 2 < size) buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
}

static void readable_size(double bytes, char *buf, size_t size) {
    const char *units[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, size, "%.2f %s", bytes, units[u]);
}

static void repeat(FILE *f, const char *s, int n) {
    for (int i = 0; i < n; i++) fputs(s, f);
}

/* Prints one row: cells padded to the column widths; the Param # column right-aligned. */
static void row(FILE *f, const char *bar, const char *const *cells, const int *w, int ncols) {
    fputs(bar, f);
    for (int k = 0; k < ncols; k++)
        fprintf(f, k == 2 ? " %*s %s" : " %-*s %s", w[k], cells[k], bar);
    fputc('\n', f);
}

static void rule(FILE *f, const char *left, const char *line, const char *mid, const char *right,
                 const int *w, int ncols) {
    fputs(left, f);
    for (int k = 0; k < ncols; k++) {
        repeat(f, line, w[k] + 2);
        fputs(k < ncols - 1 ? mid : right, f);
    }
    fputc('\n', f);
}

/* "(None, 10, 32)", or a list of shapes for a layer with several outputs. */
static void output_text(const rnn_layer *L, char *buf, size_t size) {
    if (L->n_outputs == 1) {
        rnn__shape_format(&L->output[0], buf, size);
        return;
    }
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int k = 0; k < L->n_outputs && used < size; k++) {
        char one[96];
        rnn__shape_format(&L->output[k], one, sizeof one);
        used += (size_t)snprintf(buf + used, size - used, "%s%s", k ? ", " : "", one);
    }
    if (used < size) snprintf(buf + used, size - used, "]");
}

/* Keras's "Connected to": producer[node][tensor] for each input, "-" for an InputLayer. */
static void connected_text(const rnn_layer *L, char *buf, size_t size) {
    if (L->n_inputs == 0) {
        snprintf(buf, size, "-");
        return;
    }
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < L->n_inputs && used < size; k++) {
        const rnn_symbol *s = L->inputs_sym[k];
        used += (size_t)snprintf(buf + used, size - used, "%s%s[0][%d]", k ? ", " : "",
                                 s->producer->name, s->index);
    }
}

/* A functional model that is a plain chain prints like a Sequential one (plus its InputLayer). */
static int needs_connections(const rnn_model *m) {
    if (m->n_inputs > 1 || m->n_outputs > 1 || m->n_shared_symbols > 0) return 1;
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->n_inputs > 1 || m->layers[i]->n_outputs > 1) return 1;
    return 0;
}

rnn_status rnn_summary(rnn_model *m, FILE *out) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_summary: model is NULL");
    if (!out) out = stdout;
    rnn__model_build(m); /* shapes are known either way; this counts optimizer slots */
    const int ncols = !m->sequential && needs_connections(m) ? 4 : 3;
    int w[4] = {31, 22, 13, 26}; /* Keras's widths for its default table */
    char name[2 * RNN_NAME_MAX + 8], shape[256], count[32], conn[256];
    for (int i = 0; i < m->n_layers; i++) {
        rnn_layer *L = m->layers[i];
        int n = snprintf(name, sizeof name, "%s (%s)", L->name, L->ops->class_name);
        if (n > w[0]) w[0] = n;
        output_text(L, shape, sizeof shape);
        if ((n = (int)strlen(shape)) > w[1]) w[1] = n;
        connected_text(L, conn, sizeof conn);
        if ((n = (int)strlen(conn)) > w[3]) w[3] = n;
    }
    fprintf(out, "Model: \"%s\"\n", m->name);
    const char *head[4] = {"Layer (type)", "Output Shape", "Param #", "Connected to"};
    rule(out, "\xe2\x94\x8f", "\xe2\x94\x81", "\xe2\x94\xb3", "\xe2\x94\x93", w, ncols);
    row(out, "\xe2\x94\x83", head, w, ncols);
    rule(out, "\xe2\x94\xa1", "\xe2\x94\x81", "\xe2\x95\x87", "\xe2\x94\xa9", w, ncols);
    int64_t total = 0;
    int printed = 0;
    for (int i = 0; i < m->n_layers; i++) {
        rnn_layer *L = m->layers[i];
        if (m->sequential && rnn__is_input_layer(L)) continue; /* Keras omits it for Sequential */
        if (printed++)
            rule(out, "\xe2\x94\x9c", "\xe2\x94\x80", "\xe2\x94\xbc", "\xe2\x94\xa4", w, ncols);
        int64_t params = rnn__layer_param_count(L);
        total += params;
        snprintf(name, sizeof name, "%s (%s)", L->name, L->ops->class_name);
        output_text(L, shape, sizeof shape);
        with_commas(params, count, sizeof count);
        connected_text(L, conn, sizeof conn);
        const char *cells[4] = {name, shape, count, conn};
        row(out, "\xe2\x94\x82", cells, w, ncols);
    }
    rule(out, "\xe2\x94\x94", "\xe2\x94\x80", "\xe2\x94\xb4", "\xe2\x94\x98", w, ncols);
    /* Keras adds the optimizer's variables once it has been built by a training step:
     * Adam: iterations, learning rate and two slots per weight; SGD: two scalars (+ momentum). */
    int64_t frozen = 0, trainable = m->built ? rnn__model_sync_frozen(m, &frozen) : total;
    if (trainable + frozen != total) { /* a layer reached twice: count the table's way */
        frozen = total - trainable;
        if (frozen < 0) frozen = 0, trainable = total;
    }
    int64_t opt = 0;
    if (m->compiled && m->iterations > 0) { /* slots over the trainable weights only */
        const rnn_optimizer *o = &m->optimizer;
        const int64_t t = trainable;
        switch (o->kind) {
        case RNN_OPT_ADAM: case RNN_OPT_ADAMW: opt = 2 + (o->amsgrad ? 3 : 2) * t; break;
        case RNN_OPT_ADAGRAD: opt = 2 + t; break;
        case RNN_OPT_ADADELTA: case RNN_OPT_ADAMAX: opt = 2 + 2 * t; break;
        case RNN_OPT_NADAM: opt = 3 + 2 * t; break;
        case RNN_OPT_RMSPROP:
            opt = 2 + t * (1 + (o->momentum > 0.0f) + (o->centered != 0));
            break;
        default: opt = 2 + (o->momentum != 0.0f ? t : 0);
        }
    }
    char c1[32], s1[32];
    with_commas(total + opt, c1, sizeof c1);
    readable_size(4.0 * (double)(total + opt), s1, sizeof s1);
    fprintf(out, " Total params: %s (%s)\n", c1, s1);
    with_commas(trainable, c1, sizeof c1);
    readable_size(4.0 * (double)trainable, s1, sizeof s1);
    fprintf(out, " Trainable params: %s (%s)\n", c1, s1);
    with_commas(frozen, c1, sizeof c1);
    readable_size(4.0 * (double)frozen, s1, sizeof s1);
    fprintf(out, " Non-trainable params: %s (%s)\n", c1, s1);
    if (opt) {
        with_commas(opt, c1, sizeof c1);
        readable_size(4.0 * (double)opt, s1, sizeof s1);
        fprintf(out, " Optimizer params: %s (%s)\n", c1, s1);
    }
    return RNN_OK;
}
