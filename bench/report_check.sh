#!/bin/sh
# Checks bench/report.py's choices on made-up JSON lines (no benchmark runs): each peer's best
# configuration per metric (lowest time, highest rate, medians over rounds), the speed-up against
# the best peer, a failed configuration and a missing peer named, the issue 18 targets. Not part of
# `make test` (it needs python3); run it after changing the report: sh bench/report_check.sh
set -u
cd "$(dirname "$0")/.."
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
cat >"$dir/raw.jsonl" <<'EOF'
{"impl": "librnn", "case": "ceilings", "threads": 2, "fma_GFLOPs_1": 200.0, "fma_GFLOPs_n": 400.0, "fma256_GFLOPs_1": 100.0, "fma256_GFLOPs_n": 200.0, "fma512_GFLOPs_1": 200.0, "fma512_GFLOPs_n": 400.0, "b5_weights_kb": 789, "b5_read_us_n": 3.5, "b5_read_barrier_us_n": 4.0, "peak_rss_mb": 10, "config": ""}
{"impl": "rtneural", "config": "B5", "case": "*", "missing": "RTNeural is not packaged: set RTNEURAL_DIR"}
{"impl": "librnn", "version": "0.1.0", "case": "B4", "threads": 2, "forward_ms": 100.0, "train_step_ms": 300.0, "forward_GFLOPs": 268.0, "train_GFLOPs": 268.0, "peak_rss_mb": 100, "config": "threads 2", "loadavg_before": 0.5, "wall_s": 3}
{"impl": "pytorch", "version": "1.13", "case": "B4", "forward_ms": 200.0, "train_step_ms": 500.0, "forward_GFLOPs": 134.0, "train_GFLOPs": 160.8, "peak_rss_mb": 300, "config": "debian t1", "loadavg_before": 0.5, "wall_s": 10}
{"impl": "pytorch", "version": "1.13", "case": "B4", "forward_ms": 150.0, "train_step_ms": 600.0, "forward_GFLOPs": 178.7, "train_GFLOPs": 134.0, "peak_rss_mb": 250, "config": "debian t2", "loadavg_before": 0.5, "wall_s": 10}
{"impl": "pytorch", "version": "2.15", "case": "B4", "forward_ms": 400.0, "train_step_ms": 440.0, "forward_GFLOPs": 67.0, "train_GFLOPs": 182.7, "peak_rss_mb": 600, "config": "pypi t1", "loadavg_before": 0.5, "wall_s": 10}
{"impl": "onednn", "version": "2.6.3", "case": "B4", "forward_ms": 90.0, "train_step_ms": 310.0, "fwd_bwd_ms": 290.0, "forward_GFLOPs": 297.8, "train_GFLOPs": 259.4, "peak_rss_mb": 90, "config": "omp2", "loadavg_before": 0.5, "wall_s": 5}
{"impl": "onednn", "version": "2.6.3", "case": "B4", "forward_ms": 180.0, "train_step_ms": 600.0, "fwd_bwd_ms": 590.0, "forward_GFLOPs": 148.9, "train_GFLOPs": 134.0, "peak_rss_mb": 95, "config": "omp1", "loadavg_before": 0.5, "wall_s": 5}
{"impl": "keras", "config": "pools1/1", "case": "B4", "error": "boom", "rc": 1}
{"impl": "librnn", "version": "0.1.0", "case": "B4", "threads": 2, "forward_ms": 120.0, "train_step_ms": 320.0, "forward_GFLOPs": 223.0, "train_GFLOPs": 251.0, "peak_rss_mb": 100, "config": "threads 2", "loadavg_before": 0.5, "wall_s": 3}
{"impl": "pytorch", "version": "1.13", "case": "B4", "forward_ms": 160.0, "train_step_ms": 500.0, "forward_GFLOPs": 167.5, "train_GFLOPs": 160.8, "peak_rss_mb": 250, "config": "debian t2", "loadavg_before": 0.5, "wall_s": 10}
{"impl": "librnn", "version": "0.1.0", "case": "B5", "threads": 2, "us_per_step": 6.0, "peak_rss_mb": 17, "config": "threads 2", "loadavg_before": 0.5, "wall_s": 1}
{"impl": "librnn", "version": "0.1.0", "case": "B5", "threads": 1, "precision": "f32", "us_per_step": 5.5, "peak_rss_mb": 17, "config": "precision f32 t1", "loadavg_before": 0.5, "wall_s": 1}
{"impl": "librnn", "version": "0.1.0", "case": "B5", "threads": 1, "precision": "int8", "us_per_step": 2.5, "peak_rss_mb": 17, "config": "precision int8 t1", "loadavg_before": 0.5, "wall_s": 1}
{"impl": "librnn", "version": "0.1.0", "case": "B5", "threads": 2, "precision": "bf16", "us_per_step": 3.5, "peak_rss_mb": 17, "config": "precision bf16 t2", "loadavg_before": 0.5, "wall_s": 1}
{"impl": "rtneural", "version": "x", "case": "B5", "us_per_step": 5.0, "peak_rss_mb": 12, "config": "eigen t1", "loadavg_before": 0.5, "wall_s": 1}
{"impl": "librnn", "version": "0.1.0", "case": "B2", "threads": 2, "precision": "int8", "infer_b256_samples_per_s": 100000, "infer_b256_reduced_samples_per_s": 140000, "reduced_speedup": 1.4, "peak_rss_mb": 30, "config": "precision int8 t2", "loadavg_before": 0.5, "wall_s": 1}
EOF
printf 'meta seconds 100\nmeta date test\nmeta rounds 2 (B1: 1)\n' >"$dir/meta.txt"
python3 bench/report.py "$dir/raw.jsonl" "$dir/meta.txt" "$dir/out.md" >/dev/null || exit 1
fails=0
expect() { # expect 'exact line fragment' what
    if ! grep -F -q -- "$1" "$dir/out.md"; then
        echo "report_check: FAILED: $2: no line with: $1"
        fails=$((fails + 1))
    fi
}
# librnn's median of 100 and 120 is 110; PyTorch's debian t2 median of 150 and 160 is 155, its best
expect '| forward ms | 110.0 | 155.0 (debian t2) | - | 90.00 (omp2) | - | oneDNN omp2 | 0.82x |' \
    "best time per peer, speed-up against the best peer"
expect '| forward+backward+Adam ms | 310.0 | 440.0 (pypi t1) |' "another metric, another configuration"
expect '| training GFLOP/s | 259.5 | 182.7 (pypi t1) |' "a rate: the highest"
expect '| peak RSS MB (each peer'"'"'s lowest) | 100.0 | 250.0 (debian t2) |' "memory: the lowest"
expect '- RTNeural B5: RTNeural is not packaged: set RTNEURAL_DIR' "a missing peer is named"
expect 'Failed: Keras pools1/1: boom.' "a failed configuration is named"
expect '| B4 | >= 1.0x oneDNN'"'"'s forward + backward primitives (librnn'"'"'s step includes Adam) | 0.94x oneDNN omp2 (310.0 vs 290.0 ms) | **no** |' \
    "the oneDNN forward+backward target"
expect '(360.0 of 400.0 GFLOP/s on 2 threads), forward | 245.5 GFLOP/s = 61.4% | **no** |' \
    "the FMA-peak target uses the larger (512-bit) rate"
expect '| B4 | >= 1.5x the best PyTorch, training step | 1.42x PyTorch pypi t1 (310.0 vs 440.0) | **no** |' \
    "the PyTorch-only target ignores oneDNN"
expect '| PyTorch | debian t2 | 155.0 [150.0-160.0] |' "the appendix gives the range over the rounds"
expect '| us per step (median of 10,000) | 6.000 |' "reduced-precision runs stay out of the float32 column"
expect '| B5 | <= 5 us per step, float32 (librnn'"'"'s better thread count) | 5.50 us (1 thread; 6.000 on the other) | **no** |' \
    "the float32 B5 target takes librnn's better thread count"
expect '| B5 | <= 3 us per step with bf16 or int8 weights, and ahead of RTNeural'"'"'s float32 step | 2.500 us (int8 t1); RTNeural 5.000 us | yes |' \
    "the reduced-precision B5 target: the best bf16/int8 configuration"
expect '| B2 | inference (batch 256) >= 1.5x librnn'"'"'s own float32, int8 t2 | 1.40x' "the B2 reduced-precision target"
expect '{"impl": "librnn", "version": "0.1.0", "case": "B5", "threads": 1, "precision": "int8"' "raw lines unchanged"
# with bench/run.sh's ceilings next to B4 and B5 in each round, those two targets take each round's
# value against the ceiling measured just before it (the median of the rounds)
{
    echo '{"impl": "librnn", "case": "ceilings", "threads": 2, "fma_GFLOPs_n": 300.0, "b5_read_barrier_us_n": 5.0, "config": "next to B4"}'
    echo '{"impl": "librnn", "case": "ceilings", "threads": 2, "fma_GFLOPs_n": 240.0, "b5_read_barrier_us_n": 5.0, "config": "next to B4"}'
    echo '{"impl": "librnn", "case": "ceilings", "threads": 2, "fma_GFLOPs_n": 400.0, "b5_read_barrier_us_n": 5.0, "config": "next to B5"}'
    cat "$dir/raw.jsonl"
} >"$dir/raw2.jsonl"
python3 bench/report.py "$dir/raw2.jsonl" "$dir/meta.txt" "$dir/out.md" >/dev/null || exit 1
expect 'forward; median of the rounds | 91.1% (rounds: 268.0 of 300.0 GFLOP/s = 89.3%, 223.0 of 240.0 GFLOP/s = 92.9%; against the run'"'"'s first peak 400.0: 61.4%) | yes |' \
    "the FMA-peak target per round, against the peak measured next to B4"
expect 'median of the rounds | 1.20x (rounds: 6.000 vs 5.000 us = 1.20x; against the run'"'"'s first floor 4.000 us: 1.50x) | yes |' \
    "the read-floor target per round, against the floor measured next to B5"
[ $fails = 0 ] && echo "report_check: all checks passed"
exit $fails
