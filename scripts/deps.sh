#!/bin/sh
# Makes sure what the build needs is here. On Debian/Ubuntu, missing packages are installed when
# run as root; otherwise the one apt-get line to run is printed and the build stops.
#   gcc, make, libc6-dev : the C compiler and C library headers
#   libopenblas-dev      : CBLAS sgemm for the large matrix products (skipped with BLAS=none)
set -u
CC=${CC:-cc}
BLAS=${BLAS:-openblas}
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
echo "(or build without a BLAS: make BLAS=none)" >&2
exit 1
