"""Golden fixtures from real Keras for tests/test_keras_fixtures.c.

    sh tools/setup_python_env.sh && .venv/bin/python tools/make_keras_fixtures.py

Keras 3 with the TensorFlow backend on the CPU, float32, one thread, deterministic ops. For each
case below the model is built in Keras, every weight is replaced by values drawn from a NumPy
generator seeded by the case's name (biases included, so none is zero), and a fixed input batch x
and target y are drawn the same way. tests/fixtures/keras/<case>/ then receives:

  case.txt        the model in a line format the C test parses (described in its header)
  x.npy, y.npy    the batch and its target
  w<k>.npy        the weights in get_weights() order
  out.npy         model.predict(x) with those weights
  loss.npy        the compiled loss on (x, y) (scalar; reduction sum_over_batch_size)
  grad<k>.npy     d loss / d w<k>, by tf.GradientTape over model(x, training=True) and the loss
  train_loss.npy  the loss train_on_batch returned at each of the 5 steps (before each update)
  after<k>.npy    the weights after 5 train_on_batch(x, y) steps of the compiled optimizer
Stateful cases (a fixed batch_shape) also have x2.npy, out1.npy (= out.npy) and out2.npy:
predict on x then on x2 from a fresh state, the second call continuing the first. The states
are reset before the gradients and before training; during the 5 training steps they carry
from step to step, as Keras never resets them itself.

Weights are fed from files because initializers cannot be matched across frameworks
(keras-semantics.md section 9). Everything here is deterministic: running the script twice gives
the same files. Fixtures stay small (T = 7, batch 4, a few units): well under 1 MB in all.
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
#   input B T F        data batch B; model input_shape=(T, F) (rnn_input); T -1: None, 0: (F,) only
#   batch_input B T F  batch_input_shape=(B, T, F) (rnn_batch_input), for stateful layers
#   layer CLASS key=value ...   Keras class (SimpleRNN, LSTM, GRU, Dense) and its options
#   loss mse|mae       reduction sum_over_batch_size
#   optimizer adam learning_rate= beta_1= beta_2= epsilon=  |  optimizer sgd learning_rate= momentum= nesterov=
#   train_steps N      train_on_batch steps behind after<k>.npy and train_loss.npy
#   stateful_chunks 2  x.npy then x2.npy predicted in a row from a fresh state: out1.npy, out2.npy
"""


def layer(cls, **kw):
    return (cls, kw)


def case(name, layers, loss="mse", optimizer=("adam", 0.01), steps=T, stateful=False, batch=B,
         features=F, doc=""):
    return dict(name=name, layers=layers, loss=loss, optimizer=optimizer, steps=steps,
                stateful=stateful, batch=batch, features=features, doc=doc)


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
]

RECURRENT_KEYS = {
    "SimpleRNN": ["units", "activation", "use_bias", "return_sequences", "go_backwards",
                  "stateful"],
    "LSTM": ["units", "activation", "recurrent_activation", "use_bias", "return_sequences",
             "go_backwards", "stateful", "unit_forget_bias"],
    "GRU": ["units", "activation", "recurrent_activation", "use_bias", "return_sequences",
            "go_backwards", "stateful", "reset_after"],
    "Dense": ["units", "activation", "use_bias"],
}


def fmt(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, float):
        return str(np.float32(value))  # the shortest text that reads back as this float32
    return str(value)


def layer_line(keras_layer):
    """The layer as Keras itself reports it (get_config), so what is written is what ran."""
    cls = type(keras_layer).__name__
    config = keras_layer.get_config()
    parts = ["layer", cls]
    for key in RECURRENT_KEYS[cls]:
        value = config[key]
        if key in ("activation", "recurrent_activation"):
            value = keras.activations.serialize(keras.activations.get(value))
            if isinstance(value, dict):
                value = value.get("config", value)
            value = "linear" if value in (None, "None") else value
        parts.append("%s=%s" % (key, fmt(value)))
    return " ".join(parts)


def optimizer_of(spec):
    if spec[0] == "adam":
        opt = keras.optimizers.Adam(learning_rate=spec[1])
        line = "optimizer adam learning_rate=%s beta_1=%s beta_2=%s epsilon=%s" % (
            fmt(opt.learning_rate.numpy().item()), fmt(opt.beta_1), fmt(opt.beta_2),
            fmt(opt.epsilon))
    else:
        _, lr, momentum, nesterov = spec
        opt = keras.optimizers.SGD(learning_rate=lr, momentum=momentum, nesterov=nesterov)
        line = "optimizer sgd learning_rate=%s momentum=%s nesterov=%s" % (
            fmt(opt.learning_rate.numpy().item()), fmt(opt.momentum), fmt(opt.nesterov))
    return opt, line


def reset_states(model):
    for lay in model.layers:
        if getattr(lay, "stateful", False):
            lay.reset_states()


def save(directory, name, array):
    array = np.asarray(array, dtype=np.float32)
    np.save(os.path.join(directory, name), array.astype("<f4"), allow_pickle=False)


def make_case(spec):
    name = spec["name"]
    rng = np.random.RandomState(zlib.crc32(name.encode()))
    keras.utils.set_random_seed(1)
    batch, steps, feats = spec["batch"], spec["steps"], spec["features"]
    data_steps = steps if steps else T
    if spec["stateful"]:
        inp = keras.Input(batch_shape=(batch, steps, feats))
    elif steps == 0:
        inp = keras.Input(shape=(feats,))
    else:
        inp = keras.Input(shape=(steps, feats))
    layers = [getattr(keras.layers, cls)(**kw) for cls, kw in spec["layers"]]
    model = keras.Sequential([inp] + layers)

    # Weights: uniform in [-0.5, 0.5) (recurrent kernels scaled by 1/sqrt(units) more so long
    # sequences stay in the interesting range), biases included.
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

    x_shape = (batch, feats) if steps == 0 else (batch, data_steps, feats)
    x = rng.normal(0.0, 1.0, size=x_shape).astype(np.float32)
    x2 = rng.normal(0.0, 1.0, size=x_shape).astype(np.float32)
    out_shape = tuple(model.compute_output_shape(x_shape))
    y = rng.normal(0.0, 0.5, size=out_shape).astype(np.float32)

    loss_fn = {"mse": keras.losses.MeanSquaredError(),
               "mae": keras.losses.MeanAbsoluteError()}[spec["loss"]]
    optimizer, opt_line = optimizer_of(spec["optimizer"])
    model.compile(loss=loss_fn, optimizer=optimizer, jit_compile=False)

    directory = os.path.join(OUT, name)
    os.makedirs(directory)

    # Forward passes.
    out = model.predict(x, batch_size=batch, verbose=0)
    save(directory, "out.npy", out)
    if spec["stateful"]:
        out2 = model.predict(x2, batch_size=batch, verbose=0)
        save(directory, "x2.npy", x2)
        save(directory, "out1.npy", out)
        save(directory, "out2.npy", out2)
        reset_states(model)
        again = model.predict(x2, batch_size=batch, verbose=0)
        assert not np.allclose(again, out2), "%s: the state did not carry" % name
        reset_states(model)

    # Loss and gradients at the initial weights (fresh state).
    with tf.GradientTape() as tape:
        pred = model(x, training=True)
        loss = loss_fn(y, pred)
    grads = tape.gradient(loss, model.trainable_weights)
    reset_states(model)
    assert np.allclose(pred.numpy(), out, rtol=1e-5, atol=1e-6)
    save(directory, "loss.npy", np.float32(loss.numpy()))
    for k, g in enumerate(grads):
        save(directory, "grad%d.npy" % k, g.numpy())
        assert np.any(g.numpy() != 0), "%s: gradient %d is all zero" % (name, k)

    # Training: TRAIN_STEPS train_on_batch steps on (x, y), no shuffling (one fixed batch).
    train_losses = []
    for _ in range(TRAIN_STEPS):
        train_losses.append(float(model.train_on_batch(x, y)))
    assert abs(train_losses[0] - float(loss.numpy())) <= 1e-6 + 1e-5 * abs(train_losses[0])
    save(directory, "train_loss.npy", np.array(train_losses))
    for k, w in enumerate(model.get_weights()):
        save(directory, "after%d.npy" % k, w)
        assert not np.array_equal(w, weights[k]), "%s: weight %d did not move" % (name, k)

    save(directory, "x.npy", x)
    save(directory, "y.npy", y)
    for k, w in enumerate(weights):
        save(directory, "w%d.npy" % k, w)

    lines = [FORMAT_DOC.rstrip("\n")]
    if spec["doc"]:
        lines.append("# " + spec["doc"])
    lines.append("case " + name)
    lines.append("versions keras=%s tensorflow=%s numpy=%s" % (keras.__version__, tf.__version__,
                                                               np.__version__))
    input_steps = -1 if steps is None else steps
    lines.append("%s %d %d %d" % ("batch_input" if spec["stateful"] else "input", batch,
                                  input_steps, feats))
    for lay in model.layers:
        lines.append(layer_line(lay))
    lines.append("loss " + spec["loss"])
    lines.append(opt_line)
    lines.append("train_steps %d" % TRAIN_STEPS)
    if spec["stateful"]:
        lines.append("stateful_chunks 2")
    with open(os.path.join(directory, "case.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    tf.get_logger().setLevel("ERROR")  # predict's retracing warnings (a new model per case)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    keras.config.set_floatx("float32")
    names = [c["name"] for c in CASES]
    assert len(set(names)) == len(names)
    only = set(sys.argv[1:])
    if not only and os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT, exist_ok=True)
    for spec in CASES:
        if only and spec["name"] not in only:
            continue
        if os.path.isdir(os.path.join(OUT, spec["name"])):
            shutil.rmtree(os.path.join(OUT, spec["name"]))
        make_case(spec)
        print("wrote", spec["name"])
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print("%d cases, %d bytes in %s" % (len(CASES), total, os.path.relpath(OUT, ROOT)))
    assert total < 1 << 20


if __name__ == "__main__":
    main()
