"""What a server-side applier wrote: the object projected onto its ``Apply`` managed fields.

Pure: no I/O; only the standard library.

``kubectl apply`` (client side) leaves the person's manifest in the last-applied annotation;
server-side apply (``kubectl apply --server-side``, Flux, Argo CD with ServerSideApply) leaves
none, but records in ``metadata.managedFields`` which fields each applier owns, in the
``FieldsV1`` format (``f:<field>``, ``k:<json key of a list item>``, ``v:<json value of a set
item>``, ``i:<index>``, ``.`` for the node itself; k8s.io/apimachinery
pkg/apis/meta/v1/types.go ``FieldsV1``, sigs.k8s.io/structured-merge-diff ``fieldpath``). A field
owned by an ``operation: Apply`` entry holds the value its applier sent, so the live object
projected onto those fields is what was applied: the same evidence, for the same rules
(a ``nodePort: 30080`` a person wrote stays; one the server allocated goes), after a restore
by a GitOps tool as before it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from backup2gitops.core.cleaning.prune import MAPPING


def applied_projection(
    obj: Mapping[str, Any], *, is_controller: Callable[[str], bool] | None = None
) -> dict[str, Any] | None:
    """The fields of ``obj`` that server-side appliers own, or None when none applied it.

    ``is_controller`` leaves out the appliers that are controllers (cert-manager's cainjector
    applies a caBundle: no person wrote it)."""
    metadata = obj.get("metadata")
    entries = metadata.get("managedFields") if isinstance(metadata, MAPPING) else None
    if not isinstance(entries, list):
        return None
    projection: dict[str, Any] | None = None
    for entry in entries:
        if not isinstance(entry, MAPPING) or entry.get("operation") != "Apply":
            continue
        if is_controller is not None and is_controller(str(entry.get("manager") or "")):
            continue
        fields = entry.get("fieldsV1")
        if entry.get("fieldsType", "FieldsV1") != "FieldsV1" or not isinstance(fields, MAPPING):
            continue
        projected = _project(obj, fields)
        if isinstance(projected, dict):
            projection = projected if projection is None else _merge(projection, projected)
    return projection


def _project(value: Any, fields: Mapping[str, Any]) -> Any:
    if not fields or (len(fields) == 1 and "." in fields):
        return value  # a leaf, or a node owned as a whole
    children = {key: sub for key, sub in fields.items() if key != "."}
    if isinstance(value, MAPPING):
        result: dict[str, Any] = {}
        for key, sub in children.items():
            name = key[2:]
            if key.startswith("f:") and name in value and isinstance(sub, MAPPING):
                result[name] = _project(value[name], sub)
        return result
    if isinstance(value, list):
        items: list[Any] = []
        for key, sub in children.items():
            item = _list_item(value, key)
            if item is not _MISSING and isinstance(sub, MAPPING):
                items.append(_project(item, sub))
        return items
    return value


_MISSING = object()


def _list_item(items: list[Any], key: str) -> Any:
    kind, _, text = key.partition(":")
    try:
        if kind == "i":
            return items[int(text)]
        wanted = json.loads(text)
    except (ValueError, IndexError):
        return _MISSING
    if kind == "v":
        return wanted if wanted in items else _MISSING
    if kind == "k" and isinstance(wanted, dict):
        for item in items:
            if isinstance(item, MAPPING) and all(item.get(k) == v for k, v in wanted.items()):
                return item
    return _MISSING


def _merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    merged = dict(left)
    for key, value in right.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged.setdefault(key, value)
    return merged
