"""The configuration of backups in the bucket: where they land (``storage``), which cluster each
came from (``clusters[]``), how long native ones are kept (``backups``), what reading one archive
may cost (``archive_limits``), what backup-complete accepts (``backup_complete``) and what
cluster-backup reads (``cluster_backup``).

One strict section per part of the file; the root ``Config`` is ``config.model``'s.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from backup2gitops.config.types import Duration, PlainUrl, SecretRef, Strict
from backup2gitops.core.archive import ArchiveLimits
from backup2gitops.core.cleaning.policy import Entries, SelectorText
from backup2gitops.core.retention_plan import KeepPolicy


class StorageConfig(Strict):
    url: PlainUrl = Field(
        default="file://./bucket",
        description="s3://bucket[/prefix] (MinIO or AWS S3) or file:///path (a directory)",
    )
    endpoint_url: PlainUrl | None = Field(
        default=None, description="e.g. http://minio.minio.svc:9000"
    )
    region: str | None = None
    verify_tls: bool = True
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    access_key: SecretRef = SecretRef(env="AWS_ACCESS_KEY_ID")
    secret_key: SecretRef = SecretRef(env="AWS_SECRET_ACCESS_KEY")
    health_url: PlainUrl | None = Field(
        default=None, description="MinIO only: base URL whose /minio/health/cluster is checked"
    )
    velero_buckets: list[str] = Field(
        default_factory=list,
        description="other buckets (Velero's) whose backups are read, never written: same "
        "endpoint and credentials; clusters[].velero_prefix maps them to clusters",
    )

    @field_validator("velero_buckets")
    @classmethod
    def _named_buckets(cls, buckets: list[str]) -> list[str]:
        return [b for b in buckets if b]  # "${VAR}" left empty: none

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not url.startswith(("s3://", "file://")):
            raise ValueError("must start with s3:// or file://")
        return url


class ClusterSource(Strict):
    """Maps where backups land to the cluster they came from (Velero backups do not say)."""

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    velero_prefix: str | None = Field(
        default=None, description='Velero backups under this prefix ("" for the bucket root)'
    )
    max_backup_age: Duration | None = Field(
        default=None, description="override of health.max_backup_age for this cluster"
    )
    keep: KeepPolicy | None = Field(
        default=None, description="override of backups.keep for this cluster's native backups"
    )


class BackupsConfig(Strict):
    """What happens to native backups once written (``core.retention_plan``)."""

    keep: KeepPolicy = Field(
        default_factory=KeepPolicy,
        description="retention per cluster, applied by cluster-backup after each successful "
        "backup: count (newest N) and/or max_age; the newest complete backup always stays, "
        "Velero's backups are never touched; unset: keep everything",
    )


class ArchiveLimitsConfig(Strict):
    """What reading one backup archive may cost (backup-complete and gitops-generator);
    enforced while streaming, a breach fails the backup (``archive_invalid``, not retried)."""

    max_entries: int = Field(default=500_000, ge=1, description="tar members (Velero: 2/object)")
    max_member_bytes: int = Field(default=8 * 1024 * 1024, ge=1, description="one member")
    max_total_bytes: int = Field(
        default=4 * 1024**3, ge=1, description="the whole tar stream, decompressed"
    )
    max_ratio: float = Field(
        default=200.0, gt=1, description="decompressed / compressed bytes (past 16 MiB out)"
    )

    def limits(self) -> ArchiveLimits:
        return ArchiveLimits(
            max_entries=self.max_entries,
            max_member_bytes=self.max_member_bytes,
            max_total_bytes=self.max_total_bytes,
            max_ratio=self.max_ratio,
        )


class BackupCompleteConfig(Strict):
    webhook_token: SecretRef = SecretRef(env="BACKUP2GITOPS_WEBHOOK_TOKEN")
    allow_unauthenticated: bool = Field(
        default=False,
        description="accept webhooks without a token when none is configured (demo only); "
        "otherwise backup-complete refuses to start without one",
    )
    supported_format_versions: list[str] = Field(default_factory=lambda: ["1"])
    clock_skew_tolerance: timedelta = Field(
        default=timedelta(minutes=5),
        description="a created_at (finished_at, completionTimestamp) later than the completion "
        "marker's own last-modified time plus this is refused (backup.failed clock_skew); "
        "gitops-generator applies the same tolerance (gitops.failed clock_skew)",
    )


class ClusterBackupConfig(Strict):
    """What cluster-backup reads and how (see backup2gitops/cluster_snapshot.py)."""

    cluster: str | None = None
    kubeconfig: Path | None = None
    context: str | None = None
    include_namespaces: list[str] = Field(
        default_factory=lambda: ["*"], description="globs over namespaces (and Namespace names)"
    )
    exclude_namespaces: list[str] = Field(default_factory=list)
    include_resources: Entries = Field(
        default_factory=list,
        description="resource or resource.group (deployments, deployments.apps); empty: all",
    )
    exclude_resources: Entries = Field(default_factory=list)
    label_selector: SelectorText | None = Field(
        default=None, description="kubectl syntax, e.g. app=web,tier!=cache"
    )
    include_secrets: bool = False
    default_exclusions: bool = Field(
        default=True,
        description="leave out Events, Leases, controllers' Endpoints, controller-owned Pods, ... "
        "(the cleaning package's built-in exclusions)",
    )
    page_size: int = Field(default=500, ge=1, le=10_000)
