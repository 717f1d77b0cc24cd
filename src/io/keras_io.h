/* Keras model files, internal interface (built with -DRNN_WITH_KERAS_IO; see the Makefile).
 *
 *   keras_config.c        config JSON -> models (graph, nested models, compile), via cJSON
 *   keras_config_write.c  models -> config JSON (graph, compile)
 *   keras_layers.c        one row per Keras layer class: its config read and written
 *                         (keras_layers.h)
 *   keras_h5.c            HDF5: reading and writing weight arrays, legacy .h5 files
 *                         (model_config + model_weights), Keras 3 model.weights.h5 (as a file
 *                         or an in-memory image)
 *   keras_zip.c           the .keras zip container (libzip), and rnn_load / rnn_save
 *
 * Nothing here runs code from a file: a config names layer classes, and only the classes in
 * keras_layers.c's table are built; anything else is an error naming it. */
#ifndef RNN_KERAS_IO_H
#define RNN_KERAS_IO_H

#include <cJSON.h>
#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* Who wrote the file: selects defaults that changed between versions (hard_sigmoid's formula,
 * GRU reset_after when absent, Keras 1 option names and per-gate weights). */
typedef struct {
    int major;         /* 1, 2 or 3 */
    char version[32];  /* "2.2.4-tf", "3.15.1" */
} rnn_keras_origin;

/* Parses "2.3.1", "2.2.4-tf", "3.3.3" into origin (major 2 when unreadable). */
void rnn__keras_origin_set(rnn_keras_origin *o, const char *version);

/* A weight array read from a file: float32, C order, rank 0 to 3 (scalars have rank 0). */
typedef struct {
    int rank;
    int64_t shape[3];
    int64_t size;
    float *data;
} rnn_keras_array;
void rnn__keras_arrays_free(rnn_keras_array *a, int n);

/* model JSON ({"class_name": ..., "config": ...}) -> a model whose weights are freshly
 * initialised (not yet from the file), uncompiled. NULL with rnn_last_error() on failure. */
rnn_model *rnn__keras_model_from_json(const cJSON *model, const rnn_keras_origin *o);
/* The same; with init 0 the weights are left zero, for a caller that sets every one. */
rnn_model *rnn__keras_model_from_json_init(const cJSON *model, const rnn_keras_origin *o,
                                           int init);
/* The same, refusing (RNN_ERR_FORMAT) before any allocation a config whose weights add up to
 * more than max_values numbers (-1: no bound): what the file's weights can hold. */
rnn_model *rnn__keras_model_from_json_bounded(const cJSON *model, const rnn_keras_origin *o,
                                              int init, int64_t max_values);
/* Applies compile information (Keras 3 compile_config, or legacy training_config) when its loss
 * and optimizer are ones librnn has; leaves the model uncompiled otherwise. Never fails. */
void rnn__keras_apply_compile(rnn_model *m, const cJSON *compile, int legacy);
/* The model as Keras 3 config.json text (malloc'd) or NULL with the reason. */
char *rnn__keras_config_json(rnn_model *m);
/* The same; with_compile 0 leaves the compile information out (compile_config null): the
 * architecture alone, which every librnn model has (clone_model, load_weights). */
char *rnn__keras_config_json_ex(rnn_model *m, int with_compile);
/* The model as a legacy .h5 model_config / training_config, malloc'd: in tf.keras 2's form
 * (which tf.keras 2 and Keras 3 both read), or in Keras 3's (as Keras 3 writes .h5 files) when
 * rnn__keras_h5_keras3_form: for a layer called with initial_state or Keras 3's hard_sigmoid. */
char *rnn__keras_legacy_config_json(rnn_model *m);
int rnn__keras_h5_keras3_form(rnn_model *m);
char *rnn__keras_legacy_training_json(rnn_model *m);

/* Copies arrays (Keras's order for this layer, nested layers included) into the layer's weights,
 * converting Keras 1 per-gate arrays when origin->major == 1; checks count and shapes. */
rnn_status rnn__keras_assign_layer(rnn_layer *layer, rnn_keras_array *arrays, int n,
                                   const rnn_keras_origin *o);
/* The librnn weights of a layer (own, then inner layers'), in Keras order. Returns the count
 * (at most cap stored). */
int rnn__keras_layer_weights(rnn_layer *layer, rnn_weight **out, int cap);

/* What a model was built from, besides its weights: enough for another process to rebuild the
 * same model and receive only the weight values (see untrusted_parse.c). Strings malloc'd. */
typedef struct {
    char *config;       /* the model JSON text (.keras: config.json; .h5: model_config) */
    char *compile;      /* a legacy training_config text, or NULL */
    int compile_legacy; /* 1: compile from `compile` (legacy .h5); 0: from config's compile_config */
    rnn_keras_origin origin;
} rnn_keras_recipe;
void rnn__keras_recipe_free(rnn_keras_recipe *r);
/* Builds the model a recipe describes (weights zero when init is 0, else freshly initialised)
 * and applies its compile information; the caller then copies the weights in. NULL with rnn_last_error() on failure. */
rnn_model *rnn__keras_recipe_model(const rnn_keras_recipe *r, int init);

/* Legacy .h5 file -> model (whole load); fills *recipe (if not NULL) on success. */
rnn_model *rnn__keras_load_h5(const char *path, rnn_keras_recipe *recipe);
/* rnn_load's work in the calling process: the file kind by content, then the .keras or .h5
 * reader. Runs libhdf5 and libzip on the file, so a hostile file can crash the process; rnn_load
 * calls it only inside the reader program of untrusted_parse.c, or when the caller asked for it
 * (rnn_load_options.in_process; the fuzzers call it directly). */
rnn_model *rnn__keras_load_in_process(const char *path, rnn_keras_recipe *recipe);
/* rnn_load's guard (untrusted_parse.c): runs rnn__keras_load_in_process in the reader program
 * and rebuilds the model here from what it sends; options may be NULL. */
rnn_model *rnn__keras_load_untrusted(const char *path, const rnn_load_options *options);
/* The reader program's whole work (src/reader/main.c; the tests' fault_reader.c passes another
 * loader): argv as rnn__keras_load_untrusted starts it, the answer on file descriptor 3.
 * Returns the exit status. */
typedef rnn_model *(*rnn_keras_loader)(const char *path, rnn_keras_recipe *recipe);
int rnn__keras_reader_main(int argc, char **argv, rnn_keras_loader load);
/* Legacy .h5 file <- model (written to tmp_path; the caller renames). */
rnn_status rnn__keras_save_h5(rnn_model *m, const char *tmp_path);
/* Keras 3 model.weights.h5 held in memory -> the model's weights. */
rnn_status rnn__keras_read_weights_image(rnn_model *m, const void *image, size_t size);
/* The model's weights as a Keras 3 model.weights.h5 image (malloc'd into *image). */
rnn_status rnn__keras_write_weights_image(rnn_model *m, void **image, size_t *size);

/* Layer kinds by ops (class_name), and their options. Each layer file keeps its options as the
 * first member of its impl struct (C11 6.7.2.1p15 lets a pointer to a struct be read as a
 * pointer to its first member); the round-trip tests catch a layer file that changes this. */
int rnn__keras_is(const rnn_layer *layer, const char *class_name);
const rnn_recurrent_options *rnn__keras_recurrent_options(rnn_layer *layer);
const rnn_dense_options *rnn__keras_dense_options(rnn_layer *layer);
const rnn_embedding_options *rnn__keras_embedding_options(rnn_layer *layer);
int rnn__keras_repeat_n(rnn_layer *layer);
rnn_activation rnn__keras_activation_of(rnn_layer *layer);
float rnn__keras_dropout_rate(rnn_layer *layer);
rnn_layer *rnn__keras_inner_layer(rnn_layer *layer);  /* TimeDistributed */
rnn_model *rnn__keras_inner_model(rnn_layer *layer);  /* a nested model */
int rnn__keras_input_is_ids(rnn_layer *input_layer);
/* Snake-cased class name stem ("lstm", "simple_rnn", "time_distributed"). */
const char *rnn__keras_stem(const rnn_layer *layer);

/* The optimizer's state (step count, learning rate, slots) in Keras 3's variable order
 * (keras_optimizer_state.c): written as /optimizer/vars of model.weights.h5, or as the legacy
 * .h5 group optimizer_weights. Reading ignores a list that does not fit the compiled optimizer
 * (Keras's "Skipping variable loading"), so it never fails; call it after compile. */
rnn_status rnn__keras_write_optimizer_state(rnn_model *m, hid_t file, int legacy);
void rnn__keras_read_optimizer_state(rnn_model *m, hid_t file, int legacy);
/* String-array attributes (fixed-length or variable-length strings; split attributes joined):
 * read returns the count and a malloc'd array of malloc'd strings, or -1. */
int rnn__keras_h5_read_strings(hid_t obj, const char *name, char ***out);
rnn_status rnn__keras_h5_write_strings(hid_t obj, const char *name, char **values, int n);

/* Extra members of a .keras zip (librnn's training backup adds its state this way; Keras
 * ignores members it does not know). */
#define RNN_ZIP_MAX_EXTRA 2
typedef struct {
    const char *name;
    const void *data;
    size_t size;
} rnn_zip_member;
/* A zip at path holding the n members as they are (stored, not compressed, as Keras stores
 * them): a .keras file's metadata.json, config.json, model.weights.h5 and any extras. */
rnn_status rnn__keras_zip_write(const char *path, const rnn_zip_member *members, int n);
/* rnn_save with extra members (only for .keras): temporary file, flush, rename. */
rnn_status rnn__keras_save_with(rnn_model *m, const char *path, const rnn_zip_member *extra,
                                int n_extra);
/* One member of a .keras file, whole (malloc'd, NUL-terminated). */
rnn_status rnn__keras_read_member_file(const char *path, const char *name, char **out,
                                       size_t *size, size_t cap);

/* Silences HDF5's error printing (the library never prints because of input). */
void rnn__keras_h5_quiet(void);

#endif
