"""What the runtime needs to know about one function: ``FunctionSpec``.

A function declares its input (``envelope``: the model its handler receives, decoded once by
the runtime, ``runtime.envelopes``), its handler, and how its failures are reported
(``failure_event``, given the same decoded input). Both transports (``runtime.http``,
``runtime.aws_lambda``) serve it through ``runtime.invocation``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from backup2gitops.core.events import Event
from backup2gitops.runtime import failures
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.envelopes import Arrival, Envelope, whole_event
from backup2gitops.runtime.logs import logger_for

if TYPE_CHECKING:  # flask is loaded with the first request: a Lambda handler never needs it
    import flask

    from backup2gitops.config import SecretRef

InputT = TypeVar("InputT")

Handler = Callable[[InputT, FunctionContext], Event | None]
"""A function's handler: its decoded input (``FunctionSpec.envelope``) -> the reply, or None."""
PlainEnvelope = Callable[[Any], Arrival]
"""A JSON body that is not a CloudEvent (the raw JSON, the transport's boundary) -> what the
function's envelope reads: backup-complete parses MinIO's webhook body here, once."""
GetRoute = Callable[[FunctionContext, "flask.Request"], "flask.Response"]


@dataclass(frozen=True)
class FunctionSpec(Generic[InputT]):
    """What the runtime needs to know about one function."""

    name: str
    handle: Handler[InputT]
    envelope: Envelope[InputT] = field(default_factory=whole_event)
    """How the handler's input is read from an event (default: the event itself)."""
    plain_json: PlainEnvelope | None = None
    """Turns a non-CloudEvent JSON body into an event (backup-complete: MinIO's webhook)."""
    token: Callable[[FunctionContext], SecretRef | None] | None = None
    """The bearer token callers must present, when one is configured."""
    allow_unauthenticated: Callable[[FunctionContext], bool] = lambda _ctx: False
    """True: serve without a token when none is configured (the demo says so); else refuse."""
    failure_event: failures.FailureEvent[InputT] | None = None
    """The event that reports a failure (``gitops.failed``, ``backup.failed``): see
    ``runtime.failures.report``."""
    get_routes: Mapping[str, GetRoute] = field(default_factory=dict)
    requirements: Callable[[FunctionContext], str | None] | None = None
    """Why the configuration cannot serve this function (a credential it needs is not set), or
    None; checked before serving, on every runtime (Lambda too)."""

    def handle_event(self, event: Event, ctx: FunctionContext) -> Event | None:
        """Decode ``event`` with the envelope and handle it, without a transport: what the CLI
        and in-process tests call (errors are raised, not classified)."""
        return self.handle(self.envelope.read(event), ctx)

    def reply_to(self, event: Event, ctx: FunctionContext) -> Event | None:
        """``handle_event``, and a failure the function reports as an event answered with that
        event, as the runtime answers it (``runtime.failures.report``); anything else raised."""
        received = self.envelope.read(event)
        try:
            return self.handle(received, ctx)
        except Exception as exc:
            failure = failures.classify(exc)
            reported = failures.report(
                self.failure_event,
                event=received,
                failure=failure,
                ctx=ctx,
                logger=logger_for(self.name),
            )
            if reported is None:
                raise
            return reported
