"""Writing a native-format backup: the archive first, ``manifest.json`` LAST.

The manifest is the completion marker, so a backup that fails half-way leaves no manifest and is
never announced; the unfinished archive is never published either (the store's writer publishes
only on a clean close) and a stale archive from an earlier failed attempt is removed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO, cast

from backup2gitops.adapters.storage import ObjectInfo, ObjectStore, PreconditionFailed
from backup2gitops.core import bucket_layout, errors
from backup2gitops.core.archive import ArchiveWriter, BackupItem
from backup2gitops.core.backup_manifest import ArchiveRef, BackupManifest, dump_manifest


@dataclass(frozen=True)
class WrittenBackup:
    manifest: BackupManifest
    manifest_key: str
    archive_key: str
    manifest_info: ObjectInfo


def write_native_backup(
    store: ObjectStore,
    items: Iterable[BackupItem],
    *,
    cluster: str,
    backup_id: str,
    started_at: datetime,
    finished_at: datetime | None = None,
    clock: Callable[[], datetime] | None = None,
    kubernetes_version: str | None = None,
    warnings: Iterable[str] = (),
    prefix: str = "",
) -> WrittenBackup:
    """Write the archive from ``items`` (streamed), then the manifest.

    ``finished_at``: given, or read from ``clock`` once the archive is written, else
    ``started_at``. ``warnings`` is read after the items are exhausted, so a list the item
    source appends to ends up whole in the manifest.
    """
    archive_key = bucket_layout.native_archive_key(
        prefix=prefix, cluster=cluster, backup_id=backup_id
    )
    manifest_key = bucket_layout.native_manifest_key(
        prefix=prefix, cluster=cluster, backup_id=backup_id
    )
    try:
        with store.writer(archive_key) as out, ArchiveWriter(cast(BinaryIO, out)) as archive:
            for item in items:
                archive.add(
                    group_resource=item.group_resource,
                    namespace=item.namespace,
                    name=item.name,
                    obj=item.obj,
                )
    except BaseException:
        store.delete(archive_key)  # an archive without a manifest is of no use to anyone
        raise
    manifest = BackupManifest(
        backup_id=backup_id,
        cluster=cluster,
        kubernetes_version=kubernetes_version,
        started_at=started_at,
        finished_at=finished_at or (clock() if clock is not None else started_at),
        resource_counts=archive.counts,
        archive=ArchiveRef(
            key=bucket_layout.ARCHIVE_NAME, size=archive.size, sha256=archive.sha256
        ),
        warnings=list(warnings),
    )
    info = store.put_bytes(manifest_key, dump_manifest(manifest))
    return WrittenBackup(
        manifest=manifest, manifest_key=manifest_key, archive_key=archive_key, manifest_info=info
    )


class BackupInProgress(errors.Backup2GitopsError):
    """Another run holds the claim on this backup id."""

    code = "backup_in_progress"
    permanent = False


CLAIM_NAME = ".claim"
CLAIM_TTL = timedelta(hours=1)
"""A claim older than this is a crashed run's: another run takes it over, and retention
deletes an incomplete folder nothing was written to for as long."""


@contextlib.contextmanager
def claimed(
    store: ObjectStore,
    *,
    cluster: str,
    backup_id: str,
    owner: str,
    now: datetime,
    ttl: timedelta = CLAIM_TTL,
    prefix: str = "",
) -> Iterator[None]:
    """Hold ``backups/<cluster>/<id>/.claim`` while a backup is written (a conditional put, so
    two runs of the same backup cannot write at once). A claim older than ``ttl`` is a crashed
    run's and is taken over. The claim is removed when the block ends, however it ends."""
    folder = bucket_layout.native_backup_dir(prefix=prefix, cluster=cluster, backup_id=backup_id)
    key = f"{folder.rstrip('/')}/{CLAIM_NAME}"
    body = json.dumps({"owner": owner, "claimed_at": now.isoformat()}).encode()
    try:
        store.put_bytes(key, body, if_none_match=True)
    except PreconditionFailed:
        current = store.stat(key)
        held = json.loads(store.read_bytes(key)) if current else {}
        claimed_at = datetime.fromisoformat(held.get("claimed_at", now.isoformat()))
        if current is None or now - claimed_at < ttl:
            raise BackupInProgress(f"{key} is held by {held.get('owner', '?')}") from None
        store.put_bytes(key, body, if_match=current.etag)  # a stale claim: take it over
    try:
        yield
    finally:
        store.delete(key)
