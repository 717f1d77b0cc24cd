"""Checks librnn's .weights.h5 files against real Keras 3 (run by hand, not by `make test`):

  mkdir -p /tmp/wexp && RNN_WEIGHTS_EXPORT=/tmp/wexp build/tests/test_weights_files
  /work/main/.venv/bin/python tools/check_weights_roundtrip.py /tmp/wexp

For each case directory the test wrote (arch.keras: the model saved by librnn, whose weights
this script overwrites with noise; librnn.weights.h5: rnn_save_weights of the trained model; x.npy and librnn's
predictions y.npy): Keras loads arch.keras, then model.load_weights(librnn.weights.h5) - which
must replace every weight and the optimizer's variables without a warning - and predicts y
within 1e-5; the trainable flags are librnn's."""
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import keras  # noqa: E402
import numpy as np  # noqa: E402


def check(case):
    m = keras.saving.load_model(os.path.join(case, "arch.keras"))
    rng = np.random.default_rng(0)
    m.set_weights([rng.normal(size=w.shape).astype("float32") for w in m.get_weights()])
    before = [w.copy() for w in m.get_weights()]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m.load_weights(os.path.join(case, "librnn.weights.h5"))
    msgs = [str(w.message) for w in caught if "optimizer" in str(w.message).lower()
            or "skipping" in str(w.message).lower()]
    x = np.load(os.path.join(case, "x.npy"))
    y = np.load(os.path.join(case, "y.npy"))
    p = m.predict(x, verbose=0)
    diff = float(np.abs(p - y).max())
    changed = all(not np.array_equal(a, b) for a, b in zip(before, m.get_weights()))
    frozen = [l.name for l in m.layers if not l.trainable]
    it = int(np.asarray(m.optimizer.iterations)) if m.optimizer is not None else -1
    ok = diff < 1e-5 and changed and not msgs
    print(f"{'OK  ' if ok else 'FAIL'} {os.path.basename(case)}: max |keras - librnn| = "
          f"{diff:.2e}, every weight replaced: {changed}, optimizer iterations {it}, frozen "
          f"layers {frozen}{', warnings: ' + '; '.join(msgs) if msgs else ''}")
    return ok


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "/tmp/wexp"
    cases = sorted(os.path.join(root, d) for d in os.listdir(root)
                   if os.path.isdir(os.path.join(root, d)))
    results = [check(c) for c in cases]
    print(f"{sum(results)} of {len(results)} cases agree")
    return 0 if results and all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
