/* Scenario 9: a character-level language model.
 * Each character is an integer id; a batch is [32 sequences, 50 steps] of ids and the target
 * is the same text one character later. Model (Keras's functional API):
 *   Input(batch_shape=(None, 50)) -> Embedding(vocab, 64) -> GRU(512, return_sequences)
 *   -> GRU(128, return_sequences) -> TimeDistributed(Dense(vocab))
 *   -> TimeDistributed(Activation('softmax')): [32, 50, vocab] probabilities,
 * sparse categorical cross-entropy, Adam(lr=0.009, decay=0.01), a FIXED number of steps.
 * The yardstick is the unigram entropy of the text: the loss of a model that knows only how
 * often each character occurs. Then the trained weights go into a stateful batch-1 copy
 * (batch_shape=(1, 1)) that writes text one character at a time: predict on [1, 1] ids gives
 * [1, 1, vocab] probabilities, rnn_sample draws the next character at temperature 0.8.
 * Data: argv[1], else ../shared/data/tinyshakespeare.txt, else a short built-in text.
 * RNN_QUICK=1: GRU(128) -> GRU(64), 200 steps; otherwise the sizes above and 1000 steps.
 * Checks: the loss on held-out text (the last 10 %; for a text under 20000 characters, the
 * training loss) ends clearly (0.5 nats) below the unigram entropy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <rnn.h>
#include "gallery.h"

enum { B = 32, SEQ = 50 };

static const char builtin[] = /* Shakespeare, Sonnet 18 (public domain) */
    "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate:\n"
    "Rough winds do shake the darling buds of May,\n"
    "And summer's lease hath all too short a date;\n"
    "Sometime too hot the eye of heaven shines,\nAnd often is his gold complexion dimm'd;\n"
    "And every fair from fair sometime declines,\n"
    "By chance or nature's changing course untrimm'd;\n"
    "But thy eternal summer shall not fade,\nNor lose possession of that fair thou ow'st;\n"
    "Nor shall death brag thou wander'st in his shade,\n"
    "When in eternal lines to time thou grow'st:\n"
    "So long as men can breathe or eyes can see,\n"
    "So long lives this, and this gives life to thee.\n";

static rnn_model *char_model(int V, int batch, int steps, int g1, int g2, int stateful) {
    rnn_symbol *in = rnn_ids_input_new(batch, steps, NULL);
    rnn_recurrent_options a = rnn_gru_defaults(g1), b = rnn_gru_defaults(g2);
    a.return_sequences = b.return_sequences = 1;
    a.stateful = b.stateful = stateful;
    rnn_embedding_options e = rnn_embedding_defaults(V, 64);
    rnn_symbol *h = rnn_call(rnn_gru(&b), rnn_call(rnn_gru(&a), rnn_call(rnn_embedding(&e), in)));
    h = rnn_call(rnn_time_distributed(rnn_dense_simple(V, RNN_LINEAR)), h);
    h = rnn_call(rnn_time_distributed(rnn_activation_layer(RNN_SOFTMAX)), h);
    return rnn_model_simple(in, h, NULL);
}

int main(int argc, char **argv) {
    int quick = getenv("RNN_QUICK") && atoi(getenv("RNN_QUICK"));
    const char *path = argc > 1 ? argv[1] : "../shared/data/tinyshakespeare.txt";
    if (getenv("RNN_GALLERY")) path = ""; /* make gallery: the built-in text everywhere */
    FILE *fp = fopen(path, "rb");
    char *text = NULL;
    long n = 0;
    if (fp && !fseek(fp, 0, SEEK_END) && (n = ftell(fp)) > 2 * SEQ && !fseek(fp, 0, SEEK_SET)) {
        text = malloc(n);
        n = (long)fread(text, 1, n, fp);
    } else {
        path = "the built-in sonnet";
        n = (long)strlen(builtin);
        text = memcpy(malloc(n), builtin, n);
    }
    if (fp) fclose(fp);
    int id_of[256] = {0}, V = 0;                  /* vocabulary: the bytes that occur, sorted */
    double count[256] = {0}, entropy = 0;
    unsigned char ch_of[256];
    for (long i = 0; i < n; i++) count[(unsigned char)text[i]]++;
    for (int c = 0; c < 256; c++)
        if (count[c]) {
            id_of[c] = V, ch_of[V++] = (unsigned char)c;
            entropy -= count[c] / n * log(count[c] / n);
        }
#define ID(i) ((float)id_of[(unsigned char)text[i]]) /* the id of the i-th character */
    int g1 = quick ? 128 : 512, g2 = quick ? 64 : 128, steps = quick ? 200 : 1000;
    int held = n >= 20000;                        /* a large text: the last 10 % is held out */
    long train_end = held ? n - n / 10 : n;
    rnn_model *m = char_model(V, RNN_NONE, SEQ, g1, g2, 0);
    if (gallery(m, "s09_char_model")) return 0; /* make gallery */
    rnn_optimizer adam = rnn_adam_defaults();
    adam.learning_rate = 0.009f; adam.decay = 0.01f;
    if (!m || rnn_compile_with(m, "sparse_categorical_crossentropy", &adam)) {
        fprintf(stderr, "%s\n", rnn_last_error()); return 1;
    }
    static float x[B * SEQ], y[B * SEQ], hx[B * SEQ], hy[B * SEQ];
    uint64_t rng = 9;
    for (int b = 0; held && b < B; b++) {         /* one fixed held-out batch */
        long s = train_end + (long)((n - train_end - SEQ - 1) * (b + 0.5) / B);
        for (int t = 0; t < SEQ; t++)
            hx[b * SEQ + t] = ID(s + t), hy[b * SEQ + t] = ID(s + t + 1);
    }
    rnn_tensor HX = rnn_tensor2(hx, B, SEQ), HY = rnn_tensor2(hy, B, SEQ);
    double held_before = 0, held_after = 0, loss, first = 0, last = 0;
    if (held) rnn_evaluate(m, rnn_data_xy(HX, HY), B, &held_before, NULL);
    printf("text: %s, %ld characters, vocabulary %d; unigram entropy %.3f nats\n", path, n, V,
           entropy);
    printf("training%s: GRU(%d) -> GRU(%d), batches [%d, %d] of ids -> [%d, %d, %d] "
           "probabilities, %d steps\n", quick ? " (quick)" : "", g1, g2, B, SEQ, B, SEQ, V, steps);
    for (int k = 0; k < steps; k++) {
        for (int b = 0; b < B; b++) {             /* random windows of the training text */
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            long s = (long)((rng >> 33) % (uint64_t)(train_end - SEQ - 1));
            for (int t = 0; t < SEQ; t++)
                x[b * SEQ + t] = ID(s + t), y[b * SEQ + t] = ID(s + t + 1);
        }
        if (rnn_train_on_batch(m, rnn_data_xy(rnn_tensor2(x, B, SEQ), rnn_tensor2(y, B, SEQ)),
                               &loss)) {
            fprintf(stderr, "%s\n", rnn_model_error(m)); return 1;
        }
        if (k < 10) first += loss / 10;
        if (k >= steps - 10) last += loss / 10;
    }
    printf("training loss (first 10 steps -> last 10): %.3f -> %.3f nats per character\n", first,
           last);
    if (held) {
        rnn_evaluate(m, rnn_data_xy(HX, HY), B, &held_after, NULL);
        printf("held-out loss (text the model never saw): %.3f -> %.3f (unigram entropy %.3f)\n",
               held_before, held_after, entropy);
    } else {
        printf("(text too short to hold a part out: the loss shows memorisation)\n");
    }

    /* A stateful batch-1 copy with the trained weights writes new text. */
    rnn_model *gen = char_model(V, 1, 1, g1, g2, 1);
    if (!gen || rnn_copy_weights(gen, m)) { fprintf(stderr, "%s\n", rnn_last_error()); return 1; }
    rnn_reset_states(gen);
    float id = ID(0);
    rnn_tensor p;
    uint64_t sample_state = 42;
    printf("sampled at temperature 0.8:\n----\n%c", text[0]);
    for (int i = 0; i < 200; i++) {
        if (rnn_predict(gen, rnn_data_x(rnn_tensor2(&id, 1, 1)), 1, &p, 1)) {  /* [1, 1] -> [1, 1, vocab] */
            fprintf(stderr, "%s\n", rnn_model_error(gen)); return 1;
        }
        int next = rnn_sample(p.data, V, 0.8f, &sample_state);
        rnn_tensor_free(&p);
        putchar(ch_of[next]);
        id = (float)next;
    }
    rnn_reset_states(gen);
    int ok = (held ? held_after : last) < entropy - 0.5;
    printf("\n----\n%s\n", ok ? "OK: the model predicts characters far better than frequencies do"
                              : "FAILED: the loss did not fall clearly below the unigram entropy");
    rnn_model_free(gen); rnn_model_free(m); free(text);
    return !ok;
}
