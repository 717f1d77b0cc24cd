"""What the PyTorch and Keras benchmark peers share: the seeded data of every case (bit-identical
to cli/bench.c's), the airline windows, peak memory and timing. Imported by bench_torch.py and
bench_keras.py (Python puts this directory on the path when either runs)."""
import os
import resource
import statistics
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def uniform(n, seed, scale=1.0):
    """cli/bench.c bench_uniform: splitmix64 value i -> 24 bits -> [-1, 1) * scale, float32."""
    i = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / 16777216.0)
    return (np.float32(2.0) * u - np.float32(1.0)) * np.float32(scale)


def token_ids(n, seed, vocab):
    """Integer ids in [0, vocab) from the same generator (B3)."""
    u = (uniform(n, seed) + np.float32(1.0)) * np.float32(0.5)
    return np.minimum((u * vocab).astype(np.int64), vocab - 1)


def airline_windows(look_back=3):
    """The airline tutorial's training windows: (92, 3, 1) and (92, 1), scaled to [0, 1]."""
    path = os.path.join(ROOT, "data", "airline-passengers.csv")
    with open(path) as f:
        next(f)
        series = np.array([float(line.split(",")[1]) for line in f if line.strip()], np.float32)
    lo, hi = series.min(), series.max()
    series = (series - lo) / (hi - lo)
    split = int(len(series) * 0.67)  # 96 months
    train = series[:split]
    n = len(train) - look_back - 1
    x = np.stack([train[i:i + look_back] for i in range(n)]).reshape(n, look_back, 1)
    y = train[look_back:look_back + n].reshape(n, 1)
    return x.astype(np.float32), y.astype(np.float32)


def b2_data():
    x = uniform(10240 * 50 * 8, 2).reshape(10240, 50, 8)
    y = x[:, :, 0].astype(np.float64).mean(axis=1).astype(np.float32).reshape(-1, 1)
    return x, y


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(fn, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)
