#!/bin/sh
# Makes sure every library the build links is really usable, and installs what is missing.
#
# Each dependency is proven by compiling AND linking a small probe program with the flags the
# Makefile will use: both take them from pkg-config, for the module names the Makefile passes
# (BLAS_PC, KERAS_PCS). A header that merely exists is not enough: Debian's reference BLAS
# (libblas-dev) ships a cblas.h too, and a build against it links nothing called openblas.
#
#   what                       Debian package   probe
#   C compiler, C library      gcc libc6-dev    compile and link main()
#   OpenBLAS (BLAS=openblas)   libopenblas-dev  pkg-config openblas; cblas.h must define
#                                               OPENBLAS_VERSION; cblas_sgemm and
#                                               openblas_get_num_threads must link
#   HDF5 (Keras .h5 files)     libhdf5-dev      pkg-config hdf5; H5get_libversion links
#   libzip (Keras .keras)      libzip-dev       pkg-config libzip; zip_libzip_version links
#   cJSON (Keras configs)      libcjson-dev     pkg-config libcjson; cJSON_Version links
#   pkg-config                 pkg-config       on PATH
#   MPI (data-parallel fit)    libopenmpi-dev   pkg-config mpi-c; MPI_Initialized links; mpicc
#                              openmpi-bin      and mpirun on PATH. MPI=auto (the default):
#                                               installed as root, otherwise a note and a build
#                                               without it; MPI=1 requires it, MPI=none skips it
#   with TEST=1 (make test):   cmake            tests/test_install.sh builds with find_package
#                              man-db           tests/test_install.sh reads the installed rnn(1)
#   with FUZZ=1 (make fuzz):   clang libclang-rt-dev   a libFuzzer target links
#   with VALGRIND=1:           valgrind
#   with TEST=1:               libxml2-utils    tests/test_explain.sh parses every drawing (xmllint)
#   with BROWSER=1:            chromium         make test-browser loads the gallery pages
#   with FRESH=1:              debootstrap      make check-fresh builds its minimal root
#   with BENCH=1 (make bench only): the peers of the benchmark suite that Debian packages:
#                              python3-torch    Debian's PyTorch: /usr/bin/python3 imports torch
#                              libdnnl-dev      oneDNN's C API: dnnl.h compiles, dnnl_version links
#                              g++ libeigen3-dev  RTNeural's Eigen backend (RTNeural itself is
#                                               not packaged: RTNEURAL_DIR, bench/README.md)
#   with EXPORT=1 (make test-export-cross): the cross compilers and emulator the exported C is
#                              checked with: gcc-arm-none-eabi libnewlib-arm-none-eabi (Cortex-M4:
#                              a program calling expf links), gcc-arm-linux-gnueabihf
#                              libc6-dev-armhf-cross (32-bit ARM Linux: links statically),
#                              qemu-user (qemu-arm on PATH)
#
# As root with apt-get, the missing packages are installed and every probe runs again (a probe
# that still fails prints the compiler's words). Otherwise the one apt-get line to run is printed,
# with the fallbacks that need none of it: BLAS=none and KERAS_IO=none (also with
# DEPS_NO_INSTALL=1, which tests/test_build.sh uses to see that message as root).
# KERAS_IO=auto (the Makefile's default) asks for the Keras-file libraries like KERAS_IO=yes.
set -u
CC=${CC:-cc}
BLAS=${BLAS:-openblas}
BLAS_PC=${BLAS_PC:-openblas}
KERAS_IO=${KERAS_IO:-auto}
KERAS_PCS=${KERAS_PCS:-hdf5 libzip libcjson}
MPI=${MPI:-auto}
can_install=0
[ "$(id -u)" = 0 ] && [ "${DEPS_NO_INSTALL:-0}" != 1 ] && command -v apt-get >/dev/null 2>&1 && can_install=1
probe_dir=$(mktemp -d) || exit 1
trap 'rm -rf "$probe_dir"' EXIT

# probe NAME 'C source' 'pkg-config modules': compile and link, keeping the compiler's output.
probe() {
    name=$1 src=$2 mods=$3
    flags=""
    if [ -n "$mods" ]; then
        flags=$(pkg-config --cflags --libs $mods 2>"$probe_dir/$name.log") || return 1
    fi
    printf '%s\n' "$src" >"$probe_dir/$name.c"
    # shellcheck disable=SC2086
    "$CC" "$probe_dir/$name.c" -o "$probe_dir/$name" $flags >>"$probe_dir/$name.log" 2>&1
}

check_all() {
    missing=""
    failed=""
    if ! command -v "$CC" >/dev/null 2>&1 || ! probe cc 'int main(void) { return 0; }' ""; then
        missing="$missing gcc libc6-dev"; failed="$failed cc"
        return   # nothing else can be probed without a compiler
    fi
    command -v make >/dev/null 2>&1 || missing="$missing make"
    have_pc=1
    command -v pkg-config >/dev/null 2>&1 || { have_pc=0; missing="$missing pkg-config"; }
    if [ "$BLAS" = openblas ]; then
        if [ $have_pc = 0 ] || ! probe openblas '#include <cblas.h>
#ifndef OPENBLAS_VERSION
#error "this cblas.h is not OpenBLAS'"'"'s (no OPENBLAS_VERSION): the reference BLAS?"
#endif
int main(void) { float a = 1, b = 2, c = 0;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1);
  return openblas_get_num_threads() > 0 && c == 2.0f ? 0 : 1; }' "$BLAS_PC"; then
            missing="$missing libopenblas-dev"; failed="$failed openblas"
        fi
    fi
    if [ "$KERAS_IO" != none ]; then
        for mod in $KERAS_PCS; do
            case $mod in
                hdf5) pkg=libhdf5-dev
                      src='#include <hdf5.h>
int main(void) { unsigned a, b, c; return H5get_libversion(&a, &b, &c) < 0; }' ;;
                libzip) pkg=libzip-dev
                      src='#include <zip.h>
int main(void) { return zip_libzip_version() == 0; }' ;;
                libcjson) pkg=libcjson-dev
                      src='#include <cJSON.h>
int main(void) { return cJSON_Version() == 0; }' ;;
                *) echo "deps: no probe for pkg-config module $mod" >&2; exit 1 ;;
            esac
            if [ $have_pc = 0 ] || ! probe "$mod" "$src" "$mod"; then
                missing="$missing $pkg"; failed="$failed $mod"
            fi
        done
    fi
    if [ "$MPI" != none ]; then
        if [ $have_pc = 0 ] || ! command -v mpicc >/dev/null 2>&1 || ! command -v mpirun >/dev/null 2>&1 ||
           ! probe mpi '#include <mpi.h>
int main(void) { int ready = 0; return MPI_Initialized(&ready) != MPI_SUCCESS; }' mpi-c; then
            if [ "$MPI" = auto ] && [ $can_install = 0 ]; then
                echo "deps: note: no MPI (libopenmpi-dev, openmpi-bin): building without data-parallel" \
                     "training (make MPI=none to silence this)" >&2
            else
                missing="$missing libopenmpi-dev openmpi-bin"; failed="$failed mpi"
            fi
        fi
    fi
    if [ "${TEST:-0}" = 1 ]; then
        command -v cmake >/dev/null 2>&1 || missing="$missing cmake"
        command -v man >/dev/null 2>&1 || missing="$missing man-db"
        command -v xmllint >/dev/null 2>&1 || missing="$missing libxml2-utils"
    fi
    if [ "${FUZZ:-0}" = 1 ]; then
        # Linking a trivial fuzz target proves both the compiler and its libFuzzer runtime.
        printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe_dir/f.c"
        command -v clang >/dev/null 2>&1 &&
            clang -fsanitize=fuzzer,address,undefined "$probe_dir/f.c" -o "$probe_dir/f" >/dev/null 2>&1 ||
            missing="$missing clang libclang-rt-dev"
    fi
    if [ "${VALGRIND:-0}" = 1 ]; then
        command -v valgrind >/dev/null 2>&1 || missing="$missing valgrind"
    fi
    if [ "${BROWSER:-0}" = 1 ]; then
        command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
    fi
    if [ "${EXPORT:-0}" = 1 ]; then
        printf '#include <math.h>\nvolatile float v = 1.0f;\nint main(void) { return expf(v) > 2.0f ? 0 : 1; }\n' >"$probe_dir/x.c"
        command -v arm-none-eabi-gcc >/dev/null 2>&1 &&
            arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -Os --specs=nosys.specs \
                "$probe_dir/x.c" -o "$probe_dir/x_m4" -lm >/dev/null 2>&1 ||
            missing="$missing gcc-arm-none-eabi libnewlib-arm-none-eabi binutils-arm-none-eabi"
        command -v arm-linux-gnueabihf-gcc >/dev/null 2>&1 &&
            arm-linux-gnueabihf-gcc -static "$probe_dir/x.c" -o "$probe_dir/x_arm" -lm >/dev/null 2>&1 ||
            missing="$missing gcc-arm-linux-gnueabihf libc6-dev-armhf-cross"
        command -v qemu-arm >/dev/null 2>&1 || missing="$missing qemu-user"
    fi
    if [ "${FRESH:-0}" = 1 ]; then
        command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
    fi
    if [ "${BENCH:-0}" = 1 ]; then
        # Debian's own interpreter, not whatever python3 is first on PATH (a pyenv, a venv)
        [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import torch" >/dev/null 2>&1 ||
            missing="$missing python3-torch"
        printf '#include <dnnl.h>\nint main(void) { return dnnl_version()->major < 1; }\n' >"$probe_dir/dnnl.c"
        "$CC" "$probe_dir/dnnl.c" -o "$probe_dir/dnnl" -ldnnl >"$probe_dir/dnnl.log" 2>&1 ||
            { missing="$missing libdnnl-dev"; failed="$failed dnnl"; }
        command -v g++ >/dev/null 2>&1 || missing="$missing g++"
        [ -f /usr/include/eigen3/Eigen/Dense ] || missing="$missing libeigen3-dev"
    fi
}

check_all
[ -z "$missing" ] && exit 0

if [ $can_install = 1 ]; then
    # shellcheck disable=SC2086
    set -- $(printf '%s\n' $missing | awk '!seen[$0]++')
    echo "deps: installing $*"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }; then
        echo "deps: apt-get install $* failed" >&2
        exit 1
    fi
    check_all
    if [ -n "$failed" ] || [ -n "$missing" ]; then
        echo "deps: still not usable after installing:${failed:-$missing}" >&2
        for f in $failed; do
            [ -s "$probe_dir/$f.log" ] && sed -n '1,8s/^/    /p' "$probe_dir/$f.log" >&2
        done
        exit 1
    fi
    exit 0
fi
echo "deps: not usable here:${failed:-$missing}" >&2
for f in $failed; do
    [ -s "$probe_dir/$f.log" ] && sed -n '1,4s/^/    /p' "$probe_dir/$f.log" >&2
done
echo "deps: install the missing packages (as root):" >&2
echo "    apt-get install -y$(printf ' %s' $(printf '%s\n' $missing | awk '!seen[$0]++'))" >&2
echo "deps: or build without them: make BLAS=none (portable loops instead of OpenBLAS)," >&2
echo "      make KERAS_IO=none (no Keras .keras/.h5 files), make MPI=none (no data-parallel fit)" >&2
exit 1
