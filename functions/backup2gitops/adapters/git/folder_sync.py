"""Making one folder of a commit hold exactly a stream of files (``sync_folder``): each file's
blob id, computed as git computes it (``objects.blob_id``), compared with the one the tip's
tree holds at that path, so an unchanged file costs one hash and nothing else; a new or changed
one handed to ``put`` (the fast-import stream's blob, ``FastImport.put``); the tracked files
the stream never named deleted, but for the ones to ``keep``. What changed is counted as it goes
(``ImportedChange``), so the guards can still refuse before the commit is written.

Paths are checked as strings (relative, no ``..``, strictly under the folder, no character
fast-import would read as syntax). There is no file system under the folder, so nothing is
ever written outside it; a file at or through a symbolic link committed in the folder is still
refused (a checkout would follow it).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from backup2gitops.adapters.git.errors import unsafe_path
from backup2gitops.adapters.git.objects import blob_id
from backup2gitops.core import units
from backup2gitops.core.repo_layout import has_odd_segment

KUSTOMIZATION = "kustomization.yaml"


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


Put = Callable[[ImportedChange, str, bytes], None]
"""Adds a file's content to the change at a path (``FastImport.put``)."""


def sync_folder(
    put: Put,
    *,
    root: PurePosixPath,
    files: Iterable[tuple[str, bytes | None]],
    tracked: Mapping[str, str],
    links: Collection[str] = (),
    change: ImportedChange | None = None,
    keep: Collection[str] = (),
) -> ImportedChange:
    """Hand ``put`` what makes ``root`` hold exactly ``files``, given the tip's ``tracked``
    blob ids (a file given as None keeps its tracked blob), and keep the tracked files in
    ``keep`` as they are (read once ``files`` is exhausted: the files the generator does not
    own, ``core.ownership``); the deletions go first in ``change``'s operations.

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
        put(change, path, content)
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
