/* Models are graphs of layer calls (Keras's functional models; a Sequential model is a chain
 * built by rnn_add). Internal to the library.
 *
 * A symbol (rnn_symbol, Keras's KerasTensor) is output k of one layer call; model inputs are the
 * outputs of InputLayers. Each layer is called once, so a layer's output buffers hold the values
 * of its symbols during a run. A model keeps its layers in topological order, holds a reference
 * on each, and collects the weights of all of them (recursing into nested models) in Keras's
 * get_weights order. */
#ifndef RNN_MODEL_H
#define RNN_MODEL_H

#include "error.h"
#include "hash_set.h"
#include "layers/layer.h"
#include "memory.h"
#include "rng.h"

#define RNN_MODEL_MAX_IO 32 /* inputs and outputs of a model (frugally-deep's test model has 17 outputs) */

struct rnn_symbol {
    rnn_layer *producer;
    int index;
    rnn_shape shape;
    /* Backward bookkeeping during a run: grad points at the gradient with respect to this
     * symbol (a consumer's dx, or acc once two contributions had to be summed). */
    float *grad;
    int grad_in_acc;
    float *acc;
    size_t acc_capacity;
    int uses; /* scratch of find_shared_symbols: consumers within the model being built */
};

typedef enum {
    RNN_LOSS_MSE = 0,
    RNN_LOSS_MAE,
    RNN_LOSS_SPARSE_CATEGORICAL_CE,
    RNN_LOSS_CATEGORICAL_CE,
    RNN_LOSS_BINARY_CE,
    RNN_LOSS_KLD,
    RNN_LOSS_HUBER,
    RNN_LOSS_MSLE,
    RNN_LOSS_MAPE,
    RNN_LOSS_LOG_COSH,
    RNN_LOSS_POISSON,
    RNN_LOSS_COSINE_SIMILARITY,
    RNN_LOSS_HINGE,
    RNN_LOSS_SQUARED_HINGE,
    RNN_LOSS_CATEGORICAL_HINGE,
    RNN_LOSS_COUNT
} rnn_loss_kind;

typedef struct {
    rnn_loss_kind kind;
    int from_logits;
    float delta; /* Huber's delta (1.0) */
} rnn_loss_spec;

/* How many layers of each kind (layer ops) a list holds: Keras's automatic names ("lstm",
 * "lstm_1", ...) count them. librnn has fewer layer kinds than the table has rows. */
typedef struct {
    struct {
        const void *ops;
        int count;
    } row[32];
    int n;
} rnn_kind_counts;

/* The streaming chain a full rnn_predict_step set up (graph.c records it, predict.c uses it).
 * Valid while the model is built as then, its precision and its team's size are the same, and
 * no other call planned or began any of the chain's layers (rnn__recurrent_stream_stamp), nor
 * made any recurrent layer's state anew or changed its streaming precision (the walks the fast
 * path skips: rnn__recurrent_state_epoch). */
#define RNN_STREAM_PLAN_MAX 16
typedef struct {
    int valid;     /* set after a full step that recorded a chain (found) succeeded */
    unsigned long epoch; /* rnn__recurrent_state_epoch after the full step */
    int found;     /* the full step's graph walk recorded a chain */
    int head, n;   /* layers[head .. head + n): the chain; every layer before it an input */
    rnn_layer *chain[RNN_STREAM_PLAN_MAX];
    unsigned long stamps[RNN_STREAM_PLAN_MAX];
    int threads, n_layers;
    rnn_precision precision;
    int64_t batch, features;
    int ids;
    unsigned long fast_steps; /* steps that took the fast path (tests) */
} rnn_stream_plan;

struct rnn_model {
    char name[RNN_NAME_MAX];
    char error[RNN_ERROR_MAX];
    /* What a loader dropped or changed and said so (rnn_model_warning); "" when nothing. */
    char warning[RNN_ERROR_MAX];
    int refcount; /* the owner, plus each model that uses this one as a layer */
    rnn_context *context; /* rnn_model_set_context (NULL: the current or default team) */
    rnn_precision precision; /* rnn_set_precision: the streaming step's weights */
    int sequential;
    rnn_rng rng;

    /* Layers in topological order, InputLayers included. */
    rnn_layer **layers;
    int n_layers, layers_capacity;
    /* Indexes over layers[], so that adding the n-th layer costs O(1), not O(n): the layers
     * themselves (append_layer keeps it), their names (rnn_add keeps it, for Sequential models,
     * whose names are final when added), and how many layers of each kind there are (Keras's
     * automatic names: "lstm", "lstm_1", ...). */
    rnn_hash_set layer_set;
    rnn_hash_set name_set;
    rnn_kind_counts kinds;
    int n_inputs, n_outputs;
    rnn_layer *inputs[RNN_MODEL_MAX_IO]; /* InputLayers */
    rnn_symbol *outputs[RNN_MODEL_MAX_IO];

    /* Symbols whose gradient has several contributions (several consumers, or a model output
     * that is also consumed): they need an accumulation buffer. */
    rnn_symbol **shared_symbols;
    int n_shared_symbols;

    /* Weights of every layer, nested models included, in get_weights order. */
    rnn_weight **weights;
    int n_weights;
    int64_t n_params;
    int built;
    /* The weights were allocated (drawn from rng, or filled by a loader) once: from then on
     * rnn_set_seed redraws them. Stays set when an added layer clears built. */
    int weights_drawn;

    int compiled;
    rnn_loss_spec loss;
    rnn_optimizer optimizer;
    int n_metrics;
    int metric_kind[RNN_MAX_METRICS]; /* see train/metrics.c */
    char metric_name[RNN_MAX_METRICS][40];
    float *opt_slot[3]; /* optimizer slots over the weights, back to back; NULL until the first
                         * training step needs it (see optim.h) */
    float **clip_grads;  /* per weight, for clipping */
    int64_t *clip_sizes;
    int64_t iterations;
    /* Nadam's u_product (Keras's extra optimizer variable) after step nadam_u_at; recomputed
     * from the step count when that is not `iterations` (optim_step.c). */
    float nadam_u_product;
    int64_t nadam_u_at;

    /* One batch: inputs, targets and loss gradients, per model input/output. */
    rnn_workspace ws;
    float *batch_x[RNN_MODEL_MAX_IO], *batch_y[RNN_MODEL_MAX_IO], *dloss[RNN_MODEL_MAX_IO];

    /* rnn_predict_step's fast path (rnn__model_stream_again): what the last full step found -
     * the chain of recurrent layers right after the input, which the next steps run again
     * without planning it anew while nothing it depends on changed. */
    rnn_stream_plan stream;
};

/* Records the thread's last message on the model and returns status. */
rnn_status rnn__model_fail(rnn_model *m, rnn_status status);
/* Allocates and initialises weights not built yet, and collects the weight list. */
rnn_status rnn__model_build(rnn_model *m);
/* The same; with init 0 the new weights stay zero (for a caller that overwrites every one, such
 * as rnn_load's rebuild from the reader process: skips the orthogonal initialisers' QR). */
rnn_status rnn__model_build_weights(rnn_model *m, int init);
/* Runs the graph on x[0..n_inputs) (shapes checked by the caller). Outputs are then
 * m->outputs[k]->producer->y[m->outputs[k]->index]. */
rnn_status rnn__model_forward(rnn_model *m, const rnn_tensor *x, const rnn_run_ctx *ctx);
/* A streaming step of x (m->stream.batch x features) on the chain m->stream recorded: the
 * same operations as rnn__model_forward in RNN_MODE_STREAM. -1 (nothing done) when the record
 * no longer holds: the caller then takes the full step. */
int rnn__model_stream_again(rnn_model *m, const float *x, const rnn_run_ctx *ctx);
const rnn_tensor *rnn__model_output(const rnn_model *m, int k);
/* The time-step mask of output k after a forward (NULL if none). */
const uint8_t *rnn__model_output_mask(const rnn_model *m, int k);
/* Backward from dy[k] (gradient with respect to output k; NULL: zero); adds weight gradients.
 * With need_input_grads, m->inputs[k]->outputs_sym[0]->grad is the gradient for input k
 * (NULL if none reached it). */
void rnn__model_backward(rnn_model *m, float *const *dy, int need_input_grads);
/* The loss on (x, y) and its gradient in every weight's grad, without an update (one forward
 * in `mode`, then backward). For gradient checks and tools. */
rnn_status rnn__model_gradients(rnn_model *m, const rnn_tensor *x, int nx, const rnn_tensor *y,
                                int ny, rnn_run_mode mode, double *loss);
/* Zeros every weight gradient. */
void rnn__model_zero_grads(rnn_model *m);
/* Fixed batch size from stateful layers (0 if none). */
int64_t rnn__model_stateful_batch(rnn_model *m);
/* The shape of output k for a call with this batch and step count (unknown steps resolved). */
rnn_shape rnn__model_output_shape(const rnn_model *m, int k, int64_t batch, int64_t steps);
const rnn_shape *rnn__model_input_shape(const rnn_model *m, int k);
void rnn__model_retain(rnn_model *m);

/* trainable.c: copies each layer's trainable flag to its weights (rnn_weight.frozen) and
 * returns the number of trainable parameter values; *frozen_params (may be NULL) gets the
 * others. Needs a built model. */
int64_t rnn__model_sync_frozen(rnn_model *m, int64_t *frozen_params);

/* The InputLayer class (model inputs). */
int rnn__is_input_layer(const rnn_layer *layer);
/* 1 when the layer's input k is a RepeatVector's output: the graph's backward pass then only
 * ever sums that input's gradient over the steps (every consumer's contribution is added
 * value by value, then RepeatVector's backward adds the steps), so a layer may return the sum
 * over its steps in one step and zeros in the others. */
int rnn__input_grad_summed_over_steps(const rnn_layer *layer, int k);
/* 1 for an InputLayer of token ids (rnn_ids_input_new). */
int rnn__input_is_ids(const rnn_layer *layer);
/* rnn__layer_walk over each of the model's layers in order (InputLayers included): every layer
 * of the model and of its nested models and wrappers, at any depth. A layer that two nested
 * models share is visited once per place it appears. */
int rnn__model_walk(rnn_model *m, rnn_layer_visit fn, void *ctx);

#endif
