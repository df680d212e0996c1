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
    for key, written in record.items():
        if key not in NOT_RESTORED:
            _restore(obj, key, written, ctx.source.get(key, _MISSING))


def _restore(cleaned: dict[str, Any], key: str, written: Any, original: Any) -> None:
    if original is _MISSING:
        return
    if key not in cleaned:
        agreed = _agreeing(written, original)
        if agreed is not _MISSING:
            cleaned[key] = agreed
        return
    value = cleaned[key]
    if value == written:
        return  # nothing the cleaning removed below (compared in C: most objects stop here)
    if isinstance(value, dict) and isinstance(written, _MAPPING) and isinstance(original, _MAPPING):
        for sub, sub_written in written.items():
            _restore(value, sub, sub_written, original.get(sub, _MISSING))
    elif (
        isinstance(value, list)
        and isinstance(written, list)
        and isinstance(original, list)
        and len(value) == len(written) == len(original)
    ):
        for item, item_written, item_original in zip(value, written, original, strict=True):
            if isinstance(item, dict) and isinstance(item_written, _MAPPING):
                for sub, sub_written in item_written.items():
                    if isinstance(item_original, _MAPPING):
                        _restore(item, sub, sub_written, item_original.get(sub, _MISSING))


def _agreeing(written: Any, original: Any) -> Any:
    """The part of ``written`` the object still holds as written (``_MISSING``: none)."""
    kind = type(written)
    if kind is str or kind is int or kind is bool or kind is float or written is None:
        return written if _same(written, original) else _MISSING  # a scalar is its own copy
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
