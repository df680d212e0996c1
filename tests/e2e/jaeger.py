"""Starting a real Jaeger v2 (an OpenTelemetry-Collector based all-in-one: OTLP receiver,
in-memory storage, query API) for a test, every port on a free 127.0.0.1 port.

The binary is ``$(go env GOPATH)/bin/jaeger``, built by scripts/install-test-deps.sh from the
``github.com/jaegertracing/jaeger`` module (cmd/jaeger). The configuration below enables only
what a test needs: no gRPC OTLP, no Jaeger/Zipkin receivers, no self-telemetry, no sampling
server, and Jaeger's own tracing off (it would post its spans to the test's OTLP endpoint).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.servers import answers, gopath_binary, serving_process
from tests.recording import free_port

JAEGER_MISSING = "no jaeger binary in $(go env GOPATH)/bin: scripts/install-test-deps.sh builds it"
CONFIG = """
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: info
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
  jaeger_query:
    storage:
      traces: memstore
    enable_tracing: false
    http:
      endpoint: "127.0.0.1:{query}"
    grpc:
      endpoint: "127.0.0.1:{query_grpc}"
receivers:
  otlp:
    protocols:
      http:
        endpoint: "127.0.0.1:{otlp}"
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
"""


@dataclass(frozen=True)
class Jaeger:
    otlp: str
    """The OTLP/HTTP base URL: what ``OTEL_EXPORTER_OTLP_ENDPOINT`` names."""
    query: str
    """The query service: ``/api/services``, ``/api/traces``, ``/api/v3/traces``."""
    log: Path


@contextlib.contextmanager
def jaeger_server(workdir: Path) -> Iterator[Jaeger]:
    binary = gopath_binary("jaeger")
    if binary is None:
        pytest.skip(JAEGER_MISSING)
    workdir.mkdir(parents=True, exist_ok=True)
    otlp, query, query_grpc = free_port(), free_port(), free_port()
    config = workdir / "jaeger.yaml"
    config.write_text(CONFIG.format(otlp=otlp, query=query, query_grpc=query_grpc))
    log = workdir / "jaeger.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    jaeger = Jaeger(otlp=f"http://127.0.0.1:{otlp}", query=f"http://127.0.0.1:{query}", log=log)

    def ready() -> bool:  # the query API answers and the receiver accepts (an empty export)
        return answers(jaeger.query + "/api/services", ok=lambda s: s == 200) and answers(
            jaeger.otlp + "/v1/traces", ok=lambda s: s < 500
        )

    with serving_process(
        [str(binary), "--config", str(config)], env=env, log=log, ready=ready, what="jaeger"
    ):
        yield jaeger
