"""The structural-schema defaults of a CRD, and their removal from the custom resources it serves.

Pure: no I/O; only the standard library.

The API server fills a custom resource's missing fields from its CRD's ``default`` values on
every create, update and read (k8s.io/apiextensions-apiserver pkg/apiserver/schema/defaulting/
algorithm.go ``Default``). So a ``Widget`` applied without ``spec.replicas`` is stored with
``replicas: 1`` when the schema says ``default: 1``: a value nobody wrote. That algorithm fixes
what can be removed:

- a ``properties`` entry with a ``default`` is filled in when its key is **missing** from an
  object that exists (defaults apply only inside a parent that is there), and the filled value
  is then defaulted in turn (nested defaults go into a parent's default);
- an ``items`` or ``additionalProperties`` schema's ``default`` only replaces a ``null``
  element, never a missing one, so those values always stay; the walk goes through them for the
  properties defaulted below them;
- defaults are not allowed under ``allOf``/``anyOf``/``oneOf``/``not`` or in ``metadata``
  (structural schema rules), so those are not walked.

A property is removed when its value equals its default, either as stored or once the defaults
below it are removed (applying the rest restores both), and it is not in what a person applied
(the last-applied configuration or the fields a server-side applier owns: ``RuleContext``).
Without any such record every default goes, as the built-in defaults do: applying the result
gives the same stored object.

Only the part of a schema that leads to a default is kept (``DefaultsNode``), so indexing every
CRD of a backup costs little memory.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

_MISSING: Final = object()
#: the top-level fields the API server owns or validates itself; never defaulted from the schema
ROOT_SKIPPED: Final = frozenset({"apiVersion", "kind", "metadata", "status"})


@dataclass(frozen=True)
class DefaultsNode:
    """The schema below one value, reduced to the defaults it holds."""

    default: Any = _MISSING
    properties: Mapping[str, DefaultsNode] = field(default_factory=dict)
    items: DefaultsNode | None = None
    additional: DefaultsNode | None = None
    map_keys: tuple[str, ...] = ()
    """``x-kubernetes-list-map-keys`` of a ``map`` list: how list items are matched to the
    applied ones (else by position, when both lists have the same length)."""

    @property
    def has_default(self) -> bool:
        return self.default is not _MISSING


def defaults_tree(schema: Any) -> DefaultsNode | None:
    """The defaults in an ``openAPIV3Schema`` (or any node of one), or None when it has none."""
    if not isinstance(schema, Mapping):
        return None
    properties: dict[str, DefaultsNode] = {}
    raw_properties = schema.get("properties")
    if isinstance(raw_properties, Mapping):
        for name, sub in raw_properties.items():
            node = defaults_tree(sub)
            if node is not None:
                properties[str(name)] = node
    items = defaults_tree(schema.get("items"))
    additional = defaults_tree(schema.get("additionalProperties"))
    default = schema.get("default", _MISSING)
    if default is _MISSING and not properties and items is None and additional is None:
        return None
    keys = schema.get("x-kubernetes-list-map-keys")
    map_keys = (
        tuple(str(k) for k in keys)
        if schema.get("x-kubernetes-list-type") == "map" and isinstance(keys, list)
        else ()
    )
    return DefaultsNode(
        default=default,
        properties=properties,
        items=items,
        additional=additional,
        map_keys=map_keys,
    )


def crd_defaults(crd: Mapping[str, Any]) -> dict[tuple[str, str, str], DefaultsNode]:
    """(group, version, kind) -> the defaults of that version's schema, for one v1 CRD."""
    spec = crd.get("spec")
    if not isinstance(spec, Mapping):
        return {}
    names = spec.get("names")
    group, kind = spec.get("group"), names.get("kind") if isinstance(names, Mapping) else None
    versions = spec.get("versions")
    if not isinstance(group, str) or not isinstance(kind, str) or not isinstance(versions, list):
        return {}
    found: dict[tuple[str, str, str], DefaultsNode] = {}
    for version in versions:
        if not isinstance(version, Mapping) or not isinstance(version.get("name"), str):
            continue
        schema = version.get("schema")
        root = schema.get("openAPIV3Schema") if isinstance(schema, Mapping) else None
        node = defaults_tree(root)
        if node is not None and any(k not in ROOT_SKIPPED for k in node.properties):
            found[(group, version["name"], kind)] = node
    return found


def prune_defaults(obj: dict[str, Any], root: DefaultsNode, *, applied: Any) -> None:
    """Remove from ``obj`` (the rule's own copy) every schema default nobody applied.

    ``applied`` is the object as a person applied it, or None when there is no record of it.
    """
    record = _UNKNOWN if applied is None else applied
    for name, node in root.properties.items():
        if name not in ROOT_SKIPPED:
            _prune_property(obj, name, node, record)


# What is known of a value's applied counterpart: the value itself, or one of these.
_UNKNOWN: Final = object()  # no record of what was applied, anywhere in the object
_ABSENT: Final = object()  # there is a record, and it does not hold this value


def _prune_property(parent: dict[str, Any], name: str, node: DefaultsNode, applied: Any) -> None:
    if name not in parent:
        return
    written = _child(applied, name)
    droppable = node.has_default and (written is _UNKNOWN or written is _ABSENT)
    if droppable and _same(parent[name], node.default):
        del parent[name]
        return
    _prune_value(parent[name], node, written)
    if droppable and _same(parent[name], node.default):
        del parent[name]


def _prune_value(value: Any, node: DefaultsNode, applied: Any) -> None:
    """Prune the defaults below ``value``; ``applied`` is its applied counterpart."""
    if isinstance(value, dict):
        for name, sub in node.properties.items():
            _prune_property(value, name, sub, applied)
        if node.additional is not None:
            for key in [k for k in value if k not in node.properties]:
                _prune_value(value[key], node.additional, _child(applied, key))
    elif isinstance(value, list) and node.items is not None:
        counterparts = _list_counterparts(value, applied, node)
        if counterparts is None:
            return  # the applied list cannot be matched item by item: keep everything in it
        for item, written in zip(value, counterparts, strict=True):
            _prune_value(item, node.items, written)


def _list_counterparts(value: list[Any], applied: Any, node: DefaultsNode) -> list[Any] | None:
    """The applied counterpart of each item of ``value``, or None when they cannot be paired
    (lists of different lengths with no map keys)."""
    if applied is _UNKNOWN:
        return [_UNKNOWN] * len(value)
    if not isinstance(applied, list):
        return [_ABSENT] * len(value)
    if node.map_keys:
        by_key = {_item_key(a, node.map_keys): a for a in applied if isinstance(a, Mapping)}
        return [
            by_key.get(_item_key(item, node.map_keys), _ABSENT)
            if isinstance(item, Mapping)
            else _ABSENT
            for item in value
        ]
    return list(applied) if len(applied) == len(value) else None


def _item_key(item: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    return json.dumps([item.get(k) for k in keys], sort_keys=True)


def _child(applied: Any, name: str) -> Any:
    if applied is _UNKNOWN:
        return _UNKNOWN
    if isinstance(applied, Mapping) and name in applied:
        return applied[name]
    return _ABSENT


def _same(actual: Any, default: Any) -> bool:
    """Equal as JSON values: ``True`` is not ``1`` (Python says it is), ``1`` is ``1.0``."""
    if isinstance(actual, bool) or isinstance(default, bool):
        return type(actual) is type(default) and actual == default
    if isinstance(actual, dict) and isinstance(default, dict):
        return actual.keys() == default.keys() and all(_same(actual[k], default[k]) for k in actual)
    if isinstance(actual, list) and isinstance(default, list):
        return len(actual) == len(default) and all(
            _same(a, d) for a, d in zip(actual, default, strict=True)
        )
    return bool(actual == default)
