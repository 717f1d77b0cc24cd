/* rnn_explain's terminal view: the rows drawn with box-drawing characters (or ASCII), one
 * column per drawn step, within options->width columns (100 by default), for people on ssh.
 * Each row is four lines: the boxes' tops, their labels with the state arrows between steps,
 * their bottoms, and the outputs (│ returned, ┆ computed and discarded). */
#include <stdarg.h>
#include <string.h>

#include "error.h"
#include "explain/explain.h"
#include "layers/layer_options.h"

#define LABEL_W 32
#define SLOT_W 9 /* a box of 7 and an arrow of 2 */

typedef struct {
    const char *tl, *tr, *bl, *br, *h, *v, *tee, *state, *arrow, *faint, *ell, *back, *rowell;
    const char *ftl, *fbl, *fh;
} glyphs;

static const glyphs unicode = {"\xe2\x94\x8c", "\xe2\x94\x90", "\xe2\x94\x94", "\xe2\x94\x98",
                               "\xe2\x94\x80", "\xe2\x94\x82", "\xe2\x94\xac", "\xe2\x94\x81",
                               "\xe2\x96\xb6", "\xe2\x94\x86", "\xe2\x80\xa6", "\xe2\x97\x80",
                               "\xe2\x8b\xae", "\xe2\x95\xad", "\xe2\x95\xb0", "\xe2\x94\x84"};
static const glyphs ascii = {"+", "+", "+", "+", "-", "|", "+", "=", ">", ":", ".", "<", ":",
                             "+", "+", "-"};

/* A line built column by column; every glyph is one column. */
typedef struct {
    char buf[1024];
    size_t len;
    int cols;
} line;

static void put(line *l, const char *g, int times) {
    size_t n = strlen(g);
    for (int i = 0; i < times && l->len + n + 1 < sizeof l->buf; i++) {
        memcpy(l->buf + l->len, g, n);
        l->len += n;
        l->cols++;
    }
    l->buf[l->len] = '\0';
}

/* ASCII text, cut or padded to exactly w columns. */
static void putw(line *l, int w, const char *fmt, ...) {
    char t[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t, sizeof t, fmt, ap);
    va_end(ap);
    for (int i = 0; i < w; i++) {
        char c[2] = {t[i] && (unsigned char)t[i] < 0x80 ? t[i] : ' ', 0};
        if (!t[i]) {
            for (; i < w; i++) put(l, " ", 1);
            break;
        }
        put(l, c, 1);
    }
}

static void pad_to(line *l, int col) {
    while (l->cols < col) put(l, " ", 1);
}

static void emit(FILE *f, line *l) {
    while (l->len && l->buf[l->len - 1] == ' ') l->buf[--l->len] = '\0'; /* no trailing blanks */
    fprintf(f, "%s\n", l->buf);
    l->len = 0;
    l->cols = 0;
    l->buf[0] = '\0';
}

static int col_of(int j) { return LABEL_W + j * SLOT_W; }

static const char *short_label(const ex_row *r) {
    const char *cls = r->layer->ops->class_name;
    if (r->kind == EX_ROW_RECURRENT || r->kind == EX_ROW_BIDI)
        return r->cell == 1 ? "LSTM" : r->cell == 2 ? "GRU" : "RNN";
    if (r->kind == EX_ROW_REPEAT) return "copy";
    if (!strcmp(cls, "TimeDistributed")) return rnn__time_distributed_inner(r->layer)->ops->class_name;
    if (!strcmp(cls, "Embedding")) return "look";
    return cls;
}

/* The margin's texts, each cut at spaces into lines of at most w columns. Returns the lines. */
static int wrap(char (*out)[LABEL_W], int cap, int w, const char *a, const char *b, const char *c,
                const char *d) {
    const char *texts[4] = {a, b, c, d};
    int n = 0;
    for (int k = 0; k < 4; k++) {
        const char *p = texts[k];
        if (!*p) continue;
        while (*p && n < cap) {
            int len = (int)strlen(p);
            const char *eq = strstr(p, " = ");
            if (len > w && eq && eq - p + 2 <= w) { /* a formula: after its "=" */
                len = (int)(eq - p) + 2;
            } else if (len > w) { /* the last space that keeps the line within w */
                len = w;
                for (int i = w; i > w / 2; i--)
                    if (p[i] == ' ') {
                        len = i;
                        break;
                    }
            }
            snprintf(out[n++], LABEL_W, "%.*s", len, p);
            p += len;
            while (*p == ' ') p++;
        }
    }
    return n;
}

rnn_status rnn__explain_text(const ex_rows *R, const rnn_explain_options *o, FILE *f) {
    const glyphs *g = o->ascii ? &ascii : &unicode;
    const int width = o->width >= 60 ? o->width : 100;
    int slots = (width - LABEL_W - 12) / SLOT_W;
    if (slots > o->steps) slots = o->steps;
    if (slots < 3) slots = 3;
    int vec_slot[EX_MAX_ROWS];
    line l = {{0}, 0, 0};
    fprintf(f, "%s: unrolled over time, %lld params\n", R->model->name,
            (long long)R->model->n_params);
    fprintf(f, "%s%s state to the next step   %s returned output   %s computed, discarded   "
               "%s+N: N more steps\n\n", g->state, g->arrow, g->v, g->faint, g->ell);
    for (int i = 0; i < R->n_rows; i++) {
        const ex_row *r = &R->rows[i];
        for (int q = 0; q < R->n_frames; q++)
            if (R->frames[q].first == i) {
                put(&l, g->ftl, 1);
                put(&l, g->fh, 1);
                put(&l, " ", 1);
                putw(&l, (int)strlen(R->frames[q].title) < width - 6 ? (int)strlen(R->frames[q].title) : width - 6,
                     "%s", R->frames[q].title);
                put(&l, " ", 1);
                while (l.cols < width - 2) put(&l, g->fh, 1);
                emit(f, &l);
            }
        ex_slots sl;
        rnn__explain_slots(r->T, slots, &sl);
        const int seq = r->T > 0 && r->kind != EX_ROW_VECTOR && !(r->kind == EX_ROW_MERGE && !r->T);
        int only = -1; /* a vector row: its one box's slot */
        if (!seq) {
            only = 0;
            if (r->n_src > 0 && r->src[0] >= 0) only = vec_slot[r->src[0]];
        }
        vec_slot[i] = seq ? sl.n - 1 : only;
        if (r->kind == EX_ROW_RECURRENT || r->kind == EX_ROW_BIDI)
            vec_slot[i] = sl.n - 1;
        const int recurrent = r->kind == EX_ROW_RECURRENT || r->kind == EX_ROW_BIDI;
        const char *lab = short_label(r);
        const int n = seq ? sl.n : 1;
        char params[160];
        const char *eq = strrchr(r->formula, '=');
        if (r->formula[0] && eq && eq > r->formula + 1) /* the count first, then its formula */
            snprintf(params, sizeof params, "params %lld = %.*s", (long long)r->params,
                     (int)(eq - 1 - r->formula), r->formula);
        else snprintf(params, sizeof params, r->kind == EX_ROW_INPUT ? "" : "params %lld", (long long)r->params);
        char shape[80];
        snprintf(shape, sizeof shape, "-> %s", r->shape[0]);
        if (r->model_output >= 0)
            snprintf(shape, sizeof shape, "-> %s (model output %d)", r->shape[r->model_output_out],
                     r->model_output);
        const int indent = r->depth > 0 ? 2 : 0;
        char margin[16][LABEL_W];
        const int n_margin = wrap(margin, 16, LABEL_W - 1 - indent, r->name, r->config, params, shape);
        const int n_lines = n_margin > 4 ? n_margin : 4;
        for (int ln = 0; ln < n_lines; ln++) {
            if (r->depth > 0) {
                put(&l, g->v, 1);
                put(&l, " ", 1);
            }
            putw(&l, LABEL_W - 1 - indent, "%s", ln < n_margin ? margin[ln] : "");
            put(&l, " ", 1);
            for (int k = 0; ln < 4 && k < n; k++) {
                const int j = seq ? k : only;
                pad_to(&l, col_of(j));
                const int64_t step = seq ? sl.step[j] : -1;
                if (seq && step < 0) { /* the elided steps */
                    if (ln == 1) {
                        char t[16];
                        snprintf(t, sizeof t, "+%lld", (long long)sl.hidden);
                        put(&l, g->ell, 1);
                        putw(&l, 6, "%s", t);
                    } else {
                        put(&l, " ", 7);
                    }
                } else if (ln == 0) {
                    put(&l, g->tl, 1);
                    put(&l, g->h, 5);
                    put(&l, g->tr, 1);
                } else if (ln == 1) {
                    put(&l, g->v, 1);
                    char in[16];
                    snprintf(in, sizeof in, step < 0 ? "x" : rnn__input_is_ids(r->layer) ? "id%lld" : "x%lld",
                             (long long)step);
                    if (r->kind == EX_ROW_INPUT) putw(&l, 5, "%*s", (int)(5 + strlen(in)) / 2, in);
                    else putw(&l, 5, "%*s", (int)(strlen(lab) >= 5 ? 5 : (5 + strlen(lab)) / 2), lab);
                    put(&l, g->v, 1);
                } else if (ln == 2) {
                    put(&l, g->bl, 1);
                    put(&l, g->h, 2);
                    put(&l, g->tee, 1);
                    put(&l, g->h, 2);
                    put(&l, g->br, 1);
                } else {
                    const int returned = !recurrent || r->returns_sequences || step == r->T - 1;
                    put(&l, " ", 3);
                    put(&l, returned ? g->v : g->faint, 1);
                    put(&l, " ", 3);
                }
                if (ln == 1 && recurrent && seq && k + 1 < n) { /* the state to the next step */
                    put(&l, r->kind == EX_ROW_BIDI ? g->back : g->state, 1);
                    put(&l, g->arrow, 1);
                }
            }
            if (ln == 0 && recurrent && r->n_src > 1 && r->src[1] >= 0) {
                put(&l, " ", 1);
                putw(&l, 20, "h0 from %s", R->rows[r->src[1]].layer->name);
            }
            if (ln == 1 && r->return_state) {
                put(&l, g->state, 1);
                put(&l, g->arrow, 1);
                put(&l, " ", 1);
                putw(&l, 16, r->cell == 1 ? "state h, c" : "state h");
            }
            if (ln == 3 && recurrent && !r->returns_sequences) {
                put(&l, " ", 1);
                putw(&l, 14, "last step only");
            }
            emit(f, &l);
        }
        for (int q = 0; q < R->n_frames; q++)
            if (R->frames[q].last == i) {
                put(&l, g->fbl, 1);
                while (l.cols < width - 2) put(&l, g->fh, 1);
                emit(f, &l);
            }
    }
    for (int i = 0; R->stateful_batch && i < R->n_rows; i++) {
        const ex_row *r = &R->rows[i];
        if (r->kind != EX_ROW_RECURRENT || !r->stateful) continue;
        const int K = o->batches > 1 ? o->batches : 3, every = o->reset_every > 0 ? o->reset_every : 2;
        const int64_t B = R->stateful_batch;
        fprintf(f, "\n%.40s across batches (stateful, batch size %lld):\n"
                   "row i's last state is row i's first state in the next batch\n",
                r->layer->name, (long long)B);
        putw(&l, 10, "");
        for (int k = 0; k < K; k++) putw(&l, 20, "batch %d", k);
        emit(f, &l);
        const int64_t rows[4] = {0, B > 1 ? 1 : -2, B > 4 ? -1 : B > 2 ? 2 : -2, B > 4 ? B - 1 : B > 3 ? 3 : -2};
        for (int q = 0; q < 4; q++) {
            if (rows[q] == -2) continue;
            if (rows[q] == -1) {
                put(&l, g->rowell, 1);
                putw(&l, 40, " %lld more rows", (long long)(B - 3));
                emit(f, &l);
                continue;
            }
            putw(&l, 10, "row %lld", (long long)rows[q]);
            for (int k = 0; k < K; k++) {
                putw(&l, 1, "[");
                putw(&l, 8, "t0..t%lld", (long long)(r->T - 1));
                putw(&l, 1, "]");
                if (k + 1 < K) {
                    if ((k + 1) % every == 0) {
                        putw(&l, 2, "  ");
                        putw(&l, 8, "  reset ");
                    } else {
                        put(&l, " ", 2);
                        put(&l, g->state, 5);
                        put(&l, g->arrow, 1);
                        put(&l, " ", 2);
                    }
                }
            }
            emit(f, &l);
        }
        break;
    }
    return ferror(f) ? rnn__fail(RNN_ERR_IO, "rnn_explain: writing the text failed") : RNN_OK;
}
