"""runtime.tracing through the real transports (the HTTP wrapper, the Lambda adapter): the span
each handled event gets, what its emitted events carry, and what is exported.

Exporting tests swap the OTLP exporter for the SDK's own InMemorySpanExporter (the OTLP wire
itself is tested against a real Jaeger in tests/e2e/test_tracing_jaeger.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from backup2gitops.adapters.storage import MemoryStore
from backup2gitops.config import parse_config
from backup2gitops.core.events import BACKUP_REQUESTED, BackupRequested, Event
from backup2gitops.runtime import tracing
from backup2gitops.runtime.aws_lambda import lambda_adapter, structured
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import FunctionSpec
from tests.fixtures.eventbridge import RecordingEventBridge
from tests.functional.test_http_runtime import SPEC, binary_headers, client

TRACE = "0af7651916cd43dd8448eb211c80319c"
EXT = f"00-{TRACE}-b7ad6b7169203331-01"
HEADER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
HEADER = f"00-{HEADER_TRACE}-00f067aa0ba902b7-01"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")  # never dialled
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.setattr(tracing, "_exporters", tracing.Exporters(lambda: memory))
    yield memory


@pytest.fixture
def not_exporting(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


def finished(memory: InMemorySpanExporter) -> list[ReadableSpan]:
    tracing.flush()
    return list(memory.get_finished_spans())


def only(memory: InMemorySpanExporter) -> ReadableSpan:
    spans = finished(memory)
    assert len(spans) == 1, spans
    return spans[0]


def hexes(span: ReadableSpan) -> tuple[str, str]:
    context = span.get_span_context()
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "TRUE"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
    ],
)
def test_exporting_follows_the_standard_variables(env: dict[str, str], expected: bool) -> None:
    assert tracing.exporting(env) is expected


def test_the_reply_names_the_functions_own_span_as_parent(exported: InMemorySpanExporter) -> None:
    response = client(SPEC).post(
        "/", headers=binary_headers("hello", **{"ce-traceparent": EXT}), data=b"{}"
    )
    assert response.status_code == 200
    span = only(exported)
    trace_id, span_id = hexes(span)
    assert trace_id == TRACE and span.parent is not None
    assert f"{span.parent.span_id:016x}" == "b7ad6b7169203331"  # child of the producer's span
    assert response.headers["ce-traceparent"] == f"00-{TRACE}-{span_id}-01"  # not the parent's
    assert span.kind is SpanKind.CONSUMER and span.name == "process hello"
    assert span.attributes is not None
    assert span.attributes["cloudevents.event_id"] == "e1"
    assert span.attributes["backup2gitops.parent_origin"] == "extension"
    assert span.attributes["backup2gitops.reply_type"] == "echoed"
    assert span.resource.attributes["service.name"] == "echo"
    assert span.resource.attributes["service.namespace"] == "backup2gitops"


def test_the_w3c_header_is_the_parent_of_an_event_without_the_extension(
    exported: InMemorySpanExporter,
) -> None:
    response = client(SPEC).post(
        "/", headers=binary_headers("hello", traceparent=HEADER, tracestate="v=1"), data=b"{}"
    )
    span = only(exported)
    assert hexes(span)[0] == HEADER_TRACE and span.parent is not None
    assert f"{span.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert response.headers["ce-traceparent"] == f"00-{HEADER_TRACE}-{hexes(span)[1]}-01"
    assert response.headers["ce-tracestate"] == "v=1"


def test_the_extension_wins_over_the_header_which_becomes_a_link(
    exported: InMemorySpanExporter,
) -> None:
    client(SPEC).post(
        "/",
        headers=binary_headers("hello", **{"ce-traceparent": EXT, "traceparent": HEADER}),
        data=b"{}",
    )
    span = only(exported)
    assert hexes(span)[0] == TRACE
    assert [f"{link.context.trace_id:032x}" for link in span.links] == [HEADER_TRACE]


def test_a_malformed_traceparent_starts_a_new_trace_and_is_not_an_error(
    exported: InMemorySpanExporter,
) -> None:
    response = client(SPEC).post(
        "/",
        headers=binary_headers("hello", **{"ce-traceparent": "00-xyz", "traceparent": "nope"}),
        data=b"{}",
    )
    assert response.status_code == 200
    span = only(exported)
    assert span.parent is None and span.status.status_code is not StatusCode.ERROR
    flags = int(span.get_span_context().trace_flags)  # sampled, and Level 2's "random" bit
    assert response.headers["ce-traceparent"] == "00-{}-{}-{:02x}".format(*hexes(span), flags)


def test_a_failure_is_an_error_span_and_its_body_names_the_trace(
    exported: InMemorySpanExporter,
) -> None:
    response = client(SPEC).post("/", headers=binary_headers("fail.transient"), data=b"{}")
    assert response.status_code == 503
    span = only(exported)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None and span.attributes["error.type"] == "try_later"
    assert response.get_json()["error"]["trace_id"] == hexes(span)[0]


def test_a_request_refused_before_it_is_an_event_has_a_span_from_the_header(
    exported: InMemorySpanExporter,
) -> None:
    response = client(SPEC).post("/", headers={"traceparent": HEADER}, data=b"{}")
    assert response.status_code == 400
    span = only(exported)
    assert span.name == "receive" and hexes(span)[0] == HEADER_TRACE
    assert response.get_json()["error"]["trace_id"] == HEADER_TRACE


def test_without_exporting_the_context_is_passed_on_unchanged(not_exporting: None) -> None:
    response = client(SPEC).post(
        "/", headers=binary_headers("hello", **{"ce-traceparent": EXT}), data=b"{}"
    )
    assert response.headers["ce-traceparent"] == EXT


def test_without_exporting_an_event_without_context_gets_a_new_unsampled_trace(
    not_exporting: None,
) -> None:
    reply = client(SPEC).post("/", headers=binary_headers("hello"), data=b"{}")
    version, trace_id, _span, flags = reply.headers["ce-traceparent"].split("-")
    assert (version, flags) == ("00", "00") and len(trace_id) == 32
    failed = client(SPEC).post("/", headers=binary_headers("fail.input"), data=b"{}")
    assert len(failed.get_json()["error"]["trace_id"]) == 32  # never null


def test_lambda_reads_the_context_from_the_bus_event(exported: InMemorySpanExporter) -> None:
    event = Event(
        id="e1",
        source="/backup2gitops/cluster-backup",
        type=BACKUP_REQUESTED,
        traceparent=EXT,
        data=BackupRequested().model_dump(mode="json"),
    )
    bridge = RecordingEventBridge()

    def echo(received: Event, ctx: FunctionContext) -> Event | None:
        return received.reply(type="echoed", source="/test", data=BackupRequested())

    context = FunctionContext(
        parse_config("{}", {}), store=MemoryStore(), environ={"BACKUP2GITOPS_EVENT_BUS": "b"}
    )
    handler = lambda_adapter(
        FunctionSpec(name="echo", handle=echo), context=lambda: context, events_client=bridge
    )
    from_bus = {
        "version": "0",
        "id": "eb-1",
        "detail-type": event.type,
        "source": event.source,
        "time": "2026-11-23T02:00:00Z",
        "resources": [],
        "detail": structured(event),
    }
    result = handler(from_bus, None)
    span = only(exported)  # flushed by the handler itself
    trace_id, span_id = hexes(span)
    assert result["trace_id"] == trace_id == TRACE
    assert span.parent is not None and f"{span.parent.span_id:016x}" == "b7ad6b7169203331"
    published = json.loads(bridge.entries[0]["Detail"])
    assert published["traceparent"] == f"00-{TRACE}-{span_id}-01"


def test_not_exporting_imports_no_opentelemetry() -> None:
    """The cold-start promise: serving an event without OTEL_EXPORTER_OTLP_ENDPOINT never loads
    the SDK (nor the API)."""
    program = """
import sys
from tests.functional.test_http_runtime import SPEC, binary_headers, client
assert client(SPEC).post("/", headers=binary_headers("hello"), data=b"{}").status_code == 200
import backup_complete.handler, gitops_generator.handler, cluster_backup.handler
import health_aggregator.handler, alert_router.handler
loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
assert not loaded, loaded
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = f"{REPO / 'functions'}{os.pathsep}{REPO}"
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
