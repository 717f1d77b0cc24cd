/*
 * librnn: recurrent neural networks in C with Keras semantics.
 *
 * One public header. Every public symbol is rnn_*, every macro and enum value RNN_*.
 *
 * Conventions
 *  - Arrays are row-major float32 (C order). A batch of sequences is [samples, steps, features],
 *    exactly as in Keras.
 *  - Handles are opaque. Whoever receives a handle from rnn_*_new / rnn_sequential frees it with
 *    the matching *_free. A layer added to a model belongs to the model from then on.
 *  - Every fallible call returns rnn_status (RNN_OK == 0). On failure a readable message is kept:
 *    rnn_model_error(model) for calls on a model, rnn_last_error() for every call (per thread).
 *    The library never prints because of bad input, never exits and never aborts.
 *  - Option structs are filled by rnn_*_defaults(); the defaults are Keras 3's.
 */
#ifndef RNN_H
#define RNN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RNN_VERSION_MAJOR 0
#define RNN_VERSION_MINOR 1
#define RNN_VERSION_PATCH 0
const char *rnn_version(void);
/* The configuration this library was built with, several lines of text: compiler and flags,
 * the BLAS (its header's version macro, and what the loaded library reports), the Keras-file
 * libraries and their versions. `rnn --version` prints it. Valid until the next call from the
 * same thread. */
const char *rnn_build_info(void);

/* Process-wide, so only when the program asks: where the process's OpenBLAS (a DYNAMIC_ARCH
 * build, as distributions ship) has fallen back to its SSE3 "Prescott" kernels on a CPU newer
 * than the OpenBLAS release (Debian 12's 0.3.21 on Intel's Emerald Rapids, where its AVX-512
 * kernels run the large products about 4x faster), has OpenBLAS choose the kernels this CPU can
 * run (SkylakeX with AVX-512, Haswell with AVX2 and FMA), as OPENBLAS_CORETYPE would have when
 * it loaded. Every OpenBLAS caller in the process gets them (other last bits in its products).
 * Does nothing when OPENBLAS_CORETYPE is set, when OpenBLAS knows the CPU, with another BLAS, or
 * while threads other than the caller and OpenBLAS's own idle workers exist (a product running
 * meanwhile would see OpenBLAS without kernels): call it first in main. librnn loads OpenBLAS
 * itself at its first large product (it is not linked: a process that never needs it does not
 * carry it); this call loads it now where that has not happened yet. Returns 1 when it switched,
 * else 0. The rnn tool makes the same switch when librnn loads OpenBLAS; rnn_build_info() names
 * the core in use. */
int rnn_blas_upgrade_kernels(void);

/* ------------------------------------------------------------------ status and errors */

typedef enum {
    RNN_OK = 0,
    RNN_ERR_ARGUMENT,    /* a bad argument: NULL, negative size, unknown name          */
    RNN_ERR_SHAPE,       /* shapes that do not fit the model                           */
    RNN_ERR_STATE,       /* call not valid now: not compiled, stateful batch mismatch  */
    RNN_ERR_NUMERIC,     /* NaN or Inf in data, a non-finite loss                      */
    RNN_ERR_MEMORY,      /* out of memory, or sizes whose product overflows            */
    RNN_ERR_IO,          /* a file could not be read or written                        */
    RNN_ERR_FORMAT,      /* a file's content is malformed                              */
    RNN_ERR_UNSUPPORTED  /* valid in Keras, not supported here (named in the message)  */
} rnn_status;

/* The message of the last failed call on this thread ("" if none). */
const char *rnn_last_error(void);
/* The status that went with that message (RNN_OK if none): the only way to learn it after a
 * call that returns a pointer, such as rnn_load. Read it right after the failed call. */
rnn_status rnn_last_status(void);
/* A short name for a status ("RNN_ERR_SHAPE"). */
const char *rnn_status_name(rnn_status s);

/* ------------------------------------------------------------------ arrays */

#define RNN_MAX_RANK 4
/* A float32 array in C order: either a borrowed view of the caller's memory (rnn_tensor1/2/3,
 * or filled by hand: owned stays 0) or an array the library made for the caller (rnn_predict,
 * rnn_predict_on_batch, rnn_npy_load, rnn_create_dataset: owned is 1), which rnn_tensor_free
 * releases. */
typedef struct {
    float *data;
    int rank;
    int64_t shape[RNN_MAX_RANK];
    /* 1: data was allocated for the caller (with malloc) and rnn_tensor_free frees it. Set by
     * the library; a copy of the struct shares the data, so free only one copy. */
    int owned;
} rnn_tensor;

rnn_tensor rnn_tensor1(float *data, int64_t n);
rnn_tensor rnn_tensor2(float *data, int64_t n, int64_t features);
rnn_tensor rnn_tensor3(float *data, int64_t n, int64_t steps, int64_t features);
/* Number of elements (0 on overflow or a negative dimension). */
int64_t rnn_tensor_size(const rnn_tensor *t);
/* Frees an owned array (owned == 1) and zeroes *t. A view (owned == 0: rnn_tensor3(buf, ...),
 * a batch handed to a sink, a mapping's view) is only zeroed: its memory stays the caller's.
 * Safe on a zeroed tensor and on NULL. */
void rnn_tensor_free(rnn_tensor *t);

/* ------------------------------------------------------------------ layers */

typedef enum {
    RNN_LINEAR = 0, /* Keras "linear" (also None) */
    RNN_TANH,
    RNN_SIGMOID,
    RNN_HARD_SIGMOID,        /* Keras 3: clip(x/6 + 1/2, 0, 1) */
    RNN_HARD_SIGMOID_LEGACY, /* Keras 1/2 and tf.keras: clip(0.2x + 1/2, 0, 1) */
    RNN_RELU,
    RNN_ELU,
    RNN_SELU,
    RNN_SOFTPLUS,
    RNN_SOFTMAX,             /* over the last axis: Dense and Activation only */
    RNN_ACTIVATION_COUNT
} rnn_activation;

/* Keras name ("tanh", "hard_sigmoid", ...) -> activation; returns -1 for an unknown name. */
int rnn_activation_from_name(const char *name);
const char *rnn_activation_name(rnn_activation a);

typedef struct rnn_layer rnn_layer;
typedef struct rnn_model rnn_model;

/* Options of SimpleRNN, LSTM and GRU, with Keras's names. Obtain with rnn_lstm_defaults(units),
 * rnn_gru_defaults(units) or rnn_simple_rnn_defaults(units), then change what you need. */
typedef struct {
    int units;
    rnn_activation activation;           /* default tanh                                 */
    rnn_activation recurrent_activation; /* default sigmoid (LSTM and GRU; unused else)  */
    int use_bias;                        /* default 1                                    */
    int return_sequences;                /* default 0: only the last step [batch, units] */
    int return_state;                    /* default 0; not allowed inside a Sequential   */
    int go_backwards;                    /* default 0                                    */
    int stateful;                        /* default 0; needs a fixed batch size          */
    int unit_forget_bias;                /* LSTM, default 1                              */
    int reset_after;                     /* GRU, default 1 (Keras 2.3+ and 3)            */
    float dropout;           /* default 0: fraction of the inputs dropped while training; one
                              * mask per batch shared by every step and gate (Keras's fused form) */
    float recurrent_dropout; /* default 0: the same on the state entering the recurrent kernel;
                              * one mask for all gates (tf.keras implementation=2; Keras 3 draws
                              * one per gate) */
    const char *name;                    /* NULL: Keras's automatic name (lstm, lstm_1)  */
} rnn_recurrent_options;

rnn_recurrent_options rnn_lstm_defaults(int units);
rnn_recurrent_options rnn_gru_defaults(int units);
rnn_recurrent_options rnn_simple_rnn_defaults(int units);

/* New layers. They return NULL only if out of memory or given NULL options; option values are
 * checked when the layer is added to a model. */
rnn_layer *rnn_lstm(const rnn_recurrent_options *options);
rnn_layer *rnn_gru(const rnn_recurrent_options *options);
rnn_layer *rnn_simple_rnn(const rnn_recurrent_options *options);

typedef struct {
    int units;
    rnn_activation activation; /* default linear */
    int use_bias;              /* default 1      */
    const char *name;
} rnn_dense_options;
rnn_dense_options rnn_dense_defaults(int units);
/* Dense on [batch, features], or on [batch, steps, features] applied to the last axis. */
rnn_layer *rnn_dense(const rnn_dense_options *options);
/* Shorthand for the common case: Dense(units, activation). */
rnn_layer *rnn_dense_simple(int units, rnn_activation activation);

/* Padding of Conv1D, with Keras's meanings: valid (none: floor((T - d*(k-1) - 1)/s) + 1 output
 * steps), same (zeros on both sides, TensorFlow's split: ceil(T/s) steps), causal (d*(k-1) zeros
 * on the left, then valid: output step t reads no input step after t*s; ceil(T/s) steps). */
typedef enum { RNN_PADDING_VALID = 0, RNN_PADDING_SAME, RNN_PADDING_CAUSAL } rnn_padding;

typedef struct {
    int filters;
    int kernel_size;
    int strides;               /* default 1                                               */
    rnn_padding padding;       /* default RNN_PADDING_VALID                               */
    int dilation_rate;         /* default 1; strides > 1 with dilation_rate > 1 is refused, as
                                * in Keras                                                */
    int groups;                /* default 1; librnn has no grouped convolution (others refused) */
    rnn_activation activation; /* default linear                                          */
    int use_bias;              /* default 1                                               */
    const char *name;
} rnn_conv1d_options;
rnn_conv1d_options rnn_conv1d_defaults(int filters, int kernel_size);
/* Conv1D (data_format channels_last): [batch, steps, channels] -> [batch, out_steps, filters],
 * kernel (kernel_size, channels, filters) and bias (filters,) as in Keras, drawn glorot_uniform /
 * zeros. Steps may be unknown (RNN_NONE). Like Keras 3, it does not support masking: a mask
 * arriving from Masking or Embedding(mask_zero) is dropped (every step is computed, later layers
 * see no mask), where Keras 3 warns that the layer "will therefore destroy the mask
 * information". rnn_predict_step refuses a kernel_size or strides above 1 (each output step
 * reads several input steps). */
rnn_layer *rnn_conv1d(const rnn_conv1d_options *options);

/* RepeatVector(n): [batch, features] -> [batch, n, features]. */
rnn_layer *rnn_repeat_vector(int n);
/* Activation(a): element-wise, or softmax over the last axis. */
rnn_layer *rnn_activation_layer(rnn_activation activation);
/* Dropout(rate): drops inputs with probability rate while training (kept ones scaled by
 * 1/(1-rate)), the identity in predict and evaluate. Masks come from the model's generator. */
rnn_layer *rnn_dropout(float rate);
/* Masking(mask_value): steps of [batch, steps, features] whose features all equal mask_value are
 * masked for the following layers (recurrent layers skip them, the loss ignores them) and output
 * as zeros. */
rnn_layer *rnn_masking(float mask_value);
/* TimeDistributed(layer): applies a layer that works on one step ([batch, ...]) to every step
 * of [batch, steps, ...] with the same weights. Takes ownership of `layer`. */
rnn_layer *rnn_time_distributed(rnn_layer *layer);
/* Bidirectional(layer, merge_mode): `layer` (SimpleRNN, LSTM or GRU) reads the sequence forwards
 * and a copy of it with go_backwards flipped (its own weights) reads it backwards; they are named
 * forward_<name> and backward_<name>. merge_mode: "concat" (default in Keras), "sum", "mul",
 * "ave", or NULL / "none" for Keras's None (two outputs: forward, then backward). With
 * return_sequences the backward sequence is flipped back in time before merging, and masked
 * steps output 0. return_state adds the forward states, then the backward ones; an initial state
 * (rnn_call_ex) is the forward layer's states then the backward layer's. Parameters: twice the
 * layer's. Takes ownership of `layer`, also on failure (NULL with the reason: an unknown
 * merge_mode, a layer of another class). */
rnn_layer *rnn_bidirectional(rnn_layer *layer, const char *merge_mode);
/* Flatten: [batch, steps, features] -> [batch, steps * features] (steps must be known);
 * [batch, features] unchanged. Drops the mask, as Keras does. */
rnn_layer *rnn_flatten(void);
/* A model as a layer object (for rnn_time_distributed, or rnn_add); the weights are shared. */
rnn_layer *rnn_model_as_layer(rnn_model *model);

/* Keras's merge layers, called on a list of inputs with rnn_call_ex (1 to 8 inputs; Subtract and
 * Dot take exactly 2). They have no weights. Element-wise: Add, Subtract (x0 - x1), Multiply,
 * Average, Maximum, Minimum over inputs of one shape (librnn does not broadcast inputs of
 * different shapes, as Keras would). Masks as in Keras 3: Add, Subtract, Average and Multiply
 * pass the OR of the inputs' masks when every input has one (Multiply counts a masked step of a
 * masked input as 1 and outputs 0 where no input is kept); Maximum and Minimum replace a
 * masked step by the other inputs' value; Concatenate treats an unmasked input as kept; Dot
 * drops masks. Automatic names: add, subtract, multiply, average, maximum, minimum,
 * concatenate, dot. */
typedef enum {
    RNN_MERGE_ADD = 0,
    RNN_MERGE_SUBTRACT,
    RNN_MERGE_MULTIPLY,
    RNN_MERGE_AVERAGE,
    RNN_MERGE_MAXIMUM,
    RNN_MERGE_MINIMUM
} rnn_merge_op;
rnn_layer *rnn_merge(rnn_merge_op op);
/* Concatenate(axis): along any axis but the batch; -1 (Keras's default) is the last. Inputs of
 * one rank whose other dimensions agree. Along the steps axis, steps must be known. */
rnn_layer *rnn_concatenate(int axis);
/* Dot(axes=(axis_a, axis_b), normalize): the batched dot product of two inputs of rank 2 or 3
 * over axis_a of the first and axis_b of the second (negative: from the end; Keras's
 * Dot(axes=k) is rnn_dot(k, k, ...)); the output is the first input's other axes, then the
 * second's, [batch, 1] when none is left. normalize: L2-normalise both along the summed axis
 * first (the cosine similarity). rnn_predict_step refuses a Concatenate along the steps and a
 * Dot across them (one step at a time they would see one step, not the sequence). */
rnn_layer *rnn_dot(int axis_a, int axis_b, int normalize);

typedef struct {
    int input_dim;  /* vocabulary size, id 0 included */
    int output_dim;
    int mask_zero;  /* default 0: with 1, id 0 marks padding and masks that step downstream */
    const char *name;
} rnn_embedding_options;
rnn_embedding_options rnn_embedding_defaults(int input_dim, int output_dim);
/* Embedding: ids [batch, steps] (integer values in float storage) -> [batch, steps, output_dim],
 * weights initialised U(-0.05, 0.05). An id outside [0, input_dim) is an error. */
rnn_layer *rnn_embedding(const rnn_embedding_options *options);

/* layer.trainable = False / True: a frozen layer (trainable 0) keeps its weights during fit
 * and train_on_batch (they get no update, no optimizer slots in saved files, and are left out
 * of clipping's norms), as in Keras, where the optimizer sees model.trainable_weights only.
 * Applies to the layer and every layer inside it (Bidirectional's, TimeDistributed's, a model
 * used as a layer), as Keras's setter does. Saved ("trainable": false) and read back by
 * rnn_save / rnn_load in both formats; rnn_summary counts "Trainable params" and
 * "Non-trainable params". Change it before training, or compile again after, as Keras asks:
 * the optimizer's slot list in files follows the flags at the time of the save. */
rnn_status rnn_set_trainable(rnn_layer *layer, int trainable);
/* 1 when the layer is trainable (the default), 0 when frozen, -1 for NULL. */
int rnn_layer_trainable(const rnn_layer *layer);

/* Frees a layer that was never added to a model. */
void rnn_layer_free(rnn_layer *layer);
const char *rnn_layer_name(const rnn_layer *layer);

/* ------------------------------------------------------------------ models */

#define RNN_NONE (-1) /* an unknown dimension: Keras's None */

/* A new empty Sequential model. name NULL gives "sequential". Free with rnn_model_free. */
rnn_model *rnn_sequential(const char *name);
void rnn_model_free(rnn_model *model);
/* The message of the last failed call on this model ("" if none). */
const char *rnn_model_error(const rnn_model *model);
/* What loading the model from a file had to ignore, in one line ("" when nothing): an optimizer
 * state that does not fit the compiled optimizer (as Keras skips it) or holds impossible values
 * (a step count outside [0, 2^53], a learning rate or slot that is not finite). The weights are
 * the file's either way; training restarts the optimizer. The library never prints it: the
 * rnn tool does. */
const char *rnn_model_warning(const rnn_model *model);

/* Seeds the model's generator (weight initialisation, dropout, shuffling). Default seed: 0.
 * Weights are drawn when the model is built, the first time something needs them (compile, fit,
 * predict, rnn_summary, rnn_weight_count, rnn_get_weight, ...), with the seed in force then.
 * Once they are drawn, rnn_set_seed draws them again, so the model holds the weights a model
 * built with this seed would hold, whatever was called before: every weight, those of nested
 * models included (shared with the models they came from); the optimizer's slots and step count
 * are cleared and carried states reset, as they belonged to the old weights. This holds for a
 * model read by rnn_load too: it keeps the file's weights until rnn_set_seed is called on it. */
rnn_status rnn_set_seed(rnn_model *model, uint64_t seed);

/* The input of a Sequential model, as Keras's input_shape=(steps, features) with steps possibly
 * RNN_NONE (batch size free), or batch_input_shape=(batch, steps, features) with a fixed batch
 * (needed by stateful layers). rank-2 input [batch, features] is set with steps = 0. */
rnn_status rnn_input(rnn_model *model, int64_t steps, int64_t features);
rnn_status rnn_batch_input(rnn_model *model, int64_t batch, int64_t steps, int64_t features);

/* Appends a layer (the model owns it from now on, also on failure). Shapes are checked here;
 * the message says what does not fit. */
rnn_status rnn_add(rnn_model *model, rnn_layer *layer);

/* Number of layers, and one by index (borrowed). */
int rnn_layer_count(const rnn_model *model);
rnn_layer *rnn_get_layer(rnn_model *model, int index);

/* The model's (first) output shape as declared, Keras's model.output_shape: rank and dims, with
 * the batch and any other unknown dimension as RNN_NONE; dims past the rank are 0. */
rnn_status rnn_output_shape(rnn_model *model, int *rank, int64_t shape[RNN_MAX_RANK]);
/* model.inputs and model.outputs, by index in their order: how many (0 before the model has an
 * input), each one's name (an input's is its Input layer's; an output's is the layer that makes
 * it, Keras's output_names; NULL when index is out of range) and an input's shape (batch first;
 * -1 where Keras has None, so a fixed batch size shows in shape[0]). */
int rnn_input_count(const rnn_model *model);
int rnn_output_count(const rnn_model *model);
const char *rnn_input_name(const rnn_model *model, int index);
const char *rnn_output_name(const rnn_model *model, int index);
rnn_status rnn_input_shape(rnn_model *model, int index, int *rank, int64_t shape[RNN_MAX_RANK]);

/* Keras's model.summary(): layer table with output shapes and parameter counts. */
rnn_status rnn_summary(rnn_model *model, FILE *out);
int64_t rnn_count_params(rnn_model *model);

/* rnn_explain (issue 17): the model drawn unrolled over time - a cell per time step (long
 * sequences elided in the middle, first and last steps kept), the input vectors, the hidden and
 * cell state carried between steps, returned outputs solid and discarded ones faint, Keras shapes
 * on the arrows, parameter counts with their formula, and for a stateful model its batch rows
 * with the state carried from one batch to the next. With inputs, the values the library's own
 * forward pass computed for one sample: gate activations and hidden state per step. */
typedef enum {
    RNN_EXPLAIN_AUTO = 0, /* by the path's extension: .svg, .html/.htm; no path: text */
    RNN_EXPLAIN_TEXT,
    RNN_EXPLAIN_SVG,
    RNN_EXPLAIN_HTML
} rnn_explain_format;
typedef struct {
    rnn_explain_format format;
    const rnn_tensor *inputs; /* NULL, or one array per model input (a batch of samples) */
    int n_inputs;
    int sample;         /* the row of the inputs whose values are drawn; default 0 */
    int steps;          /* most time steps drawn per layer, 3 to 16; default 8 */
    int unknown_steps;  /* steps drawn when the model's are None and no input says; default 4 */
    int batches;        /* stateful models: batches drawn; default 3 */
    int reset_every;    /* stateful: reset_states after this many batches; default 2 */
    int ascii;          /* text: ASCII instead of Unicode box drawing */
    int width;          /* text: columns; default 100 */
    FILE *out;          /* text without a path: where it goes; NULL: stdout */
} rnn_explain_options;
rnn_explain_options rnn_explain_defaults(void);
/* Writes the drawing to path (.svg: a standalone SVG; .html: one self-contained page with the
 * SVG inline, its CSS and a little JavaScript for hover details, nothing loaded from elsewhere),
 * or as text to options->out when path is NULL. options NULL: the defaults. */
rnn_status rnn_explain(rnn_model *model, const rnn_explain_options *options, const char *path);

/* Weights in Keras's order and layout (get_weights / set_weights). Index over all weights of all
 * layers: layer 0's kernel, recurrent_kernel, bias, then layer 1's... */
int rnn_weight_count(rnn_model *model);
/* Name ("lstm/kernel"), rank and shape of weight i; name, rank and shape may be NULL. *name
 * stays valid, and keeps its text, until the model is freed (it is stored with the weight:
 * later calls do not overwrite it). */
rnn_status rnn_weight_info(rnn_model *model, int index, const char **name, int *rank,
                           int64_t shape[RNN_MAX_RANK]);
/* Copies weight i into/out of a caller buffer of `count` floats (must equal its size). */
rnn_status rnn_get_weight(rnn_model *model, int index, float *out, int64_t count);
rnn_status rnn_set_weight(rnn_model *model, int index, const float *values, int64_t count);
/* Copies every weight from one model to another of the same architecture (a stateful batch-1
 * copy of a trained model, for example). */
rnn_status rnn_copy_weights(rnn_model *dst, rnn_model *src);

/* model.save_weights(path) / model.load_weights(path): Keras 3's `.weights.h5` file (the name
 * must end so), the same HDF5 layout as a .keras file's model.weights.h5 - the weights of every
 * layer by its place in the model, and the optimizer's variables when the model is compiled -
 * which Keras's model.load_weights reads and which rnn_load_weights reads from Keras's
 * save_weights. Saving writes through a temporary file renamed over path, as rnn_save does.
 * Loading needs a model of the same architecture (layer kinds, order and shapes; the names may
 * differ, as in Keras) and replaces its weights, and its optimizer's state when the file holds
 * one that fits the compiled optimizer; the file is read by the reader program, like rnn_load
 * (RNN_ERR_FORMAT for a file of another architecture, or damaged). Built without the Keras
 * libraries: RNN_ERR_UNSUPPORTED. */
rnn_status rnn_save_weights(rnn_model *model, const char *path);
rnn_status rnn_load_weights(rnn_model *model, const char *path);

/* keras.models.clone_model, plus what a stateful copy needs: a new model of the same
 * architecture (layers, their options, names and trainable flags; uncompiled, as in Keras). */
typedef struct {
    /* The input batch size of the copy: 0 keeps the model's, RNN_NONE frees it, > 0 fixes it
     * (a stateful copy for streaming: 1). Default 0. */
    int64_t batch_size;
    /* -1 (default): as in the model; 0 or 1: the stateful flag of every recurrent layer. */
    int stateful;
    /* 0 (default, as Keras's clone_model): fresh weights drawn from `seed`; 1: a copy of the
     * model's values, bit for bit. */
    int copy_weights;
    uint64_t seed;
} rnn_clone_options;
rnn_clone_options rnn_clone_defaults(void);
/* NULL with the reason in rnn_last_error() (a stateful copy without a fixed batch size, say).
 * Free the copy with rnn_model_free. Built without the Keras libraries (make KERAS_IO=none),
 * whose config code it uses: NULL with RNN_ERR_UNSUPPORTED. */
rnn_model *rnn_clone_model(rnn_model *model, const rnn_clone_options *options);

/* ------------------------------------------------------------------ functional models */

/* A symbolic tensor (Keras's KerasTensor): a model input, or output k of a layer call. Symbols
 * belong to the layer that made them and are freed with it. */
typedef struct rnn_symbol rnn_symbol;

/* keras.Input(shape=(steps, features), batch_size=batch). batch RNN_NONE: free; steps RNN_NONE:
 * any length; steps 0: no time axis ([batch, features]). name NULL: "input_layer", ... */
rnn_symbol *rnn_input_new(int64_t batch, int64_t steps, int64_t features, const char *name);
/* keras.Input(shape=(steps,)) for integer token ids (given as float values), fed to Embedding. */
rnn_symbol *rnn_ids_input_new(int64_t batch, int64_t steps, const char *name);
/* Frees an input that no model took (a model frees the inputs it holds); does nothing for an
 * input a model uses. Layers called on it but never made part of a model are not freed. */
void rnn_input_free(rnn_symbol *input);

/* layer(x): calls a layer on a symbol and returns its (first) output, or NULL with the reason in
 * rnn_last_error(). A NULL x passes an earlier failure on. Each layer is called once. */
rnn_symbol *rnn_call(rnn_layer *layer, rnn_symbol *x);
/* layer(inputs) with several inputs (an RNN's initial state: [x, h0] or [x, h0, c0]; a merge
 * layer's list; at most 8)
 * and several outputs (return_state: [output, h] or [output, h, c]). outputs has room for 6
 * (Bidirectional(LSTM, merge_mode=None, return_state): y, y_rev, h, c forward, h, c backward). */
rnn_status rnn_call_ex(rnn_layer *layer, rnn_symbol *const *inputs, int n_inputs,
                       rnn_symbol **outputs, int *n_outputs);
/* inner(x): a model used as a layer of another model. The weights are shared: training the
 * outer model trains the inner one. The outer model keeps the inner one alive. */
rnn_symbol *rnn_call_model(rnn_model *inner, rnn_symbol *x);

/* keras.Model(inputs, outputs): the graph from the inputs to the outputs (at most 32 each).
 * The model holds every layer on the way; free it with rnn_model_free. */
rnn_model *rnn_model_new(rnn_symbol *const *inputs, int n_inputs, rnn_symbol *const *outputs,
                         int n_outputs, const char *name);
/* The usual single-input, single-output case. */
rnn_model *rnn_model_simple(rnn_symbol *input, rnn_symbol *output, const char *name);
/* Sequential with a declared input symbol (rnn_ids_input_new for an Embedding first layer). */
rnn_status rnn_sequential_input(rnn_model *model, rnn_symbol *input);

/* ------------------------------------------------------------------ training setup */

typedef enum {
    RNN_OPT_ADAM = 0,
    RNN_OPT_SGD,
    RNN_OPT_RMSPROP,
    RNN_OPT_ADAGRAD,  /* keras.optimizers.Adagrad */
    RNN_OPT_ADADELTA, /* keras.optimizers.Adadelta */
    RNN_OPT_ADAMAX,   /* keras.optimizers.Adamax */
    RNN_OPT_NADAM,    /* keras.optimizers.Nadam */
    RNN_OPT_ADAMW     /* keras.optimizers.AdamW: Adam with decoupled weight_decay */
} rnn_optimizer_kind;

/* keras.optimizers.schedules: the learning rate as a function of the step count. */
typedef enum {
    RNN_SCHEDULE_CONSTANT = 0,
    RNN_SCHEDULE_INVERSE_TIME, /* lr / (1 + decay_rate * step / decay_steps) */
    RNN_SCHEDULE_EXPONENTIAL   /* lr * decay_rate ^ (step / decay_steps)      */
} rnn_schedule_kind;

/* An optimizer as Keras users write one. Fields a kind does not use are ignored; 0 turns the
 * optional ones off. */
typedef struct {
    rnn_optimizer_kind kind;
    float learning_rate; /* SGD 0.01, every other kind 0.001                          */
    float beta_1;        /* Adam, Adamax, Nadam, AdamW 0.9                             */
    float beta_2;        /* Adam, Adamax, Nadam, AdamW 0.999                           */
    float epsilon;       /* all but SGD: 1e-7 (Keras's epsilon=None means this)        */
    float momentum;      /* SGD, RMSprop 0.0                                           */
    int nesterov;        /* SGD 0                                                      */
    int amsgrad;         /* Adam, AdamW 0                                              */
    float rho;           /* RMSprop 0.9, Adadelta 0.95                                 */
    int centered;        /* RMSprop 0                                                  */
    float decay;         /* Keras 2 `decay`: lr / (1 + decay * iterations); default 0  */
    rnn_schedule_kind schedule;
    int64_t decay_steps; /* schedules */
    float decay_rate;
    int staircase;       /* integer division of step / decay_steps                     */
    float clipnorm;        /* per-weight norm clipping (0: off)                          */
    float clipvalue;       /* element clipping to [-v, v] (0: off)                       */
    float global_clipnorm; /* clipping of the norm over all weights (0: off); one of the three */
    /* Keras 3's weight_decay, an argument of every optimizer (AdamW 0.004, the others 0 = None):
     * before each update, w -= w * weight_decay * learning_rate, decoupled from the gradient. */
    float weight_decay;
    float initial_accumulator_value; /* Adagrad 0.1: the accumulators' starting value     */
    /* How an Embedding's gradient reaches the optimizer. 0 (default): as TensorFlow's
     * per-occurrence slices (tf.IndexedSlices), which Keras on its TensorFlow backend feeds
     * through each element-wise step before summing repeated ids (Adam's v takes the sum of
     * the squared slices, clipvalue clips each slice, the clip norms count each slice). 1: the
     * summed dense gradient, what Keras's JAX and PyTorch backends use. No difference when no
     * id occurs twice in a batch, nor for SGD. */
    int dense_embedding_gradients;
} rnn_optimizer;

rnn_optimizer rnn_adam_defaults(void);
rnn_optimizer rnn_sgd_defaults(void);
rnn_optimizer rnn_rmsprop_defaults(void);
rnn_optimizer rnn_adagrad_defaults(void);
rnn_optimizer rnn_adadelta_defaults(void);
rnn_optimizer rnn_adamax_defaults(void);
rnn_optimizer rnn_nadam_defaults(void);
rnn_optimizer rnn_adamw_defaults(void);

/* compile(loss=..., optimizer=...). loss: "mean_squared_error" ("mse"), "mean_absolute_error"
 * ("mae"), "sparse_categorical_crossentropy", "categorical_crossentropy",
 * "binary_crossentropy", "kullback_leibler_divergence" ("kld"), "huber",
 * "mean_squared_logarithmic_error" ("msle"), "mean_absolute_percentage_error" ("mape"),
 * "log_cosh", "poisson", "cosine_similarity", "hinge", "squared_hinge" or
 * "categorical_hinge"; cross-entropies take probabilities (see rnn_set_from_logits).
 * optimizer: "adam", "sgd", "rmsprop", "adagrad", "adadelta", "adamax", "nadam" or "adamw"
 * with Keras's defaults. */
rnn_status rnn_compile(rnn_model *model, const char *loss, const char *optimizer);
/* The same with explicit optimizer settings. */
rnn_status rnn_compile_with(rnn_model *model, const char *loss, const rnn_optimizer *optimizer);
/* Huber's delta (keras.losses.Huber(delta=...); "huber" compiles with 1.0). */
rnn_status rnn_set_huber_delta(rnn_model *model, float delta);
/* Keras's from_logits=True for the cross-entropy losses (call after compiling). */
rnn_status rnn_set_from_logits(rnn_model *model, int from_logits);

/* Optimizers by their Keras names and arguments, for programs that take them as text (the rnn
 * tool's --optimizer and --opt key=value). rnn_optimizer_by_name: "adam", "sgd", "rmsprop" (any
 * case, as Keras's identifiers) -> *out with Keras's defaults; RNN_ERR_ARGUMENT naming the known
 * ones otherwise. rnn_optimizer_set_arg: one constructor argument by its Keras name
 * ("learning_rate", "beta_1", "momentum", "nesterov", "clipnorm", ...) from its text ("0.01",
 * "true"); an argument the optimizer does not have is RNN_ERR_ARGUMENT listing those it has.
 * rnn_optimizer_describe: "Adam(learning_rate=0.001, beta_1=0.9, ...)" into buf (always
 * terminated; truncated to size). */
rnn_status rnn_optimizer_by_name(const char *name, rnn_optimizer *out);
rnn_status rnn_optimizer_set_arg(rnn_optimizer *optimizer, const char *key, const char *value);
rnn_status rnn_optimizer_describe(const rnn_optimizer *optimizer, char *buf, size_t size);

/* ------------------------------------------------------------------ training and inference */

/* metrics=[...] of compile: "accuracy" (Keras picks sparse_categorical, categorical or binary
 * accuracy from the loss), "sparse_categorical_accuracy", "categorical_accuracy",
 * "binary_accuracy"; "mae", "mse", "mape", "msle" and their long names
 * ("mean_absolute_error", ...), "root_mean_squared_error"; the loss functions Keras takes as
 * metrics: "poisson", "cosine_similarity" (the similarity, not its negative), "hinge",
 * "squared_hinge", "categorical_hinge", "kl_divergence", "binary_crossentropy",
 * "categorical_crossentropy", "sparse_categorical_crossentropy" (on probabilities). History
 * names them as given, as Keras does. Call after rnn_compile; at most RNN_MAX_METRICS. They are
 * computed on output 0 (masked steps excluded) and reported by fit (history, progress) and
 * rnn_evaluate. */
rnn_status rnn_add_metric(rnn_model *model, const char *name);

/* model.optimizer.iterations: the optimizer steps applied since compile (or restored by
 * rnn_load from a file holding the optimizer's state); -1 for a NULL or uncompiled model. */
int64_t rnn_optimizer_iterations(const rnn_model *model);
/* model.optimizer.learning_rate: the compiled optimizer's rate (float32, as Keras's variable;
 * with a schedule, its base rate); -1 for a NULL or uncompiled model. Setting it (finite,
 * >= 0) changes the rate of the next steps, keeping the optimizer's slots and step count, as
 * assigning model.optimizer.learning_rate does; refused with a schedule (RNN_SCHEDULE_*). */
double rnn_learning_rate(const rnn_model *model);
rnn_status rnn_set_learning_rate(rnn_model *model, double learning_rate);

#define RNN_MAX_METRICS 8

/* What a model was compiled with (rnn_compiled). The strings belong to the model. */
typedef struct {
    const char *loss;      /* Keras's name: "mean_squared_error", ... */
    int from_logits;
    rnn_optimizer optimizer;
    int n_metrics;
    const char *metrics[RNN_MAX_METRICS];
} rnn_compile_settings;
/* 1 when the model is compiled (and *settings filled, if not NULL), else 0. */
int rnn_compiled(const rnn_model *model, rnn_compile_settings *settings);

/* Per-epoch values of a fit (Keras's History). val_* are NULL without validation. */
typedef struct {
    int epochs;          /* completed epochs */
    double *loss;
    double *val_loss;
    int n_metrics;
    const char *metric_names[RNN_MAX_METRICS];
    double *metric[RNN_MAX_METRICS];
    double *val_metric[RNN_MAX_METRICS];
    int stopped_early;   /* 1 if EarlyStopping or the epoch callback ended training */
    int best_epoch;      /* EarlyStopping: the 0-based epoch of the best monitored value */
    /* The optimizer's learning rate during each epoch (Keras's "learning_rate" log, which
     * LearningRateScheduler and ReduceLROnPlateau add); NULL when neither is on. */
    double *learning_rate;
} rnn_history;

/* One logged value of fit ("loss": 0.0123, "val_accuracy": 0.5), as Keras's logs dict holds
 * them: the training keys sorted by name, then the val_ keys sorted. */
typedef struct {
    const char *name;
    double value;
} rnn_log_entry;
void rnn_history_free(rnn_history *history);

/* keras.callbacks.EarlyStopping. monitor: "val_loss" (default), "loss", "accuracy",
 * "val_accuracy", or another metric's name (prefixed "val_" for validation). */
typedef struct {
    int enabled;
    const char *monitor;
    float min_delta;          /* default 0 */
    int patience;             /* default 0 */
    int restore_best_weights; /* default 0 */
    int start_from_epoch;     /* default 0 */
} rnn_early_stopping;

/* keras.callbacks.ModelCheckpoint: rnn_save after each epoch (or only when the monitored value
 * improves). filepath may hold {epoch} or {epoch:02d} (1-based) and {loss:.2f}-style log keys
 * ({val_loss:.4f}, {accuracy:.3f}, ...). Each save goes to a temporary file renamed over the
 * target, so a crash mid-save never leaves a broken file. Needs the Keras file support. */
typedef struct {
    const char *filepath;  /* NULL: off */
    const char *monitor;   /* default "val_loss" (used with save_best_only) */
    int save_best_only;    /* default 0 */
} rnn_model_checkpoint;

/* keras.callbacks.BackupAndRestore: fault-tolerant training. fit writes a backup file (a
 * .keras model holding the weights and optimizer state, plus librnn's training state: epoch
 * and batch position, the random generator, running loss sums, history, EarlyStopping and
 * ModelCheckpoint state, stateful layers' states) after every epoch, and every save_freq
 * batches when save_freq > 0. When fit starts and the backup exists, training continues from it:
 * the run ends with bit-identical weights to one that was never interrupted (same thread count,
 * same data and options; a batch source must return the same batch for the same index). Each
 * write is atomic (temporary file, flush, rename), so a kill at any moment leaves the previous
 * backup intact. When fit ends normally the backup is deleted unless delete_checkpoint is 0;
 * when it fails (a NaN loss) the last good backup stays. Needs the Keras file support. */
typedef struct {
    const char *path;      /* NULL: off; must end in .keras */
    int save_freq;         /* default 0: after each epoch only ("epoch") */
    int delete_checkpoint; /* default 1 */
} rnn_backup_and_restore;

/* keras.callbacks.LearningRateScheduler(schedule): before each epoch the optimizer's learning
 * rate becomes schedule(user, epoch, current rate) (epoch 0-based; Keras's schedule(epoch, lr)),
 * stored as float32 like Keras's variable. Refused with an optimizer schedule
 * (RNN_SCHEDULE_*), which Keras refuses too. A non-finite or negative result stops fit with
 * RNN_ERR_ARGUMENT. */
typedef struct {
    double (*schedule)(void *user, int epoch, double learning_rate); /* NULL: off */
    void *user;
} rnn_lr_scheduler;

/* keras.callbacks.ReduceLROnPlateau: after each epoch, when the monitored value has not
 * improved by more than min_delta for `patience` epochs, the learning rate becomes
 * max(lr * factor, min_lr) (only while lr > min_lr), then `cooldown` epochs pass before waiting
 * starts again. Keras's comparisons: improved when value + min_delta < best (mode "min"; for
 * "max" value - min_delta > best), compared in float32 as Keras's ops.less does; the first
 * epoch always improves. mode "auto" minimises losses and maximises accuracies. Refused with an
 * optimizer schedule, as in Keras. */
typedef struct {
    int enabled;
    const char *monitor; /* default "val_loss" */
    double factor;       /* default 0.1; must be < 1 */
    int patience;        /* default 10 */
    const char *mode;    /* default "auto"; "min" or "max" */
    double min_delta;    /* default 1e-4 */
    int cooldown;        /* default 0 */
    double min_lr;       /* default 0 */
} rnn_reduce_lr_on_plateau;

/* keras.callbacks.CSVLogger: one row per epoch, "epoch" (0-based) then the logged keys sorted
 * by name (with "val_" columns "NA" when there is no validation, as Keras writes them), values
 * as Python's repr, rows ended by "\r\n" (Python's csv module), flushed after each epoch. The
 * file is truncated when fit starts unless append is 1 (then a header is written only to an
 * empty file). With BackupAndRestore the rows of the epochs before an interruption are kept and
 * the file continues where the backup was taken. */
typedef struct {
    const char *filename; /* NULL: off */
    char separator;       /* default ',' */
    int append;           /* default 0 */
} rnn_csv_logger;

/* Data larger than memory (Keras's generators and keras.utils.Sequence): batches come from the
 * caller, one at a time. get() fills x[0..inputs) and y[0..outputs) with views of batch `index`
 * (0 <= index < batches), valid until the next call; y may be left empty for prediction. The
 * model's memory stays bounded by one batch. A stateful model sees the batches in order, its
 * state carried from piece to piece; otherwise fit shuffles their order when options->shuffle. */
typedef struct {
    int64_t batches;
    rnn_status (*get)(void *user, int64_t index, rnn_tensor *x, rnn_tensor *y);
    void (*on_epoch_end)(void *user); /* optional: after the last batch of each epoch */
    void *user;
    /* Needed only by a distributed fit (rnn_fit_options.distributed), where each process reads
     * only its rows: like get(), but only part `part` of `parts` of batch `index`, the rows
     * [floor(part * n / parts), floor((part + 1) * n / parts)) of its n rows; an empty part is
     * x[0] with shape[0] == 0. rnn_array_source and rnn_npy_source have it. NULL: the source
     * cannot feed a distributed fit. */
    rnn_status (*get_part)(void *user, int64_t index, int part, int parts, rnn_tensor *x,
                           rnn_tensor *y);
} rnn_batch_source;

/* A group of processes training one model data-parallel (see rnn_fit_options.distributed),
 * made by rnn_mpi_new below; free it with rnn_distributed_free before MPI_Finalize. */
typedef struct rnn_distributed rnn_distributed;

/* What fit, evaluate, predict, train_on_batch and predict_on_batch work on: Keras's x and y, in
 * one of three forms, each made by a helper below (fields not of the form stay zero).
 *  - one input array and one target array: x and y (rnn_data_xy; rnn_data_x without targets);
 *  - several inputs and outputs, Keras's lists of arrays: xs[0..n_x) and ys[0..n_y)
 *    (rnn_data_arrays); the loss applies to every output and the losses are summed;
 *  - batches handed over by the caller, one at a time: source (rnn_data_source).
 * The arrays are borrowed: nothing is copied or freed, and they must stay valid during the call.
 * Passed by value, so a call reads like Keras's: rnn_fit(model, rnn_data_xy(x, y), &options,
 * &history). */
typedef struct {
    rnn_tensor x, y;
    const rnn_tensor *xs;
    int n_x;
    const rnn_tensor *ys;
    int n_y;
    const rnn_batch_source *source;
} rnn_data;

rnn_data rnn_data_xy(rnn_tensor x, rnn_tensor y);
/* Inputs only (predict, predict_on_batch). */
rnn_data rnn_data_x(rnn_tensor x);
/* Lists of arrays: x[0..n_x) and y[0..n_y) (y may be NULL with n_y 0 for predict). */
rnn_data rnn_data_arrays(const rnn_tensor *x, int n_x, const rnn_tensor *y, int n_y);
/* Batches from a source (it must outlive the call). */
rnn_data rnn_data_source(const rnn_batch_source *source);

typedef struct {
    int epochs;             /* default 1   */
    int batch_size;         /* default 32  */
    int shuffle;            /* default 1: a new permutation every epoch */
    float validation_split; /* default 0: the last fraction of the samples validates */
    int verbose;            /* default 1: Keras's progress bar; 2: one line per epoch; 0: quiet */
    FILE *out;              /* where progress goes; NULL: stdout */
    rnn_early_stopping early_stopping; /* off by default */
    rnn_model_checkpoint checkpoint;   /* off by default */
    rnn_backup_and_restore backup;     /* off by default */
    /* Called after every epoch with the history so far; return non-zero to stop training
     * (a custom callback: checkpointing, logging). NULL: none. */
    int (*on_epoch_end)(void *user, int epoch, const rnn_history *history);
    void *user;
    /* Fit on a batch source: the batches evaluated after each epoch (Keras's validation_data);
     * NULL: none. Refused with arrays (use validation_data or validation_split). */
    const rnn_batch_source *validation_source;
    /* Keras's validation_data: arrays (rnn_data_xy or rnn_data_arrays, several inputs and
     * outputs included) or a batch source, evaluated after each epoch in order, in batches of
     * batch_size. Overrides validation_split, as in Keras; not together with
     * validation_source. Zeroed: none. */
    rnn_data validation_data;
    /* Called after every training batch (Keras's on_train_batch_end) with the 0-based batch index
     * in the epoch and the running logs of the epoch (loss and metrics, as the progress bar shows
     * them); return non-zero to stop training after this batch (the epoch then ends as Keras's
     * stop_training does: validation, epoch callbacks). NULL: none. Gets `user`. */
    int (*on_train_batch_end)(void *user, int64_t batch, const rnn_log_entry *logs, int n_logs);
    rnn_lr_scheduler lr_scheduler;       /* off by default */
    rnn_reduce_lr_on_plateau reduce_lr;  /* off by default */
    rnn_csv_logger csv_logger;           /* off by default */
    /* keras.callbacks.TerminateOnNaN: a batch whose loss is NaN or Inf ends training (the epoch
     * ends as above, its loss NaN) and fit returns RNN_OK with history->stopped_early. librnn
     * never applies that batch's update (Keras applies it, leaving NaN weights). Default 0: such
     * a batch fails fit with RNN_ERR_NUMERIC. */
    int terminate_on_nan;
    /* Data-parallel training over a group of processes (rnn_mpi_new); NULL: this process alone.
     * Every rank calls rnn_fit with the same model, data description and options; the global
     * batch is ranks x batch_size rows, of which each rank reads and trains on its part (arrays
     * - map big ones with rnn_npy_map_open - or a source's get_part). See "Training on several
     * machines" in the README. */
    rnn_distributed *distributed;
} rnn_fit_options;
rnn_fit_options rnn_fit_defaults(void);

/* Data checks of fit, evaluate, predict, train_on_batch, predict_on_batch and predict_step (and
 * of every batch an rnn_batch_source hands over): x and y must be finite. A
 * NaN or Inf anywhere is RNN_ERR_NUMERIC naming the array and the first flat index ("x contains
 * NaN at flat index 13"), before anything runs. Keras does not check; librnn refuses because
 * NaN in x or y turns every weight into NaN on the first update, and a NaN prediction is easily
 * taken for a number downstream (mark missing steps with Masking and a finite mask_value
 * instead). During training a non-finite loss or gradient stops fit before that update is
 * applied, and an update that overflows a weight (too large a learning rate) stops it right
 * after (RNN_ERR_NUMERIC naming the weight; the model then holds that weight non-finite, and
 * ModelCheckpoint, which saves only after a completed epoch, keeps its last good file). */

/* model.fit(x, y). Validation after each epoch (Keras's validation_data): options->
 * validation_data (arrays or a source, with either kind of training data), or
 * options->validation_source with a batch source as the data; with arrays,
 * options->validation_split holds the last samples out instead. history may be NULL; otherwise
 * free it with rnn_history_free. */
rnn_status rnn_fit(rnn_model *model, rnn_data data, const rnn_fit_options *options,
                   rnn_history *history);
/* model.evaluate(x, y, batch_size): the mean loss over the samples in *loss and the compiled
 * metrics in metrics[0..n_metrics) (metrics may be NULL). batch_size <= 0: 32; unused with a
 * batch source (its batches are evaluated as they come, the mean weighted by their sizes). */
rnn_status rnn_evaluate(rnn_model *model, rnn_data data, int batch_size, double *loss,
                        double *metrics);
/* model.predict(x, batch_size): outputs[0..n_outputs) each receive a new array (free each with
 * rnn_tensor_free), one per model output. batch_size <= 0: 32. Arrays only: for a batch source,
 * whose outputs may not fit in memory, use rnn_predict_source. */
rnn_status rnn_predict(rnn_model *model, rnn_data data, int batch_size, rnn_tensor *outputs,
                       int n_outputs);
/* One optimizer step on exactly this batch (arrays); *loss (may be NULL) gets the batch's loss
 * before the update. */
rnn_status rnn_train_on_batch(rnn_model *model, rnn_data data, double *loss);
/* predict on exactly this batch (arrays): rnn_predict with a batch size of all the samples. */
rnn_status rnn_predict_on_batch(rnn_model *model, rnn_data data, rnn_tensor *outputs,
                                int n_outputs);

/* Predictions from a batch source, batch by batch: sink(user, batch index, outputs) receives
 * views valid during the call, so outputs larger than memory can be written out as they come.
 * A non-zero status from the sink stops and is returned. */
rnn_status rnn_predict_source(rnn_model *model, const rnn_batch_source *source,
                              rnn_status (*sink)(void *user, int64_t batch, const rnn_tensor *y),
                              void *user);

/* Zeros the state of every stateful layer, and the state carried by rnn_predict_step. */
rnn_status rnn_reset_states(rnn_model *model);

/* Streaming: feeds ONE time step x of shape [batch, features] (x holds batch*features floats)
 * and writes the model's output for that step to y (batch * output features floats). Every
 * recurrent layer carries its state from call to call, as a stateful layer does, until
 * rnn_reset_states. The batch is the model's fixed batch size, or 1 if the batch is free.
 * After the first call no memory is allocated. */
rnn_status rnn_predict_step(rnn_model *model, const float *x, float *y);
/* The sizes rnn_predict_step works with: *batch parallel streams, *features_in values per
 * stream and step (1 for a model reading token ids), *features_out outputs per stream and step.
 * Any pointer may be NULL. Fails like rnn_predict_step for a model it cannot stream. */
rnn_status rnn_stream_shape(rnn_model *model, int64_t *batch, int64_t *features_in,
                            int64_t *features_out);

/* ------------------------------------------------------------------ data-parallel training */

/* Training one model on several processes or machines, as Keras's MultiWorkerMirroredStrategy
 * does: every rank holds the whole model and takes its part of each global batch of
 * ranks x batch_size rows; the loss is divided by the unmasked rows of the whole global batch,
 * the gradients are summed over the ranks in rank order (the same bits on every rank), and every
 * rank applies the same update, which is the update one process makes on the combined batch
 * (up to the order of the sums: equal within float rounding, not bit for bit). Shuffling draws
 * one permutation from the seed on every rank; rank 0's weights, optimizer state and generator
 * are sent to the others when fit starts. Only rank 0 prints progress and writes ModelCheckpoint
 * and BackupAndRestore files (put them on a file system every rank reads; resume with the same
 * number of ranks). Losses and metrics in the history are the global batch's. Stateful models:
 * each rank's model has the per-rank fixed batch size and carries its rows' states (the
 * single-process equivalent has ranks x batch_size); BackupAndRestore is refused for them.
 * Dropout draws masks from a stream of each rank's own (correct training, not the single-process
 * masks). on_epoch_end runs on every rank (fit stops when any rank's returns non-zero). A failure
 * on one rank (bad data, a NaN loss) stops every rank with its message.
 *
 * The transport is MPI, in a library of its own, librnn_mpi (built when MPI is found; link
 * -lrnn_mpi and the MPI library), so librnn itself never needs MPI. The host program owns MPI:
 * it calls MPI_Init before rnn_mpi_new and MPI_Finalize after rnn_distributed_free. */
typedef struct {
    /* A pointer to the MPI_Comm of the ranks that train together (rnn_mpi_new duplicates it);
     * NULL: MPI_COMM_WORLD. */
    const void *communicator;
    /* Seconds a rank waits for the others in one exchange before fit fails with RNN_ERR_IO
     * (a rank died or hangs); the wait also covers rank 0 writing a checkpoint. 0: the
     * environment variable RNN_MPI_TIMEOUT if set, else 600. */
    double timeout_s;
    /* 1: after every epoch, compare a checksum of the weights across the ranks (a debugging
     * check; a difference fails fit with RNN_ERR_STATE). Default 0. */
    int check_weights;
} rnn_mpi_options;
rnn_mpi_options rnn_mpi_defaults(void);
/* A group over the communicator (collective: every rank of it calls rnn_mpi_new). NULL with
 * the reason in rnn_last_error() when MPI is not initialised or the communicator cannot be
 * duplicated. Defined in librnn_mpi. */
rnn_distributed *rnn_mpi_new(const rnn_mpi_options *options);
/* Frees the group (its duplicated communicator: call it before MPI_Finalize). NULL is a no-op. */
void rnn_distributed_free(rnn_distributed *group);
/* This process's rank in the group (0 for NULL), and the group's size (1 for NULL). */
int rnn_distributed_rank(const rnn_distributed *group);
int rnn_distributed_size(const rnn_distributed *group);

/* ------------------------------------------------------------------ threads and contexts */

/* What models share besides their own buffers: a team of threads for the recurrent step loops
 * (LSTM and GRU share each step's units between them) and for the large matrix products. A
 * model uses the context attached to it with rnn_model_set_context; a model without one uses
 * the process's default context, made on the first call that needs it. Two models run at the
 * same time in two threads each get all their threads when each has its own context; when they
 * share one, the second to start runs on one thread until the first is done. Results never
 * depend on timing, and predictions do not depend on the number of threads; in training, the
 * large weight-gradient products are split between the threads, so the thread count can change
 * their last bits.
 *
 * librnn never changes the BLAS's settings (OpenBLAS's thread count is the host program's).
 * Large matrix products go to the BLAS, which runs them on the threads it is set to; where the
 * host has set it to one thread (openblas_set_num_threads(1), or OPENBLAS_NUM_THREADS=1) and
 * the context has several, the context's threads share each large product instead, each
 * calling the BLAS on its slice. The step loops always run on the context's threads. */
typedef struct rnn_context rnn_context;

/* A context with a team of `threads` threads (0: as many as online CPUs, at most 8; 1: no
 * extra threads). Threads start on first use. NULL with the reason in rnn_last_error(). */
rnn_context *rnn_context_new(int threads);
/* Drops the caller's reference: the context is freed when no model uses it any more. */
void rnn_context_free(rnn_context *ctx);
/* Changes the context's thread count (0: the default), for every model using it; call it
 * between runs, not during one. */
rnn_status rnn_context_set_threads(rnn_context *ctx, int threads);
/* The threads the context's team runs on (NULL: the default context's). */
int rnn_context_threads(const rnn_context *ctx);
/* Attaches ctx to the model (which keeps a reference until it is freed or given another; NULL:
 * back to the default context). A model used as a layer of another runs on the outer model's
 * context unless it has one of its own. */
rnn_status rnn_model_set_context(rnn_model *model, rnn_context *ctx);

/* Sets the thread count of the default context only (0: as many as online CPUs, at most 8):
 * it changes the threads of every model without a context of its own, and nothing else - not
 * models with their own context, not the BLAS's threads. Call it between runs, not during
 * one. */
rnn_status rnn_set_threads(int threads);

/* ------------------------------------------------------------------ Keras model files */

/* keras.models.load_model(path): a Keras 3 `.keras` file (zip: config.json + model.weights.h5)
 * or a legacy HDF5 `.h5` file (Keras 1, Keras 2, tf.keras 2, or Keras 3's model.save("x.h5")),
 * Sequential or functional, nested models included; the kind is read from the content. Returns
 * a new model (free with rnn_model_free) with the file's weights, compiled when the file has
 * compile information whose loss and optimizer librnn has (otherwise uncompiled), or NULL with
 * the reason in rnn_last_error() and the status in rnn_last_status(): RNN_ERR_IO (cannot open,
 * no reader program, the reader's time limit), RNN_ERR_FORMAT (not a Keras file, truncated or
 * corrupted, weights that disagree with the config, a NaN or Inf weight, which Keras would load
 * and predict NaN with, a file that crashed the reader), RNN_ERR_UNSUPPORTED (a layer, option
 * or custom object librnn does not have, named in the message), RNN_ERR_MEMORY (the reader's
 * memory limit). No code from a file is ever run.
 * `hard_sigmoid` is Keras 1/2's 0.2x + 0.5 in legacy files and Keras 3's x/6 + 0.5 in .keras
 * files; a GRU without reset_after in a Keras 1/2 config is reset_after=False.
 *
 * The file is read by a separate reader program, rnn-reader, started with posix_spawn (the
 * calling process is never forked, so any host, multithreaded or not, is safe): libhdf5 and
 * libzip, which are not safe on hostile files, run only there, and only plain numbers and the
 * config text come back, checked. A file that crashes the reader, or makes it run past its
 * time limit (60 s of waiting by default) or its memory limit, gives NULL and a message saying
 * so, never a crash or a hang of the caller. The reader dies with the caller. It is looked for,
 * in this order: the environment variable RNN_READER (a path; ignored in setuid programs);
 * next to the shared library or the program that contains librnn, as DIR/rnn-reader or
 * DIR/../libexec/rnn/rnn-reader; the build tree's build/rnn-reader, only for programs inside
 * that build tree (the tests); PREFIX/libexec/rnn/rnn-reader of `make install`. If none is
 * there, rnn_load fails with RNN_ERR_IO naming the places; it never falls back to reading in
 * process. The cost is about a process start and a copy of the weights per load. rnn_load may
 * run in several threads at once; rnn_save and in-process loads use libhdf5 in the calling
 * process (Debian's libhdf5 is built thread-safe and serialises them). */
rnn_model *rnn_load(const char *path);

/* rnn_load's settings; zero-initialise, then set what you need ({0} gives rnn_load). */
typedef struct {
    /* The reader's time limit in seconds (the time spent waiting for it); 0: the environment
     * variable RNN_LOAD_TIMEOUT if set, otherwise 60. On expiry the reader is killed and the
     * load fails with RNN_ERR_IO saying so. */
    double timeout_s;
    /* The reader's address-space limit (RLIMIT_AS) in bytes; 0: 2 GiB plus 8 times the file's
     * size; SIZE_MAX: none. Beyond it the reader's allocations fail (RNN_ERR_MEMORY). Not applied
     * to a reader built with AddressSanitizer. */
    size_t max_memory;
    /* The reader program; NULL: the search of rnn_load. */
    const char *reader;
    /* 1: read the file in the calling process, without the reader (the way Keras does). Faster
     * by a process start, and works where no reader is installed, but a corrupted or hostile
     * file can then crash or hang the caller inside libhdf5 and libzip, and loads run one at a
     * time. Only for files you trust. */
    int in_process;
} rnn_load_options;
/* rnn_load with settings (options may be NULL: the defaults). */
rnn_model *rnn_load_ex(const char *path, const rnn_load_options *options);
/* keras.models.model_from_json(json): a new, uncompiled model from a Keras model config (the
 * text model.to_json() writes: Sequential or Functional, nested models included; compiled when
 * it holds a Keras 3 compile_config librnn can use), its weights drawn by the initializers of
 * the config (call rnn_set_seed to redraw them from a seed). NULL with the reason in
 * rnn_last_error(). The text is parsed in the calling process (no reader program): pass only
 * configs you trust, as their sizes (units, vocabulary) are allocated as declared. */
rnn_model *rnn_model_from_json(const char *json);

/* model.save(path): `.keras` (Keras 3 format, loadable by Keras 3) or `.h5` (legacy HDF5, by the
 * extension). Written as every librnn output file is (rnn_output_file_open below): through a
 * temporary file flushed and renamed over path, so a failed save leaves path unchanged; a symlink
 * is written through (its target replaced, the link kept); a device or FIFO (/dev/stdout) is
 * written in place. A process killed during the save leaves path either old or new, never broken,
 * but cannot remove its temporary file (.NAME.rnntmp-PID-XXXXXX beside it); the next successful
 * save of the same path removes those of processes that no longer run. A compiled model's
 * optimizer state (step count, learning rate, Adam's moments and the other slots) is saved in
 * Keras 3's layout, so training continues where it stopped after rnn_load, in librnn or in
 * Keras. A model using the Keras 1/2 hard_sigmoid cannot be saved as .keras (Keras 3 has no such
 * function), nor one using Keras 3's hard_sigmoid as .h5 (RNN_ERR_UNSUPPORTED). Built without
 * the Keras libraries (make KERAS_IO=none), rnn_load and rnn_save return RNN_ERR_UNSUPPORTED. */
rnn_status rnn_save(rnn_model *model, const char *path);
/* Everything rnn_save(model, path) would check, without writing anything: the extension, that
 * the model can be expressed in that format, that path is not a directory and that a file can be
 * created beside it. Call it before long work (a fit) whose result goes to path. */
rnn_status rnn_save_check(rnn_model *model, const char *path);

/* ------------------------------------------------------------------ export to C, precision */

/* Weight precision: float32, bfloat16 (the upper 16 bits of each float, rounded to nearest even;
 * float32 accumulation), int8 (round(w / s) with one float scale s per output channel, s =
 * max |w| / 127 over the channel's weights; float32 accumulation). Activations, biases and
 * states stay float32 in every precision. */
typedef enum { RNN_F32 = 0, RNN_BF16, RNN_INT8 } rnn_precision;

/* Writes the model as dependency-free C99 to DIR/NAME.h and DIR/NAME.c: const weight arrays in
 * the given precision, NAME_predict(x, steps, y) for whole sequences (batch 1, static buffers of
 * NAME_MAX_STEPS steps), and for models rnn_predict_step can stream (no RepeatVector or
 * Bidirectional) a caller-owned NAME_state with NAME_reset and NAME_step; no heap, no library
 * beyond <math.h>, no librnn. The header states the shapes, the state's and the weights' sizes.
 * The model must be one chain of layers (each takes the previous one's output; nested models are
 * opened) of Dense, Embedding, SimpleRNN, LSTM, GRU, Bidirectional (merged), TimeDistributed
 * (Dense, Activation, Dropout), Activation, Masking, Dropout and RepeatVector; anything else is
 * RNN_ERR_UNSUPPORTED with the layer named. name must be a C identifier (at most 48 characters).
 * In float32 the generated code computes librnn's activations (the same polynomial sigmoid and
 * tanh) and agrees with rnn_predict to rounding (the sums run in another order). */
rnn_status rnn_export_c(rnn_model *model, const char *dir, const char *name,
                        rnn_precision precision);
/* Rounds the model's weight matrices (Dense kernels, recurrent kernels, embedding tables) in
 * place to the values the precision represents (bf16: the nearest bfloat16; int8: q s with the
 * channel's scale), which is what rnn_export_c's code at that precision computes with; biases
 * stay float32. For measuring a precision's accuracy with rnn_predict / rnn_evaluate (rnn
 * quantize-report). RNN_F32 changes nothing. Irreversible: use a copy (rnn_copy_weights). */
rnn_status rnn_quantize_weights(rnn_model *model, rnn_precision precision);
/* "f32", "bf16", "int8" -> precision; -1 for an unknown name. */
int rnn_precision_from_name(const char *name);
/* The precision of the weights inference reads (the weights themselves stay float32 and
 * unchanged); RNN_BF16 or RNN_INT8 use copies rounded by rnn_quantize_weights's rule, with
 * float32 sums, activations, states and outputs:
 * - rnn_predict_step: each streaming step of an LSTM layer (tanh / sigmoid, units a multiple of
 *   8, at most 8 streams) reads its kernel and recurrent kernel as bf16 / int8. bf16: widened
 *   to float32 in registers. int8: integer products (VNNI where the CPU has it), so the step's
 *   input x and state h are rounded too, per row and per 4096 of them, to integers with a
 *   power-of-two scale that gives the row's largest |value| 22 to 23 bits (each value moves
 *   by at most 2^-22 of that largest; float32 keeps 24 bits of every value); the integer sums
 *   are exact and rounded once to float32. Either way the outputs are, to about float32
 *   rounding, those of a float32 model whose weights went through rnn_quantize_weights, with
 *   the same bits on every CPU path and thread count. Other layers stream in float32.
 * - rnn_predict (rnn_predict_on_batch, rnn_predict_source), any batch: the products with the
 *   kernels and recurrent kernels of LSTM, GRU, SimpleRNN and Dense (TimeDistributed and
 *   Bidirectional included). With AMX-BF16 (Linux) they run as bf16 tile products (an int8
 *   weight is exact in bf16; its column's scale is applied to the sum); the activation operand
 *   is split into two bf16 parts (hi = bf16(a), lo = bf16(a - hi)), not rounded to bf16, so
 *   results stay within about 1e-5 of the rnn_quantize_weights float32 model, where rounding
 *   the activations would move them as much as rounding the weights does (docs/export.md).
 *   Without AMX: float32 products on a float32 copy of the rounded weights. Embedding tables
 *   and biases stay float32.
 *   For embedders, the AMX path: (1) the first reduced-precision rnn_predict asks Linux for
 *   the process's permission to use AMX tile data (arch_prctl ARCH_REQ_XCOMP_PERM); the
 *   kernel refuses it while any thread has an alternate signal stack (sigaltstack) smaller
 *   than the AMX signal frame needs (getauxval(AT_MINSIGSTKSZ), about 12 KiB), and librnn
 *   then takes the copy path; once granted, every thread's later sigaltstack with less than
 *   that fails (ENOMEM): size alternate stacks from AT_MINSIGSTKSZ or sysconf(_SC_SIGSTKSZ),
 *   not from the SIGSTKSZ / MINSIGSTKSZ constants. (2) Each product uses about 25 KiB of the
 *   calling thread's stack (activation tiles and accumulator staging), on the thread calling
 *   rnn_predict and on the library's team threads, and a signal delivered to such a thread
 *   saves about 8 KiB more of tile state.
 * rnn_evaluate and training keep float32. RNN_F32 (the default) restores float32 exactly. */
rnn_status rnn_set_precision(rnn_model *model, rnn_precision precision);

/* ================================================================== data helpers
 * What Keras programs take from NumPy, pandas and scikit-learn around the model: scaling,
 * windows of a series, CSV columns, .npy files, batch sources over files and arrays, output
 * files written safely, sampling. None of them is needed to build, train or run a model. */

/* ------------------------------------------------------------------ scaling and windows */

/* Keras/scikit-learn MinMaxScaler(feature_range=(lo, hi)) over one column of values. */
typedef struct {
    float data_min, data_max;
    float range_min, range_max;
} rnn_minmax_scaler;
/* Fits on n values. The feature range is [0, 1] unless range_min/range_max were set (non-zero)
 * before the call. */
rnn_status rnn_minmax_fit(rnn_minmax_scaler *scaler, const float *values, int64_t n);
void rnn_minmax_transform(const rnn_minmax_scaler *scaler, float *values, int64_t n);
void rnn_minmax_inverse(const rnn_minmax_scaler *scaler, float *values, int64_t n);

/* create_dataset(series, look_back) of the airline tutorial: samples = n - look_back - 1 windows
 * x[i] = series[i .. i+look_back), y[i] = series[i + look_back]. *x and *y are new arrays of
 * shape [samples, look_back, 1] and [samples, 1] (free with rnn_tensor_free). */
rnn_status rnn_create_dataset(const float *series, int64_t n, int look_back, rnn_tensor *x,
                              rnn_tensor *y);

/* Splits n values at floor(n * train_fraction): train = [0, split), test = [split, n). Returns
 * split, or -1 with the reason in rnn_last_error() for n <= 0 or a fraction outside (0, 1). */
int64_t rnn_train_test_split(int64_t n, double train_fraction);

/* ------------------------------------------------------------------ CSV files */

/* Loads one numeric column of a CSV file with a header row, by header name or (if column_name
 * is NULL) by 0-based index. *values is a new malloc'd array (free with free()). Quoted fields
 * are accepted; an empty or non-numeric field is an error naming the line. */
rnn_status rnn_csv_load_column(const char *path, const char *column_name, int column_index,
                               float **values, int64_t *n);

/* ------------------------------------------------------------------ NumPy .npy files */

/* Reads a NumPy .npy file (np.save) into *out: a new array owned by the caller (free with
 * rnn_tensor_free). Accepted: format versions 1.0, 2.0 and 3.0; dtypes float32 '<f4', float64
 * '<f8', int32 '<i4' and int64 '<i8' (little-endian), converted to float32 (float64 rounds to
 * the nearest float, beyond float's range to +-Inf; large integers round); C order; rank 0 to
 * RNN_MAX_RANK (a rank-0 scalar loads as shape (1,)); at most 2^34 elements. Anything else -
 * another dtype, fortran_order True, a truncated, corrupt or over-long file, a malformed header -
 * fails with a message naming the problem (RNN_ERR_IO: cannot open or read; RNN_ERR_FORMAT:
 * malformed; RNN_ERR_UNSUPPORTED: valid .npy this reader does not take) and *out zeroed. */
rnn_status rnn_npy_load(const char *path, rnn_tensor *out);

/* Writes t (rank 1 to RNN_MAX_RANK) as a float32, C-order, version 1.0 .npy file that np.load
 * reads, the way rnn_output_file_open writes: on failure (RNN_ERR_IO with the reason) path is
 * unchanged and no temporary file is left behind. */
rnn_status rnn_npy_save(const char *path, const rnn_tensor *t);

/* ------------------------------------------------------------------ mapped files, batch sources */

/* Maps a float32 .npy file into memory instead of reading it: *view is a view into the mapping
 * (not owned: rnn_npy_map_close releases it), valid until rnn_npy_map_close. Pages are read on
 * demand, so an array larger than memory works.
 * Writes into the view stay private (the file never changes). Other dtypes: RNN_ERR_UNSUPPORTED.
 * A mapping reads the file as it is when each page is first touched: if another process
 * truncates the file while it is mapped, touching a page past the new end raises SIGBUS (the
 * kernel's rule for every mapping; librnn cannot turn it into an error). Map only files nobody
 * rewrites in place while you use them (writers that save through a temporary file and a rename,
 * as np.save to another name then mv, or librnn, leave the mapped file intact), or read batches
 * with rnn_npy_source_open below, which survives truncation. */
typedef struct rnn_npy_map rnn_npy_map;
rnn_status rnn_npy_map_open(const char *path, rnn_tensor *view, rnn_npy_map **map);
void rnn_npy_map_close(rnn_npy_map *map);

/* A batch source that reads .npy files batch by batch (pread into its own buffers, any dtype
 * rnn_npy_load takes), so that data larger than memory can be trained on without a mapping: a
 * file truncated by another process while in use gives RNN_ERR_IO from get() ("... shrank while
 * in use"), never SIGBUS. y_path may be NULL (predict). Rows are the first axis; batch k is rows
 * [k*batch_size, ...), the last one shorter; x and y must have the same number of rows. Memory:
 * one batch of each. The batches are valid until the next get(); close frees everything. */
typedef struct rnn_npy_source rnn_npy_source;
rnn_status rnn_npy_source_open(const char *x_path, const char *y_path, int64_t batch_size,
                               rnn_batch_source *source, rnn_npy_source **state);
void rnn_npy_source_close(rnn_npy_source *state);

/* A batch source over arrays (in memory or mapped): batch k is rows [k*batch_size, ...) of x and
 * y, as views without copies. `state` (caller-owned, must outlive the source) holds the arrays. */
typedef struct {
    rnn_tensor x, y;
    int64_t batch_size;
} rnn_array_source_state;
rnn_status rnn_array_source(rnn_batch_source *source, rnn_array_source_state *state,
                            rnn_tensor x, rnn_tensor y, int64_t batch_size);

/* ------------------------------------------------------------------ output files */

/* An output file written the way librnn writes its own (models, .npy): the content goes to a
 * temporary file beside the target (".NAME.rnntmp-PID-XXXXXX"), and commit flushes it and renames
 * it over path, so readers never see half a file and a failure leaves path as it was. A symlink
 * at path is written through (the file it points to is replaced, the link stays); a device,
 * FIFO or socket (/dev/stdout, a named pipe) is written in place at commit; a directory is
 * refused. Open gives a stdio stream to write; commit closes it and puts the file in place
 * (RNN_ERR_IO with the reason on failure, nothing left behind); discard closes it and removes
 * the temporary file. Both free the handle. */
typedef struct rnn_output_file rnn_output_file;
rnn_status rnn_output_file_open(const char *path, rnn_output_file **file, FILE **stream);
rnn_status rnn_output_file_commit(rnn_output_file *file);
void rnn_output_file_discard(rnn_output_file *file);

/* ------------------------------------------------------------------ sampling */

/* Draws an index from n probabilities reshaped by a temperature, as text-generation examples do:
 * p_i^(1/T) renormalised (T = 1: the distribution itself; T -> 0: the arg max). *state is the
 * caller's generator state (any seed). Returns -1 for bad arguments. */
int rnn_sample(const float *probabilities, int n, float temperature, uint64_t *state);

#ifdef __cplusplus
}
#endif
#endif /* RNN_H */
