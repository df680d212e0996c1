"""Retention (``backup2gitops.retention``) on the three store backends, s3:// on a real MinIO.

Backups are written by ``write_native_backup`` (what cluster-backup writes) with chosen
``finished_at`` times; the clock is injected, and where an age comes from the store itself
(an incomplete folder's objects) it is anchored to the store's own ``last_modified``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backup2gitops.adapters.storage import (
    ObjectStore,
    StorageError,
)
from backup2gitops.core.archive import BackupItem
from backup2gitops.core.retention_plan import KeepPolicy
from backup2gitops.native_backup_writer import CLAIM_TTL, write_native_backup
from backup2gitops.retention import apply_retention, stored_backups
from tests.e2e.servers import Minio
from tests.e2e.stores import minio_and_store_fixtures

pytestmark = pytest.mark.e2e

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
ITEM = BackupItem(
    group_resource="configmaps",
    namespace="shop",
    name="web",
    obj={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web", "namespace": "shop"}},
)


minio, store = minio_and_store_fixtures("retention", ["memory", "file", "s3"])


def backup(store: ObjectStore, cluster: str, days_ago: int) -> str:
    finished = NOW - timedelta(days=days_ago, hours=1)
    backup_id = finished.strftime("%Y%m%dt%H%M%Sz")
    write_native_backup(
        store,
        [ITEM],
        cluster=cluster,
        backup_id=backup_id,
        started_at=finished - timedelta(minutes=5),
        finished_at=finished,
    )
    return backup_id


def keys(store: ObjectStore) -> set[str]:
    return {info.key for info in store.list("")}


def velero_backup(store: ObjectStore, *, prefix: str, name: str) -> set[str]:
    base = f"{prefix}/backups/{name}" if prefix else f"backups/{name}"
    written = {
        f"{base}/velero-backup.json",
        f"{base}/{name}.tar.gz",
        f"{base}/{name}-logs.gz",
    }
    for key in written:
        store.put_bytes(key, b'{"status": {"phase": "Completed"}}')
    return written


def test_count_deletes_whole_old_backups_and_only_this_clusters(store: ObjectStore) -> None:
    prod = [backup(store, "prod", days) for days in range(4)]
    other = [backup(store, "staging", days) for days in range(4)]
    before = keys(store)

    report = apply_retention(store, cluster="prod", keep=KeepPolicy(count=2), now=NOW)

    assert [d.backup_id for d in report.deleted] == [prod[3], prod[2]]
    gone = {k for k in before if k.startswith("backups/prod/") and k.split("/")[2] in prod[2:]}
    assert len(gone) == 4  # resources.tar.gz and manifest.json of each
    assert keys(store) == before - gone
    assert {k.split("/")[2] for k in keys(store) if k.startswith("backups/staging/")} == set(other)


def test_max_age_keeps_the_newest_even_when_it_is_too_old(store: ObjectStore) -> None:
    old = [backup(store, "prod", days) for days in (10, 20)]
    report = apply_retention(
        store, cluster="prod", keep=KeepPolicy(max_age=timedelta(days=7)), now=NOW
    )
    assert [d.backup_id for d in report.deleted] == [old[1]]
    assert {k.split("/")[2] for k in keys(store)} == {old[0]}


def test_velero_backups_are_never_touched(store: ObjectStore) -> None:
    # Velero at the bucket root with a backup named like the cluster: backups/prod/<files>,
    # one level less than ours; and a Velero location "backups" whose keys have our depth.
    root = velero_backup(store, prefix="", name="prod")
    nested = velero_backup(store, prefix="backups", name="daily-1")
    mine = [backup(store, "prod", days) for days in range(3)]
    in_velero_location = [backup(store, "backups", days) for days in range(2)]
    report = apply_retention(
        store,
        cluster="prod",
        keep=KeepPolicy(count=1),
        now=NOW,
        velero_prefixes=["", "backups"],
    )
    assert [d.backup_id for d in report.deleted] == [mine[2], mine[1]]
    left = keys(store)
    assert root <= left and nested <= left
    # native backups of a cluster named "backups" sit in Velero location "backups"
    # (backups/backups/<name>/<file>): in Velero's shape there, so Velero's, and left alone
    before = keys(store)
    report = apply_retention(
        store, cluster="backups", keep=KeepPolicy(count=1), now=NOW, velero_prefixes=["backups"]
    )
    assert report.deleted == [] and len(in_velero_location) == 2
    assert keys(store) == before


class DeleteFailsAfter:
    """Wraps a store: the ``n``-th delete raises (a bucket that goes away mid-deletion)."""

    def __init__(self, store: ObjectStore, n: int) -> None:
        self.store = store
        self.left = n

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    def delete(self, key: str) -> None:
        self.left -= 1
        if self.left == 0:
            raise StorageError(f"S3 SlowDown on {key}")
        self.store.delete(key)


def test_a_half_deleted_backup_is_never_complete_and_the_next_run_finishes_it(
    store: ObjectStore,
) -> None:
    ids = [backup(store, "prod", days) for days in range(3)]
    failing = DeleteFailsAfter(store, n=2)  # the marker goes, the archive stays
    with pytest.raises(StorageError):
        apply_retention(failing, cluster="prod", keep=KeepPolicy(count=2), now=NOW)  # type: ignore[arg-type]
    found, _, _ = stored_backups(store, cluster="prod", velero_prefixes=())
    by_id = {b.backup_id: b for b in found}
    assert by_id[ids[2]].complete is False  # an archive alone: not a backup anyone reads
    assert keys(store) >= {f"backups/prod/{ids[2]}/resources.tar.gz"}
    assert f"backups/prod/{ids[2]}/manifest.json" not in keys(store)

    written = by_id[ids[2]].last_written  # the store's own time for the leftover
    soon = apply_retention(store, cluster="prod", keep=KeepPolicy(count=2), now=written + CLAIM_TTL)
    assert soon.deleted == []  # still within the claim's lifetime: maybe a writer's
    later = apply_retention(
        store,
        cluster="prod",
        keep=KeepPolicy(count=2),
        now=written + CLAIM_TTL + timedelta(seconds=1),
    )
    assert [d.backup_id for d in later.deleted] == [ids[2]]
    assert {k.split("/")[2] for k in keys(store)} == {ids[0], ids[1]}


def test_an_unreadable_marker_is_kept(store: ObjectStore) -> None:
    ids = [backup(store, "prod", days) for days in range(3)]
    store.put_bytes(f"backups/prod/{ids[2]}/manifest.json", b"not json")
    report = apply_retention(store, cluster="prod", keep=KeepPolicy(count=1), now=NOW)
    assert [d.backup_id for d in report.deleted] == [ids[1]]
    assert report.unreadable == [ids[2]]
    assert {k.split("/")[2] for k in keys(store)} == {ids[0], ids[2]}


def test_minio_accepts_template_yaml_lifecycle_rules(minio: Minio) -> None:
    """The BackupBucket's rules, as the S3 API takes them, on a real (versioned) MinIO bucket."""
    from samtranslator.yaml_helper import yaml_parse

    root = Path(__file__).resolve().parents[2]
    template = yaml_parse((root / "template.yaml").read_text())
    bucket = template["Resources"]["BackupBucket"]["Properties"]
    days = template["Parameters"]["NoncurrentVersionDays"]["Default"]
    rules = []
    for rule in bucket["LifecycleConfiguration"]["Rules"]:
        api: dict[str, object] = {
            "ID": rule["Id"],
            "Status": rule["Status"],
            "Filter": {"Prefix": rule.get("Prefix", "")},
        }
        if "NoncurrentVersionExpiration" in rule:
            api["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(days)}
        if "AbortIncompleteMultipartUpload" in rule:
            api["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
        if rule.get("ExpiredObjectDeleteMarker"):
            api["Expiration"] = {"ExpiredObjectDeleteMarker": True}
        if "ExpirationInDays" in rule:
            api["Expiration"] = {"Days": rule["ExpirationInDays"]}
        rules.append(api)
    s3 = minio.s3_client()
    s3.create_bucket(Bucket="lifecycle")
    s3.put_bucket_versioning(Bucket="lifecycle", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(
        Bucket="lifecycle", LifecycleConfiguration={"Rules": rules}
    )
    stored = s3.get_bucket_lifecycle_configuration(Bucket="lifecycle")["Rules"]
    by_id = {rule["ID"]: rule for rule in stored}
    assert by_id["delivery-records"]["Expiration"]["Days"] == 2
    assert by_id["delivery-records"]["Filter"]["Prefix"] == "state/idempotency/"
    assert by_id["noncurrent-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
