"""What one commit changed in a cluster's folder, read from the generator's working clone.

Only the files the commit touched are read (``git diff --name-status`` against its parent), and
of those only the kinds a rule looks at (``core.drift.WATCHED_RESOURCES``), one blob each, plus
the roles ``core.drift.referenced_roles`` asks for: the cost follows the
size of the change, not of the cluster. Commits are immutable, so this reads the clone without
its lock; it never fetches (``GitRemote.publish`` has just synced it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import yaml

from backup2gitops.adapters.gitrepo import GitError
from backup2gitops.core import units
from backup2gitops.core.drift import WATCHED_RESOURCES, ObjectChange, RoleKey
from backup2gitops.core.repo_layout import UnsafeName, object_path

if TYPE_CHECKING:  # GitPython loads when a commit is first read
    import git

RBAC_GROUP = "rbac.authorization.k8s.io"


@dataclass(frozen=True)
class CommitChanges:
    commit: str
    previous: str
    changes: list[ObjectChange]
    repo: git.Repo
    root: PurePosixPath

    def roles(self, keys: Iterable[RoleKey], *, cluster: str) -> dict[RoleKey, Mapping[str, Any]]:
        """The roles named by ``keys`` as the commit has them (absent ones are left out)."""
        found: dict[RoleKey, Mapping[str, Any]] = {}
        tree = self.repo.commit(self.commit).tree
        for key in keys:
            kind, namespace, name = key
            resource = "clusterroles" if kind == "ClusterRole" else "roles"
            try:
                path = object_path(
                    cluster=cluster,
                    group_resource=f"{resource}.{RBAC_GROUP}",
                    namespace=namespace,
                    name=name,
                )
            except UnsafeName:  # no file can be named after it: no such role in the tree
                continue
            obj = _load(tree, str(path))
            if obj is not None:
                found[key] = obj
        return found


def _load(tree: Any, path: str) -> Mapping[str, Any] | None:
    try:
        blob = tree / path
    except KeyError:
        return None
    loaded = yaml.safe_load(blob.data_stream.read())
    return loaded if isinstance(loaded, dict) else None


def _namespace_of(path: str, root: PurePosixPath) -> str | None:
    parts = PurePosixPath(path).relative_to(root).parts
    return parts[1] if len(parts) > 1 and parts[0] == "namespaces" else None


def commit_changes(
    *, workdir: Path, commit: str, root: PurePosixPath, backup_id: str, cluster: str
) -> CommitChanges | None:
    """The objects ``commit`` added, changed or removed under ``root``, compared with its parent.

    None when there is nothing to compare: the commit is not this backup's (a no-op returned
    another commit), it has no parent, or the parent had no folder for the cluster (the baseline).
    """
    import git

    try:
        repo = git.Repo(workdir)
        this = repo.commit(commit)
        trailers = this.message
        if f"Backup-Id: {backup_id}" not in trailers or f"Cluster: {cluster}" not in trailers:
            return None
        if not this.parents:
            return None
        parent = this.parents[0]
        try:
            parent.tree / str(root)
        except KeyError:
            return None
        out = repo.git.diff(
            "--name-status", "--no-renames", "-z", parent.hexsha, this.hexsha, "--", str(root)
        )
    except (git.GitCommandError, ValueError) as exc:
        raise GitError(
            "git_unavailable", f"cannot read commit {commit[:12]}", retryable=True
        ) from exc
    fields = out.split("\x00")
    changes: list[ObjectChange] = []
    for status, path in zip(fields[0::2], fields[1::2], strict=False):
        if not path.endswith(".yaml") or units.is_generated(path):
            continue
        if PurePosixPath(path).parent.name not in WATCHED_RESOURCES:
            continue  # no rule looks at this kind: not read at all
        before = None if status == "A" else _load(parent.tree, path)
        after = None if status == "D" else _load(this.tree, path)
        if before is None and after is None:
            continue
        changes.append(
            ObjectChange(before=before, after=after, namespace_hint=_namespace_of(path, root))
        )
    return CommitChanges(
        commit=this.hexsha, previous=parent.hexsha, changes=changes, repo=repo, root=root
    )
