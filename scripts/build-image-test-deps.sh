#!/usr/bin/env bash
# What tests/e2e/test_image.py needs to build the Containerfile here, where no registry is reachable:
# - buildah (overlay storage, chroot isolation) and mmdebstrap, from Debian;
# - two stand-in base images, built from Debian's packages, in buildah's storage under
#   $(go env GOPATH)/../image-test (B2G_IMAGE_TEST overrides), imported as
#     localhost/b2g-python-base: Debian bookworm (minbase) with the runtime libraries of
#       python:3.12-slim-bookworm and this machine's CPython 3.12 (pyenv's, the version of Lambda's
#       python3.12 runtime: Debian has no python3.12) copied to /usr/local as the official image
#       has it, pip included, tests and site-packages left out;
#     localhost/b2g-go-base: the same Debian with this machine's Go toolchain at /usr/local/go, as
#       golang:*-bookworm has it (Debian's golang is too old for sops).
#   Both trust the host's CA bundle (this network terminates TLS at its egress proxy) and export
#   PIP_CERT/SSL_CERT_FILE pointing at it: that is the only thing the stand-ins add.
# Idempotent: kept while the stamp (Debian suite, package list, Python and Go versions) matches.
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE="bookworm"
# python:3.12-slim-bookworm's runtime libraries (its Dockerfile's apt-get install), plus what
# this CPython build links (tk/X11 left out: no tkinter in the slim image either).
PACKAGES="ca-certificates,netbase,tzdata,libssl3,libffi8,libsqlite3-0,libbz2-1.0,liblzma5,zlib1g,libreadline8,libncursesw6,libuuid1,libexpat1,libgdbm6,libnsl2,libtirpc3,libcrypt1"

GOBIN_DIR="$(go env GOPATH)/bin"
DIR="${B2G_IMAGE_TEST:-$GOBIN_DIR/../image-test}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"

missing=()
command -v buildah >/dev/null 2>&1 || missing+=(buildah)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]} (Debian)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY312="$(command -v python3.12 2>/dev/null || true)"
if [ -z "$PY312" ] || ! "$PY312" -c 'import sys' >/dev/null 2>&1; then
  PY312="$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12.*/bin/python3.12 2>/dev/null | tail -1 || true)"
fi
if [ -z "$PY312" ]; then
  echo "python3.12 not found (the stand-in for python:3.12-slim needs it): apt-get install python3.12, or pyenv" >&2
  exit 1
fi
PY_PREFIX="$("$PY312" -c 'import sys; print(sys.base_prefix)')"
GOROOT_DIR="$(go env GOROOT)"
STAMP="$SUITE $PACKAGES $("$PY312" -VV | head -1) $PY_PREFIX $(go version) $(sha256sum "$0" | cut -c1-16)"
if [ "$(cat "$DIR/bases.stamp" 2>/dev/null)" = "$STAMP" ]; then
  exit 0
fi

echo "building the stand-in base images (Debian $SUITE + CPython $("$PY312" -V) + $(go version | cut -d' ' -f3))" >&2
# overlay, not vfs: vfs copies every layer whole (14 GB and most of the test's time for three
# images); the kernel's overlayfs is there wherever this runs as root
buildah_() { buildah --root "$DIR/storage-overlay" --runroot "$DIR/run" --storage-driver overlay "$@"; }
if [ -d "$DIR/storage" ]; then  # a vfs store of an earlier version of this script
  buildah --root "$DIR/storage" --runroot "$DIR/run" --storage-driver vfs rm --all >/dev/null 2>&1 || true
  rm -rf "$DIR/storage"
fi
buildah_ rm --all >/dev/null 2>&1 || true
rm -rf "$DIR/rootfs.tar" "$DIR/storage-overlay" "$DIR/run"
mkdir -p "$DIR/storage-overlay" "$DIR/run"
# minbase + the libraries; apt's lists emptied as in the official images
mmdebstrap --quiet --mode=root --variant=minbase --include="$PACKAGES" \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  "$SUITE" "$DIR/rootfs.tar" http://deb.debian.org/debian

host_trust() {  # host_trust CONTAINER
  buildah_ copy "$1" /etc/ssl/certs/ca-certificates.crt /usr/local/share/ca-certificates/host-trust.crt >/dev/null
  buildah_ run --isolation chroot "$1" -- update-ca-certificates >/dev/null
  buildah_ config --env PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt "$1"
}

# python: the interpreter tree at /usr/local, as python:3.12-slim lays it out
ctr="$(buildah_ from scratch)"
buildah_ add "$ctr" "$DIR/rootfs.tar" / >/dev/null
mnt="$(buildah_ mount "$ctr")"
tar -C "$PY_PREFIX" --exclude='./lib/python3.12/test' --exclude='./lib/python3.12/site-packages/*' \
  --exclude='./lib/python3.12/idlelib' --exclude='./lib/python3.12/tkinter' --exclude='*/__pycache__' \
  --exclude='./share' --exclude='./include' --exclude='./lib/pkgconfig' --exclude='./lib/libpython*.a' \
  -cf - . | tar -C "$mnt/usr/local" -xf -
cp -r "$PY_PREFIX/lib/python3.12/site-packages/pip" "$PY_PREFIX"/lib/python3.12/site-packages/pip-*.dist-info \
  "$mnt/usr/local/lib/python3.12/site-packages/"
for name in python python3; do ln -sf python3.12 "$mnt/usr/local/bin/$name"; done
ln -sf pip3.12 "$mnt/usr/local/bin/pip" 2>/dev/null || true
buildah_ umount "$ctr" >/dev/null
buildah_ run --isolation chroot "$ctr" -- ldconfig
host_trust "$ctr"
buildah_ config --env PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
  --cmd python3 "$ctr"
buildah_ run --isolation chroot "$ctr" -- python3 -c 'import ssl, sqlite3, ctypes, lzma, bz2, zlib, pyexpat'
buildah_ commit --quiet --rm "$ctr" localhost/b2g-python-base:latest >/dev/null

# go: the toolchain at /usr/local/go, GOPATH /go, as golang:*-bookworm
ctr="$(buildah_ from scratch)"
buildah_ add "$ctr" "$DIR/rootfs.tar" / >/dev/null
buildah_ copy "$ctr" "$GOROOT_DIR" /usr/local/go >/dev/null
host_trust "$ctr"
buildah_ config --env GOPATH=/go --env GOTOOLCHAIN=local \
  --env PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
buildah_ run --isolation chroot "$ctr" -- go version
buildah_ commit --quiet --rm "$ctr" localhost/b2g-go-base:latest >/dev/null

rm -f "$DIR/rootfs.tar"
echo "$STAMP" >"$DIR/bases.stamp"
