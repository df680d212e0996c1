"""alert-router's typed input (``handler.INPUT``, ``core.alert_input.read``): the handler gets the
event's attributes beside its data decoded once into the catalog model of its type, and data
that does not validate is refused before it runs exactly as for the other functions -- a 400
with pydantic's reason over HTTP, ``UnreadableEvent`` on Lambda (the on-failure destination).

Served through the real HTTP runtime (Flask's test client) and the real Lambda adapter; the
EventBridge client is the in-memory recorder at the boundary.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from alert_router import handler
from backup2gitops.adapters.storage import MemoryStore
from backup2gitops.config import parse_config
from backup2gitops.core import events
from backup2gitops.core.alert_input import OtherEvent
from backup2gitops.core.events import Event, GitopsDrifted, GitopsFailed
from backup2gitops.runtime.aws_lambda import UnreadableEvent, lambda_adapter, structured
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import FunctionSpec
from tests.fixtures.eventbridge import RecordingEventBridge
from tests.functional.http_client import client, post_event

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
OTHER = "com.example.cert.expiring"


def context() -> FunctionContext:
    config = parse_config(f"alerts: {{types: [{OTHER}]}}", {})
    return FunctionContext(config, store=MemoryStore(), environ={}, clock=lambda: T0)


def from_bus(event: Event) -> dict[str, Any]:
    """``event`` as a rule on our bus delivers it to a Lambda function."""
    return {
        "version": "0",
        "id": "eb-1",
        "detail-type": event.type,
        "source": event.source,
        "account": "123456789012",
        "time": "2026-11-01T12:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": structured(event),
    }


def event(event_type: str, data: Any, event_id: str = "e1") -> Event:
    return Event(id=event_id, source="/t", type=event_type, time=T0, cluster="prod", data=data)


FAILED = {"cluster": "prod", "backup_id": "b1", "code": "push", "message": "no", "retryable": False}
DRIFTED = {"cluster": "prod", "backup_id": "b1", "commit": "c" * 40, "previous_commit": "p" * 40}

MALFORMED = [
    (event(events.GITOPS_FAILED, {**FAILED, "retryable": None}), "data.retryable"),
    (event(events.BACKUP_FAILED, {"cluster": "prod"}), "data.code: Field required"),
    (event(events.BACKUP_STALE, {"max_age": "PT26H"}), "data.cluster: Field required"),
    (event(events.GITOPS_DRIFTED, {**DRIFTED, "findings": []}), "data.findings"),
    (event(events.GITOPS_GENERATED, {"backup_id": "b"}), "data.cluster: Field required"),
    (event(events.HEALTH_CHANGED, {"previous": "healthy"}), "data.current: Field required"),
]
IDS = ["gitops-failed", "backup-failed", "backup-stale", "drifted", "generated", "health"]


@pytest.mark.parametrize(("malformed", "reason"), MALFORMED, ids=IDS)
def test_over_http_data_that_does_not_validate_is_400_with_the_reason(
    malformed: Event, reason: str
) -> None:
    published: list[Event] = []
    base = context()
    ctx = FunctionContext(
        base.config, store=base.store, environ={}, clock=base.clock, publish=published.append
    )
    response = post_event(client(handler.SPEC, ctx), malformed)
    assert response.status_code == 400, response.get_data(as_text=True)
    error = json.loads(response.data)["error"]
    assert error["code"] == "invalid_data" and reason in error["message"], error
    assert published == [] and list(ctx.store.list("state/")) == []  # the handler never ran


@pytest.mark.parametrize(("malformed", "reason"), MALFORMED, ids=IDS)
def test_on_lambda_data_that_does_not_validate_is_unreadable(
    malformed: Event, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "backup2gitops")
    bridge = RecordingEventBridge()
    lambda_handler = lambda_adapter(handler.SPEC, context=context, events_client=bridge)
    with pytest.raises(UnreadableEvent) as raised:
        lambda_handler(from_bus(malformed), None)
    assert raised.value.code == "invalid_data" and reason in raised.value.message
    assert bridge.entries == []


def test_the_handler_receives_the_model_once_decoded_not_the_payload() -> None:
    seen: list[Any] = []

    def spy(received: Any, _ctx: FunctionContext) -> None:
        seen.append(received)

    spec = FunctionSpec(name=handler.NAME, handle=spy, envelope=handler.INPUT)
    finding = {"rule": "r", "kind": "Secret", "name": "s", "summary": "x", "severity": "info"}
    sent = [
        event(events.GITOPS_FAILED, FAILED),
        event(events.GITOPS_DRIFTED, {**DRIFTED, "findings": [finding]}),
        event(events.PING, {"anything": 1}),  # the health tick: its data says nothing here
        # a configured type's data is not ours to validate: read leniently, never refused
        event(OTHER, {"cluster": 5, "message": {"days": 3}, "component": "", "extra": [1]}),
        event(OTHER, ["not", "an", "object"]),
    ]
    for one in sent:
        assert post_event(client(spec, context()), one).status_code == 202
    assert [r.event.id for r in seen] == ["e1"] * len(sent)
    failed, drifted, tick, other, listed = (r.data for r in seen)
    assert isinstance(failed, GitopsFailed) and failed.retryable is False
    assert isinstance(drifted, GitopsDrifted) and drifted.findings[0].rule == "r"
    assert tick is None
    assert other == OtherEvent(cluster="5", message="{'days': 3}")
    assert listed == OtherEvent()


def test_a_configured_type_with_odd_data_still_raises_its_alert(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Delivered to the default route (the console receiver), not refused."""
    ctx = context()
    odd = event(OTHER, {"cluster": 7, "summary": "cert expires in 3 days", "days": 3})
    assert post_event(client(handler.SPEC, ctx), odd).status_code in (200, 202)
    out = capsys.readouterr().out
    assert "cert expires in 3 days" in out, out
