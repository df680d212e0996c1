"""How the HTTP edge reads a request (``runtime.edge_worker`` is the worker that uses it): the
request line and headers parsed from the bytes in, before any thread is involved (``Head``,
``parse_head``; at most ``MAX_HEADER_BYTES`` of them), and a body the thread reads itself (a
chunked one) read under one absolute deadline (``DeadlineSocket``, ``ReadDeadline``).

No gunicorn here: plain bytes and a socket.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass

from backup2gitops.runtime.http import BodyTimeout

MAX_HEADER_BYTES = 64 * 1024
"""The request line and headers together; more is answered 431."""


@dataclass(frozen=True)
class Head:
    """What the event loop needs from a request's headers (gunicorn parses them again)."""

    method: str
    path: str
    headers: Mapping[str, str]
    """Lower-cased names; a repeated name keeps its last value (gunicorn judges repeats)."""
    content_length: int
    chunked: bool
    expect_continue: bool


def parse_head(raw: bytes) -> Head | None:
    """The request line and headers (without the blank line), or None when they are not plain
    HTTP/1.x: gunicorn's parser then answers them (400) from the thread."""
    try:
        lines = raw.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
        if not version.startswith("HTTP/1."):
            return None
        headers: dict[str, str] = {}
        lengths: set[str] = set()
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                return None
            key = name.lower()
            headers[key] = value.strip()
            if key == "content-length":
                lengths.add(value.strip())
        if len(lengths) > 1:
            return None
        length = headers.get("content-length", "0")
        if not length.isdigit():
            return None
        chunked = "transfer-encoding" in headers
        return Head(
            method=method,
            path=target.split("?", 1)[0],
            headers=headers,
            content_length=0 if chunked else int(length),
            chunked=chunked,
            expect_continue=headers.get("expect", "").lower() == "100-continue",
        )
    except ValueError:
        return None


class ReadDeadline(BodyTimeout, TimeoutError):
    """The body's read deadline passed: ``runtime.http.read_body`` answers it 408, and gunicorn,
    draining what the app left of a body, takes it for the socket timeout it is (and closes)."""

    def __init__(self, message: str) -> None:
        super().__init__("body_timeout", message)


class DeadlineSocket:
    """``recv`` of a socket under one absolute deadline (gunicorn's parser only calls recv)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline

    def recv(self, size: int) -> bytes:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ReadDeadline("the body did not arrive before its read deadline")
        self.sock.settimeout(remaining)
        try:
            return self.sock.recv(size)
        except TimeoutError as exc:
            raise ReadDeadline("the body did not arrive before its read deadline") from exc
        finally:
            self.sock.settimeout(None)  # the answer is sent without this deadline
