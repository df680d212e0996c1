"""Read the identity of a Kubernetes object (group, kind, namespace, name, labels) defensively.

Pure: no I/O; only the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class ObjectRef:
    group: str
    version: str
    kind: str
    namespace: str | None
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectRef:
        api_version = obj.get("apiVersion")
        group, version = split_api_version(
            api_version if type(api_version) is str else str(api_version or "")
        )
        kind = obj.get("kind")
        metadata = obj.get("metadata")
        meta: Mapping[str, Any] = (
            metadata if type(metadata) is dict or isinstance(metadata, Mapping) else _EMPTY
        )
        namespace = meta.get("namespace")
        return cls(
            group,
            version,
            kind if type(kind) is str else str(kind or ""),
            str(namespace) if namespace else None,
            str(meta.get("name") or meta.get("generateName") or ""),
            _strings(meta.get("labels")),
            _strings(meta.get("annotations")),
        )

    @property
    def qualified_name(self) -> str:
        """``namespace/name`` for namespaced objects, ``name`` for cluster-scoped ones."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def describe(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{kind} {self.qualified_name}"


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` -> (``apps``, ``v1``); ``v1`` -> (``""``, ``v1``)."""
    group, slash, version = api_version.rpartition("/")
    return (group, version) if slash else ("", api_version)


def _strings(value: Any) -> dict[str, str]:
    if type(value) is not dict and not isinstance(value, Mapping):
        return {}
    return {str(key): str(item) for key, item in value.items()}


_EMPTY: Mapping[str, Any] = MappingProxyType({})
