"""Making one folder of a branch hold exactly a stream of files, without a work tree.

Each incoming file's blob id is computed here as git computes it (``sha1("blob <size>\\0" +
content)``) and compared with the blob the tip's tree holds at that path (``git ls-tree``):
an unchanged file costs one hash and nothing else. A new or changed file is streamed, as it is
made, into one ``git fast-import`` process as a blob; when the stream ends, one ``commit``
command names the tree change against the tip (``from``, then ``M`` / ``D``). git writes one
pack and the commit; no file is written to disk and no index is built, so a first commit of
10,000 objects costs what ``git fast-import`` of those files costs (issue 17: the work tree and
``git add`` were the floor itself). fast-import drops folders left empty by ``D``.

The caller sees the counts before the commit command is written (``ImportedChange``), so the
guards can still refuse: ``abandon`` ends the stream without a commit (the blobs already sent
stay in the object store unreferenced, for ``git gc`` to prune; nothing points at them).

fast-import also answers on its own stream (its standard output, read under the runner's
deadline): ``cat-blob`` reads a committed file while the change is made, and after the commit
``get-mark`` / ``ls`` say the commit's id and the folder's tree: no ``cat-file`` and no
``rev-parse`` beside it.

Paths are checked as strings (relative, no ``..``, strictly under the folder, no character
fast-import would read as syntax). There is no file system under the folder, so nothing is
ever written outside it; a file at or through a symbolic link committed in the folder is still
refused (a checkout would follow it).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import tempfile
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from backup2gitops.adapters.git.errors import GitError
from backup2gitops.adapters.git.process import GitRunner, kill_group
from backup2gitops.adapters.git.repository import Seal
from backup2gitops.core import units
from backup2gitops.core.repo_layout import has_odd_segment

KUSTOMIZATION = "kustomization.yaml"


def unsafe_path(message: str) -> GitError:
    """A path that would land outside the folder, or that fast-import would misread."""
    return GitError("unsafe_path", message, retryable=False)


def import_failed(message: str) -> GitError:
    """``git fast-import`` failed in the clone (local trouble: disk, a broken clone)."""
    return GitError("git_unavailable", message, retryable=True)


def blob_id(content: bytes) -> str:
    """The id git gives ``content`` as a blob (SHA-1 object format)."""
    digest = hashlib.sha1(b"blob %d\0" % len(content), usedforsecurity=False)
    digest.update(content)
    return digest.hexdigest()


@dataclass
class ImportedChange:
    """What the stream changed; counts leave out the generated files (``units.is_generated``:
    kustomizations, entry points)."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    operations: list[bytes] = field(default_factory=list)
    """fast-import file commands (``M 100644 :<mark> <path>`` / ``D <path>``), in order."""

    @property
    def written(self) -> int:
        """Files added, changed or removed, kustomizations included."""
        return len(self.operations)


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


ASKED_AT_ONCE = 256
"""``cat-blob`` commands written before their answers are read: ~13 KB, well inside a pipe's
buffer, so fast-import is never left unable to read the next command while it waits for its
answers (which may be larger than the pipe's buffer) to be read."""


@dataclass(frozen=True)
class Committed:
    """What fast-import answered after the commit: its id, and the folder's tree in it (None:
    the folder is absent, or was not asked for)."""

    commit: str
    tree: str | None


class FastImport:
    """One ``git fast-import`` process into ``git_dir``: blobs first, then at most one commit.
    Its end is bounded by ``runner``'s deadline like every git command."""

    def __init__(self, *, git_dir: Path, runner: GitRunner | None = None) -> None:
        self._runner = runner or GitRunner()
        self._errors: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in _finish
        self._process = self._runner.start(
            *("fast-import", "--quiet", "--done", "--force", "--date-format=now"),
            git_dir=git_dir,
            stderr=self._errors,
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._stdin: IO[bytes] = self._process.stdin
        self._answers = _Answers(self._process.stdout)
        self._marks = 0
        self._outcome: str | None = None

    def _write(self, *chunks: bytes) -> None:
        try:
            for chunk in chunks:
                self._stdin.write(chunk)
        except (OSError, ValueError) as exc:  # ValueError: already closed
            raise import_failed(f"git fast-import stopped: {self._finish()}") from exc

    def _answer(self, size: int | None = None) -> bytes:
        """fast-import's next answer: a line (without its LF), or ``size`` bytes and the LF
        after them; within the runner's deadline, like every wait on git."""
        with contextlib.suppress(OSError, ValueError):
            self._stdin.flush()
        deadline = time.monotonic() + self._runner.timeout_s
        try:
            return (
                self._answers.line(deadline) if size is None else self._answers.data(size, deadline)
            )
        except TimeoutError:
            kill_group(self._process)
            self._finish()
            raise self._runner.expired("fast-import") from None
        except EOFError:
            raise import_failed(f"git fast-import stopped: {self._finish()}") from None

    def cat_blobs(self, blobs: Iterable[str]) -> dict[str, bytes]:
        """The blobs of the repository among ``blobs`` (one it has none of left out), read by
        the running fast-import (``cat-blob``): ``ASKED_AT_ONCE`` asked, then their answers
        read, so a thousand files cost no thousand round trips. Never a commit or a tree:
        fast-import would stop."""
        wanted, found = list(blobs), {}
        for start in range(0, len(wanted), ASKED_AT_ONCE):
            asked = wanted[start : start + ASKED_AT_ONCE]
            self._write(*(b"cat-blob %s\n" % blob.encode() for blob in asked))
            for blob in asked:
                header = self._answer().split(b" ")
                if len(header) == 3 and header[1] == b"blob":  # else "<id> missing"
                    found[blob] = self._answer(int(header[2]))
        return found

    def blob_ids(self, commit: str, paths: Iterable[str]) -> dict[str, str]:
        """The blob ids of the files at ``paths`` in ``commit`` (a path that is no file there
        left out), as the running fast-import names them (``ls``): ``ASKED_AT_ONCE`` asked,
        then their answers read."""
        wanted, found = list(paths), {}
        for path in wanted:
            if '"' in path or "\\" in path or "\n" in path:
                raise unsafe_path(f"{path} cannot be named in a fast-import stream")
        for start in range(0, len(wanted), ASKED_AT_ONCE):
            asked = wanted[start : start + ASKED_AT_ONCE]
            self._write(*(b'ls %s "%s"\n' % (commit.encode(), path.encode()) for path in asked))
            for path in asked:
                meta = self._answer().partition(b"\t")[0].split(b" ")
                if len(meta) == 3 and meta[1] == b"blob":  # else "missing <path>", a tree...
                    found[path] = meta[2].decode()
        return found

    def blob(self, content: bytes) -> int:
        """Send ``content`` as a blob; its mark."""
        self._marks += 1
        self._write(b"blob\nmark :%d\ndata %d\n" % (self._marks, len(content)), content, b"\n")
        return self._marks

    def put(self, change: ImportedChange, path: str, content: bytes) -> None:
        """Send ``content`` as a blob and add it to ``change`` as the regular file ``path``."""
        mark = self.blob(content)
        change.operations.append(b"M 100644 :%d %s\n" % (mark, path.encode()))

    def sync_folder(
        self,
        *,
        root: PurePosixPath,
        files: Iterable[tuple[str, bytes | None]],
        tracked: Mapping[str, str],
        links: Collection[str] = (),
        change: ImportedChange | None = None,
        keep: Collection[str] = (),
    ) -> ImportedChange:
        """Send what makes ``root`` hold exactly ``files``, given the tip's ``tracked`` blob ids
        (a file given as None keeps its tracked blob), and the tracked files in ``keep`` as they
        are (read once ``files`` is exhausted: the files the generator does not own,
        ``core.ownership``).

                ``links``: the tracked paths that are symbolic links. A file at or under one is refused
        (``unsafe_path``): someone committed a link into the generated folder, and replacing it
                silently would hide that (a work tree would have followed it).
        """
        linked = {link.rstrip("/") for link in links}
        prefix = f"{root.as_posix().rstrip('/')}/"
        # the folders of the paths checked whole (``_plain_name``) -> whether their files are
        # generated ones, a kustomization apart (``units.in_generated_folder``)
        checked: dict[str, bool] = {}
        left = dict(tracked)  # the tracked files the stream has not named yet
        change = change if change is not None else ImportedChange()
        for path, content in files:
            folder, _, name = path.rpartition("/")
            generated = checked.get(folder)
            if generated is not None and _plain_name(name):
                if linked and path in linked:
                    raise unsafe_path(f"{path} is, or is inside, a symbolic link in the repository")
            else:
                _check_path(path, prefix, root, linked)
                generated = checked[folder] = units.in_generated_folder(path)
            known = left.pop(path, None)
            if known is None:
                known = tracked.get(path)  # the path was given before
            if content is None:  # the committed file stays (the generator's member cache)
                if known is None:
                    raise unsafe_path(f"{path} is to stay as committed, but there is none")
                continue
            if known is not None and known == blob_id(content):
                continue
            self.put(change, path, content)
            if not generated and name != KUSTOMIZATION:  # units.is_generated(path)
                if known is None:
                    change.added += 1
                else:
                    change.changed += 1
        removed = set(left).difference(keep)
        gone = [b"D %s\n" % path.encode() for path in sorted(removed)]
        change.operations[:0] = gone  # first: a file that was a folder's name goes before it
        change.removed = sum(1 for p in removed if not units.is_generated(p))
        return change

    def commit(
        self,
        *,
        ref: str,
        parent: str | None,
        change: ImportedChange,
        message: str,
        author: Identity,
        folder: PurePosixPath | None = None,
        seal: Seal | None = None,
    ) -> Committed:
        """Write the commit on ``ref`` (``parent`` first, or a root commit) and end the stream;
        its id and ``folder``'s tree in it, as fast-import answers them. ``seal`` (a file in
        ``folder``) is written last, made from ``folder``'s tree id without it, which
        fast-import answers in the middle of the commit (``D`` it, ``ls`` the folder)."""
        body = cleaned_message(message).encode()
        who = b"%s <%s> now\n" % (author.name.encode(), author.email.encode())
        self._marks += 1
        mark = self._marks
        header = b"commit %s\nmark :%d\nauthor %scommitter %sdata %d\n" % (
            ref.encode(),
            mark,
            who,
            who,
            len(body),
        )
        self._write(header, body, b"\n")
        if parent is not None:
            self._write(b"from %s\n" % parent.encode())
        self._write(*change.operations)
        if seal is not None:
            if folder is None:
                raise ValueError("a seal is made from its folder's id: name the folder")
            self._seal(seal, folder)
        self._write(b"\nget-mark :%d\n" % mark)
        made = self._answer().decode()
        tree = self._tree(mark, folder) if folder is not None else None
        self._write(b"done\n")
        self._close()
        return Committed(made, tree)

    def _seal(self, seal: Seal, folder: PurePosixPath) -> None:
        """``seal`` made from the active commit's ``folder`` without it ("" when that is
        empty), then written: what ``trees.unsealed_id`` works out from the commit later."""
        path = seal.path.encode()
        # quoted: unquoted, the active commit's form would be read as a dataref
        self._write(b"D %s\n" % path, b'ls "%s"\n' % _ls_path(folder))
        meta = self._answer().partition(b"\t")[0].split(b" ")
        content = seal.make(meta[2].decode() if len(meta) == 3 else "")
        self._write(b"M 100644 inline %s\ndata %d\n" % (path, len(content)), content, b"\n")

    def _tree(self, mark: int, folder: PurePosixPath) -> str | None:
        """``folder``'s tree in the commit ``mark`` (``ls``: "<mode> tree <id>\\t<path>", or
        "missing <path>")."""
        self._write(b"ls :%d %s\n" % (mark, _ls_path(folder)))
        meta = self._answer().partition(b"\t")[0].split(b" ")
        return meta[2].decode() if len(meta) == 3 else None

    def commit_folder(
        self,
        *,
        ref: str,
        parent: str,
        root: PurePosixPath,
        tree: str | None,
        message: str,
        author: Identity,
    ) -> Committed:
        """A commit on ``parent`` whose ``root`` is the tree ``tree`` (absent: None), and
        everything else ``parent``'s: a lost push race re-applied in one command."""
        change = ImportedChange()
        folder = root.as_posix().rstrip("/").encode()
        operation = b"M 040000 %s %s\n" % (tree.encode(), folder) if tree else b"D %s\n" % folder
        change.operations.append(operation)
        return self.commit(
            ref=ref, parent=parent, change=change, message=message, author=author, folder=root
        )

    def abandon(self) -> None:
        """End the stream with no commit (the guards refused, or reading failed)."""
        with contextlib.suppress(GitError):
            self._write(b"done\n")
        self._finish()

    def _close(self) -> None:
        problem = self._finish()
        if problem:
            raise import_failed(f"git fast-import failed: {problem}")

    def _finish(self) -> str:
        """Close the stream and wait for the process; its error (empty when it succeeded)."""
        if self._outcome is None:
            with contextlib.suppress(OSError):
                self._stdin.close()
            try:
                code = self._runner.finish(self._process, "fast-import")
            except GitError as exc:  # past the deadline: killed
                code, text = -1, exc.message
            else:
                self._errors.seek(0)
                text = self._errors.read().decode(errors="replace").strip()
            self._errors.close()
            with contextlib.suppress(OSError):
                self._answers.close()
            first = text.splitlines()[0][:300] if text else f"exit {code}"
            self._outcome = "" if code == 0 else first
        return self._outcome


class _Answers:
    """fast-import's standard output, read as its answers come: a line, or so many bytes."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._fd = stream.fileno()
        self._buffer = bytearray()

    def _more(self, deadline: float) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        if not poller.poll(max(0.0, deadline - time.monotonic()) * 1000):
            raise TimeoutError
        chunk = os.read(self._fd, 1 << 16)
        if not chunk:
            raise EOFError
        self._buffer += chunk

    def line(self, deadline: float) -> bytes:
        while (end := self._buffer.find(b"\n")) < 0:
            self._more(deadline)
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line

    def data(self, size: int, deadline: float) -> bytes:
        while len(self._buffer) < size + 1:
            self._more(deadline)
        data = bytes(self._buffer[:size])
        del self._buffer[: size + 1]
        return data

    def close(self) -> None:
        self._stream.close()


def _ls_path(folder: PurePosixPath) -> bytes:
    """``folder`` as ``ls`` names it ("": the whole tree)."""
    path = folder.as_posix().rstrip("/")
    path = "" if path == "." else path
    if '"' in path or "\\" in path or "\n" in path:
        raise unsafe_path(f"{path} cannot be a folder name in a fast-import stream")
    return path.encode()


def _check_path(path: str, prefix: str, root: PurePosixPath, linked: set[str]) -> None:
    """``unsafe_path`` unless ``path`` is strictly under the folder (``prefix``: with its
    slash), a plain relative path with no character fast-import would read as syntax, and not
    at or through a symbolic link of ``linked``."""
    if (
        not path.startswith(prefix)
        or has_odd_segment(path)
        or '"' in path
        or "\n" in path
        or "\r" in path
        or "\0" in path
    ):
        raise unsafe_path(f"{path} is outside {root} or cannot be a file name there")
    if linked and _through_link(path, linked):
        raise unsafe_path(f"{path} is, or is inside, a symbolic link in the repository")


def _plain_name(name: str) -> bool:
    """Whether a file name passes ``_check_path`` in any folder a path passed in: not empty,
    ``.`` or ``..`` (all dots is left to the whole check), printable (no line break, no NUL)
    and without a quote. A path of a checked folder with another name is checked whole: this
    decides only when the whole check need not run. The folder's path passed every check and
    the name has no slash, so the path is the folder's (inside the root, no odd segment, no
    odd character) but for its name; a link at the path itself is asked for apart."""
    return bool(name.strip(".")) and name.isprintable() and '"' not in name


def _through_link(path: str, links: set[str]) -> bool:
    while path:
        if path in links:
            return True
        path = path.rpartition("/")[0]
    return False


def cleaned_message(message: str) -> str:
    """The message as ``git commit --cleanup=whitespace`` stores it: trailing whitespace off
    every line, runs of blank lines made one, none at either end, one final newline."""
    lines = [line.rstrip() for line in message.splitlines()]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    while kept and not kept[-1]:
        kept.pop()
    return "\n".join(kept) + "\n"
