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
# The file name (SONAME) the dynamic linker would record for each library of $2 (a link line's
# -L and -l flags), printed in the order of its -l flags: librnn loads OpenBLAS, libhdf5 and libzip
# by these names on first use (src/kernels/blas_core.c, src/io/keras_libs.c) instead of linking
# them, so that a process that never multiplies large matrices or touches a Keras file does not
# pay for them. Found by linking an empty program against the library alone and reading what
# the linker wrote; "lib$name.so" when that fails (the development symlink).
sonames() {
    probe_dir=$(mktemp -d)
    printf 'int main(void) { return 0; }\n' >"$probe_dir/p.c"
    dirs=""
    for flag in $1; do case "$flag" in -L*) dirs="$dirs $flag" ;; esac; done
    for flag in $1; do
        case "$flag" in
            -l*)
                name=${flag#-l}
                found=""
                # shellcheck disable=SC2086
                if $CC -o "$probe_dir/p" "$probe_dir/p.c" $dirs -Wl,--no-as-needed "$flag" \
                       >/dev/null 2>&1; then
                    found=$( (readelf -d "$probe_dir/p" 2>/dev/null || objdump -p "$probe_dir/p" 2>/dev/null) |
                             sed -n -e 's/.*NEEDED.*\[\(.*\)\].*/\1/p' -e 's/^ *NEEDED *\([^ ]*\)$/\1/p' |
                             grep "^lib$name" | head -1)
                fi
                printf '%s\n' "${found:-lib$name.so}"
                ;;
        esac
    done
    rm -rf "$probe_dir"
}
blas_soname=""
case "$BLAS_DESC" in OpenBLAS*) blas_soname=$(sonames "${BLAS_LIBS:-}" | head -1) ;; esac
keras_sonames=$(sonames "${KERAS_LIBS:-}")
soname_of() { printf '%s\n' "$keras_sonames" | grep "^lib$1" | head -1; }
{
    echo "/* Written by scripts/build_config.sh: the configuration this build was made with. */"
    echo "#define RNN_BUILD_VERSION $(cstr "$VERSION")"
    echo "#define RNN_BUILD_COMPILER $(cstr "$CC: $compiler")"
    echo "#define RNN_BUILD_CFLAGS $(cstr "$CFLAGS")"
    echo "#define RNN_BUILD_LDFLAGS $(cstr "$LDFLAGS")"
    echo "#define RNN_BUILD_BLAS $(cstr "$BLAS_DESC${blas_macro:+, cblas.h: $blas_macro}")"
    echo "#define RNN_BUILD_KERAS_IO $(cstr "$KERAS_DESC")"
    echo "#define RNN_BUILD_LIBS $(cstr "$LDLIBS")"
    echo "#define RNN_OPENBLAS_SONAME $(cstr "$blas_soname")"
    echo "#define RNN_HDF5_SONAME $(cstr "$(soname_of hdf5)")"
    echo "#define RNN_LIBZIP_SONAME $(cstr "$(soname_of zip)")"
    echo "#define RNN_BUILD_MPI $(cstr "${MPI_DESC:-none}")"
} >"$out.tmp"
if cmp -s "$out.tmp" "$out"; then
    rm -f "$out.tmp"
else
    mv "$out.tmp" "$out"
    [ -n "${QUIET:-}" ] || echo "build configuration written to $out"
fi
