"""The local broker: the data plane of Knative's MT channel-based Broker in one process.

It reads the same Trigger files that are applied to a cluster (``triggers/``) and does what
knative.dev/eventing (v0.50) does with them:

- every matching Trigger gets its own copy, delivered on its own thread, so a slow or failing
  subscriber delays no other (``pkg/channel/fanout/fanout_event_handler.go`` ``dispatch``: one
  goroutine per subscription);
- a subscriber is a ``ref`` (a served function) or a ``uri`` (anyone else), resolved by the
  transport. A Trigger whose subscriber does not resolve is not Ready on Knative and has no
  Subscription: its events are skipped, silently (measured; recorded here with status 0, and
  ``serve`` refuses to start with such a Trigger);
- the ingress stamps ``knativearrivaltime`` (RFC 3339, nanoseconds) on every arrival and manages
  ``knativebrokerttl`` (``pkg/broker/ttl.go``: 255 when absent, else one less); an event whose
  TTL is spent is answered 400 (``pkg/broker/ingress/ingress_handler.go``);
- a subscriber gets each copy in binary mode without ``knativebrokerttl``, with the headers
  ``Prefer: reply`` and ``Kn-Namespace`` (``pkg/broker/filter/filter_handler.go``,
  ``pkg/kncloudevents/event_dispatcher.go``);
- retries, backoff and the per-attempt ``timeout`` as ``core.triggers.Delivery`` computes them
  (``pkg/kncloudevents/retries.go``); a transport error (refused, reset, timed out) counts as a
  500 and is retried;
- what still fails goes to the Trigger's dead-letter sink, else the Broker's, with the same
  retries, still carrying ``knativebrokerttl`` and, when the subscriber answered,
  ``knativeerrordest`` (the subscriber's URL), ``knativeerrorcode`` (its last status) and
  ``knativeerrordata`` (its response body, base64, at most 1024 characters)
  (``event_dispatcher.go`` ``dispatchExecutionInfoTransformers``). When it did not answer (a
  transport error or a timeout: the filter answers 500 with no body, or nothing) or answered
  something that is not a reply (a 2xx with a body that is no CloudEvent: 502), the copy has no
  ``knativeerror*`` attributes -- Knative's filter only reports a subscriber's own answer;
- a subscriber's 2xx reply that is a CloudEvent is posted to the ingress again (event
  chaining) with the TTL of the event it answers; when the ingress refuses a reply (the TTL spent
  after 255 hops of a loop) the copy that was answered is dead-lettered, with
  ``knativeerrorcode`` 400 and the ingress as ``knativeerrordest``;
- dead letters are posted with ``Kn-Namespace`` and without ``Prefer``.

``tests/e2e/knative/test_delivery_differential.py`` runs one set of delivery scenarios against
this broker and Knative's own (v0.50.0) and compares what the subscribers received; the
remaining differences are in ``knative/README.md`` ("The local broker and the real one").

The transport is pluggable: in-process through each function's real HTTP wrapper (``demo``) or
over HTTP to served functions (``serve``); both post ``uri:`` subscribers over HTTP.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

from backup2gitops.core.events import Event, now
from backup2gitops.core.triggers import (
    RETRIED_STATUSES,
    Delivery,
    Destination,
    Trigger,
    parse_trigger,
    routes,
)

ERROR_DATA_MAX = 1024  # knative_error.go: KnativeErrorDataExtensionMaxLength
DEFAULT_TTL = 255  # pkg/broker/ingress: the Broker's MaxTTL default
TTL = "knativebrokerttl"
ARRIVAL = "knativearrivaltime"


@dataclass(frozen=True)
class DeliveryResult:
    status: int
    reply: Event | None = None
    body: str = ""
    answered: bool = True
    """False when the status is the broker's own (a transport error, a timeout, a 2xx whose
    body is no CloudEvent): its dead letter carries no ``knativeerror*`` attributes."""


class Transport(Protocol):
    """Resolves a Destination to a URL and posts an event there (binary mode)."""

    def resolve(self, destination: Destination) -> str | None:
        """The destination's URL; None when nothing by that name is served."""

    def send(
        self,
        url: str,
        event: Event,
        *,
        timeout_s: float | None,
        headers: Mapping[str, str] | None = None,
    ) -> DeliveryResult:
        """Post ``event`` to ``url`` in binary mode, with ``headers`` besides its own."""


@dataclass
class DeliveryRecord:
    trigger: str
    subscriber: str
    event_id: str
    event_type: str
    attempts: int
    status: int
    reply_type: str | None = None
    dead_lettered: bool = False
    dead_letter_status: int | None = None
    """The dead-letter sink's answer; None when no sink was resolved."""


@dataclass
class BrokerLog:
    deliveries: list[DeliveryRecord] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    dead_letters: list[Event] = field(default_factory=list)


def load_triggers(directory: Path, *, broker: str | None = None) -> list[Trigger]:
    triggers = []
    for path in sorted(directory.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "Trigger":
                trigger = parse_trigger(doc)
                if broker is None or trigger.broker == broker:
                    triggers.append(trigger)
    return triggers


def error_data(body: str) -> str:
    """``knativeerrordata``: the response body, base64, cut to 1024 characters."""
    return base64.b64encode(body.encode()).decode()[:ERROR_DATA_MAX]


def arrival_time() -> str:
    """``knativearrivaltime`` as Go formats a ``cloudevents.Timestamp`` (RFC 3339 with up to nine
    fraction digits, trailing zeros dropped); Python's clock has microseconds."""
    stamp = now()
    fraction = f"{stamp.microsecond:06d}000".rstrip("0")
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def _ttl_of(event: Event) -> int | None:
    value = event.extensions.get(TTL)
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def _without(event: Event, *names: str) -> Event:
    return event.model_copy(
        update={"extensions": {k: v for k, v in event.extensions.items() if k not in names}}
    )


def _ok(status: int) -> bool:
    return 200 <= status < 300


def _retryable(status: int) -> bool:
    return status >= 500 or status in RETRIED_STATUSES


class LocalBroker:
    def __init__(
        self,
        triggers: Iterable[Trigger],
        transport: Transport,
        *,
        delivery: Delivery | None = None,
        sleep: Callable[[float], None] = time.sleep,
        ttl: int = DEFAULT_TTL,
        on_dead_letter: Callable[[Event], None] | None = None,
        namespace: str = "backup2gitops",
        ingress_url: str | None = None,
    ) -> None:
        """``delivery`` is the Broker's own ``spec.delivery``: used by Triggers that have none, and
        its dead-letter sink by Triggers that name none. ``ttl`` is the hops an event may make
        (knativebrokerttl's default); ``namespace`` the Triggers' (``Kn-Namespace``);
        ``ingress_url`` the Broker's address (``knativeerrordest`` of a refused reply)."""
        self.triggers = list(triggers)
        self.transport = transport
        self.delivery = delivery
        self.sleep = sleep
        self.ttl = ttl
        self.namespace = namespace
        broker = self.triggers[0].broker if self.triggers else "default"
        self.ingress_url = ingress_url or (
            f"http://broker-ingress.knative-eventing.svc.cluster.local/{namespace}/{broker}"
        )
        self.on_dead_letter = on_dead_letter
        self.log = BrokerLog()
        self._idle = threading.Condition()
        self._pending = 0

    def publish(self, event: Event) -> None:
        """A SinkBinding's publish (``K_SINK``): what the ingress answers is not looked at."""
        self.ingress(event)

    def ingress(self, event: Event) -> int:
        """The ingress: accept an event and start one delivery per matching Trigger; the status
        the ingress answers (202, or 400 when the event's TTL is spent)."""
        ttl = _ttl_of(event)
        ttl = self.ttl if ttl is None else max(ttl - 1, 0)
        stamped = event.model_copy(
            update={"extensions": {**event.extensions, ARRIVAL: arrival_time(), TTL: ttl}}
        )
        if ttl <= 0:
            return 400
        with self._idle:
            self.log.events.append(stamped)
        for trigger in routes(self.triggers, _without(stamped, TTL).string_attributes()):
            with self._idle:
                self._pending += 1
            worker = threading.Thread(
                target=self._run,
                args=(trigger, stamped),
                name=f"trigger-{trigger.name}",
                daemon=True,
            )
            worker.start()
        return 202

    def unresolved(self) -> list[str]:
        """The Triggers whose subscriber resolves to nothing, as ``name -> subscriber``. Knative
        leaves such a Trigger not Ready and skips its events without a trace (no 404, no retry,
        no dead letter, and the producer gets 202): catch it before any event is sent."""
        return [
            f"{t.name} -> {t.subscriber}"
            for t in self.triggers
            if self.transport.resolve(t.subscriber) is None
        ]

    def run_until_idle(self) -> BrokerLog:
        """Wait until every delivery, and every delivery of their replies, has finished."""
        with self._idle:
            self._idle.wait_for(lambda: self._pending == 0)
        return self.log

    def _run(self, trigger: Trigger, event: Event) -> None:
        try:
            self._dispatch(trigger, event)
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def _dispatch(self, trigger: Trigger, event: Event) -> None:
        delivery = trigger.delivery or self.delivery or Delivery()
        url = self.transport.resolve(trigger.subscriber)
        if url is None:  # not Ready on Knative: no Subscription, the event is skipped
            with self._idle:
                self.log.deliveries.append(
                    DeliveryRecord(
                        trigger.name, str(trigger.subscriber), event.id, event.type, 0, 0
                    )
                )
            return
        headers = {"Prefer": "reply", "Kn-Namespace": self.namespace}
        result, attempts = self._send(url, _without(event, TTL), delivery, headers=headers)
        record = DeliveryRecord(
            trigger=trigger.name,
            subscriber=str(trigger.subscriber),
            event_id=event.id,
            event_type=event.type,
            attempts=attempts,
            status=result.status,
            reply_type=result.reply.type if result.reply else None,
        )
        with self._idle:
            self.log.deliveries.append(record)
        if _ok(result.status):
            if result.reply is not None:
                # the filter gives the reply the TTL of the event it answers; the ingress counts
                reply = result.reply.model_copy(
                    update={"extensions": {**result.reply.extensions, TTL: _ttl_of(event)}}
                )
                status = self.ingress(reply)
                if not _ok(status):  # the copy delivered is dead-lettered, not its reply
                    refused = DeliveryResult(status)
                    record.dead_lettered = True
                    record.dead_letter_status = self._dead_letter(
                        event, trigger, self.ingress_url, refused
                    )
            return
        record.dead_lettered = True
        record.dead_letter_status = self._dead_letter(event, trigger, url, result)

    def _send(
        self,
        url: str,
        event: Event,
        delivery: Delivery,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[DeliveryResult, int]:
        """One delivery with its retries: (the last result, the number of attempts)."""
        timeout = delivery.timeout.total_seconds() if delivery.timeout else None
        result = DeliveryResult(500, answered=False)
        for retry in range(delivery.retry + 1):
            if retry:
                self.sleep(delivery.delay_before(retry - 1).total_seconds())
            try:
                result = self.transport.send(url, event, timeout_s=timeout, headers=headers)
            except OSError as exc:  # refused, reset, timed out: retried
                result = DeliveryResult(500, body=f"dispatch error: {exc}", answered=False)
            if _ok(result.status) or not _retryable(result.status):
                return result, retry + 1
        return result, delivery.retry + 1

    def _dead_letter(
        self, event: Event, trigger: Trigger | None, destination: str, result: DeliveryResult
    ) -> int | None:
        errors: dict[str, str | int] = {}
        if result.answered:
            errors = {
                "knativeerrordest": destination,
                "knativeerrorcode": result.status,
                "knativeerrordata": error_data(result.body),
            }
        dead = event.model_copy(update={"extensions": {**event.extensions, **errors}})
        with self._idle:
            self.log.dead_letters.append(dead)
        if self.on_dead_letter is not None:
            self.on_dead_letter(dead)
        own = trigger.delivery if trigger is not None else None
        delivery = own or self.delivery or Delivery()
        sink = own.dead_letter if own is not None and own.dead_letter else None
        sink = sink or (self.delivery.dead_letter if self.delivery else None)
        url = self.transport.resolve(sink) if sink is not None else None
        if url is None:
            return None
        answer, _ = self._send(url, dead, delivery, headers={"Kn-Namespace": self.namespace})
        return answer.status
