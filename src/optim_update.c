/* The update rules of every optimizer kind, as Keras 3.15.1's update_step methods write them
 * (keras/src/optimizers/<name>.py), in float32 and in Keras's order of operations. Keras 3's
 * weight_decay (base_optimizer._apply_weight_decay) comes first: w -= w * wd * lr.
 *
 * g2 / gabs stand for g^2 / |g| where the gradient came as per-occurrence slices (an
 * Embedding's tf.IndexedSlices): there Keras's ops.square and ops.abs act on each slice and the
 * slices are summed afterwards, while the linear terms see the summed gradient g. */
#include <math.h>
#include <string.h>

#include "optim.h"

const char *rnn__optimizer_class(rnn_optimizer_kind kind) {
    static const char *const names[] = {"Adam", "SGD", "RMSprop", "Adagrad", "Adadelta",
                                        "Adamax", "Nadam", "AdamW"};
    return (int)kind >= 0 && kind <= RNN_OPT_ADAMW ? names[kind] : "unknown";
}

float rnn__optimizer_slot_init(const rnn_optimizer *o, int slot) {
    return o->kind == RNN_OPT_ADAGRAD && slot == 0 ? o->initial_accumulator_value : 0.0f;
}

float rnn__nadam_u_product(const rnn_optimizer *o, float u, int64_t from, int64_t to) {
    for (int64_t t = from + 1; t <= to; t++)
        u = u * o->beta_1 * (1.0f - 0.5f * powf(0.96f, (float)t));
    return u;
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

/* Keras's Adam update of p[0, n) 8 values at a time where the CPU has AVX2; returns how many it
 * did (the caller's loop does the rest). The operations and their order are the scalar loop's
 * (no contraction under -std=c11; IEEE square root and division per lane), so the bits are the
 * same. The scalar loop is not vectorised by the compiler (sqrtf may set errno), and a small
 * model's training step spent a fifth of its time in it. */
__attribute__((target("avx2"))) static int64_t adam_avx2(float *p, const float *g, float *m,
                                                          float *v, int64_t n, float alpha,
                                                          float one_b1, float one_b2, float eps) {
    const __m256 a = _mm256_set1_ps(alpha), c1 = _mm256_set1_ps(one_b1);
    const __m256 c2 = _mm256_set1_ps(one_b2), e = _mm256_set1_ps(eps);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 gi = _mm256_loadu_ps(g + i);
        __m256 mi = _mm256_loadu_ps(m + i), vi = _mm256_loadu_ps(v + i);
        mi = _mm256_add_ps(mi, _mm256_mul_ps(_mm256_sub_ps(gi, mi), c1));
        vi = _mm256_add_ps(vi, _mm256_mul_ps(_mm256_sub_ps(_mm256_mul_ps(gi, gi), vi), c2));
        const __m256 d = _mm256_div_ps(_mm256_mul_ps(a, mi), _mm256_add_ps(_mm256_sqrt_ps(vi), e));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        _mm256_storeu_ps(p + i, _mm256_sub_ps(_mm256_loadu_ps(p + i), d));
    }
    return i;
}
#endif

static inline float sq_at(const float *g2, const float *g, int64_t i) { return g2 ? g2[i] : g[i] * g[i]; }

void rnn__optimizer_apply_ex(const rnn_optimizer *o, const rnn_opt_step *s, float *p,
                             const float *g, const float *g2, const float *gabs, float *s0,
                             float *s1, float *s2, int64_t n) {
    const float lr = s->lr, t = (float)s->step, eps = o->epsilon;
    if (o->weight_decay > 0.0f) {
        const float wd = o->weight_decay;
        for (int64_t i = 0; i < n; i++) p[i] -= p[i] * wd * lr;
    }
    switch (o->kind) {
    case RNN_OPT_ADAM:
    case RNN_OPT_ADAMW: {
        /* Keras 3 Adam:
         *   m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2);  (amsgrad: vh = max(vh, v))
         *   alpha = lr sqrt(1 - b2^t) / (1 - b1^t);  p -= alpha m / (sqrt(v) + eps) */
        const float b1 = o->beta_1, b2 = o->beta_2;
        const float alpha = lr * sqrtf(1.0f - powf(b2, t)) / (1.0f - powf(b1, t));
        const float one_b1 = 1.0f - b1, one_b2 = 1.0f - b2;
        float *m = s0, *v = s1, *vh = s2;
        int64_t i0 = 0;
#if defined(__GNUC__) && defined(__x86_64__)
        if (!g2 && !o->amsgrad && __builtin_cpu_supports("avx2"))
            i0 = adam_avx2(p, g, m, v, n, alpha, one_b1, one_b2, eps);
#endif
        for (int64_t i = i0; i < n; i++) {
            float gi = g[i];
            m[i] += (gi - m[i]) * one_b1;
            v[i] += (sq_at(g2, g, i) - v[i]) * one_b2;
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
        const float rho = o->rho, mu = o->momentum;
        float *sv = s0, *gm = s1, *mom = s2;
        for (int64_t i = 0; i < n; i++) {
            float gi = g[i];
            sv[i] = rho * sv[i] + (1.0f - rho) * sq_at(g2, g, i);
            float denom = sv[i];
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
    case RNN_OPT_ADAGRAD: {
        /* acc += g^2;  p -= lr g / sqrt(acc + eps)   (acc starts at initial_accumulator_value) */
        float *acc = s0;
        for (int64_t i = 0; i < n; i++) {
            acc[i] += sq_at(g2, g, i);
            p[i] -= lr * g[i] / sqrtf(acc[i] + eps);
        }
        break;
    }
    case RNN_OPT_ADADELTA: {
        /* ag = rho ag + (1 - rho) g^2;  delta = -sqrt(ad + eps) g / sqrt(ag + eps)
         * ad = rho ad + (1 - rho) delta^2;  p += lr delta
         * (per-occurrence slices: each slice's delta squared, i.e. c^2 sum(g_k^2) for
         * delta_k = -c g_k) */
        const float rho = o->rho;
        float *ag = s0, *ad = s1;
        for (int64_t i = 0; i < n; i++) {
            ag[i] = rho * ag[i] + (1.0f - rho) * sq_at(g2, g, i);
            const float rd = sqrtf(ad[i] + eps), rg = sqrtf(ag[i] + eps);
            const float delta = -(rd * g[i] / rg);
            float dsq;
            if (g2) {
                const float c = rd / rg;
                dsq = c * c * g2[i];
            } else {
                dsq = delta * delta;
            }
            ad[i] = rho * ad[i] + (1.0f - rho) * dsq;
            p[i] += lr * delta;
        }
        break;
    }
    case RNN_OPT_ADAMAX: {
        /* m += (g - m)(1 - b1);  u = max(b2 u, |g|);  p -= lr m / ((1 - b1^t)(u + eps)) */
        const float b1 = o->beta_1, b2 = o->beta_2, b1p = powf(b1, t);
        float *m = s0, *u = s1;
        for (int64_t i = 0; i < n; i++) {
            m[i] += (g[i] - m[i]) * (1.0f - b1);
            const float a = gabs ? gabs[i] : fabsf(g[i]), bu = b2 * u[i];
            u[i] = bu > a ? bu : a;
            p[i] -= lr * m[i] / ((1.0f - b1p) * (u[i] + eps));
        }
        break;
    }
    case RNN_OPT_NADAM: {
        /* u_t = b1 (1 - 0.5 * 0.96^t), u_{t+1} likewise; U_t = u_1 ... u_t (s->u_product)
         * m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2)
         * m_hat = u_{t+1} m / (1 - U_t u_{t+1}) + (1 - u_t) g / (1 - U_t)
         * p -= m_hat lr / (sqrt(v / (1 - b2^t)) + eps) */
        const float b1 = o->beta_1, b2 = o->beta_2;
        const float u_t = b1 * (1.0f - 0.5f * powf(0.96f, t));
        const float u_t1 = b1 * (1.0f - 0.5f * powf(0.96f, t + 1.0f));
        const float up = s->u_product, up1 = up * u_t1, b2p = powf(b2, t);
        float *m = s0, *v = s1;
        for (int64_t i = 0; i < n; i++) {
            m[i] += (g[i] - m[i]) * (1.0f - b1);
            v[i] += (sq_at(g2, g, i) - v[i]) * (1.0f - b2);
            const float mh = u_t1 * m[i] / (1.0f - up1) + (1.0f - u_t) * g[i] / (1.0f - up);
            const float vh = v[i] / (1.0f - b2p);
            p[i] -= mh * lr / (sqrtf(vh) + eps);
        }
        break;
    }
    }
}
