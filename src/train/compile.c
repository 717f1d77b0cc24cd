/* compile: the loss and the optimizer (Keras's model.compile), and the switches that go with
 * them (from_logits, the optimizer's step count). Metrics are in metrics.c. */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "losses.h"
#include "model.h"
#include "optim.h"

/* ---------------------------------------------------------------- compile */

rnn_status rnn_compile_with(rnn_model *m, const char *loss, const rnn_optimizer *optimizer) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_compile: model is NULL");
    rnn_loss_spec spec;
    if (rnn__loss_from_name(loss, &spec) != 0)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT,
                               "Could not interpret loss identifier: %s (supported: "
                               "mean_squared_error/mse, mean_absolute_error/mae, "
                               "sparse_categorical_crossentropy, categorical_crossentropy, "
                               "binary_crossentropy, kullback_leibler_divergence/kld, huber, "
                               "mean_squared_logarithmic_error/msle, "
                               "mean_absolute_percentage_error/mape, log_cosh, poisson, "
                               "cosine_similarity, hinge, squared_hinge, categorical_hinge)",
                               loss ? loss : "NULL"));
    rnn_status st = rnn__optimizer_check(optimizer);
    if (st) return rnn__model_fail(m, st);
    if ((st = rnn__model_build(m))) return st;
    m->loss = spec;
    m->optimizer = *optimizer;
    m->n_metrics = 0;
    m->iterations = 0;
    rnn__optimizer_reset_slots(m);
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
    else if (optimizer && !strcasecmp(optimizer, "adagrad"))
        o = rnn_adagrad_defaults();
    else if (optimizer && !strcasecmp(optimizer, "adadelta"))
        o = rnn_adadelta_defaults();
    else if (optimizer && !strcasecmp(optimizer, "adamax"))
        o = rnn_adamax_defaults();
    else if (optimizer && !strcasecmp(optimizer, "nadam"))
        o = rnn_nadam_defaults();
    else if (optimizer && (!strcasecmp(optimizer, "adamw") || !strcmp(optimizer, "adam_w")))
        o = rnn_adamw_defaults();
    else
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT,
                               "Could not interpret optimizer identifier: %s (supported: adam, "
                               "sgd, rmsprop, adagrad, adadelta, adamax, nadam, adamw; "
                               "rnn_compile_with takes explicit settings)",
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

rnn_status rnn_set_huber_delta(rnn_model *m, float delta) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "model is NULL");
    if (!m->compiled) return rnn__model_fail(m, rnn__fail(RNN_ERR_STATE, "compile first"));
    if (m->loss.kind != RNN_LOSS_HUBER)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "%s has no delta (only huber)",
                                            rnn__loss_name(m->loss.kind)));
    if (!(delta > 0.0f) || !isfinite(delta))
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "huber: delta must be a finite "
                                            "value > 0, got %g", (double)delta));
    m->loss.delta = delta;
    return RNN_OK;
}

int rnn_compiled(const rnn_model *m, rnn_compile_settings *s) {
    if (!m || !m->compiled) return 0;
    if (s) {
        memset(s, 0, sizeof *s);
        s->loss = rnn__loss_name(m->loss.kind);
        s->from_logits = m->loss.from_logits;
        s->optimizer = m->optimizer;
        s->n_metrics = m->n_metrics;
        for (int k = 0; k < m->n_metrics && k < RNN_MAX_METRICS; k++) s->metrics[k] = m->metric_name[k];
    }
    return 1;
}
