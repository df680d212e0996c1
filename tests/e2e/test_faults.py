"""Faults are classified honestly, against the real components stopped mid-work.

- MinIO SIGKILLed while gitops-generator / backup-complete stream an archive: a 503 (the
  Broker retries), and the redelivery after MinIO is back commits; only an archive that reads
  to its end and is damaged is permanent (``retryable: false``).
- The git remote (git daemon) down: a 503 while the event is young, then ``gitops.failed``
  with ``retryable: true`` (the alert-router hears of it); the redelivery once it is back
  commits.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import tarfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

import flask
import pytest

from backup2gitops.adapters.storage import MemoryStore, ObjectStore, open_store
from backup2gitops.config import parse_config
from backup2gitops.core import events
from backup2gitops.core.archive import BackupItem
from backup2gitops.core.errors import Transient
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import handle_request
from backup_complete.bucket_checks import Bucket
from gitops_generator.handler import SPEC
from tests.e2e.git_daemon import git_daemon
from tests.e2e.servers import MINIO_PASSWORD, MINIO_USER, minio_server, wait_for
from tests.fixtures.tarballs import backup_tarball
from tests.functional.test_gitops_generator import post
from tests.recording import free_port

pytestmark = pytest.mark.e2e

BUCKET = "backups"
KEY = "backups/prod/big/resources.tar.gz"
CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}}


def big_archive() -> bytes:
    """32 MB, far more than the sockets' buffers hold: one ConfigMap, then members outside resources/ (ignored by the reader) of random bytes."""
    out = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=1) as gz,
        tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        members = [
            ("metadata/version", b"1.1.0\n"),
            ("resources/configmaps/namespaces/shop/cfg.json", json.dumps(CONFIGMAP).encode()),
        ]
        members += [(f"padding/{n}", os.urandom(8 * 1024 * 1024 - 1024)) for n in range(4)]
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


class KillOnFirstRead:
    """A store whose read streams SIGKILL MinIO right after the first chunk comes back."""

    def __init__(self, store: ObjectStore, pid: int) -> None:
        self._store = store
        self._pid = pid
        self.bucket = store.bucket
        self.url = store.url
        self.prefix = ""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def open_read(self, key: str) -> BinaryIO:
        inner = self._store.open_read(key)
        pid = self._pid

        class Stream(io.RawIOBase):
            killed = False

            def read(self, size: int = -1, /) -> bytes:
                data = inner.read(size)
                if not Stream.killed:
                    Stream.killed = True
                    os.kill(pid, signal.SIGKILL)
                    wait_for(lambda: not _alive(pid), timeout=120, what="MinIO to die")
                return data

            def close(self) -> None:
                inner.close()

        return Stream()  # type: ignore[return-value]


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
        os.kill(pid, 0)
    except (ChildProcessError, ProcessLookupError):
        return False
    return True


CONFIG = """
storage:
  url: s3://{bucket}
  endpoint_url: {endpoint}
  addressing_style: path
git:
  url: {remote}
  cache_dir: {cache}
"""


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", MINIO_USER)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", MINIO_PASSWORD)
    yield


def client_for(ctx: FunctionContext) -> Any:
    app = flask.Flask("faults")
    app.add_url_rule("/", "f", lambda: handle_request(SPEC, flask.request, ctx), methods=["POST"])
    return app.test_client()


def completed(archive: bytes, *, key: str = KEY) -> events.Event:
    data = events.BackupCompleted(
        backup_id=key.split("/")[2],
        cluster="prod",
        format="native",
        bucket=BUCKET,
        keys=[key.rsplit("/", 1)[0] + "/manifest.json", key],
        size=len(archive),
        resource_count=1,
        created_at=events.now(),
        complete=True,
    )
    return events.Event(
        id=f"in-{key}",
        source="/backup2gitops/backup-complete",
        type=events.BACKUP_COMPLETED,
        time=events.now(),
        data=data.model_dump(mode="json"),
        cluster="prod",
    )


def test_minio_killed_mid_read_is_a_503_and_the_redelivery_commits(
    tmp_path: Path, env: None
) -> None:
    archive = big_archive()
    port = free_port()
    with git_daemon(tmp_path / "srv") as base:
        text = CONFIG.format(
            bucket=BUCKET,
            endpoint=f"http://127.0.0.1:{port}",
            remote=base + "gitops.git",
            cache=tmp_path / "cache",
        )
        config = parse_config(text, {})
        with minio_server(tmp_path, port=port) as minio:
            store = open_store(config.storage)
            store.client.create_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
            store.put_bytes(KEY, archive)
            store.put_bytes("backups/prod/half/resources.tar.gz", archive[: len(archive) // 2])
            killing = KillOnFirstRead(store, minio.pid)
            ctx = FunctionContext(config, store=killing, environ={})
            status, reply = post(client_for(ctx), completed(archive))
            assert status == 503, reply
            assert not _alive(minio.pid)
        with minio_server(tmp_path, port=port) as minio:  # same data: MinIO is back
            store = open_store(config.storage)
            with pytest.raises(Transient) as caught:
                Bucket(KillOnFirstRead(store, minio.pid)).read_archive(KEY)
            assert caught.value.code == "storage_unavailable"  # backup-complete: a 503 as well
        with minio_server(tmp_path, port=port):
            ctx = FunctionContext(config, store=open_store(config.storage), environ={})
            client = client_for(ctx)
            status, reply = post(client, completed(archive))  # the Broker's redelivery
            assert status == 200 and reply is not None
            assert reply.type == events.GITOPS_GENERATED, reply.data
            assert reply.data["objects"] == 1
            # Read to its end and damaged: permanent.
            half = "backups/prod/half/resources.tar.gz"
            status, reply = post(client, completed(archive, key=half))
            assert status == 200 and reply is not None and reply.type == events.GITOPS_FAILED
            assert reply.data["code"] == "archive_truncated" and reply.data["retryable"] is False


def test_git_remote_down_is_a_503_then_a_retryable_gitops_failed(tmp_path: Path) -> None:
    archive = small_archive()
    store = MemoryStore(BUCKET)
    store.put_bytes(KEY, archive)
    srv = tmp_path / "srv"
    with git_daemon(srv) as base:
        remote = base + "gitops.git"
    # The daemon is stopped now: the remote is down.
    config = parse_config(f"git:\n  url: {remote}\n  cache_dir: {tmp_path / 'cache'}\n", {})
    event = completed(archive)
    sent = event.time
    assert sent is not None
    young = FunctionContext(config, store=store, environ={}, clock=lambda: sent)
    status, _ = post(client_for(young), event)
    assert status == 503
    late = sent + timedelta(seconds=config.generator.retry_window_s + 1)
    old = FunctionContext(config, store=store, environ={}, clock=lambda: late)
    status, reply = post(client_for(old), event)
    assert status == 200 and reply is not None and reply.type == events.GITOPS_FAILED
    assert reply.data["code"] == "git_unavailable" and reply.data["retryable"] is True
    port = int(remote.rsplit(":", 1)[1].split("/")[0])
    with git_daemon(srv, port=port):  # the remote is back
        status, reply = post(client_for(young), event)
        assert status == 200 and reply is not None and reply.type == events.GITOPS_GENERATED


def small_archive() -> bytes:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}}
    return backup_tarball([BackupItem("configmaps", "shop", "cfg", obj)])
