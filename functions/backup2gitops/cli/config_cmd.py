"""``backup2gitops config validate FILE``: check a configuration, print where it is wrong.

The same check every function makes at its cold start (``runtime.startup``): the whole file,
unknown keys included, with installed transforms and receiver types.
"""

from __future__ import annotations

import argparse
import sys

from backup2gitops.cli.config_reference import reference_markdown
from backup2gitops.config import Config, ConfigError, load_config


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("config", help="work with the configuration file")
    verbs = parser.add_subparsers(dest="config_verb", required=True, metavar="ACTION")
    validate = verbs.add_parser("validate", help="validate a configuration file")
    validate.add_argument("file", help="the YAML configuration")
    validate.set_defaults(func=run_validate)
    reference = verbs.add_parser(
        "reference", help="print the table of every field (docs/configuration.md)"
    )
    reference.set_defaults(func=run_reference)


def warnings(config: Config) -> list[str]:
    """What is valid but probably not meant."""
    found = []
    if not any(not r.match and not r.matchers and r.receivers for r in config.alerts.routes):
        found.append(
            "alerts.routes: no catch-all route (a last route with receivers and no match): "
            "an alert no route matches is only logged, never delivered"
        )
    return found


def run_validate(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        print(f"{args.file}: invalid: {exc}", file=sys.stderr)
        return 2
    for warning in warnings(config):
        print(f"{args.file}: warning: {warning}", file=sys.stderr)
    clusters = ", ".join(c.name for c in config.clusters) or "none mapped"
    print(
        f"{args.file}: valid (storage {config.storage.url}, branch {config.git.branch}, "
        f"clusters: {clusters}, receivers: {len(config.alerts.receivers)})"
    )
    return 0


def run_reference(args: argparse.Namespace) -> int:
    sys.stdout.write(reference_markdown())
    return 0
