"""A real Alertmanager (Debian's prometheus-alertmanager) between the alert-router and a webhook.

The test starts Alertmanager on free 127.0.0.1 ports with clustering off, routing every alert to
a webhook receiver served by the test; it posts failures through the alert-router's
Alertmanager receiver, sees them grouped and delivered (webhook payload version "4", status
firing), then posts the recovery and sees the group resolved.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from alert_router import handler
from backup2gitops.adapters.storage import MemoryStore
from backup2gitops.config import parse_config
from backup2gitops.core import events
from backup2gitops.core.events import Event
from backup2gitops.runtime.context import FunctionContext
from tests.e2e.alertmanager import alertmanager_server, webhook_config
from tests.recording import Recorder

pytestmark = pytest.mark.e2e


@pytest.fixture
def alertmanager(tmp_path: Path, recorder: Recorder) -> Iterator[str]:
    with alertmanager_server(tmp_path, webhook_config(recorder.url + "/am")) as url:
        yield url


def event(type_: str, event_id: str, data: dict) -> Event:
    return Event(
        id=event_id,
        source="/backup2gitops/test",
        type=type_,
        time=datetime.now(UTC),
        cluster="prod",
        data=data,
    )


def notifications(recorder: Recorder, status: str, count: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for request in recorder.to("/am"):
            body = request.json()
            if body["status"] == status and len(body["alerts"]) >= count:
                return body
        time.sleep(0.1)
    raise AssertionError(f"no {status} notification with {count} alerts: {recorder.requests}")


def test_failure_grouped_delivered_then_resolved(alertmanager: str, recorder: Recorder) -> None:
    config = parse_config(
        f"""
alerts:
  receivers: [{{name: am, type: alertmanager, url: "{alertmanager}",
               health_url: "{alertmanager}/-/ready"}}]
  routes: [{{receivers: [am]}}]
"""
    )
    ctx = FunctionContext(config, store=MemoryStore(), environ={})
    handler.handle(
        event(
            events.BACKUP_FAILED,
            "e1",
            {"cluster": "prod", "backup_id": "b1", "code": "corrupt", "message": "bad tar"},
        ),
        ctx,
    )
    handler.handle(
        event(
            events.GITOPS_FAILED,
            "e2",
            {
                "cluster": "prod",
                "backup_id": "b1",
                "code": "push",
                "message": "rejected",
                "retryable": True,
            },
        ),
        ctx,
    )
    firing = notifications(recorder, "firing", 2)
    assert firing["version"] == "4"
    assert firing["groupLabels"] == {"cluster": "prod"}
    assert firing["receiver"] == "hook"
    names = sorted(a["labels"]["alertname"] for a in firing["alerts"])
    assert names == ["BackupFailed", "GitopsFailed"]
    assert all(a["status"] == "firing" for a in firing["alerts"])
    assert {a["labels"]["severity"] for a in firing["alerts"]} == {"critical"}

    api = requests.get(alertmanager + "/api/v2/alerts", timeout=30).json()
    assert len(api) == 2

    handler.handle(
        event(
            events.GITOPS_GENERATED,
            "e3",
            {
                "cluster": "prod",
                "backup_id": "b2",
                "repository": "r",
                "branch": "main",
                "commit": "c" * 40,
            },
        ),
        ctx,
    )
    resolved = notifications(recorder, "resolved", 2)
    assert all(a["status"] == "resolved" for a in resolved["alerts"])
    assert sorted(a["labels"]["alertname"] for a in resolved["alerts"]) == names
    active = requests.get(alertmanager + "/api/v2/alerts?active=true&silenced=false", timeout=30)
    assert [a for a in active.json() if a["status"]["state"] == "active"] == []
