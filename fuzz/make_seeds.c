/* Writes the seed corpora of the Keras harnesses from models librnn builds itself (so every
 * seed is ours to commit): .keras and .h5 files, and their config JSON (Keras 3 config.json and
 * the legacy model_config). Run from the repository root after `make`:
 *   cc -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc $(pkg-config --cflags hdf5 libzip \
 *     libcjson) -DRNN_WITH_KERAS_IO fuzz/make_seeds.c build/librnn.a $(pkg-config --libs hdf5 \
 *     libzip libcjson) -lopenblas -lm -lpthread -o build/make_seeds && build/make_seeds      */
#include <stdio.h>
#include <stdlib.h>

#include "io/keras_io.h"
#include "rnn.h"

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f || !text || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "make_seeds: cannot write %s\n", path);
        exit(1);
    }
}

static void emit(rnn_model *m, const char *name) {
    char path[256];
    rnn_compile(m, "mse", "adam");
    snprintf(path, sizeof path, "fuzz/corpus/fuzz_keras/%s.keras", name);
    if (rnn_save(m, path)) fprintf(stderr, "make_seeds: %s: %s\n", path, rnn_model_error(m));
    snprintf(path, sizeof path, "fuzz/corpus/fuzz_h5/%s.h5", name);
    if (rnn_save(m, path)) fprintf(stderr, "make_seeds: %s: %s\n", path, rnn_model_error(m));
    char *c = rnn__keras_config_json(m);
    snprintf(path, sizeof path, "fuzz/corpus/fuzz_keras_config/%s_config.json", name);
    write_text(path, c);
    free(c);
    c = rnn__keras_legacy_config_json(m);
    snprintf(path, sizeof path, "fuzz/corpus/fuzz_keras_config/%s_model_config.json", name);
    write_text(path, c);
    free(c);
    rnn_model_free(m);
}

int main(void) {
    rnn_model *m = rnn_sequential("lstm_dense");
    rnn_recurrent_options o = rnn_lstm_defaults(3);
    rnn_input(m, 4, 2);
    rnn_add(m, rnn_lstm(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    emit(m, "lstm_dense");

    m = rnn_sequential("gru_td");
    o = rnn_gru_defaults(2);
    o.return_sequences = 1;
    o.reset_after = 0;
    rnn_input(m, 3, 2);
    rnn_add(m, rnn_gru(&o));
    rnn_add(m, rnn_time_distributed(rnn_dense_simple(2, RNN_TANH)));
    emit(m, "gru_td");

    m = rnn_sequential("emb_simple_rnn");
    rnn_sequential_input(m, rnn_ids_input_new(RNN_NONE, 5, NULL));
    rnn_embedding_options e = rnn_embedding_defaults(10, 3);
    e.mask_zero = 1;
    rnn_add(m, rnn_embedding(&e));
    o = rnn_simple_rnn_defaults(2);
    o.go_backwards = 1;
    rnn_add(m, rnn_simple_rnn(&o));
    rnn_add(m, rnn_dense_simple(3, RNN_SOFTMAX));
    emit(m, "emb_simple_rnn");

    /* Functional: an encoder's states start a decoder (several inputs and outputs per call). */
    rnn_symbol *x = rnn_input_new(RNN_NONE, 4, 2, "enc_in");
    rnn_symbol *y = rnn_input_new(RNN_NONE, 3, 2, "dec_in");
    o = rnn_lstm_defaults(2);
    o.return_state = 1;
    rnn_symbol *enc[3], *dec[3];
    int n;
    rnn_call_ex(rnn_lstm(&o), &x, 1, enc, &n);
    o = rnn_lstm_defaults(2);
    o.return_sequences = 1;
    rnn_symbol *dec_in[3] = {y, enc[1], enc[2]};
    rnn_call_ex(rnn_lstm(&o), dec_in, 3, dec, &n);
    rnn_symbol *out = rnn_call(rnn_time_distributed(rnn_dense_simple(2, RNN_LINEAR)), dec[0]);
    rnn_symbol *ins[2] = {x, y};
    emit(rnn_model_new(ins, 2, &out, 1, "seq2seq"), "seq2seq");
    return 0;
}
