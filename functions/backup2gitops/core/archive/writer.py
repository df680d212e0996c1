"""Deterministic writer of a backup tarball in Velero's inner layout.

PURE: no I/O of its own; it writes to a binary file-like object the caller passes in.

The same objects added in the same order give the same bytes (mtime 0 in the tar headers and in
the gzip header, uid/gid 0, no user names, sorted JSON keys, no file name in the gzip header).
That is why it layers ``tarfile`` mode ``"w|"`` over its own ``gzip.GzipFile`` rather than using
``"w|gz"``, which stamps the current time into the gzip header.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from types import TracebackType
from typing import Any, BinaryIO, cast

from backup2gitops.core.archive.format import (
    FORMAT_VERSION,
    PREFERRED_VERSION_SUFFIX,
    VERSION_MEMBER,
    BackupItem,
    forget_members,
    item_path,
)


class _HashingWriter:
    """Counts and hashes the compressed bytes on their way to the caller's stream."""

    def __init__(self, target: BinaryIO) -> None:
        self._target: BinaryIO | None = target
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes, /) -> int:
        if self._target is not None:
            self._digest.update(data)
            self.size += len(data)
            self._target.write(data)
        return len(data)

    def flush(self) -> None:
        if self._target is not None:
            self._target.flush()

    def detach(self) -> None:
        """Send whatever comes next nowhere: the caller's stream keeps only what it already has."""
        self._target = None

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def _compact_json(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class ArchiveWriter:
    """Write a deterministic backup tarball (gzip) to a binary stream; the stream stays open.

    ``metadata/version`` is written on construction. Leaving a ``with`` block by an exception
    does NOT finish the gzip stream, so a half-written backup never reads as a complete one.
    After ``close()``: ``size`` and ``sha256`` describe the compressed bytes written.
    """

    def __init__(self, stream: BinaryIO, *, compresslevel: int = 6) -> None:
        self._out = _HashingWriter(stream)
        self._gzip = gzip.GzipFile(
            filename="", mode="wb", compresslevel=compresslevel, fileobj=self._out, mtime=0
        )
        self._tar = tarfile.open(  # noqa: SIM115 - lives as long as the writer; closed in close()
            fileobj=cast("BinaryIO", self._gzip), mode="w|", format=tarfile.PAX_FORMAT
        )
        self._counts: dict[str, int] = {}
        self._closed = False
        self._write_member(VERSION_MEMBER, f"{FORMAT_VERSION}\n".encode())

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abandon()

    @property
    def counts(self) -> dict[str, int]:
        """Objects added per group_resource (duplicates under version folders not counted)."""
        return dict(sorted(self._counts.items()))

    @property
    def size(self) -> int:
        return self._out.size

    @property
    def sha256(self) -> str:
        return self._out.hexdigest()

    def _write_member(self, name: str, data: bytes) -> None:
        if self._closed:
            raise ValueError("ArchiveWriter is closed")
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = 0
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.type = tarfile.REGTYPE
        self._tar.addfile(info, io.BytesIO(data))
        forget_members(self._tar)

    def add(
        self,
        *,
        group_resource: str,
        namespace: str | None,
        name: str,
        obj: dict[str, Any],
        also_preferred_version: str | None = None,
    ) -> None:
        """Add one object; with ``also_preferred_version="v1"`` also write Velero's duplicate."""
        data = _compact_json(obj)
        self._write_member(
            item_path(group_resource=group_resource, namespace=namespace, name=name), data
        )
        if also_preferred_version is not None:
            self._write_member(
                item_path(
                    group_resource=group_resource,
                    namespace=namespace,
                    name=name,
                    version_dir=also_preferred_version + PREFERRED_VERSION_SUFFIX,
                ),
                data,
            )
        self._counts[group_resource] = self._counts.get(group_resource, 0) + 1

    def add_item(self, item: BackupItem, *, also_preferred_version: str | None = None) -> None:
        """``add`` for a ``BackupItem``."""
        self.add(
            group_resource=item.group_resource,
            namespace=item.namespace,
            name=item.name,
            obj=item.obj,
            also_preferred_version=also_preferred_version,
        )

    def close(self) -> None:
        """Finish the tar and gzip streams (idempotent); the caller's stream is left open."""
        if self._closed:
            return
        self._closed = True
        self._tar.close()
        self._gzip.close()
        self._out.flush()

    def abandon(self) -> None:
        """Stop without finishing: the caller's stream never gets the tar and gzip trailers.

        The streams are closed into the void, so no finaliser can complete them later.
        """
        if self._closed:
            return
        self._closed = True
        self._out.detach()
        self._tar.close()
        self._gzip.close()
