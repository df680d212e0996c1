"""Read the identity of a Kubernetes object (group, kind, namespace, name, labels) defensively.

Pure: no I/O; only the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
        group, version = split_api_version(str(obj.get("apiVersion") or ""))
        metadata = obj.get("metadata")
        meta: Mapping[str, Any] = metadata if isinstance(metadata, Mapping) else {}
        namespace = meta.get("namespace")
        return cls(
            group=group,
            version=version,
            kind=str(obj.get("kind") or ""),
            namespace=str(namespace) if namespace else None,
            name=str(meta.get("name") or meta.get("generateName") or ""),
            labels=_strings(meta.get("labels")),
            annotations=_strings(meta.get("annotations")),
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
    if not isinstance(value, Mapping):
        return {}
    return {str(key): str(item) for key, item in value.items()}
