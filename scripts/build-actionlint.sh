#!/usr/bin/env bash
# Builds actionlint, GitHub Actions' workflow linter, from github.com/rhysd/actionlint at a pinned
# version into $(go env GOPATH)/bin. Idempotent: kept while its stamp (the pin) matches.
# tests/deploy/test_release_workflow.py runs it over .github/workflows/ (it checks expressions,
# `needs:`, permissions, action inputs against each action's metadata it knows, and `run:` scripts
# with shellcheck when shellcheck is on PATH -- Debian's, installed by install-test-deps.sh).
set -euo pipefail

ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-v1.7.12}"
GOBIN_DIR="$(go env GOPATH)/bin"
STAMP="$GOBIN_DIR/actionlint.stamp"

if [ -x "$GOBIN_DIR/actionlint" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$ACTIONLINT_VERSION" ]; then
  exit 0
fi
echo "building actionlint (github.com/rhysd/actionlint@${ACTIONLINT_VERSION})" >&2
mkdir -p "$GOBIN_DIR"
(cd /tmp && GOTOOLCHAIN=local GOFLAGS=-mod=mod GOBIN="$GOBIN_DIR" \
  go install -trimpath "github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}")
echo "$ACTIONLINT_VERSION" >"$STAMP"
