"""The drift policy (which rules, allow-lists, the notice's length) and the drift notices."""

from __future__ import annotations

import hashlib
import typing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from backup2gitops.adapters.receivers.alertmanager import to_postable
from backup2gitops.config import ConfigError, parse_config
from backup2gitops.core import alert_rules, alerts, drift, events
from tests.unit.drift.test_drift_golden import CASES, run_case

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def case(name: str) -> dict[str, typing.Any]:
    loaded: dict[str, typing.Any] = yaml.safe_load((CASES / f"{name}.input.yaml").read_text())
    return loaded


def test_rule_ids_literal_matches_the_table() -> None:
    assert typing.get_args(drift.RuleId) == drift.RULE_IDS


def test_every_rule_cites_why() -> None:
    for rule in drift.RULES:
        assert "CIS Kubernetes Benchmark" in rule.why or "kubernetes.io/docs" in rule.why, rule.id


def test_allow_list_drops_exactly_what_it_matches() -> None:
    raw = case("rbac-cluster-admin-binding")
    policy = drift.DriftPolicy(
        allow=[drift.DriftAllow(kind="ClusterRoleBinding", name="sre-*", reason="break-glass")]
    )
    names = [f["name"] for f in run_case(raw, policy)]
    assert names == ["shop-admin", "web"]
    by_namespace = drift.DriftPolicy(allow=[drift.DriftAllow(namespace="", reason="cluster")])
    assert [f["name"] for f in run_case(raw, by_namespace)] == ["web"]
    other_rule = drift.DriftPolicy(allow=[drift.DriftAllow(rule="crd-*", reason="x")])
    assert len(run_case(raw, other_rule)) == 3


def test_config_section_is_typed_and_strict() -> None:
    config = parse_config(
        """
drift:
  rules: [crd-removed, namespace-deleted]
  allow: [{rule: namespace-deleted, name: "preview-*", reason: review apps come and go}]
  notice_for: PT6H
"""
    )
    assert config.drift.rules == ["crd-removed", "namespace-deleted"]
    assert config.drift.notice_for == timedelta(hours=6)
    for bad in (
        "drift: {rules: [no-such-rule]}",
        "drift: {allow: [{name: x}]}",  # an allow entry says why
        "drift: {notice_for: PT0S}",
        "drift: {colour: red}",
        "drift: {allow: [{name: x, reason: y, colour: red}]}",
    ):
        with pytest.raises(ConfigError, match="drift"):
            parse_config(bad)


def drifted_event(*findings: events.DriftFinding, event_id: str = "d1") -> events.Event:
    data = events.GitopsDrifted(
        cluster="prod",
        backup_id="b2",
        commit="c" * 40,
        previous_commit="p" * 40,
        findings=list(findings),
    )
    return events.Event(
        id=event_id,
        source="/backup2gitops/gitops-generator",
        type=events.GITOPS_DRIFTED,
        time=T0,
        cluster="prod",
        data=data.model_dump(mode="json"),
    )


ADMIN = events.DriftFinding(
    kind="ClusterRoleBinding",
    name="shop-admin",
    rule="rbac-cluster-admin-binding",
    severity="critical",
    summary="grants cluster-admin",
)
HOOK = events.DriftFinding(
    kind="ValidatingWebhookConfiguration",
    name="audit-hook",
    rule="admission-webhook-external",
    severity="critical",
    summary="posts outside",
)
PRIV = events.DriftFinding(
    kind="Deployment",
    namespace="shop",
    name="web",
    rule="privileged-workload",
    severity="critical",
    summary="privileged",
)


def test_one_notice_per_finding_ending_by_itself() -> None:
    effects = alert_rules.effects_of(
        drifted_event(ADMIN, HOOK, PRIV), notice_for=timedelta(hours=3)
    )
    assert effects.resolves == ()
    assert [a.labels for a in effects.firing] == [
        {
            "alertname": "GitOpsDrift",
            "rule": "rbac-cluster-admin-binding",
            "cluster": "prod",
            "object": "ClusterRoleBinding/shop-admin",
            "severity": "critical",
            "component": "drift",
        },
        {
            "alertname": "GitOpsDrift",
            "rule": "admission-webhook-external",
            "cluster": "prod",
            "object": "ValidatingWebhookConfiguration/audit-hook",
            "severity": "critical",
            "component": "drift",
        },
        {
            "alertname": "GitOpsDrift",
            "rule": "privileged-workload",
            "cluster": "prod",
            "object": "Deployment/shop/web",
            "severity": "critical",
            "component": "drift",
        },
    ]
    for alert in effects.firing:
        assert alert.is_notice and alert.starts_at == T0
        assert alert.ends_at == T0 + timedelta(hours=3)
        assert alert.annotations["commit"] == "c" * 40
    assert len({a.fingerprint for a in effects.firing}) == 3
    default = alert_rules.effects_of(drifted_event(ADMIN))
    assert default.firing[0].ends_at == T0 + timedelta(hours=24)


def test_other_alerts_keep_their_fingerprint_and_are_not_notices() -> None:
    old = hashlib.sha256(b"BackupFailed\x1fprod\x1fbackup").hexdigest()[:32]
    assert alerts.fingerprint(alertname="BackupFailed", cluster="prod", component="backup") == old
    failed = events.Event(
        id="f1",
        source="/t",
        type=events.BACKUP_FAILED,
        time=T0,
        cluster="prod",
        data={"cluster": "prod", "code": "x", "message": "y"},
    )
    (alert,) = alert_rules.effects_of(failed).firing
    assert alert.fingerprint == old and not alert.is_notice


def test_alertmanager_gets_the_notice_end_not_its_ttl() -> None:
    (notice,) = alert_rules.effects_of(drifted_event(ADMIN), notice_for=timedelta(hours=5)).firing
    body = to_postable(notice, now=T0 + timedelta(minutes=1), firing_ttl_s=60)
    assert body["startsAt"] == "2026-03-01T12:00:00Z"
    assert body["endsAt"] == "2026-03-01T17:00:00Z"
    assert body["labels"]["rule"] == "rbac-cluster-admin-binding"


def test_drifted_schema_is_published() -> None:
    schema = Path(__file__).parents[3] / "schemas" / f"{events.GITOPS_DRIFTED}.json"
    assert "findings" in schema.read_text()


def test_every_rule_kind_has_its_folder_watched() -> None:
    """The shell reads only WATCHED_RESOURCES: a rule kind outside it would never be seen."""
    folders = {
        "RoleBinding": "rolebindings.rbac.authorization.k8s.io",
        "ClusterRoleBinding": "clusterrolebindings.rbac.authorization.k8s.io",
        "Role": "roles.rbac.authorization.k8s.io",
        "ClusterRole": "clusterroles.rbac.authorization.k8s.io",
        "ValidatingWebhookConfiguration": (
            "validatingwebhookconfigurations.admissionregistration.k8s.io"
        ),
        "MutatingWebhookConfiguration": (
            "mutatingwebhookconfigurations.admissionregistration.k8s.io"
        ),
        "CustomResourceDefinition": "customresourcedefinitions.apiextensions.k8s.io",
        "Namespace": "namespaces",
        "Pod": "pods",
        "ReplicationController": "replicationcontrollers",
        "Deployment": "deployments.apps",
        "StatefulSet": "statefulsets.apps",
        "DaemonSet": "daemonsets.apps",
        "ReplicaSet": "replicasets.apps",
        "Job": "jobs.batch",
        "CronJob": "cronjobs.batch",
        "ConfigMap": "configmaps",
    }
    kinds = {kind for rule in drift.RULES for kind in rule.kinds}
    assert kinds == set(folders)
    assert {folders[k] for k in kinds} == drift.WATCHED_RESOURCES
