#!/bin/sh
# Writes the build's configuration as a C header (argument: its path) from the Makefile's values
# in the environment. The file is replaced only when its text changes: every object depends on
# it, so a new compiler, other flags or another library version rebuild them, and nothing else
# does. src/build_info.c turns it into rnn_build_info(), which `rnn --version` prints.
set -eu
out=$1
# A C string literal of $1: backslashes and double quotes escaped.
cstr() { printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"; }
compiler=$($CC --version 2>/dev/null | head -1)
blas_macro=""
case "$BLAS_DESC" in
    OpenBLAS*)
        # The version macro that the objects will see through the same flags: a cblas.h without
        # it (the reference BLAS's) is refused by src/kernels/gemm.c at compile time.
        blas_macro=$(printf '#include <cblas.h>\nOPENBLAS_VERSION\n' |
                     $CC -E -P $BLAS_CFLAGS - 2>/dev/null | tail -1 | tr -d '"' | sed 's/^ *//; s/ *$//')
        ;;
esac
{
    echo "/* Written by scripts/build_config.sh: the configuration this build was made with. */"
    echo "#define RNN_BUILD_VERSION $(cstr "$VERSION")"
    echo "#define RNN_BUILD_COMPILER $(cstr "$CC: $compiler")"
    echo "#define RNN_BUILD_CFLAGS $(cstr "$CFLAGS")"
    echo "#define RNN_BUILD_LDFLAGS $(cstr "$LDFLAGS")"
    echo "#define RNN_BUILD_BLAS $(cstr "$BLAS_DESC${blas_macro:+, cblas.h: $blas_macro}")"
    echo "#define RNN_BUILD_KERAS_IO $(cstr "$KERAS_DESC")"
    echo "#define RNN_BUILD_LIBS $(cstr "$LDLIBS")"
    echo "#define RNN_BUILD_MPI $(cstr "${MPI_DESC:-none}")"
} >"$out.tmp"
if cmp -s "$out.tmp" "$out"; then
    rm -f "$out.tmp"
else
    mv "$out.tmp" "$out"
    [ -n "${QUIET:-}" ] || echo "build configuration written to $out"
fi
