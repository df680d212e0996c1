"""Drift, end to end: two backups through ``backup2gitops serve`` to a real Alertmanager.

``serve`` runs the five functions under functions-framework behind the local broker (Triggers
from triggers/, gitops-generator bound to the ingress as by knative/base/sinkbinding.yaml). The
first backup of cluster ``prod`` is the baseline; the second adds a ClusterRoleBinding granting
cluster-admin to ``shop:default`` and a ValidatingWebhookConfiguration posting to an outside
URL. Both reach Alertmanager as ``GitOpsDrift`` alerts with the rule's labels, ending 24 h after
they start. A redelivery of the second backup sends nothing new: alert-router logs its four
deliveries as replayed (the broker delivers on threads of their own, so a later backup's alert
is no marker of order), and a third backup's crd-added is the only new notice.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from backup2gitops.adapters.git import ensure_bare_remote
from backup2gitops.adapters.storage import FileStore
from backup2gitops.cli import flow
from backup2gitops.config import CONFIG_ENV
from backup2gitops.core.archive import BackupItem
from backup2gitops.native_backup_writer import write_native_backup
from tests.e2e.alertmanager import alertmanager_server
from tests.e2e.servers import backup2gitops_serve, wait_for
from tests.recording import Recorder

pytestmark = pytest.mark.e2e
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TOKEN = "drift-e2e-token"

AM_CONFIG = """
route: {receiver: hook, group_by: [cluster], group_wait: 1s, group_interval: 1s}
receivers:
  - name: hook
    webhook_configs: [{url: "%s/am"}]
"""

BASE = [
    BackupItem("namespaces", None, "shop", {"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": "shop"}}),
    BackupItem("configmaps", "shop", "cfg", {"apiVersion": "v1", "kind": "ConfigMap",
                                             "metadata": {"name": "cfg", "namespace": "shop"},
                                             "data": {"a": "b"}}),
]  # fmt: skip
ADMIN = BackupItem(
    "clusterrolebindings.rbac.authorization.k8s.io",
    None,
    "shop-admin",
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "shop-admin"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "cluster-admin",
        },
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "shop"}],
    },
)
HOOK = BackupItem(
    "validatingwebhookconfigurations.admissionregistration.k8s.io",
    None,
    "audit-hook",
    {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "audit-hook"},
        "webhooks": [
            {
                "name": "audit.example.net",
                "clientConfig": {"url": "https://hooks.example.net/validate"},
                "rules": [
                    {
                        "apiGroups": ["*"],
                        "apiVersions": ["*"],
                        "operations": ["CREATE"],
                        "resources": ["*"],
                    }
                ],
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
        ],
    },
)
CRD = BackupItem(
    "customresourcedefinitions.apiextensions.k8s.io",
    None,
    "miners.crypto.example.net",
    {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "miners.crypto.example.net"},
        "spec": {
            "group": "crypto.example.net",
            "names": {"kind": "Miner", "plural": "miners"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": {"type": "object"}}}],
        },
    },
)  # fmt: skip


def wait(condition: Callable[[], Any], *, what: str, timeout: float = 120) -> Any:
    """``condition()`` once it is truthy (an empty list is not yet)."""
    return wait_for(lambda: condition() or None, timeout=timeout, what=what, interval=0.3)


def commits(remote: Path) -> int:
    out = subprocess.run(
        ["git", "--git-dir", str(remote), "rev-list", "--count", "main"],
        capture_output=True,
        text=True,
        check=False,
    )
    return int(out.stdout.strip()) if out.returncode == 0 else 0


def backup(store: FileStore, backup_id: str, items: list[BackupItem], at: datetime) -> bytes:
    written = write_native_backup(
        store, iter(items), cluster="prod", backup_id=backup_id, started_at=at
    )
    info = written.manifest_info
    return flow.minio_webhook_body(
        bucket=store.bucket, key=written.manifest_key, etag=info.etag, size=info.size
    )


def drift_alerts(am: str) -> list[dict[str, Any]]:
    alerts = requests.get(am + "/api/v2/alerts", timeout=30).json()
    return [a for a in alerts if a["labels"].get("alertname") == "GitOpsDrift"]


def replayed(log: Path) -> int:
    """alert-router's deliveries that its idempotency record answered (nothing sent)."""
    lines = log.read_text().splitlines()
    return sum(
        '"service":"backup2gitops.alert-router"' in x and '"result":"replayed"' in x for x in lines
    )


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_cluster_admin_binding_and_outside_webhook_reach_alertmanager(
    tmp_path: Path, recorder: Recorder
) -> None:
    remote = ensure_bare_remote(tmp_path / "gitops.git")
    store = FileStore(tmp_path / "bucket")
    with alertmanager_server(tmp_path / "am", AM_CONFIG % recorder.url) as am:
        config = {
            "storage": {"url": (tmp_path / "bucket").as_uri()},
            "git": {"url": str(remote), "cache_dir": str(tmp_path / "cache" / "git")},
            "clusters": [{"name": "prod"}],
            "alerts": {
                "receivers": [
                    {"name": "am", "type": "alertmanager", "url": am},
                    {"name": "hook", "type": "webhook", "url": recorder.url + "/router"},
                ],
                "routes": [{"receivers": ["am", "hook"]}],
            },
        }
        config_path = tmp_path / "config.yaml"
        config_path.write_text(yaml.safe_dump(config))
        env = {k: v for k, v in os.environ.items() if not k.startswith("BACKUP2GITOPS")}
        env |= {CONFIG_ENV: str(config_path), "BACKUP2GITOPS_CACHE_DIR": str(tmp_path / "cache")}
        env["BACKUP2GITOPS_WEBHOOK_TOKEN"] = TOKEN  # backup-complete fails closed without one
        with backup2gitops_serve(env=env, log=tmp_path / "serve.log") as port:
            backup_complete = f"http://127.0.0.1:{port + 1}/"

            def post(body: bytes) -> None:
                answer = requests.post(
                    backup_complete,
                    data=body,
                    headers={
                        "Content-Type": "application/json",
                        "Authorization": f"Bearer {TOKEN}",  # as MinIO's webhook auth_token
                    },
                    timeout=60,
                )
                assert answer.status_code == 202, answer.text

            post(backup(store, "b1", BASE, T0))
            wait(lambda: commits(remote) == 1, what="the baseline commit")
            second = backup(store, "b2", [*BASE, ADMIN, HOOK], T0 + timedelta(hours=1))
            post(second)
            alerts = wait(lambda: len(drift_alerts(am)) == 2 and drift_alerts(am), what="drift")

            by_rule = {a["labels"]["rule"]: a for a in alerts}
            assert set(by_rule) == {"rbac-cluster-admin-binding", "admission-webhook-external"}
            admin = by_rule["rbac-cluster-admin-binding"]["labels"]
            assert admin == {
                "alertname": "GitOpsDrift",
                "rule": "rbac-cluster-admin-binding",
                "cluster": "prod",
                "object": "ClusterRoleBinding/shop-admin",
                "severity": "critical",
                "component": "drift",
            }
            hook = by_rule["admission-webhook-external"]
            assert hook["labels"] == {
                "alertname": "GitOpsDrift",
                "rule": "admission-webhook-external",
                "cluster": "prod",
                "object": "ValidatingWebhookConfiguration/audit-hook",
                "severity": "critical",
                "component": "drift",
            }
            assert "https://hooks.example.net/validate" in hook["annotations"]["summary"]
            assert (
                "ServiceAccount shop:default"
                in by_rule["rbac-cluster-admin-binding"]["annotations"]["summary"]
            )
            for alert in alerts:
                assert alert["status"]["state"] == "active"
                span = parse(alert["endsAt"]) - parse(alert["startsAt"])
                assert span == timedelta(hours=24)
            # Alertmanager's own notification of the group, from the same alerts
            notified = wait(
                lambda: [r.json() for r in recorder.to("/am") if len(r.json()["alerts"]) == 2],
                what="Alertmanager's webhook notification",
            )
            assert {a["labels"]["rule"] for a in notified[0]["alerts"]} == set(by_rule)

            post(second)  # MinIO redelivers the second backup's notification
            # the same gitops.drifted id again: alert-router replays both alerts to both receivers
            wait(lambda: replayed(tmp_path / "serve.log") == 4, what="the redelivery's replays")
            post(backup(store, "b3", [*BASE, ADMIN, HOOK, CRD], T0 + timedelta(hours=2)))
            wait(lambda: len(drift_alerts(am)) == 3, what="the third backup's crd-added alert")
            wait(lambda: len(recorder.to("/router")) >= 3, what="crd-added at the webhook")
            router = [r.json() for r in recorder.to("/router")]
            assert sorted(r["labels"]["rule"] for r in router) == [
                "admission-webhook-external",
                "crd-added",
                "rbac-cluster-admin-binding",
            ]  # the redelivery sent nothing new
            assert commits(remote) == 3
