"""The backup archive's format: Velero's inner layout, member names, limits, errors, records.

PURE: no I/O. What the reader (``reader``), the item decoder (``items``) and the writer
(``writer``) agree on.

Inner layout (vmware-tanzu/velero: pkg/archive/filesystem.go ``GetVersionedItemFilePath``,
pkg/backup/item_backupper.go, pkg/backup/backup.go ``writeBackupVersion``)::

    metadata/version                                              "1.1.0\\n" (old Velero: "1\\n")
    resources/<resource>[.<group>]/cluster/<name>.json
    resources/<resource>[.<group>]/namespaces/<ns>/<name>.json
    resources/<resource>[.<group>]/<version>-preferredversion/{cluster,namespaces/<ns>}/<name>.json
    resources/<resource>[.<group>]/<version>/{cluster,namespaces/<ns>}/<name>.json
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, cast

from backup2gitops.core.errors import Backup2GitopsError

FORMAT_VERSION = "1.1.0"
SUPPORTED_MAJOR_VERSIONS = frozenset({"1"})
PREFERRED_VERSION_SUFFIX = "-preferredversion"
DEFAULT_MAX_MEMBER_BYTES = 8 * 1024 * 1024
"""Far above what the API server stores for one object (etcd's default request limit is 1.5 MiB)."""
MAX_HEADER_BYTES = 64 * 1024
"""The most a GNU long-name/long-link block or a pax header may hold. tarfile reads such a block
whole, into memory, before it returns the member it describes (a 1 GiB one cost 2.1 GB of RSS):
its size is checked on the 512-byte header, before a byte of it is read. Velero's names are at
most ~600 bytes (resources/<resource.group>/namespaces/<ns>/<name>.json)."""
MAX_EXTENDED_HEADERS = 16
"""Extended headers (``L``, ``K``, ``x``, ``g``) in a row before one member: tarfile handles each by
calling itself again, so an endless chain would end as a RecursionError. GNU tar writes at most
two (``L`` and ``K``), Go's and Python's one pax header."""
MAX_REFUSALS_LISTED = 1000
MAX_JSON_DEPTH = 100
"""Nesting an object may have (objects and arrays). The API server's deepest real objects, CRD
schemas, stay far below; the cleaning and YAML writing recurse per level, and Python stops at
~1000 frames, so a deeper object is refused on its own (``BackupItem.refused``), before it can
fail the whole backup."""

VERSION_MEMBER = "metadata/version"
RESOURCES_DIR = "resources"
CLUSTER_DIR = "cluster"
NAMESPACES_DIR = "namespaces"

ArchiveErrorCode = Literal[
    "truncated",
    "unsafe_path",
    "link",
    "not_regular",
    "too_large",
    "limit_exceeded",
    "invalid_json",
    "unsupported_version",
]


class ArchiveError(Backup2GitopsError):
    """A tarball that cannot be read safely; ``reason`` says why (one of ``ArchiveErrorCode``),
    ``code`` is ``archive_<reason>``. Permanent: the same bytes fail the same way."""

    def __init__(self, reason: ArchiveErrorCode, message: str) -> None:
        super().__init__(message, code=f"archive_{reason}")
        self.args = (f"{reason}: {message}",)
        self.reason: ArchiveErrorCode = reason


class ArchiveLimits(NamedTuple):
    """What one archive may cost to read, enforced while streaming (before the cost is paid).

    ``max_entries`` counts every tar member (Velero writes two per object: the plain and the
    preferred-version copy), ``max_member_bytes`` one member, ``max_total_bytes`` the
    decompressed tar stream, ``max_ratio`` decompressed / compressed bytes once more than
    ``ratio_floor_bytes`` came out (JSON compresses 5-20x; a decompression bomb 1000x).
    A breach is ``ArchiveError("limit_exceeded")`` (``too_large`` for one member).
    """

    max_entries: int = 500_000
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES
    max_total_bytes: int = 4 * 1024**3
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 16 * 1024 * 1024


class BackupItem(NamedTuple):
    """One object of a backup, as the API server returned it."""

    group_resource: str
    """``<resource>[.<group>]``, e.g. ``deployments.apps``, ``configmaps``."""
    namespace: str | None
    """None for cluster-scoped objects."""
    name: str
    """From the file name, without ``.json``."""
    obj: dict[str, Any]
    refused: str | None = None
    """Why this one object must not be written, when the reader refused it on its own (too deeply
    nested, a path that lies about the object, a name no file can have); ``obj`` is then empty.
    The item still counts as read (``ReadReport.items``): one hostile object is excluded with its
    reason, it never fails the backup nor makes it look incomplete."""


@dataclass
class ReadReport:
    """What ``iter_items`` saw besides the items; filled in as the stream is read."""

    format_version: str | None = None
    items: int = 0
    duplicates_skipped: int = 0
    other_versions_skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    """One line per refused item (``BackupItem.refused``): its member name and the reason; the
    first ``MAX_REFUSALS_LISTED`` of them (a hostile archive may refuse every object)."""
    refused_total: int = 0
    """Every refused item, listed or not."""


def check_format_version(raw: bytes) -> str:
    """Validate the content of ``metadata/version``; return the version, e.g. ``"1.1.0"``."""
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ArchiveError("unsupported_version", "metadata/version is not ASCII") from None
    parts = text.split(".")
    if not text or len(parts) > 3 or not all(part.isdigit() for part in parts):
        raise ArchiveError("unsupported_version", f"metadata/version {text[:40]!r} is malformed")
    if str(int(parts[0])) not in SUPPORTED_MAJOR_VERSIONS:
        raise ArchiveError(
            "unsupported_version",
            f"backup format {text} is not supported (major versions: "
            f"{', '.join(sorted(SUPPORTED_MAJOR_VERSIONS))})",
        )
    return text


def _check_segment(value: str, *, what: str) -> str:
    if not value or value in {".", ".."} or any(char in value for char in "/\\\x00"):
        raise ArchiveError("unsafe_path", f"invalid {what} {value!r} for a member name")
    return value


def item_path(
    *,
    group_resource: str,
    namespace: str | None,
    name: str,
    version_dir: str | None = None,
) -> str:
    """The member name of one object; ``version_dir`` e.g. ``v1`` or ``v1-preferredversion``."""
    parts = [RESOURCES_DIR, _check_segment(group_resource, what="group_resource")]
    if version_dir is not None:
        parts.append(_check_segment(version_dir, what="version directory"))
    if namespace is None:
        parts.append(CLUSTER_DIR)
    else:
        parts += [NAMESPACES_DIR, _check_segment(namespace, what="namespace")]
    parts.append(_check_segment(name, what="name") + ".json")
    return "/".join(parts)


Copy = Literal["unversioned", "preferred", "other"]


class Entry(NamedTuple):
    """Where a member says its object belongs: its group-resource, namespace and name. (A
    named tuple, as ``Member``: the reader makes one of each per member, and a frozen
    dataclass costs three times as much to make.)"""

    group_resource: str
    namespace: str | None
    name: str
    copy: Copy


class Member(NamedTuple):
    """One item's member, read but not decoded: where it belongs, its name and its raw bytes
    (the generator hashes these to decide whether the member needs decoding at all)."""

    entry: Entry
    name: str
    data: bytes
    key: str
    """Its object's key (``member_records.member_key``): one object, one key, whichever copy
    of it was read."""


def classify(name: str) -> Entry | None:
    """Map a ``resources/...`` member name to an entry; None when it is not an item file."""
    parts = name.split("/")
    if len(parts) < 4 or parts[0] != RESOURCES_DIR or not parts[-1].endswith(".json"):
        return None
    group_resource, rest = parts[1], parts[2:]
    copy: Copy = "unversioned"
    if rest[0] not in {CLUSTER_DIR, NAMESPACES_DIR}:
        copy = "preferred" if rest[0].endswith(PREFERRED_VERSION_SUFFIX) else "other"
        rest = rest[1:]
    item_name = rest[-1].removesuffix(".json")
    if not item_name:
        return None
    if len(rest) == 2 and rest[0] == CLUSTER_DIR:
        return Entry(group_resource, None, item_name, copy)
    if len(rest) == 3 and rest[0] == NAMESPACES_DIR:
        return Entry(group_resource, rest[1], item_name, copy)
    return None


def forget_members(tar: tarfile.TarFile) -> None:
    """Drop tarfile's list of every TarInfo seen so far (it keeps one even in stream mode).

    ``TarFile.members`` is undocumented but stable since Python 2; only ``getmembers`` and
    random access use it, and stream mode supports neither. Memory then stays flat.
    """
    cast("Any", tar).members.clear()
