"""W3C Trace Context: which parent a function's span has, and what its events carry.

Pure: no I/O and no OpenTelemetry; ``runtime.tracing`` turns these values into SDK spans when
exporting is enabled. Sources: W3C Trace Context Level 1 (``traceparent`` section 3.2,
``tracestate`` section 3.3) and the CloudEvents distributed-tracing extension
(``extensions/distributed-tracing.md``), which carries the context of the event's *creation*,
while the HTTP ``traceparent`` header carries the context of one transport hop.

The parent of a function's span (``choose_parent``):

1. the event's ``traceparent`` extension, when valid: the producer's own span (our functions
   put theirs there), so the trace follows the events through a Broker or EventBridge even when
   the transport is not traced;
2. else the plain ``traceparent`` HTTP header (a traced client, gateway or Function URL);
3. else none: the span starts a new trace (MinIO, S3, a PingSource send no context).

When both are valid and differ, the header's context is kept as a link. A malformed value is
ignored, never an error: tracing is best effort and must not refuse an event.

Why parsing is written here rather than taken from opentelemetry-api's
``TraceContextTextMapPropagator`` (measured, docs/decisions.md "Hand-written, and why"): on 17
cases and 300 generated values the two give the same answer (tests/unit/test_tracecontext.py
holds this module to the propagator's), so the library would bring no better behaviour; but
``core.events`` validates every event's ``traceparent`` with it, the core imports no SDK (an
import-linter contract), and a function that does not export spans imports no OpenTelemetry at
all: the propagator costs 7.1 ms of CPU and ~0.6 MB at cold start against 2.0 ms here
(benchmarks/bench_handwritten.py, median of 9), and hands back a ``Context`` to unwrap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEX = re.compile(r"^[0-9a-f]+$")
_INVALID_TRACE_ID = "0" * 32
_INVALID_SPAN_ID = "0" * 16
SAMPLED = 0x01
# tracestate list-member (section 3.3.1.3.1): key = simple-key / tenant@system, value printable
_STATE_KEY = re.compile(
    r"^([a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})$"
)
_STATE_VALUE = re.compile(r"^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$")
MAX_STATE_MEMBERS = 32


@dataclass(frozen=True)
class SpanContext:
    """One span's identity as W3C Trace Context carries it."""

    trace_id: str
    """32 lower-case hex digits, not all zero."""
    span_id: str
    """16 lower-case hex digits, not all zero (the ``parent-id`` field of a traceparent)."""
    flags: int = 0
    tracestate: str | None = None

    @property
    def sampled(self) -> bool:
        return bool(self.flags & SAMPLED)

    @property
    def traceparent(self) -> str:
        """The version-00 ``traceparent`` value (what this project always writes)."""
        return f"00-{self.trace_id}-{self.span_id}-{self.flags:02x}"


def _hex(value: str, length: int) -> bool:
    return len(value) == length and bool(_HEX.match(value))


def parse_traceparent(value: str | None, tracestate: str | None = None) -> SpanContext | None:
    """A ``traceparent`` value (section 3.2.2), or None when absent or invalid.

    Version ``ff`` is invalid; version 00 is exactly 55 characters; a higher version is read by
    its first four fields, and anything after them must start with ``-`` (section 3.2.4).
    """
    if value is None:
        return None
    value = value.strip()
    if len(value) < 55:
        return None
    version, trace_id, span_id, flags = value[:2], value[3:35], value[36:52], value[53:55]
    if value[2] != "-" or value[35] != "-" or value[52] != "-":
        return None
    if not (_hex(version, 2) and _hex(trace_id, 32) and _hex(span_id, 16) and _hex(flags, 2)):
        return None
    if version == "ff" or (version == "00" and len(value) != 55):
        return None
    if len(value) > 55 and value[55] != "-":
        return None
    if trace_id == _INVALID_TRACE_ID or span_id == _INVALID_SPAN_ID:
        return None
    return SpanContext(trace_id, span_id, int(flags, 16), parse_tracestate(tracestate))


def parse_tracestate(value: str | None) -> str | None:
    """The ``tracestate`` value normalised (section 3.3), or None when absent or invalid.

    Empty members are dropped; more than 32 members, a malformed member or a key given twice
    makes the whole value invalid (section 3.3.1.1: then it is not propagated).
    """
    if not value:
        return None
    members = [m.strip() for m in value.split(",") if m.strip()]
    if not members or len(members) > MAX_STATE_MEMBERS:
        return None
    keys: set[str] = set()
    for member in members:
        key, sep, item = member.partition("=")
        if not sep or not _STATE_KEY.match(key) or not _STATE_VALUE.match(item) or key in keys:
            return None
        keys.add(key)
    return ",".join(members)


@dataclass(frozen=True)
class Incoming:
    """The parent a function's span takes, and a context to link to, from one request."""

    parent: SpanContext | None
    link: SpanContext | None = None
    origin: str = "none"
    """Where the parent came from: ``extension``, ``header`` or ``none`` (a new trace)."""


def choose_parent(
    *,
    extension: str | None = None,
    extension_state: str | None = None,
    header: str | None = None,
    header_state: str | None = None,
) -> Incoming:
    """The precedence in the module docstring: extension, then header, then a new trace."""
    from_extension = parse_traceparent(extension, extension_state)
    from_header = parse_traceparent(header, header_state)
    if from_extension is not None:
        differs = from_header is not None and (
            from_header.trace_id,
            from_header.span_id,
        ) != (from_extension.trace_id, from_extension.span_id)
        return Incoming(from_extension, from_header if differs else None, "extension")
    if from_header is not None:
        return Incoming(from_header, None, "header")
    return Incoming(None)


def child(parent: SpanContext | None, *, span_id: str, trace_id: str, sampled: bool) -> SpanContext:
    """The context of a new span: ``parent``'s trace (and tracestate), else the new ``trace_id``.

    ``sampled`` is the decision for this span (the sampler's, or False when nothing records).
    """
    if not _hex(span_id, 16) or span_id == _INVALID_SPAN_ID:
        raise ValueError(f"invalid span id {span_id!r}")
    if parent is not None:
        trace_id = parent.trace_id
    elif not _hex(trace_id, 32) or trace_id == _INVALID_TRACE_ID:
        raise ValueError(f"invalid trace id {trace_id!r}")
    flags = SAMPLED if sampled else 0
    return SpanContext(trace_id, span_id, flags, parent.tracestate if parent else None)
