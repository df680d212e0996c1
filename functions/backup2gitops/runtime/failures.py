"""How a failure is answered: the one map from an exception to an HTTP status and a catalog code.

Every transport (``runtime.http``, ``runtime.aws_lambda``, the local broker's ingress) asks
``classify``; no handler and no other module decides a status for an error it did not raise
as a ``FunctionError``. Classify -> log -> span is ``noted``, called from ``runtime.invocation``
(the handler's failures, for HTTP and Lambda alike) and from the HTTP refusals before an event
exists; handlers raise and never build their failure event themselves.

=====================================  ======  ==========================================
what was raised                        status  why
=====================================  ======  ==========================================
``InvalidInput`` (malformed event)     400     never succeeds; Knative does not retry it
``Unauthorized`` (webhook token)       401     MinIO keeps the event queued and retries
``MethodNotAllowed``                   405     never succeeds (``Allow`` says what does)
``BodyTimeout`` (body withheld)        408     the client may send it again, faster
``TooLarge`` (request body)            413     never succeeds
``Rejected`` (claims disagree, ...)    422     never succeeds
any other permanent ``Backup2Gitops-   422     never succeeds (an object name that cannot
Error`` (UnsafeName, ArchiveError...)          be a path, a tarball that cannot be read)
``Conflict`` (work in progress)        409     Knative retries it
``Transient``                          503     Knative retries it
any other transient ``Backup2Gitops-   503     a dependency may recover (storage, git, kube)
Error`` (StorageError, GitError...)
anything else (a bug, until shown      500     ``code: internal``; the traceback is logged,
otherwise)                                     never sent
=====================================  ======  ==========================================

Functions that report their failures as events (``FunctionSpec.failure_event``:
gitops-generator's ``gitops.failed``, cluster-backup's ``backup.failed``) never let a failure
reach the dead-letter sink unannounced. Given the input the runtime decoded (an input that did
not decode is a 400: there is nothing to report about), ``report`` turns:

- a permanent failure, or an unexpected exception, into that event, answered in place of the
  status (``retryable: false``): the Broker routes it to alert-router and does not retry;
- a transient failure (503) into that event with ``retryable: true``, published to
  ``ctx.publish`` when there is one, beside the status the Broker retries.

A malformed event (400), a refused token (401), a method not answered (405), a body that did not
come in time (408), a body over the limit (413) and work in progress elsewhere (409) are answered
with their status alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from backup2gitops.core.errors import Backup2GitopsError, FunctionError
from backup2gitops.core.events import Event
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.logs import FunctionLogger as Logger

if TYPE_CHECKING:
    from backup2gitops.runtime.tracing import FunctionSpan

INTERNAL = "internal"
_ANSWERED_BY_STATUS = frozenset({400, 401, 405, 408, 409, 413})


@dataclass(frozen=True)
class Failure:
    """A classified failure: what the caller is told, and whether a retry may help."""

    code: str
    message: str
    status: int
    permanent: bool
    expected: bool
    """False for an exception that is not a ``Backup2GitopsError``: a bug until shown otherwise."""
    error: BaseException | None = field(default=None, compare=False, repr=False)
    """What was raised: a function's failure event may read its own error type's fields
    (cluster-backup: the backup it could not write). Never sent anywhere."""


InputT = TypeVar("InputT")

FailureEvent = Callable[[InputT, Failure, FunctionContext], Event | None]
"""Builds the event that reports ``failure`` of the function's input (decoded by its envelope,
``runtime.envelopes``: never parsed again here); None when the input names no backup."""


def classify(exc: BaseException) -> Failure:
    """The status and catalog code of ``exc`` (the table in the module docstring)."""
    if isinstance(exc, FunctionError):
        return Failure(exc.code, exc.message, exc.status, exc.permanent, expected=True, error=exc)
    if isinstance(exc, Backup2GitopsError):
        status = 422 if exc.permanent else 503
        return Failure(exc.code, exc.message, status, exc.permanent, expected=True, error=exc)
    return Failure(
        INTERNAL,
        f"unexpected {type(exc).__name__}; see the function's logs",
        500,
        permanent=False,
        expected=False,
        error=exc,
    )


def log(logger: Logger, failure: Failure, exc: BaseException) -> None:
    fields = {"code": failure.code, "error": failure.message, "status": failure.status}
    if not failure.expected:
        logger.error("unexpected error", exc_info=exc, extra=fields)
    elif failure.status < 500:
        logger.warning("failed", extra=fields)
    else:
        logger.error("failed", extra=fields)


def noted(exc: BaseException, *, logger: Logger, span: FunctionSpan) -> Failure:
    """Classify ``exc``, log it and mark the span failed: the one place both transports (and
    every refusal before an event exists) turn an exception into a ``Failure``."""
    failure = classify(exc)
    log(logger, failure, exc)
    span.failed(code=failure.code, status=failure.status, message=failure.message)
    return failure


def report(
    failure_event: FailureEvent[InputT] | None,
    *,
    event: InputT | None,
    failure: Failure,
    ctx: FunctionContext,
    logger: Logger,
) -> Event | None:
    """The event to answer with in place of ``failure.status``, or None to answer the status.

    A transient failure's event is published (when there is a publisher) and None returned:
    the status is what makes the Broker retry.
    """
    if failure_event is None or event is None or failure.status in _ANSWERED_BY_STATUS:
        return None
    try:
        announcement = failure_event(event, failure, ctx)
    except Exception:  # the report of a failure must not turn into another failure
        logger.exception("cannot build the failure event")
        return None
    if announcement is None:
        return None
    if failure.expected and not failure.permanent:
        if ctx.publish is not None:
            try:
                ctx.publish(announcement)
            except Exception as exc:  # noqa: BLE001 - the status still goes out
                logger.warning("failure event not published", extra={"error": str(exc)})
        return None
    return announcement


def retryable(failure: Failure) -> bool:
    """What a failure event says: a retry happens (the Broker's, on the status) and may help."""
    return failure.expected and not failure.permanent
