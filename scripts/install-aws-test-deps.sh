#!/usr/bin/env bash
# What the AWS end-to-end test (tests/e2e/aws/) runs, pinned and cached:
# - aws-sam-cli, in its own virtualenv made with python3.12 (its pins of boto3, Flask, ... are not
#   ours; `sam build` needs python3.12 on PATH for the python3.12 runtime, and the venv has it);
# - awslambdaric (the runtime interface client Lambda's Python images run) and the boto3 Lambda's
#   python3.12 runtime carries, installed for python3.12 into a directory that stands for the
#   runtime's own /var/runtime (awslambdaric is a C extension: a cp312 manylinux wheel);
# - aws-lambda-rie, the Lambda Runtime Interface Emulator, built with `go build`.
# moto[server] (the AWS API emulator) is a dev dependency in pyproject.toml.
# Idempotent: a directory is kept while its stamp (the pins) matches.
set -euo pipefail
cd "$(dirname "$0")/.."

SAM_CLI_VERSION="1.170.0"
AWSLAMBDARIC_VERSION="4.2.2"
LAMBDA_BOTO3_VERSION="1.40.4"  # about what Lambda's python3.12 runtime ships; the code needs any boto3
RIE_MODULE="github.com/aws/aws-lambda-runtime-interface-emulator"
RIE_VERSION="v0.0.0-20261030222936-bef5c4ba774d"

GOBIN_DIR="$(go env GOPATH)/bin"
AWS_DIR="${B2G_AWS_TOOLS:-$GOBIN_DIR/../aws-test-tools}"  # the tests read the same default
mkdir -p "$GOBIN_DIR" "$AWS_DIR"

# python3.12: on PATH, else pyenv's (this machine kind has it; nothing is downloaded).
PY312="$(command -v python3.12 2>/dev/null || true)"
if [ -z "$PY312" ] || ! "$PY312" -c 'import sys' >/dev/null 2>&1; then
  PY312="$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12.*/bin/python3.12 2>/dev/null | tail -1 || true)"
fi
if [ -z "$PY312" ]; then
  echo "python3.12 not found: sam build and the Lambda runtime need it (apt-get install python3.12, or pyenv)" >&2
  exit 1
fi

stamped() {  # stamped DIR STAMP: DIR is there and was made for STAMP
  [ -d "$1" ] && [ "$(cat "$1.stamp" 2>/dev/null)" = "$2" ]
}

SAM_STAMP="aws-sam-cli==$SAM_CLI_VERSION $PY312"
if ! stamped "$AWS_DIR/sam" "$SAM_STAMP"; then
  echo "installing aws-sam-cli $SAM_CLI_VERSION (virtualenv, $PY312)" >&2
  rm -rf "$AWS_DIR/sam"
  "$PY312" -m venv "$AWS_DIR/sam"
  "$AWS_DIR/sam/bin/python" -m pip install --quiet --disable-pip-version-check \
    "aws-sam-cli==$SAM_CLI_VERSION"
  "$AWS_DIR/sam/bin/python" -m pip check >&2
  echo "$SAM_STAMP" >"$AWS_DIR/sam.stamp"
fi

RUNTIME_STAMP="awslambdaric==$AWSLAMBDARIC_VERSION boto3==$LAMBDA_BOTO3_VERSION $PY312"
if ! stamped "$AWS_DIR/lambda-runtime" "$RUNTIME_STAMP"; then
  echo "installing awslambdaric $AWSLAMBDARIC_VERSION for python3.12 (the Lambda runtime)" >&2
  rm -rf "$AWS_DIR/lambda-runtime"
  "$PY312" -m pip install --quiet --disable-pip-version-check --only-binary=:all: \
    --target "$AWS_DIR/lambda-runtime" \
    "awslambdaric==$AWSLAMBDARIC_VERSION" "boto3==$LAMBDA_BOTO3_VERSION"
  echo "$RUNTIME_STAMP" >"$AWS_DIR/lambda-runtime.stamp"
fi

if [ "$(cat "$GOBIN_DIR/aws-lambda-rie.stamp" 2>/dev/null)" != "$RIE_VERSION" ] \
    || [ ! -x "$GOBIN_DIR/aws-lambda-rie" ]; then
  echo "building aws-lambda-rie ($RIE_MODULE@$RIE_VERSION)" >&2
  (cd /tmp && GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 \
    go install -trimpath "$RIE_MODULE/cmd/aws-lambda-rie@$RIE_VERSION")
  echo "$RIE_VERSION" >"$GOBIN_DIR/aws-lambda-rie.stamp"
fi
