"""``backup2gitops generate`` as a person runs it, in a subprocess: the JSON report of a run that
must succeed (the tests that expect a refusal call ``cli`` themselves and read its one line)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.functional.test_cli_errors import cli


def generate_report(
    tmp_path: Path,
    backup: Path,
    repo: Path,
    *extra: str,
    cluster: str = "prod",
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``generate BACKUP --repo REPO --cluster CLUSTER -o json EXTRA...``'s report (exit 0)."""
    result = cli(
        tmp_path,
        "generate",
        str(backup),
        "--repo",
        str(repo),
        "--cluster",
        cluster,
        "-o",
        "json",
        *extra,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report
