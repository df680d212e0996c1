"""Streaming reader and writer of a backup tarball in Velero's inner layout.

PURE: no I/O of its own. It reads from and writes to a binary file-like object the caller passes
in; where the bytes come from (object store, file, memory) is the caller's business.

- ``format``: the layout (member names, ``metadata/version``), limits, the error, the records
  (``BackupItem``, ``Entry``, ``Member``, ``ReadReport``);
- ``reader``: ``iter_members``, each item's member once, checked and undecoded, in one pass,
  over ``gzip_stream`` (the inflated, metered tar stream) and ``tar_headers`` (each member's
  header, parsed as tarfile reads it);
- ``items``: ``item_of`` / ``iter_items``, a member decoded, its depth bounded, its path checked;
- ``writer``: ``ArchiveWriter``, a deterministic tarball.

``items`` and ``writer`` are imported with the first of their names asked for: a read that
decodes no member (an unchanged backup's) needs neither.
"""

from typing import TYPE_CHECKING

from backup2gitops.core.archive.format import (
    DEFAULT_MAX_MEMBER_BYTES,
    FORMAT_VERSION,
    MAX_EXTENDED_HEADERS,
    MAX_HEADER_BYTES,
    MAX_JSON_DEPTH,
    MAX_REFUSALS_LISTED,
    PREFERRED_VERSION_SUFFIX,
    SUPPORTED_MAJOR_VERSIONS,
    ArchiveError,
    ArchiveLimits,
    BackupItem,
    Copy,
    Entry,
    Member,
    ReadReport,
    check_format_version,
    item_path,
)
from backup2gitops.core.archive.reader import iter_members
from backup2gitops.core.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from backup2gitops.core.archive.items import item_of, iter_items, json_depth, path_refusal
    from backup2gitops.core.archive.writer import ArchiveWriter
else:  # what a reader of members (the member cache's) may not use (``core.lazy_exports``)
    __getattr__ = lazy_exports(
        __name__,
        {
            "item_of": "items",
            "iter_items": "items",
            "json_depth": "items",
            "path_refusal": "items",
            "ArchiveWriter": "writer",
        },
    )

__all__ = [
    "DEFAULT_MAX_MEMBER_BYTES",
    "FORMAT_VERSION",
    "MAX_EXTENDED_HEADERS",
    "MAX_HEADER_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_REFUSALS_LISTED",
    "PREFERRED_VERSION_SUFFIX",
    "SUPPORTED_MAJOR_VERSIONS",
    "ArchiveError",
    "ArchiveLimits",
    "ArchiveWriter",
    "BackupItem",
    "Copy",
    "Entry",
    "Member",
    "ReadReport",
    "check_format_version",
    "item_of",
    "item_path",
    "iter_items",
    "iter_members",
    "json_depth",
    "path_refusal",
]
