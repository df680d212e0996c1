"""The one error model: every error this package raises on purpose derives from ``Backup2GitopsError``.

Pure: no I/O. An error carries a machine-readable ``code`` (the one that reaches the error body
and the ``code`` of ``backup.failed`` / ``gitops.failed``), a ``message`` safe to log and put in
an event (no credentials), and whether it is ``permanent``: the same input will fail the same
way (not retried), or a retry may help (``retryable``).

``FunctionError`` and its four kinds name the HTTP status themselves; any other ``Backup2GitopsError`` is
mapped by its permanence. That mapping, and the one for exceptions that are not ours, lives in
one place: ``backup2gitops.runtime.failures`` (Knative retries 5xx, 404, 408, 409 and 429, never
another 4xx; Lambda retries what is raised).
"""

from __future__ import annotations


class Backup2GitopsError(Exception):
    """An error raised on purpose: a ``code``, a safe ``message``, and whether it is permanent."""

    code: str = "error"
    permanent: bool = True

    def __init__(self, message: str, *, code: str | None = None, permanent: bool | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if permanent is not None:
            self.permanent = permanent

    @property
    def retryable(self) -> bool:
        """Whether trying the same thing again may succeed."""
        return not self.permanent


class FunctionError(Backup2GitopsError):
    """An error whose HTTP status a handler chooses: it tells a broker what to do."""

    status: int = 500
    permanent = False

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


class InvalidInput(FunctionError):
    """The input is malformed and will never succeed: 400, not retried."""

    status = 400
    permanent = True


class Unauthorized(FunctionError):
    """Missing or wrong webhook token: 401. MinIO keeps the event queued and retries."""

    status = 401
    permanent = True


class Rejected(FunctionError):
    """A well-formed event that cannot be carried out, ever: its claims disagree with the
    bucket, or what it names cannot be written. 422, not retried; where a function reports
    failures as events (gitops-generator, cluster-backup) it becomes that event instead."""

    status = 422
    permanent = True


class TooLarge(FunctionError):
    """The request body is larger than the configured limit: 413, not retried."""

    status = 413
    permanent = True


class Conflict(FunctionError):
    """Someone else is doing the same work right now: 409, which Knative retries."""

    status = 409
    permanent = False


class Transient(FunctionError):
    """A dependency failed in a way a retry may fix: 503, retried."""

    status = 503
    permanent = False
