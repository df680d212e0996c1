"""Lambda events <-> ``Event``: what each event Lambda delivers stands for, and a reply as the
structured CloudEvent an EventBridge entry carries (``runtime.aws_lambda`` serves with these).

Lambda event -> ``Event``:

==================================================  ============================================
S3 notification ``{"Records": [{"eventSource":      type ``io.backup2gitops.storage.object``, data =
"aws:s3", ...}]}``                                  the payload, id derived from it, source
                                                    ``aws:s3``
EventBridge, ``source: aws.s3`` (Object Created,    the same type, data = the whole EventBridge
Object Deleted, ...)                                event, id = its id, source ``aws.s3``
EventBridge from our bus: ``detail-type`` is one    ``detail`` read as a structured-mode
of our types (``io.backup2gitops.*``)               CloudEvent (the mapping below, reversed)
EventBridge ``detail-type: Scheduled Event``        ``dev.knative.sources.ping`` (as a PingSource
                                                    would send), data = ``detail``
EventBridge Scheduler (universal target) input:     a JSON object with ``specversion`` is read as
                                                    a structured CloudEvent; any other JSON object
                                                    (template.yaml's ``{"reason": "scheduled",
                                                    "cluster": ...}``, ``{}``) is a tick:
                                                    ``dev.knative.sources.ping``, data = the object
==================================================  ============================================

An event this cannot read (not a JSON object, a malformed S3 notification, an EventBridge event
from a source it does not know) raises ``InvalidInput``: ``runtime.aws_lambda`` raises it again
as ``UnreadableEvent``, so Lambda retries and then keeps it. A notification is parsed here once
(``storage_received``) and handed to the function's envelope as it is.

Reply ``Event`` -> PutEvents entry (and back, above): ``Source`` = the event's ``source``,
``DetailType`` = its ``type``, ``Time`` = its ``time``, ``Detail`` = the whole CloudEvent in
structured mode (every attribute, extensions such as ``cluster`` and ``traceparent`` included,
and ``data``). A rule filters on ``detail-type`` for the type and ``detail.cluster`` for the
cluster; a consumer reads ``detail.data``. Nothing is lost on the way, so a reply re-read from
the bus is the same ``Event``.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from backup2gitops.core.errors import InvalidInput
from backup2gitops.core.events import PING, TYPE_PREFIX, Event
from backup2gitops.core.notifications import storage_received
from backup2gitops.runtime import codec
from backup2gitops.runtime.envelopes import Arrival, arrival_event

if TYPE_CHECKING:  # Powertools (and the botocore it loads) only on Lambda, at the first event
    from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

__all__ = [
    "SCHEDULED_EVENT",
    "SCHEDULER_SOURCE",
    "arrival_from_lambda",
    "event_from_lambda",
    "from_structured",
    "structured",
]

SCHEDULED_EVENT = "Scheduled Event"
SCHEDULER_SOURCE = "aws.scheduler"


def event_from_lambda(raw: Any) -> Event:
    """The ``Event`` a Lambda event stands for (the table in the module docstring)."""
    return arrival_event(arrival_from_lambda(raw))


def arrival_from_lambda(raw: Any) -> Arrival:
    """What a Lambda event stands for: an ``Event``, or a notification payload parsed once
    (``core.notifications.storage_received``; the envelope takes it as it is)."""
    if not isinstance(raw, dict):
        raise InvalidInput(
            "unknown_lambda_event", f"expected a JSON object, got {type(raw).__name__}"
        )
    if "Records" in raw:
        return storage_received(raw, source="aws:s3")
    if "detail-type" in raw:
        from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

        return _from_eventbridge(EventBridgeEvent(raw))
    if "specversion" in raw:
        return from_structured(raw)
    # EventBridge Scheduler's input (template.yaml: {"reason": "scheduled", "cluster": ...}):
    # a tick whose fields are its data, as a PingSource's data is its spec's.
    return Event(id=str(uuid.uuid4()), source=SCHEDULER_SOURCE, type=PING, data=raw)


def _from_eventbridge(bridge: EventBridgeEvent) -> Arrival:
    if bridge.source == "aws.s3":
        wrapped = storage_received(bridge.raw_event, source="aws.s3")
        event = wrapped.event.model_copy(update={"id": bridge.get_id, "time": bridge.time})
        return replace(wrapped, event=event)
    if bridge.detail_type.startswith(TYPE_PREFIX):
        return from_structured(bridge.detail)
    if bridge.detail_type == SCHEDULED_EVENT:
        source = bridge.resources[0] if bridge.resources else bridge.source
        return Event(
            id=bridge.get_id, source=source, type=PING, time=bridge.time, data=bridge.detail
        )
    raise InvalidInput(
        "unknown_lambda_event",
        f"EventBridge event {bridge.detail_type!r} from {bridge.source!r} is not one this reads",
    )


def structured(event: Event) -> dict[str, Any]:
    """The CloudEvent in structured mode, as a JSON object: attributes and ``data``."""
    ce = codec.to_sdk(event)
    return {**ce.get_attributes(), "data": ce.get_data()}


def from_structured(document: Any) -> Event:
    if not isinstance(document, dict) or "specversion" not in document:
        raise InvalidInput("invalid_cloudevent", "expected a structured CloudEvent (specversion)")
    return codec.from_json_format(document)  # the CloudEvents JSON format, as over HTTP
