/* One optimizer step over a model's weights: how the gradients reach the update rules.
 *
 * Keras 3 on TensorFlow hands an Embedding's gradient to the optimizer as a tf.IndexedSlices,
 * one slice per token occurrence, and its element-wise ops keep the slices apart until an op
 * meets a dense operand (keras/src/backend/tensorflow/sparse.py): ops.square and ops.abs act
 * per slice, so Adam's, Nadam's and RMSprop's v, Adagrad's and Adadelta's accumulators take
 * the sum of the squared slices and Adamax's u the sum of their absolute values, while the
 * linear terms see the summed gradient. Clipping acts on the slices too: clipvalue clips each
 * slice, clipnorm and global_clipnorm measure the norm of all slices (tf.clip_by_norm's
 * l2 over the values). With rnn_optimizer.dense_embedding_gradients the summed gradient is used
 * throughout, as Keras's JAX and PyTorch backends do. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kernels/team.h"
#include "memory.h"
#include "model.h"
#include "optim.h"

void rnn__weight_record_slices(rnn_weight *w, const float *ids, const float *values, int64_t count) {
    if (w->n_slice_sets < 0) return;
    if (w->n_slice_sets == RNN_WEIGHT_MAX_SLICE_SETS) {
        w->n_slice_sets = -1;
        return;
    }
    w->slices[w->n_slice_sets].ids = ids;
    w->slices[w->n_slice_sets].values = values;
    w->slices[w->n_slice_sets].count = count;
    w->n_slice_sets++;
}

/* The slot arrays are allocated when first needed, as Keras 3 creates its optimizer's variables
 * at the first training step (optimizer.build) and not at compile: a model that only predicts -
 * a streaming step, rnn bench B5 - never holds them, and each optimizer holds only the arrays
 * its settings update. A slot that is NULL holds rnn__optimizer_slot_init's value everywhere,
 * so allocating it at that value changes no result. */
unsigned rnn__optimizer_slots_used(const rnn_optimizer *o) {
    switch (o->kind) {
    case RNN_OPT_ADAM:
    case RNN_OPT_ADAMW: return 3u | (o->amsgrad ? 4u : 0u);   /* m, v (, v_hat) */
    case RNN_OPT_SGD: return o->momentum != 0.0f ? 1u : 0u;   /* velocity */
    case RNN_OPT_RMSPROP:                                     /* s (, mean g) (, momentum) */
        return 1u | (o->centered ? 2u : 0u) | (o->momentum > 0.0f ? 4u : 0u);
    case RNN_OPT_ADAGRAD: return 1u;                          /* accumulator */
    case RNN_OPT_ADADELTA:                                    /* accumulated grad, delta */
    case RNN_OPT_ADAMAX:                                      /* m, u */
    case RNN_OPT_NADAM: return 3u;                            /* m, v */
    }
    return 7u;
}

float *rnn__optimizer_slot(rnn_model *m, int k) {
    if (m->opt_slot[k]) return m->opt_slot[k];
    float *s = rnn__alloc(sizeof(float) * ((size_t)m->n_params + 1));
    if (!s) return NULL;
    const float v = rnn__optimizer_slot_init(&m->optimizer, k);
    for (int64_t i = 0; i <= m->n_params; i++) s[i] = v;
    return m->opt_slot[k] = s;
}

rnn_status rnn__optimizer_slots_ready(rnn_model *m) {
    const unsigned used = rnn__optimizer_slots_used(&m->optimizer);
    for (int k = 0; k < RNN_OPTIMIZER_SLOTS; k++)
        if ((used >> k & 1u) && !rnn__optimizer_slot(m, k))
            return rnn__fail(RNN_ERR_MEMORY, "out of memory (the optimizer's slots, %lld floats)",
                             (long long)m->n_params);
    return RNN_OK;
}

rnn_status rnn__optimizer_copy_slots(rnn_model *dst, const rnn_model *src) {
    for (int k = 0; k < RNN_OPTIMIZER_SLOTS; k++) {
        if (!src->opt_slot[k]) { /* at its starting value: so is dst's */
            rnn__free(dst->opt_slot[k]);
            dst->opt_slot[k] = NULL;
            continue;
        }
        float *d = rnn__optimizer_slot(dst, k);
        if (!d) return rnn__fail(RNN_ERR_MEMORY, "out of memory (the optimizer's slots)");
        memcpy(d, src->opt_slot[k], sizeof(float) * (size_t)dst->n_params);
    }
    return RNN_OK;
}

void rnn__optimizer_reset_slots(rnn_model *m) {
    for (int k = 0; k < RNN_OPTIMIZER_SLOTS; k++) {
        rnn__free(m->opt_slot[k]); /* NULL: at the starting value (allocated when next used) */
        m->opt_slot[k] = NULL;
    }
    m->nadam_u_product = 1.0f;
    m->nadam_u_at = 0;
}

float rnn__model_nadam_u_product(rnn_model *m) {
    if (m->nadam_u_at != m->iterations) {
        m->nadam_u_product = rnn__nadam_u_product(&m->optimizer, 1.0f, 0, m->iterations);
        m->nadam_u_at = m->iterations;
    }
    return m->nadam_u_product;
}

static int has_slices(const rnn_weight *w) { return w->n_slice_sets > 0 && w->rank == 2; }

/* Sum of squares of weight w's gradient as Keras measures it for the clip norms. */
static double grad_sumsq(const rnn_weight *w, int sliced) {
    double ss = 0;
    if (!sliced) {
        for (int64_t i = 0; i < w->size; i++) ss += (double)w->grad[i] * w->grad[i];
        return ss;
    }
    const int64_t D = w->shape[1];
    for (int s = 0; s < w->n_slice_sets; s++)
        for (int64_t i = 0; i < w->slices[s].count * D; i++)
            ss += (double)w->slices[s].values[i] * w->slices[s].values[i];
    return ss;
}

/* Rebuilds grad (sum), g2 (sum of squares) and gabs (sum of |.|) from w's slices, each slice
 * clipped to [-clipvalue, clipvalue] (clipvalue > 0) or scaled by f. */
static void gather_slices(rnn_weight *w, float clipvalue, float f, float *g2, float *gabs) {
    const int64_t D = w->shape[1];
    memset(w->grad, 0, sizeof(float) * (size_t)w->size);
    for (int s = 0; s < w->n_slice_sets; s++)
        for (int64_t k = 0; k < w->slices[s].count; k++) {
            const int64_t row = (int64_t)w->slices[s].ids[k] * D;
            const float *v = w->slices[s].values + k * D;
            for (int64_t j = 0; j < D; j++) {
                float x = v[j];
                if (clipvalue > 0.0f) x = x < -clipvalue ? -clipvalue : x > clipvalue ? clipvalue : x;
                else if (f != 1.0f) x *= f;
                w->grad[row + j] += x;
                g2[row + j] += x * x;
                gabs[row + j] += fabsf(x);
            }
        }
}

/* Slot k of the weight at offset off, or NULL where the optimizer does not use slot k. */
static float *slot_at(const rnn_model *m, int k, int64_t off) {
    return m->opt_slot[k] ? m->opt_slot[k] + off : NULL;
}

/* A large weight's update (B4: the LSTM's kernels, a million values each, read and written in
 * memory) is shared by the current team (rnn__team_enter), in runs of 16 values: each value's
 * update reads and writes only its own entries of the weight, gradient and slots, so any split
 * gives the same bits. From 2^14 values: B6's LSTM(100) kernels (40,000 values each, three of
 * them) were updated by one thread while the other waited, about 2 % of the step; shared, the
 * step took 1.2 % less (bench/README.md, "B6's training step"). */
#define TEAM_UPDATE_VALUES (1 << 14)

typedef struct {
    const rnn_optimizer *o;
    const rnn_opt_step *s;
    float *p, *s0, *s1, *s2;
    const float *g, *g2, *gabs;
    int64_t n;
} update_job;

static float *from(float *a, int64_t i) { return a ? a + i : NULL; }
static const float *from_c(const float *a, int64_t i) { return a ? a + i : NULL; }

static void update_slice(void *arg, int tid, int n) {
    const update_job *j = arg;
    const int64_t runs = (j->n + 15) / 16;
    const int64_t lo = 16 * (runs * tid / n);
    int64_t hi = 16 * (runs * (tid + 1) / n);
    if (hi > j->n) hi = j->n;
    if (lo < hi)
        rnn__optimizer_apply_ex(j->o, j->s, j->p + lo, j->g + lo, from_c(j->g2, lo),
                                from_c(j->gabs, lo), from(j->s0, lo), from(j->s1, lo),
                                from(j->s2, lo), hi - lo);
}

static void update_weight(const rnn_optimizer *o, const rnn_opt_step *s, float *p,
                          const float *g, const float *g2, const float *gabs, float *s0,
                          float *s1, float *s2, int64_t n) {
    if (n >= TEAM_UPDATE_VALUES && rnn__team_size() > 1) {
        update_job job = {o, s, p, s0, s1, s2, g, g2, gabs, n};
        rnn__team_run(update_slice, &job);
        return;
    }
    rnn__optimizer_apply_ex(o, s, p, g, g2, gabs, s0, s1, s2, n);
}

rnn_status rnn__optimizer_update(rnn_model *m, int n_trainable) {
    const rnn_optimizer *o = &m->optimizer;
    rnn_status st = rnn__optimizer_slots_ready(m);
    if (st) return st;
    int sliced = 0;
    for (int w = 0; w < m->n_weights && !o->dense_embedding_gradients; w++)
        sliced |= has_slices(m->weights[w]);
    float *scale = NULL;
    if (!sliced) {
        rnn__optimizer_clip(o, m->clip_grads, m->clip_sizes, n_trainable);
    } else {
        /* The clip factors with the slices' norms (clipvalue is applied per element below). */
        if (!(scale = malloc(sizeof(float) * (size_t)m->n_weights)))
            return rnn__fail(RNN_ERR_MEMORY, "out of memory");
        double total = 0;
        for (int w = 0; w < m->n_weights; w++) {
            scale[w] = 1.0f;
            if (m->weights[w]->frozen) continue;
            if (o->clipnorm <= 0.0f && o->global_clipnorm <= 0.0f) continue;
            double ss = grad_sumsq(m->weights[w], has_slices(m->weights[w]));
            total += ss;
            if (o->clipnorm > 0.0f && sqrt(ss) > o->clipnorm)
                scale[w] = (float)(o->clipnorm / sqrt(ss));
        }
        if (o->global_clipnorm > 0.0f && sqrt(total) > o->global_clipnorm)
            for (int w = 0; w < m->n_weights; w++)
                if (!m->weights[w]->frozen) scale[w] = (float)(o->global_clipnorm / sqrt(total));
    }
    rnn_opt_step step = {rnn__optimizer_lr(o, m->iterations), m->iterations + 1, 1.0f};
    if (o->kind == RNN_OPT_NADAM)
        step.u_product = rnn__nadam_u_product(o, rnn__model_nadam_u_product(m), m->iterations,
                                              m->iterations + 1);
    /* Room for the largest sliced weight's sums, taken before any weight changes. */
    int64_t room = 0;
    for (int w = 0; w < m->n_weights && sliced; w++)
        if (has_slices(m->weights[w]) && m->weights[w]->size > room) room = m->weights[w]->size;
    float *sums = room ? malloc(sizeof(float) * 2 * (size_t)room) : NULL;
    if (room && !sums) {
        free(scale);
        return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    }
    int64_t off = 0;
    for (int w = 0; w < m->n_weights; w++) {
        rnn_weight *wt = m->weights[w];
        if (wt->frozen) { /* its slots stay as they are; Keras's optimizer never sees it */
            off += wt->size;
            continue;
        }
        float *g2 = NULL, *gabs = NULL;
        if (sliced && has_slices(wt)) {
            g2 = sums;
            gabs = sums + wt->size;
            memset(sums, 0, sizeof(float) * 2 * (size_t)wt->size);
            gather_slices(wt, o->clipvalue, scale[w], g2, gabs);
        } else if (sliced) {
            float *g = wt->grad;
            if (o->clipvalue > 0.0f) {
                const float v = o->clipvalue;
                for (int64_t i = 0; i < wt->size; i++) g[i] = g[i] < -v ? -v : g[i] > v ? v : g[i];
            } else if (scale[w] != 1.0f) {
                for (int64_t i = 0; i < wt->size; i++) g[i] *= scale[w];
            }
        }
        update_weight(o, &step, wt->value, wt->grad, g2, gabs, slot_at(m, 0, off),
                      slot_at(m, 1, off), slot_at(m, 2, off), wt->size);
        rnn__weight_changed(wt);
        off += wt->size;
    }
    free(sums);
    free(scale);
    if (o->kind == RNN_OPT_NADAM) {
        m->nadam_u_product = step.u_product;
        m->nadam_u_at = m->iterations + 1;
    }
    return RNN_OK;
}
