"""A function with an invalid configuration refuses to serve, and says why in one line.

Why at start-up and not per event: a configuration error never heals by retrying, so answering
every delivery with a 500 only turns each event into six retries and a dead letter, with the
reason buried in one traceback per request. Instead:

- **functions-framework** (Knative, ``backup2gitops serve``): the source module is executed
  inside the Flask application context that ``functions_framework.create_app`` opens, before the
  server listens. ``runtime.http.http_target`` calls ``require_config`` there, so the process
  logs one line and exits with status 2: the Knative revision never becomes Ready, the previous
  revision keeps serving, and the Broker keeps the events (retries, then dead letter).
  Imported anywhere else (tests, the CLI's in-process runner), nothing is loaded at import.
- **Lambda**: ``runtime.aws_lambda`` calls ``require_config`` on the first invocation (after the
  Secrets Manager ARNs are resolved, which the configuration may name): the one line is logged
  and the invocation fails, so the event is retried and then kept by the on-failure destination.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from backup2gitops.config import CONFIG_ENV, ConfigError
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.logs import logger_for

EXIT_INVALID_CONFIG = 2


def refusal(function: str, error: ConfigError) -> str:
    source = os.environ.get(CONFIG_ENV) or "the embedded defaults"
    # main.py imports all five targets; the container names the one it serves
    function = os.environ.get("FUNCTION_TARGET", "").replace("_", "-") or function
    return f"{function}: invalid configuration ({source}): {error}; refusing to serve"


def checked_context(function: str, context: Callable[[], FunctionContext]) -> FunctionContext:
    """The context; when the configuration is invalid, one CRITICAL line, then ``ConfigError``."""
    try:
        return context()
    except ConfigError as exc:
        logger_for(function).critical(refusal(function, exc))
        raise


def require_config(function: str, context: Callable[[], FunctionContext]) -> FunctionContext:
    """The context, or the process ends with status 2 after the one line (no traceback)."""
    try:
        return checked_context(function, context)
    except ConfigError:
        raise SystemExit(EXIT_INVALID_CONFIG) from None
