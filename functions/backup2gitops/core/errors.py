"""The error taxonomy every handler raises, and how a broker must treat each.

Pure: no I/O. The runtime maps these to HTTP status codes (Knative retries 5xx, 404, 408,
409 and 429; it never retries other 4xx) and to Lambda failures.
"""

from __future__ import annotations


class FunctionError(Exception):
    """A machine-readable ``code`` and the HTTP status that tells a broker what to do."""

    status: int = 500
    retryable: bool = True

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class InvalidInput(FunctionError):
    """The input will never succeed: 400, not retried."""

    status = 400
    retryable = False


class Unauthorized(FunctionError):
    """Missing or wrong webhook token: 401. MinIO keeps the event queued and retries."""

    status = 401
    retryable = False


class Conflict(FunctionError):
    """Someone else is doing the same work right now: 409, which Knative retries."""

    status = 409
    retryable = True


class Transient(FunctionError):
    """A dependency failed in a way a retry may fix: 503, retried."""

    status = 503
    retryable = True
