"""Each function's module loads no SDK it does not need to start: kubernetes and boto3 come with
the first event that uses them (issue 17, cold start); GitPython is not used at all any more
(``adapters.git`` runs the git binary), and must not come back. A correctness check in a fresh
interpreter, not a timing: speed is ``benchmarks/run.py``'s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
HEAVY = ("kubernetes", "git", "boto3")
MODULES = [
    "backup_complete.handler",
    "health_aggregator.handler",
    "alert_router.handler",
    "gitops_generator.handler",
    "cluster_backup.handler",
    "main",
]
PROBE = (
    "import importlib, json, sys; importlib.import_module(sys.argv[1]); "
    "print(json.dumps(sorted(m for m in sys.argv[2:] if m in sys.modules)))"
)


def loaded(module: str, names: tuple[str, ...] = HEAVY) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "FUNCTION_TARGET"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(FUNCTIONS), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", PROBE, module, *names],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found: list[str] = json.loads(done.stdout)
    return found


@pytest.mark.parametrize("module", MODULES)
def test_a_function_module_loads_no_kubernetes_git_or_boto3(module: str) -> None:
    assert [m for m in loaded(module) if m in HEAVY] == []


def test_health_aggregator_loads_its_http_libraries_at_the_first_request() -> None:
    """Its views (flask, prometheus-client, the status page's Jinja2) are imported by the first
    GET; a cold start that only handles events (Lambda's schedule) does without them."""
    web = ("flask", "werkzeug", "jinja2", "prometheus_client")
    assert loaded("health_aggregator.handler", web) == []
    assert set(loaded("health_aggregator.views", web)) == set(web)


def test_the_probe_sees_an_sdk_that_is_loaded() -> None:
    """The check above can fail: a module that imports an SDK is seen to have loaded it."""
    assert "kubernetes" in loaded("kubernetes.client")
    assert "boto3" in loaded("boto3")
