/* fit's callbacks: ModelCheckpoint (a file per epoch or the best so far), EarlyStopping (stop
 * when the monitored value stops improving, optionally restoring the best weights) and
 * BackupAndRestore (the training state written so that an interrupted fit continues). They are
 * the part of training that writes files (src/io/); nothing in src/io/ calls back into them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/callbacks.h"

/* ModelCheckpoint's file name: {epoch} / {epoch:0Nd} and {key:.Nf} filled from the logs, as
 * Python's str.format does for the patterns Keras users write. */
static rnn_status checkpoint_path(const char *pattern, int epoch, const rnn_log_entry *logs,
                                  int n, char *out, size_t size) {
    size_t o = 0;
    for (const char *p = pattern; *p;) {
        if (*p != '{') {
            if (o + 1 >= size) return rnn__fail(RNN_ERR_ARGUMENT, "checkpoint path too long");
            out[o++] = *p++;
            continue;
        }
        const char *close = strchr(p, '}');
        if (!close) return rnn__fail(RNN_ERR_ARGUMENT, "checkpoint filepath: unclosed '{' in \"%s\"", pattern);
        char field[96];
        size_t len = (size_t)(close - p - 1);
        if (len >= sizeof field) return rnn__fail(RNN_ERR_ARGUMENT, "checkpoint filepath: field too long");
        memcpy(field, p + 1, len);
        field[len] = '\0';
        char *colon = strchr(field, ':');
        const char *spec = colon ? colon + 1 : "";
        if (colon) *colon = '\0';
        char piece[64];
        if (!strcmp(field, "epoch")) {
            int width = 0;
            if (*spec && (sscanf(spec, "0%dd", &width) != 1 && sscanf(spec, "%dd", &width) != 1))
                return rnn__fail(RNN_ERR_ARGUMENT, "checkpoint filepath: format \"%s\" for epoch "
                                 "(use {epoch} or {epoch:02d})", spec);
            snprintf(piece, sizeof piece, spec[0] == '0' ? "%0*d" : "%*d", width, epoch + 1);
        } else {
            int i = 0;
            while (i < n && strcmp(logs[i].name, field) != 0) i++;
            if (i == n)
                return rnn__fail(RNN_ERR_ARGUMENT, "checkpoint filepath: \"%s\" is not a logged "
                                 "value this epoch", field);
            int prec = 6;
            if (*spec && sscanf(spec, ".%df", &prec) != 1)
                return rnn__fail(RNN_ERR_ARGUMENT, "checkpoint filepath: format \"%s\" (use .Nf)", spec);
            snprintf(piece, sizeof piece, "%.*f", prec, logs[i].value);
        }
        size_t pl = strlen(piece);
        if (o + pl + 1 >= size) return rnn__fail(RNN_ERR_ARGUMENT, "checkpoint path too long");
        memcpy(out + o, piece, pl);
        o += pl;
        p = close + 1;
    }
    out[o] = '\0';
    return RNN_OK;
}

rnn_status rnn__early_init(early_state *es, rnn_model *m, const rnn_early_stopping *cfg,
                             int with_val) {
    memset(es, 0, sizeof *es);
    if (!cfg->enabled) return RNN_OK;
    es->cfg = cfg;
    const char *mon = cfg->monitor ? cfg->monitor : "val_loss";
    const char *base = strncmp(mon, "val_", 4) == 0 ? mon + 4 : mon;
    int known = !strcmp(base, "loss");
    for (int k = 0; k < m->n_metrics; k++) known |= !strcmp(base, m->metric_name[k]);
    if (!known || (base != mon && !with_val))
        return rnn__fail(RNN_ERR_ARGUMENT, "EarlyStopping: monitor \"%s\" is not among the "
                         "logged values (loss%s, and the compiled metrics%s)", mon,
                         with_val ? ", val_loss" : "", with_val ? " with and without val_" : "");
    es->maximize = strcmp(base, "loss") != 0; /* accuracies improve upwards */
    es->best = es->maximize ? -INFINITY : INFINITY;
    es->best_epoch = -1;
    if (cfg->restore_best_weights && !(es->best_weights = malloc(sizeof(float) * (size_t)(m->n_params + 1))))
        return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    if (cfg->patience < 0 || cfg->start_from_epoch < 0 || !(cfg->min_delta >= 0))
        return rnn__fail(RNN_ERR_ARGUMENT, "EarlyStopping: patience, start_from_epoch and "
                         "min_delta must be >= 0");
    return RNN_OK;
}

static void copy_weights_out(rnn_model *m, float *dst, int out) {
    int64_t off = 0;
    for (int w = 0; w < m->n_weights; w++) {
        rnn_weight *wt = m->weights[w];
        if (out) memcpy(dst + off, wt->value, sizeof(float) * (size_t)wt->size);
        else memcpy(wt->value, dst + off, sizeof(float) * (size_t)wt->size);
        if (!out) rnn__weight_changed(wt);
        off += wt->size;
    }
}

/* Returns 1 when training should stop after this epoch. */
int rnn__early_after_epoch(early_state *es, rnn_model *m, int epoch, const rnn_log_entry *logs,
                             int n) {
    if (!es->cfg || epoch < es->cfg->start_from_epoch) return 0;
    const char *mon = es->cfg->monitor ? es->cfg->monitor : "val_loss";
    double v = NAN;
    for (int i = 0; i < n; i++)
        if (!strcmp(logs[i].name, mon)) v = logs[i].value;
    double delta = es->cfg->min_delta;
    int improved = es->maximize ? v - delta > es->best : v + delta < es->best;
    if (es->best_epoch < 0 || improved) {
        es->best = v;
        es->best_epoch = epoch;
        es->wait = 0;
        if (es->best_weights) copy_weights_out(m, es->best_weights, 1);
        return 0;
    }
    es->wait++;
    if (es->wait >= es->cfg->patience && epoch > 0) {
        if (es->best_weights) copy_weights_out(m, es->best_weights, 0);
        return 1;
    }
    return 0;
}

rnn_status rnn__checkpoint_after_epoch(checkpoint_state *cp, rnn_model *m, int epoch,
                                         const rnn_log_entry *logs, int n) {
    if (cp->cfg->save_best_only) {
        const char *mon = cp->cfg->monitor ? cp->cfg->monitor : "val_loss";
        int i = 0;
        while (i < n && strcmp(logs[i].name, mon) != 0) i++;
        if (i == n)
            return rnn__fail(RNN_ERR_ARGUMENT, "ModelCheckpoint: monitor \"%s\" is not logged "
                             "(pass validation data for val_ values)", mon);
        const char *base = strncmp(mon, "val_", 4) == 0 ? mon + 4 : mon;
        int maximize = strcmp(base, "loss") != 0;
        double v = logs[i].value;
        if (cp->have_best && !(maximize ? v > cp->best : v < cp->best)) return RNN_OK;
        cp->have_best = 1;
        cp->best = v;
    }
    char path[4096];
    rnn_status st = checkpoint_path(cp->cfg->filepath, epoch, logs, n, path, sizeof path);
    if (!st) st = rnn_save(m, path);
    return st;
}

rnn_status rnn__backup_write(backup_state *bk, rnn_model *m, int epoch, int64_t batch,
                               int finished, double running, double seen, const metric_sums *ms,
                               const early_state *es, const checkpoint_state *cp,
                               const plateau_state *ps, const csv_state *cs) {
    rnn_training_state *s = &bk->state;
    s->epoch = epoch;
    s->batch = batch;
    s->finished = finished;
    s->rng = m->rng;
    s->running = running;
    s->seen = seen;
    memcpy(s->metric_correct, ms->correct, sizeof ms->correct);
    s->metric_rows = ms->rows;
    s->metric_all_rows = ms->all_rows;
    s->es_best_epoch = es->best_epoch;
    s->es_wait = es->wait;
    s->es_best = es->best;
    s->es_best_weights = es->best_weights;
    s->cp_have_best = cp->have_best;
    s->cp_best = cp->best;
    s->rlr_have_best = ps->have_best;
    s->rlr_best = ps->best;
    s->rlr_wait = ps->wait;
    s->rlr_cooldown = ps->cooldown_counter;
    s->csv_bytes = rnn__csv_bytes(cs);
    s->csv_header_pending = cs->header_pending;
    rnn_status st = rnn__backup_save(m, bk->cfg->path, s);
    return st ? rnn__fail(st, "BackupAndRestore: %s", rnn_last_error()) : RNN_OK;
}
