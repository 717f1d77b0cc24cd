/* Optimizer updates with Keras 3's formulas, over one weight at a time, plus the learning-rate
 * schedules and gradient clipping applied before them. */
#ifndef RNN_OPTIM_H
#define RNN_OPTIM_H

#include <stdint.h>

#include "rnn.h"

/* Slots per weight value (Adam, AdamW: m, v, v_hat; RMSprop: s, mean g, momentum; SGD: velocity;
 * Adagrad: accumulator; Adadelta: accumulated grad, accumulated delta; Adamax: m, u;
 * Nadam: m, v). */
#define RNN_OPTIMIZER_SLOTS 3

/* The learning rate of the update after `iterations` applied steps. */
float rnn__optimizer_lr(const rnn_optimizer *opt, int64_t iterations);
/* One update of n parameters. step is the 1-based step count t (Keras: iterations + 1). */
void rnn__optimizer_apply(const rnn_optimizer *opt, float lr, float *params, const float *grads,
                          float *slot0, float *slot1, float *slot2, int64_t n, int64_t step);
/* One update's scalars. u_product: Nadam's product u_1 ... u_t including this step's u_t
 * (rnn__nadam_u_product); ignored by the other kinds. */
typedef struct {
    float lr;
    int64_t step; /* 1-based (Keras: iterations + 1) */
    float u_product;
} rnn_opt_step;

/* One update of n parameters, every kind (optim_update.c). g2 and gabs, when non-NULL, replace
 * g^2 and |g| element by element: an Embedding's per-occurrence slices give the sum of their
 * squares and of their absolute values there, as Keras on TensorFlow computes them (the
 * element-wise square and abs act on each slice before repeated ids are summed). */
void rnn__optimizer_apply_ex(const rnn_optimizer *opt, const rnn_opt_step *s, float *params,
                             const float *grads, const float *g2, const float *gabs,
                             float *slot0, float *slot1, float *slot2, int64_t n);
/* Nadam's u_product after step `to` (1-based), from its value `from_value` after step `from`:
 * u_product *= beta_1 (1 - 0.5 * 0.96^t) per step, in float as Keras does. */
float rnn__nadam_u_product(const rnn_optimizer *opt, float from_value, int64_t from, int64_t to);
/* Keras's class name of an optimizer kind ("Adam", "AdamW", ...). */
const char *rnn__optimizer_class(rnn_optimizer_kind kind);
/* The starting value of the slots (Adagrad's initial_accumulator_value in slot 0, else 0). */
float rnn__optimizer_slot_init(const rnn_optimizer *opt, int slot);

/* optim_step.c, on a compiled model. The slots are allocated when first needed (Keras 3 creates
 * its optimizer's variables at the first training step): a NULL m->opt_slot[k] holds
 * rnn__optimizer_slot_init's value over every weight. */
/* Which of the slot arrays the optimizer's kind and settings update: bit k for slot k. */
unsigned rnn__optimizer_slots_used(const rnn_optimizer *opt);
/* Slot k over the m->n_params weights, allocated at its starting value if it was NULL; NULL when
 * out of memory. */
float *rnn__optimizer_slot(rnn_model *m, int k);
/* Allocates every slot the optimizer uses (rnn__optimizer_slots_used); RNN_ERR_MEMORY (message
 * set) when out of memory. */
rnn_status rnn__optimizer_slots_ready(rnn_model *m);
/* dst's slots become src's (the same n_params): a slot src does not hold is at its starting
 * value in dst too. RNN_ERR_MEMORY (message set) when out of memory. */
rnn_status rnn__optimizer_copy_slots(rnn_model *dst, const rnn_model *src);
/* Sets the slots to their starting values (frees them) and Nadam's u_product to 1. */
void rnn__optimizer_reset_slots(rnn_model *m);
/* Nadam's u_product after m->iterations steps. */
float rnn__model_nadam_u_product(rnn_model *m);
/* One optimizer step over every trainable weight from the gradients of the last backward: the
 * Embedding slices, clipping, weight decay and the update; m->iterations is left to the caller.
 * m->clip_grads/clip_sizes hold the n_trainable gradients of the weights not frozen (Keras's
 * optimizer sees model.trainable_weights only); frozen weights are neither clipped nor changed.
 * A large weight's update is shared by the current team (kernels/team.h), with the same bits. */
rnn_status rnn__optimizer_update(rnn_model *m, int n_trainable);

/* Clips the gradients of n_weights arrays in place (clipnorm, clipvalue or global_clipnorm). */
void rnn__optimizer_clip(const rnn_optimizer *opt, float *const *grads, const int64_t *sizes,
                         int n_weights);
/* Checks an optimizer's settings; RNN_OK or an error naming the bad value. */
rnn_status rnn__optimizer_check(const rnn_optimizer *opt);

#endif
