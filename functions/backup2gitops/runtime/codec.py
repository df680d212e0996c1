"""CloudEvents SDK <-> ``core.events.Event``, and HTTP bodies <-> events (binary and structured)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cloudevents.conversion import to_binary
from cloudevents.exceptions import GenericException
from cloudevents.http import CloudEvent, from_http
from pydantic import ValidationError

from backup2gitops.core.errors import InvalidInput
from backup2gitops.core.events import Event

_CORE = {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema"}
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"


def is_cloudevent(headers: Mapping[str, str]) -> bool:
    lowered = {k.lower(): v for k, v in headers.items()}
    content_type = lowered.get("content-type", "")
    return "ce-specversion" in lowered or content_type.startswith("application/cloudevents+json")


def reject_batches(headers: Mapping[str, str], body: bytes) -> None:
    """Batches and JSON lists are not events: 400, never a 500 a broker would retry."""
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    if content_type.startswith(BATCH_CONTENT_TYPE):
        raise InvalidInput("batch_not_supported", "CloudEvents batch mode is not supported")
    if body.lstrip()[:1] == b"[":
        raise InvalidInput("batch_not_supported", "a JSON list is not an event; send one event")


def from_sdk(ce: CloudEvent) -> Event:
    attributes = dict(ce.get_attributes())
    fields: dict[str, Any] = {k: v for k, v in attributes.items() if k in _CORE}
    extensions = {k: str(v) for k, v in attributes.items() if k not in _CORE}
    fields["cluster"] = extensions.pop("cluster", None)
    fields["traceparent"] = extensions.pop("traceparent", None)
    fields["extensions"] = extensions
    data = ce.get_data()
    if isinstance(data, bytes | bytearray):
        try:
            data = json.loads(data) if data else None
        except ValueError as exc:
            raise InvalidInput("invalid_data", "event data is not JSON") from exc
    fields["data"] = data
    try:
        return Event.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput("invalid_event", f"{where}: {first['msg']}") from exc


def to_sdk(event: Event) -> CloudEvent:
    attributes: dict[str, Any] = {
        "specversion": event.specversion,
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "datacontenttype": event.datacontenttype or "application/json",
    }
    if event.subject:
        attributes["subject"] = event.subject
    if event.time:
        attributes["time"] = event.time.isoformat().replace("+00:00", "Z")
    if event.dataschema:
        attributes["dataschema"] = event.dataschema
    if event.cluster:
        attributes["cluster"] = event.cluster
    if event.traceparent:
        attributes["traceparent"] = event.traceparent
    attributes.update(event.extensions)
    return CloudEvent(attributes, event.data)


def parse_http(headers: Mapping[str, str], body: bytes) -> Event:
    """A binary- or structured-mode CloudEvent from an HTTP request."""
    reject_batches(headers, body)
    try:
        return from_sdk(from_http(dict(headers), body))
    except GenericException as exc:
        raise InvalidInput("invalid_cloudevent", str(exc).splitlines()[0][:300]) from exc


def to_http(event: Event) -> tuple[dict[str, str], bytes]:
    """Binary mode, ``datacontenttype`` set: what Knative's Broker re-enqueues as a reply."""
    headers, body = to_binary(to_sdk(event))
    return dict(headers), body if isinstance(body, bytes) else str(body).encode()
