"""The full file tree of one cluster's folder in the generated repository.

Pure: no I/O; only the standard library and PyYAML.

Every folder under ``clusters/<cluster>/`` gets a ``kustomization.yaml`` listing its YAML files
and its subfolders, sorted, so that ``kustomize build clusters/<cluster>`` renders every object.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any

from backup2gitops.core import manifest_yaml
from backup2gitops.core.errors import Backup2GitopsError
from backup2gitops.core.repo_layout import KUSTOMIZATION, cluster_root


class PathCollision(Backup2GitopsError, ValueError):
    """Two objects (or an object and a kustomization) map to the same path."""

    code = "path_collision"


def plan_tree(
    *, cluster: str, objects: Iterable[tuple[PurePosixPath, Mapping[str, Any]]]
) -> dict[PurePosixPath, bytes]:
    """Path -> file content for ``clusters/<cluster>/``: the objects plus the kustomizations.

    Raise PathCollision when two objects share a path, and ValueError when a path is not a
    ``.yaml`` file strictly inside the cluster folder.
    """
    return dict(sorted(iter_tree(cluster=cluster, objects=objects)))


def iter_tree(
    *, cluster: str, objects: Iterable[tuple[PurePosixPath, Mapping[str, Any]]]
) -> Iterator[tuple[PurePosixPath, bytes]]:
    """``plan_tree`` as a stream: each object's file as soon as it is serialised, then the
    kustomizations. Only the paths are remembered, so memory does not grow with object size."""
    root = cluster_root(cluster)
    seen: set[str] = set()  # strings, not paths: hashing PurePosixPath was a tenth of planning
    entries: dict[str, set[str]] = {root.as_posix(): set()}
    for path, obj in objects:
        text = _check_inside(path, root)
        if text in seen:
            raise PathCollision(f"two objects map to {path}")
        seen.add(text)
        folder, _, name = text.rpartition("/")
        while True:
            names = entries.get(folder)
            if names is not None:
                names.add(name)
                break  # the folder's own parents are already listed
            entries[folder] = {name}
            folder, _, name = folder.rpartition("/")
        yield path, manifest_yaml.dump(obj).encode()
    for folder, names in sorted(entries.items(), key=lambda entry: entry[0].split("/")):
        kustomization = f"{folder}/{KUSTOMIZATION}"
        if kustomization in seen:
            raise PathCollision(f"an object maps to {kustomization}")
        yield PurePosixPath(kustomization), _kustomization(sorted(names)).encode()


def _kustomization(resources: list[str]) -> str:
    return manifest_yaml.dump(
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": resources,
        }
    )


def _check_inside(path: PurePosixPath, root: PurePosixPath) -> str:
    text, prefix = path.as_posix(), f"{root.as_posix()}/"
    if text.startswith("/") or ".." in text.split("/") or path.suffix != ".yaml":
        raise ValueError(f"{path} is not a relative .yaml path")
    if not text.startswith(prefix) or "/" not in text[len(prefix) :]:
        raise ValueError(f"{path} is not inside a subfolder of {root}")
    return text
