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
JAEGER_VERSION="v1.76.0"     # Jaeger v2 (cmd/jaeger): OTLP receiver + query API, for the trace test

python3 -m pip install --quiet --disable-pip-version-check -e '.[dev]'

GOBIN_DIR="$(go env GOPATH)/bin"
export PATH="$GOBIN_DIR:$PATH"
go_tool() {  # go_tool BINARY MODULE@VERSION
  if [ ! -x "$GOBIN_DIR/$1" ]; then
    echo "installing $1 ($2)" >&2
    (cd /tmp && GOTOOLCHAIN=local GOFLAGS=-mod=mod go install "$2")
  fi
}
# go_module_tool BINARY MODULE VERSION PACKAGE: for a module whose go.mod has replace directives,
# which `go install MODULE/PACKAGE@VERSION` refuses: build PACKAGE inside a copy of the module
# (downloaded from the Go module proxy), where its own go.mod applies.
go_module_tool() {
  if [ ! -x "$GOBIN_DIR/$1" ]; then
    echo "building $1 ($2@$3, ./$4)" >&2
    local src work
    src="$(cd /tmp && GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "$2@$3" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
    work="$(mktemp -d /tmp/go-module-tool.XXXXXX)"
    cp -r "$src/." "$work/" && chmod -R u+w "$work"
    mkdir -p "$GOBIN_DIR"
    (cd "$work" && GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=mod \
      go build -trimpath -buildvcs=false -o "$GOBIN_DIR/$1" "./$4")
    rm -rf "$work"
  fi
}
go_tool minio "github.com/minio/minio@${MINIO_VERSION}"
go_tool kustomize "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}"
go_tool sops "github.com/getsops/sops/v3/cmd/sops@${SOPS_VERSION}"
go_tool age-keygen "filippo.io/age/cmd/age-keygen@${AGE_VERSION}"
# Its go.mod replaces github.com/Shopify/sarama, so `go install ...@v1.76.0` refuses it.
go_module_tool jaeger github.com/jaegertracing/jaeger "${JAEGER_VERSION}" cmd/jaeger

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

# Debian: Alertmanager, etcd for the real Kubernetes API server (3.4.23 serves 1.34 well),
# chromium-headless-shell for the status page's browser test (tests/e2e/chromium.py: --dump-dom
# and --screenshot; the headless shell is the smaller package, ~20 s to install, and needs no X),
# and promtool (in Debian's prometheus package) for `promtool check metrics|rules` / `test rules`.
# zsh and fish load the completion scripts (tests/functional/test_completion.py).
debian_packages=()
command -v zsh >/dev/null 2>&1 || debian_packages+=(zsh)
command -v fish >/dev/null 2>&1 || debian_packages+=(fish)
command -v prometheus-alertmanager >/dev/null 2>&1 || debian_packages+=(prometheus-alertmanager)
command -v etcd >/dev/null 2>&1 || debian_packages+=(etcd-server)
command -v chromium-headless-shell >/dev/null 2>&1 || command -v chromium >/dev/null 2>&1 \
  || debian_packages+=(chromium-headless-shell)
command -v promtool >/dev/null 2>&1 || debian_packages+=(prometheus)
command -v shellcheck >/dev/null 2>&1 || debian_packages+=(shellcheck)  # actionlint runs it
if [ "${#debian_packages[@]}" -gt 0 ]; then
  echo "installing ${debian_packages[*]} (Debian)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${debian_packages[@]}" >/dev/null
  # The packages start system services (:9093, :2379, :9090); the tests start their own on free
  # ports (and run promtool only, never a Prometheus server).
  for service in prometheus-alertmanager etcd prometheus; do
    (systemctl stop "$service" || service "$service" stop) >/dev/null 2>&1 || true
  done
fi

# kube-apiserver, kube-controller-manager and kubectl from k8s.io/kubernetes (pinned inside).
./scripts/build-kube.sh

# aws-sam-cli (its own venv), awslambdaric for python3.12 and aws-lambda-rie: tests/e2e/aws/.
./scripts/install-aws-test-deps.sh
# mc, MinIO's client, for the mc wiring test (pinned inside).
./scripts/build-mc.sh
# Knative Eventing's MT broker and Serving's controller (v0.50.0) for tests/e2e/knative.
./scripts/build-knative.sh
# The real-world installs of tests/e2e/test_real_installs.py, as Go modules (pinned in
# tests/e2e/installs/modules.txt; read from the module cache, nothing built).
./scripts/fetch-installs.sh
# actionlint, for the release and CI workflows (tests/deploy/test_release_workflow.py).
./scripts/build-actionlint.sh
# buildah, mmdebstrap and the Debian-built stand-in bases for tests/e2e/test_image.py.
./scripts/build-image-test-deps.sh
