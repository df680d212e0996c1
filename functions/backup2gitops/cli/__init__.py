"""The ``backup2gitops`` command: a thin shell over the functions and the core.

Each verb lives in its own module with ``register(subparsers)``; this module only assembles them.
The CLI is the composition root: it is the one place that may import every function package.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

VERBS = ("demo", "serve", "generate", "backup", "neat", "config_cmd", "schemas", "status")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backup2gitops",
        description="Kubernetes backups in MinIO/S3 -> a clean, reviewable GitOps repository.",
    )
    subparsers = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb in VERBS:  # imported here: importing one verb module never loads the others
        importlib.import_module(f"backup2gitops.cli.{verb}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
