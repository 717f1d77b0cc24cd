/* The optimizer's state in Keras files, so that training resumes where it stopped: the step
 * count (Keras's `iteration`), the learning rate variable, and the per-weight slots (Adam's
 * moments, SGD's momentum, RMSprop's averages).
 *
 * Keras 3 keeps them as a flat, ordered variable list (keras-semantics.md 8.1, and
 * BaseOptimizer.load_own_variables, which assigns them by position):
 *   iteration, learning_rate (absent when the rate is a schedule), then
 *   Adam:    (momentum, velocity) per trainable weight, then velocity_hat per weight (amsgrad)
 *   SGD:     momentum per weight, only when momentum != 0
 *   RMSprop: velocity per weight, then momentum per weight (momentum > 0), then
 *            average_gradient per weight (centered)
 *   Adagrad: accumulator per weight (starting at initial_accumulator_value)
 *   Adadelta: (accumulated_grad, accumulated_delta_var) per weight
 *   Adamax:  (momentum, norm) per weight
 *   Nadam:   (momentum, velocity) per weight, then its u_product (named "variable")
 *   AdamW:   as Adam
 * in model.trainable_variables order: librnn's get_weights order without the weights of frozen
 * layers (rnn_set_trainable). A .keras file holds them as /optimizer/vars/<i> of model.weights.h5;
 * a legacy .h5 as the group optimizer_weights (attribute weight_names, one dataset per name),
 * as Keras 3's model.save("x.h5") writes them.
 *
 * On reading, a list whose length or shapes do not match the compiled optimizer is ignored and
 * training restarts the slots from zero - what Keras does ("Skipping variable loading for
 * optimizer"); a compiled but untrained model's file holds only iteration and learning_rate.
 * Values no optimizer can have - a step count outside [0, 2^53] (HDF5 turns a float 1e30 into
 * INT64_MAX, whose next step overflowed), a learning rate or slot that is NaN, infinite or
 * negative where it cannot be - are ignored the same way. Either way the model's warning
 * (rnn_model_warning) says what was ignored and why; the rnn tool prints it. */
#ifdef RNN_WITH_KERAS_IO
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "io/keras_io.h"
#include "io/keras_libs.h"
#include "memory.h"
#include "optim.h"

/* One variable of the list: a slot array over weight w, or a scalar. */
typedef struct {
    enum { VAR_ITERATION, VAR_LEARNING_RATE, VAR_SLOT, VAR_U_PRODUCT } kind;
    int slot;   /* VAR_SLOT: 0..2, librnn's slot array (optim.h) */
    int weight; /* VAR_SLOT: index into m->weights */
    const char *suffix;
} opt_var;

/* The Keras variable list of the model's compiled optimizer. Returns the count (n_max ample:
 * 3 + 3 * n_weights). */
/* Keras builds the optimizer on model.trainable_variables: frozen layers' weights have no
 * slots (rnn_weight.frozen, synced by the callers). */
static int drop_frozen(const rnn_model *m, opt_var *v, int n) {
    int k = 0;
    for (int i = 0; i < n; i++)
        if (v[i].kind != VAR_SLOT || !m->weights[v[i].weight]->frozen) v[k++] = v[i];
    return k;
}

static int variable_list(const rnn_model *m, opt_var *v) {
    const rnn_optimizer *o = &m->optimizer;
    int n = 0, nw = m->n_weights;
    v[n++] = (opt_var){VAR_ITERATION, 0, 0, "iteration"};
    if (o->schedule == RNN_SCHEDULE_CONSTANT) v[n++] = (opt_var){VAR_LEARNING_RATE, 0, 0, "learning_rate"};
    switch (o->kind) {
    case RNN_OPT_ADAM:
    case RNN_OPT_ADAMW:
        for (int w = 0; w < nw; w++) {
            v[n++] = (opt_var){VAR_SLOT, 0, w, "momentum"};
            v[n++] = (opt_var){VAR_SLOT, 1, w, "velocity"};
        }
        if (o->amsgrad)
            for (int w = 0; w < nw; w++) v[n++] = (opt_var){VAR_SLOT, 2, w, "velocity_hat"};
        break;
    case RNN_OPT_SGD:
        if (o->momentum != 0.0f)
            for (int w = 0; w < nw; w++) v[n++] = (opt_var){VAR_SLOT, 0, w, "momentum"};
        break;
    case RNN_OPT_RMSPROP:
        for (int w = 0; w < nw; w++) v[n++] = (opt_var){VAR_SLOT, 0, w, "velocity"};
        if (o->momentum > 0.0f)
            for (int w = 0; w < nw; w++) v[n++] = (opt_var){VAR_SLOT, 2, w, "momentum"};
        if (o->centered)
            for (int w = 0; w < nw; w++) v[n++] = (opt_var){VAR_SLOT, 1, w, "average_gradient"};
        break;
    case RNN_OPT_ADAGRAD:
        for (int w = 0; w < nw; w++) v[n++] = (opt_var){VAR_SLOT, 0, w, "accumulator"};
        break;
    case RNN_OPT_ADADELTA:
        for (int w = 0; w < nw; w++) {
            v[n++] = (opt_var){VAR_SLOT, 0, w, "accumulated_grad"};
            v[n++] = (opt_var){VAR_SLOT, 1, w, "accumulated_delta_var"};
        }
        break;
    case RNN_OPT_ADAMAX:
        for (int w = 0; w < nw; w++) {
            v[n++] = (opt_var){VAR_SLOT, 0, w, "momentum"};
            v[n++] = (opt_var){VAR_SLOT, 1, w, "norm"};
        }
        break;
    case RNN_OPT_NADAM:
        for (int w = 0; w < nw; w++) {
            v[n++] = (opt_var){VAR_SLOT, 0, w, "momentum"};
            v[n++] = (opt_var){VAR_SLOT, 1, w, "velocity"};
        }
        v[n++] = (opt_var){VAR_U_PRODUCT, 0, 0, "variable"};
        break;
    }
    return drop_frozen(m, v, n);
}

/* Keras's default optimizer names, the prefix of the legacy .h5 weight names. */
static const char *optimizer_stem(const rnn_optimizer *o) {
    static const char *const stems[] = {"adam", "sgd", "rm_sprop", "adagrad", "adadelta",
                                        "adamax", "nadam", "adam_w"};
    return stems[o->kind];
}

/* Where weight w's slots start in the slot arrays (the weights lie back to back). */
static int64_t slot_offset(const rnn_model *m, int w) {
    int64_t off = 0;
    for (int i = 0; i < w; i++) off += m->weights[i]->size;
    return off;
}

static opt_var *list_alloc(const rnn_model *m) {
    return malloc(sizeof(opt_var) * (size_t)(3 + 3 * m->n_weights));
}

/* ---------------------------------------------------------------- writing */

static rnn_status write_var(hid_t loc, const char *name, rnn_model *m, const opt_var *v,
                            hid_t lcpl) {
    hid_t s, d = -1;
    herr_t e = -1;
    if (v->kind == VAR_SLOT) {
        const rnn_weight *w = m->weights[v->weight];
        const float *slot = rnn__optimizer_slot(m, v->slot); /* at its start if never used */
        if (!slot) return rnn__fail(RNN_ERR_MEMORY, "out of memory (the optimizer's slots)");
        hsize_t dims[3] = {(hsize_t)w->shape[0], (hsize_t)w->shape[1], (hsize_t)w->shape[2]};
        s = H5Screate_simple(w->rank, dims, NULL);
        if (s >= 0) d = H5Dcreate2(loc, name, H5T_IEEE_F32LE, s, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        if (d >= 0)
            e = H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                         slot + slot_offset(m, v->weight));
    } else {
        s = H5Screate(H5S_SCALAR);
        int is_iter = v->kind == VAR_ITERATION;
        int64_t it = m->iterations;
        float lr = v->kind == VAR_U_PRODUCT ? rnn__model_nadam_u_product(m)
                                            : m->optimizer.learning_rate;
        if (s >= 0)
            d = H5Dcreate2(loc, name, is_iter ? H5T_STD_I64LE : H5T_IEEE_F32LE, s, lcpl,
                           H5P_DEFAULT, H5P_DEFAULT);
        if (d >= 0)
            e = H5Dwrite(d, is_iter ? H5T_NATIVE_INT64 : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL,
                         H5P_DEFAULT, is_iter ? (const void *)&it : (const void *)&lr);
    }
    if (d >= 0) H5Dclose(d);
    if (s >= 0) H5Sclose(s);
    return e < 0 ? rnn__fail(RNN_ERR_IO, "cannot write optimizer variable %s", name) : RNN_OK;
}

/* Keras writes only iteration and learning_rate until the optimizer has been built by a first
 * step; so does librnn (the slots are zero then anyway). */
static int written_count(const rnn_model *m, int n) {
    if (m->iterations > 0) return n;
    return m->optimizer.schedule == RNN_SCHEDULE_CONSTANT ? 2 : 1;
}

rnn_status rnn__keras_write_optimizer_state(rnn_model *m, hid_t file, int legacy) {
    rnn__model_sync_frozen(m, NULL);
    if (!m->compiled) return RNN_OK;
    opt_var *v = list_alloc(m);
    if (!v) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    int n = written_count(m, variable_list(m, v));
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    const char *group_name = legacy ? "optimizer_weights" : "optimizer/vars";
    hid_t g = H5Gcreate2(file, group_name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    rnn_status st = g < 0 ? rnn__fail(RNN_ERR_IO, "cannot create %s", group_name) : RNN_OK;
    char **names = legacy ? calloc((size_t)n, sizeof(char *)) : NULL;
    if (legacy && !names && !st) st = rnn__fail(RNN_ERR_MEMORY, "out of memory");
    for (int i = 0; i < n && !st; i++) {
        char name[160];
        if (!legacy)
            snprintf(name, sizeof name, "%d", i);
        else if (v[i].kind == VAR_U_PRODUCT)
            snprintf(name, sizeof name, "%s/variable", optimizer_stem(&m->optimizer));
        else if (v[i].kind == VAR_SLOT)
            snprintf(name, sizeof name, "%s/%d_%s_%s", optimizer_stem(&m->optimizer), v[i].weight,
                     m->weights[v[i].weight]->name, v[i].suffix);
        else
            snprintf(name, sizeof name, "%s/%s", optimizer_stem(&m->optimizer), v[i].suffix);
        if (legacy && !(names[i] = strdup(name))) st = rnn__fail(RNN_ERR_MEMORY, "out of memory");
        if (!st) st = write_var(g, name, m, &v[i], lcpl);
    }
    if (legacy && !st) st = rnn__keras_h5_write_strings(g, "weight_names", names, n);
    for (int i = 0; legacy && names && i < n; i++) free(names[i]);
    free(names);
    if (g >= 0) H5Gclose(g);
    H5Pclose(lcpl);
    free(v);
    return st;
}

/* ---------------------------------------------------------------- reading */

/* Reads dataset `name` of loc into dst when it holds exactly `count` numbers; 0 on success. */
static int read_exact(hid_t loc, const char *name, hid_t mem_type, void *dst, int64_t count) {
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return -1;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t s = H5Dget_space(d);
    hssize_t points = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
    hid_t t = H5Dget_type(d);
    H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    int ok = points == count && (cls == H5T_FLOAT || cls == H5T_INTEGER) &&
             H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) >= 0;
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    H5Dclose(d);
    return ok ? 0 : -1;
}

/* The dataset names of the list in file order: "0", "1", ... (.keras) or weight_names. */
static int list_names(hid_t g, int legacy, int n, char ***out) {
    if (legacy) return rnn__keras_h5_read_strings(g, "weight_names", out);
    char **names = calloc((size_t)(n + 1), sizeof(char *));
    if (!names) return -1;
    int k = 0;
    for (; k < n + 1; k++) {
        char key[16];
        snprintf(key, sizeof key, "%d", k);
        if (H5Lexists(g, key, H5P_DEFAULT) <= 0) break;
        if (!(names[k] = strdup(key))) break;
    }
    *out = names;
    return k;
}

/* Largest step count accepted: every integer up to it is exact in a double (Keras keeps it as an
 * int64 variable; a real run never comes near it). */
#define MAX_ITERATION ((int64_t)1 << 53)

static void ignore_state(rnn_model *m, const char *why) {
    snprintf(m->warning, sizeof m->warning, "the file's optimizer state was ignored (%s): "
             "training restarts the optimizer from step 0", why);
}

/* Whether every value of a slot is finite. */
static int slot_values_ok(const float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

void rnn__keras_read_optimizer_state(rnn_model *m, hid_t file, int legacy) {
    rnn__model_sync_frozen(m, NULL);
    if (!m->compiled) return;
    const char *group_name = legacy ? "optimizer_weights" : "optimizer/vars";
    if (!legacy && H5Lexists(file, "optimizer", H5P_DEFAULT) <= 0) return;
    if (H5Lexists(file, group_name, H5P_DEFAULT) <= 0) return;
    hid_t g = H5Gopen2(file, group_name, H5P_DEFAULT);
    if (g < 0) return;
    opt_var *v = list_alloc(m);
    int n = v ? variable_list(m, v) : 0;
    char **names = NULL;
    int found = v ? list_names(g, legacy, n, &names) : -1;
    int scalars = m->optimizer.schedule == RNN_SCHEDULE_CONSTANT ? 2 : 1;
    /* Read into scratch first: a mismatch half way must not leave half-loaded slots. */
    int64_t it = 0;
    float lr = m->optimizer.learning_rate, u_product = 1.0f;
    float *scratch[3] = {NULL, NULL, NULL};
    int ok = found == n || (found == scalars && found <= n);
    for (int k = 0; k < 3 && ok; k++) {
        ok = (scratch[k] = rnn__calloc((size_t)m->n_params + 1, sizeof(float))) != NULL;
        const float init = rnn__optimizer_slot_init(&m->optimizer, k);
        for (int64_t i = 0; ok && init != 0.0f && i < m->n_params; i++) scratch[k][i] = init;
    }
    char why[200] = "";
    if (!ok && v && found >= 0)
        snprintf(why, sizeof why, "%d variables where the compiled optimizer has %d", found, n);
    for (int i = 0; i < found && ok; i++) {
        if (v[i].kind == VAR_ITERATION) {
            ok = read_exact(g, names[i], H5T_NATIVE_INT64, &it, 1) == 0;
            if (ok && (it < 0 || it > MAX_ITERATION)) {
                snprintf(why, sizeof why, "iteration = %lld is outside [0, 2^53]", (long long)it);
                ok = 0;
            }
        } else if (v[i].kind == VAR_LEARNING_RATE) {
            ok = read_exact(g, names[i], H5T_NATIVE_FLOAT, &lr, 1) == 0;
            if (ok && !(isfinite(lr) && lr >= 0.0f)) {
                snprintf(why, sizeof why, "learning_rate = %g is not a finite rate >= 0", (double)lr);
                ok = 0;
            }
        } else if (v[i].kind == VAR_U_PRODUCT) {
            ok = read_exact(g, names[i], H5T_NATIVE_FLOAT, &u_product, 1) == 0;
            if (ok && !(u_product >= 0.0f && u_product <= 1.0f)) {
                snprintf(why, sizeof why, "Nadam's u_product = %g is not in [0, 1]", (double)u_product);
                ok = 0;
            }
        } else {
            const rnn_weight *w = m->weights[v[i].weight];
            float *dst = scratch[v[i].slot] + slot_offset(m, v[i].weight);
            ok = read_exact(g, names[i], H5T_NATIVE_FLOAT, dst, w->size) == 0;
            if (ok && !slot_values_ok(dst, w->size)) {
                snprintf(why, sizeof why, "variable %s holds NaN or infinite values", names[i]);
                ok = 0;
            }
        }
        if (!ok && !why[0])
            snprintf(why, sizeof why, "variable %s does not have the shape of its %s", names[i], v[i].suffix);
    }
    if (!ok) ignore_state(m, why[0] ? why : "it cannot be read");
    if (ok) {
        /* The slots the optimizer uses; the others are at their starting value (NULL). */
        const unsigned used = rnn__optimizer_slots_used(&m->optimizer);
        for (int k = 0; k < 3; k++) {
            rnn__free(m->opt_slot[k]);
            m->opt_slot[k] = NULL;
            if (used >> k & 1u) {
                m->opt_slot[k] = scratch[k]; /* taken over (rnn__calloc'd) */
                scratch[k] = NULL;
            }
        }
        m->iterations = it;
        m->optimizer.learning_rate = lr;
        m->nadam_u_product = u_product;
        m->nadam_u_at = it;
    }
    for (int k = 0; k < 3; k++) rnn__free(scratch[k]);
    for (int i = 0; names && i < found; i++) free(names[i]);
    free(names);
    free(v);
    H5Gclose(g);
    rnn__clear_error();
}

#else
typedef int rnn__keras_optimizer_state_unused;
#endif
