"""The full file tree of one cluster's folder in the generated repository.

Pure: no I/O; only the standard library and PyYAML.

The folder is cut into reconcilable units (``core.units``): each unit's ``kustomization.yaml``
lists its own files, sorted, and the root's lists the units (a namespace cut by resource lists
its resource folders), so that ``kustomize build
clusters/<cluster>`` renders every object and ``kustomize build`` of a unit renders its own.
The entry points the layout asks for (Flux, Argo CD) come last.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any

from backup2gitops.core import entry_points, kube_yaml, units
from backup2gitops.core.errors import Backup2GitopsError
from backup2gitops.core.ownership import SharedFolder
from backup2gitops.core.repo_layout import KUSTOMIZATION, cluster_root, has_odd_segment


class PathCollision(Backup2GitopsError, ValueError):
    """Two objects (or an object and a kustomization) map to the same path."""

    code = "path_collision"


def plan_tree(
    *,
    cluster: str,
    objects: Iterable[tuple[PurePosixPath, Mapping[str, Any]]],
    layout: units.Layout | None = None,
) -> dict[PurePosixPath, bytes]:
    """Path -> file content for ``clusters/<cluster>/``: the objects plus the kustomizations.

    Raise PathCollision when two objects share a path, and ValueError when a path is not a
    ``.yaml`` file of ``core.repo_layout``'s shape inside the cluster folder.
    """
    files = iter_tree(cluster=cluster, objects=objects, layout=layout)
    return {PurePosixPath(path): content for path, content in sorted(files)}


def iter_tree(
    *,
    cluster: str,
    objects: Iterable[tuple[PurePosixPath, Mapping[str, Any]]],
    layout: units.Layout | None = None,
    shared: SharedFolder | None = None,
) -> Iterator[tuple[str, bytes]]:
    """``plan_tree`` as a stream: each object's file as soon as it is serialised, then the
    kustomizations and entry points. Only the paths are remembered, so memory does not grow
    with object size."""
    files = ((path.as_posix(), kube_yaml.dump(obj).encode()) for path, obj in objects)
    for path, content in iter_files(cluster=cluster, files=files, layout=layout, shared=shared):
        assert content is not None
        yield path, content


def iter_files(
    *,
    cluster: str,
    files: Iterable[tuple[str, bytes | None]],
    layout: units.Layout | None = None,
    shared: SharedFolder | None = None,
) -> Iterator[tuple[str, bytes | None]]:
    """``iter_tree`` for objects already serialised: each file as it comes (None: the file
    committed at that path stays, the generator's member cache knows it is what this backup
    makes), then the kustomizations and entry points. Paths are POSIX strings relative to the
    repository's root, as ``adapters.git``'s ``Folder.files`` keys them: a file of the stream
    costs no ``PurePosixPath`` (a tenth of an unchanged backup's run, once).

    With ``shared`` (the folder as the tip has it, ``core.ownership``), the files the generator
    does not own are found once the objects are known (``shared.foreign``: to keep) and each
    kustomization keeps the committed one's foreign entries."""
    layout = layout or units.Layout()
    root = cluster_root(cluster).as_posix()
    seen: set[str] = set()
    members: dict[str, list[str]] = {}  # unit key -> its files, relative to the unit
    prefix = f"{root}/"
    # a folder a path was checked in -> (the folder relative to its unit, with its slash; the
    # unit's files): a further file of the folder has only its name to check (``_in_folder``)
    checked: dict[str, tuple[str, list[str]]] = {}
    for path, content in files:
        folder, _, name = path.rpartition("/")
        known = checked.get(folder)
        if known is None or not name.endswith(".yaml") or name == ".yaml":
            known = checked[folder] = _in_folder(path, prefix, layout.by, members)
        if name == KUSTOMIZATION:
            raise PathCollision(f"an object maps to {path}")
        if path in seen:
            raise PathCollision(f"two objects map to {path}")
        seen.add(path)
        known[1].append(known[0] + name)
        yield path, content
    plan = units.plan_units(cluster, members, layout=layout)
    folders = [(f"{root}/{key}" if key else root, listed) for key, listed in plan.parents.items()]
    folders += [(unit.folder, unit.files) for unit in plan.units]
    points = [
        (f"{root}/{relative}", obj)
        for relative, obj in entry_points.entry_points(
            cluster=cluster, units=plan.units, layout=layout
        )
    ]
    if shared is not None:
        seen.update(f"{folder}/{KUSTOMIZATION}" for folder, _ in folders)
        seen.update(path for path, _ in points)
        shared.settle(seen)
    for folder, listed in folders:
        if shared is None:
            yield _kustomization_file(folder, listed)
        else:
            yield f"{folder}/{KUSTOMIZATION}", shared.kustomization_file(folder, listed)
    for point, obj in points:
        yield point, kube_yaml.dump(obj).encode()


def _kustomization_file(folder: str, resources: Iterable[str]) -> tuple[str, bytes]:
    content = kube_yaml.kustomization_yaml(resources)
    return f"{folder}/{KUSTOMIZATION}", content.encode()


def _in_folder(
    path: str, prefix: str, by: units.UnitsBy, members: dict[str, list[str]]
) -> tuple[str, list[str]]:
    """Check ``path`` whole (``_check_inside``, ``units.unit_key``): its folder's entry in
    ``iter_files``, the folder relative to its unit (with its slash) and the unit's files.

    Once a path passed, another path of its folder differs only by its name, which has no
    slash: it passes too when that name ends in ``.yaml`` and is not ``.yaml`` alone (then it
    cannot be an empty, ``.`` or ``..`` segment), and it has the same unit. A path whose name
    does not is checked whole here again, and refused with the message of its own check.
    """
    _check_inside(path, prefix)
    relative = path[len(prefix) :]
    key = units.unit_key(relative, by=by)
    name = relative.rpartition("/")[2]
    inside = relative[len(key) + 1 if key else 0 : len(relative) - len(name)]
    return inside, members.setdefault(key, [])


def _check_inside(path: str, prefix: str) -> None:
    """ValueError unless ``path`` is a relative ``.yaml`` file in a subfolder of ``prefix``
    (the cluster's folder, with its slash)."""
    if not path.endswith(".yaml") or path.endswith("/.yaml") or has_odd_segment(path):
        raise ValueError(f"{path} is not a relative .yaml path")
    if not path.startswith(prefix) or "/" not in path[len(prefix) :]:
        raise ValueError(f"{path} is not inside a subfolder of {prefix.rstrip('/')}")
