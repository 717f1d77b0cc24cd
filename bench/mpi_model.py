#!/usr/bin/env python3
"""The scaling model of data-parallel fit (issue 20) behind the tables in bench/README.md.

Per step, each rank sends and receives V = 2 (N-1)/N x 4 P bytes for the gradient sum (P
parameters, float32; librnn's rank-order sum is an all-to-all plus an all-gather, the volume of
a ring allreduce), in 2 (N-1) messages. With nothing overlapped (librnn sums after the whole
backward pass), a step takes t_step + V / bandwidth + 2 (N-1) latency, and the efficiency is
t_step / that. 80 % efficiency needs the communication under t_step / 4.

    python3 bench/mpi_model.py T_SAMPLE_B2 T_SAMPLE_B3

T_SAMPLE_*: the measured seconds of compute per sample on one core (from make bench-mpi).
"""
import sys

PARAMS = {"B2": 4 * 64 * (8 + 64 + 1) + 64 + 1,  # LSTM(64) on 8 features, Dense(1)
          "B3": 65 * 64 + (3 * 512 * (64 + 512) + 2 * 3 * 512)
          + (3 * 128 * (512 + 128) + 2 * 3 * 128) + 128 * 65 + 65}
LINKS = {"10 Gbit/s": (10e9 / 8, 20e-6), "25 Gbit/s": (25e9 / 8, 10e-6),
         "100 Gbit/s": (100e9 / 8, 3e-6)}  # bytes/s, per-message latency (TCP, TCP, RDMA)
RANKS = [2, 4, 8, 16, 32, 64]


def comm(p, n, link):
    bw, lat = LINKS[link]
    return 2 * (n - 1) / n * 4 * p / bw + 2 * (n - 1) * lat


def main():
    t_sample = {"B2": float(sys.argv[1]), "B3": float(sys.argv[2])}
    for case in ("B2", "B3"):
        p = PARAMS[case]
        print(f"\n{case}: {p:,} parameters, {4 * p / 1e6:.2f} MB of gradients; "
              f"{t_sample[case] * 1e3:.3f} ms of compute per sample")
        print("| link | batch/rank | step | " + " | ".join(f"N={n}" for n in RANKS) + " |")
        print("|---|---|---|" + "---|" * len(RANKS))
        for link in LINKS:
            for b in (8, 32, 128):
                t = b * t_sample[case]
                eff = [t / (t + comm(p, n, link)) for n in RANKS]
                print(f"| {link} | {b} | {t * 1e3:.1f} ms | "
                      + " | ".join(f"{e * 100:.0f} %" for e in eff) + " |")
        print("\nsmallest batch per rank for 80 % at N = 64:",
              ", ".join(f"{link}: {4 * comm(p, 64, link) / t_sample[case]:.1f}" for link in LINKS))
    print("\nany model at N = 64, 80 % needs compute per step >= 4 x (2 x 63/64 x 4 P / bw + 126 lat):")
    for link in LINKS:
        for p in (1e5, 1e6, 1e7, 1e8):
            print(f"  {link}, P = {p:.0e}: {4 * comm(p, 64, link) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
