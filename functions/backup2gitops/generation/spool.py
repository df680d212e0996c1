"""The spool of one archive read (``generation.reading``): every member's bytes in a
temporary file, in the order read, and its key, raw digest, offsets and copy in flat arrays;
the members cleaning indexes (``INDEXED_RESOURCES``) decoded as they pass (``archive.item_of``,
imported with the first member decoded).
"""

from __future__ import annotations

import array
import hashlib
import tempfile
from collections.abc import Callable
from typing import BinaryIO, NamedTuple, cast

from backup2gitops.core import archive
from backup2gitops.core import member_records as records
from backup2gitops.core.archive import (
    ArchiveLimits,
    BackupItem,
    Copy,
    Entry,
    Member,
    ReadReport,
    iter_members,
)
from backup2gitops.core.cleaning import INDEXED_RESOURCES


class Spooled(NamedTuple):
    """One member read, as ``SpoolIndex.member`` gives it back. Its tar name is spooled
    before its bytes (``offset``: the name's first byte)."""

    key: str
    """``member_records.member_key``, made once by the reader (``Member.key``): also the new
    cache's key and the reader's set of the objects read (one string for all three)."""
    digest: bytes
    offset: int
    name_size: int
    size: int
    copy: Copy


COPIES: tuple[Copy, ...] = ("unversioned", "preferred", "other")
_COPY_CODES: dict[Copy, int] = {copy: code for code, copy in enumerate(COPIES)}
_LENGTHS: tuple[bytes, ...] = tuple(b"%d:" % size for size in range(256))
"""A name's length as the names' digest takes it, made once for the usual lengths."""
SPOOL_BUFFER = 1 << 16
"""The spool file's buffer: 64 KiB, a write call to the system every ~80 members of 750 bytes
where the default 8 KiB made one every ~10 (a tenth of a 10,000-member read's own cost)."""


class SpoolIndex:
    """Every member read, until the stream has ended: its key (a string the new cache keeps
    too) and, in flat arrays, its digest, offsets and copy: ~45 bytes a member beside the key,
    where a tuple of objects each took ~200."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self._digests = bytearray()
        self._offsets = array.array("q")
        self._name_sizes = array.array("q")
        self._sizes = array.array("q")
        self._copies = bytearray()
        self._names = hashlib.blake2b(digest_size=20)

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, key: str, digest: bytes, offset: int, name: bytes, size: int, copy: Copy) -> None:
        """One member read (the fields of ``Spooled``, not one made per member)."""
        if len(digest) != records.DIGEST_SIZE:
            raise ValueError("a member digest of another size")
        self.keys.append(key)
        self._digests += digest
        self._offsets.append(offset)
        self._name_sizes.append(len(name))
        self._sizes.append(size)
        self._copies.append(_COPY_CODES[copy])
        size = len(name)
        self._names.update(
            (_LENGTHS[size] if size < len(_LENGTHS) else b"%d:" % size) + name  # bytes' % is slow
        )

    def sequence(self) -> str:
        """A digest of every member read, in order: its name, key, raw digest and copy
        (``WholeBackup.members``)."""
        digest = hashlib.blake2b(b"members 1\n", digest_size=20)
        digest.update(self._names.digest())
        digest.update("\n".join(self.keys).encode(errors="surrogateescape"))
        digest.update(b"\n%d\n" % len(self.keys))
        digest.update(self._digests)
        digest.update(self._copies)
        return digest.hexdigest()

    def digest(self, position: int) -> bytes:
        at = position * records.DIGEST_SIZE
        return bytes(self._digests[at : at + records.DIGEST_SIZE])

    def member(self, position: int) -> Spooled:
        return Spooled(
            self.keys[position],
            self.digest(position),
            self._offsets[position],
            self._name_sizes[position],
            self._sizes[position],
            COPIES[self._copies[position]],
        )


class Spool:
    """Every member of one archive, read once (``fill``): its bytes in a temporary file (the
    indexed ones decoded instead: ``indexed``, by position), the rest in ``index``."""

    def __init__(self) -> None:
        self.file = cast(
            "BinaryIO",
            tempfile.TemporaryFile(prefix="b2g-members-", buffering=SPOOL_BUFFER),  # noqa: SIM115
        )
        self.index = SpoolIndex()
        self.indexed: dict[int, BackupItem] = {}

    def fill(
        self,
        stream: BinaryIO,
        *,
        report: ReadReport,
        limits: ArchiveLimits | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Read ``stream`` to its end: each member hashed and spooled."""
        spool, members, indexed = self.file, self.index, self.indexed
        offset = 0
        for count, member in enumerate(iter_members(stream, report=report, limits=limits)):
            if progress is not None:
                progress(count + 1)
            data, entry = member.data, member.entry
            name = member.name.encode(errors="surrogateescape")
            spool.write(name)
            if entry.group_resource in INDEXED_RESOURCES:
                indexed[count] = archive.item_of(member, report)
                size = 0  # decoded already: only its name is spooled
            else:
                spool.write(data)
                size = len(data)
            key = member.key
            digest = records.raw_digest(data)
            members.add(key, digest, offset, name, size, entry.copy)
            offset += len(name) + size

    def name(self, position: int) -> str:
        """The tar name of the member at ``position``."""
        return self._name(self.index.member(position))

    def _name(self, member: Spooled) -> str:
        """``member``'s tar name; the file is then at its bytes."""
        self.file.seek(member.offset)
        return self.file.read(member.name_size).decode(errors="surrogateescape")

    def item(self, position: int, report: ReadReport) -> BackupItem:
        """The member at ``position``, decoded (an indexed one was, as it was read)."""
        done = self.indexed.get(position)
        if done is not None:
            return done
        member = self.index.member(position)
        self.file.seek(member.offset)
        spooled = self.file.read(member.name_size + member.size)  # its name, then its bytes
        name = spooled[: member.name_size].decode(errors="surrogateescape")
        data = spooled[member.name_size :]
        group_resource, namespace, item_name = member.key.split("\0")
        entry = Entry(group_resource, namespace or None, item_name, member.copy)
        return archive.item_of(Member(entry, name, data, member.key), report)

    def close(self) -> None:
        self.file.close()
