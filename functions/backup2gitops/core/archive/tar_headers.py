"""A member's tar header, read here rather than by ``tarfile`` (four times the cost per member).

The forms Velero's writer (Go's archive/tar: ustar, pax for long or non-ASCII names, GNU for
base-256 numbers) and GNU's and Python's tar write -- ustar with its name prefix, pax extended
and global headers, GNU long-name and long-link blocks, base-256 numbers -- with tarfile's
reading of each (the checksum, signed or not; a pax header's fields over the block's; a
directory's slashes), and the guards tarfile lacked: an extended header larger than
``MAX_HEADER_BYTES`` is refused on its 512-byte header, as are more than
``MAX_EXTENDED_HEADERS`` of them in a row, global pax headers adding up to more than
``MAX_HEADER_BYTES``, and sparse members of every GNU form.

PURE: the blocks come from the inflated stream (``gzip_stream.Inflated``) the reader passes.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from backup2gitops.core.archive.format import MAX_EXTENDED_HEADERS, MAX_HEADER_BYTES, ArchiveError

if TYPE_CHECKING:
    from backup2gitops.core.archive.gzip_stream import Inflated

BLOCK = 512
_ZEROS = bytes(BLOCK)

# Member types (POSIX, GNU, Solaris), as tarfile names and treats them.
REGULAR = frozenset({b"0", b"\0", b"7"})  # REGTYPE, AREGTYPE, CONTTYPE
_OLD_REGULAR = b"\0"  # AREGTYPE: with a trailing slash, an old-style directory
_REGULAR = b"0"
_ZERO = _REGULAR[0]
_PLAIN_TYPES = frozenset(_REGULAR + _OLD_REGULAR)  # as ints: a block's byte
LINKS = frozenset({b"1", b"2"})  # LNKTYPE, SYMTYPE
DIRECTORY = b"5"
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


@dataclass(slots=True)
class Header:
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


def _block(block: bytes) -> Header:
    """One header block, not a zero block, as tarfile's ``TarInfo.frombuf`` reads it: only the
    fields the reader uses, after the checksum (unsigned, or signed as old tars summed it)."""
    if len(block) != BLOCK:
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
        kind = DIRECTORY
    if kind == DIRECTORY:
        name = name.rstrip("/")
    if block[345] and kind not in _NO_PREFIX:  # ustar: a long name's first part
        name = _text(block[345:500]) + "/" + name
    return Header(name, _text(block[157:257]), size, kind)


def padded(size: int) -> int:
    return size + (-size % BLOCK)


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


def _apply_pax(header: Header, records: dict[str, str]) -> None:
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


def _plain(block: bytes) -> Header | None:
    """The header of a plain regular member, read at C's speed; None for any other block, for
    ``_block`` and ``next_header`` to read as tarfile does.

    Plain: a whole block of ASCII bytes (then its bytes sum to at most 512 * 127 < 65521, and
    Adler-32's first half over the whole block is its exact sum), of type ``0`` or NUL, no
    ustar prefix, no link name, a name not ending in ``/`` (an old-style directory), octal
    numbers, the unsigned checksum right. What Go's, GNU's and Python's tar write for every
    member whose name fits in 100 bytes; ``_block`` reads each of these the same way
    (``tests/unit/test_archive_fast_path.py`` holds the two to each other)."""
    if (
        len(block) != BLOCK
        or block[156] not in _PLAIN_TYPES
        or block[345]
        or block[157]
        or not block.isascii()
    ):
        return None
    field = block[148:156]
    try:
        checksum = int(field.partition(b"\0")[0], 8)
        size = int(block[124:136].partition(b"\0")[0], 8)
    except ValueError:
        return None
    # 1 + the block's sum, less 1 + the field's, plus the field counted as eight spaces
    unsigned = (zlib.adler32(block) & 0xFFFF) - (zlib.adler32(field) & 0xFFFF) + 256
    name = block[:100].partition(b"\0")[0].decode()
    if checksum != unsigned or size < 0 or name.endswith("/"):
        return None
    return Header(name, "", size, _REGULAR if block[156] == _ZERO else _OLD_REGULAR)


def next_header(tar: Inflated, pax_globals: dict[str, str]) -> Header | None:
    """The next member's header with its extended headers applied (the first of them wins, as
    in tarfile); None at the end-of-archive marker. Refuses, on its 512-byte header alone, an
    extended header tarfile would have read whole into memory."""
    block = tar.take(BLOCK)
    if not pax_globals and (plain := _plain(block)) is not None:
        return plain
    extended: list[tuple[bytes, str, dict[str, str] | None]] = []
    while True:
        if extended:  # the block after an extended header
            block = tar.take(BLOCK)
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
        data = tar.take(padded(header.size))
        if len(data) != padded(header.size):
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
            header.name = text.removesuffix("/") if header.type == DIRECTORY else text
        elif kind == _LONG_LINK:
            header.linkname = text
        elif pax is not None:
            header.sparse = _sparse(pax) or header.sparse
            if kind != _PAX_GLOBAL:
                _apply_pax(header, pax)
    return header


def _pax_size(headers: dict[str, str]) -> int:
    return sum(len(key) + len(value) for key, value in headers.items())
