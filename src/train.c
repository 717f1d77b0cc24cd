/* compile, fit, evaluate, predict, train_on_batch, predict_on_batch and the streaming step,
 * with Keras's batching (last batch partial, validation = the last fraction before shuffling,
 * a new permutation each epoch) and its stateful rules. */
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
    int kind = rnn__loss_from_name(loss);
    if (kind < 0)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT,
                               "Could not interpret loss identifier: %s (supported: "
                               "mean_squared_error/mse, mean_absolute_error/mae)",
                               loss ? loss : "NULL"));
    rnn_status st = rnn__optimizer_check(optimizer);
    if (st != RNN_OK) return rnn__model_fail(m, st);
    if (m->n_layers == 0)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_STATE, "the model has no layers to compile"));
    st = rnn__model_build(m);
    if (st != RNN_OK) return st;
    m->loss = (rnn_loss_kind)kind;
    m->optimizer = *optimizer;
    m->iterations = 0;
    memset(m->opt_m, 0, sizeof(float) * (size_t)m->n_params);
    memset(m->opt_v, 0, sizeof(float) * (size_t)m->n_params);
    m->compiled = 1;
    return RNN_OK;
}

rnn_status rnn_compile(rnn_model *m, const char *loss, const char *optimizer) {
    rnn_optimizer o;
    if (optimizer && (!strcmp(optimizer, "adam") || !strcmp(optimizer, "Adam")))
        o = rnn_adam_defaults();
    else if (optimizer && (!strcmp(optimizer, "sgd") || !strcmp(optimizer, "SGD")))
        o = rnn_sgd_defaults();
    else
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT,
                               "Could not interpret optimizer identifier: %s (supported: adam, "
                               "sgd; rnn_compile_with takes explicit settings)",
                               optimizer ? optimizer : "NULL"));
    return rnn_compile_with(m, loss, &o);
}

/* ---------------------------------------------------------------- argument checks */

/* Checks x against the model's input: rank, known dimensions, size and finiteness. */
static rnn_status check_x(rnn_model *m, const rnn_tensor *x) {
    if (!m->has_input || m->n_layers == 0)
        return rnn__fail(RNN_ERR_STATE, "the model has no layers yet");
    const rnn_shape *in = &m->input;
    if (x->rank != in->rank) {
        char s[96];
        rnn__shape_format(in, s, sizeof s);
        return rnn__fail(RNN_ERR_SHAPE,
                         "x has rank %d but the model expects rank %d input of shape %s%s",
                         x->rank, in->rank, s,
                         in->rank == 3 ? " ([samples, time steps, features])" : "");
    }
    if (!x->data) return rnn__fail(RNN_ERR_ARGUMENT, "x has no data (NULL)");
    if (x->shape[0] <= 0) return rnn__fail(RNN_ERR_SHAPE, "x has zero samples");
    if (in->rank == 3 && x->shape[1] <= 0)
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
    int64_t n = rnn_tensor_size(x);
    /* 2^34 floats (64 GiB) bounds one input array: beyond that the dimensions are a mistake,
     * and reading them would run past any real buffer. */
    if (n <= 0 || n > ((int64_t)1 << 34))
        return rnn__fail(RNN_ERR_MEMORY, "x's dimensions (%lld, %lld, ...) are too large: the "
                         "element count overflows or exceeds 2^34", (long long)x->shape[0],
                         (long long)x->shape[1]);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x->data[i]))
            return rnn__fail(RNN_ERR_NUMERIC, "x contains %s at flat index %lld",
                             isnan(x->data[i]) ? "NaN" : "Inf", (long long)i);
    return RNN_OK;
}

/* Values per sample in the model's output for inputs with `steps` steps. */
static int64_t output_per_sample(const rnn_model *m, int64_t steps) {
    rnn_shape s = rnn__model_output_shape(m, 1, steps);
    int64_t n = 1;
    for (int i = 1; i < s.rank; i++) n *= s.dim[i];
    return n;
}

static rnn_status check_y(rnn_model *m, const rnn_tensor *x, const rnn_tensor *y) {
    int64_t steps = x->rank == 3 ? x->shape[1] : 0;
    rnn_shape out = rnn__model_output_shape(m, x->shape[0], steps);
    char s[96];
    rnn__shape_format(&out, s, sizeof s);
    if (!y->data) return rnn__fail(RNN_ERR_ARGUMENT, "y has no data (NULL)");
    if (y->rank < 1 || y->rank > RNN_MAX_RANK || y->shape[0] != x->shape[0])
        return rnn__fail(RNN_ERR_SHAPE, "y has %lld samples but x has %lld",
                         y->rank >= 1 ? (long long)y->shape[0] : 0LL, (long long)x->shape[0]);
    /* Keras accepts y with the output's shape, or without a trailing 1 ((n,) for (n, 1)). */
    int same = y->rank == out.rank, squeezed = y->rank == out.rank - 1 && out.dim[out.rank - 1] == 1;
    for (int i = 1; same && i < out.rank; i++) same = y->shape[i] == out.dim[i];
    for (int i = 1; squeezed && i < y->rank; i++) squeezed = y->shape[i] == out.dim[i];
    if (!same && !squeezed) {
        rnn_shape ys = {y->rank, {0}};
        for (int i = 0; i < y->rank; i++) ys.dim[i] = y->shape[i];
        char t[96];
        rnn__shape_format(&ys, t, sizeof t);
        return rnn__fail(RNN_ERR_SHAPE, "y has shape %s but the model's output has shape %s", t, s);
    }
    int64_t n = rnn_tensor_size(y);
    if (n <= 0 || n > ((int64_t)1 << 34))
        return rnn__fail(RNN_ERR_MEMORY, "y's dimensions are too large");
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(y->data[i]))
            return rnn__fail(RNN_ERR_NUMERIC, "y contains %s at flat index %lld",
                             isnan(y->data[i]) ? "NaN" : "Inf", (long long)i);
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
static rnn_status plan_batch(rnn_model *m, int64_t batch, int64_t x_per, int64_t y_per) {
    int64_t nx, ny;
    if (!rnn__mul_ok(batch, x_per, &nx) || !rnn__mul_ok(batch, y_per, &ny))
        return rnn__fail(RNN_ERR_MEMORY, "batch of %lld samples is too large", (long long)batch);
    rnn__ws_begin(&m->ws);
    rnn__ws_want(&m->ws, &m->batch_x, nx);
    rnn__ws_want(&m->ws, &m->batch_y, ny);
    rnn__ws_want(&m->ws, &m->dloss, ny);
    if (rnn__ws_commit(&m->ws) != 0) return rnn__fail(RNN_ERR_MEMORY, "out of memory for a batch");
    return RNN_OK;
}

/* Copies rows idx[0..count) of src (rows of `per` floats) into dst. */
static void gather(float *dst, const float *src, const int64_t *idx, int64_t start, int64_t count,
                   int64_t per) {
    for (int64_t i = 0; i < count; i++)
        memcpy(dst + i * per, src + (idx ? idx[start + i] : start + i) * per,
               sizeof(float) * (size_t)per);
}

static rnn_tensor batch_view(float *data, const rnn_tensor *x, int64_t count) {
    rnn_tensor t = *x;
    t.data = data;
    t.shape[0] = count;
    return t;
}

/* One optimizer step on the batch (xb, yb): loss before the update in *loss. */
static rnn_status train_step(rnn_model *m, const rnn_tensor *xb, const float *yb, int64_t y_count,
                             double *loss) {
    const rnn_tensor *out;
    rnn_status st = rnn__model_forward(m, xb, RNN_MODE_TRAIN, &out);
    if (st != RNN_OK) return st;
    double sum = rnn__loss_sum(m->loss, out->data, yb, y_count);
    double value = sum / (double)y_count;
    if (!isfinite(value))
        return rnn__fail(RNN_ERR_NUMERIC, "the loss is %s: training stopped before the update "
                         "(iteration %lld)", isnan(value) ? "NaN" : "Inf",
                         (long long)m->iterations);
    rnn__loss_grad(m->loss, out->data, yb, y_count, (double)y_count, m->dloss);
    memset(m->grads, 0, sizeof(float) * (size_t)m->n_params);
    rnn__model_backward(m, xb, m->dloss);
    for (int64_t i = 0; i < m->n_params; i++)
        if (!isfinite(m->grads[i]))
            return rnn__fail(RNN_ERR_NUMERIC, "a gradient is not finite: the update was not "
                             "applied (iteration %lld)", (long long)m->iterations);
    rnn__optimizer_apply(&m->optimizer, m->params, m->grads, m->opt_m, m->opt_v, m->n_params,
                         m->iterations + 1);
    m->iterations++;
    *loss = value;
    return RNN_OK;
}

/* Mean loss over samples [begin, end) in order, batch by batch, without updates. */
static rnn_status evaluate_range(rnn_model *m, const rnn_tensor *x, const rnn_tensor *y,
                                 int64_t begin, int64_t end, int batch_size, double *loss) {
    int64_t steps = x->rank == 3 ? x->shape[1] : 0;
    int64_t x_per = rnn_tensor_size(x) / x->shape[0], y_per = output_per_sample(m, steps);
    double total = 0.0;
    for (int64_t s = begin; s < end; s += batch_size) {
        int64_t count = end - s < batch_size ? end - s : batch_size;
        rnn_tensor xb = batch_view(x->data + s * x_per, x, count);
        const rnn_tensor *out;
        rnn_status st = rnn__model_forward(m, &xb, RNN_MODE_PREDICT, &out);
        if (st != RNN_OK) return st;
        total += rnn__loss_sum(m->loss, out->data, y->data + s * y_per, count * y_per);
    }
    *loss = total / ((double)(end - begin) * (double)y_per);
    return RNN_OK;
}

/* ---------------------------------------------------------------- public calls */

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

static rnn_status fit_impl(rnn_model *m, rnn_tensor x, rnn_tensor y, const rnn_fit_options *o,
                           rnn_history *history) {
    rnn_status st;
    if ((st = need_compiled(m)) || (st = check_x(m, &x)) || (st = check_y(m, &x, &y))) return st;
    if (o->epochs < 0 || o->batch_size <= 0)
        return rnn__fail(RNN_ERR_ARGUMENT, "epochs must be >= 0 and batch_size > 0 (got %d, %d)",
                         o->epochs, o->batch_size);
    if (!(o->validation_split >= 0.0f && o->validation_split < 1.0f))
        return rnn__fail(RNN_ERR_ARGUMENT, "validation_split must be in [0, 1), got %g",
                         (double)o->validation_split);
    const int64_t N = x.shape[0];
    /* Keras: split_at = floor(N * (1 - validation_split)); validation is the tail, unshuffled. */
    int64_t split = o->validation_split > 0 ? (int64_t)floor((double)N * (1.0 - o->validation_split)) : N;
    if (o->validation_split > 0 && (split == 0 || split == N))
        return rnn__fail(RNN_ERR_ARGUMENT,
                         "validation_split=%g leaves %s samples out of %lld: too few samples",
                         (double)o->validation_split, split == 0 ? "no training" : "no validation",
                         (long long)N);
    if ((st = check_stateful_batches(m, split, o->batch_size))) return st;
    if (split < N && (st = check_stateful_batches(m, N - split, o->batch_size))) return st;

    int64_t steps = x.rank == 3 ? x.shape[1] : 0;
    int64_t x_per = rnn_tensor_size(&x) / N, y_per = output_per_sample(m, steps);
    int64_t bs = o->batch_size < split ? o->batch_size : split;
    if ((st = plan_batch(m, bs, x_per, y_per))) return st;
    int64_t *order = o->shuffle ? malloc(sizeof(int64_t) * (size_t)split) : NULL;
    if (o->shuffle && !order) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    if (history) {
        memset(history, 0, sizeof *history);
        history->loss = calloc((size_t)(o->epochs ? o->epochs : 1), sizeof(double));
        history->val_loss = split < N ? calloc((size_t)(o->epochs ? o->epochs : 1), sizeof(double)) : NULL;
        if (!history->loss || (split < N && !history->val_loss)) {
            rnn_history_free(history);
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
        for (int64_t k = 0; k < batches; k++) {
            int64_t start = k * o->batch_size;
            int64_t count = split - start < o->batch_size ? split - start : o->batch_size;
            gather(m->batch_x, x.data, order, start, count, x_per);
            gather(m->batch_y, y.data, order, start, count, y_per);
            rnn_tensor xb = batch_view(m->batch_x, &x, count);
            double loss;
            st = train_step(m, &xb, m->batch_y, count * y_per, &loss);
            if (st != RNN_OK) {
                if (o->verbose) fputc('\n', bar.out);
                free(order);
                return st;
            }
            running += loss * (double)count; /* Keras: mean weighted by batch size */
            rnn__progress_step(&bar, k + 1, running / (double)(start + count));
        }
        double epoch_loss = running / (double)split, val = NAN;
        if (split < N && (st = evaluate_range(m, &x, &y, split, N, o->batch_size, &val))) {
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

rnn_status rnn_fit(rnn_model *m, rnn_tensor x, rnn_tensor y, const rnn_fit_options *options,
                   rnn_history *history) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_fit: model is NULL");
    if (history) memset(history, 0, sizeof *history);
    rnn_fit_options o = options ? *options : rnn_fit_defaults();
    rnn_status st = fit_impl(m, x, y, &o, history);
    if (st != RNN_OK) {
        if (history) rnn_history_free(history);
        return rnn__model_fail(m, st);
    }
    rnn__clear_error();
    return RNN_OK;
}

rnn_status rnn_evaluate(rnn_model *m, rnn_tensor x, rnn_tensor y, int batch_size, double *loss) {
    if (!m || !loss) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_evaluate: NULL argument");
    rnn_status st;
    if (batch_size <= 0) batch_size = 32;
    if ((st = need_compiled(m)) || (st = check_x(m, &x)) || (st = check_y(m, &x, &y)) ||
        (st = check_stateful_batches(m, x.shape[0], batch_size)) ||
        (st = evaluate_range(m, &x, &y, 0, x.shape[0], batch_size, loss)))
        return rnn__model_fail(m, st);
    return RNN_OK;
}

static rnn_status predict_impl(rnn_model *m, rnn_tensor x, int batch_size, rnn_tensor *y) {
    rnn_status st;
    if ((st = check_x(m, &x)) || (st = check_stateful_batches(m, x.shape[0], batch_size)))
        return st;
    const int64_t N = x.shape[0], steps = x.rank == 3 ? x.shape[1] : 0;
    const int64_t x_per = rnn_tensor_size(&x) / N, y_per = output_per_sample(m, steps);
    int64_t total;
    if (!rnn__mul_ok(N, y_per, &total)) return rnn__fail(RNN_ERR_MEMORY, "output too large");
    float *data = malloc(sizeof(float) * (size_t)(total ? total : 1));
    if (!data) return rnn__fail(RNN_ERR_MEMORY, "out of memory for the predictions");
    for (int64_t s = 0; s < N; s += batch_size) {
        int64_t count = N - s < batch_size ? N - s : batch_size;
        rnn_tensor xb = batch_view(x.data + s * x_per, &x, count);
        const rnn_tensor *out;
        if ((st = rnn__model_forward(m, &xb, RNN_MODE_PREDICT, &out))) {
            free(data);
            return st;
        }
        memcpy(data + s * y_per, out->data, sizeof(float) * (size_t)(count * y_per));
    }
    rnn_shape os = rnn__model_output_shape(m, N, steps);
    memset(y, 0, sizeof *y);
    y->data = data;
    y->rank = os.rank;
    for (int i = 0; i < os.rank; i++) y->shape[i] = os.dim[i];
    return RNN_OK;
}

rnn_status rnn_predict(rnn_model *m, rnn_tensor x, int batch_size, rnn_tensor *y) {
    if (!m || !y) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_predict: NULL argument");
    memset(y, 0, sizeof *y);
    if (batch_size <= 0) batch_size = 32;
    rnn_status st = predict_impl(m, x, batch_size, y);
    return st ? rnn__model_fail(m, st) : RNN_OK;
}

rnn_status rnn_predict_on_batch(rnn_model *m, rnn_tensor x, rnn_tensor *y) {
    if (!m || !y) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_predict_on_batch: NULL argument");
    memset(y, 0, sizeof *y);
    if (x.rank < 1 || x.shape[0] <= 0 || x.shape[0] > INT32_MAX)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_SHAPE, "x has zero samples"));
    rnn_status st = predict_impl(m, x, (int)x.shape[0], y);
    return st ? rnn__model_fail(m, st) : RNN_OK;
}

rnn_status rnn_train_on_batch(rnn_model *m, rnn_tensor x, rnn_tensor y, double *loss) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_train_on_batch: model is NULL");
    rnn_status st;
    if ((st = need_compiled(m)) || (st = check_x(m, &x)) || (st = check_y(m, &x, &y)) ||
        (st = check_stateful_batches(m, x.shape[0], (int)x.shape[0])))
        return rnn__model_fail(m, st);
    int64_t steps = x.rank == 3 ? x.shape[1] : 0;
    int64_t y_count = x.shape[0] * output_per_sample(m, steps);
    if ((st = plan_batch(m, x.shape[0], 0, y_count / x.shape[0]))) return rnn__model_fail(m, st);
    double value;
    if ((st = train_step(m, &x, y.data, y_count, &value))) return rnn__model_fail(m, st);
    if (loss) *loss = value;
    return RNN_OK;
}

rnn_status rnn_predict_step(rnn_model *m, const float *x, float *y) {
    if (!m || !x || !y) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_predict_step: NULL argument");
    if (!m->has_input || m->n_layers == 0 || m->input.rank != 3)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_STATE,
                               "rnn_predict_step needs a model whose input is "
                               "[batch, steps, features]"));
    int64_t B = rnn__model_stateful_batch(m);
    if (!B) B = m->input.dim[0] > 0 ? m->input.dim[0] : 1;
    const int64_t F = m->input.dim[2];
    for (int64_t i = 0; i < B * F; i++)
        if (!isfinite(x[i]))
            return rnn__model_fail(m, rnn__fail(RNN_ERR_NUMERIC, "x contains %s at index %lld",
                                                isnan(x[i]) ? "NaN" : "Inf", (long long)i));
    rnn_status st = rnn__model_build(m);
    if (st) return st;
    for (int i = 0; i < m->n_layers; i++) {
        rnn_layer *L = m->layers[i];
        if (rnn__layer_is_recurrent(L) && (st = rnn__recurrent_ensure_state(L, B)))
            return rnn__model_fail(m, st);
    }
    rnn_tensor xt = rnn_tensor3((float *)x, B, 1, F); /* read only */
    const rnn_tensor *out;
    if ((st = rnn__model_forward(m, &xt, RNN_MODE_STREAM, &out))) return st;
    memcpy(y, out->data, sizeof(float) * (size_t)rnn_tensor_size(out));
    return RNN_OK;
}

rnn_status rnn_set_threads(int threads) {
    if (threads < 0) return rnn__fail(RNN_ERR_ARGUMENT, "threads must be >= 0, got %d", threads);
    if (threads > 0) rnn__blas_set_threads(threads);
    return RNN_OK;
}
