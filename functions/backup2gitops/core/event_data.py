"""The data of every event type, by flow: a backup requested, completed, failed or stale
(``backup.*``, and a schedule's ``Tick``), a commit generated, failed or drifted
(``gitops.*``), health reported or changed (``health.*``).

Pure: pydantic models only. These are the contract other systems rely on; the catalog
(``core.events.CATALOG``) names each type's model, ``backup2gitops schemas`` writes their JSON
Schemas into ``schemas/`` and a test fails when those files are stale.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from backup2gitops.core import bucket_layout


class EventData(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Tick(BaseModel):
    """A PingSource tick's data (or an EventBridge schedule's input): whatever its spec says;
    only a ``cluster`` string is read (cluster-backup), the rest is kept as it came."""

    model_config = ConfigDict(extra="allow", frozen=True)

    cluster: str | None = None


class BackupRequested(EventData):
    cluster: str | None = None
    reason: str = "requested"


class BackupCompleted(EventData):
    backup_id: str = Field(
        pattern=bucket_layout.NAME_PATTERN,
        max_length=253,
        description="a DNS-1123 subdomain, no '..'",
    )
    cluster: str = Field(pattern=bucket_layout.CLUSTER_PATTERN, description="a DNS-1123 label")
    format: Literal["native", "velero"]
    bucket: str
    keys: list[str] = Field(
        description="object keys of the backup: the marker first, then the archive"
    )
    size: int = Field(ge=0, description="archive size in bytes")
    sha256: str | None = Field(
        default=None, description="archive checksum; Velero backups have none"
    )
    resource_count: int = Field(ge=0, description="objects the producer says it wrote")
    created_at: datetime = Field(
        description="completion time; orders backups (with backup_id as tie-break) on the branch"
    )
    kubernetes_version: str | None = None
    complete: bool = Field(
        default=False,
        description="the producer vouches nothing is missing and the archive holds at least "
        "resource_count items (native: always; Velero: phase Completed and itemsBackedUp == "
        "totalItems). Only then may a commit remove most of a cluster's objects",
    )

    @field_validator("backup_id")
    @classmethod
    def _no_double_dot(cls, value: str) -> str:
        return bucket_layout.validate_name(value, what="backup id")


class BackupFailed(EventData):
    cluster: str | None = None
    backup_id: str | None = None
    key: str | None = None
    code: str
    message: str


MAX_EXCLUSION_REASONS = 50
MAX_REASON_CHARS = 200
OTHER_REASONS = "(other reasons)"


def capped_reasons(counts: dict[str, int]) -> dict[str, int]:
    """``counts`` as an event carries it: each reason cut to ``MAX_REASON_CHARS``, the
    ``MAX_EXCLUSION_REASONS - 1`` largest kept and the rest summed under ``OTHER_REASONS``.

    Cleaning names one reason per rule, but a few rules name what they match (a namespace not
    included, the GitOps tool object that owns what is excluded): bounded by the cluster's
    shape, not by this event. EventBridge refuses an entry over 256 KiB; this keeps the map
    under ~12 KiB whatever the backup (issue 23 item 5)."""
    merged: dict[str, int] = {}
    for reason, count in counts.items():
        key = reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 3] + "..."
        merged[key] = merged.get(key, 0) + count
    if len(merged) <= MAX_EXCLUSION_REASONS:
        return merged
    ranked = sorted(merged.items(), key=lambda item: (-item[1], item[0]))
    kept = dict(ranked[: MAX_EXCLUSION_REASONS - 1])
    kept[OTHER_REASONS] = kept.get(OTHER_REASONS, 0) + sum(
        n for _, n in ranked[MAX_EXCLUSION_REASONS - 1 :]
    )
    return kept


class GitopsGenerated(EventData):
    backup_id: str
    cluster: str
    repository: str = Field(description="the remote, with any credentials removed")
    branch: str
    commit: str
    added: int = 0
    changed: int = 0
    removed: int = 0
    excluded: int = 0
    excluded_by_reason: dict[str, int] = Field(
        default_factory=dict,
        description="why objects were left out: reason (one per rule) -> count; at most "
        f"{MAX_EXCLUSION_REASONS} reasons of at most {MAX_REASON_CHARS} characters, the rest "
        f"summed under {OTHER_REASONS!r}",
    )
    objects: int = 0
    duration_s: float = 0.0
    noop: bool = False
    reason: str | None = Field(
        default=None,
        description="why a no-op made no commit when it is not a redelivery: e.g. the backup is "
        "older than the one the branch reflects (skipped, the folder is left as it is)",
    )
    review_url: str | None = Field(
        default=None, description="review mode: the pull/merge request for this backup's branch"
    )
    unmanaged: int | None = Field(
        default=None,
        description="objects in the backup's commit that no GitOps tool manages (no Flux, Argo "
        "CD or Helm ownership mark, no GitOps manager in managedFields): the things people "
        "changed by hand; null when not counted (a redelivered no-op)",
    )

    @field_validator("excluded_by_reason")
    @classmethod
    def _capped(cls, value: dict[str, int]) -> dict[str, int]:
        return capped_reasons(value)


class GitopsFailed(EventData):
    backup_id: str | None = None
    cluster: str | None = None
    code: str
    message: str
    retryable: bool


DriftSeverity = Literal["critical", "warning", "info"]


class DriftFinding(EventData):
    """One sensitive change between two commits of a cluster's folder (``core.drift``)."""

    kind: str
    namespace: str | None = Field(default=None, description="none for cluster-scoped objects")
    name: str
    rule: str = Field(
        description="the rule id in core.drift.RULES, e.g. rbac-cluster-admin-binding"
    )
    severity: DriftSeverity
    summary: str

    @property
    def object(self) -> str:
        """``Kind/namespace/name`` (``Kind/name`` when cluster-scoped): the alert's ``object``."""
        parts = [self.kind, self.namespace, self.name] if self.namespace else [self.kind, self.name]
        return "/".join(parts)


class GitopsDrifted(EventData):
    cluster: str
    backup_id: str
    commit: str = Field(description="the commit that made the changes")
    previous_commit: str = Field(description="its parent, the tree it is compared with")
    findings: list[DriftFinding] = Field(min_length=1)


HealthStatus = Literal["healthy", "degraded", "unhealthy"]


class ComponentHealth(EventData):
    status: HealthStatus
    latency_ms: float = 0.0
    message: str = ""


class HealthReported(EventData):
    status: HealthStatus
    checked_at: datetime
    components: dict[str, ComponentHealth]


class HealthChanged(EventData):
    previous: HealthStatus | Literal["unknown"]
    current: HealthStatus
    report: HealthReported
    changed_components: list[str] = Field(default_factory=list)


StuckCause = Literal["skipped", "not_generated", "not_on_branch"]
"""Why a landed backup is not on the branch (``backup.stale`` with ``cause``): ``skipped``: the
generator reported it as a no-op without a commit (e.g. "older than the backup the branch
reflects" after a future ``created_at``); ``not_generated``: no generation of it was heard of (the
event was lost, or the generator is still held, e.g. by a git remote that never answers);
``not_on_branch``: reported generated, yet no commit on the branch names it."""


class BackupStale(EventData):
    cluster: str
    last_backup_at: datetime | None
    max_age: str = Field(description="ISO-8601 duration, e.g. PT26H")
    age_s: float | None = None
    cause: StuckCause | None = Field(
        default=None,
        description="absent: no backup newer than max_age landed. Set: the watchdog -- a backup "
        "landed (completion marker in the bucket) and for longer than health.max_gitops_lag is "
        "neither named by a commit's Backup-Id trailer nor refused with a delivered alert; "
        "max_age is then that lag, age_s how long it waited",
    )
    backup_id: str | None = Field(
        default=None, description="watchdog: the landed backup that is not committed"
    )
    landed_at: datetime | None = Field(
        default=None, description="watchdog: its completion marker's last-modified time"
    )
    last_committed_backup_id: str | None = Field(
        default=None, description="watchdog: the backup the branch's newest trailer names"
    )
