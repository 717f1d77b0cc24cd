/* keras.callbacks.BackupAndRestore for fit: a backup file that lets an interrupted training run
 * (a crash, kill -9, a power cut) continue exactly where its last backup was taken.
 *
 * The backup is a .keras file (so Keras and rnn_load read it as a model, weights and optimizer
 * state included) with one more member, librnn_training_state.json: the epoch and the batches of
 * it already applied, the model's random generator (shuffling, dropout) now and at the start of
 * the epoch (to redraw the epoch's permutation), the running loss and metric sums of the epoch,
 * the history so far (learning rates included), EarlyStopping's, ModelCheckpoint's,
 * ReduceLROnPlateau's and CSVLogger's state, and the carried state of
 * every recurrent layer. Resuming from it and finishing gives bit-identical weights to a run
 * that was never interrupted (same thread count, a deterministic batch source). It is written
 * like every save: a temporary file, flushed, renamed over the previous backup. */
#ifndef RNN_TRAINING_BACKUP_H
#define RNN_TRAINING_BACKUP_H

#include "model.h"

typedef struct {
    int epoch;       /* the epoch in progress, 0-based */
    int64_t batch;   /* batches of that epoch already applied (0: the epoch has not begun) */
    int finished;    /* training had ended (EarlyStopping or the epoch callback) */
    rnn_rng rng, rng_epoch_start;
    double running, seen;                /* the epoch's loss sum (weighted by batch size) */
    double metric_correct[RNN_MAX_METRICS], metric_rows;
    double metric_all_rows; /* masked rows included (root_mean_squared_error) */
    rnn_history *history;                /* arrays sized for every epoch; .epochs completed */
    int epochs_total;                    /* the fit's epochs (the history arrays' length) */
    int es_best_epoch, es_wait;          /* EarlyStopping */
    double es_best;
    float *es_best_weights;              /* NULL unless restore_best_weights */
    int cp_have_best;                    /* ModelCheckpoint(save_best_only) */
    double cp_best;
    int rlr_have_best, rlr_wait, rlr_cooldown; /* ReduceLROnPlateau */
    double rlr_best;
    int64_t csv_bytes;                   /* CSVLogger: the file's length at the backup */
    int csv_header_pending;
} rnn_training_state;

/* Writes the backup atomically. */
rnn_status rnn__backup_save(rnn_model *m, const char *path, const rnn_training_state *s);
/* Reads a backup into the model (weights, optimizer state, layer states) and *s (history
 * arrays and es_best_weights must be allocated by the caller). *found is 0, with RNN_OK, when
 * path does not exist. A backup of another model is an error. */
rnn_status rnn__backup_restore(rnn_model *m, const char *path, rnn_training_state *s, int *found);

#endif
