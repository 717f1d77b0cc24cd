"""Fixtures for issue 16 item 5 (weights files and frozen layers), from real Keras 3:

  tests/fixtures/weights/keras_saved/   model.save_weights() of a trained LSTM -> GRU -> Dense
      model (Adam, 2 steps, so the file has optimizer variables): model.weights.h5, x.npy and
      the model's predictions y.npy
  tests/fixtures/weights/frozen/        a GRU -> Dense model whose GRU is trainable=False:
      initial.keras (saved before training), x.npy, y.npy, the weights after each of 5
      train_on_batch steps (Adam 0.01, mse): w<step>_<i>.npy, losses.npy, summary.txt
      (Keras's model.summary() before training) and trained.keras (saved after the steps)

Run: /work/main/.venv/bin/python tools/make_weights_fixtures.py"""
import contextlib
import io
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
import numpy as np  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "weights")
L = keras.layers


def keras_saved():
    d = os.path.join(OUT, "keras_saved")
    os.makedirs(d, exist_ok=True)
    keras.utils.set_random_seed(1)
    m = keras.Sequential([keras.Input((5, 3)), L.LSTM(4, return_sequences=True), L.GRU(3),
                          L.Dense(2)])
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6, 5, 3)).astype("float32")
    y = rng.normal(size=(6, 2)).astype("float32")
    m.train_on_batch(x, y)
    m.train_on_batch(x, y)
    m.save_weights(os.path.join(d, "model.weights.h5"))
    np.save(os.path.join(d, "x.npy"), x)
    np.save(os.path.join(d, "y.npy"), m.predict(x, verbose=0))


def frozen():
    d = os.path.join(OUT, "frozen")
    os.makedirs(d, exist_ok=True)
    keras.utils.set_random_seed(3)
    gru = L.GRU(3, name="gru")
    m = keras.Sequential([keras.Input((4, 2)), gru, L.Dense(2, name="dense")])
    gru.trainable = False
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    m.save(os.path.join(d, "initial.keras"))
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        m.summary()
    with open(os.path.join(d, "summary.txt"), "w") as f:
        f.write(buf.getvalue())
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 4, 2)).astype("float32")
    y = rng.normal(size=(5, 2)).astype("float32")
    np.save(os.path.join(d, "x.npy"), x)
    np.save(os.path.join(d, "y.npy"), y)
    losses = []
    for step in range(5):
        losses.append(float(m.train_on_batch(x, y)))
    for i, w in enumerate(m.get_weights()):
        np.save(os.path.join(d, f"w5_{i}.npy"), w)
    np.save(os.path.join(d, "losses.npy"), np.array(losses, dtype="float32"))
    m.save(os.path.join(d, "trained.keras"))  # optimizer variables for the Dense only
    assert len(m.optimizer.variables) == 2 + 2 * 2, [v.path for v in m.optimizer.variables]


if __name__ == "__main__":
    keras_saved()
    frozen()
