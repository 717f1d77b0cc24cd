/* Gradient checks of the merge layers (src/layers/merge.c) by central differences: each layer
 * joins branches with weights (Dense, recurrent), so every weight's gradient passes through the
 * merge layer's backward to each of its inputs. With and without masks (two Embedding(mask_zero)
 * inputs with different padding, and a masked input beside an unmasked one), Concatenate on
 * each axis, Dot with each kind of axes and with normalize. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model.h"
#include "rnn.h"

static uint64_t seed_state = 777;
static float frand(void) {
    seed_state = seed_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((seed_state >> 40) & 0xffffff) / 16777216.0f;
}

/* Maximum and Minimum have kinks where two inputs are equal: central differences across one
 * measure nothing. With grid_embeddings set, the embedding tables take values on two
 * interleaved grids (the first table's odd, the second's even multiples of 0.1, all at least
 * 0.1 apart), far from any kink at the step used. */
static int grid_embeddings;

static double loss_at(rnn_model *m, const rnn_tensor *x, int nx, const rnn_tensor *y, int ny) {
    double loss = NAN;
    if (rnn__model_gradients(m, x, nx, y, ny, RNN_MODE_TRAIN, &loss) != RNN_OK)
        fprintf(stderr, "loss failed: %s\n", rnn_last_error());
    return loss;
}

/* Every weight's analytic gradient against central differences (at most 30 entries each). */
static void check_model(const char *name, rnn_model *m, const rnn_tensor *x, int nx,
                        const rnn_tensor *y, int ny) {
    if (!m) {
        CHECK(0, "%s: model not built: %s", name, rnn_last_error());
        return;
    }
    CHECK(rnn_compile(m, "mse", "sgd") == RNN_OK, "%s: compile: %s", name, rnn_last_error());
    for (int w = 0; w < m->n_weights; w++)
        for (int64_t i = 0; i < m->weights[w]->size; i++)
            m->weights[w]->value[i] += 0.2f * (frand() - 0.5f);
    for (int w = 0, table = 0; grid_embeddings && w < m->n_weights; w++) {
        if (strcmp(m->weights[w]->name, "embeddings")) continue;
        for (int64_t i = 0; i < m->weights[w]->size; i++)
            m->weights[w]->value[i] = 0.1f * (float)(2 * ((i * (table ? 3 : 5)) % 9) + table) - 0.8f;
        table++;
    }
    int total = 0, bad = 0, nonzero = 0;
    for (int w = 0; w < m->n_weights; w++) {
        rnn_weight *wt = m->weights[w];
        float *g = malloc(sizeof(float) * (size_t)wt->size);
        loss_at(m, x, nx, y, ny);
        memcpy(g, wt->grad, sizeof(float) * (size_t)wt->size);
        int64_t stride = wt->size > 30 ? wt->size / 30 : 1;
        for (int64_t i = 0; i < wt->size; i += stride) {
            float keep = wt->value[i];
            const double eps = 3e-3;
            wt->value[i] = keep + (float)eps;
            double lp = loss_at(m, x, nx, y, ny);
            wt->value[i] = keep - (float)eps;
            double lm = loss_at(m, x, nx, y, ny);
            wt->value[i] = keep;
            double fd = (lp - lm) / (2 * eps);
            total++;
            nonzero += fabs(g[i]) > 1e-6;
            if (fabs(fd - g[i]) > 5e-5 + 1e-2 * fmax(fabs(fd), fabs(g[i]))) {
                if (bad < 3)
                    fprintf(stderr, "  %s: %s[%lld] analytic %.6g numeric %.6g\n", name, wt->name,
                            (long long)i, (double)g[i], fd);
                bad++;
            }
        }
        free(g);
    }
    CHECK(bad == 0, "%s: %d of %d gradients differ from finite differences", name, bad, total);
    CHECK(nonzero * 3 >= total * 2, "%s: only %d of %d gradients non-zero", name, nonzero, total);
    rnn_model_free(m);
}

static void fill(float *buf, int64_t n, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) buf[i] = lo + (hi - lo) * frand();
}

/* A merge layer's output for the branches; NULL (with the reason) on failure. */
static rnn_symbol *merged(rnn_layer *layer, rnn_symbol *const *in, int n) {
    rnn_symbol *out[8] = {NULL};
    if (rnn_call_ex(layer, in, n, out, NULL) != RNN_OK) {
        fprintf(stderr, "merge call: %s\n", rnn_last_error());
        return NULL;
    }
    return out[0];
}

enum { B = 3, T = 5, F = 3, V = 6 };

/* Element-wise layers and Concatenate on sequences from three branches of x, and on vectors. */
static void unmasked(void) {
    static float xd[B * T * F], yd[B * T * 2], yv[B * 2];
    fill(xd, B * T * F, -1, 1);
    fill(yd, B * T * 2, -1, 1);
    fill(yv, B * 2, -1, 1);
    rnn_tensor X = rnn_tensor3(xd, B, T, F), Yseq = rnn_tensor3(yd, B, T, 2);
    rnn_tensor Yvec = rnn_tensor2(yv, B, 2);
    const char *names[] = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"};
    for (int op = 0; op <= RNN_MERGE_MINIMUM; op++)
        for (int vectors = 0; vectors < 2; vectors++) {
            rnn_symbol *in = rnn_input_new(RNN_NONE, T, F, NULL);
            rnn_recurrent_options o = rnn_simple_rnn_defaults(4);
            o.return_sequences = !vectors;
            rnn_recurrent_options g = rnn_gru_defaults(4);
            g.return_sequences = !vectors;
            rnn_symbol *br[3] = {rnn_call(rnn_simple_rnn(&o), in), rnn_call(rnn_gru(&g), in),
                                 NULL};
            int n = op == RNN_MERGE_SUBTRACT ? 2 : 3;
            if (n == 3) /* (a layer called but left out of the model would leak) */
                br[2] = vectors ? rnn_call(rnn_dense_simple(4, RNN_TANH), br[0])
                                : rnn_call(rnn_dense_simple(4, RNN_LINEAR), in);
            rnn_symbol *m = merged(rnn_merge((rnn_merge_op)op), br, n);
            rnn_symbol *out = m ? rnn_call(rnn_dense_simple(2, RNN_LINEAR), m) : NULL;
            char name[96];
            snprintf(name, sizeof name, "%s of %d %s", names[op], n,
                     vectors ? "vectors" : "sequences");
            check_model(name, out ? rnn_model_simple(in, out, NULL) : NULL, &X, 1,
                        vectors ? &Yvec : &Yseq, 1);
        }
    /* Concatenate along the features (-1 and 2) and along the steps (1) */
    const int axes[] = {-1, 2, 1};
    for (int a = 0; a < 3; a++) {
        rnn_symbol *in = rnn_input_new(RNN_NONE, T, F, NULL);
        rnn_recurrent_options o = rnn_lstm_defaults(3);
        o.return_sequences = 1;
        rnn_symbol *br[2] = {rnn_call(rnn_lstm(&o), in),
                             rnn_call(rnn_dense_simple(3, RNN_TANH), in)};
        rnn_symbol *m = merged(rnn_concatenate(axes[a]), br, 2);
        rnn_recurrent_options g = rnn_gru_defaults(2);
        rnn_symbol *out = m ? rnn_call(rnn_gru(&g), m) : NULL;
        char name[64];
        snprintf(name, sizeof name, "Concatenate(axis=%d)", axes[a]);
        check_model(name, out ? rnn_model_simple(in, out, NULL) : NULL, &X, 1, &Yvec, 1);
    }
}

/* Dot: sequences against sequences (axes=2: [B,T,S]; axes=1: [B,D,E]), a sequence against a
 * vector (axes=(2,1): [B,T]), vectors (axes=1: [B,1]); each with and without normalize. */
static void dot(void) {
    static float xd[B * T * F], x2d[B * (T - 2) * F], y[4][B * T * T];
    fill(xd, B * T * F, -1, 1);
    fill(x2d, B * (T - 2) * F, -1, 1);
    for (int k = 0; k < 4; k++) fill(y[k], B * T * T, -1, 1);
    rnn_tensor X[2] = {rnn_tensor3(xd, B, T, F), rnn_tensor3(x2d, B, T - 2, F)};
    for (int normalize = 0; normalize < 2; normalize++) {
        rnn_symbol *in[2] = {rnn_input_new(RNN_NONE, T, F, NULL),
                             rnn_input_new(RNN_NONE, T - 2, F, NULL)};
        rnn_recurrent_options o = rnn_lstm_defaults(4);
        o.return_sequences = 1;
        rnn_recurrent_options g = rnn_gru_defaults(4);
        g.return_sequences = 1;
        rnn_symbol *a = rnn_call(rnn_lstm(&o), in[0]);
        rnn_symbol *b = rnn_call(rnn_gru(&g), in[1]);
        rnn_recurrent_options v = rnn_simple_rnn_defaults(4);
        rnn_symbol *vb = rnn_call(rnn_simple_rnn(&v), in[1]);
        rnn_symbol *d2 = rnn_call(rnn_dense_simple(3, RNN_TANH), in[0]);
        rnn_symbol *outs[4];
        rnn_symbol *p0[2] = {a, b}, *p1[2] = {a, d2}, *p2[2] = {a, vb};
        outs[0] = merged(rnn_dot(2, 2, normalize), p0, 2);   /* [B, T, T-2] */
        outs[1] = merged(rnn_dot(1, 1, normalize), p1, 2);   /* [B, 4, 3] */
        outs[2] = merged(rnn_dot(-1, 1, normalize), p2, 2);  /* [B, T] */
        rnn_recurrent_options l = rnn_lstm_defaults(4);
        rnn_symbol *va = rnn_call(rnn_lstm(&l), in[0]);
        rnn_symbol *p3[2] = {va, vb};
        outs[3] = merged(rnn_dot(1, 1, normalize), p3, 2);   /* [B, 1] */
        rnn_tensor Y[4] = {rnn_tensor3(y[0], B, T, T - 2), rnn_tensor3(y[1], B, 4, 3),
                           rnn_tensor2(y[2], B, T), rnn_tensor2(y[3], B, 1)};
        int ok = outs[0] && outs[1] && outs[2] && outs[3];
        check_model(normalize ? "Dot with normalize (axes 2, 1, (-1, 1), 1)"
                              : "Dot (axes 2, 1, (-1, 1), 1)",
                    ok ? rnn_model_new(in, 2, outs, 4, NULL) : NULL, X, 2, Y, 4);
    }
}

/* Masks: two Embedding(mask_zero) inputs with different padding into every element-wise layer,
 * Concatenate on both axes, and a masked input beside an unmasked one; recurrent layers after
 * the merge skip what the merged mask masks. */
static void masked(void) {
    static float ids[2][B * T], xd[B * T * 4], yv[B * 2];
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < B * T; i++) ids[k][i] = (float)(1 + (int)(frand() * (V - 1)));
    ids[0][0] = ids[0][1] = 0;          /* row 0: leading padding in the first input */
    ids[1][3] = ids[1][4] = 0;          /* row 0: trailing padding in the second */
    ids[0][T + 2] = ids[1][T + 2] = 0;  /* row 1: a step masked in both */
    ids[1][2 * T + 1] = 0;              /* row 2: one step in the second only */
    fill(xd, B * T * 4, -1, 1);
    fill(yv, B * 2, -1, 1);
    rnn_tensor X[3] = {rnn_tensor2(ids[0], B, T), rnn_tensor2(ids[1], B, T),
                       rnn_tensor3(xd, B, T, 4)};
    rnn_tensor Y = rnn_tensor2(yv, B, 2);
    const char *names[] = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
                           "Concatenate(-1)", "Concatenate(1)", "Maximum(masked, unmasked)",
                           "Multiply(masked, unmasked)", "Minimum(unmasked, masked)",
                           "Concatenate(masked, unmasked)"};
    for (int c = 0; c < 12; c++) {
        rnn_symbol *in[3] = {rnn_ids_input_new(RNN_NONE, T, NULL),
                             rnn_ids_input_new(RNN_NONE, T, NULL),
                             rnn_input_new(RNN_NONE, T, 4, NULL)};
        rnn_embedding_options eo = rnn_embedding_defaults(V, 4);
        eo.mask_zero = 1;
        rnn_symbol *e0 = rnn_call(rnn_embedding(&eo), in[0]);
        rnn_symbol *e1 = rnn_call(rnn_embedding(&eo), in[1]);
        rnn_symbol *plain = rnn_call(rnn_dense_simple(4, RNN_TANH), in[2]);
        rnn_symbol *pair[2] = {e0, e1};
        rnn_layer *layer;
        if (c < 6) layer = rnn_merge((rnn_merge_op)c);
        else if (c < 8) layer = rnn_concatenate(c == 6 ? -1 : 1);
        else if (c == 8) layer = rnn_merge(RNN_MERGE_MAXIMUM);
        else if (c == 9) layer = rnn_merge(RNN_MERGE_MULTIPLY);
        else if (c == 10) layer = rnn_merge(RNN_MERGE_MINIMUM);
        else layer = rnn_concatenate(-1);
        if (c >= 8) pair[c == 10 ? 0 : 1] = plain, pair[c == 10 ? 1 : 0] = e0;
        rnn_symbol *m = merged(layer, pair, 2);
        rnn_recurrent_options o = rnn_gru_defaults(3);
        rnn_symbol *h = m ? rnn_call(rnn_gru(&o), m) : NULL;
        /* the plain branch's Dense is used by every case, so no weight is left without a path */
        rnn_recurrent_options s = rnn_simple_rnn_defaults(3);
        rnn_symbol *h2 = rnn_call(rnn_simple_rnn(&s), plain);
        /* the second embedding, where the case leaves it out of the merge */
        rnn_recurrent_options s3 = rnn_simple_rnn_defaults(2);
        rnn_symbol *both[3] = {h, h2, c >= 8 ? rnn_call(rnn_simple_rnn(&s3), e1) : NULL};
        rnn_symbol *j = h ? merged(rnn_concatenate(-1), both, c >= 8 ? 3 : 2) : NULL;
        rnn_symbol *out = j ? rnn_call(rnn_dense_simple(2, RNN_LINEAR), j) : NULL;
        char name[96];
        snprintf(name, sizeof name, "masked %s", names[c]);
        grid_embeddings = c == RNN_MERGE_MAXIMUM || c == RNN_MERGE_MINIMUM;
        check_model(name, out ? rnn_model_new(in, 3, &out, 1, NULL) : NULL, X, 3, &Y, 1);
        grid_embeddings = 0;
    }
}

/* The masks themselves (what the gradients above cannot see when a masked step's value only
 * reaches a masked step of the next layer): Keras 3's rules on a small case. */
static void mask_values(void) {
    float ids0[2] = {0, 1}, ids1[2] = {2, 0}; /* one row, two steps */
    rnn_tensor X[2] = {rnn_tensor2(ids0, 1, 2), rnn_tensor2(ids1, 1, 2)};
    for (int op = 0; op <= RNN_MERGE_MINIMUM + 1; op++) {
        rnn_symbol *in[2] = {rnn_ids_input_new(RNN_NONE, 2, NULL),
                             rnn_ids_input_new(RNN_NONE, 2, NULL)};
        rnn_embedding_options eo = rnn_embedding_defaults(3, 1);
        eo.mask_zero = 1;
        rnn_symbol *e[2] = {rnn_call(rnn_embedding(&eo), in[0]), rnn_call(rnn_embedding(&eo), in[1])};
        rnn_layer *layer = op <= RNN_MERGE_MINIMUM ? rnn_merge((rnn_merge_op)op) : rnn_concatenate(1);
        rnn_symbol *out = merged(layer, e, 2);
        rnn_model *m = out ? rnn_model_new(in, 2, &out, 1, NULL) : NULL;
        CHECK(m != NULL, "mask model %d: %s", op, rnn_last_error());
        if (!m) continue;
        /* embedding rows: id 1 -> 2, id 2 -> 3 */
        float row1 = 2, row2 = 3;
        rnn_set_weight(m, 0, (float[]){0.5f, row1, row2}, 3);
        rnn_set_weight(m, 1, (float[]){0.25f, row1, row2}, 3);
        rnn_tensor y = {0};
        CHECK(rnn_predict(m, rnn_data_arrays(X, 2, NULL, 0), 1, &y, 1) == RNN_OK, "predict: %s",
              rnn_model_error(m));
        /* step 0: input 0 masked (id 0 -> 0.5), input 1 kept (3); step 1: input 0 kept (2),
         * input 1 masked (0.25) */
        const float want[6][2] = {
            {3.5f, 2.25f},  /* Add: plain sums */
            {-2.5f, 1.75f}, /* Subtract */
            {3, 2},         /* Multiply: a masked step counts as 1 */
            {1.75f, 1.125f},/* Average */
            {3, 2},         /* Maximum: the masked value is replaced by the other */
            {3, 2},         /* Minimum: likewise */
        };
        if (op <= RNN_MERGE_MINIMUM && y.data) {
            CHECK(y.data[0] == want[op][0] && y.data[1] == want[op][1],
                  "merge %d with masks: got %g %g, want %g %g", op, (double)y.data[0],
                  (double)y.data[1], (double)want[op][0], (double)want[op][1]);
            /* OR of the masks: both steps kept */
            const uint8_t *mask = rnn__model_output_mask(m, 0);
            CHECK(mask && mask[0] && mask[1], "merge %d: the output mask is not the OR", op);
        } else if (y.data) {
            const uint8_t *mask = rnn__model_output_mask(m, 0);
            CHECK(y.shape[1] == 4 && mask && !mask[0] && mask[1] && mask[2] && !mask[3],
                  "Concatenate(axis=1): the masks are not one after the other");
        }
        rnn_tensor_free(&y);
        rnn_model_free(m);
    }
}

int main(void) {
    unmasked();
    dot();
    masked();
    mask_values();
    return check_report("test_gradcheck_merge");
}
