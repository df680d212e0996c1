#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and kubectl from the k8s.io/kubernetes module of
# the Go module proxy, at a pinned version, into $(go env GOPATH)/bin. Idempotent: a binary that
# already reports the pinned version is kept.
#
# k8s.io/kubernetes is not meant to be built as a dependency: its go.mod replaces the 29 staging
# modules (k8s.io/api, k8s.io/apiserver, ...) with ./staging/src/... directories that the module
# zip does not contain. So the source is copied somewhere writable, go.work and the replace block
# are dropped, and each staging module is required at its published v0.<minor>.<patch>.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.34.4}"
STAGING_VERSION="v0.${KUBE_VERSION#v1.}"
GOBIN_DIR="$(go env GOPATH)/bin"
BINARIES=(kube-apiserver kube-controller-manager kubectl)

reports_version() {  # reports_version BINARY: prints its own version, as the version check wants
  case "$1" in
    kubectl) "$GOBIN_DIR/kubectl" version --client 2>/dev/null ;;
    *) "$GOBIN_DIR/$1" --version 2>/dev/null ;;
  esac
}
have_all=1
for b in "${BINARIES[@]}"; do
  if [ ! -x "$GOBIN_DIR/$b" ] || ! reports_version "$b" | grep -q "$KUBE_VERSION"; then
    have_all=0
  fi
done
[ "$have_all" = 1 ] && exit 0

echo "building ${BINARIES[*]} ${KUBE_VERSION} from the Go module proxy (about 20 min on 2 cores)" >&2
export GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=mod
src_dir="$(cd /tmp && go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
work="$(mktemp -d /tmp/kubernetes-src.XXXXXX)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$src_dir/." "$work/"
chmod -R u+w "$work"
cd "$work"
rm -f go.work go.work.sum
python3 - "$STAGING_VERSION" <<'PY'
import re, sys
version = sys.argv[1]
text = open("go.mod").read()
text = re.sub(r"\nreplace \((.|\n)*?\n\)\n", "\n", text)
text = re.sub(r"^(\s*k8s\.io/[A-Za-z0-9._/-]+) v0\.0\.0$", lambda m: f"{m.group(1)} {version}", text, flags=re.M)
open("go.mod", "w").write(text)
PY
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  ldflags+=" -X ${pkg}.gitVersion=${KUBE_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
  ldflags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
done
mkdir -p "$GOBIN_DIR"
go mod download
go build -trimpath -ldflags "$ldflags" -o "$GOBIN_DIR/" ./cmd/kube-apiserver ./cmd/kube-controller-manager ./cmd/kubectl
echo "built ${BINARIES[*]} ${KUBE_VERSION}" >&2
