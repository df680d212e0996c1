"""``core.archive.gzip_stream.Inflated``: the bytes it gives, cut anywhere; its errors, where
the stream ends early, is corrupt, fails or inflates past the limits (a bomb is stopped after a
bounded output, not read whole)."""

from __future__ import annotations

import gzip
import io
import zlib
from typing import BinaryIO

import pytest

from backup2gitops.core.archive import ArchiveError, ArchiveLimits, gzip_stream, iter_members
from backup2gitops.core.archive.gzip_stream import Inflated
from backup2gitops.core.integrity import CheckedReader, IntegrityError
from tests.fixtures.velero import velero_tarball

TAR = bytes(range(256)) * 300 + b"the end" + bytes(5000)
"""Stands for a tar stream: ``Inflated`` does not look inside."""


def _inflated(data: bytes, limits: ArchiveLimits | None = None) -> Inflated:
    return Inflated(io.BytesIO(data), limits or ArchiveLimits())


def _all(tar: Inflated) -> bytes:
    return b"".join(tar.rest())


@pytest.mark.parametrize("step", [1, 511, 512, 4095, 4096, 4097, 70_000])
def test_take_skip_and_take_padded_cut_anywhere(step: int) -> None:
    tar = _inflated(gzip.compress(TAR))
    at, out = 0, []
    while at + 4 * step <= len(TAR):
        out.append(tar.take(step))
        assert tar.skip(step)
        out.append(tar.take_padded(step, step) or b"")
        at += 4 * step
    expected = [TAR[a + b : a + b + step] for a in range(0, at, 4 * step) for b in (0, 2 * step)]
    assert out == expected
    assert b"".join(tar.rest()) == TAR[at:]


def test_the_ends_of_the_stream() -> None:
    tar = _inflated(gzip.compress(TAR))
    assert tar.take(len(TAR) + 10) == TAR
    assert tar.take(1) == b""
    assert not tar.skip(1)
    assert tar.take_padded(1, 0) is None
    assert _inflated(gzip.compress(TAR)).take_padded(len(TAR) - 1, 2) is None
    assert not _inflated(gzip.compress(TAR)).skip(len(TAR) + 1)


def test_concatenated_members_and_zero_padding() -> None:
    halves = gzip.compress(TAR[:30_000]) + bytes(1000) + gzip.compress(TAR[30_000:]) + bytes(7)
    assert _all(_inflated(halves)) == TAR


@pytest.mark.parametrize("cut", [1, 10, 200, -9, -1])
def test_a_stream_cut_short_is_truncated(cut: int) -> None:
    with pytest.raises(ArchiveError) as caught:
        _all(_inflated(gzip.compress(TAR)[:cut]))
    assert caught.value.reason == "truncated"


@pytest.mark.parametrize("where", [-8, -5])  # the trailer's CRC, then its length
def test_a_corrupt_trailer_is_zlibs_error(where: int) -> None:
    data = bytearray(gzip.compress(TAR))
    data[where] ^= 0xFF
    with pytest.raises(zlib.error):
        _all(_inflated(bytes(data)))


class _Failing(io.BytesIO):
    """A stream whose reads fail once ``after`` bytes were read."""

    def __init__(self, data: bytes, after: int, error: BaseException) -> None:
        super().__init__(data)
        self.after, self.error = after, error

    def read(self, size: int | None = -1, /) -> bytes:
        if self.tell() >= self.after:
            raise self.error
        return super().read(size)


def test_the_streams_error_is_raised_to_the_reader_as_it_was() -> None:
    data = gzip.compress(TAR)
    failure = IntegrityError("the archive has more than the 10 bytes announced")
    with pytest.raises(IntegrityError) as caught:
        _all(Inflated(_Failing(data, 600, failure), ArchiveLimits()))
    assert caught.value is failure
    stream: BinaryIO = CheckedReader(io.BytesIO(data), what="the archive", size=600, sha256=None)
    with pytest.raises(IntegrityError, match="more than the 600 bytes announced"):
        _all(Inflated(stream, ArchiveLimits()))


def test_an_os_error_of_the_stream_is_an_unreadable_tarball() -> None:
    stream = _Failing(velero_tarball([]), 100, OSError("connection reset"))
    with pytest.raises(ArchiveError) as caught:
        list(iter_members(stream))
    assert (caught.value.reason, caught.value.message) == (
        "truncated",
        "unreadable tarball: connection reset",
    )


class _Counted(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.read_bytes = 0

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self.read_bytes += len(data)
        return data


def test_a_bomb_is_stopped_after_a_bounded_output() -> None:
    bomb = _Counted(gzip.compress(bytes(64 << 20)))  # 64 MiB of zeros in ~64 KiB
    limit = 1 << 20
    tar = Inflated(bomb, ArchiveLimits(max_total_bytes=limit, max_ratio=1e9))
    taken = 0
    with pytest.raises(ArchiveError, match="max_total_bytes"):
        while chunk := tar.take(4096):
            taken += len(chunk)
    slice_size = gzip_stream._INFLATE
    assert limit - slice_size < taken <= limit
    assert tar.total <= limit + slice_size  # the slice over the limit, then no more
    assert bomb.read_bytes <= len(bomb.getvalue()) // 2


def test_a_bomb_by_its_ratio() -> None:
    bomb = _Counted(gzip.compress(bytes(64 << 20)))
    tar = Inflated(bomb, ArchiveLimits(ratio_floor_bytes=1 << 20))
    with pytest.raises(ArchiveError, match="max_ratio"):
        _all(tar)
    assert tar.total < 8 << 20 and bomb.read_bytes <= len(bomb.getvalue()) // 2
