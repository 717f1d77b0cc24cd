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

/* Prints one row: cells padded to the column widths; the last column right-aligned. */
static void row(FILE *f, const char *bar, const char *a, const char *b, const char *c,
                const int *w) {
    fprintf(f, "%s %-*s %s %-*s %s %*s %s\n", bar, w[0], a, bar, w[1], b, bar, w[2], c, bar);
}

static void rule(FILE *f, const char *left, const char *line, const char *mid, const char *right,
                 const int *w) {
    fputs(left, f);
    for (int k = 0; k < 3; k++) {
        repeat(f, line, w[k] + 2);
        fputs(k < 2 ? mid : right, f);
    }
    fputc('\n', f);
}

rnn_status rnn_summary(rnn_model *m, FILE *out) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_summary: model is NULL");
    if (!out) out = stdout;
    int w[3] = {31, 22, 13}; /* Keras's widths for its default 88-column Sequential table */
    char name[2 * RNN_NAME_MAX + 8], shape[96], count[32];
    for (int i = 0; i < m->n_layers; i++) {
        rnn_layer *L = m->layers[i];
        int n = snprintf(name, sizeof name, "%s (%s)", L->name, L->ops->class_name);
        if (n > w[0]) w[0] = n;
        rnn__shape_format(&L->output[0], shape, sizeof shape);
        n = (int)strlen(shape);
        if (n > w[1]) w[1] = n;
    }
    fprintf(out, "Model: \"%s\"\n", m->name);
    rule(out, "\xe2\x94\x8f", "\xe2\x94\x81", "\xe2\x94\xb3", "\xe2\x94\x93", w);
    row(out, "\xe2\x94\x83", "Layer (type)", "Output Shape", "Param #", w);
    rule(out, "\xe2\x94\xa1", "\xe2\x94\x81", "\xe2\x95\x87", "\xe2\x94\xa9", w);
    int64_t total = 0;
    for (int i = 0; i < m->n_layers; i++) {
        rnn_layer *L = m->layers[i];
        int64_t params = rnn__layer_param_count(L);
        total += params;
        snprintf(name, sizeof name, "%s (%s)", L->name, L->ops->class_name);
        rnn__shape_format(&L->output[0], shape, sizeof shape);
        with_commas(params, count, sizeof count);
        row(out, "\xe2\x94\x82", name, shape, count, w);
        if (i + 1 < m->n_layers)
            rule(out, "\xe2\x94\x9c", "\xe2\x94\x80", "\xe2\x94\xbc", "\xe2\x94\xa4", w);
    }
    rule(out, "\xe2\x94\x94", "\xe2\x94\x80", "\xe2\x94\xb4", "\xe2\x94\x98", w);
    /* Keras adds the optimizer's variables once it has been built by a training step:
     * Adam: iterations, learning rate and two slots per weight; SGD: two scalars (+ momentum). */
    int64_t opt = 0;
    if (m->compiled && m->iterations > 0) {
        if (m->optimizer.kind == RNN_OPT_ADAM) opt = 2 + 2 * total;
        else opt = 2 + (m->optimizer.momentum != 0.0f ? total : 0);
    }
    char c1[32], s1[32];
    with_commas(total + opt, c1, sizeof c1);
    readable_size(4.0 * (double)(total + opt), s1, sizeof s1);
    fprintf(out, " Total params: %s (%s)\n", c1, s1);
    with_commas(total, c1, sizeof c1);
    readable_size(4.0 * (double)total, s1, sizeof s1);
    fprintf(out, " Trainable params: %s (%s)\n", c1, s1);
    fprintf(out, " Non-trainable params: 0 (0.00 B)\n");
    if (opt) {
        with_commas(opt, c1, sizeof c1);
        readable_size(4.0 * (double)opt, s1, sizeof s1);
        fprintf(out, " Optimizer params: %s (%s)\n", c1, s1);
    }
    return RNN_OK;
}
