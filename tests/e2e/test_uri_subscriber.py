"""An outside system subscribes to the local broker by a ``uri:`` Trigger, as on Knative.

``serve`` runs with this checkout's Triggers plus two of the test's own: a receiver that takes
every event, and beside it a subscriber that holds each request and then fails. One MinIO webhook
POST runs the flow; the receiver gets every catalog event the flow emits while the failing
subscriber is still holding its first copy (so it delayed nothing), each event valid against the
published wire schema (schemas/cloudevent.json) and its type's data schema. Then the failing
subscriber answers 503 and its copies are dead-lettered with the knativeerror* attributes.
No assertion is on time: only on what had happened when.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import yaml

from backup2gitops.core import events
from backup2gitops.runtime import codec
from tests.e2e.servers import backup2gitops_serve, free_port_block, wait_for
from tests.recording import Recorder, serving

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas"
FLOW = {
    events.BACKUP_COMPLETED,
    events.GITOPS_GENERATED,
    events.HEALTH_REPORTED,
    events.HEALTH_CHANGED,
}


class Holding:
    """A subscriber that holds every request until released, then answers 503."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.received = 0
        self.answered = 0
        self.lock = threading.Lock()
        self.url = ""


@contextlib.contextmanager
def holding_server() -> Iterator[Holding]:
    holding = Holding()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with holding.lock:
                holding.received += 1
            holding.release.wait(timeout=120)  # bounded: a broken broker ends the test
            body = b"subscriber down"
            with contextlib.suppress(OSError):  # serve may be gone by then
                self.send_response(503)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            with holding.lock:
                holding.answered += 1

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as port:
        holding.url = f"http://127.0.0.1:{port}/"
        try:
            yield holding
        finally:
            holding.release.set()


def uri_trigger(name: str, uri: str) -> dict[str, Any]:
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": name},
        "spec": {"broker": "backup2gitops", "subscriber": {"uri": uri}, "delivery": {"retry": 0}},
    }


def as_json_format(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """A received binary-mode request as the JSON format the schema describes."""
    lowered = {k.lower(): v for k, v in headers.items()}
    document: dict[str, Any] = {
        name[3:]: codec.decode_header_value(name, value)
        for name, value in lowered.items()
        if name.startswith("ce-")
    }
    document["datacontenttype"] = lowered["content-type"]
    document["data"] = json.loads(body)
    return document


def test_a_uri_subscriber_gets_every_event_and_a_failing_one_delays_it_not(
    tmp_path: Path, recorder: Recorder
) -> None:
    recorder.default = (202, b"")  # Knative takes a non-empty non-event 2xx body as a failure
    triggers = tmp_path / "triggers"
    shutil.copytree(REPO / "triggers", triggers)
    (triggers / "receiver.yaml").write_text(yaml.safe_dump(uri_trigger("receiver", recorder.url)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKUP2GITOPS")}
    with holding_server() as failing:
        (triggers / "failing.yaml").write_text(yaml.safe_dump(uri_trigger("failing", failing.url)))
        log = tmp_path / "serve.log"
        with backup2gitops_serve(
            "--workdir", str(tmp_path / "work"), "--triggers", str(triggers), env=env, log=log
        ) as port:
            answer = requests.post(
                f"http://127.0.0.1:{port + 1}/",
                data=(tmp_path / "work" / "minio-webhook.json").read_bytes(),
                headers={"Content-Type": "application/json"},
                timeout=60,
            )
            assert answer.status_code == 202, answer.text
            wait_for(
                lambda: {r.headers.get("ce-type") for r in list(recorder.requests)} >= FLOW,
                timeout=120,
                what=f"the receiver to get {sorted(FLOW)}",
            )
            with failing.lock:
                # everything reached the receiver while the failing subscriber held its copies
                assert failing.received >= 1 and failing.answered == 0
            received = [as_json_format(r.headers, r.body) for r in recorder.requests]
            assert {e["type"] for e in received} == FLOW
            envelope = json.loads((SCHEMAS / "cloudevent.json").read_text())
            for event in received:
                jsonschema.validate(event, envelope, format_checker=jsonschema.FormatChecker())
                data_schema = json.loads((SCHEMAS / f"{event['type']}.json").read_text())
                jsonschema.validate(event["data"], data_schema)
                assert event["source"].startswith("/backup2gitops/")
                assert "knativearrivaltime" in event

            failing.release.set()
            wait_for(
                lambda: log.read_text().count(f"-> {failing.url} answered 503") >= len(FLOW),
                timeout=180,
                what="the failing subscriber's dead letters",
            )
            assert "subscriber down" in log.read_text()


def test_serve_stops_its_functions_on_sigterm(tmp_path: Path) -> None:
    """SIGTERM to serve alone (not its process group), as systemd or docker send it: every
    function's port is free again once serve has exited."""
    port = free_port_block(6)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKUP2GITOPS")}
    env["BACKUP2GITOPS_WEBHOOK_TOKEN"] = "t"  # backup-complete refuses to start without one
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        serve = subprocess.Popen(
            [sys.executable, "-m", "backup2gitops", "serve", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: _answers(port), timeout=180, what="serve")
            assert all(_answers(port + i) for i in range(1, 6))
            serve.send_signal(signal.SIGTERM)
            assert serve.wait(timeout=120) == 0
        finally:
            if serve.poll() is None:
                serve.kill()
    assert not [p for p in range(port, port + 6) if _answers(p)], log.read_text()[-2000:]
    table = [line for line in log.read_text().splitlines() if "http://127.0.0.1:" in line]
    assert len({line.index("http://") for line in table}) == 1, table  # one column


def test_serve_refuses_a_busy_port_in_one_line(tmp_path: Path) -> None:
    base = free_port_block(6)
    with socket_taken(base + 3) as port:  # health-aggregator's (P+3)
        result = subprocess.run(
            [sys.executable, "-m", "backup2gitops", "serve", "--port", str(base)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "BACKUP2GITOPS_WEBHOOK_TOKEN": "t"},
        )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert f"port {port} " in line and "(health-aggregator)" in line and "not free" in line


def test_serve_says_when_it_ignores_workdir(tmp_path: Path) -> None:
    env = {**os.environ, "BACKUP2GITOPS_CONFIG": str(tmp_path / "none.yaml")}
    with socket_taken() as port:  # stops serve right after the notice: its port is busy
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "backup2gitops",
                "serve",
                "--port",
                str(port),
                "--workdir",
                str(tmp_path / "w"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
    assert "--workdir" in result.stderr and "ignored" in result.stderr
    assert not (tmp_path / "w").exists()


@contextlib.contextmanager
def socket_taken(port: int = 0) -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        yield int(taken.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=30)
        return True
    except requests.ConnectionError:
        return False
