#!/bin/sh
# make check-fresh: the README's two commands on a minimal Debian 12 root that has only what a
# fresh machine of this project's kind has, so a missing install step in scripts/deps.sh fails.
#
# The root is `debootstrap --variant=minbase bookworm` plus build-essential, git and
# ca-certificates, plus the -dev packages this machine image ships that once misled the
# dependency detection (libblas-dev, the reference BLAS with its own cblas.h, and pkg-config).
# It is built once and cached as a tarball under /var/tmp (FRESH_CACHE); every run unpacks a
# new copy, clones the repository's committed HEAD into it and runs, as root inside a chroot
# in a private mount namespace (nothing stays mounted afterwards):
#     make demo && make test
# Needs root, debootstrap (scripts/deps.sh FRESH=1 installs it) and Debian's package mirror.
# FRESH_KEEP=1 keeps the unpacked root for a look afterwards.
set -eu
cd "$(dirname "$0")/.."
repo=$(pwd)
cache=${FRESH_CACHE:-/var/tmp/librnn-fresh}
mirror=${FRESH_MIRROR:-http://deb.debian.org/debian}
# Changing this list changes the tarball's name, so an old cache is never used for a new list.
base_pkgs="build-essential git ca-certificates libblas-dev pkg-config"
tag=$(printf '%s' "bookworm minbase $base_pkgs" | cksum | cut -d' ' -f1)
base="$cache/base-$tag.tar"

[ "$(id -u)" = 0 ] || { echo "check-fresh: needs root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null 2>&1 || { echo "check-fresh: debootstrap missing (make check-fresh installs it)" >&2; exit 1; }
mkdir -p "$cache"

if [ ! -s "$base" ]; then
    echo "check-fresh: building the minimal root (once; cached as $base)"
    work="$cache/build-$$"
    rm -rf "$work"
    debootstrap --variant=minbase bookworm "$work" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
        tail -20 "$cache/debootstrap.log" >&2; rm -rf "$work"; exit 1; }
    unshare --mount --fork sh -c '
        set -e
        mount -t proc proc "$1/proc"
        cp /etc/resolv.conf "$1/etc/resolv.conf"
        chroot "$1" sh -c "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends $2 >/dev/null && apt-get clean"
    ' sh "$work" "$base_pkgs" >"$cache/base-install.log" 2>&1 || {
        tail -20 "$cache/base-install.log" >&2; rm -rf "$work"; exit 1; }
    tar -C "$work" -cf "$base.tmp" . && mv "$base.tmp" "$base"
    rm -rf "$work"
fi

root="$cache/run-$$"
cleanup() { [ "${FRESH_KEEP:-0}" = 1 ] && echo "check-fresh: root kept in $root" || rm -rf "$root"; }
trap cleanup EXIT
mkdir -p "$root"
tar -C "$root" -xf "$base"
cp /etc/resolv.conf "$root/etc/resolv.conf"
git clone -q "$repo" "$root/src/librnn"
echo "check-fresh: $(git -C "$root/src/librnn" log -1 --format='%h %s' | cut -c1-70)"
echo "check-fresh: running 'make demo' and 'make test' in a fresh Debian 12 root (log: $cache/last.log)"
start=$(date +%s)
set +e
unshare --mount --fork sh -c '
    mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev" && mount -t tmpfs tmpfs "$1/tmp" &&
    mount --rbind /sys "$1/sys" || exit 1
    chroot "$1" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        LANG=C.UTF-8 sh -c "cd /src/librnn && make demo && make test"
' sh "$root" >"$cache/last.log" 2>&1
rc=$?
set -e
end=$(date +%s)
tail -3 "$cache/last.log"
if [ $rc -ne 0 ]; then
    echo "check-fresh: FAILED after $((end - start)) s; the end of $cache/last.log:" >&2
    tail -40 "$cache/last.log" | sed 's/^/    /' >&2
    exit 1
fi
tail -1 "$cache/last.log" | grep -Eq '^[0-9]+ passed, 0 failed$' || { echo "check-fresh: make test did not end with 'N passed, 0 failed'" >&2; exit 1; }
echo "check-fresh: passed in $((end - start)) s"
