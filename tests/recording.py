"""Test servers shared by every tier: a recording HTTP server on 127.0.0.1 and free ports.

(``tests/e2e/servers.py`` from branch ``complete`` does not exist yet; this is the minimal
local stand-in. When it lands, ``free_port`` should come from there.)
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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

    def wait_for(self, count: int, *, path: str | None = None, timeout: float = 10.0) -> None:
        with self.arrived:
            ok = self.arrived.wait_for(
                lambda: len(self.to(path) if path else self.requests) >= count, timeout
            )
        assert ok, f"expected {count} requests to {path or 'any path'}, got {self.requests}"


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

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()
