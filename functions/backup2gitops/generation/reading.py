"""One read of a backup's archive, decoding only what changed since the last commit.

    archive stream --(core.archive.iter_members: checked, hashed, spooled)--> members
      --(BackupIndex of the StatefulSets, CRDs and HPAs, decoded as they pass)
      --(core.member_cache.reusable?)--> kept: the committed file stays (no decoding)
                                      \\-> else: decode, clean, place, serialise

The archive is read once, start to end: each member's raw bytes are hashed and appended to a
spool file (a temporary file, as large as the members' decompressed bytes, which
``ArchiveLimits.max_total_bytes`` bounds), and only the members cleaning needs to know about
the others (``INDEXED_RESOURCES``) are decoded on the way. When the stream has ended, is
complete and matched its size and digest, the index is whole: then each member, in the
archive's order, is either kept (same bytes, same settings, none of its cross-object facts
changed, its file still the committed blob: ``core.member_cache``) or read back from the spool
and decoded, cleaned and serialised. The figures (``Plan``: objects, exclusions by reason,
kinds, credentials in clear) count every member either way, from the cache's record for a kept
one, so the commit message and the guards see the same numbers as a full run.

Memory holds one member, one small record per member, and the index.
"""

from __future__ import annotations

import array
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, BinaryIO, NamedTuple

from backup2gitops.core import kube_yaml
from backup2gitops.core import member_cache as cache
from backup2gitops.core import member_records as records
from backup2gitops.core.archive import (
    MAX_REFUSALS_LISTED,
    ArchiveLimits,
    BackupItem,
    Copy,
    Entry,
    Member,
    ReadReport,
    item_of,
    iter_members,
)
from backup2gitops.core.cleaning import INDEXED_RESOURCES, BackupIndex, CleaningPolicy
from backup2gitops.core.member_cache import MemberCache
from backup2gitops.core.member_records import MemberRecord
from backup2gitops.core.repo_layout import cluster_root
from backup2gitops.generation.pipeline import (
    Encrypt,
    Plan,
    Previous,
    Transform,
    account,
    place,
)

Blob = Callable[[bytes], str]
"""The blob id a repository gives some content (``adapters.git.blob_id``)."""


@dataclass
class Reading:
    """One read of the archive: its plan, what the reader counted, and what the cache saved."""

    plan: Plan
    report: ReadReport = field(default_factory=ReadReport)
    decoded: int = 0
    """Members decoded, cleaned and serialised; the others were kept from the member cache."""
    kept: int = 0


class _Spooled(NamedTuple):
    """One member read, as ``_SpoolIndex.member`` gives it back. Its tar name is spooled
    before its bytes (``offset``: the name's first byte)."""

    key: str
    """``member_records.member_key``: also the new cache's key (one string, not two)."""
    digest: bytes
    offset: int
    name_size: int
    size: int
    copy: Copy


_COPIES: tuple[Copy, ...] = ("unversioned", "preferred", "other")


class _SpoolIndex:
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

    def __len__(self) -> int:
        return len(self.keys)

    def add(
        self, key: str, digest: bytes, offset: int, name_size: int, size: int, copy: Copy
    ) -> None:
        """One member read (the fields of ``_Spooled``, not one made per member)."""
        if len(digest) != records.DIGEST_SIZE:
            raise ValueError("a member digest of another size")
        self.keys.append(key)
        self._digests += digest
        self._offsets.append(offset)
        self._name_sizes.append(name_size)
        self._sizes.append(size)
        self._copies.append(_COPIES.index(copy))

    def digest(self, position: int) -> bytes:
        at = position * records.DIGEST_SIZE
        return bytes(self._digests[at : at + records.DIGEST_SIZE])

    def member(self, position: int) -> _Spooled:
        return _Spooled(
            self.keys[position],
            self.digest(position),
            self._offsets[position],
            self._name_sizes[position],
            self._sizes[position],
            _COPIES[self._copies[position]],
        )


@dataclass
class MemberPass:
    """The archive's files for one commit (``files``), then ``cache``: the records of this
    backup, to commit beside it at ``cache_path``."""

    reading: Reading
    policy: CleaningPolicy
    settings: str
    blob: Blob
    transforms: Sequence[Transform] = ()
    encrypt: Encrypt | None = None
    previous: Previous | None = None
    committed: Mapping[str, str] = field(default_factory=dict)
    """The tip's files in the cluster's folder: path -> blob id."""
    limits: ArchiveLimits | None = None
    progress: Callable[[int], None] | None = None
    reuse: bool = True
    """Read the committed cache (False: decode every member; ``cache`` is still made)."""
    written: Callable[[str, Mapping[str, Any], str], None] | None = None
    """Told each object serialised: its path, the object, its blob id (drift's comparison)."""
    cache: MemberCache | None = None
    cache_unchanged: bool = False
    """``cache`` holds the committed cache's records, every one kept and none gone, under the
    same settings and facts: its file is the committed one (no need to write it again)."""

    @property
    def cache_path(self) -> str:
        return cache.cache_path(cluster_root(self.reading.plan.cluster).as_posix())

    def files(
        self, stream: BinaryIO, *, finish: Callable[[], None]
    ) -> Iterator[tuple[str, bytes | None]]:
        """Each object's file (None: the committed one stays); ``finish`` is called once the
        stream has been read to its end (the integrity check), before the first file."""
        old = MemberCache.parse(
            self.previous(PurePosixPath(self.cache_path)) if self.previous and self.reuse else None
        )
        if old is not None and old.settings != self.settings:
            old = None  # other settings: nothing of it can be reused
        with tempfile.TemporaryFile(prefix="b2g-members-") as spool:
            members, indexed = self._spool(stream, spool)
            finish()
            index = BackupIndex.of(item.obj for item in indexed.values() if not item.refused)
            self._index = index
            facts = cache.index_fingerprints(index)
            changed = cache.changed_facts(old.index, facts) if old is not None else frozenset()
            new = MemberCache(settings=self.settings, index=facts)
            self.reading.plan.decoded = 0
            root = cluster_root(self.reading.plan.cluster).as_posix()
            for position, key in enumerate(members.keys):  # old records consumed: memory falls
                digest = members.digest(position)
                record = old.members.pop(key, None) if old is not None else None
                file = record.file(root, key) if record is not None else None
                _, space, name = key.split("\0")
                namespace = space or None
                if record is not None and cache.reusable(
                    record,
                    digest=digest,
                    namespace=namespace,
                    name=name,
                    changed=changed,
                    committed=self.committed,
                    path=file,
                ):
                    self._count(record, namespace, name, spool, members, position)
                    new.members[key] = record
                    self.reading.kept += 1
                    if file is not None:
                        yield file, None
                    continue
                item = indexed.get(position) or self._decode(spool, members.member(position))
                record, placed = self._place(item, digest, root, key)
                new.members[key] = record
                self.reading.decoded += 1
                self.reading.plan.decoded = self.reading.decoded
                if placed is not None:
                    yield placed
        self.cache = new
        self.cache_unchanged = (
            old is not None
            and self.reading.decoded == 0
            and not old.members  # every record was popped: no member is gone
            and old.index == facts
        )

    def _spool(
        self, stream: BinaryIO, spool: BinaryIO
    ) -> tuple[_SpoolIndex, dict[int, BackupItem]]:
        report = self.reading.report
        members = _SpoolIndex()
        indexed: dict[int, BackupItem] = {}
        offset = 0
        for count, member in enumerate(iter_members(stream, report=report, limits=self.limits)):
            if self.progress is not None:
                self.progress(count + 1)
            data, entry = member.data, member.entry
            name = member.name.encode(errors="surrogateescape")
            spool.write(name)
            if entry.group_resource in INDEXED_RESOURCES:
                indexed[count] = item_of(member, report)
                size = 0  # decoded already: only its name is spooled
            else:
                spool.write(data)
                size = len(data)
            key = records.member_key(entry.group_resource, entry.namespace, entry.name)
            digest = records.raw_digest(data)
            members.add(key, digest, offset, len(name), size, entry.copy)
            offset += len(name) + size
        return members, indexed

    @staticmethod
    def _name(spool: BinaryIO, member: _Spooled) -> str:
        spool.seek(member.offset)
        return spool.read(member.name_size).decode(errors="surrogateescape")

    def _decode(self, spool: BinaryIO, member: _Spooled) -> BackupItem:
        name = self._name(spool, member)
        data = spool.read(member.size)
        group_resource, namespace, item_name = member.key.split("\0")
        entry = Entry(group_resource, namespace or None, item_name, member.copy)
        return item_of(Member(entry, name, data), self.reading.report)

    def _place(
        self, item: BackupItem, digest: bytes, root: str, key: str
    ) -> tuple[MemberRecord, tuple[str, bytes] | None]:
        """The member's record, and its file (the path whose text the record holds)."""
        placed = place(
            item,
            cluster=self.reading.plan.cluster,
            policy=self.policy,
            transforms=self.transforms,
            encrypt=self.encrypt,
            previous=self.previous,
            index=self._index,
        )
        account(
            self.reading.plan,
            namespace=placed.namespace,
            excluded=placed.excluded,
            kind=placed.kind,
            credentials=placed.credentials,
            unmanaged=placed.unmanaged,
        )
        api_version = str(item.obj.get("apiVersion") or "")
        kind = str(item.obj.get("kind") or "")
        if placed.path is None or placed.obj is None:
            excluded = placed.excluded or "excluded"
            refused = item.refused is not None
            return MemberRecord(digest, api_version, kind, excluded, refused=refused), None
        content = kube_yaml.dump(placed.obj).encode()
        blob = self.blob(content)
        file = placed.path.as_posix()
        path: str | None = None if file == records.natural_path(root, key) else file
        record = MemberRecord(
            digest,
            api_version,
            kind,
            path=path,
            blob=blob,
            out_kind=placed.kind,
            credentials=placed.credentials,
            unmanaged=placed.unmanaged is not None,
        )
        if self.written is not None:
            self.written(file, placed.obj, blob)
        return record, (file, content)

    def _count(
        self,
        record: MemberRecord,
        namespace: str | None,
        name: str,
        spool: BinaryIO,
        members: _SpoolIndex,
        position: int,
    ) -> None:
        """A kept member's figures, as ``_place`` counted them when it was decoded."""
        account(
            self.reading.plan,
            namespace=namespace,
            excluded=record.excluded,
            kind=record.out_kind,
            credentials=record.credentials,
            unmanaged=record.unmanaged_name(namespace, name),
        )
        if record.refused:
            report = self.reading.report
            report.refused_total += 1
            if len(report.refused) < MAX_REFUSALS_LISTED:
                member_name = self._name(spool, members.member(position))
                report.refused.append(f"{member_name[:200]!r}: {record.excluded}")

    _index: BackupIndex = field(default_factory=BackupIndex, init=False)
