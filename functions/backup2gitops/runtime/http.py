"""Serving a handler over HTTP with functions-framework's ``http`` signature.

Why not the ``cloud_event`` signature: it drops the handler's return value and always answers
200, so no reply event could reach the Broker, and it answers a batch body with a 500 that a
broker retries forever. Here the request is parsed with the CloudEvents SDK, a reply is
returned in binary mode (or published to ``$K_SINK``), and every error has one JSON shape:

    {"error": {"code", "message", "function", "trace_id", "timestamp"}}

with 4xx for input that will never succeed and 5xx for what a retry may fix.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from backup2gitops.config import SecretRef
from backup2gitops.core.errors import FunctionError, InvalidInput, Unauthorized
from backup2gitops.core.events import Event, now
from backup2gitops.runtime import codec
from backup2gitops.runtime.context import FunctionContext, default_context
from backup2gitops.runtime.logs import event_context, logger_for

if TYPE_CHECKING:  # flask is loaded with the first request: a Lambda handler never needs it
    import flask

Handler = Callable[[Event, FunctionContext], Event | None]
PlainEnvelope = Callable[[Any], Event]
GetRoute = Callable[[FunctionContext, "flask.Request"], "flask.Response"]


@dataclass(frozen=True)
class FunctionSpec:
    """What the runtime needs to know about one function."""

    name: str
    handle: Handler
    plain_json: PlainEnvelope | None = None
    """Turns a non-CloudEvent JSON body into an event (backup-complete: MinIO's webhook)."""
    token: Callable[[FunctionContext], SecretRef | None] | None = None
    """The bearer token callers must present, when one is configured."""
    token_for_cloudevents: bool = True
    """False: the token guards only plain webhook bodies (``plain_json``); CloudEvents come from
    the Broker inside the cluster, which sends no token."""
    get_routes: Mapping[str, GetRoute] = field(default_factory=dict)


def _response(*args: Any, **kwargs: Any) -> flask.Response:
    from flask import Response

    return Response(*args, **kwargs)


def error_response(
    *, function: str, error: FunctionError, trace_id: str | None = None
) -> flask.Response:
    body = {
        "error": {
            "code": error.code,
            "message": error.message,
            "function": function,
            "trace_id": trace_id,
            "timestamp": now().isoformat().replace("+00:00", "Z"),
        }
    }
    return _response(json.dumps(body), status=error.status, mimetype="application/json")


def event_response(event: Event) -> flask.Response:
    headers, body = codec.to_http(event)
    return _response(body, status=200, headers=headers)


def check_token(expected: SecretRef | None, header: str | None, ctx: FunctionContext) -> None:
    token = expected.reveal(ctx.environ) if expected is not None else None
    if token is None:
        return
    presented = (header or "").strip()
    if presented.lower().startswith("bearer "):
        presented = presented[7:].strip()
    if not hmac.compare_digest(presented.encode(), token.encode()):
        raise Unauthorized("unauthorized", "missing or wrong bearer token")


def parse_request(spec: FunctionSpec, request: flask.Request) -> Event:
    body = request.get_data(cache=True)
    headers = dict(request.headers)
    if codec.is_cloudevent(headers):
        return codec.parse_http(headers, body)  # refuses batches and JSON lists itself
    codec.reject_batches(headers, body)
    if spec.plain_json is None:
        raise InvalidInput("not_a_cloudevent", "expected a CloudEvent (binary or structured mode)")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise InvalidInput("invalid_json", "the body is not JSON") from exc
    return spec.plain_json(payload)


def handle_request(
    spec: FunctionSpec, request: flask.Request, ctx: FunctionContext
) -> flask.Response:
    logger = logger_for(spec.name)
    if request.method == "GET":
        route = spec.get_routes.get(request.path.rstrip("/") or "/")
        if route is not None:
            return route(ctx, request)
        if request.path in ("/healthz", "/readyz", "/livez"):
            return _response("ok\n", mimetype="text/plain")
        return error_response(
            function=spec.name, error=InvalidInput("method_not_allowed", "POST a CloudEvent")
        )
    event: Event | None = None
    try:
        guarded = spec.token_for_cloudevents or not codec.is_cloudevent(dict(request.headers))
        if spec.token is not None and guarded:
            check_token(spec.token(ctx), request.headers.get("Authorization"), ctx)
        event = parse_request(spec, request)
        with event_context(logger, event):
            reply = spec.handle(event, ctx)
            if reply is None:
                logger.debug("handled, no reply")
                return _response(status=202)
            logger.info("reply", extra={"reply_type": reply.type, "reply_id": reply.id})
            if ctx.publish is not None:
                ctx.publish(reply)
                return _response(status=202)
            return event_response(reply)
    except FunctionError as exc:
        log = logger.warning if exc.status < 500 else logger.error
        log("failed", extra={"code": exc.code, "error": exc.message, "status": exc.status})
        return error_response(
            function=spec.name, error=exc, trace_id=event.trace_id if event else None
        )
    except Exception:
        logger.exception("unexpected error")
        error = FunctionError("internal", "unexpected error; see the function's logs")
        return error_response(
            function=spec.name, error=error, trace_id=event.trace_id if event else None
        )


def http_target(
    spec: FunctionSpec, context: Callable[[], FunctionContext] = default_context
) -> Callable[[flask.Request], flask.Response]:
    """A functions-framework ``http`` target for ``spec``."""

    def target(request: flask.Request) -> flask.Response:
        return handle_request(spec, request, context())

    target.__name__ = spec.name.replace("-", "_")
    return target
