/* One batch: the loss of the last forward over every output, one optimizer step
 * (train_on_batch, and each step of fit), and the loss gradients without an update for gradient
 * checks. */
#include <math.h>

#include "context.h"
#include "kernels/team.h"
#include "losses.h"
#include "optim.h"
#include "train/train.h"

/* Loss of the last forward over every output (mean per output, summed as Keras sums the
 * losses of several outputs). With grads, writes m->dloss. */
double rnn__current_loss(rnn_model *m, const float *const *targets, int with_grads) {
    double total = 0;
    /* the model's team shares the rows of a large output (B4: 6,400 rows of 512) */
    rnn__team *previous = rnn__team_enter(rnn__context_team(m->context));
    for (int k = 0; k < m->n_outputs; k++) {
        const rnn_tensor *out = rnn__model_output(m, k);
        int64_t C = out->shape[out->rank - 1], R = rnn_tensor_size(out) / C;
        const uint8_t *mask = out->rank == 3 ? rnn__model_output_mask(m, k) : NULL;
        double sum;
        int64_t count;
        rnn__loss_eval_shared(&m->loss, out->data, targets[k], R, C, mask,
                              with_grads ? m->dloss[k] : NULL, &sum, &count);
        total += count ? sum / (double)count : 0.0;
    }
    rnn__team_leave(previous);
    return total;
}

/* "lstm/kernel" for messages (the weight's own name is only "kernel"). */
static const char *weight_name(rnn_model *m, int w) {
    const char *name = "?";
    rnn_weight_info(m, w, &name, NULL, NULL);
    return name;
}

/* One optimizer step on the batch xb -> targets: loss before the update in *loss. */
rnn_status rnn__train_step(rnn_model *m, const rnn_tensor *xb, const float *const *targets,
                             double *loss, metric_sums *ms) {
    rnn_run_ctx ctx = {.mode = RNN_MODE_TRAIN, .rng = &m->rng, .precision = RNN_F32};
    rnn_status st = rnn__model_forward(m, xb, &ctx);
    if (st) return st;
    double value = rnn__current_loss(m, targets, 1);
    if (ms) rnn__metrics_accumulate(m, targets[0], ms);
    if (!isfinite(value)) {
        *loss = value; /* for TerminateOnNaN */
        return rnn__fail(RNN_ERR_NUMERIC, "the loss is %s: training stopped before the update "
                         "(iteration %lld)", isnan(value) ? "NaN" : "Inf",
                         (long long)m->iterations);
    }
    rnn__model_zero_grads(m);
    rnn__model_backward(m, m->dloss, 0);
    if ((st = rnn__apply_gradients(m))) return st;
    *loss = value;
    return RNN_OK;
}

/* The update from the gradients in every weight's grad (the second half of a training step). */
static rnn_status apply_gradients(rnn_model *m);

rnn_status rnn__apply_gradients(rnn_model *m) {
    /* the model's team shares the updates of large weights (rnn__optimizer_update) */
    rnn__team *previous = rnn__team_enter(rnn__context_team(m->context));
    const rnn_status st = apply_gradients(m);
    rnn__team_leave(previous);
    return st;
}

static rnn_status apply_gradients(rnn_model *m) {
    /* Keras's optimizer sees model.trainable_weights only: frozen layers' gradients are not
     * checked, clipped or applied. */
    rnn__model_sync_frozen(m, NULL);
    int n_clip = 0;
    for (int w = 0; w < m->n_weights; w++) {
        const rnn_weight *wt = m->weights[w];
        if (wt->frozen) continue;
        m->clip_grads[n_clip] = wt->grad;
        m->clip_sizes[n_clip++] = wt->size;
        if (rnn__first_nonfinite(wt->grad, wt->size) >= 0)
            return rnn__fail(RNN_ERR_NUMERIC, "a gradient of %s is not finite: the update was "
                             "not applied (iteration %lld)", weight_name(m, w),
                             (long long)m->iterations);
    }
    rnn_status st = rnn__optimizer_update(m, n_clip);
    if (st) return st;
    m->iterations++;
    /* Finite gradients can still overflow the weights (a huge learning rate): stop here rather
     * than train on, return RNN_OK or checkpoint a model of Inf. */
    for (int w = 0; w < m->n_weights; w++) {
        const rnn_weight *wt = m->weights[w];
        if (rnn__first_nonfinite(wt->value, wt->size) >= 0)
            return rnn__fail(RNN_ERR_NUMERIC, "%s is not finite after the update of "
                             "iteration %lld: the step overflowed (lower the learning rate "
                             "or clip the gradients); training stopped", weight_name(m, w),
                             (long long)m->iterations - 1);
    }
    return RNN_OK;
}

static rnn_status train_on_lists(rnn_model *m, const rnn_tensor *x, int nx, const rnn_tensor *y,
                                 int ny, double *loss) {
    call_data d = {0};
    rnn_status st;
    if ((st = rnn__need_compiled(m)) || (st = rnn__check_x(m, x, nx, &d)) || (st = rnn__check_y(m, y, ny, &d)))
        return rnn__model_fail(m, st);
    if (d.n > INT32_MAX || (st = rnn__check_stateful_batches(m, d.n, (int)d.n)) ||
        (st = rnn__plan_batch(m, &d, d.n, 0)))
        return rnn__model_fail(m, st ? st : rnn__fail(RNN_ERR_SHAPE, "batch too large"));
    const float *targets[RNN_MODEL_MAX_IO];
    for (int k = 0; k < ny; k++) targets[k] = y[k].data;
    double value;
    if ((st = rnn__train_step(m, x, targets, &value, NULL))) return rnn__model_fail(m, st);
    if (loss) *loss = value;
    return RNN_OK;
}

rnn_status rnn_train_on_batch(rnn_model *m, rnn_data data, double *loss) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_train_on_batch: model is NULL");
    rnn_status st;
    if ((st = rnn__check_data_form(&data, "rnn_train_on_batch"))) return rnn__model_fail(m, st);
    if (data.source)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT,
                                            "rnn_train_on_batch: takes arrays, not a batch source"));
    if (rnn__data_is_lists(&data))
        return train_on_lists(m, data.xs, data.n_x, data.ys, data.n_y, loss);
    return train_on_lists(m, &data.x, 1, &data.y, 1, loss);
}

/* ---------------------------------------------------------------- gradients (tests, tools) */

rnn_status rnn__model_gradients(rnn_model *m, const rnn_tensor *x, int nx, const rnn_tensor *y,
                                int ny, rnn_run_mode mode, double *loss) {
    call_data d = {0};
    rnn_status st;
    if ((st = rnn__need_compiled(m)) || (st = rnn__check_x(m, x, nx, &d)) || (st = rnn__check_y(m, y, ny, &d)) ||
        (st = rnn__plan_batch(m, &d, d.n, 0)))
        return rnn__model_fail(m, st);
    const float *targets[RNN_MODEL_MAX_IO];
    for (int k = 0; k < ny; k++) targets[k] = y[k].data;
    rnn_run_ctx ctx = {.mode = mode, .rng = &m->rng, .precision = RNN_F32};
    if ((st = rnn__model_forward(m, x, &ctx))) return st;
    *loss = rnn__current_loss(m, targets, 1);
    rnn__model_zero_grads(m);
    rnn__model_backward(m, m->dloss, 0);
    return RNN_OK;
}
