/* The compiled metrics (accuracies): resolving their names against the loss and the output, and
 * summing them over the batches of an epoch or an evaluation. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "losses.h"
#include "train/train.h"

/* ---------------------------------------------------------------- metrics */

enum { METRIC_SPARSE_CATEGORICAL = 0, METRIC_CATEGORICAL, METRIC_BINARY, METRIC_RMSE,
       /* a loss function as a metric: METRIC_LOSS + its rnn_loss_kind */
       METRIC_LOSS = 16 };

/* Keras 3's metric identifiers that are loss functions (keras.metrics.get): the name as given
 * is the history's key. */
static const struct {
    const char *name;
    int kind;
} metric_names[] = {
    {"mae", METRIC_LOSS + RNN_LOSS_MAE},
    {"mean_absolute_error", METRIC_LOSS + RNN_LOSS_MAE},
    {"mse", METRIC_LOSS + RNN_LOSS_MSE},
    {"mean_squared_error", METRIC_LOSS + RNN_LOSS_MSE},
    {"mape", METRIC_LOSS + RNN_LOSS_MAPE},
    {"mean_absolute_percentage_error", METRIC_LOSS + RNN_LOSS_MAPE},
    {"msle", METRIC_LOSS + RNN_LOSS_MSLE},
    {"mean_squared_logarithmic_error", METRIC_LOSS + RNN_LOSS_MSLE},
    {"root_mean_squared_error", METRIC_RMSE},
    {"poisson", METRIC_LOSS + RNN_LOSS_POISSON},
    {"cosine_similarity", METRIC_LOSS + RNN_LOSS_COSINE_SIMILARITY},
    {"hinge", METRIC_LOSS + RNN_LOSS_HINGE},
    {"squared_hinge", METRIC_LOSS + RNN_LOSS_SQUARED_HINGE},
    {"categorical_hinge", METRIC_LOSS + RNN_LOSS_CATEGORICAL_HINGE},
    {"kl_divergence", METRIC_LOSS + RNN_LOSS_KLD},
    {"binary_crossentropy", METRIC_LOSS + RNN_LOSS_BINARY_CE},
    {"categorical_crossentropy", METRIC_LOSS + RNN_LOSS_CATEGORICAL_CE},
    {"sparse_categorical_crossentropy", METRIC_LOSS + RNN_LOSS_SPARSE_CATEGORICAL_CE},
};

/* The targets a metric reads: 1 for class ids, 0 for values like the output's. */
static int metric_sparse(int kind) {
    return kind == METRIC_SPARSE_CATEGORICAL ||
           (kind >= METRIC_LOSS && rnn__loss_sparse_targets((rnn_loss_kind)(kind - METRIC_LOSS)));
}

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
        kind = -1;
        for (size_t i = 0; name && i < sizeof metric_names / sizeof metric_names[0]; i++)
            if (!strcmp(name, metric_names[i].name)) kind = metric_names[i].kind;
        if (kind < 0)
            return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT,
                                   "Could not interpret metric identifier: %s (supported: accuracy, "
                                   "sparse_categorical_accuracy, categorical_accuracy, "
                                   "binary_accuracy, mae, mse, mape, msle, "
                                   "root_mean_squared_error, poisson, cosine_similarity, hinge, "
                                   "squared_hinge, categorical_hinge, kl_divergence, "
                                   "binary_crossentropy, categorical_crossentropy, "
                                   "sparse_categorical_crossentropy)", name ? name : "NULL"));
    }
    if (metric_sparse(kind) && m->loss.kind != RNN_LOSS_SPARSE_CATEGORICAL_CE)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "%s needs class-id targets "
                               "(sparse_categorical_crossentropy)", name));
    if (!metric_sparse(kind) && m->loss.kind == RNN_LOSS_SPARSE_CATEGORICAL_CE)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "with class-id targets use "
                               "sparse_categorical_accuracy (or \"accuracy\")"));
    m->metric_kind[m->n_metrics] = kind;
    snprintf(m->metric_name[m->n_metrics], sizeof m->metric_name[0], "%s", name);
    m->n_metrics++;
    return RNN_OK;
}


static int64_t argmax_row(const float *v, int64_t n) {
    int64_t best = 0;
    for (int64_t j = 1; j < n; j++)
        if (v[j] > v[best]) best = j;
    return best;
}

/* Adds the metrics of the last forward on output 0 (targets t0) into sums. */
void rnn__metrics_accumulate(rnn_model *m, const float *t0, metric_sums *ms) {
    if (!m->n_metrics) return;
    const rnn_tensor *out = rnn__model_output(m, 0);
    const int64_t C = out->shape[out->rank - 1], R = rnn_tensor_size(out) / C;
    const uint8_t *mask = out->rank == 3 ? rnn__model_output_mask(m, 0) : NULL;
    const int64_t tw = rnn__loss_sparse_targets(m->loss.kind) ? 1 : C;
    for (int k = 0; k < m->n_metrics; k++) {
        /* the loss functions: the sum of their per-row values over the unmasked rows */
        int kind = m->metric_kind[k];
        if (kind < METRIC_RMSE) continue;
        rnn_loss_spec spec = {kind == METRIC_RMSE ? RNN_LOSS_MSE : (rnn_loss_kind)(kind - METRIC_LOSS),
                              0, 1.0f};
        double sum;
        int64_t count;
        /* Keras 3.15.1 passes the mask to its MeanMetricWrapper metrics, not to
         * RootMeanSquaredError: that one averages over the masked steps too */
        rnn__loss_eval(&spec, out->data, t0, R, C, kind == METRIC_RMSE ? NULL : mask, NULL, &sum,
                       &count);
        /* Keras's metric is the similarity; the loss its negative */
        ms->correct[k] += spec.kind == RNN_LOSS_COSINE_SIMILARITY ? -sum : sum;
    }
    ms->all_rows += (double)R;
    for (int64_t r = 0; r < R; r++) {
        if (mask && !mask[r]) continue;
        const float *p = out->data + r * C, *t = t0 + r * tw;
        for (int k = 0; k < m->n_metrics; k++) {
            double v;
            if (m->metric_kind[k] >= METRIC_RMSE) continue;
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

double rnn__metric_value(const rnn_model *m, const metric_sums *ms, int k) {
    if (m->metric_kind[k] == METRIC_RMSE) return ms->all_rows ? sqrt(ms->correct[k] / ms->all_rows) : 0.0;
    return ms->rows ? ms->correct[k] / ms->rows : 0.0;
}
