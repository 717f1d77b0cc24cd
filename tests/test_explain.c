/* rnn_explain (issue 17): the drawing's structure, read back from its own data attributes,
 * against what each scenario model's configuration implies; the shapes on the arrows against
 * the layers' shapes and rnn_output_shape; every text within its box; the drawn gate values and
 * states against the library's own for the sample; the terminal view within 100 columns; every
 * Keras model of ../shared/data/keras-models drawn, with and without input (skipped when
 * ../shared is absent). */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "explain/explain.h"
#include "layers/recurrent.h"
#include "model.h"
#include "rnn.h"

static char tmpdir[] = "/tmp/rnn_explain_XXXXXX";

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
    if (s) s[n] = '\0';
    fclose(f);
    return s;
}

/* ------------------------------------------------------------------ the SVG's elements */

typedef struct {
    char tag[8], kind[24], layer[64], batch[8], returned[4], masked[4], cols[8], shape[64];
    long step;
    int units;
    const char *values; /* into the document; ends at '"' */
} element;

/* The value of attribute name in the tag [p, end), copied into out ("" when absent). */
static const char *attr(const char *p, const char *end, const char *name, char *out, size_t size) {
    char key[40];
    snprintf(key, sizeof key, " %s=\"", name);
    out[0] = '\0';
    const char *a = strstr(p, key);
    if (!a || a > end) return NULL;
    a += strlen(key);
    const char *q = strchr(a, '"');
    size_t n = (size_t)(q - a) < size - 1 ? (size_t)(q - a) : size - 1;
    memcpy(out, a, n);
    out[n] = '\0';
    return a;
}

/* Every <g> and <path> with a data-kind. */
static int elements(const char *svg, element **out) {
    int n = 0, cap = 0;
    element *e = NULL;
    for (const char *p = svg; (p = strchr(p, '<')); p++) {
        if (strncmp(p, "<g ", 3) && strncmp(p, "<path ", 6)) continue;
        const char *end = strchr(p, '>');
        element x;
        memset(&x, 0, sizeof x);
        if (!attr(p, end, "data-kind", x.kind, sizeof x.kind)) continue;
        snprintf(x.tag, sizeof x.tag, "%s", p[1] == 'g' ? "g" : "path");
        char tmp[32];
        attr(p, end, "data-layer", x.layer, sizeof x.layer);
        attr(p, end, "data-batch", x.batch, sizeof x.batch);
        attr(p, end, "data-returned", x.returned, sizeof x.returned);
        attr(p, end, "data-masked", x.masked, sizeof x.masked);
        attr(p, end, "data-cols", x.cols, sizeof x.cols);
        attr(p, end, "data-shape", x.shape, sizeof x.shape);
        x.step = attr(p, end, "data-step", tmp, sizeof tmp) ? atol(tmp) : -1;
        x.units = attr(p, end, "data-units", tmp, sizeof tmp) ? atoi(tmp) : 0;
        x.values = attr(p, end, "data-values", tmp, sizeof tmp);
        if (n == cap) e = realloc(e, sizeof *e * (size_t)(cap = cap ? 2 * cap : 256));
        e[n++] = x;
    }
    *out = e;
    return n;
}

typedef struct {
    int cells, returned, discarded, state, cell_state, batch, panel_cells, fan, shared, masked,
        return_state;
} counts;

static counts count(const element *e, int n) {
    counts c;
    memset(&c, 0, sizeof c);
    for (int i = 0; i < n; i++) {
        const int panel = e[i].batch[0] != '\0';
        if (!strcmp(e[i].kind, "cell")) {
            if (panel) c.panel_cells++;
            else c.cells++;
            c.masked += !strcmp(e[i].masked, "1");
        }
        if (!strcmp(e[i].kind, "output") && !strcmp(e[i].tag, "g")) {
            c.returned += !strcmp(e[i].returned, "1");
            c.discarded += !strcmp(e[i].returned, "0");
        }
        if (!strcmp(e[i].kind, "state") && !strcmp(e[i].tag, "g")) c.return_state++;
        if (!strcmp(e[i].kind, "state") && !strcmp(e[i].tag, "path") && !panel) c.state++;
        if (!strcmp(e[i].kind, "cell-state")) c.cell_state++;
        if (!strcmp(e[i].kind, "batch")) c.batch++;
        if (!strcmp(e[i].kind, "fan")) c.fan++;
        if (!strcmp(e[i].kind, "shared") && !strcmp(e[i].tag, "path")) c.shared++;
    }
    return c;
}

/* A recurrent layer as its configuration describes it: T steps, return_sequences, LSTM,
 * Bidirectional. What the drawing must hold for it, with `slots` drawn steps at most (the
 * first slots - 2, an ellipsis, the last). */
typedef struct {
    long T;
    int rs, lstm, bidi;
} rec_spec;

static counts expect(const rec_spec *spec, int n, int slots) {
    counts c;
    memset(&c, 0, sizeof c);
    for (int i = 0; i < n; i++) {
        const long T = spec[i].T, drawn = T <= slots ? T : slots - 1, columns = T <= slots ? T : slots;
        const int dirs = spec[i].bidi ? 2 : 1;
        c.cells += (int)drawn * dirs;
        const int returned = spec[i].rs ? (int)drawn : 1;
        c.returned += returned;
        c.discarded += (int)drawn - returned;
        c.state += (int)(columns - 1) * dirs;
        if (spec[i].lstm) c.cell_state += (int)(columns - 1) * dirs;
    }
    return c;
}

static char *draw(rnn_model *m, const rnn_explain_options *o, const char *name) {
    const char *path = check_path(tmpdir, name);
    rnn_status st = rnn_explain(m, o, path);
    CHECK(st == RNN_OK, "rnn_explain %s: %s", name, rnn_model_error(m));
    return st == RNN_OK ? read_all(path) : NULL;
}

/* ------------------------------------------------------------------ the scenario models */

static rnn_model *window_model(void) { /* scenario 1: LSTM(4) on 3 steps of 1 feature */
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options o = rnn_lstm_defaults(4);
    rnn_input(m, 3, 1);
    rnn_add(m, rnn_lstm(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    return m;
}

static rnn_model *many_to_many(void) { /* scenario 4 */
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options o = rnn_lstm_defaults(32);
    o.return_sequences = 1;
    rnn_input(m, 6, 5);
    rnn_add(m, rnn_lstm(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    return m;
}

static rnn_model *stateful_model(int B) { /* scenario 2 */
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options o = rnn_lstm_defaults(8);
    o.stateful = 1;
    rnn_batch_input(m, B, 1, 1);
    rnn_add(m, rnn_lstm(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    return m;
}

static rnn_model *repeat_model(void) { /* scenario 6a: RepeatVector(10) -> LSTM -> TD(Dense) */
    rnn_recurrent_options o = rnn_lstm_defaults(32);
    o.return_sequences = 1;
    rnn_symbol *in = rnn_input_new(RNN_NONE, 0, 2, NULL);
    rnn_symbol *h = rnn_call(rnn_lstm(&o), rnn_call(rnn_repeat_vector(10), in));
    h = rnn_call(rnn_time_distributed(rnn_dense_simple(1, RNN_LINEAR)), h);
    return rnn_model_simple(in, h, NULL);
}

static rnn_layer *lstm(int units, int rs) {
    rnn_recurrent_options o = rnn_lstm_defaults(units);
    o.return_sequences = rs;
    return rnn_lstm(&o);
}

static rnn_model *autoencoder(void) { /* scenario 8: nested encoder and decoder */
    rnn_symbol *ein = rnn_input_new(RNN_NONE, 10, 2, NULL);
    rnn_model *enc = rnn_model_simple(ein, rnn_call(lstm(8, 0), rnn_call(lstm(16, 1),
                                      rnn_call(lstm(32, 1), ein))), "encoder");
    rnn_symbol *din = rnn_input_new(RNN_NONE, 0, 8, NULL);
    rnn_model *dec = rnn_model_simple(din, rnn_call(lstm(2, 1), rnn_call(lstm(16, 1),
                                      rnn_call(rnn_repeat_vector(10), din))), "decoder");
    rnn_symbol *ain = rnn_input_new(RNN_NONE, 10, 2, NULL);
    rnn_model *ae = rnn_model_simple(ain, rnn_call_model(dec, rnn_call_model(enc, ain)), "ae");
    rnn_model_free(enc); /* the autoencoder keeps them */
    rnn_model_free(dec);
    return ae;
}

static rnn_model *char_model(void) { /* scenario 9, small */
    rnn_symbol *in = rnn_ids_input_new(RNN_NONE, 20, NULL);
    rnn_recurrent_options a = rnn_gru_defaults(16), b = rnn_gru_defaults(8);
    a.return_sequences = b.return_sequences = 1;
    rnn_embedding_options e = rnn_embedding_defaults(40, 8);
    rnn_symbol *h = rnn_call(rnn_gru(&b), rnn_call(rnn_gru(&a), rnn_call(rnn_embedding(&e), in)));
    h = rnn_call(rnn_time_distributed(rnn_dense_simple(40, RNN_LINEAR)), h);
    h = rnn_call(rnn_time_distributed(rnn_activation_layer(RNN_SOFTMAX)), h);
    return rnn_model_simple(in, h, NULL);
}

static rnn_model *bidi_state_model(void) { /* Bidirectional, then return_state */
    rnn_symbol *in = rnn_input_new(RNN_NONE, 5, 3, NULL);
    rnn_symbol *h = rnn_call(rnn_bidirectional(lstm(4, 1), "concat"), in);
    rnn_recurrent_options o = rnn_lstm_defaults(3);
    o.return_state = 1;
    rnn_symbol *outs[6];
    int n = 0;
    if (rnn_call_ex(rnn_lstm(&o), &h, 1, outs, &n)) return NULL;
    return rnn_model_new(&in, 1, outs, n, "bidi_state");
}

static rnn_model *masked_model(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options o = rnn_gru_defaults(3);
    o.return_sequences = 1;
    rnn_input(m, 6, 2);
    rnn_add(m, rnn_masking(0.0f));
    rnn_add(m, rnn_gru(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    return m;
}

static void check_counts(const char *name, const counts *got, const counts *want) {
    CHECK(got->cells == want->cells, "%s: %d cells drawn, the configuration implies %d", name,
          got->cells, want->cells);
    CHECK(got->returned == want->returned, "%s: %d returned outputs, expected %d", name,
          got->returned, want->returned);
    CHECK(got->discarded == want->discarded, "%s: %d discarded outputs, expected %d", name,
          got->discarded, want->discarded);
    CHECK(got->state == want->state, "%s: %d carried-state edges, expected %d", name, got->state,
          want->state);
    CHECK(got->cell_state == want->cell_state, "%s: %d cell-state edges, expected %d", name,
          got->cell_state, want->cell_state);
}

/* Shapes: each arrow into a layer carries that layer's input shape; the model's output is
 * labelled with rnn_output_shape. Texts and labels fit their boxes. From the drawing's numbers. */
static void check_scene(rnn_model *m, const char *name, const rnn_explain_options *o) {
    ex_rows *rows = calloc(1, sizeof *rows);
    ex_scene s;
    CHECK(rnn__explain_rows(m, o, NULL, rows) == RNN_OK, "%s: rows", name);
    CHECK(rnn__explain_layout(rows, o, &s) == RNN_OK, "%s: layout", name);
    int flows = 0;
    for (int i = 0; i < s.n_edges; i++) {
        const ex_edge *e = &s.edges[i];
        if (e->kind != EX_EDGE_FLOW || e->label[0]) continue; /* (initial states: input k > 0) */
        char want[96];
        rnn__shape_format(&rows->rows[e->row].layer->input[0], want, sizeof want);
        CHECK(!strcmp(e->shape, want), "%s: the arrow into %s says %s, its input is %s", name,
              rows->rows[e->row].layer->name, e->shape, want);
        flows++;
    }
    CHECK(flows > 0, "%s: no arrows between layers", name);
    int rank;
    int64_t dims[RNN_MAX_RANK];
    CHECK(rnn_output_shape(m, &rank, dims) == RNN_OK, "%s: rnn_output_shape", name);
    char want[128] = "model output 0: (", *p = want + strlen(want);
    p += sprintf(p, dims[0] < 0 ? "None" : "%lld", (long long)dims[0]);
    for (int k = 1; k < rank; k++)
        p += sprintf(p, dims[k] < 0 ? ", None" : ", %lld", (long long)dims[k]);
    sprintf(p, rank == 1 ? ",)" : ")");
    int found = 0;
    for (int i = 0; i < s.n_texts; i++) {
        const ex_text *t = &s.texts[i];
        found |= !strcmp(t->text, want);
        CHECK(rnn__explain_text_width(t->text, t->size) <= t->box_w + 1e-9,
              "%s: \"%s\" (%.1f wide at %.1f) overflows its box of %.1f", name, t->text,
              rnn__explain_text_width(t->text, t->size), t->size, t->box_w);
        CHECK(t->box_x >= 0 && t->box_x + t->box_w <= s.width + 1e-9, "%s: \"%s\" leaves the drawing",
              name, t->text);
    }
    CHECK(found, "%s: no \"%s\" in the drawing", name, want);
    for (int i = 0; i < s.n_nodes; i++) {
        const ex_node *n = &s.nodes[i];
        CHECK(rnn__explain_text_width(n->label, n->label_size) <= n->w - 4 + 1e-9,
              "%s: label \"%s\" wider than its box (%.1f)", name, n->label, n->w);
    }
    rnn__explain_scene_free(&s);
    free(rows);
}

/* The terminal view: within width columns; ASCII only with --ascii. */
static void check_text(rnn_model *m, const char *name) {
    for (int a = 0; a < 2; a++) {
        rnn_explain_options o = rnn_explain_defaults();
        o.ascii = a;
        const char *path = check_path(tmpdir, "view.txt");
        FILE *f = fopen(path, "w");
        o.out = f;
        CHECK(rnn_explain(m, &o, NULL) == RNN_OK, "%s: text view: %s", name, rnn_model_error(m));
        fclose(f);
        char *t = read_all(path);
        int lines = 0, widest = 0, non_ascii = 0;
        for (char *line = t; line && *line; lines++) {
            char *nl = strchr(line, '\n');
            int cols = 0;
            for (char *q = line; q < (nl ? nl : line + strlen(line)); q++) {
                if (((unsigned char)*q & 0xC0) != 0x80) cols++;
                non_ascii |= (unsigned char)*q >= 0x80;
            }
            if (cols > widest) widest = cols;
            line = nl ? nl + 1 : line + strlen(line);
        }
        CHECK(lines > 4, "%s: text view of %d lines", name, lines);
        CHECK(widest <= 100, "%s: a text line of %d columns", name, widest);
        if (a) CHECK(!non_ascii, "%s: --ascii view has non-ASCII bytes", name);
        else CHECK(non_ascii, "%s: the Unicode view has no box drawing", name);
        free(t);
    }
}

static void structure(void) {
    const rnn_explain_options d = rnn_explain_defaults();
    struct {
        const char *name;
        rnn_model *m;
        rec_spec spec[6];
        int n_spec;
    } cases[] = {
        {"window", window_model(), {{3, 0, 1, 0}}, 1},
        {"many_to_many", many_to_many(), {{6, 1, 1, 0}}, 1},
        {"stateful", stateful_model(400), {{1, 0, 1, 0}}, 1},
        {"repeat", repeat_model(), {{10, 1, 1, 0}}, 1},
        {"autoencoder", autoencoder(), {{10, 1, 1, 0}, {10, 1, 1, 0}, {10, 0, 1, 0}, {10, 1, 1, 0}, {10, 1, 1, 0}}, 5},
        {"char", char_model(), {{20, 1, 0, 0}, {20, 1, 0, 0}}, 2},
        {"bidi_state", bidi_state_model(), {{5, 1, 1, 1}, {5, 0, 1, 0}}, 2},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rnn_model *m = cases[c].m;
        CHECK(m != NULL, "%s: model: %s", cases[c].name, rnn_last_error());
        if (!m) continue;
        char file[64];
        snprintf(file, sizeof file, "%s.svg", cases[c].name);
        char *svg = draw(m, NULL, file);
        if (!svg) continue;
        element *e;
        int n = elements(svg, &e);
        counts got = count(e, n), want = expect(cases[c].spec, cases[c].n_spec, d.steps);
        check_counts(cases[c].name, &got, &want);
        if (!strcmp(cases[c].name, "stateful")) {
            /* 400 rows drawn as rows 0, 1 and 399; 3 batches, reset_states after 2 */
            const int rows = 3, K = d.batches, cuts = (K - 1) / d.reset_every;
            CHECK(got.batch == rows * (K - 1 - cuts), "stateful: %d batch-to-batch edges, expected %d",
                  got.batch, rows * (K - 1 - cuts));
            CHECK(got.panel_cells == rows * K, "stateful: %d cells across batches", got.panel_cells);
            CHECK(strstr(svg, "data-kind=\"reset\"") != NULL, "stateful: no reset_states cut");
        } else {
            CHECK(got.batch == 0, "%s: batch edges in a stateless model", cases[c].name);
        }
        if (!strcmp(cases[c].name, "repeat")) {
            CHECK(got.fan == 7, "repeat: %d RepeatVector copies drawn, expected 7", got.fan);
            CHECK(got.shared == 7, "repeat: %d steps tied to the one TimeDistributed layer", got.shared);
        }
        if (!strcmp(cases[c].name, "bidi_state"))
            CHECK(got.return_state == 2, "bidi_state: %d return_state outputs, expected h and c",
                  got.return_state);
        if (!strcmp(cases[c].name, "autoencoder"))
            CHECK(strstr(svg, "encoder (Functional model") && strstr(svg, "decoder (Functional model"),
                  "autoencoder: the nested models are not framed");
        check_scene(m, cases[c].name, &d);
        check_text(m, cases[c].name);
        free(e);
        free(svg);
        rnn_model_free(m);
    }
    /* a long sequence: the first and last steps, and the count of those between */
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options o = rnn_lstm_defaults(2);
    rnn_input(m, 100, 1);
    rnn_add(m, rnn_lstm(&o));
    char *svg = draw(m, NULL, "long.svg");
    CHECK(svg && strstr(svg, ">93 more steps<"), "100 steps drawn as 6, \"93 more steps\", 1");
    CHECK(svg && strstr(svg, "data-kind=\"cell\" data-layer=\"lstm\" data-step=\"99\""),
          "the last step is drawn");
    free(svg);
    rnn_model_free(m);
}

/* ------------------------------------------------------------------ values */

/* The heat strip of layer/step: cols x units values. */
static int heat(const element *e, int n, const char *layer, long step, float *out, int cap,
                char *cols) {
    for (int i = 0; i < n; i++) {
        if (strcmp(e[i].kind, "heat") || strcmp(e[i].layer, layer) || e[i].step != step) continue;
        int k = 0;
        for (const char *p = e[i].values; p && *p != '"' && k < cap;) {
            char *endp;
            out[k++] = strtof(p, &endp);
            p = *endp == ',' ? endp + 1 : endp;
        }
        strcpy(cols, e[i].cols);
        return k;
    }
    return 0;
}

/* LSTM(H1, return_sequences) -> GRU(H2, return_sequences) -> Dense(1) on 6 steps x 2, a batch
 * of N, on a team of `threads` threads: with 2 threads and large enough steps the step loops
 * run on the team, which computes each step's projection in the loop and, predicting, reuses
 * one slot for every step's gates unless the trace asks to keep them (keep_gates). */
static void values_case(int H1, int H2, int N, int threads) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options a = rnn_lstm_defaults(H1), b = rnn_gru_defaults(H2);
    a.return_sequences = b.return_sequences = 1;
    rnn_input(m, 6, 2);
    rnn_add(m, rnn_lstm(&a));
    rnn_add(m, rnn_gru(&b));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_set_seed(m, 3);
    rnn_context *team = rnn_context_new(threads);
    rnn_model_set_context(m, team);
    rnn_context_free(team);
    enum { T = 6, F = 2, S = 2 };
    float *x = malloc(sizeof(float) * N * T * F);
    for (int i = 0; i < N * T * F; i++) x[i] = (float)sin(0.7 * i) * 0.9f;
    rnn_tensor X = rnn_tensor3(x, N, T, F);
    rnn_explain_options o = rnn_explain_defaults();
    o.inputs = &X;
    o.n_inputs = 1;
    o.sample = S;
    char *svg = draw(m, &o, "values.html");
    if (threads > 1)
        CHECK(rnn__recurrent_use_team(rnn__recurrent_of(m->layers[1]), N), "the case meant to run "
              "on the team does not: it checks nothing new");
    /* the library's values: the same forward in training mode (no dropout), which keeps every
     * step's gates, read from the layers; the outputs from rnn_predict */
    rnn_tensor y;
    CHECK(rnn_predict(m, rnn_data_x(X), N, &y, 1) == RNN_OK, "predict: %s", rnn_model_error(m));
    rnn_run_ctx ctx = {.mode = RNN_MODE_TRAIN, .rng = &m->rng, .precision = RNN_F32};
    CHECK(rnn__model_forward(m, &X, &ctx) == RNN_OK, "forward");
    element *e = NULL;
    int n = svg ? elements(svg, &e) : 0;
    int compared = 0;
    for (int li = 1; li <= 2; li++) {
        rnn_layer *L = m->layers[li];
        rnn_recurrent *r = rnn__recurrent_of(L);
        const int G = r->cell->gates, H = (int)r->H;
        for (int t = 0; t < T; t++) {
            float v[128];
            char cols[8] = "";
            int k = heat(e, n, L->name, t, v, 128, cols);
            CHECK(k == (G + 1) * H, "%s step %d: %d values drawn, expected %d gates + h of %d units",
                  L->name, t, k, G, H);
            CHECK(!strcmp(cols, G == 4 ? "ifcoh" : "zrhs"), "%s: columns %s", L->name, cols);
            if (k != (G + 1) * H) continue;
            for (int g = 0; g < G; g++)
                for (int u = 0; u < H; u++) {
                    const float want = r->xw[((size_t)t * N + S) * G * H + g * H + u];
                    CHECK(v[g * H + u] == want, "%s step %d gate %c unit %d: drawn %.9g, library %.9g",
                          L->name, t, cols[g], u, v[g * H + u], want);
                    compared++;
                }
            for (int u = 0; u < H; u++) { /* h: the layer's returned output at that step */
                const float want = L->y[0].data[((size_t)S * T + t) * H + u];
                CHECK(v[G * H + u] == want, "%s step %d h unit %d: drawn %.9g, library %.9g", L->name,
                      t, u, v[G * H + u], want);
            }
        }
    }
    for (int t = 0; t < T; t++) { /* the model's output at each returned step, as predict gives it */
        float v[4];
        char cols[8];
        int k = heat(e, n, m->layers[3]->name, t, v, 4, cols);
        CHECK(k == 1 && v[0] == y.data[S * T + t], "dense step %d: drawn %.9g, rnn_predict %.9g", t,
              k ? v[0] : -1.0f, y.data[S * T + t]);
    }
    CHECK(compared == T * (4 * H1 + 3 * H2), "compared %d gate values", compared);
    int foreign = 0; /* a URL other than the SVG namespace's name */
    for (const char *q = svg; q && (q = strstr(q, "http")); q++)
        foreign += strncmp(q, "http://www.w3.org/2000/svg", 26) != 0;
    CHECK(svg && strstr(svg, "<!DOCTYPE html>") && strstr(svg, "<script>") && !foreign,
          "the page is one HTML file with its script, and names no other place (%d)", foreign);
    CHECK(svg && !strstr(svg, "src=") && !strstr(svg, "<link"), "the page loads nothing");
    rnn_tensor_free(&y);
    free(e);
    free(svg);
    /* a sample outside the input, and a wrong input: errors, no file */
    o.sample = N;
    const char *path = check_path(tmpdir, "bad.svg");
    CHECK(rnn_explain(m, &o, path) != RNN_OK && access(path, F_OK) != 0, "sample %d accepted", N);
    o.sample = 0;
    rnn_tensor bad = rnn_tensor3(x, N, T, 1);
    o.inputs = &bad;
    CHECK(rnn_explain(m, &o, path) != RNN_OK && access(path, F_OK) != 0, "a 1-feature input accepted");
    CHECK(rnn_explain(m, NULL, check_path(tmpdir, "x.png")) != RNN_OK, "a .png path accepted");
    rnn_model_free(m);
    free(x);
}

static void values(void) {
    values_case(5, 3, 4, 1);
    values_case(16, 16, 8, 2);
    rnn_explain_options o;
    rnn_model *m;
    char *svg;
    element *e;
    int n;

    /* masks: the masked steps of the sample are drawn skipped */
    m = masked_model();
    float xm[2 * 6 * 2] = {0};
    for (int i = 0; i < 24; i++) xm[i] = (i / 2) % 3 == 1 ? 0.0f : 0.5f + 0.01f * i; /* steps 1, 4 */
    rnn_tensor XM = rnn_tensor3(xm, 2, 6, 2);
    o = rnn_explain_defaults();
    o.inputs = &XM;
    o.n_inputs = 1;
    svg = draw(m, &o, "masked.svg");
    n = svg ? elements(svg, &e) : 0;
    counts c = count(e, n);
    CHECK(c.masked == 2, "%d masked cells drawn, the sample has 2 masked steps", c.masked);
    free(e);
    free(svg);
    rnn_model_free(m);

    /* stateful: drawing with an input leaves the carried state as it was */
    m = stateful_model(2);
    float xs[2] = {0.3f, -0.6f}, before[2], after[2];
    rnn_tensor XS = rnn_tensor3(xs, 2, 1, 1), p;
    rnn_predict(m, rnn_data_x(XS), 2, &p, 1);
    rnn_tensor_free(&p);
    rnn_predict(m, rnn_data_x(XS), 2, &p, 1);
    memcpy(before, p.data, sizeof before);
    rnn_tensor_free(&p);
    rnn_reset_states(m);
    rnn_predict(m, rnn_data_x(XS), 2, &p, 1);
    rnn_tensor_free(&p);
    o = rnn_explain_defaults();
    o.inputs = &XS;
    o.n_inputs = 1;
    free(draw(m, &o, "stateful_values.svg"));
    rnn_predict(m, rnn_data_x(XS), 2, &p, 1);
    memcpy(after, p.data, sizeof after);
    rnn_tensor_free(&p);
    CHECK(before[0] == after[0] && before[1] == after[1],
          "the state changed: %.9g %.9g after, %.9g %.9g without the drawing", after[0], after[1],
          before[0], before[1]);
    rnn_model_free(m);
}

/* ------------------------------------------------------------------ the Keras models */

static void keras_models(void) {
    const char *dir = "../shared/data/keras-models";
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "keras models: skipped (%s absent)\n", dir);
        return;
    }
    struct dirent *ent;
    int drawn = 0;
    while ((ent = readdir(d))) {
        const char *name = ent->d_name;
        size_t len = strlen(name);
        if (!(len > 3 && !strcmp(name + len - 3, ".h5")) && !(len > 6 && !strcmp(name + len - 6, ".keras")))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        rnn_model *m = rnn_load(path);
        if (!m) continue; /* not a model (saved arrays) */
        rnn_explain_options o = rnn_explain_defaults();
        FILE *f = fopen(check_path(tmpdir, "k.txt"), "w");
        o.out = f;
        CHECK(rnn_explain(m, &o, NULL) == RNN_OK, "%s: text: %s", name, rnn_model_error(m));
        fclose(f);
        o.out = NULL;
        CHECK(rnn_explain(m, &o, check_path(tmpdir, "k.svg")) == RNN_OK, "%s: %s", name,
              rnn_model_error(m));
        /* with an input of its shape: each input's batch (the stateful batch, or 2), 5 steps where
         * they are free, small values (token ids 1) */
        rnn_tensor x[RNN_MODEL_MAX_IO];
        int nx = m->n_inputs;
        const int64_t B = rnn__model_stateful_batch(m) ? rnn__model_stateful_batch(m) : 2;
        for (int k = 0; k < nx; k++) {
            const rnn_shape *s = rnn__model_input_shape(m, k);
            x[k].rank = s->rank;
            x[k].owned = 0;
            int64_t size = 1;
            for (int i = 0; i < s->rank; i++) {
                x[k].shape[i] = i == 0 ? B : s->dim[i] > 0 ? s->dim[i] : 5;
                size *= x[k].shape[i];
            }
            x[k].data = malloc(sizeof(float) * (size_t)size);
            for (int64_t i = 0; i < size; i++)
                x[k].data[i] = rnn__input_is_ids(m->inputs[k]) ? 1.0f : (float)sin(0.37 * i) * 0.5f;
        }
        o.inputs = x;
        o.n_inputs = nx;
        o.sample = (int)B - 1;
        CHECK(rnn_explain(m, &o, check_path(tmpdir, "kv.html")) == RNN_OK, "%s with input: %s", name,
              rnn_model_error(m));
        for (int k = 0; k < nx; k++) free(x[k].data);
        rnn_model_free(m);
        drawn++;
    }
    closedir(d);
    CHECK(drawn > 10, "only %d Keras models drawn", drawn);
    fprintf(stderr, "keras models: %d drawn\n", drawn);
}

int main(void) {
    if (!mkdtemp(tmpdir)) return 1;
    structure();
    values();
    keras_models();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_report("test_explain");
}
