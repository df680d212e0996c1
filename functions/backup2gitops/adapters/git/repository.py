"""What the generator needs of a repository (``Repository``), whatever stands behind it.

The adapter reads and writes; the core decides. A ``Repository`` opens a ``Tip``: the branch as
it is now, held exclusively while open. The tip answers facts (its backup commits with their
trailers, a file, a folder) and takes one change set (``ChangeSet``: make a folder hold exactly
a stream of files, plus a few shared files; commit), then pushes. ``GitRemote`` (a cached clone
of a remote), ``LocalWorkTree`` (a work tree, no push) and ``MemoryRepository`` (no git, for the
guard and publish-loop tests) implement it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Protocol

from backup2gitops.core.trailers import BackupCommit

__all__ = ["BackupCommit", "ChangeSet", "Folder", "Repository", "Tip"]


@dataclass(frozen=True)
class Folder:
    """A folder of the tip: its tree id (None: absent), path -> blob id of every file in it,
    and which of those are symbolic links."""

    tree: str | None
    files: dict[str, str] = field(default_factory=dict)
    links: frozenset[str] = frozenset()


class ChangeSet(Protocol):
    """One commit being made on the tip. Counts leave out generated files (kustomizations)."""

    @property
    def added(self) -> int: ...

    @property
    def changed(self) -> int: ...

    @property
    def removed(self) -> int: ...

    @property
    def written(self) -> int:
        """Files added, changed or removed, generated ones included."""
        ...

    def sync(
        self, files: Iterable[tuple[str, bytes | None]], *, keep: Collection[str] = ()
    ) -> None:
        """Make the folder hold exactly ``files`` (streamed: one in memory at a time; None keeps
        the tracked blob) and the tracked files in ``keep`` as they are (read after ``files``:
        the foreign files). Paths are POSIX strings from the repository's root, as
        ``Folder.files`` keys them: the stream is the hot path of a large backup, and a
        ``PurePosixPath`` per file was a tenth of an unchanged one's run."""
        ...

    def put(self, path: PurePosixPath, content: bytes) -> None:
        """Write the regular file ``path`` (outside the folder: ``.sops.yaml``)."""
        ...

    def committed(self, path: PurePosixPath) -> bytes | None:
        """The file at ``path`` in the folder on the tip (None: absent)."""
        ...

    def committed_files(self, paths: Collection[str]) -> dict[str, bytes]:
        """The files at ``paths`` in the folder on the tip, in one read (absent: left out)."""
        ...

    def commit(self, message: str) -> str:
        """Make the commit (locally, on the branch); its id. Nothing is pushed."""
        ...


class Tip(Protocol):
    """The branch as it is now, held exclusively while the ``Repository`` keeps it open."""

    @property
    def commit(self) -> str | None:
        """The branch's commit (None: the branch has no commit yet)."""
        ...

    def backups(self, branch: str | None = None) -> list[BackupCommit]:
        """The commits standing for a backup on the branch (or on the remote ``branch``, []
        when absent), newest first."""
        ...

    def file(self, path: PurePosixPath) -> bytes | None:
        """The regular file at ``path`` on the tip (None: absent or not a file)."""
        ...

    def folder(self, root: PurePosixPath, commit: str | None = None) -> Folder:
        """The folder ``root`` on the tip (or on ``commit``)."""
        ...

    def tree(self, root: PurePosixPath, commit: str | None = None) -> str | None:
        """The tree id of the folder ``root`` on the tip (or on ``commit``), without listing
        its files (None: absent)."""
        ...

    def change(self, root: PurePosixPath) -> AbstractContextManager[ChangeSet]:
        """A change set on the tip for the folder ``root``; leaving the block without a commit
        leaves the branch as it was."""
        ...

    def reapply(self, root: PurePosixPath, *, tree: str | None, message: str) -> str:
        """A commit on the tip whose ``root`` is ``tree`` (a folder made on an older tip), the
        rest the tip's: a lost race re-applied without reading the backup again."""
        ...

    def push(self, branch: str) -> None:
        """Publish the branch's commit to ``branch``; ``GitError`` ``push_raced`` when the
        remote moved meanwhile."""
        ...


class Repository(Protocol):
    """A branch to commit backups to."""

    branch: str
    display_url: str
    recoveries: list[str]
    """What opening found left by a crashed run and repaired (for the caller's log)."""

    def open(self) -> AbstractContextManager[Tip]:
        """The tip, up to date, held exclusively."""
        ...
