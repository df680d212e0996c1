"""Serve a FunctionSpec through the real HTTP runtime in a Flask test client; the request
bodies that show what the runtime reads (none, or without end)."""

from __future__ import annotations

import io
from typing import Any

import flask

from backup2gitops.core.events import Event
from backup2gitops.runtime import codec
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import FunctionSpec, http_target


def client(spec: FunctionSpec, ctx: FunctionContext) -> flask.testing.FlaskClient:
    app = flask.Flask(spec.name)
    target = http_target(spec, context=lambda: ctx)
    app.add_url_rule("/", "root", lambda: target(flask.request), methods=["GET", "POST"])
    app.add_url_rule(
        "/<path:rest>", "any", lambda rest: target(flask.request), methods=["GET", "POST"]
    )
    return app.test_client()


def post_event(http: flask.testing.FlaskClient, event: Event) -> flask.testing.TestResponse:
    headers, body = codec.to_http(event)
    return http.post("/", headers=headers, data=body)


class Unseekable(io.RawIOBase):
    """Werkzeug's test client measures a stream by seeking; these streams have no length."""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0


class Unreadable(Unseekable):
    """A body whose first read fails the test: the answer must come from the headers alone."""

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the body was read")


class Endless(Unseekable):
    """A body of unknown length (chunked) that never ends; counts what was read."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readinto(self, buffer: Any) -> int:
        if self.read_bytes > 1024 * 1024:  # an uncapped read fails here instead of hanging
            raise AssertionError("read on and on")
        view = memoryview(buffer)
        view[:] = b"x" * len(view)
        self.read_bytes += len(view)
        return len(view)
