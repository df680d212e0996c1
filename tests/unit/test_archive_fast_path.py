"""The reader's fast paths, each held to the general code it stands in for.

``tar_headers._plain`` reads the header of a plain regular member at C's speed; on every block
it accepts, ``_block`` (tarfile's reading, ``test_archive_headers.py``) must read the same
header, and the forms real writers produce must take it. ``reader._place`` reads a member's
name once per folder; it must give the safe name and entry (or the refusal) that
``_safe_name`` and ``classify`` give it one name at a time. ``items._decode`` decodes the
UTF-8 bytes of an object itself when ``json.detect_encoding`` would say UTF-8 (``_plain_utf8``)
and has the JSON scanner read it (``_loads_object``); it must decode, or refuse, every member as
``json.loads`` of the bytes does.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import tarfile
from typing import Any, BinaryIO, cast

import pytest

from backup2gitops.core import repo_layout
from backup2gitops.core.archive import ArchiveError, Entry, items, iter_members, reader
from backup2gitops.core.archive.format import classify
from backup2gitops.core.archive.reader import _safe_name
from backup2gitops.core.archive.tar_headers import BLOCK, _block, _plain

WRITERS = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}
NAMES = [
    "resources/configmaps/namespaces/shop/cart.json",
    "./resources/configmaps/namespaces/shop/cart.json",
    "resources/deployments.apps/v1-preferredversion/namespaces/shop/web.json",
    "metadata/version",
    "x",
    "n" * 100,  # the whole name field, no NUL
]
SIZES = [0, 1, 511, 512, 513, 8 * 1024 * 1024, 8**11 - 1]


def header(name: str, size: int, *, kind: bytes = tarfile.REGTYPE, format: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.mode, info.mtime = size, kind, 0o644, 1_700_000_000
    return info.tobuf(format=format)[-BLOCK:]  # pax: the member's own block, after its records


def checksummed(block: bytearray) -> bytes:
    block[148:156] = b" " * 8
    block[148:155] = f"{sum(block):06o}\0".encode()
    return bytes(block)


def agrees(block: bytes) -> bool:
    """``_plain`` either declines the block or reads it as ``_block`` does."""
    plain = _plain(block)
    if plain is None:
        return False
    assert plain == _block(block)
    return True


@pytest.mark.parametrize("format", WRITERS)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", NAMES)
def test_the_headers_writers_produce_take_the_fast_path(name: str, size: int, format: str) -> None:
    assert agrees(header(name, size, format=WRITERS[format]))


@pytest.mark.parametrize(
    "block",
    [
        header("resources/configmaps/namespaces/shop/", 0, kind=tarfile.AREGTYPE, format=0),
        header("resources/configmaps/namespaces/shop", 0, kind=tarfile.DIRTYPE, format=0),
        header("resources/a.json", 0, kind=tarfile.SYMTYPE, format=0),
        header("p" * 120 + "/cart.json", 1, format=tarfile.USTAR_FORMAT),  # a ustar prefix
        header("resources/café.json", 1, format=tarfile.GNU_FORMAT),  # not ASCII
        header("x", 8**11, format=tarfile.GNU_FORMAT),  # base-256
        bytes(BLOCK),
        header("x", 1, format=tarfile.GNU_FORMAT)[:-1],
    ],
    ids=["old-dir", "dir", "link", "prefix", "utf-8", "base-256", "zeros", "short"],
)
def test_other_headers_are_left_to_the_general_reading(block: bytes) -> None:
    assert _plain(block) is None


def test_a_wrong_checksum_is_left_to_the_general_reading() -> None:
    block = bytearray(header("x.json", 10, format=tarfile.GNU_FORMAT))
    block[0] = ord("y")  # the checksum is now one off
    assert _plain(bytes(block)) is None
    with pytest.raises(ArchiveError, match="bad checksum"):
        _block(bytes(block))


@pytest.mark.parametrize("seed", range(4))
def test_every_byte_changed_reads_the_same_both_ways(seed: int) -> None:
    """Each byte of real headers set to values that matter (NUL, digits, space, '/', high bits,
    the type letters), the checksum left wrong or made right: wherever ``_plain`` reads the
    block, ``_block`` reads the same header."""
    rng = random.Random(seed)  # noqa: S311 (a seeded corpus, not a secret)
    values = [0, 0x20, 0x2F, 0x30, 0x35, 0x37, 0x38, 0x5F, 0x2B, 0x2D, 0x7F, 0x80, 0xFF]
    fast = 0
    for format in WRITERS.values():
        base = header(rng.choice(NAMES), rng.choice(SIZES), format=format)
        for at in range(BLOCK):
            block = bytearray(base)
            block[at] = rng.choice(values)
            fast += agrees(bytes(block))
            if not 148 <= at < 156:
                fast += agrees(checksummed(block))
    assert fast > 1000  # most changes leave a plain header: the comparison is not vacuous


SEGMENTS = [
    "resources",
    "metadata",
    "configmaps",
    "deployments.apps",
    "namespaces",
    "cluster",
    "shop",
    "v1",
    "v1-preferredversion",
    "",
    ".",
    "..",
    "a\\b",
    "a\0b",
    "x.json",
    ".json",
    "..json",
    "café.json",
    "version",
]


def general(raw: str) -> tuple[str, Entry | None] | str:
    """What the reader made of a member's name before ``_place``: its safe name and entry."""
    try:
        name = _safe_name(raw)
    except ArchiveError as exc:
        return str(exc)
    return name, classify(name)


@pytest.mark.parametrize("kept", [4096, 3])
def test_a_members_place_is_its_safe_name_and_entry_read_one_by_one(
    kept: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Names made of the segments that matter, with and without ``./`` and a leading ``/``,
    through one folder memory (and one so small it is forgotten all the time)."""
    monkeypatch.setattr(reader, "_FOLDERS_KEPT", kept)
    rng = random.Random(9)  # noqa: S311 (a seeded corpus, not a secret)
    folders: dict[str, Any] = {}
    fast = 0
    for _ in range(20_000):
        parts = [rng.choice(SEGMENTS) for _ in range(rng.randint(1, 6))]
        if rng.random() < 0.7:  # mostly item paths, the common case, of any segments
            version = [rng.choice(SEGMENTS)] if rng.random() < 0.3 else []
            scope = ["cluster"] if rng.random() < 0.3 else ["namespaces", rng.choice(SEGMENTS)]
            item = rng.choice(["cart", "x", rng.choice(SEGMENTS)])
            parts = ["resources", rng.choice(SEGMENTS), *version, *scope, f"{item}.json"]
        raw = rng.choice(["", "", "./", "/"]) + "/".join(parts) + rng.choice(["", "", "/"])
        expected = general(raw)
        try:
            name, entry = reader._place(raw, folders)
        except ArchiveError as exc:
            assert str(exc) == expected
            continue
        assert isinstance(expected, tuple)
        assert name == expected[0]
        if entry is not None:
            assert entry == expected[1]
            fast += 1
        assert len(folders) <= kept
    assert fast > 2000


def test_the_item_files_of_a_backup_take_the_fast_path() -> None:
    folders: dict[str, Any] = {}
    names = [
        "resources/configmaps/namespaces/shop/cart.json",
        "./resources/configmaps/namespaces/shop/cart.json",
        "resources/deployments.apps/v1-preferredversion/namespaces/shop/web.json",
        "resources/deployments.apps/v1beta1/namespaces/shop/web.json",
        "resources/namespaces/cluster/shop.json",
        "resources/namespaces/cluster/..json",  # an item named '.': refused later, by its path
    ]
    for raw in names:
        name, entry = reader._place(raw, folders)
        assert (name, entry) == general(raw)
        assert entry is not None


class Trickle(io.RawIOBase):
    """A gzip stream handed out ``step`` bytes a read (as a socket may): the inflated slices
    then end at every offset of the headers and members in turn."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._at, self._step = data, 0, step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        size = self._step if size < 0 else min(size, self._step)
        chunk = self._data[self._at : self._at + size]
        self._at += len(chunk)
        return chunk


def members_of_every_form() -> list[tuple[str, bytes]]:
    """Zero-size and block-sized members; names that fit, a ustar prefix, and longer ones (a
    GNU long name or a pax path); ``./``; the same object in its preferred version."""
    forms = []
    long = "resources/configmaps/namespaces/" + "n" * 63 + "/" + "m" * 63 + "." + "m" * 63
    names = [
        "resources/configmaps/namespaces/shop/{}.json",
        "./resources/configmaps/namespaces/shop/dot-{}.json",
        "resources/configmaps/namespaces/" + "p" * 63 + "/" + "q" * 40 + "-{}.json",
        long + "-{}.json",
        "resources/namespaces/cluster/ns-{}.json",
        "resources/namespaces/v1-preferredversion/cluster/ns-{}.json",
    ]
    for index, size in enumerate([0, 1, 2, 511, 512, 513, 1024, 1500, 0, 3000]):
        body = bytes(random.Random(index).randbytes(size))  # noqa: S311 (a seeded corpus)
        forms.append((names[index % len(names)].format(index), body))
    return [("metadata/version", b"1.1.0\n"), *forms]


def tarball(members: list[tuple[str, bytes]], *, format: int) -> bytes:
    """The members in one of tarfile's formats; ustar leaves out the names it has no room for."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=format) as out:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            try:
                info.tobuf(format=format)
            except ValueError:  # ustar: the name cannot be split into prefix and name
                continue
            out.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def tarfile_read(data: bytes) -> list[tuple[str, bytes]]:
    """Each object's first copy under resources/, as tarfile reads the archive."""
    read, seen = [], set()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for info in archive:
            name = info.name.removeprefix("./")
            key = name.replace("/v1-preferredversion/", "/")
            if info.isreg() and name.startswith("resources/") and key not in seen:
                seen.add(key)
                read.append((name, archive.extractfile(info).read()))  # type: ignore[union-attr]
    return read


def read_members(stream: io.RawIOBase) -> list[tuple[str, bytes]]:
    return [(member.name, member.data) for member in iter_members(cast("BinaryIO", stream))]


@pytest.mark.parametrize("level", [0, 9], ids=["stored", "deflated"])
@pytest.mark.parametrize("format", WRITERS)
def test_members_split_at_every_offset_read_as_tarfile_reads_them(format: str, level: int) -> None:
    """Stored deflate hands out about one inflated byte per byte read, so across the steps
    below every header and member is split at many offsets, some at each byte of a block."""
    data = gzip.compress(tarball(members_of_every_form(), format=WRITERS[format]), level, mtime=0)
    expected = tarfile_read(data)
    assert len(expected) >= 7
    for step in [*range(1, 40), 255, 511, 512, 513, 1000, 1023, 1024, 1025, 4099, 65536]:
        assert read_members(Trickle(data, step)) == expected, step


@pytest.mark.parametrize("format", WRITERS)
def test_a_stream_cut_anywhere_before_its_end_marker_is_truncated(format: str) -> None:
    """Cut at every block boundary and at offsets inside headers and members: what was read
    before the cut is what a whole read gives, then ``truncated``."""
    raw = tarball(members_of_every_form()[:8], format=WRITERS[format])
    whole = read_members(io.BytesIO(gzip.compress(raw)))  # type: ignore[arg-type]
    end = len(raw.rstrip(b"\0"))
    end += -end % BLOCK  # the end-of-archive marker starts here
    for cut in sorted({*range(0, end + 2 * BLOCK, BLOCK), *range(1, end, 97)}):
        if cut >= end + 2 * BLOCK:
            continue
        got: list[tuple[str, bytes]] = []
        stream = cast("BinaryIO", io.BytesIO(gzip.compress(raw[:cut], mtime=0)))
        with pytest.raises(ArchiveError) as caught:
            got.extend((member.name, member.data) for member in iter_members(stream))
        assert caught.value.reason in {"truncated", "unsupported_version"}, cut
        assert got == whole[: len(got)], cut
    assert read_members(io.BytesIO(gzip.compress(raw[: end + 2 * BLOCK]))) == whole  # type: ignore[arg-type]


JSON_MEMBERS = [
    b'{"a": "x"}',
    b'{"a": "\xc3\xbc", "b": [1, 2.5, null, true]}',
    b'{"a": "\\ud800"}',  # an escaped lone surrogate
    b'{"a": "\xed\xa0\x80"}',  # a lone surrogate's bytes: json.loads passes them
    b'{"a": "\xff"}',  # not UTF-8
    b"\xef\xbb\xbf{}",  # a UTF-8 BOM
    '{"a": "\u00fc"}'.encode("utf-16"),
    '{"a": "x"}'.encode("utf-16-le"),
    '{"a": "x"}'.encode("utf-16-be"),
    '{"a": "x"}'.encode("utf-32-le"),
    b"{",
    b"{}",
    b"{\x00",
    b"{\x00\x00",
    b'{"a": 1} x',
    b'{"a": 1} \n',
    b'{"a": }',
    b'{"a": 1',
    b'{"a": "\\x"}',
    b'{"a": [1, {"b": -1e400}], "a": 2}',
    b"[1]",
    b'"x"',
    b" {}",
    b"",
    b'{"a": NaN}',
    b"{" * 3000 + b"}" * 3000,
]


def loads_outcome(data: bytes) -> object:
    """What ``json.loads`` of the bytes gives: the object, or the error's type and text."""
    try:
        return json.loads(data)
    except RecursionError:
        return "too deep"
    except ValueError as exc:
        return (type(exc).__name__, str(exc))


def decode_outcome(data: bytes) -> object:
    try:
        decoded = items._decode(data, "m")
    except ArchiveError as exc:
        return ("ArchiveError", str(exc))
    return decoded


@pytest.mark.parametrize("data", JSON_MEMBERS)
def test_a_member_decodes_as_json_loads_of_its_bytes_decodes_it(data: bytes) -> None:
    expected = loads_outcome(data)
    got = decode_outcome(data)
    if isinstance(expected, tuple):
        assert got == ("ArchiveError", f"invalid_json: m: {expected[1]}")
    elif expected == "too deep" or not isinstance(expected, dict):
        assert isinstance(got, str) or got[0] == "ArchiveError"  # type: ignore[index]
    else:
        assert repr(got) == repr(expected)
    if items._plain_utf8(data):
        assert json.detect_encoding(data) == "utf-8"


ITEM_SEGMENTS = ["configmaps", "apps", "", ".", "..", "a..b", ".hidden", "a/b", "a\\b", "a\0b", "a\tb",
            "x" * 300, "\udcff", "caf\u00e9", None]  # fmt: skip


def segments_refusal_one_by_one(entry: Entry) -> str | None:
    """``path_refusal``'s check of the three segments as it reads them one at a time."""
    for value, what in (
        (entry.group_resource, "group-resource"),
        (entry.namespace, "namespace"),
        (entry.name, "name"),
    ):
        if value is not None:
            try:
                repo_layout.check_segment(value, what=what)
            except repo_layout.UnsafeName as exc:
                return f"unsafe_name: {exc}"
            if not value.isascii() and not items._is_utf8(value):
                return f"unsafe_name: the {what} {value[:80]!r} is not UTF-8"
    return None


def test_a_members_segments_are_refused_as_when_checked_one_by_one() -> None:
    entries = [
        Entry(group_resource, namespace, name, None)
        for group_resource in ITEM_SEGMENTS
        if group_resource is not None
        for namespace in ITEM_SEGMENTS
        for name in ITEM_SEGMENTS
        if name is not None
    ]
    for _ in range(2):  # the folder's answer, then the same answer again
        for entry in entries:
            assert items.path_refusal(entry, {}) == segments_refusal_one_by_one(entry), entry
