#include "optim.h"

#include <math.h>

#include "error.h"

rnn_optimizer rnn_adam_defaults(void) {
    rnn_optimizer o = {RNN_OPT_ADAM, 0.001f, 0.9f, 0.999f, 1e-7f, 0.0f, 0};
    return o;
}

rnn_optimizer rnn_sgd_defaults(void) {
    rnn_optimizer o = {RNN_OPT_SGD, 0.01f, 0.9f, 0.999f, 1e-7f, 0.0f, 0};
    return o;
}

rnn_status rnn__optimizer_check(const rnn_optimizer *o) {
    if (!o) return rnn__fail(RNN_ERR_ARGUMENT, "optimizer is NULL");
    if (o->kind != RNN_OPT_ADAM && o->kind != RNN_OPT_SGD)
        return rnn__fail(RNN_ERR_ARGUMENT, "unknown optimizer kind %d", (int)o->kind);
    if (!(o->learning_rate >= 0.0f) || !isfinite(o->learning_rate))
        return rnn__fail(RNN_ERR_ARGUMENT, "learning_rate must be a finite value >= 0, got %g",
                         (double)o->learning_rate);
    if (o->kind == RNN_OPT_ADAM) {
        if (!(o->beta_1 >= 0.0f && o->beta_1 < 1.0f) || !(o->beta_2 >= 0.0f && o->beta_2 < 1.0f))
            return rnn__fail(RNN_ERR_ARGUMENT, "Adam: beta_1 and beta_2 must be in [0, 1), got "
                             "%g and %g", (double)o->beta_1, (double)o->beta_2);
        if (!(o->epsilon > 0.0f) || !isfinite(o->epsilon))
            return rnn__fail(RNN_ERR_ARGUMENT, "Adam: epsilon must be positive, got %g",
                             (double)o->epsilon);
    } else if (!(o->momentum >= 0.0f && o->momentum <= 1.0f)) {
        return rnn__fail(RNN_ERR_ARGUMENT, "SGD: momentum must be in [0, 1], got %g",
                         (double)o->momentum);
    }
    return RNN_OK;
}

void rnn__optimizer_apply(const rnn_optimizer *o, float *p, const float *g, float *m, float *v,
                          int64_t n, int64_t step) {
    if (o->kind == RNN_OPT_ADAM) {
        /* Keras 3 Adam:
         *   m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2)
         *   alpha = lr sqrt(1 - b2^t) / (1 - b1^t);  p -= alpha m / (sqrt(v) + eps) */
        const float b1 = o->beta_1, b2 = o->beta_2, eps = o->epsilon;
        const float t = (float)step;
        const float alpha = o->learning_rate * sqrtf(1.0f - powf(b2, t)) / (1.0f - powf(b1, t));
        const float one_b1 = 1.0f - b1, one_b2 = 1.0f - b2;
        for (int64_t i = 0; i < n; i++) {
            float gi = g[i];
            m[i] += (gi - m[i]) * one_b1;
            v[i] += (gi * gi - v[i]) * one_b2;
            p[i] -= alpha * m[i] / (sqrtf(v[i]) + eps);
        }
    } else {
        /* SGD: v = mu v - lr g; p += v (Nesterov: p += mu v - lr g). */
        const float lr = o->learning_rate, mu = o->momentum;
        if (mu == 0.0f) {
            for (int64_t i = 0; i < n; i++) p[i] -= lr * g[i];
        } else {
            for (int64_t i = 0; i < n; i++) {
                m[i] = mu * m[i] - lr * g[i];
                p[i] += o->nesterov ? mu * m[i] - lr * g[i] : m[i];
            }
        }
    }
}
