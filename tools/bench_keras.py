#!/usr/bin/env python3
"""Keras 3 (TensorFlow backend) peer of `rnn bench` (issue 5): the same cases, data and metrics.

    python tools/bench_keras.py CASE [--threads N] [--interop N] [--reps N]

CASE is B1..B6. Prints ONE JSON line on stdout with the metrics of the issue and peak_rss_mb.
The Keras calls are the ones users run: fit(epochs, batch_size, verbose=0) for B1 and B2,
predict(batch_size=256) for B2's inference, predict_on_batch / train_on_batch for B4, B3 and B6,
and predict_on_batch on a stateful batch-1 model, one step per call, for B5. Optimizer:
keras.optimizers.Adam(learning_rate=1e-3). Data are the splitmix64 values that cli/bench.c
generates (bit-identical float32). Timings: warm-up, then the median of --reps repetitions (at
least 5). --threads / --interop set TensorFlow's intra-op / inter-op pools (0: TF's default).
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

from bench_common import ROOT, airline_windows, b2_data, peak_rss_mb, timed, token_ids, uniform  # noqa: F401


# ----------------------------------------------------------------------------- Keras

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", choices=["B1", "B2", "B3", "B4", "B5", "B6"])
    ap.add_argument("--threads", type=int, default=0, help="TF intra-op threads (0: default)")
    ap.add_argument("--interop", type=int, default=0, help="TF inter-op threads (0: default)")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    if args.reps < 5:
        ap.error("--reps must be at least 5")

    import tensorflow as tf
    import keras
    from keras import layers

    # must precede the first TensorFlow operation
    if args.threads > 0:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    if args.interop > 0:
        tf.config.threading.set_inter_op_parallelism_threads(args.interop)
    keras.utils.set_random_seed(0)
    out = {"impl": "keras", "version": keras.__version__, "tensorflow": tf.__version__,
           "backend": keras.backend.backend(), "case": args.case,
           "threads": tf.config.threading.get_intra_op_parallelism_threads(),
           "interop_threads": tf.config.threading.get_inter_op_parallelism_threads(),
           "reps": args.reps}
    reps = args.reps

    def adam():
        return keras.optimizers.Adam(learning_rate=1e-3)

    if args.case == "B1":
        x, y = airline_windows()
        n = x.shape[0]
        model = keras.Sequential([keras.Input((3, 1)), layers.LSTM(4), layers.Dense(1)])
        model.compile(loss="mean_squared_error", optimizer=adam())
        model.fit(x, y, epochs=2, batch_size=1, verbose=0)  # warm-up (traces the step)
        s = timed(lambda: model.fit(x, y, epochs=100, batch_size=1, verbose=0), reps)
        out.update(train_100_epochs_s=s, us_per_step=s * 1e6 / (100 * n), steps=100 * n)

    elif args.case == "B2":
        x, y = b2_data()
        n = x.shape[0]
        model = keras.Sequential([keras.Input((50, 8)), layers.LSTM(64), layers.Dense(1)])
        model.compile(loss="mean_squared_error", optimizer=adam())
        model.fit(x[:1024], y[:1024], epochs=1, batch_size=32, verbose=0)  # warm-up
        model.predict(x[:1024], batch_size=256, verbose=0)
        t = timed(lambda: model.fit(x, y, epochs=1, batch_size=32, verbose=0), reps)
        i = timed(lambda: model.predict(x, batch_size=256, verbose=0), reps)
        out.update(train_samples_per_s=n / t, infer_b256_samples_per_s=n / i)

    elif args.case == "B3":
        B, T, V = 32, 100, 65
        ids = token_ids(B * (T + 1), 3, V).reshape(B, T + 1)
        x, y = ids[:, :T], ids[:, 1:]
        model = keras.Sequential([
            keras.Input((T,), dtype="int32"), layers.Embedding(V, 64),
            layers.GRU(512, return_sequences=True), layers.GRU(128, return_sequences=True),
            layers.TimeDistributed(layers.Dense(V, activation="softmax"))])
        model.compile(loss="sparse_categorical_crossentropy", optimizer=adam())
        model.train_on_batch(x, y)
        s = timed(lambda: model.train_on_batch(x, y), reps)
        out.update(train_step_ms=s * 1e3, tokens_per_s=B * T / s)

    elif args.case == "B4":
        B, T, I, H = 64, 100, 512, 512
        x = uniform(B * T * I, 4).reshape(B, T, I)
        y = uniform(B * T * H, 44, 0.5).reshape(B, T, H)
        model = keras.Sequential([keras.Input((T, I)), layers.LSTM(H, return_sequences=True)])
        model.compile(loss="mean_squared_error", optimizer=adam())
        model.predict_on_batch(x)
        model.train_on_batch(x, y)
        f = timed(lambda: model.predict_on_batch(x), reps)
        t = timed(lambda: model.train_on_batch(x, y), reps)
        flops = 2.0 * T * B * 4 * H * (I + H)
        out.update(forward_ms=f * 1e3, train_step_ms=t * 1e3, forward_GFLOPs=flops / f * 1e-9,
                   train_GFLOPs=3 * flops / t * 1e-9)

    elif args.case == "B5":
        F, H, STEPS, WARM = 8, 128, 10000, 500
        xs = uniform((WARM + STEPS) * F, 5).reshape(WARM + STEPS, 1, 1, F)
        model = keras.Sequential([
            keras.Input(batch_shape=(1, 1, F)),
            layers.LSTM(H, stateful=True, return_sequences=True),
            layers.LSTM(H, stateful=True), layers.Dense(1)])
        model.compile(loss="mean_squared_error", optimizer=adam())
        for s in range(WARM):
            model.predict_on_batch(xs[s])
        ts = []  # the 10,000 timed steps are the repetitions
        for s in range(WARM, WARM + STEPS):
            xt = xs[s]
            t0 = time.perf_counter()
            model.predict_on_batch(xt)
            ts.append(time.perf_counter() - t0)
        out.update(us_per_step=statistics.median(ts) * 1e6, steps=STEPS)

    elif args.case == "B6":
        N, T, F, H = 64, 30, 4, 100
        x = uniform(N * T * F, 6).reshape(N, T, F)
        model = keras.Sequential([
            keras.Input((T, F)), layers.LSTM(H), layers.RepeatVector(T),
            layers.LSTM(H, return_sequences=True), layers.TimeDistributed(layers.Dense(F))])
        model.compile(loss="mean_squared_error", optimizer=adam())
        model.train_on_batch(x, x)
        out.update(train_step_ms=timed(lambda: model.train_on_batch(x, x), reps) * 1e3)

    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
