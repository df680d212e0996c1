"""``GitTip``: the ``Tip`` of a git directory (a cached clone or a work tree's), read with
``git`` commands and written with one ``git fast-import`` per change set.

What publishing means is the owner's (``push``: a push to the remote, or a checkout of the
commit in a work tree); the tip only reads and writes objects and its local branch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path, PurePosixPath

from backup2gitops.adapters.git import history, trees
from backup2gitops.adapters.git.fast_import import Committed, FastImport
from backup2gitops.adapters.git.folder_sync import ImportedChange, sync_folder
from backup2gitops.adapters.git.objects import Identity
from backup2gitops.adapters.git.process import GitRunner
from backup2gitops.adapters.git.repository import BackupCommit, Folder, Seal

Push = Callable[[str], None]
RemoteRef = Callable[[str], str | None]
"""A remote branch fetched for reading: its local ref (None: the remote has no such branch)."""


class GitTip:
    def __init__(
        self,
        *,
        git_dir: Path,
        branch: str,
        runner: GitRunner,
        author: Identity,
        push: Push,
        remote_ref: RemoteRef | None = None,
        commit: str | None = None,
        logged: list[history.LoggedCommit] | None = None,
    ) -> None:
        """``commit``: the branch's commit when the caller has just set it (None: read it);
        ``logged``: the branch's log the caller has just read (its history, until the branch
        moves here)."""
        self.git_dir = git_dir
        self.branch = branch
        self.runner = runner
        self.author = author
        self._push = push
        self._remote_ref = remote_ref
        self._commit = commit if commit is not None else self.rev(f"refs/heads/{branch}")
        self._logged = logged
        self._listed: tuple[str, PurePosixPath, Folder] | None = None
        """The last folder listed (a commit's trees never change): the job reads the folder,
        then opens a change set on it; one listing of 50,000 files, not two."""
        self._not_blobs: frozenset[str] = frozenset()
        """The last folder's entries that are no file (submodules): never read as blobs."""
        self._made_trees: dict[tuple[str, PurePosixPath], str | None] = {}
        """Folders' trees in the commits made here, as fast-import answered them."""
        self._read_trees: dict[tuple[str, PurePosixPath], str | None] = {}
        """Folders' trees read on the way (a listing, ``unsealed``'s entries): no
        ``rev-parse`` for them."""

    @property
    def commit(self) -> str | None:
        return self._commit

    def rev(self, spec: str) -> str | None:
        """The object ``spec`` names, or None."""
        done = self.runner.run(
            "rev-parse", "--verify", "--quiet", spec, git_dir=self.git_dir, check=False
        )
        return done.stdout.decode().strip() or None if done.returncode == 0 else None

    def backups(self, branch: str | None = None) -> list[BackupCommit]:
        if branch is None:
            if self._logged is not None:
                return history.backup_commits(self._logged)
            ref = f"refs/heads/{self.branch}" if self._commit else None
        else:
            ref = self._remote_ref(branch) if self._remote_ref is not None else None
        if ref is None:
            return []
        return history.backup_commits(history.read_log(self.runner, git_dir=self.git_dir, ref=ref))

    def blob(self, blob: str) -> bytes:
        return self.runner.run("cat-file", "blob", blob, git_dir=self.git_dir).stdout

    def file(self, path: PurePosixPath) -> bytes | None:
        if self._commit is None:
            return None
        listed = self.runner.text(
            "ls-tree", "-z", "--full-tree", self._commit, "--", str(path), git_dir=self.git_dir
        )
        meta = listed.partition("\t")[0].split(" ")
        if len(meta) != 3 or meta[0] != "100644":
            return None
        return self.blob(meta[2])

    def folder(self, root: PurePosixPath, commit: str | None = None) -> Folder:
        """The folder's tree id (one ``rev-parse``); its files are listed when first asked
        (``_list``)."""
        commit = commit or self._commit
        if commit is None:
            return Folder(tree=None)
        if self._listed is not None and self._listed[:2] == (commit, root):
            return self._listed[2]
        folder = Folder(
            listing=lambda: self._list(root, commit), tree_of=lambda: self.tree(root, commit)
        )
        self._listed = (commit, root, folder)
        return folder

    def tree(self, root: PurePosixPath, commit: str | None = None) -> str | None:
        commit = commit or self._commit
        if commit is None:
            return None
        if (commit, root) in self._made_trees:
            return self._made_trees[commit, root]
        if (commit, root) in self._read_trees:
            return self._read_trees[commit, root]
        return self.rev(f"{commit}^{{tree}}" if str(root) in ("", ".") else f"{commit}:{root}")

    def _list(self, root: PurePosixPath, commit: str) -> tuple[dict[str, str], frozenset[str]]:
        """The folder's files (path -> blob id) and which are symbolic links: one ``ls-tree``
        of every file below it, which names the folder's own tree too (``-t``: the trees on
        the way are listed). Entries that are no file (submodules) are kept apart, never read
        as blobs (``_not_blobs``)."""
        folder = str(root)
        out = self.runner.text(
            *("ls-tree", "-r", "-t", "-z", "--full-tree", commit, "--", folder),
            git_dir=self.git_dir,
        )
        files: dict[str, str] = {}
        links: set[str] = set()
        not_blobs: set[str] = set()
        tree: str | None = None
        for entry in out.split("\0"):
            if entry:
                meta, _, path = entry.partition("\t")
                mode, kind, object_id = meta.split(" ")
                if path == folder:
                    tree = object_id  # a file at the folder's name counts as the old did
                if kind == "tree":
                    continue
                files[path] = object_id
                if mode == "120000":
                    links.add(path)
                elif kind != "blob":
                    not_blobs.add(path)
        self._not_blobs = frozenset(not_blobs)
        if folder not in ("", "."):  # the whole tree is no entry of itself: asked for apart
            self._read_trees[commit, root] = tree
        return files, frozenset(links)

    def unsealed(self, root: PurePosixPath, seal: str) -> str:
        """One ``ls-tree`` of the folder and of the folders on the way to ``seal``: a few
        dozen entries, whatever the files below (``trees.unsealed_id``)."""
        if self._commit is None:
            return ""
        folder = root.as_posix()
        levels = [f"{level}/" for level in trees.listed_levels(folder, seal)]
        listing = self.runner.run(
            *("ls-tree", "-z", "--full-tree", self._commit, "--", *levels), git_dir=self.git_dir
        ).stdout
        unsealed, whole = trees.unsealed_id(listing, folder, seal)
        self._read_trees[self._commit, root] = whole or None
        return unsealed

    @contextlib.contextmanager
    def change(self, root: PurePosixPath) -> Iterator[GitChangeSet]:
        importer = FastImport(git_dir=self.git_dir, runner=self.runner)
        try:
            yield GitChangeSet(self, root, self.folder(root), importer)
        finally:
            importer.abandon()

    def reapply(self, root: PurePosixPath, *, tree: str | None, message: str) -> str:
        if self._commit is None:
            raise ValueError("nothing to re-apply a folder on: the branch has no commit")
        importer = FastImport(git_dir=self.git_dir, runner=self.runner)
        try:
            made = importer.commit_folder(
                ref=f"refs/heads/{self.branch}",
                parent=self._commit,
                root=root,
                tree=tree,
                message=message,
                author=self.author,
            )
        finally:
            importer.abandon()
        return self._made(made, root)

    def _made(self, made: Committed, root: PurePosixPath) -> str:
        """The commit fast-import made, its folder's tree kept for ``tree``; the branch moved,
        so the history read at the start is no longer its."""
        self._made_trees[made.commit, root] = made.tree
        self._logged = None
        return made.commit

    def push(self, branch: str) -> None:
        self._push(branch)


class GitChangeSet:
    """One commit on a ``GitTip`` through ``git fast-import``: unchanged files cost a hash."""

    def __init__(
        self, tip: GitTip, root: PurePosixPath, folder: Folder, importer: FastImport
    ) -> None:
        self._tip, self._root, self._folder, self._importer = tip, root, folder, importer
        self._change = ImportedChange()

    @property
    def added(self) -> int:
        return self._change.added

    @property
    def changed(self) -> int:
        return self._change.changed

    @property
    def removed(self) -> int:
        return self._change.removed

    @property
    def written(self) -> int:
        return self._change.written

    def sync(
        self, files: Iterable[tuple[str, bytes | None]], *, keep: Collection[str] = ()
    ) -> None:
        sync_folder(
            self._importer.put,
            root=self._root,
            files=files,
            tracked=self._folder.files,
            links=self._folder.links,
            change=self._change,
            keep=keep,
        )

    def put(self, path: PurePosixPath, content: bytes) -> None:
        self._importer.put(self._change, str(path), content)

    def committed(self, path: PurePosixPath) -> bytes | None:
        return self.committed_files([str(path)]).get(str(path))

    def committed_files(self, paths: Collection[str]) -> dict[str, bytes]:
        """The committed files at ``paths`` (absent ones left out), read by the change set's
        own ``git fast-import`` (``cat-blob``): no git process of their own. Before the folder
        is listed (the member cache's header, read first), fast-import names their blobs too
        (``ls``): an unchanged backup lists no file."""
        commit = self._tip.commit
        if not self._folder.listed and commit is not None:
            ids = self._importer.blob_ids(commit, paths)
        else:
            files = self._folder.files
            not_blobs = self._tip._not_blobs  # known once listed
            ids = {p: files[p] for p in paths if p in files and p not in not_blobs}
        blobs = self._importer.cat_blobs(sorted(set(ids.values())))
        return {path: blobs[blob] for path, blob in ids.items() if blob in blobs}

    def commit(self, message: str, *, seal: Seal | None = None) -> str:
        made = self._importer.commit(
            ref=f"refs/heads/{self._tip.branch}",
            parent=self._tip.commit,
            change=self._change,
            message=message,
            author=self._tip.author,
            folder=self._root,
            seal=seal,
        )
        return self._tip._made(made, self._root)
