"""One storage contract, three backends: file://, in-memory, and s3:// against a real MinIO.

Everything the functions rely on: streaming writes that appear only when complete, streaming
reads, listing under a prefix, conditional puts the server enforces, and keys that cannot escape.
"""

from __future__ import annotations

import os

import pytest

from backup2gitops.adapters.storage import (
    NotFound,
    ObjectStore,
    PreconditionFailed,
    StorageError,
    put_unless_changed,
)
from tests.e2e.stores import minio_and_store_fixtures

pytestmark = pytest.mark.e2e


minio, store = minio_and_store_fixtures("contract", ["file", "memory", "s3"])


def test_bytes_round_trip_and_stat(store: ObjectStore) -> None:
    assert store.stat("a/b.json") is None
    info = store.put_bytes("a/b.json", b'{"x": 1}')
    assert info.size == 8 and info.etag
    assert store.read_bytes("a/b.json") == b'{"x": 1}'
    stat = store.stat("a/b.json")
    assert stat is not None and stat.size == 8 and stat.etag == info.etag
    with store.open_read("a/b.json") as stream:
        assert stream.read(4) == b'{"x"'
    with pytest.raises(NotFound):
        store.read_bytes("a/missing.json")


def test_streaming_writer_publishes_only_a_complete_object(store: ObjectStore) -> None:
    chunk = os.urandom(1024 * 1024)
    with store.writer("big/archive.tar.gz") as out:
        for _ in range(6):  # 6 MiB: a multipart upload on S3
            out.write(chunk)
        assert store.stat("big/archive.tar.gz") is None  # not visible while being written
    assert store.stat("big/archive.tar.gz").size == 6 * len(chunk)  # type: ignore[union-attr]
    with pytest.raises(RuntimeError), store.writer("big/half.tar.gz") as out:
        out.write(chunk)
        raise RuntimeError("the backup failed half-way")
    assert store.stat("big/half.tar.gz") is None  # a half-written object is never published


def test_list_is_relative_to_the_store_and_prefix_filtered(store: ObjectStore) -> None:
    for key in (
        "backups/prod/1/manifest.json",
        "backups/prod/1/resources.tar.gz",
        "backups/stage/2/manifest.json",
        "state/health.json",
    ):
        store.put_bytes(key, b"x")
    assert sorted(i.key for i in store.list("backups/prod/")) == [
        "backups/prod/1/manifest.json",
        "backups/prod/1/resources.tar.gz",
    ]
    assert len(list(store.list(""))) == 4
    store.delete("state/health.json")
    assert store.stat("state/health.json") is None
    store.delete("state/health.json")  # deleting what is gone is fine


def test_conditional_puts_are_enforced(store: ObjectStore) -> None:
    first = store.put_bytes("state/s.json", b"1", if_none_match=True)
    with pytest.raises(PreconditionFailed):
        store.put_bytes("state/s.json", b"2", if_none_match=True)
    second = store.put_bytes("state/s.json", b"2", if_match=first.etag)
    with pytest.raises(PreconditionFailed):
        store.put_bytes("state/s.json", b"3", if_match=first.etag)  # stale etag
    assert store.read_bytes("state/s.json") == b"2" and second.etag != first.etag


def test_put_unless_changed_writes_only_over_the_version_read(store: ObjectStore) -> None:
    first = put_unless_changed(store, "state/n.json", b"1", etag=None)  # none read: create it
    with pytest.raises(PreconditionFailed):  # someone created it since "none" was read
        put_unless_changed(store, "state/n.json", b"2", etag=None)
    second = put_unless_changed(store, "state/n.json", b"2", etag=first.etag)
    with pytest.raises(PreconditionFailed):  # written since the first version was read
        put_unless_changed(store, "state/n.json", b"3", etag=first.etag)
    assert store.read_bytes("state/n.json") == b"2" and second.etag != first.etag


@pytest.mark.parametrize("key", ["../escape", "/abs", "a/../../b", "a/./b", ""])
def test_keys_cannot_escape_the_bucket(store: ObjectStore, key: str) -> None:
    with pytest.raises(StorageError):
        store.put_bytes(key, b"x")
