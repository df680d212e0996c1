"""What one commit changed in a cluster's folder, read back from git: drift's redelivery case.

The generator computes a commit's ``core.drift.Comparison`` from its plan as it writes the
commit (``core.drift.TipComparison``). A redelivered backup whose commit is already on the
branch has no plan (the no-op never reads the archive), yet must publish the same
``gitops.drifted``: for that case only, ``commit_comparison`` reads the same comparison back
from git. Only the files the commit touched are read (``git diff --name-status`` against its
parent), and of those only the ones a rule looks at (``core.drift.watched``), one blob each,
plus the roles ``core.drift.referenced_roles`` asks for: the cost follows the size of the
change, not of the cluster. Commits are immutable, so this reads the clone without its lock;
it never fetches (the generator published the commit from that clone). Drift's comparison (and
PyYAML with it) is imported when one is first read (``core.drift``'s names asked for as called).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from backup2gitops.adapters.git.process import GitRunner
from backup2gitops.core import drift, trailers
from backup2gitops.core.drift import Comparison, Obj, ObjectChange, RoleKey


def _load(runner: GitRunner, git_dir: Path, commit: str, path: str) -> Obj | None:
    done = runner.run("cat-file", "blob", f"{commit}:{path}", git_dir=git_dir, check=False)
    return drift.committed_object(done.stdout) if done.returncode == 0 else None


def commit_comparison(
    *,
    git_dir: Path,
    runner: GitRunner,
    commit: str,
    root: PurePosixPath,
    backup_id: str,
    cluster: str,
) -> Comparison | None:
    """The objects ``commit`` added, changed or removed under ``root``, compared with its parent,
    and the roles its bindings refer to.

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
        if not drift.watched(path):
            continue  # no rule looks at this kind: not read at all
        before = None if status == "A" else _load(runner, git_dir, parent, path)
        after = None if status == "D" else _load(runner, git_dir, this, path)
        if before is None and after is None:
            continue
        changes.append(
            ObjectChange(
                before=before, after=after, namespace_hint=drift.namespace_of(path, str(root))
            )
        )
    roles: dict[RoleKey, Obj] = {}
    for key in drift.referenced_roles(changes):
        at = drift.role_path(key, cluster=cluster)
        role = None if at is None else _load(runner, git_dir, this, at)
        if role is not None:
            roles[key] = role
    return Comparison(commit=this, previous=parent, changes=changes, roles=roles)


class ChangesInGitDir:
    """``commit_comparison`` for a repository whose commits live in ``git_dir``
    (``GitRemote``'s clone, ``LocalWorkTree``'s repository)."""

    git_dir: Path
    runner: GitRunner

    def commit_comparison(
        self, *, commit: str, root: PurePosixPath, backup_id: str, cluster: str
    ) -> Comparison | None:
        """What ``commit`` changed under ``root``, read back from git (``commit_comparison``)."""
        return commit_comparison(
            git_dir=self.git_dir,
            runner=self.runner,
            commit=commit,
            root=root,
            backup_id=backup_id,
            cluster=cluster,
        )
