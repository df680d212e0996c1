"""The local broker as Knative's MT broker behaves: routing by the real triggers/, `ref` and
`uri` subscribers, retries and backoff as retries.go computes them, per-Trigger dead-letter
sinks with the knativeerror* attributes, independent deliveries, reply chaining."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from backup2gitops.core import events
from backup2gitops.core.triggers import Delivery, Destination, parse_delivery, parse_trigger
from backup2gitops.runtime.broker import DeliveryResult, LocalBroker, load_triggers

TRIGGERS = Path(__file__).resolve().parents[2] / "triggers"
Answer = Callable[[str, events.Event], DeliveryResult]


class FakeTransport:
    """Services by name at ``http://<name>/``; any absolute URI as itself."""

    def __init__(self, answer: Answer, *, services: tuple[str, ...] = ("fn", "fn2", "dls")):
        self.answer = answer
        self.services = services
        self.calls: list[tuple[str, events.Event, float | None]] = []
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()

    def resolve(self, destination: Destination) -> str | None:
        if destination.ref is None:
            return destination.uri
        return f"http://{destination.ref}/" if destination.ref in self.services else None

    def send(
        self,
        url: str,
        event: events.Event,
        *,
        timeout_s: float | None,
        headers: Mapping[str, str] | None = None,
    ) -> DeliveryResult:
        with self.lock:
            self.calls.append((url, event, timeout_s))
            self.headers.append(dict(headers or {}))
        return self.answer(url, event)

    def urls(self) -> list[str]:
        return [url for url, _, _ in self.calls]


def event(event_type: str, **extensions: str) -> events.Event:
    return events.Event(
        id="e1", source="/backup2gitops/test", type=event_type, extensions=extensions
    )


def subscribers_of(event_type: str, source: str = "/backup2gitops/test") -> set[str]:
    services = ("cluster-backup", "gitops-generator", "health-aggregator", "alert-router")
    transport = FakeTransport(lambda url, e: DeliveryResult(202), services=services)
    broker = LocalBroker(load_triggers(TRIGGERS), transport, sleep=lambda s: None)
    broker.publish(events.Event(id="e1", source=source, type=event_type))
    broker.run_until_idle()
    return {url.removeprefix("http://").rstrip("/") for url in transport.urls()}


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
        "health-aggregator",
        "alert-router",  # resends undelivered alerts (alert_router.redelivery.redeliver)
    }


def trigger(retry: int | None, *, name: str = "t", on: str = "a", **delivery: object) -> dict:
    spec: dict = {
        "broker": "b",
        "filters": [{"exact": {"type": on}}],
        "subscriber": {"ref": {"name": "fn"}},
    }
    if retry is not None:
        spec["delivery"] = {
            "retry": retry,
            "backoffPolicy": "exponential",
            "backoffDelay": "PT0.1S",
            "deadLetterSink": {"ref": {"name": "dls"}},
            **delivery,
        }
    return {"kind": "Trigger", "metadata": {"name": name}, "spec": spec}


def test_retries_5xx_with_knatives_backoff_then_dead_letters_to_the_triggers_sink() -> None:
    sleeps: list[float] = []
    reported: list[events.Event] = []
    transport = FakeTransport(
        lambda url, e: (
            DeliveryResult(503, body="down") if url == "http://fn/" else DeliveryResult(202)
        )
    )
    broker = LocalBroker(
        [parse_trigger(trigger(3))],
        transport,
        sleep=sleeps.append,
        on_dead_letter=reported.append,
    )
    broker.publish(event("a"))
    log = broker.run_until_idle()
    assert reported == log.dead_letters
    assert log.deliveries[0].attempts == 4
    assert sleeps == [0.1, 0.2, 0.4]  # retries.go: backoffDelay * 2^n, n = 0 first
    assert transport.urls() == ["http://fn/"] * 4 + ["http://dls/"]
    dead = transport.calls[-1][1]
    assert dead == log.dead_letters[0]
    assert dead.extensions["knativeerrordest"] == "http://fn/"
    assert dead.extensions["knativeerrorcode"] == 503
    assert base64.b64decode(str(dead.extensions["knativeerrordata"])) == b"down"
    assert log.deliveries[0].dead_letter_status == 202


def test_a_uri_dead_letter_sink_and_the_brokers_sink_when_the_trigger_names_none() -> None:
    transport = FakeTransport(
        lambda url, e: DeliveryResult(500) if url == "http://fn/" else DeliveryResult(202)
    )
    with_uri = trigger(0, deadLetterSink={"uri": "http://sink.example/dead"})
    without = trigger(0, name="t2")
    del without["spec"]["delivery"]["deadLetterSink"]
    broker = LocalBroker(
        [parse_trigger(with_uri), parse_trigger(without)],
        transport,
        delivery=parse_delivery({"deadLetterSink": {"ref": {"name": "fn2"}}}),
        sleep=lambda s: None,
    )
    broker.publish(event("a"))
    broker.run_until_idle()
    sinks = sorted(url for url in transport.urls() if url != "http://fn/")
    assert sinks == ["http://fn2/", "http://sink.example/dead"]


def test_a_trigger_without_delivery_uses_the_brokers() -> None:
    sleeps: list[float] = []
    transport = FakeTransport(lambda url, e: DeliveryResult(503))
    broker_delivery = parse_delivery(
        {"retry": 2, "backoffPolicy": "linear", "backoffDelay": "PT1S", "timeout": "PT3S"}
    )
    broker = LocalBroker(
        [parse_trigger(trigger(None))], transport, delivery=broker_delivery, sleep=sleeps.append
    )
    broker.publish(event("a"))
    log = broker.run_until_idle()
    assert log.deliveries[0].attempts == 3
    assert sleeps == [0.0, 1.0]  # linear: backoffDelay * n, n = 0 first
    assert {timeout for _, _, timeout in transport.calls} == {3.0}


def test_delivery_timeout_is_each_attempts_request_timeout() -> None:
    transport = FakeTransport(lambda url, e: DeliveryResult(202))
    broker = LocalBroker([parse_trigger(trigger(1, timeout="PT7.5S"))], transport)
    broker.publish(event("a"))
    broker.run_until_idle()
    assert transport.calls[0][2] == 7.5


def test_a_transport_error_is_a_500_and_retried() -> None:
    answers: list[DeliveryResult | OSError] = [
        ConnectionRefusedError("refused"),
        DeliveryResult(200),
    ]

    def answer(url: str, e: events.Event) -> DeliveryResult:
        item = answers.pop(0)
        if isinstance(item, OSError):
            raise item
        return item

    broker = LocalBroker([parse_trigger(trigger(1))], FakeTransport(answer), sleep=lambda s: None)
    broker.publish(event("a"))
    assert broker.run_until_idle().deliveries[0].attempts == 2


def test_an_unresolved_subscriber_skips_its_events_as_knative_does() -> None:
    """Measured on Knative v0.50: the Trigger is not Ready, has no Subscription, and its events
    are skipped (no retry, no dead letter); ``serve`` refuses to start with such a Trigger."""
    transport = FakeTransport(lambda url, e: DeliveryResult(202), services=("dls",))
    broker = LocalBroker([parse_trigger(trigger(2))], transport, sleep=lambda s: None)
    assert broker.ingress(event("a")) == 202
    log = broker.run_until_idle()
    assert log.deliveries[0].status == 0 and log.deliveries[0].attempts == 0
    assert transport.urls() == [] and not log.dead_letters


def test_subscribers_get_knatives_headers_and_no_ttl_dead_letters_keep_the_ttl() -> None:
    transport = FakeTransport(
        lambda url, e: DeliveryResult(503) if url == "http://fn/" else DeliveryResult(202)
    )
    broker = LocalBroker(
        [parse_trigger(trigger(0))], transport, sleep=lambda s: None, namespace="ns"
    )
    broker.publish(event("a"))
    broker.run_until_idle()
    (to_fn, to_dls) = transport.calls
    assert transport.headers[0] == {"Prefer": "reply", "Kn-Namespace": "ns"}
    assert "knativebrokerttl" not in to_fn[1].extensions
    assert to_dls[1].extensions["knativebrokerttl"] == 255
    assert transport.headers[1] == {"Kn-Namespace": "ns"}
    arrival = str(to_fn[1].extensions["knativearrivaltime"])
    assert arrival.endswith("Z") and "+" not in arrival


def test_no_answer_is_dead_lettered_without_knativeerror_attributes() -> None:
    """A timeout or a refused connection: Knative's filter has no answer to report."""

    def answer(url: str, e: events.Event) -> DeliveryResult:
        if url == "http://fn/":
            raise TimeoutError("timed out")
        return DeliveryResult(202)

    broker = LocalBroker([parse_trigger(trigger(1))], FakeTransport(answer), sleep=lambda s: None)
    broker.publish(event("a"))
    log = broker.run_until_idle()
    assert log.deliveries[0].attempts == 2 and log.deliveries[0].dead_letter_status == 202
    assert not {k for k in log.dead_letters[0].extensions if k.startswith("knativeerror")}


def test_4xx_is_not_retried() -> None:
    transport = FakeTransport(lambda url, e: DeliveryResult(400))
    broker = LocalBroker([parse_trigger(trigger(5))], transport, sleep=lambda s: None)
    broker.publish(event("a"))
    assert broker.run_until_idle().deliveries[0].attempts == 1
    assert transport.urls() == ["http://fn/", "http://dls/"]


def test_409_and_429_are_retried_until_success() -> None:
    answers = [409, 429, 200]
    broker = LocalBroker(
        [parse_trigger(trigger(5))],
        FakeTransport(lambda url, e: DeliveryResult(answers.pop(0))),
        sleep=lambda s: None,
    )
    broker.publish(event("a"))
    log = broker.run_until_idle()
    assert log.deliveries[0].attempts == 3 and not log.dead_letters


def test_a_failing_subscriber_delays_no_other_trigger() -> None:
    """fn's delivery is held (its first attempt and every backoff wait) until fn2 has its copy;
    fn2 records how far fn had got. Side by side, fn has not finished; one after the other, fn
    would have made all 4 attempts first (the holds are bounded, so that failure ends)."""
    release = threading.Event()
    fn_attempts: list[int] = []
    fn_attempts_when_fn2_received: list[int] = []

    def answer(url: str, e: events.Event) -> DeliveryResult:
        if url == "http://fn/":
            fn_attempts.append(1)
            release.wait(timeout=60)
            return DeliveryResult(503)
        if url == "http://fn2/":
            fn_attempts_when_fn2_received.append(len(fn_attempts))
            release.set()
        return DeliveryResult(202)

    other = trigger(0, name="t2")
    other["spec"]["subscriber"] = {"ref": {"name": "fn2"}}
    broker = LocalBroker(
        [parse_trigger(trigger(3)), parse_trigger(other)],
        FakeTransport(answer),
        sleep=lambda s: release.wait(timeout=60),
    )
    broker.publish(event("a"))
    log = broker.run_until_idle()
    assert fn_attempts_when_fn2_received[0] < 4
    assert {d.trigger: (d.status, d.attempts) for d in log.deliveries} == {
        "t": (503, 4),
        "t2": (202, 1),
    }


def test_replies_are_reenqueued_and_matched_again() -> None:
    second = trigger(0, name="t2", on="b")
    second["spec"]["subscriber"] = {"ref": {"name": "fn2"}}
    chain = [parse_trigger(trigger(0)), parse_trigger(second)]
    seen: list[tuple[str, str]] = []

    def answer(url: str, e: events.Event) -> DeliveryResult:
        seen.append((url, e.type))
        return DeliveryResult(200, event("b") if e.type == "a" else None)

    broker = LocalBroker(chain, FakeTransport(answer), sleep=lambda s: None)
    broker.publish(event("a"))
    log = broker.run_until_idle()
    assert seen == [("http://fn/", "a"), ("http://fn2/", "b")]
    assert all("knativearrivaltime" in e.extensions for e in log.events)


def test_a_reply_loop_is_cut_by_the_ttl_and_dead_lettered_with_400() -> None:
    """As measured on Knative: 255 deliveries, then the ingress refuses the last reply (400)
    and the Trigger's dead-letter sink gets it with the ingress as knativeerrordest."""
    transport = FakeTransport(
        lambda url, e: (
            DeliveryResult(200, event("a")) if url == "http://fn/" else DeliveryResult(202)
        )
    )
    broker = LocalBroker(
        [parse_trigger(trigger(0))], transport, sleep=lambda s: None, ingress_url="http://in/ns/b"
    )
    broker.publish(event("a"))
    log = broker.run_until_idle()
    assert transport.urls().count("http://fn/") == 255
    (dead,) = log.dead_letters
    assert dead.id == "e1"  # the 255th copy delivered (the replies keep the id here)
    assert dead.extensions["knativebrokerttl"] == 1 and "knativearrivaltime" in dead.extensions
    assert dead.extensions["knativeerrorcode"] == 400
    assert dead.extensions["knativeerrordest"] == "http://in/ns/b"
    assert transport.urls()[-1] == "http://dls/"


def test_no_backoff_unless_policy_and_delay_are_both_set() -> None:
    assert Delivery(retry=3).delay_before(0).total_seconds() == 0
    assert parse_delivery({"retry": 2, "backoffDelay": "PT1S"}).delay_before(1).total_seconds() == 0


def test_a_subscribers_answer_is_judged_as_knatives_broker_filter_does() -> None:
    """filter_handler.go writeResponse: an empty 2xx is delivered, a 2xx CloudEvent is a reply,
    a 2xx with another body or an invalid event is a 502 (retried, then dead-lettered)."""
    from backup2gitops.cli.flow import delivery_result
    from backup2gitops.runtime import codec

    headers, body = codec.to_http(event("b"))
    assert delivery_result(202, {}, b"") == DeliveryResult(202)
    reply = delivery_result(200, headers, body)
    assert reply.status == 200 and reply.reply is not None and reply.reply.type == "b"
    assert delivery_result(200, {"Content-Type": "text/plain"}, b"ok").status == 502
    broken = {k: v for k, v in headers.items() if k != "ce-id"}
    assert delivery_result(200, broken, body).status == 502
    assert delivery_result(503, {}, b"down") == DeliveryResult(503, body="down")


def test_destinations_resolve_as_knatives_uri_resolver_does() -> None:
    """A ref's address, a uri alone, or a relative uri against the ref's address."""
    from backup2gitops.cli.flow import HttpTransport

    transport = HttpTransport({"fn": "http://127.0.0.1:8081/"})
    assert transport.resolve(Destination(ref="fn")) == "http://127.0.0.1:8081/"
    assert transport.resolve(Destination(ref="fn", uri="/hook")) == "http://127.0.0.1:8081/hook"
    assert transport.resolve(Destination(uri="http://x.example/e")) == "http://x.example/e"
    assert transport.resolve(Destination(ref="nobody")) is None
