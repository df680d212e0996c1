"""What drift compares: a commit's changed objects, from the plan that made it or read back.

Pure: no I/O (the tip's files come through a callable). ``Comparison`` (``changes``) is one commit compared
with its parent in the cluster's folder: the objects it added, changed or removed in the
folders a rule looks at (``WATCHED_RESOURCES``), and the roles its added or changed bindings
refer to, as the new tree has them.

``TipComparison`` builds it from the plan, while the generator writes the commit: it is told
each object the pipeline decoded and serialised (``placed``: its path, the object itself and
its blob id) and keeps those whose file differs from the tip's, as they are - the object is not
parsed back from the YAML just written. It sees every path of the stream (``seen``), so a
watched file of the tip no longer written (nor kept as a foreign file) is a removal. At the end
(``finish``) it reads, in one call, the tip's files of the changed and removed objects (their
``before``) and of the referenced roles the commit did not rewrite. A member the member cache
kept was not decoded and did not change: it gives no change, as in ``git diff``.

``adapters.git.changes`` builds the same ``Comparison`` from git (``git diff`` against the
parent, both sides parsed), for the one case without a plan: a redelivered backup whose commit
is already on the branch. Both use ``watched``, ``namespace_of`` and ``role_path``, and parse
committed files with ``committed_object``: the findings are the same either way
(``tests/functional/test_drift_from_plan.py`` checks it on real git).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TypeVar

from backup2gitops.core import kube_yaml, units
from backup2gitops.core.drift.changes import (
    WATCHED_RESOURCES,
    Obj,
    ObjectChange,
    RoleKey,
)
from backup2gitops.core.drift.engine import referenced_roles
from backup2gitops.core.repo_layout import UnsafeName, object_path

RBAC_GROUP = "rbac.authorization.k8s.io"
_Content = TypeVar("_Content", bytes, bytes | None)
ReadMany = Callable[[Collection[str]], Mapping[str, bytes]]
"""The tip's files at some paths, in one read (absent ones left out)."""


def committed_object(data: bytes | None) -> Obj | None:
    """A committed file's object, as both comparisons parse it (None: none, or no mapping)."""
    return kube_yaml.load_mapping(data)


def watched(path: str) -> bool:
    """Whether a file of a cluster's folder is an object a rule looks at: a ``.yaml`` file, not
    a generated one (kustomizations), in a folder named in ``WATCHED_RESOURCES``."""
    parts = path.rsplit("/", 2)  # strings, not PurePosixPath: asked of every file of the tip
    return (
        path.endswith(".yaml")
        and len(parts) == 3
        and parts[1] in WATCHED_RESOURCES
        and not units.is_generated(path)
    )


def namespace_of(path: str, root: str) -> str | None:
    """The namespace a path of the folder ``root`` names (``namespaces/<ns>/...``), if any."""
    parts = PurePosixPath(path).relative_to(root).parts
    return parts[1] if len(parts) > 1 and parts[0] == "namespaces" else None


def role_path(key: RoleKey, *, cluster: str) -> str | None:
    """Where the role ``key`` is committed (None: no file can be named after it)."""
    kind, namespace, name = key
    resource = "clusterroles" if kind == "ClusterRole" else "roles"
    try:
        path = object_path(
            cluster=cluster,
            group_resource=f"{resource}.{RBAC_GROUP}",
            namespace=namespace,
            name=name,
        )
    except UnsafeName:
        return None
    return path.as_posix()


@dataclass
class TipComparison:
    """The changes a commit being written makes to the tip's folder (see the module docstring).

    ``tracked``: the tip's files in the folder ``root`` (path -> blob id)."""

    root: str
    tracked: Mapping[str, str]
    after: dict[str, Obj] = field(default_factory=dict)
    """Watched files added or changed: path -> the object written there."""
    _unseen: set[str] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        self._unseen = {path for path in self.tracked if watched(path)}

    def placed(self, path: str, obj: Obj, blob: str) -> None:
        """An object the pipeline serialised to ``path`` as the blob ``blob``."""
        if blob != self.tracked.get(path) and watched(path):
            self.after[path] = obj

    def seen(self, files: Iterable[tuple[str, _Content]]) -> Iterator[tuple[str, _Content]]:
        """``files`` passed on (None: the committed file stays), each path noted as written."""
        unseen = self._unseen
        for path, content in files:
            unseen.discard(path)
            yield path, content

    def finish(
        self, *, read: ReadMany, keep: Collection[str], cluster: str
    ) -> tuple[list[ObjectChange], dict[RoleKey, Obj]]:
        """The changes and the referenced roles, once the stream is over; ``keep``: the tip's
        files kept as they are (not the generator's: ``core.ownership``)."""
        removed = self._unseen.difference(keep)
        keys = referenced_roles(ObjectChange(before=None, after=obj) for obj in self.after.values())
        paths = {key: role_path(key, cluster=cluster) for key in keys}
        from_tip = {  # the referenced roles this commit did not rewrite nor remove
            path
            for path in paths.values()
            if path is not None
            and path not in self.after
            and path in self.tracked
            and path not in removed
        }
        changed = {path for path in self.after if path in self.tracked}
        files = read(sorted(changed | removed | from_tip)) if changed or removed or from_tip else {}

        def committed(path: str) -> Obj | None:
            return committed_object(files.get(path))

        changes: list[ObjectChange] = []
        for path in sorted([*self.after, *removed]):
            before = committed(path) if path in self.tracked else None
            after = self.after.get(path)
            if before is None and after is None:
                continue
            changes.append(
                ObjectChange(
                    before=before, after=after, namespace_hint=namespace_of(path, self.root)
                )
            )
        roles: dict[RoleKey, Obj] = {}
        for key, at in paths.items():
            if at in self.after:
                role: Obj | None = self.after[at]
            else:
                role = committed(at) if at in from_tip else None
            if role is not None:
                roles[key] = role
        return changes, roles
