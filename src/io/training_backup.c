/* BackupAndRestore's file (see training_backup.h): a .keras model file plus the member
 * librnn_training_state.json, and librnn_best_weights.bin (EarlyStopping's best weights,
 * little-endian float32) when restore_best_weights is on.
 *
 * Numbers are exact: doubles and float32 states are hexadecimal floating-point strings, generator
 * states hexadecimal integers.
 *
 * Reading: the model part goes through rnn_load (the reader program, like any model file); the
 * two members above are read in this process with libzip, each capped by the size the zip
 * declares before it is inflated (the JSON at 64 MiB, the best weights at exactly the model's
 * size), and every field is checked by range and shape before anything is used. */
#include "training_backup.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "layers/recurrent.h"

#ifdef RNN_WITH_KERAS_IO
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "io/keras_io.h"
#include "optim.h"

#define STATE_MEMBER "librnn_training_state.json"
#define BEST_MEMBER "librnn_best_weights.bin"

static cJSON *rng_json(const rnn_rng *r) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < 4; i++) {
        char hex[24];
        snprintf(hex, sizeof hex, "%016" PRIx64, r->s[i]);
        cJSON_AddItemToArray(a, cJSON_CreateString(hex));
    }
    return a;
}

static int rng_from(const cJSON *a, rnn_rng *r) {
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 4) return -1;
    for (int i = 0; i < 4; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsString(v)) return -1;
        char *end;
        errno = 0;
        unsigned long long x = strtoull(v->valuestring, &end, 16);
        if (errno || *end || end == v->valuestring) return -1;
        r->s[i] = (uint64_t)x;
    }
    return 0;
}

/* Doubles are written as C99 hexadecimal strings ("%a"): exact, and NaN and the infinities
 * included, which JSON numbers are not (cJSON also prints some doubles with 15 digits only). */
static cJSON *num(double v) {
    char buf[64];
    snprintf(buf, sizeof buf, "%a", v);
    return cJSON_CreateString(buf);
}

static int num_from(const cJSON *j, double *v) {
    if (!cJSON_IsString(j)) return -1;
    char *end;
    *v = strtod(j->valuestring, &end);
    return end == j->valuestring || *end ? -1 : 0;
}

static cJSON *doubles_json(const double *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && v && i < n; i++) cJSON_AddItemToArray(a, num(v[i]));
    return a;
}

static int doubles_from(const cJSON *a, double *v, int n) {
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) return -1;
    for (int i = 0; i < n; i++)
        if (num_from(cJSON_GetArrayItem(a, i), &v[i])) return -1;
    return 0;
}

static cJSON *floats_json(const float *v, int64_t n) {
    cJSON *a = cJSON_CreateArray();
    for (int64_t i = 0; a && i < n; i++) cJSON_AddItemToArray(a, num((double)v[i]));
    return a;
}

static int floats_from(const cJSON *a, float *v, int64_t n) {
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) return -1;
    int64_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) {
        double d;
        if (num_from(e, &d)) return -1;
        v[i++] = (float)d;
    }
    return 0;
}

static const cJSON *get(const cJSON *o, const char *k) {
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static int int_from(const cJSON *o, const char *k, int64_t lo, int64_t hi, int64_t *out) {
    const cJSON *v = get(o, k);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < (double)lo ||
        v->valuedouble > (double)hi)
        return -1;
    *out = (int64_t)v->valuedouble;
    return 0;
}

/* Layers are named in the backup by their place in rnn__model_walk's order. */
typedef struct {
    int index;
    cJSON *out;
} states_walk;

static int state_json(rnn_layer *L, void *ctx) {
    states_walk *w = ctx;
    int i = w->index++;
    if (!rnn__layer_is_recurrent(L)) return 0;
    rnn_recurrent *r = rnn__recurrent_of(L);
    if (!r->state[0] || r->state_batch <= 0) return 0;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", i);
    cJSON_AddStringToObject(o, "layer", L->name);
    cJSON_AddNumberToObject(o, "batch", (double)r->state_batch);
    cJSON_AddNumberToObject(o, "units", (double)r->H);
    cJSON *st = cJSON_CreateArray();
    for (int k = 0; k < r->cell->n_states; k++)
        cJSON_AddItemToArray(st, floats_json(r->state[k], r->state_batch * r->H));
    cJSON_AddItemToObject(o, "states", st);
    cJSON_AddItemToArray(w->out, o);
    return 0;
}

/* The carried states of the model's recurrent layers (those that hold one). */
static cJSON *states_json(rnn_model *m) {
    states_walk w = {0, cJSON_CreateArray()};
    if (w.out) rnn__model_walk(m, state_json, &w);
    return w.out;
}

typedef struct {
    int index;
    rnn_layer *found;
} nth_layer;

static int count_to(rnn_layer *L, void *ctx) {
    nth_layer *w = ctx;
    if (w->index-- == 0) w->found = L;
    return w->found != NULL;
}

static int count_layers(rnn_layer *L, void *ctx) {
    (void)L;
    ++*(int *)ctx;
    return 0;
}

static rnn_status states_from(rnn_model *m, const cJSON *a) {
    int n = 0;
    rnn__model_walk(m, count_layers, &n);
    if (!cJSON_IsArray(a)) return rnn__fail(RNN_ERR_FORMAT, "layer states missing");
    const cJSON *o;
    cJSON_ArrayForEach(o, a) {
        int64_t idx, B, H;
        const cJSON *name = get(o, "layer"), *st = get(o, "states");
        nth_layer w = {0, NULL};
        if (!int_from(o, "index", 0, n - 1, &idx)) {
            w.index = (int)idx;
            rnn__model_walk(m, count_to, &w);
        }
        rnn_layer *L = w.found;
        if (!L || !cJSON_IsString(name) || strcmp(L->name, name->valuestring) ||
            !rnn__layer_is_recurrent(L))
            return rnn__fail(RNN_ERR_FORMAT, "the backup's layer states belong to another model");
        rnn_recurrent *r = rnn__recurrent_of(L);
        if (int_from(o, "batch", 1, (int64_t)1 << 30, &B) || int_from(o, "units", 1, (int64_t)1 << 30, &H) ||
            H != r->H || !cJSON_IsArray(st) || cJSON_GetArraySize(st) != r->cell->n_states)
            return rnn__fail(RNN_ERR_FORMAT, "layer \"%s\": the backup's state does not fit it",
                             L->name);
        rnn_status s = rnn__recurrent_ensure_state(L, B);
        if (s) return s;
        for (int k = 0; k < r->cell->n_states; k++)
            if (floats_from(cJSON_GetArrayItem(st, k), r->state[k], B * H))
                return rnn__fail(RNN_ERR_FORMAT, "layer \"%s\": the backup's state is damaged",
                                 L->name);
    }
    return RNN_OK;
}

static cJSON *history_json(const rnn_history *h) {
    cJSON *o = cJSON_CreateObject();
    int n = h->epochs;
    cJSON_AddItemToObject(o, "loss", doubles_json(h->loss, n));
    if (h->val_loss) cJSON_AddItemToObject(o, "val_loss", doubles_json(h->val_loss, n));
    if (h->learning_rate)
        cJSON_AddItemToObject(o, "learning_rate", doubles_json(h->learning_rate, n));
    cJSON *mt = cJSON_AddArrayToObject(o, "metrics"), *vm = cJSON_AddArrayToObject(o, "val_metrics");
    for (int k = 0; k < h->n_metrics; k++) {
        cJSON_AddItemToArray(mt, doubles_json(h->metric[k], n));
        cJSON_AddItemToArray(vm, doubles_json(h->val_metric[k], h->val_metric[k] ? n : 0));
    }
    return o;
}

static int history_from(const cJSON *o, rnn_history *h, int epochs_done) {
    if (doubles_from(get(o, "loss"), h->loss, epochs_done)) return -1;
    if (h->val_loss && doubles_from(get(o, "val_loss"), h->val_loss, epochs_done)) return -1;
    if (h->learning_rate &&
        doubles_from(get(o, "learning_rate"), h->learning_rate, epochs_done))
        return -1;
    const cJSON *mt = get(o, "metrics"), *vm = get(o, "val_metrics");
    if (cJSON_GetArraySize(mt) != h->n_metrics) return -1;
    for (int k = 0; k < h->n_metrics; k++) {
        if (doubles_from(cJSON_GetArrayItem(mt, k), h->metric[k], epochs_done)) return -1;
        if (h->val_metric[k] && doubles_from(cJSON_GetArrayItem(vm, k), h->val_metric[k], epochs_done))
            return -1;
    }
    h->epochs = epochs_done;
    return 0;
}

rnn_status rnn__backup_save(rnn_model *m, const char *path, const rnn_training_state *s) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    cJSON_AddStringToObject(o, "format", "librnn training backup");
    cJSON_AddNumberToObject(o, "version", 1);
    cJSON_AddNumberToObject(o, "epoch", s->epoch);
    cJSON_AddNumberToObject(o, "batch", (double)s->batch);
    cJSON_AddBoolToObject(o, "finished", s->finished);
    cJSON_AddNumberToObject(o, "iterations", (double)m->iterations);
    cJSON_AddItemToObject(o, "rng", rng_json(&s->rng));
    cJSON_AddItemToObject(o, "rng_epoch_start", rng_json(&s->rng_epoch_start));
    cJSON_AddItemToObject(o, "running", num(s->running));
    cJSON_AddItemToObject(o, "seen", num(s->seen));
    cJSON_AddItemToObject(o, "metric_correct", doubles_json(s->metric_correct, m->n_metrics));
    cJSON_AddItemToObject(o, "metric_rows", num(s->metric_rows));
    cJSON_AddItemToObject(o, "metric_all_rows", num(s->metric_all_rows));
    cJSON_AddItemToObject(o, "history", history_json(s->history));
    cJSON *es = cJSON_AddObjectToObject(o, "early_stopping");
    cJSON_AddNumberToObject(es, "best_epoch", s->es_best_epoch);
    cJSON_AddNumberToObject(es, "wait", s->es_wait);
    cJSON_AddItemToObject(es, "best", num(s->es_best));
    cJSON_AddBoolToObject(es, "best_weights", s->es_best_weights != NULL);
    cJSON *cp = cJSON_AddObjectToObject(o, "model_checkpoint");
    cJSON_AddBoolToObject(cp, "have_best", s->cp_have_best);
    cJSON_AddItemToObject(cp, "best", num(s->cp_best));
    cJSON *rlr = cJSON_AddObjectToObject(o, "reduce_lr_on_plateau");
    cJSON_AddBoolToObject(rlr, "have_best", s->rlr_have_best);
    cJSON_AddItemToObject(rlr, "best", num(s->rlr_best));
    cJSON_AddNumberToObject(rlr, "wait", s->rlr_wait);
    cJSON_AddNumberToObject(rlr, "cooldown_counter", s->rlr_cooldown);
    cJSON *csv = cJSON_AddObjectToObject(o, "csv_logger");
    cJSON_AddNumberToObject(csv, "bytes", (double)s->csv_bytes);
    cJSON_AddBoolToObject(csv, "header_pending", s->csv_header_pending);
    /* The rate LearningRateScheduler or ReduceLROnPlateau set, exactly. */
    cJSON_AddItemToObject(o, "learning_rate", num((double)m->optimizer.learning_rate));
    cJSON_AddItemToObject(o, "layer_states", states_json(m));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    rnn_zip_member extra[2] = {{STATE_MEMBER, text, strlen(text)},
                               {BEST_MEMBER, s->es_best_weights,
                                sizeof(float) * (size_t)m->n_params}};
    rnn_status st = rnn__keras_save_with(m, path, extra, s->es_best_weights ? 2 : 1);
    free(text);
    return st;
}

/* Copies weights and optimizer state from the model read from the backup. */
static rnn_status adopt(rnn_model *m, rnn_model *saved, const char *path) {
    rnn_status st = rnn_copy_weights(m, saved);
    if (st) return rnn__fail(RNN_ERR_FORMAT, "%s is a backup of another model: %s", path,
                             rnn_model_error(m));
    if (!saved->compiled || saved->optimizer.kind != m->optimizer.kind)
        return rnn__fail(RNN_ERR_FORMAT, "%s: the backup's optimizer differs from the model's",
                         path);
    if ((st = rnn__optimizer_copy_slots(m, saved))) return st;
    m->iterations = saved->iterations;
    m->optimizer.learning_rate = saved->optimizer.learning_rate;
    return RNN_OK;
}

/* ReduceLROnPlateau's and CSVLogger's state and the learning rate; absent from backups of
 * fits without them (then zero, their state at the start of a fit). */
static rnn_status callbacks_from(const cJSON *o, rnn_model *m, rnn_training_state *s) {
    const cJSON *rlr = get(o, "reduce_lr_on_plateau"), *csv = get(o, "csv_logger");
    int64_t wait = 0, cool = 0, bytes = 0;
    double lr = m->optimizer.learning_rate;
    s->rlr_best = 0;
    if ((rlr && (!cJSON_IsObject(rlr) || int_from(rlr, "wait", 0, INT32_MAX, &wait) ||
                 int_from(rlr, "cooldown_counter", 0, INT32_MAX, &cool) ||
                 num_from(get(rlr, "best"), &s->rlr_best))) ||
        (csv && (!cJSON_IsObject(csv) || int_from(csv, "bytes", 0, INT64_MAX / 2, &bytes))) ||
        (get(o, "learning_rate") && (num_from(get(o, "learning_rate"), &lr) || !(lr >= 0) ||
                                     !isfinite(lr))))
        return rnn__fail(RNN_ERR_FORMAT, "the callbacks' state is damaged");
    s->rlr_have_best = rlr && cJSON_IsTrue(get(rlr, "have_best"));
    s->rlr_wait = (int)wait;
    s->rlr_cooldown = (int)cool;
    s->csv_bytes = bytes;
    s->csv_header_pending = csv && cJSON_IsTrue(get(csv, "header_pending"));
    m->optimizer.learning_rate = (float)lr;
    return RNN_OK;
}

rnn_status rnn__backup_restore(rnn_model *m, const char *path, rnn_training_state *s, int *found) {
    struct stat sb;
    *found = 0;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT) return RNN_OK;
        return rnn__fail(RNN_ERR_IO, "cannot read the backup %s: %s", path, strerror(errno));
    }
    *found = 1;
    char *text = NULL, *best = NULL;
    size_t n = 0, best_n = 0;
    rnn_status st = rnn__keras_read_member_file(path, STATE_MEMBER, &text, &n, (size_t)64 << 20);
    if (st) return rnn__fail(st, "%s is not a librnn training backup: %s", path, rnn_last_error());
    cJSON *o = cJSON_ParseWithLength(text, n);
    free(text);
    rnn_model *saved = NULL;
    int64_t epoch, batch, iterations;
    const cJSON *es = get(o, "early_stopping"), *cp = get(o, "model_checkpoint");
    int64_t best_epoch, wait;
    if (!o || int_from(o, "epoch", 0, INT32_MAX, &epoch) || int_from(o, "batch", 0, INT64_MAX / 2, &batch) ||
        int_from(o, "iterations", 0, INT64_MAX / 2, &iterations) || !cJSON_IsObject(es) ||
        !cJSON_IsObject(cp) || int_from(es, "best_epoch", -1, INT32_MAX, &best_epoch) ||
        int_from(es, "wait", 0, INT32_MAX, &wait)) {
        st = rnn__fail(RNN_ERR_FORMAT, "%s: the training state is damaged", path);
        goto done;
    }
    s->epoch = (int)epoch;
    s->batch = batch;
    s->finished = cJSON_IsTrue(get(o, "finished"));
    s->es_best_epoch = (int)best_epoch;
    s->es_wait = (int)wait;
    s->cp_have_best = cJSON_IsTrue(get(cp, "have_best"));
    if (rng_from(get(o, "rng"), &s->rng) || rng_from(get(o, "rng_epoch_start"), &s->rng_epoch_start) ||
        num_from(get(o, "running"), &s->running) || num_from(get(o, "seen"), &s->seen) ||
        num_from(get(o, "metric_rows"), &s->metric_rows) || num_from(get(es, "best"), &s->es_best) ||
        num_from(get(cp, "best"), &s->cp_best) ||
        doubles_from(get(o, "metric_correct"), s->metric_correct, m->n_metrics) ||
        epoch > s->epochs_total ||
        history_from(get(o, "history"), s->history, (int)epoch) ||
        num_from(get(o, "metric_all_rows"), &s->metric_all_rows)) {
        st = rnn__fail(RNN_ERR_FORMAT, "%s: the training state is damaged or belongs to other "
                       "fit settings (epochs, metrics, validation)", path);
        goto done;
    }
    if (s->es_best_weights) {
        if (!cJSON_IsTrue(get(es, "best_weights"))) {
            st = rnn__fail(RNN_ERR_FORMAT, "%s: the backup has no EarlyStopping best weights", path);
            goto done;
        }
        if ((st = rnn__keras_read_member_file(path, BEST_MEMBER, &best, &best_n,
                                              sizeof(float) * (size_t)m->n_params)))
            goto done;
        if (best_n != sizeof(float) * (size_t)m->n_params) {
            st = rnn__fail(RNN_ERR_FORMAT, "%s: EarlyStopping's best weights do not fit the model",
                           path);
            goto done;
        }
        memcpy(s->es_best_weights, best, best_n);
    }
    saved = rnn_load(path);
    if (!saved) {
        st = rnn__fail(RNN_ERR_FORMAT, "cannot read the backup %s: %s", path, rnn_last_error());
        goto done;
    }
    if ((st = adopt(m, saved, path))) goto done;
    if ((st = callbacks_from(o, m, s))) {
        st = rnn__fail(st, "%s: %s", path, rnn_last_error());
        goto done;
    }
    if (m->iterations != iterations) {
        st = rnn__fail(RNN_ERR_FORMAT, "%s: the optimizer state is inconsistent", path);
        goto done;
    }
    st = states_from(m, get(o, "layer_states"));
    if (st) st = rnn__fail(st, "%s: %s", path, rnn_last_error());
done:
    rnn_model_free(saved);
    free(best);
    cJSON_Delete(o);
    return st;
}

#else

rnn_status rnn__backup_save(rnn_model *m, const char *path, const rnn_training_state *s) {
    (void)m; (void)s;
    return rnn__fail(RNN_ERR_UNSUPPORTED, "BackupAndRestore(%s): this librnn was built without "
                     "Keras model files (KERAS_IO=none)", path);
}

rnn_status rnn__backup_restore(rnn_model *m, const char *path, rnn_training_state *s, int *found) {
    (void)m; (void)s;
    *found = 0;
    return rnn__fail(RNN_ERR_UNSUPPORTED, "BackupAndRestore(%s): this librnn was built without "
                     "Keras model files (KERAS_IO=none)", path);
}

#endif
