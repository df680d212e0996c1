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

    def marker(self, key: str) -> tuple[ObjectInfo | None, bytes | None]:
        """The marker's metadata and bytes, read consistently: the etag (which names the
        completion event) is the one of the bytes read. A marker rewritten between the stat and
        the read (Velero's Finalizing -> Completed) is read again, so a late notification of the
        old version never pairs the old etag with the new content (two ids for one backup)."""
        for _ in range(MARKER_READ_ATTEMPTS):
            info = self.stat(key)
            if info is None:
                return None, None
            raw = self.read_marker(key)
            after = self.stat(key)
            if after is not None and after.etag == info.etag:
                return info, raw
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


def archive_failure(error: ArchiveError) -> tuple[str, str]:
    """The ``backup.failed`` code and message for an archive that cannot be read."""
    code = "archive_truncated" if error.reason == "truncated" else "archive_invalid"
    return code, f"the archive cannot be read: {error}"


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
