"""Python code run in a fresh interpreter, the package's source first on its path: what a cold
start imports, builds and says, seen from outside the test process (whose own imports would
hide it)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

FUNCTIONS = Path(__file__).resolve().parent.parent / "functions"
DEADLINE_S = 300
"""For one fresh interpreter's imports: generous, never a measure (a busy CI box is slow)."""


def fresh_env(extra: Mapping[str, str] | None = None, *, configured: bool = True) -> dict[str, str]:
    """This process's environment without ``FUNCTION_TARGET`` (and, unless ``configured``,
    without any ``BACKUP2GITOPS`` variable), ``functions/`` first on ``PYTHONPATH``; then
    ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "FUNCTION_TARGET" and (configured or not key.startswith("BACKUP2GITOPS"))
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(FUNCTIONS), env.get("PYTHONPATH")]))
    return env | dict(extra or {})


def run_python(
    code: str, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -c code args...`` in ``env`` (``fresh_env()`` by default); it must succeed."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=dict(env) if env is not None else fresh_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=DEADLINE_S,
    )
