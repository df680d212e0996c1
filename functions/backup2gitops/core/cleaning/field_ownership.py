"""Fields only controllers own, taken out of the cleaned object.

Pure: no I/O; only the standard library.

``metadata.managedFields`` lists, per manager, the fields it owns in the ``FieldsV1`` format
(``f:<field>``, ``k:<json key of a list item>``, ``v:<json value of a set item>``, ``i:<index>``,
``.`` for the node itself; see ``applied_fields``). The entries are merged into two trees: the
fields of controllers (``field_managers.FieldManagers.is_controller``) and those of everyone
else. A field in the first tree and not in the second goes: a leaf is removed, a list item or
set value the controller added is removed, and a map or list left empty by that, which the
controller had created, goes too. Entries of the ``status`` subresource are not read (status
never reaches git).

Two guards keep a person's value:

- the field is in the client-side last-applied configuration with the same value (a person
  wrote exactly what a controller later claimed);
- the object has no manager besides controllers: then nothing tells what a person wrote
  (an object a controller created is excluded, or kept whole, by the exclusions).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from backup2gitops.core.cleaning.field_managers import DEFAULT_FIELD_MANAGERS, FieldManagers
from backup2gitops.core.cleaning.prune import MAPPING

FieldsTree = dict[str, Any]
_MISSING: Final = object()


class Ownership(NamedTuple):
    """The merged field trees of an object's controllers and of everyone else."""

    controllers: FieldsTree
    people: FieldsTree
    controller_managers: tuple[str, ...]

    @classmethod
    def of(
        cls, obj: Mapping[str, Any], managers: FieldManagers = DEFAULT_FIELD_MANAGERS
    ) -> Ownership | None:
        """None when ``obj`` has no managedFields, or no manager that is not a controller."""
        metadata = obj.get("metadata")
        entries = metadata.get("managedFields") if isinstance(metadata, MAPPING) else None
        if not isinstance(entries, list):
            return None
        read: list[tuple[str, bool, Mapping[str, Any]]] = []
        for entry in entries:
            if not isinstance(entry, MAPPING) or entry.get("subresource") == "status":
                continue
            fields = entry.get("fieldsV1")
            if entry.get("fieldsType", "FieldsV1") != "FieldsV1" or not isinstance(fields, MAPPING):
                continue
            manager = str(entry.get("manager") or "")
            read.append((manager, managers.is_controller(manager), fields))
        if not any(controller for _, controller, _ in read):
            return None  # most objects: nothing to merge
        controllers: FieldsTree = {}
        people: FieldsTree = {}
        names: list[str] = []
        for manager, controller, fields in read:
            if controller:
                _merge_into(controllers, fields)
                names.append(manager)
            else:
                _merge_into(people, fields)
        if not people or not controllers:
            return None
        return cls(controllers=controllers, people=people, controller_managers=tuple(names))


def has_managed_fields(obj: Mapping[str, Any]) -> bool:
    metadata = obj.get("metadata")
    return isinstance(metadata, MAPPING) and isinstance(metadata.get("managedFields"), list)


def fields_of(
    obj: Mapping[str, Any], wanted: list[str] | tuple[str, ...] | frozenset[str]
) -> FieldsTree:
    """The merged field tree of the managers named in ``wanted`` (exact names)."""
    metadata = obj.get("metadata")
    entries = metadata.get("managedFields") if isinstance(metadata, MAPPING) else None
    tree: FieldsTree = {}
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, MAPPING) and entry.get("manager") in wanted:
            fields = entry.get("fieldsV1")
            if isinstance(fields, MAPPING):
                _merge_into(tree, fields)
    return tree


def drop_owned(
    value: Any, owned: Mapping[str, Any], *, kept: Mapping[str, Any] | None, written: Any
) -> None:
    """Remove from ``value`` (the rule's own copy) the fields of ``owned`` that ``kept`` does not
    hold and ``written`` (the last-applied counterpart, or ``_MISSING``) does not hold as is."""
    if isinstance(value, dict):
        for key, sub in owned.items():
            if not key.startswith("f:") or not isinstance(sub, MAPPING):
                continue
            name = key[2:]
            if name not in value:
                continue
            kept_sub = kept.get(key) if kept is not None else None
            written_sub = written.get(name, _MISSING) if isinstance(written, MAPPING) else _MISSING
            if _drop_child(value[name], sub, kept_sub, written_sub):
                del value[name]
    elif isinstance(value, list):
        removed: list[int] = []
        for key, sub in owned.items():
            if key == "." or not isinstance(sub, MAPPING):
                continue
            position = _position(value, key)
            if position is None:
                continue
            kept_sub = kept.get(key) if kept is not None else None
            written_sub = _written_item(written, key, value[position])
            if _drop_child(value[position], sub, kept_sub, written_sub):
                removed.append(position)
        if removed:
            value[:] = [item for i, item in enumerate(value) if i not in set(removed)]


def _drop_child(value: Any, owned: Mapping[str, Any], kept: Any, written: Any) -> bool:
    """Whether ``value`` goes as a whole; otherwise what goes below it is removed in place."""
    if isinstance(kept, MAPPING) and not _children(kept):
        return False  # someone else owns it whole (a leaf, an atomic value, a list item's key)
    if written is not _MISSING and written == value:
        return False  # a person wrote exactly this
    children = _children(owned)
    if kept is None and not children:
        return True  # a leaf only controllers own
    if children and isinstance(value, (dict, list)):
        drop_owned(value, owned, kept=kept if isinstance(kept, MAPPING) else None, written=written)
        return kept is None and "." in owned and value in ({}, [])
    return False


def _children(node: Mapping[str, Any]) -> list[str]:
    return [key for key in node if key != "."]


def _position(items: list[Any], key: str) -> int | None:
    kind, _, text = key.partition(":")
    try:
        if kind == "i":
            index = int(text)
            return index if 0 <= index < len(items) else None
        wanted = json.loads(text)
    except ValueError:
        return None
    for index, item in enumerate(items):
        if kind == "v" and item == wanted:
            return index
        if (
            kind == "k"
            and isinstance(wanted, dict)
            and isinstance(item, MAPPING)
            and all(item.get(k) == v for k, v in wanted.items())
        ):
            return index
    return None


def _written_item(written: Any, key: str, item: Any) -> Any:
    if not isinstance(written, list):
        return _MISSING
    position = _position(written, key)
    if position is None:
        return _MISSING
    return written[position]


def _merge_into(tree: FieldsTree, fields: Mapping[str, Any]) -> None:
    for key, sub in fields.items():
        if not isinstance(sub, MAPPING):
            continue
        node = tree.setdefault(key, {})
        _merge_into(node, sub)


MISSING: Final = _MISSING
"""What ``drop_owned`` takes as ``written`` when there is no last-applied record."""
