"""Structured JSON logs (aws-lambda-powertools Logger), one logger per function.

Each line carries the function name and, while an event is handled, its id, type, cluster and
trace and span ids (thread-safe keys: functions-framework serves with several threads).

The same Logger on Knative as on Lambda, measured (docs/decisions.md, "Hand-written, and why";
benchmarks/bench_handwritten.py): against a standard-library logger, importing it costs each
function ~48 more modules, under 1 MB of RSS and CPU time within the run-to-run noise (~23 ms
by ``python -X importtime`` on a quiet machine, once per cold start); the
"botocore" it imports is that package's ``__init__`` only, not boto3's clients (the storage
adapter imports those on first use either way). Not worth a second logger and format.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

from aws_lambda_powertools import Logger

from backup2gitops.core.events import Event

FunctionLogger = Logger
"""The logger type a function logs with (Powertools' structured JSON logger)."""

_loggers: dict[str, Logger] = {}


def logger_for(function: str) -> Logger:
    if function not in _loggers:
        # stderr: stdout belongs to the CLI's own output (``demo --json`` prints one object).
        _loggers[function] = Logger(
            service=f"backup2gitops.{function}",
            level=os.environ.get("BACKUP2GITOPS_LOG_LEVEL", os.environ.get("LOG_LEVEL", "INFO")),
            logger_handler=logging.StreamHandler(sys.stderr),
        )
    return _loggers[function]


@contextlib.contextmanager
def event_context(logger: Logger, event: Event, *, span_id: str | None = None) -> Iterator[None]:
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
