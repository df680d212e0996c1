"""template.yaml's layers: each function imports with only its own layer's packages.

DependenciesLayer (requirements-lambda.txt) has no kubernetes; only cluster-backup gets
KubernetesDependenciesLayer. Each handler is imported in a fresh interpreter in which
``kubernetes`` cannot be imported: four must load, and cluster-backup must not (else the test
could not tell; cluster-backup loads the client at its first list, which the test touches).
The sizes the split saves are measured in the note, not asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WITHOUT = """
import importlib.abc, sys
missing = set(sys.argv[2].split(","))
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in missing:
            raise ImportError(f"no {name} in this layer")
        return None
sys.meta_path.insert(0, Refuse())
import importlib
importlib.import_module(sys.argv[1] + ".handler")
for first_use in sys.argv[3:]:  # what a handler imports only when it first needs it
    module, _, attribute = first_use.partition(":")
    getattr(importlib.import_module(module), attribute)
print(sorted(missing & set(sys.modules)))
"""
KUBE_FIRST_USE = "backup2gitops.adapters.kube:ApiClient"
"""cluster-backup loads the Kubernetes client with its first list (cold starts stay small)."""
NOT_IN_KUBERNETES_LAYER = "git,flask,werkzeug,prometheus_client"
"""What layer-kubernetes/requirements.txt leaves out of requirements-lambda.txt."""


def import_without(module: str, missing: str, *first_use: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "functions")}
    return subprocess.run(
        [sys.executable, "-c", WITHOUT, module, missing, *first_use],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "module", ["backup_complete", "gitops_generator", "health_aggregator", "alert_router"]
)
def test_the_other_functions_import_without_kubernetes(module: str) -> None:
    result = import_without(module, "kubernetes")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_cluster_backup_needs_kubernetes_so_the_check_can_fail() -> None:
    result = import_without("cluster_backup", "kubernetes", KUBE_FIRST_USE)
    assert result.returncode != 0
    assert "no kubernetes in this layer" in result.stderr


def test_cluster_backup_imports_with_its_own_layer_only() -> None:
    result = import_without("cluster_backup", NOT_IN_KUBERNETES_LAYER, KUBE_FIRST_USE)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
    # the check can fail: health-aggregator's views need flask and prometheus-client (at the
    # first GET, which the test touches), so it cannot run on cluster-backup's layer
    views = "health_aggregator.views:get_metrics"
    assert import_without("health_aggregator", NOT_IN_KUBERNETES_LAYER, views).returncode != 0
