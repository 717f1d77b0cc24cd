/* Data-parallel fit over a group of processes (rnn_fit_options.distributed), on the collectives of
 * distributed.h. Each rank holds the whole model and runs forward and backward on its rows of
 * the global batch; the loss is divided by the unmasked rows of the whole batch (exchanged after
 * the forward), so the summed gradients are those of one process on the combined batch; the
 * gradients are summed in rank order, so every rank applies the same update to the same bits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "losses.h"
#include "optim.h"
#include "train/distributed.h"

/* ---------------------------------------------------------------- the public handle */

void rnn_distributed_free(rnn_distributed *d) {
    if (!d) return;
    if (d->release) d->release(d->impl);
    free(d->grad_buf);
    free(d);
}

int rnn_distributed_rank(const rnn_distributed *d) {
    return d ? d->rank : 0;
}

int rnn_distributed_size(const rnn_distributed *d) {
    return d ? d->size : 1;
}

/* ---------------------------------------------------------------- helpers */

void rnn__dist_part(int64_t n, int part, int parts, int64_t *start, int64_t *count) {
    int64_t lo = n * part / parts, hi = n * (part + 1) / parts;
    *start = lo;
    *count = hi - lo;
}

/* Sums n values of every rank, in rank order (the same bits everywhere). */
static rnn_status sum_doubles(rnn_distributed *d, const double *in, int n, double *out) {
    double *all = malloc(sizeof(double) * (size_t)n * (size_t)d->size);
    if (!all) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    rnn_status st = d->allgather(d->impl, in, n, all);
    if (!st)
        for (int i = 0; i < n; i++) {
            double s = all[i];
            for (int r = 1; r < d->size; r++) s += all[(size_t)r * (size_t)n + (size_t)i];
            out[i] = s;
        }
    free(all);
    return st;
}

rnn_status rnn__dist_agree(rnn_distributed *d, rnn_status local) {
    double mine = (double)local, *all = malloc(sizeof(double) * (size_t)d->size);
    if (!all) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    /* This rank's message before the collective can overwrite the thread's last error. */
    char msg[RNN_ERROR_MAX];
    snprintf(msg, sizeof msg, "%s", local ? rnn_last_error() : "");
    rnn_status st = d->allgather(d->impl, &mine, 1, all);
    int first = -1;
    for (int r = 0; !st && r < d->size && first < 0; r++)
        if (all[r] != 0) first = r;
    rnn_status theirs = first >= 0 ? (rnn_status)all[first] : RNN_OK;
    free(all);
    if (st) return st;
    if (first < 0) return RNN_OK;
    if ((st = d->broadcast(d->impl, msg, sizeof msg, first))) return st;
    msg[sizeof msg - 1] = 0;
    if (first == d->rank) return rnn__fail(theirs, "%s", msg);
    return rnn__fail(theirs, "rank %d of %d failed: %s", first, d->size, msg);
}

rnn_status rnn__dist_same(rnn_distributed *d, const double *v, int n, int *same) {
    double *all = malloc(sizeof(double) * (size_t)n * (size_t)d->size);
    if (!all) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    rnn_status st = d->allgather(d->impl, v, n, all);
    *same = 1;
    for (int r = 1; r < d->size; r++)
        for (int i = 0; i < n; i++) *same &= all[(size_t)r * (size_t)n + (size_t)i] == all[i];
    free(all);
    return st;
}

rnn_status rnn__dist_any(rnn_distributed *d, int flag, int *any) {
    double mine = flag != 0, sum;
    rnn_status st = sum_doubles(d, &mine, 1, &sum);
    *any = !st && sum > 0;
    return st;
}

/* The rows of dropout's masks: a stream of this rank's own for each step, drawn from the
 * model's generator without advancing it, so that the generator (and with it the shuffling
 * permutation of the next epoch) stays the same on every rank. */
static rnn_rng step_rng(const rnn_model *m, int rank) {
    rnn_rng r;
    uint64_t seed = m->rng.s[0] ^ (m->rng.s[1] << 7) ^ ((uint64_t)m->iterations * 0x9E3779B97F4A7C15ull) ^
                    ((uint64_t)(rank + 1) * 0xD1B54A32D192ED03ull);
    rnn__rng_seed(&r, seed);
    return r;
}

/* ---------------------------------------------------------------- model state */

rnn_status rnn__dist_sync_model(rnn_distributed *d, rnn_model *m) {
    rnn_status st = RNN_OK;
    for (int w = 0; w < m->n_weights && !st; w++) {
        rnn_weight *wt = m->weights[w];
        st = d->broadcast(d->impl, wt->value, (int64_t)sizeof(float) * wt->size, 0);
        rnn__weight_changed(wt);
    }
    /* Every rank allocates the slots its optimizer uses (the same on every rank), so that each
     * takes part in the same broadcasts whatever it held before. */
    if (!st) st = rnn__optimizer_slots_ready(m);
    const unsigned used = rnn__optimizer_slots_used(&m->optimizer);
    for (int k = 0; k < 3 && !st; k++)
        if (used >> k & 1u)
            st = d->broadcast(d->impl, m->opt_slot[k], (int64_t)sizeof(float) * m->n_params, 0);
    if (!st) st = d->broadcast(d->impl, &m->iterations, (int64_t)sizeof m->iterations, 0);
    if (!st) st = d->broadcast(d->impl, &m->rng, (int64_t)sizeof m->rng, 0);
    return st;
}

static uint64_t weights_checksum(const rnn_model *m) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the weights' bytes */
    for (int w = 0; w < m->n_weights; w++) {
        const unsigned char *p = (const unsigned char *)m->weights[w]->value;
        for (size_t i = 0; i < sizeof(float) * (size_t)m->weights[w]->size; i++)
            h = (h ^ p[i]) * 1099511628211ull;
    }
    return h;
}

rnn_status rnn__dist_check_weights(rnn_distributed *d, rnn_model *m, int epoch) {
    uint64_t h = weights_checksum(m);
    double mine[2] = {(double)(h >> 32), (double)(h & 0xffffffffu)};
    double *all = malloc(sizeof(double) * 2 * (size_t)d->size);
    if (!all) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    rnn_status st = d->allgather(d->impl, mine, 2, all);
    for (int r = 1; !st && r < d->size; r++)
        if (all[2 * r] != all[0] || all[2 * r + 1] != all[1])
            st = rnn__fail(RNN_ERR_STATE, "distributed fit: the weights of rank %d differ from rank "
                           "0's after epoch %d (checksum %08llx%08llx, rank 0: %08llx%08llx)", r,
                           epoch + 1, (unsigned long long)all[2 * r],
                           (unsigned long long)all[2 * r + 1], (unsigned long long)all[0],
                           (unsigned long long)all[1]);
    free(all);
    return st;
}

/* ---------------------------------------------------------------- one global batch */

/* What each rank tells the others after its forward: its status and rows, each output's loss
 * sum and unmasked rows, and the metric sums. */
enum { X_STATUS, X_ROWS, X_OUTPUTS };
#define X_SIZE (X_OUTPUTS + 2 * RNN_MODEL_MAX_IO + RNN_MAX_METRICS + 2)

/* Forward on this rank's rows (if any) and the exchange: global sums in g. */
static rnn_status forward_exchange(rnn_distributed *d, rnn_model *m, rnn_status local,
                                   const rnn_tensor *xb, const float *const *targets,
                                   int64_t n_local, rnn_run_mode mode, double *g) {
    double x[X_SIZE] = {0};
    const int nx = X_OUTPUTS + 2 * m->n_outputs + m->n_metrics + 2;
    if (!local && n_local > 0) {
        rnn_rng r = step_rng(m, d->rank);
        rnn_run_ctx ctx = {.mode = mode, .rng = &r, .precision = RNN_F32};
        local = rnn__model_forward(m, xb, &ctx);
        for (int k = 0; !local && k < m->n_outputs; k++) {
            const rnn_tensor *out = rnn__model_output(m, k);
            int64_t C = out->shape[out->rank - 1], R = rnn_tensor_size(out) / C, count;
            const uint8_t *mask = out->rank == 3 ? rnn__model_output_mask(m, k) : NULL;
            rnn__loss_eval(&m->loss, out->data, targets[k], R, C, mask, NULL,
                           &x[X_OUTPUTS + 2 * k], &count);
            x[X_OUTPUTS + 2 * k + 1] = (double)count;
        }
        if (!local) {
            metric_sums ms = {{0}, 0, 0};
            rnn__metrics_accumulate(m, targets[0], &ms);
            for (int k = 0; k < m->n_metrics; k++) x[X_OUTPUTS + 2 * m->n_outputs + k] = ms.correct[k];
            x[X_OUTPUTS + 2 * m->n_outputs + m->n_metrics] = ms.rows;
            x[X_OUTPUTS + 2 * m->n_outputs + m->n_metrics + 1] = ms.all_rows;
        }
    }
    x[X_STATUS] = local != RNN_OK;
    x[X_ROWS] = (double)n_local;
    rnn_status st = sum_doubles(d, x, nx, g);
    if (st) return st;
    /* Some rank failed: a second exchange carries the first failure's status and message. */
    if (g[X_STATUS] > 0) {
        if ((st = rnn__dist_agree(d, local))) return st;
        return rnn__fail(RNN_ERR_STATE, "distributed fit: a rank failed without a status");
    }
    return RNN_OK;
}

static double global_loss(const rnn_model *m, const double *g) {
    double total = 0;
    for (int k = 0; k < m->n_outputs; k++) {
        double count = g[X_OUTPUTS + 2 * k + 1];
        total += count ? g[X_OUTPUTS + 2 * k] / count : 0.0;
    }
    return total;
}

static void add_metrics(const rnn_model *m, const double *g, metric_sums *ms) {
    if (!ms) return;
    for (int k = 0; k < m->n_metrics; k++) ms->correct[k] += g[X_OUTPUTS + 2 * m->n_outputs + k];
    ms->rows += g[X_OUTPUTS + 2 * m->n_outputs + m->n_metrics];
    ms->all_rows += g[X_OUTPUTS + 2 * m->n_outputs + m->n_metrics + 1];
}

/* Every weight gradient, summed over the ranks in one buffer. */
static rnn_status sum_gradients(rnn_distributed *d, rnn_model *m) {
    if (d->grad_buf_floats < m->n_params) {
        float *grown = realloc(d->grad_buf, sizeof(float) * (size_t)m->n_params);
        if (!grown) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
        d->grad_buf = grown;
        d->grad_buf_floats = m->n_params;
    }
    float *buf = d->grad_buf;
    int64_t off = 0;
    for (int w = 0; w < m->n_weights; w++) {
        memcpy(buf + off, m->weights[w]->grad, sizeof(float) * (size_t)m->weights[w]->size);
        off += m->weights[w]->size;
    }
    rnn_status st = d->sum_floats(d->impl, buf, off);
    off = 0;
    for (int w = 0; !st && w < m->n_weights; w++) {
        memcpy(m->weights[w]->grad, buf + off, sizeof(float) * (size_t)m->weights[w]->size);
        off += m->weights[w]->size;
    }
    return st;
}

/* An Embedding's gradient reaches the optimizer as per-occurrence slices (rnn_weight.slices,
 * optim_step.c), which the dense sum above does not carry. Each slice set (one call of the
 * layer) is gathered from every rank in rank order: rank r holds the global batch's rows of part
 * r, so the concatenation lists the occurrences in the order one process would. The gathered
 * (ids, values) live in *keep until the update has run. A rank with no rows has no slices; a set
 * count of -1 anywhere (more calls than are kept) leaves every rank on the summed gradient. */
static rnn_status gather_slices(rnn_distributed *d, rnn_model *m, float **keep) {
    enum { S = RNN_WEIGHT_MAX_SLICE_SETS, K = 1 + RNN_WEIGHT_MAX_SLICE_SETS };
    const int P = d->size, W = m->n_weights;
    /* every weight's set count and per-set counts, gathered from every rank in one exchange */
    double *counts = malloc(sizeof(double) * (size_t)K * (size_t)W * (size_t)(P + 1));
    if (!counts) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    double *all = counts + (size_t)K * W;
    for (int w = 0; w < W; w++) {
        const rnn_weight *wt = m->weights[w];
        const int n = wt->rank == 2 ? wt->n_slice_sets : 0;
        counts[w * K] = n;
        for (int s = 0; s < S; s++) counts[w * K + 1 + s] = s < n ? (double)wt->slices[s].count : 0;
    }
    rnn_status st = d->allgather(d->impl, counts, K * W, all);
    for (int w = 0; w < W && !st; w++) {
        rnn_weight *wt = m->weights[w];
        int sets = 0, dense = 0;
        for (int r = 0; r < P; r++) {
            const int n = (int)all[((size_t)r * W + w) * K];
            if (n < 0) dense = 1;
            if (n > sets) sets = n;
        }
        if (dense || !sets) {
            wt->n_slice_sets = dense ? -1 : 0;
            continue;
        }
        const int64_t D = wt->shape[1];
        for (int s = 0; s < sets && !st; s++) {
            int64_t total = 0, before = 0;
            for (int r = 0; r < P; r++) {
                const int64_t c = (int64_t)all[((size_t)r * W + w) * K + 1 + s];
                if (r < d->rank) before += c;
                total += c;
            }
            /* ids first, then the rows; each rank writes its part, zeros elsewhere: a sum in
             * rank order is then an exact gather (x + 0 = x). */
            float *buf = calloc((size_t)(total * (1 + D) + 1), sizeof(float));
            if (!buf) {
                st = rnn__fail(RNN_ERR_MEMORY, "out of memory");
                break;
            }
            keep[w * S + s] = buf;
            if (s < wt->n_slice_sets) {
                const int64_t c = wt->slices[s].count;
                memcpy(buf + before, wt->slices[s].ids, sizeof(float) * (size_t)c);
                memcpy(buf + total + before * D, wt->slices[s].values,
                       sizeof(float) * (size_t)(c * D));
            }
            if ((st = d->sum_floats(d->impl, buf, total * (1 + D)))) break;
            wt->slices[s].ids = buf;
            wt->slices[s].values = buf + total;
            wt->slices[s].count = total;
        }
        if (!st) wt->n_slice_sets = sets;
    }
    free(counts);
    return st;
}

/* Sums the gradients over the ranks and applies the update, with the slices gathered. */
static rnn_status sum_and_apply(rnn_distributed *d, rnn_model *m) {
    const size_t n_keep = (size_t)m->n_weights * RNN_WEIGHT_MAX_SLICE_SETS;
    float **keep = calloc(n_keep ? n_keep : 1, sizeof(float *));
    if (!keep) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    rnn_status st = sum_gradients(d, m);
    if (!st) st = gather_slices(d, m, keep);
    if (!st) st = rnn__apply_gradients(m);
    for (int w = 0; w < m->n_weights; w++) m->weights[w]->n_slice_sets = 0; /* keep is freed */
    for (size_t i = 0; i < n_keep; i++) free(keep[i]);
    free(keep);
    return st;
}

rnn_status rnn__dist_train_step(rnn_distributed *d, rnn_model *m, rnn_status local,
                                const rnn_tensor *xb, const float *const *targets,
                                int64_t n_local, double *loss, int64_t *n_global, metric_sums *ms) {
    double g[X_SIZE];
    rnn_status st = forward_exchange(d, m, local, xb, targets, n_local, RNN_MODE_TRAIN, g);
    if (st) return st;
    const double value = global_loss(m, g);
    add_metrics(m, g, ms);
    if (!isfinite(value)) { /* the same value, so the same decision, on every rank */
        *loss = value; /* for TerminateOnNaN */
        return rnn__fail(RNN_ERR_NUMERIC, "the loss is %s: training stopped before the update "
                         "(iteration %lld)", isnan(value) ? "NaN" : "Inf", (long long)m->iterations);
    }
    rnn__model_zero_grads(m);
    if (n_local > 0) {
        for (int k = 0; k < m->n_outputs; k++) {
            const rnn_tensor *out = rnn__model_output(m, k);
            int64_t C = out->shape[out->rank - 1], R = rnn_tensor_size(out) / C, count;
            const uint8_t *mask = out->rank == 3 ? rnn__model_output_mask(m, k) : NULL;
            double sum;
            /* 0 unmasked rows in the whole batch: every row's gradient is 0, as in one process */
            int64_t over = (int64_t)g[X_OUTPUTS + 2 * k + 1];
            rnn__loss_eval_over(&m->loss, out->data, targets[k], R, C, mask, m->dloss[k],
                                over ? over : 1, &sum, &count);
            if (!over) memset(m->dloss[k], 0, sizeof(float) * (size_t)(R * C));
        }
        rnn__model_backward(m, m->dloss, 0);
    }
    if ((st = sum_and_apply(d, m))) return st;
    *loss = value;
    *n_global = (int64_t)g[X_ROWS];
    return RNN_OK;
}

rnn_status rnn__dist_eval_batch(rnn_distributed *d, rnn_model *m, rnn_status local,
                                const rnn_tensor *xb, const float *const *targets,
                                int64_t n_local, double *total, double *seen, metric_sums *ms) {
    double g[X_SIZE];
    rnn_status st = forward_exchange(d, m, local, xb, targets, n_local, RNN_MODE_PREDICT, g);
    if (st) return st;
    *total += global_loss(m, g) * g[X_ROWS];
    *seen += g[X_ROWS];
    add_metrics(m, g, ms);
    return RNN_OK;
}
