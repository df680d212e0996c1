#!/usr/bin/env bash
# Builds Knative's own processes for the real-Knative e2e tests (tests/e2e/knative/): Eventing's
# MT broker data plane (mtchannel_broker, controller, the InMemoryChannel controller and
# dispatcher, broker ingress and filter, mtping) and Serving's controller + autoscaler, at the
# releases tests/deploy/knative-validate pins, from the Go module proxy.
#
# They run as plain processes on 127.0.0.1 with no kubelet, so a test build binds every listener
# to loopback on a port the test chooses: copies of knative.dev/pkg, eventing and serving get a
# handful of one-line patches below (wired with `replace`; `go build -overlay` refuses files in
# the module cache). The release's config/ (CRDs, ConfigMaps, Deployments) is copied next to the
# binaries for the test fixture.
#
# Two `go build` invocations (one per module: Eventing's seven programs, Serving's two).
# Cached in $(go env GOPATH)/bin; rebuilt when this script changes (the stamp is its checksum).
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTING_VERSION="v0.50.0"
SERVING_VERSION="v0.50.0"
PKG_VERSION="v0.0.0-20260727151759-521cb33b33dd"  # knative.dev/pkg, as both releases' go.mod pin
# Serving's go.mod pins these; only their CRDs and config-network are used (copied below).
NETWORKING_VERSION="v0.0.0-20260727162500-c7a7b772cac9"
CACHING_VERSION="v0.0.0-20260727161800-0edbf88bc267"

GOBIN_DIR="$(go env GOPATH)/bin"
SHARE_DIR="$GOBIN_DIR/knative-$EVENTING_VERSION"
STAMP="$(sha256sum "$0" | cut -d' ' -f1)"
EVENTING_PROGRAMS=(mtchannel_broker controller channel_controller channel_dispatcher ingress filter mtping)
SERVING_PROGRAMS=(controller autoscaler)

up_to_date=1
for program in "${EVENTING_PROGRAMS[@]}"; do
  [ -x "$GOBIN_DIR/knative-eventing-$program" ] || up_to_date=0
done
for program in "${SERVING_PROGRAMS[@]}"; do
  [ -x "$GOBIN_DIR/knative-serving-$program" ] || up_to_date=0
done
[ -d "$SHARE_DIR/eventing/config" ] && [ -d "$SHARE_DIR/serving/config" ] || up_to_date=0
if [ "$up_to_date" = 1 ] && [ "$(cat "$GOBIN_DIR/knative.stamp" 2>/dev/null)" = "$STAMP" ]; then
  exit 0
fi
echo "building Knative Eventing $EVENTING_VERSION and Serving $SERVING_VERSION (loopback listeners)" >&2

module_dir() {  # module_dir MODULE@VERSION: its directory in the module cache (downloaded if absent)
  (cd /tmp && GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "$1") \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'
}
work="$(mktemp -d /tmp/build-knative.XXXXXX)"
trap 'rm -rf "$work"' EXIT
for copy in "pkg knative.dev/pkg@$PKG_VERSION" "eventing knative.dev/eventing@$EVENTING_VERSION" \
    "serving knative.dev/serving@$SERVING_VERSION"; do
  set -- $copy
  cp -r "$(module_dir "$2")/." "$work/$1/"
  chmod -R u+w "$work/$1"
done

# patch FILE OLD NEW: replaces the one line holding OLD (exactly once), or fails the build, so a
# version bump that moves a listener cannot silently leave it on every interface.
patch() {
  python3 - "$work/$1" "$2" "$3" <<'EOF'
import pathlib, sys
path, old, new = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
text = path.read_text()
if text.count(old) != 1:
    sys.exit(f"build-knative.sh: {path}: expected one {old!r}, found {text.count(old)}")
path.write_text(text.replace(old, new))
EOF
}
# Probes (sharedmain, the mtping adapter): 127.0.0.1, port from $PROBES_PORT (default 8080).
patch pkg/injection/health_check.go 'Addr: ":" + strconv.Itoa(port)}' \
  'Addr: "127.0.0.1:" + loopbackPort("PROBES_PORT", strconv.Itoa(port))}'
cat >"$work/pkg/injection/zz_loopback_port.go" <<'EOF'
package injection

import "os"

// loopbackPort is the port named by the environment variable env, or port (test builds only).
func loopbackPort(env, port string) string {
	if value := os.Getenv(env); value != "" {
		return value
	}
	return port
}
EOF
# pprof (both generations of the profiling server): 127.0.0.1, port from $PROFILING_PORT.
patch pkg/observability/runtime/pprof.go 'Addr:    ":" + port,' 'Addr:    "127.0.0.1:" + port,'
patch pkg/profiling/server.go 'Addr:              ":" + port,' 'Addr:              "127.0.0.1:" + port,'
# Admission webhooks (the IMC controller serves one): 127.0.0.1, port from $WEBHOOK_PORT.
patch pkg/webhook/webhook.go 'Addr:              fmt.Sprint(":", wh.Options.Port),' \
  'Addr:              fmt.Sprint("127.0.0.1:", wh.Options.Port),'
# CloudEvents receivers (broker ingress and filter, IMC dispatcher): 127.0.0.1; $KNATIVE_PORT_<n>
# moves the built-in port n (the IMC dispatcher's 8080 and 8443 are constants).
patch eventing/pkg/kncloudevents/event_receiver.go \
  'net.Listen("tcp", fmt.Sprintf(":%d", recv.desiredPort))' \
  'net.Listen("tcp", "127.0.0.1:"+loopbackPort(recv.desiredPort))'
cat >"$work/eventing/pkg/kncloudevents/zz_loopback_port.go" <<'EOF'
package kncloudevents

import (
	"os"
	"strconv"
)

// loopbackPort is $KNATIVE_PORT_<port> if set, else port (test builds only).
func loopbackPort(port int) string {
	if value := os.Getenv("KNATIVE_PORT_" + strconv.Itoa(port)); value != "" {
		return value
	}
	return strconv.Itoa(port)
}
EOF
# Serving's autoscaler stats websocket: 127.0.0.1, port from $AUTOSCALER_STATS_PORT.
patch serving/cmd/autoscaler/main.go 'statserver.New(statsServerAddr, ' 'statserver.New(loopbackStatsAddr(), '
cat >"$work/serving/cmd/autoscaler/zz_loopback_port.go" <<'EOF'
package main

import "os"

// loopbackStatsAddr is 127.0.0.1:$AUTOSCALER_STATS_PORT (default 8080; test builds only).
func loopbackStatsAddr() string {
	if port := os.Getenv("AUTOSCALER_STATS_PORT"); port != "" {
		return "127.0.0.1:" + port
	}
	return "127.0.0.1" + statsServerAddr
}
EOF

mkdir -p "$GOBIN_DIR" "$work/out/eventing" "$work/out/serving"
build() {  # build MODULE_COPY OUT PACKAGE...: one `go build` for several programs of one module
  local copy="$1" out="$2"
  shift 2
  (cd "$work/$copy" && GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=mod \
    go mod edit -replace "knative.dev/pkg=../pkg" \
    && GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=mod \
    go build -trimpath -buildvcs=false -o "$out/" "$@")
}
build eventing "$work/out/eventing" ./cmd/mtchannel_broker ./cmd/controller \
  ./cmd/in_memory/channel_controller ./cmd/in_memory/channel_dispatcher \
  ./cmd/broker/ingress ./cmd/broker/filter ./cmd/mtping
build serving "$work/out/serving" ./cmd/controller ./cmd/autoscaler
for program in "${EVENTING_PROGRAMS[@]}"; do
  install -m 0755 "$work/out/eventing/$program" "$GOBIN_DIR/knative-eventing-$program"
done
for program in "${SERVING_PROGRAMS[@]}"; do
  install -m 0755 "$work/out/serving/$program" "$GOBIN_DIR/knative-serving-$program"
done
# The releases' manifests the fixture installs (CRDs, ConfigMaps, the data plane's Deployments).
rm -rf "$SHARE_DIR"
mkdir -p "$SHARE_DIR/eventing" "$SHARE_DIR/serving"
cp -r "$work/eventing/config" "$SHARE_DIR/eventing/config"
cp -r "$work/serving/config" "$SHARE_DIR/serving/config"
mkdir -p "$SHARE_DIR/networking" "$SHARE_DIR/caching"
cp -r "$(module_dir "knative.dev/networking@$NETWORKING_VERSION")/config" "$SHARE_DIR/networking/config"
cp -r "$(module_dir "knative.dev/caching@$CACHING_VERSION")/config" "$SHARE_DIR/caching/config"
chmod -R u+w "$SHARE_DIR"
echo "$STAMP" >"$GOBIN_DIR/knative.stamp"
