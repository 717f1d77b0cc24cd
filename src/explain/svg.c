/* rnn_explain's SVG: the scene as one <svg> element with its own style, every node and edge an
 * element whose data attributes say what it is (data-kind, data-layer, data-step,
 * data-returned, data-shape, ...), so that the picture can be checked, and read, by machine. */
#include <math.h>
#include <string.h>

#include "error.h"
#include "explain/explain.h"

static const char *node_kind_name[EX_NODE_KIND_COUNT] = {
    "input", "cell", "output", "step", "vector", "state", "shared", "ellipsis", "merge", "heat"};
static const char *edge_kind_name[EX_EDGE_KIND_COUNT] = {
    "flow", "state", "cell-state", "fan", "shared", "batch", "output"};


static void esc(FILE *f, const char *s) {
    for (; *s; s++) switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
}

static const char *layer_of(const ex_scene *s, int row) {
    return s->rows && row >= 0 && row < s->rows->n_rows ? s->rows->rows[row].layer->name : "";
}

/* Diverging colour: -1 blue, 0 white, +1 red (gates lie in [0, 1], states in [-1, 1]). */
static void heat_colour(float v, int *r, int *g, int *b) {
    double x = v != v ? 0 : v > 1 ? 1 : v < -1 ? -1 : v;
    if (x >= 0) {
        *r = 255;
        *g = *b = (int)lround(255 - 200 * x);
    } else {
        *b = 255;
        *r = *g = (int)lround(255 + 200 * x);
    }
}

static const char *style =
    "text{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;fill:#222}"
    ".t1{font-weight:bold}.t2{fill:#666}.t3{fill:#35507a}.t4{fill:#c62828;font-weight:bold}.t5{fill:#c9801a;font-weight:bold}.t6{fill:#8b4fc9;font-weight:bold}"
    ".n rect{stroke-width:1.3}"
    ".n-input rect{fill:#eef2ff;stroke:#5b6cc4}"
    ".n-cell rect{fill:#fff3df;stroke:#c9801a}"
    ".n-cell.masked rect{fill:#f2f2f2;stroke:#999;stroke-dasharray:4 3}"
    ".n-cell.masked text{fill:#999}"
    ".n-output rect{fill:#e3f6e8;stroke:#2f8f46}"
    ".n-output.discarded{opacity:.38}.n-output.discarded rect{fill:#fafafa;stroke:#999;stroke-dasharray:3 3}"
    ".n-state rect{fill:#f3e8ff;stroke:#8b4fc9}"
    ".n-step rect,.n-vector rect{fill:#f5f5f5;stroke:#666}"
    ".n-step.masked rect{stroke-dasharray:4 3;fill:#fff}"
    ".n-merge rect{fill:#fff0f5;stroke:#c2185b}"
    ".n-shared rect{fill:#fffbe6;stroke:#b38f00}"
    ".n-ellipsis rect{fill:none;stroke:none}"
    ".n-heat rect{stroke:none}.n-heat rect.hf{fill:none;stroke:#bbb;stroke-width:.6}"
    ".e{fill:none;stroke:#555;stroke-width:1.2}"
    ".e-state{stroke:#c9801a;stroke-width:2}.e-cell-state{stroke:#8b4fc9;stroke-width:1.6;stroke-dasharray:5 3}"
    ".e-batch{stroke:#c62828;stroke-width:2}.e-fan{stroke:#5b6cc4}"
    ".e-shared{stroke:#b38f00;stroke-dasharray:2 3}.e-output{stroke:#2f8f46}"
    ".e.faint{stroke:#aaa;opacity:.45;stroke-dasharray:3 3}"
    ".frame{fill:none;stroke:#7a8899;stroke-width:1.2;rx:8}"
    ".cut{stroke:#c62828;stroke-width:2;stroke-dasharray:6 4}"
    "[data-kind]:hover rect{filter:brightness(.93)}";

static void marker(FILE *f, const char *id, const char *colour) {
    fprintf(f, "<marker id=\"%s\" viewBox=\"0 0 8 8\" refX=\"7\" refY=\"4\" markerWidth=\"8\" "
               "markerHeight=\"8\" markerUnits=\"userSpaceOnUse\" orient=\"auto-start-reverse\">"
               "<path d=\"M0,0 L8,4 L0,8 z\" fill=\"%s\"/></marker>", id, colour);
}

static const char *marker_of(const ex_edge *e) {
    if (e->faint) return "a-faint";
    switch (e->kind) {
    case EX_EDGE_STATE: return "a-state";
    case EX_EDGE_CELL: return "a-cell";
    case EX_EDGE_BATCH: return "a-batch";
    case EX_EDGE_OUTPUT: return "a-out";
    case EX_EDGE_SHARED: return "";
    default: return "a-flow";
    }
}

static void node(FILE *f, const ex_scene *s, const ex_node *n) {
    fprintf(f, "<g class=\"n n-%s%s%s\" data-kind=\"%s\" data-layer=\"", node_kind_name[n->kind],
            n->returned == 0 ? " discarded" : "", n->masked ? " masked" : "", node_kind_name[n->kind]);
    esc(f, layer_of(s, n->row));
    fputc('"', f);
    if (n->step >= 0) fprintf(f, " data-step=\"%lld\"", (long long)n->step);
    if (n->returned >= 0) fprintf(f, " data-returned=\"%d\"", n->returned);
    if (n->masked) fputs(" data-masked=\"1\"", f);
    if (n->batch >= 0) fprintf(f, " data-batch=\"%d\" data-row=\"%d\"", n->batch, n->sample_row);
    if (n->kind == EX_NODE_CELL) fprintf(f, " data-dir=\"%s\"", n->dir ? "backward" : "forward");
    if (n->n_values) {
        fprintf(f, " data-cols=\"%s\" data-units=\"%d\" data-units-total=\"%d\" data-values=\"",
                n->col_names, n->per_col, n->units_total);
        for (int i = 0; i < n->n_values; i++)
            fprintf(f, "%s%.9g", i ? "," : "", (double)s->values[n->value_off + i]);
        fputc('"', f);
    }
    fputs(">", f);
    if (n->title[0]) {
        fputs("<title>", f);
        esc(f, n->title);
        fputs("</title>", f);
    }
    if (n->kind == EX_NODE_HEAT) {
        const double cw = n->w / n->cols, uh = n->h / n->per_col;
        for (int c = 0; c < n->cols; c++)
            for (int u = 0; u < n->per_col; u++) {
                int r, g, b;
                heat_colour(s->values[n->value_off + c * n->per_col + u], &r, &g, &b);
                fprintf(f, "<rect x=\"%.1f\" y=\"%.2f\" width=\"%.1f\" height=\"%.2f\" "
                           "fill=\"#%02x%02x%02x\"/>", n->x + c * cw, n->y + u * uh, cw, uh, r, g, b);
            }
        fprintf(f, "<rect class=\"hf\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
                n->x, n->y, n->w, n->h);
        fputs("</g>\n", f);
        return;
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"%d\"/>", n->x,
            n->y, n->w, n->h, n->kind == EX_NODE_CELL ? 6 : 4);
    if (n->label[0]) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%g\" text-anchor=\"middle\" "
                   "data-fit=\"%.1f\">", n->x + n->w / 2, n->y + n->h / 2 + 3.5, n->label_size, n->w - 4);
        esc(f, n->label);
        fputs("</text>", f);
    }
    fputs("</g>\n", f);
}

static void edge(FILE *f, const ex_scene *s, const ex_edge *e) {
    fprintf(f, "<path class=\"e e-%s%s\" data-kind=\"%s\" data-layer=\"", edge_kind_name[e->kind],
            e->faint ? " faint" : "", edge_kind_name[e->kind]);
    esc(f, layer_of(s, e->row));
    fputc('"', f);
    if (e->step >= 0) fprintf(f, " data-step=\"%lld\"", (long long)e->step);
    if (e->shape[0]) {
        fputs(" data-shape=\"", f);
        esc(f, e->shape);
        fputc('"', f);
    }
    if (e->from >= 0 && s->nodes[e->from].batch >= 0)
        fprintf(f, " data-batch=\"%d\"", s->nodes[e->from].batch);
    if (e->kind == EX_EDGE_OUTPUT) fprintf(f, " data-returned=\"%d\"", !e->faint);
    if (e->kind == EX_EDGE_SHARED) /* along a bus above the boxes, down into the box */
        fprintf(f, " d=\"M%.1f,%.1f L%.1f,%.1f L%.1f,%.1f\"", e->x1, e->y1, e->x2, e->y1, e->x2,
                e->y2);
    else if (e->kind == EX_EDGE_BATCH) /* a hop between the batches */
        fprintf(f, " d=\"M%.1f,%.1f C%.1f,%.1f %.1f,%.1f %.1f,%.1f\"", e->x1, e->y1, e->x1 + 12,
                e->y1 - 14, e->x2 - 12, e->y2 - 14, e->x2, e->y2);
    else
        fprintf(f, " d=\"M%.1f,%.1f L%.1f,%.1f\"", e->x1, e->y1, e->x2, e->y2);
    const char *m = marker_of(e);
    if (m[0]) fprintf(f, " marker-end=\"url(#%s)\"", m);
    if (e->shape[0] || e->label[0]) {
        fputs("><title>", f);
        esc(f, e->label[0] ? e->label : "");
        if (e->label[0] && e->shape[0]) fputs(": ", f);
        esc(f, e->shape);
        fputs("</title></path>\n", f);
    } else {
        fputs("/>\n", f);
    }
}

rnn_status rnn__explain_svg(const ex_scene *s, FILE *f, int standalone) {
    if (standalone) fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" data-model=\"", s->width, s->height, s->width, s->height);
    esc(f, s->title);
    fputs("\" class=\"rnn-explain\">\n<title>", f);
    esc(f, s->title);
    fputs(" unrolled over time (rnn explain)</title>\n<style>", f);
    fputs(style, f);
    fputs("</style>\n<defs>", f);
    marker(f, "a-flow", "#555");
    marker(f, "a-state", "#c9801a");
    marker(f, "a-cell", "#8b4fc9");
    marker(f, "a-batch", "#c62828");
    marker(f, "a-out", "#2f8f46");
    marker(f, "a-faint", "#aaa");
    fputs("</defs>\n", f);
    fprintf(f, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n", s->width, s->height);
    for (int i = 0; i < s->n_rects; i++) {
        const ex_rect *r = &s->rects[i];
        if (r->dashed)
            fprintf(f, "<path class=\"cut\" data-kind=\"reset\" d=\"M%.1f,%.1f L%.1f,%.1f\"><title>",
                    r->x, r->y, r->x, r->y + r->h);
        else
            fprintf(f, "<rect class=\"frame\" data-kind=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                       "height=\"%.1f\"><title>", r->x, r->y, r->w, r->h);
        esc(f, r->title);
        fputs(r->dashed ? "</title></path>\n" : "</title></rect>\n", f);
    }
    for (int i = 0; i < s->n_edges; i++) edge(f, s, &s->edges[i]);
    for (int i = 0; i < s->n_nodes; i++) node(f, s, &s->nodes[i]);
    for (int i = 0; i < s->n_texts; i++) {
        const ex_text *t = &s->texts[i];
        fprintf(f, "<text class=\"t%d\" x=\"%.1f\" y=\"%.1f\" font-size=\"%g\"%s data-fit=\"%.1f\">",
                t->cls, t->x, t->y, t->size,
                t->anchor == 1 ? " text-anchor=\"middle\"" : t->anchor == 2 ? " text-anchor=\"end\"" : "",
                t->box_w);
        esc(f, t->text);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
    return ferror(f) ? rnn__fail(RNN_ERR_IO, "rnn_explain: writing the drawing failed") : RNN_OK;
}
