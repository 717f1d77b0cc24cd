/* Keras layer classes <-> librnn layers: one row per Keras class (keras_layers.c) with the class
 * name, the function that builds a layer from the class's config and the one that writes the
 * config back. The model code finds a layer's row here: keras_config.c reads Sequential and
 * Functional configs, keras_config_write.c writes them. Adding a layer class is its layer file
 * in src/layers/ and one row with its two functions in keras_layers.c; the layers themselves
 * know nothing of JSON, so the core library builds without cJSON (KERAS_IO=none).
 *
 * InputLayer and nested Sequential/Functional models have no row: they are the graph's inputs
 * and subgraphs, which the model code reads and writes itself.
 *
 * Internal to src/io/ (built with -DRNN_WITH_KERAS_IO); tests include it to check the table. */
#ifndef RNN_KERAS_LAYERS_H
#define RNN_KERAS_LAYERS_H

#include <cJSON.h>

#include "io/keras_io.h"

/* Reading: who wrote the file (defaults and option names differ between Keras 1, 2 and 3). */
typedef struct {
    const rnn_keras_origin *o;
    int depth; /* models nested around the layer being read (bounds the recursion) */
} rnn_keras_read_ctx;

/* Writing: the tf.keras 2 form of legacy .h5 files (legacy = 1) or Keras 3's. */
typedef struct {
    int legacy;
} rnn_keras_write_ctx;

typedef struct {
    const char *class_name; /* Keras's class name, as in a config and in the layer's ops */
    /* cfg: the entry's "config" object, already checked (an object; a built-in class; no
     * regularizer, constraint, frozen layer, other dtype or time_major). Returns a new layer
     * named `name`, or NULL with the reason in rnn_last_error(). */
    rnn_layer *(*read)(const cJSON *cfg, const char *name, const rnn_keras_read_ctx *c);
    /* Adds the layer's options to cfg, which already holds name, trainable and dtype. On
     * failure returns the status with the reason set (cfg is then discarded). */
    rnn_status (*write)(rnn_layer *layer, cJSON *cfg, const rnn_keras_write_ctx *c);
} rnn_keras_layer_class;

/* The table, and the row of a class name (NULL: librnn has no such layer). */
extern const rnn_keras_layer_class rnn__keras_layer_classes[];
extern const int rnn__keras_layer_class_count;
const rnn_keras_layer_class *rnn__keras_layer_class(const char *class_name);

/* One layer entry {"class_name", "config", ...} -> a new layer through its row, after the
 * checks every class shares (a class without a row, InputLayer and nested models included, is
 * refused with the list of supported ones). NULL with the reason on failure. */
rnn_layer *rnn__keras_layer_from(const cJSON *entry, const rnn_keras_read_ctx *c);
/* A layer's "config" object through its row, or NULL with the reason. */
cJSON *rnn__keras_layer_config(rnn_layer *layer, const rnn_keras_write_ctx *c);
/* A layer's whole entry {"module", "class_name", "config", ...}, nested models included
 * (keras_config_write.c): the wrappers' rows write their inner layers with it. */
cJSON *rnn__keras_layer_entry(rnn_layer *layer, const rnn_keras_write_ctx *c);

/* A nested model's entry (a wrapper's inner model: TimeDistributed over a model) -> a layer
 * for it, read by the model code (keras_config.c); NULL with the reason. */
rnn_layer *rnn__keras_nested_model_layer(const cJSON *entry, const rnn_keras_read_ctx *c);
/* Sequential, Functional or Model: a nested model, read by the model code. */
int rnn__keras_is_model_class(const char *cls);
/* Refuses a class that is not built into Keras (custom objects, Lambda) by name: librnn never
 * runs code from a file. */
rnn_status rnn__keras_check_builtin(const cJSON *entry, const char *cls, const char *name);
/* Renames a layer to the file's name (an error if longer than RNN_NAME_MAX - 1 bytes). */
rnn_status rnn__keras_set_name(rnn_layer *layer, const char *name);

/* JSON access for the readers: NULL (or 0) where obj is not an object or the key is absent or
 * of another type; present() is false for JSON null too. */
static inline const cJSON *get(const cJSON *obj, const char *key) {
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}
static inline int present(const cJSON *v) { return v && !cJSON_IsNull(v); }
static inline const char *str(const cJSON *obj, const char *key) {
    const cJSON *v = get(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

#endif
