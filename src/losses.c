#include "losses.h"

#include <math.h>
#include <string.h>

static const struct {
    const char *name;
    rnn_loss_kind kind;
} loss_names[] = {
    {"mean_squared_error", RNN_LOSS_MSE},
    {"mse", RNN_LOSS_MSE},
    {"MeanSquaredError", RNN_LOSS_MSE},
    {"mean_absolute_error", RNN_LOSS_MAE},
    {"mae", RNN_LOSS_MAE},
    {"MeanAbsoluteError", RNN_LOSS_MAE},
    {"sparse_categorical_crossentropy", RNN_LOSS_SPARSE_CATEGORICAL_CE},
    {"SparseCategoricalCrossentropy", RNN_LOSS_SPARSE_CATEGORICAL_CE},
    {"categorical_crossentropy", RNN_LOSS_CATEGORICAL_CE},
    {"CategoricalCrossentropy", RNN_LOSS_CATEGORICAL_CE},
    {"binary_crossentropy", RNN_LOSS_BINARY_CE},
    {"BinaryCrossentropy", RNN_LOSS_BINARY_CE},
    {"kullback_leibler_divergence", RNN_LOSS_KLD},
    {"kl_divergence", RNN_LOSS_KLD},
    {"kld", RNN_LOSS_KLD},
    {"KLDivergence", RNN_LOSS_KLD},
    {"huber", RNN_LOSS_HUBER},
    {"Huber", RNN_LOSS_HUBER},
    {"mean_squared_logarithmic_error", RNN_LOSS_MSLE},
    {"msle", RNN_LOSS_MSLE},
    {"MeanSquaredLogarithmicError", RNN_LOSS_MSLE},
    {"mean_absolute_percentage_error", RNN_LOSS_MAPE},
    {"mape", RNN_LOSS_MAPE},
    {"MeanAbsolutePercentageError", RNN_LOSS_MAPE},
    {"log_cosh", RNN_LOSS_LOG_COSH},
    {"LogCosh", RNN_LOSS_LOG_COSH},
    {"poisson", RNN_LOSS_POISSON},
    {"Poisson", RNN_LOSS_POISSON},
    {"cosine_similarity", RNN_LOSS_COSINE_SIMILARITY},
    {"CosineSimilarity", RNN_LOSS_COSINE_SIMILARITY},
    {"hinge", RNN_LOSS_HINGE},
    {"Hinge", RNN_LOSS_HINGE},
    {"squared_hinge", RNN_LOSS_SQUARED_HINGE},
    {"SquaredHinge", RNN_LOSS_SQUARED_HINGE},
    {"categorical_hinge", RNN_LOSS_CATEGORICAL_HINGE},
    {"CategoricalHinge", RNN_LOSS_CATEGORICAL_HINGE},
};

int rnn__loss_from_name(const char *name, rnn_loss_spec *out) {
    if (!name) return -1;
    for (size_t i = 0; i < sizeof loss_names / sizeof loss_names[0]; i++)
        if (!strcmp(name, loss_names[i].name)) {
            out->kind = loss_names[i].kind;
            out->from_logits = 0;
            out->delta = 1.0f;
            return 0;
        }
    return -1;
}

const char *rnn__loss_name(rnn_loss_kind kind) {
    static const char *const names[RNN_LOSS_COUNT] = {
        "mean_squared_error", "mean_absolute_error", "sparse_categorical_crossentropy",
        "categorical_crossentropy", "binary_crossentropy", "kullback_leibler_divergence",
        "huber", "mean_squared_logarithmic_error", "mean_absolute_percentage_error", "log_cosh",
        "poisson", "cosine_similarity", "hinge", "squared_hinge", "categorical_hinge"};
    return (int)kind >= 0 && kind < RNN_LOSS_COUNT ? names[kind] : "unknown";
}

int rnn__loss_sparse_targets(rnn_loss_kind kind) { return kind == RNN_LOSS_SPARSE_CATEGORICAL_CE; }

static inline float clipf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

static inline float signf(float v) { return v > 0 ? 1.0f : v < 0 ? -1.0f : 0.0f; }

/* The regression and hinge losses of Keras 3's losses.py: the per-row loss (the mean over the
 * row's C values, cosine_similarity and categorical_hinge the row's single value) and its
 * gradient times scale in g. hinge_pm: hinge targets are -1/1 (binary 0/1 targets converted,
 * decided over the whole batch as Keras's convert_binary_labels_to_hinge does). */
static double row_loss_extra(const rnn_loss_spec *spec, const float *p, const float *y,
                             int64_t C, float *g, float scale, int hinge_pm) {
    const float eps = RNN_LOSS_EPSILON;
    double L = 0;
    const float sc = scale / (float)C;
    switch (spec->kind) {
    case RNN_LOSS_HUBER: {
        /* e = p - y: 0.5 e^2 where |e| <= delta, else delta |e| - 0.5 delta^2 */
        const float d = spec->delta;
        for (int64_t j = 0; j < C; j++) {
            float e = p[j] - y[j], a = fabsf(e);
            L += a <= d ? 0.5 * (double)e * e : (double)d * a - 0.5 * (double)d * d;
            if (g) g[j] = (a <= d ? e : d * signf(e)) * sc;
        }
        return L / (double)C;
    }
    case RNN_LOSS_MSLE:
        /* (log(max(p, eps) + 1) - log(max(y, eps) + 1))^2 */
        for (int64_t j = 0; j < C; j++) {
            double pm = fmax(p[j], eps), dl = log(pm + 1.0) - log(fmax(y[j], eps) + 1.0);
            L += dl * dl;
            if (g) g[j] = p[j] > eps ? (float)(2.0 * dl / (pm + 1.0)) * sc : 0.0f;
        }
        return L / (double)C;
    case RNN_LOSS_MAPE:
        /* 100 |y - p| / max(|y|, eps) */
        for (int64_t j = 0; j < C; j++) {
            double den = fmax(fabs((double)y[j]), eps);
            L += 100.0 * fabs((double)y[j] - p[j]) / den;
            if (g) g[j] = (float)(100.0 * signf(p[j] - y[j]) / den) * sc;
        }
        return L / (double)C;
    case RNN_LOSS_LOG_COSH:
        /* x + softplus(-2x) - log 2 with x = p - y; derivative tanh(x) */
        for (int64_t j = 0; j < C; j++) {
            double x = (double)p[j] - y[j], z = -2.0 * x;
            L += x + (fmax(z, 0.0) + log1p(exp(-fabs(z)))) - log(2.0);
            if (g) g[j] = (float)tanh(x) * sc;
        }
        return L / (double)C;
    case RNN_LOSS_POISSON:
        /* p - y log(p + eps) */
        for (int64_t j = 0; j < C; j++) {
            L += (double)p[j] - (double)y[j] * log((double)p[j] + eps);
            if (g) g[j] = (float)(1.0 - (double)y[j] / ((double)p[j] + eps)) * sc;
        }
        return L / (double)C;
    case RNN_LOSS_COSINE_SIMILARITY: {
        /* -sum(y_hat p_hat), x_hat = x * min(1 / sqrt(sum x^2), 1 / eps) */
        double sp = 0, sy = 0, dot = 0;
        for (int64_t j = 0; j < C; j++) {
            sp += (double)p[j] * p[j];
            sy += (double)y[j] * y[j];
            dot += (double)p[j] * y[j];
        }
        const double ip_raw = 1.0 / sqrt(sp), ip = fmin(ip_raw, 1.0 / eps);
        const double iy = fmin(1.0 / sqrt(sy), 1.0 / eps);
        L = -dot * ip * iy;
        if (g)
            for (int64_t j = 0; j < C; j++) {
                double d = -(double)y[j] * iy * ip;
                if (ip_raw < 1.0 / eps) d += dot * iy * ip * ip * ip * p[j];
                g[j] = (float)d * scale;
            }
        return L;
    }
    case RNN_LOSS_HINGE:
    case RNN_LOSS_SQUARED_HINGE: {
        const int sq = spec->kind == RNN_LOSS_SQUARED_HINGE;
        for (int64_t j = 0; j < C; j++) {
            float t = hinge_pm ? 2.0f * y[j] - 1.0f : y[j];
            double h = fmax(1.0 - (double)t * p[j], 0.0);
            L += sq ? h * h : h;
            if (g) g[j] = h > 0 ? (float)(sq ? -2.0 * t * h : -(double)t) * sc : 0.0f;
        }
        return L / (double)C;
    }
    case RNN_LOSS_CATEGORICAL_HINGE: {
        /* max(max_j((1 - y_j) p_j) - sum_j y_j p_j + 1, 0) */
        double pos = 0, neg = -INFINITY;
        int64_t arg = 0;
        for (int64_t j = 0; j < C; j++) {
            pos += (double)y[j] * p[j];
            double v = (1.0 - y[j]) * (double)p[j];
            if (v > neg) neg = v, arg = j;
        }
        L = fmax(neg - pos + 1.0, 0.0);
        if (g)
            for (int64_t j = 0; j < C; j++)
                g[j] = L > 0 ? (float)(-(double)y[j] + (j == arg ? 1.0 - y[j] : 0.0)) * scale : 0.0f;
        return L;
    }
    default:
        return 0;
    }
}

/* Loss of one row; adds d(row loss)/d pred * scale into g when g is non-NULL. */
static double row_loss(const rnn_loss_spec *spec, const float *p, const float *y, int64_t C,
                       float *g, float scale) {
    const float eps = RNN_LOSS_EPSILON;
    double L = 0;
    switch (spec->kind) {
    case RNN_LOSS_MSE:
        for (int64_t j = 0; j < C; j++) {
            double d = (double)p[j] - y[j];
            L += d * d;
            if (g) g[j] = 2.0f * (p[j] - y[j]) * scale / (float)C;
        }
        return L / (double)C;
    case RNN_LOSS_MAE:
        for (int64_t j = 0; j < C; j++) {
            float d = p[j] - y[j];
            L += fabs((double)d);
            if (g) g[j] = (d > 0 ? 1.0f : d < 0 ? -1.0f : 0.0f) * scale / (float)C;
        }
        return L / (double)C;
    case RNN_LOSS_SPARSE_CATEGORICAL_CE:
    case RNN_LOSS_CATEGORICAL_CE: {
        /* Probabilities (Keras 3, TensorFlow): sparse: l = log(clip(p)), loss = -l_y +
         * log(sum exp l) (renormalised after clipping); dense: q = clip(p / sum p), loss =
         * -sum y log q. From logits: -sum y log_softmax(z). */
        const int sparse = spec->kind == RNN_LOSS_SPARSE_CATEGORICAL_CE;
        const int64_t id = sparse ? (int64_t)y[0] : -1;
        if (spec->from_logits || sparse) {
            double mx = -INFINITY, se = 0;
            for (int64_t j = 0; j < C; j++) {
                double z = spec->from_logits ? p[j] : log(clipf(p[j], eps, 1 - eps));
                if (z > mx) mx = z;
            }
            for (int64_t j = 0; j < C; j++) {
                double z = spec->from_logits ? p[j] : log(clipf(p[j], eps, 1 - eps));
                se += exp(z - mx);
            }
            double lse = mx + log(se), ysum = sparse ? 1.0 : 0.0;
            if (!sparse)
                for (int64_t j = 0; j < C; j++) ysum += y[j];
            for (int64_t j = 0; j < C; j++) {
                double z = spec->from_logits ? p[j] : log(clipf(p[j], eps, 1 - eps));
                double yj = sparse ? (j == id) : y[j];
                L -= yj * (z - lse);
                if (g) {
                    double dz = exp(z - lse) * ysum - yj; /* d loss / d z_j */
                    /* chain through z = log(clip(p)) for probabilities */
                    if (!spec->from_logits) dz = (p[j] > eps && p[j] < 1 - eps) ? dz / p[j] : 0.0;
                    g[j] = (float)dz * scale;
                }
            }
            return L;
        }
        double S = 0;
        for (int64_t j = 0; j < C; j++) S += p[j];
        /* loss = -sum_j y_j log clip(p_j / S); where the clip is inactive,
         * d/dp_k = -y_k / p_k + sum_j y_j / S (the second term from S = sum p). */
        double inner = 0;
        for (int64_t j = 0; j < C; j++) {
            float q = (float)(p[j] / S), qc = clipf(q, eps, 1 - eps);
            L -= y[j] * log((double)qc);
            if (qc == q) inner += y[j] / S;
        }
        if (g)
            for (int64_t j = 0; j < C; j++) {
                float q = (float)(p[j] / S), qc = clipf(q, eps, 1 - eps);
                double d = (qc == q ? -(double)y[j] / p[j] : 0.0) + inner;
                g[j] = (float)d * scale;
            }
        return L;
    }
    case RNN_LOSS_BINARY_CE:
        for (int64_t j = 0; j < C; j++) {
            if (spec->from_logits) {
                double z = p[j];
                L += fmax(z, 0) - z * y[j] + log1p(exp(-fabs(z)));
                if (g) g[j] = (float)((1.0 / (1.0 + exp(-z)) - y[j]) / (double)C) * scale;
            } else {
                float pc = clipf(p[j], eps, 1 - eps);
                L -= y[j] * log(pc) + (1.0 - y[j]) * log(1.0 - pc);
                if (g)
                    g[j] = (p[j] > eps && p[j] < 1 - eps)
                               ? (float)((-(double)y[j] / pc + (1.0 - y[j]) / (1.0 - pc)) / (double)C) * scale
                               : 0.0f;
            }
        }
        return L / (double)C;
    case RNN_LOSS_KLD:
        for (int64_t j = 0; j < C; j++) {
            float yc = clipf(y[j], eps, 1), pc = clipf(p[j], eps, 1);
            L += yc * log((double)yc / pc);
            if (g) g[j] = (p[j] > eps && p[j] < 1) ? -(yc / pc) * scale : 0.0f;
        }
        return L;
    default:
        return 0;
    }
}

void rnn__loss_eval(const rnn_loss_spec *spec, const float *pred, const float *target, int64_t R,
                    int64_t C, const uint8_t *mask, float *grad, double *sum, int64_t *count) {
    rnn__loss_eval_over(spec, pred, target, R, C, mask, grad, 0, sum, count);
}

void rnn__loss_eval_over(const rnn_loss_spec *spec, const float *pred, const float *target,
                         int64_t R, int64_t C, const uint8_t *mask, float *grad,
                         int64_t denominator, double *sum, int64_t *count) {
    const int64_t tw = rnn__loss_sparse_targets(spec->kind) ? 1 : C;
    int64_t n = 0;
    for (int64_t r = 0; r < R; r++) n += !mask || mask[r];
    const int64_t over = denominator > 0 ? denominator : n;
    const float scale = over ? (float)(1.0 / (double)over) : 0.0f;
    int hinge_pm = 0;
    if (spec->kind == RNN_LOSS_HINGE || spec->kind == RNN_LOSS_SQUARED_HINGE) {
        hinge_pm = 1; /* over every target of the batch, masked rows included, as Keras */
        for (int64_t i = 0; i < R * C && hinge_pm; i++) hinge_pm = target[i] == 0.0f || target[i] == 1.0f;
    }
    double s = 0;
    for (int64_t r = 0; r < R; r++) {
        float *g = grad ? grad + r * C : NULL;
        if (mask && !mask[r]) {
            if (g) memset(g, 0, sizeof(float) * (size_t)C);
            continue;
        }
        s += spec->kind >= RNN_LOSS_HUBER
                 ? row_loss_extra(spec, pred + r * C, target + r * tw, C, g, scale, hinge_pm)
                 : row_loss(spec, pred + r * C, target + r * tw, C, g, scale);
    }
    *sum = s;
    *count = n;
}
