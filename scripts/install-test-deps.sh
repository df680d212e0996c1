#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine: the package with its dev extras,
# and the real servers and tools the tests start (built from source or from Debian's packages).
# Idempotent: what is already there is kept (Go binaries are cached in $(go env GOPATH)/bin).
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned versions. MinIO's community edition ships as source; the Go module proxy serves this
# pseudo-version of github.com/minio/minio (its RELEASE.* tags are not semver).
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
KUSTOMIZE_VERSION="v5.7.1"   # v5.8.x needs Go >= 1.27
SOPS_VERSION="v3.13.3"
AGE_VERSION="v1.2.1"

python3 -m pip install --quiet --disable-pip-version-check -e '.[dev]'

GOBIN_DIR="$(go env GOPATH)/bin"
export PATH="$GOBIN_DIR:$PATH"
go_tool() {  # go_tool BINARY MODULE@VERSION
  if [ ! -x "$GOBIN_DIR/$1" ]; then
    echo "installing $1 ($2)" >&2
    (cd /tmp && GOTOOLCHAIN=local GOFLAGS=-mod=mod go install "$2")
  fi
}
go_tool minio "github.com/minio/minio@${MINIO_VERSION}"
go_tool kustomize "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}"
go_tool sops "github.com/getsops/sops/v3/cmd/sops@${SOPS_VERSION}"
go_tool age-keygen "filippo.io/age/cmd/age-keygen@${AGE_VERSION}"

# Knative's own admission checks (tests/deploy/test_knative_admission.py): a small program in this
# repository, built from the knative.dev/serving and knative.dev/eventing releases its go.mod pins.
# Rebuilt when its sources or pins change (the stamp is their checksum).
KV_DIR=tests/deploy/knative-validate
KV_STAMP="$(cat "$KV_DIR"/go.mod "$KV_DIR"/go.sum "$KV_DIR"/*.go | sha256sum | cut -d' ' -f1)"
if [ ! -x "$GOBIN_DIR/knative-validate" ] \
    || [ "$(cat "$GOBIN_DIR/knative-validate.stamp" 2>/dev/null)" != "$KV_STAMP" ]; then
  echo "building knative-validate ($KV_DIR)" >&2
  mkdir -p "$GOBIN_DIR"
  (cd "$KV_DIR" && GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" \
    go build -trimpath -o "$GOBIN_DIR/knative-validate" .)
  echo "$KV_STAMP" >"$GOBIN_DIR/knative-validate.stamp"
fi

# Debian: Alertmanager, and etcd for the real Kubernetes API server (3.4.23 serves 1.34 well);
# zsh and fish load the completion scripts (tests/functional/test_completion.py).
debian_packages=()
command -v zsh >/dev/null 2>&1 || debian_packages+=(zsh)
command -v fish >/dev/null 2>&1 || debian_packages+=(fish)
command -v prometheus-alertmanager >/dev/null 2>&1 || debian_packages+=(prometheus-alertmanager)
command -v etcd >/dev/null 2>&1 || debian_packages+=(etcd-server)
if [ "${#debian_packages[@]}" -gt 0 ]; then
  echo "installing ${debian_packages[*]} (Debian)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${debian_packages[@]}" >/dev/null
  # The packages start system services (:9093, :2379); the tests start their own on free ports.
  for service in prometheus-alertmanager etcd; do
    (systemctl stop "$service" || service "$service" stop) >/dev/null 2>&1 || true
  done
fi

# kube-apiserver, kube-controller-manager and kubectl from k8s.io/kubernetes (pinned inside).
./scripts/build-kube.sh
