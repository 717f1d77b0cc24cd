/* compile, fit, evaluate, predict, train_on_batch, predict_on_batch and the streaming step,
 * with Keras's batching (last batch partial, validation = the last fraction before shuffling,
 * a new permutation each epoch) and its stateful rules. Models may have several inputs and
 * outputs; the single-array calls are the one-input, one-output case. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/recurrent.h"
#include "losses.h"
#include "model.h"
#include "optim.h"
#include "progress.h"
#include "training_backup.h"

/* ---------------------------------------------------------------- compile */

rnn_status rnn_compile_with(rnn_model *m, const char *loss, const rnn_optimizer *optimizer) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_compile: model is NULL");
    rnn_loss_spec spec;
    if (rnn__loss_from_name(loss, &spec) != 0)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT,
                               "Could not interpret loss identifier: %s (supported: "
                               "mean_squared_error/mse, mean_absolute_error/mae, "
                               "sparse_categorical_crossentropy, categorical_crossentropy, "
                               "binary_crossentropy, kullback_leibler_divergence/kld)",
                               loss ? loss : "NULL"));
    rnn_status st = rnn__optimizer_check(optimizer);
    if (st) return rnn__model_fail(m, st);
    if ((st = rnn__model_build(m))) return st;
    m->loss = spec;
    m->optimizer = *optimizer;
    m->n_metrics = 0;
    m->iterations = 0;
    for (int k = 0; k < 3; k++) memset(m->opt_slot[k], 0, sizeof(float) * (size_t)m->n_params);
    m->compiled = 1;
    return RNN_OK;
}

rnn_status rnn_compile(rnn_model *m, const char *loss, const char *optimizer) {
    rnn_optimizer o;
    if (optimizer && (!strcmp(optimizer, "adam") || !strcmp(optimizer, "Adam")))
        o = rnn_adam_defaults();
    else if (optimizer && (!strcmp(optimizer, "sgd") || !strcmp(optimizer, "SGD")))
        o = rnn_sgd_defaults();
    else if (optimizer && (!strcmp(optimizer, "rmsprop") || !strcmp(optimizer, "RMSprop")))
        o = rnn_rmsprop_defaults();
    else
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT,
                               "Could not interpret optimizer identifier: %s (supported: adam, "
                               "sgd, rmsprop; rnn_compile_with takes explicit settings)",
                               optimizer ? optimizer : "NULL"));
    return rnn_compile_with(m, loss, &o);
}

int64_t rnn_optimizer_iterations(const rnn_model *m) {
    return m && m->compiled ? m->iterations : -1;
}

rnn_status rnn_set_from_logits(rnn_model *m, int from_logits) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "model is NULL");
    if (!m->compiled) return rnn__model_fail(m, rnn__fail(RNN_ERR_STATE, "compile first"));
    if (from_logits && m->loss.kind != RNN_LOSS_SPARSE_CATEGORICAL_CE &&
        m->loss.kind != RNN_LOSS_CATEGORICAL_CE && m->loss.kind != RNN_LOSS_BINARY_CE)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "%s has no from_logits form",
                                            rnn__loss_name(m->loss.kind)));
    m->loss.from_logits = from_logits != 0;
    return RNN_OK;
}

/* ---------------------------------------------------------------- metrics */

enum { METRIC_SPARSE_CATEGORICAL = 0, METRIC_CATEGORICAL, METRIC_BINARY };

rnn_status rnn_add_metric(rnn_model *m, const char *name) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "model is NULL");
    if (!m->compiled) return rnn__model_fail(m, rnn__fail(RNN_ERR_STATE, "compile the model first"));
    if (m->n_metrics >= RNN_MAX_METRICS)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "at most %d metrics", RNN_MAX_METRICS));
    int kind;
    if (name && (!strcmp(name, "accuracy") || !strcmp(name, "acc"))) {
        /* Keras resolves "accuracy" from the loss and the output's width. */
        const rnn_shape *o = &m->outputs[0]->shape;
        if (m->loss.kind == RNN_LOSS_SPARSE_CATEGORICAL_CE) kind = METRIC_SPARSE_CATEGORICAL;
        else if (m->loss.kind == RNN_LOSS_BINARY_CE || o->dim[o->rank - 1] == 1) kind = METRIC_BINARY;
        else kind = METRIC_CATEGORICAL;
    } else if (name && !strcmp(name, "sparse_categorical_accuracy")) {
        kind = METRIC_SPARSE_CATEGORICAL;
    } else if (name && !strcmp(name, "categorical_accuracy")) {
        kind = METRIC_CATEGORICAL;
    } else if (name && !strcmp(name, "binary_accuracy")) {
        kind = METRIC_BINARY;
    } else {
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT,
                               "Could not interpret metric identifier: %s (supported: accuracy, "
                               "sparse_categorical_accuracy, categorical_accuracy, "
                               "binary_accuracy)", name ? name : "NULL"));
    }
    if (kind == METRIC_SPARSE_CATEGORICAL && m->loss.kind != RNN_LOSS_SPARSE_CATEGORICAL_CE)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "sparse_categorical_accuracy needs "
                               "class-id targets (sparse_categorical_crossentropy)"));
    if (kind != METRIC_SPARSE_CATEGORICAL && m->loss.kind == RNN_LOSS_SPARSE_CATEGORICAL_CE)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "with class-id targets use "
                               "sparse_categorical_accuracy (or \"accuracy\")"));
    m->metric_kind[m->n_metrics] = kind;
    snprintf(m->metric_name[m->n_metrics], sizeof m->metric_name[0], "%s", name);
    m->n_metrics++;
    return RNN_OK;
}

/* Running sums of a metric: correct rows and rows seen. */
typedef struct {
    double correct[RNN_MAX_METRICS];
    double rows;
} metric_sums;

static int64_t argmax_row(const float *v, int64_t n) {
    int64_t best = 0;
    for (int64_t j = 1; j < n; j++)
        if (v[j] > v[best]) best = j;
    return best;
}

/* Adds the metrics of the last forward on output 0 (targets t0) into sums. */
static void accumulate_metrics(rnn_model *m, const float *t0, metric_sums *ms) {
    if (!m->n_metrics) return;
    const rnn_tensor *out = rnn__model_output(m, 0);
    const int64_t C = out->shape[out->rank - 1], R = rnn_tensor_size(out) / C;
    const uint8_t *mask = out->rank == 3 ? rnn__model_output_mask(m, 0) : NULL;
    const int64_t tw = rnn__loss_sparse_targets(m->loss.kind) ? 1 : C;
    for (int64_t r = 0; r < R; r++) {
        if (mask && !mask[r]) continue;
        const float *p = out->data + r * C, *t = t0 + r * tw;
        for (int k = 0; k < m->n_metrics; k++) {
            double v;
            if (m->metric_kind[k] == METRIC_SPARSE_CATEGORICAL) v = argmax_row(p, C) == (int64_t)t[0];
            else if (m->metric_kind[k] == METRIC_CATEGORICAL) v = argmax_row(p, C) == argmax_row(t, C);
            else {
                /* binary_accuracy: mean over the row of (p > 0.5) == t (threshold 0.5) */
                double hits = 0;
                for (int64_t j = 0; j < C; j++) hits += (p[j] > 0.5f) == (t[j] > 0.5f);
                v = hits / (double)C;
            }
            ms->correct[k] += v;
        }
        ms->rows += 1;
    }
}

/* ---------------------------------------------------------------- argument checks */

/* The data of one call: x[k] for each input, y[k] for each output (NULL when not needed). */
typedef struct {
    const rnn_tensor *x;
    const rnn_tensor *y;
    int64_t n;     /* samples */
    int64_t steps; /* of input 0 (0 without a time axis) */
} call_data;

static rnn_status check_array(const char *what, int k, const rnn_tensor *t) {
    if (!t->data) return rnn__fail(RNN_ERR_ARGUMENT, "%s[%d] has no data (NULL)", what, k);
    if (t->rank < 1 || t->rank > RNN_MAX_RANK)
        return rnn__fail(RNN_ERR_SHAPE, "%s[%d] has rank %d", what, k, t->rank);
    for (int i = 0; i < t->rank; i++)
        if (t->shape[i] < 0) return rnn__fail(RNN_ERR_SHAPE, "%s[%d] has a negative dimension", what, k);
    int64_t n = rnn_tensor_size(t);
    /* 2^34 floats (64 GiB) bounds one array: beyond that the dimensions are a mistake, and
     * reading them would run past any real buffer. rnn_tensor_size is 0 on overflow, so a 0
     * without a zero dimension is an overflow ((2^32, 2^32, 1) wraps int64 to 0). */
    int zero_dim = 0;
    for (int i = 0; i < t->rank; i++) zero_dim |= t->shape[i] == 0;
    if (n > ((int64_t)1 << 34) || (n == 0 && !zero_dim))
        return rnn__fail(RNN_ERR_MEMORY, "%s's dimensions (%lld, %lld, ...) are too large: the "
                         "element count overflows or exceeds 2^34", what,
                         (long long)t->shape[0], t->rank > 1 ? (long long)t->shape[1] : 0LL);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(t->data[i]))
            return rnn__fail(RNN_ERR_NUMERIC, "%s contains %s at flat index %lld", what,
                             isnan(t->data[i]) ? "NaN" : "Inf", (long long)i);
    return RNN_OK;
}

static rnn_status check_x(rnn_model *m, const rnn_tensor *xs, int nx, call_data *d) {
    if (m->n_inputs == 0 || m->n_layers <= m->n_inputs)
        return rnn__fail(RNN_ERR_STATE, "the model has no layers yet");
    if (!xs || nx != m->n_inputs)
        return rnn__fail(RNN_ERR_ARGUMENT, "the model has %d input%s, %d array%s given",
                         m->n_inputs, m->n_inputs > 1 ? "s" : "", nx, nx == 1 ? " was" : "s were");
    d->x = xs;
    d->n = xs[0].shape[0];
    d->steps = xs[0].rank >= 2 ? xs[0].shape[1] : 0;
    for (int k = 0; k < nx; k++) {
        const rnn_tensor *x = &xs[k];
        const rnn_shape *in = rnn__model_input_shape(m, k);
        if (x->rank != in->rank) {
            char s[96];
            rnn__shape_format(in, s, sizeof s);
            return rnn__fail(RNN_ERR_SHAPE,
                             "x has rank %d but the model expects rank %d input of shape %s%s",
                             x->rank, in->rank, s,
                             in->rank == 3 ? " ([samples, time steps, features])" : "");
        }
        if (x->shape[0] <= 0) return rnn__fail(RNN_ERR_SHAPE, "x has zero samples");
        if (x->shape[0] != d->n)
            return rnn__fail(RNN_ERR_SHAPE, "input %d has %lld samples but input 0 has %lld", k,
                             (long long)x->shape[0], (long long)d->n);
        if (in->rank >= 2 && x->shape[1] <= 0 && (in->rank == 3 || in->dim[1] != 0))
            return rnn__fail(RNN_ERR_SHAPE, "x has zero time steps");
        for (int i = 1; i < in->rank; i++)
            if (in->dim[i] >= 0 && x->shape[i] != in->dim[i]) {
                char s[96];
                rnn__shape_format(in, s, sizeof s);
                return rnn__fail(RNN_ERR_SHAPE,
                                 "x has %lld %s on axis %d, but the model's input shape is %s",
                                 (long long)x->shape[i],
                                 in->rank == 3 && i == 1 ? "time steps" : "features", i, s);
            }
        rnn_status st = check_array("x", k, x);
        if (st) return st;
    }
    return RNN_OK;
}

/* Values per sample in output k's targets. */
static int64_t target_per_sample(const rnn_model *m, int k, int64_t steps) {
    rnn_shape s = rnn__model_output_shape(m, k, 1, steps);
    int64_t n = 1;
    for (int i = 1; i < s.rank - (rnn__loss_sparse_targets(m->loss.kind) ? 1 : 0); i++) n *= s.dim[i];
    return n;
}

static int64_t output_per_sample(const rnn_model *m, int k, int64_t steps) {
    rnn_shape s = rnn__model_output_shape(m, k, 1, steps);
    int64_t n = 1;
    for (int i = 1; i < s.rank; i++) n *= s.dim[i];
    return n;
}

static rnn_status check_y(rnn_model *m, const rnn_tensor *ys, int ny, call_data *d) {
    if (!ys || ny != m->n_outputs)
        return rnn__fail(RNN_ERR_ARGUMENT, "the model has %d output%s, %d target array%s given",
                         m->n_outputs, m->n_outputs > 1 ? "s" : "", ny, ny == 1 ? " was" : "s were");
    d->y = ys;
    const int sparse = rnn__loss_sparse_targets(m->loss.kind);
    for (int k = 0; k < ny; k++) {
        const rnn_tensor *y = &ys[k];
        rnn_shape out = rnn__model_output_shape(m, k, d->n, d->steps);
        char s[96];
        rnn__shape_format(&out, s, sizeof s);
        if (!y->data) return rnn__fail(RNN_ERR_ARGUMENT, "y has no data (NULL)");
        if (y->rank < 1 || y->rank > RNN_MAX_RANK || y->shape[0] != d->n)
            return rnn__fail(RNN_ERR_SHAPE, "y has %lld samples but x has %lld",
                             y->rank >= 1 ? (long long)y->shape[0] : 0LL, (long long)d->n);
        /* Targets: the output's shape, or without a trailing 1 ((n,) for (n, 1)); for sparse
         * categorical cross-entropy one class id per row: the shape without the class axis,
         * or with a trailing 1 instead of it. */
        rnn_shape want = out;
        if (sparse) want.dim[want.rank - 1] = 1;
        int same = y->rank == want.rank, squeezed = y->rank == want.rank - 1 && want.dim[want.rank - 1] == 1;
        for (int i = 1; same && i < want.rank; i++) same = y->shape[i] == want.dim[i];
        for (int i = 1; squeezed && i < y->rank; i++) squeezed = y->shape[i] == want.dim[i];
        if (!same && !squeezed) {
            rnn_shape ys_shape = {y->rank, {0}};
            for (int i = 0; i < y->rank; i++) ys_shape.dim[i] = y->shape[i];
            char t[96];
            rnn__shape_format(&ys_shape, t, sizeof t);
            return rnn__fail(RNN_ERR_SHAPE, "y has shape %s but the model's output has shape %s%s",
                             t, s, sparse ? " (sparse_categorical_crossentropy takes one class "
                                            "id per output row)" : "");
        }
        rnn_status st = check_array("y", k, y);
        if (st) return st;
        if (sparse) {
            int64_t n = rnn_tensor_size(y), C = out.dim[out.rank - 1];
            for (int64_t i = 0; i < n; i++)
                if (y->data[i] < 0 || y->data[i] >= (float)C || y->data[i] != floorf(y->data[i]))
                    return rnn__fail(RNN_ERR_ARGUMENT,
                                     "y[%lld] = %g is not a class id in [0, %lld) "
                                     "(sparse_categorical_crossentropy)", (long long)i,
                                     (double)y->data[i], (long long)C);
        }
    }
    return RNN_OK;
}

/* A stateful model takes only batches of its fixed size. */
static rnn_status check_stateful_batches(rnn_model *m, int64_t n, int batch_size) {
    int64_t fixed = rnn__model_stateful_batch(m);
    if (!fixed) return RNN_OK;
    if (batch_size != fixed)
        return rnn__fail(RNN_ERR_STATE,
                         "the model is stateful with a fixed batch size of %lld, but batch_size "
                         "is %d; pass batch_size=%lld", (long long)fixed, batch_size,
                         (long long)fixed);
    if (n % fixed != 0)
        return rnn__fail(RNN_ERR_STATE,
                         "the model is stateful with a fixed batch size of %lld, and %lld samples "
                         "do not divide into full batches (the last would have %lld); a stateful "
                         "layer carries each row to the same row of the next batch",
                         (long long)fixed, (long long)n, (long long)(n % fixed));
    return RNN_OK;
}

/* ---------------------------------------------------------------- batches */

/* Plans the model's batch buffers for batches of up to `batch` samples. */
static rnn_status plan_batch(rnn_model *m, const call_data *d, int64_t batch, int gather_x) {
    rnn__ws_begin(&m->ws);
    for (int k = 0; k < m->n_inputs; k++) {
        int64_t nx;
        if (!rnn__mul_ok(batch, gather_x ? rnn__tensor_row_size(&d->x[k]) : 0, &nx))
            return rnn__fail(RNN_ERR_MEMORY, "batch too large");
        rnn__ws_want(&m->ws, &m->batch_x[k], nx);
    }
    for (int k = 0; k < m->n_outputs; k++) {
        int64_t ny, no;
        if (!rnn__mul_ok(batch, d->y ? target_per_sample(m, k, d->steps) : 0, &ny) ||
            !rnn__mul_ok(batch, output_per_sample(m, k, d->steps), &no))
            return rnn__fail(RNN_ERR_MEMORY, "batch too large");
        rnn__ws_want(&m->ws, &m->batch_y[k], ny);
        rnn__ws_want(&m->ws, &m->dloss[k], no);
    }
    if (rnn__ws_commit(&m->ws) != 0) return rnn__fail(RNN_ERR_MEMORY, "out of memory for a batch");
    return RNN_OK;
}

/* Copies rows idx[start..start+count) (or start.. in order) of src into dst. */
static void gather(float *dst, const float *src, const int64_t *idx, int64_t start, int64_t count,
                   int64_t per) {
    for (int64_t i = 0; i < count; i++)
        memcpy(dst + i * per, src + (idx ? idx[start + i] : start + i) * per,
               sizeof(float) * (size_t)per);
}

static rnn_tensor batch_view(float *data, const rnn_tensor *t, int64_t count) {
    rnn_tensor v = *t;
    v.data = data;
    v.shape[0] = count;
    return v;
}

/* Loss of the last forward over every output (mean per output, summed as Keras sums the
 * losses of several outputs). With grads, writes m->dloss. */
static double current_loss(rnn_model *m, const float *const *targets, int with_grads) {
    double total = 0;
    for (int k = 0; k < m->n_outputs; k++) {
        const rnn_tensor *out = rnn__model_output(m, k);
        int64_t C = out->shape[out->rank - 1], R = rnn_tensor_size(out) / C;
        const uint8_t *mask = out->rank == 3 ? rnn__model_output_mask(m, k) : NULL;
        double sum;
        int64_t count;
        rnn__loss_eval(&m->loss, out->data, targets[k], R, C, mask, with_grads ? m->dloss[k] : NULL,
                       &sum, &count);
        total += count ? sum / (double)count : 0.0;
    }
    return total;
}

/* "lstm/kernel" for messages (the weight's own name is only "kernel"). */
static const char *weight_name(rnn_model *m, int w) {
    const char *name = "?";
    rnn_weight_info(m, w, &name, NULL, NULL);
    return name;
}

/* One optimizer step on the batch xb -> targets: loss before the update in *loss. */
static rnn_status train_step(rnn_model *m, const rnn_tensor *xb, const float *const *targets,
                             double *loss, metric_sums *ms) {
    rnn_run_ctx ctx = {RNN_MODE_TRAIN, &m->rng};
    rnn_status st = rnn__model_forward(m, xb, &ctx);
    if (st) return st;
    double value = current_loss(m, targets, 1);
    if (ms) accumulate_metrics(m, targets[0], ms);
    if (!isfinite(value))
        return rnn__fail(RNN_ERR_NUMERIC, "the loss is %s: training stopped before the update "
                         "(iteration %lld)", isnan(value) ? "NaN" : "Inf",
                         (long long)m->iterations);
    rnn__model_zero_grads(m);
    rnn__model_backward(m, m->dloss, 0);
    for (int w = 0; w < m->n_weights; w++) {
        const rnn_weight *wt = m->weights[w];
        for (int64_t i = 0; i < wt->size; i++)
            if (!isfinite(wt->grad[i]))
                return rnn__fail(RNN_ERR_NUMERIC, "a gradient of %s is not finite: the update was "
                                 "not applied (iteration %lld)", weight_name(m, w),
                                 (long long)m->iterations);
    }
    rnn__optimizer_clip(&m->optimizer, m->clip_grads, m->clip_sizes, m->n_weights);
    const float lr = rnn__optimizer_lr(&m->optimizer, m->iterations);
    int64_t off = 0;
    for (int w = 0; w < m->n_weights; w++) {
        rnn_weight *wt = m->weights[w];
        rnn__optimizer_apply(&m->optimizer, lr, wt->value, wt->grad, m->opt_slot[0] + off,
                             m->opt_slot[1] + off, m->opt_slot[2] + off, wt->size,
                             m->iterations + 1);
        rnn__weight_changed(wt);
        off += wt->size;
    }
    m->iterations++;
    /* Finite gradients can still overflow the weights (a huge learning rate): stop here rather
     * than train on, return RNN_OK or checkpoint a model of Inf. */
    for (int w = 0; w < m->n_weights; w++) {
        const rnn_weight *wt = m->weights[w];
        for (int64_t i = 0; i < wt->size; i++)
            if (!isfinite(wt->value[i]))
                return rnn__fail(RNN_ERR_NUMERIC, "%s is not finite after the update of "
                                 "iteration %lld: the step overflowed (lower the learning rate "
                                 "or clip the gradients); training stopped", weight_name(m, w),
                                 (long long)m->iterations - 1);
    }
    *loss = value;
    return RNN_OK;
}

/* Mean loss over samples [begin, end) in order, batch by batch, without updates (Keras: the
 * batch losses averaged with the batch sizes as weights). */
static rnn_status evaluate_range(rnn_model *m, const call_data *d, int64_t begin, int64_t end,
                                 int batch_size, double *loss, double *metrics) {
    metric_sums ms = {{0}, 0};
    rnn_run_ctx ctx = {RNN_MODE_PREDICT, &m->rng};
    double total = 0;
    for (int64_t s = begin; s < end; s += batch_size) {
        int64_t count = end - s < batch_size ? end - s : batch_size;
        rnn_tensor xb[RNN_MODEL_MAX_IO];
        const float *targets[RNN_MODEL_MAX_IO];
        for (int k = 0; k < m->n_inputs; k++)
            xb[k] = batch_view(d->x[k].data + s * rnn__tensor_row_size(&d->x[k]), &d->x[k], count);
        for (int k = 0; k < m->n_outputs; k++)
            targets[k] = d->y[k].data + s * target_per_sample(m, k, d->steps);
        rnn_status st = rnn__model_forward(m, xb, &ctx);
        if (st) return st;
        total += current_loss(m, targets, 0) * (double)count;
        accumulate_metrics(m, targets[0], &ms);
    }
    *loss = total / (double)(end - begin);
    if (metrics)
        for (int k = 0; k < m->n_metrics; k++) metrics[k] = ms.rows ? ms.correct[k] / ms.rows : 0.0;
    return RNN_OK;
}

/* ---------------------------------------------------------------- fit */

rnn_fit_options rnn_fit_defaults(void) {
    rnn_fit_options o;
    memset(&o, 0, sizeof o);
    o.epochs = 1;
    o.batch_size = 32;
    o.shuffle = 1;
    o.verbose = 1;
    o.early_stopping.monitor = "val_loss";
    o.checkpoint.monitor = "val_loss";
    o.backup.delete_checkpoint = 1;
    return o;
}

/* ModelCheckpoint's file name: {epoch} / {epoch:0Nd} and {key:.Nf} filled from the logs, as
 * Python's str.format does for the patterns Keras users write. */
static rnn_status checkpoint_path(const char *pattern, int epoch, const rnn_log_entry *logs,
                                  int n, char *out, size_t size) {
    size_t o = 0;
    for (const char *p = pattern; *p;) {
        if (*p != '{') {
            if (o + 1 >= size) return rnn__fail(RNN_ERR_ARGUMENT, "checkpoint path too long");
            out[o++] = *p++;
            continue;
        }
        const char *close = strchr(p, '}');
        if (!close) return rnn__fail(RNN_ERR_ARGUMENT, "checkpoint filepath: unclosed '{' in \"%s\"", pattern);
        char field[96];
        size_t len = (size_t)(close - p - 1);
        if (len >= sizeof field) return rnn__fail(RNN_ERR_ARGUMENT, "checkpoint filepath: field too long");
        memcpy(field, p + 1, len);
        field[len] = '\0';
        char *colon = strchr(field, ':');
        const char *spec = colon ? colon + 1 : "";
        if (colon) *colon = '\0';
        char piece[64];
        if (!strcmp(field, "epoch")) {
            int width = 0;
            if (*spec && (sscanf(spec, "0%dd", &width) != 1 && sscanf(spec, "%dd", &width) != 1))
                return rnn__fail(RNN_ERR_ARGUMENT, "checkpoint filepath: format \"%s\" for epoch "
                                 "(use {epoch} or {epoch:02d})", spec);
            snprintf(piece, sizeof piece, spec[0] == '0' ? "%0*d" : "%*d", width, epoch + 1);
        } else {
            int i = 0;
            while (i < n && strcmp(logs[i].name, field) != 0) i++;
            if (i == n)
                return rnn__fail(RNN_ERR_ARGUMENT, "checkpoint filepath: \"%s\" is not a logged "
                                 "value this epoch", field);
            int prec = 6;
            if (*spec && sscanf(spec, ".%df", &prec) != 1)
                return rnn__fail(RNN_ERR_ARGUMENT, "checkpoint filepath: format \"%s\" (use .Nf)", spec);
            snprintf(piece, sizeof piece, "%.*f", prec, logs[i].value);
        }
        size_t pl = strlen(piece);
        if (o + pl + 1 >= size) return rnn__fail(RNN_ERR_ARGUMENT, "checkpoint path too long");
        memcpy(out + o, piece, pl);
        o += pl;
        p = close + 1;
    }
    out[o] = '\0';
    return RNN_OK;
}

void rnn_history_free(rnn_history *h) {
    if (!h) return;
    free(h->loss);
    free(h->val_loss);
    for (int k = 0; k < RNN_MAX_METRICS; k++) {
        free(h->metric[k]);
        free(h->val_metric[k]);
    }
    memset(h, 0, sizeof *h);
}

/* The epoch's logs in Keras 3's order: training keys sorted by name, then val_ keys sorted. */
static int epoch_logs(const rnn_model *m, double loss, const double *metrics, int with_val,
                      double val_loss, const double *val_metrics, rnn_log_entry *out) {
    static _Thread_local char val_names[RNN_MAX_METRICS][48];
    int n = 0;
    for (int pass = 0; pass < (with_val ? 2 : 1); pass++) {
        rnn_log_entry part[RNN_MAX_METRICS + 1];
        int np = 0;
        part[np++] = (rnn_log_entry){pass ? "val_loss" : "loss", pass ? val_loss : loss};
        for (int k = 0; k < m->n_metrics; k++) {
            if (pass) snprintf(val_names[k], sizeof val_names[k], "val_%s", m->metric_name[k]);
            part[np++] = (rnn_log_entry){pass ? val_names[k] : m->metric_name[k],
                                         pass ? val_metrics[k] : metrics[k]};
        }
        for (int i = 1; i < np; i++) /* insertion sort by name */
            for (int j = i; j > 0 && strcmp(part[j - 1].name, part[j].name) > 0; j--) {
                rnn_log_entry t = part[j]; part[j] = part[j - 1]; part[j - 1] = t;
            }
        for (int i = 0; i < np; i++) out[n++] = part[i];
    }
    return n;
}

/* EarlyStopping's state (keras/src/callbacks/early_stopping.py). */
typedef struct {
    const rnn_early_stopping *cfg;
    int maximize;
    double best;
    int wait;
    float *best_weights;
    int best_epoch;
} early_state;

static rnn_status early_init(early_state *es, rnn_model *m, const rnn_early_stopping *cfg,
                             int with_val) {
    memset(es, 0, sizeof *es);
    if (!cfg->enabled) return RNN_OK;
    es->cfg = cfg;
    const char *mon = cfg->monitor ? cfg->monitor : "val_loss";
    const char *base = strncmp(mon, "val_", 4) == 0 ? mon + 4 : mon;
    int known = !strcmp(base, "loss");
    for (int k = 0; k < m->n_metrics; k++) known |= !strcmp(base, m->metric_name[k]);
    if (!known || (base != mon && !with_val))
        return rnn__fail(RNN_ERR_ARGUMENT, "EarlyStopping: monitor \"%s\" is not among the "
                         "logged values (loss%s, and the compiled metrics%s)", mon,
                         with_val ? ", val_loss" : "", with_val ? " with and without val_" : "");
    es->maximize = strcmp(base, "loss") != 0; /* accuracies improve upwards */
    es->best = es->maximize ? -INFINITY : INFINITY;
    es->best_epoch = -1;
    if (cfg->restore_best_weights && !(es->best_weights = malloc(sizeof(float) * (size_t)(m->n_params + 1))))
        return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    if (cfg->patience < 0 || cfg->start_from_epoch < 0 || !(cfg->min_delta >= 0))
        return rnn__fail(RNN_ERR_ARGUMENT, "EarlyStopping: patience, start_from_epoch and "
                         "min_delta must be >= 0");
    return RNN_OK;
}

static void copy_weights_out(rnn_model *m, float *dst, int out) {
    int64_t off = 0;
    for (int w = 0; w < m->n_weights; w++) {
        rnn_weight *wt = m->weights[w];
        if (out) memcpy(dst + off, wt->value, sizeof(float) * (size_t)wt->size);
        else memcpy(wt->value, dst + off, sizeof(float) * (size_t)wt->size);
        if (!out) rnn__weight_changed(wt);
        off += wt->size;
    }
}

/* Returns 1 when training should stop after this epoch. */
static int early_after_epoch(early_state *es, rnn_model *m, int epoch, const rnn_log_entry *logs,
                             int n) {
    if (!es->cfg || epoch < es->cfg->start_from_epoch) return 0;
    const char *mon = es->cfg->monitor ? es->cfg->monitor : "val_loss";
    double v = NAN;
    for (int i = 0; i < n; i++)
        if (!strcmp(logs[i].name, mon)) v = logs[i].value;
    double delta = es->cfg->min_delta;
    int improved = es->maximize ? v - delta > es->best : v + delta < es->best;
    if (es->best_epoch < 0 || improved) {
        es->best = v;
        es->best_epoch = epoch;
        es->wait = 0;
        if (es->best_weights) copy_weights_out(m, es->best_weights, 1);
        return 0;
    }
    es->wait++;
    if (es->wait >= es->cfg->patience && epoch > 0) {
        if (es->best_weights) copy_weights_out(m, es->best_weights, 0);
        return 1;
    }
    return 0;
}

static rnn_status need_compiled(rnn_model *m) {
    if (!m->compiled)
        return rnn__fail(RNN_ERR_STATE, "You must call compile() before using the model "
                         "(rnn_compile)");
    return RNN_OK;
}

/* Where fit's batches come from: arrays in memory (shuffled per epoch, validation = their tail)
 * or a caller's batch source (Keras's generator / keras.utils.Sequence). */
typedef struct batch_provider batch_provider;
struct batch_provider {
    int64_t batches; /* per epoch */
    int has_validation;
    rnn_status (*begin_epoch)(batch_provider *p, rnn_model *m);
    /* Batch k of the epoch: inputs xb[0..n_inputs), targets[0..n_outputs), its sample count. */
    rnn_status (*get)(batch_provider *p, rnn_model *m, int64_t k, rnn_tensor *xb,
                      const float **targets, int64_t *count);
    rnn_status (*validate)(batch_provider *p, rnn_model *m, double *loss, double *metrics);
    void (*end)(batch_provider *p);
    /* arrays */
    const call_data *d;
    int64_t split, n, batch_size;
    int64_t *order;
    /* batch source */
    const rnn_batch_source *src, *val_src;
};

/* ModelCheckpoint's state: the best monitored value so far (save_best_only). */
typedef struct {
    const rnn_model_checkpoint *cfg;
    int have_best;
    double best;
} checkpoint_state;

static rnn_status checkpoint_after_epoch(checkpoint_state *cp, rnn_model *m, int epoch,
                                         const rnn_log_entry *logs, int n) {
    if (cp->cfg->save_best_only) {
        const char *mon = cp->cfg->monitor ? cp->cfg->monitor : "val_loss";
        int i = 0;
        while (i < n && strcmp(logs[i].name, mon) != 0) i++;
        if (i == n)
            return rnn__fail(RNN_ERR_ARGUMENT, "ModelCheckpoint: monitor \"%s\" is not logged "
                             "(pass validation data for val_ values)", mon);
        const char *base = strncmp(mon, "val_", 4) == 0 ? mon + 4 : mon;
        int maximize = strcmp(base, "loss") != 0;
        double v = logs[i].value;
        if (cp->have_best && !(maximize ? v > cp->best : v < cp->best)) return RNN_OK;
        cp->have_best = 1;
        cp->best = v;
    }
    char path[4096];
    rnn_status st = checkpoint_path(cp->cfg->filepath, epoch, logs, n, path, sizeof path);
    if (!st) st = rnn_save(m, path);
    return st;
}

/* BackupAndRestore: what fit_loop needs to write a backup and to resume from one. */
typedef struct {
    const rnn_backup_and_restore *cfg; /* NULL: off */
    rnn_training_state state;
} backup_state;

static rnn_status backup_write(backup_state *bk, rnn_model *m, int epoch, int64_t batch,
                               int finished, double running, double seen, const metric_sums *ms,
                               const early_state *es, const checkpoint_state *cp) {
    rnn_training_state *s = &bk->state;
    s->epoch = epoch;
    s->batch = batch;
    s->finished = finished;
    s->rng = m->rng;
    s->running = running;
    s->seen = seen;
    memcpy(s->metric_correct, ms->correct, sizeof ms->correct);
    s->metric_rows = ms->rows;
    s->es_best_epoch = es->best_epoch;
    s->es_wait = es->wait;
    s->es_best = es->best;
    s->es_best_weights = es->best_weights;
    s->cp_have_best = cp->have_best;
    s->cp_best = cp->best;
    rnn_status st = rnn__backup_save(m, bk->cfg->path, s);
    return st ? rnn__fail(st, "BackupAndRestore: %s", rnn_last_error()) : RNN_OK;
}

static rnn_status fit_loop(rnn_model *m, batch_provider *bp, const rnn_fit_options *o,
                           rnn_history *history) {
    rnn_status st;
    const int with_val = bp->has_validation;
    rnn_history own_history;
    backup_state bk;
    memset(&bk, 0, sizeof bk);
    if (o->backup.path) {
        if (o->backup.save_freq < 0)
            return rnn__fail(RNN_ERR_ARGUMENT, "BackupAndRestore: save_freq must be >= 0");
        bk.cfg = &o->backup;
        if (!history) { /* the backup carries the history, so fit keeps one */
            memset(&own_history, 0, sizeof own_history);
            history = &own_history;
        }
    }
    if (history) {
        size_t n = (size_t)(o->epochs ? o->epochs : 1);
        int ok = (history->loss = calloc(n, sizeof(double))) != NULL;
        if (with_val) ok &= (history->val_loss = calloc(n, sizeof(double))) != NULL;
        history->n_metrics = m->n_metrics;
        for (int k = 0; k < m->n_metrics; k++) {
            history->metric_names[k] = m->metric_name[k];
            ok &= (history->metric[k] = calloc(n, sizeof(double))) != NULL;
            if (with_val) ok &= (history->val_metric[k] = calloc(n, sizeof(double))) != NULL;
        }
        if (!ok) {
            if (history == &own_history) rnn_history_free(history);
            return rnn__fail(RNN_ERR_MEMORY, "out of memory");
        }
    }
    early_state es;
    if ((st = early_init(&es, m, &o->early_stopping, with_val))) {
        free(es.best_weights);
        if (history == &own_history) rnn_history_free(history);
        return st;
    }
    checkpoint_state cp = {&o->checkpoint, 0, 0};
    int first_epoch = 0, finished = 0;
    int64_t first_batch = 0;
    if (bk.cfg) {
        int found = 0;
        bk.state.history = history;
        bk.state.epochs_total = o->epochs;
        bk.state.es_best_weights = es.best_weights;
        st = rnn__backup_restore(m, bk.cfg->path, &bk.state, &found);
        if (!st && found) {
            first_epoch = bk.state.epoch;
            first_batch = bk.state.batch;
            finished = bk.state.finished;
            if (first_batch > bp->batches)
                st = rnn__fail(RNN_ERR_FORMAT, "BackupAndRestore: %s was taken at batch %lld of "
                               "an epoch of %lld batches (other data or batch size?)",
                               bk.cfg->path, (long long)first_batch, (long long)bp->batches);
            es.best_epoch = bk.state.es_best_epoch;
            es.wait = bk.state.es_wait;
            if (es.cfg && es.best_epoch >= 0) es.best = bk.state.es_best;
            cp.have_best = bk.state.cp_have_best;
            cp.best = bk.state.cp_best;
            if (history) history->best_epoch = es.best_epoch;
            m->rng = bk.state.rng;
        }
    }
    for (int epoch = first_epoch; epoch < o->epochs && !st && !finished; epoch++) {
        const int resumed = epoch == first_epoch && first_batch > 0;
        double running = 0.0, seen = 0.0;
        metric_sums ms = {{0}, 0};
        double metric_now[RNN_MAX_METRICS] = {0};
        if (resumed) { /* redraw the epoch's permutation, then go on from the saved generator */
            const rnn_rng now = m->rng;
            m->rng = bk.state.rng_epoch_start;
            if (bp->begin_epoch && (st = bp->begin_epoch(bp, m))) break;
            m->rng = now;
            running = bk.state.running;
            seen = bk.state.seen;
            memcpy(ms.correct, bk.state.metric_correct, sizeof ms.correct);
            ms.rows = bk.state.metric_rows;
            for (int k = 0; k < m->n_metrics; k++) metric_now[k] = ms.rows ? ms.correct[k] / ms.rows : 0;
        } else {
            bk.state.rng_epoch_start = m->rng;
            if (bp->begin_epoch && (st = bp->begin_epoch(bp, m))) break;
        }
        rnn_progress bar;
        rnn__progress_begin(&bar, o->out, o->verbose, epoch, o->epochs, bp->batches);
        rnn_log_entry logs[2 * RNN_MAX_METRICS + 2];
        for (int64_t b = resumed ? first_batch : 0; b < bp->batches && !st; b++) {
            rnn_tensor xb[RNN_MODEL_MAX_IO];
            const float *targets[RNN_MODEL_MAX_IO];
            int64_t count;
            double loss;
            if ((st = bp->get(bp, m, b, xb, targets, &count)) ||
                (st = train_step(m, xb, targets, &loss, &ms))) {
                if (o->verbose) fputc('\n', bar.out);
                break;
            }
            running += loss * (double)count; /* Keras: mean weighted by batch size */
            seen += (double)count;
            for (int k = 0; k < m->n_metrics; k++) metric_now[k] = ms.rows ? ms.correct[k] / ms.rows : 0;
            int nl = epoch_logs(m, running / seen, metric_now, 0, 0, NULL, logs);
            rnn__progress_step(&bar, b + 1, logs, nl);
            if (bk.cfg && bk.cfg->save_freq > 0 && (b + 1) % bk.cfg->save_freq == 0 &&
                b + 1 < bp->batches)
                st = backup_write(&bk, m, epoch, b + 1, 0, running, seen, &ms, &es, &cp);
        }
        if (st) break;
        double epoch_loss = seen ? running / seen : 0, val = NAN, val_metrics[RNN_MAX_METRICS];
        if (with_val && (st = bp->validate(bp, m, &val, val_metrics))) break;
        int nl = epoch_logs(m, epoch_loss, metric_now, with_val, val, val_metrics, logs);
        rnn__progress_end(&bar, logs, nl);
        if (history) {
            history->loss[epoch] = epoch_loss;
            if (with_val) history->val_loss[epoch] = val;
            for (int k = 0; k < m->n_metrics; k++) {
                history->metric[k][epoch] = metric_now[k];
                if (with_val) history->val_metric[k][epoch] = val_metrics[k];
            }
            history->epochs = epoch + 1;
        }
        if (o->checkpoint.filepath && (st = checkpoint_after_epoch(&cp, m, epoch, logs, nl))) break;
        int stop = early_after_epoch(&es, m, epoch, logs, nl);
        if (history) history->best_epoch = es.best_epoch;
        if (!stop && o->on_epoch_end) {
            rnn_history view = {0};
            stop = o->on_epoch_end(o->user, epoch, history ? history : &view) != 0;
        }
        if (stop && history) history->stopped_early = 1;
        /* The backup after the epoch records a decision to stop, so a resume ends too. */
        if (bk.cfg) {
            metric_sums none = {{0}, 0};
            st = backup_write(&bk, m, epoch + 1, 0, stop, 0.0, 0.0, &none, &es, &cp);
        }
        if (stop) break;
    }
    if (finished && history) history->stopped_early = 1;
    if (!st && bk.cfg && bk.cfg->delete_checkpoint && remove(bk.cfg->path) != 0 && errno != ENOENT)
        st = rnn__fail(RNN_ERR_IO, "BackupAndRestore: cannot delete %s", bk.cfg->path);
    free(es.best_weights);
    if (history == &own_history) rnn_history_free(history);
    return st;
}

/* ---- arrays in memory */

static rnn_status arrays_begin_epoch(batch_provider *p, rnn_model *m) {
    if (!p->order) return RNN_OK;
    for (int64_t i = 0; i < p->split; i++) p->order[i] = i;
    for (int64_t i = p->split - 1; i > 0; i--) { /* Fisher-Yates, a new permutation each epoch */
        int64_t j = (int64_t)rnn__rng_below(&m->rng, (uint64_t)(i + 1));
        int64_t t = p->order[i]; p->order[i] = p->order[j]; p->order[j] = t;
    }
    return RNN_OK;
}

static rnn_status arrays_get(batch_provider *p, rnn_model *m, int64_t k, rnn_tensor *xb,
                             const float **targets, int64_t *count) {
    const call_data *d = p->d;
    int64_t start = k * p->batch_size;
    *count = p->split - start < p->batch_size ? p->split - start : p->batch_size;
    for (int i = 0; i < m->n_inputs; i++) {
        gather(m->batch_x[i], d->x[i].data, p->order, start, *count, rnn__tensor_row_size(&d->x[i]));
        xb[i] = batch_view(m->batch_x[i], &d->x[i], *count);
    }
    for (int i = 0; i < m->n_outputs; i++) {
        gather(m->batch_y[i], d->y[i].data, p->order, start, *count, target_per_sample(m, i, d->steps));
        targets[i] = m->batch_y[i];
    }
    return RNN_OK;
}

static rnn_status arrays_validate(batch_provider *p, rnn_model *m, double *loss, double *metrics) {
    return evaluate_range(m, p->d, p->split, p->n, (int)p->batch_size, loss, metrics);
}

static rnn_status fit_arrays(rnn_model *m, const call_data *d, const rnn_fit_options *o,
                             rnn_history *history) {
    rnn_status st;
    if (o->epochs < 0 || o->batch_size <= 0)
        return rnn__fail(RNN_ERR_ARGUMENT, "epochs must be >= 0 and batch_size > 0 (got %d, %d)",
                         o->epochs, o->batch_size);
    if (!(o->validation_split >= 0.0f && o->validation_split < 1.0f))
        return rnn__fail(RNN_ERR_ARGUMENT, "validation_split must be in [0, 1), got %g",
                         (double)o->validation_split);
    const int64_t N = d->n;
    /* Keras: split_at = floor(N * (1 - validation_split)); validation is the tail, unshuffled. */
    int64_t split = o->validation_split > 0 ? (int64_t)floor((double)N * (1.0 - o->validation_split)) : N;
    if (o->validation_split > 0 && (split == 0 || split == N))
        return rnn__fail(RNN_ERR_ARGUMENT,
                         "validation_split=%g leaves %s samples out of %lld: too few samples",
                         (double)o->validation_split, split == 0 ? "no training" : "no validation",
                         (long long)N);
    if ((st = check_stateful_batches(m, split, o->batch_size))) return st;
    if (split < N && (st = check_stateful_batches(m, N - split, o->batch_size))) return st;
    int64_t bs = o->batch_size < split ? o->batch_size : split;
    if ((st = plan_batch(m, d, bs, 1))) return st;
    batch_provider bp = {0};
    bp.batches = (split + o->batch_size - 1) / o->batch_size;
    bp.has_validation = split < N;
    bp.begin_epoch = arrays_begin_epoch;
    bp.get = arrays_get;
    bp.validate = arrays_validate;
    bp.d = d;
    bp.split = split;
    bp.n = N;
    bp.batch_size = o->batch_size;
    if (o->shuffle && !(bp.order = malloc(sizeof(int64_t) * (size_t)split)))
        return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    st = fit_loop(m, &bp, o, history);
    free(bp.order);
    return st;
}

/* ---- a caller's batch source */

/* Fetches batch k from a source and checks it like any fit data. */
static rnn_status source_batch(rnn_model *m, const rnn_batch_source *src, int64_t k,
                               rnn_tensor *xb, rnn_tensor *yb, call_data *d) {
    memset(xb, 0, sizeof *xb * RNN_MODEL_MAX_IO);
    memset(yb, 0, sizeof *yb * RNN_MODEL_MAX_IO);
    rnn_status st = src->get(src->user, k, xb, yb);
    if (st)
        return rnn__fail(st, "the batch source failed on batch %lld%s%s", (long long)k,
                         rnn_last_error()[0] ? ": " : "", rnn_last_error());
    memset(d, 0, sizeof *d);
    if ((st = check_x(m, xb, m->n_inputs, d))) return st;
    if (yb && (st = check_y(m, yb, m->n_outputs, d))) return st;
    if ((st = check_stateful_batches(m, d->n, (int)d->n))) return st;
    return plan_batch(m, d, d->n, 0);
}

typedef struct {
    batch_provider base;
    rnn_tensor x[RNN_MODEL_MAX_IO], y[RNN_MODEL_MAX_IO];
    call_data d;
    int64_t *order;
} source_provider;

static rnn_status source_begin_epoch(batch_provider *p, rnn_model *m) {
    source_provider *sp = (source_provider *)p;
    if (!sp->order) return RNN_OK;
    /* Keras shuffles the order of a Sequence's batches when shuffle=True. */
    for (int64_t i = 0; i < p->batches; i++) sp->order[i] = i;
    for (int64_t i = p->batches - 1; i > 0; i--) {
        int64_t j = (int64_t)rnn__rng_below(&m->rng, (uint64_t)(i + 1));
        int64_t t = sp->order[i]; sp->order[i] = sp->order[j]; sp->order[j] = t;
    }
    return RNN_OK;
}

static rnn_status source_get(batch_provider *p, rnn_model *m, int64_t k, rnn_tensor *xb,
                             const float **targets, int64_t *count) {
    source_provider *sp = (source_provider *)p;
    int64_t idx = sp->order ? sp->order[k] : k;
    rnn_status st = source_batch(m, p->src, idx, sp->x, sp->y, &sp->d);
    if (st) return st;
    for (int i = 0; i < m->n_inputs; i++) xb[i] = sp->x[i];
    for (int i = 0; i < m->n_outputs; i++) targets[i] = sp->y[i].data;
    *count = sp->d.n;
    if (k == p->batches - 1 && p->src->on_epoch_end) p->src->on_epoch_end(p->src->user);
    return RNN_OK;
}

/* Mean loss and metrics over every batch of a source, weighted by batch size. */
static rnn_status evaluate_source(rnn_model *m, const rnn_batch_source *src, double *loss,
                                  double *metrics) {
    rnn_run_ctx ctx = {RNN_MODE_PREDICT, &m->rng};
    metric_sums ms = {{0}, 0};
    double total = 0, seen = 0;
    for (int64_t k = 0; k < src->batches; k++) {
        rnn_tensor x[RNN_MODEL_MAX_IO], y[RNN_MODEL_MAX_IO];
        call_data d;
        rnn_status st = source_batch(m, src, k, x, y, &d);
        if (st || (st = rnn__model_forward(m, x, &ctx))) return st;
        const float *targets[RNN_MODEL_MAX_IO];
        for (int i = 0; i < m->n_outputs; i++) targets[i] = y[i].data;
        total += current_loss(m, targets, 0) * (double)d.n;
        seen += (double)d.n;
        accumulate_metrics(m, targets[0], &ms);
    }
    *loss = seen ? total / seen : 0;
    if (metrics)
        for (int k = 0; k < m->n_metrics; k++) metrics[k] = ms.rows ? ms.correct[k] / ms.rows : 0;
    return RNN_OK;
}

static rnn_status source_validate(batch_provider *p, rnn_model *m, double *loss, double *metrics) {
    return evaluate_source(m, p->val_src, loss, metrics);
}

static rnn_status check_source(const rnn_batch_source *src) {
    if (!src || !src->get || src->batches <= 0)
        return rnn__fail(RNN_ERR_ARGUMENT, "a batch source needs get() and batches > 0");
    return RNN_OK;
}

rnn_status rnn_fit_source(rnn_model *m, const rnn_batch_source *train,
                          const rnn_batch_source *validation, const rnn_fit_options *options,
                          rnn_history *history) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_fit_source: model is NULL");
    if (history) memset(history, 0, sizeof *history);
    rnn_fit_options o = options ? *options : rnn_fit_defaults();
    rnn_status st;
    if ((st = need_compiled(m)) || (st = check_source(train)) ||
        (validation && (st = check_source(validation))))
        return rnn__model_fail(m, st);
    if (o.epochs < 0) return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "epochs must be >= 0"));
    source_provider sp;
    memset(&sp, 0, sizeof sp);
    sp.base.batches = train->batches;
    sp.base.has_validation = validation != NULL;
    sp.base.begin_epoch = source_begin_epoch;
    sp.base.get = source_get;
    sp.base.validate = source_validate;
    sp.base.src = train;
    sp.base.val_src = validation;
    /* A stateful model reads its source in order: shuffling would break the carried state. */
    if (o.shuffle && !rnn__model_stateful_batch(m) &&
        !(sp.order = malloc(sizeof(int64_t) * (size_t)train->batches)))
        return rnn__model_fail(m, rnn__fail(RNN_ERR_MEMORY, "out of memory"));
    st = fit_loop(m, &sp.base, &o, history);
    free(sp.order);
    if (st) {
        if (history) rnn_history_free(history);
        return rnn__model_fail(m, st);
    }
    return RNN_OK;
}

rnn_status rnn_evaluate_source(rnn_model *m, const rnn_batch_source *src, double *loss,
                               double *metrics) {
    if (!m || !loss) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_evaluate_source: NULL argument");
    rnn_status st;
    if ((st = need_compiled(m)) || (st = check_source(src)) ||
        (st = evaluate_source(m, src, loss, metrics)))
        return rnn__model_fail(m, st);
    return RNN_OK;
}

rnn_status rnn_predict_source(rnn_model *m, const rnn_batch_source *src,
                              rnn_status (*sink)(void *user, int64_t batch, const rnn_tensor *y),
                              void *user) {
    if (!m || !sink) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_predict_source: NULL argument");
    rnn_status st;
    if ((st = check_source(src))) return rnn__model_fail(m, st);
    rnn_run_ctx ctx = {RNN_MODE_PREDICT, &m->rng};
    for (int64_t k = 0; k < src->batches; k++) {
        rnn_tensor x[RNN_MODEL_MAX_IO], y[RNN_MODEL_MAX_IO];
        call_data d;
        memset(x, 0, sizeof x);
        memset(y, 0, sizeof y);
        if ((st = src->get(src->user, k, x, y)))
            return rnn__model_fail(m, rnn__fail(st, "the batch source failed on batch %lld",
                                                (long long)k));
        if ((st = check_x(m, x, m->n_inputs, &d)) ||
            (st = check_stateful_batches(m, d.n, (int)d.n)) ||
            (st = rnn__model_forward(m, x, &ctx)))
            return rnn__model_fail(m, st);
        rnn_tensor outs[RNN_MODEL_MAX_IO];
        for (int i = 0; i < m->n_outputs; i++) outs[i] = *rnn__model_output(m, i);
        if ((st = sink(user, k, outs)))
            return rnn__model_fail(m, rnn__fail(st, "the prediction sink failed on batch %lld",
                                                (long long)k));
    }
    return RNN_OK;
}

rnn_status rnn_fit_multi(rnn_model *m, const rnn_tensor *x, int nx, const rnn_tensor *y, int ny,
                         const rnn_fit_options *options, rnn_history *history) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_fit: model is NULL");
    if (history) memset(history, 0, sizeof *history);
    rnn_fit_options o = options ? *options : rnn_fit_defaults();
    call_data d = {0};
    rnn_status st;
    if (!(st = need_compiled(m)) && !(st = check_x(m, x, nx, &d)) && !(st = check_y(m, y, ny, &d)))
        st = fit_arrays(m, &d, &o, history);
    if (st) {
        if (history) rnn_history_free(history);
        return rnn__model_fail(m, st);
    }
    rnn__clear_error();
    return RNN_OK;
}

rnn_status rnn_fit(rnn_model *m, rnn_tensor x, rnn_tensor y, const rnn_fit_options *options,
                   rnn_history *history) {
    return rnn_fit_multi(m, &x, 1, &y, 1, options, history);
}

/* ---------------------------------------------------------------- evaluate, predict */

rnn_status rnn_evaluate_multi(rnn_model *m, const rnn_tensor *x, int nx, const rnn_tensor *y,
                              int ny, int batch_size, double *loss) {
    if (!m || !loss) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_evaluate: NULL argument");
    if (batch_size <= 0) batch_size = 32;
    call_data d = {0};
    rnn_status st;
    if ((st = need_compiled(m)) || (st = check_x(m, x, nx, &d)) || (st = check_y(m, y, ny, &d)) ||
        (st = check_stateful_batches(m, d.n, batch_size)) ||
        (st = evaluate_range(m, &d, 0, d.n, batch_size, loss, NULL)))
        return rnn__model_fail(m, st);
    return RNN_OK;
}

rnn_status rnn_evaluate_metrics(rnn_model *m, rnn_tensor x, rnn_tensor y, int batch_size,
                                double *loss, double *metrics) {
    if (!m || !loss) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_evaluate: NULL argument");
    if (batch_size <= 0) batch_size = 32;
    call_data d = {0};
    rnn_status st;
    if ((st = need_compiled(m)) || (st = check_x(m, &x, 1, &d)) || (st = check_y(m, &y, 1, &d)) ||
        (st = check_stateful_batches(m, d.n, batch_size)) ||
        (st = evaluate_range(m, &d, 0, d.n, batch_size, loss, metrics)))
        return rnn__model_fail(m, st);
    return RNN_OK;
}

rnn_status rnn_evaluate(rnn_model *m, rnn_tensor x, rnn_tensor y, int batch_size, double *loss) {
    return rnn_evaluate_multi(m, &x, 1, &y, 1, batch_size, loss);
}

static rnn_status predict_impl(rnn_model *m, const call_data *d, int batch_size, rnn_tensor *y,
                               int ny) {
    rnn_status st;
    if ((st = check_stateful_batches(m, d->n, batch_size))) return st;
    if (ny != m->n_outputs)
        return rnn__fail(RNN_ERR_ARGUMENT, "the model has %d outputs, room for %d given",
                         m->n_outputs, ny);
    const int64_t N = d->n;
    float *data[RNN_MODEL_MAX_IO] = {0};
    int64_t per[RNN_MODEL_MAX_IO];
    rnn_tensor shape[RNN_MODEL_MAX_IO];
    for (int k = 0; k < ny; k++) {
        /* Sized from the first batch's outputs: an output with unknown steps takes them from
         * the input it depends on, which need not be input 0 (frugally-deep's test model). */
        per[k] = output_per_sample(m, k, d->steps);
        shape[k].rank = 0;
    }
    rnn_run_ctx ctx = {RNN_MODE_PREDICT, &m->rng};
    for (int64_t s = 0; s < N; s += batch_size) {
        int64_t count = N - s < batch_size ? N - s : batch_size;
        rnn_tensor xb[RNN_MODEL_MAX_IO];
        for (int k = 0; k < m->n_inputs; k++)
            xb[k] = batch_view(d->x[k].data + s * rnn__tensor_row_size(&d->x[k]), &d->x[k], count);
        st = rnn__model_forward(m, xb, &ctx);
        for (int k = 0; k < ny && !st; k++) {
            const rnn_tensor *o = rnn__model_output(m, k);
            int64_t total;
            if (s == 0) {
                per[k] = rnn__tensor_row_size(o);
                shape[k] = *o;
                if (!rnn__mul_ok(N, per[k], &total) ||
                    !(data[k] = malloc(sizeof(float) * (size_t)(total ? total : 1))))
                    st = rnn__fail(RNN_ERR_MEMORY, "out of memory for the predictions");
            }
            if (!st && rnn__tensor_row_size(o) != per[k])
                st = rnn__fail(RNN_ERR_SHAPE, "output %d changed its shape between batches", k);
            if (!st)
                memcpy(data[k] + s * per[k], o->data, sizeof(float) * (size_t)(count * per[k]));
        }
        if (st) {
            for (int k = 0; k < ny; k++) free(data[k]);
            return st;
        }
    }
    for (int k = 0; k < ny; k++) {
        rnn_shape os = rnn__model_output_shape(m, k, N, d->steps);
        memset(&y[k], 0, sizeof y[k]);
        y[k].data = data[k] ? data[k] : malloc(sizeof(float));
        if (!y[k].data) {
            for (int j = 0; j < ny; j++) free(j < k ? y[j].data : data[j]);
            return rnn__fail(RNN_ERR_MEMORY, "out of memory for the predictions");
        }
        y[k].rank = os.rank;
        for (int i = 0; i < os.rank; i++) y[k].shape[i] = shape[k].rank ? shape[k].shape[i] : os.dim[i];
        y[k].shape[0] = N;
    }
    return RNN_OK;
}

rnn_status rnn_predict_multi(rnn_model *m, const rnn_tensor *x, int nx, int batch_size,
                             rnn_tensor *y, int ny) {
    if (!m || !y) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_predict: NULL argument");
    for (int k = 0; k < ny; k++) memset(&y[k], 0, sizeof y[k]);
    if (batch_size <= 0) batch_size = 32;
    call_data d = {0};
    rnn_status st;
    if ((st = check_x(m, x, nx, &d)) || (st = predict_impl(m, &d, batch_size, y, ny)))
        return rnn__model_fail(m, st);
    return RNN_OK;
}

rnn_status rnn_predict(rnn_model *m, rnn_tensor x, int batch_size, rnn_tensor *y) {
    return rnn_predict_multi(m, &x, 1, batch_size, y, 1);
}

rnn_status rnn_predict_on_batch(rnn_model *m, rnn_tensor x, rnn_tensor *y) {
    if (!m || !y) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_predict_on_batch: NULL argument");
    if (x.rank < 1 || x.shape[0] <= 0 || x.shape[0] > INT32_MAX) {
        memset(y, 0, sizeof *y);
        return rnn__model_fail(m, rnn__fail(RNN_ERR_SHAPE, "x has zero samples"));
    }
    return rnn_predict(m, x, (int)x.shape[0], y);
}

rnn_status rnn_train_on_batch_multi(rnn_model *m, const rnn_tensor *x, int nx,
                                    const rnn_tensor *y, int ny, double *loss) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_train_on_batch: model is NULL");
    call_data d = {0};
    rnn_status st;
    if ((st = need_compiled(m)) || (st = check_x(m, x, nx, &d)) || (st = check_y(m, y, ny, &d)))
        return rnn__model_fail(m, st);
    if (d.n > INT32_MAX || (st = check_stateful_batches(m, d.n, (int)d.n)) ||
        (st = plan_batch(m, &d, d.n, 0)))
        return rnn__model_fail(m, st ? st : rnn__fail(RNN_ERR_SHAPE, "batch too large"));
    const float *targets[RNN_MODEL_MAX_IO];
    for (int k = 0; k < ny; k++) targets[k] = y[k].data;
    double value;
    if ((st = train_step(m, x, targets, &value, NULL))) return rnn__model_fail(m, st);
    if (loss) *loss = value;
    return RNN_OK;
}

rnn_status rnn_train_on_batch(rnn_model *m, rnn_tensor x, rnn_tensor y, double *loss) {
    return rnn_train_on_batch_multi(m, &x, 1, &y, 1, loss);
}

/* ---------------------------------------------------------------- gradients (tests, tools) */

rnn_status rnn__model_gradients(rnn_model *m, const rnn_tensor *x, int nx, const rnn_tensor *y,
                                int ny, rnn_run_mode mode, double *loss) {
    call_data d = {0};
    rnn_status st;
    if ((st = need_compiled(m)) || (st = check_x(m, x, nx, &d)) || (st = check_y(m, y, ny, &d)) ||
        (st = plan_batch(m, &d, d.n, 0)))
        return rnn__model_fail(m, st);
    const float *targets[RNN_MODEL_MAX_IO];
    for (int k = 0; k < ny; k++) targets[k] = y[k].data;
    rnn_run_ctx ctx = {mode, &m->rng};
    if ((st = rnn__model_forward(m, x, &ctx))) return st;
    *loss = current_loss(m, targets, 1);
    rnn__model_zero_grads(m);
    rnn__model_backward(m, m->dloss, 0);
    return RNN_OK;
}

/* ---------------------------------------------------------------- streaming */

/* What streaming works with: B parallel streams of F values per step (F = 1 for token ids). */
static rnn_status stream_sizes(rnn_model *m, const char *who, int64_t *B, int64_t *F, int *ids) {
    const rnn_shape *in = m->n_inputs == 1 ? rnn__model_input_shape(m, 0) : NULL;
    /* [batch, steps, features], or token ids [batch, steps] for a model starting with Embedding */
    *ids = in && rnn__input_is_ids(m->inputs[0]);
    if (!in || m->n_layers <= 1 || (in->rank != 3 && !*ids))
        return rnn__model_fail(m, rnn__fail(RNN_ERR_STATE,
                               "%s needs a single-input model whose input is "
                               "[batch, steps, features] or token ids [batch, steps]", who));
    *B = rnn__model_stateful_batch(m);
    if (!*B) *B = in->dim[0] > 0 ? in->dim[0] : 1;
    *F = *ids ? 1 : in->dim[2];
    return RNN_OK;
}

rnn_status rnn_predict_step(rnn_model *m, const float *x, float *y) {
    if (!m || !x || !y) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_predict_step: NULL argument");
    int64_t B, F;
    int ids;
    rnn_status st = stream_sizes(m, "rnn_predict_step", &B, &F, &ids);
    if (st) return st;
    for (int64_t i = 0; i < B * F; i++)
        if (!isfinite(x[i]))
            return rnn__model_fail(m, rnn__fail(RNN_ERR_NUMERIC, "x contains %s at index %lld",
                                                isnan(x[i]) ? "NaN" : "Inf", (long long)i));
    if ((st = rnn__model_build(m))) return st;
    rnn_layer *all[512];
    int n = rnn__model_all_layers(m, all, 512);
    for (int i = 0; i < n && i < 512; i++)
        if (rnn__layer_is_recurrent(all[i]) && (st = rnn__recurrent_ensure_state(all[i], B)))
            return rnn__model_fail(m, st);
    /* one step: [B, 1, F], or [B, 1] ids (read only) */
    rnn_tensor xt = ids ? rnn_tensor2((float *)x, B, 1) : rnn_tensor3((float *)x, B, 1, F);
    rnn_run_ctx ctx = {RNN_MODE_STREAM, &m->rng};
    if ((st = rnn__model_forward(m, &xt, &ctx))) return st;
    const rnn_tensor *out = rnn__model_output(m, 0);
    memcpy(y, out->data, sizeof(float) * (size_t)rnn_tensor_size(out));
    return RNN_OK;
}

rnn_status rnn_stream_shape(rnn_model *m, int64_t *batch, int64_t *features_in,
                            int64_t *features_out) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_stream_shape: model is NULL");
    int64_t B, F;
    int ids;
    rnn_status st = stream_sizes(m, "streaming", &B, &F, &ids);
    if (st) return st;
    rnn_shape out = rnn__model_output_shape(m, 0, B, 1);
    if (batch) *batch = B;
    if (features_in) *features_in = F;
    if (features_out) *features_out = out.dim[out.rank - 1];
    return RNN_OK;
}
