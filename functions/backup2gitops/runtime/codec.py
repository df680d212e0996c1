"""HTTP bodies <-> ``core.cloudevent.Event`` by the CloudEvents HTTP protocol binding, and the SDK.

The receiver side follows the spec's ``cloudevents/bindings/http-protocol-binding.md`` (1.0.x)
and ``cloudevents/formats/json-format.md`` rule by rule (tests/functional/test_http_binding.py
has one test per rule, naming its section):

- the content mode comes from ``Content-Type``, a media type and so matched case-insensitively
  (RFC 7231 3.1.1.1): ``application/cloudevents-batch`` is batched mode (refused here),
  ``application/cloudevents+json`` structured mode, anything else binary mode (section 3);
- binary mode: ``Content-Type`` is ``datacontenttype`` (3.1.1), the body is ``data`` whatever its
  shape -- a JSON array is data, not a batch (3.1.2); every other attribute is a ``ce-`` header
  (3.1.3.1) whose value is unquoted, then percent-decoded once, as UTF-8 (3.1.3.2);
- structured mode: ``data`` or ``data_base64`` (json-format 3.1); extensions keep their JSON type
  (Boolean, Integer, String: json-format 2.2);
- a missing or invalid required attribute (``specversion``, ``id``, ``source``, ``type``) is a
  400 that names it.

``from_json_format`` also reads the structured events the Lambda runtime receives; ``to_sdk``
serves its replies.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import ValidationError

from backup2gitops.core.cloudevent import Event, ExtensionValue, canonical_string
from backup2gitops.core.errors import InvalidInput

if TYPE_CHECKING:  # the SDK is loaded with the first Lambda reply (``to_sdk``), not at import
    from cloudevents.http import CloudEvent

_CORE = {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema"}
REQUIRED = ("specversion", "id", "source", "type")
STRUCTURED_PREFIX = "application/cloudevents"
JSON_FORMAT = "application/cloudevents+json"
BATCH_PREFIX = "application/cloudevents-batch"
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"
ATTRIBUTE_NAME = re.compile(r"^[a-z0-9]+$")  # spec.md, Attribute Naming Convention
_QUOTED_PAIR = re.compile(r"\\(.)")
_PERCENT = re.compile(rb"%([0-9A-Fa-f]{2})")
# section 3.1.3.2: space, double-quote, percent and anything outside U+0021..U+007E
_HEADER_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"%')


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type value: lower-cased, without parameters."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def is_cloudevent(headers: Mapping[str, str]) -> bool:
    """A CloudEvent in any mode: a ``ce-specversion`` header or a CloudEvents media type."""
    lowered = _lowered(headers)
    return "ce-specversion" in lowered or media_type(lowered.get("content-type")).startswith(
        STRUCTURED_PREFIX
    )


def reject_batches(headers: Mapping[str, str], body: bytes) -> None:
    """For a body that is not a CloudEvent: batch mode and JSON lists are not events (400)."""
    if media_type(_lowered(headers).get("content-type")).startswith(BATCH_PREFIX):
        raise InvalidInput("batch_not_supported", "CloudEvents batch mode is not supported")
    if body.lstrip()[:1] == b"[":
        raise InvalidInput("batch_not_supported", "a JSON list is not an event; send one event")


def is_json(content_type: str | None) -> bool:
    """``application/json``, ``text/json`` or a ``+json`` suffix (json-format.md 3.1)."""
    media = media_type(content_type)
    return media in ("application/json", "text/json") or media.endswith("+json")


def decode_header_value(name: str, raw: str) -> str:
    """Section 3.1.3.2: unescape a double-quoted string, then one round of percent-decoding,
    rejecting byte sequences that are not UTF-8."""
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = _QUOTED_PAIR.sub(r"\1", value[1:-1])
    try:  # WSGI servers and HTTP clients hand header values over as Latin-1 text
        raw_octets = value.encode("latin-1")
    except UnicodeEncodeError:
        raw_octets = value.encode("utf-8")
    octets = _PERCENT.sub(lambda m: bytes([int(m.group(1), 16)]), raw_octets)
    try:
        return octets.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "invalid_cloudevent", f"header {name}: percent-encoded bytes are not UTF-8"
        ) from exc


def encode_header_value(value: ExtensionValue) -> str:
    """Section 3.1.3.2: the canonical string, percent-encoded (upper-case hex)."""
    return quote(canonical_string(value), safe=_HEADER_SAFE)


def charset(content_type: str | None) -> str:
    """The ``charset`` parameter of a Content-Type value (default UTF-8)."""
    found = re.search(r"charset=\"?([\w.-]+)", content_type or "", re.IGNORECASE)
    return found.group(1) if found else "utf-8"


def _binary_data(content_type: str | None, body: bytes) -> Any:
    """The body as ``data``: JSON when the media type says JSON (or none is given and it parses),
    text for ``text/*``, bytes otherwise (section 3.1.2: any shape of data)."""
    if not body:
        return None
    if content_type is None or is_json(content_type):
        try:
            return json.loads(body)
        except ValueError as exc:
            if content_type is None:
                return body
            raise InvalidInput("invalid_data", f"data is not the JSON {content_type} says") from exc
    if media_type(content_type).startswith("text/"):
        try:
            return body.decode(charset(content_type))
        except (LookupError, UnicodeDecodeError) as exc:
            raise InvalidInput("invalid_data", f"data is not {content_type} text") from exc
    return body


def _event(attributes: Mapping[str, Any], data: Any, *, via: str) -> Event:
    """Attributes (decoded) + data -> Event; ``via`` says how a missing attribute is named."""
    for name in REQUIRED:
        if attributes.get(name) in (None, ""):
            where = f"header ce-{name}" if via == "binary" else f"member {name!r}"
            raise InvalidInput("invalid_cloudevent", f"missing required attribute {name} ({where})")
    if attributes["specversion"] != "1.0":
        raise InvalidInput(
            "invalid_cloudevent", f"specversion {attributes['specversion']!r} is not 1.0"
        )
    extensions: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    for name, value in attributes.items():
        if not ATTRIBUTE_NAME.match(name):
            raise InvalidInput("invalid_cloudevent", f"invalid attribute name {name!r}")
        (fields if name in _CORE else extensions)[name] = value
    if isinstance(fields.get("time"), str):
        try:
            fields["time"] = datetime.fromisoformat(fields["time"].replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidInput("invalid_cloudevent", "attribute time is not RFC 3339") from exc
    for name in ("cluster", "traceparent", "tracestate"):
        if name in extensions:
            fields[name] = canonical_string(extensions.pop(name))
    fields["extensions"] = extensions
    fields["data"] = data
    try:
        return Event.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput("invalid_cloudevent", f"attribute {where}: {first['msg']}") from exc


def from_binary(headers: Mapping[str, str], body: bytes) -> Event:
    lowered = _lowered(headers)
    if "ce-datacontenttype" in lowered:  # 3.1.1: MUST NOT be present
        raise InvalidInput(
            "invalid_cloudevent", "header ce-datacontenttype: binary mode uses Content-Type"
        )
    attributes: dict[str, Any] = {
        name[3:]: decode_header_value(name, value)
        for name, value in lowered.items()
        if name.startswith("ce-")
    }
    content_type = lowered.get("content-type")
    if content_type:
        attributes["datacontenttype"] = content_type
    return _event(attributes, _binary_data(content_type, body), via="binary")


def from_json_format(document: Any) -> Event:
    """A structured-mode event (json-format.md): attributes, ``data`` or ``data_base64``."""
    if not isinstance(document, dict):
        raise InvalidInput("invalid_cloudevent", "a structured CloudEvent is a JSON object")
    if "data" in document and "data_base64" in document:
        raise InvalidInput("invalid_cloudevent", "data and data_base64 are exclusive")
    data = document.get("data")
    if "data_base64" in document:
        try:
            data = base64.b64decode(str(document["data_base64"]), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidInput("invalid_cloudevent", "data_base64 is not base64") from exc
    attributes = {
        k: v for k, v in document.items() if k not in ("data", "data_base64") and v is not None
    }
    for name, value in attributes.items():
        if isinstance(value, float | list | dict):
            raise InvalidInput(
                "invalid_cloudevent", f"attribute {name}: not a CloudEvents attribute type"
            )
    return _event(attributes, data, via="structured")


def parse_http(headers: Mapping[str, str], body: bytes) -> Event:
    """A binary- or structured-mode CloudEvent from an HTTP request (batched mode is refused)."""
    media = media_type(_lowered(headers).get("content-type"))
    if media.startswith(BATCH_PREFIX):
        raise InvalidInput("batch_not_supported", "CloudEvents batch mode is not supported")
    if media.startswith(STRUCTURED_PREFIX):
        if media != JSON_FORMAT:
            raise InvalidInput("unsupported_event_format", f"event format {media} is not JSON")
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise InvalidInput("invalid_cloudevent", "the structured event is not JSON") from exc
        return from_json_format(document)
    return from_binary(headers, body)


def _body(event: Event) -> bytes:
    if event.data is None:
        return b""
    if isinstance(event.data, bytes):
        return event.data
    if isinstance(event.data, str) and not is_json(event.datacontenttype):
        return event.data.encode(charset(event.datacontenttype))
    return json.dumps(event.data).encode()


def to_http(event: Event) -> tuple[dict[str, str], bytes]:
    """Binary mode, ``datacontenttype`` set: what Knative's Broker re-enqueues as a reply."""
    headers = {"Content-Type": event.datacontenttype or "application/json"}
    for name, value in event.string_attributes().items():
        if name != "datacontenttype":
            headers[f"ce-{name}"] = encode_header_value(value)
    return headers, _body(event)


def to_sdk(event: Event) -> CloudEvent:
    from cloudevents.http import CloudEvent

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
    if event.tracestate:
        attributes["tracestate"] = event.tracestate
    attributes.update(event.extensions)
    return CloudEvent(attributes, event.data)
