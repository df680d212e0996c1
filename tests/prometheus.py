"""The monitoring component's rules and dashboard, and promtool, for the tests that check them.

- ``rule_groups()``: the groups of knative/components/monitoring/prometheusrule.yaml;
- ``dashboard()`` / ``dashboard_exprs()``: grafana-dashboard.json and every PromQL expr in it,
  with Grafana's variables replaced by what Grafana would send (``$cluster`` -> ``.*``);
- ``metric_names(expr)``: the ``backup2gitops_*`` metric names an expression reads;
- ``promtool(*args)``: run Debian's promtool (scripts/install-test-deps.sh installs it).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
MONITORING = REPO / "knative" / "components" / "monitoring"
RULES = MONITORING / "prometheusrule.yaml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
RULE_TESTS = REPO / "tests" / "deploy" / "prometheus" / "rules.test.yaml"
PROMTOOL_MISSING = "no promtool: scripts/install-test-deps.sh installs Debian's prometheus package"
GRAFANA_VARIABLES = {"$backup_cluster": ".*", "$job": ".*", "$namespace": ".*"}
_METRIC = re.compile(r"\bbackup2gitops_[a-z0-9_]*[a-z0-9]")
_RECORDED = re.compile(r"\b[a-z_]+:backup2gitops_[a-z0-9_:]+")


def rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(RULES.read_text())["spec"]["groups"]
    return groups


def rules() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_exprs() -> list[str]:
    exprs = []
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            exprs.append(expr)
    return exprs


def metric_names(expr: str) -> set[str]:
    """Metric names read by ``expr`` (recorded series ``level:name:op`` left out)."""
    return set(_METRIC.findall(_RECORDED.sub(" ", expr)))


def promtool_binary() -> str | None:
    return shutil.which("promtool")


def promtool(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> str:
    """promtool's output; AssertionError with it when promtool says no."""
    binary = promtool_binary()
    assert binary is not None, PROMTOOL_MISSING
    done = subprocess.run(
        [binary, *args], input=stdin, cwd=cwd, capture_output=True, check=False, timeout=120
    )
    output = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 0, output
    return output


def write_rules(path: Path, groups: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path
