"""The id git gives a folder without one of its files, worked out from two levels of listing.

A ``Seal`` (``adapters.git.repository``) is a file written last into a folder, its content
made from the folder's tree id without it: ``git fast-import`` answers that id in the middle of
the commit (``D`` the file, ``ls`` the folder), and ``unsealed_id`` works the same id out from
the committed tree later, from the entries of the folder and of the folders on the way to the
file (``git ls-tree <commit> -- <root>/ <root>/<dir>/``: a few dozen entries, not every file
below). Git's own object format, so the two agree to the byte (tests/functional/test_git_trees.py
holds ``tree_id`` to ``git mktree``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import NamedTuple


class Entry(NamedTuple):
    """One entry of a tree: its mode as git writes it in the tree (``100644``, ``40000``...),
    its name, its object id (hex)."""

    mode: bytes
    name: bytes
    object_id: str

    @property
    def is_tree(self) -> bool:
        return self.mode == b"40000"


def tree_id(entries: Iterable[Entry]) -> str:
    """The id of the tree holding ``entries``, in git's order (a folder's name sorts as if it
    ended with ``/``); SHA-1 or SHA-256 by the length of the ids."""
    ordered = sorted(entries, key=lambda e: e.name + b"/" if e.is_tree else e.name)
    body = b"".join(b"%s %s\0%s" % (e.mode, e.name, bytes.fromhex(e.object_id)) for e in ordered)
    sha256 = bool(ordered) and len(ordered[0].object_id) == 64
    digest = hashlib.sha256() if sha256 else hashlib.sha1(usedforsecurity=False)
    digest.update(b"tree %d\0" % len(body))
    digest.update(body)
    return digest.hexdigest()


def listed_levels(root: str, seal: str) -> list[str]:
    """The folders whose entries ``unsealed_id`` needs: ``root`` and each folder between it and
    ``seal``'s (the paths ``ls-tree`` is given, each with its slash)."""
    relative = seal[len(root) + 1 :].split("/")[:-1]
    return [root] + [f"{root}/{'/'.join(relative[: depth + 1])}" for depth in range(len(relative))]


def unsealed_id(listing: bytes, root: str, seal: str) -> tuple[str, str]:
    """The tree id of ``root`` without the file ``seal``, and with it (the folder's own), from
    ``ls-tree -z``'s ``listing`` of the folders ``listed_levels`` names; "" when that leaves
    the folder empty (or it is absent).

    ``ls-tree`` lists each level's entries but not the folders on the way down, which it
    enters: their ids are made here, from the bottom up, as fast-import made them (a folder
    left empty is no entry)."""
    levels = listed_levels(root, seal)
    children: dict[bytes, list[Entry]] = {level.encode(): [] for level in levels}
    sealed = seal.encode()
    for line in listing.split(b"\0"):
        if not line:
            continue
        meta, _, path = line.partition(b"\t")
        mode, _, object_id = meta.split(b" ")
        parent, _, name = path.rpartition(b"/")
        if parent in children:
            children[parent].append(Entry(mode.lstrip(b"0"), name, object_id.decode()))
    below_without: Entry | None = None
    below_with: Entry | None = None
    without = with_seal = ""
    for level in reversed(levels):
        entries = children[level.encode()]
        name = level.rpartition("/")[2].encode()
        kept = [e for e in entries if f"{level}/".encode() + e.name != sealed]
        without = _made(kept, below_without)
        with_seal = _made(entries, below_with)
        below_without = Entry(b"40000", name, without) if without else None
        below_with = Entry(b"40000", name, with_seal) if with_seal else None
    return without, with_seal


def _made(entries: list[Entry], below: Entry | None) -> str:
    """The id of a level's tree: its ``entries`` and the folder made ``below`` it."""
    if below is not None:
        entries = [e for e in entries if e.name != below.name] + [below]
    return tree_id(entries) if entries else ""
