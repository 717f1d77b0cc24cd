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

rnn_status rnn__optimizer_check(const rnn_optimizer *o) {
    if (!o) return rnn__fail(RNN_ERR_ARGUMENT, "optimizer is NULL");
    if (o->kind != RNN_OPT_ADAM && o->kind != RNN_OPT_SGD && o->kind != RNN_OPT_RMSPROP)
        return rnn__fail(RNN_ERR_ARGUMENT, "unknown optimizer kind %d", (int)o->kind);
    if (!(o->learning_rate >= 0.0f) || !isfinite(o->learning_rate))
        return rnn__fail(RNN_ERR_ARGUMENT, "learning_rate must be a finite value >= 0, got %g",
                         (double)o->learning_rate);
    if (o->kind == RNN_OPT_ADAM &&
        (!(o->beta_1 >= 0.0f && o->beta_1 < 1.0f) || !(o->beta_2 >= 0.0f && o->beta_2 < 1.0f)))
        return rnn__fail(RNN_ERR_ARGUMENT, "Adam: beta_1 and beta_2 must be in [0, 1), got "
                         "%g and %g", (double)o->beta_1, (double)o->beta_2);
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
    switch (o->kind) {
    case RNN_OPT_ADAM: {
        /* Keras 3 Adam:
         *   m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2);  (amsgrad: vh = max(vh, v))
         *   alpha = lr sqrt(1 - b2^t) / (1 - b1^t);  p -= alpha m / (sqrt(v) + eps) */
        const float b1 = o->beta_1, b2 = o->beta_2, eps = o->epsilon, t = (float)step;
        const float alpha = lr * sqrtf(1.0f - powf(b2, t)) / (1.0f - powf(b1, t));
        const float one_b1 = 1.0f - b1, one_b2 = 1.0f - b2;
        float *m = s0, *v = s1, *vh = s2;
        for (int64_t i = 0; i < n; i++) {
            float gi = g[i];
            m[i] += (gi - m[i]) * one_b1;
            v[i] += (gi * gi - v[i]) * one_b2;
            float vv = v[i];
            if (o->amsgrad) vv = vh[i] = vh[i] > vv ? vh[i] : vv;
            p[i] -= alpha * m[i] / (sqrtf(vv) + eps);
        }
        break;
    }
    case RNN_OPT_SGD: {
        /* v = mu v - lr g; p += v (Nesterov: p += mu v - lr g). */
        const float mu = o->momentum;
        float *vel = s0;
        if (mu == 0.0f) {
            for (int64_t i = 0; i < n; i++) p[i] -= lr * g[i];
        } else {
            for (int64_t i = 0; i < n; i++) {
                vel[i] = mu * vel[i] - lr * g[i];
                p[i] += o->nesterov ? mu * vel[i] - lr * g[i] : vel[i];
            }
        }
        break;
    }
    case RNN_OPT_RMSPROP: {
        /* s = rho s + (1 - rho) g^2;  centered: gm = rho gm + (1 - rho) g, denom = s - gm^2
         * delta = lr g / sqrt(denom + eps);  momentum: mom = mu mom + delta, p -= mom */
        const float rho = o->rho, eps = o->epsilon, mu = o->momentum;
        float *s = s0, *gm = s1, *mom = s2;
        for (int64_t i = 0; i < n; i++) {
            float gi = g[i];
            s[i] = rho * s[i] + (1.0f - rho) * gi * gi;
            float denom = s[i];
            if (o->centered) {
                gm[i] = rho * gm[i] + (1.0f - rho) * gi;
                denom -= gm[i] * gm[i];
            }
            float delta = lr * gi / sqrtf(denom + eps);
            if (mu > 0.0f) {
                mom[i] = mu * mom[i] + delta;
                p[i] -= mom[i];
            } else {
                p[i] -= delta;
            }
        }
        break;
    }
    }
}
