#!/usr/bin/env python3
"""PyTorch peer of `rnn bench` (issue 5): the same cases, data and metric definitions.

    python tools/bench_torch.py CASE [--threads N] [--interop N] [--reps N]

Runs under any PyTorch from 1.13 on: the PyPI wheel (.venv-bench/bin/python) and Debian's
python3-torch (/usr/bin/python3), which bench/run.sh both run.
CASE is B1..B6. Prints ONE JSON line on stdout with the metrics of the issue and peak_rss_mb.
Models are nn.LSTM / nn.GRU + nn.Linear trained with torch.optim.Adam(lr=1e-3, eps=1e-7, the
Keras epsilon); inference runs under torch.inference_mode(). Data are the splitmix64 values that
cli/bench.c generates (bit-identical float32). Timings: warm-up, then the median of --reps
repetitions (at least 5). --threads 0 / --interop 0 keep PyTorch's defaults.

--threads N > 0 also sets OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS to N before
numpy or torch is loaded (unless the caller set them): torch.set_num_threads sizes PyTorch's own
pool but not the BLAS's, and Debian's torch calls OpenBLAS, whose threads would otherwise come on
top. The JSON line reports the three variables as the process saw them ("blas_env").
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _early_threads():
    """--threads N from argv, before numpy loads a BLAS: the BLAS reads these once, at load."""
    for k, a in enumerate(sys.argv):
        v = a.split("=", 1)[1] if a.startswith("--threads=") else (
            sys.argv[k + 1] if a == "--threads" and k + 1 < len(sys.argv) else None)
        if v is not None and v.isdigit() and int(v) > 0:
            for name in THREAD_VARS:
                os.environ.setdefault(name, v)


_early_threads()

import numpy as np  # noqa: E402

from bench_common import ROOT, airline_windows, b2_data, peak_rss_mb, timed, token_ids, uniform  # noqa: F401,E402


# ----------------------------------------------------------------------------- PyTorch

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", choices=["B1", "B2", "B3", "B4", "B5", "B6"])
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: default)")
    ap.add_argument("--interop", type=int, default=0,
                    help="torch.set_num_interop_threads (0: default)")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    if args.reps < 5:
        ap.error("--reps must be at least 5")

    import torch
    from torch import nn

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.interop > 0:
        torch.set_num_interop_threads(args.interop)
    torch.manual_seed(0)
    head = {"impl": "pytorch", "version": torch.__version__, "case": args.case,
            "threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(),
            "reps": args.reps, "python": sys.executable,
            "blas_env": " ".join(f"{v}={os.environ.get(v, '-')}" for v in THREAD_VARS)}

    def adam(model):
        return torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)

    class LastStep(nn.Module):
        """LSTM(units) -> Dense(1) on the last step (Keras's return_sequences=False)."""

        def __init__(self, features, units):
            super().__init__()
            self.lstm = nn.LSTM(features, units, batch_first=True)
            self.fc = nn.Linear(units, 1)

        def forward(self, x):
            _, (h, _) = self.lstm(x)
            return self.fc(h[-1])

    mse = nn.MSELoss()
    out = dict(head)
    reps = args.reps

    if args.case == "B1":
        xn, yn = airline_windows()
        x, y = torch.from_numpy(xn), torch.from_numpy(yn)
        n = x.shape[0]
        model = LastStep(1, 4)
        opt = adam(model)

        def epochs(count):
            for _ in range(count):
                for i in torch.randperm(n).tolist():  # shuffle, batch size 1
                    opt.zero_grad(set_to_none=True)
                    loss = mse(model(x[i:i + 1]), y[i:i + 1])
                    loss.backward()
                    opt.step()

        epochs(10)  # warm-up
        s = timed(lambda: epochs(100), reps)
        out.update(train_100_epochs_s=s, us_per_step=s * 1e6 / (100 * n), steps=100 * n)

    elif args.case == "B2":
        xn, yn = b2_data()
        x, y = torch.from_numpy(xn), torch.from_numpy(yn)
        n = x.shape[0]
        model = LastStep(8, 64)
        opt = adam(model)

        def epoch(count=n):
            perm = torch.randperm(count)
            for k in range(0, count, 32):
                idx = perm[k:k + 32]
                opt.zero_grad(set_to_none=True)
                loss = mse(model(x[idx]), y[idx])
                loss.backward()
                opt.step()

        def infer(count=n):
            with torch.inference_mode():
                for k in range(0, count, 256):
                    model(x[k:k + 256])

        epoch(1024)  # warm-up
        infer(1024)
        out.update(train_samples_per_s=n / timed(epoch, reps),
                   infer_b256_samples_per_s=n / timed(infer, reps))

    elif args.case == "B3":
        B, T, V = 32, 100, 65
        ids = torch.from_numpy(token_ids(B * (T + 1), 3, V).reshape(B, T + 1))
        x, y = ids[:, :T], ids[:, 1:]

        class CharRNN(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = nn.Embedding(V, 64)
                self.gru1 = nn.GRU(64, 512, batch_first=True)
                self.gru2 = nn.GRU(512, 128, batch_first=True)
                self.fc = nn.Linear(128, V)

            def forward(self, t):
                h, _ = self.gru1(self.emb(t))
                h, _ = self.gru2(h)
                return self.fc(h)  # logits; CrossEntropyLoss applies the softmax

        model = CharRNN()
        opt = adam(model)
        ce = nn.CrossEntropyLoss()

        def step():
            opt.zero_grad(set_to_none=True)
            loss = ce(model(x).reshape(-1, V), y.reshape(-1))
            loss.backward()
            opt.step()

        step()
        s = timed(step, reps)
        out.update(train_step_ms=s * 1e3, tokens_per_s=B * T / s)

    elif args.case == "B4":
        B, T, I, H = 64, 100, 512, 512
        x = torch.from_numpy(uniform(B * T * I, 4).reshape(B, T, I))
        y = torch.from_numpy(uniform(B * T * H, 44, 0.5).reshape(B, T, H))
        lstm = nn.LSTM(I, H, batch_first=True)
        opt = adam(lstm)

        def forward():
            with torch.inference_mode():
                lstm(x)

        def train():
            opt.zero_grad(set_to_none=True)
            o, _ = lstm(x)
            loss = mse(o, y)
            loss.backward()
            opt.step()

        forward()
        train()
        f, t = timed(forward, reps), timed(train, reps)
        flops = 2.0 * T * B * 4 * H * (I + H)
        out.update(forward_ms=f * 1e3, train_step_ms=t * 1e3, forward_GFLOPs=flops / f * 1e-9,
                   train_GFLOPs=3 * flops / t * 1e-9)

    elif args.case == "B5":
        F, H, STEPS, WARM = 8, 128, 10000, 500
        xs = torch.from_numpy(uniform((WARM + STEPS) * F, 5).reshape(WARM + STEPS, 1, 1, F))
        l1 = nn.LSTM(F, H, batch_first=True)
        l2 = nn.LSTM(H, H, batch_first=True)
        fc = nn.Linear(H, 1)
        z = torch.zeros(1, 1, H)
        s1, s2 = (z.clone(), z.clone()), (z.clone(), z.clone())
        with torch.inference_mode():
            def step(xt):
                nonlocal s1, s2
                h1, s1 = l1(xt, s1)
                h2, s2 = l2(h1, s2)
                return fc(h2[:, -1])

            for s in range(WARM):
                step(xs[s])
            ts = []  # the 10,000 timed steps are the repetitions
            for s in range(WARM, WARM + STEPS):
                xt = xs[s]
                t0 = time.perf_counter()
                step(xt)
                ts.append(time.perf_counter() - t0)
        out.update(us_per_step=statistics.median(ts) * 1e6, steps=STEPS)

    elif args.case == "B6":
        N, T, F, H = 64, 30, 4, 100
        x = torch.from_numpy(uniform(N * T * F, 6).reshape(N, T, F))

        class AutoEncoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.LSTM(F, H, batch_first=True)
                self.dec = nn.LSTM(H, H, batch_first=True)
                self.fc = nn.Linear(H, F)

            def forward(self, t):
                _, (h, _) = self.enc(t)
                r = h[-1].unsqueeze(1).expand(-1, T, -1)  # RepeatVector(30)
                d, _ = self.dec(r)
                return self.fc(d)  # TimeDistributed(Dense(4))

        model = AutoEncoder()
        opt = adam(model)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = mse(model(x), x)
            loss.backward()
            opt.step()

        step()
        out.update(train_step_ms=timed(step, reps) * 1e3)

    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
