"""Backup freshness from Velero's own objects (velero-backup.json as Velero persists it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from backup2gitops.adapters.storage import FileStore
from backup2gitops.config import ClusterSource
from health_aggregator.newest_backups import newest_backups
from tests.fixtures.velero import velero_backup_object

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def put_velero(store: FileStore, prefix: str, name: str, phase: str, started: datetime) -> None:
    backup = velero_backup_object(
        name=name, phase=phase, k8s_version="v1.31.4", item_count=10, started=started
    )
    store.put_bytes(f"{prefix}/backups/{name}/velero-backup.json", json.dumps(backup).encode())


def test_the_newest_final_velero_backup_counts_not_one_in_progress_or_failed(
    tmp_path: Path,
) -> None:
    store = FileStore(tmp_path / "bucket")
    put_velero(store, "velero", "daily-1", "Completed", T0)
    put_velero(store, "velero", "daily-2", "PartiallyFailed", T0 + timedelta(days=1))
    put_velero(store, "velero", "daily-3", "Failed", T0 + timedelta(days=2))
    put_velero(store, "velero", "daily-4", "InProgress", T0 + timedelta(days=3))
    marks = newest_backups(store, [ClusterSource(name="prod", velero_prefix="velero")])
    assert marks["prod"].backup_id == "daily-2"
    assert marks["prod"].completed_at > T0 + timedelta(days=1)  # completionTimestamp


def test_a_newer_native_backup_of_the_same_cluster_wins(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "bucket")
    put_velero(store, "velero", "daily-1", "Completed", T0)  # completed long ago
    store.put_bytes("backups/prod/20261123t020000z/manifest.json", b"{}")  # written now
    marks = newest_backups(store, [ClusterSource(name="prod", velero_prefix="velero")])
    assert marks["prod"].backup_id == "20261123t020000z"


def test_velero_at_the_bucket_root_and_unmapped_clusters(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "bucket")
    backup = velero_backup_object(
        name="nightly", phase="Completed", k8s_version="v1.31.4", item_count=3, started=T0
    )
    store.put_bytes("backups/nightly/velero-backup.json", json.dumps(backup).encode())
    assert newest_backups(store, [ClusterSource(name="edge", velero_prefix="")])[
        "edge"
    ].backup_id == ("nightly")
    assert newest_backups(store, []) == {}
