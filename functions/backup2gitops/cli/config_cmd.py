"""``backup2gitops config validate FILE``: check a configuration, print where it is wrong."""

from __future__ import annotations

import argparse
import sys

from backup2gitops.config import ConfigError, load_config


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("config", help="work with the configuration file")
    verbs = parser.add_subparsers(dest="config_verb", required=True, metavar="ACTION")
    validate = verbs.add_parser("validate", help="validate a configuration file")
    validate.add_argument("file", help="the YAML configuration")
    validate.set_defaults(func=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        print(f"{args.file}: invalid: {exc}", file=sys.stderr)
        return 2
    clusters = ", ".join(c.name for c in config.clusters) or "none mapped"
    print(
        f"{args.file}: valid (storage {config.storage.url}, branch {config.git.branch}, "
        f"clusters: {clusters}, receivers: {len(config.alerts.receivers)})"
    )
    return 0
