"""Model files written by real Keras for tests/test_keras_io.c (the loader, not the maths: the
maths is checked by tests/fixtures/keras):

    /work/main/.venv/bin/python tools/make_keras_files.py [CASE ...]

With case names, only those cases are rewritten (the others keep their files).

Each case in tests/fixtures/keras_files/<case>/ has model.keras (Keras 3) or model.h5 (tf.keras
2, legacy HDF5), x.npy (one input, float32, some all-zero steps for Masking(0)) and out.npy or
out<k>.npy (the model's predictions on x, in output order). Weights are drawn from a generator
seeded by the case name, so running the script twice gives the same arrays. They cover what a
file adds beyond the layers: Keras 3's Bidirectional config (`layer` plus `backward_layer`, the
sub-layers' zero_output_for_mask) and its forward_layer/backward_layer weight groups; the
not_equal/any operations Keras 3 records for a Masking mask in a functional model; tf.keras's
Bidirectional config and its legacy weight names; Conv1D's configs (sizes as one-element lists)
and rank-3 kernels in both formats, and Keras 3 dropping a Masking mask at a Conv1D (the LSTM
after it runs over every step)."""
import os
import shutil
import sys
import zlib

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "keras_files")
B, T, F = 3, 6, 3
ONLY = set(sys.argv[1:])


def data(name):
    rng = np.random.RandomState(zlib.crc32(name.encode()))
    x = rng.normal(0.0, 1.0, size=(B, T, F)).astype(np.float32)
    x[0, 0] = 0.0  # masked steps: leading, inside, trailing
    x[1, 3] = 0.0
    x[2, 5] = 0.0
    return rng, x


def set_weights(model, rng):
    model.set_weights([rng.uniform(-0.5, 0.5, size=w.shape).astype(np.float32)
                       for w in model.get_weights()])


def write(name, model, x, filename, also=None):
    if ONLY and name not in ONLY:
        return
    directory = os.path.join(OUT, name)
    if os.path.isdir(directory):
        shutil.rmtree(directory)
    os.makedirs(directory)
    model.save(os.path.join(directory, filename))
    if also:  # the same model in a second format (Keras 3's legacy .h5)
        model.save(os.path.join(directory, also))
    outs = model.predict(x, verbose=0)
    outs = outs if isinstance(outs, list) else [outs]
    np.save(os.path.join(directory, "x.npy"), x)
    for k, o in enumerate(outs):
        np.save(os.path.join(directory, "out.npy" if len(outs) == 1 else "out%d.npy" % k),
                np.asarray(o, dtype=np.float32))
    print("wrote", name, [o.shape for o in outs])


def keras3_cases():
    import keras
    L = keras.layers
    name = "k3_functional_masking_bidirectional"
    rng, x = data(name)
    inp = keras.Input((T, F))
    m = L.Masking(0.0)(inp)
    y, y_rev = L.Bidirectional(L.SimpleRNN(3, return_sequences=True), merge_mode=None)(m)
    o, hf, cf, hb, cb = L.Bidirectional(L.LSTM(3, return_state=True), merge_mode="ave")(m)
    model = keras.Model(inp, [y, y_rev, o, hf, cb])
    set_weights(model, rng)
    write(name, model, x, "model.keras")

    name = "k3_sequential_bidirectional_stack"
    rng, x = data(name)
    model = keras.Sequential([keras.Input((T, F)), L.Masking(0.0),
                              L.Bidirectional(L.LSTM(4, return_sequences=True)),
                              L.Bidirectional(L.GRU(3), merge_mode="mul"), L.Dense(2)])
    set_weights(model, rng)
    write(name, model, x, "model.keras")

    # Keras 3 warns that Conv1D "does not support masking and will therefore destroy the mask
    # information": the LSTM sees no mask
    name = "k3_masking_conv1d_causal_lstm"
    rng, x = data(name)
    model = keras.Sequential([keras.Input((T, F)), L.Masking(0.0),
                              L.Conv1D(4, 3, padding="causal", activation="relu"),
                              L.LSTM(3), L.Dense(2)])
    set_weights(model, rng)
    write(name, model, x, "model.keras")

    # issue 16 (i16-merge): merge layers, TimeDistributed over models, Keras 3's hard_sigmoid,
    # initial_state, Bidirectional and nested models, each also as Keras 3's own .h5
    name = "k3_merge_layers"
    rng, x = data(name)
    inp = keras.Input((T, F))
    a = L.LSTM(4, return_sequences=True)(inp)
    b = L.GRU(4, return_sequences=True)(inp)
    c = L.Dense(4, activation="tanh")(inp)
    va, vb = L.SimpleRNN(4)(inp), L.GRU(4, go_backwards=True)(inp)
    vec = L.Concatenate()([L.Add()([va, vb]), L.Subtract()([va, vb]), L.Multiply()([va, vb]),
                           L.Average()([va, vb]), L.Maximum()([va, vb]), L.Minimum()([va, vb])])
    seq = L.Concatenate(axis=1)([L.Maximum()([a, b, c]), L.Minimum()([a, c])])
    model = keras.Model(inp, [L.Dense(2)(vec), L.LSTM(3)(seq), L.Dot(axes=2)([a, b]),
                              L.Dot(axes=(1, 1), normalize=True)([a, c]),
                              L.Dot(axes=(2, 1))([a, vb])])
    set_weights(model, rng)
    write(name, model, x, "model.keras", also="model.h5")

    # masks through merge layers: Keras 3 records its mask operations (logical_or, expand_dims,
    # zeros_like, ones_like, concatenate, any) in the .keras config
    name = "k3_merge_masked"
    rng, x = data(name)
    inp = keras.Input((T, F))
    m = L.Masking(0.0)(inp)
    a = L.LSTM(4, return_sequences=True)(m)
    b = L.Dense(4)(m)
    c = L.Dense(4, activation="tanh")(inp)  # unmasked
    cat = L.Concatenate()([L.Add()([a, b]), L.Multiply()([a, b]), L.Maximum()([a, c])])
    steps = L.Concatenate(axis=1)([a, c])
    model = keras.Model(inp, [L.GRU(3)(cat), L.SimpleRNN(2)(steps)])
    set_weights(model, rng)
    write(name, model, x, "model.keras")

    name = "k3_time_distributed_models"
    rng, x = data(name)
    step = keras.Sequential([keras.Input((F,)), L.Dense(4, activation="relu"), L.Dense(3)],
                            name="step")
    fi = keras.Input((3,))
    fstep = keras.Model(fi, L.Dense(2, activation="tanh")(L.Dense(5)(fi)), name="fstep")
    inp = keras.Input((T, F))
    model = keras.Model(inp, L.GRU(3)(L.TimeDistributed(fstep)(L.TimeDistributed(step)(inp))))
    set_weights(model, rng)
    write(name, model, x, "model.keras", also="model.h5")

    name = "k3_hard_sigmoid"
    rng, x = data(name)
    model = keras.Sequential([keras.Input((T, F)),
                              L.LSTM(4, recurrent_activation="hard_sigmoid", return_sequences=True),
                              L.GRU(3, recurrent_activation="hard_sigmoid"),
                              L.Dense(2, activation="hard_sigmoid")])
    set_weights(model, rng)
    write(name, model, x, "model.keras", also="model.h5")

    name = "k3_initial_state_bidirectional_nested"
    rng, x = data(name)
    inp = keras.Input((T, F))
    inner = keras.Sequential([keras.Input((T, 8)), L.GRU(4, return_sequences=True)], name="inner")
    h = inner(L.Bidirectional(L.LSTM(4, return_sequences=True))(inp))
    _, hs, cs = L.LSTM(3, return_state=True)(h)
    out = L.LSTM(3, return_sequences=True)(inp, initial_state=[hs, cs])
    model = keras.Model(inp, [out, L.Bidirectional(L.GRU(2), merge_mode="ave")(h)])
    set_weights(model, rng)
    write(name, model, x, "model.keras", also="model.h5")


def tf_keras_cases():
    import tf_keras
    L = tf_keras.layers
    name = "tfk2_bidirectional_gru_concat"
    rng, x = data(name)
    model = tf_keras.Sequential([L.Masking(0.0, input_shape=(T, F)),
                                 L.Bidirectional(L.GRU(3, return_sequences=True)),
                                 L.Bidirectional(L.SimpleRNN(2), merge_mode="sum"), L.Dense(1)])
    set_weights(model, rng)
    write(name, model, x, "model.h5")

    name = "tfk2_conv1d_same_strides_dilation_gru"
    rng, x = data(name)
    model = tf_keras.Sequential([L.Conv1D(4, 3, strides=2, padding="same", activation="tanh",
                                          input_shape=(None, F)),
                                 L.Conv1D(3, 2, dilation_rate=2, use_bias=False),
                                 L.GRU(3, return_sequences=True), L.Dense(1)])
    set_weights(model, rng)
    write(name, model, x, "model.h5")


def shared_references():
    """Predictions of a shared model (../shared/data/keras-models, not copied here) by the Keras
    that wrote it: x.npy and out.npy only."""
    import tf_keras
    name = "shared_sunspot_conv_lstm_tf_keras"
    if ONLY and name not in ONLY:
        return
    path = os.path.join(ROOT, "..", "shared", "data", "keras-models", "sunspot_conv_lstm.h5")
    model = tf_keras.models.load_model(path, compile=False)  # tf.keras 2.14 wrote it
    rng = np.random.RandomState(zlib.crc32(name.encode()))
    x = rng.uniform(-1.0, 2.0, size=(4, 30, 1)).astype(np.float32)
    directory = os.path.join(OUT, name)
    if os.path.isdir(directory):
        shutil.rmtree(directory)
    os.makedirs(directory)
    np.save(os.path.join(directory, "x.npy"), x)
    np.save(os.path.join(directory, "out.npy"), model.predict(x, verbose=0).astype(np.float32))
    print("wrote", name)


def main():
    if not ONLY and os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT, exist_ok=True)
    keras3_cases()
    if not ONLY or ONLY & {"tfk2_bidirectional_gru_concat", "tfk2_conv1d_same_strides_dilation_gru",
                           "shared_sunspot_conv_lstm_tf_keras"}:
        tf_keras_cases()
        shared_references()


if __name__ == "__main__":
    main()
