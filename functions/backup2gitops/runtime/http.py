"""Serving a handler over HTTP with functions-framework's ``http`` signature.

Why not the ``cloud_event`` signature: it drops the handler's return value and always answers
200, so no reply event could reach the Broker, and it answers a batch body with a 500 that a
broker retries forever. Here the request is parsed with the CloudEvents SDK, a reply is
returned in binary mode (or published to ``$K_SINK``), and every error has one JSON shape:

    {"error": {"code", "message", "function", "trace_id", "timestamp"}}

with the status ``runtime.failures`` gives it (4xx for input that will never succeed, 5xx or 409
for what a retry may fix).

Before anything else: a function whose ``requirements`` are not met (alert-router: a
credential a routed, non-optional receiver names is not set) refuses every request (503
``not_configured``), and so does a function with a webhook token while no token is configured,
unless the configuration says ``allow_unauthenticated`` (``startup_problem``; ``main.py`` and
``serve`` check it before serving; the Lambda adapter checks ``requirements`` at every
invocation). Then, from the headers alone and before one byte of the body is read:

- the bearer token, when the function has one configured, for every input shape (a MinIO
  webhook body, structured and binary CloudEvents alike: ``ce-`` headers do not skip it),
  compared in constant time, the scheme case-insensitive (``bearer`` works), 401 otherwise;
- the method: GET (HEAD: the same without a body) for probes and the function's own pages,
  POST for events; any other method, or GET on a path that has no page, is 405 with ``Allow``;
- the size: a ``Content-Length`` over ``http.max_body_bytes`` is 413 unread, and no more than
  the limit plus one byte is ever read.

A body that stops coming is the server's to bound (``runtime.server``: header and body read
deadlines, 408); a read that fails with ``BodyTimeout`` here is answered 408 too.
"""

from __future__ import annotations

import hmac
import json
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from backup2gitops.config import ConfigError
from backup2gitops.core.errors import FunctionError, InvalidInput, TooLarge, Unauthorized
from backup2gitops.core.events import Event, now
from backup2gitops.runtime import codec, failures, startup, tracing
from backup2gitops.runtime.context import FunctionContext, default_context
from backup2gitops.runtime.envelopes import Arrival
from backup2gitops.runtime.invocation import Handled, invocation
from backup2gitops.runtime.logs import logger_for
from backup2gitops.runtime.spec import FunctionSpec, GetRoute, Handler, PlainEnvelope

if TYPE_CHECKING:  # flask is loaded with the first request: a Lambda handler never needs it
    import flask

    from backup2gitops.config import SecretRef

__all__ = [
    "FunctionSpec",
    "GetRoute",
    "Handler",
    "PlainEnvelope",
    "handle_request",
    "http_target",
]

PROBES = ("/healthz", "/readyz", "/livez")


class MethodNotAllowed(FunctionError):
    """A method the function does not answer (405, with the methods it does in ``Allow``)."""

    status = 405
    permanent = True

    def __init__(self, message: str, *, allow: str) -> None:
        super().__init__("method_not_allowed", message)
        self.allow = allow


class BodyTimeout(FunctionError):
    """The body did not arrive within the server's body read deadline (408)."""

    status = 408
    permanent = False


def _response(*args: Any, **kwargs: Any) -> flask.Response:
    from flask import Response

    return Response(*args, **kwargs)


def error_body(*, function: str, failure: failures.Failure, trace_id: str | None = None) -> bytes:
    """The one error shape, as bytes (``runtime.server`` answers with it from its event loop)."""
    body = {
        "error": {
            "code": failure.code,
            "message": failure.message,
            "function": function,
            "trace_id": trace_id,
            "timestamp": now().isoformat().replace("+00:00", "Z"),
        }
    }
    return json.dumps(body).encode()


def error_response(
    *, function: str, failure: failures.Failure, trace_id: str | None = None
) -> flask.Response:
    body = error_body(function=function, failure=failure, trace_id=trace_id)
    return _response(body, status=failure.status, mimetype="application/json")


def event_response(event: Event) -> flask.Response:
    headers, body = codec.to_http(event)
    return _response(body, status=200, headers=headers)


def startup_problem(spec: FunctionSpec[Any], ctx: FunctionContext) -> str | None:
    """Why ``spec`` must not serve with this configuration, or None. Fails closed: a function
    with a webhook token and no token configured (unset variable, missing file) is refused."""
    if spec.requirements is not None and (unmet := spec.requirements(ctx)) is not None:
        return unmet
    if spec.token is None:
        return None
    ref = spec.token(ctx)
    if ref is not None and ref.reveal(ctx.environ) is not None:
        return None
    if spec.allow_unauthenticated(ctx):
        return None
    where = f"{ref!r} is not set" if ref is not None else "no token is configured"
    return (
        f"{spec.name}: the webhook token is missing ({where}); configure it, or set "
        "allow_unauthenticated: true to accept unauthenticated webhooks"
    )


def serves_unauthenticated(spec: FunctionSpec[Any], ctx: FunctionContext) -> bool:
    """True when ``spec`` has a webhook token, none is configured and that is allowed."""
    if spec.token is None or not spec.allow_unauthenticated(ctx):
        return False
    ref = spec.token(ctx)
    return ref is None or ref.reveal(ctx.environ) is None


def refuse_unless_ready(spec: FunctionSpec[Any], ctx: FunctionContext) -> None:
    """Raise ConfigError when ``spec`` must not start (see ``startup_problem``)."""
    problem = startup_problem(spec, ctx)
    if problem is not None:
        raise ConfigError(problem)


def check_token(
    expected: SecretRef | None,
    header: str | None,
    ctx: FunctionContext,
    *,
    allow_missing: bool = False,
) -> None:
    """The bearer token must match, compared in constant time. With no token configured, only
    ``allow_missing`` (the configuration's ``allow_unauthenticated``) lets the request through:
    a token file that vanished since ``startup_problem`` looked still fails closed."""
    token = expected.reveal(ctx.environ) if expected is not None else None
    if token is None:
        if allow_missing:
            return
        raise Unauthorized("unauthorized", "no token is configured")
    presented = (header or "").strip()
    scheme, _, credentials = presented.partition(" ")
    if scheme.lower() == "bearer":  # the scheme is case-insensitive (RFC 9110 11.1)
        presented = credentials.strip()
    # else the whole header: MinIO sends an ``auth_token`` of two words verbatim
    if not presented or not hmac.compare_digest(presented.encode(), token.encode()):
        raise Unauthorized("unauthorized", "missing or wrong bearer token")


def refusal_from_headers(
    spec: FunctionSpec[Any], ctx: FunctionContext, *, method: str, headers: Mapping[str, str]
) -> FunctionError | None:
    """``headers`` by lower-cased name. Why a request that is not a GET or HEAD is refused from its headers alone, or None: the
    method (405), the token, for every input shape (401), a declared size over the limit (413).
    A function that must not serve at all is left to ``handle_request`` (503)."""
    if startup_problem(spec, ctx) is not None:
        return None
    if method != "POST":
        allow = "GET, HEAD, POST" if spec.get_routes else "POST"
        return MethodNotAllowed(f"{method} is not answered; POST a CloudEvent", allow=allow)
    if spec.token is not None:
        try:
            check_token(
                spec.token(ctx),
                headers.get("authorization"),
                ctx,
                allow_missing=spec.allow_unauthenticated(ctx),
            )
        except Unauthorized as exc:
            return exc
    declared = headers.get("content-length") or ""
    limit = ctx.config.http.max_body_bytes
    if declared.isdigit() and int(declared) > limit:
        return TooLarge("body_too_large", f"the body has {declared} bytes; the limit is {limit}")
    return None


def read_body(request: flask.Request, *, limit: int) -> bytes:
    """At most ``limit`` bytes of the body; TooLarge without reading when it says it is larger."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise TooLarge("body_too_large", f"the body has {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        try:
            chunk = request.stream.read(min(64 * 1024, limit + 1 - size))
        except BodyTimeout as exc:  # runtime.server's body deadline
            raise BodyTimeout("body_timeout", f"{exc.message}: {size} bytes came") from exc
        except TimeoutError as exc:  # a socket timeout of another server
            raise BodyTimeout("body_timeout", f"the body stopped after {size} bytes") from exc
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise TooLarge("body_too_large", f"the body is larger than the limit of {limit} bytes")
    return b"".join(chunks)


def parse_request(spec: FunctionSpec[Any], request: flask.Request, body: bytes) -> Arrival:
    """The event the body is (a CloudEvent in binary or structured mode), or what the
    function's ``plain_json`` makes of a JSON body that is not one (MinIO's webhook: parsed
    there, once)."""
    headers = dict(request.headers)
    if codec.is_cloudevent(headers):
        return codec.parse_http(headers, body)  # refuses batched mode itself
    codec.reject_batches(headers, body)
    if spec.plain_json is None:
        raise InvalidInput("not_a_cloudevent", "expected a CloudEvent (binary or structured mode)")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise InvalidInput("invalid_json", "the body is not JSON") from exc
    return spec.plain_json(payload)


def handle_request(
    spec: FunctionSpec[Any], request: flask.Request, ctx: FunctionContext
) -> flask.Response:
    logger = logger_for(spec.name)
    headers = dict(request.headers)
    try:
        problem = startup_problem(spec, ctx)
        if problem is not None:
            logger.error("refusing to serve", extra={"error": problem})
            return error_response(
                function=spec.name,
                failure=failures.Failure("not_configured", problem, 503, False, expected=True),
            )
        if request.method in ("GET", "HEAD"):  # HEAD: werkzeug drops the body it answers
            route = spec.get_routes.get(request.path.rstrip("/") or "/")
            if route is not None:
                return route(ctx, request)
            if request.path in PROBES:
                return _response("ok\n", mimetype="text/plain")
            raise MethodNotAllowed(f"{request.path}: POST a CloudEvent", allow="POST")
        lowered = {name.lower(): value for name, value in request.headers.items()}
        refusal = refusal_from_headers(spec, ctx, method=request.method, headers=lowered)
        if refusal is not None:  # the method, the token, the declared size: the body unread
            raise refusal
        body = read_body(request, limit=ctx.config.http.max_body_bytes)
        arrival = parse_request(spec, request, body)
    except Exception as exc:  # noqa: BLE001 - refused before the handler ran
        return _refused(spec, exc, headers=headers)
    with invocation(spec, arrival, ctx, headers=headers) as (handled, span):
        try:
            response = _answer(spec, handled, ctx)
        except Exception as exc:  # noqa: BLE001 - publishing the reply failed
            failure = failures.noted(exc, logger=logger, span=span)
            return error_response(
                function=spec.name, failure=failure, trace_id=handled.event.trace_id
            )
        span.replied(handled.reply, status=response.status_code)
        return response


def _refused(
    spec: FunctionSpec[Any], exc: Exception, *, headers: Mapping[str, str]
) -> flask.Response:
    """A request refused before it was an event (token, size, malformed): its own span, whose
    parent can only be the ``traceparent`` header, and that trace's id in the error body."""
    logger = logger_for(spec.name)
    with tracing.function_span(spec.name, event=None, headers=headers) as span:
        keys = {"trace_id": span.context.trace_id, "span_id": span.context.span_id}
        logger.thread_safe_append_keys(**keys)
        try:
            failure = failures.noted(exc, logger=logger, span=span)
        finally:
            logger.thread_safe_remove_keys(list(keys))
    response = error_response(function=spec.name, failure=failure, trace_id=span.context.trace_id)
    if isinstance(exc, MethodNotAllowed):
        response.headers["Allow"] = exc.allow
    if isinstance(exc, BodyTimeout | TooLarge):  # what is left of the body is not read
        response.headers["Connection"] = "close"
    return response


def _answer(spec: FunctionSpec[Any], handled: Handled, ctx: FunctionContext) -> flask.Response:
    """The HTTP answer to ``handled`` (``runtime.invocation``): the failure's status, the reply
    (or the failure event in its place) in binary mode, or 202 when it went to the publisher."""
    logger = logger_for(spec.name)
    reply = handled.reply
    if reply is None:
        if handled.failure is not None:
            return error_response(
                function=spec.name, failure=handled.failure, trace_id=handled.event.trace_id
            )
        logger.debug("handled, no reply")
        return _response(status=202)
    logger.info("reply", extra={"reply_type": reply.type, "reply_id": reply.id})
    if ctx.publish is not None:
        ctx.publish(reply)
        return _response(status=202)
    return event_response(reply)


_TARGETS: dict[str, tuple[FunctionSpec[Any], Callable[[], FunctionContext]]] = {}


def registered_target(name: str) -> tuple[FunctionSpec[Any], Callable[[], FunctionContext]]:
    """The spec and context of the ``http_target`` named ``name`` (``runtime.server``)."""
    return _TARGETS[name]


def http_target(
    spec: FunctionSpec[Any], context: Callable[[], FunctionContext] = default_context
) -> Callable[[flask.Request], flask.Response]:
    """A functions-framework ``http`` target for ``spec``.

    Loaded as functions-framework's source (inside its app context), a broken configuration
    ends the process here, before it serves (``runtime.startup``).
    """
    loaded = sys.modules.get("flask")  # no flask loaded yet: no app context either
    if loaded is not None and loaded.has_app_context():
        startup.require_config(spec.name, context)

    def target(request: flask.Request) -> flask.Response:
        return handle_request(spec, request, context())

    target.__name__ = spec.name.replace("-", "_")
    _TARGETS[target.__name__] = (spec, context)
    return target
