"""Checks that the optimizer's state crosses between Keras 3 and librnn in both directions
(run by hand, not by `make test`; needs the .venv of tools/setup_python_env.sh):

  .venv/bin/python tools/check_keras_optimizer_state.py [build/rnn]

For Adam, Adam(amsgrad), SGD(momentum), RMSprop(centered, momentum), Adagrad, Adadelta, Adamax,
Nadam (with its u_product), AdamW (plain, amsgrad) and Adam(weight_decay): Keras trains a model
for 3 steps and saves it (.keras and .h5); `rnn fit` continues it for one epoch of 4 more
steps (no shuffling) and saves; Keras loads librnn's file. Compared with Keras continuing the
same 4 steps itself: the weights, and every optimizer variable Keras loads from librnn's file
(iteration, learning rate, moments; from .h5 Keras 3 restores only the first two, even from its
own files), within float32 rounding. A lost state (moments restarted)
would show as differences of the order of the learning rate."""
import os, subprocess, sys, tempfile, warnings
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np
import keras

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RNN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "rnn")


def build(opt):
    m = keras.Sequential([keras.Input((6, 3)), keras.layers.LSTM(5), keras.layers.Dense(1)])
    m.compile(loss="mse", optimizer=opt)
    return m


def main():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 6, 3)).astype("float32")
    y = rng.normal(size=(40, 1)).astype("float32")
    x1, y1, x2, y2 = x[:24], y[:24], x[24:], y[24:]
    worst = 0.0
    failed = False
    cases = [("adam", lambda: keras.optimizers.Adam(0.01)),
             ("adam_amsgrad", lambda: keras.optimizers.Adam(0.01, amsgrad=True)),
             ("sgd_momentum", lambda: keras.optimizers.SGD(0.05, momentum=0.9)),
             ("rmsprop_centered", lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True)),
             # issue 16
             ("adagrad", lambda: keras.optimizers.Adagrad(0.05, initial_accumulator_value=0.2)),
             ("adadelta", lambda: keras.optimizers.Adadelta(1.0)),
             ("adamax", lambda: keras.optimizers.Adamax(0.02)),
             ("nadam", lambda: keras.optimizers.Nadam(0.01)),
             ("adamw", lambda: keras.optimizers.AdamW(0.01, weight_decay=0.05)),
             ("adamw_amsgrad", lambda: keras.optimizers.AdamW(0.01, amsgrad=True)),
             ("adam_weight_decay", lambda: keras.optimizers.Adam(0.01, weight_decay=0.1))]
    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "x2.npy"), x2)
        np.save(os.path.join(tmp, "y2.npy"), y2)
        for name, make in cases:
            for ext in ("keras", "h5"):
                keras.utils.set_random_seed(3)
                m = build(make())
                m.fit(x1, y1, batch_size=8, epochs=1, shuffle=False, verbose=0)  # 3 steps
                start = os.path.join(tmp, f"{name}.{ext}")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    m.save(start)
                out = os.path.join(tmp, f"{name}_rnn.{ext}")
                subprocess.run([RNN, "fit", start, "--x", os.path.join(tmp, "x2.npy"), "--y",
                                os.path.join(tmp, "y2.npy"), "--epochs", "1", "--batch-size", "4",
                                "--no-shuffle", "--verbose", "0", "--output", out], check=True)
                m.fit(x2, y2, batch_size=4, epochs=1, shuffle=False, verbose=0)  # Keras: 4 more
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    back = keras.models.load_model(out)
                dw = max(float(np.abs(a - b).max()) for a, b in zip(m.get_weights(), back.get_weights()))
                ov = [np.asarray(v) for v in m.optimizer.variables]
                bv = [np.asarray(v) for v in back.optimizer.variables]
                # Keras 3 restores only iteration and learning_rate from a legacy .h5 file (its
                # own files included: it builds the optimizer before the model has variables),
                # so for .h5 only those two are compared on the Keras side.
                # (Nadam builds its u_product without the model's variables: Keras 3 then has a
                # third, fresh variable after loading an .h5, which it does not restore.)
                n = len(ov) if ext == "keras" else 2
                same_count = len(bv) == n or (ext == "h5" and name == "nadam" and len(bv) == 3)
                dv = max(float(np.abs(a.astype("float64") - b.astype("float64")).max())
                         for a, b in zip(ov[:n], bv[:n])) if same_count else float("inf")
                it = (int(ov[0]), int(bv[0]))
                ok = dw <= 1e-5 and dv <= 1e-5 and same_count and it[0] == it[1] == 7
                failed |= not ok
                worst = max(worst, dw, dv)
                print(f"{name:17s} .{ext:5s} iterations keras/librnn {it}, {len(bv)} variables  "
                      f"max |weight diff| {dw:.2e}  max |optimizer variable diff| {dv:.2e}  "
                      f"{'ok' if ok else 'FAIL'}")
    print(f"worst difference {worst:.2e}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
