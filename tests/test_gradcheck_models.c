/* Gradient checks of whole models by central differences over every weight: the layers and
 * options of the patterns (Embedding with mask_zero into each recurrent layer, TimeDistributed,
 * softmax, RepeatVector, Dropout, Activation, nested models, return_state outputs, initial
 * states, Bidirectional with every merge mode, Flatten) and every loss, through the same forward/backward the training step uses. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model.h"
#include "rnn.h"

static uint64_t seed_state = 12345;
static float frand(void) {
    seed_state = seed_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((seed_state >> 40) & 0xffffff) / 16777216.0f;
}

/* Loss at the current weights in `mode` (Dropout active in training: the model's generator is
 * reset before every evaluation so each sees the same dropout masks; the generator alone, as
 * rnn_set_seed on a built model also redraws its weights). */
static double loss_at(rnn_model *m, const rnn_tensor *x, int nx, const rnn_tensor *y, int ny,
                      rnn_run_mode mode) {
    rnn__rng_seed(&m->rng, 99);
    double loss = NAN;
    if (rnn__model_gradients(m, x, nx, y, ny, mode, &loss) != RNN_OK)
        fprintf(stderr, "loss failed: %s\n", rnn_last_error());
    return loss;
}

static void check_model(const char *name, rnn_model *m, const char *loss, const rnn_tensor *x,
                        int nx, const rnn_tensor *y, int ny, rnn_run_mode mode) {
    if (!m) {
        CHECK(0, "%s: model not built: %s", name, rnn_last_error());
        return;
    }
    /* "name:logits" compiles the loss with from_logits=True */
    char lname[64];
    snprintf(lname, sizeof lname, "%s", loss);
    char *colon = strchr(lname, ':');
    if (colon) *colon = '\0';
    CHECK(rnn_compile(m, lname, "sgd") == RNN_OK, "%s: compile: %s", name, rnn_last_error());
    if (colon) CHECK(rnn_set_from_logits(m, 1) == RNN_OK, "from_logits: %s", rnn_last_error());
    /* Non-zero biases and a bit of noise, so that no term hides. */
    /* (rnn__weight_changed after each change: the copies made from a weight, such as U's
     * panels on the team, are rebuilt when its version moves) */
    for (int w = 0; w < m->n_weights; w++) {
        for (int64_t i = 0; i < m->weights[w]->size; i++)
            m->weights[w]->value[i] += 0.2f * (frand() - 0.5f);
        rnn__weight_changed(m->weights[w]);
    }
    loss_at(m, x, nx, y, ny, mode);
    int total = 0, bad = 0, nonzero = 0;
    for (int w = 0; w < m->n_weights; w++) {
        rnn_weight *wt = m->weights[w];
        float *g = malloc(sizeof(float) * (size_t)wt->size);
        loss_at(m, x, nx, y, ny, mode);
        memcpy(g, wt->grad, sizeof(float) * (size_t)wt->size);
        /* At most 40 entries per weight keep the test fast. */
        int64_t stride = wt->size > 40 ? wt->size / 40 : 1;
        for (int64_t i = 0; i < wt->size; i += stride) {
            float keep = wt->value[i];
            const double eps = 3e-3; /* truncation ~eps^2, float32 noise ~1e-7/eps */
            wt->value[i] = keep + (float)eps;
            rnn__weight_changed(wt);
            double lp = loss_at(m, x, nx, y, ny, mode);
            wt->value[i] = keep - (float)eps;
            rnn__weight_changed(wt);
            double lm = loss_at(m, x, nx, y, ny, mode);
            wt->value[i] = keep;
            rnn__weight_changed(wt);
            double fd = (lp - lm) / (2 * eps);
            total++;
            nonzero += fabs(g[i]) > 1e-6;
            if (getenv("GC_DEBUG") && fabs(fd - g[i]) > 1e-5) fprintf(stderr, "%s %s[%lld] %g %g\n", name, wt->name, (long long)i, (double)g[i], fd);
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

static rnn_tensor random_tensor(float *buf, int rank, int64_t a, int64_t b, int64_t c, float lo,
                                float hi) {
    int64_t n = a * (rank > 1 ? b : 1) * (rank > 2 ? c : 1);
    for (int64_t i = 0; i < n; i++) buf[i] = lo + (hi - lo) * frand();
    return rank == 3 ? rnn_tensor3(buf, a, b, c) : rank == 2 ? rnn_tensor2(buf, a, b) : rnn_tensor1(buf, a);
}

/* Embedding(mask_zero) -> recurrent(return_sequences) -> TimeDistributed(Dense softmax),
 * sparse categorical cross-entropy: masked steps carry the state and leave the loss. */
static void masked_text_models(void) {
    enum { B = 3, T = 6, V = 7 };
    static float ids[B * T], y[B * T];
    for (int i = 0; i < B * T; i++) {
        ids[i] = (float)(1 + (int)(frand() * (V - 1)));
        y[i] = (float)(int)(frand() * V);
    }
    ids[4] = ids[5] = 0; /* right padding in row 0 */
    ids[6] = 0;          /* left padding in row 1 */
    ids[2 * T + 2] = 0;  /* a masked step inside row 2: state and gradient pass through */
    rnn_tensor X = rnn_tensor2(ids, B, T), Y = rnn_tensor2(y, B, T);
    const char *kinds[] = {"LSTM", "GRU", "GRU(reset_after=False)", "SimpleRNN"};
    for (int k = 0; k < 4; k++) {
        rnn_symbol *in = rnn_ids_input_new(RNN_NONE, RNN_NONE, NULL);
        rnn_embedding_options eo = rnn_embedding_defaults(V, 4);
        eo.mask_zero = 1;
        rnn_symbol *h = rnn_call(rnn_embedding(&eo), in);
        rnn_recurrent_options o = k == 0 ? rnn_lstm_defaults(5) : k < 3 ? rnn_gru_defaults(5)
                                                                         : rnn_simple_rnn_defaults(5);
        o.return_sequences = 1;
        if (k == 2) o.reset_after = 0;
        rnn_layer *rl = k == 0 ? rnn_lstm(&o) : k < 3 ? rnn_gru(&o) : rnn_simple_rnn(&o);
        h = rnn_call(rl, h);
        rnn_dense_options d = rnn_dense_defaults(V);
        d.activation = RNN_SOFTMAX;
        rnn_symbol *out = rnn_call(rnn_time_distributed(rnn_dense(&d)), h);
        char name[96];
        snprintf(name, sizeof name, "Embedding(mask_zero) -> %s -> TimeDistributed(Dense softmax)", kinds[k]);
        check_model(name, rnn_model_simple(in, out, NULL), "sparse_categorical_crossentropy", &X,
                    1, &Y, 1, RNN_MODE_TRAIN);
    }
    /* go_backwards with a mask, many-to-one, logits */
    rnn_symbol *in = rnn_ids_input_new(RNN_NONE, T, NULL);
    rnn_embedding_options eo = rnn_embedding_defaults(V, 3);
    eo.mask_zero = 1;
    rnn_recurrent_options o = rnn_gru_defaults(4);
    o.go_backwards = 1;
    rnn_symbol *out = rnn_call(rnn_dense_simple(V, RNN_LINEAR),
                               rnn_call(rnn_gru(&o), rnn_call(rnn_embedding(&eo), in)));
    float yl[B] = {1, 2, 3};
    rnn_tensor Yl = rnn_tensor1(yl, B);
    check_model("Embedding(mask_zero) -> GRU(go_backwards) -> Dense logits", 
                rnn_model_simple(in, out, NULL), "sparse_categorical_crossentropy:logits", &X, 1,
                &Yl, 1, RNN_MODE_TRAIN);
}

/* Sequence autoencoder from nested models (scenario 8): encoder and decoder are models used
 * as layers of the autoencoder. */
static void nested_autoencoder(void) {
    enum { B = 2, T = 4, F = 3 };
    static float x[B * T * F];
    rnn_tensor X = random_tensor(x, 3, B, T, F, -1, 1);
    rnn_symbol *ein = rnn_input_new(RNN_NONE, T, F, "encoder_input");
    rnn_recurrent_options a = rnn_lstm_defaults(5);
    a.return_sequences = 1;
    rnn_recurrent_options b = rnn_lstm_defaults(3);
    rnn_model *encoder = rnn_model_simple(ein, rnn_call(rnn_lstm(&b), rnn_call(rnn_lstm(&a), ein)),
                                          "encoder");
    rnn_symbol *din = rnn_input_new(RNN_NONE, 0, 3, "decoder_input");
    rnn_recurrent_options c = rnn_gru_defaults(4);
    c.return_sequences = 1;
    rnn_symbol *dec = rnn_call(rnn_gru(&c), rnn_call(rnn_repeat_vector(T), din));
    dec = rnn_call(rnn_time_distributed(rnn_dense_simple(F, RNN_TANH)), dec);
    rnn_model *decoder = rnn_model_simple(din, dec, "decoder");
    rnn_symbol *ain = rnn_input_new(RNN_NONE, T, F, NULL);
    rnn_model *auto_enc = rnn_model_simple(ain, rnn_call_model(decoder, rnn_call_model(encoder, ain)),
                                           "autoencoder");
    check_model("nested autoencoder (LSTM, LSTM | RepeatVector, GRU, TimeDistributed)", auto_enc,
                "mse", &X, 1, &X, 1, RNN_MODE_TRAIN);
    rnn_model_free(encoder);
    rnn_model_free(decoder);
}

/* Recurrent layers right after a RepeatVector (B6's decoder): their weight gradients sum the
 * steps' dZ first and their input gradient reaches the RepeatVector as the sum over the steps
 * in one step (recurrent.c). Each kind; go_backwards; input dropout (its mask is the same at
 * every step); a Bidirectional; the RepeatVector's output used by two layers whose input
 * gradients are added (an LSTM and a TimeDistributed Dense, merged by Add). */
static void repeat_vector_decoders(void) {
    enum { B = 3, T = 4, F = 3 };
    static float x[B * T * F];
    rnn_tensor X = random_tensor(x, 3, B, T, F, -1, 1);
    for (int k = 0; k < 7; k++) {
        rnn_symbol *in = rnn_input_new(RNN_NONE, T, F, NULL);
        rnn_recurrent_options e = rnn_lstm_defaults(5);
        rnn_symbol *rep = rnn_call(rnn_repeat_vector(T), rnn_call(rnn_lstm(&e), in));
        rnn_recurrent_options d = k == 1 ? rnn_gru_defaults(4)
                                  : k == 2 ? rnn_simple_rnn_defaults(4) : rnn_lstm_defaults(4);
        d.return_sequences = 1;
        if (k == 3) d.go_backwards = 1;
        if (k == 4) d.dropout = 0.4f;
        rnn_layer *dl = k == 1 ? rnn_gru(&d) : k == 2 ? rnn_simple_rnn(&d) : rnn_lstm(&d);
        rnn_symbol *seq;
        if (k == 5) {
            seq = rnn_call(rnn_bidirectional(dl, "concat"), rep);
        } else if (k == 6) {
            rnn_symbol *both[2] = {rnn_call(dl, rep),
                                   rnn_call(rnn_time_distributed(rnn_dense_simple(4, RNN_TANH)), rep)};
            rnn_symbol *sum[1];
            int n = 0;
            rnn_status st = rnn_call_ex(rnn_merge(RNN_MERGE_ADD), both, 2, sum, &n);
            CHECK(st == RNN_OK && n == 1, "Add: %s", rnn_last_error());
            seq = sum[0];
        } else {
            seq = rnn_call(dl, rep);
        }
        rnn_symbol *out = rnn_call(rnn_time_distributed(rnn_dense_simple(F, RNN_LINEAR)), seq);
        static const char *names[] = {
            "LSTM -> RepeatVector -> LSTM", "LSTM -> RepeatVector -> GRU",
            "LSTM -> RepeatVector -> SimpleRNN", "LSTM -> RepeatVector -> LSTM(go_backwards)",
            "LSTM -> RepeatVector -> LSTM(dropout=0.4)",
            "LSTM -> RepeatVector -> Bidirectional(LSTM)",
            "LSTM -> RepeatVector -> Add(LSTM, TimeDistributed(Dense))"};
        check_model(names[k], rnn_model_simple(in, out, NULL), "mse", &X, 1, &X, 1,
                    RNN_MODE_TRAIN);
    }
}

/* return_state outputs, initial states, two outputs with their losses summed. */
static void states_and_outputs(void) {
    enum { B = 3, T = 5, F = 2 };
    static float x[B * T * F], x2[B * T * F], y1[B * 2], y2[B * 4];
    rnn_tensor X[2] = {random_tensor(x, 3, B, T, F, -1, 1), random_tensor(x2, 3, B, T, F, -1, 1)};
    rnn_tensor Y[2] = {random_tensor(y1, 2, B, 2, 0, -1, 1), random_tensor(y2, 2, B, 4, 0, -1, 1)};
    for (int cell = 0; cell < 2; cell++) {
        rnn_symbol *enc_in = rnn_input_new(RNN_NONE, T, F, NULL);
        rnn_symbol *dec_in = rnn_input_new(RNN_NONE, T, F, NULL);
        rnn_recurrent_options o = cell ? rnn_gru_defaults(4) : rnn_lstm_defaults(4);
        o.return_state = 1;
        rnn_symbol *enc[3], *dec[3];
        int n;
        rnn_status st = rnn_call_ex(cell ? rnn_gru(&o) : rnn_lstm(&o), &enc_in, 1, enc, &n);
        CHECK(st == RNN_OK && n == (cell ? 2 : 3), "return_state outputs: %d", n);
        rnn_recurrent_options d = cell ? rnn_gru_defaults(4) : rnn_lstm_defaults(4);
        d.go_backwards = 1;
        rnn_symbol *dec_inputs[3] = {dec_in, enc[1], cell ? NULL : enc[2]};
        st = rnn_call_ex(cell ? rnn_gru(&d) : rnn_lstm(&d), dec_inputs, cell ? 2 : 3, dec, &n);
        CHECK(st == RNN_OK, "initial_state call: %s", rnn_last_error());
        rnn_symbol *ins[2] = {enc_in, dec_in};
        rnn_symbol *outs[2] = {rnn_call(rnn_dense_simple(2, RNN_LINEAR), dec[0]), enc[0]};
        check_model(cell ? "GRU return_state -> initial_state, two outputs"
                         : "LSTM return_state [h, c] -> initial_state, two outputs",
                    rnn_model_new(ins, 2, outs, 2, NULL), "mse", X, 2, Y, 2, RNN_MODE_TRAIN);
    }
}

/* An LSTM's initial state on the team's backward pass (lstm.c; 16 units and 8 rows on 2
 * threads: split by units, U^T on panels), where dh after the steps is the initial state's
 * gradient: the encoder's weights learn only through it (the team's backward leaves dZ_0 U^T
 * out when there is no initial state). */
static void initial_state_on_team(void) {
    enum { B = 8, T = 5, F = 2, U = 16 };
    static float x[B * T * F], x2[B * T * F], y[B * 2];
    rnn_set_threads(2);
    rnn_tensor X[2] = {random_tensor(x, 3, B, T, F, -1, 1), random_tensor(x2, 3, B, T, F, -1, 1)};
    rnn_tensor Y = random_tensor(y, 2, B, 2, 0, -1, 1);
    rnn_symbol *enc_in = rnn_input_new(RNN_NONE, T, F, NULL);
    rnn_symbol *dec_in = rnn_input_new(RNN_NONE, T, F, NULL);
    rnn_recurrent_options o = rnn_lstm_defaults(U);
    o.return_state = 1;
    rnn_symbol *enc[3], *dec[3];
    int n;
    rnn_status st = rnn_call_ex(rnn_lstm(&o), &enc_in, 1, enc, &n);
    CHECK(st == RNN_OK && n == 3, "team initial state: encoder outputs %d", n);
    rnn_recurrent_options d = rnn_lstm_defaults(U);
    rnn_symbol *dec_inputs[3] = {dec_in, enc[1], enc[2]};
    st = rnn_call_ex(rnn_lstm(&d), dec_inputs, 3, dec, &n);
    CHECK(st == RNN_OK, "team initial state: decoder: %s", rnn_last_error());
    rnn_symbol *ins[2] = {enc_in, dec_in};
    rnn_symbol *out = rnn_call(rnn_dense_simple(2, RNN_LINEAR), dec[0]);
    check_model("LSTM(16) states -> initial_state of LSTM(16), 2 threads",
                rnn_model_new(ins, 2, &out, 1, NULL), "mse", X, 2, &Y, 1, RNN_MODE_TRAIN);
    rnn_set_threads(0);
}

/* Activation, Dropout (fixed masks), Dense softmax with each probability loss. */
static void activations_and_losses(void) {
    enum { B = 4, T = 3, F = 3, C = 4 };
    static float x[B * T * F], yd[B * C], yb[B * C];
    rnn_tensor X = random_tensor(x, 3, B, T, F, -1, 1);
    for (int i = 0; i < B * C; i++) yd[i] = 0.0f;
    for (int b = 0; b < B; b++) yd[b * C + b % C] = 1.0f;
    rnn_tensor Yd = rnn_tensor2(yd, B, C), Yb = random_tensor(yb, 2, B, C, 0, 0, 1);
    const char *losses[] = {"categorical_crossentropy", "kullback_leibler_divergence",
                            "binary_crossentropy", "mean_absolute_error"};
    for (int l = 0; l < 4; l++) {
        rnn_symbol *in = rnn_input_new(RNN_NONE, T, F, NULL);
        rnn_recurrent_options o = rnn_simple_rnn_defaults(5);
        rnn_symbol *h = rnn_call(rnn_dropout(0.3f), rnn_call(rnn_simple_rnn(&o), in));
        h = rnn_call(rnn_activation_layer(RNN_ELU), rnn_call(rnn_dense_simple(6, RNN_LINEAR), h));
        rnn_symbol *out = rnn_call(rnn_activation_layer(l == 2 ? RNN_SIGMOID : RNN_SOFTMAX),
                                   rnn_call(rnn_dense_simple(C, RNN_LINEAR), h));
        char name[96];
        snprintf(name, sizeof name, "Dropout/Activation/softmax with %s", losses[l]);
        check_model(name, rnn_model_simple(in, out, NULL), losses[l], &X, 1, l == 2 ? &Yb : &Yd,
                    1, RNN_MODE_TRAIN);
    }
}

/* dropout and recurrent_dropout (masks fixed by reseeding before every evaluation), with a
 * time mask too: every cell kind. */
static void recurrent_dropout_models(void) {
    enum { B = 3, T = 5, V = 6 };
    static float ids[B * T], y[B * T];
    for (int i = 0; i < B * T; i++) {
        ids[i] = (float)(1 + (int)(frand() * (V - 1)));
        y[i] = frand();
    }
    ids[7] = 0;
    rnn_tensor X = rnn_tensor2(ids, B, T), Y = rnn_tensor3(y, B, T, 1);
    const char *kinds[] = {"LSTM", "GRU", "GRU(reset_after=False)", "SimpleRNN"};
    for (int k = 0; k < 4; k++) {
        rnn_symbol *in = rnn_ids_input_new(RNN_NONE, T, NULL);
        rnn_embedding_options eo = rnn_embedding_defaults(V, 4);
        eo.mask_zero = 1;
        rnn_recurrent_options o = k == 0 ? rnn_lstm_defaults(5) : k < 3 ? rnn_gru_defaults(5)
                                                                         : rnn_simple_rnn_defaults(5);
        o.return_sequences = 1;
        o.dropout = 0.3f;
        o.recurrent_dropout = 0.4f;
        if (k == 2) o.reset_after = 0;
        rnn_layer *rl = k == 0 ? rnn_lstm(&o) : k < 3 ? rnn_gru(&o) : rnn_simple_rnn(&o);
        rnn_symbol *out = rnn_call(rnn_dense_simple(1, RNN_LINEAR),
                                   rnn_call(rl, rnn_call(rnn_embedding(&eo), in)));
        char name[96];
        snprintf(name, sizeof name, "%s(dropout=0.3, recurrent_dropout=0.4) under a mask", kinds[k]);
        check_model(name, rnn_model_simple(in, out, NULL), "mse", &X, 1, &Y, 1, RNN_MODE_TRAIN);
    }
}

/* Masking(0): all-zero steps (inside and at the ends) are skipped by the LSTM and the loss. */
static void masking_model(void) {
    enum { B = 3, T = 6, F = 2 };
    static float x[B * T * F], y[B * T];
    for (int i = 0; i < B * T * F; i++) x[i] = frand() * 2 - 1;
    for (int i = 0; i < B * T; i++) y[i] = frand();
    int masked[][2] = {{0, 0}, {0, 5}, {1, 2}, {2, 3}, {2, 4}};
    for (size_t k = 0; k < sizeof masked / sizeof masked[0]; k++)
        for (int f = 0; f < F; f++) x[(masked[k][0] * T + masked[k][1]) * F + f] = 0.0f;
    rnn_tensor X = rnn_tensor3(x, B, T, F), Y = rnn_tensor3(y, B, T, 1);
    rnn_symbol *in = rnn_input_new(RNN_NONE, T, F, NULL);
    rnn_recurrent_options o = rnn_lstm_defaults(4);
    o.return_sequences = 1;
    rnn_symbol *out = rnn_call(rnn_dense_simple(1, RNN_LINEAR),
                               rnn_call(rnn_lstm(&o), rnn_call(rnn_masking(0.0f), in)));
    check_model("Masking(0) -> LSTM(return_sequences) -> Dense", rnn_model_simple(in, out, NULL),
                "mse", &X, 1, &Y, 1, RNN_MODE_TRAIN);
}

/* Conv1D stacks over unknown steps whose length the convolutions change (9 -> 4 steps, the
 * target has the output's length), with a Masking mask in front that Conv1D drops (Keras 3): the
 * LSTM and the loss see every step. */
static void conv1d_models(void) {
    enum { B = 3, T = 9, F = 2, TO = 4 };
    static float x[B * T * F], y[B * TO];
    for (int i = 0; i < B * T * F; i++) x[i] = frand() * 2 - 1;
    for (int i = 0; i < B * TO; i++) y[i] = frand();
    for (int f = 0; f < F; f++) x[(1 * T + 4) * F + f] = 0.0f; /* a step Masking(0) masks */
    rnn_tensor X = rnn_tensor3(x, B, T, F), Y = rnn_tensor3(y, B, TO, 1);
    for (int masked = 0; masked < 2; masked++) {
        rnn_symbol *in = rnn_input_new(RNN_NONE, RNN_NONE, F, NULL);
        rnn_symbol *h = masked ? rnn_call(rnn_masking(0.0f), in) : in;
        rnn_conv1d_options a = rnn_conv1d_defaults(3, 3);
        a.strides = 2;
        a.activation = RNN_TANH;
        rnn_conv1d_options b = rnn_conv1d_defaults(3, 2);
        b.padding = RNN_PADDING_CAUSAL;
        b.dilation_rate = 2;
        b.use_bias = 0;
        h = rnn_call(rnn_conv1d(&b), rnn_call(rnn_conv1d(&a), h));
        rnn_recurrent_options o = rnn_gru_defaults(3);
        o.return_sequences = 1;
        rnn_symbol *out = rnn_call(rnn_dense_simple(1, RNN_LINEAR), rnn_call(rnn_gru(&o), h));
        check_model(masked ? "Masking -> Conv1D(strides 2) -> Conv1D(causal, dilation 2) -> GRU -> Dense"
                           : "Conv1D(strides 2) -> Conv1D(causal, dilation 2) -> GRU -> Dense",
                    rnn_model_simple(in, out, NULL), "mse", &X, 1, &Y, 1, RNN_MODE_TRAIN);
    }
}

/* Bidirectional over each cell kind, with each merge mode, returning sequences or not, under a
 * Masking mask (masked steps at the start, inside and at the end); sequences go through Flatten
 * so the loss also sees the zeros Bidirectional outputs at masked steps. None has two outputs
 * with a loss each. Then an unmasked LSTM with an initial state and return_state, and a stack. */
static void bidirectional_models(void) {
    enum { B = 3, T = 5, F = 2, U = 3 };
    static float x[B * T * F], y[2][B * T * 2 * U];
    for (int i = 0; i < B * T * F; i++) x[i] = frand() * 2 - 1;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < B * T * 2 * U; i++) y[k][i] = frand() - 0.5f;
    int masked[][2] = {{0, 4}, {1, 0}, {2, 2}};
    for (size_t k = 0; k < sizeof masked / sizeof masked[0]; k++)
        for (int f = 0; f < F; f++) x[(masked[k][0] * T + masked[k][1]) * F + f] = 0.0f;
    rnn_tensor X = rnn_tensor3(x, B, T, F);
    const char *kinds[] = {"LSTM", "GRU", "SimpleRNN"};
    const char *modes[] = {"concat", "sum", "mul", "ave", NULL};
    for (int k = 0; k < 3; k++)
        for (int mode = 0; mode < 5; mode++)
            for (int seq = 0; seq < 2; seq++) {
                rnn_recurrent_options o = k == 0 ? rnn_lstm_defaults(U) : k == 1
                                              ? rnn_gru_defaults(U) : rnn_simple_rnn_defaults(U);
                o.return_sequences = seq;
                rnn_layer *rl = k == 0 ? rnn_lstm(&o) : k == 1 ? rnn_gru(&o) : rnn_simple_rnn(&o);
                rnn_symbol *in = rnn_input_new(RNN_NONE, T, F, NULL);
                rnn_symbol *m = rnn_call(rnn_masking(0.0f), in), *outs[6];
                int n = 0;
                rnn_status st = rnn_call_ex(rnn_bidirectional(rl, modes[mode]), &m, 1, outs, &n);
                CHECK(st == RNN_OK && n == (modes[mode] ? 1 : 2), "Bidirectional call: %s (%d)",
                      rnn_last_error(), n);
                if (st) continue;
                rnn_tensor Y[2];
                for (int j = 0; j < n; j++) {
                    if (seq) outs[j] = rnn_call(rnn_flatten(), outs[j]);
                    int64_t w = (mode == 0 ? 2 * U : U) * (seq ? T : 1);
                    Y[j] = rnn_tensor2(y[j], B, w);
                }
                char name[128];
                snprintf(name, sizeof name, "Masking -> Bidirectional(%s%s, merge_mode=%s)%s",
                         kinds[k], seq ? "(return_sequences)" : "",
                         modes[mode] ? modes[mode] : "None", seq ? " -> Flatten" : "");
                check_model(name, rnn_model_new(&in, 1, outs, n, NULL), "mse", &X, 1, Y, n,
                            RNN_MODE_TRAIN);
            }
    /* LSTM with initial_state [h_f, c_f, h_b, c_b] and return_state, no mask. */
    static float s[4][B * U], y1[B * T * U], y2[B * U];
    rnn_symbol *ins[5];
    rnn_tensor Xs[5] = {X};
    ins[0] = rnn_input_new(RNN_NONE, T, F, NULL);
    for (int k = 0; k < 4; k++) {
        ins[1 + k] = rnn_input_new(RNN_NONE, 0, U, NULL);
        Xs[1 + k] = random_tensor(s[k], 2, B, U, 0, -1, 1);
    }
    rnn_recurrent_options o = rnn_lstm_defaults(U);
    o.return_sequences = o.return_state = 1;
    rnn_symbol *outs[6];
    int n = 0;
    rnn_status st = rnn_call_ex(rnn_bidirectional(rnn_lstm(&o), "ave"), ins, 5, outs, &n);
    CHECK(st == RNN_OK && n == 5, "Bidirectional(LSTM) with initial_state: %s (%d outputs)",
          rnn_last_error(), n);
    if (!st) {
        rnn_symbol *mo[2] = {outs[0], outs[3]}; /* the sequence and the backward h */
        rnn_tensor Y[2] = {random_tensor(y1, 3, B, T, U, -1, 1), random_tensor(y2, 2, B, U, 0, -1, 1)};
        check_model("Bidirectional(LSTM, ave) with initial_state and return_state",
                    rnn_model_new(ins, 5, mo, 2, NULL), "mse", Xs, 5, Y, 2, RNN_MODE_TRAIN);
    }
    /* Sequential: Bidirectional(LSTM(return_sequences)) -> Bidirectional(GRU) -> Dense */
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options a = rnn_lstm_defaults(U), g = rnn_gru_defaults(2);
    a.return_sequences = 1;
    st = rnn_input(m, T, F);
    if (!st) st = rnn_add(m, rnn_bidirectional(rnn_lstm(&a), "concat"));
    if (!st) st = rnn_add(m, rnn_bidirectional(rnn_gru(&g), "sum"));
    if (!st) st = rnn_add(m, rnn_dense_simple(2, RNN_LINEAR));
    CHECK(st == RNN_OK, "stacked Bidirectional: %s", rnn_model_error(m));
    rnn_tensor Y = rnn_tensor2(y[0], B, 2);
    check_model("Bidirectional(LSTM seq, concat) -> Bidirectional(GRU, sum) -> Dense", m, "mse",
                &X, 1, &Y, 1, RNN_MODE_TRAIN);
}

int main(void) {
    bidirectional_models();
    masking_model();
    conv1d_models();
    recurrent_dropout_models();
    masked_text_models();
    nested_autoencoder();
    repeat_vector_decoders();
    states_and_outputs();
    initial_state_on_team();
    activations_and_losses();
    return check_report("test_gradcheck_models");
}
