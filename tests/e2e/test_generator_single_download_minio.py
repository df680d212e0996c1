"""gitops-generator downloads a backup's archive once from a real MinIO (issue 21): the index
cleaning needs is built in the same read, and a daily backup re-reads nothing either."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from backup2gitops import generation
from backup2gitops.adapters.storage import open_store
from backup2gitops.config import StorageConfig
from backup2gitops.core.cleaning import CleaningPolicy
from tests.e2e.stores import minio_with_bucket
from tests.fixtures.tarballs import backup_tarball, object_item
from tests.git_repos import bare_repository, git_remote

pytestmark = pytest.mark.e2e


class _Counted:
    """The store's stream, counting the bytes read through it."""

    def __init__(self, stream: BinaryIO, read: list[int]) -> None:
        self._stream, self._read = stream, read

    def read(self, size: int = -1, /) -> bytes:
        data = self._stream.read(size)
        self._read[0] += len(data)
        return data

    def __enter__(self) -> _Counted:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stream.close()


def _archive(value: str) -> bytes:
    statefulset = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "pg", "namespace": "db"},
        "spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}}]},
    }
    configmaps = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"c{i}", "namespace": "db"},
            "data": {"k": value if i == 7 else "v"},
        }
        for i in range(50)
    ]
    return backup_tarball(
        [object_item("statefulsets.apps", statefulset)]
        + [object_item("configmaps", obj) for obj in configmaps]
    )


def test_the_archive_is_downloaded_once_per_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with minio_with_bucket(tmp_path, "backups") as server:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.user)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.password)
        store = open_store(
            StorageConfig(
                url=f"s3://backups/run-{os.getpid()}",
                endpoint_url=server.url,
                addressing_style="path",
            )
        )
        bare = bare_repository(tmp_path / "remote.git")
        for backup_id, value in (("b1", "v"), ("b2", "edited")):
            data = _archive(value)
            key = f"{backup_id}/backup.tar.gz"
            store.put_bytes(key, data)
            opened: list[str] = []
            read = [0]

            def archive(key: str = key, opened: list[str] = opened, read: list[int] = read) -> Any:
                opened.append(key)
                return _Counted(store.open_read(key), read)

            outcome = generation.generate(
                archive=archive,
                remote=git_remote(bare, tmp_path / "clones"),
                cluster="prod",
                backup_id=backup_id,
                policy=CleaningPolicy(),
                claims=generation.Claims(items=51, complete=True),
                archive_size=len(data),
                archive_sha256=hashlib.sha256(data).hexdigest(),
            )
            assert opened == [key]
            assert read[0] == len(data)
            assert outcome.plan.objects == 51
        assert outcome.plan.decoded == 1  # the daily backup: the one changed ConfigMap
