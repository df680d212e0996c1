#!/usr/bin/env bash
# Builds MinIO's client, mc, from github.com/minio/mc at a pinned pseudo-version (its RELEASE.*
# tags are not semver) into $(go env GOPATH)/bin. Idempotent: kept while its stamp (the pin)
# matches. tests/e2e/test_minio_mc_wiring.py drives it against the real MinIO: the
# `mc admin config set ALIAS notify_webhook:...` + `mc admin service restart` + `mc event add`
# path that MinIO Operator and Helm-chart installs need (knative/minio/README.md).
set -euo pipefail

MC_VERSION="${MC_VERSION:-v0.0.0-20250313080218-cf909e1063a9}"
GOBIN_DIR="$(go env GOPATH)/bin"
STAMP="$GOBIN_DIR/mc.stamp"

if [ -x "$GOBIN_DIR/mc" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$MC_VERSION" ]; then
  exit 0
fi
echo "building mc (github.com/minio/mc@${MC_VERSION})" >&2
mkdir -p "$GOBIN_DIR"
(cd /tmp && GOTOOLCHAIN=local GOFLAGS=-mod=mod GOBIN="$GOBIN_DIR" \
  go install -trimpath "github.com/minio/mc@${MC_VERSION}")
echo "$MC_VERSION" >"$STAMP"
