#!/bin/sh
# Runs each libFuzzer harness for a fixed time and prints, per harness, the executions done and
# whether it crashed. Usage: scripts/fuzz.sh BUILD_DIR SECONDS HARNESS...
#
# Limits: 512 MB of memory and 10 s per input, so that unbounded allocations and hangs count as
# crashes (issue 14).
#
# Each harness starts from its committed seed corpus fuzz/corpus/NAME/ (and the inputs that once
# crashed it, tests/fixtures/regress/NAME/, which `make test` replays too) and grows a working corpus
# in BUILD_DIR/fuzz-work/NAME/corpus (kept between runs, so a long campaign can be resumed);
# crashing inputs go to BUILD_DIR/fuzz-work/NAME/.
#
# fuzz_keras and fuzz_h5 drive libhdf5, which crashes on some hostile files; rnn_load contains
# that by reading model files in the reader program rnn-reader (src/io/untrusted_parse.c). Those two run with
# -fork=1 -ignore_crashes=1, and each crash is replayed and classified by its first stack frame
# in either libhdf5/libzip or librnn's sources: inside libhdf5/libzip (contained by rnn_load's reader program; add the input to
# tests/fixtures/regress/ so test_untrusted_parse proves it) or inside librnn (a bug: fails).
# A crash in any other harness fails.
set -u
build=$1 seconds=$2
shift 2
status=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for name in "$@"; do
    bin=$build/fuzz/$name
    work=$build/fuzz-work/$name
    mkdir -p "$work/corpus"
    log=$work/last.log
    case $name in
    fuzz_keras | fuzz_h5)
        mode="-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1"
        # libhdf5 asks malloc for sizes read from the file (up to 2^62 bytes) and handles a
        # NULL answer as an error, as it gets from glibc; ASan would otherwise stop there.
        # Its own leaks on error paths are suppressed (fuzz/lsan_hdf5.supp says why).
        export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
        export LSAN_OPTIONS=suppressions=$(pwd)/fuzz/lsan_hdf5.supp
        ;;
    *)
        mode=""
        export ASAN_OPTIONS=detect_leaks=1
        unset LSAN_OPTIONS
        ;;
    esac
    # Inputs that once crashed this harness run first, as seeds: a regression stops the run.
    regress=tests/fixtures/regress/$name
    [ -d "$regress" ] || regress=
    rm -f "$work"/crash-* "$work"/oom-* "$work"/timeout-* "$work"/leak-*
    start=$(date +%s)
    # shellcheck disable=SC2086
    "$bin" $mode -max_total_time="$seconds" -timeout=10 -rss_limit_mb=512 -close_fd_mask=3 \
        -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" "fuzz/corpus/$name" $regress \
        >"$log" 2>&1
    rc=$?
    took=$(( $(date +%s) - start ))
    if [ -n "$mode" ]; then
        # fork mode: the last status line, "#N: cov: ... oom/timeout/crash: a/b/c time: ..."
        execs=$(grep -E '^#[0-9]+: cov' "$log" | tail -1 | sed -E 's/^#([0-9]+):.*/\1/')
    else
        execs=$(grep 'stat::number_of_executed_units' "$log" | tail -1 | awk '{print $2}')
        [ -z "$execs" ] && execs=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -E 's/^#([0-9]+).*/\1/')
    fi
    found=$(ls "$work" | grep -cE '^(crash|oom|timeout|leak)-')
    verdict="no crash"
    if [ "$found" -gt 0 ] || { [ -z "$mode" ] && [ $rc -ne 0 ]; }; then
        if [ -n "$mode" ]; then
            ours=0 gone=0
            for a in "$work"/crash-* "$work"/oom-* "$work"/timeout-* "$work"/leak-*; do
                [ -e "$a" ] || continue
                # The first frame in libhdf5/libzip or in librnn's sources: sanitizer
                # interceptors (strdup, memcpy, malloc) and libFuzzer frames are neither.
                frame=$("$bin" -rss_limit_mb=512 -timeout=10 "$a" 2>&1 | grep -E '^ +#[0-9]+ ' |
                    grep -E 'libhdf5|libzip|libz\.so|\.c:[0-9]+' | head -1)
                case $frame in
                *libhdf5* | *libzip* | *libz.so*) ;;
                "") gone=$((gone + 1)) ;; # the replay ran cleanly: fork mode's empty placeholder
                *) ours=$((ours + 1)); echo "  $a: first frame: $frame" ;;
                esac
            done
            verdict="$found crashing inputs: $((found - ours - gone)) inside libhdf5/libzip (contained by rnn_load's reader program), $ours elsewhere, $gone not reproduced"
            [ $ours -gt 0 ] && status=1
        else
            verdict="CRASH (exit $rc; input and report in $work, log $log)"
            status=1
        fi
    fi
    echo "$name: ${execs:-?} executions in ${took} s: $verdict"
done
exit $status
