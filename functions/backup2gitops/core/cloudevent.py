"""The CloudEvent envelope: ``Event`` (a CloudEvent 1.0 with this project's extensions), what is
derived from it (canonical attribute strings, replies carrying the trace context, stable ids),
the JSON Schema of an event on the wire, and ``Received[T]``, an event as a handler gets it.

Pure: no I/O and no CloudEvents SDK (the runtime converts to and from the SDK's objects). The
event types and their data models are the catalog's (``core.events``, ``core.event_data``).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from backup2gitops.core import bucket_layout, tracecontext

_STRING_ATTRIBUTES = (
    "subject",
    "datacontenttype",
    "dataschema",
    "cluster",
    "traceparent",
    "tracestate",
)
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


ExtensionValue = str | bool | int
"""An extension attribute's value: CloudEvents' String, Boolean or Integer (spec.md, Type System);
a binary-mode HTTP header always carries the String form, a structured-mode JSON body the typed one."""


def now() -> datetime:
    return datetime.now(UTC)


def canonical_string(value: ExtensionValue) -> str:
    """An attribute value's canonical string (spec.md, Type System): ``true``/``false``, decimal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Event(BaseModel):
    """A CloudEvent 1.0 with the extensions this project uses (``cluster``, and ``traceparent``
    / ``tracestate`` of the distributed-tracing extension)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    subject: str | None = None
    time: datetime | None = None
    datacontenttype: str | None = "application/json"
    dataschema: str | None = None
    data: Any = None
    cluster: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None
    extensions: dict[str, ExtensionValue] = Field(default_factory=dict)

    @field_validator("traceparent")
    @classmethod
    def _valid_traceparent(cls, value: str | None) -> str | None:
        # An invalid traceparent is dropped rather than failing the event: tracing is best effort.
        return value if tracecontext.parse_traceparent(value) is not None else None

    @field_validator("tracestate")
    @classmethod
    def _valid_tracestate(cls, value: str | None) -> str | None:
        return tracecontext.parse_tracestate(value)

    @field_validator("cluster")
    @classmethod
    def _valid_cluster(cls, value: str | None) -> str | None:
        # It is copied into replies (a header in binary mode) and read as a cluster name.
        return value if value is None else bucket_layout.validate_cluster(value)

    def string_attributes(self) -> dict[str, str]:
        """Every context attribute in its canonical string form (what Trigger filters compare)."""
        attributes = {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type,
        }
        if self.time is not None:
            attributes["time"] = self.time.isoformat().replace("+00:00", "Z")
        for name in _STRING_ATTRIBUTES:
            value = getattr(self, name)
            if value:
                attributes[name] = str(value)
        attributes.update({k: canonical_string(v) for k, v in self.extensions.items()})
        return attributes

    @property
    def trace_id(self) -> str | None:
        return self.traceparent.split("-")[1] if self.traceparent else None

    @property
    def trace_context(self) -> tracecontext.SpanContext | None:
        """The distributed-tracing extension, parsed (None when absent)."""
        return tracecontext.parse_traceparent(self.traceparent, self.tracestate)

    def traced(self, context: tracecontext.SpanContext | None) -> Event:
        """This event as seen inside a function's span: its trace context is the span's, so
        every event built from it with ``reply`` names that span as its parent."""
        if context is None:
            return self
        return self.model_copy(
            update={"traceparent": context.traceparent, "tracestate": context.tracestate}
        )

    def reply(
        self,
        *,
        type: str,
        source: str,
        data: BaseModel,
        subject: str | None = None,
        cluster: str | None = None,
        id: str | None = None,
    ) -> Event:
        """A follow-up event that carries this one's trace context (and cluster, unless given).

        Handlers are given the event ``traced`` by the runtime, so that context is the handling
        function's own span, not the producer's."""
        return Event(
            id=id or str(uuid.uuid4()),
            source=source,
            type=type,
            subject=subject,
            time=now(),
            data=data.model_dump(mode="json"),
            cluster=cluster if cluster is not None else self.cluster,
            traceparent=self.traceparent,
            tracestate=self.tracestate,
        )


def stable_event_id(*parts: str) -> str:
    """An event id derived from what the event is about, so a redelivery yields the same id."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return str(uuid.UUID(digest[:32]))


def function_source(function: str) -> str:
    return f"/backup2gitops/{function}"


def envelope_schema() -> dict[str, Any]:
    """The JSON Schema of an event on the wire, in the CloudEvents JSON format (structured mode;
    a binary-mode event maps to the same attributes): the spec's context attributes, extension
    attributes of any conforming name (``knativearrivaltime``, ``knativeerror*``, a sender's own),
    ``data`` or ``data_base64``. Each type's ``data`` has its own schema, ``<type>.json``.

    Sources: cloudevents spec.md (Context Attributes, Type System, Attribute Naming Convention),
    formats/json-format.md (2.2 type mapping, 3.1 data and data_base64)."""
    string = {"type": "string", "minLength": 1}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://backup2gitops.io/schemas/cloudevent.json",
        "title": "CloudEvent (JSON format) as backup2gitops sends and receives it",
        "type": "object",
        "required": ["specversion", "id", "source", "type"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": string,
            "source": {**string, "format": "uri-reference"},
            "type": string,
            "subject": string,
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": string,
            "dataschema": {"type": "string", "format": "uri"},
            "data": {},
            "data_base64": {"type": "string", "contentEncoding": "base64"},
            "cluster": {
                **string,
                "description": "extension: the cluster an event is about (Triggers filter on it)",
            },
            "traceparent": {
                "type": "string",
                "pattern": _TRACEPARENT.pattern,
                "description": "extension: W3C trace context (distributed-tracing extension)",
            },
            "tracestate": {
                **string,
                "description": "extension: W3C tracestate (distributed-tracing extension)",
            },
        },
        "propertyNames": {"pattern": "^([a-z0-9]+|data_base64)$"},
        "additionalProperties": {
            "type": ["string", "boolean", "integer"],
            "description": "an extension attribute (spec.md, Type System: String, Boolean, Integer)",
        },
        "not": {"required": ["data", "data_base64"]},
    }


InputT = TypeVar("InputT")


@dataclass(frozen=True)
class Received(Generic[InputT]):
    """An event as a handler receives it: the envelope's attributes (id, type, time, trace
    context, cluster: what a reply is built from) and its data decoded ONCE, by the runtime,
    into the model the function declares (``runtime.envelopes``). ``event.data`` is the payload
    as it came, kept for the failure report; no handler reads it."""

    event: Event
    data: InputT

    def traced(self, context: tracecontext.SpanContext | None) -> Received[InputT]:
        """The same, the event seen inside the function's span (``Event.traced``)."""
        return replace(self, event=self.event.traced(context))
