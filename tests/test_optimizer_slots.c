/* The optimizer's slot arrays are allocated at the first training step, as Keras 3 builds its
 * optimizer's variables then and not at compile (issue 18: a streaming model that only predicts,
 * rnn bench B5, held three arrays the size of its weights). For every optimizer and the settings
 * that change its slots:
 *   - after compile and predict the model holds no slot; after training exactly the slots the
 *     optimizer updates (the table below, written from Keras 3's optimizer variables);
 *   - training gives the same bits as with all three slots allocated eagerly at compile at
 *     Keras's starting values (what librnn did before: zeros, Adagrad's accumulator at
 *     initial_accumulator_value);
 *   - a compile again restarts from the starting values (slots freed);
 *   - saved after two steps (.keras, through the reader process) and loaded, the third step
 *     gives the same bits as three steps without the round trip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "memory.h"
#include "model.h"
#include "rnn.h"

enum { N = 8, T = 5, F = 2, STEPS = 3 };
static float X[N * T * F], Y[N];

typedef struct {
    const char *name;
    rnn_optimizer opt;
    unsigned slots; /* Keras 3's variables per weight: bit k = librnn's slot k */
} config;

static rnn_model *model(const rnn_optimizer *o) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_set_seed(m, 7);
    rnn_input(m, T, F);
    rnn_recurrent_options l = rnn_lstm_defaults(4);
    rnn_add(m, rnn_lstm(&l));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    CHECK(rnn_compile_with(m, "mse", o) == RNN_OK, "compile: %s", rnn_model_error(m));
    return m;
}

static void train(rnn_model *m, int steps) {
    for (int s = 0; s < steps; s++) {
        double loss = 0;
        CHECK(rnn_train_on_batch(m, rnn_data_xy(rnn_tensor3(X, N, T, F), rnn_tensor2(Y, N, 1)),
                                 &loss) == RNN_OK, "train: %s", rnn_model_error(m));
    }
}

/* The state before lazy slots: three arrays at Keras's starting values from compile on. */
static void eager_slots(rnn_model *m, const rnn_optimizer *o) {
    for (int k = 0; k < 3; k++) {
        float *s = rnn__calloc((size_t)m->n_params + 1, sizeof(float));
        const float v = o->kind == RNN_OPT_ADAGRAD && k == 0 ? o->initial_accumulator_value : 0.0f;
        for (int64_t i = 0; s && i < m->n_params; i++) s[i] = v;
        rnn__free(m->opt_slot[k]);
        m->opt_slot[k] = s;
    }
}

/* 1 when every weight of a and b has the same bits. */
static int same_weights(rnn_model *a, rnn_model *b) {
    if (a->n_weights != b->n_weights) return 0;
    for (int i = 0; i < a->n_weights; i++)
        if (memcmp(a->weights[i]->value, b->weights[i]->value,
                   sizeof(float) * (size_t)a->weights[i]->size))
            return 0;
    return 1;
}

static unsigned held(const rnn_model *m) {
    return (m->opt_slot[0] != NULL) | (m->opt_slot[1] != NULL) << 1 | (m->opt_slot[2] != NULL) << 2;
}

static void one(const config *c, const char *dir) {
    rnn_model *lazy = model(&c->opt), *eager = model(&c->opt);
    CHECK(held(lazy) == 0, "%s: slots held after compile (%u)", c->name, held(lazy));
    rnn_tensor yp = {0};
    CHECK(rnn_predict(lazy, rnn_data_x(rnn_tensor3(X, N, T, F)), N, &yp, 1) == RNN_OK,
          "predict: %s", rnn_model_error(lazy));
    rnn_tensor_free(&yp);
    CHECK(held(lazy) == 0, "%s: slots held after predict (%u)", c->name, held(lazy));
    eager_slots(eager, &c->opt);
    train(lazy, STEPS);
    train(eager, STEPS);
    CHECK(held(lazy) == c->slots, "%s: slots held after training %u, Keras's variables %u",
          c->name, held(lazy), c->slots);
    CHECK(same_weights(lazy, eager), "%s: lazy slots changed the weights' bits", c->name);
    /* a compile again: the optimizer from its start on the trained weights, as with eager slots */
    CHECK(rnn_compile_with(lazy, "mse", &c->opt) == RNN_OK, "recompile: %s", rnn_model_error(lazy));
    CHECK(rnn_compile_with(eager, "mse", &c->opt) == RNN_OK, "recompile: %s", rnn_model_error(eager));
    CHECK(held(lazy) == 0, "%s: slots held after a compile again (%u)", c->name, held(lazy));
    eager_slots(eager, &c->opt);
    train(lazy, 2);
    train(eager, 2);
    CHECK(same_weights(lazy, eager), "%s: after a compile again: the weights' bits differ", c->name);
    rnn_model_free(lazy);
    rnn_model_free(eager);
#ifdef RNN_WITH_KERAS_IO
    /* two steps, save, load, one step == three steps */
    rnn_model *a = model(&c->opt), *b = model(&c->opt);
    train(a, 2);
    const char *path = check_path(dir, "m.keras");
    CHECK(rnn_save(a, path) == RNN_OK, "save: %s", rnn_model_error(a));
    rnn_model *loaded = rnn_load(path);
    CHECK(loaded != NULL, "load: %s", rnn_last_error());
    if (loaded) {
        CHECK(held(loaded) == (rnn_optimizer_iterations(loaded) > 0 ? c->slots : 0u) ||
              c->slots == 0, "%s: loaded slots %u", c->name, held(loaded));
        train(loaded, 1);
        train(b, 3);
        CHECK(same_weights(loaded, b), "%s: save and load after two steps changed the third",
              c->name);
        rnn_model_free(loaded);
    }
    unlink(path);
    rnn_model_free(a);
    rnn_model_free(b);
#else
    (void)dir;
#endif
}

/* A layer appended to a trained model (model.c keeps the trained weights' slots): the new
 * weights' slots start at the optimizer's starting value, as a slot not allocated yet does
 * (Adagrad's accumulator at initial_accumulator_value, not 0). */
static void appended_after_training(void) {
    rnn_optimizer ada = rnn_adagrad_defaults();
    ada.initial_accumulator_value = 0.3f;
    rnn_model *m = model(&ada);
    train(m, 1);
    const int64_t before = m->n_params;
    CHECK(rnn_add(m, rnn_dense_simple(1, RNN_LINEAR)) == RNN_OK, "add: %s", rnn_model_error(m));
    rnn_tensor yp = {0};
    CHECK(rnn_predict(m, rnn_data_x(rnn_tensor3(X, N, T, F)), N, &yp, 1) == RNN_OK,
          "predict: %s", rnn_model_error(m));
    rnn_tensor_free(&yp);
    CHECK(m->n_params > before && m->opt_slot[0], "appended: %lld -> %lld weights, slot %p",
          (long long)before, (long long)m->n_params, (void *)m->opt_slot[0]);
    int64_t wrong = 0;
    for (int64_t i = before; m->opt_slot[0] && i < m->n_params; i++)
        wrong += m->opt_slot[0][i] != 0.3f;
    CHECK(wrong == 0, "Adagrad: %lld of the appended layer's %lld accumulators not at 0.3",
          (long long)wrong, (long long)(m->n_params - before));
    train(m, 1);
    rnn_model_free(m);
}

int main(void) {
    for (int i = 0; i < N * T * F; i++) X[i] = (float)((i * 37 % 19) - 9) / 9.0f;
    for (int i = 0; i < N; i++) Y[i] = (float)(i % 3) - 1.0f;
    char dir[] = "/tmp/rnn-test-slots-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    rnn_optimizer adam = rnn_adam_defaults(), ams = adam, sgd = rnn_sgd_defaults(), sgdm = sgd,
                  rms = rnn_rmsprop_defaults(), rmsc = rms, rmsm = rms,
                  ada = rnn_adagrad_defaults(), adad = rnn_adadelta_defaults(),
                  amax = rnn_adamax_defaults(), nadam = rnn_nadam_defaults(),
                  adamw = rnn_adamw_defaults();
    ams.amsgrad = 1;
    sgdm.momentum = 0.9f;
    sgdm.nesterov = 1;
    rmsc.centered = 1;
    rmsm.momentum = 0.5f;
    rmsm.centered = 1;
    ada.initial_accumulator_value = 0.3f; /* not zero: a slot started at 0 would show */
    adad.learning_rate = 1.0f;            /* Adadelta's steps are tiny at its default rate */
    const config configs[] = {
        {"Adam", adam, 3}, {"Adam amsgrad", ams, 7}, {"AdamW", adamw, 3},
        {"SGD", sgd, 0}, {"SGD momentum nesterov", sgdm, 1}, {"RMSprop", rms, 1},
        {"RMSprop centered", rmsc, 3}, {"RMSprop centered momentum", rmsm, 7},
        {"Adagrad", ada, 1}, {"Adadelta", adad, 3}, {"Adamax", amax, 3}, {"Nadam", nadam, 3},
    };
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) one(&configs[i], dir);
    appended_after_training();
    rmdir(dir);
    return check_report("test_optimizer_slots");
}
