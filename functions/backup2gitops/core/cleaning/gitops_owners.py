"""Objects another GitOps tool already owns: found by the marks each tool leaves on them.

Pure: no I/O; only the standard library.

| tool | marks | source |
|---|---|---|
| Flux Kustomization | labels ``kustomize.toolkit.fluxcd.io/name`` and ``/namespace`` | fluxcd/kustomize-controller ``internal/inventory``, ``ssa`` owner labels |
| Flux HelmRelease | labels ``helm.toolkit.fluxcd.io/name`` and ``/namespace`` (beside Helm's marks) | fluxcd/helm-controller ``internal/postrender`` origin labels |
| Argo CD Application | annotation ``argocd.argoproj.io/tracking-id`` (``<app>:<group>/<kind>:<ns>/<name>``; ``<ns>_<app>`` for an app outside Argo CD's namespace) | argoproj/argo-cd ``util/argo/resource_tracking.go`` |
| Helm release | annotations ``meta.helm.sh/release-name`` and ``meta.helm.sh/release-namespace``, label ``app.kubernetes.io/managed-by: Helm`` | helm/helm ``pkg/action/validate.go`` (the ownership check before adopting an object) |

Argo CD's older label tracking (``app.kubernetes.io/instance``) is not read as a mark: Helm
charts set that label on everything they render, so it names no owner.

``gitops_owned`` (``CleaningSettings``) says what happens to such an object:

- ``keep`` (default): written as it is, marks included. The faithful restore: applied to a
  fresh cluster, the objects are the ones the owning tool made, and that tool (restored from its
  own source) recognises them as its own — Helm adopts nothing without its marks (``helm
  upgrade`` refuses: "invalid ownership metadata"), Flux and Argo CD see their objects as in sync.
- ``strip-marks``: written without the marks, for a repository another tool will apply
  (a second tool that finds the first one's marks fights it for the object).
- ``exclude``: left out, with the owner in the reason ("gitops: managed by Flux Kustomization
  flux-system/apps"): the owning tool's source is the desired state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

from backup2gitops.core.cleaning.objectref import ObjectRef
from backup2gitops.core.cleaning.prune import MAPPING, as_dict, drop_if_empty

GitopsOwned = Literal["keep", "strip-marks", "exclude"]

FLUX_KUSTOMIZATION: Final = (
    "kustomize.toolkit.fluxcd.io/name",
    "kustomize.toolkit.fluxcd.io/namespace",
)
FLUX_HELMRELEASE: Final = ("helm.toolkit.fluxcd.io/name", "helm.toolkit.fluxcd.io/namespace")
ARGOCD_TRACKING: Final = "argocd.argoproj.io/tracking-id"
HELM_RELEASE: Final = ("meta.helm.sh/release-name", "meta.helm.sh/release-namespace")
HELM_MANAGED_BY: Final = ("app.kubernetes.io/managed-by", "Helm")

MARK_LABELS: Final = frozenset({*FLUX_KUSTOMIZATION, *FLUX_HELMRELEASE})
MARK_ANNOTATIONS: Final = frozenset({ARGOCD_TRACKING, *HELM_RELEASE})


def gitops_owner(ref: ObjectRef) -> str | None:
    """The GitOps tool object that owns ``ref`` ("Flux Kustomization flux-system/apps"), or None."""
    labels, annotations = ref.labels, ref.annotations
    name, namespace = (labels.get(key) for key in FLUX_KUSTOMIZATION)
    if name:
        return (
            f"Flux Kustomization {namespace}/{name}" if namespace else f"Flux Kustomization {name}"
        )
    name, namespace = (labels.get(key) for key in FLUX_HELMRELEASE)
    if name:
        return f"Flux HelmRelease {namespace}/{name}" if namespace else f"Flux HelmRelease {name}"
    tracking = annotations.get(ARGOCD_TRACKING)
    if tracking:
        app = tracking.split(":", 1)[0]
        return f"Argo CD Application {app.replace('_', '/', 1)}"
    name, namespace = (annotations.get(key) for key in HELM_RELEASE)
    if name:
        return f"Helm release {namespace}/{name}" if namespace else f"Helm release {name}"
    return None


def gitops_reason(ref: ObjectRef, *, setting: GitopsOwned) -> str | None:
    if setting != "exclude":
        return None
    owner = gitops_owner(ref)
    return f"gitops: managed by {owner}" if owner else None


def strip_marks(obj: dict[str, Any]) -> None:
    """Remove every tool's ownership marks from ``obj`` (the rule's own copy)."""
    metadata = as_dict(obj.get("metadata"))
    if metadata is None:
        return
    labels = as_dict(metadata.get("labels"))
    if labels is not None:
        for key in MARK_LABELS:
            labels.pop(key, None)
        key, value = HELM_MANAGED_BY
        if labels.get(key) == value:
            del labels[key]
    annotations = as_dict(metadata.get("annotations"))
    if annotations is not None:
        for key in MARK_ANNOTATIONS:
            annotations.pop(key, None)
    drop_if_empty(metadata, ("labels", "annotations"))


def has_marks(obj: Mapping[str, Any]) -> bool:
    metadata = obj.get("metadata")
    if type(metadata) is dict:  # as JSON decodes it: no mark key, no owner (nothing to build)
        labels, annotations = metadata.get("labels"), metadata.get("annotations")
        if (labels is None or (type(labels) is dict and not _OWNER_LABELS & labels.keys())) and (
            annotations is None
            or (type(annotations) is dict and not _OWNER_ANNOTATIONS & annotations.keys())
        ):
            return False
    return gitops_owner(ObjectRef.of(obj)) is not None


#: a mark ``gitops_owner`` names an owner by; without one of these keys it finds none
_OWNER_LABELS: Final = frozenset({FLUX_KUSTOMIZATION[0], FLUX_HELMRELEASE[0]})
_OWNER_ANNOTATIONS: Final = frozenset({ARGOCD_TRACKING, HELM_RELEASE[0]})


GITOPS_MANAGERS: Final = frozenset(
    {"kustomize-controller", "helm-controller", "argocd-controller", "helm", "Helm"}
)
"""Field managers whose writes mean a GitOps tool (or Helm) applies the object: Flux's
kustomize-controller and helm-controller, Argo CD's syncs with server-side apply, Helm itself
(``core.cleaning.field_managers`` names the source of each)."""


def gitops_managed(obj: Mapping[str, Any]) -> bool:
    """Whether a GitOps tool manages ``obj``: one of its ownership marks, or a write by one of
    ``GITOPS_MANAGERS`` in its managedFields (as the cluster has it, before cleaning). An object
    that is neither is one people made or changed by hand (``kubectl``, a script)."""
    if has_marks(obj):
        return True
    metadata = obj.get("metadata")
    entries = metadata.get("managedFields") if isinstance(metadata, MAPPING) else None
    if not isinstance(entries, list):
        return False
    return any(
        isinstance(entry, MAPPING) and entry.get("manager") in GITOPS_MANAGERS for entry in entries
    )
