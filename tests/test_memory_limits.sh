#!/bin/sh
# Every command of the rnn tool under address-space limits of 64, 128 and 256 MB (ulimit -v):
# each must either work or exit 1 with a clear "out of memory" message, within 60 seconds.
# OpenBLAS's start-up once spun forever at 100 % CPU under such limits (cli/main.c restarts
# the tool with one OpenBLAS thread when a limit is set), and so did its first large product,
# whose 128 MB work buffer it retries forever (src/kernels/gemm.c, blas_may_allocate): the
# commands that compute run a second time on OpenBLAS's SSE3 kernels (OPENBLAS_CORETYPE=Prescott),
# where even this small model's products take that buffer.
set -u
rnn=build/rnn
[ -x "$rnn" ] || { echo "test_memory_limits: $rnn not built" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
M=tests/fixtures/keras_files/k3_sequential_bidirectional_stack
C=tests/fixtures/cli
fail=0 runs=0
for limit_mb in 64 128 256; do
    kb=$((limit_mb * 1024))
    while IFS='|' read -r name envs args; do
        [ -n "$name" ] || continue
        runs=$((runs + 1))
        start=$(date +%s)
        # shellcheck disable=SC2086
        sh -c "ulimit -v $kb && exec timeout -s KILL ${RNN_MEMTEST_TIMEOUT:-60} env $envs $rnn $args" >"$tmp/out" 2>"$tmp/err" </dev/null
        rc=$?
        took=$(( $(date +%s) - start ))
        if [ $rc -eq 0 ]; then
            continue
        elif [ $rc -eq 1 ] && grep -qi "out of memory" "$tmp/err"; then
            continue
        fi
        echo "test_memory_limits: ${envs:+$envs }rnn $name under ${limit_mb} MB: exit $rc after ${took} s" >&2
        head -5 "$tmp/err" | sed 's/^/    /' >&2
        fail=1
    done <<LIST
version||version
help||--help
demo||demo --epochs 3 --no-plot --quiet
summary||summary $M/model.keras
predict||predict $M/model.keras --input $M/x.npy --output $tmp/y.npy
fit||fit $C/lstm_compiled.keras --x $C/x.npy --y $C/y.npy --epochs 2 --verbose 0 --output $tmp/f.keras
convert||convert $C/lstm_compiled.keras $tmp/c.h5
bench||bench B1 --reps 5
demo|OPENBLAS_CORETYPE=Prescott|demo --epochs 3 --no-plot --quiet
predict|OPENBLAS_CORETYPE=Prescott|predict $M/model.keras --input $M/x.npy --output $tmp/y.npy
fit|OPENBLAS_CORETYPE=Prescott|fit $C/lstm_compiled.keras --x $C/x.npy --y $C/y.npy --epochs 2 --verbose 0 --output $tmp/f.keras
bench|OPENBLAS_CORETYPE=Prescott|bench B1 --reps 5
LIST
done
[ $fail = 0 ] && echo "test_memory_limits: $runs runs (12 commands x 3 limits) worked or said 'out of memory'"
exit $fail
