"""What the generator needs of a repository (``Repository``), whatever stands behind it.

The adapter reads and writes; the core decides. A ``Repository`` opens a ``Tip``: the branch as
it is now, held exclusively while open. The tip answers facts (its backup commits with their
trailers, a file, a folder) and takes one change set (``ChangeSet``: make a folder hold exactly
a stream of files, plus a few shared files; commit), then pushes. ``GitRemote`` (a cached clone
of a remote), ``LocalWorkTree`` (a work tree, no push) and ``MemoryRepository`` (no git, for the
guard and publish-loop tests) implement it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from contextlib import AbstractContextManager
from pathlib import PurePosixPath
from typing import NamedTuple, Protocol

from backup2gitops.core.trailers import BackupCommit

__all__ = ["BackupCommit", "ChangeSet", "Folder", "Repository", "Seal", "Tip"]


Listing = Callable[[], tuple[dict[str, str], frozenset[str]]]
"""Lists a folder's files (path -> blob id) and which of them are symbolic links."""


class Folder:
    """A folder of the tip: its tree id (None: absent), path -> blob id of every file in it,
    and which of those are symbolic links. Given ``listing`` and ``tree_of`` instead, it asks
    for them when first needed: a backup that is the committed one again never lists its
    files (its folder is checked by tree ids: ``Tip.unsealed``), so 50,000 files cost it no
    listing."""

    __slots__ = ("_files", "_links", "_listing", "_tree", "_tree_of")

    def __init__(
        self,
        tree: str | None = None,
        files: dict[str, str] | None = None,
        links: frozenset[str] = frozenset(),
        *,
        listing: Listing | None = None,
        tree_of: Callable[[], str | None] | None = None,
    ) -> None:
        self._tree, self._tree_of = tree, tree_of
        self._files = files if files is not None or listing is not None else {}
        self._links = links
        self._listing = listing

    @property
    def tree(self) -> str | None:
        if self._tree_of is not None:
            self._tree, self._tree_of = self._tree_of(), None
        return self._tree

    @property
    def files(self) -> dict[str, str]:
        if self._files is None:
            assert self._listing is not None
            self._files, self._links = self._listing()
        return self._files

    @property
    def links(self) -> frozenset[str]:
        _ = self.files
        return self._links

    @property
    def listed(self) -> bool:
        """Whether its files are known (listed, or given)."""
        return self._files is not None


class Seal(NamedTuple):
    """A file written last into the folder, its content made (``make``) from the folder's id
    without it: the generator's member cache header, which says what the folder is. The tip
    gives the same id back (``Tip.unsealed``); while the two agree, the folder is exactly what
    the commit that wrote the seal left, the seal apart: every file, link and folder below it,
    as git's own tree ids say, without listing them."""

    path: str
    make: Callable[[str], bytes]


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

    def commit(self, message: str, *, seal: Seal | None = None) -> str:
        """Make the commit (locally, on the branch); its id. Nothing is pushed. ``seal``: the
        file written last, made from the folder's id without it (``Seal``)."""
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

    def unsealed(self, root: PurePosixPath, seal: str) -> str:
        """The id of the folder ``root`` on the tip without the file ``seal`` ("" when that
        leaves nothing, or there is no folder): what a ``Seal`` at that path was made from, if
        nothing in the folder changed since. Cheap: not every file is listed."""
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
