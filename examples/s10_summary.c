/* Scenario 10: reading a model. model.summary() of the models of examples s01..s09: each
 * layer's output shape (None = any batch size; then time steps, then units or features) and
 * its parameter count. The counts are checked against Keras's formulas:
 *   LSTM:  4 * (units * (features + units) + units)       (4 gates: input, forget, cell, output)
 *   GRU:   3 * (units * (features + units) + 2 * units)   (3 gates, reset_after=True: 2 biases)
 *   Dense: units * (features + 1);  Embedding: vocabulary * dim;  RepeatVector, Activation: 0. */
#include <stdio.h>
#include <rnn.h>

static long lstm_p(long f, long u) { return 4 * (u * (f + u) + u); }
static long gru_p(long f, long u) { return 3 * (u * (f + u) + 2 * u); }
static long dense_p(long f, long u) { return u * (f + 1); }

static int failures;
static void show(const char *title, rnn_model *m, long expected) {
    printf("\n== %s\n", title);
    if (rnn_summary(m, stdout)) {
        printf("summary failed: %s\n", rnn_model_error(m)); failures++; return;
    }
    long got = (long)rnn_count_params(m);
    printf("formula: %ld parameters -> %s\n", expected, got == expected ? "matches" : "MISMATCH");
    failures += got != expected;
}
static rnn_layer *lstm(int units, int seq, int stateful) {
    rnn_recurrent_options o = rnn_lstm_defaults(units);
    o.return_sequences = seq; o.stateful = stateful;
    return rnn_lstm(&o);
}
static rnn_model *seq_model(int batch, int steps, int features, rnn_layer *a, rnn_layer *b,
                            rnn_layer *c) {
    rnn_model *m = rnn_sequential(NULL);
    if (batch) rnn_batch_input(m, batch, steps, features); else rnn_input(m, steps, features);
    rnn_add(m, a); rnn_add(m, b);
    if (c) rnn_add(m, c);
    return m;
}

int main(void) {
    rnn_model *m[12];
    int k = 0;
    show("s01 window regression: input_shape=(3, 1)", m[k++] = seq_model(0, 3, 1, lstm(4, 0, 0),
         rnn_dense_simple(1, RNN_LINEAR), NULL), lstm_p(1, 4) + dense_p(4, 1));
    show("s02 stateful: batch_input_shape=(400, 1, 1)", m[k++] = seq_model(400, 1, 1, lstm(8, 0, 1),
         rnn_dense_simple(1, RNN_LINEAR), NULL), lstm_p(1, 8) + dense_p(8, 1));
    show("s03 multivariate: input_shape=(3, 5)", m[k++] = seq_model(0, 3, 5, lstm(32, 0, 0),
         rnn_dense_simple(1, RNN_LINEAR), NULL), lstm_p(5, 32) + dense_p(32, 1));
    show("s04 many-to-many: input_shape=(6, 5), return_sequences=True", m[k++] = seq_model(0, 6, 5,
         lstm(32, 1, 0), rnn_dense_simple(1, RNN_LINEAR), NULL), lstm_p(5, 32) + dense_p(32, 1));
    show("s05 variable length: input_shape=(None, 1)", m[k++] = seq_model(0, RNN_NONE, 1,
         lstm(16, 0, 0), rnn_dense_simple(1, RNN_LINEAR), NULL), lstm_p(1, 16) + dense_p(16, 1));
    show("s06 one-to-many: input_shape=(2,) -> RepeatVector(10)", m[k++] = seq_model(0, 0, 2,
         rnn_repeat_vector(10), lstm(32, 1, 0),
         rnn_time_distributed(rnn_dense_simple(1, RNN_LINEAR))), lstm_p(2, 32) + dense_p(32, 1));
    show("s07 forecasting: batch_input_shape=(8, None, 1), stateful", m[k++] = seq_model(8,
         RNN_NONE, 1, lstm(32, 1, 1), rnn_dense_simple(1, RNN_LINEAR), NULL),
         lstm_p(1, 32) + dense_p(32, 1));

    rnn_symbol *ein = rnn_input_new(RNN_NONE, 10, 2, NULL);
    rnn_model *enc = rnn_model_simple(ein, rnn_call(lstm(8, 0, 0), rnn_call(lstm(16, 1, 0),
                                      rnn_call(lstm(32, 1, 0), ein))), "encoder");
    rnn_symbol *din = rnn_input_new(RNN_NONE, 0, 8, NULL);
    rnn_model *dec = rnn_model_simple(din, rnn_call(lstm(2, 1, 0), rnn_call(lstm(16, 1, 0),
                                      rnn_call(rnn_repeat_vector(10), din))), "decoder");
    rnn_symbol *ain = rnn_input_new(RNN_NONE, 10, 2, NULL);
    rnn_model *ae = rnn_model_simple(ain, rnn_call_model(dec, rnn_call_model(enc, ain)),
                                     "autoencoder");
    long pe = lstm_p(2, 32) + lstm_p(32, 16) + lstm_p(16, 8), pd = lstm_p(8, 16) + lstm_p(16, 2);
    show("s08 encoder", enc, pe);
    show("s08 decoder", dec, pd);
    show("s08 autoencoder: the two models as layers", ae, pe + pd);

    enum { V = 65 }; /* tiny Shakespeare's vocabulary */
    rnn_symbol *in = rnn_ids_input_new(RNN_NONE, 100, NULL);
    rnn_embedding_options eo = rnn_embedding_defaults(V, 64);
    rnn_recurrent_options g1 = rnn_gru_defaults(512), g2 = rnn_gru_defaults(128);
    g1.return_sequences = g2.return_sequences = 1;
    rnn_symbol *h = rnn_call(rnn_embedding(&eo), in);
    h = rnn_call(rnn_gru(&g2), rnn_call(rnn_gru(&g1), h));
    h = rnn_call(rnn_time_distributed(rnn_dense_simple(V, RNN_LINEAR)), h);
    h = rnn_call(rnn_time_distributed(rnn_activation_layer(RNN_SOFTMAX)), h);
    rnn_model *cm = rnn_model_simple(in, h, "char_model");
    show("s09 character model: Input(batch_shape=(None, 100)) of ids, vocabulary 65", cm,
         V * 64 + gru_p(64, 512) + gru_p(512, 128) + dense_p(128, V));

    printf("\nLSTM(4) on 1 feature: 4 * (4 * (1 + 4) + 4) = %ld; GRU(512) on 64: %ld\n",
           lstm_p(1, 4), gru_p(64, 512));
    printf("%s\n", failures ? "FAILED: a parameter count differs from Keras's formula"
                            : "OK: every parameter count is Keras's");
    for (int i = 0; i < k; i++) rnn_model_free(m[i]);
    rnn_model_free(ae); rnn_model_free(enc); rnn_model_free(dec); rnn_model_free(cm);
    return failures != 0;
}
