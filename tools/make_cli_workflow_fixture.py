#!/usr/bin/env python3
"""The Python-free workflow of issue 15 against real Keras: writes tests/fixtures/cli/workflow/.

  config.json   a Keras model config (model.to_json() of a Sequential LSTM -> GRU -> Dense)
  x.npy, y.npy  the data (48 samples of 6 steps of 2 features; one target each)
  expected/     what Keras computes from the initial weights that `rnn init config.json
                --seed 7` writes (this script runs build/rnn for them), compiled as the test's
                `rnn fit` is (loss mse, Adam with learning_rate=0.01, beta_1=0.85), trained
                with batch_size=16, epochs=3, validation_split=0.25, shuffle=False:
    history.csv     Keras's CSVLogger file of that fit
    weights.npy     the trained weights, flattened and concatenated in get_weights() order
    pred.npy        model.predict(x) after the fit
    evaluate.txt    model.evaluate(x, y, batch_size=16) after the fit (the loss)

tests/test_cli_workflow.c runs the same commands with build/rnn only and compares (make test needs
no Python). Run from the repository root after make:
    /work/main/.venv/bin/python tools/make_cli_workflow_fixture.py
"""
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
import numpy as np  # noqa: E402
import keras  # noqa: E402

OUT = "tests/fixtures/cli/workflow"


def main():
    os.makedirs(os.path.join(OUT, "expected"), exist_ok=True)
    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input(shape=(6, 2)),
        keras.layers.LSTM(8, return_sequences=True),
        keras.layers.GRU(4),
        keras.layers.Dense(1),
    ], name="workflow")
    with open(os.path.join(OUT, "config.json"), "w") as f:
        f.write(model.to_json())
        f.write("\n")
    rng = np.random.default_rng(15)
    x = rng.uniform(-1, 1, size=(48, 6, 2)).astype(np.float32)
    y = (np.sin(x[:, :, 0].sum(axis=1)) * 0.5 + x[:, -1, 1:2].sum(axis=1) * 0.3)
    y = y.reshape(48, 1).astype(np.float32)
    np.save(os.path.join(OUT, "x.npy"), x)
    np.save(os.path.join(OUT, "y.npy"), y)

    with tempfile.TemporaryDirectory() as tmp:
        init = os.path.join(tmp, "init.keras")
        subprocess.run(["build/rnn", "init", os.path.join(OUT, "config.json"), "--output", init,
                        "--seed", "7"], check=True)
        m = keras.models.load_model(init)
        m.compile(loss="mse", optimizer=keras.optimizers.Adam(learning_rate=0.01, beta_1=0.85))
        log = os.path.join(OUT, "expected", "history.csv")
        m.fit(x, y, batch_size=16, epochs=3, validation_split=0.25, shuffle=False, verbose=0,
              callbacks=[keras.callbacks.CSVLogger(log)])
    flat = np.concatenate([w.reshape(-1) for w in m.get_weights()]).astype(np.float32)
    np.save(os.path.join(OUT, "expected", "weights.npy"), flat)
    np.save(os.path.join(OUT, "expected", "pred.npy"), m.predict(x, verbose=0).astype(np.float32))
    loss = m.evaluate(x, y, batch_size=16, verbose=0)
    with open(os.path.join(OUT, "expected", "evaluate.txt"), "w") as f:
        f.write("%.9g\n" % loss)
    print("wrote", OUT, "with keras", keras.__version__, file=sys.stderr)


if __name__ == "__main__":
    main()
