"""What backup-complete reads from the bucket, and the verdict it reaches.

``Bucket`` reads objects by their BUCKET key (the key a notification names), maps storage errors
to the error taxonomy (a storage failure that may pass is ``Transient``: 503, retried; refused
credentials are ``StorageForbidden``, which the handler answers ``backup.failed``) and streams
archives through one pass that counts, hashes and fully reads them, so a truncated or corrupt
tarball is caught even when its checksum was computed over the damaged bytes.

``Verdict`` is what a check concludes: the catalog data of ``backup.completed`` or
``backup.failed``, with the marker object whose version the verdict is about (its etag goes into
the event id, see ``handler``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO, cast

from backup2gitops.adapters.storage import (
    NotFound,
    ObjectInfo,
    ObjectStore,
    StorageError,
    StorageForbidden,
)
from backup2gitops.core import safeguards
from backup2gitops.core.archive import ArchiveError, ArchiveLimits, iter_items
from backup2gitops.core.errors import Backup2GitopsError, Transient
from backup2gitops.core.events import BackupCompleted, BackupFailed
from backup2gitops.core.integrity import HashingReader

DEFAULT_CLOCK_SKEW_TOLERANCE = timedelta(minutes=5)
MARKER_READ_ATTEMPTS = 3
MAX_MARKER_BYTES = 1024 * 1024
"""A manifest.json or velero-backup.json larger than this is refused unread (1 MiB)."""


@dataclass(frozen=True)
class Verdict:
    marker_key: str
    marker_etag: str
    data: BackupCompleted | BackupFailed

    @property
    def outcome(self) -> str:
        return "completed" if isinstance(self.data, BackupCompleted) else f"failed:{self.data.code}"


@dataclass(frozen=True)
class Marker:
    """A completion marker, read once (``Bucket.marker``): its key, its version and its bytes.
    Every verdict of a check is about this version, for the backup it names."""

    key: str
    info: ObjectInfo
    raw: bytes
    cluster: str | None
    backup_id: str

    def too_large(self) -> str | None:
        """Why the marker is refused unread, or None."""
        if len(self.raw) > MAX_MARKER_BYTES:
            return f"{self.key} is larger than {MAX_MARKER_BYTES} bytes"
        return None

    def failed(self, code: str, message: str, *, key: str | None = None) -> Verdict:
        """``backup.failed`` for this marker's backup; ``key`` names the object at fault (the
        marker itself unless said)."""
        data = BackupFailed(
            cluster=self.cluster,
            backup_id=self.backup_id,
            key=key or self.key,
            code=code,
            message=message,
        )
        return Verdict(marker_key=self.key, marker_etag=self.info.etag, data=data)

    def completed(self, data: BackupCompleted) -> Verdict:
        return Verdict(marker_key=self.key, marker_etag=self.info.etag, data=data)


@dataclass(frozen=True)
class ArchiveReading:
    """What one streaming pass over an archive found."""

    size: int
    sha256: str
    items: int
    error: ArchiveError | None


class _ReadFailed(Backup2GitopsError):
    """The store failed mid-stream; kept apart from the archive's own errors on purpose."""

    code = "storage_unavailable"
    permanent = False


STREAM_FAILURES = (StorageError, OSError)
"""What a failing object stream raises: the S3 store's ``GuardedRead`` turns botocore's and
urllib3's errors into ``StorageError``, a file raises ``OSError``. Anything else is a bug and
surfaces as one (``internal``), never as an outage of the storage."""


class _Tap(HashingReader):
    """The archive stream, counted and hashed; a failing read is ``_ReadFailed`` (storage)."""

    def read(self, size: int = -1, /) -> bytes:
        try:
            return super().read(size)
        except STREAM_FAILURES as exc:
            raise _ReadFailed(f"{type(exc).__name__} while reading") from exc


class Bucket:
    """The store seen through bucket keys; only keys under the store's own prefix are readable."""

    def __init__(self, store: ObjectStore, *, limits: ArchiveLimits | None = None) -> None:
        self.store = store
        self.limits = limits or ArchiveLimits()
        self.name = store.bucket
        # S3Store keeps keys relative to its URL's prefix; the other stores have none.
        self.prefix: str = getattr(store, "prefix", "")

    def holds(self, key: str) -> bool:
        return key.startswith(self.prefix)

    def _relative(self, key: str) -> str:
        return key[len(self.prefix) :]

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            return self.store.stat(self._relative(key))
        except StorageError as exc:
            raise _transient(exc) from exc

    def marker(self, key: str, *, cluster: str | None, backup_id: str) -> Marker | None:
        """The completion marker ``key`` of ``backup_id`` (of ``cluster``), or None when it is
        gone. Read consistently: the etag (which names the completion event) is the one of the
        bytes read. A marker rewritten between the stat and the read (Velero's Finalizing ->
        Completed) is read again, so a late notification of the old version never pairs the old
        etag with the new content (two ids for one backup)."""
        for _ in range(MARKER_READ_ATTEMPTS):
            info = self.stat(key)
            if info is None:
                return None
            raw = self.read_marker(key)
            after = self.stat(key)
            if after is not None and after.etag == info.etag:
                if raw is None:
                    return None
                return Marker(key, info, raw, cluster=cluster, backup_id=backup_id)
        raise Transient("marker_changing", f"{key} changed while it was read; try again")

    def read_marker(self, key: str) -> bytes | None:
        """The object's bytes, at most ``MAX_MARKER_BYTES`` + 1 of them; None if it is gone."""
        try:
            stream = self.store.open_read(self._relative(key))
            try:
                return stream.read(MAX_MARKER_BYTES + 1)
            finally:
                stream.close()
        except NotFound:
            return None
        except StorageError as exc:
            raise _transient(exc) from exc
        except OSError as exc:
            raise Transient("storage_unavailable", f"reading {key}: {type(exc).__name__}") from exc

    def read_archive(self, key: str) -> ArchiveReading | None:
        """Stream the whole archive once: size, sha256, item count, the first archive error."""
        try:
            stream = self.store.open_read(self._relative(key))
        except NotFound:
            return None
        except StorageError as exc:
            raise _transient(exc) from exc
        tap = _Tap(stream)
        items = 0
        error: ArchiveError | None = None
        try:
            for _ in iter_items(cast("BinaryIO", tap), limits=self.limits):
                items += 1
        except ArchiveError as exc:
            error = exc
        except _ReadFailed as exc:
            raise Transient("storage_unavailable", f"reading {key}: {exc}") from exc
        try:
            tap.drain()  # what the tar reader left (padding, or all of it after an error)
        except _ReadFailed as exc:
            raise Transient("storage_unavailable", f"reading {key}: {exc}") from exc
        finally:
            stream.close()
        return ArchiveReading(size=tap.size, sha256=tap.hexdigest(), items=items, error=error)


def content_refusal(
    reading: ArchiveReading, *, archive: str, claimed: int | None, counted_by: str = ""
) -> tuple[str, str] | None:
    """The ``backup.failed`` code and message for an archive whose content is refused, or None:
    it cannot be read to the end (``archive_truncated`` / ``archive_invalid``), holds no item
    (``archive_empty``) or fewer than its marker ``claimed`` (``archive_incomplete``;
    ``counted_by`` names the marker's field)."""
    if reading.error is not None:
        code = "archive_truncated" if reading.error.reason == "truncated" else "archive_invalid"
        return code, f"{archive}: the archive cannot be read: {reading.error}"
    refusal = safeguards.count_refusal(read=reading.items, claimed=claimed)
    if refusal is None:
        return None
    code = "archive_empty" if reading.items == 0 else "archive_incomplete"
    return code, f"{archive}: {refusal}" + (f" ({counted_by})" if counted_by else "")


def _transient(exc: StorageError) -> Backup2GitopsError:
    """What a storage error is here: refused credentials stay ``StorageForbidden`` (the handler
    answers ``backup.failed``); anything else may pass (503, retried)."""
    if isinstance(exc, StorageForbidden):
        return exc
    return Transient(exc.code, str(exc))  # the adapter's code: storage_unavailable or _error


def clock_skew(
    created_at: datetime, *, marker: ObjectInfo, tolerance: timedelta, what: str
) -> str | None:
    """Why ``created_at`` cannot be true, or None: a backup cannot have completed after its own
    completion marker landed (the marker object's last-modified time, the storage's clock) by
    more than ``tolerance`` (``core.safeguards.clock_skew``, the rule gitops-generator applies
    too). Such a time (producer clock skew, a forged 2099) would order every later backup
    before it and freeze the cluster's branch (issue 22): ``clock_skew``."""
    refusal = safeguards.clock_skew(
        created_at=created_at, marker_modified=marker.last_modified, tolerance=tolerance
    )
    if refusal is None:
        return None
    return f"{what} of {marker.key}: {refusal} (backup_complete.clock_skew_tolerance)"
