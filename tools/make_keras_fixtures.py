"""Golden fixtures from real Keras for tests/test_keras_fixtures.c.

    sh tools/setup_python_env.sh && .venv/bin/python tools/make_keras_fixtures.py [CASE ...]

Keras 3 with the TensorFlow backend on the CPU, float32, one thread, deterministic ops. For each
case below the model is built in Keras, every weight is replaced by values drawn from a NumPy
generator seeded by the case's name (biases included, so none is zero), and a fixed input batch x
and target y are drawn the same way. tests/fixtures/keras/<case>/ then receives:

  case.txt        the model in a line format the C test parses (described in its header)
  x.npy, y.npy    the batch and its target (token ids and class ids as float32 values)
  w<k>.npy        the weights in get_weights() order
  out.npy         model.predict(x) with those weights
  loss.npy        the compiled loss on (x, y) (scalar; reduction sum_over_batch_size; masked
                  steps excluded; summed over the outputs of a multi-output model)
  grad<k>.npy     d loss / d w<k>, by tf.GradientTape over model(x, training=True) and
                  model.compute_loss (the loss train_on_batch differentiates)
  train_loss.npy  the loss train_on_batch returned at each of the 5 steps (before each update)
  after<k>.npy    the weights after 5 train_on_batch(x, y) steps of the compiled optimizer
A model with several inputs or outputs has x<i>.npy, y<k>.npy and out<k>.npy instead, in the
order of the Model's inputs and outputs. Stateful cases (a fixed batch_shape) also have x2.npy,
out1.npy (= out.npy) and out2.npy: predict on x then on x2 from a fresh state, the second call
continuing the first. The states are reset before the gradients and before training; during the
5 training steps they carry from step to step, as Keras never resets them itself. Predict-only
cases (Dropout with rate > 0, random while training) have no grad, train_loss or after files;
their loss.npy is model.evaluate.

Two kinds of cases: Sequential stacks (case(): an input line and one line per layer), and
functional graphs (graph(): named inputs, layer calls on named symbols, nested Models, several
inputs and outputs, Embedding ids, masks, initial states).

Cross-entropy after a softmax or sigmoid: Keras-TF does not use the probabilities the model
outputs but the logits behind them when the output tensor came straight from a softmax/sigmoid
(Dense(activation=...) or Activation; not TimeDistributed(Dense(activation=...)), whose output is
a stack): keras-semantics.md section 4.1, confirmed with Keras 3.15.1 here. librnn computes the
clipped-probability formula. The two agree, up to rounding, while every probability lies inside
(1e-7, 1 - 1e-7); the generator asserts the predicted probabilities lie in [1e-4, 1 - 1e-4] for
those cases (and says in case.txt which formula Keras used), so the comparison is exact in
either form. Saturated outputs, where the two differ, are not in the suite.

Three more Keras 3.15.1 behaviours shape the graph cases (each explained where it is used):
SPARSE_NOTE (the Embedding's sparse gradient under Adam and clipping: distinct ids in the
cases before issue 16), INITIAL_STATE_NOTE (an RNN called with initial_state is not masked: that
decoder takes no mask), and RMSprop on an Embedding's gradient (see the comment after
SPARSE_NOTE).

Weights are fed from files because initializers cannot be matched across frameworks
(keras-semantics.md section 9). Everything here is deterministic: running the script twice gives
the same files. Fixtures stay small (T = 6 or 7, batch 4, a few units): about 1.6 MB in all.
"""
import os
import shutil
import sys
import zlib

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["TF_DETERMINISTIC_OPS"] = "1"

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "keras")
TRAIN_STEPS = 5
B, T, F = 4, 7, 3

FORMAT_DOC = """\
# librnn Keras fixture, written by tools/make_keras_fixtures.py; do not edit.
# Lines: a keyword, then values; '#' starts a comment.
#   case NAME
#   versions keras=V tensorflow=V numpy=V
# A Sequential model:
#   input B T F        data batch B; model input_shape=(T, F) (rnn_input); T -1: None, 0: (F,) only
#   batch_input B T F  batch_input_shape=(B, T, F) (rnn_batch_input), for stateful layers
#   layer CLASS key=value ...   Keras class and its options (the classes and options of the
#                               functional layer lines below, without a name and inputs=)
# A functional model (symbols are named; output k > 0 of a layer call NAME is NAME:k):
#   input NAME T F              keras.Input(shape=(T, F)) (rnn_input_new); T -1: None, 0: (F,)
#   ids_input NAME T            keras.Input(shape=(T,), dtype=int32): token ids (rnn_ids_input_new)
#   layer NAME CLASS inputs=S[,S...] key=value ...   a new layer called on the symbols: CLASS is
#       SimpleRNN, LSTM, GRU (inputs x[, h0[, c0]]: initial_state), Dense, Embedding,
#       TimeDistributed (layer=Dense and the Dense's options), Bidirectional (layer=SimpleRNN,
#       LSTM or GRU, merge_mode=concat|sum|mul|ave|None, then the forward layer's options),
#       RepeatVector, Activation, Dropout, Masking (mask_value=), Flatten,
#       or Model (model=NAME: a model defined above, called as a layer)
#   model NAME inputs=S[,S...] outputs=S[,S...]   keras.Model; the last one is the model tested
# Both:
#   loss NAME [from_logits=1|delta=D]   reduction sum_over_batch_size, summed over the outputs
#       (delta: Huber's)
#   metric NAME        compile(metrics=[...]), in order; metrics.npy holds evaluate's values
#   optimizer adam|sgd|rmsprop|adagrad|adadelta|adamax|nadam|adamw key=value ...   the Keras
#       optimizer's settings, clipnorm=, clipvalue=, global_clipnorm=, weight_decay= when set,
#       and schedule=inverse_time decay_steps= decay_rate=
#       staircase= (or schedule=exponential ...) for an InverseTimeDecay (ExponentialDecay)
#       learning rate (learning_rate= is its initial value)
#   train_steps N      train_on_batch steps behind after<k>.npy and train_loss.npy
#   stateful_chunks 2  x.npy then x2.npy predicted in a row from a fresh state: out1.npy, out2.npy
#   predict_only 1     only out*.npy and loss.npy (evaluate): the model is random while training
"""


def layer(cls, **kw):
    return (cls, kw)


def case(name, layers, loss="mse", optimizer=("adam", 0.01), steps=T, stateful=False, batch=B,
         features=F, doc="", masked=()):
    """masked: (sample, step) pairs whose features are all set to 0 in x (for Masking(0))."""
    return dict(name=name, layers=layers, loss=loss, optimizer=optimizer, steps=steps,
                stateful=stateful, batch=batch, features=features, doc=doc, masked=masked)


def bidi(cls, merge_mode="concat", **kw):
    return layer("Bidirectional", layer=(cls, kw), merge_mode=merge_mode)


# Masked (sample, step) pairs of the Masking cases: leading, inside, trailing, two in a row.
MASKED = ((0, 0), (1, 3), (2, 6), (3, 4), (3, 5))


CASES = [
    # each recurrent layer with Keras's defaults (last output only)
    case("simple_rnn_default", [layer("SimpleRNN", units=5)]),
    case("lstm_default", [layer("LSTM", units=5)]),
    case("gru_default", [layer("GRU", units=5)], doc="reset_after=True (Keras 3 default)"),
    case("gru_reset_before", [layer("GRU", units=5, reset_after=False)]),
    # return_sequences
    case("simple_rnn_sequences", [layer("SimpleRNN", units=4, return_sequences=True)]),
    case("lstm_sequences", [layer("LSTM", units=4, return_sequences=True)]),
    case("gru_sequences", [layer("GRU", units=4, return_sequences=True)]),
    # go_backwards, with and without return_sequences (outputs stay in processing order)
    case("lstm_backwards", [layer("LSTM", units=4, go_backwards=True)]),
    case("gru_backwards_sequences", [layer("GRU", units=4, go_backwards=True,
                                           return_sequences=True)]),
    case("simple_rnn_backwards_sequences", [layer("SimpleRNN", units=4, go_backwards=True,
                                                  return_sequences=True)]),
    case("gru_reset_before_backwards", [layer("GRU", units=4, go_backwards=True,
                                              reset_after=False)]),
    # use_bias=False
    case("simple_rnn_no_bias", [layer("SimpleRNN", units=4, use_bias=False)]),
    case("lstm_no_bias", [layer("LSTM", units=4, use_bias=False)]),
    case("gru_no_bias", [layer("GRU", units=4, use_bias=False)]),
    case("gru_reset_before_no_bias", [layer("GRU", units=4, use_bias=False, reset_after=False)]),
    # non-default activations (Keras 3 hard_sigmoid = relu6(x + 3) / 6)
    case("simple_rnn_relu", [layer("SimpleRNN", units=5, activation="relu",
                                   return_sequences=True)]),
    case("lstm_relu_hard_sigmoid", [layer("LSTM", units=5, activation="relu",
                                          recurrent_activation="hard_sigmoid")]),
    case("gru_linear_hard_sigmoid", [layer("GRU", units=5, activation="linear",
                                           recurrent_activation="hard_sigmoid")]),
    case("gru_reset_before_hard_sigmoid", [layer("GRU", units=5, reset_after=False,
                                                 recurrent_activation="hard_sigmoid",
                                                 return_sequences=True)]),
    case("simple_rnn_linear", [layer("SimpleRNN", units=4, activation="linear")]),
    # Dense on 2-D and on 3-D input, each activation it has
    case("dense_2d", [layer("Dense", units=4, activation="selu"),
                      layer("Dense", units=3, activation="softplus"),
                      layer("Dense", units=2, activation="sigmoid")], steps=0, features=5),
    case("dense_3d", [layer("Dense", units=4, activation="elu"),
                      layer("Dense", units=3, activation="tanh"),
                      layer("Dense", units=2, activation="relu", use_bias=False)]),
    case("lstm_sequences_dense", [layer("LSTM", units=5, return_sequences=True),
                                  layer("Dense", units=2)], doc="Dense on 3-D input"),
    case("lstm_dense_free_steps", [layer("LSTM", units=4), layer("Dense", units=1)], steps=None,
         features=1, doc="the airline model: input_shape=(None, 1)"),
    # a stack
    case("stacked_lstm_gru_dense", [layer("LSTM", units=6, return_sequences=True),
                                    layer("GRU", units=5),
                                    layer("Dense", units=2)]),
    case("stacked_all_sequences", [layer("SimpleRNN", units=4, return_sequences=True),
                                   layer("GRU", units=4, reset_after=False, return_sequences=True,
                                         go_backwards=True),
                                   layer("LSTM", units=3, return_sequences=True),
                                   layer("Dense", units=2, activation="tanh")]),
    # losses and optimizers
    case("gru_dense_mae", [layer("GRU", units=4), layer("Dense", units=1)], loss="mae", batch=5,
         doc="batch 5: with an even batch the Dense bias gradient (a mean of signs) can be 0"),
    case("lstm_sequences_mae", [layer("LSTM", units=3, return_sequences=True)], loss="mae"),
    case("lstm_sgd_momentum", [layer("LSTM", units=4), layer("Dense", units=2)],
         optimizer=("sgd", 0.1, 0.9, False)),
    case("simple_rnn_sgd_nesterov", [layer("SimpleRNN", units=4), layer("Dense", units=2)],
         optimizer=("sgd", 0.05, 0.8, True)),
    case("gru_sgd_plain", [layer("GRU", units=4)], optimizer=("sgd", 0.2, 0.0, False)),
    # stateful: fixed batch, state carried between calls
    case("lstm_stateful", [layer("LSTM", units=5, stateful=True), layer("Dense", units=1)],
         stateful=True),
    case("stateful_stack", [layer("LSTM", units=4, stateful=True, return_sequences=True),
                            layer("GRU", units=3, stateful=True, return_sequences=True),
                            layer("SimpleRNN", units=3, stateful=True, go_backwards=True),
                            layer("Dense", units=2)], stateful=True),
    # a longer sequence: how the error grows with T
    case("lstm_long", [layer("LSTM", units=4, return_sequences=True)], steps=40, batch=2,
         features=2),
    case("gru_long", [layer("GRU", units=4)], steps=40, batch=2, features=2),
    # the weightless layers and TimeDistributed in a Sequential stack (rnn_add)
    case("sequential_repeat_td_activation", [
        layer("LSTM", units=4), layer("RepeatVector", n=5),
        layer("GRU", units=3, return_sequences=True), layer("Dropout", rate=0.0),
        layer("TimeDistributed", layer=("Dense", dict(units=2))),
        layer("Activation", activation="tanh")], steps=6),
    # Masking(0): all-zero steps are skipped (state carried) and left out of the loss
    case("masking_lstm_sequences_dense", [layer("Masking", mask_value=0.0),
                                          layer("LSTM", units=4, return_sequences=True),
                                          layer("Dense", units=2)], masked=MASKED),
    # Bidirectional: each merge mode over each cell kind; the backward layer's sequence is
    # flipped back in time before merging
    case("bidi_lstm_concat", [bidi("LSTM", units=4)]),
    case("bidi_gru_sum_sequences", [bidi("GRU", "sum", units=3, return_sequences=True)]),
    case("bidi_simple_rnn_mul", [bidi("SimpleRNN", "mul", units=3)]),
    case("bidi_lstm_ave_sequences", [bidi("LSTM", "ave", units=3, return_sequences=True)]),
    case("bidi_gru_reset_before_concat_sequences",
         [bidi("GRU", units=3, reset_after=False, return_sequences=True)]),
    case("bidi_stacked_lstm_gru_dense", [bidi("LSTM", units=4, return_sequences=True),
                                         bidi("GRU", "sum", units=3), layer("Dense", units=2)]),
    # under a mask, returning sequences: masked steps are 0 in both halves (Keras forces
    # zero_output_for_mask), and Flatten lets the loss see them
    case("masking_bidi_gru_sequences_flatten", [layer("Masking", mask_value=0.0),
                                                bidi("GRU", units=3, return_sequences=True),
                                                layer("Flatten")], masked=MASKED),
    case("masking_bidi_lstm_last_dense", [layer("Masking", mask_value=0.0),
                                          bidi("LSTM", "ave", units=3), layer("Dense", units=2)],
         masked=MASKED),
    # Conv1D before a recurrent layer (the sunspot model's shape): each padding, strides 2,
    # dilation_rate 2; T = 7 with kernel 3 pads both sides for "same", and strides 2 leave 3 or
    # 4 output steps
    case("conv1d_valid_lstm_dense", [layer("Conv1D", filters=4, kernel_size=3, activation="relu"),
                                     layer("LSTM", units=4), layer("Dense", units=2)]),
    case("conv1d_same_gru_dense", [layer("Conv1D", filters=4, kernel_size=4, padding="same",
                                         activation="tanh"),
                                   layer("GRU", units=4), layer("Dense", units=1)],
         doc="kernel 4: 'same' pads 1 step on the left and 2 on the right (TensorFlow's split)"),
    case("conv1d_causal_lstm_sequences_dense", [
        layer("Conv1D", filters=5, kernel_size=3, padding="causal", activation="relu"),
        layer("LSTM", units=4, return_sequences=True), layer("Dense", units=2)]),
    case("conv1d_valid_strides2_gru_dense", [
        layer("Conv1D", filters=4, kernel_size=3, strides=2, use_bias=False),
        layer("GRU", units=3, return_sequences=True), layer("Dense", units=2)],
         doc="use_bias=False; 3 output steps from 7"),
    case("conv1d_same_strides2_lstm_dense", [
        layer("Conv1D", filters=3, kernel_size=3, strides=2, padding="same", activation="tanh"),
        layer("LSTM", units=4), layer("Dense", units=2)]),
    case("conv1d_causal_dilation2_gru_dense", [
        layer("Conv1D", filters=4, kernel_size=3, padding="causal", dilation_rate=2,
              activation="relu"),
        layer("GRU", units=4), layer("Dense", units=1)]),
    case("conv1d_valid_dilation2_lstm_free_steps", [
        layer("Conv1D", filters=4, kernel_size=2, dilation_rate=2, activation="tanh"),
        layer("LSTM", units=4), layer("Dense", units=1)], steps=None, features=1,
         doc="input_shape=(None, 1) as in the sunspot model"),
]

# ------------------------------------------------------------------ functional graphs

TG = 6  # steps of the graph cases
V = 7   # vocabulary (id 0 included) and classes
# Where the ids are 0 (padding, masked with mask_zero=True): '0' padding, 'x' a token in
# [1, vocab). Leading, middle and trailing padding, and a row with all three.
PAD = ["00xxxx", "xx00xx", "xxxx00", "0x0xx0"]
PAD_ENC = ["xxxx00", "xxxxxx", "xx0xxx", "x00x00"]
PAD_DEC = ["0xxxxx", "xxxx00", "00xxxx", "xxxxx0"]


def g_input(name, steps, features):
    return ("input", name, steps, features)


def g_ids(name, steps, vocab, pad, unique=False):
    """Token ids in [1, vocab) where pad has 'x', 0 where it has '0'; unique: no id twice in the
    batch (see SPARSE_NOTE)."""
    return ("ids_input", name, steps, vocab, pad, unique)


def g_layer(name, cls, inputs, **kw):
    return ("layer", name, cls, inputs.split(","), kw)


def g_model(name, inputs, outputs):
    return ("model", name, inputs.split(","), outputs.split(","))


def g_td_dense(name, inputs, **kw):
    return g_layer(name, "TimeDistributed", inputs, layer=("Dense", kw))


def graph(name, ops, loss="mse", optimizer=None, from_logits=False, target=None,
          predict_only=False, batch=B, doc="", metrics=(), train_steps=None, loss_delta=None):
    return dict(name=name, ops=ops, loss=loss, optimizer=optimizer or opt("adam", 0.01),
                from_logits=from_logits, target=target, predict_only=predict_only, batch=batch,
                doc=doc, stateful=False, metrics=list(metrics),
                train_steps=train_steps or TRAIN_STEPS, loss_delta=loss_delta)


def opt(kind, learning_rate, **kw):
    return dict(kind=kind, learning_rate=learning_rate, **kw)


EMB = dict(input_dim=V, output_dim=4)
VW = 26  # a vocabulary wide enough for a batch of distinct ids (4 x 6 tokens)
EMB_WIDE = dict(input_dim=VW, output_dim=4)
SPARSE_NOTE = """\
The Embedding's gradient is a tf.IndexedSlices with one slice per token occurrence. Keras 3.15.1
on TensorFlow applies the optimizer's element-wise steps to those slices before repeated ids are
summed: Adam's v gets the sum of the squared slices, not the square of their sum (m sees the
summed gradient), clipvalue clips each slice, clipnorm and global_clipnorm measure the norm over
the slices. The cases written before issue 16 combine an Embedding with Adam or clipping only
with distinct ids (unique=True), where the two forms agree; since issue 16 librnn takes the
slices as Keras does, and the issue-16 cases (emb_repeated_*) repeat ids under every optimizer
(repeated_ids_ok)."""
# RMSprop on an Embedding: an earlier note said Keras 3.15.1's RMSprop fails on the Embedding's
# IndexedSlices gradient; the emb_repeated_rmsprop* cases of issue 16 run it without error.

GRAPH_CASES = [
    # Embedding(mask_zero) -> recurrent layer with return_sequences (and go_backwards) under the
    # mask -> TimeDistributed(Dense(V)) -> softmax, sparse_categorical_crossentropy: the masked
    # steps repeat the previous output and carry the state; the loss is the mean over the
    # unmasked steps
    graph("emb_mask_lstm_td_softmax_sparse_ce", [
        g_ids("ids", TG, VW, PAD, unique=True),
        g_layer("emb", "Embedding", "ids", mask_zero=True, **EMB_WIDE),
        g_layer("lstm", "LSTM", "emb", units=5, return_sequences=True),
        g_td_dense("td", "lstm", units=V),
        g_layer("softmax", "Activation", "td", activation="softmax"),
        g_model("model", "ids", "softmax")],
        loss="sparse_categorical_crossentropy", optimizer=opt("adam", 0.01)),
    graph("emb_mask_gru_backwards_td_softmax_sgd", [
        g_ids("ids", TG, V, PAD),
        g_layer("emb", "Embedding", "ids", mask_zero=True, **EMB),
        g_layer("gru", "GRU", "emb", units=4, return_sequences=True, go_backwards=True),
        g_td_dense("td", "gru", units=V),
        g_layer("softmax", "Activation", "td", activation="softmax"),
        g_model("model", "ids", "softmax")],
        loss="sparse_categorical_crossentropy", optimizer=opt("sgd", 0.5),
        doc="go_backwards: the sequence output is in processing order, the mask is not reversed"),
    graph("emb_mask_simple_rnn_backwards_dense_softmax_nesterov", [
        g_ids("ids", TG, V, PAD),
        g_layer("emb", "Embedding", "ids", mask_zero=True, **EMB),
        g_layer("rnn", "SimpleRNN", "emb", units=5, return_sequences=True, go_backwards=True),
        g_layer("dense", "Dense", "rnn", units=V, activation="softmax"),
        g_model("model", "ids", "dense")],
        loss="sparse_categorical_crossentropy",
        optimizer=opt("sgd", 0.1, momentum=0.9, nesterov=True)),
    graph("emb_mask_lstm_backwards_last", [
        g_ids("ids", TG, VW, PAD, unique=True),
        g_layer("emb", "Embedding", "ids", mask_zero=True, **EMB_WIDE),
        g_layer("lstm", "LSTM", "emb", units=4, go_backwards=True),
        g_layer("dense", "Dense", "lstm", units=V, activation="softmax"),
        g_model("model", "ids", "dense")],
        loss="sparse_categorical_crossentropy", optimizer=opt("adam", 0.02),
        doc="the last output under a mask: the state after the last unmasked step"),
    graph("emb_zeros_lstm_td_logits_sgd_momentum", [
        g_ids("ids", TG, V, PAD),
        g_layer("emb", "Embedding", "ids", **EMB),
        g_layer("lstm", "LSTM", "emb", units=4, return_sequences=True),
        g_td_dense("td", "lstm", units=V),
        g_model("model", "ids", "td")],
        loss="sparse_categorical_crossentropy", from_logits=True,
        optimizer=opt("sgd", 0.2, momentum=0.9),
        doc="mask_zero=False: id 0 is an ordinary token; from_logits=True on a linear output"),
    graph("emb_mask_gru_reset_before_td_softmax_categorical_amsgrad", [
        g_ids("ids", TG, VW, PAD, unique=True),
        g_layer("emb", "Embedding", "ids", mask_zero=True, **EMB_WIDE),
        g_layer("gru", "GRU", "emb", units=4, reset_after=False, return_sequences=True),
        g_td_dense("td", "gru", units=V, activation="softmax"),
        g_model("model", "ids", "td")],
        loss="categorical_crossentropy", optimizer=opt("adam", 0.01, amsgrad=True),
        doc="the softmax inside TimeDistributed: Keras uses the probabilities (no logits)"),
    graph("emb_mask_stack_softmax_kld_clipvalue", [
        g_ids("ids", TG, VW, PAD, unique=True),
        g_layer("emb", "Embedding", "ids", mask_zero=True, **EMB_WIDE),
        g_layer("lstm", "LSTM", "emb", units=4, return_sequences=True),
        g_layer("gru", "GRU", "lstm", units=4, return_sequences=True, go_backwards=True),
        g_layer("dense", "Dense", "gru", units=5),
        g_layer("softmax", "Activation", "dense", activation="softmax"),
        g_model("model", "ids", "softmax")],
        loss="kl_divergence", optimizer=opt("adam", 0.01, clipvalue=0.05)),
    graph("emb_mask_lstm_td_sigmoid_binary_global_clipnorm", [
        g_ids("ids", TG, VW, PAD, unique=True),
        g_layer("emb", "Embedding", "ids", mask_zero=True, **EMB_WIDE),
        g_layer("lstm", "LSTM", "emb", units=4, return_sequences=True),
        g_td_dense("td", "lstm", units=3, activation="sigmoid"),
        g_model("model", "ids", "td")],
        loss="binary_crossentropy", optimizer=opt("sgd", 0.5, global_clipnorm=0.01)),
    graph("gru_dense_sigmoid_binary_clipnorm", [
        g_input("x", TG, 3),
        g_layer("gru", "GRU", "x", units=4, return_sequences=True),
        g_layer("dense", "Dense", "gru", units=3, activation="sigmoid"),
        g_model("model", "x", "dense")],
        loss="binary_crossentropy", optimizer=opt("sgd", 0.5, momentum=0.5, clipnorm=0.02)),
    graph("lstm_dense_softmax_categorical", [
        g_input("x", TG, 3),
        g_layer("lstm", "LSTM", "x", units=5),
        g_layer("dense", "Dense", "lstm", units=V, activation="softmax"),
        g_model("model", "x", "dense")],
        loss="categorical_crossentropy", optimizer=opt("adam", 0.01)),
    # Activation layers (each element-wise activation; softmax above)
    graph("activation_layers", [
        g_input("x", TG, 3),
        g_layer("dense", "Dense", "x", units=4),
        g_layer("act_elu", "Activation", "dense", activation="elu"),
        g_layer("rnn", "SimpleRNN", "act_elu", units=4, return_sequences=True),
        g_layer("act_relu", "Activation", "rnn", activation="relu"),
        g_td_dense("td", "act_relu", units=4),
        g_layer("act_selu", "Activation", "td", activation="selu"),
        g_layer("act_softplus", "Activation", "act_selu", activation="softplus"),
        g_layer("act_hard_sigmoid", "Activation", "act_softplus", activation="hard_sigmoid"),
        g_layer("act_tanh", "Activation", "act_hard_sigmoid", activation="tanh"),
        g_layer("act_sigmoid", "Activation", "act_tanh", activation="sigmoid"),
        g_layer("act_linear", "Activation", "act_sigmoid", activation="linear"),
        g_model("model", "x", "act_linear")],
        optimizer=opt("rmsprop", 0.01, centered=True)),
    # Dropout: rate 0 is the identity while training too; rate > 0 only in predict/evaluate
    graph("dropout_rate_zero", [
        g_input("x", TG, 3),
        g_layer("drop_in", "Dropout", "x", rate=0.0),
        g_layer("lstm", "LSTM", "drop_in", units=4, return_sequences=True),
        g_layer("drop", "Dropout", "lstm", rate=0.0),
        g_td_dense("td", "drop", units=2),
        g_model("model", "x", "td")],
        optimizer=opt("adam", 0.01)),
    graph("dropout_predict", [
        g_input("x", TG, 3),
        g_layer("drop_in", "Dropout", "x", rate=0.3),
        g_layer("gru", "GRU", "drop_in", units=4, return_sequences=True),
        g_layer("drop", "Dropout", "gru", rate=0.5),
        g_layer("dense", "Dense", "drop", units=2),
        g_model("model", "x", "dense")],
        predict_only=True, doc="predict and evaluate only: Dropout is the identity there"),
    # RepeatVector autoencoder from nested models: encoder and decoder Models called as layers
    # of the autoencoder; the weights are the encoder's then the decoder's
    graph("autoencoder_nested_inverse_time_decay", [
        g_input("enc_in", TG, 3),
        g_layer("enc_lstm", "LSTM", "enc_in", units=4),
        g_model("encoder", "enc_in", "enc_lstm"),
        g_input("dec_in", 0, 4),
        g_layer("repeat", "RepeatVector", "dec_in", n=TG),
        g_layer("dec_lstm", "LSTM", "repeat", units=5, return_sequences=True),
        g_td_dense("dec_td", "dec_lstm", units=3),
        g_model("decoder", "dec_in", "dec_td"),
        g_input("x", TG, 3),
        g_layer("code", "Model", "x", model="encoder"),
        g_layer("recon", "Model", "code", model="decoder"),
        g_model("autoencoder", "x", "recon")],
        target="x", optimizer=opt("adam", 0.02, schedule=("inverse_time", 2, 0.5, False))),
    # return_state: [output, h(, c)] as the model's outputs, one loss summed over them
    graph("lstm_return_state_outputs", [
        g_input("x", TG, 3),
        g_layer("lstm", "LSTM", "x", units=4, return_sequences=True, return_state=True),
        g_model("model", "x", "lstm,lstm:1,lstm:2")],
        optimizer=opt("sgd", 0.2, momentum=0.5, schedule=("inverse_time", 2, 1.0, True)),
        doc="Keras applies the one loss to every output and sums"),
    graph("gru_backwards_return_state_outputs", [
        g_input("x", TG, 3),
        g_layer("gru", "GRU", "x", units=4, go_backwards=True, return_state=True),
        g_layer("dense", "Dense", "gru", units=2),
        g_model("model", "x", "dense,gru:1")],
        loss="mae", batch=5, optimizer=opt("rmsprop", 0.01),
        doc="batch 5 for MAE (see gru_dense_mae)"),
    # encoder-decoders: the encoder's final states are the decoder's initial_state
    graph("seq2seq_lstm_initial_state", [
        g_ids("enc_ids", TG, V, PAD_ENC),
        g_ids("dec_ids", TG, V, PAD_DEC),
        g_layer("enc_emb", "Embedding", "enc_ids", mask_zero=True, **EMB),
        g_layer("enc", "LSTM", "enc_emb", units=5, return_state=True),
        g_layer("dec_emb", "Embedding", "dec_ids", **EMB),
        g_layer("dec", "LSTM", "dec_emb,enc:1,enc:2", units=5, return_sequences=True),
        g_td_dense("td", "dec", units=V),
        g_layer("softmax", "Activation", "td", activation="softmax"),
        g_model("model", "enc_ids,dec_ids", "softmax")],
        loss="sparse_categorical_crossentropy", optimizer=opt("sgd", 0.5, momentum=0.9),
        doc="the encoder masked; the decoder's id 0 an ordinary token: Keras 3.15.1 does not "
            "pass the mask to an RNN called with initial_state (see INITIAL_STATE_NOTE)"),
    graph("seq2seq_gru_simple_rnn_initial_state", [
        g_input("enc_x", TG, 3),
        g_input("dec_x", TG - 2, 2),
        g_layer("enc", "GRU", "enc_x", units=4, return_state=True),
        g_layer("dec", "SimpleRNN", "dec_x,enc:1", units=4, return_sequences=True,
                go_backwards=True),
        g_layer("dense", "Dense", "dec", units=2),
        g_model("model", "enc_x,dec_x", "dense")],
        optimizer=opt("rmsprop", 0.01, momentum=0.5)),
    # a model called on a masked tensor: Keras passes the mask into the nested model
    graph("nested_model_masked_input", [
        g_input("inner_in", TG, 4),
        g_layer("inner_lstm", "LSTM", "inner_in", units=4, return_sequences=True),
        g_model("inner", "inner_in", "inner_lstm"),
        g_ids("ids", TG, V, PAD),
        g_layer("emb", "Embedding", "ids", mask_zero=True, **EMB),
        g_layer("seq", "Model", "emb", model="inner"),
        g_td_dense("td", "seq", units=V),
        g_layer("softmax", "Activation", "td", activation="softmax"),
        g_model("model", "ids", "softmax")],
        loss="sparse_categorical_crossentropy", optimizer=opt("sgd", 0.5)),
    # a fully padded row: its last output is the initial state (zeros)
    graph("emb_mask_empty_row_last_output", [
        g_ids("ids", TG, V, ["000000", "xx00xx", "xxxx00", "0x0xx0"]),
        g_layer("emb", "Embedding", "ids", mask_zero=True, **EMB),
        g_layer("gru", "GRU", "emb", units=4),
        g_layer("dense", "Dense", "gru", units=V, activation="softmax"),
        g_model("model", "ids", "dense")],
        loss="sparse_categorical_crossentropy", optimizer=opt("sgd", 0.5)),
    # a symbol used twice: a model output that another layer also consumes
    graph("lstm_output_also_consumed", [
        g_input("x", TG, 3),
        g_layer("lstm", "LSTM", "x", units=3, return_sequences=True),
        g_td_dense("td", "lstm", units=3),
        g_model("model", "x", "lstm,td")],
        optimizer=opt("adam", 0.01, schedule=("exponential", 2, 0.5, False))),
    # from_logits=True for the other cross-entropies
    graph("gru_dense_logits_categorical", [
        g_input("x", TG, 3),
        g_layer("gru", "GRU", "x", units=4),
        g_layer("dense", "Dense", "gru", units=V),
        g_model("model", "x", "dense")],
        loss="categorical_crossentropy", from_logits=True,
        optimizer=opt("sgd", 0.5, schedule=("exponential", 3, 0.3, True))),
    graph("lstm_td_logits_binary", [
        g_input("x", TG, 3),
        g_layer("lstm", "LSTM", "x", units=4, return_sequences=True),
        g_td_dense("td", "lstm", units=2),
        g_model("model", "x", "td")],
        loss="binary_crossentropy", from_logits=True, optimizer=opt("adam", 0.01)),
    # Bidirectional with merge_mode=None: two outputs, the backward one flipped back in time
    graph("bidi_none_simple_rnn_sequences", [
        g_input("x", TG, 3),
        g_layer("bi", "Bidirectional", "x", layer=("SimpleRNN", dict(units=3,
                                                                    return_sequences=True)),
                merge_mode=None),
        g_model("model", "x", "bi,bi:1")]),
    # return_state: [output, forward h, c, backward h, c]
    graph("bidi_lstm_return_state", [
        g_input("x", TG, 3),
        g_layer("bi", "Bidirectional", "x", layer=("LSTM", dict(units=3, return_state=True)),
                merge_mode="concat"),
        g_model("model", "x", "bi,bi:1,bi:4")]),
    # an Embedding(mask_zero) mask into Bidirectional(return_sequences), masked steps excluded
    graph("emb_mask_bidi_gru_sequences_td", [
        g_ids("ids", TG, VW, PAD, unique=True),
        g_layer("emb", "Embedding", "ids", mask_zero=True, **EMB_WIDE),
        g_layer("bi", "Bidirectional", "emb", layer=("GRU", dict(units=3,
                                                                return_sequences=True)),
                merge_mode="mul"),
        g_td_dense("td", "bi", units=2),
        g_model("model", "ids", "td")]),
    # ---- issue 16 (i16-merge): merge layers, called on a list of symbols
    # Add, Subtract, Average (of three) and Concatenate (-1) of two recurrent branches
    graph("merge_add_subtract_average_concat", [
        g_input("x", TG, 3),
        g_layer("lstm", "LSTM", "x", units=4),
        g_layer("gru", "GRU", "x", units=4),
        g_layer("add", "Add", "lstm,gru"),
        g_layer("sub", "Subtract", "lstm,gru"),
        g_layer("avg", "Average", "lstm,gru,add"),
        g_layer("cat", "Concatenate", "add,sub,avg"),
        g_layer("dense", "Dense", "cat", units=2),
        g_model("model", "x", "dense")]),
    # Multiply, Maximum (of three), Minimum on sequences, Concatenate(axis=2), and a
    # Concatenate along the steps (axis=1) of inputs with different step counts
    graph("merge_multiply_maximum_minimum_steps", [
        g_input("x", TG, 3),
        g_input("x2", TG - 2, 3),
        g_layer("rnn", "SimpleRNN", "x", units=4, return_sequences=True),
        g_layer("lstm", "LSTM", "x", units=4, return_sequences=True),
        g_layer("proj", "Dense", "x", units=4),
        g_layer("mul", "Multiply", "rnn,lstm"),
        g_layer("max", "Maximum", "rnn,lstm,proj"),
        g_layer("min", "Minimum", "lstm,proj"),
        g_layer("cat", "Concatenate", "mul,max,min", axis=2),
        g_layer("proj2", "Dense", "x2", units=12),
        g_layer("steps", "Concatenate", "cat,proj2", axis=1),
        g_layer("gru", "GRU", "steps", units=3),
        g_layer("dense", "Dense", "gru", units=2),
        g_model("model", "x,x2", "dense")],
        optimizer=opt("rmsprop", 0.01)),
    # Dot: attention scores (axes=2), a cosine similarity (axes=1, normalize) and a sequence
    # against a vector (axes=(2, 1))
    graph("merge_dot_axes_normalize", [
        g_input("x", TG, 3),
        g_input("x2", TG - 2, 3),
        g_layer("enc", "LSTM", "x", units=4, return_sequences=True),
        g_layer("dec", "GRU", "x2", units=4, return_sequences=True),
        g_layer("scores", "Dot", "enc,dec", axes=2),
        g_layer("dense", "Dense", "scores", units=2),
        g_layer("a", "LSTM", "x", units=4),
        g_layer("b", "GRU", "x2", units=4),
        g_layer("cos", "Dot", "a,b", axes=1, normalize=True),
        g_layer("p", "Dot", "enc,b", axes=(2, 1)),
        g_model("model", "x,x2", "dense,cos,p")],
        optimizer=opt("sgd", 0.1, momentum=0.5)),
    # masks: two Embedding(mask_zero) branches with different padding. Add (OR of the masks),
    # Multiply (a masked step counts as 1; 0 where neither is kept), Maximum (a masked step takes
    # the other's value), Concatenate(-1) (OR), Concatenate(axis=1) (the masks one after the
    # other), Minimum of a masked and an unmasked input (no mask), Concatenate of a masked and an
    # unmasked sequence (all kept)
    graph("merge_masks_embeddings", [
        g_ids("ids", TG, V, PAD),
        g_ids("ids2", TG, V, PAD_DEC),
        g_layer("emb", "Embedding", "ids", mask_zero=True, **EMB),
        g_layer("emb2", "Embedding", "ids2", mask_zero=True, **EMB),
        g_input("x", TG, 4),
        g_layer("add", "Add", "emb,emb2"),
        g_layer("mul", "Multiply", "emb,emb2"),
        g_layer("max", "Maximum", "emb,emb2"),
        g_layer("cat", "Concatenate", "add,mul,max"),
        g_layer("lstm", "LSTM", "cat", units=4, return_sequences=True),
        g_layer("steps", "Concatenate", "emb,emb2", axis=1),
        g_layer("gru", "GRU", "steps", units=3),
        g_layer("min", "Minimum", "emb,x"),
        g_layer("rnn", "SimpleRNN", "min", units=4, return_sequences=True),
        g_layer("both", "Concatenate", "lstm,rnn"),
        g_td_dense("td", "both", units=V),
        g_layer("softmax", "Activation", "td", activation="softmax"),
        g_layer("dense", "Dense", "gru", units=2),
        g_model("model", "ids,ids2,x", "softmax,dense")],
        loss="mse", optimizer=opt("sgd", 0.5, momentum=0.5)),
]

MERGE_CLASSES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
                 "Dot")
# ------------------------------------------------------------------ issue 16 (i16-train):
# the optimizers Adagrad, Adadelta, Adamax, Nadam, AdamW and weight_decay; the regression and
# hinge losses; the metrics; the Embedding's per-occurrence gradient under every optimizer
# with repeated ids (librnn now takes the slices as Keras on TensorFlow does, SPARSE_NOTE); the
# scenario-9 model's losses over 20 steps.


def g_plain(units=4, out=2, activation=None):
    """x (TG, 3) -> GRU(units) -> Dense(out)."""
    kw = dict(units=out) if activation is None else dict(units=out, activation=activation)
    return [g_input("x", TG, 3), g_layer("gru", "GRU", "x", units=units),
            g_layer("dense", "Dense", "gru", **kw), g_model("model", "x", "dense")]


def g_seq(loss_units=3, activation=None):
    """x (TG, 3) -> LSTM(4, return_sequences) -> TimeDistributed(Dense(loss_units))."""
    kw = dict(units=loss_units) if activation is None else dict(units=loss_units,
                                                                  activation=activation)
    return [g_input("x", TG, 3), g_layer("lstm", "LSTM", "x", units=4, return_sequences=True),
            g_td_dense("td", "lstm", **kw), g_model("model", "x", "td")]


def g_emb(mask_zero):
    """Embedding(V, 4) of ids with repeats (and padding under mask_zero) -> GRU(3) -> Dense(2)."""
    return [g_ids("ids", TG, V, PAD if mask_zero else ["xxxxxx"] * B),
            g_layer("emb", "Embedding", "ids", mask_zero=mask_zero, **EMB),
            g_layer("gru", "GRU", "emb", units=3), g_layer("dense", "Dense", "gru", units=2),
            g_model("model", "ids", "dense")]


def sparse_graph(name, ops, **kw):
    spec = graph(name, ops, **kw)
    spec["repeated_ids_ok"] = True
    return spec


EMB_OPTIMIZERS = [
    ("adam", opt("adam", 0.01)),
    ("rmsprop", opt("rmsprop", 0.01)),
    ("adagrad", opt("adagrad", 0.1)),
    ("sgd_momentum", opt("sgd", 0.1, momentum=0.9)),
    ("adadelta", opt("adadelta", 1.0)),
    ("adamax", opt("adamax", 0.02)),
    ("nadam", opt("nadam", 0.01)),
    ("adamw", opt("adamw", 0.01, weight_decay=0.1)),
]

REGRESSION_METRICS = ["mae", "mse", "mape", "msle", "root_mean_squared_error",
                      "mean_absolute_error", "cosine_similarity", "poisson"]

GRAPH_CASES += [
    # the new optimizers, 5 steps each (Adadelta with learning_rate 1.0, as its paper has it:
    # Keras's default 0.001 barely moves the weights)
    graph("opt_adagrad", g_plain(), optimizer=opt("adagrad", 0.1)),
    graph("opt_adagrad_initial_accumulator", g_plain(),
          optimizer=opt("adagrad", 0.05, initial_accumulator_value=0.5, epsilon=1e-4)),
    graph("opt_adadelta", g_plain(), optimizer=opt("adadelta", 1.0)),
    graph("opt_adadelta_rho", g_plain(), optimizer=opt("adadelta", 0.5, rho=0.8)),
    graph("opt_adamax", g_plain(), optimizer=opt("adamax", 0.02)),
    graph("opt_nadam", g_plain(), optimizer=opt("nadam", 0.01)),
    graph("opt_nadam_betas", g_plain(), optimizer=opt("nadam", 0.02, beta_1=0.8, beta_2=0.99)),
    graph("opt_adamw_default_decay", g_plain(), optimizer=opt("adamw", 0.01)),
    graph("opt_adamw_amsgrad", g_plain(), optimizer=opt("adamw", 0.01, weight_decay=0.2,
                                                         amsgrad=True)),
    # weight_decay is an argument of every Keras 3 optimizer
    graph("opt_adam_weight_decay", g_plain(), optimizer=opt("adam", 0.01, weight_decay=0.3)),
    graph("opt_sgd_weight_decay", g_plain(), optimizer=opt("sgd", 0.1, momentum=0.5,
                                                            weight_decay=0.5)),
    graph("opt_rmsprop_weight_decay", g_plain(), optimizer=opt("rmsprop", 0.01, weight_decay=0.3)),
    # the losses (last output and sequences), with metrics
    graph("loss_huber", g_plain(), loss="huber", metrics=["mae", "mse"]),
    graph("loss_huber_delta_sequences", g_seq(), loss="huber", loss_delta=0.3,
          metrics=["root_mean_squared_error"]),
    graph("loss_msle", g_plain(activation="softplus"), loss="mean_squared_logarithmic_error",
          metrics=["msle", "mean_squared_logarithmic_error"]),
    graph("loss_mape_sequences", g_seq(), loss="mean_absolute_percentage_error",
          metrics=["mape", "mean_absolute_percentage_error"]),
    graph("loss_log_cosh", g_seq(), loss="log_cosh", metrics=["mae"]),
    graph("loss_poisson", g_plain(activation="softplus"), loss="poisson", metrics=["poisson"]),
    graph("loss_cosine_similarity", g_seq(4), loss="cosine_similarity",
          metrics=["cosine_similarity"]),
    graph("loss_hinge_binary_labels", g_plain(), loss="hinge", metrics=["hinge",
                                                                       "squared_hinge"]),
    graph("loss_squared_hinge", g_seq(), loss="squared_hinge", metrics=["squared_hinge"]),
    graph("loss_categorical_hinge", g_plain(out=4), loss="categorical_hinge",
          metrics=["categorical_hinge"]),
    # a masked sequence output: masked steps are left out of the loss and the metrics
    graph("loss_huber_masked", [
        g_ids("ids", TG, V, PAD),
        g_layer("emb", "Embedding", "ids", mask_zero=True, **EMB),
        g_layer("gru", "GRU", "emb", units=3, return_sequences=True),
        g_td_dense("td", "gru", units=2),
        g_model("model", "ids", "td")], loss="huber", loss_delta=0.4, optimizer=opt("sgd", 0.5),
        metrics=["mae", "root_mean_squared_error", "mse"]),
    # the metrics
    graph("metrics_regression", g_plain(activation="softplus"), loss="mse",
          metrics=REGRESSION_METRICS),
    graph("metrics_categorical", g_plain(out=4, activation="softmax"),
          loss="categorical_crossentropy",
          metrics=["accuracy", "categorical_hinge", "kl_divergence", "categorical_crossentropy",
                   "hinge", "squared_hinge", "mse"]),
] + [
    # the Embedding's gradient with repeated ids under each optimizer, without and with
    # mask_zero
    sparse_graph("emb_repeated_%s%s" % (label, "_mask" if mask else ""), g_emb(mask),
                 optimizer=o)
    for label, o in EMB_OPTIMIZERS for mask in (False, True)
] + [
    # clipping measures and clips the per-occurrence slices
    sparse_graph("emb_repeated_adam_clipnorm", g_emb(True),
                 optimizer=opt("adam", 0.01, clipnorm=0.05)),
    sparse_graph("emb_repeated_adam_clipvalue", g_emb(False),
                 optimizer=opt("adam", 0.01, clipvalue=0.02)),
    sparse_graph("emb_repeated_sgd_global_clipnorm", g_emb(True),
                 optimizer=opt("sgd", 0.5, momentum=0.9, global_clipnorm=0.1)),
    # scenario 9 (SCENARIOS.md): Embedding -> GRU -> GRU -> TimeDistributed(Dense(vocab)) ->
    # softmax, sparse categorical cross-entropy, Adam(0.009); narrower than the scenario's
    # GRU(512) and GRU(128) so that the fixture stays small; 20 steps of per-step losses
    sparse_graph("scenario9_embedding_gru_adam_20_steps", [
        g_ids("ids", TG, 12, ["xxxxxx"] * B),
        g_layer("emb", "Embedding", "ids", input_dim=12, output_dim=6),
        g_layer("gru1", "GRU", "emb", units=16, return_sequences=True),
        g_layer("gru2", "GRU", "gru1", units=8, return_sequences=True),
        g_td_dense("td", "gru2", units=12),
        g_layer("softmax", "Activation", "td", activation="softmax"),
        g_model("model", "ids", "softmax")],
        loss="sparse_categorical_crossentropy", optimizer=opt("adam", 0.009), train_steps=20),
]

ALL_CASES = CASES + GRAPH_CASES

INITIAL_STATE_NOTE = """\
Keras 3.15.1 does not mask an RNN called with initial_state: Layer.__call__ fills in the `mask`
argument only for a call with one tensor argument (with several it looks for `<arg>_mask`
parameters, which RNN.call lacks), so the recurrence runs over the padded steps as over any
other, while the output still carries the input's mask to the loss. tf.keras 2 masked it. librnn
masks it, so the decoder of seq2seq_lstm_initial_state takes no mask (its id 0 is a token)."""

LAYER_KEYS = {
    "SimpleRNN": ["units", "activation", "use_bias", "return_sequences", "return_state",
                  "go_backwards", "stateful"],
    "LSTM": ["units", "activation", "recurrent_activation", "use_bias", "return_sequences",
             "return_state", "go_backwards", "stateful", "unit_forget_bias"],
    "GRU": ["units", "activation", "recurrent_activation", "use_bias", "return_sequences",
            "return_state", "go_backwards", "stateful", "reset_after"],
    "Dense": ["units", "activation", "use_bias"],
    "Embedding": ["input_dim", "output_dim", "mask_zero"],
    "RepeatVector": ["n"],
    "Activation": ["activation"],
    "Dropout": ["rate"],
    "Masking": ["mask_value"],
    "Flatten": [],
    "Add": [], "Subtract": [], "Multiply": [], "Average": [], "Maximum": [], "Minimum": [],
    "Concatenate": ["axis"],
    "Dot": ["axes", "normalize"],
    "Conv1D": ["filters", "kernel_size", "strides", "padding", "dilation_rate", "activation",
               "use_bias"],
}


def fmt(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, float):
        return str(np.float32(value))  # the shortest text that reads back as this float32
    return str(value)


def activation_name(value):
    value = keras.activations.serialize(keras.activations.get(value))
    if isinstance(value, dict):
        value = value.get("config", value)
    return "linear" if value in (None, "None") else value


def config_options(cls, config):
    parts = []
    for key in LAYER_KEYS[cls]:
        value = config[key]
        if key in ("activation", "recurrent_activation"):
            value = activation_name(value)
        if key == "axes" and isinstance(value, (tuple, list)):  # Dot: axes=(2, 1) -> 2,1
            value = ",".join(str(int(a)) for a in value)
        if isinstance(value, (tuple, list)):  # Conv1D sizes: Keras keeps (3,)
            assert len(value) == 1, (key, value)
            value = value[0]
        parts.append("%s=%s" % (key, fmt(value)))
    return parts


def layer_options(keras_layer):
    """The layer's class and options as Keras itself reports them (get_config), so what is
    written is what ran."""
    cls = type(keras_layer).__name__
    config = keras_layer.get_config()
    if cls == "TimeDistributed":
        inner = keras_layer.layer
        return cls, ["layer=" + type(inner).__name__] + config_options(type(inner).__name__,
                                                                        inner.get_config())
    if cls == "Bidirectional":
        inner = keras_layer.forward_layer
        merge = config["merge_mode"]
        return cls, (["layer=" + type(inner).__name__, "merge_mode=%s" % merge] +
                     config_options(type(inner).__name__, inner.get_config()))
    return cls, config_options(cls, config)


def layer_line(keras_layer):
    cls, parts = layer_options(keras_layer)
    return " ".join(["layer", cls] + parts)


def optimizer_of(spec):
    if isinstance(spec, tuple):  # the Sequential cases' short forms
        spec = (opt("adam", spec[1]) if spec[0] == "adam" else
                opt("sgd", spec[1], momentum=spec[2], nesterov=spec[3]))
    spec = dict(spec)
    kind = spec.pop("kind")
    lr = spec.pop("learning_rate")
    schedule = spec.pop("schedule", None)
    if schedule:
        sched_kind, decay_steps, decay_rate, staircase = schedule
        sched_cls = {"inverse_time": keras.optimizers.schedules.InverseTimeDecay,
                     "exponential": keras.optimizers.schedules.ExponentialDecay}[sched_kind]
        lr = sched_cls(lr, decay_steps, decay_rate, staircase=staircase)
    cls = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
           "rmsprop": keras.optimizers.RMSprop, "adagrad": keras.optimizers.Adagrad,
           "adadelta": keras.optimizers.Adadelta, "adamax": keras.optimizers.Adamax,
           "nadam": keras.optimizers.Nadam, "adamw": keras.optimizers.AdamW}[kind]
    optimizer = cls(learning_rate=lr, **spec)
    if schedule:
        parts = ["learning_rate=" + fmt(float(lr.initial_learning_rate))]
    else:
        parts = ["learning_rate=" + fmt(optimizer.learning_rate.numpy().item())]
    keys = {"adam": ["beta_1", "beta_2", "epsilon", "amsgrad"],
            "sgd": ["momentum", "nesterov"],
            "rmsprop": ["rho", "momentum", "epsilon", "centered"],
            "adagrad": ["initial_accumulator_value", "epsilon"],
            "adadelta": ["rho", "epsilon"],
            "adamax": ["beta_1", "beta_2", "epsilon"],
            "nadam": ["beta_1", "beta_2", "epsilon"],
            "adamw": ["beta_1", "beta_2", "epsilon", "amsgrad"]}[kind]
    parts += ["%s=%s" % (k, fmt(getattr(optimizer, k))) for k in keys]
    for k in ("clipnorm", "clipvalue", "global_clipnorm", "weight_decay"):
        if getattr(optimizer, k) is not None:
            parts.append("%s=%s" % (k, fmt(float(getattr(optimizer, k)))))
    if schedule:
        parts += ["schedule=" + schedule[0], "decay_steps=%d" % lr.decay_steps,
                  "decay_rate=" + fmt(float(lr.decay_rate)), "staircase=" + fmt(lr.staircase)]
    return optimizer, "optimizer %s %s" % (kind, " ".join(parts))


def loss_of(name, from_logits, delta=None):
    if name == "huber":
        return keras.losses.Huber(delta=1.0 if delta is None else delta)
    if name in ("mean_squared_logarithmic_error", "mean_absolute_percentage_error", "log_cosh",
                "poisson", "cosine_similarity", "hinge", "squared_hinge", "categorical_hinge"):
        assert not from_logits
        return getattr(keras.losses, "".join(w.capitalize() for w in name.split("_")))()
    if name == "mse":
        return keras.losses.MeanSquaredError()
    if name == "mae":
        return keras.losses.MeanAbsoluteError()
    if name == "sparse_categorical_crossentropy":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    if name == "categorical_crossentropy":
        return keras.losses.CategoricalCrossentropy(from_logits=from_logits)
    if name == "binary_crossentropy":
        return keras.losses.BinaryCrossentropy(from_logits=from_logits)
    if name == "kl_divergence":
        assert not from_logits
        return keras.losses.KLDivergence()
    raise ValueError(name)


def reset_states(model):
    for lay in model.layers:
        if getattr(lay, "stateful", False):
            lay.reset_states()


def save(directory, name, array):
    array = np.asarray(array, dtype=np.float32)
    np.save(os.path.join(directory, name), array.astype("<f4"), allow_pickle=False)


def draw_weights(model, rng):
    """Uniform in [-0.5, 0.5) (recurrent kernels scaled by 1/sqrt(units) more so long sequences
    stay in the interesting range), biases included."""
    weights = []
    for var in model.weights:
        shape = tuple(var.shape)
        w = rng.uniform(-0.5, 0.5, size=shape)
        if "recurrent_kernel" in var.path:
            w *= 2.0 / np.sqrt(shape[0])
        weights.append(w.astype(np.float32))
    model.set_weights(weights)
    assert len(model.get_weights()) == len(model.trainable_weights) == len(weights)
    for a, b in zip(model.get_weights(), model.trainable_weights):
        assert a.shape == tuple(b.shape)
    return weights


def build_sequential(spec, rng):
    batch, steps, feats = spec["batch"], spec["steps"], spec["features"]
    data_steps = steps if steps else T
    if spec["stateful"]:
        inp = keras.Input(batch_shape=(batch, steps, feats))
    elif steps == 0:
        inp = keras.Input(shape=(feats,))
    else:
        inp = keras.Input(shape=(steps, feats))
    layers = [make_keras_layer(None, cls, kw) for cls, kw in spec["layers"]]
    model = keras.Sequential([inp] + layers)
    weights = draw_weights(model, rng)
    x_shape = (batch, feats) if steps == 0 else (batch, data_steps, feats)
    x = rng.normal(0.0, 1.0, size=x_shape).astype(np.float32)
    x2 = rng.normal(0.0, 1.0, size=x_shape).astype(np.float32)
    for b, t in spec.get("masked", ()):
        x[b, t, :] = 0.0
        x2[b, t, :] = 0.0
    out_shape = tuple(model.compute_output_shape(x_shape))
    y = rng.normal(0.0, 0.5, size=out_shape).astype(np.float32)
    input_steps = -1 if steps is None else steps
    lines = ["%s %d %d %d" % ("batch_input" if spec["stateful"] else "input", batch, input_steps,
                              feats)]
    lines += [layer_line(lay) for lay in model.layers]
    return model, weights, [x], [x2], [y], lines


def make_keras_layer(name, cls, kw):
    if cls == "Bidirectional":
        inner_cls, inner_kw = kw["layer"]
        return keras.layers.Bidirectional(getattr(keras.layers, inner_cls)(**inner_kw),
                                          merge_mode=kw["merge_mode"], name=name)
    if cls == "TimeDistributed":
        inner_cls, inner_kw = kw["layer"]
        return keras.layers.TimeDistributed(getattr(keras.layers, inner_cls)(**inner_kw),
                                            name=name)
    return getattr(keras.layers, cls)(name=name, **kw)


def draw_ids(rng, vocab, pad, batch, steps, unique):
    assert len(pad) == batch and all(len(row) == steps for row in pad)
    padding = np.array([[c == "0" for c in row] for row in pad])
    ids = np.zeros((batch, steps), dtype=np.int32)
    if unique:
        assert vocab - 1 >= (~padding).sum()
        ids[~padding] = rng.permutation(np.arange(1, vocab))[:(~padding).sum()]
    else:
        ids[~padding] = rng.randint(1, vocab, size=(~padding).sum())
    return ids


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def draw_target(rng, loss, shape):
    if loss in ("mse", "mae", "huber", "log_cosh", "cosine_similarity"):
        return rng.normal(0.0, 0.5, size=shape).astype(np.float32)
    if loss == "mean_absolute_percentage_error":  # away from 0, either sign
        return (rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1, 1], size=shape)).astype(
            np.float32)
    if loss == "mean_squared_logarithmic_error":
        return rng.uniform(0.0, 2.0, size=shape).astype(np.float32)
    if loss == "poisson":
        return rng.poisson(1.0, size=shape).astype(np.float32)
    if loss == "hinge":  # 0/1 labels: Keras converts them to -1/1
        return rng.randint(0, 2, size=shape).astype(np.float32)
    if loss == "squared_hinge":  # -1/1 labels, used as they are
        return (2 * rng.randint(0, 2, size=shape) - 1).astype(np.float32)
    if loss == "categorical_hinge":
        return np.eye(shape[-1], dtype=np.float32)[rng.randint(0, shape[-1], size=shape[:-1])]
    if loss == "sparse_categorical_crossentropy":
        return rng.randint(0, shape[-1], size=shape[:-1]).astype(np.float32)
    if loss == "categorical_crossentropy":
        return np.eye(shape[-1], dtype=np.float32)[rng.randint(0, shape[-1], size=shape[:-1])]
    if loss == "binary_crossentropy":
        return rng.randint(0, 2, size=shape).astype(np.float32)
    if loss == "kl_divergence":
        return softmax(rng.normal(0.0, 1.0, size=shape)).astype(np.float32)
    raise ValueError(loss)


def build_graph(spec, rng):
    """Builds the Keras graph of a graph() case; returns the model, its weights, the data and
    the case.txt lines describing it."""
    batch = spec["batch"]
    syms, models, data, lines, embedded = {}, {}, {}, [], []
    top = None
    for op in spec["ops"]:
        kind, name = op[0], op[1]
        assert name not in syms and name not in models, name
        if kind == "input":
            _, _, steps, feats = op
            shape = (feats,) if steps == 0 else (None if steps < 0 else steps, feats)
            syms[name] = keras.Input(shape=shape, name=name)
            data_shape = (batch, feats) if steps == 0 else (batch, steps, feats)
            data[name] = rng.normal(0.0, 1.0, size=data_shape).astype(np.float32)
            lines.append("input %s %d %d" % (name, steps, feats))
        elif kind == "ids_input":
            _, _, steps, vocab, pad, unique = op
            syms[name] = keras.Input(shape=(steps,), dtype="int32", name=name)
            data[name] = draw_ids(rng, vocab, pad, batch, steps, unique)
            lines.append("ids_input %s %d" % (name, steps))
        elif kind == "layer":
            _, _, cls, inputs, kw = op
            args = [syms[s] for s in inputs]
            if cls == "Model":
                lay = models[kw["model"]]
                out = lay(args[0] if len(args) == 1 else args)
                lines.append("layer %s Model inputs=%s model=%s" % (name, ",".join(inputs),
                                                                  kw["model"]))
            else:
                lay = make_keras_layer(name, cls, kw)
                if cls in MERGE_CLASSES:
                    out = lay(args)
                else:
                    out = lay(args[0]) if len(args) == 1 else lay(args[0], initial_state=args[1:])
                if cls == "Embedding":
                    embedded.append((data[inputs[0]], kw.get("mask_zero", False)))
                if len(args) > 1 and cls not in MERGE_CLASSES:
                    assert getattr(args[0], "_keras_mask", None) is None, (
                        "%s: initial_state with a masked input (see INITIAL_STATE_NOTE)" % name)
                cls_name, parts = layer_options(lay)
                lines.append(" ".join(["layer", name, cls_name, "inputs=" + ",".join(inputs)] +
                                      parts))
            outs = list(out) if isinstance(out, (list, tuple)) else [out]
            for k, o in enumerate(outs):
                syms[name if k == 0 else "%s:%d" % (name, k)] = o
        elif kind == "model":
            _, _, inputs, outputs = op
            ins = [syms[s] for s in inputs]
            outs = [syms[s] for s in outputs]
            top = keras.Model(ins[0] if len(ins) == 1 else ins,
                              outs[0] if len(outs) == 1 else outs, name=name)
            models[name] = top
            top_inputs, top_outputs = inputs, outputs
            lines.append("model %s inputs=%s outputs=%s" % (name, ",".join(inputs),
                                                            ",".join(outputs)))
        else:
            raise ValueError(kind)
    model = top
    weights = draw_weights(model, rng)
    xs = [data[s] for s in top_inputs]
    ys = []
    for s in top_outputs:
        shape = (batch,) + tuple(syms[s].shape[1:])
        if spec["target"] == "x":
            assert len(xs) == 1 and xs[0].shape == shape
            ys.append(xs[0].copy())
        else:
            ys.append(draw_target(rng, spec["loss"], shape))
    check_sparse_ids(spec, embedded)
    return model, weights, xs, None, ys, lines


def check_sparse_ids(spec, embedded):
    """SPARSE_NOTE: with Adam or clipping, no id the loss can reach occurs twice in the batch
    (masked padding has a zero gradient and does not count)."""
    o = spec["optimizer"]
    if spec.get("repeated_ids_ok", False):  # issue 16 (6): librnn takes the slices too
        return
    if not (o["kind"] == "adam" or o.get("clipnorm") or o.get("clipvalue") or
            o.get("global_clipnorm")):
        return
    for ids, mask_zero in embedded:
        seen = ids[ids != 0] if mask_zero else ids
        assert len(np.unique(seen)) == seen.size, "%s: repeated ids (SPARSE_NOTE)" % spec["name"]


def one_or_list(arrays):
    return arrays[0] if len(arrays) == 1 else list(arrays)


def as_list(value):
    return [np.asarray(v) for v in value] if isinstance(value, (list, tuple)) else [
        np.asarray(value)]


def file_names(stem, n):
    return [stem + ".npy"] if n == 1 else ["%s%d.npy" % (stem, k) for k in range(n)]


def make_case(spec):
    name = spec["name"]
    rng = np.random.RandomState(zlib.crc32(name.encode()))
    keras.utils.set_random_seed(1)
    is_graph = "ops" in spec
    batch = spec["batch"]
    model, weights, xs, x2s, ys, model_lines = (build_graph if is_graph else build_sequential)(
        spec, rng)
    x_in, y_in = one_or_list(xs), one_or_list(ys)

    loss_fn = loss_of(spec["loss"], spec.get("from_logits", False), spec.get("loss_delta"))
    optimizer, opt_line = optimizer_of(spec["optimizer"])
    metrics = spec.get("metrics", [])
    model.compile(loss=loss_fn, optimizer=optimizer, jit_compile=False,
                  metrics=metrics or None)
    train_steps = spec.get("train_steps", TRAIN_STEPS)

    directory = os.path.join(OUT, name)
    os.makedirs(directory)
    notes = []

    # Forward passes.
    outs = as_list(model.predict(x_in, batch_size=batch, verbose=0))
    for fname, o in zip(file_names("out", len(outs)), outs):
        save(directory, fname, o)
    if spec["stateful"]:
        out2 = model.predict(x2s[0], batch_size=batch, verbose=0)
        save(directory, "x2.npy", x2s[0])
        save(directory, "out1.npy", outs[0])
        save(directory, "out2.npy", out2)
        reset_states(model)
        again = model.predict(x2s[0], batch_size=batch, verbose=0)
        assert not np.allclose(again, out2), "%s: the state did not carry" % name
        reset_states(model)

    # Cross-entropies on probabilities: stay where the clipped formula and Keras-TF's logits
    # short-cut agree (see the top of the file), and say which one Keras used.
    if spec["loss"] in ("sparse_categorical_crossentropy", "categorical_crossentropy",
                        "binary_crossentropy", "kl_divergence") and not spec.get("from_logits"):
        for o in outs:
            assert o.min() >= 1e-4 and o.max() <= 1 - 1e-4, "%s: saturated probabilities" % name
        eager = model(x_in, training=False)
        shortcut = any(hasattr(o, "_keras_logits") for o in
                       (eager if isinstance(eager, (list, tuple)) else [eager]))
        if spec["loss"] != "kl_divergence" and shortcut:
            notes.append("Keras-TF computes this loss from the logits behind the output's "
                         "softmax/sigmoid (keras-semantics 4.1), librnn from the clipped "
                         "probabilities: the same here, every probability lies in "
                         "[1e-4, 1 - 1e-4]")
        elif spec["loss"] != "kl_divergence":
            notes.append("Keras-TF computes this loss from the clipped probabilities, as librnn "
                         "does: the output is not a softmax/sigmoid's own tensor (no logits "
                         "short-cut)")

    if spec.get("predict_only"):
        loss_value = model.evaluate(x_in, y_in, batch_size=batch, verbose=0)
        save(directory, "loss.npy", np.float32(np.atleast_1d(loss_value)[0]))
    else:
        # Loss and gradients at the initial weights (fresh state).
        with tf.GradientTape() as tape:
            pred = model(x_in, training=True)
            loss = model.compute_loss(x=x_in, y=y_in, y_pred=pred, training=True)
        grads = tape.gradient(loss, model.trainable_weights)
        reset_states(model)
        for p, o in zip(as_list(pred), outs):
            assert np.allclose(p, o, rtol=1e-5, atol=1e-6)
        save(directory, "loss.npy", np.float32(loss.numpy()))
        for k, g in enumerate(grads):
            g = tf.convert_to_tensor(g).numpy()  # Embedding: IndexedSlices
            save(directory, "grad%d.npy" % k, g)
            assert np.any(g != 0), "%s: gradient %d is all zero" % (name, k)

        # Training: TRAIN_STEPS train_on_batch steps on (x, y), no shuffling (one fixed batch).
        if metrics:  # the compiled metrics at the initial weights, from a fresh state
            values = model.evaluate(x_in, y_in, batch_size=batch, verbose=0, return_dict=True)
            reset_states(model)
            assert abs(values["loss"] - float(loss.numpy())) <= 1e-6 + 1e-5 * abs(values["loss"])
            save(directory, "metrics.npy", np.array([values[k] for k in metrics], np.float32))
        train_losses = []
        for _ in range(train_steps):
            train_losses.append(float(np.atleast_1d(model.train_on_batch(x_in, y_in))[0]))
        assert abs(train_losses[0] - float(loss.numpy())) <= 1e-6 + 1e-5 * abs(train_losses[0])
        save(directory, "train_loss.npy", np.array(train_losses))
        for k, w in enumerate(model.get_weights()):
            save(directory, "after%d.npy" % k, w)
            assert not np.array_equal(w, weights[k]), "%s: weight %d did not move" % (name, k)
        check_clipping(spec, grads, name)

    for fname, x in zip(file_names("x", len(xs)), xs):
        save(directory, fname, x)
    for fname, y in zip(file_names("y", len(ys)), ys):
        save(directory, fname, y)
    for k, w in enumerate(weights):
        save(directory, "w%d.npy" % k, w)

    lines = [FORMAT_DOC.rstrip("\n")]
    if spec["doc"]:
        lines.append("# " + spec["doc"])
    lines += ["# " + n for n in notes]
    lines.append("case " + name)
    lines.append("versions keras=%s tensorflow=%s numpy=%s" % (keras.__version__, tf.__version__,
                                                               np.__version__))
    lines += model_lines
    loss_line = "loss " + spec["loss"]
    if spec.get("from_logits"):
        loss_line += " from_logits=1"
    if spec.get("loss_delta") is not None:
        loss_line += " delta=" + fmt(float(spec["loss_delta"]))
    lines.append(loss_line)
    lines += ["metric " + k for k in metrics]
    lines.append(opt_line)
    if spec.get("predict_only"):
        lines.append("predict_only 1")
    else:
        lines.append("train_steps %d" % train_steps)
    if spec["stateful"]:
        lines.append("stateful_chunks 2")
    with open(os.path.join(directory, "case.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def check_clipping(spec, grads, name):
    """A clipping case must clip at its first step, or it tests nothing."""
    o = spec["optimizer"]
    if not isinstance(o, dict):
        return
    g = [tf.convert_to_tensor(v).numpy().astype(np.float64) for v in grads]
    largest = max(np.abs(v).max() for v in g)
    norms = [np.sqrt((v * v).sum()) for v in g]
    total = np.sqrt(sum(n * n for n in norms))
    if o.get("clipvalue"):
        assert largest > o["clipvalue"], (name, largest)
    if o.get("clipnorm"):
        assert max(norms) > o["clipnorm"], (name, norms)
    if o.get("global_clipnorm"):
        assert total > o["global_clipnorm"], (name, total)


def main():
    tf.get_logger().setLevel("ERROR")  # predict's retracing warnings (a new model per case)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    keras.config.set_floatx("float32")
    names = [c["name"] for c in ALL_CASES]
    assert len(set(names)) == len(names)
    only = set(sys.argv[1:])
    unknown = only - set(names)
    assert not unknown, "unknown cases: %s" % sorted(unknown)
    if not only and os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT, exist_ok=True)
    for spec in ALL_CASES:
        if only and spec["name"] not in only:
            continue
        if os.path.isdir(os.path.join(OUT, spec["name"])):
            shutil.rmtree(os.path.join(OUT, spec["name"]))
        make_case(spec)
        print("wrote", spec["name"])
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print("%d cases, %d bytes in %s" % (len(ALL_CASES), total, os.path.relpath(OUT, ROOT)))
    assert total < 1 << 20


if __name__ == "__main__":
    main()
