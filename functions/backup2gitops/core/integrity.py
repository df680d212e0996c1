"""Checking that a stream is the bytes a backup announced: its size and sha256.

Pure: wraps a stream it is given; no I/O of its own. gitops-generator reads the archive through
``CheckedReader``, so an archive swapped or damaged after backup-complete checked it is refused
before anything is committed: more bytes than announced fail at once, a short or different
stream at its end (``finish`` reads what the tar reader left: gzip trailer, padding).
"""

from __future__ import annotations

import hashlib
from typing import BinaryIO

from backup2gitops.core.errors import Backup2GitopsError

_CHUNK = 1024 * 1024


class IntegrityError(Backup2GitopsError):
    """The stream is not the announced one (``size_mismatch``, ``checksum_mismatch``).
    Permanent: the same object will not change its bytes by being read again."""


class HashingReader:
    """A read-through stream that counts and hashes what passes."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._stream.read(size)
        self._digest.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        """Read what the consumer left (a tar reader stops before the gzip trailer)."""
        while self.read(_CHUNK):
            pass

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


class CheckedReader(HashingReader):
    """A ``HashingReader`` that compares with what was announced."""

    def __init__(self, stream: BinaryIO, *, what: str, size: int, sha256: str | None) -> None:
        super().__init__(stream)
        self._what = what
        self.expected_size = size
        self.expected_sha256 = sha256

    def read(self, size: int = -1, /) -> bytes:
        data = super().read(size)
        if self.size > self.expected_size:
            raise IntegrityError(
                f"{self._what} has more than the {self.expected_size} bytes announced",
                code="size_mismatch",
            )
        return data

    def finish(self) -> None:
        """Read to the end and raise IntegrityError unless size and sha256 are as announced."""
        self.drain()
        if self.size != self.expected_size:
            raise IntegrityError(
                f"{self._what} has {self.size} bytes, {self.expected_size} were announced",
                code="size_mismatch",
            )
        actual = self.hexdigest()
        if self.expected_sha256 is not None and actual != self.expected_sha256.lower():
            raise IntegrityError(
                f"{self._what} has sha256 {actual}, {self.expected_sha256} was announced",
                code="checksum_mismatch",
            )

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> CheckedReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
