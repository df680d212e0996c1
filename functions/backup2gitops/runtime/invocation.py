"""One delivered event, handled the same way whatever the transport.

``runtime.http`` (functions-framework, a Function URL) and ``runtime.aws_lambda`` (S3,
EventBridge, schedules) differ only in how an event arrives and how the outcome is answered.
Between the two, in this one place: the function's span and log context; the envelope's decode
of the input (``runtime.envelopes``), once; the handler; and for anything raised, classify ->
log -> span -> report (``runtime.failures``), once.

``Handled`` says what happened; each transport turns it into its answer:

====================================  ===================  ===================================
what happened                         HTTP                 Lambda
====================================  ===================  ===================================
the input does not decode             400 with the reason  ``UnreadableEvent`` raised: retried,
(``unreadable``)                      (not retried)        then the on-failure destination
the handler failed, a failure event   that event (200)     that event, published
stands in for the status
the handler failed, no event          the status           permanent: ``rejected``; else
                                                           raised (retried, then the
                                                           on-failure destination)
a reply / none                        the reply / 202      published / ``no_reply``
====================================  ===================  ===================================
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TypeVar

from backup2gitops.core.events import Event
from backup2gitops.runtime import failures, tracing
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.envelopes import Arrival
from backup2gitops.runtime.logs import FunctionLogger, event_context, logger_for
from backup2gitops.runtime.spec import FunctionSpec

InputT = TypeVar("InputT")


@dataclass(frozen=True)
class Handled:
    """The outcome of one handled event."""

    event: Event
    """The event as the function saw it (traced: its span's context)."""
    reply: Event | None
    """The reply, or the failure event answered in place of the status."""
    failure: failures.Failure | None = None
    error: BaseException | None = None
    unreadable: bool = False
    """The input did not decode: nothing of the function ran."""

    @property
    def answered_by_status(self) -> bool:
        """True when the failure's status is the answer (no event stands in for it)."""
        return self.failure is not None and self.reply is None


@contextmanager
def invocation(
    spec: FunctionSpec[InputT],
    arrival: Arrival,
    ctx: FunctionContext,
    *,
    headers: dict[str, str] | None = None,
) -> Iterator[tuple[Handled, tracing.FunctionSpan]]:
    """Handle ``arrival`` inside the function's span and log context; the transport answers
    within the block (its publish is part of the span)."""
    logger = logger_for(spec.name)
    event = arrival if isinstance(arrival, Event) else arrival.event
    with tracing.function_span(spec.name, event=event, headers=headers) as span:
        traced = event.traced(span.context)
        arrival = traced if isinstance(arrival, Event) else replace(arrival, event=traced)
        with event_context(logger, traced, span_id=span.context.span_id):
            yield handled(spec, arrival, traced, ctx, span=span, logger=logger), span


def handled(
    spec: FunctionSpec[InputT],
    arrival: Arrival,
    event: Event,
    ctx: FunctionContext,
    *,
    span: tracing.FunctionSpan,
    logger: FunctionLogger,
) -> Handled:
    try:
        data = spec.envelope.read(arrival)
    except Exception as exc:  # noqa: BLE001 - InvalidInput (400), or a bug in a decoder (500)
        failure = failures.noted(exc, logger=logger, span=span)
        return Handled(event, None, failure, exc, unreadable=failure.status == 400)
    try:
        reply = spec.handle(data, ctx)
    except Exception as exc:  # noqa: BLE001 - every failure is classified, none is a 500 by accident
        failure = failures.noted(exc, logger=logger, span=span)
        report = failures.report(
            spec.failure_event, event=data, failure=failure, ctx=ctx, logger=logger
        )
        return Handled(event, report, failure, exc)
    return Handled(event, reply)
