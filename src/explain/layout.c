/* rnn_explain's drawing: rows (rows.c) placed on a time axis as nodes, edges and texts with
 * their coordinates. Time runs left to right (one column per drawn step), layers top to
 * bottom (the input first), the layer's description in the left margin. Every text is given
 * the box it must fit in and is shrunk (down to 7 units) or shortened with an ellipsis to fit,
 * so that the renderers never have to measure anything. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "explain/explain.h"
#include "layers/layer_options.h"
#include "layers/recurrent.h"

#define MARGIN 270.0   /* the layer descriptions */
#define X0 (MARGIN + 24.0)
#define CW 104.0       /* one time step's column */
#define GAP 44.0       /* between rows: the arrows and their shapes */
#define HEAT_UNITS 24  /* units drawn per heat strip */
#define COL_W 10.0

static double slot_x(int j) { return X0 + j * CW + CW / 2; }

static void *grow(void *p, int *cap, int need, size_t size, int *oom) {
    if (need <= *cap) return p;
    int c = *cap ? *cap * 2 : 64;
    while (c < need) c *= 2;
    void *q = realloc(p, (size_t)c * size);
    if (!q) {
        *oom = 1;
        return p;
    }
    *cap = c;
    return q;
}

static int add_node(ex_scene *s, ex_node_kind kind, double x, double y, double w, double h, int row,
                    int64_t step, const char *label) {
    s->nodes = grow(s->nodes, &s->cap_nodes, s->n_nodes + 1, sizeof *s->nodes, &s->oom);
    if (s->oom) return -1;
    ex_node *n = &s->nodes[s->n_nodes];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->x = x;
    n->y = y;
    n->w = w;
    n->h = h;
    n->row = row;
    n->step = step;
    n->batch = n->sample_row = -1;
    n->returned = -1;
    snprintf(n->label, sizeof n->label, "%s", label ? label : "");
    /* the label fits the box: smaller, then shortened */
    n->label_size = kind == EX_NODE_ELLIPSIS ? 14 : 10;
    const double room = w - 4;
    while (n->label_size > 7 && rnn__explain_text_width(n->label, n->label_size) > room)
        n->label_size -= 0.5;
    for (size_t len = strlen(n->label); len > 0 && rnn__explain_text_width(n->label, n->label_size) > room;) {
        do len--; while (len > 0 && ((unsigned char)n->label[len] & 0xC0) == 0x80);
        n->label[len] = '\0';
    }
    return s->n_nodes++;
}

static void node_title(ex_scene *s, int node, const char *fmt, ...) {
    if (node < 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->nodes[node].title, sizeof s->nodes[node].title, fmt, ap);
    va_end(ap);
}

static int add_edge(ex_scene *s, ex_edge_kind kind, double x1, double y1, double x2, double y2,
                    int from, int to, int row, int64_t step) {
    s->edges = grow(s->edges, &s->cap_edges, s->n_edges + 1, sizeof *s->edges, &s->oom);
    if (s->oom) return -1;
    ex_edge *e = &s->edges[s->n_edges];
    memset(e, 0, sizeof *e);
    *e = (ex_edge){kind, x1, y1, x2, y2, from, to, row, step, 0, "", ""};
    return s->n_edges++;
}

/* Adds a text that fits box_w: smaller (not below 7) or, failing that, shortened with "…". */
static void add_text(ex_scene *s, double x, double y, double size, int anchor, int cls,
                     double box_w, const char *fmt, ...) {
    s->texts = grow(s->texts, &s->cap_texts, s->n_texts + 1, sizeof *s->texts, &s->oom);
    if (s->oom) return;
    ex_text *t = &s->texts[s->n_texts++];
    memset(t, 0, sizeof *t);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->text, sizeof t->text, fmt, ap);
    va_end(ap);
    while (size > 7.0 && rnn__explain_text_width(t->text, size) > box_w) size -= 0.5;
    if (rnn__explain_text_width(t->text, size) > box_w) {
        size_t n = strlen(t->text);
        while (n > 0 && rnn__explain_text_width(t->text, size) > box_w) {
            do n--; while (n > 0 && ((unsigned char)t->text[n] & 0xC0) == 0x80);
            t->text[n] = '\0';
            if (n + 3 < sizeof t->text) {
                char tmp[sizeof t->text];
                snprintf(tmp, sizeof tmp, "%s\xe2\x80\xa6", t->text);
                if (rnn__explain_text_width(tmp, size) <= box_w) {
                    memcpy(t->text, tmp, sizeof tmp);
                    break;
                }
            }
        }
    }
    t->x = x;
    t->y = y;
    t->size = size;
    t->anchor = anchor;
    t->cls = cls;
    t->box_w = box_w;
    t->box_x = anchor == 0 ? x : anchor == 1 ? x - box_w / 2 : x - box_w;
}

static void add_rect(ex_scene *s, double x, double y, double w, double h, int dashed,
                     const char *title) {
    s->rects = grow(s->rects, &s->cap_rects, s->n_rects + 1, sizeof *s->rects, &s->oom);
    if (s->oom) return;
    ex_rect *r = &s->rects[s->n_rects++];
    *r = (ex_rect){x, y, w, h, dashed, ""};
    snprintf(r->title, sizeof r->title, "%s", title ? title : "");
}

/* A heat strip with its top left corner at (x, y), at most `height` tall: `cols` columns of
 * min(units, HEAT_UNITS) values each, column c taken from col_values[c] (units values). */
static int add_heat(ex_scene *s, double x, double y, double height, int row, int64_t step, int cols,
                    const float *const *col_values, int units, const char *names) {
    const int U = units < HEAT_UNITS ? units : HEAT_UNITS;
    if (U <= 0 || cols <= 0) return -1;
    double unit_h = height / U;
    if (unit_h > 6) unit_h = 6;
    int node = add_node(s, EX_NODE_HEAT, x, y, cols * COL_W, U * unit_h, row, step, "");
    if (node < 0) return -1;
    s->values = grow(s->values, &s->cap_values, s->n_values + cols * U, sizeof *s->values, &s->oom);
    if (s->oom) return -1;
    ex_node *n = &s->nodes[node];
    n->value_off = s->n_values;
    n->n_values = cols * U;
    n->cols = cols;
    n->per_col = U;
    n->units_total = units;
    snprintf(n->col_names, sizeof n->col_names, "%s", names);
    for (int c = 0; c < cols; c++)
        for (int u = 0; u < U; u++) s->values[s->n_values++] = col_values[c][u];
    return node;
}

static int is_seq_output(const ex_row *r, int out) {
    if (r->kind == EX_ROW_INPUT) return r->T > 0;
    if (r->kind == EX_ROW_RECURRENT || r->kind == EX_ROW_BIDI)
        return r->returns_sequences && (out == 0 || (r->kind == EX_ROW_BIDI && out == 1 &&
                                                     !rnn__bidirectional_merge_mode(r->layer)));
    return out == 0 && r->T > 0 && r->kind != EX_ROW_VECTOR;
}

static const char *cell_name(int kind) {
    return kind == RNN_CELL_LSTM ? "LSTM" : kind == RNN_CELL_GRU ? "GRU" : "RNN";
}

/* The short label of a per-step or vector layer's box. */
static const char *box_label(const rnn_layer *L) {
    const char *cls = L->ops->class_name;
    if (!strcmp(cls, "TimeDistributed")) return rnn__time_distributed_inner(L)->ops->class_name;
    if (!strcmp(cls, "Embedding")) return "lookup";
    return cls;
}

typedef struct {
    ex_scene *s;
    ex_rows *R;
    const rnn_explain_options *o;
    double y;
} lay;

/* Draws the ellipsis slot of a row: "…" and how many steps it stands for. */
static int ellipsis(lay *L, int row, int j, double y, double h, int64_t hidden) {
    const double cx = slot_x(j);
    int n = add_node(L->s, EX_NODE_ELLIPSIS, cx - 14, y, 28, h, row, -1, "\xe2\x80\xa6");
    node_title(L->s, n, "%lld more steps, computed the same way", (long long)hidden);
    add_text(L->s, cx, y + h + 11, 8.5, 1, 2, CW - 6, "%lld more steps", (long long)hidden);
    return n;
}

static void label_margin(lay *L, const ex_row *r, double y) {
    const double x = 16 + r->depth * 12, w = MARGIN - 8 - x;
    add_text(L->s, x, y + 12, 11.5, 0, 1, w, "%s", r->name);
    if (r->config[0]) add_text(L->s, x, y + 27, 9.5, 0, 2, w, "%s", r->config);
    if (r->formula[0])
        add_text(L->s, x, y + 41, 9.5, 0, 0, w, "params: %s", r->formula);
    else if (r->kind != EX_ROW_INPUT)
        add_text(L->s, x, y + 41, 9.5, 0, 0, w, "params: %lld", (long long)r->params);
    if (r->model_output >= 0)
        add_text(L->s, x, y + 55, 9.5, 0, 3, w, "model output %d: %s", r->model_output,
                 r->shape[r->model_output_out]);
}

static double draw_input(lay *L, int i) {
    ex_row *r = &L->R->rows[i];
    const double y = L->y;
    if (!r->T) {
        r->vec_x = slot_x(0);
        r->vec_node = add_node(L->s, EX_NODE_INPUT, r->vec_x - 30, y + 4, 60, 24, i, -1, "x");
        node_title(L->s, r->vec_node, "%s: one vector of %d features, shape %s", r->layer->name,
                   r->features, r->shape[0]);
        add_text(L->s, r->vec_x, y + 40, 8.5, 1, 2, CW - 6, "%d features", r->features);
        return 46;
    }
    ex_slots sl;
    rnn__explain_slots(r->T, L->R->slots, &sl);
    const int ids = rnn__input_is_ids(r->layer);
    const ex_out_trace *t = rnn__trace_out(L->R->trace, r->layer);
    for (int j = 0; j < sl.n; j++) {
        if (sl.step[j] < 0) {
            ellipsis(L, i, j, y + 4, 24, sl.hidden);
            continue;
        }
        char label[24];
        snprintf(label, sizeof label, "%s%lld", ids ? "id" : "x", (long long)sl.step[j]);
        int n = add_node(L->s, EX_NODE_INPUT, slot_x(j) - 26, y + 4, 52, 24, i, sl.step[j], label);
        r->slot_node[j] = n;
        if (t && ids && sl.step[j] < t->steps)
            node_title(L->s, n, "token id %g at step %lld", t->y[sl.step[j]], (long long)sl.step[j]);
        else
            node_title(L->s, n, "x at step %lld: %s of %d feature%s", (long long)sl.step[j],
                       ids ? "one token id" : "a vector", r->features, r->features == 1 ? "" : "s");
        if (!ids) add_text(L->s, slot_x(j), y + 40, 8.5, 1, 2, CW - 6, "%d feature%s", r->features,
                      r->features == 1 ? "" : "s");
    }
    return 46;
}

/* Heat strips of a recurrent layer's step, right of its output: its gates, then h, each
 * column headed by its letter. */
#define CELL_HEAT_H 56.0
static int cell_heat(lay *L, const ex_row *r, const ex_cell_trace *c, int i, int64_t t, double x,
                     double y) {
    if (!c || t >= c->T) return -1;
    const float *cols[8];
    int n = 0;
    for (int g = 0; g < c->G && n < 7; g++) cols[n++] = c->gates + ((size_t)t * c->G + g) * c->H;
    cols[n++] = c->h + (size_t)t * c->H;
    const char *names = r->cell == RNN_CELL_LSTM ? "ifcoh" : r->cell == RNN_CELL_GRU ? "zrhs" : "h";
    for (int k = 0; k < n && names[k]; k++)
        add_text(L->s, x + (k + 0.5) * COL_W, y - 2, 7.5, 1, 2, COL_W, "%c", names[k]);
    return add_heat(L->s, x, y, CELL_HEAT_H, i, t, n, cols, c->H, names);
}

static double draw_recurrent(lay *L, int i) {
    ex_row *r = &L->R->rows[i];
    const double y = L->y, cw = 64, chh = 36;
    ex_slots sl;
    rnn__explain_slots(r->T, L->R->slots, &sl);
    const ex_cell_trace *tr = rnn__trace_cell(L->R->trace, r->layer);
    const int lstm = r->cell == RNN_CELL_LSTM;
    int prev = -1;
    double prev_right = 0;
    add_text(L->s, slot_x(0) - cw / 2 - 4, y + 16, 8, 2, 2, X0 - MARGIN + CW / 2 - cw / 2 - 6,
             r->stateful ? "carried" : "h0=0");
    for (int j = 0; j < sl.n; j++) {
        const double cx = slot_x(j);
        int node;
        if (sl.step[j] < 0) node = ellipsis(L, i, j, y + 4, chh, sl.hidden);
        else {
            node = add_node(L->s, EX_NODE_CELL, cx - cw / 2, y + 4, cw, chh, i, sl.step[j],
                            cell_name(r->cell));
            int masked = tr && sl.step[j] < tr->T && !tr->mask[sl.step[j]];
            L->s->nodes[node].masked = masked;
            node_title(L->s, node, "%s, step %lld of %lld: %s(x_t, h_t-1%s) -> h_t%s%s",
                       r->layer->name, (long long)sl.step[j], (long long)r->T, cell_name(r->cell),
                       lstm ? ", c_t-1" : "", lstm ? ", c_t" : "",
                       masked ? " (masked step: skipped, the state passes through)" : "");
        }
        if (prev >= 0) {
            double x1 = prev_right, x2 = L->s->nodes[node].x;
            int e = add_edge(L->s, EX_EDGE_STATE, x1, y + 16, x2, y + 16, prev, node, i, sl.step[j]);
            if (e >= 0) snprintf(L->s->edges[e].label, sizeof L->s->edges[e].label, "h");
            if (j == 1) add_text(L->s, (x1 + x2) / 2, y + 12, 8.5, 1, 5, x2 - x1, "h");
            if (lstm) {
                e = add_edge(L->s, EX_EDGE_CELL, x1, y + 30, x2, y + 30, prev, node, i, sl.step[j]);
                if (e >= 0) snprintf(L->s->edges[e].label, sizeof L->s->edges[e].label, "c");
                if (j == 1) add_text(L->s, (x1 + x2) / 2, y + 40, 8.5, 1, 6, x2 - x1, "c");
            }
        }
        prev = node;
        prev_right = L->s->nodes[node].x + L->s->nodes[node].w;
        if (sl.step[j] < 0) continue;
        /* the output of this step: returned or computed and discarded */
        const int last = sl.step[j] == r->T - 1, returned = r->returns_sequences || last;
        char label[24];
        snprintf(label, sizeof label, "h%lld", (long long)sl.step[j]);
        int out = add_node(L->s, EX_NODE_OUTPUT, cx - 20, y + 56, 40, 20, i, sl.step[j], label);
        if (out < 0) break;
        L->s->nodes[out].returned = returned;
        node_title(L->s, out, returned ? "%s output at step %lld: returned, %s"
                                       : "%s output at step %lld: computed, then discarded "
                                         "(return_sequences=False keeps the last step only)%s",
                   r->layer->name, (long long)sl.step[j], returned ? r->shape[0] : "");
        int e = add_edge(L->s, EX_EDGE_OUTPUT, cx, y + 4 + chh, cx, y + 56, node, out, i, sl.step[j]);
        if (e >= 0) L->s->edges[e].faint = !returned;
        r->slot_node[j] = out;
        if (last) r->vec_node = out;
        if (tr) cell_heat(L, r, tr, i, sl.step[j], cx + 24, y + 52);
    }
    double h = 80;
    if (r->return_state) { /* the final states, returned as outputs 1 (h) and 2 (c) */
        const double x = slot_x(sl.n - 1) + cw / 2 + 22;
        for (int k = 1; k < r->n_outputs; k++) {
            int n = add_node(L->s, EX_NODE_STATE, x, y + 2 + (k - 1) * 20, 34, 16, i, r->T - 1,
                             k == 1 ? "h" : "c");
            if (n < 0) break;
            L->s->nodes[n].returned = 1;
            node_title(L->s, n, "return_state: the last %s state, output %d, %s",
                       k == 1 ? "hidden" : "cell", k, r->shape[k]);
            add_edge(L->s, EX_EDGE_OUTPUT, prev_right, y + 10 + (k - 1) * 20, x, y + 10 + (k - 1) * 20,
                     prev, n, i, r->T - 1);
            r->state_node[k] = n;
        }
    }
    if (tr) {
        int U = tr->H < HEAT_UNITS ? tr->H : HEAT_UNITS;
        const double strip = U * (CELL_HEAT_H / U > 6 ? 6 : CELL_HEAT_H / U);
        if (52 + strip + 6 > h) h = 52 + strip + 6;
        const double x = 16 + r->depth * 12;
        add_text(L->s, x, y + 55, 8.5, 0, 2, MARGIN - 8 - x, "heat: %s, %d of %d units",
                 lstm ? "gates i f c o, then h" : r->cell == RNN_CELL_GRU ? "gates z r h, then state"
                                                                         : "h",
                 U, tr->H);
    }
    return h;
}

static double draw_bidi(lay *L, int i) {
    ex_row *r = &L->R->rows[i];
    const double y = L->y, cw = 64, chh = 28;
    ex_slots sl;
    rnn__explain_slots(r->T, L->R->slots, &sl);
    const char *mm = rnn__bidirectional_merge_mode(r->layer);
    for (int dir = 0; dir < 2; dir++) {
        const double cy = y + 4 + dir * 40;
        int prev = -1;
        double prev_right = 0;
        for (int j = 0; j < sl.n; j++) {
            const double cx = slot_x(j);
            int node;
            if (sl.step[j] < 0) node = ellipsis(L, i, j, cy, chh, sl.hidden);
            else {
                char label[24];
                snprintf(label, sizeof label, "%s %s", dir ? "\xe2\x86\x90" : "\xe2\x86\x92",
                         cell_name(r->cell));
                node = add_node(L->s, EX_NODE_CELL, cx - cw / 2, cy, cw, chh, i, sl.step[j], label);
                /* the backward layer reads input step j at its processed step T-1-j */
                const ex_cell_trace *tr = rnn__trace_cell(L->R->trace, rnn__bidirectional_sub(r->layer, dir));
                const int64_t pt = dir ? r->T - 1 - sl.step[j] : sl.step[j];
                if (node >= 0) {
                    L->s->nodes[node].dir = dir;
                    L->s->nodes[node].masked = tr && pt >= 0 && pt < tr->T && !tr->mask[pt];
                }
                node_title(L->s, node, "%s, %s direction, input step %lld", r->layer->name,
                           dir ? "backward" : "forward", (long long)sl.step[j]);
                if (dir) r->slot_node2[j] = node;
            }
            if (prev >= 0) { /* backward: the state flows right to left */
                double x1 = prev_right, x2 = L->s->nodes[node].x;
                int e = dir ? add_edge(L->s, EX_EDGE_STATE, x2, cy + 14, x1, cy + 14, node, prev, i, sl.step[j])
                            : add_edge(L->s, EX_EDGE_STATE, x1, cy + 14, x2, cy + 14, prev, node, i, sl.step[j]);
                if (e >= 0) snprintf(L->s->edges[e].label, sizeof L->s->edges[e].label, "h");
                if (r->cell == RNN_CELL_LSTM) {
                    e = dir ? add_edge(L->s, EX_EDGE_CELL, x2, cy + 22, x1, cy + 22, node, prev, i, sl.step[j])
                            : add_edge(L->s, EX_EDGE_CELL, x1, cy + 22, x2, cy + 22, prev, node, i, sl.step[j]);
                }
            }
            prev = node;
            prev_right = L->s->nodes[node].x + L->s->nodes[node].w;
            if (sl.step[j] < 0 || dir == 0) continue;
            const int last = sl.step[j] == r->T - 1, returned = r->returns_sequences || last;
            int out = add_node(L->s, EX_NODE_OUTPUT, cx - 24, y + 90, 48, 20, i, sl.step[j],
                               mm ? mm : "f | b");
            if (out < 0) break;
            L->s->nodes[out].returned = returned;
            node_title(L->s, out, "%s at step %lld: forward and backward outputs merged (%s): %s",
                       r->layer->name, (long long)sl.step[j], mm ? mm : "None: two outputs",
                       returned ? "returned" : "discarded");
            int e = add_edge(L->s, EX_EDGE_OUTPUT, cx, cy + chh, cx, y + 90, node, out, i, sl.step[j]);
            if (e >= 0) L->s->edges[e].faint = !returned;
            r->slot_node[j] = out;
            if (last) r->vec_node = out;
        }
    }
    if (r->return_state)
        for (int k = 1; k < r->n_outputs; k++) r->state_node[k] = r->vec_node;
    return 114;
}

/* One box per step (the same layer at each step), or one box for a vector. */
static double draw_boxes(lay *L, int i, int per_step) {
    ex_row *r = &L->R->rows[i];
    const double y = L->y;
    const ex_out_trace *t = rnn__trace_out(L->R->trace, r->layer);
    const char *label = box_label(r->layer);
    double h = 36;
    if (!per_step) {
        /* a vector sits under what it comes from: the last step of a many-to-one layer */
        double x = slot_x(0);
        if (r->n_src > 0 && r->src[0] >= 0) {
            const ex_row *S = &L->R->rows[r->src[0]];
            int sn = r->src_out[0] > 0 && S->state_node[r->src_out[0]] >= 0 ? S->state_node[r->src_out[0]] : S->vec_node;
            if (sn >= 0) x = L->s->nodes[sn].x + L->s->nodes[sn].w / 2;
            else x = S->vec_x;
        }
        r->vec_x = x;
        r->vec_node = add_node(L->s, r->kind == EX_ROW_MERGE ? EX_NODE_MERGE : EX_NODE_VECTOR,
                               x - 36, y + 4, 72, 28, i, -1, label);
        node_title(L->s, r->vec_node, "%s: output %s", r->name, r->shape[0]);
        if (t) {
            const float *col[1] = {t->y};
            add_heat(L->s, x + 40, y + 4, 28, i, -1, 1, col, t->n, "y"); /* right of the box */
            if (t->n == 1) add_text(L->s, x + 54, y + 22, 9, 0, 3, CW / 2, "%.4g", t->y[0]);
        }
        return h;
    }
    ex_slots sl;
    rnn__explain_slots(r->T, L->R->slots, &sl);
    const int shared = !strcmp(r->layer->ops->class_name, "TimeDistributed");
    int shared_node = -1;
    if (shared) {
        const double x = slot_x(sl.n - 1) + 44;
        char sl_label[24];
        snprintf(sl_label, sizeof sl_label, "one %s", label);
        shared_node = add_node(L->s, EX_NODE_SHARED, x, y - 22, 92, 18, i, -1, sl_label);
        node_title(L->s, shared_node, "TimeDistributed: one %s with one set of weights (%lld "
                   "params), applied at every step", label, (long long)r->params);
    }
    for (int j = 0; j < sl.n; j++) {
        const double cx = slot_x(j);
        if (sl.step[j] < 0) {
            ellipsis(L, i, j, y + 4, 28, sl.hidden);
            continue;
        }
        int n = add_node(L->s, r->kind == EX_ROW_MERGE ? EX_NODE_MERGE : EX_NODE_STEP, cx - 32,
                         y + 4, 64, 28, i, sl.step[j], label);
        r->slot_node[j] = n;
        node_title(L->s, n, "%s at step %lld -> %s per step", r->name, (long long)sl.step[j],
                   r->shape[0]);
        if (n >= 0 && t && t->mask && sl.step[j] < t->steps) L->s->nodes[n].masked = !t->mask[sl.step[j]];
        if (shared_node >= 0) { /* a dotted bus from the one layer to each step's box */
            const ex_node *sn = &L->s->nodes[shared_node];
            add_edge(L->s, EX_EDGE_SHARED, sn->x, sn->y + sn->h / 2, cx + 22, y + 4, shared_node, n, i,
                     sl.step[j]);
        }
        if (t && sl.step[j] < t->steps) {
            const float *col[1] = {t->y + (size_t)sl.step[j] * t->n};
            add_heat(L->s, cx + 34, y + 4, 28, i, sl.step[j], 1, col, t->n, "y");
        }
    }
    return h;
}

static double draw_repeat(lay *L, int i) {
    ex_row *r = &L->R->rows[i];
    const double y = L->y;
    ex_slots sl;
    rnn__explain_slots(r->T, L->R->slots, &sl);
    const double x = (slot_x(0) + slot_x(sl.n - 1)) / 2; /* the fan is centred over the steps */
    char label[24];
    snprintf(label, sizeof label, "copy x%lld", (long long)r->T);
    int hub = add_node(L->s, EX_NODE_VECTOR, x - 40, y + 2, 80, 20, i, -1, label);
    r->vec_node = hub;
    r->vec_x = x;
    node_title(L->s, hub, "RepeatVector: the same vector fed to each of %lld steps", (long long)r->T);
    for (int j = 0; j < sl.n; j++) {
        const double cx = slot_x(j);
        if (sl.step[j] < 0) {
            ellipsis(L, i, j, y + 64, 20, sl.hidden);
            continue;
        }
        char cl[24];
        snprintf(cl, sizeof cl, "v%lld", (long long)sl.step[j]);
        int n = add_node(L->s, EX_NODE_STEP, cx - 22, y + 64, 44, 20, i, sl.step[j], cl);
        r->slot_node[j] = n;
        node_title(L->s, n, "copy %lld of the vector, %s", (long long)sl.step[j], r->shape[0]);
        int e = add_edge(L->s, EX_EDGE_FAN, x, y + 22, cx, y + 64, hub, n, i, sl.step[j]);
        if (e >= 0) snprintf(L->s->edges[e].shape, sizeof L->s->edges[e].shape, "%s", r->shape[0]);
    }
    return 86;
}

/* The source node of row r's input k at slot j (seq) or as a vector (j < 0). */
static int source_node(const ex_row *S, int out, int j) {
    if (j >= 0) return S->slot_node[j];
    if (out > 0 && S->state_node[out] >= 0) return S->state_node[out];
    return S->vec_node;
}

static void flow(lay *L, int i, int from, int to, int k, int64_t step, int first, double dx) {
    if (from < 0 || to < 0) return;
    ex_row *r = &L->R->rows[i];
    const ex_row *S = &L->R->rows[r->src[k]];
    const ex_node *a = &L->s->nodes[from], *b = &L->s->nodes[to];
    double x1 = a->x + a->w / 2, y1 = a->y + a->h, x2 = b->x + b->w / 2 + dx, y2 = b->y;
    if (a->kind == EX_NODE_STATE) { /* return_state outputs leave from their right side */
        x1 = a->x + a->w;
        y1 = a->y + a->h / 2;
    }
    int e = add_edge(L->s, EX_EDGE_FLOW, x1, y1, x2, y2, from, to, i, step);
    if (e < 0) return;
    ex_edge *E = &L->s->edges[e];
    snprintf(E->shape, sizeof E->shape, "%s", S->shape[r->src_out[k] < S->n_outputs ? r->src_out[k] : 0]);
    if (k > 0 && (r->kind == EX_ROW_RECURRENT || r->kind == EX_ROW_BIDI))
        snprintf(E->label, sizeof E->label, "initial state");
    if (first && (k == 0 || r->kind == EX_ROW_MERGE || E->label[0])) {
        /* the tensor's Keras shape, once per bundle, beside its first arrow */
        /* just above the target: an arrow that passes other rows keeps its label clear of them */
        const double t = y2 - y1 > 60 ? (y2 - 16 - y1) / (y2 - y1) : 0.5;
        const double mx = x1 + t * (x2 - x1), my = y1 + t * (y2 - y1);
        add_text(L->s, mx + 5, my + 3, 9, 0, 3, CW - 14, "%s%s", E->shape,
                 k > 0 && E->label[0] ? " init" : "");
    }
}

static void connect(lay *L, int i) {
    ex_row *r = &L->R->rows[i];
    if (r->kind == EX_ROW_INPUT) return;
    ex_slots tsl;
    rnn__explain_slots(r->T, L->R->slots, &tsl);
    for (int k = 0; k < r->n_src; k++) {
        if (r->src[k] < 0) continue;
        const ex_row *S = &L->R->rows[r->src[k]];
        const int out = r->src_out[k], sseq = is_seq_output(S, out);
        const int recurrent = r->kind == EX_ROW_RECURRENT || r->kind == EX_ROW_BIDI;
        if (r->kind == EX_ROW_REPEAT || (!sseq && (r->kind == EX_ROW_VECTOR || (r->kind == EX_ROW_MERGE && !r->T)))) {
            flow(L, i, source_node(S, out, -1), r->vec_node, k, -1, 1, 0);
            continue;
        }
        if (recurrent && k > 0) { /* an initial state enters the first step */
            int target = -1;
            for (int n = 0; n < L->s->n_nodes; n++)
                if (L->s->nodes[n].row == i && L->s->nodes[n].kind == EX_NODE_CELL) {
                    target = n;
                    break;
                }
            flow(L, i, source_node(S, out, -1), target, k, 0, 1, -20);
            continue;
        }
        if (!sseq) { /* a vector into a sequence layer: its first step */
            int target = r->slot_node[0] >= 0 ? r->slot_node[0] : r->vec_node;
            if (recurrent) target = -1;
            for (int n = 0; recurrent && n < L->s->n_nodes; n++)
                if (L->s->nodes[n].row == i && L->s->nodes[n].kind == EX_NODE_CELL) {
                    target = n;
                    break;
                }
            flow(L, i, source_node(S, out, -1), target, k, 0, 1, 0);
            continue;
        }
        ex_slots ssl;
        rnn__explain_slots(S->T, L->R->slots, &ssl);
        if (!r->T) { /* a sequence into a vector layer (Flatten, a merge of vectors) */
            int first = 1;
            for (int j = 0; j < ssl.n; j++)
                if (ssl.step[j] >= 0) {
                    flow(L, i, source_node(S, out, j), r->vec_node, k, ssl.step[j], first, 0);
                    first = 0;
                }
            continue;
        }
        int first = 1;
        const int n = ssl.n < tsl.n ? ssl.n : tsl.n;
        for (int j = 0; j < n; j++) {
            if (ssl.step[j] < 0 || tsl.step[j] < 0) continue;
            int target = r->slot_node[j];
            if (recurrent) { /* the cell of that step (the row's slot nodes are its outputs) */
                target = -1;
                for (int q = 0; q < L->s->n_nodes; q++) {
                    const ex_node *N = &L->s->nodes[q];
                    if (N->row == i && N->kind == EX_NODE_CELL && N->step == tsl.step[j] && N->dir == 0) {
                        target = q;
                        break;
                    }
                }
            }
            flow(L, i, source_node(S, out, j), target, k, tsl.step[j], first,
                 r->kind == EX_ROW_BIDI ? -10 : 0);
            if (r->kind == EX_ROW_BIDI && r->slot_node2[j] >= 0)
                flow(L, i, source_node(S, out, j), r->slot_node2[j], k, tsl.step[j], 0, 10);
            first = 0;
        }
    }
}

/* Stateful models: the batch drawn as parallel rows, each row's last state entering the same
 * row's first step in the next batch, cut where reset_states is called. */
static double draw_stateful(lay *L, const ex_row *r, int ri) {
    ex_scene *s = L->s;
    const int K = L->o->batches > 1 ? L->o->batches : 3;
    const int every = L->o->reset_every > 0 ? L->o->reset_every : 2;
    const int64_t B = L->R->stateful_batch;
    int64_t rows[4];
    int nr = 0;
    if (B <= 4)
        for (int64_t b = 0; b < B; b++) rows[nr++] = b;
    else {
        rows[nr++] = 0;
        rows[nr++] = 1;
        rows[nr++] = -1;
        rows[nr++] = B - 1;
    }
    ex_slots sl;
    rnn__explain_slots(r->T, 3, &sl);
    const double step_w = 46, bw = sl.n * step_w + 56, top = L->y + 34;
    add_text(s, 16, L->y + 12, 12, 0, 1, MARGIN + K * bw,
             "%s across batches (stateful, batch size %lld)", r->layer->name, (long long)B);
    add_text(s, 16, L->y + 27, 9.5, 0, 2, MARGIN + K * bw,
             "sequence i of batch k continues in row i of batch k+1: its last state is the next "
             "batch's first state");
    for (int k = 0; k < K; k++) {
        const double bx = X0 + k * bw;
        add_text(s, bx + sl.n * step_w / 2, top + 8, 10, 1, 1, bw - 10, "batch %d", k);
        if (k > 0 && k % every == 0) {
            add_rect(s, bx - 28, top - 2, 0.01, nr * 30 + 20, 1, "reset_states()");
            add_text(s, bx - 28, top + nr * 30 + 30, 9, 1, 4, bw - 4, "reset_states()");
        }
    }
    for (int q = 0; q < nr; q++) {
        const double y = top + 18 + q * 30;
        if (rows[q] < 0) {
            add_text(s, X0 - 8, y + 14, 9, 2, 2, X0 - 24, "\xe2\x8b\xae %lld more rows",
                     (long long)(B - 3));
            continue;
        }
        add_text(s, X0 - 8, y + 14, 9, 2, 2, X0 - 24, "row %lld", (long long)rows[q]);
        int last_of_prev = -1;
        for (int k = 0; k < K; k++) {
            const double bx = X0 + k * bw;
            int prev = -1;
            for (int j = 0; j < sl.n; j++) {
                const double x = bx + j * step_w;
                int n;
                if (sl.step[j] < 0) {
                    n = add_node(s, EX_NODE_ELLIPSIS, x + 8, y + 4, 20, 20, ri, -1, "\xe2\x80\xa6");
                } else {
                    char label[24];
                    snprintf(label, sizeof label, "t%lld", (long long)sl.step[j]);
                    n = add_node(s, EX_NODE_CELL, x, y + 4, 36, 20, ri, sl.step[j], label);
                    node_title(s, n, "batch %d, row %lld (sequence %lld of that batch), step %lld",
                               k, (long long)rows[q], (long long)rows[q], (long long)sl.step[j]);
                }
                if (n < 0) return 0;
                s->nodes[n].batch = k;
                s->nodes[n].sample_row = (int)rows[q];
                if (prev >= 0)
                    add_edge(s, EX_EDGE_STATE, s->nodes[prev].x + s->nodes[prev].w, y + 14,
                             s->nodes[n].x, y + 14, prev, n, ri, sl.step[j]);
                if (j == 0 && last_of_prev >= 0 && k % every != 0) {
                    const ex_node *a = &s->nodes[last_of_prev];
                    int e = add_edge(s, EX_EDGE_BATCH, a->x + a->w, y + 14, s->nodes[n].x, y + 14,
                                     last_of_prev, n, ri, 0);
                    if (e >= 0) snprintf(s->edges[e].label, sizeof s->edges[e].label, "batch %d->%d",
                                         k - 1, k);
                }
                prev = n;
            }
            last_of_prev = prev;
        }
    }
    if (L->s->width < X0 + K * bw + 40) L->s->width = X0 + K * bw + 40;
    return 34 + 18 + nr * 30 + 40;
}

rnn_status rnn__explain_layout(ex_rows *R, const rnn_explain_options *o, ex_scene *s) {
    memset(s, 0, sizeof *s);
    lay L = {s, R, o, 64};
    s->rows = R;
    int max_slots = 1;
    for (int i = 0; i < R->n_rows; i++) {
        ex_slots sl;
        rnn__explain_slots(R->rows[i].T, R->slots, &sl);
        if (sl.n > max_slots) max_slots = sl.n;
    }
    s->width = X0 + max_slots * CW + 140;
    snprintf(s->title, sizeof s->title, "%s", R->model->name);
    add_text(s, 16, 26, 16, 0, 1, s->width - 32, "%s, unrolled over time (%lld params)",
             R->model->name, (long long)R->model->n_params);
    add_text(s, 16, 44, 9.5, 0, 2, s->width - 32,
             "time runs left to right; arrows between steps carry the state; solid outputs are "
             "returned, faint ones computed and discarded");
    if (R->trace) {
        add_text(s, 16, 58, 9.5, 0, 2, s->width - 32,
                 "values of sample %d, from the library's forward pass: heat strips blue -1, "
                 "white 0, red +1 (point at one for its numbers)", o->sample);
        L.y += 12;
    }
    for (int i = 0; i < R->n_rows; i++) {
        for (int f = 0; f < R->n_frames; f++)
            if (R->frames[f].first == i) {
                R->frames[f].y = L.y - 4;
                L.y += 26;
            }
        ex_row *r = &R->rows[i];
        r->y = L.y;
        label_margin(&L, r, L.y);
        double h;
        switch (r->kind) {
        case EX_ROW_INPUT: h = draw_input(&L, i); break;
        case EX_ROW_RECURRENT: h = draw_recurrent(&L, i); break;
        case EX_ROW_BIDI: h = draw_bidi(&L, i); break;
        case EX_ROW_REPEAT: h = draw_repeat(&L, i); break;
        case EX_ROW_STEPWISE: h = draw_boxes(&L, i, 1); break;
        case EX_ROW_MERGE: h = draw_boxes(&L, i, r->T > 0); break;
        default: h = draw_boxes(&L, i, 0); break;
        }
        if (h < 48) h = 48; /* the margin's three lines */
        r->h = h;
        connect(&L, i);
        L.y += h + GAP;
        for (int f = R->n_frames - 1; f >= 0; f--)
            if (R->frames[f].last == i) {
                ex_frame *fr = &R->frames[f];
                fr->x = 6 + fr->depth * 6;
                fr->w = s->width - 2 * fr->x;
                fr->h = L.y - GAP + 8 - fr->y;
                add_rect(s, fr->x, fr->y, fr->w, fr->h, 0, fr->title);
                add_text(s, fr->x + 8, fr->y + 15, 10.5, 0, 1, fr->w - 16, "%s", fr->title);
                L.y += 14;
            }
    }
    for (int i = 0; R->stateful_batch && i < R->n_rows; i++)
        if (R->rows[i].kind == EX_ROW_RECURRENT && R->rows[i].stateful) {
            L.y += draw_stateful(&L, &R->rows[i], i);
            break;
        }
    s->height = L.y + 10;
    if (s->oom) {
        rnn__explain_scene_free(s);
        return rnn__fail(RNN_ERR_MEMORY, "rnn_explain: out of memory");
    }
    return RNN_OK;
}

void rnn__explain_scene_free(ex_scene *s) {
    free(s->nodes);
    free(s->edges);
    free(s->texts);
    free(s->rects);
    free(s->values);
    memset(s, 0, sizeof *s);
}
