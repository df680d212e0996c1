"""Typed input, decoded once per transport (``runtime.envelopes``), and what a payload that does
not validate gets: a 400 with pydantic's reason over HTTP, ``UnreadableEvent`` on Lambda (so the
event ends in the on-failure destination template.yaml names), the same classification on both.

The parses are counted with spies on the real models (``ObjectNotification`` instances built,
``BackupCompleted.model_validate`` calls), served through the real HTTP runtime (Flask's test
client) and the real Lambda adapter; the EventBridge client is the in-memory recorder at the
boundary (no AWS here: tests/e2e/aws runs the same under Lambda's RIE).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from cloudevents.conversion import to_structured
from cloudevents.http import CloudEvent

from backup2gitops.adapters.storage import MemoryStore
from backup2gitops.config import parse_config
from backup2gitops.core.events import (
    BACKUP_COMPLETED,
    GITOPS_FAILED,
    GITOPS_GENERATED,
    PING,
    BackupCompleted,
    Event,
)
from backup2gitops.core.notifications import ObjectNotification
from backup2gitops.runtime.aws_lambda import UnreadableEvent, lambda_adapter
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import FunctionSpec
from backup_complete import handler as backup_complete
from cluster_backup import handler as cluster_backup
from gitops_generator import handler as gitops_generator
from health_aggregator import handler as health_aggregator
from tests.fixtures.eventbridge import RecordingEventBridge, bus_delivery
from tests.fixtures.notifications import eventbridge_body, minio_body, s3_body
from tests.functional.http_client import client, post_event

BUCKET = "backups"
BACKUP_ID = "20261123t020000z"
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


class Counter:
    def __init__(self) -> None:
        self.calls = 0


@pytest.fixture
def notifications_built(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """How many ``ObjectNotification`` records are built: one per record per parse."""
    counter = Counter()
    real = ObjectNotification.__init__

    def counting(self: ObjectNotification, **fields: Any) -> None:
        counter.calls += 1
        real(self, **fields)

    monkeypatch.setattr(ObjectNotification, "__init__", counting)
    return counter


@pytest.fixture
def completed_validated(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """How many times ``backup.completed`` data is validated into ``BackupCompleted``."""
    counter = Counter()
    real = BackupCompleted.model_validate.__func__  # type: ignore[attr-defined]

    def counting(cls: type[BackupCompleted], *args: Any, **kwargs: Any) -> BackupCompleted:
        counter.calls += 1
        validated: BackupCompleted = real(cls, *args, **kwargs)
        return validated

    monkeypatch.setattr(BackupCompleted, "model_validate", classmethod(counting))
    return counter


def context(store: MemoryStore | None = None, **environ: str) -> FunctionContext:
    return FunctionContext(
        parse_config("{}", {}),
        store=store or MemoryStore(bucket=BUCKET),
        environ={"BACKUP2GITOPS_EVENT_BUS": "b2g", **environ},
        clock=lambda: NOW,
    )


def webhook_context() -> FunctionContext:
    return FunctionContext(
        parse_config("backup_complete: {allow_unauthenticated: true}", {}),
        store=MemoryStore(bucket=BUCKET),
        environ={},
        clock=lambda: NOW,
    )


def as_lambda(event: Event) -> Any:
    """How ``event`` reaches a function on Lambda: our types from the bus, a tick as EventBridge
    Scheduler's input, a notification as S3 sends it."""
    if event.type.startswith("io.backup2gitops."):
        return bus_delivery(event)
    return event.data


def completed(**data: Any) -> Event:
    keys = [f"backups/prod/{BACKUP_ID}/manifest.json", f"backups/prod/{BACKUP_ID}/resources.tar.gz"]
    body = {
        "backup_id": BACKUP_ID,
        "cluster": "prod",
        "format": "native",
        "bucket": "elsewhere",  # not the configured bucket: refused (422) before any read
        "keys": keys,
        "size": 10,
        "resource_count": 1,
        "created_at": "2026-11-23T02:00:00Z",
        **data,
    }
    return Event(
        id="c1",
        source="/backup2gitops/backup-complete",
        type=BACKUP_COMPLETED,
        cluster="prod",
        data={k: v for k, v in body.items() if v is not None},
    )


# -- one parse per transport ---------------------------------------------------------------------

OTHER_KEY = "notes/readme.txt"  # not a backup's marker: handled, no reply (202)


def test_a_minio_webhook_is_parsed_once_over_http(notifications_built: Counter) -> None:
    http = client(backup_complete.SPEC, webhook_context())
    response = http.post(
        "/",
        json=minio_body(bucket=BUCKET, key=OTHER_KEY),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    assert notifications_built.calls == 1


def test_a_cloudevent_carrying_a_notification_is_parsed_once(notifications_built: Counter) -> None:
    http = client(backup_complete.SPEC, webhook_context())
    attributes = {"type": "dev.knative.kafka.event", "source": "/kafka/minio-events"}
    headers, body = to_structured(CloudEvent(attributes, minio_body(bucket=BUCKET, key=OTHER_KEY)))
    response = http.post("/", headers=dict(headers), data=body)
    assert response.status_code == 202, response.get_data(as_text=True)
    assert notifications_built.calls == 1


@pytest.mark.parametrize("payload", [s3_body, eventbridge_body], ids=["s3-records", "eventbridge"])
def test_a_storage_notification_is_parsed_once_on_lambda(
    notifications_built: Counter, payload: Callable[..., dict[str, Any]]
) -> None:
    handler = lambda_adapter(
        backup_complete.SPEC, context=context, events_client=RecordingEventBridge()
    )
    result = handler(payload(bucket=BUCKET, key=OTHER_KEY), None)
    assert result["status"] == "no_reply", result
    assert notifications_built.calls == 1


def test_backup_completed_is_validated_once_over_http_even_when_it_fails(
    completed_validated: Counter,
) -> None:
    """The failure report (``gitops.failed``) is built from the input the runtime decoded."""
    response = post_event(client(gitops_generator.SPEC, context(K_SINK="")), completed())
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["ce-type"] == GITOPS_FAILED
    assert json.loads(response.data)["code"] == "bucket_mismatch"
    assert completed_validated.calls == 1


def test_backup_completed_is_validated_once_on_lambda_even_when_it_fails(
    completed_validated: Counter,
) -> None:
    bridge = RecordingEventBridge()
    handler = lambda_adapter(gitops_generator.SPEC, context=context, events_client=bridge)
    result = handler(bus_delivery(completed()), None)
    assert result["status"] == "published", result
    assert [entry["DetailType"] for entry in bridge.entries] == [GITOPS_FAILED]
    assert completed_validated.calls == 1


def test_the_handler_receives_the_model_not_the_payload() -> None:
    seen: list[Any] = []

    def handle(received: Any, _ctx: FunctionContext) -> None:
        seen.append(received)

    spec = FunctionSpec(name="typed", handle=handle, envelope=gitops_generator.INPUT)
    assert post_event(client(spec, context()), completed()).status_code == 202
    lambda_adapter(spec, context=context)(bus_delivery(completed()), None)
    assert [type(r.data) for r in seen] == [BackupCompleted, BackupCompleted]
    assert seen[0].data == seen[1].data and seen[0].data.bucket == "elsewhere"


# -- a payload that does not validate: 400 over HTTP, the on-failure destination on Lambda --------

MALFORMED: list[tuple[FunctionSpec[Any], Event, str, str]] = [
    (
        gitops_generator.SPEC,
        completed(backup_id=None),
        "invalid_data",
        "data.backup_id: Field required",
    ),
    (
        gitops_generator.SPEC,
        completed(size=-1),
        "invalid_data",
        "data.size: Input should be greater",
    ),
    (
        gitops_generator.SPEC,
        Event(id="x", source="/t", type=GITOPS_GENERATED, data={}),
        "unexpected_type",
        f"handles {BACKUP_COMPLETED}",
    ),
    (
        health_aggregator.SPEC,
        Event(id="g", source="/t", type=GITOPS_GENERATED, data={"backup_id": "b"}),
        "invalid_data",
        "data.cluster: Field required",
    ),
    (
        cluster_backup.SPEC,
        Event(id="p", source="/t", type=PING, data={"cluster": 5}),
        "invalid_data",
        "data.cluster must be a string",
    ),
    (
        backup_complete.SPEC,
        Event(id="n", source="/t", type="dev.knative.kafka.event", data={"Records": [{}]}),
        "invalid_notification",
        "Records[0].s3 must be an object",
    ),
]
IDS = ["no-backup-id", "negative-size", "another-type", "generated", "ping-cluster", "notification"]


@pytest.mark.parametrize(("spec", "event", "code", "reason"), MALFORMED, ids=IDS)
def test_over_http_a_payload_that_does_not_validate_is_400_with_the_reason(
    spec: FunctionSpec[Any], event: Event, code: str, reason: str
) -> None:
    ctx = webhook_context() if spec is backup_complete.SPEC else context()
    published: list[Event] = []
    ctx = FunctionContext(
        ctx.config, store=ctx.store, environ=ctx.environ, clock=ctx.clock, publish=published.append
    )
    response = post_event(client(spec, ctx), event)
    assert response.status_code == 400, response.get_data(as_text=True)
    error = json.loads(response.data)["error"]
    assert error["code"] == code and reason in error["message"], error
    assert published == []  # no failure event: a 400 is answered by its status alone


@pytest.mark.parametrize(("spec", "event", "code", "reason"), MALFORMED, ids=IDS)
def test_on_lambda_a_payload_that_does_not_validate_goes_to_the_on_failure_destination(
    spec: FunctionSpec[Any],
    event: Event,
    code: str,
    reason: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Raised (template.yaml: MaximumRetryAttempts, then OnFailure -> the dead-letter queue),
    never a quiet ``rejected``; nothing is put on the bus."""
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "backup2gitops")
    bridge = RecordingEventBridge()
    handler = lambda_adapter(spec, context=context, events_client=bridge)
    capsys.readouterr()
    with pytest.raises(UnreadableEvent) as raised:
        handler(as_lambda(event), None)
    assert raised.value.code == code and reason in raised.value.message
    assert bridge.entries == []
    records = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith('{"_aws"')
    ]
    assert [r["outcome"] for r in records] == ["unreadable"]
