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
``max_member_bytes`` is refused before it is read. The gzip layer is zlib's (its CRC and length
are checked), the tar's end-of-archive marker (two zero blocks) is required, and a stream that
ends early -- even at a member boundary -- or that carries data after a corrupt header is an
``ArchiveError("truncated")``.

The tar headers are read here, not by ``tarfile`` (four times the cost per member): the forms
Velero's writer (Go's archive/tar: ustar, pax for long or non-ASCII names, GNU for base-256
numbers) and GNU's and Python's tar write -- ustar with its name prefix, pax extended and global
headers, GNU long-name and long-link blocks, base-256 numbers -- with tarfile's reading of each
(the checksum, signed or not; a pax header's fields over the block's; a directory's slashes),
and the guards tarfile lacked: an extended header larger than ``MAX_HEADER_BYTES`` is refused on
its 512-byte header, as are more than ``MAX_EXTENDED_HEADERS`` of them in a row, global pax
headers adding up to more than ``MAX_HEADER_BYTES``, and sparse members of every GNU form.
"""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from collections.abc import Container, Iterator
from dataclasses import dataclass
from typing import BinaryIO

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
)

_BLOCK = 512
_ZEROS = bytes(_BLOCK)
_READ = 64 * 1024
"""Compressed bytes read at a time."""
_INFLATE = 64 * 1024
"""The most one zlib call produces: a decompression bomb comes out a slice at a time, metered."""

# Member types (POSIX, GNU, Solaris), as tarfile names and treats them.
_REGULAR = frozenset({b"0", b"\0", b"7"})  # REGTYPE, AREGTYPE, CONTTYPE
_OLD_REGULAR = b"\0"  # AREGTYPE: with a trailing slash, an old-style directory
_LINKS = frozenset({b"1", b"2"})  # LNKTYPE, SYMTYPE
_DIRECTORY = b"5"
_GNU_SPARSE = b"S"
_LONG_NAME, _LONG_LINK = b"L", b"K"
_PAX_GLOBAL = b"g"
_NO_PREFIX = frozenset({_LONG_NAME, _LONG_LINK, _GNU_SPARSE})  # tarfile's GNU_TYPES
_EXTENDED: dict[bytes, str] = {
    _LONG_NAME: "GNU long-name block",
    _LONG_LINK: "GNU long-link block",
    b"x": "pax header",
    _PAX_GLOBAL: "global pax header",
    b"X": "Solaris extended header",
}
_PAX_RECORD = re.compile(rb"(\d+) ([^=]+)=")
_PAX_CHARSET = re.compile(rb"\d+ hdrcharset=([^\n]+)\n")
_SPARSE_KEYS = ("GNU.sparse.map", "GNU.sparse.size")  # GNU's sparse formats 0.1 and 0.0
_SIGNED = struct.Struct("148b8x356b")
# Names and pax values: UTF-8, undecodable bytes kept as surrogates (tarfile's reading: strict
# UTF-8, else the file-system encoding with surrogateescape -- the same text either way).
_ENCODING, _ERRORS = "utf-8", "surrogateescape"


class _Inflated:
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


@dataclass(slots=True)
class _Header:
    """A member's header, its extended headers applied: what the reader uses of it."""

    name: str
    linkname: str
    size: int
    type: bytes
    sparse: bool = False


def _bad(why: str) -> ArchiveError:
    return ArchiveError("truncated", f"bad tar header: {why}")


def _text(field: bytes) -> str:
    """A NUL-terminated header field, as tarfile's ``nts`` decodes it."""
    end = field.find(b"\0")
    return (field if end == -1 else field[:end]).decode(_ENCODING, _ERRORS)


def _number(field: bytes) -> int:
    """A header number as tarfile's ``nti`` reads it: octal text, or base-256 (a first byte of
    0x80, or 0xff for a negative number; its other bits are not part of the number)."""
    if field[0] in (0o200, 0o377):
        number = int.from_bytes(field[1:], "big")
        return number - 256 ** (len(field) - 1) if field[0] == 0o377 else number
    end = field.find(b"\0")
    text = field if end == -1 else field[:end]
    try:
        return int(text, 8)  # surrounding whitespace allowed
    except ValueError:
        if not text.strip():
            return 0
        raise _bad("invalid header") from None


def _block(block: bytes) -> _Header:
    """One header block, not a zero block, as tarfile's ``TarInfo.frombuf`` reads it: only the
    fields the reader uses, after the checksum (unsigned, or signed as old tars summed it)."""
    if len(block) != _BLOCK:
        raise _bad("truncated header" if block else "empty header")
    field = block[148:156]
    checksum = _number(field)
    # The bytes' sum, the checksum field counted as eight spaces. Each half of the block sums to
    # at most 256 * 255 < 65521, so Adler-32's first half (1 + sum, modulo 65521) is its exact
    # sum: C's speed, where ``sum(block)`` costs five times as much.
    unsigned = (
        (zlib.adler32(block[:256]) & 0xFFFF)
        + (zlib.adler32(block[256:]) & 0xFFFF)
        - (zlib.adler32(field) & 0xFFFF)
    ) + 255
    if checksum != unsigned and checksum != 256 + sum(_SIGNED.unpack(block)):
        raise _bad("bad checksum")
    kind = block[156:157]
    name = _text(block[:100])
    size = _number(block[124:136])
    if size < 0:
        raise _bad(f"a size of {size}")
    if kind == _OLD_REGULAR and name.endswith("/"):
        kind = _DIRECTORY
    if kind == _DIRECTORY:
        name = name.rstrip("/")
    if block[345] and kind not in _NO_PREFIX:  # ustar: a long name's first part
        name = _text(block[345:500]) + "/" + name
    return _Header(name, _text(block[157:257]), size, kind)


def _padded(size: int) -> int:
    return size + (-size % _BLOCK)


def _pax_records(data: bytes, into: dict[str, str]) -> None:
    """A pax header's ``"<length> <keyword>=<value>\\n"`` records, as tarfile reads them."""
    if (charset := _PAX_CHARSET.search(data)) is not None:
        into["hdrcharset"] = charset.group(1).decode(_ENCODING, _ERRORS)
    at = 0
    while (record := _PAX_RECORD.match(data, at)) is not None:
        length = int(record.group(1))
        if length == 0:
            raise _bad("a pax record of length 0")
        value = data[record.end(2) + 1 : record.start(1) + length - 1]
        into[record.group(2).decode(_ENCODING, _ERRORS)] = value.decode(_ENCODING, _ERRORS)
        at += length


def _apply_pax(header: _Header, records: dict[str, str]) -> None:
    """tarfile's ``_apply_pax_info`` for the fields the reader uses."""
    for keyword, value in records.items():
        if keyword == "path":
            header.name = value.rstrip("/")
        elif keyword == "GNU.sparse.name":
            header.name = value
        elif keyword == "linkpath":
            header.linkname = value
        elif keyword == "size":
            try:
                header.size = int(value)
            except ValueError:
                header.size = 0
            if header.size < 0:
                raise _bad(f"a pax size of {header.size}")


def _sparse(records: dict[str, str]) -> bool:
    """Whether pax records make the member a GNU sparse file (0.0 or 0.1); 1.0 is refused at
    once: its map is in the data, as long as the header says."""
    if records.get("GNU.sparse.major") == "1" and records.get("GNU.sparse.minor") == "0":
        raise ArchiveError("not_regular", "a GNU sparse 1.0 member")
    return any(key in records for key in _SPARSE_KEYS)


def _next_header(tar: _Inflated, pax_globals: dict[str, str]) -> _Header | None:
    """The next member's header with its extended headers applied (the first of them wins, as
    in tarfile); None at the end-of-archive marker. Refuses, on its 512-byte header alone, an
    extended header tarfile would have read whole into memory."""
    extended: list[tuple[bytes, str, dict[str, str] | None]] = []
    while True:
        block = tar.take(_BLOCK)
        if block == _ZEROS:
            if extended:
                raise _bad("the end-of-archive marker after an extended header")
            return None
        header = _block(block)
        kind = header.type
        if kind == _GNU_SPARSE:  # its map blocks chain on, unbounded, before the data
            raise ArchiveError("not_regular", "an old GNU sparse member")
        what = _EXTENDED.get(kind)
        if what is None:
            break
        if header.size > MAX_HEADER_BYTES:
            raise ArchiveError(
                "too_large",
                f"a {what} of {header.size} bytes, limit {MAX_HEADER_BYTES} "
                "(it would be read whole before the member it describes)",
            )
        if len(extended) >= MAX_EXTENDED_HEADERS:
            raise ArchiveError(
                "limit_exceeded", f"more than {MAX_EXTENDED_HEADERS} extended headers in a row"
            )
        data = tar.take(_padded(header.size))
        if len(data) != _padded(header.size):
            raise ArchiveError("truncated", f"a {what} ends early")
        if kind in (_LONG_NAME, _LONG_LINK):
            extended.append((kind, _text(data), None))
            continue
        records = pax_globals if kind == _PAX_GLOBAL else dict(pax_globals)
        _pax_records(data, records)
        if kind == _PAX_GLOBAL and _pax_size(pax_globals) > MAX_HEADER_BYTES:
            raise ArchiveError(  # global headers accumulate: each one small, all of them not
                "too_large", f"global pax headers of more than {MAX_HEADER_BYTES} bytes"
            )
        extended.append((kind, "", records))
    if pax_globals:
        _apply_pax(header, pax_globals)
    for kind, text, pax in reversed(extended):
        if kind == _LONG_NAME:
            header.name = text.removesuffix("/") if header.type == _DIRECTORY else text
        elif kind == _LONG_LINK:
            header.linkname = text
        elif pax is not None:
            header.sparse = _sparse(pax) or header.sparse
            if kind != _PAX_GLOBAL:
                _apply_pax(header, pax)
    return header


def _pax_size(headers: dict[str, str]) -> int:
    return sum(len(key) + len(value) for key, value in headers.items())


_UNSAFE_SEGMENTS = frozenset({"", ".", ".."})


def _safe_name(raw: str) -> str:
    if raw in {".", "./"}:  # the root directory entry GNU tar writes for "tar -C dir ."
        return "."
    name = raw[2:] if raw.startswith("./") else raw
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or not _UNSAFE_SEGMENTS.isdisjoint(name.rstrip("/").split("/"))
    ):
        raise ArchiveError("unsafe_path", f"unsafe member name {raw[:200]!r}")
    return name


def _check_member(header: _Header, name: str, max_member_bytes: int) -> bool:
    """Raise for members that must not be in a backup; False for ones to skip (directories)."""
    if header.type in _LINKS:
        raise ArchiveError("link", f"link member {name[:200]!r} -> {header.linkname[:200]!r}")
    if header.type == _DIRECTORY:
        return False
    if header.type not in _REGULAR or header.sparse:
        raise ArchiveError("not_regular", f"member {name[:200]!r} is not a regular file")
    if header.size > max_member_bytes:
        raise ArchiveError(
            "too_large",
            f"member {name[:200]!r} has {header.size} bytes, limit {max_member_bytes}",
        )
    return True


def _data(tar: _Inflated, header: _Header) -> bytes:
    """A regular member's bytes; the stream then at the next header."""
    data = tar.take(header.size)
    if len(data) != header.size or not tar.skip(-header.size % _BLOCK):
        raise ArchiveError("truncated", f"member {header.name[:200]!r} ends early")
    return data


def _skip(tar: _Inflated, header: _Header) -> None:
    if not tar.skip(_padded(header.size)):
        raise ArchiveError("truncated", f"member {header.name[:200]!r} ends early")


def _drain_trailer(tar: _Inflated) -> None:
    """After the first end-of-archive block: only zeros may follow, and the gzip stream must end
    cleanly. Go's, GNU's and Python's tar all write two zero blocks, so at least 1024 zero bytes
    end the archive."""
    trailer = _BLOCK
    for chunk in tar.rest():
        if chunk.count(0) != len(chunk):
            raise ArchiveError("truncated", "data after the end-of-archive marker")
        trailer += len(chunk)
    if trailer < 2 * _BLOCK:
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
    tar = _Inflated(stream, limits)
    pax_globals: dict[str, str] = {}
    entries = 0
    try:
        while (header := _next_header(tar, pax_globals)) is not None:
            entries += 1
            if entries > limits.max_entries:
                raise ArchiveError(
                    "limit_exceeded",
                    f"more than {limits.max_entries} entries (archive_limits.max_entries)",
                )
            name = _safe_name(header.name)
            if not _check_member(header, name, max_member_bytes):
                continue
            if name == VERSION_MEMBER:
                report.format_version = check_format_version(_data(tar, header))
                continue
            if name.split("/", 1)[0] != RESOURCES_DIR:
                report.warnings.append(f"ignored member {name[:200]!r} outside resources/")
                _skip(tar, header)
                continue
            if report.format_version is None:
                raise ArchiveError(
                    "unsupported_version", "metadata/version missing before resources/"
                )
            entry = classify(name)
            if entry is None:
                report.warnings.append(f"ignored member {name[:200]!r}: not an item path")
                _skip(tar, header)
                continue
            if only is not None and entry.group_resource not in only:
                _skip(tar, header)
                continue
            key = (entry.group_resource, entry.namespace or "", entry.name)
            digest = _digest(key)
            if entry.copy == "other":
                report.other_versions_skipped += 1
                if digest not in emitted:
                    other_only.add(key)
                _skip(tar, header)
                continue
            if digest in emitted:
                report.duplicates_skipped += 1
                _skip(tar, header)
                continue
            data = _data(tar, header)
            emitted.add(digest)
            other_only.discard(key)
            report.items += 1
            yield Member(entry, name, data)
        _drain_trailer(tar)
    except (zlib.error, OSError) as exc:
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
