#!/bin/sh
# Runs each test program given as an argument from the repository root and prints the tally.
# A test passes when it exits 0; each prints its own details on failure. RNN_VALGRIND, when set,
# is a command prefix (make test-valgrind).
passed=0
failed=0
failures=""
for t in "$@"; do
    if [ ! -x "$t" ]; then
        echo "MISSING $t"
        failed=$((failed + 1)); failures="$failures $t"; continue
    fi
    out=$(${RNN_VALGRIND:-} "$t" 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        echo "PASS $t"
    else
        failed=$((failed + 1)); failures="$failures $t"
        echo "FAIL $t (exit $rc)"
        echo "$out" | tail -n 40 | sed 's/^/    /'
    fi
done
[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
