"""Small in-place operations the cleaning rules share: drop a field when it equals a default.

Pure: no I/O; only the standard library. Every function here works on the rule's own copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, Final

MAPPING: Final = (dict, Mapping)
"""``isinstance(value, MAPPING)``: a dict is answered at once, the ABC's check (90 ns) only
for other types."""
_MAPPING: Final = MAPPING
_EMPTY_VALUES: Final[tuple[dict[str, Any], list[Any], None]] = (
    {},
    [],
    None,
)  # compared with, never handed out


def drop_defaults(target: MutableMapping[str, Any], defaults: Mapping[str, Any]) -> None:
    """Remove every key of ``target`` whose value equals the one in ``defaults``."""
    for key, value in defaults.items():
        if key in target and _same(target[key], value):
            del target[key]


def drop_unwritten(
    target: MutableMapping[str, Any], defaults: Mapping[str, Any], written: Any
) -> None:
    """Remove the values of ``target`` that equal their default and that the person did not
    write; nested defaults field by field, so ``{maxSurge: 1, maxUnavailable: 25%}`` keeps
    ``maxSurge: 1`` only.

    ``written`` is the counterpart of ``target`` in what a person applied (the last-applied
    configuration or the Apply-owned fields), None when there is no record at all: then every
    default goes, as applying the result gives the same stored object."""
    for key, value in defaults.items():
        if key not in target:
            continue
        if isinstance(written, _MAPPING) and key in written:
            inner = written[key]
            if isinstance(value, dict) and value and isinstance(target[key], dict):
                drop_unwritten(target[key], value, inner if isinstance(inner, _MAPPING) else {})
            continue
        below: Mapping[str, Any] | None = {} if written is not None else None
        if isinstance(value, dict) and value and isinstance(target[key], dict):
            drop_unwritten(target[key], value, below)
            if not target[key]:
                del target[key]
        elif _same(target[key], value):
            del target[key]


def written_part(written: Any, *keys: str) -> Any:
    """``written[keys[0]][keys[1]]...``: {} where a record exists but lacks it, None with none."""
    for key in keys:
        if written is None:
            return None
        written = written.get(key, {}) if isinstance(written, _MAPPING) else {}
    return written


def drop_if_empty(target: MutableMapping[str, Any], keys: Iterable[str]) -> None:
    """Remove each of ``keys`` whose value is an empty dict or list (or null)."""
    for key in keys:
        if key in target and target[key] in _EMPTY_VALUES:
            del target[key]


def as_dict(value: Any) -> dict[str, Any] | None:
    """``value`` if it is a dict, else None (a rule never trusts the shape of its input)."""
    return value if isinstance(value, dict) else None


def dicts(value: Any) -> list[dict[str, Any]]:
    """The dict items of ``value`` if it is a list, else []."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _same(actual: Any, default: Any) -> bool:
    # bool is an int in Python: `1 == True`; a default of True must not match 1.
    if isinstance(actual, bool) != isinstance(default, bool):
        return False
    return bool(actual == default)
