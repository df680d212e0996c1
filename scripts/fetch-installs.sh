#!/usr/bin/env bash
# Downloads the real-world installs of tests/e2e/test_real_installs.py (the manifests each project
# publishes in its repository) as Go modules into the module cache, at the versions pinned in
# tests/e2e/installs/modules.txt. Nothing is built and nothing is copied into this repository: the
# test reads the manifests from $(go env GOMODCACHE). Idempotent: a stamp in $(go env GOPATH)/bin
# holds the checksum of modules.txt, and a module already in the cache is not downloaded again.
set -euo pipefail
cd "$(dirname "$0")/.."

LIST=tests/e2e/installs/modules.txt
GOBIN_DIR="$(go env GOPATH)/bin"
STAMP="$GOBIN_DIR/real-installs.stamp"
SUM="$(sha256sum "$LIST" | cut -d' ' -f1)"
[ "$(cat "$STAMP" 2>/dev/null)" = "$SUM" ] && exit 0

echo "downloading the real-world installs of $LIST (Go modules)" >&2
modules=()
while read -r module version; do
  case "$module" in ''|'#'*) continue ;; esac
  modules+=("$module@$version")
done <"$LIST"
# outside any module, so no go.mod is consulted or changed
(cd /tmp && GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download "${modules[@]}")
mkdir -p "$GOBIN_DIR"
echo "$SUM" >"$STAMP"
