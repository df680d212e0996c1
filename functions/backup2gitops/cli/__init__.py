"""The ``backup2gitops`` command: a thin shell over the functions and the core.

Each verb lives in its own module with ``register(subparsers)``; this module only assembles them.
The CLI is the composition root: it is the one place that may import every function package.

Only the verb being run is imported (its module brings git, boto3, flask... as it needs them);
the others are listed by name and summary, so ``backup2gitops --help`` starts in the time of
argparse, and ``generate`` does not load what ``serve`` or ``backup`` need.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Final

VERBS: Final[dict[str, tuple[str, str]]] = {  # verb -> (module, summary shown by --help)
    "demo": ("demo", "run the whole flow on the embedded sample"),
    "serve": ("serve", "serve functions over HTTP (all: with a broker)"),
    "generate": ("generate", "write one backup into a GitOps repository"),
    "backup": ("backup", "back up a live cluster into a bucket"),
    "neat": ("neat", "clean Kubernetes manifests (status, server fields, defaults)"),
    "config": ("config_cmd", "work with the configuration file"),
    "schemas": ("schemas", "write the event catalog's JSON Schemas"),
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the verb it names is imported (all verbs without)."""
    parser = argparse.ArgumentParser(
        prog="backup2gitops",
        description="Kubernetes backups in MinIO/S3 -> a clean, reviewable GitOps repository.",
    )
    subparsers = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    wanted = None if argv is None else next((a for a in argv if not a.startswith("-")), "")
    for verb, (module, summary) in VERBS.items():
        if wanted is None or verb == wanted:
            importlib.import_module(f"backup2gitops.cli.{module}").register(subparsers)
        else:
            subparsers.add_parser(verb, help=summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(arguments).parse_args(arguments)
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
