"""The configuration of where backups land and whose they are: the bucket and its credentials
(``storage``, Velero's buckets too), which cluster each backup came from (``clusters[]``), and
what reading one archive may cost (``archive_limits``).

One strict section per part of the file; the root ``Config`` is ``config.model``'s.
"""

from typing import Literal

from pydantic import Field, field_validator

from backup2gitops.config.types import Duration, PlainUrl, SecretRef, Strict
from backup2gitops.core.archive import ArchiveLimits
from backup2gitops.core.model_defaults import empty_list
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
    access_key: SecretRef = SecretRef.model_construct(env="AWS_ACCESS_KEY_ID")
    secret_key: SecretRef = SecretRef.model_construct(env="AWS_SECRET_ACCESS_KEY")
    health_url: PlainUrl | None = Field(
        default=None, description="MinIO only: base URL whose /minio/health/cluster is checked"
    )
    velero_buckets: list[str] = Field(
        default_factory=empty_list,
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
