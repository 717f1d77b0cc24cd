#!/bin/sh
# The library as a user gets it. `make install` into a temporary prefix, then the README's own
# commands, read out of README.md unedited (the blocks after <!-- test_install: NAME -->), build
# the README program (examples/readme_airline.c as prog.c) in three ways: pkg-config shared,
# pkg-config static, CMake (rnn::rnn, and rnn::rnn_static, the alternative its comment names).
# Each program runs and must print its RMSE; ldd must show librnn.so.0 from the prefix for the
# shared builds and no librnn at all for the static ones. `man rnn` must show the installed page
# through the prefix's man path, a staged install (DESTDIR) must land under the stage, and the
# portable build without any BLAS (BLAS=none) compiles warning-free and trains. The installed rnn
# loads a model through the installed reader program (libexec/rnn/rnn-reader), never the build
# tree's, and says where it looked when the reader is missing.
set -u
root=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "test_install: $*" >&2; exit 1; }
prefix="$tmp/prefix"

make --no-print-directory install PREFIX="$prefix" >"$tmp/install.log" 2>&1 ||
    fail "make install failed: $(tail -5 "$tmp/install.log")"
for f in include/rnn.h lib/librnn.a lib/librnn.so.0.1.0 lib/pkgconfig/rnn.pc lib/pkgconfig/rnn-static.pc \
         lib/cmake/rnn/rnnConfig.cmake lib/cmake/rnn/rnnConfigVersion.cmake bin/rnn share/man/man1/rnn.1 \
         libexec/rnn/rnn-reader; do
    [ -f "$prefix/$f" ] || fail "make install did not install $f"
done
[ "$(readlink "$prefix/lib/librnn.so.0")" = librnn.so.0.1.0 ] || fail "lib/librnn.so.0 is not a link to librnn.so.0.1.0"
[ "$(readlink "$prefix/lib/librnn.so")" = librnn.so.0 ] || fail "lib/librnn.so is not a link to librnn.so.0"
readelf -d "$prefix/lib/librnn.so.0.1.0" | grep -q 'SONAME.*\[librnn\.so\.0\]' || fail "librnn.so has no SONAME librnn.so.0"
grep -q "PKG_CONFIG_PATH=$prefix/lib/pkgconfig" "$tmp/install.log" ||
    fail "make install into $prefix did not say to set PKG_CONFIG_PATH"
"$prefix/bin/rnn" --version | grep -q '^librnn 0.1.0$' || fail "the installed rnn --version does not name librnn 0.1.0"

# rnn_load from the installed rnn: the reader is found next to it (bin/../libexec/rnn); the build
# tree's reader is never used by a program outside the build tree, so with the installed reader
# moved away the load fails, naming where it looked, and RNN_READER brings it back.
model=tests/fixtures/keras_files/k3_sequential_bidirectional_stack/model.keras
out=$(env -u RNN_READER "$prefix/bin/rnn" summary "$model" 2>&1) ||
    fail "the installed rnn cannot load $model: $(printf '%s' "$out" | tail -3)"
printf '%s\n' "$out" | grep -q 'Total params' || fail "the installed rnn summary printed no parameter count"
mv "$prefix/libexec/rnn/rnn-reader" "$tmp/moved-reader"
out=$(env -u RNN_READER "$prefix/bin/rnn" summary "$model" 2>&1) &&
    fail "the installed rnn loaded $model without its reader (the build tree's reader was used?)"
printf '%s\n' "$out" | grep -q "cannot find the reader program rnn-reader.*$prefix/bin/../libexec/rnn/rnn-reader" ||
    fail "a missing reader: the message does not say where it looked: $(printf '%s' "$out" | tail -2)"
RNN_READER="$tmp/moved-reader" "$prefix/bin/rnn" summary "$model" >/dev/null 2>&1 ||
    fail "the installed rnn does not load with RNN_READER naming the reader"
mv "$tmp/moved-reader" "$prefix/libexec/rnn/rnn-reader"

# The README's blocks, as written.
block() {
    awk -v tag="<!-- test_install: $1 -->" '
        $0 == tag {want = 1; next}
        want && /^```/ {if (on) exit; on = 1; next}
        on' "$root/README.md"
}
mkdir "$tmp/app"
cp examples/readme_airline.c "$tmp/app/prog.c"
ln -s "$root/data" "$tmp/app/data"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
unset LD_LIBRARY_PATH

run_prog() {   # $1: what was built, $2: shared|static
    out=$(cd "$tmp/app" && ./prog 2>&1) || fail "$1: the program failed: $(printf '%s' "$out" | tail -3)"
    printf '%s\n' "$out" | grep -q "test RMSE" || fail "$1: no RMSE printed"
    deps=$(ldd "$tmp/app/prog")
    if [ "$2" = shared ]; then
        printf '%s\n' "$deps" | grep -q "librnn.so.0 => $prefix/lib/librnn.so.0" ||
            fail "$1: the program does not load librnn.so.0 from the prefix: $(printf '%s' "$deps" | grep rnn)"
    else
        printf '%s\n' "$deps" | grep -q librnn && fail "$1: a static build still needs $(printf '%s' "$deps" | grep librnn)"
    fi
    rm -f "$tmp/app/prog"
}

for kind in shared static; do
    cmd=$(block "$kind")
    [ -n "$cmd" ] || fail "README.md has no <!-- test_install: $kind --> block"
    (cd "$tmp/app" && sh -c "$cmd") >"$tmp/$kind.log" 2>&1 ||
        fail "the README's $kind command \`$cmd\` failed: $(tail -5 "$tmp/$kind.log")"
    run_prog "pkg-config $kind (\`$cmd\`)" "$kind"
done

command -v cmake >/dev/null 2>&1 || fail "cmake is missing (scripts/deps.sh installs it with TEST=1, as make test does)"
block cmake >"$tmp/app/CMakeLists.txt"
[ -s "$tmp/app/CMakeLists.txt" ] || fail "README.md has no <!-- test_install: cmake --> block"
grep -q 'rnn::rnn ' "$tmp/app/CMakeLists.txt" || fail "the README's CMakeLists.txt does not link rnn::rnn"
for target in rnn::rnn rnn::rnn_static; do
    [ $target = rnn::rnn_static ] && sed -i 's/rnn::rnn /rnn::rnn_static /' "$tmp/app/CMakeLists.txt"
    rm -rf "$tmp/app/b"
    (cd "$tmp/app" && cmake -S . -B b -DCMAKE_PREFIX_PATH="$prefix" && cmake --build b) >"$tmp/cmake.log" 2>&1 ||
        fail "CMake with $target failed: $(tail -8 "$tmp/cmake.log")"
    mv "$tmp/app/b/prog" "$tmp/app/prog"
    [ $target = rnn::rnn ] && run_prog "CMake $target" shared || run_prog "CMake $target" static
done

if command -v man >/dev/null 2>&1; then
    MANPATH="$prefix/share/man" man -P cat rnn 2>"$tmp/man.err" | grep -Eq 'rnn +- +recurrent +neural +networks' ||
        fail "man rnn with MANPATH=$prefix/share/man does not show the page: $(head -3 "$tmp/man.err")"
else
    fail "man is missing (scripts/deps.sh installs man-db with TEST=1, as make test does)"
fi

make --no-print-directory install PREFIX=/usr DESTDIR="$tmp/stage" >"$tmp/stage.log" 2>&1 ||
    fail "make install DESTDIR=... failed: $(tail -5 "$tmp/stage.log")"
[ -f "$tmp/stage/usr/lib/librnn.so.0.1.0" ] && [ -f "$tmp/stage/usr/lib/pkgconfig/rnn.pc" ] &&
    [ -x "$tmp/stage/usr/libexec/rnn/rnn-reader" ] ||
    fail "a staged install did not land under DESTDIR"
grep -q '^prefix=/usr$' "$tmp/stage/usr/lib/pkgconfig/rnn.pc" || fail "a staged rnn.pc does not name the final prefix /usr"

make --no-print-directory BLAS=none BUILD="$tmp/noblas" "$tmp/noblas/rnn" CFLAGS="-O2 -Werror" \
    >"$tmp/noblas.log" 2>&1 || fail "BLAS=none build failed: $(grep -m3 -E 'error|warning' "$tmp/noblas.log")"
"$tmp/noblas/rnn" demo --epochs 5 --verbose 0 --no-plot >"$tmp/demo.out" 2>&1 || fail "BLAS=none demo failed"
grep -q "test RMSE" "$tmp/demo.out" || fail "BLAS=none demo printed no RMSE"
"$tmp/noblas/rnn" --version | grep -q '^BLAS: *none' || fail "a BLAS=none build's --version does not say so"
echo "test_install: pkg-config shared and static, CMake shared and static, man rnn, DESTDIR, BLAS=none and the installed reader work"
