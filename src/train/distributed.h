/* Data-parallel fit (rnn_fit_options.distributed): what the training loop needs from a transport,
 * and the steps built on it (distributed.c). The core library knows only this table of
 * collectives; the MPI transport (src/mpi/rnn_mpi.c, built into librnn_mpi when MPI is found)
 * fills it, so librnn itself has no MPI dependency. Internal. */
#ifndef RNN_TRAIN_DISTRIBUTED_H
#define RNN_TRAIN_DISTRIBUTED_H

#include "train/train.h"

/* A group of processes training one model together. Every collective below is called by every
 * rank in the same order; each returns RNN_OK, or an error (a peer that died or did not answer
 * within the transport's time limit) after which the group cannot be used any more. */
struct rnn_distributed {
    int rank, size;
    int check_weights; /* compare a checksum of the weights across ranks after every epoch */
    void *impl;
    /* The gradients of every weight in one buffer for the sum, kept from step to step (grown
     * when a larger model trains on the group); freed with the group. */
    float *grad_buf;
    int64_t grad_buf_floats;
    /* out[r * n + i] = rank r's in[i], on every rank. */
    rnn_status (*allgather)(void *impl, const double *in, int n, double *out);
    /* data[i] = the sum over ranks of data[i], added in rank order 0, 1, ..., size-1, so the
     * result is the same bits on every rank and from run to run. */
    rnn_status (*sum_floats)(void *impl, float *data, int64_t n);
    /* buf (bytes) of rank root to every rank. */
    rnn_status (*broadcast)(void *impl, void *buf, int64_t bytes, int root);
    void (*release)(void *impl);
};

/* Rows [*start, *start + *count) of a batch of n rows are part `part` of `parts`: the
 * balanced split floor(part * n / parts) .. floor((part + 1) * n / parts). */
void rnn__dist_part(int64_t n, int part, int parts, int64_t *start, int64_t *count);

/* Rank 0's weights, optimizer state and step count, and its random generator, to every rank. */
rnn_status rnn__dist_sync_model(rnn_distributed *d, rnn_model *m);

/* One optimizer step of the group: this rank's rows xb (n_local of them, possibly 0) -> targets.
 * `local` is this rank's status so far (a failed read): any rank's failure fails every rank,
 * with the first failing rank's message. The loss and metric sums are the global batch's,
 * *n_global its rows; the update is the single-process update on the combined batch. */
rnn_status rnn__dist_train_step(rnn_distributed *d, rnn_model *m, rnn_status local,
                                const rnn_tensor *xb, const float *const *targets,
                                int64_t n_local, double *loss, int64_t *n_global, metric_sums *ms);

/* Evaluation of one global batch split among the ranks (validation): adds the batch's loss
 * times its rows to *total, its rows to *seen, and its metric sums to ms. */
rnn_status rnn__dist_eval_batch(rnn_distributed *d, rnn_model *m, rnn_status local,
                                const rnn_tensor *xb, const float *const *targets,
                                int64_t n_local, double *total, double *seen, metric_sums *ms);

/* Every rank's status -> one: RNN_OK when all are, else the lowest failing rank's status and
 * message on every rank. */
rnn_status rnn__dist_agree(rnn_distributed *d, rnn_status local);
/* *same = 1 on every rank when every rank passed the same n values. */
rnn_status rnn__dist_same(rnn_distributed *d, const double *v, int n, int *same);
/* 1 on every rank when any rank passes a non-zero flag (a stop decision). */
rnn_status rnn__dist_any(rnn_distributed *d, int flag, int *any);
/* The debug check: the same weights bits on every rank (after epoch `epoch`). */
rnn_status rnn__dist_check_weights(rnn_distributed *d, rnn_model *m, int epoch);

#endif
