"""The local broker: routing by the real triggers/, retries, dead letter, reply chaining."""

from __future__ import annotations

from pathlib import Path

from backup2gitops.core import events
from backup2gitops.core.triggers import parse_trigger
from backup2gitops.runtime.broker import DeliveryResult, LocalBroker, load_triggers

TRIGGERS = Path(__file__).resolve().parents[2] / "triggers"


def event(event_type: str, **extensions: str) -> events.Event:
    return events.Event(
        id="e1", source="/backup2gitops/test", type=event_type, extensions=extensions
    )


def subscribers_of(event_type: str, source: str = "/backup2gitops/test") -> set[str]:
    delivered: list[str] = []

    def transport(service: str, e: events.Event) -> DeliveryResult:
        delivered.append(service)
        return DeliveryResult(202)

    broker = LocalBroker(load_triggers(TRIGGERS), transport, sleep=lambda s: None)
    broker.publish(events.Event(id="e1", source=source, type=event_type))
    broker.run_until_idle()
    return set(delivered)


def test_the_flow_of_design_md_is_what_triggers_route() -> None:
    assert subscribers_of(events.BACKUP_COMPLETED) == {"gitops-generator"}
    assert subscribers_of(events.GITOPS_GENERATED) == {"health-aggregator", "alert-router"}
    assert subscribers_of(events.BACKUP_FAILED) == {"alert-router"}
    assert subscribers_of(events.GITOPS_FAILED) == {"alert-router"}
    assert subscribers_of(events.HEALTH_CHANGED) == {"alert-router"}
    assert subscribers_of(events.BACKUP_STALE) == {"alert-router"}
    assert subscribers_of(events.BACKUP_REQUESTED) == {"cluster-backup"}
    assert subscribers_of(events.HEALTH_REPORTED) == set()
    ping = "/apis/v1/namespaces/backup2gitops/pingsources/"
    assert subscribers_of(events.PING, ping + "backup2gitops-backup-schedule") == {"cluster-backup"}
    assert subscribers_of(events.PING, ping + "backup2gitops-health-schedule") == {
        "health-aggregator"
    }


def trigger(retry: int) -> dict:
    return {
        "kind": "Trigger",
        "metadata": {"name": "t"},
        "spec": {
            "broker": "b",
            "filters": [{"exact": {"type": "a"}}],
            "subscriber": {"ref": {"name": "fn"}},
            "delivery": {
                "retry": retry,
                "backoffPolicy": "exponential",
                "backoffDelay": "PT0.1S",
                "deadLetterSink": {"ref": {"name": "dls"}},
            },
        },
    }


def test_retries_5xx_with_backoff_then_dead_letters_with_knative_attributes() -> None:
    sleeps: list[float] = []
    reported: list[events.Event] = []
    broker = LocalBroker(
        [parse_trigger(trigger(3))],
        lambda s, e: DeliveryResult(503, body="down"),
        sleep=sleeps.append,
        on_dead_letter=lambda e: reported.append(e),
    )
    broker.publish(event("a"))
    log = broker.run_until_idle()
    assert reported == log.dead_letters
    assert log.deliveries[0].attempts == 4
    assert sleeps == [0.2, 0.4, 0.8]
    dead = log.dead_letters[0]
    assert dead.extensions["knativeerrordest"] == "fn"
    assert dead.extensions["knativeerrorcode"] == "503"
    assert dead.extensions["knativeerrordata"] == "down"


def test_4xx_is_not_retried() -> None:
    calls: list[str] = []

    def transport(service: str, e: events.Event) -> DeliveryResult:
        calls.append(service)
        return DeliveryResult(400)

    broker = LocalBroker([parse_trigger(trigger(5))], transport, sleep=lambda s: None)
    broker.publish(event("a"))
    assert broker.run_until_idle().deliveries[0].attempts == 1 and len(calls) == 1


def test_409_and_429_are_retried_until_success() -> None:
    answers = [409, 429, 200]
    broker = LocalBroker(
        [parse_trigger(trigger(5))],
        lambda s, e: DeliveryResult(answers.pop(0)),
        sleep=lambda s: None,
    )
    broker.publish(event("a"))
    log = broker.run_until_idle()
    assert log.deliveries[0].attempts == 3 and not log.dead_letters


def test_replies_are_reenqueued_and_matched_again() -> None:
    chain = [parse_trigger(trigger(0))]
    second = trigger(0)
    second["spec"]["filters"] = [{"exact": {"type": "b"}}]
    second["spec"]["subscriber"] = {"ref": {"name": "fn2"}}
    chain.append(parse_trigger(second))
    seen: list[tuple[str, str]] = []

    def transport(service: str, e: events.Event) -> DeliveryResult:
        seen.append((service, e.type))
        reply = event("b") if e.type == "a" else None
        return DeliveryResult(200, reply)

    broker = LocalBroker(chain, transport, sleep=lambda s: None)
    broker.publish(event("a"))
    log = broker.run_until_idle()
    assert seen == [("fn", "a"), ("fn2", "b")]
    assert all("knativearrivaltime" in e.extensions for e in log.events)


def test_a_reply_loop_is_cut_and_dead_lettered() -> None:
    loop = parse_trigger(trigger(0))
    broker = LocalBroker(
        [loop], lambda s, e: DeliveryResult(200, event("a")), sleep=lambda s: None, max_hops=5
    )
    broker.publish(event("a"))
    log = broker.run_until_idle()
    assert len(log.deliveries) == 6 and log.dead_letters
