#!/bin/sh
# Makes sure what the build needs is here. On Debian/Ubuntu, missing packages are installed when
# run as root; otherwise the one apt-get line to run is printed and the build stops.
#   gcc, make, libc6-dev : the C compiler and C library headers
#   libopenblas-dev      : CBLAS sgemm for the large matrix products (skipped with BLAS=none)
#   libhdf5-dev, libzip-dev, libcjson-dev : Keras .h5 / .keras model files (HDF5, the zip
#                          container, the JSON config); skipped with KERAS_IO=none
#   clang, libclang-rt-dev : only with FUZZ=1 (make fuzz): libFuzzer and the sanitizer runtimes
#   valgrind             : only with VALGRIND=1 (make test-valgrind)
set -u
CC=${CC:-cc}
BLAS=${BLAS:-openblas}
KERAS_IO=${KERAS_IO:-auto}
missing=""

have_header() {
    printf '#include <%s>\n' "$1" | "$CC" -E -I/usr/include/x86_64-linux-gnu/openblas-pthread - >/dev/null 2>&1
}

command -v "$CC" >/dev/null 2>&1 || missing="$missing gcc libc6-dev"
if command -v "$CC" >/dev/null 2>&1 && ! have_header stdio.h; then missing="$missing libc6-dev"; fi
if [ "$BLAS" = openblas ]; then
    if ! command -v "$CC" >/dev/null 2>&1 || ! have_header cblas.h; then
        missing="$missing libopenblas-dev"
    fi
fi
if [ "$KERAS_IO" != none ] && command -v "$CC" >/dev/null 2>&1; then
    have_pkg_header() { printf '#include <%s>\n' "$1" | "$CC" -E $2 - >/dev/null 2>&1; }
    have_pkg_header hdf5.h "-I/usr/include/hdf5/serial" || missing="$missing libhdf5-dev"
    have_pkg_header zip.h "" || missing="$missing libzip-dev"
    have_pkg_header cJSON.h "-I/usr/include/cjson" || missing="$missing libcjson-dev"
    command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
fi
if [ "${FUZZ:-0}" = 1 ]; then
    # Linking a trivial fuzz target proves both the compiler and its libFuzzer runtime.
    fuzz_ok() {
        t=$(mktemp -d) || return 1
        printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$t/f.c"
        clang -fsanitize=fuzzer,address,undefined "$t/f.c" -o "$t/f" >/dev/null 2>&1
        rc=$?
        rm -rf "$t"
        return $rc
    }
    command -v clang >/dev/null 2>&1 && fuzz_ok || missing="$missing clang libclang-rt-dev"
fi
if [ "${VALGRIND:-0}" = 1 ]; then
    command -v valgrind >/dev/null 2>&1 || missing="$missing valgrind"
fi
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq $missing >/dev/null || {
        echo "deps: apt-get install$missing failed" >&2
        exit 1
    }
    exit 0
fi
echo "deps: missing packages. Run:" >&2
echo "    sudo apt-get install -y$missing" >&2
echo "(or build without a BLAS: make BLAS=none; without Keras model files: make KERAS_IO=none)" >&2
exit 1
