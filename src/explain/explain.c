/* rnn_explain: the rows (rows.c), for a file their layout (layout.c), then one renderer. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "explain/explain.h"

rnn_explain_options rnn_explain_defaults(void) {
    rnn_explain_options o;
    memset(&o, 0, sizeof o);
    o.steps = 8;
    o.unknown_steps = 4;
    o.batches = 3;
    o.reset_every = 2;
    o.width = 100;
    return o;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

rnn_status rnn_explain(rnn_model *m, const rnn_explain_options *options, const char *path) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_explain: model is NULL");
    rnn_explain_options o = options ? *options : rnn_explain_defaults();
    if (o.steps == 0) o.steps = 8;
    if (o.steps < 3 || o.steps > EX_MAX_SLOTS)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT,
                                            "rnn_explain: steps must be 3 to %d, not %d",
                                            EX_MAX_SLOTS, o.steps));
    if (o.unknown_steps <= 0) o.unknown_steps = 4;
    if (o.batches <= 0) o.batches = 3;
    if (o.batches > 8) o.batches = 8;
    if (o.reset_every <= 0) o.reset_every = 2;
    rnn_explain_format fmt = o.format;
    if (fmt == RNN_EXPLAIN_AUTO) {
        if (!path) fmt = RNN_EXPLAIN_TEXT;
        else if (ends_with(path, ".svg")) fmt = RNN_EXPLAIN_SVG;
        else if (ends_with(path, ".html") || ends_with(path, ".htm")) fmt = RNN_EXPLAIN_HTML;
        else
            return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "rnn_explain: %s: name the "
                                                "output .svg or .html", path));
    }
    if (fmt != RNN_EXPLAIN_TEXT && !path)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "rnn_explain: SVG and HTML need a path"));
    rnn_status st = rnn__model_build(m);
    if (st) return rnn__model_fail(m, st);
    /* Everything is checked and computed before the file is opened: a failure leaves no file. */
    ex_trace *trace = NULL;
    if (o.inputs && (st = rnn__explain_trace(m, o.inputs, o.n_inputs, o.sample, &trace)))
        return rnn__model_fail(m, st);
    ex_rows *rows = calloc(1, sizeof *rows);
    ex_scene scene;
    memset(&scene, 0, sizeof scene);
    if (!rows) st = rnn__fail(RNN_ERR_MEMORY, "rnn_explain: out of memory");
    if (!st) st = rnn__explain_rows(m, &o, trace, rows);
    if (!st && fmt != RNN_EXPLAIN_TEXT) st = rnn__explain_layout(rows, &o, &scene);
    if (!st) {
        if (fmt == RNN_EXPLAIN_TEXT && !path) {
            st = rnn__explain_text(rows, &o, o.out ? o.out : stdout);
        } else {
            rnn_output_file *of;
            FILE *f;
            if (!(st = rnn_output_file_open(path, &of, &f))) {
                st = fmt == RNN_EXPLAIN_TEXT ? rnn__explain_text(rows, &o, f)
                     : fmt == RNN_EXPLAIN_SVG ? rnn__explain_svg(&scene, f, 1)
                                              : rnn__explain_html(&scene, f);
                if (st) rnn_output_file_discard(of);
                else st = rnn_output_file_commit(of);
            }
        }
    }
    rnn__explain_scene_free(&scene);
    free(rows);
    rnn__explain_trace_free(trace);
    return st ? rnn__model_fail(m, st) : RNN_OK;
}
