"""Checks librnn's Keras files against real Keras 3 (run by hand, not by `make test`):

  .venv/bin/python tools/check_keras_roundtrip.py [build/rnn] [MODEL ...]

For each model (default: the Keras-3-compatible files of ../shared/data/keras-models and a few
models built here with random weights): Keras 3 predicts on random input; librnn predicts on the
same input (`rnn predict`); librnn converts the model to .keras and to legacy .h5 (`rnn
convert`), Keras 3 loads each file and predicts again. All must agree within 1e-5 (relative 1e-4
above 1). The built models are saved by Keras as .keras, and the newer kinds (merge layers,
TimeDistributed over a model, Keras 3's hard_sigmoid, initial_state, Bidirectional, nested) also
as Keras 3's .h5, which librnn reads.
Legacy files that use the Keras 1/2 hard_sigmoid are skipped: Keras 3 computes a different
function for them."""
import os, subprocess, sys, tempfile
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np
import keras

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RNN = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].endswith((".keras", ".h5")) else os.path.join(ROOT, "build", "rnn")
SHARED = os.path.join(ROOT, "..", "shared", "data", "keras-models")


def close(a, b):
    d = np.abs(a - b)
    tol = np.maximum(1e-5, 1e-4 * np.abs(b))
    return bool(np.all(d <= tol)), float(d.max()) if d.size else 0.0


def built_models(tmp):
    """Small models covering librnn's layers and options, random weights, saved by Keras."""
    rng = np.random.default_rng(0)
    L = keras.layers
    out = []

    def save(name, model, h5=False):
        for w in model.weights:
            w.assign(rng.normal(0, 0.5, w.shape).astype("float32"))
        model.compile(loss="mse", optimizer=keras.optimizers.Adam(0.002))
        p = os.path.join(tmp, name + ".keras")
        model.save(p)
        out.append(p)
        if h5:  # Keras 3's own legacy .h5 of the same model
            p = os.path.join(tmp, name + "_keras3.h5")
            model.save(p)
            out.append(p)

    save("seq_lstm_gru_td", keras.Sequential([keras.Input((7, 3)), L.LSTM(5, return_sequences=True, go_backwards=True),
                                              L.GRU(4, return_sequences=True, reset_after=False), L.Dropout(0.3),
                                              L.TimeDistributed(L.Dense(2, activation="tanh")), L.Activation("softmax")]))
    save("seq_rnn_repeat", keras.Sequential([keras.Input((5, 2)), L.SimpleRNN(6, activation="relu"), L.RepeatVector(3),
                                             L.LSTM(3, recurrent_activation="hard_sigmoid", use_bias=False, return_sequences=True),
                                             L.Dense(1)]))
    inp = keras.Input((6, 4), name="x")
    h = L.LSTM(5, return_sequences=True, name="enc")(inp)
    inner = keras.Sequential([keras.Input((6, 5)), L.GRU(3), L.Dense(2, activation="sigmoid")], name="inner")
    save("functional_nested", keras.Model(inp, inner(h), name="outer"))
    ids = keras.Input((8,), dtype="int32")
    e = L.Embedding(20, 4, mask_zero=True)(ids)
    save("embedding_mask", keras.Model(ids, L.GRU(3)(e)))
    x = keras.Input((4, 2)); h0 = keras.Input((3,)); c0 = keras.Input((3,))
    o, hs, cs = L.LSTM(3, return_state=True, return_sequences=True)(x, initial_state=[h0, c0])
    save("lstm_initial_state", keras.Model([x, h0, c0], [o, hs, cs]))
    save("seq_bidirectional_stack", keras.Sequential([
        keras.Input((6, 3)), L.Bidirectional(L.LSTM(4, return_sequences=True)),
        L.Bidirectional(L.GRU(3), merge_mode="sum"), L.Dense(2)]))
    x = keras.Input((6, 3))
    m = L.Masking(0.0)(x)
    y, y_rev = L.Bidirectional(L.SimpleRNN(3, return_sequences=True), merge_mode=None)(m)
    o, hf, cf, hb, cb = L.Bidirectional(L.LSTM(3, return_state=True), merge_mode="ave")(x)
    save("bidirectional_none_and_state", keras.Model(x, [y, y_rev, o, hf, cb]))
    save("seq_flatten", keras.Sequential([keras.Input((5, 2)), L.SimpleRNN(3, return_sequences=True),
                                          L.Flatten(), L.Dense(1)]))
    # Conv1D: the sunspot model's shape (causal, None steps), and the other paddings with
    # strides, dilation_rate and no bias
    save("seq_conv1d_causal_lstm", keras.Sequential([
        keras.Input((None, 1)), L.Conv1D(8, 3, padding="causal", activation="relu"),
        L.LSTM(6, return_sequences=True), L.LSTM(4), L.Dense(3, activation="relu"), L.Dense(1)]))
    save("seq_conv1d_strides_dilation", keras.Sequential([
        keras.Input((9, 3)), L.Conv1D(4, 3, strides=2, padding="same", activation="tanh"),
        L.Conv1D(5, 2, dilation_rate=2, use_bias=False), L.GRU(3, return_sequences=True),
        L.Dense(2)]))
    # issue 16 (i16-merge): merge layers, TimeDistributed over a model, Keras 3's hard_sigmoid,
    # and .h5 files of the kinds tf.keras 2's .h5 form could not give Keras 3
    a = keras.Input((5, 3), name="a"); b = keras.Input((4, 3), name="b")
    la = L.LSTM(4, return_sequences=True)(a); gb = L.GRU(4, return_sequences=True)(b)
    va = L.LSTM(4)(a); vb = L.GRU(4)(b)
    s1 = L.Add()([va, vb]); s2 = L.Subtract()([va, vb]); s3 = L.Multiply()([va, vb])
    s4 = L.Average()([va, vb, s1]); s5 = L.Maximum()([va, vb]); s6 = L.Minimum()([va, s2])
    cat = L.Concatenate()([s1, s2, s3, s4, s5, s6])
    att = L.Dot(axes=2)([la, gb]); cos = L.Dot(axes=1, normalize=True)([va, vb])
    seqcat = L.Concatenate(axis=1)([la, gb]); p = L.Dot(axes=(2, 1))([la, vb])
    save("merge_layers", keras.Model([a, b], [L.Dense(2)(cat), att, cos, L.GRU(2)(seqcat), p]), h5=True)
    ids = keras.Input((6,), dtype="int32"); ids2 = keras.Input((6,), dtype="int32")
    e1 = L.Embedding(9, 4, mask_zero=True)(ids); e2 = L.Embedding(9, 4, mask_zero=True)(ids2)
    m = L.Concatenate()([L.Add()([e1, e2]), L.Multiply()([e1, e2]), L.Maximum()([e1, e2])])
    save("merge_masked", keras.Model([ids, ids2], L.LSTM(3)(m)), h5=True)
    step = keras.Sequential([keras.Input((3,)), L.Dense(4, activation="tanh"), L.Dense(2)], name="step")
    save("td_over_sequential", keras.Sequential([keras.Input((5, 3)), L.TimeDistributed(step), L.GRU(3)]), h5=True)
    fi = keras.Input((3,)); fstep = keras.Model(fi, L.Dense(2)(L.Dense(4, activation="relu")(fi)), name="fstep")
    x = keras.Input((5, 3)); td = L.TimeDistributed(fstep)(x)
    save("td_over_functional", keras.Model(x, L.LSTM(2)(td)), h5=True)
    save("hard_sigmoid_keras3", keras.Sequential([
        keras.Input((5, 3)), L.LSTM(4, recurrent_activation="hard_sigmoid", return_sequences=True),
        L.GRU(3, recurrent_activation="hard_sigmoid"), L.Dense(2, activation="hard_sigmoid")]), h5=True)
    x = keras.Input((4, 2)); h0 = keras.Input((3,)); c0 = keras.Input((3,))
    o, hs, cs = L.LSTM(3, return_state=True, return_sequences=True)(x, initial_state=[h0, c0])
    save("lstm_initial_state_h5", keras.Model([x, h0, c0], [o, hs, cs]), h5=True)
    save("bidirectional_h5", keras.Sequential([keras.Input((6, 3)), L.Bidirectional(L.LSTM(4, return_sequences=True)),
                                               L.Bidirectional(L.GRU(3), merge_mode="ave"), L.Dense(2)]), h5=True)
    x = keras.Input((6, 4))
    inner = keras.Sequential([keras.Input((6, 4)), L.GRU(3, return_sequences=True), L.Dense(2)], name="inner")
    save("nested_h5", keras.Model(x, L.SimpleRNN(2)(inner(x))), h5=True)
    return out


def run(model_path, tmp):
    name = os.path.basename(model_path)
    saved = os.path.join(tmp, "saved_" + os.path.splitext(name)[0] + ".keras")
    try:
        ref_model = keras.models.load_model(model_path, compile=False)
        note = ""
    except Exception as e:  # noqa: BLE001
        # Keras 3 cannot read this legacy file: check librnn against Keras on librnn's .keras
        r = subprocess.run([RNN, "convert", model_path, saved], capture_output=True, text=True)
        if r.returncode:
            return f"SKIP {name}: Keras 3 cannot load it ({type(e).__name__}); librnn: {r.stderr.strip()}"
        ref_model = keras.models.load_model(saved, compile=False)
        note = " (Keras 3 cannot load the original: reference = Keras on librnn's .keras)"
    ins = ref_model.inputs
    has_embedding = any(isinstance(l, keras.layers.Embedding) for l in ref_model._flatten_layers())
    xs = []
    rng = np.random.default_rng(1)
    for t in ins:
        shape = [4 if d is None else d for d in t.shape]
        if "int" in str(t.dtype) or (has_embedding and len(shape) == 2):
            x = rng.integers(0, 5, shape).astype("float32")
            x[:, :2] = 0  # padding
        else:
            x = rng.normal(0, 1, shape).astype("float32")
        xs.append(x)
    ref = ref_model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    ref = ref if isinstance(ref, list) else [ref]
    if len(xs) > 1 or len(ref) > 1:
        # the CLI takes one input and one output: compare through the saved file only
        lib = None
    else:
        np.save(os.path.join(tmp, "x.npy"), xs[0])
        r = subprocess.run([RNN, "predict", model_path, "--input", os.path.join(tmp, "x.npy"),
                            "--output", os.path.join(tmp, "y.npy")], capture_output=True, text=True)
        if r.returncode:
            return f"LIBRNN-FAILS {name}: {r.stderr.strip()}"
        lib = np.load(os.path.join(tmp, "y.npy"))
    msgs = []
    ok = True
    if lib is not None:
        good, d = close(lib, ref[0]); ok &= good; msgs.append(f"librnn vs Keras {d:.2e}")
    # librnn writes each format; Keras 3 loads it and predicts
    for ext in (".keras", ".h5"):
        out_path = os.path.splitext(saved)[0] + ext
        r = subprocess.run([RNN, "convert", model_path, out_path], capture_output=True, text=True)
        if r.returncode:
            if ext == ".h5" and "hard_sigmoid (0.2x + 0.5)" in r.stderr:
                msgs.append("no .h5: Keras 1/2 hard_sigmoid")  # cannot happen for Keras 3 files
                continue
            return f"CONVERT-FAILS {name} to {ext}: {r.stderr.strip()}"
        try:
            back = keras.models.load_model(out_path)
        except Exception as e:  # noqa: BLE001
            return f"FAIL {name}: Keras 3 cannot load librnn's {ext}: {type(e).__name__}: {str(e)[:600]}"
        again = back.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        again = again if isinstance(again, list) else [again]
        ok &= len(again) == len(ref)
        for a, b in zip(again, ref):
            good, d = close(a, b); ok &= good; msgs.append(f"Keras(librnn's {ext}) vs Keras {d:.2e}")
    return ("OK   " if ok else "FAIL ") + name + ": " + ", ".join(msgs) + note


def main():
    paths = [a for a in sys.argv[1:] if a.endswith((".keras", ".h5"))]
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        if not paths:
            paths = [os.path.join(SHARED, f) for f in ("komei_lstm_keras3.keras", "btc_gru_v2_keras3.keras",
                                                       "imdb_embedding_gru_keras3.h5", "gru_deploy_gru_model.h5",
                                                       "lstmmulti_model.h5", "arimagru_gru.h5",
                                                       "lstm_autoencoder_td.h5", "sunspot_conv_lstm.h5",
                                                       "dl4j_simple_flatten_rnn_tf_keras2_model.h5") if os.path.exists(os.path.join(SHARED, f))]
            paths += built_models(tmp)
        for p in paths:
            line = run(p, tmp)
            print(line, flush=True)
            failed += not line.startswith(("OK", "SKIP"))
    print("failed:", failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
