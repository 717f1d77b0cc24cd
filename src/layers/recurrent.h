/* What SimpleRNN, LSTM and GRU share: options, weight shapes, state carrying, the time-major
 * work layout, the input projection of all steps as one product, and the output and input
 * gradient plumbing. Each cell file (simple_rnn.c, lstm.c, gru.c) adds only its step loops.
 *
 * Layout. Internally everything is time-major so that one step's rows are contiguous and the
 * weight gradients of all steps are single large products:
 *   xt  (T, B, F)    the input, reversed in time when go_backwards (not made when the steps
 *                    read the input in place: rnn_step_plan.x_in_place)
 *   xw  (T, B, G*H)  x W + b for all steps; the step loop turns it into gate activations in
 *                    place, and backward turns those into the pre-activation gradients dZ
 *   hs  (T+1, B, H)  hs[0] the initial state, hs[t+1] the output of processed step t
 *   cs  (T+1, B, H)  LSTM cell states, same indexing
 *   aux (T, B, H)    GRU: the recurrent candidate projection (reset_after) or r*h (not)
 * Outputs are in processing order, as Keras returns them (go_backwards does not flip them). */
#ifndef RNN_RECURRENT_H
#define RNN_RECURRENT_H

#include "kernels/gemm.h"
#include "kernels/qgemm.h"
#include "kernels/team.h"
#include "layers/layer.h"

typedef enum { RNN_CELL_SIMPLE = 0, RNN_CELL_LSTM, RNN_CELL_GRU } rnn_cell_kind;

typedef struct rnn_recurrent rnn_recurrent;

/* The per-step output gradients the step loops add to dh (return_sequences): step t's row b at
 * data + t step + b row. Time-major (r->dhseq): step B H, row H; the layer's output gradient
 * (B, T, H) read in place: step H, row T H. data NULL: none. */
typedef struct {
    const float *data;
    size_t step, row;
} rnn_seq_grad;

typedef struct {
    rnn_cell_kind kind;
    int gates;    /* blocks of H along the kernel's last axis: 1, 4 or 3 */
    int n_states; /* 2 for LSTM (h, c), else 1 */
    /* Runs the T steps over r->xw/hs/cs/aux (hs[0], cs[0] already set). */
    void (*forward_steps)(rnn_recurrent *r, int B, int T);
    /* Backpropagation through time. On entry r->dh holds dLoss/dh_T (beyond the per-step output
     * gradients in dhseq, whose data may be NULL) and r->dc dLoss/dc_T. Leaves dZ in r->xw and adds
     * the recurrent kernel's (and recurrent bias's) gradients. */
    void (*backward_steps)(rnn_recurrent *r, int B, int T, const rnn_seq_grad *dhseq);
    /* A streaming step (plan.stream_pack) of thread tid's units among n, from the input rows x
     * (B rows of F), inside a team job (rnn__recurrent_stream_run); NULL: no such path.
     * signal 0: x is ready; k > 0: x is the previous layer's new state, whose units
     * (rnn__team_units(F, j, n)) are ready once thread j has signalled k times in this job
     * (rnn__team_wait_signal). */
    void (*stream_step)(rnn_recurrent *r, int B, int tid, int n, const float *x, int signal);
} rnn_cell_ops;

/* The layer's weights, in Keras's order: kernel W (F, G H), recurrent_kernel U (H, G H), and
 * with use_bias the bias (G H; GRU reset_after: (2, G H), input row then recurrent row). */
typedef enum { RNN_W_KERNEL = 0, RNN_W_RECURRENT = 1, RNN_W_BIAS = 2 } rnn_recurrent_slot;

/* How one forward call (and the backward pass after it) runs its steps, decided once at the
 * start of rnn__recurrent_forward from the mode, the shapes, the options and the team's size,
 * never from timing; every function of the step loops reads it from here. */
typedef struct {
    /* Training with dropout: in_keep (B, F) scales the input, rec_keep (B, H) the state
     * entering the recurrent kernel (hm holds that masked state). */
    int in_drop, rec_drop;
    /* Training: every step's LSTM cell state and tanh(c) are kept for backward. Otherwise
     * (prediction, streaming) LSTM keeps two cell-state slots and one tanh(c) slot, written
     * in turn, so that a long sequence's states stay in cache instead of streaming to memory:
     * rnn__lstm_c(r, t) is where c_t lies. */
    int keep_steps;
    /* The step loops run on the thread team (rnn__recurrent_use_team), forward and backward
     * (backward: no mask either). */
    int team, back_team;
    /* The step's whole product is large (rnn__recurrent_step_is_large): the team's slices may
     * go to the BLAS (RNN_GEMM_SLICE). */
    int large;
    /* On the team, when the input has at most RNN_LOOP_PROJECTION_FEATURES features or the
     * call has at most 8 rows in all (streaming steps): xw is not filled in advance; each
     * thread computes its rows and columns of step t's x W + b just before the step, where
     * they are still in cache for the recurrent product and the gates (for a few features the
     * projection of all steps at once is bound by writing xw and reading it back cold; a
     * streaming step's product of one row is shared by the threads instead of one doing it
     * alone). Only the AVX2 tiles are used, so every split gives the same bits. */
    int project_in_loop;
    /* With project_in_loop, LSTM with more than RNN_LOOP_PROJECTION_FEATURES features on the
     * AVX-512 panel tiles (rnn__recurrent_project_panels): each step's x W + b is computed from
     * W's panels (rnn_weight_copies.w_panels) just before the step's h U is added to it, so the
     * projection of all steps never streams to memory and back (issue 18). The panel tiles give
     * an element the same bits whatever rows and columns a thread computes, so the team's bits
     * still do not depend on its size (one thread keeps the BLAS projection of all steps). */
    int project_panels;
    /* With project_in_loop, LSTM: every step's input equals step 0's (a RepeatVector's output,
     * checked value by value), so its projection is computed once into r->step, which each
     * step's h U is added to (or copied to each step without U's panels). When the call's
     * input itself repeats, xt holds only step 0 (forward_begin). */
    int repeat_input;
    /* With project_panels when predicting (no go_backwards, no input dropout, not
     * repeat_input): the steps read their input rows from the call's input x (B, T, F) in
     * place (rnn__recurrent_x_row), row b of step t at x + (b T + t) F, and xt is not made:
     * copying a large input into the time-major layout was a pass over it written and read
     * back from memory (issue 18). The same rows, so the same bits. */
    int x_in_place;
    /* With project_panels when predicting a plain sequence (return_sequences; no mask, no
     * return_state, no carried state, no trace): the steps write h_t straight into the sequence
     * (B, T, H) at hseq (yseq, or rnn_predict's result array: rnn__recurrent_h_row), where the
     * next step's product also reads it, instead
     * of into hs, which was then copied into yseq after the steps (issue 18). The same values
     * in the same places, so the same bits. */
    int h_in_yseq;
    /* Otherwise, an LSTM's sequence on the team (training, a mask, return_state, ...): each
     * thread copies its part of h_t into yseq (B, T, H) right after its step, while it is in
     * cache, instead of one thread copying all of hs after the steps while the other waits
     * (B6's decoder: 768 KB). The same values, so the same bits. */
    int yseq_in_loop;
    /* A streaming step (rnn_predict_step) of an LSTM on the team, from the per-thread packed
     * weights (rnn_weight_copies.stream). */
    int stream_pack;
    /* With stream_pack in a chain (rnn__recurrent_stream_run: no mask, no initial state; not
     * while a trace or a test keeps the copies): the step reads h_{t-1} and c_{t-1} from the
     * carried state itself and writes h_t and c_t into state_next, and the two trade places
     * after the step; the outputs are views of the new state. Copying the state into hs[0]
     * before the step and back out of hs[1] after it were four passes on the calling thread
     * over lines the other cores had just written or were about to read (B5: about 0.5 us of
     * a 6 us step). The same values, so the same bits. */
    int state_in_place;
    /* With stream_pack: the weights' precision (rnn_set_precision); not RNN_F32: the step
     * reads the reduced-precision pack (rnn_weight_copies.qstream) instead, and the plan
     * takes the team's path even with one thread. */
    rnn_precision precision;
    /* The team's steps read U (forward) or U^T (backward) from panels (rnn_weight_copies). */
    int panels, back_panels;
    /* rnn_predict with rnn_set_precision: every product with W and U reads its reduced copy
     * (rnn_recurrent.qw, kernels/qgemm.h) through rnn__qgemm; RNN_F32: the weights. */
    rnn_precision qseq;
    /* qseq on one thread, LSTM, on the AMX path: xw is not filled in advance; each step's
     * x W + b comes with its recurrent product in one pass (rnn__qgemm2: the same bits as the
     * products apart), into a slot that stays in cache. */
    int qstep;
} rnn_step_plan;

/* A weight-derived copy (kernels/gemm_packed.h panels, or the streaming pack) and what it was
 * made from: the weight block, the sum of the source weights' versions (each only grows, so
 * the sum moves when any of them does) and, for the streaming pack, the team size it is cut
 * for. recurrent_copies.c's one rule: a copy is used only while all of these still hold. */
typedef struct {
    float *data;
    size_t floats;
    const float *block;
    unsigned long version;
    int threads;
    rnn_precision precision; /* qstream: what it holds */
    int groups;              /* u_panels: U's gate blocks, or 1 (joined: one block of G H) */
} rnn_weight_copy;

/* Every copy the step loops read instead of the weights themselves, owned here and only
 * through recurrent_copies.c:
 *   u_panels   U's G gate blocks as panels, or U as one block (joined), for forward's h U
 *              on the team (large steps)
 *   ut_panels  U^T as panels, for backward's dZ U^T on the team
 *   w_panels   W's G gate blocks as panels, for the steps' x W + b (plan.project_panels)
 *   stream     streaming on the team: each thread's columns of W, U and the bias side by
 *              side, so that a step reads one contiguous part per thread, which stays in that
 *              core's L2, instead of G slices of rows 4 H floats apart. Thread t's part starts
 *              at (F + H + 1) G lo_t: W (F x G nu), U (H x G nu), bias (G nu), nu = hi_t - lo_t.
 *              Each thread fills its own part during the run (stream_pending).
 *   qstream    the same parts with W and U in bf16 or int8 (plan.precision): thread t's part,
 *              qstream_unit_bytes(r) lo_t bytes in, is the bias, W's and U's int8 scales
 *              (3 G nu floats), then bf16: W (F x G nu) and U (H x G nu) in 2 bytes each;
 *              int8: W's and U's corrections (int32, G nu per run of k), then W and U packed
 *              for rnn__qmv_int8 (kernels/qmatvec.h) (qstream_pending). */
typedef struct {
    rnn_weight_copy u_panels, ut_panels, w_panels, stream, qstream;
    int stream_pending, qstream_pending;
    unsigned long fills; /* copies made (tests) */
} rnn_weight_copies;

struct rnn_recurrent {
    rnn_recurrent_options opt;
    const rnn_cell_ops *cell;
    rnn_layer *layer;
    int64_t F, H;
    /* Carried state for stateful layers and streaming: state[k] (state_batch, H). */
    float *state[2];
    int64_t state_batch;
    /* plan.state_in_place: where a streaming step writes the new state (same size as state;
     * made on first use, freed with state). */
    float *state_next[2];
    /* Planned buffers (see the layout above). */
    float *xt, *xw, *hs, *cs, *aux, *step, *dh, *dc, *dhseq, *dxt, *yseq;
    float *tc; /* LSTM: phi(c_t) (T, B, H), kept for backward */
    /* plan.x_in_place: the call's input (B, T, F), read in place by the steps. */
    const float *x_in;
    /* plan.h_in_yseq: where the steps write the sequence (B, T, H): the caller's result array
     * when the call gave one of that size (rnn_run_ctx.out), else yseq. */
    float *hseq;
    /* Tests: keep the layout copies (plan.x_in_place, h_in_yseq and yseq_in_loop stay 0),
     * so that the two ways can be compared bit for bit. */
    int keep_copies;
    /* Masking: mask_t (T, B) 1/0 per processed step; mask is mask_t when the input has a mask,
     * else NULL. Masked rows keep their state; dh_keep carries their gradient past the step. */
    float *mask_t, *mask, *dh_keep;
    /* Dropout keep-masks and the masked state (rnn_step_plan's in_drop, rec_drop). */
    float *in_keep, *rec_keep, *hm;
    /* rnn_set_precision's precision, set by rnn_predict_step before each step (read by the
     * plan in streaming mode only). */
    rnn_precision stream_precision;
    int has_initial_state;
    /* Keras's zero_output_for_mask: masked steps of the returned sequence are 0 instead of a
     * copy of the previous output. Not a user option (Keras files that set it on a plain layer
     * are refused); Bidirectional sets it on its two layers when returning sequences. */
    int zero_output_for_mask;
    /* rnn_explain's trace: every step's gate activations stay in xw and every LSTM cell state
     * in cs after a forward call, as in training (plan.keep_steps); the same operations, so the
     * same bits. Not a user option. */
    int keep_gates;
    /* Counts rnn__recurrent_plan and every forward call's begin: rnn_predict_step's fast path
     * runs a recorded chain again only while its layers' counts are those it recorded. */
    unsigned long stamp;
    int B, T;
    rnn_step_plan plan;
    rnn_weight_copies copies;
    /* plan.qseq: W's and U's reduced-precision copies (indexed by rnn_recurrent_slot). */
    rnn_qweights qw[2];
    /* The LSTM team's backward by rows sums the weight gradients of each thread's rows in its
     * job (lstm.c), one part per block of rows (rnn__recurrent_grad_block), each
     * rnn__recurrent_grad_part_floats(r) floats (h^T dZ, then x^T dZ, then the column sums of
     * dZ over the block's rows); grad_parts: the blocks of the planned batch (0: none).
     * input_grads_done: the last backward's job added x^T dZ and the bias's gradient too. */
    float *grad_part;
    int grad_parts, input_grads_done;
    /* bias_part: where grad_part is not planned (a part over GRAD_PART_MAX_FLOATS: B4), the
     * team's backward still sums the bias's gradient in its job, one row of 4H column sums of
     * dZ per block of rows (rnn__recurrent_grad_block), while each step's dZ is in the core's
     * cache; bias_parts: the blocks of the planned batch (0: none); bias_grad_done: the last
     * backward's job added them to the bias's gradient. */
    float *bias_part;
    int bias_parts, bias_grad_done;
};

#define RNN_LOOP_PROJECTION_FEATURES 128

static inline rnn_weight *rnn__recurrent_weight(const rnn_recurrent *r, rnn_recurrent_slot s) {
    return &r->layer->weights[s];
}
/* A weight's values; NULL for the bias of a layer without one. */
static inline float *rnn__recurrent_value(const rnn_recurrent *r, rnn_recurrent_slot s) {
    return s == RNN_W_BIAS && !r->opt.use_bias ? NULL : r->layer->weights[s].value;
}
static inline float *rnn__recurrent_grad(const rnn_recurrent *r, rnn_recurrent_slot s) {
    return s == RNN_W_BIAS && !r->opt.use_bias ? NULL : r->layer->weights[s].grad;
}

/* A streaming step's previous state and the new one: the carried state and state_next with
 * plan.state_in_place, else slots 0 and 1 of hs and of LSTM's c. */
static inline const float *rnn__stream_h_prev(const rnn_recurrent *r) {
    return r->plan.state_in_place ? r->state[0] : r->hs;
}
static inline float *rnn__stream_h_new(const rnn_recurrent *r) {
    return r->plan.state_in_place ? r->state_next[0] : r->hs + (size_t)r->B * r->H;
}

static inline float *rnn__lstm_c(const rnn_recurrent *r, int t) {
    return r->cs + (size_t)(r->plan.keep_steps ? t : (t & 1)) * r->B * r->H;
}
static inline float *rnn__lstm_tc(const rnn_recurrent *r, int t) {
    return r->tc + (size_t)(r->plan.keep_steps ? t : 0) * r->B * r->H;
}

/* Row b of step t of the input as the steps read it (processing order): from xt, or from the
 * call's input in place (plan.x_in_place); consecutive rows of a step lie
 * rnn__recurrent_x_ld(r) floats apart. */
static inline const float *rnn__recurrent_x_row(const rnn_recurrent *r, int t, int b) {
    return r->plan.x_in_place ? r->x_in + ((size_t)b * r->T + t) * r->F
                              : r->xt + ((size_t)t * r->B + b) * r->F;
}
static inline int rnn__recurrent_x_ld(const rnn_recurrent *r) {
    return (int)(r->plan.x_in_place ? r->T * r->F : r->F);
}

/* Row b of h_t (t = 0: the initial state, in hs[0]) as the steps write and read it: in hs, or
 * in hseq (plan.h_in_yseq, t > 0); consecutive rows lie rnn__recurrent_h_ld(r, t) floats
 * apart. */
static inline float *rnn__recurrent_h_row(const rnn_recurrent *r, int t, int b) {
    return r->plan.h_in_yseq && t > 0 ? r->hseq + ((size_t)b * r->T + t - 1) * r->H
                                      : r->hs + ((size_t)t * r->B + b) * r->H;
}
static inline int rnn__recurrent_h_ld(const rnn_recurrent *r, int t) {
    return (int)(r->plan.h_in_yseq && t > 0 ? r->T * r->H : r->H);
}

/* One step's x W + b (the input bias row for GRU reset_after) for `rows` rows and the units
 * [lo, hi) of every gate block, into z (rows of G H): the bias, then the product with the AVX2
 * kernel (project_in_loop). x: the step's rows of the input (F floats each, ldx apart). */
void rnn__recurrent_project_step(const rnn_recurrent *r, float *z, const float *x, int ldx,
                                 int rows, int lo, int hi);
/* The same product from W's panels (plan.project_panels): z = b + x W for the rows and units
 * [lo, hi) (lo a multiple of 8) of every gate block, by the AVX-512 or AVX2 panel tiles; x's
 * rows lie ldx floats apart. */
void rnn__recurrent_project_panels(const rnn_recurrent *r, const float *w_panels, float *z,
                                   const float *x, int ldx, int rows, int lo, int hi);

/* Whether the team's per-thread slices of a step's product may go to the BLAS
 * (RNN_GEMM_SLICE): decided from the whole product, B x G H x H, never from a slice. */
static inline int rnn__recurrent_step_is_large(const rnn_recurrent *r, int B) {
    return (double)B * r->cell->gates * r->H * r->H >= RNN_SLICE_BLAS_MACS;
}

/* Whether the team's step loops for a batch of B rows read the recurrent kernel from panels, on
 * a CPU with AVX2/FMA: forward (h U) for large steps (rnn__recurrent_step_is_large; below that
 * the AVX2 tiles on U in place were as fast) and, where the panels run AVX-512, for every step
 * of at least 4 rows with H <= RNN_PANEL_KC (there the panels give the in-place tiles' bits);
 * backward (dZ U^T, from U^T's panels) for every team step of at least 4 rows (bench/README.md,
 * "Packed recurrent kernels" and "AVX-512 panel tiles"). Decided from shapes and the CPU only,
 * never from the number of threads above one, so the team's bits do not depend on it. */
int rnn__recurrent_use_panels(const rnn_recurrent *r, int B, int backward);

/* The copies (recurrent_copies.c). Each is refilled, by the team, when the weights it was made
 * from changed (their rnn_weight.version) or moved (a new weight block) since it was made.
 * u/ut_panels: NULL when they cannot be allocated (the caller then reads U in place). */
/* joined: U as one block of G H columns instead of G blocks of H, for products over all of a
 * row's columns at once (the G blocks pad each block's columns to panels of 16: LSTM(100)'s
 * 4 x 112 lanes instead of 400). */
const float *rnn__copies_u_panels(rnn_recurrent *r, int joined);
const float *rnn__copies_ut_panels(rnn_recurrent *r);
/* W (F x G H) as panels (plan.project_panels); NULL when it cannot be allocated (the steps then
 * project with the in-place tiles: the same bits for F <= RNN_PANEL_KC). */
const float *rnn__copies_w_panels(rnn_recurrent *r);
/* Before a streaming run with plan.stream_pack: the pack exists, cut for
 * rnn__copies_stream_threads, and is marked for filling when stale; RNN_ERR_MEMORY if it
 * cannot be allocated. */
rnn_status rnn__copies_prepare_stream(rnn_recurrent *r);
/* The threads a streaming step's pack is cut for: the team's size, or 1 for a
 * reduced-precision pack whose weights are at most RNN_STREAM_ALONE_BYTES (a step that small
 * loses more to the hand-offs between the cores than it gains from sharing the products:
 * bench/README.md). The bits are the same either way. */
#define RNN_STREAM_ALONE_BYTES (128 * 1024)
int rnn__copies_stream_threads(const rnn_recurrent *r);
/* Inside that run: whether the run's n threads can read the pack (it is cut for its threads,
 * or it is a reduced-precision pack cut for one, which thread 0 reads alone while the others
 * skip the layer). */
int rnn__copies_stream_usable(const rnn_recurrent *r, int n);
/* The threads the pack the plan reads was cut for (after rnn__copies_prepare_stream). */
int rnn__copies_stream_cut(const rnn_recurrent *r);
/* Thread tid's part of the pack for the units [lo, hi), filled first when pending. */
const float *rnn__copies_stream_part(rnn_recurrent *r, int lo, int hi);
/* After the run, with the number of threads it ran on: the parts are complete when every
 * thread they were cut for filled its own. */
void rnn__copies_stream_done(rnn_recurrent *r, int threads_ran);
/* plan.precision not RNN_F32: thread's part of qstream for the units [lo, hi) (filled first
 * while qstream_pending), laid out as rnn_weight_copies describes. */
const unsigned char *rnn__copies_qstream_part(rnn_recurrent *r, int lo, int hi);
void rnn__copies_free(rnn_weight_copies *c);
/* How many times copies were filled (tests). */
static inline unsigned long rnn__recurrent_copies_filled(const rnn_recurrent *r) {
    return r->copies.fills;
}

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
/* rnn_set_precision's choice, for the streaming steps to come (rnn_step_plan.precision). */
void rnn__recurrent_stream_precision(rnn_layer *layer, rnn_precision precision);
/* Counts, over all models, the carried states made anew (rnn__recurrent_ensure_state) and the
 * streaming precisions changed (rnn__recurrent_stream_precision): rnn_predict_step's fast path
 * skips both walks, so it runs a recorded chain only while this count is the one its full step
 * left. A model that holds another as a layer (rnn_model_as_layer) walks the other's layers
 * too: its step records the other's chain anew when it runs it (the stamps say nothing), or
 * leaves it unbegun when it fails after its walks. */
unsigned long rnn__recurrent_state_epoch(void);
int64_t rnn__recurrent_stateful_batch(const rnn_layer *layer);
void rnn__recurrent_free(void *impl);
/* glorot_uniform kernel, orthogonal recurrent kernel, zero bias (LSTM adds unit_forget_bias). */
void rnn__recurrent_init_weights(rnn_layer *layer, rnn_rng *rng);

/* The state as the recurrent kernel sees it at step t: hs[t], or hs[t] * rec_keep under
 * recurrent dropout. */
static inline float *rnn__rec_in(const rnn_recurrent *r, int t) {
    return (r->plan.rec_drop ? r->hm : r->hs) + (size_t)t * r->B * r->H;
}
/* The rows of a block of grad_part for a batch of B rows: a multiple of RNN_TEAM_MIN_ROWS, at
 * most 8 blocks. From B alone, so that the sums do not depend on the team's size. */
static inline int rnn__recurrent_grad_block(int B) {
    const int most = 8 * RNN_TEAM_MIN_ROWS;
    return RNN_TEAM_MIN_ROWS * ((B + most - 1) / most);
}
/* The floats of one block's part of grad_part (a multiple of 16). */
static inline size_t rnn__recurrent_grad_part_floats(const rnn_recurrent *r) {
    const size_t GH = (size_t)r->cell->gates * (size_t)r->H;
    return ((size_t)(r->H + r->F + 1) * GH + 15) / 16 * 16;
}
/* Whether every step of xt equals step 0 (plan.repeat_input, or found in xt), T > 1: backward
 * then sums the steps' dZ before the input-side products. */
int rnn__recurrent_steps_repeat(const rnn_recurrent *r);

/* Fills hm[t] = hs[t] * rec_keep when recurrent dropout is active (called after each step). */
void rnn__recurrent_mask_state(rnn_recurrent *r, int t);
/* After dh = dZ_t U^T (the gradient for the state the kernel saw) in the one-thread backward
 * loops: through recurrent dropout's mask, and for rows masked at step t (masked_rows set)
 * dh is the gradient saved in dh_keep, which passed the step unchanged. */
void rnn__recurrent_finish_state_grad(const rnn_recurrent *r, float *dh, int t, int masked_rows);
/* dh (B, H) += step t's output gradients, rows [b0, b1) and units [lo, hi) (none when
 * g->data is NULL). */
void rnn__recurrent_add_seq_grad(const rnn_seq_grad *g, int t, float *dh, int H, int b0, int b1,
                                 int lo, int hi);
/* Under recurrent dropout: dh[i] += g[i] * rec_keep[i]; otherwise dh[i] += g[i]. */
void rnn__recurrent_add_state_grad(const rnn_recurrent *r, float *dh, const float *g);

/* Whether the step loops of a batch of B rows run on the thread team (kernels/team.h): the
 * cell has a team path (LSTM; GRU with reset_after) for the default sigmoid/tanh, no recurrent
 * dropout, the team has several threads, and a step is large enough to share. Depends only on
 * the configuration and shapes, never on timing; the team path gives the same bits for any
 * number of threads. */
int rnn__recurrent_use_team(const rnn_recurrent *r, int B);

/* Streaming (rnn_predict_step, the graph in RNN_MODE_STREAM): a chain of recurrent layers, each
 * fed by the previous one's output 0, runs its step as one team job - each thread its units of
 * every layer, always the same ones, so each thread's part of every pack stays in its core's
 * cache; the threads meet between two layers at a spin barrier - instead of one job per layer
 * with the caller's bookkeeping between them. Per layer: rnn__recurrent_stream_begin (after the
 * graph planned it; chained: every layer after the first, whose input the step reads from the
 * previous layer's state itself), then, while rnn__recurrent_stream_chainable, the next; then
 * rnn__recurrent_stream_run on the chainable ones, which also finishes each layer's call as
 * rnn__recurrent_forward would (state, outputs). A head that is not chainable is finished by
 * rnn__recurrent_stream_finish; a later layer begun but not chainable is run through
 * rnn__recurrent_forward as usual (its begin is done again with its real input). The same
 * operations per element as layer by layer. */
#define RNN_STREAM_CHAIN_MAX 16
rnn_status rnn__recurrent_stream_begin(rnn_layer *layer, const rnn_tensor *const *inputs,
                                       const rnn_run_ctx *ctx, int chained);
int rnn__recurrent_stream_chainable(const rnn_layer *layer);
/* rnn_predict_step's fast path (rnn__model_stream_again): a chainable layer's stamp (0: it may
 * not be run again without its begin: a trace or a test keeps its gates or copies), and the
 * part of the begin that a step of the same plan still needs: the head's input x (B x F) into
 * xt (x NULL for a chained layer) and the pack checked against the weights' versions. */
unsigned long rnn__recurrent_stream_stamp(const rnn_layer *layer);
rnn_status rnn__recurrent_stream_again(rnn_layer *layer, const float *x);
/* dense: NULL, or the Dense that takes the last layer's output 0 and that
 * rnn__dense_stream_splittable accepts (its product begins in the job: layers/dense.h). */
void rnn__recurrent_stream_run(rnn_layer *const *layers, int n, rnn_layer *dense,
                               const rnn_run_ctx *ctx);
/* A begun layer that is not chainable (or a chain's head alone): its steps and the end of its
 * call, as rnn__recurrent_forward. */
void rnn__recurrent_stream_finish(rnn_layer *layer, const rnn_run_ctx *ctx);

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
