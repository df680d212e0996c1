"""Extended tar headers that claim gigabytes are refused on their 512-byte header.

tarfile reads a GNU long-name/long-link block or a pax header whole, into memory, before it
returns the member it describes: a 1 GiB one cost 2.1 GB of RSS and a 3 GiB one 9.3 GB, and the
backup was accepted (issue 22, item 4). The archives here are streamed (``GzipStream``): a guarded
reader pulls a few kilobytes of them; ``pulled`` says how much. The peak RSS is printed by
``benchmarks/bench_header_bombs.py``, not asserted (no test depends on the machine).
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from backup2gitops.adapters.storage import MemoryStore
from backup2gitops.core import bucket_layout, events
from backup2gitops.core.archive import MAX_HEADER_BYTES, ArchiveError, iter_items
from backup2gitops.core.backup_manifest import ArchiveRef, BackupManifest, dump_manifest
from backup2gitops.core.events import BACKUP_FAILED
from tests.functional.test_backup_complete import BUCKET, Harness
from tests.hostile.archives import (
    VERSION,
    GzipStream,
    configmap,
    end,
    header,
    header_bomb,
    member,
    pax_record_prefix,
)
from tests.hostile.flow import Flow

GIB = 1024**3
KINDS = {
    "gnu-long-name": tarfile.GNUTYPE_LONGNAME,
    "gnu-long-link": tarfile.GNUTYPE_LONGLINK,
    "pax": tarfile.XHDTYPE,
    "pax-global": tarfile.XGLTYPE,
}


def read_all(stream: GzipStream) -> int:
    return sum(1 for _ in iter_items(cast("BinaryIO", stream)))


@pytest.mark.parametrize("size", [GIB, 3 * GIB], ids=["1GiB", "3GiB"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_huge_extended_header_is_refused_before_it_is_read(kind: str, size: int) -> None:
    stream = GzipStream(header_bomb(KINDS[kind], size))
    with pytest.raises(ArchiveError) as caught:
        read_all(stream)
    assert caught.value.code == "archive_too_large"
    assert str(size) in str(caught.value)
    assert stream.pulled < 4 * 1024 * 1024  # the block itself was never pulled


@pytest.mark.parametrize("kind", KINDS)
def test_an_extended_header_within_the_limit_is_read(kind: str) -> None:
    """The limit takes nothing from real archives: a 60 KiB pax or long-name block reads."""
    stream = GzipStream(header_bomb(KINDS[kind], MAX_HEADER_BYTES - 4096))
    assert read_all(stream) == 1


def chain(count: int) -> Iterator[bytes]:
    yield member(*VERSION)
    for _ in range(count):
        record = pax_record_prefix(20, "comment") + b"abcdefgh\n"
        assert len(record) == 20
        yield header("././@PaxHeader", size=len(record), type=tarfile.XHDTYPE)
        yield record + b"\0" * (512 - len(record))
    yield member(*configmap())
    yield end()


def test_an_endless_chain_of_small_extended_headers_is_refused() -> None:
    """tarfile handles each extended header by calling itself for the next one: 100,000 of
    them ended in a RecursionError (a 500, retried for ever), not a refusal."""
    with pytest.raises(ArchiveError) as caught:
        read_all(GzipStream(chain(100_000)))
    assert caught.value.code == "archive_limit_exceeded"


def test_a_few_extended_headers_in_a_row_are_read() -> None:
    assert read_all(GzipStream(chain(3))) == 1


def global_headers(count: int) -> Iterator[bytes]:
    """Global pax headers each under the limit, with new keys: they pile up in tarfile."""
    yield member(*VERSION)
    for index in range(count):
        size = 40 * 1024
        prefix = pax_record_prefix(size, f"b2g.key{index:06d}")
        yield header("././@PaxHeader", size=size, type=tarfile.XGLTYPE)
        yield prefix + b"a" * (size - len(prefix) - 1) + b"\n"
    yield member(*configmap())
    yield end()


def test_global_headers_that_add_up_are_refused() -> None:
    with pytest.raises(ArchiveError) as caught:
        read_all(GzipStream(global_headers(10)))
    assert caught.value.code == "archive_too_large"


def test_an_old_gnu_sparse_member_is_refused_on_its_header() -> None:
    """Its map continues in extension blocks for as long as the archive says."""

    def sparse() -> Iterator[bytes]:
        yield member(*VERSION)
        block = bytearray(header("resources/configmaps/namespaces/shop/x.json", size=0))
        block[156:157] = tarfile.GNUTYPE_SPARSE
        block[482] = 1  # isextended: a map block follows, and another...
        block[148:156] = b" " * 8
        block[148:155] = f"{sum(block):06o}\0".encode()
        yield bytes(block)
        extension = bytearray(512)
        extension[504] = 1
        while True:
            yield bytes(extension)

    with pytest.raises(ArchiveError) as caught:
        read_all(GzipStream(sparse()))
    assert caught.value.code == "archive_not_regular"


def small_bomb() -> bytes:
    """A stored archive whose long-name header claims 1 GiB but that ends a few KiB later: a
    guarded reader refuses the header (``archive_too_large`` -> ``archive_invalid``), an
    unguarded one reads on and finds the end early (``archive_truncated``)."""
    stream = GzipStream(header_bomb(tarfile.GNUTYPE_LONGNAME, GIB))
    head = stream.read(64 * 1024)
    assert isinstance(head, bytes)
    return head


def test_backup_complete_fails_the_backup_on_the_header(tmp_path: Path) -> None:
    body = small_bomb()
    store = MemoryStore(bucket=BUCKET)
    started = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    manifest = BackupManifest(
        backup_id="bomb",
        cluster="prod",
        kubernetes_version="v1.31.4",
        started_at=started,
        finished_at=started + timedelta(seconds=1),
        resource_counts={"configmaps": 1},
        archive=ArchiveRef(
            key=bucket_layout.ARCHIVE_NAME, size=len(body), sha256=hashlib.sha256(body).hexdigest()
        ),
    )
    key = bucket_layout.native_manifest_key(prefix="", cluster="prod", backup_id="bomb")
    store.put_bytes(
        bucket_layout.native_archive_key(prefix="", cluster="prod", backup_id="bomb"), body
    )
    store.put_bytes(key, dump_manifest(manifest))
    reply = Harness(store).deliver("minio-webhook", key)
    assert reply is not None and reply.type == BACKUP_FAILED
    assert reply.data["code"] == "archive_invalid"
    assert "GNU long-name block of 1073741824 bytes" in reply.data["message"]


def test_gitops_generator_fails_the_backup_on_the_header(tmp_path: Path) -> None:
    flow = Flow(tmp_path)
    reply = flow.backup_bytes(small_bomb(), items=1)
    assert reply.type == events.GITOPS_FAILED
    assert reply.data["code"] == "archive_too_large", reply.data
