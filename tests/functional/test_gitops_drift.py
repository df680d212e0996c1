"""gitops-generator's drift report: a real bare remote, a MemoryStore, a recording publisher.

The first backup of a cluster is the baseline (no report); a second one adding a cluster-admin
binding and an outside webhook publishes one ``gitops.drifted`` beside the reply (compared from
the plan); a redelivery (read back from git) publishes the same event id again (alert-router
delivers it once); a failed publish is a 503.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import flask
import pytest

from backup2gitops.adapters.git.changes import ChangesInGitDir
from backup2gitops.adapters.storage import MemoryStore
from backup2gitops.config import Config, GitConfig
from backup2gitops.core import events
from backup2gitops.core.archive import ArchiveWriter
from backup2gitops.core.drift import DriftAllow, DriftPolicy
from backup2gitops.core.errors import Transient
from backup2gitops.runtime import codec
from backup2gitops.runtime.aws_lambda import lambda_adapter, structured
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import handle_request
from gitops_generator import handler
from tests.fixtures.eventbridge import RecordingEventBridge

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
Item = tuple[str, str | None, str, dict[str, Any]]

BASE: list[Item] = [
    ("namespaces", None, "shop", {"apiVersion": "v1", "kind": "Namespace",
                                  "metadata": {"name": "shop"}}),
    ("configmaps", "shop", "cfg", {"apiVersion": "v1", "kind": "ConfigMap",
                                   "metadata": {"name": "cfg", "namespace": "shop"},
                                   "data": {"a": "b"}}),
]  # fmt: skip
ADMIN: Item = (
    "clusterrolebindings.rbac.authorization.k8s.io",
    None,
    "shop-admin",
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "shop-admin", "uid": "u1", "resourceVersion": "7"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "cluster-admin",
        },
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "shop"}],
    },
)
HOOK: Item = (
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
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
        ],
    },
)


def archive(items: list[Item]) -> bytes:
    out = io.BytesIO()
    with ArchiveWriter(out) as writer:
        for group_resource, namespace, name, obj in items:
            writer.add(group_resource=group_resource, namespace=namespace, name=name, obj=obj)
    return out.getvalue()


SMALL = archive(BASE)
BIG = archive([*BASE, ADMIN, HOOK])


def completed(
    backup_id: str, *, event_id: str | None = None, cluster: str = "prod"
) -> events.Event:
    body = SMALL if backup_id == "b1" else BIG  # what Setup and the tests put at that key
    data = events.BackupCompleted(
        backup_id=backup_id,
        cluster=cluster,
        format="native",
        bucket="backups",
        keys=[
            f"backups/{cluster}/{backup_id}/manifest.json",
            f"backups/{cluster}/{backup_id}/resources.tar.gz",
        ],
        size=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
        resource_count=1,
        created_at=T0,
    )
    return events.Event(
        id=event_id or f"in-{backup_id}",
        source="/backup2gitops/backup-complete",
        type=events.BACKUP_COMPLETED,
        data=data.model_dump(mode="json"),
        cluster=cluster,
    )


class Setup:
    def __init__(self, tmp_path: Path, drift: DriftPolicy | None = None) -> None:
        remote = tmp_path / "remote.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
        self.store = MemoryStore("backups")
        self.store.put_bytes("backups/prod/b1/resources.tar.gz", SMALL)
        self.store.put_bytes("backups/prod/b2/resources.tar.gz", BIG)
        self.published: list[events.Event] = []
        self.config = Config(
            git=GitConfig(url=str(remote), cache_dir=tmp_path / "cache"),
            drift=drift or DriftPolicy(),
        )
        self.ctx = self.context(self.published.append)

    def context(self, publish: Any) -> FunctionContext:
        return FunctionContext(
            self.config, store=self.store, publish=publish, environ={}, clock=lambda: T0
        )

    def drifted(self) -> list[events.Event]:
        return [e for e in self.published if e.type == events.GITOPS_DRIFTED]


def test_baseline_then_one_report_then_the_same_id_on_redelivery(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    handler.handle(completed("b1"), s.ctx)
    assert s.drifted() == []  # the first commit of a cluster is the baseline
    reply = handler.handle(completed("b2"), s.ctx)
    assert reply is not None and reply.type == events.GITOPS_GENERATED
    (report,) = s.drifted()
    data = events.parse_data(report, events.GitopsDrifted)
    assert data.cluster == "prod" and data.backup_id == "b2"
    assert data.commit == reply.data["commit"] and data.previous_commit != data.commit
    assert [(f.rule, f.kind, f.name, f.severity) for f in data.findings] == [
        ("admission-webhook-external", "ValidatingWebhookConfiguration", "audit-hook", "critical"),
        ("rbac-cluster-admin-binding", "ClusterRoleBinding", "shop-admin", "critical"),
    ]
    assert "https://hooks.example.net/validate" in data.findings[0].summary
    assert "ServiceAccount shop:default" in data.findings[1].summary
    assert report.time == T0 and report.cluster == "prod" and report.subject == "prod/b2"

    again = handler.handle(completed("b2", event_id="in-b2-again"), s.ctx)
    assert again is not None and again.data["noop"] is True
    assert [e.id for e in s.drifted()] == [report.id, report.id]
    assert s.drifted()[1].data == report.data


def test_a_new_commit_is_compared_from_its_plan_and_only_a_redelivery_reads_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_back: list[str] = []
    original = ChangesInGitDir.commit_comparison

    def counted(self: ChangesInGitDir, **options: Any) -> Any:
        read_back.append(options["commit"])
        return original(self, **options)

    monkeypatch.setattr(ChangesInGitDir, "commit_comparison", counted)
    s = Setup(tmp_path)
    handler.handle(completed("b1"), s.ctx)
    reply = handler.handle(completed("b2"), s.ctx)
    assert reply is not None and read_back == []  # the plan's comparison
    handler.handle(completed("b2", event_id="in-b2-again"), s.ctx)
    assert read_back == [reply.data["commit"]]  # the no-op has no plan: git
    first, again = s.drifted()
    assert (first.id, first.data) == (again.id, again.data)


def test_a_clusters_first_commit_is_its_baseline_even_after_others(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    handler.handle(completed("b1"), s.ctx)
    s.store.put_bytes("backups/stage/s1/resources.tar.gz", BIG)
    reply = handler.handle(completed("s1", cluster="stage"), s.ctx)
    assert reply is not None and reply.data["added"] > 0
    assert s.drifted() == []  # prod's commit is its parent, but stage had no folder there


def test_allow_list_and_rules_are_applied(tmp_path: Path) -> None:
    policy = DriftPolicy(
        allow=[DriftAllow(rule="admission-webhook-*", name="audit-hook", reason="our auditor")]
    )
    s = Setup(tmp_path, policy)
    handler.handle(completed("b1"), s.ctx)
    handler.handle(completed("b2"), s.ctx)
    (report,) = s.drifted()
    assert [f["rule"] for f in report.data["findings"]] == ["rbac-cluster-admin-binding"]


def test_disabled_or_nothing_found_publishes_nothing(tmp_path: Path) -> None:
    s = Setup(tmp_path, DriftPolicy(enabled=False))
    handler.handle(completed("b1"), s.ctx)
    handler.handle(completed("b2"), s.ctx)
    assert s.drifted() == []
    s2 = Setup(tmp_path / "2", DriftPolicy(rules=["crd-added"]))
    handler.handle(completed("b1"), s2.ctx)
    handler.handle(completed("b2"), s2.ctx)
    assert s2.drifted() == []
    assert [e.type for e in s2.published] == []  # the replies go back in the HTTP answer here


def test_a_failed_publish_is_a_503_and_the_retry_reports(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    handler.handle(completed("b1"), s.ctx)

    def broken(event: events.Event) -> None:
        raise Transient("sink_unreachable", "sink unreachable")

    app = flask.Flask("g")
    failing = s.context(broken)
    app.add_url_rule(
        "/", "f", lambda: handle_request(handler.SPEC, flask.request, failing), methods=["POST"]
    )
    headers, body = codec.to_http(completed("b2"))
    response = app.test_client().post("/", headers=headers, data=body)
    assert response.status_code == 503
    assert response.json is not None and response.json["error"]["code"] == "sink_unreachable"
    handler.handle(completed("b2"), s.ctx)  # the broker's retry: the commit is already there
    (report,) = s.drifted()
    assert {f["rule"] for f in report.data["findings"]} == {
        "admission-webhook-external",
        "rbac-cluster-admin-binding",
    }


def test_without_a_publisher_the_reply_still_goes(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    quiet = s.context(None)
    handler.handle(completed("b1"), quiet)
    reply = handler.handle(completed("b2"), quiet)
    assert reply is not None and reply.type == events.GITOPS_GENERATED
    assert s.published == []


def test_a_noop_that_is_not_this_backups_commit_reports_nothing(tmp_path: Path) -> None:
    """record_unchanged off: an unchanged backup gets the branch head, someone else's commit."""
    s = Setup(tmp_path)
    s.config = s.config.model_copy(
        update={"generator": s.config.generator.model_copy(update={"record_unchanged": False})}
    )
    ctx = s.context(s.published.append)
    handler.handle(completed("b1"), ctx)
    handler.handle(completed("b2"), ctx)
    s.store.put_bytes("backups/prod/b3/resources.tar.gz", BIG)
    handler.handle(completed("b3"), ctx)  # same tree as b2: no commit, head is b2's
    assert len(s.drifted()) == 1


def test_on_lambda_both_events_go_to_the_bus(tmp_path: Path) -> None:
    """EventBridge: gitops.drifted is put on the bus before the gitops.generated reply."""
    s = Setup(tmp_path)
    bridge = RecordingEventBridge()
    environ = {"BACKUP2GITOPS_EVENT_BUS": "b2g"}
    lambda_handler = lambda_adapter(
        handler.SPEC,
        context=lambda: FunctionContext(s.config, store=s.store, environ=environ),
        events_client=bridge,
    )

    def from_bus(event: events.Event) -> dict[str, Any]:
        return {
            "version": "0",
            "id": f"eb-{event.id}",
            "detail-type": event.type,
            "source": event.source,
            "account": "123456789012",
            "time": "2026-03-01T12:00:00Z",
            "region": "eu-west-1",
            "resources": [],
            "detail": structured(event),
        }

    assert lambda_handler(from_bus(completed("b1")), None)["status"] == "published"
    assert [e["DetailType"] for e in bridge.entries] == [events.GITOPS_GENERATED]
    lambda_handler(from_bus(completed("b2")), None)
    assert [e["DetailType"] for e in bridge.entries[1:]] == [
        events.GITOPS_DRIFTED,
        events.GITOPS_GENERATED,
    ]
    drifted = bridge.details()[1]
    assert drifted["cluster"] == "prod" and len(drifted["data"]["findings"]) == 2
