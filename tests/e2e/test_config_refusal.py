"""A function whose configuration is invalid refuses to serve: functions-framework, started for
real, exits with status 2 after one log line that names the field (runtime/startup.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.e2e.servers import FUNCTIONS_DIR, serve_function
from tests.recording import free_port

pytestmark = pytest.mark.e2e
BROKEN = "generator:\n  cleaning:\n    secrets: encrypt   # a typo of a mode\n"


def functions_framework(source: Path, target: str) -> tuple[list[str], int]:
    """The image's server (``runtime.server``: functions-framework's app under gunicorn)."""
    port = free_port()
    argv = [sys.executable, "-m", "backup2gitops.runtime.server", "--source", str(source)]
    return [*argv, "--target", target, "--host", "127.0.0.1", "--port", str(port)], port


def run_until_exit_or_serving(
    command: tuple[list[str], int], *, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run until the process exits; if it answers HTTP instead, stop it and fail (the old code
    served a broken configuration and answered 500 to every delivery)."""
    argv, port = command
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        for _ in range(1200):  # bounded polling, not a timing assertion
            try:
                return_code = process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                try:
                    requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                except requests.ConnectionError:
                    continue
                pytest.fail("functions-framework served with an invalid configuration")
            stdout, stderr = process.communicate()
            return subprocess.CompletedProcess(argv, return_code, stdout, stderr)
        pytest.fail("functions-framework neither exited nor served")
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


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
    result = run_until_exit_or_serving(functions_framework(source, target), env=env)
    assert result.returncode == 2, result.stderr
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
