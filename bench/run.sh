#!/bin/sh
# The benchmark suite of issue 5 in one run: every case for librnn (build/rnn bench), PyTorch
# (tools/bench_torch.py) and Keras 3 on TensorFlow (tools/bench_keras.py), one process per case
# and implementation, one after the other (never two at once on this 2-core machine); then
# bench/RESULTS.md is written from the JSON lines. Called by `make bench`.
#
# Environment:
#   BENCH_CASES   cases to run (default "B1 B2 B3 B4 B5 B6")
#   BENCH_REPS    timed repetitions per metric, median reported (default 5, at least 5)
#   BENCH_ROUNDS  processes per case and implementation, interleaved (librnn, PyTorch, Keras,
#                 librnn, ...) so that this VM's speed, which drifts by tens of percent within
#                 minutes, hits the three alike; the report gives the median of the rounds
#                 (default 3; BENCH_ROUNDS_B1 default 1: B1's ratio is in the hundreds and its
#                 Keras process alone takes three minutes)
#   BENCH_PEERS   "torch keras" (default), a subset, or "" for librnn only
#   BENCH_OUT     the report (default bench/RESULTS.md)
#   BENCH_RNN     the rnn tool (default build/rnn)
#   BENCH_NICE    run each process at nice -N when root (default 15; 0: off), so that other work
#                 on a shared machine disturbs the timings less
#   BENCH_VENV    the peers' virtual environment (default .venv-bench; created by
#                 tools/setup_bench_env.sh when missing)
set -u
cd "$(dirname "$0")/.."

CASES=${BENCH_CASES:-B1 B2 B3 B4 B5 B6}
REPS=${BENCH_REPS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
BENCH_ROUNDS_B1=${BENCH_ROUNDS_B1:-1}
PEERS=${BENCH_PEERS-torch keras}
OUT=${BENCH_OUT:-bench/RESULTS.md}
VENV=${BENCH_VENV:-.venv-bench}
PY="$VENV/bin/python"
RNN=${BENCH_RNN:-build/rnn}
WORK=$(dirname "$RNN")/bench
RAW=$WORK/results.jsonl
LIMIT=600 # seconds per process
NICE=${BENCH_NICE:-15}
NICECMD=""
if [ "$NICE" != 0 ] && [ "$(id -u)" = 0 ]; then NICECMD="nice -n -$NICE"; fi

# Thread settings, chosen by measurement on this 2-core machine (bench/README.md, "Threads"):
#   librnn   threads per case (rnn_set_threads: the step-loop team, which also splits the large
#            products between its threads, each calling OpenBLAS single-threaded); 1 for B1,
#            whose steps are too small to share; 2 elsewhere
#   PyTorch  1 intra-op thread for B1, B2, B4, B5, B6 (measured up to 30 times faster than its
#            default of 2 here); its defaults (2 intra-op, 2 inter-op) for B3, where 2 won
#   Keras    1 intra-op and 1 inter-op thread for the batch-1 cases B1 and B5 (measured faster
#            for B5); TensorFlow's defaults elsewhere
RNN_THREADS_B1=${RNN_THREADS_B1:-1}
RNN_THREADS_B2=${RNN_THREADS_B2:-2}
RNN_THREADS_B3=${RNN_THREADS_B3:-2}
RNN_THREADS_B4=${RNN_THREADS_B4:-2}
RNN_THREADS_B5=${RNN_THREADS_B5:-2}
RNN_THREADS_B6=${RNN_THREADS_B6:-2}
TORCH_ARGS_B1=${TORCH_ARGS_B1---threads 1}
TORCH_ARGS_B2=${TORCH_ARGS_B2---threads 1}
TORCH_ARGS_B4=${TORCH_ARGS_B4---threads 1}
TORCH_ARGS_B5=${TORCH_ARGS_B5---threads 1}
TORCH_ARGS_B6=${TORCH_ARGS_B6---threads 1}
KERAS_ARGS_B1=${KERAS_ARGS_B1---threads 1 --interop 1}
KERAS_ARGS_B5=${KERAS_ARGS_B5---threads 1 --interop 1}

mkdir -p "$WORK"
: >"$RAW"
start=$(date +%s)

if [ ! -x "$RNN" ]; then
    echo "bench: $RNN is missing; run make first" >&2
    exit 1
fi
if [ -n "$PEERS" ] && ! "$PY" -c "import torch, keras, tensorflow" >/dev/null 2>&1; then
    echo "bench: setting up the peers' environment $VENV (tools/setup_bench_env.sh)"
    BENCH_VENV="$VENV" sh tools/setup_bench_env.sh || {
        echo "bench: the peers' environment could not be set up; librnn only" >&2
        PEERS=""
    }
fi

# record IMPL CASE COMMAND...: runs one process, appends its JSON line (or the error) to $RAW.
record() {
    impl=$1 case=$2
    shift 2
    printf 'bench: %-7s %-5s ' "$impl" "$case"
    t0=$(date +%s)
    load=$(cut -d' ' -f1 /proc/loadavg) # others' work on the machine shows here
    # shellcheck disable=SC2086
    timeout "$LIMIT" $NICECMD "$@" >"$WORK/out.txt" 2>"$WORK/err.txt"
    rc=$?
    line=$(grep '^{' "$WORK/out.txt" | tail -n 1)
    if [ $rc -eq 0 ] && [ -n "$line" ]; then
        line=$(echo "$line" | sed "s/}\$/, \"loadavg_before\": $load, \"wall_s\": $(($(date +%s) - t0))}/")
        echo "$line" >>"$RAW"
        echo "($(($(date +%s) - t0)) s) $line" | cut -c1-160
    else
        msg=$(grep -v -i -E '^(W|I)0000|oneDNN|cuda' "$WORK/err.txt" | tail -n 1 |
              sed 's/\\/\\\\/g; s/"/\\"/g')
        [ $rc -eq 124 ] && msg="timed out after $LIMIT s"
        echo "{\"impl\": \"$impl\", \"case\": \"$case\", \"error\": \"$msg\", \"rc\": $rc}" >>"$RAW"
        echo "failed (rc $rc): $msg" | cut -c1-160
    fi
}

echo "meta loadavg_start $(cut -d' ' -f1-3 /proc/loadavg)" >"$WORK/meta.txt"
if [ "${BENCH_SGEMM:-1}" != 0 ]; then
    record librnn sgemm1 "$RNN" bench sgemm --threads 1 --reps "$REPS"
    record librnn sgemm2 "$RNN" bench sgemm --threads 2 --reps "$REPS"
fi
# the cores' own limits: the FMA peak, and the time to read B5's weights once on 2 threads
record librnn ceilings "$RNN" bench ceilings --threads 2 --reps "$REPS"
for c in $CASES; do
    eval "threads=\${RNN_THREADS_$c:-0} targs=\${TORCH_ARGS_$c:-} kargs=\${KERAS_ARGS_$c:-}"
    eval "rounds=\${BENCH_ROUNDS_$c:-$ROUNDS}"
    round=0
    while [ "$round" -lt "$rounds" ]; do
        round=$((round + 1))
        record librnn "$c" "$RNN" bench "$c" --threads "$threads" --reps "$REPS"
        for p in $PEERS; do
            if [ "$p" = torch ]; then
                # shellcheck disable=SC2086
                record pytorch "$c" "$PY" tools/bench_torch.py "$c" --reps "$REPS" $targs
            else
                # shellcheck disable=SC2086
                record keras "$c" "$PY" tools/bench_keras.py "$c" --reps "$REPS" $kargs
            fi
        done
    done
done

{
    echo "meta loadavg_end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "meta seconds $(($(date +%s) - start))"
    echo "meta date $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "meta cpu $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)"
    echo "meta cores $(nproc) ($(lscpu | sed -n 's/^Thread(s) per core: *//p') thread(s) per core)"
    echo "meta flags $(grep -o -w -E 'avx2|avx512f|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
    echo "meta caches $(lscpu | sed -n 's/^L2 cache: *//p'), L3 $(lscpu | sed -n 's/^L3 cache: *//p')"
    echo "meta memory $(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
    echo "meta os $(. /etc/os-release && echo "$PRETTY_NAME"), $(uname -r)"
    echo "meta cc $(${CC:-cc} --version | head -n 1)"
    echo "meta openblas_pkg $(dpkg-query -W -f '${Package} ${Version}' 'libopenblas0-pthread' 2>/dev/null)"
    echo "meta commit $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- src include 2>/dev/null || echo ' (src/ or include/ modified)')"
    [ -x "$PY" ] && echo "meta python $("$PY" --version 2>&1)"
    [ -x "$PY" ] && echo "meta numpy $("$PY" -c 'import numpy; print(numpy.__version__)' 2>/dev/null)"
    echo "meta rnn_threads B1=$RNN_THREADS_B1 B2=$RNN_THREADS_B2 B3=$RNN_THREADS_B3 B4=$RNN_THREADS_B4 B5=$RNN_THREADS_B5 B6=$RNN_THREADS_B6"
    echo "meta nice ${NICECMD:-(not reniced)}"
    echo "meta rounds $ROUNDS (B1: $BENCH_ROUNDS_B1)"
} >>"$WORK/meta.txt"

python3 - "$RAW" "$WORK/meta.txt" "$OUT" <<'EOF'
import json, sys

raw_path, meta_path, out_path = sys.argv[1:4]
rows = [json.loads(l) for l in open(raw_path) if l.strip()]
meta = {}
for line in open(meta_path):
    parts = line.rstrip("\n").split(" ", 2)
    if len(parts) == 3:
        meta[parts[1]] = parts[2]
for r in rows:  # the two sgemm runs differ by their thread count
    if r["case"] == "sgemm" and "threads" in r:
        r["case"] = f"sgemm{r['threads']}"
# Several rounds per (implementation, case): the median of each number over the rounds that
# ran (wall_s: their sum); a case reads as failed only when every round failed.
import statistics
groups = {}
for r in rows:
    groups.setdefault((r["impl"], r["case"]), []).append(r)
res, rounds_of = {}, {}
for key, rs in groups.items():
    good = [r for r in rs if "error" not in r]
    rounds_of[key] = (len(good), len(rs))
    if not good:
        res[key] = rs[-1]
        continue
    merged = dict(good[0])
    for k, v in good[0].items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            vals = [r[k] for r in good if isinstance(r.get(k), (int, float))]
            merged[k] = sum(vals) if k == "wall_s" else statistics.median(vals)
    res[key] = merged
IMPLS = [("librnn", "librnn"), ("pytorch", "PyTorch"), ("keras", "Keras")]
PEAK_CORE = 115.0  # FP32 GFLOP/s per core (issue 5), 227 for both cores

def get(impl, case, key):
    r = res.get((impl, case))
    return r.get(key) if r and "error" not in r else None

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

def speedup(case, key, higher_better, peer):
    a, b = get("librnn", case, key), get(peer, case, key)
    if a is None or b is None or a == 0 or b == 0:
        return None
    return a / b if higher_better else b / a

METRICS = {
    "B1": [("train_100_epochs_s", "s for 100 epochs", False), ("us_per_step", "us per step", False)],
    "B2": [("train_samples_per_s", "training samples/s", True),
           ("infer_b256_samples_per_s", "inference samples/s (batch 256)", True)],
    "B3": [("train_step_ms", "training step ms", False), ("tokens_per_s", "tokens/s", True)],
    "B4": [("forward_ms", "forward ms", False), ("train_step_ms", "forward+backward+Adam ms", False),
           ("forward_GFLOPs", "forward GFLOP/s", True), ("train_GFLOPs", "training GFLOP/s", True)],
    "B5": [("us_per_step", "us per step (median of 10,000)", False)],
    "B6": [("train_step_ms", "training step ms", False)],
}
TITLES = {
    "B1": "B1 airline: LSTM(4) -> Dense(1), (92, 3, 1), batch 1, 100 epochs (9,200 Adam steps)",
    "B2": "B2 sensor: LSTM(64) -> Dense(1), T=50, F=8, batch 32, one epoch of 10,240 samples",
    "B3": "B3 charrnn: Embedding(65,64) -> GRU(512) -> GRU(128) -> TimeDistributed(Dense(65)), batch 32, T=100",
    "B4": "B4 large: LSTM(512) on 512 features, T=100, batch 64, return_sequences, MSE on the outputs",
    "B5": "B5 stream: stateful LSTM(128) -> LSTM(128) -> Dense(1), 8 features, batch 1, one step per call",
    "B6": "B6 autoencoder: LSTM(100) -> RepeatVector(30) -> LSTM(100) -> TimeDistributed(Dense(4)), (64, 30, 4)",
}
cases = [c for c in METRICS if any((i, c) in res for i, _ in IMPLS)]

def versions():
    v = {}
    for r in rows:
        if r["impl"] == "pytorch" and "version" in r:
            v["torch"] = r["version"]
        if r["impl"] == "keras" and "version" in r:
            v["keras"], v["tensorflow"], v["backend"] = r["version"], r["tensorflow"], r["backend"]
        if r["impl"] == "librnn" and "version" in r:
            v["librnn"] = r["version"]
        if r["case"].startswith("sgemm") and "blas" in r:
            v["blas"] = r["blas"]
    return v

def threads_of(impl):
    seen = sorted({(r["case"], r.get("threads"), r.get("interop_threads")) for r in rows
                   if r["impl"] == impl and "error" not in r and not r["case"].startswith("sgemm")
                   and r["case"] != "ceilings"})
    if impl == "librnn":
        return ", ".join(f"{c} {t if t else 'default (2)'}" for c, t, _ in seen)
    if impl == "pytorch":
        return ", ".join(f"{c} {t}/{i}" for c, t, i in seen)
    return ", ".join(f"{c} {t or 'default'}/{i or 'default'}" for c, t, i in seen)

v = versions()
s1, s2 = get("librnn", "sgemm1", "sgemm_4096_GFLOPs"), get("librnn", "sgemm2", "sgemm_4096_GFLOPs")
L = []
w = L.append
w("# librnn benchmark results (issue 5)\n")
w(f"Written by `make bench` (bench/run.sh) on {meta.get('date', '?')}; the whole run took "
  f"{int(meta.get('seconds', 0)) // 60} min {int(meta.get('seconds', 0)) % 60} s. Each case ran "
  f"{meta.get('rounds', '?')} rounds, the three implementations' processes interleaved (librnn, "
  "PyTorch, Keras, librnn, ...), because this VM's speed drifts by tens of percent within "
  "minutes; each number is the median over the rounds of each process's median of the "
  "repetitions after a warm-up, float32, Adam(learning_rate=1e-3), the same "
  "seeded data in the three implementations (bench/README.md defines every case and metric). "
  "**Speed-up** columns say how many times faster librnn is than the peer (peer time / librnn "
  "time, or librnn rate / peer rate): above 1 librnn is faster. The memory ratio is librnn's peak "
  "resident memory over the peer's (below 1: librnn uses less).\n")
w("## Machine and software\n")
w("| | |\n|---|---|")
w(f"| CPU | {meta.get('cpu', '?')}, {meta.get('cores', '?')}; {meta.get('flags', '')}|")
w(f"| caches, memory | L2 {meta.get('caches', '?')}; {meta.get('memory', '?')} |")
w(f"| OS, compiler | {meta.get('os', '?')}; {meta.get('cc', '?')} |")
w(f"| load average before / after | {meta.get('loadavg_start', '?')} / {meta.get('loadavg_end', '?')} "
  f"(each process ran at `{meta.get('nice', '?')}`) |")
w(f"| FP32 peak (issue 5) | 115 GFLOP/s per core, 227 for both |")
f1, fn = get("librnn", "ceilings", "fma_GFLOPs_1"), get("librnn", "ceilings", "fma_GFLOPs_n")
w(f"| FP32 FMA rate measured (`rnn bench ceilings`: 12 independent 256-bit FMA chains, registers "
  f"only) | {fmt(f1)} GFLOP/s on 1 thread, {fmt(fn)} on 2 |")
w(f"| reading B5's weights once ({fmt(get('librnn', 'ceilings', 'b5_weights_kb'))} KB, half per "
  f"thread, from L2) | {fmt(get('librnn', 'ceilings', 'b5_read_us_n'))} us on 2 threads, "
  f"{fmt(get('librnn', 'ceilings', 'b5_read_barrier_us_n'))} us with a barrier per pass |")
w(f"| OpenBLAS sgemm 4096^3 | {fmt(s1)} GFLOP/s on 1 thread, {fmt(s2)} GFLOP/s on 2 threads |")
w(f"| librnn | {v.get('librnn', '?')}, commit {meta.get('commit', '?')}, `-O2`, "
  f"{v.get('blas', '?')} ({meta.get('openblas_pkg', '')}) |")
w(f"| PyTorch | {v.get('torch', 'not run')} (PyPI wheel, CPU; MKL + oneDNN inside) |")
w(f"| Keras | {v.get('keras', 'not run')}, backend {v.get('backend', '?')} "
  f"(tensorflow-cpu {v.get('tensorflow', '?')}) |")
w(f"| Python, numpy | {meta.get('python', '?')}, numpy {meta.get('numpy', '?')} |")
w("")
w("Thread settings (bench/README.md says how they were chosen):\n")
w(f"- librnn: threads per case (`rnn bench CASE --threads N` = rnn_set_threads: the step-loop team, "
  f"which also splits large products between its threads, each calling OpenBLAS single-threaded): "
  f"{threads_of('librnn')}")
w(f"- PyTorch, intra-op/inter-op threads as reported by `torch.get_num_threads()` and "
  f"`get_num_interop_threads()`: {threads_of('pytorch') or 'not run'} (2/2 is PyTorch's default "
  "here; 1 intra-op thread measured faster everywhere but B3)")
w(f"- Keras/TensorFlow, intra-op/inter-op pools: {threads_of('keras') or 'not run'} (default: "
  "TensorFlow sizes the pool; 1/1 measured faster for the batch-1 stream)\n")

w("## Results\n")
for c in cases:
    w(f"### {TITLES[c]}\n")
    err = res.get(("librnn", c), {}).get("error")
    if err:
        w(f"librnn: **failed** ({err.strip()}).\n")
    w("| metric | librnn | PyTorch | Keras | speed-up vs PyTorch | speed-up vs Keras |")
    w("|---|---:|---:|---:|---:|---:|")
    for key, label, hb in METRICS[c]:
        vals = [fmt(get(i, c, key)) for i, _ in IMPLS]
        sp = [speedup(c, key, hb, p) for p in ("pytorch", "keras")]
        w(f"| {label} | " + " | ".join(vals) + " | " +
          " | ".join("-" if x is None else f"{x:.2f}x" for x in sp) + " |")
    mem = [get(i, c, "peak_rss_mb") for i, _ in IMPLS]
    ratios = ["-" if mem[0] is None or m is None else f"{mem[0] / m:.3f}" for m in mem[1:]]
    w(f"| peak RSS MB | " + " | ".join(fmt(m) for m in mem) + " | " +
      f"memory ratio {ratios[0]} | memory ratio {ratios[1]} |")
    loads = [res.get((i, c), {}).get("loadavg_before") for i, _ in IMPLS]
    walls = [res.get((i, c), {}).get("wall_s") for i, _ in IMPLS]
    w(f"| 1-min load average before the run | " + " | ".join("-" if x is None else str(x) for x in loads) + " | | |")
    w(f"| process wall time s (all rounds) | " + " | ".join("-" if x is None else str(x) for x in walls) + " | | |")
    w(f"| rounds that ran (of those started) | " + " | ".join(
        "{}/{}".format(*rounds_of[(i, c)]) if (i, c) in rounds_of else "-" for i, _ in IMPLS) + " | | |")
    for i, name in IMPLS[1:]:
        e = res.get((i, c), {}).get("error")
        if e:
            w(f"\n{name} failed: {e}")
    spread = []
    for key, label, hb in METRICS[c]:
        parts = []
        for i, name in IMPLS:
            vals = [r[key] for r in groups.get((i, c), []) if "error" not in r and key in r]
            if len(vals) > 1:
                parts.append(f"{name} {fmt(min(vals))} to {fmt(max(vals))}")
        if parts:
            spread.append(f"{label}: " + ", ".join(parts))
    if spread:
        w("\nOver the rounds (min to max): " + "; ".join(spread) + ".")
    w("")

# ---- targets
w("## Targets of issue 5\n")
w("| case | target | measured | met |\n|---|---|---|---|")
def row(case, target, measured, ok):
    w(f"| {case} | {target} | {measured} | {'-' if ok is None else ('yes' if ok else '**no**')} |")
x = speedup("B1", "us_per_step", False, "pytorch")
row("B1", ">= 200x PyTorch per step", "-" if x is None else f"{x:.1f}x "
    f"({fmt(get('librnn', 'B1', 'us_per_step'))} vs {fmt(get('pytorch', 'B1', 'us_per_step'))} us)",
    None if x is None else x >= 200)
for key, label in (("train_samples_per_s", "training"), ("infer_b256_samples_per_s", "inference")):
    x = speedup("B2", key, True, "pytorch")
    row("B2", f">= 3x PyTorch {label} samples/s", "-" if x is None else f"{x:.2f}x",
        None if x is None else x >= 3)
x = speedup("B3", "tokens_per_s", True, "pytorch")
row("B3", ">= 1.5x PyTorch tokens/s", "-" if x is None else f"{x:.2f}x", None if x is None else x >= 1.5)
thr = get("librnn", "B4", "threads") or 2
peak = PEAK_CORE * thr if thr == 1 else 227.0
f = get("librnn", "B4", "forward_GFLOPs")
t = get("librnn", "B4", "train_GFLOPs")
x = speedup("B4", "train_step_ms", False, "pytorch")
# the FMA rate measured on the cores B4 used: what "peak" can mean on this machine
mpeak = get("librnn", "ceilings", "fma_GFLOPs_1" if thr == 1 else "fma_GFLOPs_n")
of_measured = lambda g: "" if mpeak is None else f", {100 * g / mpeak:.1f}% of the measured {mpeak:.0f}"
row("B4", f">= 85% of FP32 peak forward ({0.85 * peak:.0f} of {peak:.0f} GFLOP/s)",
    "-" if f is None else f"{f:.1f} GFLOP/s = {100 * f / peak:.1f}% of peak" + of_measured(f),
    None if f is None else f >= 0.85 * peak)
row("B4", f">= 80% of peak training ({0.8 * peak:.0f} GFLOP/s) and >= 1.25x PyTorch",
    "-" if t is None else f"{t:.1f} GFLOP/s = {100 * t / peak:.1f}% of peak" + of_measured(t)
    + "; " + ("-" if x is None else f"{x:.2f}x PyTorch"),
    None if t is None or x is None else (t >= 0.8 * peak and x >= 1.25))
u = get("librnn", "B5", "us_per_step")
rd = get("librnn", "ceilings", "b5_read_barrier_us_n")
row("B5", "<= 5 us per step", "-" if u is None else f"{u:.2f} us"
    + ("" if rd is None else f" (reading the weights once with one barrier: {rd:.2f} us)"),
    None if u is None else u <= 5)
x = speedup("B6", "train_step_ms", False, "pytorch")
row("B6", ">= 3x PyTorch (training step)", "-" if x is None else f"{x:.2f}x", None if x is None else x >= 3)
slower = []
checked = 0
for c in cases:
    for key, label, hb in METRICS[c]:
        x = speedup(c, key, hb, "keras")
        if x is not None:
            checked += 1
            if x <= 1:
                slower.append(f"{c} {label} ({x:.2f}x)")
row("all", "faster than Keras on every case",
    f"{checked - len(slower)} of {checked} metrics faster" + (f"; slower: {', '.join(slower)}" if slower else ""),
    None if not checked else not slower)
worse = []
checked = 0
for c in cases:
    a, b = get("librnn", c, "peak_rss_mb"), get("pytorch", c, "peak_rss_mb")
    if a is not None and b is not None:
        checked += 1
        if a >= b:
            worse.append(c)
row("all", "peak memory below PyTorch's", f"{checked - len(worse)} of {checked} cases below"
    + (f"; not below: {', '.join(worse)}" if worse else ""), None if not checked else not worse)
w("")
w("## Raw results\n")
w("The JSON lines the three implementations printed, in run order:\n")
w("```")
for r in rows:
    w(json.dumps(r))
w("```")
open(out_path, "w").write("\n".join(L) + "\n")
print(f"bench: wrote {out_path}")
EOF
