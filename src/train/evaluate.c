/* evaluate: the mean loss and metrics over arrays or a batch source, without updates (also fit's
 * validation). */
#include <string.h>

#include "train/train.h"

/* Mean loss over samples [begin, end) in order, batch by batch, without updates (Keras: the
 * batch losses averaged with the batch sizes as weights). */
rnn_status rnn__evaluate_range(rnn_model *m, const call_data *d, int64_t begin, int64_t end,
                                 int batch_size, double *loss, double *metrics) {
    metric_sums ms = {{0}, 0, 0};
    rnn_run_ctx ctx = {.mode = RNN_MODE_PREDICT, .rng = &m->rng, .precision = RNN_F32};
    double total = 0;
    for (int64_t s = begin; s < end; s += batch_size) {
        int64_t count = end - s < batch_size ? end - s : batch_size;
        rnn_tensor xb[RNN_MODEL_MAX_IO];
        const float *targets[RNN_MODEL_MAX_IO];
        for (int k = 0; k < m->n_inputs; k++)
            xb[k] = rnn__batch_view(d->x[k].data + s * rnn__tensor_row_size(&d->x[k]), &d->x[k], count);
        for (int k = 0; k < m->n_outputs; k++)
            targets[k] = d->y[k].data + s * rnn__target_per_sample(m, k, d->steps);
        rnn_status st = rnn__model_forward(m, xb, &ctx);
        if (st) return st;
        total += rnn__current_loss(m, targets, 0) * (double)count;
        rnn__metrics_accumulate(m, targets[0], &ms);
    }
    *loss = total / (double)(end - begin);
    if (metrics)
        for (int k = 0; k < m->n_metrics; k++) metrics[k] = rnn__metric_value(m, &ms, k);
    return RNN_OK;
}

/* Mean loss and metrics over every batch of a source, weighted by batch size. */
rnn_status rnn__evaluate_source(rnn_model *m, const rnn_batch_source *src, double *loss,
                                  double *metrics) {
    rnn_run_ctx ctx = {.mode = RNN_MODE_PREDICT, .rng = &m->rng, .precision = RNN_F32};
    metric_sums ms = {{0}, 0, 0};
    double total = 0, seen = 0;
    for (int64_t k = 0; k < src->batches; k++) {
        rnn_tensor x[RNN_MODEL_MAX_IO], y[RNN_MODEL_MAX_IO];
        call_data d;
        rnn_status st = rnn__source_batch(m, src, k, x, y, &d);
        if (st || (st = rnn__model_forward(m, x, &ctx))) return st;
        const float *targets[RNN_MODEL_MAX_IO];
        for (int i = 0; i < m->n_outputs; i++) targets[i] = y[i].data;
        total += rnn__current_loss(m, targets, 0) * (double)d.n;
        seen += (double)d.n;
        rnn__metrics_accumulate(m, targets[0], &ms);
    }
    *loss = seen ? total / seen : 0;
    if (metrics)
        for (int k = 0; k < m->n_metrics; k++) metrics[k] = rnn__metric_value(m, &ms, k);
    return RNN_OK;
}

static rnn_status evaluate_source(rnn_model *m, const rnn_batch_source *src, double *loss,
                                  double *metrics) {
    rnn_status st;
    if ((st = rnn__need_compiled(m)) || (st = rnn__check_source(src)) ||
        (st = rnn__evaluate_source(m, src, loss, metrics)))
        return rnn__model_fail(m, st);
    return RNN_OK;
}

/* ---------------------------------------------------------------- entry points */

static rnn_status evaluate_lists(rnn_model *m, const rnn_tensor *x, int nx, const rnn_tensor *y,
                                 int ny, int batch_size, double *loss, double *metrics) {
    if (batch_size <= 0) batch_size = 32;
    call_data d = {0};
    rnn_status st;
    if ((st = rnn__need_compiled(m)) || (st = rnn__check_x(m, x, nx, &d)) || (st = rnn__check_y(m, y, ny, &d)) ||
        (st = rnn__check_stateful_batches(m, d.n, batch_size)) ||
        (st = rnn__evaluate_range(m, &d, 0, d.n, batch_size, loss, metrics)))
        return rnn__model_fail(m, st);
    return RNN_OK;
}

rnn_status rnn_evaluate(rnn_model *m, rnn_data data, int batch_size, double *loss,
                        double *metrics) {
    if (!m || !loss) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_evaluate: NULL argument");
    rnn_status st;
    if ((st = rnn__check_data_form(&data, "rnn_evaluate"))) return rnn__model_fail(m, st);
    if (data.source) return evaluate_source(m, data.source, loss, metrics);
    if (rnn__data_is_lists(&data))
        return evaluate_lists(m, data.xs, data.n_x, data.ys, data.n_y, batch_size, loss, metrics);
    return evaluate_lists(m, &data.x, 1, &data.y, 1, batch_size, loss, metrics);
}
