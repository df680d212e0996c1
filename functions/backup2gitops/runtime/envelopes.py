"""Typed input: each function declares the model it reads, and the runtime decodes it ONCE.

As Powertools' parser envelopes do (``EventBridgeEnvelope``, ``SqsEnvelope``: the transport's
wrapping is taken off and the payload validated into the handler's model before the handler
runs), every transport hands the runtime either an ``Event`` (a CloudEvent over HTTP, a
structured one from the EventBridge bus, a tick) or a notification payload it has already
parsed (a MinIO webhook body over HTTP, S3 records or an EventBridge ``aws.s3`` event on
Lambda: ``core.notifications.storage_received``). The function's ``Envelope`` turns that into
its input -- ``Received[BackupCompleted]`` for gitops-generator, the parsed notifications for
backup-complete, a union for health-aggregator -- and the handler never reads ``event.data``.

Where this decode fails the input will never succeed: ``InvalidInput`` naming the field
(pydantic's reason), raised before the handler runs. Over HTTP that is a 400, not retried; on
Lambda the invocation raises ``UnreadableEvent``, so the event ends in the on-failure
destination template.yaml names (the dead-letter queue) -- the same classification on both
(``runtime.invocation``).

How many times a payload is parsed, per transport (tests/functional/test_envelopes.py counts
them with a spy on the real models):

=====================================  =====================================================
MinIO webhook POST (HTTP)              once: ``storage_received``; the envelope takes the
                                       parsed notifications as they are
S3 records / EventBridge ``aws.s3``    once, the same way (``runtime.aws_lambda``)
(Lambda)
a CloudEvent (HTTP, the bus, Kafka)    once: the envelope validates ``data`` into the model
=====================================  =====================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from backup2gitops.core.errors import InvalidInput
from backup2gitops.core.events import DataT, Event, Received, parse_data
from backup2gitops.core.notifications import ObjectNotifications, notifications_from

InputT = TypeVar("InputT")

Arrival = Event | Received[ObjectNotifications]
"""What a transport hands over: an event, or a notification payload it already parsed."""


@dataclass(frozen=True)
class Envelope(Generic[InputT]):
    """How one function reads its input from what a transport delivered."""

    decode: Callable[[Event], InputT]
    """The event's data, validated into the function's model (``InvalidInput`` if it is not)."""
    notifications: Callable[[Received[ObjectNotifications]], InputT] | None = None
    """For a function that reads storage notifications: what it makes of a payload the
    transport already parsed (no second parse). None: the event is decoded like any other."""

    def read(self, arrival: Arrival) -> InputT:
        if isinstance(arrival, Event):
            return self.decode(arrival)
        if self.notifications is not None:
            return self.notifications(arrival)
        return self.decode(arrival.event)


def whole_event() -> Envelope[Any]:
    """The event itself, for a function that reads only its attributes (the default of a
    ``FunctionSpec`` that names no envelope)."""
    return Envelope(decode=_the_event)


def _the_event(event: Event) -> Event:
    return event


def data_of(function: str, event_type: str, model: type[DataT]) -> Envelope[Received[DataT]]:
    """One event type, its data validated into ``model``; any other type is refused (400)."""

    def decode(event: Event) -> Received[DataT]:
        if event.type != event_type:
            raise InvalidInput(
                "unexpected_type", f"{function} handles {event_type}, not {event.type}"
            )
        return Received(event, parse_data(event, model))

    return Envelope(decode=decode)


def _decoded_notifications(event: Event) -> Received[ObjectNotifications]:
    return Received(event, tuple(notifications_from(event.data)))


def _as_parsed(received: Received[ObjectNotifications]) -> Received[ObjectNotifications]:
    return received


NOTIFICATIONS: Envelope[Received[ObjectNotifications]] = Envelope(
    decode=_decoded_notifications, notifications=_as_parsed
)
"""Storage notifications, whatever their envelope (``core.notifications``): a payload a
transport parsed is taken as it is; a CloudEvent's data (a Knative source's, a KafkaSource's)
is parsed here."""


def arrival_event(arrival: Arrival) -> Event:
    """The event of what a transport delivered (for the span, the logs, the failure report)."""
    return arrival if isinstance(arrival, Event) else arrival.event
