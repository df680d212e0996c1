"""What a person wrote stays, defaults included: the last rule put back what they applied.

Pure: no I/O; only the standard library.

The kind rules drop a value when it equals its API default; most of them cannot tell whether
the person wrote it (``terminationGracePeriodSeconds: 30`` in their manifest). The record of
what they applied can: the last-applied configuration of ``kubectl apply``, or the fields
server-side appliers own (``RuleContext.last_applied``, controllers' applies left out). This
rule walks that record and puts back, below the top level (never ``metadata`` or ``status``),
each value the cleaning removed that the object still holds exactly as applied. A value
applied once but changed since (by ``kubectl edit``, a controller) is not put back: the object
is the truth, the record only says who wrote what it holds.

Lists are walked item by item only when the record, the object and the cleaned copy have the
same length (a list the rules shortened, like a Pod's admission-added tolerations, is left as
the rules made it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from backup2gitops.core.cleaning.context import RuleContext
from backup2gitops.core.cleaning.fresh import copied

_MAPPING: Final = (dict, Mapping)  # a dict first: isinstance answers it without the ABC's check

_MISSING: Final = object()
NOT_RESTORED: Final = frozenset({"apiVersion", "kind", "metadata", "status"})


def restore_written(obj: dict[str, Any], ctx: RuleContext) -> None:
    record = ctx.last_applied
    if not isinstance(record, _MAPPING) or ctx.source is None:
        return
    _restore_into(obj, record, ctx.source, skipped=NOT_RESTORED)


def _restore_into(
    cleaned: dict[str, Any],
    written: Mapping[str, Any],
    original: Mapping[str, Any],
    skipped: frozenset[str] = frozenset(),
) -> None:
    """Put back into ``cleaned`` what ``written`` holds, the object (``original``) still holds
    as written, and the cleaning removed; one loop per mapping, a call only where they differ.
    ``written`` may be ``original`` itself (the Apply-owned fields of a node owned whole,
    ``applied_fields``): then each key's original is its written value, not looked up."""
    same = written is original
    for key, sub_written in written.items():
        if key in skipped:
            continue
        sub_original = sub_written if same else original.get(key, _MISSING)
        if sub_original is _MISSING:
            continue
        value = cleaned.get(key, _MISSING)
        if value is _MISSING:
            if same:
                kind = type(sub_written)
                if kind is str or kind is int or kind is bool or sub_written is None:
                    cleaned[key] = sub_written  # equal to itself: ``_agreeing``'s answer
                    continue
            agreed = _agreeing(sub_written, sub_original)
            if agreed is not _MISSING:
                cleaned[key] = agreed
        elif value == sub_written:
            continue  # nothing the cleaning removed below (compared in C: most keys stop here)
        elif isinstance(value, dict):
            if isinstance(sub_written, _MAPPING) and isinstance(sub_original, _MAPPING):
                _restore_into(value, sub_written, sub_original)
        elif (
            isinstance(value, list)
            and isinstance(sub_written, list)
            and isinstance(sub_original, list)
            and len(value) == len(sub_written) == len(sub_original)
        ):
            for item, item_written, item_original in zip(
                value, sub_written, sub_original, strict=True
            ):
                if (
                    isinstance(item, dict)
                    and isinstance(item_written, _MAPPING)
                    and isinstance(item_original, _MAPPING)
                ):
                    _restore_into(item, item_written, item_original)


def _agreeing(written: Any, original: Any) -> Any:
    """The part of ``written`` the object still holds as written (``_MISSING``: none)."""
    kind = type(written)
    if kind is str or kind is int or kind is bool or kind is float or written is None:
        return written if _same(written, original) else _MISSING  # a scalar is its own copy
    if kind is list:  # no mapping: asked before ``Mapping``'s check, in Python
        return copied(written) if _same(written, original) else _MISSING
    if isinstance(written, _MAPPING) and isinstance(original, _MAPPING):
        result = {}
        for key, sub in written.items():
            if key in original:
                agreed = _agreeing(sub, original[key])
                if agreed is not _MISSING:
                    result[key] = agreed
        return result if result or not written else _MISSING
    if _same(written, original):
        return copied(written)
    return _MISSING


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    return bool(left == right)
