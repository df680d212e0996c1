"""Checking a Velero backup: ``[prefix/]backups/<name>/velero-backup.json`` and ``<name>.tar.gz``.

Velero writes ``velero-backup.json`` first with phase ``Finalizing`` or
``WaitingForPluginOperations`` (before the tarball exists), then the tarball, then rewrites the
JSON with the final phase -- and may rewrite the tarball after that. A put of either object
triggers this check, which reads the JSON as it is NOW:

- ``Completed`` / ``PartiallyFailed`` and the tarball exists and reads to the end -> completed;
  the tarball not there yet (Velero before 1.11 wrote the final JSON first) -> no verdict: its own
  put will come; a truncated or corrupt tarball -> failed (``archive_truncated``,
  ``archive_invalid``); a tarball with no items, or fewer than ``status.progress.itemsBackedUp``
  -> failed (``archive_empty``, ``archive_incomplete``);
- ``Failed`` / ``FailedValidation`` -> failed (``velero_backup_failed``);
- a ``completionTimestamp`` later than the JSON object's own last-modified time plus
  ``backup_complete.clock_skew_tolerance`` -> failed (``clock_skew``);
- any other phase -> no verdict.

The marker is read by ``core.velero_backup.read_marker``, the reading the guards' claims are
made from too. Velero's keys do not name the cluster: it comes from ``clusters[].velero_prefix`` in the
configuration; a final backup under a prefix no cluster claims -> failed (``unknown_cluster``).
The Kubernetes version comes from the annotation ``velero.io/source-cluster-k8s-gitversion`` and
the resource count from ``status.progress.itemsBackedUp``. Velero tarballs carry no checksum, so
``sha256`` stays None (the contract says so); the archive is still read in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from pydantic import ValidationError

from backup2gitops.core import bucket_layout
from backup2gitops.core.events import BackupCompleted
from backup2gitops.core.velero_backup import COMPLETED_PHASES, InvalidVeleroBackup, read_marker
from backup_complete.bucket_checks import (
    DEFAULT_CLOCK_SKEW_TOLERANCE,
    Bucket,
    Verdict,
    clock_skew,
    content_refusal,
)

FAILED_PHASES = frozenset({"Failed", "FailedValidation"})


def check(
    bucket: Bucket,
    backup: bucket_layout.BackupKey,
    *,
    clusters: Mapping[str, str],
    now: datetime,
    clock_skew_tolerance: timedelta = DEFAULT_CLOCK_SKEW_TOLERANCE,
) -> Verdict | None:
    """The verdict on the Velero backup ``backup`` names; ``clusters`` maps prefix -> cluster."""
    name = backup.backup_id
    marker = bucket_layout.velero_backup_json_key(prefix=backup.prefix, name=name)
    tarball = bucket_layout.velero_archive_key(prefix=backup.prefix, name=name)
    cluster = clusters.get(backup.prefix)
    stored = bucket.marker(marker, cluster=cluster, backup_id=name)
    if stored is None:
        return None
    failed = stored.failed
    if too_large := stored.too_large():
        return failed("invalid_velero_backup", too_large)
    try:
        velero = read_marker(stored.raw)
    except InvalidVeleroBackup as exc:
        return failed("invalid_velero_backup", f"{marker} {exc.reason}")
    phase = velero.phase
    if phase not in COMPLETED_PHASES | FAILED_PHASES:
        return None
    if cluster is None:
        where = f"prefix {backup.prefix!r}" if backup.prefix else "the bucket root"
        return failed(
            "unknown_cluster",
            f"no clusters[].velero_prefix maps {where} to a cluster; Velero backup {name} ignored",
        )
    if phase in FAILED_PHASES:
        return failed(
            "velero_backup_failed", f"Velero backup {name}: {phase}: {velero.failure}".rstrip()
        )

    stamp = velero.completion_timestamp
    if isinstance(stamp, str):
        try:
            completed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            completed = None  # BackupCompleted refuses it below (invalid_velero_backup)
        if completed is not None and completed.tzinfo is not None:
            skewed = clock_skew(
                completed,
                marker=stored.info,
                tolerance=clock_skew_tolerance,
                what="completionTimestamp",
            )
            if skewed:
                return failed("clock_skew", skewed)

    if bucket.stat(tarball) is None:
        return None
    reading = bucket.read_archive(tarball)
    if reading is None:
        return None
    claimed = velero.items
    refused = content_refusal(
        reading, archive=tarball, claimed=claimed, counted_by="status.progress.itemsBackedUp"
    )
    if refused:
        return failed(*refused)
    try:
        data = BackupCompleted(
            backup_id=name,
            cluster=cluster,
            format="velero",
            bucket=bucket.name,
            keys=[marker, tarball],
            size=reading.size,
            sha256=None,
            resource_count=claimed if claimed is not None else reading.items,
            created_at=velero.finished or now,
            kubernetes_version=velero.kubernetes_version,
            complete=velero.complete,
        )
    except ValidationError as exc:
        return failed("invalid_velero_backup", f"{marker}: {exc.errors()[0]['msg']}")
    return stored.completed(data)
