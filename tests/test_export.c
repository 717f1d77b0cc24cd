/* rnn_export_c against librnn: every fixture model (tests/fixtures/keras/<case>, rebuilt from
 * case.txt with Keras's weights as test_keras_fixtures.c does; the Keras files of
 * tests/fixtures/keras_files) and a model of each scenario's architecture is exported as C in
 * float32, bfloat16 and int8, compiled with `-std=c99 -Wall -Wextra -pedantic -Werror` (cc, and
 * clang where installed) into one driver program, run on the fixture's inputs, and compared:
 *   NAME_predict per sample against rnn_predict, and for models that stream, NAME_step step by
 *   step against rnn_predict_step (batch 1, from a reset state);
 *   float32: |c - librnn| <= 1e-6 (1 + |librnn|);
 *   bf16 and int8: against librnn with rnn_quantize_weights applied (the same weight values,
 *   other summation order): <= 1e-5 (1 + |librnn|).
 * A fixture model whose layers the exporter does not support (Conv1D, several inputs or outputs,
 * initial states, return_state, Flatten) must be refused with RNN_ERR_UNSUPPORTED; at least
 * MIN_EXPORTED of them must export. Prints per case what was compared and the largest
 * differences. */
#define main keras_fixtures_main
#include "test_keras_fixtures.c"
#undef main

#include <sys/wait.h>

#define MAX_EXPORT 160
#define MIN_EXPORTED 50 /* fixture and scenario models exported (there are about 75) */
#define TOL_F32 1e-6
#define TOL_LOW 1e-5

static const char *const prec_suffix[3] = {"", "_b", "_q"};

typedef struct {
    char label[80];
    char cname[16];      /* the C name: c<k> (bf16: c<k>_b, int8: c<k>_q) */
    built_models bm;     /* fixture cases: the models (freed at the end) */
    rnn_model *m;
    rnn_tensor x;        /* [N, T, F] or [N, T] ids or [N, F] */
    int stream;          /* NAME_step exists and librnn streams with batch 1 */
    int64_t n, T, F, out_per_sample, out_w;
    float *ref_pred[3], *ref_step[3];
} export_case;

static export_case cases[MAX_EXPORT];
static int n_cases, n_refused;
static char work[64];
static double worst[3][2]; /* [precision][predict, step] */

/* The weights of m, back to back. */
static float *snapshot(rnn_model *m, int restore, float *buf) {
    int nw = rnn_weight_count(m);
    int64_t total = 0;
    for (int k = 0; k < nw; k++) {
        int rank;
        int64_t shape[RNN_MAX_RANK], size = 1;
        rnn_weight_info(m, k, NULL, &rank, shape);
        for (int i = 0; i < rank; i++) size *= shape[i];
        if (restore) rnn_set_weight(m, k, buf + total, size);
        total += size;
    }
    if (restore) return buf;
    float *out = malloc(sizeof(float) * (size_t)(total ? total : 1));
    if (!out) return NULL;
    total = 0;
    for (int k = 0; k < nw; k++) {
        int rank;
        int64_t shape[RNN_MAX_RANK], size = 1;
        rnn_weight_info(m, k, NULL, &rank, shape);
        for (int i = 0; i < rank; i++) size *= shape[i];
        rnn_get_weight(m, k, out + total, size);
        total += size;
    }
    return out;
}

/* Whether the file contains text. */
static int header_says(const char *path, const char *text) {
    FILE *f = fopen(path, "r");
    char line[512];
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f)) found = strstr(line, text) != NULL;
    if (f) fclose(f);
    return found;
}

/* Exports the case in the three precisions and computes librnn's references. Takes x. */
static void add_case(const char *label, rnn_model *m, built_models *bm, rnn_tensor x) {
    if (n_cases >= MAX_EXPORT) return;
    export_case *c = &cases[n_cases];
    memset(c, 0, sizeof *c);
    snprintf(c->label, sizeof c->label, "%s", label);
    snprintf(c->cname, sizeof c->cname, "c%d", n_cases);
    for (int p = 0; p < 3; p++) {
        char name[24];
        snprintf(name, sizeof name, "%s%s", c->cname, prec_suffix[p]);
        rnn_status st = rnn_export_c(m, work, name, (rnn_precision)p);
        if (st == RNN_ERR_UNSUPPORTED) {
            printf("%-58s not exported: %s\n", label, rnn_model_error(m));
            n_refused++;
            if (bm) free_models(bm);
            rnn_tensor_free(&x);
            return;
        }
        CHECK(st == RNN_OK, "%s: rnn_export_c: %s", label, rnn_model_error(m));
        if (st) {
            if (bm) free_models(bm);
            rnn_tensor_free(&x);
            return;
        }
    }
    c->m = m;
    if (bm) c->bm = *bm;
    c->x = x;
    c->n = x.shape[0];
    int64_t B = 0;
    const int seq = rnn_stream_shape(m, &B, NULL, NULL) == RNN_OK; /* [N, T, F] or ids [N, T] */
    c->T = seq ? x.shape[1] : 1;
    c->F = x.rank == 3 ? x.shape[2] : seq ? 1 : x.shape[1];
    char path[256];
    snprintf(path, sizeof path, "%s/%s.h", work, c->cname);
    c->stream = seq && B == 1 && header_says(path, "_STREAMING 1");
    float *saved = snapshot(m, 0, NULL);
    CHECK(saved != NULL, "%s: out of memory", label);
    for (int p = 0; saved && p < 3; p++) {
        snapshot(m, 1, saved);
        CHECK(rnn_quantize_weights(m, (rnn_precision)p) == RNN_OK, "%s: rnn_quantize_weights: %s",
              label, rnn_model_error(m));
        rnn_reset_states(m);
        rnn_tensor y = {0};
        rnn_status st = rnn_predict(m, rnn_data_x(x), (int)c->n, &y, 1);
        CHECK(st == RNN_OK, "%s: rnn_predict: %s", label, rnn_model_error(m));
        if (st) break;
        c->out_per_sample = rnn_tensor_size(&y) / c->n;
        c->out_w = y.shape[y.rank - 1];
        c->ref_pred[p] = y.data; /* owned: freed at the end */
        if (!c->stream) continue;
        c->ref_step[p] = malloc(sizeof(float) * (size_t)(c->n * c->T * c->out_w));
        for (int64_t s = 0; c->ref_step[p] && s < c->n; s++) {
            rnn_reset_states(m);
            for (int64_t t = 0; t < c->T; t++) {
                st = rnn_predict_step(m, x.data + (s * c->T + t) * c->F,
                                      c->ref_step[p] + (s * c->T + t) * c->out_w);
                CHECK(st == RNN_OK, "%s: rnn_predict_step: %s", label, rnn_model_error(m));
                if (st) break;
            }
        }
    }
    if (saved) snapshot(m, 1, saved);
    free(saved);
    n_cases++;
}

/* ---------------------------------------------------------------- the fixture cases */

static void fixture_case(const char *dir, const char *label) {
    static case_spec c;
    char path[1024];
    snprintf(path, sizeof path, "%s/case.txt", dir);
    if (!parse_case(path, &c)) {
        CHECK(0, "%s: case.txt does not parse", dir);
        return;
    }
    built_models bm = {0};
    rnn_model *m = c.graph ? build_graph(&c, &bm) : build_sequential(&c, &bm);
    CHECK(m != NULL, "%s: no model", label);
    if (!m) return;
    if (bm.n_inputs != 1 || bm.n_outputs != 1) { /* still asked: must be refused */
        CHECK(rnn_export_c(m, work, "multi", RNN_F32) == RNN_ERR_UNSUPPORTED,
              "%s: a model with %d inputs and %d outputs was not refused", label, bm.n_inputs,
              bm.n_outputs);
        printf("%-58s not exported: %s\n", label, rnn_model_error(m));
        n_refused++;
        free_models(&bm);
        return;
    }
    for (int k = 0; k < rnn_weight_count(m); k++) {
        rnn_tensor w = {0};
        snprintf(path, sizeof path, "w%d.npy", k);
        if (!load(dir, path, &w)) break;
        CHECK(rnn_set_weight(m, k, w.data, rnn_tensor_size(&w)) == RNN_OK, "%s: weight %d: %s",
              label, k, rnn_model_error(m));
        rnn_tensor_free(&w);
    }
    rnn_tensor x = {0};
    if (!load(dir, "x.npy", &x)) {
        free_models(&bm);
        return;
    }
    add_case(label, m, &bm, x);
}

static void keras_file_case(const char *dir, const char *label) {
    char path[1024];
    snprintf(path, sizeof path, "%s/model.keras", dir);
    if (!file_exists(path)) snprintf(path, sizeof path, "%s/model.h5", dir);
    if (!file_exists(path)) return;
    rnn_model *m = rnn_load(path);
    CHECK(m != NULL, "%s: rnn_load: %s", label, rnn_last_error());
    rnn_tensor x = {0};
    if (!m || !load(dir, "x.npy", &x)) {
        rnn_model_free(m);
        return;
    }
    built_models bm = {0};
    bm.model[bm.n++] = m;
    add_case(label, m, &bm, x);
}

/* ---------------------------------------------------------------- scenario models */

static rnn_tensor random_x(int64_t n, int64_t T, int64_t F, int ids, uint64_t *seed) {
    rnn_tensor x = {0};
    int64_t count = n * (T ? T : 1) * (ids ? 1 : F);
    x.data = malloc(sizeof(float) * (size_t)count);
    x.rank = T ? (ids ? 2 : 3) : 2;
    x.shape[0] = n;
    x.shape[1] = T ? T : F;
    x.shape[2] = T && !ids ? F : 0;
    x.owned = 1;
    for (int64_t i = 0; x.data && i < count; i++) {
        *seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
        double u = (double)(*seed >> 11) / 9007199254740992.0;
        x.data[i] = ids ? (float)(int)(u * F) : (float)(2 * u - 1);
    }
    return x;
}

static rnn_model *seq_model(int64_t batch, int64_t T, int64_t F) {
    rnn_model *m = rnn_sequential(NULL);
    if (batch) rnn_batch_input(m, batch, T, F);
    else rnn_input(m, T, F);
    return m;
}

static rnn_layer *lstm(int units, int seq, int stateful) {
    rnn_recurrent_options o = rnn_lstm_defaults(units);
    o.return_sequences = seq;
    o.stateful = stateful;
    return rnn_lstm(&o);
}

/* rnn_add, checked */
#define ADD(m, layer) CHECK(rnn_add((m), (layer)) == RNN_OK, "%s", rnn_model_error(m))

static void scenario_models(void) {
    uint64_t seed = 42;
    rnn_model *m;
    /* 1: airline windows, LSTM(4) -> Dense(1) */
    m = seq_model(0, 3, 1);
    ADD(m, lstm(4, 0, 0));
    ADD(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_set_seed(m, 1);
    built_models bm = {0};
    bm.model[bm.n++] = m;
    add_case("scenario 1 LSTM(4)-Dense(1)", m, &bm, random_x(6, 3, 1, 0, &seed));
    /* 2 and 7: stateful batch-1 LSTM over single steps */
    m = seq_model(1, 1, 1);
    ADD(m, lstm(10, 1, 1));
    ADD(m, rnn_time_distributed(rnn_dense_simple(1, RNN_LINEAR)));
    rnn_set_seed(m, 2);
    bm = (built_models){0};
    bm.model[bm.n++] = m;
    add_case("scenario 2/7 stateful LSTM(10) seq", m, &bm, random_x(1, 1, 1, 0, &seed));
    /* 3 and 4: multivariate, many-to-many */
    m = seq_model(0, 3, 5);
    ADD(m, lstm(50, 1, 0));
    ADD(m, rnn_time_distributed(rnn_dense_simple(1, RNN_LINEAR)));
    rnn_set_seed(m, 3);
    bm = (built_models){0};
    bm.model[bm.n++] = m;
    add_case("scenario 3/4 LSTM(50) seq + TD Dense", m, &bm, random_x(5, 3, 5, 0, &seed));
    /* 5: variable length */
    m = seq_model(0, RNN_NONE, 1);
    ADD(m, lstm(8, 0, 0));
    ADD(m, rnn_dense_simple(1, RNN_SIGMOID));
    rnn_set_seed(m, 5);
    bm = (built_models){0};
    bm.model[bm.n++] = m;
    add_case("scenario 5 LSTM(8) steps None", m, &bm, random_x(3, 30, 1, 0, &seed));
    /* 6: one-to-many */
    m = rnn_sequential(NULL);
    rnn_input(m, 0, 2);
    ADD(m, rnn_repeat_vector(4));
    ADD(m, lstm(6, 1, 0));
    ADD(m, rnn_time_distributed(rnn_dense_simple(2, RNN_LINEAR)));
    rnn_set_seed(m, 6);
    bm = (built_models){0};
    bm.model[bm.n++] = m;
    add_case("scenario 6 RepeatVector-LSTM-TD", m, &bm, random_x(4, 0, 2, 0, &seed));
    /* 8: autoencoder from nested models (functional, as examples/s08_autoencoder.c) */
    rnn_symbol *ein = rnn_input_new(RNN_NONE, 5, 2, NULL);
    rnn_symbol *code = rnn_call(lstm(3, 0, 0), ein);
    rnn_model *enc = rnn_model_new(&ein, 1, &code, 1, "encoder");
    rnn_symbol *din = rnn_input_new(RNN_NONE, 0, 3, NULL);
    rnn_symbol *dy = rnn_call(rnn_time_distributed(rnn_dense_simple(2, RNN_LINEAR)),
                              rnn_call(lstm(3, 1, 0), rnn_call(rnn_repeat_vector(5), din)));
    rnn_model *dec = rnn_model_new(&din, 1, &dy, 1, "decoder");
    rnn_symbol *ain = rnn_input_new(RNN_NONE, 5, 2, NULL);
    rnn_symbol *ay = rnn_call(rnn_model_as_layer(dec), rnn_call(rnn_model_as_layer(enc), ain));
    m = rnn_model_new(&ain, 1, &ay, 1, "autoencoder");
    CHECK(enc && dec && m, "scenario 8: %s", rnn_last_error());
    rnn_set_seed(m, 8);
    bm = (built_models){0};
    bm.model[bm.n++] = enc;
    bm.model[bm.n++] = dec;
    bm.model[bm.n++] = m;
    add_case("scenario 8 nested autoencoder", m, &bm, random_x(3, 5, 2, 0, &seed));
    /* 9: character model */
    rnn_symbol *in = rnn_ids_input_new(RNN_NONE, 12, NULL);
    rnn_embedding_options eo = rnn_embedding_defaults(30, 8);
    rnn_recurrent_options g = rnn_gru_defaults(16);
    g.return_sequences = 1;
    rnn_symbol *h = rnn_call(rnn_gru(&g), rnn_call(rnn_gru(&g), rnn_call(rnn_embedding(&eo), in)));
    h = rnn_call(rnn_activation_layer(RNN_SOFTMAX),
                 rnn_call(rnn_time_distributed(rnn_dense_simple(30, RNN_LINEAR)), h));
    m = rnn_model_new(&in, 1, &h, 1, NULL);
    rnn_set_seed(m, 9);
    bm = (built_models){0};
    bm.model[bm.n++] = m;
    add_case("scenario 9 Embedding-GRU-GRU-TD-softmax", m, &bm, random_x(3, 12, 30, 1, &seed));
}

/* ---------------------------------------------------------------- the driver */

/* One program for every exported case: `driver CASE N T F in.bin pred.bin step.bin` runs
 * CASE's NAME_predict on each of the N samples, and NAME_step over each sample's steps from a
 * reset state, and writes the outputs as raw floats. */
static int write_driver(const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fprintf(f, "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n");
    for (int i = 0; i < n_cases; i++)
        for (int p = 0; p < 3; p++) fprintf(f, "#include \"%s%s.h\"\n", cases[i].cname, prec_suffix[p]);
    fprintf(f, "static double state_[1 << 16];\n"
               "typedef struct { const char *name; int (*predict)(const float *, int, float *);\n"
               "    int (*step)(void *, const float *, float *); void (*reset)(void *);\n"
               "    unsigned long state; } entry;\n");
    for (int i = 0; i < n_cases; i++)
        for (int p = 0; p < 3; p++) {
            if (!cases[i].stream) continue;
            const char *c = cases[i].cname, *sfx = prec_suffix[p];
            fprintf(f, "static int s_%s%s(void *s, const float *x, float *y) { return %s%s_step((%s%s_state *)s, x, y); }\n"
                       "static void r_%s%s(void *s) { %s%s_reset((%s%s_state *)s); }\n",
                    c, sfx, c, sfx, c, sfx, c, sfx, c, sfx, c, sfx);
        }
    fprintf(f, "static const entry table[] = {\n");
    for (int i = 0; i < n_cases; i++)
        for (int p = 0; p < 3; p++) {
            const char *c = cases[i].cname, *sfx = prec_suffix[p];
            if (cases[i].stream)
                fprintf(f, "    {\"%s%s\", %s%s_predict, s_%s%s, r_%s%s, sizeof(%s%s_state)},\n", c, sfx,
                        c, sfx, c, sfx, c, sfx, c, sfx);
            else
                fprintf(f, "    {\"%s%s\", %s%s_predict, 0, 0, 0},\n", c, sfx, c, sfx);
        }
    fprintf(f, "};\n");
    fputs("int main(int argc, char **argv) {\n"
          "    const entry *e = 0;\n"
          "    long n, T, F, O, W, s, t, k;\n"
          "    float *x, y[1 << 14];\n"
          "    FILE *in, *pred, *step;\n"
          "    if (argc != 10) return 2;\n"
          "    for (k = 0; k < (long)(sizeof table / sizeof table[0]); k++)\n"
          "        if (!strcmp(table[k].name, argv[1])) e = &table[k];\n"
          "    if (!e) return 3;\n"
          "    n = atol(argv[2]); T = atol(argv[3]); F = atol(argv[4]);\n"
          "    O = atol(argv[5]); W = atol(argv[6]);\n"
          "    x = malloc(sizeof(float) * (size_t)(n * T * F));\n"
          "    in = fopen(argv[7], \"rb\"); pred = fopen(argv[8], \"wb\"); step = fopen(argv[9], \"wb\");\n"
          "    if (!x || !in || !pred || !step || O > (1 << 14)) return 4;\n"
          "    if (fread(x, sizeof(float), (size_t)(n * T * F), in) != (size_t)(n * T * F)) return 5;\n"
          "    if (e->state > sizeof state_) return 6;\n"
          "    for (s = 0; s < n; s++) {\n"
          "        if (e->predict(x + s * T * F, (int)T, y) * W != O) return 7;\n"
          "        fwrite(y, sizeof(float), (size_t)O, pred);\n"
          "        if (!e->step) continue;\n"
          "        e->reset(state_);\n"
          "        for (t = 0; t < T; t++) {\n"
          "            if (e->step(state_, x + (s * T + t) * F, y) != 0) return 8;\n"
          "            fwrite(y, sizeof(float), (size_t)W, step);\n"
          "        }\n"
          "    }\n"
          "    free(x);\n"
          "    return fclose(in) | fclose(pred) | fclose(step);\n"
          "}\n", f);
    return fclose(f) == 0;
}

/* Runs a shell command; its exit status (-1 if it could not run). */
static int run(const char *cmd) {
    int rc = system(cmd);
    return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

static float *read_floats(const char *path, int64_t n) {
    FILE *f = fopen(path, "rb");
    float *v = malloc(sizeof(float) * (size_t)(n ? n : 1));
    size_t got = f && v ? fread(v, sizeof(float), (size_t)n, f) : 0;
    if (f) fclose(f);
    if (got != (size_t)n) {
        free(v);
        return NULL;
    }
    return v;
}

/* Largest |got - want| / (1 + |want|) over n values. */
static double rel_diff(const float *got, const float *want, int64_t n) {
    double w = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]) / (1.0 + fabs((double)want[i]));
        if (!(d <= w)) w = d; /* NaN counts as the worst */
    }
    return w;
}

/* Builds the driver with the compiler command cc (its name: tag) and compares every case,
 * running the program through runner ("" or an emulator). */
static void run_driver(const char *tag, const char *cc, const char *runner) {
    char cmd[8192], exe[128];
    snprintf(exe, sizeof exe, "%s%s/driver_%s", runner, work, tag);
    int len = snprintf(cmd, sizeof cmd, "cd %s && %s -std=c99 -Wall -Wextra -pedantic -Werror -O1 "
                       "-o driver_%s driver.c", work, cc, tag);
    for (int i = 0; i < n_cases; i++)
        for (int p = 0; p < 3; p++)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " %s%s.c", cases[i].cname,
                            prec_suffix[p]);
    snprintf(cmd + len, sizeof cmd - (size_t)len, " -lm");
    int rc = run(cmd);
    CHECK(rc == 0, "%s: the generated C does not compile cleanly (%s)", tag, cmd);
    if (rc) return;
    for (int i = 0; i < n_cases; i++) {
        export_case *c = &cases[i];
        char in[128], pred[128], step[128];
        snprintf(in, sizeof in, "%s/%s.in", work, c->cname);
        FILE *f = fopen(in, "wb");
        int64_t nx = c->n * c->T * c->F;
        CHECK(f && fwrite(c->x.data, sizeof(float), (size_t)nx, f) == (size_t)nx, "writing %s", in);
        if (f) fclose(f);
        for (int p = 0; p < 3; p++) {
            snprintf(pred, sizeof pred, "%s/%s%s.pred", work, c->cname, prec_suffix[p]);
            snprintf(step, sizeof step, "%s/%s%s.step", work, c->cname, prec_suffix[p]);
            snprintf(cmd, sizeof cmd, "%s %s%s %lld %lld %lld %lld %lld %s %s %s", exe, c->cname,
                     prec_suffix[p], (long long)c->n, (long long)c->T, (long long)c->F,
                     (long long)c->out_per_sample, (long long)c->out_w, in, pred, step);
            rc = run(cmd);
            CHECK(rc == 0, "%s (%s): the exported program failed with status %d", c->label,
                  prec_suffix[p], rc);
            if (rc) continue;
            const double tol = p ? TOL_LOW : TOL_F32;
            float *got = read_floats(pred, c->n * c->out_per_sample);
            CHECK(got != NULL, "%s: reading %s", c->label, pred);
            if (got && c->ref_pred[p]) {
                double d = rel_diff(got, c->ref_pred[p], c->n * c->out_per_sample);
                CHECK(d <= tol, "%s (%s, %s): NAME_predict differs from rnn_predict by %.3g "
                      "(tolerance %.1g)", c->label, tag, p ? prec_suffix[p] : "f32", d, tol);
                if (d > worst[p][0]) worst[p][0] = d;
            }
            free(got);
            if (!c->stream) continue;
            got = read_floats(step, c->n * c->T * c->out_w);
            CHECK(got != NULL, "%s: reading %s", c->label, step);
            if (got && c->ref_step[p]) {
                double d = rel_diff(got, c->ref_step[p], c->n * c->T * c->out_w);
                CHECK(d <= tol, "%s (%s, %s): NAME_step differs from rnn_predict_step by %.3g "
                      "(tolerance %.1g)", c->label, tag, p ? prec_suffix[p] : "f32", d, tol);
                if (d > worst[p][1]) worst[p][1] = d;
            }
            free(got);
        }
    }
}

static int have(const char *tool) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
    return run(cmd) == 0;
}

/* Refusals are errors, not crashes; a bad name or precision is an argument error. */
static void argument_checks(void) {
    rnn_model *m = seq_model(0, 3, 1);
    rnn_add(m, lstm(2, 0, 0));
    CHECK(rnn_export_c(m, work, "1bad", RNN_F32) == RNN_ERR_ARGUMENT, "a name that is not a C "
          "identifier was accepted");
    CHECK(rnn_export_c(m, work, "ok", (rnn_precision)7) == RNN_ERR_ARGUMENT, "precision 7 was "
          "accepted");
    CHECK(rnn_export_c(m, "/nonexistent/dir", "ok", RNN_F32) == RNN_ERR_IO, "an unwritable "
          "directory was not an IO error");
    CHECK(rnn_export_c(NULL, work, "ok", RNN_F32) == RNN_ERR_ARGUMENT, "NULL model accepted");
    CHECK(rnn_precision_from_name("bf16") == RNN_BF16 && rnn_precision_from_name("int8") ==
          RNN_INT8 && rnn_precision_from_name("f32") == RNN_F32 &&
          rnn_precision_from_name("f16") == -1, "rnn_precision_from_name");
    rnn_model_free(m);
}

/* A Cortex-M4 program around case k's code at precision p: links, and its size is printed. */
static int m4_program(int k, int p) {
    const export_case *c = &cases[k];
    char name[32], path[256], cmd[1024];
    snprintf(name, sizeof name, "%s%s", c->cname, prec_suffix[p]);
    snprintf(path, sizeof path, "%s/m4_%s.c", work, name);
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fprintf(f, "#include \"%s.h\"\nstatic float x[%lld], y[%lld];\nvolatile float sink;\n", name,
            (long long)(c->T * c->F), (long long)(c->out_per_sample > c->out_w ? c->out_per_sample
                                                                              : c->out_w));
    if (c->stream)
        fprintf(f, "static %s_state s;\nint main(void) {\n    int t;\n    %s_reset(&s);\n"
                   "    for (t = 0; t < %lld; t++) %s_step(&s, x + t * %lld, y);\n", name, name,
                (long long)c->T, name, (long long)c->F);
    else
        fprintf(f, "int main(void) {\n    %s_predict(x, %lld, y);\n", name, (long long)c->T);
    fprintf(f, "    sink = y[0];\n    return 0;\n}\n");
    fclose(f);
    snprintf(cmd, sizeof cmd, "cd %s && arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -Os "
             "-std=c99 -Wall -Wextra -pedantic -Werror -ffunction-sections -fdata-sections -Wl,--gc-sections "
             "--specs=nosys.specs -o m4_%s.elf m4_%s.c %s.c "
             "-lm && arm-none-eabi-size m4_%s.elf | sed 's/^/    /'", work, name, name, name, name);
    printf("  %s (%s%s), %s:\n", c->label, p == 0 ? "float32" : p == 1 ? "bf16" : "int8",
           c->stream ? ", streaming" : ", predict", name);
    fflush(stdout);
    return run(cmd) == 0;
}

/* RNN_EXPORT_CROSS=1 (make test-export-cross): the same driver built for 32-bit ARM Linux and
 * run under qemu-arm, compared as the native one; every exported file compiled for Cortex-M4,
 * and programs around the scenario models linked, with their flash (text + data) and RAM (data
 * + bss) printed by arm-none-eabi-size. Without the switch, or without the tools, skipped with a
 * message (the switch then fails: the tools were asked for). */
static void cross_checks(void) {
    const char *asked = getenv("RNN_EXPORT_CROSS");
    int want = asked && !strcmp(asked, "1");
    int tools = have("arm-linux-gnueabihf-gcc") && have("qemu-arm") && have("arm-none-eabi-gcc");
    if (!want || !tools) {
        printf("cross builds (Cortex-M4, ARM Linux under qemu-arm) skipped: %s\n",
               want ? "the cross tools are not installed (scripts/deps.sh with EXPORT=1)"
                    : "run `make test-export-cross` for them");
        CHECK(!want, "RNN_EXPORT_CROSS=1 but arm-linux-gnueabihf-gcc, qemu-arm or "
              "arm-none-eabi-gcc is missing");
        return;
    }
    run_driver("armhf", "arm-linux-gnueabihf-gcc -static", "qemu-arm ");
    char cmd[256];
    int failed = 0;
    for (int i = 0; i < n_cases; i++)
        for (int p = 0; p < 3; p++) {
            snprintf(cmd, sizeof cmd, "cd %s && arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb "
                     "-mfloat-abi=hard -Os -std=c99 -Wall -Wextra -pedantic -Werror -c %s%s.c",
                     work, cases[i].cname, prec_suffix[p]);
            int rc = run(cmd);
            CHECK(rc == 0, "Cortex-M4: %s does not compile cleanly", cmd);
            failed += rc != 0;
        }
    printf("Cortex-M4: %d files compiled (%d failed); linked programs (arm-none-eabi-size):\n",
           3 * n_cases, failed);
    for (int i = 0; i < n_cases; i++)
        if (!strncmp(cases[i].label, "scenario", 8))
            for (int p = 0; p < 3; p++)
                CHECK(m4_program(i, p), "Cortex-M4: %s does not link", cases[i].label);
}

int main(void) {
    snprintf(work, sizeof work, "/tmp/rnn_export_XXXXXX");
    CHECK(mkdtemp(work) != NULL, "cannot make a temporary directory");
    if (!work[0]) return check_report("test_export");
    argument_checks();
    const char *roots[2] = {ROOT, "tests/fixtures/keras_files"};
    for (int r = 0; r < 2; r++) {
        DIR *d = opendir(roots[r]);
        CHECK(d != NULL, "cannot open %s (run the tests from the repository root)", roots[r]);
        if (!d) continue;
        char *names[MAX_CASES];
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d)) && n < MAX_CASES)
            if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
        closedir(d);
        qsort(names, (size_t)n, sizeof *names, by_name);
        for (int i = 0; i < n; i++) {
            char dir[512];
            snprintf(dir, sizeof dir, "%s/%s", roots[r], names[i]);
            if (r == 0 && file_exists(check_path(dir, "case.txt"))) fixture_case(dir, names[i]);
            else if (r == 1) keras_file_case(dir, names[i]);
            free(names[i]);
        }
    }
    scenario_models();
    printf("%d models exported (float32, bf16, int8), %d refused as unsupported\n", n_cases,
           n_refused);
    CHECK(n_cases >= MIN_EXPORTED, "only %d models exported (at least %d expected)", n_cases,
          MIN_EXPORTED);
    CHECK(write_driver(check_path(work, "driver.c")), "cannot write the driver");
    run_driver("cc", "cc", "");
    if (have("clang")) run_driver("clang", "clang", "");
    else printf("clang not installed: the generated C was compiled with cc only\n");
    cross_checks();
    for (int i = 0; i < n_cases; i++)
        printf("%-58s compared: predict%s\n", cases[i].label,
               cases[i].stream ? " and step" : "");
    printf("largest difference / (1 + |librnn|): f32 predict %.3g step %.3g; bf16 predict %.3g "
           "step %.3g; int8 predict %.3g step %.3g\n", worst[0][0], worst[0][1], worst[1][0],
           worst[1][1], worst[2][0], worst[2][1]);
    for (int i = 0; i < n_cases; i++) {
        for (int p = 0; p < 3; p++) {
            free(cases[i].ref_pred[p]);
            free(cases[i].ref_step[p]);
        }
        rnn_tensor_free(&cases[i].x);
        free_models(&cases[i].bm);
    }
    if (!check_failures_ && !getenv("RNN_EXPORT_KEEP")) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", work);
        run(cmd);
    }
    return check_report("test_export");
}
