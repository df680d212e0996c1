"""Reconcilable units of a cluster's folder: how it is cut, and the kustomizations that tie it.

Pure: no I/O; only the standard library.

Argo CD and Flux run ``kustomize build`` on every reconcile, and kustomize's cost grows much
faster than linearly with the resources of one build (kubernetes-sigs/kustomize#5084: 1,000
objects ~2 s of CPU, 10,000 ~13 minutes). So the folder is cut into *units* that each build on
their own: by default (``by="namespace"``) one per namespace plus one for the cluster-scoped
objects, each with a ``kustomization.yaml`` that lists its own files::

    clusters/<cluster>/kustomization.yaml                     resources: [cluster-scoped, namespaces/<ns>, ...]
    clusters/<cluster>/cluster-scoped/kustomization.yaml      resources: [<resource.group>/<name>.yaml, ...]
    clusters/<cluster>/namespaces/<ns>/kustomization.yaml     resources: [<resource.group>/<name>.yaml, ...]
    clusters/<cluster>/flux/...   clusters/<cluster>/argocd/...   (optional entry points)

The root lists the units, so ``kustomize build clusters/<cluster>`` still renders everything
(fine for small clusters). ``by="cluster"`` makes the cluster folder itself the one unit. Where
an object's file lives never depends on this setting: switching it rewrites kustomizations only.

A unit is only as fast as its biggest namespace, so a unit of more than ``split_over`` objects is
cut again, by resource: each ``<resource.group>/`` folder of it becomes a unit of its own (its
own ``kustomization.yaml``), and the namespace's ``kustomization.yaml`` lists those folders, so a
build of the namespace (or of the root) still renders all of it. Paths do not change here either;
a resource folder is the finest cut that keeps them (kustomize loads no file above its root).

The Flux and Argo CD objects that point at the units are ``core.entry_points``'s; which of them
are written, and where the repository is, is part of the ``Layout`` here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, NamedTuple

UnitsBy = Literal["namespace", "cluster"]
ArgoMode = Literal["applicationset", "applications"]

CLUSTER_SCOPED: Final[str] = "cluster-scoped"
NAMESPACES: Final[str] = "namespaces"
FLUX_FOLDER: Final[str] = "flux"
ARGOCD_FOLDER: Final[str] = "argocd"
ENTRY_POINT_FOLDERS: Final[frozenset[str]] = frozenset({FLUX_FOLDER, ARGOCD_FOLDER})
"""Folders of a cluster's folder that hold entry points, not the cluster's objects."""
MAX_NAME: Final[int] = 63
"""Flux labels every applied object with its Kustomization's name, and Argo CD (label tracking)
with its Application's: a label value holds at most 63 characters."""
KUSTOMIZATION: Final[str] = "kustomization.yaml"
DEFAULT_SPLIT_OVER: Final[int] = 500
"""kustomize took 4.7-9.8 s of CPU on namespaces of 1,200-1,600 objects (docs/performance.md) and
about 1 s on 500: past this a unit is cut by resource."""


class Source(NamedTuple):
    """The repository Flux and Argo CD read: a URL without credentials, and a branch."""

    url: str
    branch: str


class FluxSettings(NamedTuple):
    namespace: str = "flux-system"
    interval: str = "10m"
    prune: bool = True
    source_name: str = "backup2gitops"
    create_source: bool = True
    """Write a ``GitRepository`` named ``source_name``; False: refer to an existing one."""
    source_secret: str | None = None
    """The name of the Secret holding Flux's git credentials (a name, never the credential)."""
    decryption_secret: str | None = None
    """Set when Secrets are sops-encrypted: the Secret holding the age private key."""


class ArgoSettings(NamedTuple):
    mode: ArgoMode = "applicationset"
    namespace: str = "argocd"
    project: str = "default"
    destination_server: str = "https://kubernetes.default.svc"
    prune: bool = True
    self_heal: bool = False


@dataclass(frozen=True)
class Layout:
    """How a cluster's folder is cut into units, and which entry points are written."""

    by: UnitsBy = "namespace"
    split_over: int | None = DEFAULT_SPLIT_OVER
    """A unit with more objects than this is cut into one unit per resource folder (None: never)."""
    source: Source | None = None
    flux: FluxSettings | None = None
    argocd: ArgoSettings | None = None

    def __post_init__(self) -> None:
        if (self.flux or self.argocd) and self.source is None:
            raise ValueError("entry points need the source repository (URL and branch)")


@dataclass(frozen=True)
class Unit:
    """One folder that ``kustomize build`` renders on its own."""

    cluster: str
    key: str
    """Inside the cluster folder: ``cluster-scoped``, ``namespaces/<ns>``, or "" (the folder); a
    unit cut by resource adds the resource folder (``namespaces/<ns>/deployments.apps``)."""
    files: tuple[str, ...] = field(default=(), compare=False)
    """Its object files, relative to the unit's folder, sorted."""

    @property
    def folder(self) -> str:
        root = f"clusters/{self.cluster}"
        return f"{root}/{self.key}" if self.key else root

    @property
    def cluster_scoped(self) -> bool:
        """Whether it applies first: it holds the CRDs and Namespaces (or everything)."""
        return not self.key.startswith(f"{NAMESPACES}/")

    @property
    def name(self) -> str:
        """``<cluster>.cluster-scoped``, ``<cluster>.ns.<namespace>``, ``<cluster>``, and for a
        unit cut by resource ``<cluster>.ns.<namespace>.<resource.group>``: unique (cluster and
        namespace names are DNS labels, so they hold no dot; a resource folder is the last part)
        and at most 63 characters (longer ones end in a digest of the whole)."""
        if not self.key:
            text = self.cluster
        elif self.cluster_scoped:
            text = ".".join([self.cluster, *self.key.split("/")])
        else:
            text = ".".join([self.cluster, "ns", *self.key.split("/")[1:]])
        return bounded_name(text)


def bounded_name(text: str) -> str:
    """``text`` if it fits a label value, else its head and 10 hex digits of its SHA-256."""
    if len(text) <= MAX_NAME:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"{text[: MAX_NAME - 11].rstrip('.-')}-{digest}"


def unit_key(relative: str, *, by: UnitsBy) -> str:
    """The unit of an object file, from its path inside the cluster folder.

    ``cluster-scoped/<resource>/<name>.yaml`` -> ``cluster-scoped``;
    ``namespaces/<ns>/<resource>/<name>.yaml`` -> ``namespaces/<ns>``; "" with ``by="cluster"``.
    Raise ValueError for a path ``core.repo_layout`` does not make.
    """
    parts = relative.split("/")
    if parts[0] == CLUSTER_SCOPED and len(parts) >= 3:
        return "" if by == "cluster" else CLUSTER_SCOPED
    if parts[0] == NAMESPACES and len(parts) >= 4:
        return "" if by == "cluster" else f"{NAMESPACES}/{parts[1]}"
    raise ValueError(
        f"{relative} is not under {CLUSTER_SCOPED}/<resource>/ or {NAMESPACES}/<ns>/<resource>/"
    )


class UnitPlan(NamedTuple):
    """The units of a cluster's folder and the kustomizations that tie them together."""

    units: list[Unit]
    """The units that build on their own, in ``ordered`` order: what entry points point at."""
    parents: dict[str, tuple[str, ...]]
    """Folder key -> the sub-folders its kustomization lists: the root's units (unless the root
    is the unit) and, for a unit cut by resource, its resource folders."""


def plan_units(cluster: str, members: Mapping[str, Iterable[str]], *, layout: Layout) -> UnitPlan:
    """Cut a cluster's folder into units from ``members`` (unit key -> its files, relative to the
    unit's folder, as ``unit_key`` groups them): a unit over ``layout.split_over`` objects
    becomes one unit per resource folder (``by="cluster"`` keeps the one unit whole)."""
    leaves: list[Unit] = []
    parents: dict[str, tuple[str, ...]] = {}
    for key, listed in members.items():
        files = sorted(listed)
        limit = layout.split_over
        if not key or limit is None or len(files) <= limit:
            leaves.append(Unit(cluster=cluster, key=key, files=tuple(files)))
            continue
        by_folder: dict[str, list[str]] = {}
        for file in files:
            folder, _, rest = file.partition("/")
            by_folder.setdefault(folder, []).append(rest)
        parents[key] = tuple(sorted(by_folder))
        leaves.extend(
            Unit(cluster=cluster, key=f"{key}/{folder}", files=tuple(inner))
            for folder, inner in by_folder.items()
        )
    found = ordered(leaves)
    if "" not in members:  # the root lists the units (and is the unit when by is cluster)
        parents[""] = tuple(sorted({_top(unit.key) for unit in found}, key=_top_order))
    return UnitPlan(units=found, parents=parents)


def _top(key: str) -> str:
    """The unit the root lists: ``cluster-scoped`` or ``namespaces/<ns>``."""
    return CLUSTER_SCOPED if key.split("/")[0] == CLUSTER_SCOPED else "/".join(key.split("/")[:2])


def _top_order(key: str) -> tuple[bool, str]:
    return (key.startswith(f"{NAMESPACES}/"), key)


GENERATOR_FOLDER: Final[str] = ".backup2gitops"
"""The generator's own bookkeeping in a cluster's folder (the member cache: ``core.member_cache``);
never an object, never a person's (``core.ownership``), never in a dry run's diff
(``core.tree_diff``)."""
GENERATED_FOLDERS: Final[frozenset[str]] = ENTRY_POINT_FOLDERS | {GENERATOR_FOLDER}
"""The entry points' folders, and the generator's own (``core.member_cache``)."""


def is_generated(path: str) -> bool:
    """Whether a repository path is a file this layout generates (a kustomization or an entry
    point), as opposed to an object of the cluster: those are left out of the object counts."""
    if path == KUSTOMIZATION or path.endswith(f"/{KUSTOMIZATION}"):
        return True
    return in_generated_folder(path)


def in_generated_folder(path: str) -> bool:
    """Whether ``path`` is in a folder of entry points (``GENERATED_FOLDERS``): what
    ``is_generated`` says of every file of its folder but a kustomization (a stream of files
    asks once per folder)."""
    parts = path.split("/")
    return len(parts) > 3 and parts[0] == "clusters" and parts[2] in GENERATED_FOLDERS


def kustomization(resources: Iterable[str]) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": list(resources),
    }


def ordered(units: Iterable[Unit]) -> list[Unit]:
    """Cluster-scoped first, then namespaces by name: the order the root lists them in."""
    return sorted(units, key=lambda unit: (not unit.cluster_scoped, unit.key))
