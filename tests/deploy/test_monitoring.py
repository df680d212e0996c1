"""knative/components/monitoring: the PrometheusRule and the Grafana dashboard, checked offline.

- the rules pass ``promtool check rules``, and ``promtool test rules`` runs
  tests/deploy/prometheus/rules.test.yaml, which has, for every alert, a case where it fires and
  one where it does not;
- no rule repeats one of alert-router's alerts or a threshold the function already applies;
- the dashboard has what Grafana requires of a dashboard model (title, uid, schemaVersion,
  panels with type, gridPos and targets), and each of its PromQL expressions parses
  (``promtool check rules`` on a file of recording rules made of them).

That every metric the rules and the dashboard read is one health-aggregator really exposes is
checked against a real scrape: tests/e2e/test_flow_metrics_minio.py.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from backup2gitops.core import alert_rules
from tests import prometheus
from tests.prometheus import REPO

needs_promtool = pytest.mark.skipif(
    prometheus.promtool_binary() is None, reason=prometheus.PROMTOOL_MISSING
)


def alerts() -> list[dict[str, object]]:
    return [rule for rule in prometheus.rules() if "alert" in rule]


@needs_promtool
def test_promtool_checks_the_rules(tmp_path: Path) -> None:
    path = prometheus.write_rules(tmp_path / "rules.yaml", prometheus.rule_groups())
    out = prometheus.promtool("check", "rules", str(path))
    assert f"SUCCESS: {len(prometheus.rules())} rules found" in out


@needs_promtool
def test_promtool_unit_tests_pass_and_cover_every_alert_firing_and_not(tmp_path: Path) -> None:
    prometheus.write_rules(tmp_path / "rules.yaml", prometheus.rule_groups())
    shutil.copy(prometheus.RULE_TESTS, tmp_path / "rules.test.yaml")
    assert "SUCCESS" in prometheus.promtool("test", "rules", "rules.test.yaml", cwd=tmp_path)

    cases = yaml.safe_load(prometheus.RULE_TESTS.read_text())["tests"]
    firing, silent = set(), set()
    for case in cases:
        for check in case.get("alert_rule_test", []):
            (firing if check["exp_alerts"] else silent).add(check["alertname"])
    names = {str(rule["alert"]) for rule in alerts()}
    assert names - firing == set(), "alerts without a firing case"
    assert names - silent == set(), "alerts without a not-firing case"


PROMETHEUS_ALERTS = {  # what a Prometheus user expects, beside alert-router's own
    "Backup2gitopsBackupStale",
    "Backup2gitopsBackupFailed",
    "Backup2gitopsBackupStuck",
    "Backup2gitopsGitopsLag",
}


def runbook_anchors() -> set[str]:
    """The anchors GitHub makes of docs/runbook.md's headings."""
    text = (REPO / "docs" / "runbook.md").read_text()
    anchors = set()
    for line in text.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^a-z0-9 -]", "", title).replace(" ", "-"))
    return anchors


def test_the_expected_alerts_exist_each_with_a_runbook_section() -> None:
    names = {str(rule["alert"]) for rule in alerts()}
    assert names >= PROMETHEUS_ALERTS
    anchors = runbook_anchors()
    for rule in alerts():
        url = str(rule["annotations"]["runbook_url"])  # type: ignore[index]
        page, _, anchor = url.partition("#")
        assert page.endswith("/docs/runbook.md"), url
        assert anchor in anchors, f"{rule['alert']}: no section #{anchor} in docs/runbook.md"


def test_no_threshold_is_repeated_and_no_series_says_cluster() -> None:
    theirs = {*alert_rules.SEVERITY, alert_rules.DRIFT_ALERTNAME}
    for rule in prometheus.rules():
        expr = str(rule["expr"])
        name = str(rule.get("alert") or rule.get("record"))
        # staleness and lag are judged by the function, with each cluster's own limits
        assert "_timestamp_seconds" not in expr or "record" in rule, name
        assert "3600" not in expr, name
        # the backed-up cluster is backup_cluster: cluster is the multi-cluster external label
        assert not re.search(r"\bcluster\b", expr.replace("backup_cluster", "")), name
        if "alert" in rule:  # never alert-router's own name: the two must be told apart
            assert name.startswith("Backup2gitops") and name not in theirs, name
    for expr in prometheus.dashboard_exprs():
        assert not re.search(r"\bcluster\b", expr.replace("backup_cluster", "")), expr


def test_the_release_label_is_set_where_kube_prometheus_stack_selects() -> None:
    for path in (prometheus.RULES, prometheus.RULES.with_name("podmonitor.yaml")):
        labels = yaml.safe_load(path.read_text())["metadata"]["labels"]
        assert labels["release"] == "kube-prometheus-stack", path
    overlay = yaml.safe_load(
        (REPO / "knative" / "overlays" / "monitoring" / "kustomization.yaml").read_text()
    )
    (patch,) = overlay["patches"]
    assert patch["target"]["group"] == "monitoring.coreos.com"
    assert "/metadata/labels/release" in patch["patch"]


def test_dashboard_has_the_fields_grafana_requires() -> None:
    board = prometheus.dashboard()
    assert isinstance(board["title"], str) and board["title"]
    assert isinstance(board["uid"], str) and 0 < len(board["uid"]) <= 40
    assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36
    assert board["panels"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["type"] in {"timeseries", "stat", "gauge", "table", "bargauge"}
        grid = panel["gridPos"]
        assert {"h", "w", "x", "y"} <= set(grid)
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24  # Grafana's grid is 24 wide
        assert panel["targets"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)) and all(t["expr"] for t in panel["targets"])
    variables = [v["name"] for v in board["templating"]["list"]]
    assert variables == ["datasource", "job", "namespace", "backup_cluster"]
    for expr in prometheus.dashboard_exprs():  # every series scoped to the chosen job/namespace
        assert expr.count("backup2gitops_") == expr.count('job=~".*",namespace=~".*"'), expr


@needs_promtool
def test_every_dashboard_expression_parses(tmp_path: Path) -> None:
    exprs = prometheus.dashboard_exprs()
    group = {
        "name": "dashboard",
        "rules": [{"record": f"dashboard:expr_{i}", "expr": e} for i, e in enumerate(exprs)],
    }
    path = prometheus.write_rules(tmp_path / "dashboard.yaml", [group])
    assert f"SUCCESS: {len(exprs)} rules found" in prometheus.promtool("check", "rules", str(path))
    assert all(prometheus.metric_names(e) for e in exprs)
