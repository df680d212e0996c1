"""Streaming reader of a backup tarball: each item's member once, checked, undecoded.

PURE: no I/O of its own; it reads from a binary file-like object the caller passes in.

Order of entries in a real Velero tarball, and what the reader makes of it:

* ``metadata/version`` is the first entry (written before any item). The reader requires it before
  the first ``resources/`` entry, so it can refuse an unknown format before emitting anything.
* Velero writes the files of one object back to back: first the unversioned copy, then the same
  bytes under ``<v>-preferredversion/`` (only when the object was read in the group's preferred
  version). Items a plugin adds for an object (a Pod's PVC, ...) come just before that object.
* With the EnableAPIGroupVersions feature, each non-preferred version of a group is listed
  separately, so its ``<v>/`` copies land wherever that list was walked: before or after the
  preferred copies. The finalize step may rewrite the tarball and append updated items at the end.

So the reader cannot rely on order beyond ``metadata/version`` first. It keeps one set of the
object keys (group-resource, namespace, name) it has emitted -- never the objects -- and:

* emits the unversioned copy or the ``<v>-preferredversion`` copy, whichever comes first (they hold
  the same bytes), and skips the other as a duplicate. An object present ONLY under
  ``<v>-preferredversion/`` is therefore still emitted;
* never emits a non-preferred ``<v>/`` copy: every object Velero backs up is also written in its
  preferred version. A key seen only under non-preferred versions is reported in
  ``ReadReport.warnings`` at the end (its bytes are gone by then: streaming keeps no objects).

Safety: member names must be relative and free of ``..``, empty segments, backslashes and NUL;
links (symbolic or hard) and devices are refused; directory entries are skipped (Velero writes
none, but its own extractor accepts them and GNU tar writes them); a member larger than
``max_member_bytes`` is refused before it is read. The gzip layer is ours (not tarfile's), so its
CRC and length are checked, the tar's end-of-archive marker (two zero blocks) is required, and
a stream that ends early -- even at a member boundary -- or that carries data after a corrupt
header is an ``ArchiveError("truncated")``.
"""

from __future__ import annotations

import gzip
import hashlib
import tarfile
import zlib
from collections.abc import Container, Iterator
from typing import Any, BinaryIO, cast

from backup2gitops.core.archive.format import (
    MAX_EXTENDED_HEADERS,
    MAX_HEADER_BYTES,
    RESOURCES_DIR,
    VERSION_MEMBER,
    ArchiveError,
    ArchiveLimits,
    Member,
    ReadReport,
    check_format_version,
    classify,
    forget_members,
)

_CHUNK = 64 * 1024


class _Metered:
    """Counts the bytes read through it; checks the total and the compression ratio."""

    def __init__(self, stream: Any, *, limits: ArchiveLimits, compressed: _Metered | None) -> None:
        self._stream = stream
        self._limits = limits
        self._compressed = compressed
        self.count = 0

    def read(self, size: int = -1, /) -> bytes:
        data: bytes = self._stream.read(size)
        self.count += len(data)
        if self._compressed is not None:
            limits = self._limits
            if self.count > limits.max_total_bytes:
                raise ArchiveError(
                    "limit_exceeded",
                    f"more than {limits.max_total_bytes} bytes once decompressed "
                    "(archive_limits.max_total_bytes)",
                )
            packed = max(self._compressed.count, 1)
            if self.count > limits.ratio_floor_bytes and self.count / packed > limits.max_ratio:
                raise ArchiveError(
                    "limit_exceeded",
                    f"decompresses {self.count / packed:.0f}x, more than {limits.max_ratio:g}x "
                    "(archive_limits.max_ratio)",
                )
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _safe_name(raw: str) -> str:
    if raw in {".", "./"}:  # the root directory entry GNU tar writes for "tar -C dir ."
        return "."
    name = raw[2:] if raw.startswith("./") else raw
    segments = name.rstrip("/").split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or any(segment in {"", ".", ".."} for segment in segments)
    ):
        raise ArchiveError("unsafe_path", f"unsafe member name {raw[:200]!r}")
    return name


def _check_member(member: tarfile.TarInfo, name: str, max_member_bytes: int) -> bool:
    """Raise for members that must not be in a backup; False for ones to skip (directories)."""
    if member.issym() or member.islnk():
        raise ArchiveError("link", f"link member {name[:200]!r} -> {member.linkname[:200]!r}")
    if member.isdir():
        return False
    if not member.isreg() or member.issparse():
        raise ArchiveError("not_regular", f"member {name[:200]!r} is not a regular file")
    if member.size > max_member_bytes:
        raise ArchiveError(
            "too_large",
            f"member {name[:200]!r} has {member.size} bytes, limit {max_member_bytes}",
        )
    return True


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    """The member's bytes, read straight from the stream (a regular file: ``_check_member``),
    without tarfile's ``extractfile`` object per member (a third of the reading's time)."""
    stream = cast("Any", tar.fileobj)  # tarfile's _Stream in "r|" mode: forward reads
    if stream.tell() != member.offset_data:
        stream.seek(member.offset_data)
    data: bytes = stream.read(member.size)
    if len(data) != member.size:
        raise ArchiveError("truncated", f"member {member.name[:200]!r} ends early")
    return data


class _StrictTarInfo(tarfile.TarInfo):
    """A TarInfo whose header parsing refuses what tarfile would take for a quiet end of archive.

    In the middle of a stream, tarfile treats a missing, short or corrupt header block as the end
    of the archive. Only a block of zeros (the end-of-archive marker) may end it here.
    """

    @classmethod
    def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> _StrictTarInfo:
        try:
            return cls._lean(buf, encoding, errors) or super().frombuf(buf, encoding, errors)
        except tarfile.HeaderError as exc:
            if len(buf) == tarfile.BLOCKSIZE and not buf.strip(b"\x00"):
                raise  # a zero block: the end-of-archive marker
            raise ArchiveError("truncated", f"bad tar header: {exc}") from None

    @classmethod
    def _lean(cls, buf: bytes | bytearray, encoding: str, errors: str) -> _StrictTarInfo | None:
        """``TarInfo.frombuf`` for the one header nearly every member of a backup has (a POSIX
        ustar regular file, or a pax header): only the fields the reader uses are parsed (name,
        size, type, link name, prefix), after the same checksum check. None for anything else,
        or anything unusual in those fields (tarfile's own parsing then decides): reading a
        header costs half as much."""
        kind = bytes(buf[156:157])
        if len(buf) != tarfile.BLOCKSIZE or kind not in _LEAN_TYPES or buf[257:263] != b"ustar\0":
            return None
        checksum, size = _octal(buf[148:156]), _octal(buf[124:136])
        if checksum is None or size is None:
            return None
        if checksum != 256 + sum(buf[:148]) + sum(buf[156:]):  # signed sums: tarfile's parsing
            return None
        name = _text(buf[0:100], encoding, errors)
        if name.endswith("/"):  # a directory written as a file: tarfile's parsing
            return None
        prefix = _text(buf[345:500], encoding, errors)
        info = cls(prefix + "/" + name if prefix else name)
        info.size = size
        info.chksum = checksum
        info.type = kind
        info.linkname = _text(buf[157:257], encoding, errors)
        return info

    # tarfile's private hooks (stable since Python 3.2): ``_proc_member`` is called on each header
    # block before anything that follows it is read; extended headers call ``fromtarfile`` again.
    def _proc_member(self, tarfile: tarfile.TarFile) -> Any:
        """Refuse, on the 512-byte header alone, what tarfile would read whole into memory."""
        if self.type == GNUTYPE_SPARSE:  # its map blocks chain on, unbounded, before the data
            raise ArchiveError("not_regular", "an old GNU sparse member")
        if self.type not in _EXTENDED_TYPES:
            cast("Any", tarfile)._b2g_chain = 0
            return super()._proc_member(tarfile)  # type: ignore[misc]
        what = _EXTENDED_TYPES[self.type]
        if self.size > MAX_HEADER_BYTES:
            raise ArchiveError(
                "too_large",
                f"a {what} of {self.size} bytes, limit {MAX_HEADER_BYTES} "
                "(tarfile would read it whole before the member it describes)",
            )
        chain = getattr(tarfile, "_b2g_chain", 0) + 1
        if chain > MAX_EXTENDED_HEADERS:
            raise ArchiveError(
                "limit_exceeded", f"more than {MAX_EXTENDED_HEADERS} extended headers in a row"
            )
        cast("Any", tarfile)._b2g_chain = chain
        member = super()._proc_member(tarfile)  # type: ignore[misc]
        if self.type == XGLTYPE and _pax_size(tarfile.pax_headers) > MAX_HEADER_BYTES:
            raise ArchiveError(  # global headers accumulate: each one small, all of them not
                "too_large", f"global pax headers of more than {MAX_HEADER_BYTES} bytes"
            )
        return member

    def _proc_gnusparse_10(self, next: Any, pax_headers: Any, tarfile: Any) -> None:
        """A pax 1.0 sparse file keeps its map in the data, as long as the header says: refused
        before the map is read (no sparse member is a backup item anyway)."""
        raise ArchiveError("not_regular", "a GNU sparse 1.0 member")


GNUTYPE_SPARSE = tarfile.GNUTYPE_SPARSE
XGLTYPE = tarfile.XGLTYPE
_EXTENDED_TYPES: dict[bytes, str] = {
    tarfile.GNUTYPE_LONGNAME: "GNU long-name block",
    tarfile.GNUTYPE_LONGLINK: "GNU long-link block",
    tarfile.XHDTYPE: "pax header",
    tarfile.XGLTYPE: "global pax header",
    tarfile.SOLARIS_XHDTYPE: "Solaris extended header",
}


_LEAN_TYPES = frozenset({tarfile.REGTYPE, tarfile.XHDTYPE})


def _text(field: bytes | bytearray, encoding: str, errors: str) -> str:
    """A NUL-terminated header field, as tarfile's ``nts`` decodes it."""
    end = field.find(b"\0")
    return bytes(field if end == -1 else field[:end]).decode(encoding, errors)


def _octal(field: bytes | bytearray) -> int | None:
    """A plain octal header number; None for base-256 or anything tarfile should judge."""
    if field[:1] in (b"\x80", b"\xff"):
        return None
    end = field.find(b"\0")
    text = bytes(field if end == -1 else field[:end]).strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        return None


def _pax_size(headers: Any) -> int:
    return sum(len(key) + len(value) for key, value in headers.items())


def _drain_trailer(tar: tarfile.TarFile) -> None:
    """After the end-of-archive block: only zeros may follow, and the gzip stream must end cleanly.

    tarfile has consumed the first zero block at ``tar.offset``; Go's, GNU's and Python's tar all
    write two, so at least 1024 zero bytes must follow the last member.
    """
    stream = cast("Any", tar.fileobj)  # tarfile's internal _Stream in "r|" mode: forward seeks
    if stream.tell() < tar.offset:
        stream.seek(tar.offset)
    trailer = stream.tell() - tar.offset
    while chunk := stream.read(_CHUNK):
        if chunk.strip(b"\x00"):
            raise ArchiveError("truncated", "data after the end-of-archive marker")
        trailer += len(chunk)
    if trailer < 2 * tarfile.BLOCKSIZE:
        raise ArchiveError("truncated", "the tar stream ends without its end-of-archive marker")


def iter_members(
    stream: BinaryIO,
    *,
    report: ReadReport | None = None,
    limits: ArchiveLimits | None = None,
    only: Container[str] | None = None,
) -> Iterator[Member]:
    """Each item's member of a gzip-compressed backup tarball once, in one streaming pass,
    undecoded (``item_of`` decodes one). ``iter_items`` is this plus the decoding; the checks,
    limits, duplicate handling and ``report`` counts are the same (``report.items`` counts the
    members yielded)."""
    report = report if report is not None else ReadReport()
    limits = limits or ArchiveLimits()
    max_member_bytes = limits.max_member_bytes
    emitted: set[bytes] = set()
    other_only: set[tuple[str, str, str]] = set()
    compressed = _Metered(stream, limits=limits, compressed=None)
    entries = 0
    try:
        with (
            gzip.GzipFile(fileobj=cast("BinaryIO", compressed), mode="rb") as unzipped,
            tarfile.open(
                fileobj=cast("BinaryIO", _Metered(unzipped, limits=limits, compressed=compressed)),
                mode="r|",
                tarinfo=_StrictTarInfo,
            ) as tar,
        ):
            while (member := tar.next()) is not None:
                forget_members(tar)
                entries += 1
                if entries > limits.max_entries:
                    raise ArchiveError(
                        "limit_exceeded",
                        f"more than {limits.max_entries} entries (archive_limits.max_entries)",
                    )
                name = _safe_name(member.name)
                if not _check_member(member, name, max_member_bytes):
                    continue
                if name == VERSION_MEMBER:
                    report.format_version = check_format_version(_read_member(tar, member))
                    continue
                if name.split("/", 1)[0] != RESOURCES_DIR:
                    report.warnings.append(f"ignored member {name[:200]!r} outside resources/")
                    continue
                if report.format_version is None:
                    raise ArchiveError(
                        "unsupported_version", "metadata/version missing before resources/"
                    )
                entry = classify(name)
                if entry is None:
                    report.warnings.append(f"ignored member {name[:200]!r}: not an item path")
                    continue
                if only is not None and entry.group_resource not in only:
                    continue
                key = (entry.group_resource, entry.namespace or "", entry.name)
                digest = _digest(key)
                if entry.copy == "other":
                    report.other_versions_skipped += 1
                    if digest not in emitted:
                        other_only.add(key)
                    continue
                if digest in emitted:
                    report.duplicates_skipped += 1
                    continue
                data = _read_member(tar, member)
                emitted.add(digest)
                other_only.discard(key)
                report.items += 1
                yield Member(entry, name, data)
            _drain_trailer(tar)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ArchiveError("truncated", f"unreadable tarball: {exc}") from None
    if report.format_version is None:
        raise ArchiveError("unsupported_version", "metadata/version missing")
    for group_resource, namespace, name in sorted(
        k for k in other_only if _digest(k) not in emitted
    ):
        where = f"{namespace}/{name}" if namespace else name
        report.warnings.append(
            f"{group_resource} {where} is only in non-preferred API versions; skipped"
        )


def _digest(key: tuple[str, str, str]) -> bytes:
    """An object key as 16 bytes: the emitted set costs ~100 bytes an object, not ~300."""
    return hashlib.blake2b("\x00".join(key).encode(), digest_size=16).digest()
