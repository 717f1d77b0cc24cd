/* The internal layer interface. A layer knows its input shapes, infers its output shapes and
 * weight shapes (configure), draws its initial weights (init_weights), sizes its work buffers for
 * a batch shape (plan), and runs forward and backward passes over them. Each layer owns its
 * weights and their gradients (so a layer shared by two models, such as an encoder used alone
 * and inside an autoencoder, has one set of weights). A layer is called once per graph: its
 * output buffers hold that call's results. */
#ifndef RNN_LAYER_H
#define RNN_LAYER_H

#include "memory.h"
#include "rng.h"
#include "rnn.h"

#define RNN_NAME_MAX 64
#define RNN_LAYER_MAX_WEIGHTS 4
#define RNN_WEIGHT_MAX_SLICE_SETS 4 /* calls of one Embedding per step kept as slices */
/* x and initial states h0, c0 (Bidirectional: twice); a merge layer's list of inputs */
#define RNN_LAYER_MAX_INPUTS 8
/* an LSTM with return_state: output, h, c; Bidirectional(LSTM, merge_mode=None, return_state):
 * forward and backward outputs, then h, c forward, h, c backward */
#define RNN_LAYER_MAX_OUTPUTS 6

typedef struct {
    char name[32];        /* Keras's variable name: "kernel", "recurrent_kernel", "bias" */
    int rank;             /* 1 to 3 (a Conv1D kernel is (kernel_size, in, filters)) */
    int64_t shape[3];
    int64_t size;
    float *value;         /* owned by the layer (one block for all its weights) */
    float *grad;
    /* Moves on every change of the values (rnn__weight_changed): what is derived from them (a
     * recurrent layer's packed copies) is rebuilt when the version it was made from is not the
     * weight's any more. Per weight, so that training one model never invalidates another's. */
    unsigned long version;
    /* "layer/kernel", as rnn_weight_info returns it: kept here so that the pointer it hands
     * out stays valid (and right) as long as the layer lives, whatever is called meanwhile. */
    char path[RNN_NAME_MAX + 40];
    /* The gradient as per-occurrence slices (TensorFlow's tf.IndexedSlices) besides the summed
     * grad, for the optimizer (optim_step.c): a gather's backward (Embedding) records, per
     * call, its ids (count of them, as floats) and the (count, row size) output gradient
     * they scatter, both valid until the next forward. rnn__model_zero_grads clears them; a
     * set count of -1 means more calls than fit here (the optimizer then uses grad). */
    struct {
        const float *ids, *values;
        int64_t count;
    } slices[RNN_WEIGHT_MAX_SLICE_SETS];
    int n_slice_sets;
    /* Its layer is frozen (trainable=False): copied from the layer by rnn__model_sync_frozen
     * before training and before the optimizer's variables are listed. */
    int frozen;
} rnn_weight;

/* Records one call's slices on w (see rnn_weight.slices). */
void rnn__weight_record_slices(rnn_weight *w, const float *ids, const float *values, int64_t count);

/* A shape with the batch dimension first; RNN_NONE (-1) where unknown. */
typedef struct {
    int rank;
    int64_t dim[RNN_MAX_RANK];
} rnn_shape;

typedef enum {
    RNN_MODE_PREDICT = 0, /* inference; stateful layers carry their state      */
    RNN_MODE_TRAIN,       /* dropout active; keeps what backward needs          */
    RNN_MODE_STREAM       /* every recurrent layer carries state (predict_step) */
} rnn_run_mode;

/* What a forward pass needs besides its inputs. */
typedef struct {
    rnn_run_mode mode;
    rnn_rng *rng; /* the model's generator: dropout masks */
    /* rnn_set_precision's weights for RNN_MODE_PREDICT (rnn_predict; kernels/qgemm.h): Dense
     * and the recurrent layers multiply by reduced-precision copies. RNN_F32 elsewhere. */
    rnn_precision precision;
    /* rnn_predict's result array for this batch's rows of the model's only output, and its
     * size in floats; NULL elsewhere. graph.c passes it to the layer that makes that output
     * only, and a layer may write its output there instead of into its own buffer (the
     * recurrent layers' plan.h_in_yseq), which spares predict its copy. A wrapper passes it on
     * only to an inner layer whose output is the wrapper's own (not Bidirectional's: merged). */
    float *out;
    int64_t out_floats;
} rnn_run_ctx;

typedef struct rnn_layer_ops rnn_layer_ops;
typedef struct rnn_symbol rnn_symbol;

struct rnn_layer {
    const rnn_layer_ops *ops;
    char name[RNN_NAME_MAX];
    /* The name is Keras's automatic stem given at the call ("lstm"), which the model numbers
     * ("lstm_1"); a name from the user or a file is kept as it is, even when it is the stem. */
    int auto_named;
    int refcount; /* models (and symbols) holding the layer */
    int n_inputs;
    rnn_shape input[RNN_LAYER_MAX_INPUTS];
    int n_outputs;
    rnn_shape output[RNN_LAYER_MAX_OUTPUTS];
    int n_weights;
    rnn_weight weights[RNN_LAYER_MAX_WEIGHTS];
    float *weight_block, *grad_block; /* NULL until built */
    size_t grad_bytes; /* grad_block's size (rnn__alloc_zeroed: untouched until a backward) */
    int configured;
    int frozen; /* Keras's trainable=False (rnn_set_trainable) */

    /* The symbols of this layer's (single) call in a graph. */
    rnn_symbol *inputs_sym[RNN_LAYER_MAX_INPUTS];
    rnn_symbol *outputs_sym[RNN_LAYER_MAX_OUTPUTS];

    /* Results of the last forward: y[k] has shape output[k] with the batch (and steps) of the
     * call. Backward writes dx[k] (shape of input k) for each input it is asked about. */
    rnn_tensor y[RNN_LAYER_MAX_OUTPUTS];
    float *dx[RNN_LAYER_MAX_INPUTS];
    /* Time-step masks [batch, steps] (1 = real step), set by the graph before forward:
     * mask_in for input 0 (NULL: none); the layer sets mask_out for output 0. */
    const uint8_t *mask_in;
    const uint8_t *mask_out;
    /* The mask of every input (masks_in[0] == mask_in), set by the graph: merge layers combine
     * them (merge.c). */
    const uint8_t *masks_in[RNN_LAYER_MAX_INPUTS];
    /* Outputs 0 .. mask_outputs-1 carry mask_out (0 counts as 1: output 0 only). Bidirectional
     * with merge_mode=None returns two sequences, both masked as Keras does. */
    int mask_outputs;
    int64_t planned_batch, planned_steps;
    rnn_workspace ws;

    void *impl; /* layer-specific options and buffers */
};

struct rnn_layer_ops {
    const char *class_name; /* Keras's class name: "LSTM" */
    const char *base_name;  /* Keras's automatic layer name stem: "lstm" */
    /* Checks options against the input shapes; sets outputs and weight shapes. On failure
     * returns a status with the message set. */
    rnn_status (*configure)(rnn_layer *layer, const rnn_shape *inputs, int n_inputs);
    /* Draws initial weights (NULL for layers without weights). */
    void (*init_weights)(rnn_layer *layer, rnn_rng *rng);
    /* Sizes the work buffers for inputs with this batch and step count (steps 0 for inputs
     * without a time axis). */
    rnn_status (*plan)(rnn_layer *layer, int64_t batch, int64_t steps);
    /* x[k] has the planned shape. Writes layer->y (and mask_out). Fails only on values a
     * shape check cannot catch (a token id out of range), with the message set. */
    rnn_status (*forward)(rnn_layer *layer, const rnn_tensor *const *x, const rnn_run_ctx *ctx);
    /* dy[k] is the gradient of the loss with respect to y[k] (NULL: zero). Adds the weight
     * gradients into the weights' grad arrays, and writes layer->dx[k] where want_dx[k]. */
    void (*backward)(rnn_layer *layer, const rnn_tensor *const *x, float *const *dy,
                     const int *want_dx);
    /* Zeros carried state (NULL for stateless layers). */
    void (*reset_states)(rnn_layer *layer);
    /* Fixed batch size demanded by stateful state (0 if none). */
    int64_t (*stateful_batch)(const rnn_layer *layer);
    void (*free_impl)(void *impl);
    /* Output steps for an input of `steps` steps, for layers whose output has another number of
     * steps than their input (Conv1D with valid padding or strides): how unknown (None) steps
     * of an output are resolved for a call. NULL: the input's steps. */
    int64_t (*output_steps)(const rnn_layer *layer, int64_t steps);
    /* For layers that contain other layers (a nested model, TimeDistributed, Bidirectional):
     * the inner layers, for weights, states and names. NULL otherwise. */
    int (*children)(rnn_layer *layer, rnn_layer ***out);
};

/* Shared helpers. */
rnn_layer *rnn__layer_new(const rnn_layer_ops *ops, void *impl, const char *name);
void rnn__weight_set(rnn_weight *w, const char *name, int rank, int64_t d0, int64_t d1);
/* A rank-3 weight (d0, d1, d2). */
void rnn__weight_set3(rnn_weight *w, const char *name, int64_t d0, int64_t d1, int64_t d2);
/* "(None, 10, 32)" for a shape. */
void rnn__shape_format(const rnn_shape *s, char *buf, size_t size);
int rnn__shape_equal(const rnn_shape *a, const rnn_shape *b);
int64_t rnn__layer_param_count(rnn_layer *layer); /* including inner layers */

/* The one walk over layers. Every question asked of "every layer" (build and seeding, weight
 * lists, states, names, saving) goes through it, so a layer nested at any depth (a model in a
 * model in a model, a wrapper's inner layer) is reached the same way by all of them. */
typedef int (*rnn_layer_visit)(rnn_layer *layer, void *ctx);
/* Visits the layer, then each inner layer (ops->children) with its own inner layers, depth
 * first: the order of Keras's get_weights. A nonzero return from fn stops the walk and is
 * returned; 0 when every layer was visited. */
int rnn__layer_walk(rnn_layer *layer, rnn_layer_visit fn, void *ctx);
/* The weights of the layer and its inner layers in walk order: the first cap go to out; returns
 * how many there are. */
int rnn__layer_weight_list(rnn_layer *layer, rnn_weight **out, int cap);
/* Allocates and initialises the weights of this layer and its inner layers if not yet done
 * (rng NULL: allocated, left zero). */
rnn_status rnn__layer_build(rnn_layer *layer, rnn_rng *rng);

/* Every code path that writes weight values (layer initialisation, optimizer updates,
 * rnn_set_weight, rnn_copy_weights, restoring saved weights, loading a file) calls one of these
 * for the weights it wrote (rnn_weight.version). */
static inline void rnn__weight_changed(rnn_weight *w) { w->version++; }
void rnn__layer_weights_changed(rnn_layer *layer); /* and its inner layers' */
/* Fails with Keras's "expected ndim" message unless input k has one of the given ranks. */
rnn_status rnn__expect_rank(const rnn_layer *layer, const rnn_shape *in, int rank_a, int rank_b);
/* Drops one reference; frees the layer (and its impl) at zero. */
void rnn__layer_release(rnn_layer *layer);
/* Frees the layer, its buffers and its impl, whatever its references (a layer no model took). */
void rnn__layer_destroy(rnn_layer *layer);
/* Number of values in y[k] per batch row and in total. */
int64_t rnn__tensor_row_size(const rnn_tensor *t);

#endif
