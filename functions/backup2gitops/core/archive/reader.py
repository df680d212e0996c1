"""Streaming reader of a backup tarball: each item's member once, checked, undecoded.

PURE: no I/O of its own; it reads from a binary file-like object the caller passes in.

Order of entries in a real Velero tarball, and what the reader makes of it:

* ``metadata/version`` is the first entry (written before any item). The reader requires it before
  the first ``resources/`` entry, so it can refuse an unknown format before emitting anything.
* Velero writes the files of one object back to back: first the unversioned copy, then the same
  bytes under ``<v>-preferredversion/`` (only when the object was read in the group's preferred
  version). Items a plugin adds for an object (a Pod's PVC, ...) come just before that object.
* With the EnableAPIGroupVersions feature, each non-preferred version of a group is listed
  separately, so its ``<v>/`` copies land wherever that list was walked: before or after the
  preferred copies. The finalize step may rewrite the tarball and append updated items at the end.

So the reader cannot rely on order beyond ``metadata/version`` first. It keeps one set of the
object keys (group-resource, namespace, name) it has emitted -- never the objects -- and:

* emits the unversioned copy or the ``<v>-preferredversion`` copy, whichever comes first (they hold
  the same bytes), and skips the other as a duplicate. An object present ONLY under
  ``<v>-preferredversion/`` is therefore still emitted;
* never emits a non-preferred ``<v>/`` copy: every object Velero backs up is also written in its
  preferred version. A key seen only under non-preferred versions is reported in
  ``ReadReport.warnings`` at the end (its bytes are gone by then: streaming keeps no objects).

Safety: member names must be relative and free of ``..``, empty segments, backslashes and NUL;
links (symbolic or hard) and devices are refused; directory entries are skipped (Velero writes
none, but its own extractor accepts them and GNU tar writes them); a member larger than
``max_member_bytes`` is refused before it is read. The gzip layer is zlib's (its CRC and length
are checked), the tar's end-of-archive marker (two zero blocks) is required, and a stream that
ends early -- even at a member boundary -- or that carries data after a corrupt header is an
``ArchiveError("truncated")``.

The layers under it: ``gzip_stream`` inflates and meters the bytes, ``tar_headers`` parses each
member's header (without ``tarfile``, four times the cost per member; a plain one at C's speed,
``tar_headers._plain``); this module walks the members, guards each one and keeps what the
backup holds. A member's name is checked and classified once per folder (``_place``): the
members of one resource and namespace share all but their last segment.
"""

from __future__ import annotations

import zlib
from collections.abc import Container, Iterator
from typing import BinaryIO

from backup2gitops.core.archive.format import (
    RESOURCES_DIR,
    VERSION_MEMBER,
    ArchiveError,
    ArchiveLimits,
    Copy,
    Entry,
    Member,
    ReadReport,
    check_format_version,
    classify,
)
from backup2gitops.core.archive.gzip_stream import Inflated
from backup2gitops.core.archive.tar_headers import (
    BLOCK,
    DIRECTORY,
    LINKS,
    REGULAR,
    Header,
    next_header,
    padded,
)
from backup2gitops.core.member_records import member_key

_UNSAFE_SEGMENTS = frozenset({"", ".", ".."})


def _safe_name(raw: str) -> str:
    if raw in {".", "./"}:  # the root directory entry GNU tar writes for "tar -C dir ."
        return "."
    name = raw[2:] if raw.startswith("./") else raw
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or not _UNSAFE_SEGMENTS.isdisjoint(name.rstrip("/").split("/"))
    ):
        raise ArchiveError("unsafe_path", f"unsafe member name {raw[:200]!r}")
    return name


_Folder = tuple[int, str, str | None, Copy]
"""What every item file right in one folder is: how much of its name ``_safe_name`` strips
(``./``), and ``classify``'s group-resource, namespace and copy."""
_FOLDERS_KEPT = 4096
"""Folders remembered at once (a backup has one per resource, namespace and version): a
hostile archive of a folder per member costs what it did without them, not memory."""


def _folder(folder: str) -> _Folder | None:
    """What any ``<folder>/<name>.json`` is, read once for the folder; None where each name
    must be read on its own (an unsafe folder, or one that holds no items)."""
    probe = folder + "/_.json"
    try:
        name = _safe_name(probe)
    except ArchiveError:
        return None
    entry = classify(name)
    if entry is None:
        return None
    return len(probe) - len(name), entry.group_resource, entry.namespace, entry.copy


def _place(raw: str, folders: dict[str, _Folder | None]) -> tuple[str, Entry | None]:
    """A member's safe name (``_safe_name``) and, when it is an item file, its entry
    (``classify``; None: the reader classifies it later, if ever): one look-up of its folder
    for every item file, the general checks for anything else. The name of an item file is
    its folder's segments and a last one ending in ``.json``, which only NUL or a backslash
    makes unsafe; ``test_archive_fast_path`` holds both ways to each other."""
    folder, _, base = raw.rpartition("/")
    place = folders.get(folder)
    if place is None and folder not in folders:
        if len(folders) >= _FOLDERS_KEPT:
            folders.clear()
        place = folders[folder] = _folder(folder)
    if (
        place is None
        or len(base) <= len(".json")
        or not base.endswith(".json")
        or "\\" in base
        or "\0" in base
    ):
        return _safe_name(raw), None
    strip, group_resource, namespace, copy = place
    return raw[strip:], Entry(group_resource, namespace, base[: -len(".json")], copy)


def _check_member(header: Header, name: str, max_member_bytes: int) -> bool:
    """Raise for members that must not be in a backup; False for ones to skip (directories)."""
    if header.type in LINKS:
        raise ArchiveError("link", f"link member {name[:200]!r} -> {header.linkname[:200]!r}")
    if header.type == DIRECTORY:
        return False
    if header.type not in REGULAR or header.sparse:
        raise ArchiveError("not_regular", f"member {name[:200]!r} is not a regular file")
    if header.size > max_member_bytes:
        raise ArchiveError(
            "too_large",
            f"member {name[:200]!r} has {header.size} bytes, limit {max_member_bytes}",
        )
    return True


def _data(tar: Inflated, header: Header) -> bytes:
    """A regular member's bytes; the stream then at the next header."""
    data = tar.take_padded(header.size, -header.size % BLOCK)
    if data is None:
        raise ArchiveError("truncated", f"member {header.name[:200]!r} ends early")
    return data


def _skip(tar: Inflated, header: Header) -> None:
    if not tar.skip(padded(header.size)):
        raise ArchiveError("truncated", f"member {header.name[:200]!r} ends early")


def _drain_trailer(tar: Inflated) -> None:
    """After the first end-of-archive block: only zeros may follow, and the gzip stream must end
    cleanly. Go's, GNU's and Python's tar all write two zero blocks, so at least 1024 zero bytes
    end the archive."""
    trailer = BLOCK
    for chunk in tar.rest():
        if chunk.count(0) != len(chunk):
            raise ArchiveError("truncated", "data after the end-of-archive marker")
        trailer += len(chunk)
    if trailer < 2 * BLOCK:
        raise ArchiveError("truncated", "the tar stream ends without its end-of-archive marker")


def iter_members(
    stream: BinaryIO,
    *,
    report: ReadReport | None = None,
    limits: ArchiveLimits | None = None,
    only: Container[str] | None = None,
) -> Iterator[Member]:
    """Each item's member of a gzip-compressed backup tarball once, in one streaming pass,
    undecoded (``item_of`` decodes one). ``iter_items`` is this plus the decoding; the checks,
    limits, duplicate handling and ``report`` counts are the same (``report.items`` counts the
    members yielded)."""
    report = report if report is not None else ReadReport()
    limits = limits or ArchiveLimits()
    max_member_bytes = limits.max_member_bytes
    emitted: set[str] = set()  # keys (``member_key``): the generator's spool keeps them too
    other_only: set[tuple[str, str, str]] = set()
    tar = Inflated(stream, limits)
    pax_globals: dict[str, str] = {}
    folders: dict[str, _Folder | None] = {}
    entries = 0
    try:
        while (header := next_header(tar, pax_globals)) is not None:
            entries += 1
            if entries > limits.max_entries:
                raise ArchiveError(
                    "limit_exceeded",
                    f"more than {limits.max_entries} entries (archive_limits.max_entries)",
                )
            name, entry = _place(header.name, folders)
            if (  # a regular member within the limit passes _check_member: not called for it
                header.type not in REGULAR or header.sparse or header.size > max_member_bytes
            ) and not _check_member(header, name, max_member_bytes):
                continue
            if entry is None and name == VERSION_MEMBER:
                report.format_version = check_format_version(_data(tar, header))
                continue
            if entry is None and name.split("/", 1)[0] != RESOURCES_DIR:
                report.warnings.append(f"ignored member {name[:200]!r} outside resources/")
                _skip(tar, header)
                continue
            if report.format_version is None:
                raise ArchiveError(
                    "unsupported_version", "metadata/version missing before resources/"
                )
            entry = entry or classify(name)
            if entry is None:
                report.warnings.append(f"ignored member {name[:200]!r}: not an item path")
                _skip(tar, header)
                continue
            if only is not None and entry.group_resource not in only:
                _skip(tar, header)
                continue
            group_resource, namespace, item_name, copy = entry
            key = member_key(group_resource, namespace, item_name)
            if copy == "other":
                report.other_versions_skipped += 1
                if key not in emitted:
                    other_only.add((group_resource, namespace or "", item_name))
                _skip(tar, header)
                continue
            if key in emitted:
                report.duplicates_skipped += 1
                _skip(tar, header)
                continue
            data = _data(tar, header)
            emitted.add(key)
            if other_only:
                other_only.discard((group_resource, namespace or "", item_name))
            report.items += 1
            yield Member(entry, name, data, key)
        _drain_trailer(tar)
    except (zlib.error, OSError) as exc:
        raise ArchiveError("truncated", f"unreadable tarball: {exc}") from None
    if report.format_version is None:
        raise ArchiveError("unsupported_version", "metadata/version missing")
    for group_resource, namespace, name in sorted(
        k for k in other_only if member_key(*k) not in emitted
    ):
        where = f"{namespace}/{name}" if namespace else name
        report.warnings.append(
            f"{group_resource} {where} is only in non-preferred API versions; skipped"
        )
