/* What the files of src/train/ share: one call's data and its checks (data.c), metric sums
 * (metrics.c), the loss and one training step (step.c), evaluation (evaluate.c). Internal.
 * fit's callbacks have their own header, callbacks.h: only fit.c and callbacks.c see them. */
#ifndef RNN_TRAIN_TRAIN_H
#define RNN_TRAIN_TRAIN_H

#include "model.h"

/* Running sums of a metric: correct rows and rows seen. */
typedef struct {
    double correct[RNN_MAX_METRICS];
    double rows;
    double all_rows; /* masked rows included: root_mean_squared_error, which Keras 3.15.1
                      * computes over every step of a masked output */
} metric_sums;

/* The data of one call: x[k] for each input, y[k] for each output (NULL when not needed). */
typedef struct {
    const rnn_tensor *x;
    const rnn_tensor *y;
    int64_t n;     /* samples */
    int64_t steps; /* of input 0 (0 without a time axis) */
    int skip_values; /* check shapes only, not the values (a distributed fit checks each part) */
} call_data;

/* metrics.c: adds the metrics of the last forward on output 0 (targets t0) into sums. */
void rnn__metrics_accumulate(rnn_model *m, const float *t0, metric_sums *ms);
/* Metric k's value from its sums (the mean over rows; root_mean_squared_error's root). */
double rnn__metric_value(const rnn_model *m, const metric_sums *ms, int k);

/* data.c */
/* The index of the first NaN or Inf in p[0, n), or -1 (a screen the compiler vectorises; a
 * large one shared by the current team, kernels/team.h). */
int64_t rnn__first_nonfinite(const float *p, int64_t n);
rnn_status rnn__check_x(rnn_model *m, const rnn_tensor *xs, int nx, call_data *d);
rnn_status rnn__check_y(rnn_model *m, const rnn_tensor *ys, int ny, call_data *d);
/* Values per sample in output k's targets, and in output k. */
int64_t rnn__target_per_sample(const rnn_model *m, int k, int64_t steps);
int64_t rnn__output_per_sample(const rnn_model *m, int k, int64_t steps);
/* A stateful model takes only batches of its fixed size. */
rnn_status rnn__check_stateful_batches(rnn_model *m, int64_t n, int batch_size);
rnn_status rnn__need_compiled(rnn_model *m);
/* Plans the model's batch buffers for batches of up to `batch` samples. */
rnn_status rnn__plan_batch(rnn_model *m, const call_data *d, int64_t batch, int gather_x);
/* t's shape with count samples, over data. */
rnn_tensor rnn__batch_view(float *data, const rnn_tensor *t, int64_t count);
rnn_status rnn__check_source(const rnn_batch_source *src);
/* An rnn_data holds one form only: arrays x and y, lists xs and ys, or a source. */
rnn_status rnn__check_data_form(const rnn_data *data, const char *who);
/* The lists form (xs, ys): rnn_data_arrays, even with NULL lists. */
int rnn__data_is_lists(const rnn_data *data);
/* Fetches batch k from a source and checks it like any fit data. */
rnn_status rnn__source_batch(rnn_model *m, const rnn_batch_source *src, int64_t k,
                             rnn_tensor *xb, rnn_tensor *yb, call_data *d);

/* step.c */
/* Loss of the last forward over every output; with grads, writes m->dloss. */
double rnn__current_loss(rnn_model *m, const float *const *targets, int with_grads);
/* One optimizer step on the batch xb -> targets: loss before the update in *loss (also set
 * when a non-finite loss refuses the step with RNN_ERR_NUMERIC). */
rnn_status rnn__train_step(rnn_model *m, const rnn_tensor *xb, const float *const *targets,
                           double *loss, metric_sums *ms);
/* The update from the gradients in every weight's grad: checks them, clips, applies the
 * optimizer, counts the step (fails before the update on a non-finite gradient). */
rnn_status rnn__apply_gradients(rnn_model *m);

/* evaluate.c */
/* Mean loss over samples [begin, end) in order, batch by batch, without updates. */
rnn_status rnn__evaluate_range(rnn_model *m, const call_data *d, int64_t begin, int64_t end,
                               int batch_size, double *loss, double *metrics);
/* Mean loss and metrics over every batch of a source, weighted by batch size. */
rnn_status rnn__evaluate_source(rnn_model *m, const rnn_batch_source *src, double *loss,
                                double *metrics);

#endif
