"""``GET /status`` and ``GET /``: who may read the status, and in which form.

Only HTTP here; the facts are ``core.status.StatusReport`` and the page is
``core.status_page.render`` of that same model.

- Form: ``/`` is the page. ``/status`` is JSON unless the request's ``Accept`` prefers
  ``text/html`` (a browser's ``text/html,...,*/*;q=0.8``): ``*/*``, no ``Accept`` and
  ``application/json`` get JSON, and of two types with the same quality JSON wins. Both
  answers say ``Vary: Accept``. 503 when the report is unhealthy, 200 otherwise, in both forms.
- Access: with ``health.status_token`` set, both need ``Authorization: Bearer <token>``
  (compared in constant time, ``runtime.http.check_token``); otherwise 401 with
  ``WWW-Authenticate: Bearer`` and the usual error body, before anything is measured. A
  reference that names no value (variable unset, file gone) refuses everyone: fail closed.
  ``/health``, ``/metrics`` and the ``/healthz`` probes are not guarded.
- The page's headers forbid scripts and framing (Content-Security-Policy), sniffing, caching
  and referrers (the commit links lead off-site).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Literal

from backup2gitops.core import status_page
from backup2gitops.core.errors import Unauthorized
from backup2gitops.core.status import StatusReport
from backup2gitops.runtime import failures
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import check_token, error_response

if TYPE_CHECKING:
    import flask

NAME = "health-aggregator"
JSON: Final = "application/json"
HTML: Final = "text/html"
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "img-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Vary": "Accept, Authorization",
}


def preferred(request: flask.Request) -> Literal["application/json", "text/html"]:
    """JSON unless ``Accept`` ranks ``text/html`` above it (werkzeug's quality and specificity
    rules; on a tie the first of our list, JSON, wins)."""
    best = request.accept_mimetypes.best_match([JSON, HTML], default=JSON)
    return HTML if best == HTML else JSON


def authorize(ctx: FunctionContext, request: flask.Request) -> None:
    """Raise ``Unauthorized`` unless the status may be read by this request."""
    ref = ctx.config.health.status_token
    if ref is not None:
        check_token(ref, request.headers.get("Authorization"), ctx)


def respond(
    request: flask.Request,
    *,
    ctx: FunctionContext,
    report: Callable[[], StatusReport],
    page: bool,
) -> flask.Response:
    from flask import Response

    try:
        authorize(ctx, request)
    except Unauthorized as exc:
        refused = error_response(function=NAME, failure=failures.classify(exc))
        refused.headers["WWW-Authenticate"] = 'Bearer realm="backup2gitops status"'
        refused.headers["Vary"] = PAGE_HEADERS["Vary"]
        return refused
    measured = report()
    code = 503 if measured.status == "unhealthy" else 200
    if page or preferred(request) == HTML:
        return Response(
            status_page.render(measured),
            status=code,
            mimetype=HTML,
            headers=PAGE_HEADERS,
        )
    body = json.dumps(measured.model_dump(mode="json"))
    return Response(
        body,
        status=code,
        mimetype=JSON,
        headers={"Vary": PAGE_HEADERS["Vary"], "Cache-Control": "no-store"},
    )
