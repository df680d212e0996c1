"""alert-router and ``gitops.drifted``: one self-ending notice per finding, sent once per event."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alert_router import handler
from backup2gitops.adapters.storage import MemoryStore
from backup2gitops.config import parse_config
from backup2gitops.core import events
from backup2gitops.core.events import Event
from backup2gitops.runtime.context import FunctionContext
from tests.recording import Recorder

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

CONFIG = """
alerts:
  receivers:
    - {name: slack, type: slack, url: {env: SLACK_URL}}
    - {name: am, type: alertmanager, url: "%(url)s"}
    - {name: hook, type: webhook, url: "%(url)s/hook"}
  routes:
    - receivers: [slack, am, hook]
drift:
  notice_for: %(notice)s
"""


def context(recorder: Recorder, notice: str = "P1D") -> FunctionContext:
    config = parse_config(CONFIG % {"url": recorder.url, "notice": notice})
    environ = {"SLACK_URL": recorder.url + "/slack"}
    return FunctionContext(config, store=MemoryStore(), environ=environ, clock=lambda: T0)


def drifted(event_id: str = "d1", commit: str = "c" * 40) -> Event:
    data = events.GitopsDrifted(
        cluster="prod",
        backup_id="b2",
        commit=commit,
        previous_commit="p" * 40,
        findings=[
            events.DriftFinding(
                kind="ClusterRoleBinding",
                name="shop-admin",
                rule="rbac-cluster-admin-binding",
                severity="critical",
                summary="ClusterRoleBinding shop-admin grants cluster-admin",
            ),
            events.DriftFinding(
                kind="ValidatingWebhookConfiguration",
                name="audit-hook",
                rule="admission-webhook-external",
                severity="critical",
                summary="posts objects to https://hooks.example.net/validate",
            ),
        ],
    )
    return Event(
        id=event_id,
        source="/backup2gitops/gitops-generator",
        type=events.GITOPS_DRIFTED,
        time=T0,
        cluster="prod",
        data=data.model_dump(mode="json"),
    )


def counts(recorder: Recorder) -> dict[str, int]:
    found: dict[str, int] = {}
    for r in recorder.requests:
        found[r.path] = found.get(r.path, 0) + 1
    return found


def test_one_notice_per_finding_once_per_event(recorder: Recorder) -> None:
    ctx = context(recorder)
    assert handler.handle(drifted(), ctx) is None
    assert counts(recorder) == {"/slack": 2, "/api/v2/alerts": 2, "/hook": 2}
    posted = [r.json()[0] for r in recorder.to("/api/v2/alerts")]
    assert [a["labels"]["rule"] for a in posted] == [
        "rbac-cluster-admin-binding",
        "admission-webhook-external",
    ]
    for alert in posted:
        assert alert["labels"]["alertname"] == "GitOpsDrift"
        assert alert["labels"]["cluster"] == "prod"
        assert alert["startsAt"] == "2026-11-01T12:00:00Z"
        assert alert["endsAt"] == "2026-11-02T12:00:00Z"
    assert {r.json()["status"] for r in recorder.to("/hook")} == {"firing"}

    handler.handle(drifted(), ctx)  # the broker redelivers the same event: nothing new
    assert counts(recorder) == {"/slack": 2, "/api/v2/alerts": 2, "/hook": 2}
    assert list(ctx.store.list("state/alerts/")) == []  # a notice is never kept open


@pytest.mark.parametrize(("notice", "ends"), [("PT6H", "2026-11-01T18:00:00Z")])
def test_notice_length_is_configured(recorder: Recorder, notice: str, ends: str) -> None:
    handler.handle(drifted(), context(recorder, notice))
    assert {r.json()[0]["endsAt"] for r in recorder.to("/api/v2/alerts")} == {ends}


def test_a_later_commit_with_the_same_finding_notifies_again(recorder: Recorder) -> None:
    ctx = context(recorder)
    handler.handle(drifted(), ctx)
    handler.handle(drifted("d2", commit="d" * 40), ctx)
    assert counts(recorder)["/slack"] == 4
    first, _, again, _ = (r.json()[0] for r in recorder.to("/api/v2/alerts"))
    assert first["labels"] == again["labels"]  # Alertmanager refreshes one alert, adds none
