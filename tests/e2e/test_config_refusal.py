"""A function whose configuration is invalid refuses to serve: functions-framework, started for
real, exits with status 2 after one log line that names the field (runtime/startup.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.e2e.servers import FUNCTIONS_DIR, serve_function
from tests.recording import free_port

pytestmark = pytest.mark.e2e
BROKEN = "generator:\n  cleaning:\n    secrets: encrypt   # a typo of a mode\n"


def functions_framework(source: Path, target: str, *, config: Path) -> list[str]:
    executable = shutil.which("functions-framework") or str(
        Path(sys.executable).with_name("functions-framework")
    )
    argv = [executable, "--source", str(source), "--target", target, "--signature-type", "http"]
    return [*argv, "--host", "127.0.0.1", "--port", str(free_port())]


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (FUNCTIONS_DIR / "gitops_generator" / "handler.py", "gitops_generator"),  # serve, e2e
        (FUNCTIONS_DIR / "main.py", "alert_router"),  # the container's source
    ],
)
def test_functions_framework_exits_with_one_line_naming_the_field(
    tmp_path: Path, source: Path, target: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(BROKEN)
    env = {
        **os.environ,
        "PYTHONPATH": str(FUNCTIONS_DIR),
        "BACKUP2GITOPS_CONFIG": str(config),
        "FUNCTION_TARGET": target,
    }
    # The old code served (and answered 500 to every delivery): the timeout is the failure.
    result = subprocess.run(
        functions_framework(source, target, config=config),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    record = json.loads(lines[0])
    assert record["level"] == "CRITICAL"
    assert record["message"].startswith(f"{target.replace('_', '-')}: invalid configuration")
    assert (
        "generator.cleaning.secrets: must be one of exclude, redact, sops, plaintext"
        in (record["message"])
    )
    assert "Traceback" not in result.stderr + result.stdout


def test_a_valid_configuration_still_serves(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(BROKEN.replace("encrypt", "redact"))
    source = FUNCTIONS_DIR / "gitops_generator" / "handler.py"
    with serve_function(
        source, "gitops_generator", env={"BACKUP2GITOPS_CONFIG": str(config)}
    ) as url:
        assert requests.get(url + "/healthz", timeout=10).status_code == 200
