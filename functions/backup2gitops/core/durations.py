"""Durations as configuration gives them: Go-style (``26h``, ``90m``, ``1h30m``, as kubectl,
Velero and Flux write them) or ISO 8601 (``PT26H``, ``P1D``, as pydantic reads them).

Go's units stop at hours: ``7d`` is refused with the ``168h`` (or ``P7D``) it means, rather
than guessed; a bare number is seconds (pydantic's reading, kept).
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cache
from typing import Annotated, Any

from pydantic import BeforeValidator, TypeAdapter, ValidationError

_GO_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_GO_DURATION = re.compile(rf"^(?:{_GO_PART.pattern})+$")
_DAYS = re.compile(r"^(\d+)d$")

FORMS = "Go-style (26h, 90m, 1h30m) or ISO 8601 (PT26H, P1D)"


@cache
def _iso() -> TypeAdapter[timedelta]:
    """pydantic's own ``timedelta`` reading (ISO 8601, numbers), built when first asked for:
    not at import, which would make it the process's first pydantic schema."""
    return TypeAdapter(timedelta)


def go_duration(text: str) -> timedelta | None:
    """``26h`` -> 26 hours; None when ``text`` is not a Go duration (``time.ParseDuration``)."""
    if not _GO_DURATION.match(text):
        return None
    seconds = sum(float(number) * _GO_UNITS[unit] for number, unit in _GO_PART.findall(text))
    return timedelta(seconds=seconds)


def parse_duration_value(value: Any) -> Any:
    """A Go-style string as a ``timedelta``; anything else to pydantic's own ISO/number reading,
    with one message naming both forms when neither reads it."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    found = go_duration(text)
    if found is not None:
        return found
    days = _DAYS.match(text)
    if days:
        hours = int(days.group(1)) * 24
        raise ValueError(
            f"{text!r}: a Go duration has no days: write {hours}h (or ISO P{days.group(1)}D)"
        )
    try:
        return _iso().validate_python(text)
    except ValidationError:
        raise ValueError(f"not a duration: {text!r} (want {FORMS})") from None


Duration = Annotated[timedelta, BeforeValidator(parse_duration_value)]
"""A configuration duration: Go-style or ISO 8601 (see the module)."""
