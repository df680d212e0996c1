"""template.yaml's layers: each function imports with only its own layer's packages.

DependenciesLayer (requirements-lambda.txt) has no kubernetes; only cluster-backup gets
KubernetesDependenciesLayer. Each handler is imported in a fresh interpreter in which
``kubernetes`` cannot be imported: four must load, and cluster-backup must not (else the test
could not tell). The sizes the split saves are measured in the note, not asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WITHOUT_KUBERNETES = """
import importlib.abc, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "kubernetes" or name.startswith("kubernetes."):
            raise ImportError(f"no {name} in this layer")
        return None
sys.meta_path.insert(0, Refuse())
import importlib
importlib.import_module(sys.argv[1] + ".handler")
print("kubernetes" in sys.modules)
"""


def import_without_kubernetes(module: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "functions")}
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_KUBERNETES, module],
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
    result = import_without_kubernetes(module)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"


def test_cluster_backup_needs_kubernetes_so_the_check_can_fail() -> None:
    result = import_without_kubernetes("cluster_backup")
    assert result.returncode != 0
    assert "no kubernetes in this layer" in result.stderr
