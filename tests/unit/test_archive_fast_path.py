"""The reader's fast paths, each held to the general code it stands in for.

``tar_headers._plain`` reads the header of a plain regular member at C's speed; on every block
it accepts, ``_block`` (tarfile's reading, ``test_archive_headers.py``) must read the same
header, and the forms real writers produce must take it.
"""

from __future__ import annotations

import random
import tarfile

import pytest

from backup2gitops.core.archive import ArchiveError
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
