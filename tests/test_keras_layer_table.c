/* The Keras layer table (src/io/keras_layers.c, one row per Keras class):
 *  - every row has a class name, a reader and a writer, no class has two rows, and
 *    rnn__keras_layer_class finds each row by its name (and nothing for other names);
 *  - every row's class round-trips: a model holding a layer of that class with options other
 *    than the defaults, saved as .keras and as legacy .h5 and loaded back, writes the same
 *    config and predicts the same bits, and the layer's written config holds those options;
 *  - every row has a sample model here and every sample a row, so a class added to the table
 *    without a round-trip sample fails this test.
 * Built without the Keras libraries (KERAS_IO=none) there is no table: the test says so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "rnn.h"

#ifndef RNN_WITH_KERAS_IO
int main(void) {
    printf("test_keras_layer_table: built without Keras I/O (KERAS_IO=none): no table to test\n");
    CHECK(rnn_load("x.keras") == NULL && strstr(rnn_last_error(), "KERAS_IO"), "%s",
          rnn_last_error());
    return check_report("test_keras_layer_table");
}
#else
#include <cJSON.h>

#include "io/keras_layers.h"
#include "layers/layer.h" /* RNN_LAYER_MAX_OUTPUTS */

#define BATCH 2
#define STEPS 6
#define FEATURES 3
#define VOCAB 10

static char tmpdir[256];

/* A Sequential model over [BATCH, STEPS, FEATURES] (ids: [BATCH, STEPS] token ids). */
static rnn_model *seq(int ids) {
    rnn_model *m = rnn_sequential(NULL);
    if (ids) rnn_sequential_input(m, rnn_ids_input_new(RNN_NONE, STEPS, NULL));
    else rnn_input(m, STEPS, FEATURES);
    return m;
}

/* The model with layer a, then b (if not NULL), added. */
static rnn_model *with(rnn_model *m, rnn_layer *a, rnn_layer *b) {
    rnn_status st = rnn_add(m, a);
    if (st) rnn_layer_free(b); /* rnn_add took a, also on failure */
    else if (b) st = rnn_add(m, b);
    if (st) {
        fprintf(stderr, "sample model: %s\n", rnn_model_error(m));
        rnn_model_free(m);
        return NULL;
    }
    return m;
}

static rnn_model *lstm_sample(void) {
    rnn_recurrent_options o = rnn_lstm_defaults(4);
    o.activation = RNN_RELU;
    o.return_sequences = 1;
    o.go_backwards = 1;
    o.unit_forget_bias = 0;
    o.dropout = 0.25f;
    o.recurrent_dropout = 0.125f;
    return with(seq(0), rnn_lstm(&o), NULL);
}

static rnn_model *gru_sample(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_batch_input(m, BATCH, STEPS, FEATURES);
    rnn_recurrent_options o = rnn_gru_defaults(3);
    o.recurrent_activation = RNN_TANH;
    o.reset_after = 0;
    o.stateful = 1;
    return with(m, rnn_gru(&o), NULL);
}

static rnn_model *simple_rnn_sample(void) {
    rnn_recurrent_options o = rnn_simple_rnn_defaults(5);
    o.activation = RNN_ELU;
    o.use_bias = 0;
    o.return_sequences = 1;
    return with(seq(0), rnn_simple_rnn(&o), NULL);
}

static rnn_model *bidirectional_sample(void) {
    rnn_recurrent_options o = rnn_lstm_defaults(3);
    o.return_sequences = 1;
    return with(seq(0), rnn_bidirectional(rnn_lstm(&o), "sum"), NULL);
}

static rnn_model *dense_sample(void) {
    rnn_dense_options o = rnn_dense_defaults(4);
    o.activation = RNN_SOFTPLUS;
    o.use_bias = 0;
    return with(seq(0), rnn_dense(&o), NULL);
}

static rnn_model *conv1d_sample(void) {
    rnn_conv1d_options o = rnn_conv1d_defaults(4, 2);
    o.padding = RNN_PADDING_SAME;
    o.strides = 2;
    o.activation = RNN_SELU;
    return with(seq(0), rnn_conv1d(&o), NULL);
}

static rnn_model *embedding_sample(void) {
    rnn_embedding_options o = rnn_embedding_defaults(VOCAB, 3);
    o.mask_zero = 1;
    rnn_recurrent_options r = rnn_simple_rnn_defaults(2);
    return with(seq(1), rnn_embedding(&o), rnn_simple_rnn(&r));
}

static rnn_model *masking_sample(void) {
    rnn_recurrent_options o = rnn_simple_rnn_defaults(2);
    return with(seq(0), rnn_masking(0.5f), rnn_simple_rnn(&o));
}

static rnn_model *time_distributed_sample(void) {
    return with(seq(0), rnn_time_distributed(rnn_dense_simple(2, RNN_TANH)), NULL);
}

static rnn_model *repeat_vector_sample(void) {
    rnn_recurrent_options o = rnn_lstm_defaults(3);
    return with(seq(0), rnn_lstm(&o), rnn_repeat_vector(4));
}

static rnn_model *flatten_sample(void) {
    return with(seq(0), rnn_flatten(), rnn_dense_simple(2, RNN_LINEAR));
}

static rnn_model *activation_sample(void) {
    return with(seq(0), rnn_activation_layer(RNN_SOFTMAX), NULL);
}

static rnn_model *dropout_sample(void) {
    return with(seq(0), rnn_dropout(0.375f), NULL);
}

/* A merge layer on two branches of one masked input: Dense sequences, or (vector_b) a
 * sequence and an LSTM's last output (for Dot). */
static rnn_model *merge_sample(rnn_layer *merge, int vector_b) {
    rnn_symbol *in = rnn_input_new(RNN_NONE, STEPS, FEATURES, NULL);
    rnn_symbol *masked = rnn_call(rnn_masking(0.5f), in);
    rnn_symbol *ab[2] = {rnn_call(rnn_dense_simple(2, RNN_LINEAR), masked), NULL};
    rnn_recurrent_options o = rnn_lstm_defaults(2);
    ab[1] = vector_b ? rnn_call(rnn_lstm(&o), masked)
                     : rnn_call(rnn_dense_simple(2, RNN_TANH), masked);
    rnn_symbol *out[RNN_LAYER_MAX_OUTPUTS] = {NULL};
    rnn_status st = ab[0] && ab[1] ? rnn_call_ex(merge, ab, 2, out, NULL) : RNN_ERR_ARGUMENT;
    if (st) {
        fprintf(stderr, "merge sample: %s\n", rnn_last_error());
        rnn_layer_free(merge);
        return NULL;
    }
    return rnn_model_simple(in, out[0], NULL);
}
static rnn_model *add_sample(void) { return merge_sample(rnn_merge(RNN_MERGE_ADD), 0); }
static rnn_model *subtract_sample(void) { return merge_sample(rnn_merge(RNN_MERGE_SUBTRACT), 0); }
static rnn_model *multiply_sample(void) { return merge_sample(rnn_merge(RNN_MERGE_MULTIPLY), 0); }
static rnn_model *average_sample(void) { return merge_sample(rnn_merge(RNN_MERGE_AVERAGE), 0); }
static rnn_model *maximum_sample(void) { return merge_sample(rnn_merge(RNN_MERGE_MAXIMUM), 0); }
static rnn_model *minimum_sample(void) { return merge_sample(rnn_merge(RNN_MERGE_MINIMUM), 0); }
static rnn_model *concatenate_sample(void) { return merge_sample(rnn_concatenate(1), 0); }
static rnn_model *dot_sample(void) { return merge_sample(rnn_dot(-1, 1, 1), 1); }

typedef struct {
    const char *class_name;
    rnn_model *(*build)(void);
    int ids;                     /* the model reads token ids */
    const char *options[8];      /* in the class's written config (Keras 3 form) */
} sample;

static const sample samples[] = {
    {"LSTM", lstm_sample, 0,
     {"\"units\":4", "\"activation\":\"relu\"", "\"return_sequences\":true",
      "\"go_backwards\":true", "\"unit_forget_bias\":false", "\"dropout\":0.25",
      "\"recurrent_dropout\":0.125"}},
    {"GRU", gru_sample, 0,
     {"\"units\":3", "\"recurrent_activation\":\"tanh\"", "\"reset_after\":false",
      "\"stateful\":true"}},
    {"SimpleRNN", simple_rnn_sample, 0,
     {"\"units\":5", "\"activation\":\"elu\"", "\"use_bias\":false",
      "\"return_sequences\":true"}},
    {"Bidirectional", bidirectional_sample, 0,
     {"\"merge_mode\":\"sum\"", "\"layer\":{", "\"backward_layer\":{", "\"go_backwards\":true"}},
    {"Dense", dense_sample, 0,
     {"\"units\":4", "\"activation\":\"softplus\"", "\"use_bias\":false"}},
    {"Conv1D", conv1d_sample, 0,
     {"\"filters\":4", "\"kernel_size\":[2]", "\"strides\":[2]", "\"padding\":\"same\"",
      "\"activation\":\"selu\""}},
    {"Embedding", embedding_sample, 1,
     {"\"input_dim\":10", "\"output_dim\":3", "\"mask_zero\":true"}},
    {"Masking", masking_sample, 0, {"\"mask_value\":0.5"}},
    {"TimeDistributed", time_distributed_sample, 0,
     {"\"layer\":{", "\"class_name\":\"Dense\"", "\"activation\":\"tanh\""}},
    {"RepeatVector", repeat_vector_sample, 0, {"\"n\":4"}},
    {"Flatten", flatten_sample, 0, {"\"data_format\":\"channels_last\""}},
    {"Activation", activation_sample, 0, {"\"activation\":\"softmax\""}},
    {"Dropout", dropout_sample, 0, {"\"rate\":0.375"}},
    {"Concatenate", concatenate_sample, 0, {"\"axis\":1"}},
    {"Add", add_sample, 0, {"\"name\":\"add\""}},
    {"Subtract", subtract_sample, 0, {"\"name\":\"subtract\""}},
    {"Multiply", multiply_sample, 0, {"\"name\":\"multiply\""}},
    {"Average", average_sample, 0, {"\"name\":\"average\""}},
    {"Maximum", maximum_sample, 0, {"\"name\":\"maximum\""}},
    {"Minimum", minimum_sample, 0, {"\"name\":\"minimum\""}},
    {"Dot", dot_sample, 0, {"\"axes\":[-1,1]", "\"normalize\":true"}},
};
#define N_SAMPLES (int)(sizeof samples / sizeof samples[0])

static const sample *sample_of(const char *class_name) {
    for (int i = 0; i < N_SAMPLES; i++)
        if (!strcmp(samples[i].class_name, class_name)) return &samples[i];
    return NULL;
}

/* Inputs with every kind of value the samples react to: masked steps (all 0.5, or id 0). */
static void make_input(const sample *s, float *x) {
    uint64_t r = 7;
    int64_t per_step = s->ids ? 1 : FEATURES;
    for (int64_t i = 0; i < BATCH * STEPS * per_step; i++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        float u = (float)((r >> 40) & 0xffffff) / 16777216.0f;
        int64_t step = (i / per_step) % STEPS;
        if (s->ids) x[i] = step < 2 ? 0.0f : (float)(1 + (int)(u * (VOCAB - 1)));
        else x[i] = step == 1 ? 0.5f : 2 * u - 1;
    }
}

static int same_bits(const rnn_tensor *a, const rnn_tensor *b) {
    int64_t n = rnn_tensor_size(a);
    return n > 0 && n == rnn_tensor_size(b) && a->rank == b->rank &&
           memcmp(a->data, b->data, sizeof(float) * (size_t)n) == 0;
}

/* The config of the model's layer of this class (the first one), as JSON text. */
static char *layer_config_text(const char *model_config, const char *class_name) {
    cJSON *root = cJSON_Parse(model_config), *e;
    char *text = NULL;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(cJSON_GetObjectItem(root, "config"), "layers")) {
        const cJSON *cls = cJSON_GetObjectItem(e, "class_name");
        if (cJSON_IsString(cls) && !strcmp(cls->valuestring, class_name)) {
            text = cJSON_PrintUnformatted(cJSON_GetObjectItem(e, "config"));
            break;
        }
    }
    cJSON_Delete(root);
    return text;
}

/* Saves m with this extension, loads it back, and compares the config that `write` gives and
 * the predictions for x. */
static void round_trip(rnn_model *m, const rnn_tensor *x, const rnn_tensor *want, const char *ext,
                       char *(*write)(rnn_model *), const char *cls) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s%s", tmpdir, cls, ext);
    rnn_status st = rnn_save(m, path);
    CHECK(st == RNN_OK, "%s: save %s: %s", cls, ext, rnn_model_error(m));
    if (st) return;
    rnn_model *back = rnn_load(path);
    CHECK(back != NULL, "%s: load %s: %s", cls, ext, rnn_last_error());
    if (back) {
        char *before = write(m), *after = write(back);
        CHECK(before && after && !strcmp(before, after),
              "%s: the config read back from %s differs:\n  saved %s\n  read  %s", cls, ext,
              before ? before : rnn_last_error(), after ? after : rnn_last_error());
        rnn_tensor y = {0};
        CHECK(rnn_predict(back, rnn_data_x(*x), BATCH, &y, 1) == RNN_OK, "%s: predict after %s: %s", cls, ext,
              rnn_model_error(back));
        CHECK(same_bits(&y, want), "%s: predictions after the %s round trip differ", cls, ext);
        rnn_tensor_free(&y);
        free(before);
        free(after);
        rnn_model_free(back);
    }
    unlink(path);
}

static void test_class(const rnn_keras_layer_class *row) {
    const sample *s = sample_of(row->class_name);
    CHECK(s != NULL, "class %s has a row but no round-trip sample in this test",
          row->class_name);
    if (!s) return;
    rnn_model *m = s->build();
    CHECK(m != NULL, "%s: sample model: %s", row->class_name, rnn_last_error());
    if (!m) return;
    rnn_set_seed(m, 5);
    float data[BATCH * STEPS * FEATURES];
    make_input(s, data);
    rnn_tensor x = s->ids ? rnn_tensor2(data, BATCH, STEPS)
                          : rnn_tensor3(data, BATCH, STEPS, FEATURES);
    rnn_tensor want = {0};
    CHECK(rnn_predict(m, rnn_data_x(x), BATCH, &want, 1) == RNN_OK, "%s: predict: %s", row->class_name,
          rnn_model_error(m));

    char *config = rnn__keras_config_json(m);
    CHECK(config != NULL, "%s: write: %s", row->class_name, rnn_last_error());
    char *layer = config ? layer_config_text(config, row->class_name) : NULL;
    CHECK(layer != NULL, "%s: no such layer in the written config %s", row->class_name,
          config ? config : "");
    for (int k = 0; layer && k < 8 && s->options[k]; k++)
        CHECK(strstr(layer, s->options[k]) != NULL, "%s: %s is not in the written config %s",
              row->class_name, s->options[k], layer);
    free(layer);
    free(config);

    round_trip(m, &x, &want, ".keras", rnn__keras_config_json, row->class_name);
    round_trip(m, &x, &want, ".h5", rnn__keras_legacy_config_json, row->class_name);
    rnn_tensor_free(&want);
    rnn_model_free(m);
}

static void test_table(void) {
    int n = rnn__keras_layer_class_count;
    CHECK(n >= 13, "the table has %d rows", n);
    for (int i = 0; i < n; i++) {
        const rnn_keras_layer_class *row = &rnn__keras_layer_classes[i];
        CHECK(row->class_name && row->class_name[0], "row %d has no class name", i);
        if (!row->class_name) continue;
        CHECK(row->read != NULL, "class %s has no reader", row->class_name);
        CHECK(row->write != NULL, "class %s has no writer", row->class_name);
        CHECK(rnn__keras_layer_class(row->class_name) == row,
              "class %s: the lookup finds another row (a class named twice)", row->class_name);
    }
    CHECK(rnn__keras_layer_class("InputLayer") == NULL, "InputLayer is the model code's");
    CHECK(rnn__keras_layer_class("Lambda") == NULL && rnn__keras_layer_class(NULL) == NULL,
          "lookup of classes without a row");
    for (int i = 0; i < N_SAMPLES; i++)
        CHECK(rnn__keras_layer_class(samples[i].class_name) != NULL,
              "sample %s has no row in the table", samples[i].class_name);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rnn_layer_table_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "cannot create a temporary directory\n");
        return 1;
    }
    test_table();
    for (int i = 0; i < rnn__keras_layer_class_count; i++) {
        const rnn_keras_layer_class *row = &rnn__keras_layer_classes[i];
        if (row->class_name && row->read && row->write) test_class(row);
    }
    if (rmdir(tmpdir) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_report("test_keras_layer_table");
}
#endif
