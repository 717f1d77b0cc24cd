/* compile, fit, evaluate, predict, train_on_batch, predict_on_batch and the streaming step,
 * with Keras's batching (last batch partial, validation = the last fraction before shuffling,
 * a new permutation each epoch) and its stateful rules. Models may have several inputs and
 * outputs; the single-array calls are the one-input, one-output case. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "layers/recurrent.h"
#include "losses.h"
#include "model.h"
#include "optim.h"
#include "progress.h"

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
     * reading them would run past any real buffer. */
    if (n > ((int64_t)1 << 34) || (n == 0 && t->shape[0] > 0 && t->rank > 1 &&
                                   t->shape[0] > ((int64_t)1 << 34)))
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

/* One optimizer step on the batch xb -> targets: loss before the update in *loss. */
static rnn_status train_step(rnn_model *m, const rnn_tensor *xb, const float *const *targets,
                             double *loss) {
    rnn_run_ctx ctx = {RNN_MODE_TRAIN, &m->rng};
    rnn_status st = rnn__model_forward(m, xb, &ctx);
    if (st) return st;
    double value = current_loss(m, targets, 1);
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
                                 "not applied (iteration %lld)", wt->name,
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
        off += wt->size;
    }
    m->iterations++;
    *loss = value;
    return RNN_OK;
}

/* Mean loss over samples [begin, end) in order, batch by batch, without updates (Keras: the
 * batch losses averaged with the batch sizes as weights). */
static rnn_status evaluate_range(rnn_model *m, const call_data *d, int64_t begin, int64_t end,
                                 int batch_size, double *loss) {
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
    }
    *loss = total / (double)(end - begin);
    return RNN_OK;
}

/* ---------------------------------------------------------------- fit */

rnn_fit_options rnn_fit_defaults(void) {
    rnn_fit_options o = {1, 32, 1, 0.0f, 1, NULL};
    return o;
}

void rnn_history_free(rnn_history *h) {
    if (!h) return;
    free(h->loss);
    free(h->val_loss);
    memset(h, 0, sizeof *h);
}

static rnn_status need_compiled(rnn_model *m) {
    if (!m->compiled)
        return rnn__fail(RNN_ERR_STATE, "You must call compile() before using the model "
                         "(rnn_compile)");
    return RNN_OK;
}

static rnn_status fit_impl(rnn_model *m, const call_data *d, const rnn_fit_options *o,
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
    int64_t *order = o->shuffle ? malloc(sizeof(int64_t) * (size_t)split) : NULL;
    if (o->shuffle && !order) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    if (history) {
        size_t n = (size_t)(o->epochs ? o->epochs : 1);
        history->loss = calloc(n, sizeof(double));
        history->val_loss = split < N ? calloc(n, sizeof(double)) : NULL;
        if (!history->loss || (split < N && !history->val_loss)) {
            free(order);
            return rnn__fail(RNN_ERR_MEMORY, "out of memory");
        }
    }
    const int64_t batches = (split + o->batch_size - 1) / o->batch_size;
    for (int epoch = 0; epoch < o->epochs; epoch++) {
        if (order) {
            for (int64_t i = 0; i < split; i++) order[i] = i;
            for (int64_t i = split - 1; i > 0; i--) { /* Fisher-Yates */
                int64_t j = (int64_t)rnn__rng_below(&m->rng, (uint64_t)(i + 1));
                int64_t t = order[i]; order[i] = order[j]; order[j] = t;
            }
        }
        rnn_progress bar;
        rnn__progress_begin(&bar, o->out, o->verbose, epoch, o->epochs, batches);
        double running = 0.0;
        for (int64_t b = 0; b < batches; b++) {
            int64_t start = b * o->batch_size;
            int64_t count = split - start < o->batch_size ? split - start : o->batch_size;
            rnn_tensor xb[RNN_MODEL_MAX_IO];
            const float *targets[RNN_MODEL_MAX_IO];
            for (int k = 0; k < m->n_inputs; k++) {
                int64_t per = rnn__tensor_row_size(&d->x[k]);
                gather(m->batch_x[k], d->x[k].data, order, start, count, per);
                xb[k] = batch_view(m->batch_x[k], &d->x[k], count);
            }
            for (int k = 0; k < m->n_outputs; k++) {
                gather(m->batch_y[k], d->y[k].data, order, start, count,
                       target_per_sample(m, k, d->steps));
                targets[k] = m->batch_y[k];
            }
            double loss;
            if ((st = train_step(m, xb, targets, &loss))) {
                if (o->verbose) fputc('\n', bar.out);
                free(order);
                return st;
            }
            running += loss * (double)count; /* Keras: mean weighted by batch size */
            rnn__progress_step(&bar, b + 1, running / (double)(start + count));
        }
        double epoch_loss = running / (double)split, val = NAN;
        if (split < N && (st = evaluate_range(m, d, split, N, o->batch_size, &val))) {
            free(order);
            return st;
        }
        rnn__progress_end(&bar, epoch_loss, val);
        if (history) {
            history->loss[epoch] = epoch_loss;
            if (history->val_loss) history->val_loss[epoch] = val;
            history->epochs = epoch + 1;
        }
    }
    free(order);
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
        st = fit_impl(m, &d, &o, history);
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
        (st = evaluate_range(m, &d, 0, d.n, batch_size, loss)))
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
    for (int k = 0; k < ny; k++) {
        int64_t total;
        per[k] = output_per_sample(m, k, d->steps);
        if (!rnn__mul_ok(N, per[k], &total) ||
            !(data[k] = malloc(sizeof(float) * (size_t)(total ? total : 1)))) {
            for (int j = 0; j < k; j++) free(data[j]);
            return rnn__fail(RNN_ERR_MEMORY, "out of memory for the predictions");
        }
    }
    rnn_run_ctx ctx = {RNN_MODE_PREDICT, &m->rng};
    for (int64_t s = 0; s < N; s += batch_size) {
        int64_t count = N - s < batch_size ? N - s : batch_size;
        rnn_tensor xb[RNN_MODEL_MAX_IO];
        for (int k = 0; k < m->n_inputs; k++)
            xb[k] = batch_view(d->x[k].data + s * rnn__tensor_row_size(&d->x[k]), &d->x[k], count);
        if ((st = rnn__model_forward(m, xb, &ctx))) {
            for (int k = 0; k < ny; k++) free(data[k]);
            return st;
        }
        for (int k = 0; k < ny; k++)
            memcpy(data[k] + s * per[k], rnn__model_output(m, k)->data,
                   sizeof(float) * (size_t)(count * per[k]));
    }
    for (int k = 0; k < ny; k++) {
        rnn_shape os = rnn__model_output_shape(m, k, N, d->steps);
        memset(&y[k], 0, sizeof y[k]);
        y[k].data = data[k];
        y[k].rank = os.rank;
        for (int i = 0; i < os.rank; i++) y[k].shape[i] = os.dim[i];
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
    if ((st = train_step(m, x, targets, &value))) return rnn__model_fail(m, st);
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

rnn_status rnn_predict_step(rnn_model *m, const float *x, float *y) {
    if (!m || !x || !y) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_predict_step: NULL argument");
    if (m->n_inputs != 1 || m->n_layers <= 1 || rnn__model_input_shape(m, 0)->rank != 3)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_STATE,
                               "rnn_predict_step needs a single-input model whose input is "
                               "[batch, steps, features]"));
    const rnn_shape *in = rnn__model_input_shape(m, 0);
    int64_t B = rnn__model_stateful_batch(m);
    if (!B) B = in->dim[0] > 0 ? in->dim[0] : 1;
    const int64_t F = in->dim[2];
    for (int64_t i = 0; i < B * F; i++)
        if (!isfinite(x[i]))
            return rnn__model_fail(m, rnn__fail(RNN_ERR_NUMERIC, "x contains %s at index %lld",
                                                isnan(x[i]) ? "NaN" : "Inf", (long long)i));
    rnn_status st = rnn__model_build(m);
    if (st) return st;
    rnn_layer *all[512];
    int n = rnn__model_all_layers(m, all, 512);
    for (int i = 0; i < n && i < 512; i++)
        if (rnn__layer_is_recurrent(all[i]) && (st = rnn__recurrent_ensure_state(all[i], B)))
            return rnn__model_fail(m, st);
    rnn_tensor xt = rnn_tensor3((float *)x, B, 1, F); /* read only */
    rnn_run_ctx ctx = {RNN_MODE_STREAM, &m->rng};
    if ((st = rnn__model_forward(m, &xt, &ctx))) return st;
    const rnn_tensor *out = rnn__model_output(m, 0);
    memcpy(y, out->data, sizeof(float) * (size_t)rnn_tensor_size(out));
    return RNN_OK;
}

rnn_status rnn_set_threads(int threads) {
    if (threads < 0) return rnn__fail(RNN_ERR_ARGUMENT, "threads must be >= 0, got %d", threads);
    if (threads > 0) rnn__blas_set_threads(threads);
    return RNN_OK;
}
