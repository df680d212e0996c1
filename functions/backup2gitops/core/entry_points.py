"""The Flux / Argo CD objects that point at a cluster folder's units (``core.units``).

Pure: no I/O; only the standard library.

The entry points are data built here and written by the caller like any other file: a Flux
``Kustomization`` per unit (namespaced units ``dependsOn`` the cluster-scoped one, which holds
the CRDs and Namespaces; ``decryption`` when Secrets are sops-encrypted), and for Argo CD an
``ApplicationSet`` (git directory generator over the unit folders) or an ``Application`` per unit
(sync wave -1 for the cluster-scoped unit, 0 for the others).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from backup2gitops.core.units import (
    ARGOCD_FOLDER,
    CLUSTER_SCOPED,
    FLUX_FOLDER,
    KUSTOMIZATION,
    NAMESPACES,
    ArgoSettings,
    FluxSettings,
    Layout,
    Source,
    Unit,
    bounded_name,
    kustomization,
    ordered,
)

SYNC_WAVE: Final[str] = "argocd.argoproj.io/sync-wave"
UNIT_LABEL: Final[str] = "backup2gitops.io/unit"


def entry_points(
    *, cluster: str, units: Iterable[Unit], layout: Layout
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(path inside the cluster folder, object) for each entry point, with a kustomization per
    entry-point folder (``kubectl apply -k clusters/<cluster>/flux``)."""
    listed = ordered(units)
    if layout.flux is not None:
        assert layout.source is not None
        yield from _folder(FLUX_FOLDER, flux_objects(listed, layout.source, layout.flux))
    if layout.argocd is not None:
        assert layout.source is not None
        yield from _folder(
            ARGOCD_FOLDER, argocd_objects(cluster, listed, layout.source, layout.argocd)
        )


def _folder(
    folder: str, objects: Iterable[tuple[str, Mapping[str, Any]]]
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    names = []
    for name, obj in objects:
        names.append(name)
        yield f"{folder}/{name}", obj
    yield f"{folder}/{KUSTOMIZATION}", kustomization(sorted(names))


def flux_objects(
    units: list[Unit], source: Source, settings: FluxSettings
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """A ``GitRepository`` (unless it exists already) and a ``Kustomization`` per unit."""
    if settings.create_source:
        spec: dict[str, Any] = {
            "interval": settings.interval,
            "url": source.url,
            "ref": {"branch": source.branch},
        }
        if settings.source_secret:
            spec["secretRef"] = {"name": settings.source_secret}
        yield (
            "gitrepository.yaml",
            {
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": settings.source_name, "namespace": settings.namespace},
                "spec": spec,
            },
        )
    first = [unit.name for unit in units if unit.cluster_scoped]
    for unit in units:
        spec = {
            "interval": settings.interval,
            "path": f"./{unit.folder}",
            "prune": settings.prune,
            "sourceRef": {"kind": "GitRepository", "name": settings.source_name},
        }
        if not unit.cluster_scoped and first:
            spec["dependsOn"] = [{"name": name} for name in first]
        if settings.decryption_secret:
            spec["decryption"] = {
                "provider": "sops",
                "secretRef": {"name": settings.decryption_secret},
            }
        yield (
            f"{unit.name}.yaml",
            {
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {
                    "name": unit.name,
                    "namespace": settings.namespace,
                    "labels": {UNIT_LABEL: _scope(unit)},
                },
                "spec": spec,
            },
        )


def _is_cut(key: str) -> bool:
    """Whether a unit is a resource folder of a unit cut by resource (``plan_units``)."""
    parts = key.split("/")
    return len(parts) == (2 if parts[0] == CLUSTER_SCOPED else 3)


def _scope(unit: Unit) -> str:
    return "cluster" if unit.cluster_scoped else "namespace"


def _sync_policy(settings: ArgoSettings) -> dict[str, Any]:
    return {
        "automated": {"prune": settings.prune, "selfHeal": settings.self_heal},
        # server-side apply, as Flux does: the sync owns only the fields in git, so what the
        # cluster's own controllers write (an injected caBundle, an autoscaled replicas) is
        # theirs, and a conflict with them is reported instead of overwritten
        "syncOptions": ["ServerSideApply=true"],
        # a namespaced unit may come before its Namespace or CRD exists: retried until it does
        "retry": {"limit": 10, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}},
    }


def _argo_spec(path: str, source: Source, settings: ArgoSettings) -> dict[str, Any]:
    return {
        "project": settings.project,
        "source": {"repoURL": source.url, "targetRevision": source.branch, "path": path},
        "destination": {"server": settings.destination_server},
        "syncPolicy": _sync_policy(settings),
    }


def argocd_objects(
    cluster: str, units: list[Unit], source: Source, settings: ArgoSettings
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """An ``ApplicationSet`` over the unit folders, or an ``Application`` per unit."""
    if settings.mode == "applications":
        for unit in units:
            yield (
                f"{unit.name}.yaml",
                {
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": "Application",
                    "metadata": {
                        "name": unit.name,
                        "namespace": settings.namespace,
                        "labels": {UNIT_LABEL: _scope(unit)},
                        "annotations": {SYNC_WAVE: "-1" if unit.cluster_scoped else "0"},
                    },
                    "spec": _argo_spec(unit.folder, source, settings),
                },
            )
        return
    root = f"clusters/{cluster}"
    cut = sorted({unit.key.rpartition("/")[0] for unit in units if _is_cut(unit.key)})
    groups: list[tuple[list[dict[str, Any]], str, str]]
    if any(not unit.key for unit in units):  # by: cluster, the folder is the one unit
        groups = [([{"path": root}], cluster, "cluster")]
    elif CLUSTER_SCOPED in cut:  # cut by resource: a unit per resource folder
        groups = [
            (
                [{"path": f"{root}/{CLUSTER_SCOPED}/*"}],
                f"{cluster}.{CLUSTER_SCOPED}.{{{{ .path.basename }}}}",
                "cluster",
            )
        ]
    else:
        groups = [
            ([{"path": f"{root}/{CLUSTER_SCOPED}"}], f"{cluster}.{CLUSTER_SCOPED}", "cluster")
        ]
    if not any(not unit.key for unit in units):
        split_namespaces = [key for key in cut if key != CLUSTER_SCOPED]
        groups.append(
            (
                [{"path": f"{root}/{NAMESPACES}/*"}]
                + [{"path": f"{root}/{key}", "exclude": True} for key in split_namespaces],
                cluster + ".ns.{{ .path.basename }}",
                "namespace",
            )
        )
        groups.extend(
            (
                [{"path": f"{root}/{key}/*"}],
                f"{cluster}.ns.{key.partition('/')[2]}.{{{{ .path.basename }}}}",
                "namespace",
            )
            for key in split_namespaces
        )
    generators = [
        {
            "git": {
                "repoURL": source.url,
                "revision": source.branch,
                "directories": directories,
                "template": {
                    "metadata": {"name": name, "labels": {UNIT_LABEL: scope}},
                    "spec": _argo_spec("{{ .path.path }}", source, settings),
                },
            }
        }
        for directories, name, scope in groups
    ]
    yield (
        "applicationset.yaml",
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "ApplicationSet",
            "metadata": {"name": bounded_name(cluster), "namespace": settings.namespace},
            "spec": {
                "goTemplate": True,
                "goTemplateOptions": ["missingkey=error"],
                "generators": generators,
                "template": {
                    "metadata": {"name": "{{ .path.basename }}"},
                    "spec": _argo_spec("{{ .path.path }}", source, settings),
                },
            },
        },
    )
