"""One span per handled event, exported over OTLP when the standard variables ask for it.

``function_span`` is the only tracing call the transports make (``runtime.http`` for
functions-framework, the local broker and Lambda Function URLs; ``runtime.aws_lambda`` for
S3 / EventBridge / schedule invocations). Its parent is chosen by ``core.tracecontext``
(the event's ``traceparent`` extension, else the ``traceparent`` HTTP header, else a new
trace); the handler then sees the event ``traced`` with the span's own context, so every
event it emits (``Event.reply``) names this span as its parent.

Exporting is on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``)
is set, unless ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none``. Then, and only
then, the OpenTelemetry SDK and its OTLP/HTTP (protobuf) exporter are imported, on the first
event: a function that does not export pays no import at cold start and makes no SDK object.
Every other ``OTEL_*`` variable (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*``, ``OTEL_EXPORTER_OTLP_HEADERS``, ...) is read by the
SDK itself. Without ``OTEL_SERVICE_NAME``, a span's service is the function's name
(``backup-complete``, ...) with ``service.namespace: backup2gitops``.

Without exporting, no span is recorded, but trace context still flows: an event with a
context passes it on unchanged (what OpenTelemetry's no-op tracer does, so a span downstream
never names a parent that was not recorded), and one without gets a new trace id with the
sampled flag off, so ``trace_id`` in logs and error bodies ties one flow together anyway.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from backup2gitops.core import tracecontext
from backup2gitops.core.events import Event
from backup2gitops.core.tracecontext import SpanContext
from backup2gitops.runtime.logs import logger_for

TRACER_NAME = "backup2gitops"
SERVICE_NAMESPACE = "backup2gitops"
FLUSH_TIMEOUT_MS = 5000


def exporting(environ: Mapping[str, str] | None = None) -> bool:
    """Whether spans are exported (the variables in the module docstring)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def _random_hex(bits: int) -> str:
    value = 0
    while value == 0:  # all zeros is the invalid id
        value = random.getrandbits(bits)  # ids, not secrets (as OpenTelemetry makes them)
    return f"{value:0{bits // 4}x}"


def new_root() -> SpanContext:
    """A new trace, not sampled: what an event without context carries when nothing records."""
    return tracecontext.child(
        None, span_id=_random_hex(64), trace_id=_random_hex(128), sampled=False
    )


@dataclass
class FunctionSpan:
    """The span of one handled event, as the transports use it."""

    context: SpanContext
    """This span's own context: what the events it emits carry."""
    origin: str = "none"
    _span: Any = field(default=None, repr=False)

    @property
    def recording(self) -> bool:
        return self._span is not None and bool(self._span.is_recording())

    def replied(self, reply: Event | None, *, status: int) -> None:
        if self._span is None:
            return
        self._span.set_attribute("http.response.status_code", status)
        if reply is not None:
            self._span.set_attribute("backup2gitops.reply_type", reply.type)
            self._span.set_attribute("backup2gitops.reply_id", reply.id)

    def failed(self, *, code: str, status: int, message: str) -> None:
        if self._span is None:
            return
        from opentelemetry.trace import Status, StatusCode

        self._span.set_attribute("error.type", code)
        self._span.set_attribute("http.response.status_code", status)
        self._span.set_status(Status(StatusCode.ERROR, f"{code}: {message}"))


class Exporters:
    """One TracerProvider (and its batch exporter) per function served by this process.

    ``make_exporter`` builds the span exporter (default: OTLP over HTTP, configured by the
    ``OTEL_EXPORTER_OTLP_*`` variables); tests pass the SDK's in-memory exporter."""

    def __init__(self, make_exporter: Callable[[], Any] | None = None) -> None:
        self._make_exporter = make_exporter
        self._lock = threading.Lock()
        self._providers: dict[str, Any] = {}
        self._broken = False

    def tracer(self, function: str) -> Any:
        """The function's tracer, or None when the SDK cannot be loaded (logged once)."""
        with self._lock:
            if self._broken:
                return None
            provider = self._providers.get(function)
            if provider is None:
                try:
                    provider = _make_provider(function, self._make_exporter)
                except ImportError as exc:
                    self._broken = True
                    logger_for(function).warning(
                        "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry SDK is not "
                        "installed; spans are not exported",
                        extra={"error": str(exc)},
                    )
                    return None
                self._providers[function] = provider
        return provider.get_tracer(TRACER_NAME)

    def flush(self) -> None:
        """Export what is buffered (Lambda freezes the process between invocations)."""
        with self._lock:
            providers = list(self._providers.values())
        for provider in providers:
            provider.force_flush(FLUSH_TIMEOUT_MS)


def _make_provider(function: str, make_exporter: Callable[[], Any] | None) -> Any:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if make_exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        make_exporter = OTLPSpanExporter

    attributes: dict[str, str] = {"service.namespace": SERVICE_NAMESPACE}
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    if not named:  # Resource.create lets these attributes win over the variables: only a default
        attributes["service.name"] = function
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(make_exporter()))
    return provider


_exporters = Exporters()


def flush() -> None:
    if exporting():
        _exporters.flush()


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


def _attributes(function: str, event: Event | None, origin: str) -> dict[str, str]:
    attributes = {"backup2gitops.function": function, "backup2gitops.parent_origin": origin}
    if event is not None:  # OpenTelemetry semantic conventions, CloudEvents attributes
        attributes["cloudevents.event_id"] = event.id
        attributes["cloudevents.event_source"] = event.source
        attributes["cloudevents.event_type"] = event.type
        attributes["cloudevents.event_spec_version"] = event.specversion
        if event.subject:
            attributes["cloudevents.event_subject"] = event.subject
        if event.cluster:
            attributes["backup2gitops.cluster"] = event.cluster
    return attributes


def _to_otel(context: SpanContext) -> Any:
    from opentelemetry.trace import SpanContext as OtelSpanContext
    from opentelemetry.trace import TraceFlags, TraceState

    state = TraceState.from_header([context.tracestate]) if context.tracestate else None
    return OtelSpanContext(
        int(context.trace_id, 16),
        int(context.span_id, 16),
        is_remote=True,
        trace_flags=TraceFlags(context.flags),
        trace_state=state,
    )


def _from_otel(span: Any) -> SpanContext:
    own = span.get_span_context()
    state = own.trace_state.to_header() if own.trace_state else ""
    return SpanContext(
        f"{own.trace_id:032x}", f"{own.span_id:016x}", int(own.trace_flags), state or None
    )


@contextlib.contextmanager
def function_span(
    function: str, *, event: Event | None, headers: Mapping[str, str] | None = None
) -> Iterator[FunctionSpan]:
    """The span of ``function`` handling ``event`` (None: a request refused before it was read,
    whose only context is the header). An exception that escapes ends the span as an error."""
    incoming = tracecontext.choose_parent(
        extension=event.traceparent if event is not None else None,
        extension_state=event.tracestate if event is not None else None,
        header=_header(headers, "traceparent"),
        header_state=_header(headers, "tracestate"),
    )
    tracer = _exporters.tracer(function) if exporting() else None
    if tracer is None:
        yield FunctionSpan(incoming.parent or new_root(), incoming.origin)
        return
    from opentelemetry import context as otel_context
    from opentelemetry import trace as otel_trace

    parent = otel_context.Context()  # a new trace: never the thread's current span
    if incoming.parent is not None:
        parent = otel_trace.set_span_in_context(
            otel_trace.NonRecordingSpan(_to_otel(incoming.parent)), parent
        )
    links = [otel_trace.Link(_to_otel(incoming.link))] if incoming.link is not None else []
    name = f"process {event.type}" if event is not None else "receive"
    with tracer.start_as_current_span(
        name,
        context=parent,
        kind=otel_trace.SpanKind.CONSUMER,
        attributes=_attributes(function, event, incoming.origin),
        links=links,
    ) as span:
        yield FunctionSpan(_from_otel(span), incoming.origin, span)
