/* What SimpleRNN, LSTM and GRU share: options, weight shapes, state carrying, the time-major
 * work layout, the input projection of all steps as one product, and the output and input
 * gradient plumbing. Each cell file (simple_rnn.c, lstm.c, gru.c) adds only its step loops.
 *
 * Layout. Internally everything is time-major so that one step's rows are contiguous and the
 * weight gradients of all steps are single large products:
 *   xt  (T, B, F)    the input, reversed in time when go_backwards
 *   xw  (T, B, G*H)  x W + b for all steps; the step loop turns it into gate activations in
 *                    place, and backward turns those into the pre-activation gradients dZ
 *   hs  (T+1, B, H)  hs[0] the initial state, hs[t+1] the output of processed step t
 *   cs  (T+1, B, H)  LSTM cell states, same indexing
 *   aux (T, B, H)    GRU: the recurrent candidate projection (reset_after) or r*h (not)
 * Outputs are in processing order, as Keras returns them (go_backwards does not flip them). */
#ifndef RNN_RECURRENT_H
#define RNN_RECURRENT_H

#include "kernels/gemm.h"
#include "layers/layer.h"

typedef enum { RNN_CELL_SIMPLE = 0, RNN_CELL_LSTM, RNN_CELL_GRU } rnn_cell_kind;

typedef struct rnn_recurrent rnn_recurrent;

/* A weight matrix copied into panels (kernels/gemm_packed.h), refilled when the weight changes
 * (its rnn_weight.version) or moves (a new weight block). */
typedef struct {
    float *data;
    unsigned long version;
    const float *src;
    size_t floats;
} rnn_panel_copy;

typedef struct {
    rnn_cell_kind kind;
    int gates;    /* blocks of H along the kernel's last axis: 1, 4 or 3 */
    int n_states; /* 2 for LSTM (h, c), else 1 */
    /* Runs the T steps over r->xw/hs/cs/aux (hs[0], cs[0] already set). */
    void (*forward_steps)(rnn_recurrent *r, int B, int T);
    /* Backpropagation through time. On entry r->dh holds dLoss/dh_T (beyond the per-step output
     * gradients in dhseq, which may be NULL) and r->dc dLoss/dc_T. Leaves dZ in r->xw and adds
     * the recurrent kernel's (and recurrent bias's) gradients. */
    void (*backward_steps)(rnn_recurrent *r, int B, int T, const float *dhseq);
} rnn_cell_ops;

struct rnn_recurrent {
    rnn_recurrent_options opt;
    const rnn_cell_ops *cell;
    rnn_layer *layer;
    int64_t F, H;
    /* Weights (views into layer->weights, set once weights are ready). */
    float *W, *U, *b, *dW, *dU, *db;
    /* Carried state for stateful layers and streaming: state[k] (state_batch, H). */
    float *state[2];
    int64_t state_batch;
    /* Planned buffers (see the layout above). */
    float *xt, *xw, *hs, *cs, *aux, *step, *dh, *dc, *dhseq, *dxt, *yseq;
    float *tc; /* LSTM: phi(c_t) (T, B, H), kept for backward */
    /* Masking: mask_t (T, B) 1/0 per processed step; mask is mask_t when the input has a mask,
     * else NULL. Masked rows keep their state; dh_keep carries their gradient past the step. */
    float *mask_t, *mask, *dh_keep;
    /* Dropout while training: in_keep (B, F) scales the input, rec_keep (B, H) the state entering
     * the recurrent kernel; hm (T+1, B, H) holds that masked state. Active only in training. */
    float *in_keep, *rec_keep, *hm;
    int in_drop, rec_drop;
    int has_initial_state;
    /* Keras's zero_output_for_mask: masked steps of the returned sequence are 0 instead of a
     * copy of the previous output. Not a user option (Keras files that set it on a plain layer
     * are refused); Bidirectional sets it on its two layers when returning sequences. */
    int zero_output_for_mask;
    int B, T;
    /* Set by rnn__recurrent_forward, for the team's step loops when the input has at most
     * RNN_LOOP_PROJECTION_FEATURES features or the call has at most 8 rows in all (streaming
     * steps): xw is left untouched and each thread computes its rows and columns of step t's
     * x W + b just before the step, where they are still in cache for the recurrent product
     * and the gates (for a few features the projection of all steps at once is bound by
     * writing xw, 13 MB for B2's inference batch, and by reading it back cold; a streaming
     * step's product of one row is shared by the threads instead of one doing it alone). Only
     * the AVX2 kernel is used, so every split gives the same bits. */
    int project_in_loop;
    /* With project_in_loop, LSTM: every step's input equals step 0's (a RepeatVector's
     * output, checked value by value), so its projection is computed once into r->step and
     * copied to each step. */
    int repeat_input;
    /* Streaming (rnn_predict_step) on the team: each thread's columns of W, U and the bias
     * copied next to each other once ("packed"), so that a step reads one contiguous panel per
     * thread, which stays in that core's L2, instead of G slices of rows 4 H floats apart.
     * Thread t's panel starts at pack + (F + H + 1) G lo_t: W (F x G nu), U (H x G nu), bias
     * (G nu), nu = hi_t - lo_t. Valid for pack_n threads, the weights at pack_src and weight
     * generation pack_gen; pack_pending: the threads fill their panels in the next run. */
    float *pack;
    int use_pack, pack_pending, pack_n;
    /* 1 while training: every step's cell state and tanh(c) are kept for backward. Otherwise
     * (prediction, streaming) LSTM keeps two cell-state slots and one tanh(c) slot, written
     * in turn, so that a long sequence's states stay in cache instead of streaming to memory:
     * rnn__lstm_c(r, t) is where c_t lies. */
    int keep_steps;
    unsigned long pack_gen;
    const float *pack_src;
    /* Steps on the team (rnn__recurrent_use_panels; use_panels: this forward call) read the
     * recurrent kernel from panels packed once per weight change (u_panels: U's G gate blocks,
     * for forward's h U; ut_panels: U^T, for backward's dZ U^T) instead of the BLAS packing U
     * on every call or the AVX2 tiles reading it in place.
     * (The input projection of all steps stays with the BLAS: measured no faster from panels.) */
    int use_panels;
    rnn_panel_copy u_panels, ut_panels;
    unsigned long copies_filled; /* fills of pack, u_panels and ut_panels (tests) */
};

#define RNN_LOOP_PROJECTION_FEATURES 128

/* The layer's weights, in Keras's order: kernel W (F, G H), recurrent_kernel U (H, G H), and
 * with use_bias the bias (G H; GRU reset_after: (2, G H), input row then recurrent row). */
typedef enum { RNN_W_KERNEL = 0, RNN_W_RECURRENT = 1, RNN_W_BIAS = 2 } rnn_recurrent_slot;
static inline rnn_weight *rnn__recurrent_weight(const rnn_recurrent *r, rnn_recurrent_slot s) {
    return &r->layer->weights[s];
}
/* How many times the packed copies of the weights were filled (tests). */
static inline unsigned long rnn__recurrent_copies_filled(const rnn_recurrent *r) {
    return r->copies_filled;
}

static inline float *rnn__lstm_c(const rnn_recurrent *r, int t) {
    return r->cs + (size_t)(r->keep_steps ? t : (t & 1)) * r->B * r->H;
}
static inline float *rnn__lstm_tc(const rnn_recurrent *r, int t) {
    return r->tc + (size_t)(r->keep_steps ? t : 0) * r->B * r->H;
}

/* One step's x W + b (the input bias row for GRU reset_after) for `rows` rows and the units
 * [lo, hi) of every gate block, into z (rows of G H): the bias, then the product with the AVX2
 * kernel (project_in_loop). x: the step's rows of the input (rows of F). */
void rnn__recurrent_project_step(const rnn_recurrent *r, float *z, const float *x, int rows,
                                 int lo, int hi);

/* Whether the team's per-thread slices of a step's product go to the BLAS (gemm.h's
 * rnn__gemm_slice): decided from the whole product, B x G H x H, never from a slice. */
static inline int rnn__recurrent_step_is_large(const rnn_recurrent *r, int B) {
    return (double)B * r->cell->gates * r->H * r->H >= RNN_SLICE_BLAS_MACS;
}

/* Whether the team's step loops for a batch of B rows read the recurrent kernel from panels, on
 * a CPU with AVX2/FMA: forward (h U) for large steps (rnn__recurrent_step_is_large; below that
 * the AVX2 tiles on U in place were as fast: B2, B6), backward (dZ U^T, from U^T's panels) for
 * every team step of at least 4 rows (measured 4 to 21 % faster than the dot-product tiles on
 * B2's, B6's and B3's shapes: tools/microbench/panels.c). Decided from shapes only, never from
 * the number of threads above one, so the team's bits do not depend on it. */
int rnn__recurrent_use_panels(const rnn_recurrent *r, int B, int backward);
/* The panels of B (K x groups*width, or B^T for trans_b where B is stored groups*width x K),
 * filled by the team when the weights changed since the last call; NULL when they cannot be
 * allocated (the caller then uses the unpacked weights). */
const float *rnn__recurrent_panels(rnn_recurrent *r, rnn_panel_copy *pc, const float *B,
                                   int ldb, int trans_b, int K, int groups, int width);

/* Decides whether this forward call streams from packed weights (sets use_pack, and
 * pack_pending when the panels must be refilled); RNN_ERR_MEMORY if they cannot be allocated. */
rnn_status rnn__recurrent_prepare_pack(rnn_recurrent *r, int stream);
/* Inside a team job: thread tid's panel (filling it first when pack_pending). */
float *rnn__recurrent_thread_pack(rnn_recurrent *r, int lo, int hi);

rnn_layer *rnn__recurrent_new(const rnn_layer_ops *ops, const rnn_cell_ops *cell,
                              const rnn_recurrent_options *options);
rnn_status rnn__recurrent_configure(rnn_layer *layer, const rnn_shape *inputs, int n_inputs);
rnn_status rnn__recurrent_plan(rnn_layer *layer, int64_t batch, int64_t steps);
rnn_status rnn__recurrent_forward(rnn_layer *layer, const rnn_tensor *const *inputs,
                                  const rnn_run_ctx *ctx);
void rnn__recurrent_backward(rnn_layer *layer, const rnn_tensor *const *x, float *const *dy,
                             const int *want_dx);
void rnn__recurrent_reset_states(rnn_layer *layer);
/* Allocates the carried state for batch B (zeroed) unless it already has that batch size. */
rnn_status rnn__recurrent_ensure_state(rnn_layer *layer, int64_t B);
int64_t rnn__recurrent_stateful_batch(const rnn_layer *layer);
void rnn__recurrent_free(void *impl);
/* glorot_uniform kernel, orthogonal recurrent kernel, zero bias (LSTM adds unit_forget_bias). */
void rnn__recurrent_init_weights(rnn_layer *layer, rnn_rng *rng);

/* The state as the recurrent kernel sees it at step t: hs[t], or hs[t] * rec_keep under
 * recurrent dropout. */
static inline float *rnn__rec_in(const rnn_recurrent *r, int t) {
    return (r->rec_drop ? r->hm : r->hs) + (size_t)t * r->B * r->H;
}
/* Fills hm[t] = hs[t] * rec_keep when recurrent dropout is active (called after each step). */
void rnn__recurrent_mask_state(rnn_recurrent *r, int t);
/* After dh = dZ_t U^T (the gradient for the state the kernel saw) in the one-thread backward
 * loops: through recurrent dropout's mask, and for rows masked at step t (masked_rows set)
 * dh is the gradient saved in dh_keep, which passed the step unchanged. */
void rnn__recurrent_finish_state_grad(const rnn_recurrent *r, float *dh, int t, int masked_rows);
/* Under recurrent dropout: dh[i] += g[i] * rec_keep[i]; otherwise dh[i] += g[i]. */
void rnn__recurrent_add_state_grad(const rnn_recurrent *r, float *dh, const float *g);

/* Whether the step loops of a batch of B rows run on the thread team (kernels/team.h): the
 * cell has a team path (LSTM; GRU with reset_after) for the default sigmoid/tanh, no recurrent
 * dropout, the team has several threads, and a step is large enough to share. Depends only on
 * the configuration and shapes, never on timing; the team path gives the same bits for any
 * number of threads. */
int rnn__recurrent_use_team(const rnn_recurrent *r, int B);

/* 1 for SimpleRNN, LSTM and GRU layers. */
int rnn__layer_is_recurrent(const rnn_layer *layer);

/* The layer ops every recurrent layer shares; only the names differ. */
#define RNN_RECURRENT_LAYER_OPS(cls, base)                                                    \
    {                                                                                         \
        .class_name = (cls), .base_name = (base), .configure = rnn__recurrent_configure,      \
        .init_weights = rnn__recurrent_init_weights, .plan = rnn__recurrent_plan,             \
        .forward = rnn__recurrent_forward, .backward = rnn__recurrent_backward,               \
        .reset_states = rnn__recurrent_reset_states,                                          \
        .stateful_batch = rnn__recurrent_stateful_batch, .free_impl = rnn__recurrent_free,    \
    }
/* Keras's defaults for every recurrent layer: tanh, sigmoid, bias, unit_forget_bias (LSTM),
 * reset_after (GRU). */
rnn_recurrent_options rnn__recurrent_defaults(int units);

/* Internal access for tests and the model: the layer's options and carried state. */
rnn_recurrent *rnn__recurrent_of(rnn_layer *layer);

#endif
