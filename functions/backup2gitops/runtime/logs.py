"""Structured JSON logs (aws-lambda-powertools Logger), one logger per function.

Each line carries the function name and, while an event is handled, its id, type, cluster and
trace and span ids (thread-safe keys: functions-framework serves with several threads).

The same Logger on Knative as on Lambda, measured (docs/decisions.md, "Hand-written, and why";
benchmarks/bench_handwritten.py): against a standard-library logger, importing it costs each
function ~48 more modules, under 1 MB of RSS and CPU time within the run-to-run noise (~23 ms
by ``python -X importtime`` on a quiet machine, once per cold start); the
"botocore" it imports is that package's ``__init__`` only, not boto3's clients (the storage
adapter imports those on first use either way). Not worth a second logger and format.

Built lazily (issue 21: a handler's import builds no logger): ``logger_for`` returns a
``FunctionLogger`` that imports Powertools and builds its ``Logger`` at the first call on it,
so a function's module, which names its logger at import, loads neither. Every call is
Powertools' own bound method (``FunctionLogger.__getattr__``): the ``location`` a line reports
is the caller's, as when the ``Logger`` is called directly.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

    from backup2gitops.core.events import Event


class LazyLogger:
    """Powertools' ``Logger`` for one function, built (and Powertools imported) at the first
    attribute read; what ``logger_for`` returns, typed as the ``Logger`` it stands for."""

    def __init__(self, function: str) -> None:
        self._function = function
        self._logger: Logger | None = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.built(), name)

    def built(self) -> Logger:
        if self._logger is None:
            with self._lock:
                if self._logger is None:
                    self._logger = _powertools_logger(self._function)
        return self._logger


if TYPE_CHECKING:
    FunctionLogger = Logger
    """The logger type a function logs with (Powertools' structured JSON logger)."""
else:
    FunctionLogger = LazyLogger  # what it is at run time; the type checker sees the Logger


def _powertools_logger(function: str) -> Logger:
    from aws_lambda_powertools import Logger

    # stderr: stdout belongs to the CLI's own output (``demo --json`` prints one object).
    return Logger(
        service=f"backup2gitops.{function}",
        level=os.environ.get("BACKUP2GITOPS_LOG_LEVEL", os.environ.get("LOG_LEVEL", "INFO")),
        logger_handler=logging.StreamHandler(sys.stderr),
    )


_loggers: dict[str, LazyLogger] = {}
_registering = threading.Lock()


def _lazy(function: str) -> LazyLogger:
    with _registering:
        if function not in _loggers:
            _loggers[function] = LazyLogger(function)
        return _loggers[function]


def logger_for(function: str) -> FunctionLogger:
    """The function's logger (one per function); Powertools' ``Logger`` is built at its first
    use, not here: a function's module names its logger at import."""
    return cast("FunctionLogger", _lazy(function))


def built_logger(function: str) -> Logger:
    """The function's Powertools ``Logger``, built now (``cli.demo`` replaces its handler)."""
    return _lazy(function).built()


@contextlib.contextmanager
def event_context(
    logger: FunctionLogger, event: Event, *, span_id: str | None = None
) -> Iterator[None]:
    """Log keys while ``event`` is handled; ``span_id`` is the handling span's (runtime.tracing)."""
    keys = {
        "event_id": event.id,
        "event_type": event.type,
        "cluster": event.cluster,
        "trace_id": event.trace_id,
        "span_id": span_id,
    }
    logger.thread_safe_append_keys(**{k: v for k, v in keys.items() if v})
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(list(keys))
