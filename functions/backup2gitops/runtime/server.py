"""The HTTP server of the image and of ``backup2gitops serve``: functions-framework's Flask app
under gunicorn's threaded worker, with the edge that worker lacks (``runtime.edge_worker``).

    python -m backup2gitops.runtime.server --source main.py --target backup_complete

What functions-framework runs by itself (``functions-framework --source ...``) is gunicorn's
``gthread`` worker with ``4 x CPUs`` threads, no header or body deadline, and a thread committed
to each connection as soon as its first byte arrives (issue 22); and functions-framework reads
the whole body after every response, even one that refused it. This module launches the same
app without that hook, under ``EdgeWorker``, with the target's deadlines, body limit and header
screen (``edge_settings``) from its configuration.

gunicorn's own settings (``THREADS``, ``WORKERS``, ``CLOUD_RUN_TIMEOUT_SECONDS``) keep their
functions-framework meaning.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from backup2gitops.runtime.edge_reading import Head
from backup2gitops.runtime.edge_worker import EdgeSettings, EdgeWorker
from backup2gitops.runtime.failures import Failure
from backup2gitops.runtime.http import MethodNotAllowed, refusal_from_headers, registered_target

if TYPE_CHECKING:
    import flask

__all__ = ["create_function_app", "edge_settings", "main", "serve"]


def create_function_app(target: str, source: str | Path) -> flask.Flask:
    """functions-framework's app for ``target`` in ``source``, without its ``read_request``
    hook, which reads the whole body after every response -- one the token refused too."""
    import functions_framework

    app: flask.Flask = functions_framework.create_app(  # type: ignore[no-untyped-call]
        target, str(source), "http"
    )
    hooks = app.after_request_funcs.get(None, [])
    if functions_framework.read_request in hooks:
        hooks.remove(functions_framework.read_request)
    return app


def edge_settings(target: str) -> EdgeSettings:
    """The deadlines and limits of ``target`` from its configuration, and its header screen."""
    try:
        spec, context = registered_target(target)
    except KeyError:  # not a runtime.http target: the limits by default, no screen
        from backup2gitops.config import HttpConfig

        http = HttpConfig()
        return EdgeSettings(
            target, http.header_timeout_seconds, http.body_timeout_seconds, http.max_body_bytes
        )
    http = context().config.http

    def screen(head: Head) -> tuple[Failure, dict[str, str]] | None:
        if head.method in ("GET", "HEAD"):
            return None  # probes and pages: the app answers them
        refusal = refusal_from_headers(spec, context(), method=head.method, headers=head.headers)
        if refusal is None:
            return None
        failure = Failure(refusal.code, refusal.message, refusal.status, True, expected=True)
        return failure, {"Allow": refusal.allow} if isinstance(refusal, MethodNotAllowed) else {}

    return EdgeSettings(
        function=target,
        header_timeout_s=http.header_timeout_seconds,
        body_timeout_s=http.body_timeout_seconds,
        max_body_bytes=http.max_body_bytes,
        screen=screen,
    )


def serve(target: str, source: str | Path, *, host: str, port: int) -> None:
    app = create_function_app(target, source)
    EdgeWorker.settings = edge_settings(target)
    from functions_framework._http.gunicorn import GunicornApplication

    server = GunicornApplication(  # type: ignore[no-untyped-call]
        app,
        host,
        port,
        False,
        worker_class=EdgeWorker,  # the class whose settings were just set
    )
    server.run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m backup2gitops.runtime.server",
        description="serve one function's http target (functions-framework's app, gunicorn)",
    )
    parser.add_argument("--source", default=os.environ.get("FUNCTION_SOURCE", "main.py"))
    parser.add_argument("--target", default=os.environ.get("FUNCTION_TARGET"))
    parser.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))  # noqa: S104
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    args = parser.parse_args(argv)
    if not args.target:
        parser.error("--target or $FUNCTION_TARGET is required")
    serve(args.target, args.source, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
