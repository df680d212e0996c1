"""The object the cleaning rules edit: built once, fresh, from the one read from the backup.

Pure: no I/O; only the standard library.

Objects come from ``json.loads``: dicts, lists, str, int, float, bool and None. The object,
less the two subtrees below, goes through one ``marshal`` C round trip (format 2, which has no
back-references: two equal subtrees never become one shared object), a fifth less CPU than two
comprehensions and a fraction of ``copy.deepcopy`` (no memo dictionary, no ``__reduce_ex__``
dispatch). When marshal refuses a part of it (a subclass, another type), each top-level subtree
goes through the round trip alone, the comprehensions copy what marshal still refuses, and
anything else a caller passes in (a custom mapping) is deep-copied, so the contract of ``neat``
holds for every input: the object given is never modified
(tests/unit/cleaning/test_cleaning_fast_paths.py holds the copies equal).

Two subtrees are not copied at all because ``metadata.clean_common`` drops them from every
object, known kind or not: the top-level ``status`` and ``metadata.managedFields`` (often the
largest part of what the API server returns). Kind rules therefore never see them; a decision
that needs them belongs to the exclusions, which read the object as it was backed up.
"""

from __future__ import annotations

import copy
import marshal
from collections.abc import Mapping
from typing import Any, Final

NOT_COPIED: Final[tuple[str, str]] = ("status", "managedFields")
_dumps: Final = marshal.dumps
_loads: Final = marshal.loads


def fresh_copy(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A new object equal to ``obj`` without ``status`` and ``metadata.managedFields``: the
    object without them, shallow, through one marshal round trip; subtree by subtree
    (``_tree``) when marshal refuses a part of it."""
    shallow = {key: value for key, value in obj.items() if key != "status"}
    metadata = obj.get("metadata")
    if type(metadata) is dict:
        shallow["metadata"] = {
            key: value for key, value in metadata.items() if key != "managedFields"
        }
    try:
        copy_: dict[str, Any] = _loads(_dumps(shallow, 2))
    except ValueError:  # a type marshal refuses somewhere (or nested beyond its depth)
        return _by_subtree(obj)
    return copy_


def _by_subtree(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``fresh_copy`` one top-level subtree at a time (``_tree``)."""
    result = {key: _tree(value) for key, value in obj.items() if key != "status"}
    metadata = obj.get("metadata")
    if type(metadata) is dict:
        result["metadata"] = {
            key: _tree(value) for key, value in metadata.items() if key != "managedFields"
        }
    return result


def _tree(value: Any) -> Any:
    """A copy of one subtree: marshal's C round trip for JSON's types (a fifth less CPU than
    the comprehensions), ``_copy`` for anything marshal refuses (a subclass, another type).
    Format 2 has no back-references, so two equal subtrees never become one shared object."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    try:
        return _loads(_dumps(value, 2))
    except ValueError:  # unmarshallable (or nested beyond marshal's depth): copied as before
        return _copy(value)


def copied(value: Any) -> Any:
    """A deep copy of ``value`` (``copy.deepcopy``'s result, built faster for JSON's types)."""
    return _copy(value)


def _copy(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {key: _copy(item) for key, item in value.items()}
    if kind is list:
        return [_copy(item) for item in value]
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    return copy.deepcopy(value)
