"""``-o table|json|yaml|name`` (and ``--json``, its alias) for every verb that prints a result.

``table`` is the human summary each verb writes itself; ``json`` and ``yaml`` print the same
report, one document, for scripts (as kubectl's and Velero's ``-o`` do); ``name`` prints one
``kind/name`` line per thing the verb made or read (kubectl's ``-o name``), for ``xargs``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

FORMATS = ("table", "json", "yaml", "name")


def add_output_option(
    parser: argparse.ArgumentParser, *, formats: tuple[str, ...] = FORMATS, default: str = "table"
) -> None:
    parser.add_argument(
        "-o",
        "--output",
        choices=formats,
        default=default,
        help=f"output format: {', '.join(formats)} (default: {default})",
    )
    parser.add_argument(
        "--json", dest="output", action="store_const", const="json", help="same as -o json"
    )


def emit(
    report: Mapping[str, Any],
    *,
    output: str,
    table: Callable[[Mapping[str, Any]], None],
    names: Callable[[Mapping[str, Any]], Iterable[str]],
) -> None:
    """Print ``report`` as asked: ``table`` calls the verb's own printer, ``name`` prints what
    ``names`` gives, one a line."""
    if output == "json":
        sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
    elif output == "yaml":
        import yaml

        sys.stdout.write(
            yaml.safe_dump(json.loads(json.dumps(report, default=str)), sort_keys=False)
        )
    elif output == "name":
        sys.stdout.write("".join(f"{name}\n" for name in names(report)))
    else:
        table(report)
