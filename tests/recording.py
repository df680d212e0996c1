"""Test servers shared by every tier: a recording HTTP server on 127.0.0.1 and free ports.

(``tests/e2e/servers.py`` from branch ``complete`` does not exist yet; this is the minimal
local stand-in. When it lands, ``free_port`` should come from there.)
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


#: Ports this process has handed out: never handed out twice (a test that picks two ports before
#: starting the servers that bind them would otherwise get the same one twice now and then).
_HANDED_OUT: set[int] = set()
_PORTS = random.Random()  # noqa: S311 -- spreads test ports, no secret
_PORT_LOCK = threading.Lock()


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A free port on 127.0.0.1 for a server that a test starts next.

    Chosen below the kernel's ephemeral range (``ip_local_port_range``): a port taken with
    ``bind(0)`` comes from that range, and between choosing it and the server binding it, any
    outgoing connection on the machine (MinIO's, Knative's, the kube-apiserver's...) may take it as
    its local port -- and the server then fails with "address already in use". Below the range
    only a listener binds; never the same port twice in one test session."""
    low, _ = _ephemeral_range()
    first = 10000 if low > 12000 else 1024
    with _PORT_LOCK:
        for _ in range(1000):
            port = _PORTS.randrange(first, low) if low > first + 1000 else 0
            if port == 0:  # no room below the range: the kernel's choice
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", 0))
                    port = int(probe.getsockname()[1])
            if port not in _HANDED_OUT and _bindable(port):
                _HANDED_OUT.add(port)
                return port
    raise RuntimeError("no free port on 127.0.0.1")


def free_port_block(size: int) -> int:
    """The first of ``size`` consecutive free ports (``serve`` takes P and P+1..P+5), chosen like
    ``free_port``'s."""
    low, _ = _ephemeral_range()
    first = 10000 if low > 12000 else 1024
    with _PORT_LOCK:
        for _ in range(1000):
            base = _PORTS.randrange(first, low - size) if low - size > first + 1000 else 0
            if base == 0:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", 0))
                    base = int(probe.getsockname()[1])
            block = range(base, base + size)
            if block[-1] < 65536 and all(p not in _HANDED_OUT and _bindable(p) for p in block):
                _HANDED_OUT.update(block)
                return base
    raise RuntimeError(f"no block of {size} free ports on 127.0.0.1")


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Recorder:
    """Records every request; answers per path with queued (status, body) or the default."""

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    replies: dict[str, list[tuple[int, bytes]]] = field(default_factory=dict)
    default: tuple[int, bytes] = (200, b"ok")
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    def reply(self, path: str, *answers: tuple[int, bytes | str]) -> None:
        self.replies[path] = [(s, b.encode() if isinstance(b, str) else b) for s, b in answers]

    def to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def wait_for(self, count: int, *, path: str | None = None, timeout: float = 120.0) -> None:
        with self.arrived:
            ok = self.arrived.wait_for(
                lambda: len(self.to(path) if path else self.requests) >= count, timeout
            )
        assert ok, f"expected {count} requests to {path or 'any path'}, got {self.requests}"


@contextlib.contextmanager
def serving(server: socketserver.BaseServer, *, poll_interval: float = 0.5) -> Iterator[int]:
    """``server`` (bound to 127.0.0.1) answering from a daemon thread; its port. Shut down and
    closed when the block ends, however it ends."""
    thread = threading.Thread(target=server.serve_forever, args=(poll_interval,), daemon=True)
    thread.start()
    try:
        port: int = server.server_address[1]  # type: ignore[misc]
        yield port
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def recording_server() -> Iterator[Recorder]:
    rec = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with rec.arrived:
                rec.requests.append(
                    Request(self.command, self.path, dict(self.headers.items()), body)
                )
                queue = rec.replies.get(self.path)
                status, reply = queue.pop(0) if queue else rec.default
                rec.arrived.notify_all()
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        do_POST = do_GET = do_PUT = _answer  # noqa: N815 - http.server names

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler), poll_interval=0.05) as port:
        rec.url = f"http://127.0.0.1:{port}"
        yield rec
