"""The HTTP wrapper every function is served through (Flask test client, real Flask app)."""

from __future__ import annotations

import json
from typing import Any

import flask
import pytest
from cloudevents.conversion import to_structured
from cloudevents.http import CloudEvent

from backup2gitops.config import Config, ConfigError, SecretRef
from backup2gitops.core.errors import InvalidInput, Transient, Unauthorized
from backup2gitops.core.events import BackupRequested, Event
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import (
    FunctionSpec,
    check_token,
    handle_request,
    refuse_unless_ready,
    serves_unauthenticated,
    startup_problem,
)
from tests.functional.http_client import Endless, Unreadable
from tests.recording import recording_server

TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def echo(event: Event, ctx: FunctionContext) -> Event | None:
    if event.type == "fail.input":
        raise InvalidInput("bad_thing", "this will never work")
    if event.type == "fail.transient":
        raise Transient("try_later", "dependency down")
    if event.type == "fail.crash":
        raise RuntimeError("boom")
    if event.type == "quiet":
        return None
    return event.reply(type="echoed", source="/test", data=BackupRequested(reason=event.type))


def client(spec: FunctionSpec, ctx: FunctionContext | None = None) -> Any:
    context = ctx or FunctionContext(Config(), environ={})
    app = flask.Flask("t")
    app.add_url_rule(
        "/", "f", lambda: handle_request(spec, flask.request, context), methods=["GET", "POST"]
    )
    app.add_url_rule(
        "/<path:p>",
        "g",
        lambda p: handle_request(spec, flask.request, context),
        methods=["GET", "POST"],
    )
    return app.test_client()


def binary_headers(event_type: str, **extra: str) -> dict[str, str]:
    return {
        "ce-specversion": "1.0",
        "ce-id": "e1",
        "ce-source": "/src",
        "ce-type": event_type,
        "Content-Type": "application/json",
        **extra,
    }


SPEC = FunctionSpec(name="echo", handle=echo)


def test_binary_mode_reply_is_binary_with_content_type_and_trace() -> None:
    response = client(SPEC).post(
        "/",
        headers=binary_headers("hello", **{"ce-traceparent": TRACE, "ce-cluster": "prod"}),
        data=b"{}",
    )
    assert response.status_code == 200
    assert response.headers["ce-type"] == "echoed"
    assert response.headers["ce-traceparent"] == TRACE
    assert response.headers["ce-cluster"] == "prod"
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.data) == {"cluster": None, "reason": "hello"}


def test_structured_mode_is_accepted() -> None:
    event = CloudEvent({"type": "hello", "source": "/src"}, {"x": 1})
    headers, body = to_structured(event)
    response = client(SPEC).post("/", headers=headers, data=body)
    assert response.status_code == 200 and response.headers["ce-type"] == "echoed"


def test_no_reply_is_202_without_body() -> None:
    response = client(SPEC).post("/", headers=binary_headers("quiet"), data=b"{}")
    assert response.status_code == 202 and response.data == b""


@pytest.mark.parametrize(
    ("event_type", "status", "code"),
    [
        ("fail.input", 400, "bad_thing"),
        ("fail.transient", 503, "try_later"),
        ("fail.crash", 500, "internal"),
    ],
)
def test_errors_have_one_shape(event_type: str, status: int, code: str) -> None:
    response = client(SPEC).post(
        "/", headers=binary_headers(event_type, **{"ce-traceparent": TRACE}), data=b"{}"
    )
    assert response.status_code == status
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "function", "trace_id", "timestamp"}
    assert error["code"] == code and error["function"] == "echo"
    assert error["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert "boom" not in error["message"]  # internals stay in the logs


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"Content-Type": "application/cloudevents-batch+json"}, b'[{"specversion":"1.0"}]'),
        ({"Content-Type": "application/json"}, b"[1, 2]"),
        ({"Content-Type": "Application/CloudEvents-Batch+JSON; charset=utf-8"}, b"[]"),
    ],
)
def test_batches_and_lists_are_400_never_500(headers: dict[str, str], body: bytes) -> None:
    """(A binary-mode event whose data is a JSON array is an event: test_http_binding.py.)"""
    response = client(SPEC).post("/", headers=headers, data=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "batch_not_supported"


def test_plain_json_is_refused_unless_the_function_accepts_it() -> None:
    response = client(SPEC).post("/", json={"Records": []})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "not_a_cloudevent"


def test_missing_required_attributes_are_400() -> None:
    response = client(SPEC).post(
        "/",
        headers={"ce-specversion": "1.0", "ce-type": "x", "Content-Type": "application/json"},
        data=b"{}",
    )
    assert response.status_code == 400


def test_token_is_checked_before_anything_else() -> None:
    seen: list[Event] = []

    def record(event: Event, ctx: FunctionContext) -> None:
        seen.append(event)

    spec = FunctionSpec(
        name="guarded", handle=record, token=lambda ctx: SecretRef(env="HOOK_TOKEN")
    )
    ctx = FunctionContext(Config(), environ={"HOOK_TOKEN": "s3cret"})
    c = client(spec, ctx)
    assert c.post("/", headers=binary_headers("x"), data=b"{}").status_code == 401
    wrong = {**binary_headers("x"), "Authorization": "Bearer nope"}
    assert c.post("/", headers=wrong, data=b"{}").status_code == 401
    assert seen == []
    right = {**binary_headers("x"), "Authorization": "Bearer s3cret"}
    assert c.post("/", headers=right, data=b"{}").status_code == 202
    assert len(seen) == 1


def test_reply_goes_to_the_sink_when_one_is_bound() -> None:
    published: list[Event] = []
    ctx = FunctionContext(Config(), environ={}, publish=published.append)
    response = client(SPEC, ctx).post("/", headers=binary_headers("hello"), data=b"{}")
    assert response.status_code == 202 and published[0].type == "echoed"


def test_get_health_probe() -> None:
    assert client(SPEC).get("/healthz").status_code == 200


def guarded_spec(*, allow: bool = False) -> tuple[FunctionSpec, list[Event]]:
    seen: list[Event] = []

    def record(event: Event, ctx: FunctionContext) -> None:
        seen.append(event)

    spec = FunctionSpec(
        name="guarded",
        handle=record,
        token=lambda ctx: SecretRef(env="HOOK_TOKEN"),
        allow_unauthenticated=lambda ctx: allow,
    )
    return spec, seen


@pytest.mark.parametrize(
    "token",
    [SecretRef(env="HOOK_TOKEN"), SecretRef(file="/nonexistent/backup2gitops/token")],  # type: ignore[arg-type]
)
def test_no_token_configured_fails_closed(token: SecretRef) -> None:
    """An unset variable or a missing token file: nothing is served, health says so."""
    spec, seen = guarded_spec()
    spec = FunctionSpec(name=spec.name, handle=spec.handle, token=lambda ctx: token)
    ctx = FunctionContext(Config(), environ={})
    assert startup_problem(spec, ctx) is not None
    with pytest.raises(ConfigError, match="allow_unauthenticated"):
        refuse_unless_ready(spec, ctx)
    c = client(spec, ctx)
    response = c.post("/", headers=binary_headers("x"), data=b"{}")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "not_configured"
    assert c.get("/healthz").status_code == 503  # the revision never becomes ready
    assert seen == []


def test_allow_unauthenticated_serves_without_a_token_and_says_so() -> None:
    spec, seen = guarded_spec(allow=True)
    ctx = FunctionContext(Config(), environ={})
    assert startup_problem(spec, ctx) is None and serves_unauthenticated(spec, ctx)
    assert client(spec, ctx).post("/", headers=binary_headers("x"), data=b"{}").status_code == 202
    assert len(seen) == 1
    configured = FunctionContext(Config(), environ={"HOOK_TOKEN": "s3cret"})
    assert not serves_unauthenticated(spec, configured)  # a configured token is always checked
    assert client(spec, configured).post("/", headers=binary_headers("x")).status_code == 401


def test_declared_body_over_the_limit_is_413_unread() -> None:
    limit = Config().http.max_body_bytes
    response = client(SPEC).post(
        "/",
        headers=binary_headers("hello"),
        input_stream=Unreadable(),
        environ_overrides={"CONTENT_LENGTH": str(limit + 1)},
    )
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "body_too_large"


def test_undeclared_body_over_the_limit_is_413_after_limit_plus_one_bytes() -> None:
    config = Config.model_validate({"http": {"max_body_bytes": 4096}})
    body = Endless()
    response = client(SPEC, FunctionContext(config, environ={})).post(
        "/",
        headers=binary_headers("hello"),
        input_stream=body,
        environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""},
    )
    assert response.status_code == 413
    assert 4096 < body.read_bytes <= 4097


def test_body_at_the_limit_is_read() -> None:
    config = Config.model_validate({"http": {"max_body_bytes": 4096}})
    data = json.dumps({"pad": "x" * (4096 - 11)}).encode()
    assert len(data) == 4096
    ctx = FunctionContext(config, environ={})
    assert (
        client(SPEC, ctx).post("/", headers=binary_headers("hello"), data=data).status_code == 200
    )


def test_a_sink_answering_5xx_is_not_a_publish() -> None:
    """$K_SINK (a real HTTP server) answering 500: the delivery is 503, so the broker retries."""
    with recording_server() as sink:
        sink.default = (500, b"broker down")
        ctx = FunctionContext(Config(), environ={"K_SINK": sink.url})
        response = client(SPEC, ctx).post("/", headers=binary_headers("hello"), data=b"{}")
        assert len(sink.requests) == 1 and sink.requests[0].headers["ce-type"] == "echoed"
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "sink_rejected"


def test_a_sink_answering_202_is_a_publish() -> None:
    with recording_server() as sink:
        sink.default = (202, b"")
        ctx = FunctionContext(Config(), environ={"K_SINK": sink.url})
        response = client(SPEC, ctx).post("/", headers=binary_headers("hello"), data=b"{}")
    assert response.status_code == 202


def test_a_token_that_vanishes_after_the_startup_check_still_fails_closed() -> None:
    with pytest.raises(Unauthorized):
        check_token(
            SecretRef(env="HOOK_TOKEN"), "Bearer anything", FunctionContext(Config(), environ={})
        )
    check_token(None, None, FunctionContext(Config(), environ={}), allow_missing=True)
