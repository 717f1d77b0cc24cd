"""The Keras side of the README's two-way workflow (train in Keras, fine-tune in C, back to Keras).

    .venv/bin/python tools/two_way_keras.py train   # writes m.keras, x.npy, y.npy, keras_pred.npy
    build/rnn predict m.keras --input x.npy --output c0.npy
    build/rnn fit m.keras --x x.npy --y y.npy --epochs 5 --batch-size 16 --output tuned.keras
    build/rnn predict tuned.keras --input x.npy --output c_pred.npy
    .venv/bin/python tools/two_way_keras.py check   # loads tuned.keras in Keras, compares

Run from a scratch directory; the venv comes from tools/setup_python_env.sh.
"""
import os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"; os.environ["CUDA_VISIBLE_DEVICES"] = ""
import numpy as np, keras
if sys.argv[1] == "train":
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 10, 3)).astype("float32"); y = x.sum(axis=(1, 2))[:, None].astype("float32") / 10
    m = keras.Sequential([keras.Input((10, 3)), keras.layers.LSTM(8), keras.layers.Dense(1)])
    m.compile(optimizer="adam", loss="mse"); m.fit(x, y, epochs=3, verbose=0); m.save("m.keras")
    np.save("x.npy", x); np.save("y.npy", y); np.save("keras_pred.npy", m.predict(x, verbose=0))
else:
    m = keras.models.load_model("tuned.keras"); x = np.load("x.npy")
    p = m.predict(x, verbose=0); c = np.load("c_pred.npy")
    print("keras vs librnn on the tuned model: max abs diff", float(np.abs(p - c).max()))
    print("loss in keras:", float(m.evaluate(x, np.load("y.npy"), verbose=0)))
