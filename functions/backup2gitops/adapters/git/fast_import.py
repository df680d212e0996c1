"""One ``git fast-import`` process: a commit made on a branch without a work tree.

The folder's new and changed files are streamed into it as blobs as they are made (``put``,
which ``folder_sync.sync_folder`` is given: an unchanged file costs one hash and nothing else);
when the stream ends, one ``commit`` command names the tree change against the tip (``from``,
then ``M`` / ``D``). git writes one pack and the commit; no file is written to disk and no index is
built, so a first commit of 10,000 objects costs what ``git fast-import`` of those files costs
(issue 17: the work tree and ``git add`` were the floor itself). fast-import drops folders left
empty by ``D``.

The caller sees the counts before the commit command is written (``ImportedChange``), so the
guards can still refuse: ``abandon`` ends the stream without a commit (the blobs already sent
stay in the object store unreferenced, for ``git gc`` to prune; nothing points at them).

fast-import also answers on its own stream (its standard output, read under the runner's
deadline): ``cat-blob`` reads a committed file while the change is made, ``ls`` names a
committed file's blob, and after the commit ``get-mark`` / ``ls`` say the commit's id and the
folder's tree: no ``cat-file`` and no ``rev-parse`` beside it.
"""

from __future__ import annotations

import contextlib
import os
import select
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from backup2gitops.adapters.git.errors import GitError, unsafe_path
from backup2gitops.adapters.git.folder_sync import ImportedChange
from backup2gitops.adapters.git.objects import Identity, cleaned_message
from backup2gitops.adapters.git.process import GitRunner, kill_group
from backup2gitops.adapters.git.repository import Seal


def import_failed(message: str) -> GitError:
    """``git fast-import`` failed in the clone (local trouble: disk, a broken clone)."""
    return GitError("git_unavailable", message, retryable=True)


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
