"""``MemoryRepository``: the ``Repository`` interface with no git at all, for the tests of the
guards and of the generator's publish loop (the real-git tests stay with the adapter).

Each ``open`` is a clone of the branch as it is then; ``push`` refuses (``push_raced``) when
the branch moved since, as a remote refuses a non-fast-forward. ``before_push`` lets a test
land another generator's commit at the moment the push goes out: a real lost race.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from backup2gitops.adapters.git.errors import GitError
from backup2gitops.adapters.git.objects import blob_id, cleaned_message
from backup2gitops.adapters.git.repository import BackupCommit, Folder, Seal
from backup2gitops.core import trailers, units
from backup2gitops.core.repo_layout import has_odd_segment


@dataclass(frozen=True)
class MemoryCommit:
    id: str
    parent: str | None
    files: dict[str, bytes]
    message: str


def _tree_id(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + blob_id(files[path]).encode() + b"\n")
    return digest.hexdigest()[:40]


class MemoryRepository:
    def __init__(self, *, branch: str = "main", display_url: str = "memory://gitops") -> None:
        self.branch = branch
        self.display_url = display_url
        self.recoveries: list[str] = []
        self.commits: dict[str, MemoryCommit] = {}
        self.branches: dict[str, str] = {}
        self.trees: dict[str, dict[str, bytes]] = {}
        self.pushes = 0
        self.before_push: Callable[[], None] | None = None
        """Called once, as the next push goes out (then cleared)."""

    def head(self, branch: str | None = None) -> MemoryCommit | None:
        commit = self.branches.get(branch or self.branch)
        return None if commit is None else self.commits[commit]

    def files(self, branch: str | None = None) -> dict[str, bytes]:
        head = self.head(branch)
        return dict(head.files) if head else {}

    def log(self, commit: str | None) -> list[MemoryCommit]:
        found: list[MemoryCommit] = []
        while commit is not None:
            found.append(self.commits[commit])
            commit = self.commits[commit].parent
        return found

    @contextlib.contextmanager
    def open(self) -> Iterator[MemoryTip]:
        yield MemoryTip(self, self.branches.get(self.branch))

    def add(self, parent: str | None, files: dict[str, bytes], message: str) -> str:
        message = cleaned_message(message)
        commit_id = hashlib.sha1(  # noqa: S324 - an id, as git's
            f"{parent}\n{_tree_id(files)}\n{message}\n{len(self.commits)}".encode()
        ).hexdigest()
        self.commits[commit_id] = MemoryCommit(commit_id, parent, dict(files), message)
        return commit_id


class MemoryTip:
    def __init__(self, repository: MemoryRepository, commit: str | None) -> None:
        self.repository = repository
        self._base = commit
        self._local = commit

    @property
    def commit(self) -> str | None:
        return self._base

    def _files(self, commit: str | None) -> dict[str, bytes]:
        return dict(self.repository.commits[commit].files) if commit else {}

    def backups(self, branch: str | None = None) -> list[BackupCommit]:
        start = self._base if branch is None else self.repository.branches.get(branch)
        found: list[BackupCommit] = []
        for commit in self.repository.log(start):
            parsed = trailers.backup_trailers(trailers.parse(commit.message))
            if parsed is not None:
                found.append(BackupCommit(commit.id, parsed))
        return found

    def file(self, path: PurePosixPath) -> bytes | None:
        return self._files(self._base).get(str(path))

    def folder(self, root: PurePosixPath, commit: str | None = None) -> Folder:
        prefix = f"{root}/"
        inside = {
            p: c for p, c in self._files(commit or self._base).items() if p.startswith(prefix)
        }
        if not inside:
            return Folder(tree=None)
        tree = _tree_id(inside)
        self.repository.trees[tree] = inside
        return Folder(tree=tree, files={p: blob_id(c) for p, c in inside.items()})

    def tree(self, root: PurePosixPath, commit: str | None = None) -> str | None:
        return self.folder(root, commit).tree

    def unsealed(self, root: PurePosixPath, seal: str) -> str:
        return _unsealed(self._files(self._base), root, seal)

    @contextlib.contextmanager
    def change(self, root: PurePosixPath) -> Iterator[MemoryChangeSet]:
        yield MemoryChangeSet(self, root)

    def reapply(self, root: PurePosixPath, *, tree: str | None, message: str) -> str:
        prefix = f"{root}/"
        files = {p: c for p, c in self._files(self._base).items() if not p.startswith(prefix)}
        files.update(self.repository.trees.get(tree, {}) if tree else {})
        self._local = self.repository.add(self._base, files, message)
        return self._local

    def made(self, files: dict[str, bytes], message: str) -> str:
        self._local = self.repository.add(self._base, files, message)
        return self._local

    def push(self, branch: str) -> None:
        hook, self.repository.before_push = self.repository.before_push, None
        if hook is not None:
            hook()
        self.repository.pushes += 1
        current = self.repository.branches.get(branch)
        if branch == self.repository.branch and current != self._base:
            raise GitError("push_raced", "the branch moved during the push", retryable=True)
        assert self._local is not None
        self.repository.branches[branch] = self._local


class MemoryChangeSet:
    def __init__(self, tip: MemoryTip, root: PurePosixPath) -> None:
        self._tip, self._root = tip, root
        self._files = tip._files(tip.commit)
        self._before = dict(self._files)
        self.added = self.changed = self.removed = 0
        self._written = 0

    @property
    def written(self) -> int:
        return self._written

    def sync(
        self, files: Iterable[tuple[str, bytes | None]], *, keep: Collection[str] = ()
    ) -> None:
        prefix = f"{self._root}/"
        seen: set[str] = set()
        for path, content in files:
            if not path.startswith(prefix) or has_odd_segment(path):
                raise GitError("unsafe_path", f"{path} is outside {self._root}", retryable=False)
            seen.add(path)
            known = self._before.get(path)
            if content is None:  # the committed file stays (the generator's member cache)
                if known is None:
                    raise GitError(
                        "unsafe_path", f"{path} is to stay but is not committed", retryable=False
                    )
                continue
            if known == content:
                continue
            self._files[path] = content
            self._written += 1
            if not units.is_generated(path):
                self.added += known is None
                self.changed += known is not None
        kept = set(keep)
        for path in [
            p for p in self._before if p.startswith(prefix) and p not in seen and p not in kept
        ]:
            del self._files[path]
            self._written += 1
            self.removed += not units.is_generated(path)

    def put(self, path: PurePosixPath, content: bytes) -> None:
        self._files[str(path)] = content
        self._written += 1

    def committed(self, path: PurePosixPath) -> bytes | None:
        return self._before.get(str(path))

    def committed_files(self, paths: Collection[str]) -> dict[str, bytes]:
        return {path: self._before[path] for path in paths if path in self._before}

    def commit(self, message: str, *, seal: Seal | None = None) -> str:
        if seal is not None:
            self._files[seal.path] = seal.make(_unsealed(self._files, self._root, seal.path))
        return self._tip.made(self._files, message)


def _unsealed(files: dict[str, bytes], root: PurePosixPath, seal: str) -> str:
    """This repository's id of the folder ``root`` of ``files`` without ``seal`` (its own kind
    of id, as its trees are: the generator only compares them)."""
    prefix = f"{root}/"
    inside = {p: c for p, c in files.items() if p.startswith(prefix) and p != seal}
    return _tree_id(inside) if inside else ""
