"""The tar stream inside a backup archive: its gzip members inflated by zlib (which checks each
one's CRC and length), metered against ``ArchiveLimits`` as the bytes come out, read forward
only (``Inflated``).

PURE: no I/O of its own; it reads from the binary file-like object the reader is given. A
decompression bomb comes out a slice of at most ``_INFLATE`` bytes at a time, each slice
counted against ``max_total_bytes`` and ``max_ratio`` before the next is made.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import BinaryIO

from backup2gitops.core.archive.format import ArchiveError, ArchiveLimits

_READ = 16 * 1024
"""Compressed bytes read at a time. zlib copies the input it has not used yet after each call
(``unconsumed_tail``): a JSON backup inflates ~30x, so a 64 KiB read was copied ~15 times over."""
_INFLATE = 32 * 1024
"""The most one zlib call produces: a decompression bomb comes out a slice at a time, metered.
32 KiB is the first block of CPython's zlib output buffer: a slice of it is that block, where
a larger slice is two blocks joined (a copy of every inflated byte)."""


class Inflated:
    """The tar stream: the gzip members of ``stream`` inflated by zlib (which checks each one's
    CRC and length), metered against the limits as it comes out, read forward only."""

    __slots__ = ("_at", "_buffer", "_input", "_limits", "_stream", "_zip", "packed", "total")

    def __init__(self, stream: BinaryIO, limits: ArchiveLimits) -> None:
        self._stream = stream
        self._limits = limits
        self._zip = zlib.decompressobj(31)  # gzip only
        self._input = b""
        self._buffer = b""
        self._at = 0
        self.packed = 0
        self.total = 0

    def _more(self) -> bytes:
        """The next decompressed bytes; b"" once the gzip stream has ended, cleanly."""
        while True:
            if not self._input:
                self._input = self._stream.read(_READ) or b""
                self.packed += len(self._input)
                if not self._input:
                    if self._zip.eof:
                        return b""
                    raise ArchiveError("truncated", "the gzip stream ends early")
            if self._zip.eof:  # a gzip member ended: zero padding (gzip allows it), or another
                self._input = self._input.lstrip(b"\0")
                if not self._input:
                    continue
                self._zip = zlib.decompressobj(31)
            out = self._zip.decompress(self._input, _INFLATE)
            self._input = self._zip.unconsumed_tail or self._zip.unused_data
            if out:
                self._meter(len(out))
                return out

    def _meter(self, size: int) -> None:
        self.total += size
        limits = self._limits
        if self.total > limits.max_total_bytes:
            raise ArchiveError(
                "limit_exceeded",
                f"more than {limits.max_total_bytes} bytes once decompressed "
                "(archive_limits.max_total_bytes)",
            )
        packed = max(self.packed, 1)
        if self.total > limits.ratio_floor_bytes and self.total / packed > limits.max_ratio:
            raise ArchiveError(
                "limit_exceeded",
                f"decompresses {self.total / packed:.0f}x, more than {limits.max_ratio:g}x "
                "(archive_limits.max_ratio)",
            )

    def take(self, size: int) -> bytes:
        """The next ``size`` bytes; fewer only where the stream ends."""
        at = self._at
        end = at + size
        buffer = self._buffer
        if end <= len(buffer):
            self._at = end
            return buffer[at:end]
        parts = [buffer[at:]]
        have = len(buffer) - at
        while chunk := self._more():
            need = size - have
            if len(chunk) >= need:
                parts.append(chunk[:need])
                self._buffer, self._at = chunk, need
                return b"".join(parts)
            parts.append(chunk)
            have += len(chunk)
        self._buffer, self._at = b"", 0
        return b"".join(parts)

    def take_padded(self, size: int, padding: int) -> bytes | None:
        """The next ``size`` bytes, then ``padding`` bytes passed; None where the stream ends
        first (``take`` and ``skip`` in one call: a tar member's data)."""
        at = self._at
        end = at + size
        if end + padding <= len(self._buffer):
            self._at = end + padding
            return self._buffer[at:end]
        data = self.take(size)
        return data if len(data) == size and self.skip(padding) else None

    def skip(self, size: int) -> bool:
        """Pass ``size`` bytes; False where the stream ends first."""
        at = self._at + size
        while at > len(self._buffer):
            at -= len(self._buffer)
            self._buffer = self._more()
            if not self._buffer:
                self._at = 0
                return False
        self._at = at
        return True

    def rest(self) -> Iterator[bytes]:
        """What is left, to the end of the gzip stream."""
        yield self._buffer[self._at :]
        self._buffer, self._at = b"", 0
        while chunk := self._more():
            yield chunk
