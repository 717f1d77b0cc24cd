/* Read access to each layer kind's options, for the Keras file writer and the summary: each
 * layer file answers for its own private struct, so nothing outside it depends on the layout.
 * The caller checks the layer's class first (layer->ops->class_name). */
#ifndef RNN_LAYER_OPTIONS_H
#define RNN_LAYER_OPTIONS_H

#include "layers/layer.h"

const rnn_dense_options *rnn__dense_options(const rnn_layer *dense);
const rnn_conv1d_options *rnn__conv1d_options(const rnn_layer *conv1d);
/* "valid", "same" or "causal": Keras's names. */
const char *rnn__conv1d_padding_name(rnn_padding padding);
const rnn_embedding_options *rnn__embedding_options(const rnn_layer *embedding);
int rnn__repeat_vector_n(const rnn_layer *repeat_vector);
rnn_activation rnn__activation_layer_kind(const rnn_layer *activation);
float rnn__dropout_rate(const rnn_layer *dropout);
float rnn__masking_value(const rnn_layer *masking);
rnn_layer *rnn__time_distributed_inner(const rnn_layer *time_distributed);
rnn_model *rnn__model_layer_inner(const rnn_layer *model_layer);
/* "concat", "sum", "mul", "ave", or NULL for None. */
const char *rnn__bidirectional_merge_mode(const rnn_layer *bidirectional);
/* The forward (backward 0) or backward (1) layer. */
rnn_layer *rnn__bidirectional_sub(const rnn_layer *bidirectional, int backward);
/* Merge layers (merge.c): 1 for Add, Subtract, Multiply, Average, Maximum, Minimum,
 * Concatenate and Dot, which Keras calls on a list of inputs. */
int rnn__layer_is_merge(const rnn_layer *layer);
/* Concatenate's axis as given (negative: from the end). */
int rnn__concatenate_axis(const rnn_layer *concatenate);
/* Dot's axes as given, and normalize. */
void rnn__dot_options(const rnn_layer *dot, int axes[2], int *normalize);

#endif
