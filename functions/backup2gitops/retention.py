"""Retention: delete a cluster's native backups that ``backups.keep`` no longer keeps.

    list backups/<cluster>/ --> keys of our native layout, by backup id (core.bucket_layout)
      --> each marker's finished_at --> core.retention_plan.plan --> delete, marker FIRST

What is never touched: any key that is not a native key of this cluster at the store's root
(``backups/<cluster>/<backup-id>/<name>``, ``core.bucket_layout.parse_key``). A Velero backup stored
alongside -- ``[prefix/]backups/<name>/velero-backup.json``, one folder level less -- is
Velero's (its own TTL and garbage collection delete it); under a configured ``velero_prefix``
even a key of native shape is Velero's. Deeper keys are left alone too.

Why the marker FIRST: ``manifest.json`` is what makes a backup complete for every reader
(backup-complete announces only a marker, health freshness and retention count only folders
with one, gitops-generator reads only announced backups). Deleted first, a deletion that stops
half-way (a crash, a storage error) leaves an *incomplete* folder: never announced, never
counted as the newest backup, and deleted by the next run (``core.retention_plan``: incomplete and
untouched for ``CLAIM_TTL``). Deleted last, the same failure would leave a marker whose archive
is gone: a complete-looking backup that fails every read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from backup2gitops.adapters.storage import NotFound, ObjectInfo, ObjectStore
from backup2gitops.core import bucket_layout, retention_plan
from backup2gitops.core.backup_manifest import ManifestError, parse_manifest
from backup2gitops.native_backup_writer import CLAIM_TTL

__all__ = ["RetentionReport", "apply_retention", "stored_backups"]


@dataclass
class RetentionReport:
    deleted: list[retention_plan.Doomed] = field(default_factory=list)
    kept: int = 0
    unreadable: list[str] = field(default_factory=list)
    """Complete backups whose marker could not be read: kept, not counted."""


def _folders(
    store: ObjectStore, *, cluster: str, velero_prefixes: Sequence[str]
) -> dict[str, list[ObjectInfo]]:
    """The objects of each native backup of ``cluster``, by backup id."""
    folders: dict[str, list[ObjectInfo]] = defaultdict(list)
    for info in store.list(bucket_layout.native_cluster_dir(prefix="", cluster=cluster)):
        where = bucket_layout.parse_key(info.key, velero_prefixes=velero_prefixes)
        if where is None or where.format != "native" or where.prefix or where.cluster != cluster:
            continue
        folders[where.backup_id].append(info)
    return folders


def stored_backups(
    store: ObjectStore, *, cluster: str, velero_prefixes: Sequence[str]
) -> tuple[list[retention_plan.StoredBackup], dict[str, list[ObjectInfo]], list[str]]:
    """The cluster's backups as retention sees them, their objects, and unreadable markers."""
    folders = _folders(store, cluster=cluster, velero_prefixes=velero_prefixes)
    found: list[retention_plan.StoredBackup] = []
    unreadable: list[str] = []
    for backup_id, objects in sorted(folders.items()):
        marker = next(
            (o for o in objects if o.key.endswith("/" + bucket_layout.MANIFEST_NAME)), None
        )
        finished_at = None
        if marker is not None:
            try:
                finished_at = parse_manifest(store.read_bytes(marker.key)).finished_at
            except NotFound:  # deleted since the listing: incomplete now
                marker = None
            except ManifestError:
                unreadable.append(backup_id)
        found.append(
            retention_plan.StoredBackup(
                backup_id=backup_id,
                complete=marker is not None,
                finished_at=finished_at,
                last_written=max(o.last_modified for o in objects),
            )
        )
    return found, folders, unreadable


def apply_retention(
    store: ObjectStore,
    *,
    cluster: str,
    keep: retention_plan.KeepPolicy,
    now: datetime,
    velero_prefixes: Sequence[str] = (),
) -> RetentionReport:
    """Delete what ``keep`` no longer keeps; each backup whole, its marker first.

    Raises ``StorageError`` when listing or deleting fails: what was deleted stays deleted,
    and a backup stopped half-way is incomplete (see the module docstring).
    """
    if not keep.enabled:
        return RetentionReport()
    found, folders, unreadable = stored_backups(
        store, cluster=cluster, velero_prefixes=velero_prefixes
    )
    doomed = retention_plan.plan(found, keep=keep, now=now, grace=CLAIM_TTL)
    for backup in doomed:
        objects = folders[backup.backup_id]
        first = [o for o in objects if o.key.endswith("/" + bucket_layout.MANIFEST_NAME)]
        for info in first + [o for o in objects if o not in first]:
            store.delete(info.key)
    return RetentionReport(deleted=doomed, kept=len(found) - len(doomed), unreadable=unreadable)
