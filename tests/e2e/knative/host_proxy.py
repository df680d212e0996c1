"""An HTTP forward proxy on 127.0.0.1 that maps cluster-local host names to loopback ports.

Knative's data plane addresses its hops by cluster DNS names (``broker-filter.knative-eventing.
svc.cluster.local``, ``<broker>-kne-trigger-kn-channel.<ns>.svc.cluster.local``, a Knative
Service's ``<name>.<ns>.svc.cluster.local``). Every one of its HTTP clients clones Go's
``http.DefaultTransport``, which reads ``HTTP_PROXY``: pointed here, each request arrives with its
absolute URL, is sent on to the 127.0.0.1 port that ``route(host)`` names, **with its Host header
unchanged** (the InMemoryChannel dispatcher picks the channel by it). Go never proxies loopback, so
``uri: http://127.0.0.1:...`` subscribers and the API server are dialled directly.

An unknown host is answered 502 with the host in the body: a missing route shows in the
subscriber's ``knativeerrordata``, not as a hang.
"""

from __future__ import annotations

import contextlib
import http.client
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
}


@dataclass
class HostProxy:
    url: str
    route: Callable[[str], int | None]
    #: every (host, path) forwarded, in order (for a test that wants to see the hops)
    hops: list[tuple[str, str]] = field(default_factory=list)
    #: every forward that failed here (answered 502, or the connection dropped), for a failing
    #: test to show: a hop Knative saw fail with no HTTP status is otherwise invisible
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class QuietServer(ThreadingHTTPServer):
    """A threading HTTP server that does not print a traceback when a client hangs up (Knative's
    dispatcher cancels a request at its ``timeout``: that is the behaviour under test)."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline().strip():  # trailers, then the blank line
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


@contextlib.contextmanager
def host_proxy(
    route: Callable[[str], int | None], *, timeout_s: float = 300
) -> Iterator[HostProxy]:
    """Start the proxy on a free 127.0.0.1 port; ``route(host)`` is the port for a host name
    (without its port), or None."""
    proxy: HostProxy

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Go's clients expect

        def _forward(self) -> None:
            target = urlsplit(self.path)
            host = target.hostname or ""
            body = _read_body(self)
            port = route(host)
            if port is None:
                self._answer(502, {}, f"host proxy: no route for {host}".encode())
                return
            with proxy.lock:
                proxy.hops.append((host, target.path))
            path = target.path or "/"
            if target.query:
                path += "?" + target.query
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
            try:
                connection.putrequest(self.command, path, skip_host=True, skip_accept_encoding=True)
                for key, value in headers.items():
                    if key.lower() != "content-length":
                        connection.putheader(key, value)
                connection.putheader("Content-Length", str(len(body)))
                connection.endheaders(body)
                response = connection.getresponse()
                payload = response.read()
                answer = {k: v for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP}
                self._answer(response.status, answer, payload)
            except OSError as exc:
                with proxy.lock:
                    proxy.failures.append(f"{self.command} {host}{path}: {exc!r}")
                self._answer(502, {}, f"host proxy: {host}: {exc}".encode())
            except Exception as exc:
                with proxy.lock:
                    proxy.failures.append(f"{self.command} {host}{path}: {exc!r} (dropped)")
                raise
            finally:
                connection.close()

        def _answer(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            self.send_response_only(status)
            for key, value in headers.items():
                if key.lower() not in ("content-length", "date", "server"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_POST = do_PUT = do_GET = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _forward  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = QuietServer(("127.0.0.1", 0), Handler)
    proxy = HostProxy(url=f"http://127.0.0.1:{server.server_address[1]}", route=route)
    thread = threading.Thread(target=server.serve_forever, name="host-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
