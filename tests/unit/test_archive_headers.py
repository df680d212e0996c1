"""The reader's own tar header parsing, held to tarfile's reading of the same bytes.

``core.archive.tar_headers`` parses the headers itself (tarfile costs four times as much per member).
Each header form a writer may produce -- ustar with its name prefix, GNU long names, pax paths
and sizes, base-256 numbers, signed checksums, directories, several gzip members -- is written
here by tarfile (or patched from its blocks, for what tarfile never writes) and must read as
tarfile reads it; what tarfile would misread or read unbounded is refused.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from typing import Any

import pytest

from backup2gitops.core.archive import ArchiveError, ArchiveLimits, iter_members

VERSION = ("metadata/version", b"1.1.0\n")
FORMATS = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}


def item(namespace: str, name: str) -> tuple[str, bytes]:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    return f"resources/configmaps/namespaces/{namespace}/{name}.json", json.dumps(obj).encode()


def tar(members: list[tuple[str, bytes]], *, format: int, dirs: bool = False) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=format) as out:
        for name, data in members:
            if dirs:
                folder = tarfile.TarInfo(name.rsplit("/", 1)[0])
                folder.type = tarfile.DIRTYPE
                out.addfile(folder)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000.5  # sub-second: pax writes an mtime record
            out.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def read(data: bytes, **limits: Any) -> list[tuple[str, bytes]]:
    members = iter_members(io.BytesIO(data), limits=ArchiveLimits(**limits))
    return [(member.name, member.data) for member in members]


def tarfile_read(data: bytes) -> list[tuple[str, bytes]]:
    """The regular members under resources/, as tarfile reads them."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        return [
            (info.name, archive.extractfile(info).read())  # type: ignore[union-attr]
            for info in archive
            if info.isreg() and info.name.startswith("resources/")
        ]


def error(data: bytes, **limits: Any) -> ArchiveError:
    with pytest.raises(ArchiveError) as caught:
        read(data, **limits)
    return caught.value


def checksummed(block: bytearray) -> bytes:
    block[148:156] = b" " * 8
    block[148:155] = f"{sum(block):06o}\0".encode()
    return bytes(block)


def block_of(name: str, *, size: int, type: bytes = tarfile.REGTYPE) -> bytearray:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.mode = size, type, 0o644
    return bytearray(info.tobuf(format=tarfile.GNU_FORMAT))


def padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 512)


END = b"\0" * 1024
LONG = "n" * 63  # a name segment as long as Kubernetes allows
NAMES = {
    "short": ("shop", "cart"),
    "prefix-split": (LONG, LONG),  # 130 characters: ustar splits it into prefix and name
    "long": (LONG, LONG + "." + LONG + "." + LONG),  # 300: a GNU long name or a pax path
    "non-ascii": ("shop", "café-ünïcode"),  # pax: a path record; GNU: raw UTF-8 bytes
}


@pytest.mark.parametrize("dirs", [False, True], ids=["files", "with-directories"])
@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("names", NAMES)
def test_each_header_form_reads_as_tarfile_reads_it(names: str, format: str, dirs: bool) -> None:
    members = [VERSION, item(*NAMES[names]), item("other", "b")]
    try:
        raw = tar(members, format=FORMATS[format], dirs=dirs)
    except ValueError:  # ustar has no room for it: nothing to read
        assert (format, names) in {("ustar", "long"), ("ustar", "non-ascii")}
        return
    data = gzip.compress(raw, mtime=0)
    assert read(data) == tarfile_read(data) == members[1:]


def test_a_dot_slash_prefix_and_a_directory_written_as_a_file_are_read_as_tarfile_does() -> None:
    raw = tar([VERSION, ("./" + item("shop", "a")[0], b"{}")], format=tarfile.GNU_FORMAT)
    old_dir = checksummed(block_of("resources/configmaps/", size=0, type=tarfile.AREGTYPE))
    data = gzip.compress(old_dir + raw, mtime=0)
    assert [name for name, _ in read(data)] == [item("shop", "a")[0]]


def test_a_base_256_size_is_read() -> None:
    """GNU tar and Go write a number too large for its octal field in base-256."""
    name, body = item("shop", "big")
    block = block_of(name, size=len(body))
    block[124:136] = b"\x80" + len(body).to_bytes(11, "big")
    data = tar([VERSION], format=tarfile.GNU_FORMAT)[:1024]  # without its end marker
    data += checksummed(block) + padded(body) + END
    assert read(gzip.compress(data)) == [(name, body)]
    assert tarfile_read(gzip.compress(data)) == [(name, body)]


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        (b"\x80" + (1 << 40).to_bytes(11, "big"), "too_large"),  # refused on its header
        (b"\xff" * 12, "truncated"),  # -1: no member has a negative size
    ],
)
def test_a_base_256_size_out_of_bounds_is_refused(field: bytes, reason: str) -> None:
    name, _ = item("shop", "big")
    block = block_of(name, size=0)
    block[124:136] = field
    data = tar([VERSION], format=tarfile.GNU_FORMAT)[:1024] + checksummed(block) + END
    assert error(gzip.compress(data)).reason == reason


def test_a_checksum_summed_with_signed_bytes_is_accepted() -> None:
    """Old Sun and NeXT tars summed the header as signed chars; tarfile accepts either."""
    name, body = item("shop", "café")
    block = block_of(name, size=len(body))
    block[148:156] = b" " * 8
    signed = sum(byte - 256 if byte > 127 else byte for byte in block)
    block[148:155] = f"{signed:06o}\0".encode()
    data = tar([VERSION], format=tarfile.GNU_FORMAT)[:1024] + bytes(block) + padded(body) + END
    assert read(gzip.compress(data)) == [(name, body)]


def pax_header(records: dict[str, str], *, type: bytes = tarfile.XHDTYPE) -> bytes:
    body = b""
    for key, value in records.items():
        record = f" {key}={value}\n".encode()
        length = len(record) + len(str(len(record)))
        length += len(str(length)) - len(str(len(record)))
        body += str(length).encode() + record
    return checksummed(block_of("././@PaxHeader", size=len(body), type=type)) + padded(body)


def test_a_pax_size_and_path_override_the_header() -> None:
    name, body = item("shop", "from-pax")
    header = checksummed(block_of("placeholder", size=0))
    data = tar([VERSION], format=tarfile.GNU_FORMAT)[:1024]
    data += pax_header({"path": name, "size": str(len(body))}) + header + padded(body) + END
    assert read(gzip.compress(data)) == tarfile_read(gzip.compress(data)) == [(name, body)]


@pytest.mark.parametrize(
    "records",
    [
        {"GNU.sparse.map": "0,10", "GNU.sparse.realsize": "10"},  # sparse 0.1
        {"GNU.sparse.size": "10"},  # sparse 0.0
        {"GNU.sparse.major": "1", "GNU.sparse.minor": "0"},  # sparse 1.0: its map in the data
    ],
)
def test_pax_sparse_members_are_refused(records: dict[str, str]) -> None:
    name, body = item("shop", "sparse")
    data = tar([VERSION], format=tarfile.GNU_FORMAT)[:1024]
    data += pax_header(records) + checksummed(block_of(name, size=len(body))) + padded(body) + END
    assert error(gzip.compress(data)).reason == "not_regular"


def test_a_pax_record_of_length_zero_is_refused() -> None:
    body = b"0 path=x\n"
    block = checksummed(block_of("././@PaxHeader", size=len(body), type=tarfile.XHDTYPE))
    data = tar([VERSION], format=tarfile.GNU_FORMAT)[:1024] + block + padded(body) + END
    assert error(gzip.compress(data)).reason == "truncated"


@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME])
def test_an_extended_header_cut_short_or_followed_by_the_end_is_truncated(kind: bytes) -> None:
    head = tar([VERSION], format=tarfile.GNU_FORMAT)[:1024]
    block = checksummed(block_of("././@LongLink", size=600, type=kind))
    assert error(gzip.compress(head + block + b"7 a=b\n")).reason == "truncated"
    body = padded(b"10 path=x\n")
    block = checksummed(block_of("././@LongLink", size=10, type=kind))
    assert error(gzip.compress(head + block + body + END)).reason == "truncated"


def test_several_gzip_members_and_zero_padding_read_as_one_stream() -> None:
    """gzip allows both (``gzip.GzipFile`` reads them); each member's CRC is still checked."""
    members = [VERSION, item("shop", "a"), item("shop", "b")]
    raw = tar(members, format=tarfile.GNU_FORMAT)
    data = gzip.compress(raw[:1536]) + gzip.compress(raw[1536:]) + b"\0" * 100
    assert read(data) == members[1:]
    corrupt = bytearray(gzip.compress(raw[:1536]))
    corrupt[-8] ^= 0xFF
    assert error(bytes(corrupt) + gzip.compress(raw[1536:])).reason == "truncated"


def test_a_header_of_high_bytes_sums_exactly() -> None:
    """The checksum is summed in C a half block at a time: a header whose bytes are mostly 0xff
    (the largest sums) must still match tarfile's sum, and one bit off must not."""
    block = block_of("x", size=0)
    block[0:100] = b"\xff" * 100  # the name
    block[157:257] = b"\xff" * 100  # the link name
    block[265:345] = b"\xff" * 80  # user and group names
    assert tarfile.calc_chksums(checksummed(block))[0] > 65521  # both halves near their limit
    data = gzip.compress(checksummed(block) + END)
    assert error(data).reason == "unsupported_version"  # read, ignored, no metadata/version
    broken = bytearray(checksummed(block))
    broken[511] = 1
    assert error(gzip.compress(bytes(broken) + END)).reason == "truncated"
