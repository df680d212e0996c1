"""The local broker: Knative Eventing's Broker semantics in one process, for the CLI.

It reads the same Trigger files that are applied to a cluster (``triggers/``), delivers each
event to every matching subscriber, retries as the Trigger's ``delivery`` says (5xx, 404, 408,
409, 429 and transport errors; exponential or linear backoff), dead-letters what still fails
(with ``knativeerrordest``/``knativeerrorcode``/``knativeerrordata``), and re-enqueues a
subscriber's reply so it is matched against every Trigger again (event chaining).

The transport is pluggable: in-process through each function's real HTTP wrapper (``demo``) or
over HTTP to served functions (``serve``).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from backup2gitops.core.events import Event, now
from backup2gitops.core.triggers import RETRIED_STATUSES, Trigger, parse_trigger, routes


@dataclass(frozen=True)
class DeliveryResult:
    status: int
    reply: Event | None = None
    body: str = ""


Transport = Callable[[str, Event], DeliveryResult]
"""Deliver an event to the named subscriber (a Knative Service name)."""


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


def attributes_of(event: Event) -> dict[str, str]:
    attributes = {
        "specversion": event.specversion,
        "id": event.id,
        "source": event.source,
        "type": event.type,
    }
    for name in ("subject", "datacontenttype", "dataschema", "cluster", "traceparent"):
        value = getattr(event, name)
        if value:
            attributes[name] = str(value)
    attributes.update(event.extensions)
    return attributes


class LocalBroker:
    def __init__(
        self,
        triggers: Iterable[Trigger],
        transport: Transport,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_hops: int = 32,
        on_dead_letter: Callable[[Event], None] | None = None,
    ) -> None:
        self.triggers = list(triggers)
        self.transport = transport
        self.sleep = sleep
        self.max_hops = max_hops
        self.on_dead_letter = on_dead_letter
        self.log = BrokerLog()
        self._queue: collections.deque[tuple[Event, int]] = collections.deque()
        self._lock = threading.Lock()
        self._wakeup = threading.Event()

    def publish(self, event: Event, *, hops: int = 0) -> None:
        """The ingress: accept an event (a reply counts one more hop)."""
        stamped = event.model_copy(
            update={
                "extensions": {
                    **event.extensions,
                    "knativearrivaltime": now().isoformat().replace("+00:00", "Z"),
                }
            }
        )
        with self._lock:
            self._queue.append((stamped, hops))
            self.log.events.append(stamped)
        self._wakeup.set()

    def _next(self) -> tuple[Event, int] | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def run_until_idle(self) -> BrokerLog:
        """Deliver until no event is left (what ``demo`` uses)."""
        while (item := self._next()) is not None:
            self._dispatch(*item)
        return self.log

    def run_forever(self, stop: threading.Event) -> None:
        """Deliver as events arrive (what ``serve`` uses, on a background thread)."""
        while not stop.is_set():
            self.run_until_idle()
            self._wakeup.wait(0.2)
            self._wakeup.clear()

    def _dispatch(self, event: Event, hops: int) -> None:
        if hops > self.max_hops:
            self._dead_letter(event, None, DeliveryResult(508, body="too many reply hops"))
            return
        for trigger in routes(self.triggers, attributes_of(event)):
            result, attempts = self._deliver(trigger, event)
            record = DeliveryRecord(
                trigger=trigger.name,
                subscriber=trigger.subscriber,
                event_id=event.id,
                event_type=event.type,
                attempts=attempts,
                status=result.status,
                reply_type=result.reply.type if result.reply else None,
            )
            self.log.deliveries.append(record)
            if 200 <= result.status < 300:
                if result.reply is not None:
                    self.publish(result.reply, hops=hops + 1)
            else:
                record.dead_lettered = True
                self._dead_letter(event, trigger, result)

    def _deliver(self, trigger: Trigger, event: Event) -> tuple[DeliveryResult, int]:
        attempt = 0
        while True:
            try:
                result = self.transport(trigger.subscriber, event)
            except OSError as exc:  # connection refused, timeout: Knative retries these
                result = DeliveryResult(502, body=f"{type(exc).__name__}: {exc}")
            retryable = result.status >= 500 or result.status in RETRIED_STATUSES
            if 200 <= result.status < 300 or not retryable or attempt >= trigger.delivery.retry:
                return result, attempt + 1
            attempt += 1
            self.sleep(trigger.delivery.delay_before(attempt).total_seconds())

    def _dead_letter(self, event: Event, trigger: Trigger | None, result: DeliveryResult) -> None:
        extensions = {
            **event.extensions,
            "knativeerrordest": trigger.subscriber if trigger else "broker",
            "knativeerrorcode": str(result.status),
            "knativeerrordata": result.body[:1024],
        }
        dead = event.model_copy(update={"extensions": extensions})
        with self._lock:
            self.log.dead_letters.append(dead)
        if self.on_dead_letter is not None:
            self.on_dead_letter(dead)
