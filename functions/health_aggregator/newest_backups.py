"""The newest completed backup of each cluster, from a bucket listing.

- native: ``backups/<cluster>/<backup-id>/manifest.json`` is the completion marker (written
  last); its ``last_modified`` is when the backup completed;
- Velero: ``[prefix/]backups/<name>/velero-backup.json`` of each cluster with a
  ``velero_prefix``; newest first, the first whose ``status.phase`` is ``Completed`` or
  ``PartiallyFailed`` (``status.completionTimestamp``, else the object's time).

Either way ``landed_at`` is the marker object's own last-modified time (the watchdog's clock:
the storage's, not the producer's claim).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from backup2gitops.adapters.storage import ObjectInfo, ObjectStore, StorageError
from backup2gitops.core.health import BackupMark

if TYPE_CHECKING:
    from backup2gitops.config import ClusterSource

COMPLETED_PHASES = ("Completed", "PartiallyFailed")
MAX_VELERO_READS = 20


def newest_native(listing: Iterable[ObjectInfo]) -> dict[str, BackupMark]:
    marks: dict[str, BackupMark] = {}
    for info in listing:
        parts = info.key.split("/")
        if len(parts) != 4 or parts[0] != "backups" or parts[3] != "manifest.json":
            continue
        cluster, backup_id = parts[1], parts[2]
        current = marks.get(cluster)
        if current is None or info.last_modified > current.completed_at:
            marks[cluster] = BackupMark(cluster, backup_id, info.last_modified)
    return marks


def newest_velero(store: ObjectStore, *, cluster: str, prefix: str) -> BackupMark | None:
    base = f"{prefix.strip('/')}/backups/" if prefix.strip("/") else "backups/"
    candidates = [
        info
        for info in store.list(base)
        if info.key.endswith("/velero-backup.json") and info.key.count("/") == base.count("/") + 1
    ]
    candidates.sort(key=lambda info: info.last_modified, reverse=True)
    for info in candidates[:MAX_VELERO_READS]:
        try:
            backup = json.loads(store.read_bytes(info.key))
        except (StorageError, ValueError):
            continue
        status = backup.get("status") or {}
        if status.get("phase") not in COMPLETED_PHASES:
            continue
        name = info.key[len(base) :].split("/")[0]
        stamp = status.get("completionTimestamp")
        completed = (
            datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else info.last_modified
        )
        return BackupMark(cluster, name, completed, landed_at=info.last_modified)
    return None


def newest_backups(store: ObjectStore, clusters: list[ClusterSource]) -> dict[str, BackupMark]:
    """Per cluster (configured ones and any native ones found), the newest completed backup."""
    marks = newest_native(store.list("backups/"))
    for source in clusters:
        if source.velero_prefix is not None:
            mark = newest_velero(store, cluster=source.name, prefix=source.velero_prefix)
            current = marks.get(source.name)
            if mark is not None and (current is None or mark.landed > current.landed):
                marks[source.name] = mark
    return marks
