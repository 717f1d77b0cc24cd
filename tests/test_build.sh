#!/bin/sh
# The build's set-up logic: scripts/deps.sh refuses a cblas.h that is not OpenBLAS's (the
# reference BLAS's header once passed for it) and then names the apt-get line and the BLAS=none
# fallback; the configuration stamp rebuilds an object when CFLAGS change and only then; a
# BLAS=openblas build reports the OpenBLAS it loaded.
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "test_build: $*" >&2; exit 1; }

# 1. A pkg-config module whose cblas.h has no OPENBLAS_VERSION, as Debian's reference BLAS.
mkdir -p "$tmp/inc"
cat >"$tmp/inc/cblas.h" <<'H'
/* Stand-in for the reference BLAS's cblas.h: CBLAS declarations, no OPENBLAS_VERSION. */
enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112 };
void cblas_sgemm(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, int, int, int,
                 float, const float *, int, const float *, int, float, float *, int);
H
cat >"$tmp/refblas.pc" <<PC
Name: refblas
Description: a cblas.h without OpenBLAS
Version: 3.11
Cflags: -I$tmp/inc
Libs: -lm
PC
PKG_CONFIG_PATH="$tmp" BLAS_PC=refblas KERAS_IO=none DEPS_NO_INSTALL=1 sh scripts/deps.sh \
    >"$tmp/deps.out" 2>&1 && fail "deps.sh accepted a cblas.h without OPENBLAS_VERSION"
grep -q "not OpenBLAS" "$tmp/deps.out" || fail "deps.sh did not say why the BLAS was refused: $(cat "$tmp/deps.out")"
grep -q "apt-get install -y libopenblas-dev" "$tmp/deps.out" || fail "deps.sh did not print the apt-get line"
grep -q "make BLAS=none" "$tmp/deps.out" || fail "deps.sh did not name the BLAS=none fallback"

# 2. The real configuration passes its probes (make test ran them already; here without installs).
DEPS_NO_INSTALL=1 sh scripts/deps.sh >"$tmp/deps2.out" 2>&1 || fail "deps.sh fails on this machine: $(cat "$tmp/deps2.out")"

# 3. The configuration stamp: same settings, no rebuild; other CFLAGS, a rebuild.
obj="$tmp/b/obj/src/tensor.o"
make --no-print-directory BUILD="$tmp/b" "$obj" >"$tmp/m1.log" 2>&1 || fail "building $obj failed: $(tail -3 "$tmp/m1.log")"
grep -q -- '-O2 -g' "$tmp/b/build_config.h" || fail "build_config.h does not record CFLAGS"
make --no-print-directory BUILD="$tmp/b" "$obj" >"$tmp/m2.log" 2>&1
grep -q 'src/tensor.c' "$tmp/m2.log" && fail "the same configuration rebuilt $obj"
make --no-print-directory BUILD="$tmp/b" CFLAGS="-O1 -g" "$obj" >"$tmp/m3.log" 2>&1
grep -q 'src/tensor.c' "$tmp/m3.log" || fail "changing CFLAGS did not rebuild $obj"
grep -q -- '-O1 -g' "$tmp/b/build_config.h" || fail "build_config.h does not record the new CFLAGS"

# 4. What the default build says of its BLAS.
if grep -q 'RNN_BUILD_BLAS "OpenBLAS' build/build_config.h 2>/dev/null; then
    build/rnn --version | grep -q '^BLAS loaded: OpenBLAS' || fail "rnn --version does not report the loaded OpenBLAS"
    build/rnn --version | grep -q 'cblas.h: OpenBLAS' || fail "rnn --version does not report OPENBLAS_VERSION of the header"
fi
echo "test_build: the reference cblas.h refused with the apt-get line; the stamp rebuilds on a CFLAGS change only"
