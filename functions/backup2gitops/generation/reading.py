"""One read of a backup's archive, decoding only what changed since the last commit.

    archive stream --(core.archive.iter_members: checked, hashed, spooled: generation.spool)
      --> members --(BackupIndex of the StatefulSets, CRDs and HPAs, decoded as they pass)
      --(the committed backup again? generation.unchanged)--> the folder as it is, no pass
      --(else, per member: core.member_cache.reusable?)--> kept: the committed file stays
                                                       \\-> else: decode, clean, place, serialise

The archive is read once, start to end: each member's raw bytes are hashed and appended to a
spool file (a temporary file, as large as the members' decompressed bytes, which
``ArchiveLimits.max_total_bytes`` bounds), and only the members cleaning needs to know about
the others (``INDEXED_RESOURCES``) are decoded on the way. When the stream has ended, is
complete and matched its size and digest, the index is whole. A backup whose members (names,
bytes, order), settings and facts are the committed cache's, on the folder that commit left,
is that commit's backup again: no member is looked at one by one (``MemberPass.unchanged``).
Otherwise each member, in the archive's order, is either kept (same bytes, same settings, none of its cross-object facts
changed, its file still the committed blob: ``core.member_cache``) or read back from the spool
and decoded, cleaned and serialised. The figures (``Plan``: objects, exclusions by reason,
kinds, credentials in clear) count every member either way, from its record (the cache's for a
kept one, the one just made for a decoded one) once the pass is over, the members alike
counted at once (``MemberPass._count``), so the commit message and the guards see the same
numbers as a full run.

Memory holds one member, one small record per member (and its shape and namespace, to count), and
the index.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO

from backup2gitops.adapters.git.repository import Seal
from backup2gitops.core import member_cache as cache
from backup2gitops.core import member_records as records
from backup2gitops.core.archive import MAX_REFUSALS_LISTED, ArchiveLimits, ReadReport
from backup2gitops.core.cleaning import BackupIndex
from backup2gitops.core.member_cache import MemberCache, WholeBackup
from backup2gitops.core.member_records import MemberRecord, Shape
from backup2gitops.core.repo_layout import cluster_root
from backup2gitops.generation.plan import (
    Encrypt,
    Plan,
    Previous,
    Transform,
    account_alike,
    list_credentials,
    list_unmanaged,
)
from backup2gitops.generation.spool import Spool
from backup2gitops.generation.unchanged import Figures

if TYPE_CHECKING:
    from backup2gitops.adapters.git import Folder
    from backup2gitops.core.archive import BackupItem
    from backup2gitops.core.cleaning import CleaningPolicy
    from backup2gitops.generation.pipeline import Placement

Blob = Callable[[bytes], str]
"""The blob id a repository gives some content (``adapters.git.blob_id``)."""
Decode = Callable[["BackupItem"], tuple["Placement", bytes | None]]
"""One member decoded, cleaned and placed, and its object serialised (None: none to write):
``generation.decoding``'s, given to ``MemberPass.files``."""


@dataclass
class Reading:
    """One read of the archive: its plan, what the reader counted, and what the cache saved."""

    plan: Plan
    report: ReadReport = field(default_factory=ReadReport)
    decoded: int = 0
    """Members decoded, cleaned and serialised; the others were kept from the member cache."""
    kept: int = 0


@dataclass
class MemberPass:
    """One backup's members, in two steps: ``read`` reads the archive once (spooled, hashed,
    the index built); then either ``unchanged`` finds it is the committed backup again (its
    figures from the cache's header: ``generation.unchanged``), or ``files`` gives its files
    for one commit, and ``cache`` the records to commit beside them at ``cache_path``.
    ``close`` drops the spool."""

    reading: Reading
    policy: CleaningPolicy
    settings: str
    blob: Blob
    transforms: Sequence[Transform] = ()
    encrypt: Encrypt | None = None
    previous: Previous | None = None
    folder: Folder | None = None
    """The tip's cluster folder (None: none): its files are listed only if the per-member pass
    runs."""
    committed_files: Callable[[Collection[str]], Mapping[str, bytes]] | None = None
    """Reads several of the tip's files at once (the cache's shards; absent ones left out)."""
    limits: ArchiveLimits | None = None
    progress: Callable[[int], None] | None = None
    reuse: bool = True
    """Read the committed cache (False: decode every member; ``cache`` is still made)."""
    written: Callable[[str, Mapping[str, Any], str], None] | None = None
    """Told each object serialised: its path, the object, its blob id (drift's comparison)."""
    unsealed: Callable[[str], str] | None = None
    """The tip's id of the cluster's folder without the file at the path given
    (``Tip.unsealed``): what the committed header was sealed with, if the folder is as that
    commit left it."""
    cache: MemberCache | None = None
    sequence: str = ""
    """The digest of the members read (``WholeBackup.members``), once ``read``."""
    committed_whole: WholeBackup | None = None
    """What the committed cache says its backup was as a whole (None: no cache, or it says
    nothing)."""

    @property
    def committed(self) -> Mapping[str, str]:
        """The tip's files in the cluster's folder: path -> blob id."""
        return self.folder.files if self.folder is not None else {}

    @property
    def cache_path(self) -> str:
        return cache.cache_path(cluster_root(self.reading.plan.cluster).as_posix())

    def read(self, stream: BinaryIO, *, finish: Callable[[], None]) -> None:
        """Read the archive to its end (``finish``: the integrity check), spooling and hashing
        every member and decoding the ones the index needs."""
        data = (
            self.previous(PurePosixPath(self.cache_path)) if self.previous and self.reuse else None
        )
        old = MemberCache.parse(data)  # the header: its records are read if they are needed
        if old is not None and old.settings != self.settings:
            old = None  # other settings: nothing of it can be reused
        self._old = old
        self.committed_whole = old.whole if old is not None else None
        self._spool = spool = Spool()
        spool.fill(stream, report=self.reading.report, limits=self.limits, progress=self.progress)
        finish()
        self.index = BackupIndex.of(item.obj for item in spool.indexed.values() if not item.refused)
        self._facts = cache.index_fingerprints(self.index)
        self.sequence = spool.index.sequence()

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()

    def unchanged(self) -> bool:
        """Whether this backup is the committed one again: the same members in the same order,
        settings and facts, on the folder the commit left (the folder's id without the header
        is the one the header was sealed with: ``Seal``). Then ``reading`` has the commit's
        figures and no file is made."""
        old, whole = self._old, self.committed_whole
        if old is None or whole is None or self.unsealed is None:
            return False
        if whole.members != self.sequence or old.index != self._facts:
            return False
        if not whole.folder or whole.folder != self.unsealed(self.cache_path):
            return False
        figures = Figures.of_json(whole.figures)
        if figures is None:
            return False
        figures.apply(self.reading.plan, self.reading.report)
        self.reading.kept, self.reading.plan.decoded = len(self._spooled().index), 0
        self.reading.plan.unchanged = True
        return True

    def files(self, decode: Decode) -> Iterator[tuple[str, bytes | None]]:
        """Each object's file (None: the committed one stays), in the archive's order; the
        members the cache cannot keep given to ``decode``. The figures are counted once every
        member has its record (``_count``)."""
        old, spool, facts = self._old, self._spooled(), self._facts
        root = cluster_root(self.reading.plan.cluster).as_posix()
        kept_shards = self._read_shards(old, root) if old is not None else set()
        self._kept_shards = kept_shards
        members, indexed = spool.index, spool.indexed
        changed = cache.changed_facts(old.index, facts) if old is not None else frozenset()
        committed = self.committed
        previous = old.members if old is not None else {}
        new = MemberCache(settings=self.settings, index=facts)
        made = new.members
        shapes: list[Shape] = []  # each member's record's shape, in the archive's order
        spaces: list[str] = []  # and its namespace ("": cluster-scoped)
        decoded = 0
        self.reading.plan.decoded = 0
        for position, key in enumerate(members.keys):
            digest = members.digest(position)
            record = previous.pop(key, None)  # old records consumed: memory falls
            group, space, name = key.split("\0")
            file = record.file_of(root, group, space, name) if record is not None else None
            if record is not None and cache.reusable(
                record,
                digest=digest,
                namespace=space or None,
                name=name,
                changed=changed,
                committed=committed,
                path=file,
            ):
                shape = record.shape
                if shape.refused and position not in indexed:  # else the read counted it
                    self._refused(position, shape.excluded)
                made[key] = record
                shapes.append(shape)
                spaces.append(space)
                if file is not None:
                    yield file, None
                continue
            if kept_shards:  # its shard's file is written again
                kept_shards.discard(cache.shard_of(space))
            item = spool.item(position, self.reading.report)
            record, placed = self._place(item, digest, root, key, decode)
            made[key] = record
            shapes.append(record.shape)
            spaces.append(space)
            decoded += 1
            self.reading.decoded += 1
            self.reading.plan.decoded = self.reading.decoded
            if placed is not None:
                yield placed
        for key in previous if kept_shards else ():  # gone: their shard is written again
            kept_shards.discard(cache.shard_of(key.split("\0", 2)[1]))
        self.reading.kept += len(shapes) - decoded
        self._count(shapes, spaces, members.keys)
        self.cache = new

    def cache_files(self) -> Iterator[tuple[str, bytes | None]]:
        """The cache's record files, once ``files`` is done: one file per namespace (None: the
        committed file, each of whose records was kept and none gone, stays: not written
        again). The header is the commit's ``seal``."""
        new = self.cache
        if new is None:
            raise RuntimeError("no member pass made a cache (MemberPass.files)")
        root = cluster_root(self.reading.plan.cluster).as_posix()
        for shard, keys in new.shards().items():
            path = cache.shard_path(root, shard)
            if shard in self._kept_shards:
                yield path, None
            else:  # records go as they are written
                yield path, new.dump_shard(keys, drain=True)

    def seal(self, figures: dict[str, Any]) -> Seal:
        """The header, written last (``Seal``): the settings and facts, and the backup as a
        whole: its members, the folder's id the commit made (without the header), these
        ``figures``."""
        new, self.cache = self.cache, None
        if new is None:
            raise RuntimeError("no member pass made a cache (MemberPass.files)")

        def header(folder: str) -> bytes:
            new.whole = WholeBackup(members=self.sequence, folder=folder, figures=figures)
            return new.dump()

        return Seal(self.cache_path, header)

    def _read_shards(self, old: MemberCache, root: str) -> set[str]:
        """Read the committed cache's shard files into ``old``; the shards read whole (the
        ones whose files may stay, if every record in them is kept)."""
        paths = cache.shards_in(self.committed, root)
        if not paths or self.committed_files is None:
            return set()
        data = self.committed_files(list(paths.values()))
        return {
            shard
            for shard, path in paths.items()
            if path in data and old.read_shard(shard, data[path]) is not None
        }

    def _place(
        self, item: BackupItem, digest: bytes, root: str, key: str, decode: Decode
    ) -> tuple[MemberRecord, tuple[str, bytes] | None]:
        """The member's record, and its file (the path whose text the record holds)."""
        placed, content = decode(item)
        api_version = str(item.obj.get("apiVersion") or "")
        kind = str(item.obj.get("kind") or "")
        if placed.file is None or placed.obj is None or content is None:
            excluded = placed.excluded or "excluded"
            refused = item.refused is not None
            return MemberRecord(digest, api_version, kind, excluded, refused=refused), None
        blob = self.blob(content)
        file = placed.file
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

    def _count(self, shapes: Sequence[Shape], spaces: Sequence[str], keys: Sequence[str]) -> None:
        """Every member's figures, in the archive's order, from its record's shape and its
        namespace (``keys``: the members' keys), as ``account`` counts the placement the record
        was made of: the members alike (one shape, one namespace) counted at once, the
        credentials and the names changed by hand listed in order."""
        plan = self.reading.plan
        # in the order first met, as each one counts; by the shapes' ids (they are interned:
        # a shape's own hash is its seven fields', in Python), equal shapes then made one
        by_id = dict(zip(map(id, shapes), shapes, strict=True))
        alike: collections.Counter[tuple[Shape, str]] = collections.Counter()
        for (shape_id, space), count in collections.Counter(
            zip(map(id, shapes), spaces, strict=True)
        ).items():
            alike[(by_id[shape_id], space)] += count
        groups: collections.Counter[tuple[str | None, str | None, str]] = collections.Counter()
        for (shape, space), count in alike.items():
            groups[(space or None, shape.excluded, shape.out_kind)] += count
        account_alike(plan, groups)
        written = [(shape, count) for (shape, _), count in alike.items() if shape.excluded is None]
        if any(shape.credentials for shape, _ in written):
            list_credentials(
                plan, (shape.credentials for shape in shapes if shape.excluded is None)
            )
        unmanaged = sum(count for shape, count in written if shape.unmanaged)
        if unmanaged:
            list_unmanaged(
                plan,
                unmanaged,
                (
                    shape.listed_name(space or None, key.rpartition("\0")[2])
                    for shape, space, key in zip(shapes, spaces, keys, strict=True)
                    if shape.unmanaged and shape.excluded is None
                ),
            )

    def _refused(self, position: int, reason: str | None) -> None:
        """A kept member the archive's reader refused, counted as the reader counts one."""
        report = self.reading.report
        report.refused_total += 1
        if len(report.refused) < MAX_REFUSALS_LISTED:
            member_name = self._spooled().name(position)
            report.refused.append(f"{member_name[:200]!r}: {reason}")

    def _spooled(self) -> Spool:
        if self._spool is None:
            raise RuntimeError("the archive is not read yet (MemberPass.read)")
        return self._spool

    _spool: Spool | None = field(default=None, init=False)
    _old: MemberCache | None = field(default=None, init=False)
    """The committed cache (its settings are these): its header, then its records once
    ``files`` reads them."""
    _kept_shards: set[str] = field(default_factory=set, init=False)
    """The committed shard files read whole, none of whose members changed or went."""
    _facts: dict[str, str] = field(default_factory=dict, init=False)
    index: BackupIndex = field(default_factory=BackupIndex, init=False)
    """The backup's index (its StatefulSets, CRDs and HPAs: ``BackupIndex``), once ``read``."""
