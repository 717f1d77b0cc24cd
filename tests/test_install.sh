#!/bin/sh
# The library as a user gets it: `make install` into a temporary prefix, then the README program
# compiled against the installed header and static library (through pkg-config when present)
# and run; and the portable build without any BLAS (BLAS=none) compiles warning-free and trains.
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "test_install: $*" >&2; exit 1; }

make --no-print-directory install PREFIX="$tmp/prefix" >"$tmp/install.log" 2>&1 ||
    fail "make install failed: $(tail -5 "$tmp/install.log")"
for f in include/rnn.h lib/librnn.a lib/librnn.so lib/pkgconfig/rnn.pc bin/rnn; do
    [ -e "$tmp/prefix/$f" ] || fail "make install did not install $f"
done
if command -v pkg-config >/dev/null 2>&1; then
    flags=$(PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config --cflags --libs --static rnn) ||
        fail "pkg-config cannot read rnn.pc"
else
    flags="-I$tmp/prefix/include -L$tmp/prefix/lib -lrnn -lopenblas -lm -lpthread"
fi
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror examples/readme_airline.c -o "$tmp/prog" -static-libgcc \
    $(echo "$flags" | sed "s|-lrnn|$tmp/prefix/lib/librnn.a|") ||
    fail "the README program does not build against the installed library"
"$tmp/prog" data/airline-passengers.csv >"$tmp/prog.out" 2>&1 || fail "the installed program failed: $(tail -3 "$tmp/prog.out")"
grep -q "test RMSE" "$tmp/prog.out" || fail "no RMSE printed"

make --no-print-directory BLAS=none BUILD="$tmp/noblas" "$tmp/noblas/rnn" CFLAGS="-O2 -Werror" \
    >"$tmp/noblas.log" 2>&1 || fail "BLAS=none build failed: $(grep -m3 -E 'error|warning' "$tmp/noblas.log")"
"$tmp/noblas/rnn" demo --epochs 5 --verbose 0 --no-plot >"$tmp/demo.out" 2>&1 || fail "BLAS=none demo failed"
grep -q "test RMSE" "$tmp/demo.out" || fail "BLAS=none demo printed no RMSE"
echo "test_install: installed library and BLAS=none build work"
