/* rnn_explain's rows: the model's graph flattened into one row per layer call, in topological
 * order, nested models expanded in place inside a frame, each row knowing which rows feed it,
 * how many time steps it has, its Keras shapes and its parameter count with the formula. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "explain/explain.h"
#include "layers/layer_options.h"
#include "layers/recurrent.h"

void rnn__explain_slots(int64_t T, int max_slots, ex_slots *s) {
    if (max_slots < 3) max_slots = 3;
    if (max_slots > EX_MAX_SLOTS) max_slots = EX_MAX_SLOTS;
    s->hidden = 0;
    if (T <= max_slots) {
        s->n = (int)(T > 0 ? T : 1);
        for (int j = 0; j < s->n; j++) s->step[j] = j;
        return;
    }
    /* the first max_slots - 2 steps, the ellipsis, the last step */
    s->n = max_slots;
    for (int j = 0; j < max_slots - 2; j++) s->step[j] = j;
    s->step[max_slots - 2] = -1;
    s->step[max_slots - 1] = T - 1;
    s->hidden = T - (max_slots - 1);
}

double rnn__explain_text_width(const char *s, double size) {
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80) n++; /* one per UTF-8 character */
    return 0.6 * size * n;
}

/* A symbol of the graph seen from the rows: where a nested model's input or output leads. */
typedef struct {
    const rnn_layer *layer;
    int k, row, out;
} alias;

typedef struct {
    ex_rows *R;
    const rnn_explain_options *o;
    alias aliases[EX_MAX_ROWS];
    int n_aliases;
    rnn_status st;
} builder;

static int resolve(const builder *b, const rnn_layer *layer, int k, int *out) {
    for (int i = b->n_aliases - 1; i >= 0; i--)
        if (b->aliases[i].layer == layer && b->aliases[i].k == k) {
            *out = b->aliases[i].out;
            return b->aliases[i].row;
        }
    for (int i = b->R->n_rows - 1; i >= 0; i--)
        if (b->R->rows[i].layer == layer) {
            *out = k;
            return i;
        }
    *out = 0;
    return -1;
}

static void add_alias(builder *b, const rnn_layer *layer, int k, int row, int out) {
    if (b->n_aliases >= EX_MAX_ROWS) return;
    b->aliases[b->n_aliases++] = (alias){layer, k, row, out};
}

static int is_model_layer(const rnn_layer *L) {
    return !strcmp(L->ops->class_name, "Functional") || !strcmp(L->ops->class_name, "Sequential");
}

static void appendf(char *buf, size_t size, const char *fmt, ...) {
    size_t used = strlen(buf);
    if (used + 1 >= size) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, size - used, fmt, ap);
    va_end(ap);
}

/* The parameter count as Keras's formula with the layer's numbers; "" when the layer has no
 * formula of its own here (the count is then shown alone). value: what the formula gives. */
static int64_t recurrent_formula(const rnn_recurrent *r, char *buf, size_t size) {
    const int64_t H = r->H, F = r->F;
    const int G = r->cell->gates, bias = r->opt.use_bias;
    const int two_bias = r->cell->kind == RNN_CELL_GRU && r->opt.reset_after;
    if (!bias) {
        if (G == 1)
            snprintf(buf, size, "%lld * (%lld + %lld)", (long long)H, (long long)H, (long long)F);
        else
            snprintf(buf, size, "%d * %lld * (%lld + %lld)", G, (long long)H, (long long)H,
                     (long long)F);
        return G * H * (H + F);
    }
    if (G == 1) {
        snprintf(buf, size, "%lld * (%lld + %lld) + %lld", (long long)H, (long long)H,
                 (long long)F, (long long)H);
        return H * (H + F) + H;
    }
    if (two_bias) {
        snprintf(buf, size, "%d * (%lld * (%lld + %lld) + 2 * %lld)", G, (long long)H,
                 (long long)H, (long long)F, (long long)H);
        return G * (H * (H + F) + 2 * H);
    }
    snprintf(buf, size, "%d * (%lld * (%lld + %lld) + %lld)", G, (long long)H, (long long)H,
             (long long)F, (long long)H);
    return G * (H * (H + F) + H);
}

static int64_t layer_formula(rnn_layer *L, char *buf, size_t size, const char **symbolic) {
    buf[0] = '\0';
    *symbolic = "";
    const char *cls = L->ops->class_name;
    if (rnn__layer_is_recurrent(L)) {
        const rnn_recurrent *r = rnn__recurrent_of(L);
        *symbolic = r->cell->kind == RNN_CELL_LSTM ? "4 * (units * (units + features) + units)"
                    : r->cell->kind == RNN_CELL_GRU
                        ? (r->opt.reset_after ? "3 * (units * (units + features) + 2 * units)"
                                              : "3 * (units * (units + features) + units)")
                        : "units * (units + features) + units";
        if (!r->opt.use_bias) *symbolic = "gates * units * (units + features)";
        return recurrent_formula(r, buf, size);
    }
    if (!strcmp(cls, "Bidirectional")) {
        char inner[96];
        const char *sym;
        int64_t v = layer_formula(rnn__bidirectional_sub(L, 0), inner, sizeof inner, &sym);
        snprintf(buf, size, "2 * (%s)", inner);
        *symbolic = "2 * (one direction's parameters)";
        return 2 * v;
    }
    if (!strcmp(cls, "TimeDistributed"))
        return layer_formula(rnn__time_distributed_inner(L), buf, size, symbolic);
    if (!strcmp(cls, "Dense")) {
        const rnn_dense_options *d = rnn__dense_options(L);
        const int64_t F = L->input[0].dim[L->input[0].rank - 1];
        *symbolic = d->use_bias ? "units * (features + 1)" : "units * features";
        snprintf(buf, size, d->use_bias ? "%d * (%lld + 1)" : "%d * %lld", d->units, (long long)F);
        return d->units * (F + (d->use_bias ? 1 : 0));
    }
    if (!strcmp(cls, "Embedding")) {
        const rnn_embedding_options *e = rnn__embedding_options(L);
        *symbolic = "input_dim * output_dim";
        snprintf(buf, size, "%d * %d", e->input_dim, e->output_dim);
        return (int64_t)e->input_dim * e->output_dim;
    }
    if (!strcmp(cls, "Conv1D")) {
        const rnn_conv1d_options *c = rnn__conv1d_options(L);
        const int64_t C = L->input[0].dim[2];
        *symbolic = c->use_bias ? "kernel_size * channels * filters + filters"
                                : "kernel_size * channels * filters";
        if (c->use_bias)
            snprintf(buf, size, "%d * %lld * %d + %d", c->kernel_size, (long long)C, c->filters,
                     c->filters);
        else
            snprintf(buf, size, "%d * %lld * %d", c->kernel_size, (long long)C, c->filters);
        return (int64_t)c->kernel_size * C * c->filters + (c->use_bias ? c->filters : 0);
    }
    return -1;
}

static void describe(ex_row *row, rnn_layer *L) {
    snprintf(row->name, sizeof row->name, "%s (%s)", L->name, L->ops->class_name);
    row->n_outputs = L->n_outputs;
    for (int k = 0; k < L->n_outputs && k < RNN_LAYER_MAX_OUTPUTS; k++)
        rnn__shape_format(&L->output[k], row->shape[k], sizeof row->shape[k]);
    row->params = rnn__is_input_layer(L) ? 0 : rnn__layer_param_count(L);
    char f[128];
    const char *sym;
    int64_t v = rnn__is_input_layer(L) ? -1 : layer_formula(L, f, sizeof f, &sym);
    row->formula[0] = '\0';
    if (v >= 0 && v == row->params) /* only a formula that gives the library's own count */
        snprintf(row->formula, sizeof row->formula, "%s = %lld", f, (long long)v);
    row->config[0] = '\0';
    const char *cls = L->ops->class_name;
    if (rnn__is_input_layer(L)) {
        const rnn_shape *s = &L->output[0];
        if (rnn__input_is_ids(L)) snprintf(row->config, sizeof row->config, "token ids, one per step");
        else if (s->rank == 3)
            snprintf(row->config, sizeof row->config, "%lld feature%s per step",
                     (long long)s->dim[2], s->dim[2] == 1 ? "" : "s");
        else snprintf(row->config, sizeof row->config, "one vector of %lld", (long long)s->dim[s->rank - 1]);
    } else if (rnn__layer_is_recurrent(L) || !strcmp(cls, "Bidirectional")) {
        rnn_layer *cell = rnn__layer_is_recurrent(L) ? L : rnn__bidirectional_sub(L, 0);
        const rnn_recurrent *r = rnn__recurrent_of(cell);
        snprintf(row->config, sizeof row->config, "units %d", r->opt.units);
        if (r->opt.return_sequences) appendf(row->config, sizeof row->config, ", return_sequences");
        if (r->opt.return_state) appendf(row->config, sizeof row->config, ", return_state");
        if (r->opt.stateful) appendf(row->config, sizeof row->config, ", stateful");
        if (r->opt.go_backwards && L == cell) appendf(row->config, sizeof row->config, ", go_backwards");
        if (L != cell) {
            const char *mm = rnn__bidirectional_merge_mode(L);
            appendf(row->config, sizeof row->config, ", merge %s", mm ? mm : "None");
        }
    } else if (!strcmp(cls, "RepeatVector")) {
        snprintf(row->config, sizeof row->config, "n = %d copies", rnn__repeat_vector_n(L));
    } else if (!strcmp(cls, "TimeDistributed")) {
        rnn_layer *in = rnn__time_distributed_inner(L);
        snprintf(row->config, sizeof row->config, "one %s, shared by every step", in->ops->class_name);
    } else if (!strcmp(cls, "Masking")) {
        snprintf(row->config, sizeof row->config, "skips steps equal to %g", rnn__masking_value(L));
    } else if (!strcmp(cls, "Embedding")) {
        const rnn_embedding_options *e = rnn__embedding_options(L);
        snprintf(row->config, sizeof row->config, "lookup: id -> vector of %d%s", e->output_dim,
                 e->mask_zero ? ", id 0 masks" : "");
    } else if (!strcmp(cls, "Dense")) {
        snprintf(row->config, sizeof row->config, L->input[0].rank == 3 ? "units %d, at every step" : "units %d",
                 rnn__dense_options(L)->units);
    } else if (L->n_inputs > 1) {
        snprintf(row->config, sizeof row->config, "joins %d inputs", L->n_inputs);
    }
}

static int64_t input_steps_of(const rnn_shape *s) { return s->rank >= 3 || s->rank == 2 ? s->dim[1] : 0; }

/* The number of steps drawn for a row: the model's own, else the input's (trace), else the
 * option's stand-in for None. */
static int64_t steps_for(const builder *b, const rnn_layer *L, int64_t declared, int *known) {
    *known = declared > 0;
    if (declared > 0) return declared;
    const ex_out_trace *t = rnn__trace_out(b->R->trace, L);
    if (t && t->steps > 0) return t->steps;
    if (b->R->trace && b->R->trace->steps > 0) return b->R->trace->steps;
    return b->o->unknown_steps > 0 ? b->o->unknown_steps : 4;
}

static void add_row(builder *b, rnn_layer *L, int depth) {
    ex_rows *R = b->R;
    if (R->n_rows >= EX_MAX_ROWS) {
        if (!b->st)
            b->st = rnn__fail(RNN_ERR_UNSUPPORTED, "rnn_explain: more than %d layers to draw",
                              EX_MAX_ROWS);
        return;
    }
    ex_row *row = &R->rows[R->n_rows];
    memset(row, 0, sizeof *row);
    row->layer = L;
    row->depth = depth;
    row->model_output = -1;
    row->vec_node = -1;
    for (int j = 0; j < EX_MAX_SLOTS; j++) row->slot_node[j] = row->slot_node2[j] = -1;
    for (int k = 0; k < RNN_LAYER_MAX_OUTPUTS; k++) row->state_node[k] = -1;
    row->n_src = L->n_inputs;
    for (int k = 0; k < L->n_inputs; k++)
        row->src[k] = resolve(b, L->inputs_sym[k]->producer, L->inputs_sym[k]->index, &row->src_out[k]);
    describe(row, L);
    const char *cls = L->ops->class_name;
    const rnn_shape *out = &L->output[0];
    int known;
    if (rnn__is_input_layer(L)) {
        row->kind = EX_ROW_INPUT;
        const int seq = out->rank == 3 || rnn__input_is_ids(L);
        row->T = seq ? steps_for(b, L, out->dim[1], &known) : 0;
        row->steps_known = seq && known;
        row->features = (int)(rnn__input_is_ids(L) ? 1 : out->dim[out->rank - 1]);
        if (seq && !known) /* None: any number of steps; the drawing shows some */
            appendf(row->config, sizeof row->config, "; steps None (%lld drawn)", (long long)row->T);
    } else if (rnn__layer_is_recurrent(L) || !strcmp(cls, "Bidirectional")) {
        rnn_layer *cell = rnn__layer_is_recurrent(L) ? L : rnn__bidirectional_sub(L, 0);
        const rnn_recurrent *r = rnn__recurrent_of(cell);
        row->kind = L == cell ? EX_ROW_RECURRENT : EX_ROW_BIDI;
        row->cell = r->cell->kind;
        row->T = steps_for(b, L, input_steps_of(&L->input[0]), &known);
        const ex_out_trace *t = rnn__trace_out(R->trace, L->inputs_sym[0]->producer);
        if (!known && t && t->steps > 0) row->T = t->steps;
        row->steps_known = known;
        row->returns_sequences = r->opt.return_sequences;
        row->return_state = r->opt.return_state;
        row->stateful = r->opt.stateful;
        row->go_backwards = r->opt.go_backwards;
        row->units = r->opt.units;
        row->features = (int)r->F;
    } else if (!strcmp(cls, "RepeatVector")) {
        row->kind = EX_ROW_REPEAT;
        row->T = rnn__repeat_vector_n(L);
        row->steps_known = 1;
    } else {
        row->kind = L->n_inputs > 1 ? EX_ROW_MERGE : out->rank == 3 ? EX_ROW_STEPWISE : EX_ROW_VECTOR;
        row->T = out->rank == 3 ? steps_for(b, L, out->dim[1], &known) : 0;
        row->steps_known = out->rank == 3 && known;
        row->features = (int)out->dim[out->rank - 1];
    }
    row->masked_in = 0;
    for (int k = 0; k < row->n_src; k++)
        if (row->src[k] >= 0 && R->rows[row->src[k]].masked_in) row->masked_in = 1;
    if (!strcmp(cls, "Masking") ||
        (!strcmp(cls, "Embedding") && rnn__embedding_options(L)->mask_zero))
        row->masked_in = 1;
    R->n_rows++;
}

static void add_model(builder *b, rnn_model *m, int depth, int top) {
    for (int i = 0; i < m->n_layers && !b->st; i++) {
        rnn_layer *L = m->layers[i];
        if (rnn__is_input_layer(L)) {
            if (top) add_row(b, L, depth); /* an inner model's inputs are the outer symbols */
            continue;
        }
        if (!is_model_layer(L)) {
            add_row(b, L, depth);
            continue;
        }
        rnn_model *inner = rnn__model_layer_inner(L);
        for (int k = 0; k < L->n_inputs && k < inner->n_inputs; k++) {
            int out, row = resolve(b, L->inputs_sym[k]->producer, L->inputs_sym[k]->index, &out);
            add_alias(b, inner->inputs[k], 0, row, out);
        }
        int f = b->R->n_frames < EX_MAX_FRAMES ? b->R->n_frames++ : -1;
        if (f >= 0) {
            ex_frame *fr = &b->R->frames[f];
            memset(fr, 0, sizeof *fr);
            char count[32];
            snprintf(count, sizeof count, "%lld", (long long)rnn__layer_param_count(L));
            snprintf(fr->title, sizeof fr->title, "%s (%s model, %s params)", L->name,
                     inner->sequential ? "Sequential" : "Functional", count);
            fr->first = b->R->n_rows;
            fr->depth = depth;
        }
        add_model(b, inner, depth + 1, 0);
        if (f >= 0) b->R->frames[f].last = b->R->n_rows - 1;
        for (int k = 0; k < L->n_outputs && k < inner->n_outputs; k++) {
            int out, row = resolve(b, inner->outputs[k]->producer, inner->outputs[k]->index, &out);
            add_alias(b, L, k, row, out);
        }
    }
}

rnn_status rnn__explain_rows(rnn_model *m, const rnn_explain_options *o, const ex_trace *trace,
                             ex_rows *R) {
    memset(R, 0, sizeof *R);
    R->model = m;
    R->trace = trace;
    R->slots = o->steps;
    R->stateful_batch = rnn__model_stateful_batch(m);
    builder *b = calloc(1, sizeof *b);
    if (!b) return rnn__fail(RNN_ERR_MEMORY, "rnn_explain: out of memory");
    b->R = R;
    b->o = o;
    add_model(b, m, 0, 1);
    for (int k = 0; !b->st && k < m->n_outputs; k++) {
        int out, row = resolve(b, m->outputs[k]->producer, m->outputs[k]->index, &out);
        if (row >= 0 && R->rows[row].model_output < 0) {
            R->rows[row].model_output = k;
            R->rows[row].model_output_out = out < RNN_LAYER_MAX_OUTPUTS ? out : 0;
        }
    }
    rnn_status st = b->st;
    free(b);
    return st;
}
