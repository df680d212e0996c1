"""The HTTP edge of the image's server (``runtime.server`` launches it): gunicorn's threaded
worker, with the deadlines and limits that worker lacks.

gunicorn's ``gthread`` worker (what functions-framework runs by itself) has no header or body
deadline and commits a thread to each connection as soon as its first byte arrives: eight
slow-header (slowloris) or slow-body connections held all eight threads of a 2-CPU pod and
every other request waited (issue 22).

``EdgeWorker`` reads each request in the worker's event loop -- the headers, then a body of
declared length, at most ``http.max_body_bytes`` of it -- and hands a thread only a request
that has fully arrived. So a slow client costs a buffer and a file descriptor, never a thread.
Without a thread it answers (the deadlines are checked once a second by the worker's loop):

- **408** ``header_timeout`` when the headers are not all in ``http.header_timeout_seconds``
  after the connection (or the previous response on a kept-alive one; an idle one with no byte
  sent is just closed), **431** when they exceed ``MAX_HEADER_BYTES``;
- from the headers, before one byte of the body is read, what the function says
  (``runtime.http.refusal_from_headers``): **405** for a method it does not answer, **401**
  for a missing or wrong token, **413** for a declared ``Content-Length`` over the limit;
- **408** ``body_timeout`` when the declared body is not all in ``http.body_timeout_seconds``
  after the headers.

These answers carry the functions' one error shape and ``Connection: close``; the connection is
then half-closed and drained briefly, so the answer is not lost to a reset. A chunked body (no
declared length) is read by the thread, under the same body deadline (``DeadlineSocket``): a
slow chunked body can hold a thread for at most that long. The worker needs plain HTTP/1.1
(no TLS, no h2c): it runs behind Knative's queue-proxy or a load balancer that ends TLS.

This module is the worker's event loop; parsing the head and reading a body under its deadline
are ``runtime.edge_reading``'s.

``EdgeWorker`` subclasses gunicorn 27's ``ThreadWorker``, whose
event loop it extends (the version is pinned in pyproject.toml for that reason).
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Any

from gunicorn.http.unreader import SocketUnreader
from gunicorn.workers.gthread import TConn, ThreadWorker

from backup2gitops.runtime.edge_reading import MAX_HEADER_BYTES, DeadlineSocket, Head, parse_head
from backup2gitops.runtime.failures import Failure
from backup2gitops.runtime.http import error_body
from backup2gitops.runtime.logs import logger_for

LINGER_S = 2.0
"""How long a refused connection is drained after its answer (its FIN sent), at most."""
LINGER_MAX_BYTES = 1024 * 1024


Screen = Callable[[Head], "tuple[Failure, dict[str, str]] | None"]


@dataclass(frozen=True)
class EdgeSettings:
    function: str
    header_timeout_s: float
    body_timeout_s: float
    max_body_bytes: int
    screen: Screen | None = None


@dataclass
class Reading:
    """A connection the event loop is reading a request from."""

    deadline: float
    buffer: bytearray
    head: Head | None = None
    needed: int | None = None
    lingering: bool = False
    discarded: int = 0


class EdgeWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's threaded worker; a thread gets a request only once all of it has arrived."""

    settings: EdgeSettings | None = None
    """Set by ``serve`` before gunicorn forks the worker, which inherits it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.edge = self.settings or EdgeSettings(
            function=os.environ.get("FUNCTION_TARGET", ""),
            header_timeout_s=10.0,
            body_timeout_s=30.0,
            max_body_bytes=1024 * 1024,
        )
        self.reading: dict[TConn, Reading] = {}
        self.logger = logger_for(self.edge.function.replace("_", "-") or "server")

    # --- where gunicorn would hand a connection to a thread, read it here first

    def accept(self, listener: socket.socket) -> None:
        try:
            client, address = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self.start_reading(TConn(self.cfg, client, address, listener.getsockname()), b"")

    def on_client_socket_readable(self, conn: TConn, client: socket.socket) -> None:
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self.start_reading(conn, b"")

    def enqueue_req(self, conn: TConn) -> None:
        """gunicorn's other hand-overs (a pipelined request already read ahead): read it here."""
        ahead = conn.parser.unreader.take_buffered() if conn.parser is not None else b""
        self.start_reading(conn, ahead)

    def start_reading(self, conn: TConn, ahead: bytes) -> None:
        conn.sock.setblocking(False)
        state = Reading(deadline=time.monotonic() + self.edge.header_timeout_s, buffer=bytearray())
        self.reading[conn] = state
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_readable, conn))
        if ahead:
            state.buffer += ahead
            self.progress(conn, state)

    def on_readable(self, conn: TConn, _client: socket.socket) -> None:
        state = self.reading.get(conn)
        if state is None:
            return
        try:
            data = conn.sock.recv(64 * 1024)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.drop(conn)
            return
        if state.lingering:
            state.discarded += len(data)
            if not data or state.discarded > LINGER_MAX_BYTES:
                self.drop(conn)
            return
        if not data:
            self.drop(conn)
            return
        state.buffer += data
        self.progress(conn, state)

    def progress(self, conn: TConn, state: Reading) -> None:
        """Decide what the bytes so far allow: wait, answer, or hand the request to a thread."""
        edge = self.edge
        if state.head is None:
            end = state.buffer.find(b"\r\n\r\n")
            if end < 0 or end > MAX_HEADER_BYTES:
                if len(state.buffer) > MAX_HEADER_BYTES:
                    self.refuse(
                        conn, 431, "headers_too_large", f"over {MAX_HEADER_BYTES} bytes of headers"
                    )
                return
            head = parse_head(bytes(state.buffer[:end]))
            state.head = head
            body_deadline = time.monotonic() + edge.body_timeout_s
            if head is None or head.chunked:  # gunicorn answers it / reads it, under the deadline
                self.dispatch(conn, state, body_deadline)
                return
            screened = self.screened(head)
            if screened is not None:
                failure, headers = screened
                self.refuse(conn, failure.status, failure.code, failure.message, headers)
                return
            if head.content_length > edge.max_body_bytes:
                self.refuse(
                    conn,
                    413,
                    "body_too_large",
                    f"the body has {head.content_length} bytes; the limit is {edge.max_body_bytes}",
                )
                return
            state.needed = end + 4 + head.content_length
            state.deadline = body_deadline
            if head.expect_continue and len(state.buffer) < state.needed:
                with contextlib.suppress(OSError):
                    conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        if state.needed is not None and len(state.buffer) >= state.needed:
            self.dispatch(conn, state, state.deadline)

    def screened(self, head: Head) -> tuple[Failure, dict[str, str]] | None:
        """The function's answer from the headers, if any; a failure to say is left to the app
        (which checks the same again), never the end of the worker's event loop."""
        if self.edge.screen is None:
            return None
        try:
            return self.edge.screen(head)
        except Exception as exc:  # noqa: BLE001 - the app answers it, with its own classification
            self.logger.warning("edge screen failed", extra={"error": type(exc).__name__})
            return None

    def dispatch(self, conn: TConn, state: Reading, deadline: float) -> None:
        self.poller.unregister(conn.sock)
        del self.reading[conn]
        conn.edge_buffer = bytes(state.buffer)
        conn.edge_deadline = deadline
        conn.data_ready = True  # gunicorn's handle() must not wait for data
        ThreadWorker.enqueue_req(self, conn)

    def handle(self, conn: TConn) -> Any:
        """In a thread: the request is in ``edge_buffer``; a chunked rest of it is read under the
        body deadline."""
        conn.init()
        conn.parser.unreader.unread(conn.edge_buffer)
        conn.edge_buffer = b""
        if isinstance(conn.parser.unreader, SocketUnreader):
            conn.parser.unreader.sock = DeadlineSocket(conn.sock, conn.edge_deadline)
        return super().handle(conn)

    # --- answers from the event loop, and deadlines

    def refuse(
        self,
        conn: TConn,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        state = self.reading[conn]
        failure = Failure(code, message, status, permanent=status != 408, expected=True)
        body = error_body(function=self.edge.function.replace("_", "-"), failure=failure)
        lines = [
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            "Connection: close",
            *(f"{name}: {value}" for name, value in (headers or {}).items()),
        ]
        answer = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        self.logger.warning(
            "refused at the edge",
            extra={"status": status, "code": code, "error": message, "peer": str(conn.client)},
        )
        try:
            conn.sock.send(answer)  # small: the socket's buffer takes it whole
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.drop(conn)
            return
        state.lingering = True
        state.deadline = time.monotonic() + LINGER_S

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for conn, state in list(self.reading.items()):
            if not self.alive:  # stopping: a request not yet whole is the client's to send again
                self.drop(conn)
                continue
            if state.deadline > now:
                continue
            if state.lingering or (state.head is None and not state.buffer):
                self.drop(conn)  # drained, or idle: nothing was asked
            elif state.head is None:
                self.refuse(conn, 408, "header_timeout", "the headers did not arrive in time")
            else:
                got = len(state.buffer) - (state.buffer.find(b"\r\n\r\n") + 4)
                self.refuse(
                    conn,
                    408,
                    "body_timeout",
                    f"{got} of {state.head.content_length} bytes of body arrived in time",
                )

    def drop(self, conn: TConn) -> None:
        self.reading.pop(conn, None)
        with contextlib.suppress(OSError, KeyError, ValueError):
            self.poller.unregister(conn.sock)
        self.nr_conns -= 1
        conn.close()
