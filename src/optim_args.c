/* Optimizers by their Keras names and constructor arguments, as text: what a program that takes
 * its settings from a user (the rnn tool's --optimizer and --opt key=value) needs. Two tables:
 * the optimizer names, and one row per (optimizer, argument). A new optimizer kind is one row in
 * the first and one row per argument in the second. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "rnn.h"

static const struct {
    const char *name; /* Keras's class name; the identifier is the same in any case */
    rnn_optimizer_kind kind;
    rnn_optimizer (*defaults)(void);
} optimizers[] = {
    {"Adam", RNN_OPT_ADAM, rnn_adam_defaults},
    {"SGD", RNN_OPT_SGD, rnn_sgd_defaults},
    {"RMSprop", RNN_OPT_RMSPROP, rnn_rmsprop_defaults},
    {"Adagrad", RNN_OPT_ADAGRAD, rnn_adagrad_defaults},
    {"Adadelta", RNN_OPT_ADADELTA, rnn_adadelta_defaults},
    {"Adamax", RNN_OPT_ADAMAX, rnn_adamax_defaults},
    {"Nadam", RNN_OPT_NADAM, rnn_nadam_defaults},
    {"AdamW", RNN_OPT_ADAMW, rnn_adamw_defaults},
};
#define N_OPTIMIZERS (int)(sizeof optimizers / sizeof optimizers[0])

typedef enum { ARG_FLOAT, ARG_BOOL, ARG_CLIP } arg_type; /* ARG_CLIP: a float, 0 is None */

#define F(field) offsetof(rnn_optimizer, field)
/* Keras's constructor arguments, in the order of its signatures. */
static const struct {
    rnn_optimizer_kind kind;
    const char *key;
    arg_type type;
    size_t offset;
} args[] = {
    {RNN_OPT_ADAM, "learning_rate", ARG_FLOAT, F(learning_rate)},
    {RNN_OPT_ADAM, "beta_1", ARG_FLOAT, F(beta_1)},
    {RNN_OPT_ADAM, "beta_2", ARG_FLOAT, F(beta_2)},
    {RNN_OPT_ADAM, "epsilon", ARG_FLOAT, F(epsilon)},
    {RNN_OPT_ADAM, "amsgrad", ARG_BOOL, F(amsgrad)},
    {RNN_OPT_ADAM, "weight_decay", ARG_CLIP, F(weight_decay)},
    {RNN_OPT_ADAM, "clipnorm", ARG_CLIP, F(clipnorm)},
    {RNN_OPT_ADAM, "clipvalue", ARG_CLIP, F(clipvalue)},
    {RNN_OPT_ADAM, "global_clipnorm", ARG_CLIP, F(global_clipnorm)},
    {RNN_OPT_SGD, "learning_rate", ARG_FLOAT, F(learning_rate)},
    {RNN_OPT_SGD, "momentum", ARG_FLOAT, F(momentum)},
    {RNN_OPT_SGD, "nesterov", ARG_BOOL, F(nesterov)},
    {RNN_OPT_SGD, "weight_decay", ARG_CLIP, F(weight_decay)},
    {RNN_OPT_SGD, "clipnorm", ARG_CLIP, F(clipnorm)},
    {RNN_OPT_SGD, "clipvalue", ARG_CLIP, F(clipvalue)},
    {RNN_OPT_SGD, "global_clipnorm", ARG_CLIP, F(global_clipnorm)},
    {RNN_OPT_RMSPROP, "learning_rate", ARG_FLOAT, F(learning_rate)},
    {RNN_OPT_RMSPROP, "rho", ARG_FLOAT, F(rho)},
    {RNN_OPT_RMSPROP, "momentum", ARG_FLOAT, F(momentum)},
    {RNN_OPT_RMSPROP, "epsilon", ARG_FLOAT, F(epsilon)},
    {RNN_OPT_RMSPROP, "centered", ARG_BOOL, F(centered)},
    {RNN_OPT_RMSPROP, "weight_decay", ARG_CLIP, F(weight_decay)},
    {RNN_OPT_RMSPROP, "clipnorm", ARG_CLIP, F(clipnorm)},
    {RNN_OPT_RMSPROP, "clipvalue", ARG_CLIP, F(clipvalue)},
    {RNN_OPT_RMSPROP, "global_clipnorm", ARG_CLIP, F(global_clipnorm)},
    {RNN_OPT_ADAGRAD, "learning_rate", ARG_FLOAT, F(learning_rate)},
    {RNN_OPT_ADAGRAD, "initial_accumulator_value", ARG_FLOAT, F(initial_accumulator_value)},
    {RNN_OPT_ADAGRAD, "epsilon", ARG_FLOAT, F(epsilon)},
    {RNN_OPT_ADAGRAD, "weight_decay", ARG_CLIP, F(weight_decay)},
    {RNN_OPT_ADAGRAD, "clipnorm", ARG_CLIP, F(clipnorm)},
    {RNN_OPT_ADAGRAD, "clipvalue", ARG_CLIP, F(clipvalue)},
    {RNN_OPT_ADAGRAD, "global_clipnorm", ARG_CLIP, F(global_clipnorm)},
    {RNN_OPT_ADADELTA, "learning_rate", ARG_FLOAT, F(learning_rate)},
    {RNN_OPT_ADADELTA, "rho", ARG_FLOAT, F(rho)},
    {RNN_OPT_ADADELTA, "epsilon", ARG_FLOAT, F(epsilon)},
    {RNN_OPT_ADADELTA, "weight_decay", ARG_CLIP, F(weight_decay)},
    {RNN_OPT_ADADELTA, "clipnorm", ARG_CLIP, F(clipnorm)},
    {RNN_OPT_ADADELTA, "clipvalue", ARG_CLIP, F(clipvalue)},
    {RNN_OPT_ADADELTA, "global_clipnorm", ARG_CLIP, F(global_clipnorm)},
    {RNN_OPT_ADAMAX, "learning_rate", ARG_FLOAT, F(learning_rate)},
    {RNN_OPT_ADAMAX, "beta_1", ARG_FLOAT, F(beta_1)},
    {RNN_OPT_ADAMAX, "beta_2", ARG_FLOAT, F(beta_2)},
    {RNN_OPT_ADAMAX, "epsilon", ARG_FLOAT, F(epsilon)},
    {RNN_OPT_ADAMAX, "weight_decay", ARG_CLIP, F(weight_decay)},
    {RNN_OPT_ADAMAX, "clipnorm", ARG_CLIP, F(clipnorm)},
    {RNN_OPT_ADAMAX, "clipvalue", ARG_CLIP, F(clipvalue)},
    {RNN_OPT_ADAMAX, "global_clipnorm", ARG_CLIP, F(global_clipnorm)},
    {RNN_OPT_NADAM, "learning_rate", ARG_FLOAT, F(learning_rate)},
    {RNN_OPT_NADAM, "beta_1", ARG_FLOAT, F(beta_1)},
    {RNN_OPT_NADAM, "beta_2", ARG_FLOAT, F(beta_2)},
    {RNN_OPT_NADAM, "epsilon", ARG_FLOAT, F(epsilon)},
    {RNN_OPT_NADAM, "weight_decay", ARG_CLIP, F(weight_decay)},
    {RNN_OPT_NADAM, "clipnorm", ARG_CLIP, F(clipnorm)},
    {RNN_OPT_NADAM, "clipvalue", ARG_CLIP, F(clipvalue)},
    {RNN_OPT_NADAM, "global_clipnorm", ARG_CLIP, F(global_clipnorm)},
    {RNN_OPT_ADAMW, "learning_rate", ARG_FLOAT, F(learning_rate)},
    {RNN_OPT_ADAMW, "weight_decay", ARG_FLOAT, F(weight_decay)},
    {RNN_OPT_ADAMW, "beta_1", ARG_FLOAT, F(beta_1)},
    {RNN_OPT_ADAMW, "beta_2", ARG_FLOAT, F(beta_2)},
    {RNN_OPT_ADAMW, "epsilon", ARG_FLOAT, F(epsilon)},
    {RNN_OPT_ADAMW, "amsgrad", ARG_BOOL, F(amsgrad)},
    {RNN_OPT_ADAMW, "clipnorm", ARG_CLIP, F(clipnorm)},
    {RNN_OPT_ADAMW, "clipvalue", ARG_CLIP, F(clipvalue)},
    {RNN_OPT_ADAMW, "global_clipnorm", ARG_CLIP, F(global_clipnorm)},
};
#undef F
#define N_ARGS (int)(sizeof args / sizeof args[0])

static const char *kind_name(rnn_optimizer_kind kind) {
    for (int i = 0; i < N_OPTIMIZERS; i++)
        if (optimizers[i].kind == kind) return optimizers[i].name;
    return NULL;
}

rnn_status rnn_optimizer_by_name(const char *name, rnn_optimizer *out) {
    if (!out) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_optimizer_by_name: out is NULL");
    for (int i = 0; name && i < N_OPTIMIZERS; i++)
        if (!strcasecmp(name, optimizers[i].name)) {
            *out = optimizers[i].defaults();
            return RNN_OK;
        }
    char known[256] = "";
    for (int i = 0; i < N_OPTIMIZERS; i++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
                 optimizers[i].name);
    return rnn__fail(RNN_ERR_ARGUMENT, "Could not interpret optimizer identifier: %s (librnn has "
                     "%s)", name ? name : "NULL", known);
}

/* Keras's booleans as Python and JSON write them, and 1/0. */
static int parse_bool(const char *t, int *out) {
    if (!strcmp(t, "True") || !strcmp(t, "true") || !strcmp(t, "1")) *out = 1;
    else if (!strcmp(t, "False") || !strcmp(t, "false") || !strcmp(t, "0")) *out = 0;
    else return -1;
    return 0;
}

rnn_status rnn_optimizer_set_arg(rnn_optimizer *o, const char *key, const char *value) {
    if (!o || !key || !value)
        return rnn__fail(RNN_ERR_ARGUMENT, "rnn_optimizer_set_arg: NULL argument");
    const char *name = kind_name(o->kind);
    if (!name) return rnn__fail(RNN_ERR_ARGUMENT, "unknown optimizer kind %d", (int)o->kind);
    for (int i = 0; i < N_ARGS; i++) {
        if (args[i].kind != o->kind || strcmp(args[i].key, key)) continue;
        char *p = (char *)o + args[i].offset;
        if (args[i].type == ARG_BOOL) {
            int b;
            if (parse_bool(value, &b))
                return rnn__fail(RNN_ERR_ARGUMENT, "%s: %s takes True or False, got \"%s\"", name,
                                 key, value);
            memcpy(p, &b, sizeof b);
            return RNN_OK;
        }
        char *end;
        double v = strtod(value, &end);
        if (args[i].type == ARG_CLIP && !strcmp(value, "None")) v = 0, end = (char *)value + 4;
        if (!*value || *end || !isfinite(v) || fabs(v) > 3.4e38)
            return rnn__fail(RNN_ERR_ARGUMENT, "%s: %s takes a number, got \"%s\"", name, key,
                             value);
        float f = (float)v;
        memcpy(p, &f, sizeof f);
        return RNN_OK;
    }
    char known[512] = "";
    for (int i = 0; i < N_ARGS; i++)
        if (args[i].kind == o->kind)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                     known[0] ? ", " : "", args[i].key);
    return rnn__fail(RNN_ERR_ARGUMENT, "%s has no argument \"%s\" (its arguments: %s)", name, key,
                     known);
}

rnn_status rnn_optimizer_describe(const rnn_optimizer *o, char *buf, size_t size) {
    if (!o || !buf || !size) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_optimizer_describe: NULL argument");
    const char *name = kind_name(o->kind);
    if (!name) return rnn__fail(RNN_ERR_ARGUMENT, "unknown optimizer kind %d", (int)o->kind);
    size_t n = (size_t)snprintf(buf, size, "%s(", name);
    int first = 1;
    for (int i = 0; i < N_ARGS && n < size; i++) {
        if (args[i].kind != o->kind) continue;
        const char *p = (const char *)o + args[i].offset;
        const char *sep = first ? "" : ", ";
        first = 0;
        int b;
        float f;
        if (args[i].type == ARG_BOOL) {
            memcpy(&b, p, sizeof b);
            n += (size_t)snprintf(buf + n, size - n, "%s%s=%s", sep, args[i].key, b ? "True" : "False");
            continue;
        }
        memcpy(&f, p, sizeof f);
        if (args[i].type == ARG_CLIP && f == 0.0f)
            n += (size_t)snprintf(buf + n, size - n, "%s%s=None", sep, args[i].key);
        else if (args[i].offset == offsetof(rnn_optimizer, learning_rate) &&
                 o->schedule != RNN_SCHEDULE_CONSTANT)
            n += (size_t)snprintf(buf + n, size - n, "%slearning_rate=%s(initial_learning_rate=%g, "
                                  "decay_steps=%lld, decay_rate=%g, staircase=%s)", sep,
                                  o->schedule == RNN_SCHEDULE_EXPONENTIAL ? "ExponentialDecay"
                                                                          : "InverseTimeDecay",
                                  (double)f, (long long)o->decay_steps, (double)o->decay_rate,
                                  o->staircase ? "True" : "False");
        else n += (size_t)snprintf(buf + n, size - n, "%s%s=%g", sep, args[i].key, (double)f);
    }
    if (n < size && o->decay != 0.0f)
        n += (size_t)snprintf(buf + n, size - n, ", decay=%g", (double)o->decay);
    if (n < size) snprintf(buf + n, size - n, ")");
    return RNN_OK;
}
