/* predict (arrays, one batch, a batch source with a sink), the streaming step (predict_step:
 * every recurrent layer carries its state from call to call) and the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "kernels/team.h"
#include "layers/recurrent.h"
#include "train/train.h"

/* A large batch's outputs are copied into the caller's array by the model's team, each thread
 * its own part (the array is new, so the copy also takes its pages' first faults; on one thread
 * the other core waited for it, bench/README.md). The same bytes either way. */
#define TEAM_COPY_FLOATS (1 << 18)

typedef struct {
    float *dst;
    const float *src;
    size_t n;
} copy_job;

static void copy_part(void *arg, int tid, int n) {
    const copy_job *job = arg;
    /* parts of whole 64-byte lines */
    const size_t lines = (job->n + 15) / 16;
    const size_t a = lines * (size_t)tid / (size_t)n * 16;
    const size_t b = lines * (size_t)(tid + 1) / (size_t)n * 16;
    const size_t end = b < job->n ? b : job->n;
    if (a < end) memcpy(job->dst + a, job->src + a, sizeof(float) * (end - a));
}

static void copy_outputs(rnn_model *m, float *dst, const float *src, size_t n) {
    copy_job job = {dst, src, n};
    if (n < TEAM_COPY_FLOATS) {
        copy_part(&job, 0, 1);
        return;
    }
    rnn__team *previous = rnn__team_enter(rnn__context_team(m->context));
    if (rnn__team_size() > 1) rnn__team_run(copy_part, &job);
    else copy_part(&job, 0, 1);
    rnn__team_leave(previous);
}

/* N rows of per floats for the predictions (at least one float: malloc(0) may be NULL); NULL
 * when the size overflows or memory runs out. */
static float *new_predictions(int64_t N, int64_t per) {
    int64_t total;
    if (!rnn__mul_ok(N, per, &total)) return NULL;
    return malloc(sizeof(float) * (size_t)(total ? total : 1));
}

static rnn_status predict_impl(rnn_model *m, const call_data *d, int batch_size, rnn_tensor *y,
                               int ny) {
    rnn_status st;
    if ((st = rnn__check_stateful_batches(m, d->n, batch_size))) return st;
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
        per[k] = rnn__output_per_sample(m, k, d->steps);
        shape[k].rank = 0;
    }
    rnn_run_ctx ctx = {.mode = RNN_MODE_PREDICT, .rng = &m->rng, .precision = m->precision};
    /* One output: its array made before the first batch, from the expected size, so that the
     * layer making it can write each batch's rows there (rnn_run_ctx.out); where the first
     * batch's output has another size (which the layer then did not take), it is made anew. */
    if (ny == 1 && per[0] > 0 && !(data[0] = new_predictions(N, per[0])))
        return rnn__fail(RNN_ERR_MEMORY, "out of memory for the predictions");
    for (int64_t s = 0; s < N; s += batch_size) {
        int64_t count = N - s < batch_size ? N - s : batch_size;
        rnn_tensor xb[RNN_MODEL_MAX_IO];
        for (int k = 0; k < m->n_inputs; k++)
            xb[k] = rnn__batch_view(d->x[k].data + s * rnn__tensor_row_size(&d->x[k]), &d->x[k], count);
        ctx.out = data[0] ? data[0] + s * per[0] : NULL;
        ctx.out_floats = data[0] ? count * per[0] : 0;
        st = rnn__model_forward(m, xb, &ctx);
        for (int k = 0; k < ny && !st; k++) {
            const rnn_tensor *o = rnn__model_output(m, k);
            if (s == 0) {
                if (data[k] && rnn__tensor_row_size(o) != per[k]) {
                    free(data[k]);
                    data[k] = NULL;
                }
                per[k] = rnn__tensor_row_size(o);
                shape[k] = *o;
                if (!data[k] && !(data[k] = new_predictions(N, per[k])))
                    st = rnn__fail(RNN_ERR_MEMORY, "out of memory for the predictions");
            }
            if (!st && rnn__tensor_row_size(o) != per[k])
                st = rnn__fail(RNN_ERR_SHAPE, "output %d changed its shape between batches", k);
            if (!st && o->data != data[k] + s * per[k]) /* else the layer wrote them there */
                copy_outputs(m, data[k] + s * per[k], o->data, (size_t)(count * per[k]));
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
        y[k].owned = 1;
        y[k].rank = os.rank;
        for (int i = 0; i < os.rank; i++) y[k].shape[i] = shape[k].rank ? shape[k].shape[i] : os.dim[i];
        y[k].shape[0] = N;
    }
    return RNN_OK;
}

static rnn_status predict_lists(rnn_model *m, const rnn_tensor *x, int nx, int batch_size,
                                rnn_tensor *y, int ny) {
    if (batch_size <= 0) batch_size = 32;
    call_data d = {0};
    rnn_status st;
    if ((st = rnn__check_x(m, x, nx, &d)) || (st = predict_impl(m, &d, batch_size, y, ny)))
        return rnn__model_fail(m, st);
    return RNN_OK;
}

/* The arrays of an rnn_data for predict (a batch source has its own entry point). */
static rnn_status predict_inputs(rnn_model *m, const rnn_data *data, const char *who,
                                 const rnn_tensor **x, int *nx) {
    rnn_status st;
    if ((st = rnn__check_data_form(data, who))) return st;
    if (data->source)
        return rnn__fail(RNN_ERR_ARGUMENT,
                         "%s: a batch source gives its predictions through rnn_predict_source", who);
    (void)m;
    if (rnn__data_is_lists(data)) {
        *x = data->xs;
        *nx = data->n_x;
    } else {
        *x = &data->x;
        *nx = 1;
    }
    return RNN_OK;
}

rnn_status rnn_predict(rnn_model *m, rnn_data data, int batch_size, rnn_tensor *y, int ny) {
    if (!m || !y) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_predict: NULL argument");
    for (int k = 0; k < ny; k++) memset(&y[k], 0, sizeof y[k]);
    const rnn_tensor *x;
    int nx;
    rnn_status st;
    if ((st = predict_inputs(m, &data, "rnn_predict", &x, &nx))) return rnn__model_fail(m, st);
    return predict_lists(m, x, nx, batch_size, y, ny);
}

rnn_status rnn_predict_on_batch(rnn_model *m, rnn_data data, rnn_tensor *y, int ny) {
    if (!m || !y) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_predict_on_batch: NULL argument");
    for (int k = 0; k < ny; k++) memset(&y[k], 0, sizeof y[k]);
    const rnn_tensor *x;
    int nx;
    rnn_status st;
    if ((st = predict_inputs(m, &data, "rnn_predict_on_batch", &x, &nx)))
        return rnn__model_fail(m, st);
    if (nx < 1 || x[0].rank < 1 || x[0].shape[0] <= 0 || x[0].shape[0] > INT32_MAX)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_SHAPE, "x has zero samples"));
    return predict_lists(m, x, nx, (int)x[0].shape[0], y, ny);
}

rnn_status rnn_predict_source(rnn_model *m, const rnn_batch_source *src,
                              rnn_status (*sink)(void *user, int64_t batch, const rnn_tensor *y),
                              void *user) {
    if (!m || !sink) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_predict_source: NULL argument");
    rnn_status st;
    if ((st = rnn__check_source(src))) return rnn__model_fail(m, st);
    rnn_run_ctx ctx = {.mode = RNN_MODE_PREDICT, .rng = &m->rng, .precision = m->precision};
    for (int64_t k = 0; k < src->batches; k++) {
        rnn_tensor x[RNN_MODEL_MAX_IO], y[RNN_MODEL_MAX_IO];
        call_data d = {0};
        memset(x, 0, sizeof x);
        memset(y, 0, sizeof y);
        if ((st = src->get(src->user, k, x, y)))
            return rnn__model_fail(m, rnn__fail(st, "the batch source failed on batch %lld",
                                                (long long)k));
        if ((st = rnn__check_x(m, x, m->n_inputs, &d)) ||
            (st = rnn__check_stateful_batches(m, d.n, (int)d.n)) ||
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

static int ensure_state(rnn_layer *L, void *batch) {
    return rnn__layer_is_recurrent(L) ? rnn__recurrent_ensure_state(L, *(int64_t *)batch) : RNN_OK;
}

static int set_precision(rnn_layer *L, void *precision) {
    if (rnn__layer_is_recurrent(L)) rnn__recurrent_stream_precision(L, *(rnn_precision *)precision);
    return 0;
}

static rnn_status check_finite(rnn_model *m, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return rnn__model_fail(m, rnn__fail(RNN_ERR_NUMERIC, "x contains %s at index %lld",
                                                isnan(x[i]) ? "NaN" : "Inf", (long long)i));
    return RNN_OK;
}

/* A step takes the fast path (rnn__model_stream_again) when the previous full step recorded
 * its chain and that record still holds: the sizes, the states and the layers' precision are
 * then those the full step checked and set, and the chain's plans those it decided (bench/
 * README.md, "the caller's bookkeeping"). Otherwise the full step, which records anew. */
rnn_status rnn_predict_step(rnn_model *m, const float *x, float *y) {
    if (!m || !x || !y) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_predict_step: NULL argument");
    rnn_run_ctx ctx = {.mode = RNN_MODE_STREAM, .rng = &m->rng, .precision = RNN_F32};
    rnn_status st;
    rnn_stream_plan *p = &m->stream;
    if (p->valid) {
        if ((st = check_finite(m, x, p->batch * p->features))) return st;
        const int again = rnn__model_stream_again(m, x, &ctx);
        if (again > 0) return (rnn_status)again;
        if (again == 0) {
            const rnn_tensor *out = rnn__model_output(m, 0);
            memcpy(y, out->data, sizeof(float) * (size_t)rnn_tensor_size(out));
            return RNN_OK;
        }
    }
    p->valid = p->found = 0;
    int64_t B, F;
    int ids;
    if ((st = stream_sizes(m, "rnn_predict_step", &B, &F, &ids))) return st;
    if ((st = check_finite(m, x, B * F))) return st;
    if ((st = rnn__model_build(m))) return st;
    if ((st = (rnn_status)rnn__model_walk(m, ensure_state, &B))) return rnn__model_fail(m, st);
    rnn__model_walk(m, set_precision, &m->precision);
    /* one step: [B, 1, F], or [B, 1] ids (read only) */
    rnn_tensor xt = ids ? rnn_tensor2((float *)x, B, 1) : rnn_tensor3((float *)x, B, 1, F);
    if ((st = rnn__model_forward(m, &xt, &ctx))) return st;
    if (p->found) {
        p->valid = 1;
        p->epoch = rnn__recurrent_state_epoch();
        p->precision = m->precision;
        p->batch = B;
        p->features = F;
        p->ids = ids;
    }
    const rnn_tensor *out = rnn__model_output(m, 0);
    memcpy(y, out->data, sizeof(float) * (size_t)rnn_tensor_size(out));
    return RNN_OK;
}

rnn_status rnn_set_precision(rnn_model *m, rnn_precision precision) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_set_precision: model is NULL");
    if (precision != RNN_F32 && precision != RNN_BF16 && precision != RNN_INT8)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT,
                                            "rnn_set_precision: unknown precision %d",
                                            (int)precision));
    m->precision = precision;
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
