"""The status page: a ``StatusReport`` as one HTML document.

Pure: no I/O beyond reading its own template from the package. ``render`` is a function of the
report alone, the same model ``/status`` dumps as JSON, so the page shows nothing the JSON does
not, and nothing redacted there appears here.

Jinja2 with autoescape on (every value is escaped; there is no ``|safe`` in the template) and
``StrictUndefined`` (a misspelt field is an error in the tests, not an empty cell). No
JavaScript: the handler sends a Content-Security-Policy that forbids scripts; the page refreshes
itself with a ``<meta http-equiv="refresh">``. Narrow screens
(a phone at 360 px) get each table row as a stacked card, labelled from ``data-label``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from importlib import resources

import jinja2

from backup2gitops.core.status import StatusReport, short_duration

TEMPLATE = "status_page.html"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _ms(value: float) -> str:
    return f"{value:.0f} ms"


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(when=_when, iso=_iso, dur=short_duration, ms=_ms)
    source = resources.files("backup2gitops.core").joinpath(TEMPLATE).read_text(encoding="utf-8")
    return env.from_string(source)


REFRESH_S = 60
"""How often the page reloads itself (``<meta http-equiv="refresh">``: no script); the
measurement behind it is cached for ``health.metrics_cache_s`` (60 s by default)."""


def render(report: StatusReport, *, refresh_s: int = REFRESH_S) -> str:
    """The page for ``report`` (UTF-8 text, ``text/html``), reloading every ``refresh_s``."""
    return _template().render(report=report, refresh_s=refresh_s)
