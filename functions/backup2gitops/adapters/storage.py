"""Object storage: one small interface, three backends chosen by URL.

- ``s3://bucket[/prefix]`` through boto3 (MinIO and AWS S3: endpoint, region, TLS configurable;
  ``adapters.s3_store``)
- ``file:///path`` a directory as the bucket (the embedded default)
- ``MemoryStore`` for functional tests

Reads and writes stream: ``open_read`` returns a file object, ``writer`` spools to a temporary
file and publishes on a clean close only, so a half-written object is never visible.
Keys are always relative to the store's prefix; a key can never escape it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO, Protocol
from urllib.parse import unquote, urlparse

from backup2gitops.core import errors

if TYPE_CHECKING:
    from backup2gitops.config import StorageConfig

CHUNK = 1024 * 1024


class StorageError(errors.Backup2GitopsError):
    """A storage operation failed; ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        code = "storage_unavailable" if retryable else "storage_error"
        super().__init__(message, code=code, permanent=not retryable)


class NotFound(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"no object at {key}", retryable=False)
        self.code = "not_found"
        self.key = key


class StorageForbidden(StorageError):
    """The store refused our credentials or this access (S3 403: ``AccessDenied``,
    ``InvalidAccessKeyId``, ``SignatureDoesNotMatch``...). Not retryable: the same request is
    refused again until someone changes a setting, so it is reported (``backup.failed``,
    ``gitops.failed``) with an alert instead of being retried for ever (issue 22 item 12)."""

    SETTINGS = (
        "storage.access_key and storage.secret_key (the variables or files they name), "
        "or the bucket policy"
    )

    def __init__(self, what: str, *, key: str) -> None:
        super().__init__(
            f"the storage refused our credentials ({what}) on {key}: check {self.SETTINGS}",
            retryable=False,
        )
        self.code = "storage_forbidden"
        self.key = key


class PreconditionFailed(StorageError):
    """A conditional put lost the race: someone else wrote the object first."""

    def __init__(self, key: str) -> None:
        super().__init__(f"{key} changed since it was read", retryable=False)
        self.code = "precondition_failed"


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    last_modified: datetime


def safe_key(key: str) -> str:
    """Reject keys that are empty, absolute, climb out with ``..`` or hide ``.``/empty segments
    (which a directory would collapse and S3 would not: every backend must agree on a key)."""
    parts = key.split("/")  # raw segments: PurePosixPath would silently drop "." and ""
    if not key or "\x00" in key or any(p in ("..", ".", "") for p in parts):
        raise StorageError(f"unsafe object key {key!r}", retryable=False)
    return key


class ObjectStore(Protocol):
    """What the functions need from a bucket."""

    bucket: str
    url: str

    def stat(self, key: str) -> ObjectInfo | None: ...
    def open_read(self, key: str) -> BinaryIO: ...
    def read_bytes(self, key: str) -> bytes: ...
    def put_bytes(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> ObjectInfo: ...
    def writer(self, key: str) -> contextlib.AbstractContextManager[IO[bytes]]: ...
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]: ...
    def delete(self, key: str) -> None: ...


def put_unless_changed(
    store: ObjectStore, key: str, data: bytes, *, etag: str | None
) -> ObjectInfo:
    """Write ``data`` at ``key`` over the version read (``etag``), or as a new object when none
    was (None): ``PreconditionFailed`` when someone wrote or created it since."""
    if etag is None:
        return store.put_bytes(key, data, if_none_match=True)
    return store.put_bytes(key, data, if_match=etag)


class FileStore:
    """A directory as a bucket: ``file:///srv/backups`` is bucket ``backups``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.bucket = self.root.name
        self.url = self.root.as_uri()
        self._lock = threading.Lock()

    def _path(self, key: str) -> Path:
        return self.root / safe_key(key)

    def stat(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        if not path.is_file():
            return None
        return ObjectInfo(
            key=key,
            size=st.st_size,
            etag=f"{st.st_mtime_ns:x}-{st.st_size:x}-{st.st_ino:x}",
            last_modified=datetime.fromtimestamp(st.st_mtime, UTC),
        )

    def open_read(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise NotFound(key) from exc

    def read_bytes(self, key: str) -> bytes:
        with self.open_read(key) as stream:
            return stream.read()

    def put_bytes(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> ObjectInfo:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.root / ".locks"
        lock_path.mkdir(exist_ok=True)
        lockfile = lock_path / hashlib.sha256(key.encode()).hexdigest()
        with self._lock, lockfile.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # across processes, too
            current = self.stat(key)
            if if_none_match and current is not None:
                raise PreconditionFailed(key)
            if if_match is not None and (current is None or current.etag != if_match):
                raise PreconditionFailed(key)
            self._publish(path, io.BytesIO(data))
        info = self.stat(key)
        assert info is not None
        return info

    def _publish(self, path: Path, stream: IO[bytes]) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    out.write(chunk)
            Path(tmp).replace(path)  # atomic: readers see the old object or the whole new one
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[IO[bytes]]:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                yield out
            Path(tmp).replace(path)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        base = self.root
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".tmp-"):
                    continue
                key = Path(dirpath, name).relative_to(base).as_posix()
                if key.startswith(prefix):
                    info = self.stat(key)
                    if info is not None:
                        yield info

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class MemoryStore:
    """An in-memory bucket for tests (same semantics as the others, etags included)."""

    def __init__(self, bucket: str = "memory") -> None:
        self.bucket = bucket
        self.url = f"memory://{bucket}"
        self.objects: dict[str, tuple[bytes, ObjectInfo]] = {}
        self._lock = threading.Lock()

    def stat(self, key: str) -> ObjectInfo | None:
        entry = self.objects.get(safe_key(key))
        return entry[1] if entry else None

    def open_read(self, key: str) -> BinaryIO:
        return io.BytesIO(self.read_bytes(key))

    def read_bytes(self, key: str) -> bytes:
        entry = self.objects.get(safe_key(key))
        if entry is None:
            raise NotFound(key)
        return entry[0]

    def put_bytes(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> ObjectInfo:
        with self._lock:
            current = self.stat(key)
            if (if_none_match and current is not None) or (
                if_match is not None and (current is None or current.etag != if_match)
            ):
                raise PreconditionFailed(key)
            info = ObjectInfo(key, len(data), hashlib.md5(data).hexdigest(), datetime.now(UTC))  # noqa: S324 - S3's etag
            self.objects[key] = (bytes(data), info)
            return info

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[IO[bytes]]:
        buffer = io.BytesIO()
        yield buffer
        self.put_bytes(key, buffer.getvalue())

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for key in sorted(self.objects):
            if key.startswith(prefix):
                yield self.objects[key][1]

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)


def open_store(config: StorageConfig) -> ObjectStore:
    """The store a configuration names (credentials are read here, never logged)."""
    parsed = urlparse(config.url)
    if parsed.scheme == "file":
        root = (
            unquote(parsed.netloc + parsed.path) if parsed.netloc == "." else unquote(parsed.path)
        )
        return FileStore(root)
    if parsed.scheme == "s3":
        from backup2gitops.adapters.s3_store import s3_store  # boto3: only for an s3:// URL

        return s3_store(config, bucket=parsed.netloc, prefix=parsed.path)
    raise StorageError(f"unsupported storage URL scheme {parsed.scheme!r}", retryable=False)
