"""Making one folder of a git work tree hold exactly a stream of files, touching only what changed.

The caller (``gitrepo``) passes what the index holds under the folder, path -> blob id, read
from ``git ls-files -s`` right after the clone was reset to the remote (so the work tree equals
the index). Each incoming file's blob id is computed here as git computes it,
``sha1("blob <size>\\0" + content)``, and a file whose id is already in the index is not read,
compared or written: the daily case, where 1 % of the objects changed, writes 1 % of the files.
A new or changed file is written with ``os.open`` (no pathlib per file: issue 17's profile
spent as much in path objects and ``resolve()`` as in writing). Paths are checked as strings
(relative, no ``..``, strictly under the folder), and each directory once (its real path must be
inside the folder, so a symlink committed in the repository cannot send a write elsewhere); a
file is opened with ``O_NOFOLLOW`` for the same reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from backup2gitops.core.errors import Backup2GitopsError
from backup2gitops.core.units import is_generated

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class UnsafePath(Backup2GitopsError, ValueError):
    """A path that would write outside the folder."""

    code = "unsafe_path"


@dataclass
class TreeChange:
    """What ``sync_folder`` did; counts leave out the generated files (kustomizations, entry
    points: ``core.units.is_generated``)."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    written: int = 0  # files written or deleted, generated ones included
    paths: set[str] = field(default_factory=set)


def blob_id(content: bytes) -> str:
    """The id git gives ``content`` as a blob (SHA-1 object format)."""
    digest = hashlib.sha1(b"blob %d\0" % len(content), usedforsecurity=False)
    digest.update(content)
    return digest.hexdigest()


def sync_folder(
    *,
    base: Path,
    root: PurePosixPath,
    files: Iterable[tuple[PurePosixPath, bytes]],
    tracked: Mapping[str, str],
) -> TreeChange:
    """Make ``base/root`` hold exactly ``files`` (streamed), given its ``tracked`` blob ids."""
    prefix = f"{root.as_posix().rstrip('/')}/"
    top = os.fspath(base)
    inside = os.path.realpath(base / root)
    checked_dirs: set[str] = set()
    change = TreeChange()
    for relative, content in files:
        path = relative.as_posix()
        if not path.startswith(prefix) or ".." in relative.parts or relative.is_absolute():
            raise UnsafePath(f"{relative} is outside {root}")
        change.paths.add(path)
        known = tracked.get(path)
        if known is not None and known == blob_id(content):
            continue
        folder = path.rpartition("/")[0]
        if folder not in checked_dirs:
            _make_dir(base, folder, inside=inside)
            checked_dirs.add(folder)
        try:
            descriptor = os.open(f"{top}/{path}", _FLAGS, 0o644)
        except OSError as err:  # ELOOP: the file is a symlink
            raise UnsafePath(f"{relative} cannot be written safely: {err.strerror}") from err
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
        change.written += 1
        if not is_generated(path):
            if known is None:
                change.added += 1
            else:
                change.changed += 1
    gone = sorted(set(tracked) - change.paths)
    for path in gone:
        with contextlib.suppress(FileNotFoundError):
            (base / path).unlink()
        change.written += 1
        if not is_generated(path):
            change.removed += 1
    _remove_empty_parents(base, gone, stop=root.as_posix())
    return change


def _make_dir(base: Path, folder: str, *, inside: str) -> None:
    """Make ``base/folder``; refused before anything is made when what exists of it is a link
    out of the folder (a directory is never created through a symlink pointing elsewhere)."""
    target = base / folder
    existing = target
    while existing != base and not os.path.lexists(existing):
        existing = existing.parent
    real = os.path.realpath(existing)
    under = real == inside or real.startswith(inside + os.sep)
    if not under and not inside.startswith(real + os.sep):  # above the folder: its own check
        raise UnsafePath(f"{folder} resolves outside the folder")
    target.mkdir(parents=True, exist_ok=True)
    real = os.path.realpath(target)
    if real != inside and not real.startswith(inside + os.sep):
        raise UnsafePath(f"{folder} resolves outside the folder")


def _remove_empty_parents(base: Path, removed: Iterable[str], *, stop: str) -> None:
    folders = {path.rpartition("/")[0] for path in removed}
    for folder in sorted(folders, key=len, reverse=True):
        while folder and folder != stop and folder.startswith(stop):
            try:
                (base / folder).rmdir()  # only empty ones go
            except OSError:
                break
            folder = folder.rpartition("/")[0]
