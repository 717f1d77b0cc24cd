/* librnn models -> Keras configs (JSON): Keras 3 config.json for .keras files, and the tf.keras 2
 * model_config / training_config of legacy .h5 files. This file writes the graph (inputs, layer
 * entries, call nodes, nested models) and the compile information; each layer's options are
 * written by its class's row in keras_layers.c. Only what librnn models hold is written; Keras
 * fills the rest with its defaults. */
#ifdef RNN_WITH_KERAS_IO
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "io/keras_layers.h"
#include "layers/layer_options.h"
#include "optim.h"

static cJSON *shape_json(const rnn_shape *s) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < s->rank; i++)
        cJSON_AddItemToArray(a, s->dim[i] < 0 ? cJSON_CreateNull()
                                              : cJSON_CreateNumber((double)s->dim[i]));
    return a;
}

static cJSON *model_config(rnn_model *m, const rnn_keras_write_ctx *c);

static cJSON *wrap(const char *module, const char *cls, cJSON *cfg,
                   const rnn_keras_write_ctx *c) {
    cJSON *e = cJSON_CreateObject();
    if (!c->legacy) cJSON_AddStringToObject(e, "module", module);
    cJSON_AddStringToObject(e, "class_name", cls);
    cJSON_AddItemToObject(e, "config", cfg);
    if (!c->legacy) cJSON_AddNullToObject(e, "registered_name");
    return e;
}

cJSON *rnn__keras_layer_entry(rnn_layer *L, const rnn_keras_write_ctx *c) {
    if (rnn__keras_is(L, "Sequential") || rnn__keras_is(L, "Functional")) {
        rnn_model *inner = rnn__keras_inner_model(L);
        cJSON *cfg = model_config(inner, c);
        if (!cfg) return NULL;
        return wrap(inner->sequential ? "keras" : "keras.src.models.functional",
                    inner->sequential ? "Sequential" : "Functional", cfg, c);
    }
    cJSON *cfg = rnn__keras_layer_config(L, c);
    if (!cfg) return NULL;
    cJSON *e = wrap("keras.layers", L->ops->class_name, cfg, c);
    if (!c->legacy && L->n_inputs >= 1) {
        cJSON *b = cJSON_AddObjectToObject(e, "build_config");
        if (rnn__layer_is_merge(L)) { /* built on the list of input shapes */
            cJSON *shapes = cJSON_AddArrayToObject(b, "input_shape");
            for (int k = 0; k < L->n_inputs; k++)
                cJSON_AddItemToArray(shapes, shape_json(&L->input[k]));
        } else {
            cJSON_AddItemToObject(b, "input_shape", shape_json(&L->input[0]));
        }
    }
    return e;
}

static cJSON *input_entry(rnn_layer *in, const rnn_keras_write_ctx *c) {
    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddItemToObject(cfg, c->legacy ? "batch_input_shape" : "batch_shape",
                          shape_json(&in->output[0]));
    cJSON_AddStringToObject(cfg, "dtype", "float32");
    cJSON_AddFalseToObject(cfg, "sparse");
    cJSON_AddFalseToObject(cfg, "ragged");
    cJSON_AddStringToObject(cfg, "name", in->name);
    return wrap("keras.layers", "InputLayer", cfg, c);
}

/* [layer, node, tensor] of the symbol's producer. */
static cJSON *history(const rnn_symbol *s) {
    cJSON *h = cJSON_CreateArray();
    cJSON_AddItemToArray(h, cJSON_CreateString(s->producer->name));
    cJSON_AddItemToArray(h, cJSON_CreateNumber(0));
    cJSON_AddItemToArray(h, cJSON_CreateNumber(s->index));
    return h;
}

static cJSON *keras_tensor(const rnn_symbol *s) {
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "class_name", "__keras_tensor__");
    cJSON *cfg = cJSON_AddObjectToObject(t, "config");
    cJSON_AddItemToObject(cfg, "shape", shape_json(&s->shape));
    cJSON_AddStringToObject(cfg, "dtype", "float32");
    cJSON_AddItemToObject(cfg, "keras_history", history(s));
    return t;
}

static cJSON *inbound_nodes(rnn_layer *L, const rnn_keras_write_ctx *c) {
    cJSON *nodes = cJSON_CreateArray();
    if (rnn__is_input_layer(L)) return nodes;
    if (c->legacy) {
        cJSON *node = cJSON_CreateArray();
        for (int k = 0; k < L->n_inputs; k++) {
            cJSON *r = history(L->inputs_sym[k]);
            cJSON_AddItemToArray(r, cJSON_CreateObject());
            cJSON_AddItemToArray(node, r);
        }
        cJSON_AddItemToArray(nodes, node);
        return nodes;
    }
    cJSON *node = cJSON_CreateObject();
    cJSON *args = cJSON_AddArrayToObject(node, "args");
    cJSON *kwargs = cJSON_AddObjectToObject(node, "kwargs");
    if (rnn__layer_is_merge(L)) { /* called on a list: args [[x, y, ...]] */
        cJSON *list = cJSON_CreateArray();
        for (int k = 0; k < L->n_inputs; k++)
            cJSON_AddItemToArray(list, keras_tensor(L->inputs_sym[k]));
        cJSON_AddItemToArray(args, list);
    } else {
        cJSON_AddItemToArray(args, keras_tensor(L->inputs_sym[0]));
    }
    if (L->n_inputs > 1 && !rnn__layer_is_merge(L)) {
        cJSON *states = cJSON_AddArrayToObject(kwargs, "initial_state");
        for (int k = 1; k < L->n_inputs; k++)
            cJSON_AddItemToArray(states, keras_tensor(L->inputs_sym[k]));
    }
    cJSON_AddItemToArray(nodes, node);
    return nodes;
}

static cJSON *io_refs(rnn_symbol *const *syms, rnn_layer *const *layers, int n, const rnn_keras_write_ctx *c) {
    if (n == 1 && !c->legacy) {
        return syms ? history(syms[0]) : history(layers[0]->outputs_sym[0]);
    }
    cJSON *a = cJSON_CreateArray();
    for (int k = 0; k < n; k++)
        cJSON_AddItemToArray(a, syms ? history(syms[k]) : history(layers[k]->outputs_sym[0]));
    return a;
}

static cJSON *model_config(rnn_model *m, const rnn_keras_write_ctx *c) {
    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddStringToObject(cfg, "name", m->name);
    cJSON_AddTrueToObject(cfg, "trainable");
    cJSON *layers = cJSON_AddArrayToObject(cfg, "layers");
    for (int i = 0; i < m->n_layers; i++) {
        rnn_layer *L = m->layers[i];
        cJSON *e = rnn__is_input_layer(L) ? input_entry(L, c) : rnn__keras_layer_entry(L, c);
        if (!e) {
            cJSON_Delete(cfg);
            return NULL;
        }
        if (!m->sequential) {
            cJSON_AddStringToObject(e, "name", L->name);
            cJSON_AddItemToObject(e, "inbound_nodes", inbound_nodes(L, c));
        }
        cJSON_AddItemToArray(layers, e);
    }
    if (m->sequential) {
        cJSON_AddItemToObject(cfg, "build_input_shape", shape_json(&m->inputs[0]->output[0]));
    } else {
        cJSON_AddItemToObject(cfg, "input_layers", io_refs(NULL, m->inputs, m->n_inputs, c));
        cJSON_AddItemToObject(cfg, "output_layers", io_refs(m->outputs, NULL, m->n_outputs, c));
    }
    return cfg;
}

/* ---------------------------------------------------------------- compile */

static const char *loss_keras_name(rnn_loss_kind k) {
    switch (k) {
    case RNN_LOSS_MSE: return "mean_squared_error";
    case RNN_LOSS_MAE: return "mean_absolute_error";
    case RNN_LOSS_SPARSE_CATEGORICAL_CE: return "sparse_categorical_crossentropy";
    case RNN_LOSS_CATEGORICAL_CE: return "categorical_crossentropy";
    case RNN_LOSS_BINARY_CE: return "binary_crossentropy";
    case RNN_LOSS_KLD: return "kl_divergence";
    case RNN_LOSS_HUBER: return "huber";
    case RNN_LOSS_MSLE: return "mean_squared_logarithmic_error";
    case RNN_LOSS_MAPE: return "mean_absolute_percentage_error";
    case RNN_LOSS_LOG_COSH: return "log_cosh";
    case RNN_LOSS_POISSON: return "poisson";
    case RNN_LOSS_COSINE_SIMILARITY: return "cosine_similarity";
    case RNN_LOSS_HINGE: return "hinge";
    case RNN_LOSS_SQUARED_HINGE: return "squared_hinge";
    case RNN_LOSS_CATEGORICAL_HINGE: return "categorical_hinge";
    default: return NULL;
    }
}

static const char *loss_class(rnn_loss_kind k) {
    switch (k) {
    case RNN_LOSS_SPARSE_CATEGORICAL_CE: return "SparseCategoricalCrossentropy";
    case RNN_LOSS_CATEGORICAL_CE: return "CategoricalCrossentropy";
    case RNN_LOSS_BINARY_CE: return "BinaryCrossentropy";
    default: return NULL;
    }
}

/* A float setting: Keras 3 refuses an integer learning_rate ("should be float"), and cJSON
 * writes 1.0 as 1, so integral values are written with a decimal point. */
static void add_float(cJSON *obj, const char *key, double v) {
    char text[64];
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(text, sizeof text, "%.1f", v);
        cJSON_AddRawToObject(obj, key, text);
    } else {
        cJSON_AddNumberToObject(obj, key, v);
    }
}

static cJSON *optimizer_json(const rnn_optimizer *o, const rnn_keras_write_ctx *c) {
    static const char *const names[] = {"adam", "SGD", "rmsprop", "adagrad", "adadelta",
                                        "adamax", "nadam", "adam_w"};
    const char *cls = rnn__optimizer_class(o->kind);
    if (o->decay != 0 && !c->legacy) {
        rnn__fail(RNN_ERR_UNSUPPORTED, "the optimizer's Keras 2 decay=%g has no Keras 3 form "
                  "(use a learning-rate schedule)", (double)o->decay);
        return NULL;
    }
    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddStringToObject(cfg, "name", names[o->kind]);
    if (o->schedule == RNN_SCHEDULE_CONSTANT) {
        add_float(cfg, "learning_rate", o->learning_rate);
    } else {
        cJSON *sc = cJSON_CreateObject();
        add_float(sc, "initial_learning_rate", o->learning_rate);
        cJSON_AddNumberToObject(sc, "decay_steps", (double)o->decay_steps);
        cJSON_AddNumberToObject(sc, "decay_rate", o->decay_rate);
        cJSON_AddBoolToObject(sc, "staircase", o->staircase);
        cJSON_AddStringToObject(sc, "name", o->schedule == RNN_SCHEDULE_EXPONENTIAL
                                                ? "ExponentialDecay" : "InverseTimeDecay");
        cJSON *e = cJSON_CreateObject();
        if (!c->legacy) cJSON_AddStringToObject(e, "module", "keras.optimizers.schedules");
        cJSON_AddStringToObject(e, "class_name", o->schedule == RNN_SCHEDULE_EXPONENTIAL
                                                     ? "ExponentialDecay" : "InverseTimeDecay");
        cJSON_AddItemToObject(e, "config", sc);
        if (!c->legacy) cJSON_AddNullToObject(e, "registered_name");
        cJSON_AddItemToObject(cfg, "learning_rate", e);
    }
    if (o->clipnorm > 0) cJSON_AddNumberToObject(cfg, "clipnorm", o->clipnorm);
    else cJSON_AddNullToObject(cfg, "clipnorm");
    if (o->global_clipnorm > 0) cJSON_AddNumberToObject(cfg, "global_clipnorm", o->global_clipnorm);
    else cJSON_AddNullToObject(cfg, "global_clipnorm");
    if (o->clipvalue > 0) cJSON_AddNumberToObject(cfg, "clipvalue", o->clipvalue);
    else cJSON_AddNullToObject(cfg, "clipvalue");
    if (c->legacy) cJSON_AddNumberToObject(cfg, "decay", o->decay);
    /* weight_decay (every Keras 3 optimizer): written where it is set or the kind is new, so
     * that the files of the three first kinds stay as they were */
    if (o->weight_decay > 0) cJSON_AddNumberToObject(cfg, "weight_decay", o->weight_decay);
    else if (o->kind > RNN_OPT_RMSPROP) cJSON_AddNullToObject(cfg, "weight_decay");
    if (o->kind == RNN_OPT_ADAGRAD) {
        cJSON_AddNumberToObject(cfg, "initial_accumulator_value", o->initial_accumulator_value);
        cJSON_AddNumberToObject(cfg, "epsilon", o->epsilon);
    } else if (o->kind == RNN_OPT_ADADELTA) {
        cJSON_AddNumberToObject(cfg, "rho", o->rho);
        cJSON_AddNumberToObject(cfg, "epsilon", o->epsilon);
    } else if (o->kind == RNN_OPT_ADAMAX || o->kind == RNN_OPT_NADAM) {
        cJSON_AddNumberToObject(cfg, "beta_1", o->beta_1);
        cJSON_AddNumberToObject(cfg, "beta_2", o->beta_2);
        cJSON_AddNumberToObject(cfg, "epsilon", o->epsilon);
    } else if (o->kind == RNN_OPT_ADAM || o->kind == RNN_OPT_ADAMW) {
        cJSON_AddNumberToObject(cfg, "beta_1", o->beta_1);
        cJSON_AddNumberToObject(cfg, "beta_2", o->beta_2);
        cJSON_AddNumberToObject(cfg, "epsilon", o->epsilon);
        cJSON_AddBoolToObject(cfg, "amsgrad", o->amsgrad);
    } else if (o->kind == RNN_OPT_SGD) {
        cJSON_AddNumberToObject(cfg, "momentum", o->momentum);
        cJSON_AddBoolToObject(cfg, "nesterov", o->nesterov);
    } else if (o->kind == RNN_OPT_RMSPROP) {
        cJSON_AddNumberToObject(cfg, "rho", o->rho);
        cJSON_AddNumberToObject(cfg, "momentum", o->momentum);
        cJSON_AddNumberToObject(cfg, "epsilon", o->epsilon);
        cJSON_AddBoolToObject(cfg, "centered", o->centered);
    }
    cJSON *e = cJSON_CreateObject();
    if (!c->legacy) cJSON_AddStringToObject(e, "module", "keras.optimizers");
    cJSON_AddStringToObject(e, "class_name", cls);
    cJSON_AddItemToObject(e, "config", cfg);
    if (!c->legacy) cJSON_AddNullToObject(e, "registered_name");
    return e;
}

static cJSON *loss_json(rnn_model *m) {
    const char *cls = loss_class(m->loss.kind);
    if (m->loss.kind == RNN_LOSS_HUBER && m->loss.delta != 1.0f) {
        cJSON *h = cJSON_CreateObject();
        cJSON_AddStringToObject(h, "module", "keras.losses");
        cJSON_AddStringToObject(h, "class_name", "Huber");
        cJSON *hc = cJSON_AddObjectToObject(h, "config");
        cJSON_AddStringToObject(hc, "name", "huber_loss");
        cJSON_AddStringToObject(hc, "reduction", "sum_over_batch_size");
        cJSON_AddNumberToObject(hc, "delta", m->loss.delta);
        cJSON_AddNullToObject(h, "registered_name");
        return h;
    }
    if (!m->loss.from_logits || !cls) return cJSON_CreateString(loss_keras_name(m->loss.kind));
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "module", "keras.losses");
    cJSON_AddStringToObject(e, "class_name", cls);
    cJSON *cfg = cJSON_AddObjectToObject(e, "config");
    cJSON_AddTrueToObject(cfg, "from_logits");
    cJSON_AddNullToObject(e, "registered_name");
    return e;
}

static cJSON *metrics_json(rnn_model *m) {
    if (m->n_metrics == 0) return cJSON_CreateNull();
    cJSON *a = cJSON_CreateArray();
    for (int k = 0; k < m->n_metrics; k++)
        cJSON_AddItemToArray(a, cJSON_CreateString(m->metric_name[k]));
    return a;
}

/* ---------------------------------------------------------------- entry points */

char *rnn__keras_config_json(rnn_model *m) { return rnn__keras_config_json_ex(m, 1); }

char *rnn__keras_config_json_ex(rnn_model *m, int with_compile) {
    rnn_keras_write_ctx c = {0};
    cJSON *cfg = model_config(m, &c);
    if (!cfg) return NULL;
    cJSON *root = wrap(m->sequential ? "keras" : "keras.src.models.functional",
                       m->sequential ? "Sequential" : "Functional", cfg, &c);
    cJSON *b = cJSON_AddObjectToObject(root, "build_config");
    cJSON_AddItemToObject(b, "input_shape", shape_json(&m->inputs[0]->output[0]));
    if (m->compiled && with_compile) {
        cJSON *opt = optimizer_json(&m->optimizer, &c);
        if (!opt) {
            cJSON_Delete(root);
            return NULL;
        }
        cJSON *cc = cJSON_AddObjectToObject(root, "compile_config");
        cJSON_AddItemToObject(cc, "optimizer", opt);
        cJSON_AddItemToObject(cc, "loss", loss_json(m));
        cJSON_AddNullToObject(cc, "loss_weights");
        cJSON_AddItemToObject(cc, "metrics", metrics_json(m));
        cJSON_AddNullToObject(cc, "weighted_metrics");
        cJSON_AddFalseToObject(cc, "run_eagerly");
        cJSON_AddNumberToObject(cc, "steps_per_execution", 1);
        cJSON_AddFalseToObject(cc, "jit_compile");
    } else {
        cJSON_AddNullToObject(root, "compile_config");
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) rnn__fail(RNN_ERR_MEMORY, "out of memory");
    return text;
}

/* What tf.keras 2's .h5 form cannot say so that Keras 3 reads it: a layer called with
 * initial_state (tf.keras 2 lists the states among the inputs, [[x], [h], [c]], which Keras 3
 * passes to the layer as one list, and its RNNs refuse it), a TimeDistributed over a Functional
 * model, and Keras 3's hard_sigmoid (x/6 + 0.5; tf.keras 2's name means 0.2x + 0.5). */
static int is_keras3_hard_sigmoid(rnn_activation a) { return a == RNN_HARD_SIGMOID; }

static int needs_keras3(rnn_layer *L, void *ctx) {
    (void)ctx;
    if (L->n_inputs > 1 && !rnn__layer_is_merge(L)) return 1;
    /* Keras 3 builds a TimeDistributed over a Functional model from tf.keras 2's form with the
     * wrong shapes ("Cannot convert '5' to a shape"); its own form it reads */
    if (rnn__keras_is(L, "TimeDistributed") && rnn__keras_is(rnn__keras_inner_layer(L), "Functional"))
        return 1;
    if (rnn__keras_is(L, "LSTM") || rnn__keras_is(L, "GRU") || rnn__keras_is(L, "SimpleRNN")) {
        const rnn_recurrent_options *o = rnn__keras_recurrent_options(L);
        return is_keras3_hard_sigmoid(o->activation) ||
               (!rnn__keras_is(L, "SimpleRNN") && is_keras3_hard_sigmoid(o->recurrent_activation));
    }
    if (rnn__keras_is(L, "Dense")) return is_keras3_hard_sigmoid(rnn__dense_options(L)->activation);
    if (rnn__keras_is(L, "Conv1D")) return is_keras3_hard_sigmoid(rnn__conv1d_options(L)->activation);
    if (rnn__keras_is(L, "Activation")) return is_keras3_hard_sigmoid(rnn__activation_layer_kind(L));
    return 0;
}

int rnn__keras_h5_keras3_form(rnn_model *m) { return rnn__model_walk(m, needs_keras3, NULL) != 0; }

char *rnn__keras_legacy_config_json(rnn_model *m) {
    /* Keras 3's own .h5 form (its get_config, as Keras 3 writes .h5 files) where tf.keras 2's
     * cannot express the model for Keras 3. */
    rnn_keras_write_ctx c = {!rnn__keras_h5_keras3_form(m)};
    cJSON *cfg = model_config(m, &c);
    if (!cfg) return NULL;
    cJSON *root = wrap("keras", m->sequential ? "Sequential" : "Functional", cfg, &c);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) rnn__fail(RNN_ERR_MEMORY, "out of memory");
    return text;
}

char *rnn__keras_legacy_training_json(rnn_model *m) {
    rnn_keras_write_ctx c = {1};
    cJSON *opt = optimizer_json(&m->optimizer, &c);
    if (!opt) return NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "optimizer_config", opt);
    if (m->loss.kind == RNN_LOSS_HUBER && m->loss.delta != 1.0f) {
        /* Huber(delta) as tf.keras writes a loss object: class_name and config */
        cJSON *h = cJSON_AddObjectToObject(root, "loss");
        cJSON_AddStringToObject(h, "class_name", "Huber");
        cJSON *hc = cJSON_AddObjectToObject(h, "config");
        cJSON_AddStringToObject(hc, "name", "huber_loss");
        cJSON_AddStringToObject(hc, "reduction", "sum_over_batch_size");
        cJSON_AddNumberToObject(hc, "delta", m->loss.delta);
    } else {
        cJSON_AddStringToObject(root, "loss", loss_keras_name(m->loss.kind));
    }
    cJSON_AddItemToObject(root, "metrics", metrics_json(m));
    cJSON_AddNullToObject(root, "weighted_metrics");
    cJSON_AddNullToObject(root, "loss_weights");
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

#else
typedef int rnn__keras_config_write_unused;
#endif
