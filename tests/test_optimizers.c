/* Optimizer update rules against the formulas computed by hand in double precision (Keras 3:
 * Adam with amsgrad, SGD with momentum and Nesterov, RMSprop plain/centered/momentum), the
 * Keras 2 `decay`, the inverse-time and exponential schedules, the three clippings, and
 * rnn_sample's temperature. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "optim.h"

enum { N = 6, STEPS = 5 };

static float grad_at(int step, int i) { return sinf(1.7f * (float)i + 0.9f * (float)step) * (1 + i); }

typedef struct {
    double p[N], a[N], b[N], c[N];
} ref_state;

static void run(const char *name, rnn_optimizer o) {
    float p[N], s0[N] = {0}, s1[N] = {0}, s2[N] = {0}, g[N];
    ref_state r;
    memset(&r, 0, sizeof r);
    for (int i = 0; i < N; i++) r.p[i] = p[i] = 0.1f * (float)i - 0.2f;
    for (int step = 1; step <= STEPS; step++) {
        for (int i = 0; i < N; i++) g[i] = grad_at(step, i);
        float lr = rnn__optimizer_lr(&o, step - 1);
        rnn__optimizer_apply(&o, lr, p, g, s0, s1, s2, N, step);
        double lrd = o.learning_rate / (1.0 + o.decay * (step - 1));
        for (int i = 0; i < N; i++) {
            double gi = g[i];
            if (o.kind == RNN_OPT_ADAM) {
                r.a[i] = o.beta_1 * r.a[i] + (1 - o.beta_1) * gi;
                r.b[i] = o.beta_2 * r.b[i] + (1 - o.beta_2) * gi * gi;
                double v = r.b[i];
                if (o.amsgrad) v = r.c[i] = fmax(r.c[i], v);
                double alpha = lrd * sqrt(1 - pow(o.beta_2, step)) / (1 - pow(o.beta_1, step));
                r.p[i] -= alpha * r.a[i] / (sqrt(v) + o.epsilon);
            } else if (o.kind == RNN_OPT_SGD) {
                r.a[i] = o.momentum * r.a[i] - lrd * gi;
                r.p[i] += o.nesterov ? o.momentum * r.a[i] - lrd * gi : r.a[i];
            } else {
                r.a[i] = o.rho * r.a[i] + (1 - o.rho) * gi * gi;
                double denom = r.a[i];
                if (o.centered) {
                    r.b[i] = o.rho * r.b[i] + (1 - o.rho) * gi;
                    denom -= r.b[i] * r.b[i];
                }
                double delta = lrd * gi / sqrt(denom + o.epsilon);
                if (o.momentum > 0) {
                    r.c[i] = o.momentum * r.c[i] + delta;
                    r.p[i] -= r.c[i];
                } else {
                    r.p[i] -= delta;
                }
            }
        }
    }
    double moved = 0;
    for (int i = 0; i < N; i++) {
        CHECK_CLOSE(p[i], r.p[i], 2e-6, 1e-5, name);
        moved += fabs(r.p[i] - (0.1 * i - 0.2));
    }
    CHECK(moved > 1e-3, "%s: the reference did not move", name);
}

/* Adam over lengths that use the vector path (AVX2 machines: 8 values at a time) and the scalar
 * tail: the same bits as Keras's formula in float32, written here in its order of operations. */
static void adam_bits(void) {
    enum { M = 37 };
    rnn_optimizer o = rnn_adam_defaults();
    o.learning_rate = 0.01f;
    for (int n = 1; n <= M; n += 4) {
        float p[M], m[M] = {0}, v[M] = {0}, vh[M] = {0}, g[M];
        float rp[M], rm[M] = {0}, rv[M] = {0};
        for (int i = 0; i < n; i++) rp[i] = p[i] = 0.05f * (float)i - 0.3f;
        int differ = 0;
        for (int step = 1; step <= 4; step++) {
            for (int i = 0; i < n; i++) g[i] = grad_at(step, i) * (i % 3 == 0 ? 1e-3f : 1.0f);
            rnn__optimizer_apply(&o, o.learning_rate, p, g, m, v, vh, n, step);
            const float t = (float)step, b1 = o.beta_1, b2 = o.beta_2;
            const float alpha = o.learning_rate * sqrtf(1.0f - powf(b2, t)) / (1.0f - powf(b1, t));
            for (int i = 0; i < n; i++) {
                rm[i] += (g[i] - rm[i]) * (1.0f - b1);
                rv[i] += (g[i] * g[i] - rv[i]) * (1.0f - b2);
                rp[i] -= alpha * rm[i] / (sqrtf(rv[i]) + o.epsilon);
            }
            differ += memcmp(p, rp, sizeof(float) * n) != 0 || memcmp(m, rm, sizeof(float) * n) != 0 ||
                      memcmp(v, rv, sizeof(float) * n) != 0;
        }
        CHECK(differ == 0, "Adam over %d values: %d steps differ in bits from the float formula", n,
              differ);
    }
}

int main(void) {
    adam_bits();
    rnn_optimizer o = rnn_adam_defaults();
    CHECK(o.learning_rate == 0.001f && o.beta_1 == 0.9f && o.beta_2 == 0.999f && o.epsilon == 1e-7f,
          "Adam defaults");
    o.learning_rate = 0.01f;
    run("Adam", o);
    o.amsgrad = 1;
    run("Adam amsgrad", o);
    o.amsgrad = 0;
    o.decay = 0.01f; /* scenario 9's Adam(lr=0.009, decay=0.01) */
    o.learning_rate = 0.009f;
    run("Adam decay", o);
    o = rnn_sgd_defaults();
    CHECK(o.learning_rate == 0.01f && o.momentum == 0.0f, "SGD defaults");
    run("SGD", o);
    o.momentum = 0.9f;
    run("SGD momentum", o);
    o.nesterov = 1;
    run("SGD nesterov", o);
    o = rnn_rmsprop_defaults();
    CHECK(o.learning_rate == 0.001f && o.rho == 0.9f && o.epsilon == 1e-7f, "RMSprop defaults");
    run("RMSprop", o);
    o.centered = 1;
    run("RMSprop centered", o);
    o.momentum = 0.5f;
    run("RMSprop centered momentum", o);

    /* schedules: step k after k applied updates */
    o = rnn_adam_defaults();
    o.learning_rate = 0.1f;
    o.schedule = RNN_SCHEDULE_INVERSE_TIME;
    o.decay_steps = 10;
    o.decay_rate = 0.5f;
    CHECK_CLOSE(rnn__optimizer_lr(&o, 20), 0.1 / (1 + 0.5 * 2), 1e-8, 1e-6, "inverse time");
    o.staircase = 1;
    CHECK_CLOSE(rnn__optimizer_lr(&o, 25), 0.1 / (1 + 0.5 * 2), 1e-8, 1e-6, "staircase");
    o.staircase = 0;
    o.schedule = RNN_SCHEDULE_EXPONENTIAL;
    CHECK_CLOSE(rnn__optimizer_lr(&o, 15), 0.1 * pow(0.5, 1.5), 1e-8, 1e-6, "exponential");
    o.schedule = RNN_SCHEDULE_CONSTANT;
    o.decay = 0.1f;
    CHECK_CLOSE(rnn__optimizer_lr(&o, 4), 0.1 / 1.4, 1e-8, 1e-6, "legacy decay");

    /* clipping */
    float a[2] = {3, 4}, b[1] = {12}, *gs[2] = {a, b};
    int64_t sizes[2] = {2, 1};
    rnn_optimizer c = rnn_sgd_defaults();
    c.clipnorm = 1.0f; /* per weight: |(3,4)| = 5 -> (0.6, 0.8); |12| -> 1 */
    rnn__optimizer_clip(&c, gs, sizes, 2);
    CHECK_CLOSE(a[0], 0.6, 1e-6, 0, "clipnorm");
    CHECK_CLOSE(b[0], 1.0, 1e-6, 0, "clipnorm");
    a[0] = 3; a[1] = 4; b[0] = 12;
    c.clipnorm = 0;
    c.global_clipnorm = 6.5f; /* global norm 13 -> scale 0.5 */
    rnn__optimizer_clip(&c, gs, sizes, 2);
    CHECK_CLOSE(a[1], 2.0, 1e-6, 0, "global_clipnorm");
    CHECK_CLOSE(b[0], 6.0, 1e-6, 0, "global_clipnorm");
    c.global_clipnorm = 0;
    c.clipvalue = 2.5f;
    rnn__optimizer_clip(&c, gs, sizes, 2);
    CHECK(a[0] == 1.5f && a[1] == 2.0f && b[0] == 2.5f, "clipvalue");
    c.clipnorm = 1.0f;
    CHECK(rnn__optimizer_check(&c) == RNN_ERR_ARGUMENT, "two clippings accepted");

    /* sampling: temperature 0 is the arg max; temperature 1 follows the probabilities */
    float probs[4] = {0.1f, 0.2f, 0.6f, 0.1f};
    uint64_t st = 42;
    CHECK(rnn_sample(probs, 4, 0.0f, &st) == 2, "temperature 0 is the arg max");
    int counts[4] = {0};
    for (int i = 0; i < 20000; i++) counts[rnn_sample(probs, 4, 1.0f, &st)]++;
    CHECK(fabs(counts[2] / 20000.0 - 0.6) < 0.02 && fabs(counts[1] / 20000.0 - 0.2) < 0.02,
          "sampling frequencies %d %d %d %d", counts[0], counts[1], counts[2], counts[3]);
    int hot[4] = {0};
    for (int i = 0; i < 20000; i++) hot[rnn_sample(probs, 4, 0.5f, &st)]++;
    /* T = 0.5: p^2 renormalised: 0.6^2 / (0.01+0.04+0.36+0.01) = 0.857 */
    CHECK(fabs(hot[2] / 20000.0 - 0.857) < 0.02, "temperature 0.5: %d", hot[2]);
    CHECK(rnn_sample(NULL, 4, 1.0f, &st) == -1, "NULL accepted");
    return check_report("test_optimizers");
}
