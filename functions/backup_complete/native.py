"""Checking a native backup: ``backups/<cluster>/<backup-id>/manifest.json`` and its archive.

The manifest is written LAST, so it is the completion marker. The checks, in order, each with
the ``backup.failed`` code it yields:

1. the manifest is at most 1 MiB and valid (``invalid_manifest``), names the cluster and backup
   id of its folder (``invalid_manifest``), and has a format version this code reads
   (``unsupported_format_version``), and its ``finished_at`` is not later than the manifest
   object's own last-modified time plus ``backup_complete.clock_skew_tolerance`` (``clock_skew``);
2. the archive it names exists (``archive_missing``) with the size it states (``size_mismatch``);
3. one streaming pass over the archive: its sha256 (``checksum_mismatch``), and it reads to the
   end as a gzip tarball (``archive_truncated`` / ``archive_invalid``);
4. it holds items, and at least as many as the manifest counts (``archive_empty`` /
   ``archive_incomplete``): a gutted archive never reaches the generator.

A manifest that is gone by the time it is read (deleted since the notification) gives no verdict.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

from backup2gitops.core import bucket_layout
from backup2gitops.core.backup_manifest import BackupManifest, ManifestError, parse_manifest
from backup2gitops.core.events import BackupCompleted
from backup_complete.bucket_checks import (
    DEFAULT_CLOCK_SKEW_TOLERANCE,
    Bucket,
    Verdict,
    clock_skew,
    content_refusal,
)

_MANIFEST_CODES = {
    "invalid_json": "invalid_manifest",
    "invalid_manifest": "invalid_manifest",
    "unsupported_version": "unsupported_format_version",
}


def check(
    bucket: Bucket,
    backup: bucket_layout.BackupKey,
    *,
    supported_versions: Collection[str],
    clock_skew_tolerance: timedelta = DEFAULT_CLOCK_SKEW_TOLERANCE,
) -> Verdict | None:
    """The verdict on the native backup ``backup`` names, or None when its manifest is absent."""
    assert backup.cluster is not None
    folder = bucket_layout.native_backup_dir(
        prefix=backup.prefix, cluster=backup.cluster, backup_id=backup.backup_id
    )
    marker = bucket.marker(
        folder + bucket_layout.MANIFEST_NAME, cluster=backup.cluster, backup_id=backup.backup_id
    )
    if marker is None:
        return None
    failed = marker.failed
    if too_large := marker.too_large():
        return failed("invalid_manifest", too_large)
    try:
        manifest = parse_manifest(marker.raw)
    except ManifestError as exc:
        return failed(_MANIFEST_CODES[exc.code], f"{marker.key}: {exc.message}")
    if (manifest.cluster, manifest.backup_id) != (backup.cluster, backup.backup_id):
        return failed(
            "invalid_manifest",
            f"{marker.key} names {manifest.cluster}/{manifest.backup_id}, not the folder it is in",
        )
    if manifest.format_version not in supported_versions:
        return failed(
            "unsupported_format_version",
            f"format_version {manifest.format_version!r} is not one of "
            f"{sorted(supported_versions)} (backup_complete.supported_format_versions)",
        )
    skewed = clock_skew(
        manifest.finished_at, marker=marker.info, tolerance=clock_skew_tolerance, what="finished_at"
    )
    if skewed:
        return failed("clock_skew", skewed)

    archive = folder + manifest.archive.key
    expected = manifest.archive
    stored = bucket.stat(archive)
    if stored is None:
        return failed("archive_missing", f"{archive} does not exist", key=archive)
    if stored.size != expected.size:
        return failed(
            "size_mismatch",
            f"{archive} has {stored.size} bytes, the manifest says {expected.size}",
            key=archive,
        )
    reading = bucket.read_archive(archive)
    if reading is None:
        return failed("archive_missing", f"{archive} disappeared while read", key=archive)
    if reading.size != expected.size:
        return failed(
            "size_mismatch",
            f"{archive} read {reading.size} bytes, the manifest says {expected.size}",
            key=archive,
        )
    if reading.sha256 != expected.sha256:
        return failed(
            "checksum_mismatch",
            f"{archive} has sha256 {reading.sha256}, the manifest says {expected.sha256}",
            key=archive,
        )
    refused = content_refusal(reading, archive=archive, claimed=manifest.resource_count)
    if refused:
        return failed(*refused, key=archive)
    return marker.completed(
        _completed(bucket=bucket.name, manifest=manifest, keys=[marker.key, archive])
    )


def _completed(*, bucket: str, manifest: BackupManifest, keys: list[str]) -> BackupCompleted:
    return BackupCompleted(
        backup_id=manifest.backup_id,
        cluster=manifest.cluster,
        format="native",
        bucket=bucket,
        keys=keys,
        size=manifest.archive.size,
        sha256=manifest.archive.sha256,
        resource_count=manifest.resource_count,
        created_at=manifest.finished_at,
        kubernetes_version=manifest.kubernetes_version,
        complete=True,  # the manifest counts what was written, and the archive held it all
    )
