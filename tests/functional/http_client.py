"""Serve a FunctionSpec through the real HTTP runtime in a Flask test client."""

from __future__ import annotations

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
