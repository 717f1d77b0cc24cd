#include "losses.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/team.h"

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

/* row_loss's MSE gradient, four lanes at a time (the same expression per element: the
 * division is what a scalar loop spends its time on). */
typedef float loss_v4 __attribute__((vector_size(16)));
static void mse_grad(const float *p, const float *y, int64_t C, float *g, float scale) {
    int64_t j = 0;
    for (; j + 4 <= C; j += 4) {
        loss_v4 pv, yv;
        memcpy(&pv, p + j, sizeof pv);
        memcpy(&yv, y + j, sizeof yv);
        const loss_v4 gv = 2.0f * (pv - yv) * scale / (float)C;
        memcpy(g + j, &gv, sizeof gv);
    }
    for (; j < C; j++) g[j] = 2.0f * (p[j] - y[j]) * scale / (float)C;
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

/* mse_rows4's sums where the CPU has AVX2: four columns of the four rows at a time, turned so
 * that each lane holds one row, the rows' chains advancing together in column order. The
 * same operations per row as the scalar loop (exact conversion to double, then subtract,
 * square, add; no contraction: no FMA in this target), so the same bits. Returns the columns
 * done; a holds the four chains. */
__attribute__((target("avx2"))) static int64_t mse_sums4_avx2(const float *const p[4],
                                                               const float *const y[4],
                                                               int64_t C, double a[4]) {
    __m256d acc = _mm256_loadu_pd(a);
    int64_t j = 0;
    for (; j + 4 <= C; j += 4) {
        __m128 p0 = _mm_loadu_ps(p[0] + j), p1 = _mm_loadu_ps(p[1] + j);
        __m128 p2 = _mm_loadu_ps(p[2] + j), p3 = _mm_loadu_ps(p[3] + j);
        __m128 y0 = _mm_loadu_ps(y[0] + j), y1 = _mm_loadu_ps(y[1] + j);
        __m128 y2 = _mm_loadu_ps(y[2] + j), y3 = _mm_loadu_ps(y[3] + j);
        _MM_TRANSPOSE4_PS(p0, p1, p2, p3); /* p_q: column j + q of the four rows */
        _MM_TRANSPOSE4_PS(y0, y1, y2, y3);
        __m256d d = _mm256_sub_pd(_mm256_cvtps_pd(p0), _mm256_cvtps_pd(y0));
        acc = _mm256_add_pd(acc, _mm256_mul_pd(d, d));
        d = _mm256_sub_pd(_mm256_cvtps_pd(p1), _mm256_cvtps_pd(y1));
        acc = _mm256_add_pd(acc, _mm256_mul_pd(d, d));
        d = _mm256_sub_pd(_mm256_cvtps_pd(p2), _mm256_cvtps_pd(y2));
        acc = _mm256_add_pd(acc, _mm256_mul_pd(d, d));
        d = _mm256_sub_pd(_mm256_cvtps_pd(p3), _mm256_cvtps_pd(y3));
        acc = _mm256_add_pd(acc, _mm256_mul_pd(d, d));
    }
    _mm256_storeu_pd(a, acc);
    return j;
}
#endif

/* MSE over four rows at once: each row's loss is its own chain of double additions in column
 * order, exactly row_loss's, but the four chains are independent, so their additions overlap
 * instead of each waiting for the one before (a single chain is bound by the add's latency:
 * 5 ms of B4's 182 ms training step, issue 18). The gradient is row_loss's expression. */
static void mse_rows4(const float *const p[4], const float *const y[4], int64_t C,
                      float *const g[4], float scale, double L[4]) {
    double a[4] = {0, 0, 0, 0};
    int64_t j0 = 0;
#if defined(__GNUC__) && defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) j0 = mse_sums4_avx2(p, y, C, a);
#endif
    for (int64_t j = j0; j < C; j++)
        for (int k = 0; k < 4; k++) {
            const double d = (double)p[k][j] - y[k][j];
            a[k] += d * d;
        }
    for (int k = 0; k < 4; k++) {
        L[k] = a[k] / (double)C;
        if (g[k]) mse_grad(p[k], y[k], C, g[k], scale);
    }
}

/* One loss evaluation's rows: row r's loss goes to row_l[r] (0 for a masked row, whose
 * gradient is zeroed). Each row is computed on its own, so any split of the rows among threads
 * gives the same values, and the caller sums them in row order. */
typedef struct {
    const rnn_loss_spec *spec;
    const float *pred, *target;
    int64_t R, C, tw;
    const uint8_t *mask;
    float *grad;
    float scale;
    int hinge_pm;
    double *row_l;
} loss_rows_job;

static double one_row(const loss_rows_job *j, int64_t r) {
    const int64_t C = j->C;
    float *g = j->grad ? j->grad + r * C : NULL;
    const float *p = j->pred + r * C, *y = j->target + r * j->tw;
    return j->spec->kind >= RNN_LOSS_HUBER ? row_loss_extra(j->spec, p, y, C, g, j->scale, j->hinge_pm)
                                           : row_loss(j->spec, p, y, C, g, j->scale);
}

static void loss_rows(const loss_rows_job *j, int64_t r0, int64_t r1) {
    const int64_t C = j->C;
    int64_t kept[4];
    int n = 0;
    for (int64_t r = r0; r < r1; r++) {
        if (j->mask && !j->mask[r]) {
            if (j->grad) memset(j->grad + r * C, 0, sizeof(float) * (size_t)C);
            j->row_l[r] = 0;
            continue;
        }
        if (j->spec->kind != RNN_LOSS_MSE) {
            j->row_l[r] = one_row(j, r);
            continue;
        }
        kept[n++] = r;
        if (n < 4) continue;
        const float *p[4], *y[4];
        float *g[4];
        double L[4];
        for (int k = 0; k < 4; k++) {
            p[k] = j->pred + kept[k] * C;
            y[k] = j->target + kept[k] * j->tw;
            g[k] = j->grad ? j->grad + kept[k] * C : NULL;
        }
        mse_rows4(p, y, C, g, j->scale, L);
        for (int k = 0; k < 4; k++) j->row_l[kept[k]] = L[k];
        n = 0;
    }
    for (int k = 0; k < n; k++) j->row_l[kept[k]] = one_row(j, kept[k]);
}

/* Thread tid's rows: an even share, in whole runs of four (mse_rows4). */
static void loss_rows_team(void *arg, int tid, int n) {
    const loss_rows_job *j = arg;
    const int64_t quads = (j->R + 3) / 4;
    int64_t r0 = 4 * (quads * tid / n), r1 = 4 * (quads * (tid + 1) / n);
    if (r1 > j->R) r1 = j->R;
    if (r0 < r1) loss_rows(j, r0, r1);
}

/* Below this many values the rows stay on the calling thread (waking the team costs more). */
#define LOSS_TEAM_VALUES (1 << 16)

static void loss_eval(const rnn_loss_spec *spec, const float *pred, const float *target,
                      int64_t R, int64_t C, const uint8_t *mask, float *grad,
                      int64_t denominator, double *sum, int64_t *count, int shared) {
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
    loss_rows_job job = {spec, pred, target, R, C, tw, mask, grad, scale, hinge_pm, NULL};
    job.row_l = R > 1 ? malloc(sizeof(double) * (size_t)R) : NULL;
    if (job.row_l) {
        if (shared && R * C >= LOSS_TEAM_VALUES) rnn__team_run(loss_rows_team, &job);
        else loss_rows(&job, 0, R);
        for (int64_t r = 0; r < R; r++) /* the kept rows in row order, as one row at a time */
            if (!mask || mask[r]) s += job.row_l[r];
        free(job.row_l);
    } else { /* one row, or no memory for the rows' losses: one row at a time */
        for (int64_t r = 0; r < R; r++) {
            if (mask && !mask[r]) {
                if (grad) memset(grad + r * C, 0, sizeof(float) * (size_t)C);
                continue;
            }
            s += one_row(&job, r);
        }
    }
    *sum = s;
    *count = n;
}

void rnn__loss_eval(const rnn_loss_spec *spec, const float *pred, const float *target, int64_t R,
                    int64_t C, const uint8_t *mask, float *grad, double *sum, int64_t *count) {
    loss_eval(spec, pred, target, R, C, mask, grad, 0, sum, count, 0);
}

void rnn__loss_eval_shared(const rnn_loss_spec *spec, const float *pred, const float *target,
                           int64_t R, int64_t C, const uint8_t *mask, float *grad, double *sum,
                           int64_t *count) {
    loss_eval(spec, pred, target, R, C, mask, grad, 0, sum, count, 1);
}

void rnn__loss_eval_over(const rnn_loss_spec *spec, const float *pred, const float *target,
                         int64_t R, int64_t C, const uint8_t *mask, float *grad,
                         int64_t denominator, double *sum, int64_t *count) {
    loss_eval(spec, pred, target, R, C, mask, grad, denominator, sum, count, 0);
}
