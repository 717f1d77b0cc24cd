/* What fit, evaluate, predict and train_on_batch accept: the data description (rnn_data) and
 * its helpers, the checks of x and y against the model (shapes, finite values, class ids,
 * stateful batch sizes), the batch buffers, and one batch from a caller's batch source checked
 * the same way. */
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "context.h"
#include "kernels/team.h"
#include "losses.h"
#include "train/train.h"

/* ---------------------------------------------------------------- the data description */

rnn_data rnn_data_xy(rnn_tensor x, rnn_tensor y) {
    rnn_data d;
    memset(&d, 0, sizeof d);
    d.x = x;
    d.y = y;
    return d;
}

rnn_data rnn_data_x(rnn_tensor x) {
    rnn_data d;
    memset(&d, 0, sizeof d);
    d.x = x;
    return d;
}

rnn_data rnn_data_arrays(const rnn_tensor *x, int n_x, const rnn_tensor *y, int n_y) {
    rnn_data d;
    memset(&d, 0, sizeof d);
    d.xs = x;
    d.n_x = n_x;
    d.ys = y;
    d.n_y = n_y;
    return d;
}

rnn_data rnn_data_source(const rnn_batch_source *source) {
    rnn_data d;
    memset(&d, 0, sizeof d);
    d.source = source;
    return d;
}

static int has_array(const rnn_tensor *t) {
    return t->data || t->rank;
}

int rnn__data_is_lists(const rnn_data *data) {
    return data->xs || data->ys || data->n_x || data->n_y;
}

rnn_status rnn__check_data_form(const rnn_data *data, const char *who) {
    int forms = (has_array(&data->x) || has_array(&data->y)) + rnn__data_is_lists(data) +
                (data->source != NULL);
    if (forms > 1)
        return rnn__fail(RNN_ERR_ARGUMENT, "%s: the data mixes arrays (x, y), lists (xs, ys) and "
                         "a batch source; give one of them", who);
    return RNN_OK;
}

/* ---------------------------------------------------------------- argument checks */

/* Blocks of a fixed size are screened first with one comparison per value and no early break
 * (loops of a constant count, which the compiler vectorises at -O2; a test per value that leaves
 * the loop at the first hit is not, and a large batch's check then took a noticeable part of
 * its forward pass, bench/README.md; a small model's training step checks its gradients and
 * weights this way too); only a block that holds one is searched value by value. */
static int finite_block(const float *p) {
    int bad = 0; /* NaN fails every comparison, Inf this one */
    for (int k = 0; k < 1024; k++) bad |= !(fabsf(p[k]) <= FLT_MAX);
    return !bad;
}
static int finite_16(const float *p) {
    int bad = 0;
    for (int k = 0; k < 16; k++) bad |= !(fabsf(p[k]) <= FLT_MAX);
    return !bad;
}

int64_t rnn__first_nonfinite(const float *p, int64_t n) {
    int64_t i = 0; /* p[0, i) is finite */
    while (i + 1024 <= n && finite_block(p + i)) i += 1024;
    while (i + 16 <= n && finite_16(p + i)) i += 16;
    for (; i < n; i++)
        if (!isfinite(p[i])) return i;
    return -1;
}

/* A large array's scan is shared by the model's team, each thread its own part: on one thread
 * the other core waited for it (B4's input of 13 MB, about 1 % of its forward pass). The parts
 * are disjoint and each finds its own first non-finite value, so the smallest of those is the
 * array's first, whatever the number of threads. */
#define TEAM_SCAN_FLOATS (1 << 18)

typedef struct {
    const float *p;
    int64_t n;
    _Atomic int64_t first; /* n: none found */
} scan_job;

static void scan_part(void *arg, int tid, int n) {
    scan_job *job = arg;
    /* parts of whole 64-byte lines */
    const int64_t lines = (job->n + 15) / 16;
    const int64_t a = lines * tid / n * 16, b = lines * (tid + 1) / n * 16;
    const int64_t end = b < job->n ? b : job->n;
    if (a >= end) return;
    const int64_t i = rnn__first_nonfinite(job->p + a, end - a);
    if (i < 0) return;
    int64_t seen = atomic_load(&job->first);
    while (a + i < seen && !atomic_compare_exchange_weak(&job->first, &seen, a + i)) {
    }
}

static int64_t first_nonfinite_shared(const rnn_model *m, const float *p, int64_t n) {
    if (n < TEAM_SCAN_FLOATS) return rnn__first_nonfinite(p, n);
    scan_job job = {p, n, n};
    rnn__team *previous = rnn__team_enter(rnn__context_team(m->context));
    if (rnn__team_size() > 1) rnn__team_run(scan_part, &job);
    else scan_part(&job, 0, 1);
    rnn__team_leave(previous);
    const int64_t first = atomic_load(&job.first);
    return first < n ? first : -1;
}

static rnn_status check_array(const rnn_model *m, const char *what, int k, const rnn_tensor *t,
                              int skip_values) {
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
    const int64_t i = skip_values ? -1 : first_nonfinite_shared(m, t->data, n);
    if (i >= 0)
        return rnn__fail(RNN_ERR_NUMERIC, "%s contains %s at flat index %lld", what,
                         isnan(t->data[i]) ? "NaN" : "Inf", (long long)i);
    return RNN_OK;
}

rnn_status rnn__check_x(rnn_model *m, const rnn_tensor *xs, int nx, call_data *d) {
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
        rnn_status st = check_array(m, "x", k, x, d->skip_values);
        if (st) return st;
    }
    return RNN_OK;
}

/* Values per sample in output k's targets. */
int64_t rnn__target_per_sample(const rnn_model *m, int k, int64_t steps) {
    rnn_shape s = rnn__model_output_shape(m, k, 1, steps);
    int64_t n = 1;
    for (int i = 1; i < s.rank - (rnn__loss_sparse_targets(m->loss.kind) ? 1 : 0); i++) n *= s.dim[i];
    return n;
}

int64_t rnn__output_per_sample(const rnn_model *m, int k, int64_t steps) {
    rnn_shape s = rnn__model_output_shape(m, k, 1, steps);
    int64_t n = 1;
    for (int i = 1; i < s.rank; i++) n *= s.dim[i];
    return n;
}

rnn_status rnn__check_y(rnn_model *m, const rnn_tensor *ys, int ny, call_data *d) {
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
        rnn_status st = check_array(m, "y", k, y, d->skip_values);
        if (st) return st;
        if (sparse && !d->skip_values) {
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
rnn_status rnn__check_stateful_batches(rnn_model *m, int64_t n, int batch_size) {
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
rnn_status rnn__plan_batch(rnn_model *m, const call_data *d, int64_t batch, int gather_x) {
    rnn__ws_begin(&m->ws);
    for (int k = 0; k < m->n_inputs; k++) {
        int64_t nx;
        if (!rnn__mul_ok(batch, gather_x ? rnn__tensor_row_size(&d->x[k]) : 0, &nx))
            return rnn__fail(RNN_ERR_MEMORY, "batch too large");
        rnn__ws_want(&m->ws, &m->batch_x[k], nx);
    }
    for (int k = 0; k < m->n_outputs; k++) {
        int64_t ny, no;
        if (!rnn__mul_ok(batch, d->y ? rnn__target_per_sample(m, k, d->steps) : 0, &ny) ||
            !rnn__mul_ok(batch, rnn__output_per_sample(m, k, d->steps), &no))
            return rnn__fail(RNN_ERR_MEMORY, "batch too large");
        rnn__ws_want(&m->ws, &m->batch_y[k], ny);
        rnn__ws_want(&m->ws, &m->dloss[k], no);
    }
    if (rnn__ws_commit(&m->ws) != 0) return rnn__fail(RNN_ERR_MEMORY, "out of memory for a batch");
    return RNN_OK;
}

rnn_tensor rnn__batch_view(float *data, const rnn_tensor *t, int64_t count) {
    rnn_tensor v = *t;
    v.data = data;
    v.owned = 0;
    v.shape[0] = count;
    return v;
}

rnn_status rnn__need_compiled(rnn_model *m) {
    if (!m->compiled)
        return rnn__fail(RNN_ERR_STATE, "You must call compile() before using the model "
                         "(rnn_compile)");
    return RNN_OK;
}

/* Fetches batch k from a source and checks it like any fit data. */
rnn_status rnn__source_batch(rnn_model *m, const rnn_batch_source *src, int64_t k,
                               rnn_tensor *xb, rnn_tensor *yb, call_data *d) {
    memset(xb, 0, sizeof *xb * RNN_MODEL_MAX_IO);
    memset(yb, 0, sizeof *yb * RNN_MODEL_MAX_IO);
    rnn_status st = src->get(src->user, k, xb, yb);
    if (st)
        return rnn__fail(st, "the batch source failed on batch %lld%s%s", (long long)k,
                         rnn_last_error()[0] ? ": " : "", rnn_last_error());
    memset(d, 0, sizeof *d);
    if ((st = rnn__check_x(m, xb, m->n_inputs, d))) return st;
    if (yb && (st = rnn__check_y(m, yb, m->n_outputs, d))) return st;
    if ((st = rnn__check_stateful_batches(m, d->n, (int)d->n))) return st;
    return rnn__plan_batch(m, d, d->n, 0);
}

rnn_status rnn__check_source(const rnn_batch_source *src) {
    if (!src || !src->get || src->batches <= 0)
        return rnn__fail(RNN_ERR_ARGUMENT, "a batch source needs get() and batches > 0");
    return RNN_OK;
}
