/* rnn_explain's internals: a model unrolled over time, as a drawing.
 *
 * layout.c turns the model's graph into rows (one per layer call; nested models are framed
 * groups of rows) and the rows into a scene: nodes (a cell at one step, an input vector, a
 * returned or discarded output, ...), edges (state carried between steps, values flowing
 * between layers, state carried from one batch to the next) and texts, each with the box it
 * must fit in. svg.c, html.c and text.c only render a scene or the rows; the tests read the
 * same numbers back. trace.c runs the library's own forward pass on one input and keeps what
 * each recurrent layer computed at each step (gates, hidden and cell state). Internal. */
#ifndef RNN_EXPLAIN_H
#define RNN_EXPLAIN_H

#include <stdio.h>

#include "model.h"

/* ------------------------------------------------------------------ trace (trace.c) */

/* What one recurrent layer (or one direction of a Bidirectional) computed for the sample, by
 * step in processing order: gates (T, G, H) as the cell left them (LSTM i f c o, GRU z r h,
 * SimpleRNN: none), h (T, H), c (T, H, LSTM only) and the step's mask (1 = real step). */
typedef struct {
    const rnn_layer *layer;
    int T, G, H;
    float *gates, *h, *c;
    unsigned char *mask;
} ex_cell_trace;

/* Layer outputs for the sample: output 0 of each layer, (steps, n) or (1, n). */
typedef struct {
    const rnn_layer *layer;
    int steps, n; /* steps 0: no time axis */
    float *y;
    unsigned char *mask; /* the output's mask for the sample (NULL: none) */
} ex_out_trace;

typedef struct {
    int n_cells, n_outs;
    ex_cell_trace cells[256];
    ex_out_trace outs[256];
    int64_t steps; /* the input's time steps */
} ex_trace;

/* Runs the model (predict mode) on inputs, keeping the values of row `sample`. A stateful
 * model's carried states are put back afterwards. */
rnn_status rnn__explain_trace(rnn_model *m, const rnn_tensor *inputs, int n_inputs, int sample,
                              ex_trace **out);
void rnn__explain_trace_free(ex_trace *t);
const ex_cell_trace *rnn__trace_cell(const ex_trace *t, const rnn_layer *layer);
const ex_out_trace *rnn__trace_out(const ex_trace *t, const rnn_layer *layer);

/* ------------------------------------------------------------------ rows (layout.c) */

typedef enum {
    EX_ROW_INPUT,     /* a model input: a vector per step, or one vector, or ids per step */
    EX_ROW_RECURRENT, /* SimpleRNN, LSTM, GRU: a cell per step */
    EX_ROW_BIDI,      /* Bidirectional: a forward and a backward row of cells */
    EX_ROW_STEPWISE,  /* the same layer at every step (TimeDistributed, Dense on a sequence, ...) */
    EX_ROW_VECTOR,    /* a layer on one vector ([batch, features]) */
    EX_ROW_REPEAT,    /* RepeatVector: one vector fanned out into n steps */
    EX_ROW_MERGE      /* several inputs joined */
} ex_row_kind;

#define EX_MAX_ROWS 256
#define EX_MAX_SLOTS 16
#define EX_MAX_FRAMES 32

typedef struct {
    rnn_layer *layer;
    ex_row_kind kind;
    int depth;          /* frames around it */
    int n_src;
    int src[RNN_LAYER_MAX_INPUTS];     /* row feeding input k (-1: none) */
    int src_out[RNN_LAYER_MAX_INPUTS]; /* which output of that row */
    int64_t T;          /* steps drawn for a sequence row (its own count; 0: no time axis) */
    int steps_known;    /* T is the model's own number (not None) */
    int cell;           /* EX_ROW_RECURRENT/BIDI: rnn_cell_kind */
    int returns_sequences, return_state, stateful, go_backwards, units, features, masked_in;
    int64_t params;
    int model_output, model_output_out; /* the model's output k is output out of this row (-1) */
    char name[RNN_NAME_MAX + 48]; /* "lstm (LSTM)" */
    char config[96];              /* "units 4, return_sequences" */
    char formula[160];            /* "4 * (4 * (4 + 1) + 4) = 96" */
    char shape[RNN_LAYER_MAX_OUTPUTS][64]; /* Keras output shapes, "(None, 3, 4)" */
    int n_outputs;
    /* layout results */
    double y, h;
    int slot_node[EX_MAX_SLOTS];  /* node per slot: output node the next row reads */
    int slot_node2[EX_MAX_SLOTS]; /* Bidirectional: the backward cell */
    int vec_node;                 /* a vector row's node / RepeatVector's source position */
    int state_node[RNN_LAYER_MAX_OUTPUTS]; /* return_state: the node of output k (k >= 1) */
    double vec_x;
} ex_row;

typedef struct {
    char title[RNN_NAME_MAX + 64];
    int first, last; /* rows */
    int depth;
    double x, y, w, h;
} ex_frame;

/* Which steps a row of T steps shows: first ones, an ellipsis slot, the last. */
typedef struct {
    int n;                    /* slots */
    int64_t step[EX_MAX_SLOTS]; /* step of each slot; -1 for the ellipsis */
    int64_t hidden;           /* steps the ellipsis stands for */
} ex_slots;
void rnn__explain_slots(int64_t T, int max_slots, ex_slots *s);

typedef struct {
    rnn_model *model;
    ex_row rows[EX_MAX_ROWS];
    int n_rows;
    ex_frame frames[EX_MAX_FRAMES];
    int n_frames;
    int64_t stateful_batch; /* 0: not stateful */
    int slots;              /* most slots per row (options.steps) */
    const ex_trace *trace;  /* NULL without input */
} ex_rows;

/* ------------------------------------------------------------------ scene (layout.c) */

typedef enum {
    EX_NODE_INPUT, EX_NODE_CELL, EX_NODE_OUTPUT, EX_NODE_STEP, EX_NODE_VECTOR, EX_NODE_STATE,
    EX_NODE_SHARED, EX_NODE_ELLIPSIS, EX_NODE_MERGE, EX_NODE_HEAT, EX_NODE_KIND_COUNT
} ex_node_kind;

typedef enum {
    EX_EDGE_FLOW,  /* a value from one layer to the next */
    EX_EDGE_STATE, /* h (and c) from step t to step t+1 */
    EX_EDGE_CELL,  /* LSTM c from step t to step t+1 */
    EX_EDGE_FAN,   /* RepeatVector's copies */
    EX_EDGE_SHARED, /* TimeDistributed: the one layer applied at a step */
    EX_EDGE_BATCH, /* stateful: row i's last state in batch k to its first step in batch k+1 */
    EX_EDGE_OUTPUT, /* a cell to its output */
    EX_EDGE_KIND_COUNT
} ex_edge_kind;

typedef struct {
    ex_node_kind kind;
    double x, y, w, h;
    int row;      /* ex_rows row (-1: none) */
    int64_t step; /* -1: none */
    int batch, sample_row; /* stateful panel (-1 elsewhere) */
    int returned; /* outputs: 1 returned, 0 discarded; -1 n/a */
    int masked;   /* with input: this step was masked for the sample */
    int dir;      /* Bidirectional: 0 forward, 1 backward */
    char label[24];
    double label_size; /* the label's font size: fits w - 4 */
    char title[256]; /* hover text */
    /* heat strips: n_values values from the scene's pool, as `cols` columns of `per_col` */
    int value_off, n_values, cols, per_col, units_total;
    char col_names[8];
} ex_node;

typedef struct {
    ex_edge_kind kind;
    double x1, y1, x2, y2;
    int from, to; /* nodes (-1: none) */
    int row;
    int64_t step;
    int faint;
    char shape[64];
    char label[40];
} ex_edge;

typedef struct {
    double x, y, size;
    double box_x, box_w; /* the box the text must fit in, horizontally */
    int anchor;          /* 0 start, 1 middle, 2 end */
    int cls;             /* 0 plain, 1 title, 2 muted, 3 shape, 4 warning */
    char text[160];
} ex_text;

typedef struct {
    double x, y, w, h;
    int dashed;
    char title[96];
} ex_rect;

typedef struct {
    ex_node *nodes;
    int n_nodes, cap_nodes;
    ex_edge *edges;
    int n_edges, cap_edges;
    ex_text *texts;
    int n_texts, cap_texts;
    ex_rect *rects; /* frames and panels */
    int n_rects, cap_rects;
    float *values;
    int n_values, cap_values;
    double width, height;
    int oom;
    char title[RNN_NAME_MAX + 64];
    const ex_rows *rows; /* the rows drawn (layer names) */
} ex_scene;

/* Width of a text in the drawing's units: the font is monospace, 0.6 em per character. */
double rnn__explain_text_width(const char *s, double size);

rnn_status rnn__explain_rows(rnn_model *m, const rnn_explain_options *o, const ex_trace *trace,
                             ex_rows *rows);
rnn_status rnn__explain_layout(ex_rows *rows, const rnn_explain_options *o, ex_scene *scene);
void rnn__explain_scene_free(ex_scene *scene);

/* Renderers. */
rnn_status rnn__explain_svg(const ex_scene *s, FILE *f, int standalone);
rnn_status rnn__explain_html(const ex_scene *s, FILE *f);
rnn_status rnn__explain_text(const ex_rows *rows, const rnn_explain_options *o, FILE *f);

#endif
