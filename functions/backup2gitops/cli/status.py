"""``backup2gitops status``: what health-aggregator's ``/status`` says, in the terminal.

Without ``--url`` the facts are measured here, from the configuration, by the same code the
function runs (``health_aggregator.views.status_body``); with ``--url`` they are read from a
deployed health-aggregator's ``/status``, sending ``Authorization: Bearer
$BACKUP2GITOPS_STATUS_TOKEN`` when that variable is set (the token ``health.status_token``
names) -- or, for a Lambda Function URL (``AuthType: AWS_IAM``), signed with SigV4 and the
caller's AWS credentials (``adapters.aws_signing``). ``-o table`` (default) prints the components
and one line per cluster (with its open alerts and recent drift findings counted); ``-o json|yaml``
(or ``--json``) prints the ``/status`` body as is, ``-o name`` one ``cluster/NAME`` a line. Ages are
measured against the report's ``checked_at``, not this machine's clock. Exit status: 0 healthy or
degraded, 1 unhealthy, 2 when the status cannot be had.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from typing import Any

import requests

from backup2gitops.cli.output import add_output_option, emit
from backup2gitops.config import CONFIG_ENV, ConfigError, load_config


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("status", help="the flow's health and each cluster's facts")
    parser.add_argument("--url", help="a health-aggregator's base URL (default: measure here)")
    parser.add_argument("--config", help="configuration file (default: $BACKUP2GITOPS_CONFIG)")
    add_output_option(parser)
    parser.set_defaults(func=run)


TOKEN_ENV = "BACKUP2GITOPS_STATUS_TOKEN"  # noqa: S105 - the variable's name, not a token


def fetch(url: str, *, token: str | None = None, sigv4_region: str | None = None) -> dict[str, Any]:
    """``/status`` of a deployed health-aggregator, as JSON (with the bearer token, if any).
    A Lambda Function URL (``https://ID.lambda-url.REGION.on.aws``, ``AuthType: AWS_IAM``) is
    signed with SigV4 and the caller's AWS credentials instead (``sigv4_region`` forces it)."""
    from backup2gitops.adapters.aws_signing import function_url_region, sigv4_headers

    status_url = url.rstrip("/") + "/status"
    headers = {"Accept": "application/json"}
    region = sigv4_region or function_url_region(url)
    if region:
        headers = sigv4_headers("GET", status_url, region=region, headers=headers)
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    response = requests.get(status_url, headers=headers, timeout=30)
    if response.status_code not in (200, 503):  # 503 is an unhealthy report, still a report
        raise ValueError(f"{url}/status answered {response.status_code}")
    body: dict[str, Any] = response.json()
    return body


def measure_here(config_path: str | None) -> dict[str, Any]:
    from backup2gitops.runtime.context import FunctionContext
    from health_aggregator.views import status_body

    return status_body(FunctionContext(load_config(config_path)))


def _age(checked_at: str, moment: str | None) -> str:
    if moment is None:
        return "-"
    seconds = (datetime.fromisoformat(checked_at) - datetime.fromisoformat(moment)).total_seconds()
    return duration(seconds)


def duration(seconds: float | None) -> str:
    """``93784`` -> ``1d2h3m``; short, for a table cell (the status page's too)."""
    from backup2gitops.core.status import short_duration

    return short_duration(seconds)


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def render(body: dict[str, Any]) -> str:
    """The ``/status`` body as two tables: components, then clusters."""
    checked = str(body["checked_at"])
    lines = [f"overall: {body['status']} (checked {checked})", ""]
    components = [["COMPONENT", "STATUS", "LATENCY", "MESSAGE"]]
    for name, c in sorted(body.get("components", {}).items()):
        components.append(
            [name, c["status"], f"{c.get('latency_ms', 0):.0f}ms", c.get("message", "")]
        )
    lines += _table(components)
    clusters = [
        [
            "CLUSTER",
            "LAST BACKUP",
            "AGE",
            "MAX AGE",
            "STALE",
            "LAST COMMIT",
            "LAG",
            "ALERTS",
            "DRIFT",
        ]
    ]
    for name, f in sorted(body.get("clusters", {}).items()):
        backup, commit = f.get("last_backup"), f.get("last_commit")
        clusters.append(
            [
                name,
                backup["id"] if backup else "-",
                _age(checked, backup["completed_at"] if backup else None),
                str(f.get("max_backup_age", "-")),
                "yes" if f.get("stale") else "no",
                f"{commit['commit'][:12]} ({commit['backup_id']})" if commit else "-",
                duration(f.get("lag_s")),
                str(len(f.get("open_alerts", []))),
                str(len(f.get("drift", []))),
            ]
        )
    if len(clusters) > 1:
        lines += ["", *_table(clusters)]
    return "\n".join(lines)


NO_CONFIGURATION = (
    "no configuration: give --config FILE or set $BACKUP2GITOPS_CONFIG to measure here, "
    "or --url of a deployed health-aggregator"
)


def run(args: argparse.Namespace) -> int:
    if not args.url and not args.config and not os.environ.get(CONFIG_ENV):
        # the embedded defaults would measure ./bucket (and make it): say so, create nothing
        print(f"status: {NO_CONFIGURATION}", file=sys.stderr)
        return 2
    try:
        body = (
            fetch(args.url, token=os.environ.get(TOKEN_ENV))
            if args.url
            else measure_here(args.config)
        )
    except requests.RequestException as exc:  # requests' text is a paragraph of pool internals
        print(f"status: {args.url} did not answer ({type(exc).__name__})", file=sys.stderr)
        return 2
    except (ConfigError, ValueError) as exc:
        print(f"status: {exc}", file=sys.stderr)
        return 2
    emit(
        body,
        output=args.output,
        table=lambda report: print(render(dict(report))),
        names=lambda report: [f"cluster/{name}" for name in sorted(report.get("clusters", {}))],
    )
    return 1 if body.get("status") == "unhealthy" else 0
