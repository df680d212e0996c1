"""The configuration of the functions on the backup side: what backup-complete accepts
(``backup_complete``), what cluster-backup reads (``cluster_backup``) and how long the native
backups it writes are kept (``backups``).

One strict section per part of the file; the root ``Config`` is ``config.model``'s.
"""

from datetime import timedelta
from pathlib import Path

from pydantic import Field

from backup2gitops.config.types import SecretRef, Strict
from backup2gitops.core.cleaning.policy import Entries, SelectorText
from backup2gitops.core.model_defaults import empty_list
from backup2gitops.core.retention_plan import KeepPolicy


class BackupsConfig(Strict):
    """What happens to native backups once written (``core.retention_plan``)."""

    keep: KeepPolicy = Field(
        default_factory=KeepPolicy.model_construct,
        description="retention per cluster, applied by cluster-backup after each successful "
        "backup: count (newest N) and/or max_age; the newest complete backup always stays, "
        "Velero's backups are never touched; unset: keep everything",
    )


class BackupCompleteConfig(Strict):
    webhook_token: SecretRef = SecretRef.model_construct(env="BACKUP2GITOPS_WEBHOOK_TOKEN")
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
    exclude_namespaces: list[str] = Field(default_factory=empty_list)
    include_resources: Entries = Field(
        default_factory=empty_list,
        description="resource or resource.group (deployments, deployments.apps); empty: all",
    )
    exclude_resources: Entries = Field(default_factory=empty_list)
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
