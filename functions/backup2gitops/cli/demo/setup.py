"""``demo``'s setup: its configuration over a work directory, the local bare remote's working
copy, and the sample backup written into the directory that stands for the bucket."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backup2gitops.adapters.storage import FileStore, ObjectInfo
    from backup2gitops.config import Config


def demo_config(workdir: Path, base: Config | None = None) -> Config:
    """The demo's bucket, remote and sample cluster in ``workdir``; the rest from ``base``
    (``--config``), else the defaults."""
    from backup2gitops.config import (
        BackupCompleteConfig,
        ClusterSource,
        Config,
        GitConfig,
        StorageConfig,
    )
    from backup2gitops.sample import SAMPLE_CLUSTER

    git = base.git if base is not None else GitConfig()
    return (base or Config()).model_copy(
        update={
            "storage": StorageConfig(url=(workdir / "bucket").as_uri()),
            "git": git.model_copy(
                update={"url": str(workdir / "gitops.git"), "cache_dir": workdir / ".cache" / "git"}
            ),
            "clusters": [ClusterSource(name=SAMPLE_CLUSTER, velero_prefix="velero")],
            # the demo's webhook comes from this process, not from MinIO: no token is needed
            "backup_complete": BackupCompleteConfig(allow_unauthenticated=True),
        }
    )


UNAUTHENTICATED_NOTICE = (
    "backup-complete accepts webhooks without a token here "
    "(backup_complete.allow_unauthenticated: true; never in a deployment)"
)


LOCAL_GIT_TIMEOUT_S = 300.0
"""The demo's own git calls on local folders (a clone of the local remote, one commit's files)."""


def working_copy(remote: Path, clone: Path) -> Path:
    """A plain clone of the remote for the user to look at (refreshed on every run)."""
    if (clone / ".git").is_dir():
        command = ["git", "-C", str(clone), "pull", "--quiet", "--ff-only"]
    else:
        command = ["git", "clone", "--quiet", str(remote), str(clone)]
    # local paths only, but nothing waits without a deadline
    subprocess.run(command, check=True, timeout=LOCAL_GIT_TIMEOUT_S)
    return clone


def seed_sample(store: FileStore) -> tuple[str, ObjectInfo]:
    """The sample backup in the bucket (written once: archive first, manifest last)."""
    from backup2gitops.core import bucket_layout
    from backup2gitops.core import events as catalog
    from backup2gitops.native_backup_writer import write_native_backup
    from backup2gitops.sample import (
        SAMPLE_BACKUP_ID,
        SAMPLE_CLUSTER,
        SAMPLE_KUBERNETES_VERSION,
        iter_sample_items,
    )

    manifest_key = bucket_layout.native_manifest_key(
        prefix="", cluster=SAMPLE_CLUSTER, backup_id=SAMPLE_BACKUP_ID
    )
    info = store.stat(manifest_key)
    if info is None:
        info = write_native_backup(
            store,
            iter_sample_items(),
            cluster=SAMPLE_CLUSTER,
            backup_id=SAMPLE_BACKUP_ID,
            started_at=catalog.now(),
            kubernetes_version=SAMPLE_KUBERNETES_VERSION,
        ).manifest_info
    return manifest_key, info
