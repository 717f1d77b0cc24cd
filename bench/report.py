#!/usr/bin/env python3
"""Writes bench/RESULTS.md from the JSON lines of bench/run.sh (issues 5 and 18).

    python3 bench/report.py RESULTS.jsonl META.txt OUT.md

Each JSON line is one process: {"impl", "config", "case", metrics...}, or an "error" (the process
failed), or a "missing" peer configuration (case "*": it could not run here, with the reason).
Several rounds of the same (impl, config, case) are merged into the median of each number.
Per case and metric, each peer's best configuration is the one with the best median (highest
rate, lowest time); the speed-up columns are against the best of those over all peers. Standard
library only, so that any python3 runs it.
"""
import json
import statistics
import sys

PEERS = [("pytorch", "PyTorch"), ("keras", "Keras"), ("onednn", "oneDNN"), ("rtneural", "RTNeural")]
PEER_NAME = dict(PEERS)

# (key, label, higher is better); a metric only some implementations report is shown for those
METRICS = {
    "B1": [("train_100_epochs_s", "s for 100 epochs", False), ("us_per_step", "us per step", False)],
    "B2": [("train_samples_per_s", "training samples/s", True),
           ("infer_b256_samples_per_s", "inference samples/s (batch 256)", True)],
    "B3": [("train_step_ms", "training step ms", False), ("tokens_per_s", "tokens/s", True),
           ("recurrent_forward_ms", "the two GRU layers' forward only, ms (oneDNN)", False),
           ("recurrent_fwd_bwd_ms", "the two GRU layers' forward+backward only, ms (oneDNN)", False)],
    "B4": [("forward_ms", "forward ms", False), ("train_step_ms", "forward+backward+Adam ms", False),
           ("fwd_bwd_ms", "forward+backward ms, no optimizer (oneDNN)", False),
           ("forward_GFLOPs", "forward GFLOP/s", True), ("train_GFLOPs", "training GFLOP/s", True)],
    "B5": [("us_per_step", "us per step (median of 10,000)", False)],
    "B6": [("train_step_ms", "training step ms", False)],
}
REDUCED = " reduced"  # case suffix of librnn's reduced-precision configurations
# the reduced-precision configurations' own metrics (appendix)
EXTRA = {"B2" + REDUCED: [("infer_b256_reduced_samples_per_s", "reduced-precision inference samples/s", True),
                          ("reduced_speedup", "reduced over float32 inference", True)]}
TITLES = {
    "B1": "B1 airline: LSTM(4) -> Dense(1), (92, 3, 1), batch 1, 100 epochs (9,200 Adam steps)",
    "B2": "B2 sensor: LSTM(64) -> Dense(1), T=50, F=8, batch 32, one epoch of 10,240 samples",
    "B3": "B3 charrnn: Embedding(65,64) -> GRU(512) -> GRU(128) -> TimeDistributed(Dense(65)), batch 32, T=100",
    "B4": "B4 large: LSTM(512) on 512 features, T=100, batch 64, return_sequences, MSE on the outputs",
    "B5": "B5 stream: stateful LSTM(128) -> LSTM(128) -> Dense(1), 8 features, batch 1, one step per call",
    "B6": "B6 autoencoder: LSTM(100) -> RepeatVector(30) -> LSTM(100) -> TimeDistributed(Dense(4)), (64, 30, 4)",
}
NOTES = {
    "B2": "oneDNN: inference only (the LSTM primitive, then the Dense(1) as a C loop).",
    "B3": "oneDNN times only the two GRU layers (forward; forward + backward), without the "
          "Embedding, Dense, loss and optimizer, so it has no training-step number to compare.",
    "B4": "oneDNN's training step: forward-training and backward primitives, the MSE gradient and "
          "Adam as a C loop; fwd_bwd_ms leaves the Adam loop out.",
    "B5": "RTNeural: its Eigen backend, one thread, on librnn's own B5 weights (its outputs are "
          "checked against librnn's in every run: max_abs_diff_vs_librnn in the raw lines).",
}


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def load_cell(v):
    """The 1-minute load average (a median of rounds is a float: two decimals)."""
    return f"{v:.2f}" if is_num(v) else "-"


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.1f}"
    if abs(v) >= 10:
        return f"{v:.2f}"
    return f"{v:.3g}" if abs(v) < 1 else f"{v:.3f}"


class Results:
    def __init__(self, rows):
        rows = [dict(r) for r in rows]  # the raw lines stay as the processes printed them
        self.rows = rows
        for r in rows:  # the two sgemm runs differ by their thread count
            r.setdefault("config", "")
            if r["case"] == "sgemm" and "threads" in r:
                r["case"] = f"sgemm{r['threads']}"
            # librnn's reduced-precision runs (issue 19) have their own section, not the float32
            # table's librnn column
            if r["impl"] == "librnn" and r["config"].startswith("precision "):
                r["case"] += REDUCED
        self.missing = [r for r in rows if "missing" in r]
        self.groups = {}
        for r in rows:
            if "missing" not in r:
                self.groups.setdefault((r["impl"], r["config"], r["case"]), []).append(r)
        # the median of each number over the rounds that ran (wall_s: their sum); a configuration
        # reads as failed only when every round failed
        self.res, self.rounds = {}, {}
        for key, rs in self.groups.items():
            good = [r for r in rs if "error" not in r]
            self.rounds[key] = (len(good), len(rs))
            if not good:
                self.res[key] = rs[-1]
                continue
            merged = dict(good[0])
            for k, v in good[0].items():
                if is_num(v):
                    vals = [r[k] for r in good if is_num(r.get(k))]
                    merged[k] = sum(vals) if k == "wall_s" else statistics.median(vals)
            self.res[key] = merged

    def configs(self, impl, case):
        return sorted({cfg for (i, cfg, c) in self.res if i == impl and c == case})

    def value(self, impl, config, case, key):
        r = self.res.get((impl, config, case))
        if not r or "error" in r:
            return None
        v = r.get(key)
        return v if is_num(v) else None

    def lib(self, case, key):
        """librnn's value (its one configuration per case)."""
        for cfg in self.configs("librnn", case):
            v = self.value("librnn", cfg, case, key)
            if v is not None:
                return v
        return None

    def best(self, impl, case, key, hb, prefix=""):
        """(value, config) of impl's best configuration for the metric, or (None, None)."""
        cands = [(self.value(impl, cfg, case, key), cfg) for cfg in self.configs(impl, case)
                 if cfg.startswith(prefix)]
        cands = [c for c in cands if c[0] is not None]
        if not cands:
            return None, None
        return (max if hb else min)(cands, key=lambda c: c[0])

    def best_peer(self, case, key, hb, impls=None):
        """(value, impl, config) of the best peer configuration over the given peers."""
        out = []
        for impl, _ in PEERS:
            if impls is None or impl in impls:
                v, cfg = self.best(impl, case, key, hb)
                if v is not None:
                    out.append((v, impl, cfg))
        if not out:
            return None, None, None
        return (max if hb else min)(out, key=lambda c: c[0])

    def speedup(self, case, key, hb, peer_value):
        a = self.lib(case, key)
        if a is None or peer_value is None or a == 0 or peer_value == 0:
            return None
        return a / peer_value if hb else peer_value / a

    def per_round(self, case, key, ceiling_key):
        """[(librnn's value, the ceiling measured just before it)] per round of the case, from
        bench/run.sh's "next to CASE" ceilings (the run's order pairs them); rounds where either
        process failed are left out."""
        ceilings = self.groups.get(("librnn", "next to " + case, "ceilings"), [])
        runs = [rs for (i, cfg, c), rs in self.groups.items()
                if i == "librnn" and c == case and not cfg.startswith("precision ")]
        runs = runs[0] if runs else []
        out = []
        for r, cl in zip(runs, ceilings):
            v, cv = r.get(key), cl.get(ceiling_key)
            if "error" not in r and "error" not in cl and is_num(v) and is_num(cv) and cv:
                out.append((v, cv))
        return out

    def lowest_rss(self, impl, case):
        return self.best(impl, case, "peak_rss_mb", False)


def write(raw_path, meta_path, out_path):
    rows = [json.loads(line) for line in open(raw_path) if line.strip()]
    meta = {}
    for line in open(meta_path):
        parts = line.rstrip("\n").split(" ", 2)
        if len(parts) == 3:
            meta[parts[1]] = parts[2]
        elif len(parts) == 2:
            meta[parts[1]] = ""
    R = Results(rows)
    cases = [c for c in METRICS if any(c == k[2] for k in R.res)]

    def versions(impl, prefix=""):
        return sorted({str(r.get("version")) for r in rows if r["impl"] == impl and "version" in r
                       and r.get("config", "").startswith(prefix)})

    ceil = lambda k: R.value("librnn", "", "ceilings", k)
    L = []
    w = L.append
    secs = int(meta.get("seconds", 0) or 0)
    w("# librnn benchmark results (issues 5, 18 and 19)\n")
    w(f"Written by `make bench` (bench/run.sh, bench/report.py) on {meta.get('date', '?')}; the whole "
      f"run took {secs // 60} min {secs % 60} s. Each case ran {meta.get('rounds', '?')} rounds; in "
      "each round librnn, then every configuration of every peer (bench/README.md, \"Peers and "
      "configurations\"), one process at a time, so that this VM's drift in speed hits all alike. "
      "Each number is the median over the rounds of each process's median of the repetitions after "
      "a warm-up; float32, Adam(learning_rate=1e-3), the same seeded data everywhere. For each "
      "peer the table gives its **best configuration** per metric (the configuration in brackets); "
      "**speed-up** is against the best of all peers for that metric (peer time / librnn time, or "
      "librnn rate / peer rate: above 1 librnn is faster). Every configuration's numbers are in "
      "the appendix.\n")
    w("## Machine and software\n")
    w("| | |\n|---|---|")
    w(f"| CPU | {meta.get('cpu', '?')}, {meta.get('cores', '?')}; {meta.get('flags', '')}|")
    w(f"| caches, memory | L2 {meta.get('caches', '?')}; {meta.get('memory', '?')} |")
    w(f"| OS, compiler | {meta.get('os', '?')}; {meta.get('cc', '?')} |")
    w(f"| load average before / after | {meta.get('loadavg_start', '?')} / {meta.get('loadavg_end', '?')} "
      f"(each process ran at `{meta.get('nice', '?')}`) |")
    w(f"| FP32 FMA peak measured (`rnn bench ceilings`, 12 independent FMA chains, registers only; the "
      f"larger of 256-bit and 512-bit) | {fmt(ceil('fma_GFLOPs_1'))} GFLOP/s on 1 thread, "
      f"{fmt(ceil('fma_GFLOPs_n'))} on 2 (256-bit: {fmt(ceil('fma256_GFLOPs_1'))} / "
      f"{fmt(ceil('fma256_GFLOPs_n'))}; 512-bit: {fmt(ceil('fma512_GFLOPs_1'))} / "
      f"{fmt(ceil('fma512_GFLOPs_n'))}, 0 without AVX-512) |")
    w(f"| reading B5's weights once ({fmt(ceil('b5_weights_kb'))} KB, half per thread, from L2) | "
      f"{fmt(ceil('b5_read_us_n'))} us on 2 threads, {fmt(ceil('b5_read_barrier_us_n'))} us with a "
      "barrier per pass |")
    s1 = R.value("librnn", "", "sgemm1", "sgemm_4096_GFLOPs")
    s2 = R.value("librnn", "", "sgemm2", "sgemm_4096_GFLOPs")
    blas = next((r.get("blas") for r in rows if r["case"].startswith("sgemm") and "blas" in r), "?")
    w(f"| OpenBLAS sgemm 4096^3 | {fmt(s1)} GFLOP/s on 1 thread, {fmt(s2)} GFLOP/s on 2 threads |")
    lv = versions("librnn")
    w(f"| librnn | {', '.join(lv) or '?'}, commit {meta.get('commit', '?')}, `-O2`, {blas} "
      f"({meta.get('openblas_pkg', '')}) |")
    core_cfgs = sorted({r["config"].split()[0] for r in rows if r["impl"] == "pytorch"
                        and r.get("config", "").startswith("debian+")})
    core_note = "".join(f"; `{c}`: OPENBLAS_CORETYPE={c[len('debian+'):]}, the kernels librnn "
                        "chose for OpenBLAS on this CPU (OpenBLAS itself falls back to Prescott's)"
                        for c in core_cfgs)
    w(f"| PyTorch, Debian | {', '.join(versions('pytorch', 'debian')) or 'not run'} "
      f"({meta.get('torch_debian_pkg', '') or 'not installed'}; OpenBLAS, OpenMP; "
      f"{meta.get('debian_python', '')}{core_note}) |")
    w(f"| PyTorch, PyPI | {', '.join(versions('pytorch', 'pypi')) or 'not run'} (CPU; MKL + oneDNN "
      f"inside; {meta.get('python', '')}, numpy {meta.get('numpy', '?')}) |")
    kr = next((r for r in rows if r["impl"] == "keras" and "version" in r), {})
    w(f"| Keras | {kr.get('version', 'not run')}, backend {kr.get('backend', '?')} "
      f"(tensorflow-cpu {kr.get('tensorflow', '?')}) |")
    w(f"| oneDNN | {', '.join(versions('onednn')) or 'not run'} ({meta.get('dnnl_pkg', '') or 'not installed'}; "
      "its C API, bench/peers/onednn_rnn.c) |")
    rb = next((r.get("backend") for r in rows if r["impl"] == "rtneural" and "backend" in r), None)
    w(f"| RTNeural | {meta.get('rtneural', '') or 'not run'}{'; ' + rb if rb else ''} "
      "(bench/peers/rtneural_b5.cpp, `-O3 -march=native`) |")
    w("")
    if R.missing:
        w("**Peers missing from this run** (not installed or not buildable here):\n")
        for r in R.missing:
            w(f"- {PEER_NAME.get(r['impl'], r['impl'])} {r.get('config', '')}: {r['missing']}")
        w("")

    w("## Results: each peer at its best\n")
    for c in cases:
        w(f"### {TITLES[c]}\n")
        for cfg in R.configs("librnn", c):
            err = R.res[("librnn", cfg, c)].get("error")
            if err:
                w(f"librnn: **failed** ({err.strip()}).\n")
        w("| metric | librnn | " + " | ".join(n for _, n in PEERS) + " | best peer | speed-up vs best peer |")
        w("|---|---:|" + "---:|" * len(PEERS) + "---|---:|")
        for key, label, hb in METRICS[c]:
            cells = []
            for impl, _ in PEERS:
                v, cfg = R.best(impl, c, key, hb)
                cells.append("-" if v is None else f"{fmt(v)} ({cfg})")
            bv, bi, bc = R.best_peer(c, key, hb)
            a = R.lib(c, key)
            if a is None and bv is None:
                continue
            x = R.speedup(c, key, hb, bv)
            w(f"| {label} | {fmt(a)} | " + " | ".join(cells) + " | "
              + ("-" if bv is None else f"{PEER_NAME[bi]} {bc}") + " | "
              + ("-" if x is None else f"{x:.2f}x") + " |")
        a = R.lib(c, "peak_rss_mb")
        cells, lows = [], []
        for impl, _ in PEERS:
            v, cfg = R.lowest_rss(impl, c)
            cells.append("-" if v is None else f"{fmt(v)} ({cfg})")
            if v is not None:
                lows.append(v)
        ratio = "-" if a is None or not lows else f"{a / min(lows):.3f} of the lowest"
        w(f"| peak RSS MB (each peer's lowest) | {fmt(a)} | " + " | ".join(cells) + f" | | {ratio} |")
        if c in NOTES:
            w(f"\n{NOTES[c]}")
        failed = [f"{PEER_NAME.get(i, i)} {cfg}: {R.res[(i, cfg, cc)].get('error')}"
                  for (i, cfg, cc) in R.res if cc == c and i != "librnn" and "error" in R.res[(i, cfg, cc)]]
        if failed:
            w("\nFailed: " + "; ".join(failed) + ".")
        w("")

    # ---- targets of issue 18
    w("## Targets of issue 18 (against the best peer configuration of this run)\n")
    w("| case | target | measured | met |\n|---|---|---|---|")

    def row(case, target, measured, ok):
        if case != "all" and case not in cases:
            return
        w(f"| {case} | {target} | {measured} | {'-' if ok is None else ('yes' if ok else '**no**')} |")

    def vs_best(case, key, hb, ratio, label, impls=None):
        bv, bi, bc = R.best_peer(case, key, hb, impls)
        x = R.speedup(case, key, hb, bv)
        desc = "-" if x is None else (f"{x:.2f}x {PEER_NAME[bi]} {bc} ({fmt(R.lib(case, key))} vs "
                                      f"{fmt(bv)})")
        row(case, label, desc, None if x is None else x >= ratio)

    vs_best("B1", "us_per_step", False, 300, ">= 300x the best peer, us per step")
    vs_best("B2", "train_samples_per_s", True, 4, ">= 4x the best peer, training samples/s")
    vs_best("B2", "infer_b256_samples_per_s", True, 3, ">= 3x the best peer, inference samples/s")
    vs_best("B3", "tokens_per_s", True, 1.5, ">= 1.5x the best peer, tokens/s")
    vs_best("B4", "forward_ms", False, 1.0, ">= 1.0x the best peer (oneDNN included), forward")
    thr = int(R.lib("B4", "threads") or 2)
    peak = ceil("fma_GFLOPs_1" if thr == 1 else "fma_GFLOPs_n")
    f = R.lib("B4", "forward_GFLOPs")
    pairs = R.per_round("B4", "forward_GFLOPs", "fma_GFLOPs_1" if thr == 1 else "fma_GFLOPs_n")
    if pairs:  # each round's forward against the peak measured just before it (bench/run.sh)
        shares = [v / cv for v, cv in pairs]
        m = statistics.median(shares)
        row("B4", f">= 90% of the FMA peak measured just before it in each round ({thr} "
            f"thread{'s' if thr > 1 else ''}), forward; median of the rounds",
            f"{100 * m:.1f}% (rounds: " + ", ".join(f"{fmt(v)} of {fmt(cv)} GFLOP/s = {100 * v / cv:.1f}%"
                                           for v, cv in pairs)
            + ("" if f is None or not peak else
               f"; against the run's first peak {fmt(peak)}: {100 * f / peak:.1f}%") + ")",
            m >= 0.9)
    else:
        row("B4", f">= 90% of the FMA peak measured in this run ({'-' if peak is None else fmt(0.9 * peak)} "
            f"of {fmt(peak)} GFLOP/s on {thr} thread{'s' if thr > 1 else ''}), forward",
            "-" if f is None or not peak else f"{fmt(f)} GFLOP/s = {100 * f / peak:.1f}%",
            None if f is None or not peak else f >= 0.9 * peak)
    vs_best("B4", "train_step_ms", False, 1.5, ">= 1.5x the best PyTorch, training step", {"pytorch"})
    ov, oc = R.best("onednn", "B4", "fwd_bwd_ms", False)
    a = R.lib("B4", "train_step_ms")
    x = None if ov is None or not a else ov / a
    row("B4", ">= 1.0x oneDNN's forward + backward primitives (librnn's step includes Adam)",
        "-" if x is None else f"{x:.2f}x oneDNN {oc} ({fmt(a)} vs {fmt(ov)} ms)",
        None if x is None else x >= 1.0)
    u = R.lib("B5", "us_per_step")
    u1 = R.value("librnn", "precision f32 t1", "B5" + REDUCED, "us_per_step")
    ub = u if u1 is None or (u is not None and u <= u1) else u1
    row("B5", "<= 5 us per step, float32 (librnn's better thread count)",
        "-" if ub is None else f"{ub:.2f} us ({'1 thread' if ub is u1 else str(int(R.lib('B5', 'threads') or 2)) + ' threads'}"
        + ("" if u1 is None or u is None else f"; {fmt(u1 if ub is u else u)} on the other") + ")",
        None if ub is None else ub <= 5)
    rd = ceil("b5_read_barrier_us_n")
    pairs = R.per_round("B5", "us_per_step", "b5_read_barrier_us_n")
    if pairs:  # each round's step against the floor measured just before it (bench/run.sh)
        m = statistics.median([v / cv for v, cv in pairs])
        row("B5", "<= 1.25x the read floor measured just before it in each round (B5's weights read "
            "once on 2 threads, with the barrier a split step needs); median of the rounds",
            f"{m:.2f}x (rounds: " + ", ".join(f"{fmt(v)} vs {fmt(cv)} us = {v / cv:.2f}x" for v, cv in pairs)
            + ("" if u is None or not rd else f"; against the run's first floor {fmt(rd)} us: {u / rd:.2f}x")
            + ")", m <= 1.25)
    else:
        row("B5", "<= 1.25x the read floor of this run (B5's weights read once on 2 threads, with the "
            "barrier a split step needs)",
            "-" if u is None or not rd else f"{u / rd:.2f}x ({fmt(u)} vs {fmt(rd)} us; without the barrier "
            f"{fmt(ceil('b5_read_us_n'))} us)", None if u is None or not rd else u <= 1.25 * rd)
    vs_best("B5", "us_per_step", False, 1.0, "(not a target) against the best peer")
    vs_best("B6", "train_step_ms", False, 3, ">= 3x the best PyTorch, training step", {"pytorch"})
    worse, checked = [], 0
    for c in cases:
        a = R.lib(c, "peak_rss_mb")
        for impl, name in PEERS:
            v, cfg = R.lowest_rss(impl, c)
            if a is not None and v is not None:
                checked += 1
                if a >= v:
                    worse.append(f"{c} {name} {cfg} ({fmt(a)} vs {fmt(v)} MB)")
    row("all", "peak memory below every peer on every case (each peer's lowest configuration)",
        f"{checked - len(worse)} of {checked} below" + (f"; not below: {', '.join(worse)}" if worse else ""),
        None if not checked else not worse)
    w("")
    w("The B5 targets hold only if they hold in three runs spread over at least an hour (issue 18); "
      "this table is one run.\n")

    # ---- issue 19: reduced precision
    b5r = [cfg for cfg in R.configs("librnn", "B5" + REDUCED)]
    b2r = [cfg for cfg in R.configs("librnn", "B2" + REDUCED)]
    if b5r or b2r:
        w("## Reduced precision (issue 19, `rnn_set_precision`)\n")
        w("librnn's inference with bf16 or int8 weights (docs/export.md), in the same rounds as "
          "the float32 runs above.\n")
    if b5r:
        rt, rtc = R.best("rtneural", "B5", "us_per_step", False)
        f2 = R.lib("B5", "us_per_step")
        w("| B5 configuration | us per step | against RTNeural's float32 step |\n|---|---:|---:|")
        rows_b5 = [("threads " + str(int(R.lib("B5", "threads") or 2)) + " (float32, the table above)", f2)]
        rows_b5 += [(cfg[len("precision "):], R.value("librnn", cfg, "B5" + REDUCED, "us_per_step"))
                    for cfg in b5r]
        for lab, v in rows_b5:
            x = "-" if v is None or rt is None else f"{rt / v:.2f}x"
            w(f"| {lab} | {fmt(v)} | {x} |")
        w("")
    if b5r or b2r:
        w("| case | target | measured | met |\n|---|---|---|---|")
    if b5r:
        red = [(R.value("librnn", cfg, "B5" + REDUCED, "us_per_step"), cfg[len("precision "):])
               for cfg in b5r if not cfg.startswith("precision f32")]
        red = [r for r in red if r[0] is not None]
        best = min(red) if red else None
        w(f"| B5 | <= 3 us per step with bf16 or int8 weights, and ahead of RTNeural's float32 step | "
          + ("-" if best is None else f"{fmt(best[0])} us ({best[1]}); RTNeural {fmt(rt)} us")
          + " | " + ("-" if best is None else ("yes" if best[0] <= 3 and (rt is None or best[0] < rt)
                                               else "**no**")) + " |")
    if b2r:
        for cfg in b2r:
            sp = R.value("librnn", cfg, "B2" + REDUCED, "reduced_speedup")
            rr = R.value("librnn", cfg, "B2" + REDUCED, "infer_b256_reduced_samples_per_s")
            ff = R.value("librnn", cfg, "B2" + REDUCED, "infer_b256_samples_per_s")
            w(f"| B2 | inference (batch 256) >= 1.5x librnn's own float32, {cfg[len('precision '):]} | "
              + ("-" if sp is None else f"{sp:.2f}x ({fmt(rr)} vs {fmt(ff)} samples/s, alternating in one process)")
              + " | " + ("-" if sp is None else ("yes" if sp >= 1.5 else "**no**")) + " |")
    if b5r or b2r:
        w("\nThe B5 target holds only if it holds in three runs spread over at least an hour "
          "(issue 19); this table is one run.\n")

    # ---- appendix: every configuration
    w("## Appendix: every configuration\n")
    w("Median over the rounds; in brackets the range over the rounds where more than one ran. "
      "`t1`, `t2`: intra-op threads with OMP/OpenBLAS/MKL threads set to the same number; "
      "`default`: the framework's own choice, the variables unset; `pools1/1`: TensorFlow's intra-op/"
      "inter-op pools; `omp1`: OMP_NUM_THREADS for oneDNN.\n")
    for c in cases + [c + REDUCED for c in cases if R.configs("librnn", c + REDUCED)]:
        keys = [(k, lab, hb) for k, lab, hb in METRICS[c.replace(REDUCED, "")] + EXTRA.get(c, [])
                if any(is_num(R.res[g].get(k)) for g in R.res if g[2] == c)]
        w(f"### {c}\n")
        w("| implementation | configuration | " + " | ".join(lab for _, lab, _ in keys)
          + " | peak RSS MB | load before | wall s | rounds |")
        w("|---|---|" + "---:|" * (len(keys) + 4))
        order = ["librnn"] + [i for i, _ in PEERS]
        for impl in order:
            for cfg in R.configs(impl, c):
                r = R.res[(impl, cfg, c)]
                if "error" in r:
                    cells = ["failed: " + str(r["error"])[:80]] + [""] * (len(keys) - 1)
                else:
                    cells = []
                    for k, _, _ in keys:
                        vals = [x[k] for x in R.groups[(impl, cfg, c)] if "error" not in x and is_num(x.get(k))]
                        v = R.value(impl, cfg, c, k)
                        rng = f" [{fmt(min(vals))}-{fmt(max(vals))}]" if len(vals) > 1 else ""
                        cells.append(fmt(v) + rng)
                ok, n = R.rounds[(impl, cfg, c)]
                w(f"| {PEER_NAME.get(impl, impl)} | {cfg} | " + " | ".join(cells)
                  + f" | {fmt(R.value(impl, cfg, c, 'peak_rss_mb'))} | {load_cell(r.get('loadavg_before'))}"
                  f" | {r.get('wall_s', '-')} | {ok}/{n} |")
        w("")

    w("## Raw results\n")
    w("The JSON lines the processes printed, in run order:\n")
    w("```")
    for r in rows:
        w(json.dumps(r))
    w("```")
    with open(out_path, "w") as f:
        f.write("\n".join(L) + "\n")
    print(f"bench: wrote {out_path}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: report.py RESULTS.jsonl META.txt OUT.md")
    write(*sys.argv[1:4])
