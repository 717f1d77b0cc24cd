/* fit, with Keras's batching (last batch partial, validation = the last fraction before
 * shuffling, a new permutation each epoch) and its stateful rules, over arrays in memory or a
 * caller's batch source; the epoch loop runs the callbacks (callbacks.c) and the progress bar. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/callbacks.h"
#include "train/distributed.h"

/* ---------------------------------------------------------------- fit */

rnn_fit_options rnn_fit_defaults(void) {
    rnn_fit_options o;
    memset(&o, 0, sizeof o);
    o.epochs = 1;
    o.batch_size = 32;
    o.shuffle = 1;
    o.verbose = 1;
    o.early_stopping.monitor = "val_loss";
    o.checkpoint.monitor = "val_loss";
    o.backup.delete_checkpoint = 1;
    o.reduce_lr.monitor = "val_loss";
    o.reduce_lr.factor = 0.1;
    o.reduce_lr.patience = 10;
    o.reduce_lr.mode = "auto";
    o.reduce_lr.min_delta = 1e-4;
    o.csv_logger.separator = ',';
    return o;
}

void rnn_history_free(rnn_history *h) {
    if (!h) return;
    free(h->loss);
    free(h->val_loss);
    free(h->learning_rate);
    for (int k = 0; k < RNN_MAX_METRICS; k++) {
        free(h->metric[k]);
        free(h->val_metric[k]);
    }
    memset(h, 0, sizeof *h);
}

/* The epoch's logs in Keras 3's order: training keys sorted by name, then val_ keys sorted. */
static int epoch_logs(const rnn_model *m, double loss, const double *metrics, int with_val,
                      double val_loss, const double *val_metrics, rnn_log_entry *out) {
    static _Thread_local char val_names[RNN_MAX_METRICS][48];
    int n = 0;
    for (int pass = 0; pass < (with_val ? 2 : 1); pass++) {
        rnn_log_entry part[RNN_MAX_METRICS + 1];
        int np = 0;
        part[np++] = (rnn_log_entry){pass ? "val_loss" : "loss", pass ? val_loss : loss};
        for (int k = 0; k < m->n_metrics; k++) {
            if (pass) snprintf(val_names[k], sizeof val_names[k], "val_%s", m->metric_name[k]);
            part[np++] = (rnn_log_entry){pass ? val_names[k] : m->metric_name[k],
                                         pass ? val_metrics[k] : metrics[k]};
        }
        for (int i = 1; i < np; i++) /* insertion sort by name */
            for (int j = i; j > 0 && strcmp(part[j - 1].name, part[j].name) > 0; j--) {
                rnn_log_entry t = part[j]; part[j] = part[j - 1]; part[j - 1] = t;
            }
        for (int i = 0; i < np; i++) out[n++] = part[i];
    }
    return n;
}

/* Where fit's batches come from: arrays in memory (shuffled per epoch, validation = their tail)
 * or a caller's batch source (Keras's generator / keras.utils.Sequence). */
typedef struct batch_provider batch_provider;
struct batch_provider {
    int64_t batches; /* per epoch */
    int has_validation;
    rnn_status (*begin_epoch)(batch_provider *p, rnn_model *m);
    /* Batch k of the epoch: inputs xb[0..n_inputs), targets[0..n_outputs), its sample count. */
    rnn_status (*get)(batch_provider *p, rnn_model *m, int64_t k, rnn_tensor *xb,
                      const float **targets, int64_t *count);
    rnn_status (*validate)(batch_provider *p, rnn_model *m, double *loss, double *metrics);
    void (*end)(batch_provider *p);
    /* arrays */
    const call_data *d;
    int64_t split, n, batch_size;
    int64_t *order;
    /* batch source */
    const rnn_batch_source *src, *val_src;
    /* data-parallel fit (NULL: this process alone): get() hands out this rank's rows of the
     * global batch k, validate() evaluates the validation batches the same way */
    rnn_distributed *dist;
    /* validation_data as arrays (NULL: none, or the tail of the arrays, or val_src) */
    const call_data *val_d;
    int64_t val_batch;
};

/* Keras's validation_data: arrays evaluated in order in batches of batch_size, or a source. */
static rnn_status validate_data(batch_provider *p, rnn_model *m, double *loss, double *metrics) {
    if (p->val_d)
        return rnn__evaluate_range(m, p->val_d, 0, p->val_d->n, (int)p->val_batch, loss, metrics);
    return rnn__evaluate_source(m, p->val_src, loss, metrics);
}

/* The validation of options o: validation_data (arrays, checked into *vd, or a source) or
 * validation_source. *val_d and *val_src stay NULL when there is none. */
static rnn_status resolve_validation(rnn_model *m, const rnn_fit_options *o, call_data *vd,
                                     const call_data **val_d, const rnn_batch_source **val_src) {
    const rnn_data *v = &o->validation_data;
    rnn_status st;
    *val_d = NULL;
    *val_src = o->validation_source;
    int arrays = v->x.data || v->y.data || v->xs || v->ys;
    if (!arrays && !v->source) return *val_src ? rnn__check_source(*val_src) : RNN_OK;
    if (o->validation_source)
        return rnn__fail(RNN_ERR_ARGUMENT, "rnn_fit: validation_data and validation_source are "
                         "both set; give one");
    if ((st = rnn__check_data_form(v, "rnn_fit: validation_data"))) return st;
    if (v->source) {
        *val_src = v->source;
        return rnn__check_source(v->source);
    }
    memset(vd, 0, sizeof *vd);
    const int lists = rnn__data_is_lists(v);
    if ((st = rnn__check_x(m, lists ? v->xs : &v->x, lists ? v->n_x : 1, vd)) ||
        (st = rnn__check_y(m, lists ? v->ys : &v->y, lists ? v->n_y : 1, vd)))
        return rnn__fail(st, "validation_data: %s", rnn_last_error());
    if (o->batch_size > 0 && (st = rnn__check_stateful_batches(m, vd->n, o->batch_size)))
        return rnn__fail(st, "validation_data: %s", rnn_last_error());
    *val_d = vd;
    return RNN_OK;
}

static rnn_status fit_loop(rnn_model *m, batch_provider *bp, const rnn_fit_options *o,
                           rnn_history *history) {
    rnn_status st;
    const int with_val = bp->has_validation;
    rnn_distributed *dist = bp->dist;
    const int rank0 = !dist || dist->rank == 0; /* prints progress and writes the files */
    const int verbose = rank0 ? o->verbose : 0;
    const int log_lr = o->lr_scheduler.schedule || o->reduce_lr.enabled;
    rnn_history own_history;
    backup_state bk;
    memset(&bk, 0, sizeof bk);
    if (dist && o->backup.path && rnn__model_stateful_batch(m))
        return rnn__fail(RNN_ERR_UNSUPPORTED, "BackupAndRestore in a distributed fit of a stateful "
                         "model: each rank carries its own rows' states, which the backup (written "
                         "by rank 0) does not hold");
    if (dist) { /* the same data and model everywhere, or the exchanges would not pair up */
        double shape[5] = {(double)bp->batches, with_val, o->epochs, (double)m->n_params,
                           o->backup.path != NULL};
        int same;
        if ((st = rnn__dist_same(dist, shape, 5, &same))) return st;
        if (!same)
            return rnn__fail(RNN_ERR_ARGUMENT, "distributed fit: the ranks were given different "
                             "data, options or models (batches per epoch, validation, epochs, "
                             "parameter count or backup differ)");
    }
    /* Rank 0's weights, optimizer state and generator everywhere: the ranks start equal even
     * when they were built with other seeds. */
    if (dist && (st = rnn__dist_sync_model(dist, m))) return st;
    if (o->backup.path) {
        if (o->backup.save_freq < 0)
            return rnn__fail(RNN_ERR_ARGUMENT, "BackupAndRestore: save_freq must be >= 0");
        bk.cfg = &o->backup;
        if (!history) { /* the backup carries the history, so fit keeps one */
            memset(&own_history, 0, sizeof own_history);
            history = &own_history;
        }
    }
    if (history) {
        size_t n = (size_t)(o->epochs ? o->epochs : 1);
        int ok = (history->loss = calloc(n, sizeof(double))) != NULL;
        if (with_val) ok &= (history->val_loss = calloc(n, sizeof(double))) != NULL;
        if (log_lr) ok &= (history->learning_rate = calloc(n, sizeof(double))) != NULL;
        history->n_metrics = m->n_metrics;
        for (int k = 0; k < m->n_metrics; k++) {
            history->metric_names[k] = m->metric_name[k];
            ok &= (history->metric[k] = calloc(n, sizeof(double))) != NULL;
            if (with_val) ok &= (history->val_metric[k] = calloc(n, sizeof(double))) != NULL;
        }
        if (!ok) {
            if (history == &own_history) rnn_history_free(history);
            return rnn__fail(RNN_ERR_MEMORY, "out of memory");
        }
    }
    early_state es;
    plateau_state ps;
    csv_state cs;
    memset(&cs, 0, sizeof cs);
    if ((st = rnn__early_init(&es, m, &o->early_stopping, with_val)) ||
        (st = rnn__plateau_init(&ps, m, &o->reduce_lr, with_val))) {
        free(es.best_weights);
        if (history == &own_history) rnn_history_free(history);
        return st;
    }
    checkpoint_state cp = {&o->checkpoint, 0, 0};
    int first_epoch = 0, finished = 0, found = 0;
    int64_t first_batch = 0;
    if (bk.cfg) {
        bk.state.history = history;
        bk.state.epochs_total = o->epochs;
        bk.state.es_best_weights = es.best_weights;
        st = rnn__backup_restore(m, bk.cfg->path, &bk.state, &found);
        if (!st && found) {
            first_epoch = bk.state.epoch;
            first_batch = bk.state.batch;
            finished = bk.state.finished;
            if (first_batch > bp->batches)
                st = rnn__fail(RNN_ERR_FORMAT, "BackupAndRestore: %s was taken at batch %lld of "
                               "an epoch of %lld batches (other data or batch size?)",
                               bk.cfg->path, (long long)first_batch, (long long)bp->batches);
            es.best_epoch = bk.state.es_best_epoch;
            es.wait = bk.state.es_wait;
            if (es.cfg && es.best_epoch >= 0) es.best = bk.state.es_best;
            cp.have_best = bk.state.cp_have_best;
            cp.best = bk.state.cp_best;
            ps.have_best = bk.state.rlr_have_best;
            ps.best = bk.state.rlr_best;
            ps.wait = bk.state.rlr_wait;
            ps.cooldown_counter = bk.state.rlr_cooldown;
            if (history) history->best_epoch = es.best_epoch;
            m->rng = bk.state.rng;
        }
        /* every rank must have read the same backup (and one that could not fails them all) */
        if (dist && !(st = rnn__dist_agree(dist, st))) {
            double where[3] = {found, found ? first_epoch : 0, found ? (double)first_batch : 0};
            int same;
            if (!(st = rnn__dist_same(dist, where, 3, &same)) && !same)
                st = rnn__fail(RNN_ERR_STATE, "BackupAndRestore: the ranks found different backups "
                               "at %s (put it on a file system every rank shares, and resume with "
                               "the same number of ranks)", bk.cfg->path);
        }
    }
    if (!st && !finished && rank0) /* rank 0 alone writes the CSVLogger's file */
        st = rnn__csv_open(&cs, &o->csv_logger, found, bk.state.csv_bytes,
                           bk.state.csv_header_pending);
    if (dist && !finished) st = rnn__dist_agree(dist, st);
    for (int epoch = first_epoch; epoch < o->epochs && !st && !finished; epoch++) {
        const int resumed = epoch == first_epoch && first_batch > 0;
        double running = 0.0, seen = 0.0;
        metric_sums ms = {{0}, 0, 0};
        double metric_now[RNN_MAX_METRICS] = {0};
        int stop = 0;
        if (resumed) { /* redraw the epoch's permutation, then go on from the saved generator */
            const rnn_rng now = m->rng;
            m->rng = bk.state.rng_epoch_start;
            if (bp->begin_epoch && (st = bp->begin_epoch(bp, m))) break;
            m->rng = now;
            running = bk.state.running;
            seen = bk.state.seen;
            memcpy(ms.correct, bk.state.metric_correct, sizeof ms.correct);
            ms.rows = bk.state.metric_rows;
            ms.all_rows = bk.state.metric_all_rows;
            for (int k = 0; k < m->n_metrics; k++) metric_now[k] = rnn__metric_value(m, &ms, k);
        } else {
            bk.state.rng_epoch_start = m->rng;
            if ((st = rnn__lr_scheduler_epoch_begin(m, &o->lr_scheduler, epoch))) break;
            if (bp->begin_epoch && (st = bp->begin_epoch(bp, m))) break;
        }
        rnn_progress bar;
        rnn__progress_begin(&bar, o->out, verbose, epoch, o->epochs, bp->batches);
        rnn_log_entry logs[2 * RNN_MAX_METRICS + 3];
        for (int64_t b = resumed ? first_batch : 0; b < bp->batches && !st && !stop; b++) {
            rnn_tensor xb[RNN_MODEL_MAX_IO];
            const float *targets[RNN_MODEL_MAX_IO];
            int64_t count;
            double loss = 0;
            if (dist) { /* this rank's rows; count becomes the global batch's */
                rnn_status got = bp->get(bp, m, b, xb, targets, &count);
                st = rnn__dist_train_step(dist, m, got, xb, targets, got ? 0 : count, &loss,
                                          &count, &ms);
            } else if (!(st = bp->get(bp, m, b, xb, targets, &count)))
                st = rnn__train_step(m, xb, targets, &loss, &ms);
            if (st) {
                /* a distributed step reports the global loss on every rank, so every rank
                 * takes the same decision here */
                if (st == RNN_ERR_NUMERIC && o->terminate_on_nan && !isfinite(loss)) {
                    /* TerminateOnNaN: Keras's stop_training after this batch */
                    st = RNN_OK;
                    stop = 1;
                } else {
                    if (verbose) fputc('\n', bar.out);
                    break;
                }
            }
            running += loss * (double)count; /* Keras: mean weighted by batch size */
            seen += (double)count;
            for (int k = 0; k < m->n_metrics; k++) metric_now[k] = rnn__metric_value(m, &ms, k);
            int nl = epoch_logs(m, running / seen, metric_now, 0, 0, NULL, logs);
            rnn__progress_step(&bar, b + 1, logs, nl);
            if (o->on_train_batch_end && o->on_train_batch_end(o->user, b, logs, nl) != 0) stop = 1;
            /* one rank's batch callback stops every rank */
            if (dist && o->on_train_batch_end && (st = rnn__dist_any(dist, stop, &stop))) break;
            if (!stop && bk.cfg && bk.cfg->save_freq > 0 && (b + 1) % bk.cfg->save_freq == 0 &&
                b + 1 < bp->batches) {
                if (rank0)
                    st = rnn__backup_write(&bk, m, epoch, b + 1, 0, running, seen, &ms, &es, &cp,
                                           &ps, &cs);
                if (dist) st = rnn__dist_agree(dist, st);
            }
        }
        if (st) break;
        double epoch_loss = seen ? running / seen : 0, val = NAN, val_metrics[RNN_MAX_METRICS];
        if (with_val && (st = bp->validate(bp, m, &val, val_metrics))) break;
        int nl = epoch_logs(m, epoch_loss, metric_now, with_val, val, val_metrics, logs);
        rnn__progress_end(&bar, logs, nl);
        /* LearningRateScheduler and ReduceLROnPlateau log the rate of the epoch after the
         * progress bar has printed (Keras's ProgbarLogger runs first), before any reduction. */
        const double lr_now = (double)m->optimizer.learning_rate;
        if (log_lr) logs[nl++] = (rnn_log_entry){"learning_rate", lr_now};
        rnn__plateau_epoch_end(&ps, m, logs, nl);
        if (history) {
            history->loss[epoch] = epoch_loss;
            if (with_val) history->val_loss[epoch] = val;
            if (log_lr) history->learning_rate[epoch] = lr_now;
            for (int k = 0; k < m->n_metrics; k++) {
                history->metric[k][epoch] = metric_now[k];
                if (with_val) history->val_metric[k][epoch] = val_metrics[k];
            }
            history->epochs = epoch + 1;
        }
        if (dist && dist->check_weights && (st = rnn__dist_check_weights(dist, m, epoch))) break;
        if (o->checkpoint.filepath && rank0) st = rnn__checkpoint_after_epoch(&cp, m, epoch, logs, nl);
        if (dist) st = rnn__dist_agree(dist, st);
        if (st) break;
        stop |= rnn__early_after_epoch(&es, m, epoch, logs, nl);
        if (history) history->best_epoch = es.best_epoch;
        st = rnn__csv_epoch_end(&cs, epoch, logs, nl);
        if (dist) st = rnn__dist_agree(dist, st);
        if (st) break;
        if (!stop && o->on_epoch_end) {
            rnn_history view = {0};
            stop = o->on_epoch_end(o->user, epoch, history ? history : &view) != 0;
        }
        if (dist && (st = rnn__dist_any(dist, stop, &stop))) break; /* one rank's callback */
        if (stop && history) history->stopped_early = 1;
        /* The backup after the epoch records a decision to stop, so a resume ends too. */
        if (bk.cfg) {
            metric_sums none = {{0}, 0, 0};
            if (rank0)
                st = rnn__backup_write(&bk, m, epoch + 1, 0, stop, 0.0, 0.0, &none, &es, &cp, &ps,
                                       &cs);
            if (dist) st = rnn__dist_agree(dist, st);
        }
        if (stop) break;
    }
    if (finished && history) history->stopped_early = 1;
    rnn_status closed = rnn__csv_close(&cs);
    if (!st) st = closed;
    if (!st && rank0 && bk.cfg && bk.cfg->delete_checkpoint && remove(bk.cfg->path) != 0 &&
        errno != ENOENT)
        st = rnn__fail(RNN_ERR_IO, "BackupAndRestore: cannot delete %s", bk.cfg->path);
    free(es.best_weights);
    if (history == &own_history) rnn_history_free(history);
    return st;
}

/* ---- arrays in memory */

/* Copies rows idx[start..start+count) (or start.. in order) of src into dst. */
static void gather(float *dst, const float *src, const int64_t *idx, int64_t start, int64_t count,
                   int64_t per) {
    for (int64_t i = 0; i < count; i++)
        memcpy(dst + i * per, src + (idx ? idx[start + i] : start + i) * per,
               sizeof(float) * (size_t)per);
}

/* Rows [start, start + *count) of the order (NULL: in order) into the batch buffers; in a
 * data-parallel fit only this rank's part of them, whose values it checks (the arrays were not
 * scanned as a whole, so that no rank reads every row). */
static rnn_status gather_batch(batch_provider *p, rnn_model *m, const int64_t *order, int64_t start,
                               int64_t *count, rnn_tensor *xb, const float **targets) {
    const call_data *d = p->d;
    rnn_tensor yb[RNN_MODEL_MAX_IO];
    if (p->dist) {
        int64_t lo;
        rnn__dist_part(*count, p->dist->rank, p->dist->size, &lo, count);
        start += lo;
    }
    for (int i = 0; i < m->n_inputs; i++) {
        gather(m->batch_x[i], d->x[i].data, order, start, *count, rnn__tensor_row_size(&d->x[i]));
        xb[i] = rnn__batch_view(m->batch_x[i], &d->x[i], *count);
    }
    for (int i = 0; i < m->n_outputs; i++) {
        gather(m->batch_y[i], d->y[i].data, order, start, *count, rnn__target_per_sample(m, i, d->steps));
        targets[i] = m->batch_y[i];
        yb[i] = rnn__batch_view(m->batch_y[i], &d->y[i], *count);
    }
    call_data part = {0};
    rnn_status st = RNN_OK;
    if (p->dist && *count > 0 && !(st = rnn__check_x(m, xb, m->n_inputs, &part)))
        st = rnn__check_y(m, yb, m->n_outputs, &part);
    return st;
}

static rnn_status arrays_begin_epoch(batch_provider *p, rnn_model *m) {
    if (!p->order) return RNN_OK;
    for (int64_t i = 0; i < p->split; i++) p->order[i] = i;
    for (int64_t i = p->split - 1; i > 0; i--) { /* Fisher-Yates, a new permutation each epoch */
        int64_t j = (int64_t)rnn__rng_below(&m->rng, (uint64_t)(i + 1));
        int64_t t = p->order[i]; p->order[i] = p->order[j]; p->order[j] = t;
    }
    return RNN_OK;
}

static rnn_status arrays_get(batch_provider *p, rnn_model *m, int64_t k, rnn_tensor *xb,
                             const float **targets, int64_t *count) {
    int64_t start = k * p->batch_size;
    *count = p->split - start < p->batch_size ? p->split - start : p->batch_size;
    return gather_batch(p, m, p->order, start, count, xb, targets);
}

static rnn_status arrays_validate(batch_provider *p, rnn_model *m, double *loss, double *metrics) {
    if (!p->dist) return rnn__evaluate_range(m, p->d, p->split, p->n, (int)p->batch_size, loss, metrics);
    metric_sums ms = {{0}, 0, 0};
    double total = 0, seen = 0;
    rnn_status st = RNN_OK;
    for (int64_t s = p->split; s < p->n && !st; s += p->batch_size) {
        rnn_tensor xb[RNN_MODEL_MAX_IO];
        const float *targets[RNN_MODEL_MAX_IO];
        int64_t count = p->n - s < p->batch_size ? p->n - s : p->batch_size;
        rnn_status got = gather_batch(p, m, NULL, s, &count, xb, targets);
        st = rnn__dist_eval_batch(p->dist, m, got, xb, targets, got ? 0 : count, &total, &seen, &ms);
    }
    *loss = seen ? total / seen : 0;
    for (int k = 0; k < m->n_metrics; k++) metrics[k] = rnn__metric_value(m, &ms, k);
    return st;
}

static rnn_status fit_arrays(rnn_model *m, const call_data *d, const rnn_fit_options *o,
                             rnn_history *history) {
    rnn_status st;
    if (o->epochs < 0 || o->batch_size <= 0)
        return rnn__fail(RNN_ERR_ARGUMENT, "epochs must be >= 0 and batch_size > 0 (got %d, %d)",
                         o->epochs, o->batch_size);
    if (!(o->validation_split >= 0.0f && o->validation_split < 1.0f))
        return rnn__fail(RNN_ERR_ARGUMENT, "validation_split must be in [0, 1), got %g",
                         (double)o->validation_split);
    call_data vd;
    const call_data *val_d;
    const rnn_batch_source *val_src;
    if ((st = resolve_validation(m, o, &vd, &val_d, &val_src))) return st;
    const int64_t N = d->n;
    /* Keras: split_at = floor(N * (1 - validation_split)); validation is the tail, unshuffled. */
    int64_t split = o->validation_split > 0 && !val_d && !val_src ? (int64_t)floor((double)N * (1.0 - o->validation_split)) : N;
    if (o->validation_split > 0 && !val_d && !val_src && (split == 0 || split == N))
        return rnn__fail(RNN_ERR_ARGUMENT,
                         "validation_split=%g leaves %s samples out of %lld: too few samples",
                         (double)o->validation_split, split == 0 ? "no training" : "no validation",
                         (long long)N);
    /* Data-parallel: a global batch of ranks x batch_size rows, batch_size of them per rank
     * (a stateful model's fixed batch is the per-rank one). */
    const int ranks = o->distributed ? o->distributed->size : 1;
    const int64_t global = (int64_t)o->batch_size * ranks;
    if ((st = rnn__check_stateful_batches(m, split, o->batch_size))) return st;
    if (split < N && (st = rnn__check_stateful_batches(m, N - split, o->batch_size))) return st;
    if (ranks > 1 && rnn__model_stateful_batch(m) && (split % global || (N - split) % global))
        return rnn__fail(RNN_ERR_STATE, "the model is stateful: across %d ranks the %lld samples "
                         "must divide into full global batches of %d x %d", ranks,
                         (long long)(split % global ? split : N - split), ranks, o->batch_size);
    int64_t bs = o->batch_size < split ? o->batch_size : split;
    if ((st = rnn__plan_batch(m, d, bs, 1))) return st;
    batch_provider bp = {0};
    bp.dist = o->distributed;
    bp.batches = (split + global - 1) / global;
    bp.has_validation = split < N || val_d || val_src;
    bp.begin_epoch = arrays_begin_epoch;
    bp.get = arrays_get;
    bp.validate = split < N ? arrays_validate : validate_data;
    bp.val_d = val_d;
    bp.val_src = val_src;
    bp.val_batch = o->batch_size;
    bp.d = d;
    bp.split = split;
    bp.n = N;
    bp.batch_size = global;
    if (o->shuffle && !(bp.order = malloc(sizeof(int64_t) * (size_t)split)))
        return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    st = fit_loop(m, &bp, o, history);
    free(bp.order);
    return st;
}

/* ---- a caller's batch source */

typedef struct {
    batch_provider base;
    rnn_tensor x[RNN_MODEL_MAX_IO], y[RNN_MODEL_MAX_IO];
    call_data d;
    int64_t *order;
} source_provider;

static rnn_status source_begin_epoch(batch_provider *p, rnn_model *m) {
    source_provider *sp = (source_provider *)p;
    if (!sp->order) return RNN_OK;
    /* Keras shuffles the order of a Sequence's batches when shuffle=True. */
    for (int64_t i = 0; i < p->batches; i++) sp->order[i] = i;
    for (int64_t i = p->batches - 1; i > 0; i--) {
        int64_t j = (int64_t)rnn__rng_below(&m->rng, (uint64_t)(i + 1));
        int64_t t = sp->order[i]; sp->order[i] = sp->order[j]; sp->order[j] = t;
    }
    return RNN_OK;
}

/* This rank's part of batch k of a source (data-parallel fit), checked like any batch; a part
 * may be empty (*d zeroed). */
static rnn_status source_part(rnn_model *m, const rnn_batch_source *src, int64_t k,
                              const rnn_distributed *dist, rnn_tensor *xb, rnn_tensor *yb,
                              call_data *d) {
    memset(xb, 0, sizeof *xb * RNN_MODEL_MAX_IO);
    memset(yb, 0, sizeof *yb * RNN_MODEL_MAX_IO);
    memset(d, 0, sizeof *d);
    rnn_status st = src->get_part(src->user, k, dist->rank, dist->size, xb, yb);
    if (st)
        return rnn__fail(st, "the batch source failed on part %d of batch %lld%s%s", dist->rank,
                         (long long)k, rnn_last_error()[0] ? ": " : "", rnn_last_error());
    if (xb[0].rank >= 1 && xb[0].shape[0] == 0) return RNN_OK;
    if ((st = rnn__check_x(m, xb, m->n_inputs, d)) || (st = rnn__check_y(m, yb, m->n_outputs, d)) ||
        (st = rnn__check_stateful_batches(m, d->n, (int)d->n)))
        return st;
    return rnn__plan_batch(m, d, d->n, 0);
}

static rnn_status source_get(batch_provider *p, rnn_model *m, int64_t k, rnn_tensor *xb,
                             const float **targets, int64_t *count) {
    source_provider *sp = (source_provider *)p;
    int64_t idx = sp->order ? sp->order[k] : k;
    rnn_status st = p->dist ? source_part(m, p->src, idx, p->dist, sp->x, sp->y, &sp->d)
                            : rnn__source_batch(m, p->src, idx, sp->x, sp->y, &sp->d);
    if (st) return st;
    for (int i = 0; i < m->n_inputs; i++) xb[i] = sp->x[i];
    for (int i = 0; i < m->n_outputs; i++) targets[i] = sp->y[i].data;
    *count = sp->d.n;
    if (k == p->batches - 1 && p->src->on_epoch_end) p->src->on_epoch_end(p->src->user);
    return RNN_OK;
}

/* A distributed fit on a batch source validates on each rank's part of every validation batch;
 * validation arrays (validation_data) are evaluated whole on every rank, which gives every rank
 * the single-process values. */
static rnn_status source_validate(batch_provider *p, rnn_model *m, double *loss, double *metrics) {
    if (!p->dist || p->val_d) return validate_data(p, m, loss, metrics);
    source_provider *sp = (source_provider *)p;
    metric_sums ms = {{0}, 0, 0};
    double total = 0, seen = 0;
    rnn_status st = RNN_OK;
    for (int64_t k = 0; k < p->val_src->batches && !st; k++) {
        rnn_status got = source_part(m, p->val_src, k, p->dist, sp->x, sp->y, &sp->d);
        const float *targets[RNN_MODEL_MAX_IO];
        for (int i = 0; i < m->n_outputs; i++) targets[i] = sp->y[i].data;
        st = rnn__dist_eval_batch(p->dist, m, got, sp->x, targets, got ? 0 : sp->d.n, &total,
                                  &seen, &ms);
    }
    *loss = seen ? total / seen : 0;
    for (int k = 0; k < m->n_metrics; k++) metrics[k] = rnn__metric_value(m, &ms, k);
    return st;
}

static rnn_status fit_source(rnn_model *m, const rnn_batch_source *train,
                             const rnn_fit_options *options, rnn_history *history) {
    if (history) memset(history, 0, sizeof *history);
    rnn_fit_options o = options ? *options : rnn_fit_defaults();
    call_data vd;
    const call_data *val_d;
    const rnn_batch_source *validation;
    rnn_status st;
    if ((st = rnn__need_compiled(m)) || (st = rnn__check_source(train)) ||
        (st = resolve_validation(m, &o, &vd, &val_d, &validation)))
        return rnn__model_fail(m, st);
    if (val_d && o.batch_size <= 0)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "batch_size must be > 0 for "
                                            "validation_data arrays (got %d)", o.batch_size));
    if (o.epochs < 0) return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "epochs must be >= 0"));
    if (o.distributed && (!train->get_part || (validation && !validation->get_part)))
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "a distributed fit reads each rank's "
                                            "rows with the batch source's get_part, which this "
                                            "source does not have"));
    source_provider sp;
    memset(&sp, 0, sizeof sp);
    sp.base.dist = o.distributed;
    sp.base.batches = train->batches;
    sp.base.has_validation = validation || val_d;
    sp.base.begin_epoch = source_begin_epoch;
    sp.base.get = source_get;
    sp.base.validate = source_validate;
    sp.base.src = train;
    sp.base.val_src = validation;
    sp.base.val_d = val_d;
    sp.base.val_batch = o.batch_size;
    /* A stateful model reads its source in order: shuffling would break the carried state. */
    if (o.shuffle && !rnn__model_stateful_batch(m) &&
        !(sp.order = malloc(sizeof(int64_t) * (size_t)train->batches)))
        return rnn__model_fail(m, rnn__fail(RNN_ERR_MEMORY, "out of memory"));
    st = fit_loop(m, &sp.base, &o, history);
    free(sp.order);
    if (st) {
        if (history) rnn_history_free(history);
        return rnn__model_fail(m, st);
    }
    return RNN_OK;
}

static rnn_status fit_lists(rnn_model *m, const rnn_tensor *x, int nx, const rnn_tensor *y, int ny,
                            const rnn_fit_options *options, rnn_history *history) {
    if (history) memset(history, 0, sizeof *history);
    rnn_fit_options o = options ? *options : rnn_fit_defaults();
    call_data d = {0};
    rnn_status st;
    /* Distributed: each rank checks the values of its own rows as it reads them (a mapped
     * array's other pages stay unread). */
    d.skip_values = o.distributed != NULL;
    if (!(st = rnn__need_compiled(m)) && !(st = rnn__check_x(m, x, nx, &d)) && !(st = rnn__check_y(m, y, ny, &d)))
        st = fit_arrays(m, &d, &o, history);
    if (st) {
        if (history) rnn_history_free(history);
        return rnn__model_fail(m, st);
    }
    rnn__clear_error();
    return RNN_OK;
}

rnn_status rnn_fit(rnn_model *m, rnn_data data, const rnn_fit_options *options,
                   rnn_history *history) {
    if (!m) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_fit: model is NULL");
    rnn_status st;
    if ((st = rnn__check_data_form(&data, "rnn_fit"))) {
        if (history) memset(history, 0, sizeof *history);
        return rnn__model_fail(m, st);
    }
    if (data.source) return fit_source(m, data.source, options, history);
    if (options && options->validation_source) {
        if (history) memset(history, 0, sizeof *history);
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT,
                                            "rnn_fit: validation_source needs a batch source as "
                                            "the data (use validation_data or validation_split "
                                            "with arrays)"));
    }
    if (rnn__data_is_lists(&data))
        return fit_lists(m, data.xs, data.n_x, data.ys, data.n_y, options, history);
    return fit_lists(m, &data.x, 1, &data.y, 1, options, history);
}
