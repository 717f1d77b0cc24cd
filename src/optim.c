#include "optim.h"

#include <math.h>
#include <string.h>

#include "error.h"

static rnn_optimizer base(rnn_optimizer_kind kind, float lr) {
    rnn_optimizer o;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.learning_rate = lr;
    o.beta_1 = 0.9f;
    o.beta_2 = 0.999f;
    o.epsilon = 1e-7f;
    o.rho = 0.9f;
    o.decay_steps = 1;
    o.decay_rate = 1.0f;
    return o;
}

rnn_optimizer rnn_adam_defaults(void) { return base(RNN_OPT_ADAM, 0.001f); }
rnn_optimizer rnn_sgd_defaults(void) { return base(RNN_OPT_SGD, 0.01f); }
rnn_optimizer rnn_rmsprop_defaults(void) { return base(RNN_OPT_RMSPROP, 0.001f); }
rnn_optimizer rnn_adamax_defaults(void) { return base(RNN_OPT_ADAMAX, 0.001f); }
rnn_optimizer rnn_nadam_defaults(void) { return base(RNN_OPT_NADAM, 0.001f); }

rnn_optimizer rnn_adagrad_defaults(void) {
    rnn_optimizer o = base(RNN_OPT_ADAGRAD, 0.001f);
    o.initial_accumulator_value = 0.1f;
    return o;
}

rnn_optimizer rnn_adadelta_defaults(void) {
    rnn_optimizer o = base(RNN_OPT_ADADELTA, 0.001f);
    o.rho = 0.95f;
    return o;
}

rnn_optimizer rnn_adamw_defaults(void) {
    rnn_optimizer o = base(RNN_OPT_ADAMW, 0.001f);
    o.weight_decay = 0.004f;
    return o;
}

rnn_status rnn__optimizer_check(const rnn_optimizer *o) {
    if (!o) return rnn__fail(RNN_ERR_ARGUMENT, "optimizer is NULL");
    if ((int)o->kind < RNN_OPT_ADAM || o->kind > RNN_OPT_ADAMW)
        return rnn__fail(RNN_ERR_ARGUMENT, "unknown optimizer kind %d", (int)o->kind);
    if (!(o->learning_rate >= 0.0f) || !isfinite(o->learning_rate))
        return rnn__fail(RNN_ERR_ARGUMENT, "learning_rate must be a finite value >= 0, got %g",
                         (double)o->learning_rate);
    if ((o->kind == RNN_OPT_ADAM || o->kind == RNN_OPT_ADAMW || o->kind == RNN_OPT_ADAMAX ||
         o->kind == RNN_OPT_NADAM) &&
        (!(o->beta_1 >= 0.0f && o->beta_1 < 1.0f) || !(o->beta_2 >= 0.0f && o->beta_2 < 1.0f)))
        return rnn__fail(RNN_ERR_ARGUMENT, "%s: beta_1 and beta_2 must be in [0, 1), got "
                         "%g and %g", rnn__optimizer_class(o->kind), (double)o->beta_1,
                         (double)o->beta_2);
    if (o->kind == RNN_OPT_ADADELTA && !(o->rho >= 0.0f && o->rho < 1.0f))
        return rnn__fail(RNN_ERR_ARGUMENT, "Adadelta: rho must be in [0, 1), got %g", (double)o->rho);
    if (o->kind == RNN_OPT_ADAGRAD &&
        (!(o->initial_accumulator_value >= 0.0f) || !isfinite(o->initial_accumulator_value)))
        return rnn__fail(RNN_ERR_ARGUMENT, "Adagrad: initial_accumulator_value must be >= 0, "
                         "got %g", (double)o->initial_accumulator_value);
    if (!(o->weight_decay >= 0.0f) || !isfinite(o->weight_decay))
        return rnn__fail(RNN_ERR_ARGUMENT, "weight_decay must be a finite value >= 0, got %g",
                         (double)o->weight_decay);
    if (o->kind != RNN_OPT_SGD && (!(o->epsilon > 0.0f) || !isfinite(o->epsilon)))
        return rnn__fail(RNN_ERR_ARGUMENT, "epsilon must be positive, got %g", (double)o->epsilon);
    if (o->kind == RNN_OPT_RMSPROP && !(o->rho >= 0.0f && o->rho < 1.0f))
        return rnn__fail(RNN_ERR_ARGUMENT, "RMSprop: rho must be in [0, 1), got %g", (double)o->rho);
    if (!(o->momentum >= 0.0f && o->momentum <= 1.0f))
        return rnn__fail(RNN_ERR_ARGUMENT, "momentum must be in [0, 1], got %g", (double)o->momentum);
    if (!(o->decay >= 0.0f) || !isfinite(o->decay))
        return rnn__fail(RNN_ERR_ARGUMENT, "decay must be >= 0, got %g", (double)o->decay);
    if (o->schedule != RNN_SCHEDULE_CONSTANT &&
        (o->decay_steps <= 0 || !(o->decay_rate >= 0.0f) || !isfinite(o->decay_rate)))
        return rnn__fail(RNN_ERR_ARGUMENT, "a schedule needs decay_steps > 0 and decay_rate >= 0");
    if (o->schedule < RNN_SCHEDULE_CONSTANT || o->schedule > RNN_SCHEDULE_EXPONENTIAL)
        return rnn__fail(RNN_ERR_ARGUMENT, "unknown schedule %d", (int)o->schedule);
    int clips = (o->clipnorm != 0.0f) + (o->clipvalue != 0.0f) + (o->global_clipnorm != 0.0f);
    if (clips > 1)
        return rnn__fail(RNN_ERR_ARGUMENT, "Only one of `clipnorm`, `clipvalue` and "
                         "`global_clipnorm` can be set");
    if (!(o->clipnorm >= 0.0f) || !(o->clipvalue >= 0.0f) || !(o->global_clipnorm >= 0.0f))
        return rnn__fail(RNN_ERR_ARGUMENT, "clipping thresholds must be positive");
    return RNN_OK;
}

float rnn__optimizer_lr(const rnn_optimizer *o, int64_t iterations) {
    double lr = o->learning_rate, step = (double)iterations;
    if (o->schedule != RNN_SCHEDULE_CONSTANT) {
        double p = step / (double)o->decay_steps;
        if (o->staircase) p = floor(p);
        lr = o->schedule == RNN_SCHEDULE_INVERSE_TIME ? lr / (1.0 + o->decay_rate * p)
                                                      : lr * pow(o->decay_rate, p);
    }
    /* Keras 2 / tf.keras legacy `decay`, on the iterations before this step. */
    if (o->decay > 0.0f) lr = lr / (1.0 + (double)o->decay * step);
    return (float)lr;
}

void rnn__optimizer_clip(const rnn_optimizer *o, float *const *g, const int64_t *sizes, int n) {
    if (o->clipvalue > 0.0f) {
        const float v = o->clipvalue;
        for (int w = 0; w < n; w++)
            for (int64_t i = 0; i < sizes[w]; i++) g[w][i] = g[w][i] < -v ? -v : g[w][i] > v ? v : g[w][i];
    } else if (o->clipnorm > 0.0f) {
        /* per weight: g * c / max(||g||, c) */
        for (int w = 0; w < n; w++) {
            double ss = 0;
            for (int64_t i = 0; i < sizes[w]; i++) ss += (double)g[w][i] * g[w][i];
            double norm = sqrt(ss);
            if (norm > o->clipnorm) {
                float f = (float)(o->clipnorm / norm);
                for (int64_t i = 0; i < sizes[w]; i++) g[w][i] *= f;
            }
        }
    } else if (o->global_clipnorm > 0.0f) {
        double ss = 0;
        for (int w = 0; w < n; w++)
            for (int64_t i = 0; i < sizes[w]; i++) ss += (double)g[w][i] * g[w][i];
        double norm = sqrt(ss);
        if (norm > o->global_clipnorm) {
            float f = (float)(o->global_clipnorm / norm);
            for (int w = 0; w < n; w++)
                for (int64_t i = 0; i < sizes[w]; i++) g[w][i] *= f;
        }
    }
}

void rnn__optimizer_apply(const rnn_optimizer *o, float lr, float *p, const float *g, float *s0,
                          float *s1, float *s2, int64_t n, int64_t step) {
    rnn_opt_step st = {lr, step, rnn__nadam_u_product(o, 1.0f, 0, step)};
    rnn__optimizer_apply_ex(o, &st, p, g, NULL, NULL, s0, s1, s2, n);
}
