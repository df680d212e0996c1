"""What cleaning one object needs to know about the rest of its backup, indexed beforehand.

Pure: no I/O; only the standard library.

Three decisions depend on another object of the same backup:

- a PersistentVolumeClaim the StatefulSet controller created from a ``volumeClaimTemplates``
  entry is excluded (the StatefulSet creates it again), which needs that StatefulSet;
- a custom resource loses its CRD's structural-schema defaults, which needs that CRD;
- an object a HorizontalPodAutoscaler scales loses ``spec.replicas`` (the HPA sets it), which
  needs that HPA.

The generator reads a backup one member at a time, in the archive's order (which nothing
fixes: a claim may come before its StatefulSet). So it decodes only the members of
``INDEXED_RESOURCES`` as they pass into a ``BackupIndex`` (each StatefulSet's claim templates,
each CRD's defaults, each HPA's target: a few hundred bytes an entry, never the objects), spools
the others, and cleans them once the read has ended (``generation.reading``). ``BackupIndex.of`` builds the index from any objects
(``neat`` gives it everything it read).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from backup2gitops.core.cleaning.objectref import ObjectRef, split_api_version
from backup2gitops.core.cleaning.schema_defaults import DefaultsNode, crd_defaults

#: the group-resources (archive folders) the index is built from
INDEXED_RESOURCES: Final = frozenset(
    {
        "statefulsets.apps",
        "customresourcedefinitions.apiextensions.k8s.io",
        "horizontalpodautoscalers.autoscaling",
    }
)


class ClaimTemplate(NamedTuple):
    """One ``volumeClaimTemplates`` entry of one StatefulSet, as the controller uses it."""

    statefulset: str
    template: str
    labels: Mapping[str, str]
    """The claim's labels: the template's, with the StatefulSet's ``selector.matchLabels``
    over them (pkg/controller/statefulset/stateful_set_utils.go ``getPersistentVolumeClaims``)."""


@dataclass(frozen=True)
class BackupIndex:
    """Claim templates by (namespace, ``<template>-<statefulset>``), CRD defaults by
    (group, version, kind)."""

    claim_templates: Mapping[tuple[str, str], tuple[ClaimTemplate, ...]] = field(
        default_factory=dict
    )
    schema_defaults: Mapping[tuple[str, str, str], DefaultsNode] = field(default_factory=dict)
    autoscaled: frozenset[tuple[str, str, str, str]] = frozenset()
    """(namespace, group, kind, name) of every object an HPA of the backup scales."""

    @classmethod
    def of(cls, objects: Iterable[Mapping[str, Any]]) -> BackupIndex:
        """The index of ``objects`` (anything else than StatefulSets and CRDs is passed over)."""
        claims: dict[tuple[str, str], list[ClaimTemplate]] = {}
        schemas: dict[tuple[str, str, str], DefaultsNode] = {}
        autoscaled: set[tuple[str, str, str, str]] = set()
        for obj in objects:
            ref = ObjectRef.of(obj)
            if (ref.group, ref.kind) == ("apps", "StatefulSet") and ref.namespace:
                for template in _claim_templates(obj, ref.name):
                    key = (ref.namespace, f"{template.template}-{ref.name}")
                    claims.setdefault(key, []).append(template)
            elif (ref.group, ref.version, ref.kind) == (
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
            ):
                schemas.update(crd_defaults(obj))
            elif (ref.group, ref.kind) == ("autoscaling", "HorizontalPodAutoscaler"):
                target = _scale_target(obj, ref)
                if target is not None:
                    autoscaled.add(target)
        return cls(
            claim_templates={key: tuple(found) for key, found in claims.items()},
            schema_defaults=schemas,
            autoscaled=frozenset(autoscaled),
        )

    def is_autoscaled(self, ref: ObjectRef) -> bool:
        return (ref.namespace or "", ref.group, ref.kind, ref.name) in self.autoscaled

    def claim_template_of(self, ref: ObjectRef) -> ClaimTemplate | None:
        """The template ``ref`` (a PersistentVolumeClaim) was created from, or None.

        Its name is ``<template>-<statefulset>-<ordinal>`` (``getPersistentVolumeClaimName``),
        it is in the StatefulSet's namespace, and it carries every label the controller gave
        it (labels added since are fine). A claim a person named alike but labelled otherwise
        is theirs, and is kept.
        """
        if (ref.group, ref.kind) != ("", "PersistentVolumeClaim") or ref.namespace is None:
            return None
        prefix, dash, ordinal = ref.name.rpartition("-")
        if not dash or not _is_ordinal(ordinal):
            return None
        for template in self.claim_templates.get((ref.namespace, prefix), ()):
            if all(ref.labels.get(k) == v for k, v in template.labels.items()):
                return template
        return None


EMPTY_INDEX: Final = BackupIndex()


def _is_ordinal(text: str) -> bool:
    """A decimal ordinal as ``%d`` prints it: no sign, no leading zero (``0`` itself is one)."""
    return text.isascii() and text.isdigit() and (text == "0" or not text.startswith("0"))


def _claim_templates(statefulset: Mapping[str, Any], name: str) -> list[ClaimTemplate]:
    spec = statefulset.get("spec")
    if not isinstance(spec, Mapping):
        return []
    selector = spec.get("selector")
    match_labels = selector.get("matchLabels") if isinstance(selector, Mapping) else None
    selected = _strings(match_labels)
    templates = spec.get("volumeClaimTemplates")
    found: list[ClaimTemplate] = []
    for template in templates if isinstance(templates, list) else []:
        metadata = template.get("metadata") if isinstance(template, Mapping) else None
        if not isinstance(metadata, Mapping) or not isinstance(metadata.get("name"), str):
            continue
        labels = _strings(metadata.get("labels")) | selected
        found.append(ClaimTemplate(statefulset=name, template=metadata["name"], labels=labels))
    return found


def _scale_target(hpa: Mapping[str, Any], ref: ObjectRef) -> tuple[str, str, str, str] | None:
    """``spec.scaleTargetRef`` (autoscaling v1 and v2 alike), in the HPA's namespace."""
    spec = hpa.get("spec")
    target = spec.get("scaleTargetRef") if isinstance(spec, Mapping) else None
    if not isinstance(target, Mapping) or not ref.namespace:
        return None
    kind, name = target.get("kind"), target.get("name")
    if not isinstance(kind, str) or not isinstance(name, str):
        return None
    group, _ = split_api_version(str(target.get("apiVersion") or ""))
    return (ref.namespace, group, kind, name)


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(key): str(item) for key, item in value.items()}
