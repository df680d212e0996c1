"""alert-router with an in-memory bucket and receivers served by a local HTTP server."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest

from alert_router import handler
from backup2gitops.adapters.receivers.webhook import WebhookReceiver
from backup2gitops.adapters.storage import MemoryStore, ObjectStore, open_store
from backup2gitops.config import StorageConfig, parse_config
from backup2gitops.core import events
from backup2gitops.core.errors import Conflict, Transient
from backup2gitops.core.events import Event
from backup2gitops.runtime.context import FunctionContext
from tests.functional.http_client import client, post_event
from tests.recording import Recorder, free_port

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)

CONFIG = """
alerts:
  receivers:
    - {name: slack, type: slack, url: {env: SLACK_URL}}
    - {name: pd, type: pagerduty, routing_key: {env: PD_KEY}, url: "%(url)s/v2/enqueue"}
    - {name: am, type: alertmanager, url: "%(url)s"}
    - {name: hook, type: webhook, url: "%(url)s/hook", secret: {env: HOOK_SECRET}}
  routes:
    - match: {severity: critical}
      receivers: [pd]
      continue: true
    - receivers: [slack, am, hook]
"""


@pytest.fixture
def ctx(recorder: Recorder) -> FunctionContext:
    config = parse_config(CONFIG % {"url": recorder.url})
    env = {"SLACK_URL": recorder.url + "/slack", "PD_KEY": "k" * 32, "HOOK_SECRET": "s"}
    recorder.reply("/v2/enqueue", *[(202, "{}")] * 20)
    return FunctionContext(config, store=MemoryStore(), environ=env, clock=lambda: T0)


def gitops_failed(event_id: str = "f1", cluster: str = "prod") -> Event:
    return Event(
        id=event_id,
        source="/backup2gitops/gitops-generator",
        type=events.GITOPS_FAILED,
        time=T0,
        cluster=cluster,
        data={
            "cluster": cluster,
            "backup_id": "b1",
            "code": "push",
            "message": "rejected",
            "retryable": False,
        },
    )


def gitops_generated(event_id: str = "g1", cluster: str = "prod") -> Event:
    return Event(
        id=event_id,
        source="/backup2gitops/gitops-generator",
        type=events.GITOPS_GENERATED,
        time=T0,
        cluster=cluster,
        data={
            "cluster": cluster,
            "backup_id": "b2",
            "repository": "r",
            "branch": "main",
            "commit": "c" * 40,
        },
    )


def counts(recorder: Recorder) -> dict[str, int]:
    found: dict[str, int] = {}
    for r in recorder.requests:
        found[r.path] = found.get(r.path, 0) + 1
    return found


ALL = {"/slack": 1, "/v2/enqueue": 1, "/api/v2/alerts": 1, "/hook": 1}


def test_redelivery_notifies_each_receiver_once(ctx: FunctionContext, recorder: Recorder) -> None:
    assert handler.handle(gitops_failed(), ctx) is None
    assert counts(recorder) == ALL
    assert handler.handle(gitops_failed(), ctx) is None  # the broker delivers it again
    assert counts(recorder) == ALL
    records = list(ctx.store.list("state/idempotency/alert-router/"))
    assert len(records) == 4


def test_one_receiver_503_fails_the_function_and_the_retry_sends_only_to_it(
    ctx: FunctionContext, recorder: Recorder
) -> None:
    recorder.reply("/slack", (503, "busy"))
    http = client(handler.SPEC, ctx)
    response = post_event(http, gitops_failed())
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "receiver_failed" and "slack" in error["message"]
    assert recorder.url not in error["message"]
    assert counts(recorder) == ALL  # the others were tried (and succeeded)
    response = post_event(http, gitops_failed())
    assert response.status_code == 202
    assert counts(recorder) == {**ALL, "/slack": 2}
    post_event(http, gitops_failed())
    assert counts(recorder) == {**ALL, "/slack": 2}


def test_4xx_is_reported_not_retried(ctx: FunctionContext, recorder: Recorder) -> None:
    recorder.reply("/hook", (400, "bad signature"))
    assert handler.handle(gitops_failed(), ctx) is None
    assert handler.handle(gitops_failed(), ctx) is None
    assert counts(recorder)["/hook"] == 1


def test_recovery_resolves_what_fired_and_only_that(
    ctx: FunctionContext, recorder: Recorder
) -> None:
    handler.handle(gitops_generated("g0"), ctx)
    assert recorder.requests == []  # nothing was firing: no "resolved" noise
    handler.handle(gitops_failed(), ctx)
    handler.handle(gitops_generated(), ctx)
    assert counts(recorder) == {k: 2 * v for k, v in ALL.items()}
    pd_trigger, pd_resolve = (r.json() for r in recorder.to("/v2/enqueue"))
    assert (pd_trigger["event_action"], pd_resolve["event_action"]) == ("trigger", "resolve")
    assert pd_trigger["dedup_key"] == pd_resolve["dedup_key"]
    am_fire, am_resolve = (r.json()[0] for r in recorder.to("/api/v2/alerts"))
    assert am_fire["labels"] == am_resolve["labels"]
    assert am_resolve["endsAt"] == "2026-11-01T12:00:00Z"
    assert recorder.to("/hook")[1].json()["status"] == "resolved"
    assert list(ctx.store.list("state/alerts/")) == []
    handler.handle(gitops_generated("g2"), ctx)
    assert len(recorder.requests) == 8


def test_a_repeated_firing_reaches_only_alertmanager(
    ctx: FunctionContext, recorder: Recorder
) -> None:
    for run in ("s1", "s2"):
        stale = Event(
            id=run,
            source="/backup2gitops/health-aggregator",
            type=events.BACKUP_STALE,
            time=T0,
            cluster="prod",
            data={"cluster": "prod", "last_backup_at": None, "max_age": "PT26H"},
        )
        handler.handle(stale, ctx)
    assert counts(recorder) == {"/slack": 1, "/api/v2/alerts": 2, "/hook": 1}


def test_concurrent_duplicate_is_a_conflict(
    ctx: FunctionContext, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = threading.Event()
    release = threading.Event()
    original = WebhookReceiver.send

    def held(self: WebhookReceiver, alert: object) -> None:
        started.set()
        assert release.wait(30)  # the first delivery stays in progress until the test says
        original(self, alert)  # type: ignore[arg-type]

    monkeypatch.setattr(WebhookReceiver, "send", held)
    first = threading.Thread(target=handler.handle, args=(gitops_failed(), ctx))
    first.start()
    assert started.wait(30)
    try:
        with pytest.raises(Conflict):
            handler.handle(gitops_failed(), ctx)
    finally:
        release.set()
        first.join()
    assert counts(recorder) == ALL


def test_unreachable_receiver_is_transient(ctx: FunctionContext, recorder: Recorder) -> None:
    recorder.reply("/api/v2/alerts", (500, "down"))
    with pytest.raises(Transient, match="am"):
        handler.handle(gitops_failed(), ctx)


def test_other_types_are_ignored(ctx: FunctionContext, recorder: Recorder) -> None:
    completed = gitops_failed().model_copy(update={"type": events.BACKUP_COMPLETED})
    assert handler.handle(completed, ctx) is None
    assert recorder.requests == []


def test_an_alert_no_route_matches_is_logged_with_its_labels(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    config = parse_config(
        f"""
alerts:
  receivers: [{{name: am, type: alertmanager, url: "{recorder.url}"}}]
  routes: [{{match: {{cluster: staging}}, receivers: [am]}}]
"""
    )
    ctx = FunctionContext(config, store=MemoryStore(), environ={}, clock=lambda: T0)
    with caplog.at_level(logging.INFO, logger=handler.logger.name):
        assert handler.handle(gitops_failed(cluster="prod"), ctx) is None
    assert sum(counts(recorder).values()) == 0
    (unrouted,) = [r for r in caplog.records if "matched no route" in r.getMessage()]
    assert unrouted.levelno == logging.WARNING
    labels = unrouted.__dict__["labels"]
    assert labels["alertname"] == "GitopsFailed" and labels["cluster"] == "prod"


def test_storage_down_is_503_not_500(recorder: Recorder) -> None:
    """A real S3 client at a port nothing listens on: the broker is told to retry (503)."""
    port = free_port()
    config = parse_config(
        f"storage: {{url: 's3://alerts', endpoint_url: 'http://127.0.0.1:{port}'}}\n"
        + CONFIG % {"url": recorder.url}
    )
    env = {
        "AWS_ACCESS_KEY_ID": "a",
        "AWS_SECRET_ACCESS_KEY": "b",
        "SLACK_URL": recorder.url,
        "PD_KEY": "k" * 32,
        "HOOK_SECRET": "s",
    }
    ctx = FunctionContext(config, environ=env, clock=lambda: T0)
    response = post_event(client(handler.SPEC, ctx), gitops_failed())
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "storage_unavailable"


def test_a_receiver_down_for_the_first_alert_gets_the_next_one(
    ctx: FunctionContext, recorder: Recorder
) -> None:
    """Slack answered 500 to the alert that opened; the broker gave up on that event. The next
    event for the same open alert must still reach Slack: it never had the alert."""
    recorder.reply("/slack", (500, "down"))
    with pytest.raises(Transient, match="slack"):
        handler.handle(gitops_failed("f1"), ctx)
    assert counts(recorder)["/slack"] == 1
    assert handler.handle(gitops_failed("f2"), ctx) is None
    assert counts(recorder)["/slack"] == 2  # delivered this time
    handler.handle(gitops_failed("f3"), ctx)
    assert counts(recorder)["/slack"] == 2  # now it has it: a third failure is not repeated
    failed_record = [
        info.key
        for info in ctx.store.list("state/idempotency/")
        if b"f1" in ctx.store.read_bytes(info.key) and b"slack" in ctx.store.read_bytes(info.key)
    ]
    assert failed_record == []  # the failed delivery was never recorded


def storage_down(monkeypatch: pytest.MonkeyPatch) -> ObjectStore:
    """A real S3 client pointed at a MinIO address where nothing listens any more."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    return open_store(
        StorageConfig(url="s3://backups", endpoint_url=f"http://127.0.0.1:{free_port()}")
    )


@pytest.mark.parametrize("send_anyway", [False, True])
def test_storage_down_is_a_503_and_alerts_can_still_be_sent(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch, send_anyway: bool
) -> None:
    config = parse_config(CONFIG % {"url": recorder.url})
    config.alerts.deliver_without_state = send_anyway
    env = {"SLACK_URL": recorder.url + "/slack", "PD_KEY": "k" * 32, "HOOK_SECRET": "s"}
    down = FunctionContext(config, store=storage_down(monkeypatch), environ=env, clock=lambda: T0)
    response = post_event(client(handler.SPEC, down), gitops_failed())
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "storage_unavailable"
    assert counts(recorder) == (ALL if send_anyway else {})


def test_each_delivery_leaves_a_record_named_by_receiver_outcome_and_alert(
    ctx: FunctionContext, recorder: Recorder
) -> None:
    """What health-aggregator counts deliveries and failures from (core.delivery_records.DeliveryRecord)."""
    from backup2gitops.core import delivery_records

    recorder.reply("/slack", (503, "busy"))
    recorder.reply("/hook", (400, "bad signature"))
    with pytest.raises(Transient):
        handler.handle(gitops_failed(), ctx)
    handler.handle(gitops_failed(), ctx)  # the retry: slack now answers
    handler.handle(gitops_failed(), ctx)  # a replay sends nothing and records nothing new
    prefix = ctx.config.alerts.deliveries_prefix
    found = [
        delivery_records.parse_delivery_record_key(info.key, prefix=prefix)
        for info in ctx.store.list(prefix)
    ]
    assert all(r is not None for r in found)
    outcomes = sorted((r.receiver, r.outcome) for r in found if r is not None)
    assert outcomes == [
        ("am", "delivered"),
        ("hook", "rejected"),
        ("pd", "delivered"),
        ("slack", "delivered"),
        ("slack", "failed"),
    ]
    assert {(r.alertname, r.cluster, r.status) for r in found if r is not None} == {
        ("GitopsFailed", "prod", "firing")
    }
    assert len({r.delivery for r in found if r is not None}) == 1  # one alert of one event


def test_expired_delivery_records_are_deleted_at_most_once_an_hour(
    ctx: FunctionContext, recorder: Recorder
) -> None:
    assert handler.handle(gitops_failed(), ctx) is None
    store = ctx.store
    assert isinstance(store, MemoryStore)
    mark = json.loads(store.read_bytes("state/idempotency/.swept"))
    assert mark == {"swept_at": T0.isoformat()}  # the handler swept, by its clock
    records = sorted(k for k in store.objects if k.startswith("state/idempotency/alert-router/"))
    assert len(records) == 4
    later = T0 + timedelta(hours=1)
    limit = ctx.config.alerts.idempotency.expires_after
    for age, key in zip([limit + timedelta(hours=1)] * 2 + [limit] * 2, records, strict=True):
        data, info = store.objects[key]
        store.objects[key] = (data, dataclasses.replace(info, last_modified=later - age))

    soon = FunctionContext(ctx.config, store=store, environ={}, clock=lambda: later - SECOND)
    handler.expire_delivery_records(soon)  # within the hour of the last sweep: nothing
    assert all(key in store.objects for key in records)

    due = FunctionContext(ctx.config, store=store, environ={}, clock=lambda: later)
    handler.expire_delivery_records(due)
    left = sorted(k for k in store.objects if k.startswith("state/idempotency/alert-router/"))
    assert left == records[2:]  # older than expires_after: gone; exactly that old: kept
    assert json.loads(store.read_bytes("state/idempotency/.swept")) == {
        "swept_at": later.isoformat()
    }


def test_a_damaged_sweep_mark_does_not_stop_expiry(ctx: FunctionContext) -> None:
    store = ctx.store
    store.put_bytes("state/idempotency/.swept", b"{")
    store.put_bytes("state/idempotency/alert-router/x.json", b"{}")
    far = FunctionContext(
        ctx.config, store=store, environ={}, clock=lambda: T0 + timedelta(days=400)
    )
    handler.expire_delivery_records(far)
    assert store.stat("state/idempotency/alert-router/x.json") is None
