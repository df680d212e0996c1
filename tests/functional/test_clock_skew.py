"""backup-complete refuses a completion time later than its own marker landed (issue 22, item 1).

A ``created_at`` (native ``finished_at``, Velero ``completionTimestamp``) in the future froze a
cluster's branch: every later backup was "older than the tip", a no-op, with everything green.
The marker object's own last-modified time is the storage's clock; a backup cannot have finished
after its marker was written, beyond ``backup_complete.clock_skew_tolerance``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backup2gitops.adapters.storage import FileStore
from backup2gitops.core.backup_manifest import dump_manifest
from backup2gitops.core.events import BACKUP_COMPLETED, BACKUP_FAILED
from tests.fixtures.native import native_backup, store_native_backup
from tests.fixtures.velero import velero_backup_object, velero_tarball
from tests.functional.test_backup_complete import BUCKET, CONFIG, ITEMS, Harness

LANDED = datetime(2026, 11, 23, 2, 1, tzinfo=UTC)
"""When every marker here landed (its file's mtime is set to it: the storage's clock)."""


@pytest.fixture
def files(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / BUCKET)


def landed(store: FileStore, key: str, at: datetime = LANDED) -> None:
    os.utime(store.root / key, (at.timestamp(), at.timestamp()))


def put_native(store: FileStore, finished_at: datetime) -> str:
    backup = native_backup(cluster="prod", backup_id="b-skew")
    manifest = backup.manifest.model_copy(
        update={"finished_at": finished_at, "started_at": finished_at - timedelta(seconds=42)}
    )
    store_native_backup(store, backup)
    store.put_bytes(backup.manifest_key, dump_manifest(manifest))
    landed(store, backup.manifest_key)
    return backup.manifest_key


@pytest.mark.parametrize(
    "ahead", [timedelta(days=365), timedelta(days=365 * 73), timedelta(minutes=5, seconds=1)]
)
def test_a_native_finished_at_after_its_manifest_landed_is_clock_skew(
    files: FileStore, ahead: timedelta
) -> None:
    marker = put_native(files, LANDED + ahead)
    reply = Harness(files).deliver("minio-webhook", marker)
    assert reply is not None and reply.type == BACKUP_FAILED
    assert reply.data["code"] == "clock_skew"
    assert reply.data["backup_id"] == "b-skew" and reply.data["cluster"] == "prod"
    assert "clock_skew_tolerance" in reply.data["message"]


@pytest.mark.parametrize("ahead", [timedelta(0), timedelta(minutes=5), -timedelta(hours=3)])
def test_a_native_finished_at_within_the_tolerance_completes(
    files: FileStore, ahead: timedelta
) -> None:
    marker = put_native(files, LANDED + ahead)
    reply = Harness(files).deliver("minio-webhook", marker)
    assert reply is not None and reply.type == BACKUP_COMPLETED


def test_the_tolerance_is_configurable(files: FileStore) -> None:
    marker = put_native(files, LANDED + timedelta(minutes=20))
    assert Harness(files).deliver("minio-webhook", marker).data["code"] == "clock_skew"  # type: ignore[union-attr]
    wide = Harness(files, config=CONFIG + "backup_complete: {clock_skew_tolerance: PT30M}\n")
    reply = wide.deliver("minio-webhook", marker)
    assert reply is not None and reply.type == BACKUP_COMPLETED


def put_velero(store: FileStore, completed: datetime) -> str:
    folder = "velero/backups/daily/"
    store.put_bytes(folder + "daily.tar.gz", velero_tarball(ITEMS))
    backup = velero_backup_object(
        name="daily", phase="Completed", k8s_version="v1.30.2", item_count=len(ITEMS)
    )
    backup["status"]["completionTimestamp"] = completed.isoformat().replace("+00:00", "Z")
    store.put_bytes(folder + "velero-backup.json", json.dumps(backup).encode())
    landed(store, folder + "velero-backup.json")
    return folder + "velero-backup.json"


def test_a_velero_completion_timestamp_after_its_json_landed_is_clock_skew(
    files: FileStore,
) -> None:
    marker = put_velero(files, datetime(2099, 1, 1, tzinfo=UTC))
    reply = Harness(files).deliver("minio-webhook", marker)
    assert reply is not None and reply.type == BACKUP_FAILED
    assert reply.data["code"] == "clock_skew" and reply.data["cluster"] == "staging"
    message = reply.data["message"]
    assert message.startswith("completionTimestamp of ") and "2099-01-01" in message


def test_a_velero_completion_timestamp_before_its_json_landed_completes(files: FileStore) -> None:
    marker = put_velero(files, LANDED - timedelta(seconds=30))
    reply = Harness(files).deliver("minio-webhook", marker)
    assert reply is not None and reply.type == BACKUP_COMPLETED
