"""AWS Lambda: the same handlers, fed by S3, EventBridge and schedules, replying to EventBridge.

``lambda_adapter(spec)`` is a function's ``lambda_handler``. It turns the Lambda event into an
``Event``, has ``runtime.invocation`` decode and handle it, and puts the reply on the EventBridge
bus named by ``$BACKUP2GITOPS_EVENT_BUS`` with ``events:PutEvents``.

What each Lambda event stands for (S3 notifications, EventBridge events from S3, from our bus,
schedules, EventBridge Scheduler's input), and a reply as the structured CloudEvent a PutEvents
entry carries: ``runtime.lambda_events``.

An event this cannot read (not a JSON object, a malformed S3 notification, an EventBridge event
from a source it does not know), or one whose data does not validate against the function's
input model (``runtime.envelopes``: a ``backup.completed`` without ``backup_id``), is an error,
not a quiet rejection: one ERROR line, the metric's ``outcome: unreadable``, and
``UnreadableEvent`` is raised, so Lambda retries and then puts the event in the on-failure
destination (template.yaml: the dead-letter queue) where it can be read. A notification is
parsed once (``runtime.lambda_events``) and handed to the function's envelope as it is.

Errors are classified by ``runtime.failures``, as over HTTP: a permanent failure is logged and
the invocation succeeds (an async retry would fail the same way; the result says ``rejected``),
unless the function reports it as an event (``gitops.failed``, ``backup.failed``), which is then
published like a reply. A transient failure (and, for the other functions, anything unexpected)
is raised, so Lambda retries and then sends the event to the on-failure destination.

The EventBridge client is injectable (``events_client=``); by default
``adapters.eventbus.EventBridge`` makes a boto3 client on first use.

At cold start: the ``*_SECRET_ARN`` variables are resolved (each optional), the configuration is
loaded (``$BACKUP2GITOPS_CONFIG``, else the packaged ``backup2gitops/config.yaml``:
``lambda_context``) and the function's ``requirements`` are checked; an unmet one fails every
invocation with one CRITICAL line. Every invocation emits one Powertools Metrics record
(``emit_invocation_metric``).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

from backup2gitops.adapters.aws_secrets import resolve_secret_arns
from backup2gitops.adapters.eventbus import EventBridge, EventBridgeError
from backup2gitops.adapters.storage import ObjectStore
from backup2gitops.config import PACKAGED_CONFIG, ConfigError
from backup2gitops.core.errors import InvalidInput, Transient
from backup2gitops.core.events import Event
from backup2gitops.core.notifications import STORAGE_OBJECT
from backup2gitops.runtime import startup, tracing
from backup2gitops.runtime.context import FunctionContext, Publisher, default_context
from backup2gitops.runtime.http import FunctionSpec, handle_request
from backup2gitops.runtime.invocation import invocation
from backup2gitops.runtime.lambda_events import (
    SCHEDULER_SOURCE,
    arrival_from_lambda,
    event_from_lambda,
    from_structured,
    structured,
)
from backup2gitops.runtime.logs import FunctionLogger, logger_for

EVENT_BUS_ENV = "BACKUP2GITOPS_EVENT_BUS"


class UnreadableEvent(InvalidInput):
    """A Lambda event the adapter cannot read: raised (never a quiet ``rejected``), so Lambda
    retries and then delivers it to the on-failure destination, where someone can read it."""


LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def unreadable(logger: FunctionLogger, exc: InvalidInput) -> UnreadableEvent:
    """The error that sends an event nothing can read to the on-failure destination: the
    transport's shape or the function's input model (``runtime.envelopes``) alike."""
    logger.error(
        "unreadable event: raised, so it ends in the on-failure destination",
        extra={"code": exc.code, "error": exc.message},
    )
    return UnreadableEvent(exc.code, exc.message)


def lambda_context() -> FunctionContext:
    """The process-wide context; with ``$BACKUP2GITOPS_CONFIG`` empty, the configuration inside
    the package (``backup2gitops/config.yaml``), so a function cold-starts without one."""
    return default_context(default=PACKAGED_CONFIG)


def lambda_adapter(
    spec: FunctionSpec[Any],
    *,
    context: Callable[[], FunctionContext] = lambda_context,
    events_client: Any = None,
) -> LambdaHandler:
    """A ``lambda_handler(event, lambda_context)`` for ``spec``."""
    bus = EventBus(events_client)
    secrets_resolved: list[bool] = []

    def lambda_handler(raw: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
        outcome = "failed"
        try:
            result = entry(raw, lambda_context)
            outcome = str(result.get("status", "failed"))
            return result
        except UnreadableEvent:
            outcome = "unreadable"
            raise
        finally:
            emit_invocation_metric(spec.name, outcome=outcome)

    def entry(raw: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
        if not secrets_resolved:  # once per cold start, before the context reads the config
            resolve_secret_arns(os.environ)
            secrets_resolved.append(True)
        base = startup.checked_context(spec.name, context)  # invalid: one line, then fail
        unmet = spec.requirements(base) if spec.requirements is not None else None
        unmet = unmet or git_missing(spec.name, base.environ)
        if unmet is not None:  # a credential the configuration needs: one line, then fail
            logger_for(spec.name).critical(unmet)
            raise ConfigError(unmet)
        try:
            if is_function_url(raw):  # GET /health, /status, /metrics (or a POSTed CloudEvent)
                return http_response(spec, raw, base)
            return invoke(raw, base, request_id=getattr(lambda_context, "aws_request_id", None))
        finally:
            tracing.flush()  # the process may be frozen until the next invocation

    def invoke(
        raw: dict[str, Any], base: FunctionContext, *, request_id: str | None
    ) -> dict[str, Any]:
        logger = logger_for(spec.name)
        publish = bus.publisher(base.environ.get(EVENT_BUS_ENV))
        ctx = base if base.publish is not None or publish is None else _Replying(base, publish)
        try:
            arrival = arrival_from_lambda(raw)
        except InvalidInput as exc:
            raise unreadable(logger, exc) from exc
        with invocation(spec, arrival, ctx) as (handled, span):
            event, reply = handled.event, handled.reply
            if handled.unreadable and isinstance(handled.error, InvalidInput):
                raise unreadable(logger, handled.error) from handled.error
            if handled.answered_by_status and handled.failure is not None:
                if not handled.failure.permanent and handled.error is not None:
                    raise handled.error  # Lambda retries, then the on-failure destination
                error = {"code": handled.failure.code, "message": handled.failure.message}
                return {"status": "rejected", "error": error, "trace_id": event.trace_id}
            result: dict[str, Any] = {
                "status": "no_reply",
                "event_id": event.id,
                "trace_id": event.trace_id,
            }
            if request_id:
                result["request_id"] = request_id
            if reply is None:
                logger.debug("handled, no reply")
                return result
            logger.info("reply", extra={"reply_type": reply.type, "reply_id": reply.id})
            span.replied(reply, status=200)
            if ctx.publish is not None:
                ctx.publish(reply)
                return {**result, "status": "published", "reply_id": reply.id}
            logger.warning(f"${EVENT_BUS_ENV} is not set: the reply is only in the result")
            return {**result, "status": "replied", "reply": structured(reply)}

    return lambda_handler


RUNS_GIT = frozenset({"gitops-generator"})
"""The functions that cannot work without a git executable (health-aggregator's git check
reports a missing git itself: /health answers 503 naming it)."""


def git_missing(
    function: str, environ: Mapping[str, str], *, which: Callable[[str], str | None] = shutil.which
) -> str | None:
    """Why ``function`` cannot run here: it runs git and Lambda's python3.12 runtime has none."""
    if function not in RUNS_GIT or environ.get("GIT_PYTHON_GIT_EXECUTABLE") or which("git"):
        return None
    return (
        f"{function} runs git and there is no git on PATH: deploy template-image.yaml (the "
        "image has git), or template.yaml with GitLayerArn naming a Lambda layer that has "
        "bin/git built for Amazon Linux 2023 (README: git on Lambda)"
    )


def emit_invocation_metric(function: str, *, outcome: str) -> None:
    """One CloudWatch embedded-metric-format record per invocation (Powertools Metrics):
    ``Invocations`` = 1 in ``$POWERTOOLS_METRICS_NAMESPACE``, dimensions ``service`` (the
    function) and ``outcome`` (``published``, ``replied``, ``no_reply``, ``rejected``,
    ``failed``: raised, so Lambda retries). Printed to stdout, where Lambda turns it into a
    metric: no API call, no permission. Nothing without a namespace (outside the stack).

    Powertools keeps metrics in class-level state shared by every ``Metrics`` instance, so the
    record is flushed here, within the invocation that made it."""
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE")
    if not namespace:
        return
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit

    metrics = Metrics(namespace=namespace, service=function)
    metrics.add_dimension(name="outcome", value=outcome)
    metrics.add_metric(name="Invocations", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()


def is_function_url(raw: Any) -> bool:
    """A Lambda Function URL (or API Gateway HTTP API) request, payload format 2.0."""
    return (
        isinstance(raw, dict)
        and raw.get("version") == "2.0"
        and "http" in raw.get("requestContext", {})
    )


def http_response(
    spec: FunctionSpec[Any], raw: dict[str, Any], ctx: FunctionContext
) -> dict[str, Any]:
    """Serve a Function URL request with the same HTTP handling as functions-framework."""
    import flask  # only Function URL requests (health-aggregator's GET /health) need it

    body: str | bytes = raw.get("body") or ""
    if raw.get("isBase64Encoded"):
        body = base64.b64decode(body)
    app = flask.Flask(spec.name)
    with app.test_request_context(
        raw.get("rawPath") or "/",
        method=raw["requestContext"]["http"].get("method", "GET"),
        headers=raw.get("headers") or {},
        query_string=raw.get("rawQueryString") or "",
        data=body,
    ):
        response = handle_request(spec, flask.request, ctx)
    return {
        "statusCode": response.status_code,
        "headers": {k: v for k, v in response.headers.items() if k.lower() != "content-length"},
        "body": response.get_data(as_text=True),
    }


class EventBus:
    """Replies to one EventBridge bus: the CloudEvent, structured, as the entry's detail."""

    def __init__(self, client: Any = None) -> None:
        self.bridge = EventBridge(client)

    def publisher(self, bus_name: str | None) -> Publisher | None:
        if not bus_name:
            return None

        def publish(event: Event) -> None:
            self.put(event, bus_name=bus_name)

        return publish

    def put(self, event: Event, *, bus_name: str) -> None:
        try:
            self.bridge.put(
                bus_name=bus_name,
                source=event.source,
                detail_type=event.type,
                detail=json.dumps(structured(event)),
                time=event.time,
            )
        except EventBridgeError as exc:
            raise Transient("publish_failed", str(exc)) from exc


class _Replying(FunctionContext):
    """The process-wide context, with replies going to the bus; adapters stay shared."""

    def __init__(self, base: FunctionContext, publish: Publisher) -> None:
        super().__init__(base.config, publish=publish, environ=base.environ, clock=base.clock)
        self._base = base

    @cached_property
    def store(self) -> ObjectStore:
        return self._base.store


__all__ = [
    "EVENT_BUS_ENV",
    "SCHEDULER_SOURCE",
    "STORAGE_OBJECT",
    "EventBus",
    "UnreadableEvent",
    "arrival_from_lambda",
    "event_from_lambda",
    "from_structured",
    "git_missing",
    "lambda_adapter",
    "lambda_context",
    "structured",
]
