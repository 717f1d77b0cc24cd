#!/bin/sh
# The benchmark suite of issues 5 and 18 in one run: every case for librnn (build/rnn bench) and
# for every configuration of every peer a user could reasonably pick, one process at a time
# (never two at once on this 2-core machine); then bench/RESULTS.md is written from the JSON
# lines: per case and metric each peer's best configuration, the speed-ups against the best
# peer, issue 18's targets, and an appendix with every configuration. Called by `make bench`.
#
# Peers and their configurations (bench/README.md, "Peers and configurations"):
#   pytorch   Debian's python3-torch (/usr/bin/python3) and the PyPI wheel (.venv-bench), each
#             with 1 and 2 intra-op threads and its defaults (and Debian's again as
#             "debian+CORE" with OPENBLAS_CORETYPE=CORE where its OpenBLAS does not know the CPU
#             and librnn chose CORE for it; see BLAS_CORE_FIX below); OMP_NUM_THREADS,
#             OPENBLAS_NUM_THREADS and MKL_NUM_THREADS set to the same number (unset for the
#             defaults) - tools/bench_torch.py
#   keras     Keras 3 on TensorFlow (.venv-bench), intra-op/inter-op pools 1/1, 2/2 and
#             TensorFlow's defaults - tools/bench_keras.py
#   onednn    oneDNN's RNN primitives from C (bench/peers/onednn_rnn.c, Debian's libdnnl-dev) for
#             B2's inference, B3's GRU layers and B4, OMP_NUM_THREADS=1 and 2
#   rtneural  RTNeural's LSTM for B5 (bench/peers/rtneural_b5.cpp), one thread; built only when
#             RTNEURAL_DIR points at an RTNeural checkout (it is not packaged)
# A peer that is not installed is reported as missing, with the reason, not left out silently.
#
# Environment:
#   BENCH_CASES   cases to run (default "B1 B2 B3 B4 B5 B6")
#   BENCH_REPS    timed repetitions per metric, median reported (default 5, at least 5)
#   BENCH_ROUNDS  processes per case and configuration, interleaved (librnn, every peer
#                 configuration, librnn, ...) so that this VM's speed, which drifts by tens of
#                 percent within minutes, hits all alike; the report gives the median of the
#                 rounds (default 2; BENCH_ROUNDS_B1 default 1: B1's ratio is in the hundreds
#                 and its peer processes take about a minute each)
#   BENCH_PEERS   "torch keras onednn rtneural" (default), a subset, or "" for librnn only
#   BENCH_TORCH   PyTorch builds (default "debian pypi"); BENCH_TORCH_THREADS (default
#                 "1 2 default"); BENCH_KERAS_POOLS (default "1/1 2/2 default");
#                 BENCH_ONEDNN_THREADS (default "1 2")
#   BENCH_OUT     the report (default bench/RESULTS.md)
#   BENCH_RNN     the rnn tool (default build/rnn); BENCH_PEERS_DIR the C/C++ peers
#                 (default build/peers, built by `make bench-peers`)
#   BENCH_NICE    run each process at nice -N when root (default 15; 0: off), so that other work
#                 on a shared machine disturbs the timings less
#   BENCH_VENV    the PyPI peers' virtual environment (default .venv-bench; created by
#                 tools/setup_bench_env.sh when missing)
#   BENCH_DEBIAN_PY  Debian's interpreter with python3-torch (default /usr/bin/python3)
set -u
cd "$(dirname "$0")/.."

CASES=${BENCH_CASES:-B1 B2 B3 B4 B5 B6}
REPS=${BENCH_REPS:-5}
ROUNDS=${BENCH_ROUNDS:-2}
BENCH_ROUNDS_B1=${BENCH_ROUNDS_B1:-1}
PEERS=${BENCH_PEERS-torch keras onednn rtneural}
TORCH_BUILDS=${BENCH_TORCH-debian pypi}
TORCH_THREADS=${BENCH_TORCH_THREADS-1 2 default}
KERAS_POOLS=${BENCH_KERAS_POOLS-1/1 2/2 default}
ONEDNN_THREADS=${BENCH_ONEDNN_THREADS-1 2}
OUT=${BENCH_OUT:-bench/RESULTS.md}
VENV=${BENCH_VENV:-.venv-bench}
PY="$VENV/bin/python"
DEBPY=${BENCH_DEBIAN_PY:-/usr/bin/python3}
RNN=${BENCH_RNN:-build/rnn}
PEERS_DIR=${BENCH_PEERS_DIR:-$(dirname "$RNN")/peers}
WORK=$(dirname "$RNN")/bench
RAW=$WORK/results.jsonl
LIMIT=600 # seconds per process
NICE=${BENCH_NICE:-15}
NICECMD=""
if [ "$NICE" != 0 ] && [ "$(id -u)" = 0 ]; then NICECMD="nice -n -$NICE"; fi
THREAD_VARS="OMP_NUM_THREADS OPENBLAS_NUM_THREADS MKL_NUM_THREADS"

# librnn's threads per case (rnn_set_threads: the step-loop team, which also splits the large
# products between its threads, each calling OpenBLAS single-threaded); 1 for B1, whose steps are
# too small to share; 2 elsewhere (bench/README.md, "Threads")
RNN_THREADS_B1=${RNN_THREADS_B1:-1}
RNN_THREADS_B2=${RNN_THREADS_B2:-2}
RNN_THREADS_B3=${RNN_THREADS_B3:-2}
RNN_THREADS_B4=${RNN_THREADS_B4:-2}
RNN_THREADS_B5=${RNN_THREADS_B5:-2}
RNN_THREADS_B6=${RNN_THREADS_B6:-2}

mkdir -p "$WORK"
: >"$RAW"
start=$(date +%s)

if [ ! -x "$RNN" ]; then
    echo "bench: $RNN is missing; run make first" >&2
    exit 1
fi

# missing IMPL CONFIG REASON: a peer configuration that cannot run here, named in the report.
missing() {
    reason=$(printf '%s' "$3" | sed 's/\\/\\\\/g; s/"/\\"/g')
    echo "{\"impl\": \"$1\", \"config\": \"$2\", \"case\": \"*\", \"missing\": \"$reason\"}" >>"$RAW"
    echo "bench: missing: $1 $2: $3"
}
has_peer() { case " $PEERS " in *" $1 "*) return 0 ;; esac; return 1; }

# Which peers can run: each missing one is recorded with the reason instead of being dropped.
TORCH_RUN=""
if has_peer torch || has_peer keras; then
    if has_peer torch && case " $TORCH_BUILDS " in *" debian "*) true ;; *) false ;; esac; then
        if "$DEBPY" -c "import torch" >/dev/null 2>&1; then
            TORCH_RUN="debian"
        else
            missing pytorch debian "Debian's python3-torch is not installed for $DEBPY (scripts/deps.sh with BENCH=1 installs it as root: make bench does)"
        fi
    fi
    pypi_ok=0
    if "$PY" -c "import torch, keras, tensorflow" >/dev/null 2>&1; then
        pypi_ok=1
    else
        echo "bench: setting up the PyPI peers' environment $VENV (tools/setup_bench_env.sh)"
        BENCH_VENV="$VENV" sh tools/setup_bench_env.sh && pypi_ok=1
    fi
    if [ $pypi_ok = 1 ]; then
        case " $TORCH_BUILDS " in *" pypi "*) has_peer torch && TORCH_RUN="$TORCH_RUN pypi" ;; esac
    else
        has_peer torch && missing pytorch pypi "the PyPI environment $VENV could not be set up (tools/setup_bench_env.sh; needs PyPI)"
        has_peer keras && missing keras all "the PyPI environment $VENV could not be set up (tools/setup_bench_env.sh; needs PyPI)"
        PEERS=$(echo " $PEERS " | sed 's/ keras / /')
    fi
fi
# Debian's OpenBLAS falls back to its SSE3 kernels on CPUs newer than its release; the rnn tool
# then picks the kernels the CPU can run first in main (rnn_blas_upgrade_kernels,
# src/kernels/blas_core.c; `rnn --version` says so). Debian's PyTorch runs its products on the same OpenBLAS, so it gets the same choice as one
# more configuration, "debian+CORE" (OPENBLAS_CORETYPE=CORE), a setting its users can make too.
BLAS_CORE_FIX=$("$RNN" --version 2>/dev/null | sed -n 's/^BLAS core: *\([A-Za-z0-9]*\) (chosen by librnn.*/\1/p')
case " $TORCH_RUN " in *" debian "*) [ -n "$BLAS_CORE_FIX" ] && TORCH_RUN="$TORCH_RUN debian+$BLAS_CORE_FIX" ;; esac

if has_peer onednn && [ ! -x "$PEERS_DIR/onednn_rnn" ]; then
    missing onednn all "$(cat "$PEERS_DIR/onednn_rnn.missing" 2>/dev/null || echo "$PEERS_DIR/onednn_rnn was not built (make bench-peers; needs Debian's libdnnl-dev)")"
    PEERS=$(echo " $PEERS " | sed 's/ onednn / /')
fi
if has_peer rtneural && [ ! -x "$PEERS_DIR/rtneural_b5" ]; then
    missing rtneural B5 "$(cat "$PEERS_DIR/rtneural_b5.missing" 2>/dev/null || echo "RTNeural is not packaged in Debian or PyPI: set RTNEURAL_DIR to an RTNeural checkout (make bench RTNEURAL_DIR=...)")"
    PEERS=$(echo " $PEERS " | sed 's/ rtneural / /')
fi

# record IMPL CONFIG CASE COMMAND...: runs one process, appends its JSON line (or the error) to
# $RAW with the configuration's name.
record() {
    impl=$1 config=$2 case=$3
    shift 3
    printf 'bench: %-8s %-15s %-5s ' "$impl" "$config" "$case"
    t0=$(date +%s)
    load=$(cut -d' ' -f1 /proc/loadavg) # others' work on the machine shows here
    # shellcheck disable=SC2086
    timeout "$LIMIT" $NICECMD "$@" >"$WORK/out.txt" 2>"$WORK/err.txt"
    rc=$?
    line=$(grep '^{' "$WORK/out.txt" | tail -n 1)
    if [ $rc -eq 0 ] && [ -n "$line" ]; then
        line=$(echo "$line" | sed "s|}\$|, \"config\": \"$config\", \"loadavg_before\": $load, \"wall_s\": $(($(date +%s) - t0))}|")
        echo "$line" >>"$RAW"
        echo "($(($(date +%s) - t0)) s) $line" | cut -c1-150
    else
        msg=$(grep -v -i -E '^(W|I)0000|oneDNN|cuda' "$WORK/err.txt" | tail -n 1 |
              sed 's/\\/\\\\/g; s/"/\\"/g')
        [ $rc -eq 124 ] && msg="timed out after $LIMIT s"
        echo "{\"impl\": \"$impl\", \"config\": \"$config\", \"case\": \"$case\", \"error\": \"$msg\", \"rc\": $rc}" >>"$RAW"
        echo "failed (rc $rc): $msg" | cut -c1-150
    fi
}

# threads_env N: the env arguments that give every thread pool N threads (N = default: unset)
threads_env() {
    if [ "$1" = default ]; then
        for v in $THREAD_VARS; do printf ' -u %s' "$v"; done
    else
        for v in $THREAD_VARS; do printf ' %s=%s' "$v" "$1"; done
    fi
}

# peer_round CASE: one process of every peer configuration for the case
peer_round() {
    c=$1
    for p in $PEERS; do
        case $p in
            torch)
                for b in $TORCH_RUN; do
                    py=$PY core=""
                    case $b in debian*) py=$DEBPY ;; esac
                    case $b in debian+*) core="OPENBLAS_CORETYPE=${b#debian+}" ;; esac
                    for t in $TORCH_THREADS; do
                        targ="" lab=default
                        [ "$t" != default ] && targ="--threads $t" lab="t$t"
                        # shellcheck disable=SC2046,SC2086
                        record pytorch "$b $lab" "$c" env $(threads_env "$t") $core "$py" tools/bench_torch.py "$c" --reps "$REPS" $targ
                    done
                done ;;
            keras)
                for k in $KERAS_POOLS; do
                    kargs="" lab=default
                    [ "$k" != default ] && kargs="--threads ${k%/*} --interop ${k#*/}" lab="pools$k"
                    # shellcheck disable=SC2086
                    record keras "$lab" "$c" "$PY" tools/bench_keras.py "$c" --reps "$REPS" $kargs
                done ;;
            onednn)
                case $c in B2|B3|B4)
                    for t in $ONEDNN_THREADS; do
                        # shellcheck disable=SC2046
                        record onednn "omp$t" "$c" env $(threads_env "$t") "$PEERS_DIR/onednn_rnn" "$c" --reps "$REPS"
                    done ;;
                esac ;;
            rtneural)
                [ "$c" = B5 ] && record rtneural "eigen t1" "$c" "$PEERS_DIR/rtneural_b5" --reps "$REPS" ;;
        esac
    done
}

# precision_round CASE: librnn's reduced-precision inference (issue 19, rnn_set_precision), as
# configurations "precision P tN" that the report keeps apart from the float32 table: B5's step in
# float32 on one thread too and in bf16 and int8 on one and two threads (a user picks the thread
# count); B2's inference in bf16 and int8 alternating with float32 in one process.
B5_PRECISIONS=${B5_PRECISIONS:-f32:1 bf16:1 bf16:2 int8:1 int8:2}
B2_PRECISIONS=${B2_PRECISIONS:-bf16:2 int8:2}
precision_round() {
    case $1 in
        B5) list=$B5_PRECISIONS ;;
        B2) list=$B2_PRECISIONS ;;
        *) return 0 ;;
    esac
    for pt in $list; do
        record librnn "precision ${pt%:*} t${pt#*:}" "$1" "$RNN" bench "$1" --threads "${pt#*:}" \
            --reps "$REPS" --precision "${pt%:*}"
    done
}

echo "meta loadavg_start $(cut -d' ' -f1-3 /proc/loadavg)" >"$WORK/meta.txt"
if [ "${BENCH_SGEMM:-1}" != 0 ]; then
    record librnn "" sgemm1 "$RNN" bench sgemm --threads 1 --reps "$REPS"
    record librnn "" sgemm2 "$RNN" bench sgemm --threads 2 --reps "$REPS"
fi
# the cores' own limits: the FMA peak (256- and 512-bit), and the time to read B5's weights once
record librnn "" ceilings "$RNN" bench ceilings --threads 2 --reps "$REPS"
for c in $CASES; do
    eval "threads=\${RNN_THREADS_$c:-0}"
    eval "rounds=\${BENCH_ROUNDS_$c:-$ROUNDS}"
    round=0
    while [ "$round" -lt "$rounds" ]; do
        round=$((round + 1))
        # the two targets that are fractions of a ceiling (B4's forward against the FMA peak, B5's
        # step against the read floor) get the ceiling measured just before them in each round: the
        # VM's speed drifts within minutes, so the run's first ceiling is not the one B4 or B5 met
        case $c in B4|B5)
            record librnn "next to $c" ceilings "$RNN" bench ceilings --threads 2 --reps "$REPS" ;;
        esac
        record librnn "threads $threads" "$c" "$RNN" bench "$c" --threads "$threads" --reps "$REPS"
        precision_round "$c"
        peer_round "$c"
    done
done

{
    echo "meta loadavg_end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "meta seconds $(($(date +%s) - start))"
    echo "meta date $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "meta cpu $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)"
    echo "meta cores $(nproc) ($(lscpu | sed -n 's/^Thread(s) per core: *//p') thread(s) per core)"
    echo "meta flags $(grep -o -w -E 'avx2|avx512f|avx512_bf16|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
    echo "meta caches $(lscpu | sed -n 's/^L2 cache: *//p'), L3 $(lscpu | sed -n 's/^L3 cache: *//p')"
    echo "meta memory $(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
    echo "meta os $(. /etc/os-release && echo "$PRETTY_NAME"), $(uname -r)"
    echo "meta cc $(${CC:-cc} --version | head -n 1)"
    echo "meta openblas_pkg $(dpkg-query -W -f '${Package} ${Version}' 'libopenblas0-pthread' 2>/dev/null)"
    echo "meta torch_debian_pkg $(dpkg-query -W -f '${Package} ${Version}' python3-torch 2>/dev/null)"
    echo "meta dnnl_pkg $(dpkg-query -W -f '${Package} ${Version}' libdnnl-dev 2>/dev/null)"
    echo "meta eigen_pkg $(dpkg-query -W -f '${Package} ${Version}' libeigen3-dev 2>/dev/null)"
    echo "meta rtneural $(cat "$PEERS_DIR/rtneural_b5.version" 2>/dev/null)"
    echo "meta commit $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- src include 2>/dev/null || echo ' (src/ or include/ modified)')"
    [ -x "$PY" ] && echo "meta python $("$PY" --version 2>&1)"
    [ -x "$PY" ] && echo "meta numpy $("$PY" -c 'import numpy; print(numpy.__version__)' 2>/dev/null)"
    [ -x "$DEBPY" ] && echo "meta debian_python $("$DEBPY" --version 2>&1), numpy $("$DEBPY" -c 'import numpy; print(numpy.__version__)' 2>/dev/null)"
    echo "meta nice ${NICECMD:-(not reniced)}"
    echo "meta rounds $ROUNDS (B1: $BENCH_ROUNDS_B1)"
} >>"$WORK/meta.txt"

python3 bench/report.py "$RAW" "$WORK/meta.txt" "$OUT"
