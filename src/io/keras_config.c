/* Keras model configs (JSON) -> librnn models, through the public constructors, and compile
 * information -> rnn_compile_with. Every option librnn has is read; an option or layer it does
 * not have is an error naming it. Covers Keras 1 (output_dim, inner_activation, list-form
 * Sequential), Keras 2 / tf.keras 2 (batch_input_shape, [[name, node, tensor, kwargs]] nodes)
 * and Keras 3 (batch_shape, {"args", "kwargs"} nodes, serialised dtypes and activations). */
#ifdef RNN_WITH_KERAS_IO
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "layers/layer_options.h"
#include "error.h"
#include "io/keras_io.h"
#include "layers/recurrent.h"

/* ---------------------------------------------------------------- layer introspection */

int rnn__keras_is(const rnn_layer *layer, const char *class_name) {
    return layer && !strcmp(layer->ops->class_name, class_name);
}
const rnn_recurrent_options *rnn__keras_recurrent_options(rnn_layer *layer) {
    return &rnn__recurrent_of(layer)->opt;
}
const rnn_dense_options *rnn__keras_dense_options(rnn_layer *layer) {
    return rnn__dense_options(layer);
}
const rnn_embedding_options *rnn__keras_embedding_options(rnn_layer *layer) {
    return rnn__embedding_options(layer);
}
int rnn__keras_repeat_n(rnn_layer *layer) { return rnn__repeat_vector_n(layer); }
rnn_activation rnn__keras_activation_of(rnn_layer *layer) { return rnn__activation_layer_kind(layer); }
float rnn__keras_dropout_rate(rnn_layer *layer) { return rnn__dropout_rate(layer); }
rnn_layer *rnn__keras_inner_layer(rnn_layer *layer) { return rnn__time_distributed_inner(layer); }
rnn_model *rnn__keras_inner_model(rnn_layer *layer) { return rnn__model_layer_inner(layer); }
int rnn__keras_input_is_ids(rnn_layer *input_layer) { return rnn__input_is_ids(input_layer); }
const char *rnn__keras_stem(const rnn_layer *layer) { return layer->ops->base_name; }

void rnn__keras_origin_set(rnn_keras_origin *o, const char *version) {
    snprintf(o->version, sizeof o->version, "%s", version ? version : "");
    o->major = 2;
    if (version && version[0] >= '1' && version[0] <= '9' && version[1] == '.')
        o->major = version[0] - '0';
    if (o->major < 1 || o->major > 3) o->major = o->major > 3 ? 3 : 2;
}

/* ---------------------------------------------------------------- JSON helpers */

static const cJSON *get(const cJSON *obj, const char *key) {
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}
static int present(const cJSON *v) { return v && !cJSON_IsNull(v); }
static const char *str(const cJSON *obj, const char *key) {
    const cJSON *v = get(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

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
    const cJSON *tr = get(cfg, "trainable");
    if (cJSON_IsFalse(tr))
        return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (%s): trainable=False (frozen layers) "
                         "is not supported by librnn", layer, cls);
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

static rnn_status set_name(rnn_layer *layer, const char *name) {
    if (!name) return RNN_OK;
    if (strlen(name) >= RNN_NAME_MAX)
        return rnn__fail(RNN_ERR_UNSUPPORTED, "layer name \"%.40s...\" is longer than %d bytes",
                         name, RNN_NAME_MAX - 1);
    snprintf(layer->name, sizeof layer->name, "%s", name);
    return RNN_OK;
}

/* ---------------------------------------------------------------- layers */

typedef struct {
    const rnn_keras_origin *o;
} build_ctx;

static const char *const supported_layers =
    "InputLayer, LSTM, GRU, SimpleRNN, Bidirectional, Dense, Conv1D, Embedding, Masking, "
    "TimeDistributed, RepeatVector, Flatten, Activation, Dropout, and nested "
    "Sequential/Functional models";

static int is_model_class(const char *cls) {
    return cls && (!strcmp(cls, "Sequential") || !strcmp(cls, "Functional") ||
                   !strcmp(cls, "Model"));
}

/* Refuses anything that is not a built-in Keras class: custom objects would need their Python
 * code, which librnn never runs. */
static rnn_status check_builtin(const cJSON *entry, const char *cls, const char *name) {
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

/* in_bidirectional: Keras sets zero_output_for_mask = return_sequences on a Bidirectional's
 * layers (and saves it), and librnn's Bidirectional does the same, so it is not an error there. */
static rnn_layer *recurrent_from(const cJSON *cfg, const char *cls, const char *name,
                                 const build_ctx *c, int in_bidirectional) {
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

/* A Bidirectional's "layer" or "backward_layer" entry: a built-in SimpleRNN, LSTM or GRU. */
static rnn_layer *bidirectional_sub_from(const cJSON *entry, const char *outer, const char *key,
                                         const build_ctx *c) {
    const char *cls = str(entry, "class_name");
    const cJSON *cfg = get(entry, "config");
    if (!cls || !cJSON_IsObject(cfg)) {
        rnn__fail(RNN_ERR_FORMAT, "layer \"%s\" (Bidirectional): %s has no class_name or config",
                  outer, key);
        return NULL;
    }
    const char *name = str(cfg, "name");
    if (check_builtin(entry, cls, name ? name : cls)) return NULL;
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
static rnn_layer *bidirectional_from(const cJSON *cfg, const char *name, const build_ctx *c) {
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
    return layer;
}

/* Conv1D (tf.keras 2 and Keras 3 configs: sizes as one-element lists). channels_first, groups
 * other than 1 and LoRA are refused by name. */
static rnn_layer *conv1d_from(const cJSON *cfg, const char *name, const build_ctx *c) {
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

/* One layer entry {"class_name", "config", ...} -> a new layer (not a nested model). */
static rnn_layer *layer_from(const cJSON *entry, const build_ctx *c) {
    const char *cls = str(entry, "class_name");
    const cJSON *cfg = get(entry, "config");
    if (!cls || !cJSON_IsObject(cfg)) {
        rnn__fail(RNN_ERR_FORMAT, "a layer entry has no class_name or config");
        return NULL;
    }
    const char *name = str(cfg, "name");
    if (!name) name = str(entry, "name");
    if (check_builtin(entry, cls, name ? name : cls)) return NULL;
    if (!name) {
        rnn__fail(RNN_ERR_FORMAT, "a %s layer has no name", cls);
        return NULL;
    }
    if (check_common(cfg, name, cls)) return NULL;
    int k1 = c->o->major == 1;
    rnn_layer *layer = NULL;
    rnn_status st = RNN_OK;
    if (!strcmp(cls, "LSTM") || !strcmp(cls, "GRU") || !strcmp(cls, "SimpleRNN")) {
        return recurrent_from(cfg, cls, name, c, 0);
    } else if (!strcmp(cls, "Dense")) {
        rnn_dense_options d = rnn_dense_defaults(0);
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
    } else if (!strcmp(cls, "Conv1D")) {
        return conv1d_from(cfg, name, c);
    } else if (!strcmp(cls, "Embedding")) {
        rnn_embedding_options e = rnn_embedding_defaults(0, 0);
        double drop = 0;
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
    } else if (!strcmp(cls, "TimeDistributed")) {
        const cJSON *inner_entry = get(cfg, "layer");
        if (!cJSON_IsObject(inner_entry)) {
            rnn__fail(RNN_ERR_FORMAT, "layer \"%s\" (TimeDistributed) has no inner layer", name);
            return NULL;
        }
        if (is_model_class(str(inner_entry, "class_name"))) {
            rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\": TimeDistributed over a model is not "
                      "supported when loading", name);
            return NULL;
        }
        rnn_layer *inner = layer_from(inner_entry, c);
        if (!inner) return NULL;
        layer = rnn_time_distributed(inner);
    } else if (!strcmp(cls, "Bidirectional")) {
        layer = bidirectional_from(cfg, name, c);
    } else if (!strcmp(cls, "Flatten")) {
        const char *fmt = str(cfg, "data_format");
        if (fmt && strcmp(fmt, "channels_last")) {
            rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (Flatten): data_format=\"%s\" is not "
                      "supported by librnn (channels_last only)", name, fmt);
            return NULL;
        }
        layer = rnn_flatten();
    } else if (!strcmp(cls, "RepeatVector")) {
        int n = 0;
        if (opt_int(cfg, "n", name, &n)) return NULL;
        layer = rnn_repeat_vector(n);
    } else if (!strcmp(cls, "Activation")) {
        rnn_activation a = RNN_LINEAR;
        if (opt_activation(cfg, "activation", name, c->o, &a)) return NULL;
        layer = rnn_activation_layer(a);
    } else if (!strcmp(cls, "Masking")) {
        double value = 0;
        if (present(get(cfg, "mask_value")) && opt_num(cfg, "mask_value", name, &value)) return NULL;
        layer = rnn_masking((float)value);
    } else if (!strcmp(cls, "Dropout")) {
        double rate = 0;
        if (opt_num(cfg, k1 ? "p" : "rate", name, &rate)) return NULL;
        if (present(get(cfg, "noise_shape"))) {
            rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (Dropout): noise_shape is not supported",
                      name);
            return NULL;
        }
        layer = rnn_dropout((float)rate);
    } else {
        rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" of class %s is not supported by librnn "
                  "(supported: %s)", name, cls, supported_layers);
        return NULL;
    }
    if (layer && set_name(layer, name)) {
        rnn_layer_free(layer);
        return NULL;
    }
    return layer;
}

/* ---------------------------------------------------------------- inputs */

/* [batch, d1, d2] with nulls -> dims (RNN_NONE for null). Returns the rank or -1. */
static int read_shape(const cJSON *arr, int64_t dims[RNN_MAX_RANK]) {
    if (!cJSON_IsArray(arr)) return -1;
    int n = cJSON_GetArraySize(arr);
    if (n < 1 || n > RNN_MAX_RANK) return -1;
    for (int i = 0; i < n; i++) {
        const cJSON *d = cJSON_GetArrayItem(arr, i);
        if (cJSON_IsNull(d)) dims[i] = RNN_NONE;
        else if (cJSON_IsNumber(d) && d->valuedouble >= 1 && d->valuedouble <= 2147483647.0 &&
                 d->valuedouble == floor(d->valuedouble))
            dims[i] = (int64_t)d->valuedouble;
        else return -1;
    }
    return n;
}

static const cJSON *input_shape_of(const cJSON *cfg) {
    const cJSON *s = get(cfg, "batch_shape");
    if (!present(s)) s = get(cfg, "batch_input_shape");
    return present(s) ? s : NULL;
}

/* A model input of the given batch shape; ids for an Embedding consumer. */
static rnn_symbol *make_input(const cJSON *shape, int ids, const char *name, const char *where) {
    int64_t d[RNN_MAX_RANK];
    int rank = read_shape(shape, d);
    char nm[RNN_NAME_MAX];
    snprintf(nm, sizeof nm, "%s", name ? name : "");
    rnn_symbol *s = NULL;
    if (ids && rank == 2) s = rnn_new_ids_input(d[0], d[1], name ? nm : NULL);
    else if (!ids && rank == 3) s = rnn_new_input(d[0], d[1], d[2], name ? nm : NULL);
    else if (!ids && rank == 2) s = rnn_new_input(d[0], 0, d[1], name ? nm : NULL);
    else {
        char *txt = shape ? cJSON_PrintUnformatted(shape) : NULL;
        rnn__fail(RNN_ERR_UNSUPPORTED, "%s: input shape %s is not supported (librnn takes "
                  "[batch, steps, features], [batch, features], or [batch, steps] ids for "
                  "Embedding)", where, txt ? txt : "(none)");
        free(txt);
        return NULL;
    }
    return s;
}

/* ---------------------------------------------------------------- models */

static rnn_model *model_from(const cJSON *entry, const build_ctx *c, const rnn_shape *fallback,
                             int depth);

/* A nested model entry -> a layer object for it (the outer model keeps the inner alive). */
static rnn_layer *nested_layer(const cJSON *entry, const build_ctx *c, const rnn_shape *in,
                               int depth) {
    rnn_model *inner = model_from(entry, c, in, depth + 1);
    if (!inner) return NULL;
    rnn_layer *layer = rnn_model_as_layer(inner);
    rnn_model_free(inner); /* the layer holds it now */
    return layer;
}

static rnn_model *sequential_from(const cJSON *cfg, const build_ctx *c, const rnn_shape *fallback,
                                  int depth) {
    const cJSON *layers = cJSON_IsArray(cfg) ? cfg : get(cfg, "layers");
    const char *name = cJSON_IsArray(cfg) ? NULL : str(cfg, "name");
    if (!cJSON_IsArray(layers)) {
        rnn__fail(RNN_ERR_FORMAT, "Sequential config has no layer list");
        return NULL;
    }
    int n = cJSON_GetArraySize(layers), first = 0;
    if (n == 0) {
        rnn__fail(RNN_ERR_FORMAT, "Sequential model \"%s\" has no layers", name ? name : "");
        return NULL;
    }
    /* The input: an InputLayer first (Keras 2.2+, 3), batch_input_shape on the first layer, or
     * build_input_shape; a nested model may take it from its caller. */
    const cJSON *e0 = cJSON_GetArrayItem(layers, 0);
    const cJSON *shape = NULL;
    const char *in_name = NULL;
    if (str(e0, "class_name") && !strcmp(str(e0, "class_name"), "InputLayer")) {
        shape = input_shape_of(get(e0, "config"));
        in_name = str(get(e0, "config"), "name");
        first = 1;
    } else {
        shape = input_shape_of(get(e0, "config"));
    }
    if (!shape) shape = present(get(cfg, "build_input_shape")) ? get(cfg, "build_input_shape") : NULL;
    if (first >= n) {
        rnn__fail(RNN_ERR_FORMAT, "Sequential model \"%s\" has no layers", name ? name : "");
        return NULL;
    }
    const cJSON *e1 = cJSON_GetArrayItem(layers, first);
    int ids = str(e1, "class_name") && !strcmp(str(e1, "class_name"), "Embedding");
    rnn_symbol *in;
    if (shape) {
        in = make_input(shape, ids, in_name, name ? name : "sequential");
    } else if (fallback) {
        in = fallback->rank == 3 ? rnn_new_input(fallback->dim[0], fallback->dim[1],
                                                 fallback->dim[2], NULL)
             : ids ? rnn_new_ids_input(fallback->dim[0], fallback->dim[1], NULL)
                   : rnn_new_input(fallback->dim[0], 0, fallback->dim[1], NULL);
    } else {
        rnn__fail(RNN_ERR_UNSUPPORTED, "Sequential model \"%s\" declares no input shape (no "
                  "InputLayer, batch_input_shape or build_input_shape): it was never built",
                  name ? name : "");
        return NULL;
    }
    if (!in) return NULL;
    rnn_model *m = rnn_sequential(name);
    if (!m) return NULL;
    if (rnn_sequential_input(m, in)) {
        rnn_layer_free(in->producer);
        rnn_model_free(m);
        return NULL;
    }
    for (int i = first; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(layers, i);
        const char *cls = str(e, "class_name");
        rnn_layer *L;
        if (is_model_class(cls)) {
            if (check_builtin(e, cls, cls)) L = NULL;
            else L = nested_layer(e, c, &m->outputs[0]->shape, depth);
        } else if (cls && !strcmp(cls, "InputLayer")) {
            rnn__fail(RNN_ERR_FORMAT, "Sequential model \"%s\": an InputLayer after the first "
                      "layer", m->name);
            L = NULL;
        } else {
            L = layer_from(e, c);
        }
        if (!L || rnn_add(m, L)) {
            rnn_model_free(m);
            return NULL;
        }
    }
    return m;
}

/* One reference [name, node, tensor] (Keras 2) or a __keras_tensor__ (Keras 3). */
typedef struct {
    const char *layer;
    int tensor;
} tensor_ref;

static int parse_ref(const cJSON *v, tensor_ref *r) {
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) >= 3 &&
        cJSON_IsString(cJSON_GetArrayItem(v, 0)) && cJSON_IsNumber(cJSON_GetArrayItem(v, 2))) {
        r->layer = cJSON_GetArrayItem(v, 0)->valuestring;
        r->tensor = cJSON_GetArrayItem(v, 2)->valueint;
        return 1;
    }
    if (cJSON_IsObject(v) && str(v, "class_name") &&
        !strcmp(str(v, "class_name"), "__keras_tensor__"))
        return parse_ref(get(get(v, "config"), "keras_history"), r);
    return 0;
}

/* Collects tensor references from an argument structure (nested lists of tensors). */
static int collect_refs(const cJSON *v, tensor_ref *refs, int n, int cap) {
    tensor_ref r;
    if (parse_ref(v, &r)) {
        if (n < cap) refs[n] = r;
        return n + 1;
    }
    if (cJSON_IsArray(v)) {
        const cJSON *item;
        cJSON_ArrayForEach(item, v) n = collect_refs(item, refs, n, cap);
    }
    return n;
}

/* The inputs of one call node: Keras 2 [[name, node, tensor, kwargs], ...] or Keras 3
 * {"args": [...], "kwargs": {...}}; an RNN's initial_state is appended after x. */
static rnn_status node_refs(const cJSON *node, const char *layer, tensor_ref *refs, int *n,
                            tensor_ref *mask) {
    int cap = RNN_LAYER_MAX_INPUTS + 1, k = 0;
    if (mask) mask->layer = NULL;
    if (cJSON_IsObject(node)) {
        k = collect_refs(get(node, "args"), refs, 0, cap);
        const cJSON *kw;
        cJSON_ArrayForEach(kw, get(node, "kwargs")) {
            if (!strcmp(kw->string, "initial_state")) k = collect_refs(kw, refs, k, cap);
            else if (!strcmp(kw->string, "training")) continue;
            else if (!strcmp(kw->string, "mask") && !present(kw)) continue;
            else if (!strcmp(kw->string, "mask") && mask && parse_ref(kw, mask)) continue;
            else if (present(kw))
                return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" is called with argument %s, "
                                 "which librnn does not support", layer, kw->string);
        }
    } else if (cJSON_IsArray(node)) {
        const cJSON *item;
        cJSON_ArrayForEach(item, node) {
            tensor_ref r;
            if (!parse_ref(item, &r))
                return rnn__fail(RNN_ERR_FORMAT, "layer \"%s\": unreadable inbound node", layer);
            if (k < cap) refs[k] = r;
            k++;
            const cJSON *kwargs = cJSON_GetArrayItem(item, 3);
            const cJSON *kw;
            cJSON_ArrayForEach(kw, kwargs) {
                if (!strcmp(kw->string, "initial_state") || !strcmp(kw->string, "training") ||
                    !present(kw))
                    continue;
                if (!strcmp(kw->string, "mask") || !strcmp(kw->string, "constants"))
                    return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" is called with argument "
                                     "%s, which librnn does not support", layer, kw->string);
            }
        }
    } else {
        return rnn__fail(RNN_ERR_FORMAT, "layer \"%s\": unreadable inbound node", layer);
    }
    if (k < 1 || k > RNN_LAYER_MAX_INPUTS)
        return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" takes %d inputs (librnn: 1 to %d)",
                         layer, k, RNN_LAYER_MAX_INPUTS);
    *n = k;
    return RNN_OK;
}

typedef struct {
    const char *name;
    const cJSON *entry;
    rnn_layer *layer;
    rnn_symbol *out[RNN_LAYER_MAX_OUTPUTS];
    int n_out;
    int done;
} fnode;

static fnode *find_node(fnode *nodes, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (nodes[i].name && !strcmp(nodes[i].name, name)) return &nodes[i];
    return NULL;
}

static rnn_status io_list(const cJSON *v, tensor_ref *refs, int *n, const char *what) {
    tensor_ref r;
    int k = 0;
    if (parse_ref(v, &r)) refs[k++] = r;
    else if (cJSON_IsArray(v)) {
        const cJSON *item;
        cJSON_ArrayForEach(item, v) {
            if (k >= RNN_MODEL_MAX_IO || !parse_ref(item, &refs[k]))
                return rnn__fail(RNN_ERR_UNSUPPORTED, "model %s: unreadable or more than %d",
                                 what, RNN_MODEL_MAX_IO);
            k++;
        }
    }
    if (k == 0) return rnn__fail(RNN_ERR_FORMAT, "model has no %s", what);
    *n = k;
    return RNN_OK;
}

static rnn_model *functional_from(const cJSON *cfg, const build_ctx *c, int depth) {
    const cJSON *layers = get(cfg, "layers");
    const char *name = str(cfg, "name");
    if (!cJSON_IsArray(layers)) {
        rnn__fail(RNN_ERR_FORMAT, "Functional config has no layer list");
        return NULL;
    }
    int n = cJSON_GetArraySize(layers);
    if (n < 1 || n > 100000) {
        rnn__fail(RNN_ERR_FORMAT, "Functional model with %d layers", n);
        return NULL;
    }
    fnode *nodes = calloc((size_t)n, sizeof *nodes);
    if (!nodes) {
        rnn__fail(RNN_ERR_MEMORY, "out of memory");
        return NULL;
    }
    rnn_model *m = NULL;
    rnn_status st = RNN_OK;
    for (int i = 0; i < n && !st; i++) {
        nodes[i].entry = cJSON_GetArrayItem(layers, i);
        nodes[i].name = str(nodes[i].entry, "name");
        if (!nodes[i].name) nodes[i].name = str(get(nodes[i].entry, "config"), "name");
        if (!nodes[i].name) st = rnn__fail(RNN_ERR_FORMAT, "a layer of model \"%s\" has no name",
                                           name ? name : "");
    }
    /* Layers in dependency order: passes until nothing more can be built. */
    int remaining = n, progress = 1;
    while (!st && remaining && progress) {
        progress = 0;
        for (int i = 0; i < n && !st; i++) {
            fnode *nd = &nodes[i];
            if (nd->done) continue;
            const char *cls = str(nd->entry, "class_name");
            const cJSON *inbound = get(nd->entry, "inbound_nodes");
            if (cls && !strcmp(cls, "InputLayer")) {
                const cJSON *icfg = get(nd->entry, "config");
                /* ids if some Embedding reads this input */
                int ids = 0;
                for (int j = 0; j < n; j++) {
                    const char *cj = str(nodes[j].entry, "class_name");
                    if (!cj || strcmp(cj, "Embedding")) continue;
                    tensor_ref refs[RNN_LAYER_MAX_INPUTS + 1];
                    int k = 0;
                    const cJSON *ib = get(nodes[j].entry, "inbound_nodes");
                    if (cJSON_GetArraySize(ib) == 1 &&
                        !node_refs(cJSON_GetArrayItem(ib, 0), nodes[j].name, refs, &k, NULL) &&
                        !strcmp(refs[0].layer, nd->name))
                        ids = 1;
                }
                rnn_symbol *s = make_input(input_shape_of(icfg), ids, nd->name, nd->name);
                if (!s) { st = RNN_ERR_UNSUPPORTED; break; }
                nd->layer = s->producer;
                nd->out[0] = s;
                nd->n_out = 1;
                nd->done = 1;
                remaining--;
                progress = 1;
                continue;
            }
            if (!cls) { st = rnn__fail(RNN_ERR_FORMAT, "layer \"%s\" has no class_name", nd->name); break; }
            if (!strcmp(cls, "NotEqual") || !strcmp(cls, "Any")) {
                /* Keras 3 records Embedding(mask_zero=True)'s mask as not_equal(ids, 0), and
                 * Masking(v)'s as any(not_equal(x, v), axis=-1), feeding the next layer's mask
                 * argument; librnn carries those masks by itself. The operations have no
                 * outputs here, so a layer reading one as data is refused. */
                const cJSON *args = get(cJSON_GetArrayItem(inbound, 0), "args");
                const cJSON *value = cJSON_GetArrayItem(args, 1);
                const cJSON *axis = get(get(nd->entry, "config"), "axis");
                int mask_op = !strcmp(cls, "NotEqual")
                                  ? cJSON_IsNumber(value)
                                  : cJSON_IsNumber(axis) && axis->valuedouble == -1 &&
                                        !cJSON_IsTrue(get(get(nd->entry, "config"), "keepdims"));
                if (!mask_op) {
                    st = rnn__fail(RNN_ERR_UNSUPPORTED, "operation \"%s\" (%s) other than an "
                                   "Embedding or Masking mask is not supported", nd->name, cls);
                    break;
                }
                nd->n_out = 0;
                nd->done = 1;
                remaining--;
                progress = 1;
                continue;
            }
            if (!cJSON_IsArray(inbound) || cJSON_GetArraySize(inbound) != 1) {
                int k = cJSON_IsArray(inbound) ? cJSON_GetArraySize(inbound) : 0;
                st = rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" is called %d times in model "
                               "\"%s\": librnn calls each layer once (shared layers are not "
                               "supported)", nd->name, k, name ? name : "");
                break;
            }
            tensor_ref refs[RNN_LAYER_MAX_INPUTS + 1];
            int k = 0;
            tensor_ref mask_ref;
            if ((st = node_refs(cJSON_GetArrayItem(inbound, 0), nd->name, refs, &k, &mask_ref)))
                break;
            if (mask_ref.layer) {
                fnode *p = find_node(nodes, n, mask_ref.layer);
                const char *pc = p ? str(p->entry, "class_name") : NULL;
                if (!pc || (strcmp(pc, "NotEqual") && strcmp(pc, "Any"))) {
                    st = rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" is called with an explicit "
                                   "mask (from \"%s\"), which librnn does not support", nd->name,
                                   mask_ref.layer);
                    break;
                }
                if (!p->done) continue;
            }
            rnn_symbol *in[RNN_LAYER_MAX_INPUTS];
            int ready = 1;
            for (int q = 0; q < k && ready; q++) {
                fnode *p = find_node(nodes, n, refs[q].layer);
                if (!p) {
                    st = rnn__fail(RNN_ERR_FORMAT, "layer \"%s\" reads from unknown layer \"%s\"",
                                   nd->name, refs[q].layer);
                    break;
                }
                if (!p->done) ready = 0;
                else if (refs[q].tensor < 0 || refs[q].tensor >= p->n_out) {
                    st = rnn__fail(RNN_ERR_FORMAT, "layer \"%s\" reads output %d of \"%s\", "
                                   "which has %d", nd->name, refs[q].tensor, p->name, p->n_out);
                    break;
                } else {
                    in[q] = p->out[refs[q].tensor];
                }
            }
            if (st) break;
            if (!ready) continue;
            rnn_layer *L;
            if (is_model_class(cls)) {
                if (k != 1) {
                    st = rnn__fail(RNN_ERR_UNSUPPORTED, "nested model \"%s\" with %d inputs",
                                   nd->name, k);
                    break;
                }
                L = check_builtin(nd->entry, cls, nd->name) ? NULL
                                                            : nested_layer(nd->entry, c, &in[0]->shape, depth);
                if (L && strcmp(L->name, nd->name)) set_name(L, nd->name);
            } else {
                L = layer_from(nd->entry, c);
            }
            if (!L) { st = RNN_ERR_UNSUPPORTED; break; }
            if ((st = rnn_call_ex(L, in, k, nd->out, &nd->n_out))) {
                rnn_layer_free(L);
                break;
            }
            nd->layer = L;
            nd->done = 1;
            remaining--;
            progress = 1;
        }
    }
    if (!st && remaining) {
        for (int i = 0; i < n; i++)
            if (!nodes[i].done) {
                st = rnn__fail(RNN_ERR_FORMAT, "model \"%s\": the inputs of layer \"%s\" can "
                               "never be computed (a cycle)", name ? name : "", nodes[i].name);
                break;
            }
    }
    tensor_ref ins[RNN_MODEL_MAX_IO], outs[RNN_MODEL_MAX_IO];
    int ni = 0, no = 0;
    if (!st) st = io_list(get(cfg, "input_layers"), ins, &ni, "input_layers");
    if (!st) st = io_list(get(cfg, "output_layers"), outs, &no, "output_layers");
    rnn_symbol *isym[RNN_MODEL_MAX_IO], *osym[RNN_MODEL_MAX_IO];
    for (int q = 0; !st && q < ni + no; q++) {
        tensor_ref *r = q < ni ? &ins[q] : &outs[q - ni];
        fnode *p = find_node(nodes, n, r->layer);
        if (!p || r->tensor < 0 || r->tensor >= p->n_out)
            st = rnn__fail(RNN_ERR_FORMAT, "model \"%s\": unknown %s \"%s\"", name ? name : "",
                           q < ni ? "input" : "output", r->layer);
        else if (q < ni) isym[q] = p->out[r->tensor];
        else osym[q - ni] = p->out[r->tensor];
    }
    if (!st) {
        m = rnn_model_new(isym, ni, osym, no, name);
        if (!m) st = RNN_ERR_FORMAT;
    }
    /* Layers not owned by the model (on failure: all of them) go now. */
    for (int i = 0; i < n; i++)
        if (nodes[i].layer && nodes[i].layer->refcount <= 0) rnn_layer_free(nodes[i].layer);
    free(nodes);
    if (st && m) {
        rnn_model_free(m);
        m = NULL;
    }
    return m;
}

static rnn_model *model_from(const cJSON *entry, const build_ctx *c, const rnn_shape *fallback,
                             int depth) {
    if (depth > 32) {
        rnn__fail(RNN_ERR_UNSUPPORTED, "models nested more than 32 deep");
        return NULL;
    }
    const char *cls = str(entry, "class_name");
    const cJSON *cfg = get(entry, "config");
    if (!cls || !cfg) {
        rnn__fail(RNN_ERR_FORMAT, "not a Keras model config (no class_name/config)");
        return NULL;
    }
    if (!strcmp(cls, "Sequential")) return sequential_from(cfg, c, fallback, depth);
    if (!strcmp(cls, "Functional") || !strcmp(cls, "Model")) {
        if (!cJSON_IsObject(cfg)) {
            rnn__fail(RNN_ERR_FORMAT, "Functional config is not an object");
            return NULL;
        }
        return functional_from(cfg, c, depth);
    }
    if (check_builtin(entry, cls, cls)) return NULL;
    rnn__fail(RNN_ERR_UNSUPPORTED, "model class %s is not supported (librnn loads Sequential and "
              "Functional models)", cls);
    return NULL;
}

rnn_model *rnn__keras_model_from_json(const cJSON *model, const rnn_keras_origin *o) {
    return rnn__keras_model_from_json_init(model, o, 1);
}

rnn_model *rnn__keras_model_from_json_init(const cJSON *model, const rnn_keras_origin *o,
                                           int init) {
    build_ctx c = {o};
    rnn_model *m = model_from(model, &c, NULL, 0);
    if (m && rnn__model_build_weights(m, init)) {
        rnn__fail(RNN_ERR_MEMORY, "%s", m->error);
        rnn_model_free(m);
        return NULL;
    }
    return m;
}

/* ---------------------------------------------------------------- weights */

static int layer_weights(rnn_layer *L, rnn_weight **out, int n, int cap) {
    for (int k = 0; k < L->n_weights; k++) {
        if (n < cap) out[n] = &L->weights[k];
        n++;
    }
    if (L->ops->children) {
        rnn_layer **kids;
        int nk = L->ops->children(L, &kids);
        for (int i = 0; i < nk; i++) n = layer_weights(kids[i], out, n, cap);
    }
    return n;
}

int rnn__keras_layer_weights(rnn_layer *layer, rnn_weight **out, int cap) {
    return layer_weights(layer, out, 0, cap);
}

/* Keras 1 per-gate arrays -> one array: out[:, g*H + j] = parts[g][:, j]. */
static rnn_status concat_gates(rnn_keras_array *parts, int gates, rnn_keras_array *out,
                               const char *layer) {
    int rank = parts[0].rank;
    int64_t rows = rank == 2 ? parts[0].shape[0] : 1, H = parts[0].shape[rank - 1];
    for (int g = 0; g < gates; g++)
        if (parts[g].rank != rank || parts[g].shape[rank - 1] != H ||
            (rank == 2 && parts[g].shape[0] != rows) || rank < 1)
            return rnn__fail(RNN_ERR_FORMAT, "layer \"%s\": Keras 1 gate weights of different "
                             "shapes", layer);
    float *d = malloc(sizeof(float) * (size_t)(rows * H * gates));
    if (!d) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    for (int64_t r = 0; r < rows; r++)
        for (int g = 0; g < gates; g++)
            memcpy(d + r * H * gates + g * H, parts[g].data + r * H, sizeof(float) * (size_t)H);
    out->rank = rank;
    out->shape[0] = rank == 2 ? rows : H * gates;
    out->shape[1] = rank == 2 ? H * gates : 0;
    out->size = rows * H * gates;
    out->data = d;
    return RNN_OK;
}

static void shape_text(int rank, const int64_t *shape, char *buf, size_t size) {
    if (rank == 0) snprintf(buf, size, "()");
    else if (rank == 1) snprintf(buf, size, "(%lld,)", (long long)shape[0]);
    else if (rank == 2) snprintf(buf, size, "(%lld, %lld)", (long long)shape[0], (long long)shape[1]);
    else snprintf(buf, size, "(%lld, %lld, %lld)", (long long)shape[0], (long long)shape[1],
                  (long long)shape[2]);
}

rnn_status rnn__keras_assign_layer(rnn_layer *layer, rnn_keras_array *arrays, int n,
                                   const rnn_keras_origin *o) {
    rnn_weight *w[64];
    int nw = layer_weights(layer, w, 0, 64);
    if (nw > 64) return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" has too many weights", layer->name);
    rnn_keras_array fused[3] = {{0}};
    int gates = 0;
    /* Keras 1 (consume_less cpu/mem): LSTM W_i U_i b_i W_c U_c b_c W_f U_f b_f W_o U_o b_o,
     * GRU W_z U_z b_z W_r U_r b_r W_h U_h b_h. */
    if (o->major == 1 && rnn__layer_is_recurrent(layer)) {
        if (rnn__keras_is(layer, "LSTM") && n == 12) gates = 4;
        if (rnn__keras_is(layer, "GRU") && n == 9) gates = 3;
    }
    if (gates) {
        static const int lstm_order[4] = {0, 2, 1, 3}; /* i, f, c, o from i, c, f, o */
        for (int k = 0; k < 3; k++) {
            rnn_keras_array parts[4];
            for (int g = 0; g < gates; g++)
                parts[g] = arrays[(gates == 4 ? lstm_order[g] : g) * 3 + k];
            rnn_status st = concat_gates(parts, gates, &fused[k], layer->name);
            if (st) {
                rnn__keras_arrays_free(fused, 3);
                return st;
            }
        }
        arrays = fused;
        n = 3;
    }
    rnn_status st = RNN_OK;
    if (n != nw)
        st = rnn__fail(RNN_ERR_FORMAT, "layer \"%s\" (%s) expects %d weight arrays, the file has "
                       "%d", layer->name, layer->ops->class_name, nw, n);
    for (int k = 0; !st && k < nw; k++) {
        int same = arrays[k].rank == w[k]->rank && arrays[k].shape[0] == w[k]->shape[0] &&
                   (w[k]->rank < 2 || arrays[k].shape[1] == w[k]->shape[1]) &&
                   (w[k]->rank < 3 || arrays[k].shape[2] == w[k]->shape[2]);
        if (!same) {
            char want[48], got[48];
            shape_text(w[k]->rank, w[k]->shape, want, sizeof want);
            shape_text(arrays[k].rank, arrays[k].shape, got, sizeof got);
            st = rnn__fail(RNN_ERR_FORMAT, "layer \"%s\": weight %d (%s) has shape %s in the "
                           "file, the config implies %s", layer->name, k, w[k]->name, got, want);
        }
    }
    for (int k = 0; !st && k < nw; k++) {
        memcpy(w[k]->value, arrays[k].data, sizeof(float) * (size_t)w[k]->size);
        rnn__weight_changed(w[k]);
    }
    if (gates) rnn__keras_arrays_free(fused, 3);
    return st;
}

void rnn__keras_arrays_free(rnn_keras_array *a, int n) {
    for (int i = 0; a && i < n; i++) {
        free(a[i].data);
        a[i].data = NULL;
    }
}

/* ---------------------------------------------------------------- compile */

static int number_or(const cJSON *cfg, const char *key, float *out) {
    const cJSON *v = get(cfg, key);
    if (!present(v)) return 1;
    if (!cJSON_IsNumber(v)) return 0;
    *out = (float)v->valuedouble;
    return 1;
}

/* A serialised optimizer (string or {"class_name", "config"}) -> settings; 0 if librnn lacks it. */
static int optimizer_from(const cJSON *v, rnn_optimizer *opt) {
    const char *cls = cJSON_IsString(v) ? v->valuestring : str(v, "class_name");
    const cJSON *cfg = get(v, "config");
    if (!cls) return 0;
    if (!strncmp(cls, "Custom>", 7)) cls += 7; /* tf.keras 2.11+ legacy files */
    if (!strcasecmp(cls, "adam")) *opt = rnn_adam_defaults();
    else if (!strcasecmp(cls, "sgd")) *opt = rnn_sgd_defaults();
    else if (!strcasecmp(cls, "rmsprop")) *opt = rnn_rmsprop_defaults();
    else return 0;
    if (!cfg) return 1;
    const cJSON *lr = get(cfg, "learning_rate");
    if (!present(lr)) lr = get(cfg, "lr");
    if (cJSON_IsNumber(lr)) opt->learning_rate = (float)lr->valuedouble;
    else if (cJSON_IsObject(lr)) {
        const char *sc = str(lr, "class_name");
        const cJSON *sc_cfg = get(lr, "config");
        float init = 0, rate = 0, steps = 0;
        if (!sc || !number_or(sc_cfg, "initial_learning_rate", &init) ||
            !number_or(sc_cfg, "decay_rate", &rate) || !number_or(sc_cfg, "decay_steps", &steps))
            return 0;
        if (!strcmp(sc, "ExponentialDecay")) opt->schedule = RNN_SCHEDULE_EXPONENTIAL;
        else if (!strcmp(sc, "InverseTimeDecay")) opt->schedule = RNN_SCHEDULE_INVERSE_TIME;
        else return 0;
        opt->learning_rate = init;
        opt->decay_rate = rate;
        opt->decay_steps = (int64_t)steps;
        opt->staircase = cJSON_IsTrue(get(sc_cfg, "staircase"));
    } else if (present(lr)) return 0;
    if (present(get(cfg, "weight_decay")) || cJSON_IsTrue(get(cfg, "use_ema"))) return 0;
    if (present(get(cfg, "gradient_accumulation_steps"))) return 0;
    int ok = 1;
    ok &= number_or(cfg, "beta_1", &opt->beta_1);
    ok &= number_or(cfg, "beta_2", &opt->beta_2);
    ok &= number_or(cfg, "epsilon", &opt->epsilon);
    ok &= number_or(cfg, "momentum", &opt->momentum);
    ok &= number_or(cfg, "rho", &opt->rho);
    ok &= number_or(cfg, "decay", &opt->decay);
    ok &= number_or(cfg, "clipnorm", &opt->clipnorm);
    ok &= number_or(cfg, "clipvalue", &opt->clipvalue);
    ok &= number_or(cfg, "global_clipnorm", &opt->global_clipnorm);
    if (cJSON_IsTrue(get(cfg, "nesterov"))) opt->nesterov = 1;
    if (cJSON_IsTrue(get(cfg, "amsgrad"))) opt->amsgrad = 1;
    if (cJSON_IsTrue(get(cfg, "centered"))) opt->centered = 1;
    return ok;
}

static const char *loss_name(const cJSON *v, int *from_logits) {
    *from_logits = 0;
    if (cJSON_IsString(v)) return v->valuestring;
    if (!cJSON_IsObject(v)) return NULL;
    const cJSON *cfg = get(v, "config");
    if (cJSON_IsString(cfg)) return cfg->valuestring; /* {"class_name": "function", ...} */
    *from_logits = cJSON_IsTrue(get(cfg, "from_logits"));
    const char *fn = str(cfg, "fn");
    const char *cls = str(v, "class_name");
    return cls && strcmp(cls, "LossFunctionWrapper") ? cls : fn;
}

void rnn__keras_apply_compile(rnn_model *m, const cJSON *compile, int legacy) {
    if (!cJSON_IsObject(compile)) return;
    const cJSON *opt_json = get(compile, legacy ? "optimizer_config" : "optimizer");
    rnn_optimizer opt;
    int logits;
    const char *loss = loss_name(get(compile, "loss"), &logits);
    if (!loss || !optimizer_from(opt_json, &opt)) return;
    if (rnn_compile_with(m, loss, &opt)) {
        m->error[0] = 0;
        rnn__clear_error();
        return;
    }
    if (logits) rnn_set_from_logits(m, 1);
    const cJSON *metrics = get(compile, "metrics"), *mt;
    if (cJSON_IsArray(metrics) && cJSON_GetArraySize(metrics) == 1 &&
        cJSON_IsArray(cJSON_GetArrayItem(metrics, 0)))
        metrics = cJSON_GetArrayItem(metrics, 0); /* per-output lists */
    cJSON_ArrayForEach(mt, metrics) {
        const char *name = cJSON_IsString(mt) ? mt->valuestring : str(get(mt, "config"), "name");
        if (name) rnn_add_metric(m, name); /* metrics librnn lacks are skipped */
    }
    m->error[0] = 0;
    rnn__clear_error();
}

#else
typedef int rnn__keras_config_unused;
#endif
