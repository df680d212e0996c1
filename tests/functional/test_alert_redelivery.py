"""Alerts outlive a receiver's outage: the health tick resends what no receiver took (issue 22).

The Broker retries a failed delivery ~63 s, then dead-letters the event; before this, nothing sent
the alert again. alert-router now also hears the health PingSource and sends every open firing
alert to each routed receiver without a ``.notified`` record, under the event that raised it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from alert_router import handler
from backup2gitops.adapters.storage import MemoryStore
from backup2gitops.config import parse_config
from backup2gitops.core import alerts, events
from backup2gitops.core.errors import Transient
from backup2gitops.core.events import Event
from backup2gitops.runtime.context import FunctionContext
from tests.recording import Recorder

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
CONFIG = """
alerts:
  receivers:
    - {name: slack, type: slack, url: {env: SLACK_URL}}
    - {name: hook, type: webhook, url: "%(url)s/hook"}
  routes:
    - receivers: [slack, hook]
"""


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ctx(recorder: Recorder, clock: Clock) -> FunctionContext:
    config = parse_config(CONFIG % {"url": recorder.url}, {})
    env = {"SLACK_URL": recorder.url + "/slack"}
    return FunctionContext(config, store=MemoryStore(), environ=env, clock=clock)


def mass_deletion(event_id: str = "f1", backup_id: str = "b1") -> Event:
    return Event(
        id=event_id,
        source="/backup2gitops/gitops-generator",
        type=events.GITOPS_FAILED,
        time=T0,
        cluster="prod",
        data={
            "cluster": "prod",
            "backup_id": backup_id,
            "code": "mass_deletion",
            "message": "would remove 3 of the cluster's 4 objects",
            "retryable": False,
        },
    )


def tick(event_id: str = "p1") -> Event:
    return Event(
        id=event_id,
        source="/apis/v1/namespaces/b2g/pingsources/backup2gitops-health-schedule",
        type=events.PING,
        time=T0,
    )


def sent(recorder: Recorder, path: str) -> int:
    return len(recorder.to(path))


def test_an_alert_no_receiver_took_is_sent_on_the_next_tick_exactly_once(
    ctx: FunctionContext, recorder: Recorder, clock: Clock
) -> None:
    recorder.reply("/slack", (503, "down"), (503, "down"), (503, "down"))
    recorder.reply("/hook", (503, "down"), (503, "down"), (503, "down"))
    for _ in range(3):  # the event and the Broker's retries, all failing
        with pytest.raises(Transient):
            handler.handle(mass_deletion(), ctx)
    assert (sent(recorder, "/slack"), sent(recorder, "/hook")) == (3, 3)
    refusal = alerts.refusal_key("state/refusals/", "prod", "b1")
    assert ctx.store.stat(refusal) is None  # no receiver took it: not "refused with an alert"

    clock.now = T0 + timedelta(minutes=5)
    assert handler.handle(tick("p1"), ctx) is None  # receivers are back (default 200)
    assert (sent(recorder, "/slack"), sent(recorder, "/hook")) == (4, 4)
    body = recorder.to("/hook")[-1].body.decode()
    assert "GitopsFailed" in body and "mass_deletion" in body and '"f1"' in body
    assert ctx.store.stat(refusal) is not None  # now the watchdog knows it was told

    for n in range(2, 5):  # later ticks: each receiver has it, nothing is sent again
        clock.now += timedelta(minutes=5)
        handler.handle(tick(f"p{n}"), ctx)
    assert (sent(recorder, "/slack"), sent(recorder, "/hook")) == (4, 4)
    delivered = [
        i.key for i in ctx.store.list("state/deliveries/") if "/delivered/GitopsFailed/" in i.key
    ]
    assert len(delivered) == 2  # one record per receiver, the same key the first attempt used


def test_only_the_receiver_that_failed_gets_it_again(
    ctx: FunctionContext, recorder: Recorder, clock: Clock
) -> None:
    recorder.reply("/slack", (500, "down"))
    with pytest.raises(Transient, match="slack"):
        handler.handle(mass_deletion(), ctx)
    assert (sent(recorder, "/slack"), sent(recorder, "/hook")) == (1, 1)
    clock.now += timedelta(minutes=5)
    handler.handle(tick(), ctx)
    assert (sent(recorder, "/slack"), sent(recorder, "/hook")) == (2, 1)


def test_a_receiver_still_down_is_tried_on_every_tick_without_failing_the_tick(
    ctx: FunctionContext, recorder: Recorder, clock: Clock
) -> None:
    recorder.reply("/slack", *[(503, "down")] * 4)
    with pytest.raises(Transient):
        handler.handle(mass_deletion(), ctx)
    for n in range(3):
        clock.now += timedelta(minutes=5)
        assert handler.handle(tick(f"p{n}"), ctx) is None
    assert sent(recorder, "/slack") == 4 and sent(recorder, "/hook") == 1
    clock.now += timedelta(minutes=5)
    handler.handle(tick("p9"), ctx)
    assert sent(recorder, "/slack") == 5  # up again: taken, and never again
    handler.handle(tick("p10"), ctx)
    assert sent(recorder, "/slack") == 5


def test_a_resolved_alert_is_not_resent(
    ctx: FunctionContext, recorder: Recorder, clock: Clock
) -> None:
    recorder.reply("/slack", (503, "down"))
    recorder.reply("/hook", (503, "down"))
    with pytest.raises(Transient):
        handler.handle(mass_deletion(), ctx)
    generated = Event(
        id="g1",
        source="/backup2gitops/gitops-generator",
        type=events.GITOPS_GENERATED,
        time=T0 + timedelta(minutes=1),
        cluster="prod",
        data={
            "cluster": "prod",
            "backup_id": "b2",
            "repository": "r",
            "branch": "main",
            "commit": "c" * 40,
        },
    )
    handler.handle(generated, ctx)  # the alert is closed (its resolution went to both)
    before = (sent(recorder, "/slack"), sent(recorder, "/hook"))
    clock.now += timedelta(minutes=5)
    handler.handle(tick(), ctx)
    assert (sent(recorder, "/slack"), sent(recorder, "/hook")) == before


def test_an_alert_past_redeliver_for_expires_with_an_error_log(
    ctx: FunctionContext, recorder: Recorder, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    recorder.reply("/slack", (503, "down"))
    recorder.reply("/hook", (503, "down"))
    with pytest.raises(Transient):
        handler.handle(mass_deletion(), ctx)
    clock.now = T0 + timedelta(days=1, seconds=1)  # alerts.redeliver_for: P1D
    with caplog.at_level(logging.ERROR):
        handler.handle(tick(), ctx)
    assert (sent(recorder, "/slack"), sent(recorder, "/hook")) == (1, 1)
    assert "alert expired undelivered" in caplog.text


def test_a_broker_redelivery_after_the_tick_sends_nothing_more(
    ctx: FunctionContext, recorder: Recorder, clock: Clock
) -> None:
    """The tick delivers under the raising event's id: the same idempotency key."""
    recorder.reply("/slack", (503, "down"))
    recorder.reply("/hook", (503, "down"))
    with pytest.raises(Transient):
        handler.handle(mass_deletion(), ctx)
    clock.now += timedelta(seconds=30)
    handler.handle(tick(), ctx)
    handler.handle(mass_deletion(), ctx)  # the Broker's late retry of the same event
    assert (sent(recorder, "/slack"), sent(recorder, "/hook")) == (2, 2)


def test_a_receiver_a_later_event_reached_is_not_sent_it_again(
    ctx: FunctionContext, recorder: Recorder, clock: Clock
) -> None:
    """Slack missed f1's alert and got the same open alert with f2: the tick (which delivers
    under f1's id, never taken by Slack) must see Slack's ``.notified`` record and skip it."""
    recorder.reply("/slack", (503, "down"))
    with pytest.raises(Transient, match="slack"):
        handler.handle(mass_deletion("f1"), ctx)
    handler.handle(mass_deletion("f2"), ctx)
    assert sent(recorder, "/slack") == 2
    clock.now += timedelta(minutes=5)
    handler.handle(tick(), ctx)
    assert sent(recorder, "/slack") == 2


def resolved_by(event_id: str = "g1") -> Event:
    return Event(
        id=event_id,
        source="/backup2gitops/gitops-generator",
        type=events.GITOPS_GENERATED,
        time=T0 + timedelta(minutes=10),
        cluster="prod",
        data={
            "cluster": "prod",
            "backup_id": "b2",
            "repository": "r",
            "branch": "main",
            "commit": "c" * 40,
        },
    )


def resolutions(recorder: Recorder, path: str) -> int:
    return sum(1 for r in recorder.to(path) if b"resolved" in r.body)


def test_a_resolution_a_receiver_missed_is_sent_on_the_next_tick_once(
    ctx: FunctionContext, recorder: Recorder, clock: Clock
) -> None:
    handler.handle(mass_deletion(), ctx)  # both receivers have the firing alert
    fingerprint = alerts.fingerprint(alertname="GitopsFailed", cluster="prod", component="gitops")
    recorder.reply("/hook", (503, "down"), (503, "down"))
    for _ in range(2):  # the resolving event and a Broker retry: the webhook is down
        with pytest.raises(Transient, match="hook"):
            handler.handle(resolved_by(), ctx)
    assert (resolutions(recorder, "/slack"), resolutions(recorder, "/hook")) == (1, 2)
    pending = ctx.store.read_bytes(f"state/alerts/{fingerprint}.json")
    assert b'"status": "resolved"' in pending  # kept as a pending resolution, not closed
    from health_aggregator.status_state import open_alerts

    assert open_alerts(ctx.store, prefix="state/alerts/") == []  # the page lists it no more

    clock.now += timedelta(minutes=5)
    handler.handle(tick("p1"), ctx)
    assert (resolutions(recorder, "/slack"), resolutions(recorder, "/hook")) == (1, 3)
    assert ctx.store.stat(f"state/alerts/{fingerprint}.json") is None  # closed: everyone has it
    handler.handle(tick("p2"), ctx)
    handler.handle(resolved_by(), ctx)  # the Broker's late retry: nothing open, nothing sent
    assert (resolutions(recorder, "/slack"), resolutions(recorder, "/hook")) == (1, 3)


def test_a_new_failure_while_a_resolution_is_pending_fires_afresh(
    ctx: FunctionContext, recorder: Recorder, clock: Clock
) -> None:
    handler.handle(mass_deletion("f1"), ctx)
    recorder.reply("/hook", (503, "down"))
    with pytest.raises(Transient):
        handler.handle(resolved_by(), ctx)
    firing_before = sent(recorder, "/slack") - resolutions(recorder, "/slack")
    handler.handle(mass_deletion("f2"), ctx)  # it fails again: both hear of it anew
    assert sent(recorder, "/slack") - resolutions(recorder, "/slack") == firing_before + 1
    clock.now += timedelta(minutes=5)
    handler.handle(tick(), ctx)
    assert resolutions(recorder, "/hook") == 1  # the stale resolution is not sent any more


def test_a_resolution_past_redeliver_for_is_dropped_with_an_error_log(
    ctx: FunctionContext, recorder: Recorder, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    handler.handle(mass_deletion(), ctx)
    recorder.reply("/hook", (503, "down"))
    with pytest.raises(Transient):
        handler.handle(resolved_by(), ctx)
    clock.now = T0 + timedelta(days=2)
    with caplog.at_level(logging.ERROR):
        handler.handle(tick(), ctx)
    assert "resolution expired undelivered" in caplog.text
    assert list(ctx.store.list("state/alerts/")) == []
