#include "losses.h"

#include <math.h>
#include <string.h>

int rnn__loss_from_name(const char *name) {
    if (!name) return -1;
    if (!strcmp(name, "mean_squared_error") || !strcmp(name, "mse") ||
        !strcmp(name, "MeanSquaredError"))
        return RNN_LOSS_MSE;
    if (!strcmp(name, "mean_absolute_error") || !strcmp(name, "mae") ||
        !strcmp(name, "MeanAbsoluteError"))
        return RNN_LOSS_MAE;
    return -1;
}

const char *rnn__loss_name(rnn_loss_kind kind) {
    return kind == RNN_LOSS_MAE ? "mean_absolute_error" : "mean_squared_error";
}

double rnn__loss_sum(rnn_loss_kind kind, const float *pred, const float *target, int64_t n) {
    double s = 0.0;
    if (kind == RNN_LOSS_MSE)
        for (int64_t i = 0; i < n; i++) {
            double d = (double)pred[i] - (double)target[i];
            s += d * d;
        }
    else
        for (int64_t i = 0; i < n; i++) s += fabs((double)pred[i] - (double)target[i]);
    return s;
}

/* MSE: 2 (p - y) / N.  MAE: sign(p - y) / N, with 0 at p == y as TensorFlow's abs gradient. */
void rnn__loss_grad(rnn_loss_kind kind, const float *pred, const float *target, int64_t n,
                    double divisor, float *grad) {
    const float scale = (float)(1.0 / divisor);
    if (kind == RNN_LOSS_MSE)
        for (int64_t i = 0; i < n; i++) grad[i] = 2.0f * (pred[i] - target[i]) * scale;
    else
        for (int64_t i = 0; i < n; i++) {
            float d = pred[i] - target[i];
            grad[i] = d > 0.0f ? scale : (d < 0.0f ? -scale : 0.0f);
        }
}
