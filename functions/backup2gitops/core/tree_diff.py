"""What a backup would change in a cluster's folder, file by file: ``generate --dry-run --diff``.

Pure: no I/O (committed contents come through a callable); only the standard library.

``DiffRecorder`` sits between the generated files and the change set: it passes every file on
and remembers those whose bytes differ from the tip's (compared by git blob id, so an unchanged
file costs a hash, as in the change set). ``finish`` adds the removed files once the stream is
over; ``unified`` prints them as ``git diff`` would (``a/`` and ``b/`` paths, /dev/null for an
added or removed file). Only a dry run with ``--diff`` records: a diff holds the changed files'
bytes in memory.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from backup2gitops.core.units import GENERATOR_FOLDER

Content = TypeVar("Content", bytes, bytes | None)


def blob_id(content: bytes) -> str:
    """The id git gives ``content`` as a blob (SHA-1 object format)."""
    digest = hashlib.sha1(b"blob %d\0" % len(content), usedforsecurity=False)
    digest.update(content)
    return digest.hexdigest()


@dataclass(frozen=True)
class FileChange:
    path: str
    before: bytes | None
    """None: the file is added."""
    after: bytes | None
    """None: the file is removed."""

    @property
    def status(self) -> str:
        return "added" if self.before is None else "removed" if self.after is None else "changed"


@dataclass
class DiffRecorder:
    """Records the files of a stream that differ from ``tracked`` (path -> blob id on the tip);
    ``read`` gives a committed file's bytes."""

    tracked: Mapping[str, str]
    read: Callable[[str], bytes | None]
    changes: list[FileChange] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)

    def record(self, files: Iterable[tuple[str, Content]]) -> Iterator[tuple[str, Content]]:
        """``files`` passed on; a file given as None is the committed one, unchanged (a
        member the generator's cache knows)."""
        for path, content in files:
            self._seen.add(path)
            known = self.tracked.get(path)
            if content is None or _bookkeeping(path):
                pass
            elif known is None:
                self.changes.append(FileChange(path, None, content))
            elif known != blob_id(content):
                self.changes.append(FileChange(path, self.read(path), content))
            yield path, content

    def finish(self, *, keep: Collection[str] = ()) -> list[FileChange]:
        """The changes, removed files included (the tracked ones neither seen nor kept), by path."""
        kept = set(keep)
        for path in sorted(set(self.tracked) - self._seen - kept):
            if _bookkeeping(path):
                continue
            self.changes.append(FileChange(path, self.read(path), None))
        self.changes.sort(key=lambda change: change.path)
        return self.changes


def _bookkeeping(path: str) -> bool:
    """The generator's own files (``units.GENERATOR_FOLDER``: the member cache): not what a
    backup changes in the cluster's folder, and one line per archive member in a diff."""
    parts = path.split("/", 3)
    return len(parts) == 4 and parts[0] == "clusters" and parts[2] == GENERATOR_FOLDER


def unified(changes: Iterable[FileChange]) -> str:
    """``changes`` as one unified diff (a file that is not UTF-8 text: one line saying so)."""
    out: list[str] = []
    for change in changes:
        before, after = change.before, change.after
        old = "/dev/null" if before is None else f"a/{change.path}"
        new = "/dev/null" if after is None else f"b/{change.path}"
        try:
            old_lines = (before or b"").decode().splitlines(keepends=True)
            new_lines = (after or b"").decode().splitlines(keepends=True)
        except UnicodeDecodeError:
            out.append(f"Binary files {old} and {new} differ\n")
            continue
        out.append(f"diff --git a/{change.path} b/{change.path}\n")
        for line in difflib.unified_diff(old_lines, new_lines, fromfile=old, tofile=new):
            out.append(line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n")
    return "".join(out)
