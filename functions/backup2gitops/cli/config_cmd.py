"""``backup2gitops config validate FILE``: check a configuration, print where it is wrong.

The same check every function makes at its cold start (``runtime.startup``): the whole file,
unknown keys included, with installed transforms and receiver types.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from backup2gitops.cli.output import add_output_option, emit

if TYPE_CHECKING:
    from backup2gitops.config import Config


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("config", help="work with the configuration file")
    verbs = parser.add_subparsers(dest="config_verb", required=True, metavar="ACTION")
    validate = verbs.add_parser("validate", help="validate a configuration file")
    validate.add_argument("file", help="the YAML configuration")
    add_output_option(validate)
    validate.set_defaults(func=run_validate)
    reference = verbs.add_parser(
        "reference", help="print the table of every field (docs/configuration.md)"
    )
    reference.set_defaults(func=run_reference)
    from backup2gitops.cli import config_rbac

    config_rbac.register(verbs)


def warnings(config: Config) -> list[str]:
    """What is valid but probably not meant."""
    found = []
    if not any(not r.match and not r.matchers and r.receivers for r in config.alerts.routes):
        found.append(
            "alerts.routes: no catch-all route (a last route with receivers and no match): "
            "an alert no route matches is only logged, never delivered"
        )
    return found


def print_validation(report: Mapping[str, Any]) -> None:
    clusters = ", ".join(report["clusters"]) or "none mapped"
    print(
        f"{report['file']}: valid (storage {report['storage']}, branch {report['branch']}, "
        f"clusters: {clusters}, receivers: {report['receivers']})"
    )


def run_validate(args: argparse.Namespace) -> int:
    from backup2gitops.config import ConfigError, load_config

    try:
        config = load_config(args.file)
    except ConfigError as exc:
        text = str(exc)  # a YAML error already starts with FILE:LINE:COLUMN
        print(
            text if text.startswith(f"{args.file}:") else f"{args.file}: invalid: {text}",
            file=sys.stderr,
        )
        return 2
    found = warnings(config)
    for warning in found:
        print(f"{args.file}: warning: {warning}", file=sys.stderr)
    report = {
        "file": args.file,
        "valid": True,
        "storage": config.storage.url,
        "branch": config.git.branch,
        "clusters": [c.name for c in config.clusters],
        "receivers": len(config.alerts.receivers),
        "warnings": found,
    }
    emit(
        report,
        output=args.output,
        table=print_validation,
        names=lambda r: [f"config/{r['file']}"],
    )
    return 0


def run_reference(args: argparse.Namespace) -> int:
    from backup2gitops.cli.config_reference import reference_markdown

    sys.stdout.write(reference_markdown())
    return 0
