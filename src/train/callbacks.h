/* fit's callbacks (callbacks.c), as the epoch loop in fit.c drives them. Internal. */
#ifndef RNN_TRAIN_CALLBACKS_H
#define RNN_TRAIN_CALLBACKS_H

#include "progress.h"
#include "train/train.h"
#include "training_backup.h"

/* EarlyStopping's state (keras/src/callbacks/early_stopping.py). */
typedef struct {
    const rnn_early_stopping *cfg;
    int maximize;
    double best;
    int wait;
    float *best_weights;
    int best_epoch;
} early_state;

/* ModelCheckpoint's state: the best monitored value so far (save_best_only). */
typedef struct {
    const rnn_model_checkpoint *cfg;
    int have_best;
    double best;
} checkpoint_state;

/* BackupAndRestore: what fit_loop needs to write a backup and to resume from one. */
typedef struct {
    const rnn_backup_and_restore *cfg; /* NULL: off */
    rnn_training_state state;
} backup_state;

/* ReduceLROnPlateau's state (keras/src/callbacks/reduce_lr_on_plateau.py). */
typedef struct {
    const rnn_reduce_lr_on_plateau *cfg; /* NULL: off */
    int maximize;
    int have_best; /* Keras's best is None until the first epoch */
    double best;
    int wait, cooldown_counter;
} plateau_state;

/* CSVLogger's open file and its columns (fixed by the first row, as Keras does). */
#define CSV_MAX_KEYS (4 * RNN_MAX_METRICS + 8)
typedef struct {
    const rnn_csv_logger *cfg;
    FILE *f; /* NULL: off */
    char sep;
    int header_pending;
    int n_keys;
    char keys[CSV_MAX_KEYS][56];
} csv_state;

/* schedule_callbacks.c */
/* LearningRateScheduler.on_epoch_begin. */
rnn_status rnn__lr_scheduler_epoch_begin(rnn_model *m, const rnn_lr_scheduler *cfg, int epoch);
rnn_status rnn__plateau_init(plateau_state *ps, const rnn_model *m,
                             const rnn_reduce_lr_on_plateau *cfg, int with_val);
/* ReduceLROnPlateau.on_epoch_end: may lower m->optimizer.learning_rate. */
void rnn__plateau_epoch_end(plateau_state *ps, rnn_model *m, const rnn_log_entry *logs, int n);
/* Opens the CSV file: from the start (or appending), or, resuming from a backup, cut back to
 * the `bytes` the backup recorded. */
rnn_status rnn__csv_open(csv_state *cs, const rnn_csv_logger *cfg, int resume, int64_t bytes,
                         int header_pending);
rnn_status rnn__csv_epoch_end(csv_state *cs, int epoch, const rnn_log_entry *logs, int n);
int64_t rnn__csv_bytes(const csv_state *cs);
rnn_status rnn__csv_close(csv_state *cs);
/* Python's repr() of a float, as CSVLogger writes values. */
void rnn__python_float_repr(double v, char *out, size_t size);

rnn_status rnn__early_init(early_state *es, rnn_model *m, const rnn_early_stopping *cfg,
                           int with_val);
/* Returns 1 when training should stop after this epoch. */
int rnn__early_after_epoch(early_state *es, rnn_model *m, int epoch, const rnn_log_entry *logs,
                           int n);
rnn_status rnn__checkpoint_after_epoch(checkpoint_state *cp, rnn_model *m, int epoch,
                                       const rnn_log_entry *logs, int n);
rnn_status rnn__backup_write(backup_state *bk, rnn_model *m, int epoch, int64_t batch,
                             int finished, double running, double seen, const metric_sums *ms,
                             const early_state *es, const checkpoint_state *cp,
                             const plateau_state *ps, const csv_state *cs);

#endif
