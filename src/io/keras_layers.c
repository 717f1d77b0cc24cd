/* Keras layer classes <-> librnn layers: one row per class (see keras_layers.h), each with the
 * reader that builds the layer from its config through the public constructor and the writer
 * that puts the layer's options back into a config. Every option librnn has is read; an option it
 * does not have is an error naming it. Covers Keras 1 (output_dim, inner_activation, p, bias),
 * Keras 2 / tf.keras 2 and Keras 3 (serialised dtypes and activations, sizes as lists). */
#ifdef RNN_WITH_KERAS_IO
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "io/keras_layers.h"
#include "layers/layer_options.h"

/* ---------------------------------------------------------------- reading options */

/* Reads an option: *out keeps its default when the key is absent or null. */
static rnn_status opt_bool(const cJSON *cfg, const char *key, const char *layer, int *out) {
    const cJSON *v = get(cfg, key);
    if (!present(v)) return RNN_OK;
    if (!cJSON_IsBool(v))
        return rnn__fail(RNN_ERR_FORMAT, "layer \"%s\": option %s is not true/false", layer, key);
    *out = cJSON_IsTrue(v);
    return RNN_OK;
}
static rnn_status opt_num(const cJSON *cfg, const char *key, const char *layer, double *out) {
    const cJSON *v = get(cfg, key);
    if (!present(v)) return RNN_OK;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return rnn__fail(RNN_ERR_FORMAT, "layer \"%s\": option %s is not a number", layer, key);
    *out = v->valuedouble;
    return RNN_OK;
}
static rnn_status opt_int(const cJSON *cfg, const char *key, const char *layer, int *out) {
    double d = *out;
    rnn_status st = opt_num(cfg, key, layer, &d);
    if (st) return st;
    if (d != floor(d) || d < 0 || d > (1 << 30))
        return rnn__fail(RNN_ERR_FORMAT, "layer \"%s\": option %s = %g is not a valid count",
                         layer, key, d);
    *out = (int)d;
    return RNN_OK;
}

/* A Conv1D size: an integer, or a list of one (Keras saves kernel_size=3 as [3]). */
static rnn_status opt_int_tuple(const cJSON *cfg, const char *key, const char *layer, int *out) {
    const cJSON *v = get(cfg, key);
    if (!present(v)) return RNN_OK;
    if (cJSON_IsArray(v)) {
        if (cJSON_GetArraySize(v) != 1)
            return rnn__fail(RNN_ERR_FORMAT, "layer \"%s\": option %s must have one value for a "
                             "1-D convolution, got %d", layer, key, cJSON_GetArraySize(v));
        v = cJSON_GetArrayItem(v, 0);
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble)
        || v->valuedouble < 0 || v->valuedouble > (1 << 30))
        return rnn__fail(RNN_ERR_FORMAT, "layer \"%s\": option %s is not a valid count", layer,
                         key);
    *out = (int)v->valuedouble;
    return RNN_OK;
}

/* "tanh", null, or a serialised function {"class_name": ..., "config": "tanh"}. Keras 1/2 and
 * tf.keras's hard_sigmoid is 0.2x + 0.5; Keras 3's is x/6 + 0.5. */
static rnn_status opt_activation(const cJSON *cfg, const char *key, const char *layer,
                                 const rnn_keras_origin *o, rnn_activation *out) {
    const cJSON *v = get(cfg, key);
    if (!v) return RNN_OK;
    const char *name = NULL;
    if (cJSON_IsNull(v)) name = "linear";
    else if (cJSON_IsString(v)) name = v->valuestring;
    else if (cJSON_IsObject(v)) {
        const cJSON *c = get(v, "config");
        name = cJSON_IsString(c) ? c->valuestring : str(c, "name");
        if (!name) name = str(v, "class_name");
    }
    if (!name) return rnn__fail(RNN_ERR_FORMAT, "layer \"%s\": %s is not readable", layer, key);
    int a = rnn_activation_from_name(name);
    if (!strcmp(name, "hard_sigmoid")) a = o->major < 3 ? RNN_HARD_SIGMOID_LEGACY : RNN_HARD_SIGMOID;
    if (a < 0 || !strcmp(name, "hard_sigmoid_legacy"))
        return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\": %s \"%s\" is not supported by librnn "
                         "(supported: linear, tanh, sigmoid, hard_sigmoid, relu, elu, selu, "
                         "softplus, softmax)", layer, key, name);
    *out = (rnn_activation)a;
    return RNN_OK;
}

/* Options librnn has no counterpart for: regularizers, constraints, frozen layers, other dtypes,
 * time_major. Initializers are ignored (the weights come from the file). */
static rnn_status check_common(const cJSON *cfg, const char *layer, const char *cls) {
    const cJSON *item;
    cJSON_ArrayForEach(item, cfg) {
        const char *k = item->string;
        size_t n = strlen(k);
        int reg = n >= 11 && !strcmp(k + n - 11, "regularizer");
        int con = n >= 10 && !strcmp(k + n - 10, "constraint");
        if ((reg || con) && present(item))
            return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (%s): option %s is not supported "
                             "by librnn", layer, cls, k);
    }
    const cJSON *dt = get(cfg, "dtype");
    const char *dtype = cJSON_IsString(dt) ? dt->valuestring : str(get(dt, "config"), "name");
    if (dtype && strcmp(dtype, "float32") != 0)
        return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (%s): dtype \"%s\" is not supported "
                         "(librnn computes in float32)", layer, cls, dtype);
    if (cJSON_IsTrue(get(cfg, "time_major")))
        return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (%s): time_major=True is not "
                         "supported by librnn", layer, cls);
    return RNN_OK;
}

rnn_status rnn__keras_set_name(rnn_layer *layer, const char *name) {
    if (!name) return RNN_OK;
    if (strlen(name) >= RNN_NAME_MAX)
        return rnn__fail(RNN_ERR_UNSUPPORTED, "layer name \"%.40s...\" is longer than %d bytes",
                         name, RNN_NAME_MAX - 1);
    snprintf(layer->name, sizeof layer->name, "%s", name);
    return RNN_OK;
}

/* For the constructors that take no name: the layer with the file's name, or NULL (freed). */
static rnn_layer *named(rnn_layer *layer, const char *name) {
    if (layer && rnn__keras_set_name(layer, name)) {
        rnn_layer_free(layer);
        return NULL;
    }
    return layer;
}

int rnn__keras_is_model_class(const char *cls) {
    return cls && (!strcmp(cls, "Sequential") || !strcmp(cls, "Functional") ||
                   !strcmp(cls, "Model"));
}

/* Custom objects would need their Python code, which librnn never runs. */
rnn_status rnn__keras_check_builtin(const cJSON *entry, const char *cls, const char *name) {
    const char *module = str(entry, "module");
    const char *reg = str(entry, "registered_name");
    if ((module && strncmp(module, "keras", 5) != 0) || (reg && strcmp(reg, cls) != 0) ||
        strchr(cls, '>'))
        return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\": custom object \"%s\"%s%s%s is not "
                         "supported: librnn builds only built-in Keras layers and never runs code "
                         "from a file", name, reg ? reg : cls, module ? " (module " : "",
                         module ? module : "", module ? ")" : "");
    if (!strcmp(cls, "Lambda"))
        return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" is a Lambda layer: it holds Python "
                         "code, which librnn never runs", name);
    return RNN_OK;
}

/* ---------------------------------------------------------------- writing options */

/* Activation names; hard_sigmoid exists in one form per file kind. -1 with the reason set when
 * the file kind cannot express the activation. */
static int add_activation(cJSON *cfg, const char *key, rnn_activation a,
                          const rnn_keras_write_ctx *c, const char *layer) {
    const char *name = rnn_activation_name(a);
    if (a == RNN_HARD_SIGMOID_LEGACY) {
        if (!c->legacy) {
            rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\": %s is the Keras 1/2 hard_sigmoid "
                      "(0.2x + 0.5), which Keras 3 does not have; save as legacy .h5 instead",
                      layer, key);
            return -1;
        }
        name = "hard_sigmoid";
    } else if (a == RNN_HARD_SIGMOID && c->legacy) {
        rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\": %s is Keras 3's hard_sigmoid (x/6 + 0.5), "
                  "which legacy .h5 files cannot express; save as .keras instead", layer, key);
        return -1;
    }
    cJSON_AddStringToObject(cfg, key, name);
    return 0;
}

/* ---------------------------------------------------------------- SimpleRNN, LSTM, GRU */

/* in_bidirectional: Keras sets zero_output_for_mask = return_sequences on a Bidirectional's
 * layers (and saves it), and librnn's Bidirectional does the same, so it is not an error there. */
static rnn_layer *recurrent_from(const cJSON *cfg, const char *cls, const char *name,
                                 const rnn_keras_read_ctx *c, int in_bidirectional) {
    rnn_recurrent_options opt;
    int k1 = c->o->major == 1;
    if (!strcmp(cls, "LSTM")) opt = rnn_lstm_defaults(1);
    else if (!strcmp(cls, "GRU")) opt = rnn_gru_defaults(1);
    else opt = rnn_simple_rnn_defaults(1);
    /* Keras 1 and 2 defaults: hard_sigmoid (0.2x + 0.5), GRU without reset_after. */
    if (c->o->major < 3) opt.reset_after = 0;
    if (c->o->major < 2 || (c->o->major == 2 && !get(cfg, "recurrent_activation")))
        opt.recurrent_activation = c->o->major < 3 ? RNN_HARD_SIGMOID_LEGACY : RNN_SIGMOID;
    opt.units = 0;
    double dropout = 0, rec_dropout = 0;
    rnn_status st = RNN_OK;
    if (!st) st = opt_int(cfg, k1 ? "output_dim" : "units", name, &opt.units);
    if (!st) st = opt_activation(cfg, "activation", name, c->o, &opt.activation);
    if (!st && strcmp(cls, "SimpleRNN"))
        st = opt_activation(cfg, k1 ? "inner_activation" : "recurrent_activation", name, c->o,
                            &opt.recurrent_activation);
    if (!st) st = opt_bool(cfg, "use_bias", name, &opt.use_bias);
    if (!st) st = opt_bool(cfg, "return_sequences", name, &opt.return_sequences);
    if (!st) st = opt_bool(cfg, "return_state", name, &opt.return_state);
    if (!st) st = opt_bool(cfg, "go_backwards", name, &opt.go_backwards);
    if (!st) st = opt_bool(cfg, "stateful", name, &opt.stateful);
    if (!st && !strcmp(cls, "LSTM")) st = opt_bool(cfg, "unit_forget_bias", name, &opt.unit_forget_bias);
    if (!st && !strcmp(cls, "GRU")) st = opt_bool(cfg, "reset_after", name, &opt.reset_after);
    if (!st) st = opt_num(cfg, k1 ? "dropout_W" : "dropout", name, &dropout);
    if (!st) st = opt_num(cfg, k1 ? "dropout_U" : "recurrent_dropout", name, &rec_dropout);
    if (st) return NULL;
    if (opt.units <= 0) {
        rnn__fail(RNN_ERR_FORMAT, "layer \"%s\" (%s): units missing or not positive", name, cls);
        return NULL;
    }
    if (!in_bidirectional && cJSON_IsTrue(get(cfg, "zero_output_for_mask"))) {
        rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (%s): zero_output_for_mask=True is not "
                  "supported by librnn", name, cls);
        return NULL;
    }
    /* Keras 1 consume_less="gpu" stores fused weights already in Keras 2 order: the weight
     * count tells them from the per-gate ones (rnn__keras_assign_layer). */
    opt.dropout = (float)dropout;
    opt.recurrent_dropout = (float)rec_dropout;
    opt.name = name;
    if (!strcmp(cls, "LSTM")) return rnn_lstm(&opt);
    if (!strcmp(cls, "GRU")) return rnn_gru(&opt);
    return rnn_simple_rnn(&opt);
}

static rnn_layer *lstm_read(const cJSON *cfg, const char *name, const rnn_keras_read_ctx *c) {
    return recurrent_from(cfg, "LSTM", name, c, 0);
}
static rnn_layer *gru_read(const cJSON *cfg, const char *name, const rnn_keras_read_ctx *c) {
    return recurrent_from(cfg, "GRU", name, c, 0);
}
static rnn_layer *simple_rnn_read(const cJSON *cfg, const char *name,
                                  const rnn_keras_read_ctx *c) {
    return recurrent_from(cfg, "SimpleRNN", name, c, 0);
}

/* An activation that a file kind cannot express fails the layer after every option is written
 * (the last such activation names the reason). */
static rnn_status recurrent_write(rnn_layer *L, cJSON *cfg, const rnn_keras_write_ctx *c) {
    const rnn_recurrent_options *o = rnn__keras_recurrent_options(L);
    int bad = 0;
    cJSON_AddBoolToObject(cfg, "return_sequences", o->return_sequences);
    cJSON_AddBoolToObject(cfg, "return_state", o->return_state);
    cJSON_AddBoolToObject(cfg, "go_backwards", o->go_backwards);
    cJSON_AddBoolToObject(cfg, "stateful", o->stateful);
    cJSON_AddFalseToObject(cfg, "unroll");
    cJSON_AddNumberToObject(cfg, "units", o->units);
    bad |= add_activation(cfg, "activation", o->activation, c, L->name);
    if (!rnn__keras_is(L, "SimpleRNN"))
        bad |= add_activation(cfg, "recurrent_activation", o->recurrent_activation, c, L->name);
    cJSON_AddBoolToObject(cfg, "use_bias", o->use_bias);
    if (rnn__keras_is(L, "LSTM")) cJSON_AddBoolToObject(cfg, "unit_forget_bias", o->unit_forget_bias);
    if (rnn__keras_is(L, "GRU")) cJSON_AddBoolToObject(cfg, "reset_after", o->reset_after);
    cJSON_AddNumberToObject(cfg, "dropout", o->dropout);
    cJSON_AddNumberToObject(cfg, "recurrent_dropout", o->recurrent_dropout);
    return bad ? RNN_ERR_UNSUPPORTED : RNN_OK;
}

/* ---------------------------------------------------------------- Bidirectional */

/* A wrapper's inner entry in a legacy .h5 config: Keras 3's Bidirectional and TimeDistributed
 * read it with the new-style deserializer, which needs the module (tf.keras 2 ignores it). */
static void add_module(cJSON *entry, rnn_layer *inner) {
    const char *module = rnn__keras_is(inner, "Sequential")   ? "keras"
                         : rnn__keras_is(inner, "Functional") ? "keras.src.models.functional"
                                                              : "keras.layers";
    cJSON_AddStringToObject(entry, "module", module);
    cJSON_AddNullToObject(entry, "registered_name");
}

/* A Bidirectional's "layer" or "backward_layer" entry: a built-in SimpleRNN, LSTM or GRU. */
static rnn_layer *bidirectional_sub_from(const cJSON *entry, const char *outer, const char *key,
                                         const rnn_keras_read_ctx *c) {
    const char *cls = str(entry, "class_name");
    const cJSON *cfg = get(entry, "config");
    if (!cls || !cJSON_IsObject(cfg)) {
        rnn__fail(RNN_ERR_FORMAT, "layer \"%s\" (Bidirectional): %s has no class_name or config",
                  outer, key);
        return NULL;
    }
    const char *name = str(cfg, "name");
    if (rnn__keras_check_builtin(entry, cls, name ? name : cls)) return NULL;
    if (strcmp(cls, "LSTM") && strcmp(cls, "GRU") && strcmp(cls, "SimpleRNN")) {
        rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\": Bidirectional over a %s layer is not "
                  "supported by librnn (it wraps SimpleRNN, LSTM and GRU)", outer, cls);
        return NULL;
    }
    if (!name) name = cls;
    if (check_common(cfg, name, cls)) return NULL;
    return recurrent_from(cfg, cls, name, c, 1);
}

/* Bidirectional(layer, merge_mode[, backward_layer]). Keras 3 saves the forward layer as `layer`
 * and always adds `backward_layer`; tf.keras saves the wrapped layer and adds backward_layer only
 * when one was given. librnn's backward layer is the forward one with go_backwards flipped: a
 * different backward_layer is refused by name. */
static rnn_layer *bidirectional_read(const cJSON *cfg, const char *name,
                                     const rnn_keras_read_ctx *c) {
    const cJSON *mm = get(cfg, "merge_mode");
    const char *merge = "concat"; /* Keras's default when absent */
    if (mm && cJSON_IsNull(mm)) merge = NULL;
    else if (mm && cJSON_IsString(mm)) merge = mm->valuestring;
    else if (mm) {
        rnn__fail(RNN_ERR_FORMAT, "layer \"%s\" (Bidirectional): merge_mode is not a string",
                  name);
        return NULL;
    }
    if (present(get(cfg, "num_constants")) && get(cfg, "num_constants")->valuedouble != 0) {
        rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (Bidirectional): constants are not "
                  "supported by librnn", name);
        return NULL;
    }
    const cJSON *fe = get(cfg, "layer"), *be = get(cfg, "backward_layer");
    if (!cJSON_IsObject(fe)) {
        rnn__fail(RNN_ERR_FORMAT, "layer \"%s\" (Bidirectional) has no inner layer", name);
        return NULL;
    }
    rnn_layer *fwd = bidirectional_sub_from(fe, name, "layer", c);
    if (!fwd) return NULL;
    rnn_layer *bwd = NULL;
    if (present(be)) {
        bwd = bidirectional_sub_from(be, name, "backward_layer", c);
        if (!bwd) {
            rnn_layer_free(fwd);
            return NULL;
        }
        const rnn_recurrent_options *a = rnn__keras_recurrent_options(fwd);
        const rnn_recurrent_options *b = rnn__keras_recurrent_options(bwd);
        int same = !strcmp(fwd->ops->class_name, bwd->ops->class_name) &&
                   a->go_backwards != b->go_backwards && a->units == b->units &&
                   a->activation == b->activation &&
                   a->recurrent_activation == b->recurrent_activation &&
                   a->use_bias == b->use_bias && a->return_sequences == b->return_sequences &&
                   a->return_state == b->return_state && a->stateful == b->stateful &&
                   a->unit_forget_bias == b->unit_forget_bias &&
                   a->reset_after == b->reset_after && a->dropout == b->dropout &&
                   a->recurrent_dropout == b->recurrent_dropout;
        if (!same) {
            rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (Bidirectional): a backward_layer that "
                      "is not the forward layer with go_backwards flipped is not supported by "
                      "librnn", name);
            rnn_layer_free(fwd);
            rnn_layer_free(bwd);
            return NULL;
        }
    }
    rnn_layer *layer = rnn_bidirectional(fwd, merge);
    if (layer && bwd) /* keep the file's names */
        snprintf(rnn__bidirectional_sub(layer, 1)->name, RNN_NAME_MAX, "%s", bwd->name);
    rnn_layer_free(bwd);
    return named(layer, name);
}

/* Keras 3 saves the forward layer as `layer` and always a backward_layer; tf.keras saves the
 * wrapped layer (named without "forward_", which it adds back) and no backward_layer unless one
 * was given. */
static rnn_status bidirectional_write(rnn_layer *L, cJSON *cfg, const rnn_keras_write_ctx *c) {
    const char *merge = rnn__bidirectional_merge_mode(L);
    if (merge) cJSON_AddStringToObject(cfg, "merge_mode", merge);
    else cJSON_AddNullToObject(cfg, "merge_mode");
    rnn_layer *fwd = rnn__bidirectional_sub(L, 0), *bwd = rnn__bidirectional_sub(L, 1);
    cJSON *f = rnn__keras_layer_entry(fwd, c);
    cJSON *b = c->legacy ? NULL : rnn__keras_layer_entry(bwd, c);
    if (!f || (!c->legacy && !b)) {
        cJSON_Delete(f);
        cJSON_Delete(b);
        return RNN_ERR_UNSUPPORTED;
    }
    if (c->legacy && !strncmp(fwd->name, "forward_", 8)) {
        cJSON *fc = cJSON_GetObjectItemCaseSensitive(f, "config");
        cJSON_ReplaceItemInObjectCaseSensitive(fc, "name", cJSON_CreateString(fwd->name + 8));
    }
    if (c->legacy) add_module(f, fwd);
    cJSON_AddItemToObject(cfg, "layer", f);
    if (b) cJSON_AddItemToObject(cfg, "backward_layer", b);
    return RNN_OK;
}

/* ---------------------------------------------------------------- Dense */

static rnn_layer *dense_read(const cJSON *cfg, const char *name, const rnn_keras_read_ctx *c) {
    int k1 = c->o->major == 1;
    rnn_dense_options d = rnn_dense_defaults(0);
    rnn_status st = RNN_OK;
    if (!st) st = opt_int(cfg, k1 ? "output_dim" : "units", name, &d.units);
    if (!st) st = opt_activation(cfg, "activation", name, c->o, &d.activation);
    if (!st) st = opt_bool(cfg, k1 ? "bias" : "use_bias", name, &d.use_bias);
    if (st) return NULL;
    if (d.units <= 0) {
        rnn__fail(RNN_ERR_FORMAT, "layer \"%s\" (Dense): units missing or not positive", name);
        return NULL;
    }
    d.name = name;
    return rnn_dense(&d);
}

static rnn_status dense_write(rnn_layer *L, cJSON *cfg, const rnn_keras_write_ctx *c) {
    const rnn_dense_options *o = rnn__keras_dense_options(L);
    cJSON_AddNumberToObject(cfg, "units", o->units);
    int bad = add_activation(cfg, "activation", o->activation, c, L->name);
    cJSON_AddBoolToObject(cfg, "use_bias", o->use_bias);
    return bad ? RNN_ERR_UNSUPPORTED : RNN_OK;
}

/* ---------------------------------------------------------------- Conv1D */

/* Conv1D (tf.keras 2 and Keras 3 configs: sizes as one-element lists). channels_first, groups
 * other than 1 and LoRA are refused by name. */
static rnn_layer *conv1d_read(const cJSON *cfg, const char *name, const rnn_keras_read_ctx *c) {
    rnn_conv1d_options o = rnn_conv1d_defaults(0, 0);
    rnn_status st = RNN_OK;
    if (!st) st = opt_int(cfg, "filters", name, &o.filters);
    if (!st) st = opt_int_tuple(cfg, "kernel_size", name, &o.kernel_size);
    if (!st) st = opt_int_tuple(cfg, "strides", name, &o.strides);
    if (!st) st = opt_int_tuple(cfg, "dilation_rate", name, &o.dilation_rate);
    if (!st) st = opt_int(cfg, "groups", name, &o.groups);
    if (!st) st = opt_activation(cfg, "activation", name, c->o, &o.activation);
    if (!st) st = opt_bool(cfg, "use_bias", name, &o.use_bias);
    if (st) return NULL;
    const char *pad = str(cfg, "padding"), *fmt = str(cfg, "data_format");
    if (get(cfg, "padding") && !pad) {
        rnn__fail(RNN_ERR_FORMAT, "layer \"%s\" (Conv1D): padding is not a string", name);
        return NULL;
    }
    if (!pad || !strcmp(pad, "valid")) o.padding = RNN_PADDING_VALID;
    else if (!strcmp(pad, "same")) o.padding = RNN_PADDING_SAME;
    else if (!strcmp(pad, "causal")) o.padding = RNN_PADDING_CAUSAL;
    else {
        rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (Conv1D): padding=\"%s\" is not supported "
                  "(valid, same or causal)", name, pad);
        return NULL;
    }
    if (fmt && strcmp(fmt, "channels_last")) {
        rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (Conv1D): data_format=\"%s\" is not "
                  "supported by librnn (channels_last only)", name, fmt);
        return NULL;
    }
    if (present(get(cfg, "lora_rank"))) {
        rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (Conv1D): lora_rank is not supported", name);
        return NULL;
    }
    if (o.filters <= 0 || o.kernel_size <= 0) {
        rnn__fail(RNN_ERR_FORMAT, "layer \"%s\" (Conv1D): filters or kernel_size missing or not "
                  "positive", name);
        return NULL;
    }
    if (o.groups != 1) {
        rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (Conv1D): groups=%d is not supported by "
                  "librnn (groups=1 only)", name, o.groups);
        return NULL;
    }
    o.name = name;
    return rnn_conv1d(&o);
}

static rnn_status conv1d_write(rnn_layer *L, cJSON *cfg, const rnn_keras_write_ctx *c) {
    const rnn_conv1d_options *o = rnn__conv1d_options(L);
    cJSON_AddNumberToObject(cfg, "filters", o->filters);
    const int sizes[3] = {o->kernel_size, o->strides, o->dilation_rate};
    const char *keys[3] = {"kernel_size", "strides", "dilation_rate"};
    for (int i = 0; i < 3; i++) { /* Keras saves these as tuples: [3] */
        cJSON *a = cJSON_AddArrayToObject(cfg, keys[i]);
        cJSON_AddItemToArray(a, cJSON_CreateNumber(sizes[i]));
    }
    cJSON_AddStringToObject(cfg, "padding", rnn__conv1d_padding_name(o->padding));
    cJSON_AddStringToObject(cfg, "data_format", "channels_last");
    cJSON_AddNumberToObject(cfg, "groups", 1);
    int bad = add_activation(cfg, "activation", o->activation, c, L->name);
    cJSON_AddBoolToObject(cfg, "use_bias", o->use_bias);
    return bad ? RNN_ERR_UNSUPPORTED : RNN_OK;
}

/* ---------------------------------------------------------------- Embedding */

static rnn_layer *embedding_read(const cJSON *cfg, const char *name,
                                 const rnn_keras_read_ctx *c) {
    (void)c;
    rnn_embedding_options e = rnn_embedding_defaults(0, 0);
    double drop = 0;
    rnn_status st = RNN_OK;
    if (!st) st = opt_int(cfg, "input_dim", name, &e.input_dim);
    if (!st) st = opt_int(cfg, "output_dim", name, &e.output_dim);
    if (!st) st = opt_bool(cfg, "mask_zero", name, &e.mask_zero);
    if (!st) st = opt_num(cfg, "dropout", name, &drop);
    if (st) return NULL;
    if (drop > 0) {
        rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (Embedding): Keras 1 dropout=%g is not "
                  "supported by librnn", name, drop);
        return NULL;
    }
    if (get(cfg, "lora_rank") && present(get(cfg, "lora_rank"))) {
        rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (Embedding): lora_rank is not supported",
                  name);
        return NULL;
    }
    e.name = name;
    return rnn_embedding(&e);
}

static rnn_status embedding_write(rnn_layer *L, cJSON *cfg, const rnn_keras_write_ctx *c) {
    (void)c;
    const rnn_embedding_options *o = rnn__keras_embedding_options(L);
    cJSON_AddNumberToObject(cfg, "input_dim", o->input_dim);
    cJSON_AddNumberToObject(cfg, "output_dim", o->output_dim);
    cJSON_AddBoolToObject(cfg, "mask_zero", o->mask_zero);
    return RNN_OK;
}

/* ---------------------------------------------------------------- Masking */

static rnn_layer *masking_read(const cJSON *cfg, const char *name, const rnn_keras_read_ctx *c) {
    (void)c;
    double value = 0;
    if (present(get(cfg, "mask_value")) && opt_num(cfg, "mask_value", name, &value)) return NULL;
    return named(rnn_masking((float)value), name);
}

static rnn_status masking_write(rnn_layer *L, cJSON *cfg, const rnn_keras_write_ctx *c) {
    (void)c;
    cJSON_AddNumberToObject(cfg, "mask_value", rnn__masking_value(L));
    return RNN_OK;
}

/* ---------------------------------------------------------------- TimeDistributed */

static rnn_layer *time_distributed_read(const cJSON *cfg, const char *name,
                                        const rnn_keras_read_ctx *c) {
    const cJSON *inner_entry = get(cfg, "layer");
    if (!cJSON_IsObject(inner_entry)) {
        rnn__fail(RNN_ERR_FORMAT, "layer \"%s\" (TimeDistributed) has no inner layer", name);
        return NULL;
    }
    const char *cls = str(inner_entry, "class_name");
    rnn_layer *inner = rnn__keras_is_model_class(cls)
                           ? (rnn__keras_check_builtin(inner_entry, cls, name)
                                  ? NULL : rnn__keras_nested_model_layer(inner_entry, c))
                           : rnn__keras_layer_from(inner_entry, c);
    if (!inner) return NULL;
    return named(rnn_time_distributed(inner), name);
}

static rnn_status time_distributed_write(rnn_layer *L, cJSON *cfg, const rnn_keras_write_ctx *c) {
    rnn_layer *wrapped = rnn__keras_inner_layer(L);
    cJSON *inner = rnn__keras_layer_entry(wrapped, c);
    if (!inner) return RNN_ERR_UNSUPPORTED;
    if (c->legacy) /* as for Bidirectional: Keras 3 reads the wrapped layer new-style */
        add_module(inner, wrapped);
    cJSON_AddItemToObject(cfg, "layer", inner);
    return RNN_OK;
}

/* ---------------------------------------------------------------- RepeatVector */

static rnn_layer *repeat_vector_read(const cJSON *cfg, const char *name,
                                     const rnn_keras_read_ctx *c) {
    (void)c;
    int n = 0;
    if (opt_int(cfg, "n", name, &n)) return NULL;
    return named(rnn_repeat_vector(n), name);
}

static rnn_status repeat_vector_write(rnn_layer *L, cJSON *cfg, const rnn_keras_write_ctx *c) {
    (void)c;
    cJSON_AddNumberToObject(cfg, "n", rnn__keras_repeat_n(L));
    return RNN_OK;
}

/* ---------------------------------------------------------------- Flatten */

static rnn_layer *flatten_read(const cJSON *cfg, const char *name, const rnn_keras_read_ctx *c) {
    (void)c;
    const char *fmt = str(cfg, "data_format");
    if (fmt && strcmp(fmt, "channels_last")) {
        rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (Flatten): data_format=\"%s\" is not "
                  "supported by librnn (channels_last only)", name, fmt);
        return NULL;
    }
    return named(rnn_flatten(), name);
}

static rnn_status flatten_write(rnn_layer *L, cJSON *cfg, const rnn_keras_write_ctx *c) {
    (void)L;
    (void)c;
    cJSON_AddStringToObject(cfg, "data_format", "channels_last");
    return RNN_OK;
}

/* ---------------------------------------------------------------- Activation */

static rnn_layer *activation_read(const cJSON *cfg, const char *name,
                                  const rnn_keras_read_ctx *c) {
    rnn_activation a = RNN_LINEAR;
    if (opt_activation(cfg, "activation", name, c->o, &a)) return NULL;
    return named(rnn_activation_layer(a), name);
}

static rnn_status activation_write(rnn_layer *L, cJSON *cfg, const rnn_keras_write_ctx *c) {
    int bad = add_activation(cfg, "activation", rnn__keras_activation_of(L), c, L->name);
    return bad ? RNN_ERR_UNSUPPORTED : RNN_OK;
}

/* ---------------------------------------------------------------- Dropout */

static rnn_layer *dropout_read(const cJSON *cfg, const char *name, const rnn_keras_read_ctx *c) {
    double rate = 0;
    if (opt_num(cfg, c->o->major == 1 ? "p" : "rate", name, &rate)) return NULL;
    if (present(get(cfg, "noise_shape"))) {
        rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (Dropout): noise_shape is not supported",
                  name);
        return NULL;
    }
    return named(rnn_dropout((float)rate), name);
}

static rnn_status dropout_write(rnn_layer *L, cJSON *cfg, const rnn_keras_write_ctx *c) {
    (void)c;
    cJSON_AddNumberToObject(cfg, "rate", rnn__keras_dropout_rate(L));
    return RNN_OK;
}

/* ---------------------------------------------------------------- merge layers */

/* An integer option that may be negative (an axis). */
static rnn_status opt_axis(const cJSON *v, const char *key, const char *layer, int *out) {
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 64)
        return rnn__fail(RNN_ERR_FORMAT, "layer \"%s\": option %s is not an axis", layer, key);
    *out = (int)v->valuedouble;
    return RNN_OK;
}

static rnn_layer *merge_read(const cJSON *cfg, const char *name, rnn_merge_op op) {
    (void)cfg;
    return named(rnn_merge(op), name);
}
static rnn_layer *add_read(const cJSON *cfg, const char *name, const rnn_keras_read_ctx *c) {
    (void)c;
    return merge_read(cfg, name, RNN_MERGE_ADD);
}
static rnn_layer *subtract_read(const cJSON *cfg, const char *name, const rnn_keras_read_ctx *c) {
    (void)c;
    return merge_read(cfg, name, RNN_MERGE_SUBTRACT);
}
static rnn_layer *multiply_read(const cJSON *cfg, const char *name, const rnn_keras_read_ctx *c) {
    (void)c;
    return merge_read(cfg, name, RNN_MERGE_MULTIPLY);
}
static rnn_layer *average_read(const cJSON *cfg, const char *name, const rnn_keras_read_ctx *c) {
    (void)c;
    return merge_read(cfg, name, RNN_MERGE_AVERAGE);
}
static rnn_layer *maximum_read(const cJSON *cfg, const char *name, const rnn_keras_read_ctx *c) {
    (void)c;
    return merge_read(cfg, name, RNN_MERGE_MAXIMUM);
}
static rnn_layer *minimum_read(const cJSON *cfg, const char *name, const rnn_keras_read_ctx *c) {
    (void)c;
    return merge_read(cfg, name, RNN_MERGE_MINIMUM);
}
static rnn_status merge_write(rnn_layer *L, cJSON *cfg, const rnn_keras_write_ctx *c) {
    (void)L;
    (void)cfg;
    (void)c;
    return RNN_OK;
}

static rnn_layer *concatenate_read(const cJSON *cfg, const char *name,
                                   const rnn_keras_read_ctx *c) {
    (void)c;
    int axis = -1; /* Keras's default */
    if (present(get(cfg, "axis")) && opt_axis(get(cfg, "axis"), "axis", name, &axis)) return NULL;
    return named(rnn_concatenate(axis), name);
}

static rnn_status concatenate_write(rnn_layer *L, cJSON *cfg, const rnn_keras_write_ctx *c) {
    (void)c;
    cJSON_AddNumberToObject(cfg, "axis", rnn__concatenate_axis(L));
    return RNN_OK;
}

/* Dot(axes, normalize): axes an integer (both inputs) or a list of two. */
static rnn_layer *dot_read(const cJSON *cfg, const char *name, const rnn_keras_read_ctx *c) {
    (void)c;
    const cJSON *axes = get(cfg, "axes");
    int a[2] = {0, 0}, normalize = 0;
    if (cJSON_IsArray(axes)) {
        if (cJSON_GetArraySize(axes) != 2) {
            rnn__fail(RNN_ERR_FORMAT, "layer \"%s\" (Dot): Invalid format for argument `axes`: it "
                      "should contain two elements", name);
            return NULL;
        }
        if (opt_axis(cJSON_GetArrayItem(axes, 0), "axes", name, &a[0]) ||
            opt_axis(cJSON_GetArrayItem(axes, 1), "axes", name, &a[1]))
            return NULL;
    } else {
        if (opt_axis(axes, "axes", name, &a[0])) return NULL;
        a[1] = a[0];
    }
    if (opt_bool(cfg, "normalize", name, &normalize)) return NULL;
    return named(rnn_dot(a[0], a[1], normalize), name);
}

static rnn_status dot_write(rnn_layer *L, cJSON *cfg, const rnn_keras_write_ctx *c) {
    (void)c;
    int a[2], normalize;
    rnn__dot_options(L, a, &normalize);
    if (a[0] == a[1]) {
        cJSON_AddNumberToObject(cfg, "axes", a[0]);
    } else {
        cJSON *arr = cJSON_AddArrayToObject(cfg, "axes");
        cJSON_AddItemToArray(arr, cJSON_CreateNumber(a[0]));
        cJSON_AddItemToArray(arr, cJSON_CreateNumber(a[1]));
    }
    cJSON_AddBoolToObject(cfg, "normalize", normalize);
    return RNN_OK;
}

/* ---------------------------------------------------------------- the table */

/* In the order of the list that the "not supported" message gives. */
const rnn_keras_layer_class rnn__keras_layer_classes[] = {
    {"LSTM", lstm_read, recurrent_write},
    {"GRU", gru_read, recurrent_write},
    {"SimpleRNN", simple_rnn_read, recurrent_write},
    {"Bidirectional", bidirectional_read, bidirectional_write},
    {"Dense", dense_read, dense_write},
    {"Conv1D", conv1d_read, conv1d_write},
    {"Embedding", embedding_read, embedding_write},
    {"Masking", masking_read, masking_write},
    {"TimeDistributed", time_distributed_read, time_distributed_write},
    {"RepeatVector", repeat_vector_read, repeat_vector_write},
    {"Flatten", flatten_read, flatten_write},
    {"Activation", activation_read, activation_write},
    {"Dropout", dropout_read, dropout_write},
    {"Concatenate", concatenate_read, concatenate_write},
    {"Add", add_read, merge_write},
    {"Subtract", subtract_read, merge_write},
    {"Multiply", multiply_read, merge_write},
    {"Average", average_read, merge_write},
    {"Maximum", maximum_read, merge_write},
    {"Minimum", minimum_read, merge_write},
    {"Dot", dot_read, dot_write},
};
const int rnn__keras_layer_class_count =
    (int)(sizeof rnn__keras_layer_classes / sizeof rnn__keras_layer_classes[0]);

const rnn_keras_layer_class *rnn__keras_layer_class(const char *class_name) {
    for (int i = 0; class_name && i < rnn__keras_layer_class_count; i++)
        if (!strcmp(rnn__keras_layer_classes[i].class_name, class_name))
            return &rnn__keras_layer_classes[i];
    return NULL;
}

/* ---------------------------------------------------------------- entries */

static rnn_status unsupported_class(const char *name, const char *cls) {
    char list[512];
    size_t n = 0;
    for (int i = 0; i < rnn__keras_layer_class_count && n < sizeof list; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s, ",
                              rnn__keras_layer_classes[i].class_name);
    return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" of class %s is not supported by librnn "
                     "(supported: InputLayer, %sand nested Sequential/Functional models)", name,
                     cls, list);
}

rnn_layer *rnn__keras_layer_from(const cJSON *entry, const rnn_keras_read_ctx *c) {
    const char *cls = str(entry, "class_name");
    const cJSON *cfg = get(entry, "config");
    if (!cls || !cJSON_IsObject(cfg)) {
        rnn__fail(RNN_ERR_FORMAT, "a layer entry has no class_name or config");
        return NULL;
    }
    const char *name = str(cfg, "name");
    if (!name) name = str(entry, "name");
    if (rnn__keras_check_builtin(entry, cls, name ? name : cls)) return NULL;
    if (!name) {
        rnn__fail(RNN_ERR_FORMAT, "a %s layer has no name", cls);
        return NULL;
    }
    if (check_common(cfg, name, cls)) return NULL;
    const rnn_keras_layer_class *row = rnn__keras_layer_class(cls);
    if (!row) {
        unsupported_class(name, cls);
        return NULL;
    }
    rnn_layer *L = row->read(cfg, name, c);
    if (L && cJSON_IsFalse(get(cfg, "trainable"))) rnn_set_trainable(L, 0);
    return L;
}

cJSON *rnn__keras_layer_config(rnn_layer *L, const rnn_keras_write_ctx *c) {
    const rnn_keras_layer_class *row = rnn__keras_layer_class(L->ops->class_name);
    if (!row) {
        rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (%s) cannot be saved", L->name,
                  L->ops->class_name);
        return NULL;
    }
    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddStringToObject(cfg, "name", L->name);
    cJSON_AddBoolToObject(cfg, "trainable", !L->frozen);
    cJSON_AddStringToObject(cfg, "dtype", "float32");
    if (row->write(L, cfg, c)) {
        cJSON_Delete(cfg);
        return NULL;
    }
    return cfg;
}

#else
typedef int rnn__keras_layers_unused;
#endif
