# `make test` is the one command that installs what the tests need and runs them all.
SHELL := /bin/bash
export PATH := $(shell go env GOPATH 2>/dev/null)/bin:$(PATH)

.PHONY: test deps check unit lint demo bench schemas image lock template-image

test: deps check
	python3 -m pytest

deps:
	./scripts/install-test-deps.sh

check:
	ruff check functions tests benchmarks
	ruff format --check functions tests benchmarks
	mypy
	PYTHONPATH=functions lint-imports  # this checkout, not an installed copy

unit:
	python3 -m pytest tests/unit tests/functional

demo:
	backup2gitops demo

schemas:
	backup2gitops schemas --out schemas

bench:
	python3 benchmarks/run.py
	python3 benchmarks/bench_archive.py
	python3 benchmarks/bench_generate.py
	python3 benchmarks/bench_cluster_backup.py

# The images (Containerfile): podman, docker or buildah, whichever is here. IMAGE names the
# repository; TARGETS the Containerfile targets built (IMAGE, IMAGE-cluster-backup, IMAGE-lambda).
IMAGE ?= ghcr.io/backup2gitops/backup2gitops
VERSION ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
TARGETS ?= functions cluster-backup lambda
# docker only when its daemon answers
BUILDER ?= $(shell for b in podman docker buildah; do command -v $$b >/dev/null 2>&1 && { [ $$b != docker ] || docker info >/dev/null 2>&1; } && { echo $$b; break; }; done)
image:
	@test -n "$(BUILDER)" || { echo "make image needs podman, docker or buildah" >&2; exit 1; }
	for target in $(TARGETS); do \
	  name=$(IMAGE); [ $$target = functions ] || name=$(IMAGE)-$$target; \
	  $(BUILDER) build -f Containerfile --target $$target \
	    --build-arg VERSION=$(VERSION) \
	    --build-arg REVISION=$$(git rev-parse HEAD 2>/dev/null || echo unknown) \
	    --build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) \
	    -t $$name:$(VERSION) . || exit 1; \
	done

# requirements/*.txt from pyproject.toml (hash-locked, for the image): needs uv (pip install uv==0.13.8)
lock:
	./scripts/lock-requirements.sh

# template-image.yaml from template.yaml (every function as the image)
template-image:
	python3 scripts/template_image.py
