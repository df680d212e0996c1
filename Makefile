# `make test` is the one command that installs what the tests need and runs them all.
SHELL := /bin/bash
export PATH := $(shell go env GOPATH 2>/dev/null)/bin:$(PATH)

.PHONY: test deps check unit lint demo bench schemas

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
