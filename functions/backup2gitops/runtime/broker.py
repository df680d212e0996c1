"""The local broker: the data plane of Knative's MT channel-based Broker in one process.

It reads the same Trigger files that are applied to a cluster (``triggers/``) and does what
knative.dev/eventing (v0.50) does with them:

- every matching Trigger gets its own copy, delivered on its own thread, so a slow or failing
  subscriber delays no other (``pkg/channel/fanout/fanout_event_handler.go`` ``dispatch``: one
  goroutine per subscription);
- a subscriber is a ``ref`` (a served function) or a ``uri`` (anyone else), resolved by the
  transport (``pkg/reconciler/broker/trigger/trigger.go`` resolves ``status.subscriberUri``; an
  unresolved one is answered 404 by the filter, ``pkg/broker/filter/filter_handler.go``);
- retries, backoff and the per-attempt ``timeout`` as ``core.triggers.Delivery`` computes them
  (``pkg/kncloudevents/retries.go``); a transport error counts as a 500 with body
  ``dispatch error: ...`` (``pkg/kncloudevents/event_dispatcher.go`` ``executeRequest``);
- what still fails goes to the Trigger's dead-letter sink, else the Broker's, with the same
  retries, carrying ``knativeerrordest`` (the subscriber's URL), ``knativeerrorcode`` (its last
  status) and ``knativeerrordata`` (its response body, base64, at most 1024 characters)
  (``event_dispatcher.go`` ``dispatchExecutionInfoTransformers``,
  ``pkg/kncloudevents/attributes/knative_error.go``);
- a subscriber's 2xx reply that is a CloudEvent is re-enqueued and matched against every Trigger
  again (event chaining); ``max_hops`` stands for the Broker's TTL (``knativebrokerttl``).

The transport is pluggable: in-process through each function's real HTTP wrapper (``demo``) or
over HTTP to served functions (``serve``); both post ``uri:`` subscribers over HTTP.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterable
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


@dataclass(frozen=True)
class DeliveryResult:
    status: int
    reply: Event | None = None
    body: str = ""


class Transport(Protocol):
    """Resolves a Destination to a URL and posts an event there (binary mode)."""

    def resolve(self, destination: Destination) -> str | None:
        """The destination's URL; None when nothing by that name is served."""

    def send(self, url: str, event: Event, *, timeout_s: float | None) -> DeliveryResult: ...


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
        max_hops: int = 32,
        on_dead_letter: Callable[[Event], None] | None = None,
    ) -> None:
        """``delivery`` is the Broker's own ``spec.delivery``: used by Triggers that have none, and
        its dead-letter sink by Triggers that name none."""
        self.triggers = list(triggers)
        self.transport = transport
        self.delivery = delivery
        self.sleep = sleep
        self.max_hops = max_hops
        self.on_dead_letter = on_dead_letter
        self.log = BrokerLog()
        self._idle = threading.Condition()
        self._pending = 0

    def publish(self, event: Event, *, hops: int = 0) -> None:
        """The ingress: accept an event and start one delivery per matching Trigger."""
        stamped = event.model_copy(
            update={
                "extensions": {
                    **event.extensions,
                    "knativearrivaltime": now().isoformat().replace("+00:00", "Z"),
                }
            }
        )
        with self._idle:
            self.log.events.append(stamped)
        if hops > self.max_hops:
            self._dead_letter(
                stamped, None, "broker", DeliveryResult(508, body="too many reply hops")
            )
            return
        for trigger in routes(self.triggers, stamped.string_attributes()):
            with self._idle:
                self._pending += 1
            worker = threading.Thread(
                target=self._run,
                args=(trigger, stamped, hops),
                name=f"trigger-{trigger.name}",
                daemon=True,
            )
            worker.start()

    def run_until_idle(self) -> BrokerLog:
        """Wait until every delivery, and every delivery of their replies, has finished."""
        with self._idle:
            self._idle.wait_for(lambda: self._pending == 0)
        return self.log

    def _run(self, trigger: Trigger, event: Event, hops: int) -> None:
        try:
            self._dispatch(trigger, event, hops)
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def _dispatch(self, trigger: Trigger, event: Event, hops: int) -> None:
        delivery = trigger.delivery or self.delivery or Delivery()
        url = self.transport.resolve(trigger.subscriber)
        result, attempts = self._send(url, event, delivery)
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
                self.publish(result.reply, hops=hops + 1)
            return
        record.dead_lettered = True
        record.dead_letter_status = self._dead_letter(
            event, trigger, url or str(trigger.subscriber), result
        )

    def _send(
        self, url: str | None, event: Event, delivery: Delivery
    ) -> tuple[DeliveryResult, int]:
        """One delivery with its retries: (the last result, the number of attempts)."""
        timeout = delivery.timeout.total_seconds() if delivery.timeout else None
        result = DeliveryResult(404, body="subscriber not resolved")
        for retry in range(delivery.retry + 1):
            if retry:
                self.sleep(delivery.delay_before(retry - 1).total_seconds())
            if url is not None:
                try:
                    result = self.transport.send(url, event, timeout_s=timeout)
                except OSError as exc:  # refused, reset, timed out: retried
                    result = DeliveryResult(500, body=f"dispatch error: {exc}")
            if _ok(result.status) or not _retryable(result.status):
                return result, retry + 1
        return result, delivery.retry + 1

    def _dead_letter(
        self, event: Event, trigger: Trigger | None, destination: str, result: DeliveryResult
    ) -> int | None:
        dead = event.model_copy(
            update={
                "extensions": {
                    **event.extensions,
                    "knativeerrordest": destination,
                    "knativeerrorcode": result.status,
                    "knativeerrordata": error_data(result.body),
                }
            }
        )
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
        answer, _ = self._send(url, dead, delivery)
        return answer.status
