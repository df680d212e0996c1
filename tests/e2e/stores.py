"""The three store backends the e2e tests run one contract on: in-memory, file:// and s3://
against a real MinIO (credentials only from the environment, as in production)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from backup2gitops.adapters.storage import MemoryStore, ObjectStore, open_store
from backup2gitops.config import StorageConfig
from backup2gitops.core import events
from backup2gitops.native_backup_writer import WrittenBackup
from tests.e2e.servers import Minio, minio_binary, minio_server

BACKENDS = ["file", "memory", "s3"]


@contextmanager
def minio_with_bucket(tmp_path: Path, bucket: str) -> Iterator[Minio]:
    """A real MinIO holding an empty ``bucket`` (skips when the binary is not built)."""
    if minio_binary() is None:
        pytest.skip("no minio binary: scripts/install-test-deps.sh builds it")
    with minio_server(tmp_path) as server:
        server.s3_client().create_bucket(Bucket=bucket)
        yield server


def store_on(
    backend: str,
    *,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    minio: Callable[[], Minio],
) -> ObjectStore:
    """A fresh store of ``backend``; s3:// gets a prefix of its own in ``bucket`` on ``minio()``."""
    if backend == "memory":
        return MemoryStore(bucket)
    if backend == "file":
        return open_store(StorageConfig(url=(tmp_path / bucket).as_uri()))
    server = minio()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.user)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.password)
    return open_store(
        StorageConfig(
            url=f"s3://{bucket}/run-{os.getpid()}-{tmp_path.name}",
            endpoint_url=server.url,
            addressing_style="path",
        )
    )


def minio_and_store_fixtures(bucket: str, backends: Sequence[str]) -> tuple[Any, Any]:
    """The fixtures ``minio`` -- one real MinIO for the module, holding ``bucket`` -- and ``store``,
    a fresh store of each of ``backends`` in turn (s3:// on that MinIO, started only when asked).
    A test module takes them with ``minio, store = minio_and_store_fixtures(...)``."""

    @pytest.fixture(scope="module", name="minio")
    def minio_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Minio]:
        with minio_with_bucket(tmp_path_factory.mktemp("minio"), bucket) as server:
            yield server

    @pytest.fixture(params=list(backends), name="store")
    def store_fixture(
        request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> ObjectStore:
        return store_on(
            request.param,
            bucket=bucket,
            tmp_path=tmp_path,
            monkeypatch=monkeypatch,
            minio=lambda: request.getfixturevalue("minio"),
        )

    return minio_fixture, store_fixture


def announced(
    store: ObjectStore, written: WrittenBackup, *, cluster: str, backup_id: str
) -> events.Event:
    """The ``backup.completed`` backup-complete sends for a native backup ``written`` to ``store``."""
    manifest = written.manifest
    data = events.BackupCompleted(
        backup_id=backup_id,
        cluster=cluster,
        format="native",
        bucket=store.bucket,
        keys=[written.manifest_key, written.archive_key],
        size=manifest.archive.size,
        sha256=manifest.archive.sha256,
        resource_count=manifest.resource_count,
        created_at=manifest.finished_at,
        complete=True,
    )
    return events.Event(
        id=f"completed-{cluster}-{backup_id}",
        source="/backup2gitops/backup-complete",
        type=events.BACKUP_COMPLETED,
        subject=f"{cluster}/{backup_id}",
        cluster=cluster,
        data=data.model_dump(mode="json"),
    )
