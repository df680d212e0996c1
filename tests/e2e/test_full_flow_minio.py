"""The production path on one machine: a real MinIO's webhook -> ``backup2gitops serve`` (the five
functions under functions-framework, and the broker routing by triggers/) -> a commit in a real
``git daemon`` remote. The backup is written to MinIO by cluster-backup's own writer."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backup2gitops.core import events
from backup2gitops.native_backup_writer import write_native_backup
from backup2gitops.sample import SAMPLE_BACKUP_ID, SAMPLE_CLUSTER, iter_sample_items
from tests.e2e.served_flow import ServedFlow, served_flow
from tests.e2e.servers import MINIO_PASSWORD, needs_minio

pytestmark = [
    pytest.mark.e2e,
    needs_minio,
]
TOKEN = "full-flow-token"


@pytest.fixture
def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServedFlow]:
    with served_flow(tmp_path, monkeypatch, cluster=SAMPLE_CLUSTER, token=TOKEN) as flow:
        yield flow


def test_minio_webhook_to_commit_through_all_five_functions(
    serve: ServedFlow, tmp_path: Path
) -> None:
    remote = serve.remote
    write_native_backup(
        serve.store,
        iter_sample_items(),
        cluster=SAMPLE_CLUSTER,
        backup_id=SAMPLE_BACKUP_ID,
        started_at=events.now(),
    )

    clone = tmp_path / "clone"
    deadline = time.monotonic() + 240
    while True:
        heads = subprocess.run(
            ["git", "ls-remote", "--heads", remote, "main"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        if heads.strip():
            break
        assert time.monotonic() < deadline, serve.log.read_text()[-3000:]
        time.sleep(0.5)
    subprocess.run(["git", "clone", "-q", remote, str(clone)], check=True)
    message = subprocess.run(
        ["git", "-C", str(clone), "log", "-1", "--format=%B"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"Backup-Id: {SAMPLE_BACKUP_ID}" in message and f"Cluster: {SAMPLE_CLUSTER}" in message
    assert (clone / "clusters/demo/namespaces/shop/deployments.apps/web.yaml").is_file()
    assert not list(clone.glob("clusters/demo/namespaces/*/pods"))
    log = serve.log.read_text()
    assert TOKEN not in log and MINIO_PASSWORD not in log  # no credential in any log line
