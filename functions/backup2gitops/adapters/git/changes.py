"""What one commit changed in a cluster's folder, for drift.

Only the files the commit touched are read (``git diff --name-status`` against its parent), and
of those only the kinds a rule looks at (``core.drift.WATCHED_RESOURCES``), one blob each, plus
the roles ``core.drift.referenced_roles`` asks for: the cost follows the size of the change,
not of the cluster. Commits are immutable, so this reads the clone without its lock; it never
fetches (the generator has just published the commit from that clone).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from backup2gitops.adapters.git.process import GitRunner
from backup2gitops.core import trailers, units
from backup2gitops.core.drift import WATCHED_RESOURCES, ObjectChange, RoleKey
from backup2gitops.core.repo_layout import UnsafeName, object_path

RBAC_GROUP = "rbac.authorization.k8s.io"


@dataclass(frozen=True)
class CommitChanges:
    commit: str
    previous: str
    changes: list[ObjectChange]
    git_dir: Path
    runner: GitRunner
    root: PurePosixPath

    def roles(self, keys: Iterable[RoleKey], *, cluster: str) -> dict[RoleKey, Mapping[str, Any]]:
        """The roles named by ``keys`` as the commit has them (absent ones are left out)."""
        found: dict[RoleKey, Mapping[str, Any]] = {}
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
            obj = _load(self.runner, self.git_dir, self.commit, str(path))
            if obj is not None:
                found[key] = obj
        return found


def _load(runner: GitRunner, git_dir: Path, commit: str, path: str) -> Mapping[str, Any] | None:
    done = runner.run("cat-file", "blob", f"{commit}:{path}", git_dir=git_dir, check=False)
    if done.returncode != 0:
        return None
    loaded = yaml.safe_load(done.stdout)
    return loaded if isinstance(loaded, dict) else None


def _namespace_of(path: str, root: PurePosixPath) -> str | None:
    parts = PurePosixPath(path).relative_to(root).parts
    return parts[1] if len(parts) > 1 and parts[0] == "namespaces" else None


def commit_changes(
    *,
    git_dir: Path,
    runner: GitRunner,
    commit: str,
    root: PurePosixPath,
    backup_id: str,
    cluster: str,
) -> CommitChanges | None:
    """The objects ``commit`` added, changed or removed under ``root``, compared with its parent.

    None when there is nothing to compare: the commit is not this backup's (its trailers, parsed,
    name another backup or cluster), it has no parent, or the parent had no folder for the
    cluster (the baseline).
    """
    message = runner.text("log", "-1", "--format=%B", commit, "--", git_dir=git_dir)
    found = trailers.backup_trailers(trailers.parse(message))
    if found is None or found.backup_id != backup_id or found.cluster != cluster:
        return None
    listed = runner.text("rev-list", "--parents", "-n1", commit, "--", git_dir=git_dir).split()
    if len(listed) < 2:
        return None
    this, parent = listed[0], listed[1]
    folder = runner.run(
        "rev-parse", "--verify", "--quiet", f"{parent}:{root}", git_dir=git_dir, check=False
    )
    if folder.returncode != 0:
        return None
    out = runner.text(
        "diff",
        "--name-status",
        "--no-renames",
        "-z",
        parent,
        this,
        "--",
        str(root),
        git_dir=git_dir,
    )
    fields = out.split("\x00")
    changes: list[ObjectChange] = []
    for status, path in zip(fields[0::2], fields[1::2], strict=False):
        if not path.endswith(".yaml") or units.is_generated(path):
            continue
        if PurePosixPath(path).parent.name not in WATCHED_RESOURCES:
            continue  # no rule looks at this kind: not read at all
        before = None if status == "A" else _load(runner, git_dir, parent, path)
        after = None if status == "D" else _load(runner, git_dir, this, path)
        if before is None and after is None:
            continue
        changes.append(
            ObjectChange(before=before, after=after, namespace_hint=_namespace_of(path, root))
        )
    return CommitChanges(
        commit=this, previous=parent, changes=changes, git_dir=git_dir, runner=runner, root=root
    )


class ChangesInGitDir:
    """``changes`` for a repository whose commits live in ``git_dir`` (``GitRemote``'s clone,
    ``LocalWorkTree``'s repository): one implementation of ``Repository.changes``."""

    git_dir: Path
    runner: GitRunner

    def changes(
        self, *, commit: str, root: PurePosixPath, backup_id: str, cluster: str
    ) -> CommitChanges | None:
        """What ``commit`` changed under ``root`` (``commit_changes``)."""
        return commit_changes(
            git_dir=self.git_dir,
            runner=self.runner,
            commit=commit,
            root=root,
            backup_id=backup_id,
            cluster=cluster,
        )
