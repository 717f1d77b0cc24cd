#!/bin/sh
# After `make install`: refresh the loader's cache for a system prefix, otherwise say which paths
# to set so that programs, pkg-config, CMake and man find the installed files.
set -u
lib="$PREFIX/lib"
if [ -n "${DESTDIR:-}" ]; then
    echo "installed into the staging root $DESTDIR$PREFIX (ldconfig left to the package's installer)"
    exit 0
fi
case "$PREFIX" in
    /usr | /usr/local)
        if [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null 2>&1; then
            ldconfig && echo "ldconfig: the loader's cache now lists $lib/librnn.so.0"
        else
            echo "run ldconfig as root so that the loader finds $lib/librnn.so.0"
        fi
        exit 0
        ;;
esac
echo "librnn is installed under $PREFIX, which the tools do not search by themselves. To use it:"
echo "    export PKG_CONFIG_PATH=$lib/pkgconfig\${PKG_CONFIG_PATH:+:\$PKG_CONFIG_PATH}"
echo "    export CMAKE_PREFIX_PATH=$PREFIX\${CMAKE_PREFIX_PATH:+:\$CMAKE_PREFIX_PATH}"
echo "    export MANPATH=$PREFIX/share/man:\${MANPATH:-}"
echo "    export PATH=$PREFIX/bin:\$PATH"
echo "Programs linked through rnn.pc or rnn::rnn record $lib as their run path, so they start"
echo "without LD_LIBRARY_PATH."
