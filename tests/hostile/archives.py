"""Hostile backup archives, built in memory or streamed: never gigabytes on disk or in memory.

``GzipStream`` compresses a generator of byte chunks as it is read, so a header that claims
3 GiB followed by its 3 GiB costs the reader exactly what it reads: a reader that refuses the
header at once pulls a few kilobytes, one that reads the block whole pulls (and holds) it all.
Stored (level 0) deflate keeps the ratio near 1, so the decompression-ratio guard, which
catches zeros, never hides what a header guard must catch on its own.
"""

from __future__ import annotations

import io
import json
import tarfile
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

VERSION = ("metadata/version", b"1.1.0\n")
CHUNK = 1024 * 1024


class GzipStream(io.RawIOBase):
    """A read-only binary stream: the gzip of ``chunks``, produced on demand."""

    def __init__(self, chunks: Iterable[bytes], *, level: int = 0) -> None:
        self._chunks = iter(chunks)
        self._zip = zlib.compressobj(level, zlib.DEFLATED, 31)
        self._buffer = bytearray()
        self._done = False
        self.pulled = 0
        """Uncompressed bytes taken from ``chunks`` so far."""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        view = memoryview(target).cast("B")
        while len(self._buffer) < len(view) and not self._done:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._buffer += self._zip.flush()
                self._done = True
            else:
                self.pulled += len(chunk)
                self._buffer += self._zip.compress(chunk)
        size = min(len(view), len(self._buffer))
        view[:size] = self._buffer[:size]
        del self._buffer[:size]
        return size


def header(name: str, *, size: int, type: bytes = tarfile.REGTYPE) -> bytes:
    """One 512-byte ustar/GNU header block; ``size`` may be anything up to 8 GiB - 1."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = type
    info.mode = 0o644
    block = info.tobuf(format=tarfile.GNU_FORMAT)
    assert len(block) == tarfile.BLOCKSIZE, "the name must fit the header"
    return block


def member(name: str, data: bytes) -> bytes:
    """A regular member: its header and its data, padded to the block size."""
    return header(name, size=len(data)) + data + b"\0" * (-len(data) % tarfile.BLOCKSIZE)


def end() -> bytes:
    return b"\0" * (2 * tarfile.BLOCKSIZE)


def configmap(name: str = "after", namespace: str = "shop") -> tuple[str, bytes]:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
    }
    return f"resources/configmaps/namespaces/{namespace}/{name}.json", json.dumps(obj).encode()


def pax_record_prefix(size: int, key: str) -> bytes:
    """The start of one pax record ``"<size> <key>="``: a record's length counts all of it."""
    return f"{size} {key}=".encode()


def header_bomb(kind: bytes, size: int) -> Iterator[bytes]:
    """A backup whose one item is preceded by an extended header of ``size`` bytes.

    ``kind``: ``L`` (GNU long name), ``K`` (GNU long link), ``x`` (pax), ``g`` (global pax).
    Left unguarded, tarfile reads the whole block into memory before the item; the block is a
    valid one (a name, or one pax ``comment`` record), so a reader without a header limit
    accepts the backup.
    """
    yield member(*VERSION)
    name, data = configmap()
    if kind in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK):
        yield header("././@LongLink", size=size, type=kind)
        # a long name that is the item's own name, then NULs: tarfile cuts at the first NUL
        yield from _padded_stream(name.encode() + b"\0", size)
    else:
        yield header("././@PaxHeader", size=size, type=kind)
        prefix = pax_record_prefix(size, "comment")
        yield from _padded_stream(prefix, size, last=b"\n")
    yield member(name, data)
    yield end()


def _padded_stream(start: bytes, size: int, *, last: bytes = b"") -> Iterator[bytes]:
    middle = size - len(start) - len(last)
    yield start
    remaining = middle
    block = b"a" * CHUNK if last else b"\0" * CHUNK
    while remaining > 0:
        yield block[: min(remaining, CHUNK)]
        remaining -= min(remaining, CHUNK)
    yield last + b"\0" * (-size % tarfile.BLOCKSIZE)


def tarball(members: Iterable[tuple[str, bytes]], *, version: bool = True) -> bytes:
    """A gzip tarball of raw members (bytes as given: any JSON, any name that fits a header)."""
    listed = ([VERSION] if version else []) + list(members)
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    data = b"".join(member(name, data) for name, data in listed) + end()
    return packer.compress(data) + packer.flush()
