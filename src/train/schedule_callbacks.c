/* fit's callbacks that change or record the training as it goes: LearningRateScheduler and
 * ReduceLROnPlateau (keras/src/callbacks/learning_rate_scheduler.py, reduce_lr_on_plateau.py),
 * CSVLogger (csv_logger.py). Their state lives in callbacks.h's structs so that
 * BackupAndRestore can carry it. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train/callbacks.h"

/* Keras 3 refuses to set optimizer.learning_rate when it is a LearningRateSchedule. */
static rnn_status check_settable(const rnn_model *m, const char *who) {
    if (m->optimizer.schedule != RNN_SCHEDULE_CONSTANT)
        return rnn__fail(RNN_ERR_ARGUMENT, "%s: the optimizer's learning rate is a schedule "
                         "(RNN_SCHEDULE_*), which cannot be set (Keras: \"This optimizer was "
                         "created with a `LearningRateSchedule` object as its `learning_rate` "
                         "constructor argument\")", who);
    return RNN_OK;
}

double rnn_learning_rate(const rnn_model *m) {
    return m && m->compiled ? (double)m->optimizer.learning_rate : -1.0;
}

rnn_status rnn_set_learning_rate(rnn_model *m, double lr) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_set_learning_rate: model is NULL");
    rnn_status st = rnn__need_compiled(m);
    if (!st) st = check_settable(m, "rnn_set_learning_rate");
    if (!st && (!isfinite(lr) || lr < 0))
        st = rnn__fail(RNN_ERR_ARGUMENT, "learning_rate must be a finite value >= 0, got %g", lr);
    if (st) return rnn__model_fail(m, st);
    m->optimizer.learning_rate = (float)lr;
    return RNN_OK;
}

rnn_status rnn__lr_scheduler_epoch_begin(rnn_model *m, const rnn_lr_scheduler *cfg, int epoch) {
    if (!cfg->schedule) return RNN_OK;
    rnn_status st = check_settable(m, "LearningRateScheduler");
    if (st) return st;
    /* Keras: float(optimizer.learning_rate) in, the float32 variable assigned from the result */
    double lr = cfg->schedule(cfg->user, epoch, (double)m->optimizer.learning_rate);
    if (!isfinite(lr) || lr < 0)
        return rnn__fail(RNN_ERR_ARGUMENT, "LearningRateScheduler: the schedule returned %g for "
                         "epoch %d (a learning rate must be finite and >= 0)", lr, epoch);
    m->optimizer.learning_rate = (float)lr;
    return RNN_OK;
}

/* ---------------------------------------------------------------- ReduceLROnPlateau */

/* Keras's mode "auto" (MonitorCallback._set_monitor_op): losses go down; the accuracies (the
 * metrics whose _direction is "up") go up; the other metrics (mae, mse, ...) go down. */
static int monitor_direction(const rnn_model *m, const char *monitor, int with_val, int *maximize) {
    const char *base = strncmp(monitor, "val_", 4) == 0 ? monitor + 4 : monitor;
    if (base != monitor && !with_val) return -1;
    if (!strcmp(base, "loss")) {
        *maximize = 0;
        return 0;
    }
    for (int k = 0; k < m->n_metrics; k++)
        if (!strcmp(base, m->metric_name[k])) {
            *maximize = strstr(base, "accuracy") != NULL;
            return 0;
        }
    return -1;
}

rnn_status rnn__plateau_init(plateau_state *ps, const rnn_model *m,
                             const rnn_reduce_lr_on_plateau *cfg, int with_val) {
    memset(ps, 0, sizeof *ps);
    if (!cfg->enabled) return RNN_OK;
    ps->cfg = cfg;
    rnn_status st = check_settable(m, "ReduceLROnPlateau");
    if (st) return st;
    if (!(cfg->factor < 1.0) || !isfinite(cfg->factor))
        return rnn__fail(RNN_ERR_ARGUMENT, "ReduceLROnPlateau does not support a factor >= 1.0. "
                         "Received factor=%g", cfg->factor);
    if (cfg->patience < 0 || cfg->cooldown < 0 || !isfinite(cfg->min_delta) ||
        !(cfg->min_lr >= 0) || !isfinite(cfg->min_lr))
        return rnn__fail(RNN_ERR_ARGUMENT, "ReduceLROnPlateau: patience and cooldown must be >= 0, "
                         "min_delta finite and min_lr finite and >= 0");
    const char *mon = cfg->monitor ? cfg->monitor : "val_loss";
    const char *mode = cfg->mode ? cfg->mode : "auto";
    int auto_max = 0, known = monitor_direction(m, mon, with_val, &auto_max) == 0;
    if (!known)
        return rnn__fail(RNN_ERR_ARGUMENT, "ReduceLROnPlateau: monitor \"%s\" is not among the "
                         "logged values (loss%s, and the compiled metrics%s)", mon,
                         with_val ? ", val_loss" : "", with_val ? " with and without val_" : "");
    if (!strcmp(mode, "min")) ps->maximize = 0;
    else if (!strcmp(mode, "max")) ps->maximize = 1;
    else if (!strcmp(mode, "auto")) ps->maximize = auto_max;
    else
        return rnn__fail(RNN_ERR_ARGUMENT, "ReduceLROnPlateau: mode \"%s\" (use \"auto\", \"min\" "
                         "or \"max\")", mode);
    return RNN_OK;
}

/* Keras's _is_improvement: monitor_op(value - min_delta, best) with min_delta = -|min_delta|
 * for "min", both sides converted to float32 tensors by ops.less / ops.greater. */
static int improved(const plateau_state *ps, double v) {
    if (!ps->have_best) return 1;
    double d = fabs(ps->cfg->min_delta);
    if (ps->maximize) return (float)(v - d) > (float)ps->best;
    return (float)(v + d) < (float)ps->best;
}

void rnn__plateau_epoch_end(plateau_state *ps, rnn_model *m, const rnn_log_entry *logs, int n) {
    if (!ps->cfg) return;
    const char *mon = ps->cfg->monitor ? ps->cfg->monitor : "val_loss";
    int i = 0;
    while (i < n && strcmp(logs[i].name, mon) != 0) i++;
    if (i == n) return; /* Keras warns and skips; rnn__plateau_init checked the name */
    double v = logs[i].value;
    if (ps->cooldown_counter > 0) {
        ps->cooldown_counter--;
        ps->wait = 0;
    }
    if (improved(ps, v)) {
        ps->have_best = 1;
        ps->best = v;
        ps->wait = 0;
    } else if (ps->cooldown_counter <= 0) {
        ps->wait++;
        if (ps->wait >= ps->cfg->patience) {
            /* float(optimizer.learning_rate) > np.float32(min_lr); the product in doubles */
            double old_lr = (double)m->optimizer.learning_rate;
            if (old_lr > (double)(float)ps->cfg->min_lr) {
                double lr = old_lr * ps->cfg->factor;
                if (lr < ps->cfg->min_lr) lr = ps->cfg->min_lr;
                m->optimizer.learning_rate = (float)lr;
                ps->cooldown_counter = ps->cfg->cooldown;
                ps->wait = 0;
            }
        }
    }
}

/* ---------------------------------------------------------------- CSVLogger */

/* Python's repr(float): the shortest digits that read back to the same double, positional for
 * 1e-4 <= |v| < 1e16 ("0.001", "12.0"), otherwise scientific ("1e-05", "1.5e+16"). */
void rnn__python_float_repr(double v, char *out, size_t size) {
    if (isnan(v)) { snprintf(out, size, "nan"); return; }
    if (isinf(v)) { snprintf(out, size, v > 0 ? "inf" : "-inf"); return; }
    char e[40];
    int p = 1;
    for (; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, v);
        if (strtod(e, NULL) == v) break;
    }
    /* e: [-]d[.ddd]e[+-]XX */
    const char *s = e;
    int neg = *s == '-';
    if (neg) s++;
    char digits[24];
    int nd = 0;
    for (; *s && *s != 'e'; s++)
        if (*s != '.') digits[nd++] = *s;
    int exp10 = atoi(s + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = '\0';
    int decpt = exp10 + 1; /* digits d1 d2 ... with the point after decpt of them */
    char buf[64];
    size_t o = 0;
    if (neg) buf[o++] = '-';
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            buf[o++] = '0'; buf[o++] = '.';
            for (int k = 0; k < -decpt; k++) buf[o++] = '0';
            for (int k = 0; k < nd; k++) buf[o++] = digits[k];
        } else if (decpt >= nd) {
            for (int k = 0; k < nd; k++) buf[o++] = digits[k];
            for (int k = nd; k < decpt; k++) buf[o++] = '0';
            buf[o++] = '.'; buf[o++] = '0';
        } else {
            for (int k = 0; k < nd; k++) {
                if (k == decpt) buf[o++] = '.';
                buf[o++] = digits[k];
            }
        }
        buf[o] = '\0';
    } else {
        buf[o++] = digits[0];
        if (nd > 1) {
            buf[o++] = '.';
            for (int k = 1; k < nd; k++) buf[o++] = digits[k];
        }
        snprintf(buf + o, sizeof buf - o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    }
    snprintf(out, size, "%s", buf);
}

rnn_status rnn__csv_open(csv_state *cs, const rnn_csv_logger *cfg, int resume, int64_t bytes,
                         int header_pending) {
    memset(cs, 0, sizeof *cs);
    if (!cfg->filename) return RNN_OK;
    cs->cfg = cfg;
    cs->sep = cfg->separator ? cfg->separator : ',';
    if (cs->sep == '"' || cs->sep == '\r' || cs->sep == '\n')
        return rnn__fail(RNN_ERR_ARGUMENT, "CSVLogger: separator %d cannot delimit CSV fields",
                         (int)cs->sep);
    if (resume) {
        /* Back to the rows of the epochs the backup holds: a row written after it is dropped
         * and written again when its epoch is done again. */
        cs->f = fopen(cfg->filename, "r+b");
        if (!cs->f && errno == ENOENT) cs->f = fopen(cfg->filename, "w+b");
        if (cs->f && (fflush(cs->f) || ftruncate(fileno(cs->f), (off_t)bytes) ||
                      fseek(cs->f, 0, SEEK_END))) {
            fclose(cs->f);
            cs->f = NULL;
        }
        cs->header_pending = header_pending;
    } else if (cfg->append) {
        FILE *r = fopen(cfg->filename, "rb");
        cs->header_pending = 1;
        if (r) { /* Keras: a header unless the first line is non-empty (the file is not empty) */
            cs->header_pending = fgetc(r) == EOF;
            fclose(r);
        }
        cs->f = fopen(cfg->filename, "ab");
    } else {
        cs->header_pending = 1;
        cs->f = fopen(cfg->filename, "wb");
    }
    if (!cs->f)
        return rnn__fail(RNN_ERR_IO, "CSVLogger: cannot open %s: %s", cfg->filename,
                         strerror(errno));
    return RNN_OK;
}

/* One field, quoted as Python's csv.QUOTE_MINIMAL does. */
static void put_field(FILE *f, char sep, const char *s) {
    if (!strchr(s, sep) && !strpbrk(s, "\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

rnn_status rnn__csv_epoch_end(csv_state *cs, int epoch, const rnn_log_entry *logs, int n) {
    if (!cs->f) return RNN_OK;
    if (!cs->n_keys) { /* Keras: sorted(logs.keys()), plus val_ twins when none is a val_ key */
        int has_val = 0;
        for (int i = 0; i < n && cs->n_keys < CSV_MAX_KEYS; i++) {
            snprintf(cs->keys[cs->n_keys++], sizeof cs->keys[0], "%s", logs[i].name);
            has_val |= !strncmp(logs[i].name, "val_", 4);
        }
        for (int i = 1; i < cs->n_keys; i++)
            for (int j = i; j > 0 && strcmp(cs->keys[j - 1], cs->keys[j]) > 0; j--) {
                char t[sizeof cs->keys[0]];
                memcpy(t, cs->keys[j], sizeof t);
                memcpy(cs->keys[j], cs->keys[j - 1], sizeof t);
                memcpy(cs->keys[j - 1], t, sizeof t);
            }
        if (!has_val)
            for (int i = 0, k = cs->n_keys; i < k && cs->n_keys < CSV_MAX_KEYS; i++)
                snprintf(cs->keys[cs->n_keys++], sizeof cs->keys[0], "val_%s", cs->keys[i]);
    }
    FILE *f = cs->f;
    if (cs->header_pending) {
        put_field(f, cs->sep, "epoch");
        for (int i = 0; i < cs->n_keys; i++) {
            fputc(cs->sep, f);
            put_field(f, cs->sep, cs->keys[i]);
        }
        fputs("\r\n", f);
        cs->header_pending = 0;
    }
    char v[64];
    snprintf(v, sizeof v, "%d", epoch);
    put_field(f, cs->sep, v);
    for (int i = 0; i < cs->n_keys; i++) {
        int j = 0;
        while (j < n && strcmp(logs[j].name, cs->keys[i]) != 0) j++;
        if (j < n) rnn__python_float_repr(logs[j].value, v, sizeof v);
        else snprintf(v, sizeof v, "NA");
        fputc(cs->sep, f);
        put_field(f, cs->sep, v);
    }
    fputs("\r\n", f);
    if (fflush(f) || ferror(f))
        return rnn__fail(RNN_ERR_IO, "CSVLogger: cannot write %s: %s", cs->cfg->filename,
                         strerror(errno));
    return RNN_OK;
}

int64_t rnn__csv_bytes(const csv_state *cs) {
    if (!cs->f) return 0;
    long at = ftell(cs->f);
    return at < 0 ? 0 : (int64_t)at;
}

rnn_status rnn__csv_close(csv_state *cs) {
    if (!cs->f) return RNN_OK;
    int bad = fclose(cs->f) != 0;
    cs->f = NULL;
    return bad ? rnn__fail(RNN_ERR_IO, "CSVLogger: cannot close %s", cs->cfg->filename) : RNN_OK;
}
