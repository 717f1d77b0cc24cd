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

rnn_status rnn__early_init(early_state *es, rnn_model *m, const rnn_early_stopping *cfg,
                           int with_val);
/* Returns 1 when training should stop after this epoch. */
int rnn__early_after_epoch(early_state *es, rnn_model *m, int epoch, const rnn_log_entry *logs,
                           int n);
rnn_status rnn__checkpoint_after_epoch(checkpoint_state *cp, rnn_model *m, int epoch,
                                       const rnn_log_entry *logs, int n);
rnn_status rnn__backup_write(backup_state *bk, rnn_model *m, int epoch, int64_t batch,
                             int finished, double running, double seen, const metric_sums *ms,
                             const early_state *es, const checkpoint_state *cp);

#endif
