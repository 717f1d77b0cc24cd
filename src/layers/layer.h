/* The internal layer interface. A layer knows its input shape, infers its output shapes and
 * weight shapes (configure), draws its initial weights (init_weights), sizes its work buffers for
 * a batch shape (plan), and runs forward and backward passes over them. Weights and their
 * gradients live in the model's flat arrays (so the optimizer is one loop); a layer's weight
 * table points into them. */
#ifndef RNN_LAYER_H
#define RNN_LAYER_H

#include "memory.h"
#include "rng.h"
#include "rnn.h"

#define RNN_NAME_MAX 64
#define RNN_LAYER_MAX_WEIGHTS 4
#define RNN_LAYER_MAX_OUTPUTS 3

typedef struct {
    char name[32];        /* Keras's variable name: "kernel", "recurrent_kernel", "bias" */
    int rank;
    int64_t shape[2];
    int64_t size;
    float *value;         /* into the model's parameter array */
    float *grad;          /* into the model's gradient array */
} rnn_weight;

/* A shape with the batch dimension first; RNN_NONE (-1) where unknown. */
typedef struct {
    int rank;
    int64_t dim[RNN_MAX_RANK];
} rnn_shape;

typedef enum {
    RNN_MODE_PREDICT = 0, /* inference; stateful layers carry their state      */
    RNN_MODE_TRAIN,       /* keeps what backward needs (it always does today)   */
    RNN_MODE_STREAM       /* every recurrent layer carries state (predict_step) */
} rnn_run_mode;

typedef struct rnn_layer_ops rnn_layer_ops;

struct rnn_layer {
    const rnn_layer_ops *ops;
    char name[RNN_NAME_MAX];
    rnn_shape input;
    int n_outputs;
    rnn_shape output[RNN_LAYER_MAX_OUTPUTS];
    int n_weights;
    rnn_weight weights[RNN_LAYER_MAX_WEIGHTS];
    int weights_ready; /* 1 once weights point into the model arrays and are initialised */

    /* Results of the last forward: y[k] has shape output[k] with the batch (and steps) of the
     * call; dx (same shape as the input) is written by backward when asked for. */
    rnn_tensor y[RNN_LAYER_MAX_OUTPUTS];
    float *dx;
    int64_t planned_batch, planned_steps;
    rnn_workspace ws;

    void *impl; /* layer-specific options and buffers */
};

struct rnn_layer_ops {
    const char *class_name; /* Keras's class name: "LSTM" */
    const char *base_name;  /* Keras's automatic layer name stem: "lstm" */
    /* Checks options against the input shape; sets outputs and weight shapes. On failure returns
     * a status with the message set. */
    rnn_status (*configure)(rnn_layer *layer, const rnn_shape *input);
    void (*init_weights)(rnn_layer *layer, rnn_rng *rng);
    /* Sizes the work buffers for a call with this batch and step count (steps 0 for rank 2). */
    rnn_status (*plan)(rnn_layer *layer, int64_t batch, int64_t steps);
    /* x has the planned shape. Writes layer->y. */
    void (*forward)(rnn_layer *layer, const rnn_tensor *x, rnn_run_mode mode);
    /* dy[k] is the gradient of the loss with respect to y[k] (NULL: zero). Adds the weight
     * gradients into the weights' grad arrays, and writes layer->dx when want_dx. */
    void (*backward)(rnn_layer *layer, const rnn_tensor *x, float *const *dy, int want_dx);
    /* Zeros carried state (NULL for stateless layers). */
    void (*reset_states)(rnn_layer *layer);
    /* 1 if the layer's batch size is fixed by stateful state. */
    int (*is_stateful)(const rnn_layer *layer);
    void (*free_impl)(void *impl);
};

/* Shared helpers. */
void rnn__weight_set(rnn_weight *w, const char *name, int rank, int64_t d0, int64_t d1);
/* "(None, 10, 32)" for a shape. */
void rnn__shape_format(const rnn_shape *s, char *buf, size_t size);
int64_t rnn__layer_param_count(const rnn_layer *layer);

#endif
