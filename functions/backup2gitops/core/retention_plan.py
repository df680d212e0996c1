"""Which native backups of one cluster retention deletes: ``backups.keep`` (count and/or age).

PURE: no I/O. The shell (``backup2gitops.retention``) lists the cluster's folder, reads each
completion marker's ``finished_at`` and deletes what ``plan`` names, marker first.

Rules, for one cluster, applied by cluster-backup after a successful backup:

- A backup is *complete* when its ``manifest.json`` (the completion marker, written LAST) is
  there and readable; its time is the manifest's ``finished_at``. Newest first by that time
  (ties by backup id), a complete backup is deleted when it is not among the newest ``count``,
  or when it finished more than ``max_age`` before now. Both limits apply when both are set.
- The newest complete backup is never deleted, whatever the limits say (``max_age`` shorter
  than the backup interval must not leave a cluster with no backup at all).
- A complete backup whose marker cannot be read is kept and not counted (what cannot be read
  is never deleted).
- An *incomplete* folder (objects, no marker) is a failed attempt or a deletion that stopped
  half-way; it is deleted once nothing in it was written for ``grace`` (the claim's lifetime,
  ``backups.CLAIM_TTL``: a writer that still holds its claim is never disturbed).
- Nothing is deleted when neither limit is set: retention is opt-in.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator

from backup2gitops.core.durations import Duration

__all__ = ["Doomed", "KeepPolicy", "StoredBackup", "plan"]


class KeepPolicy(BaseModel):
    """How many complete backups of a cluster to keep, and for how long."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    count: int | None = Field(
        default=None, ge=1, description="keep at most this many complete backups (newest first)"
    )
    max_age: Duration | None = Field(
        default=None, description="delete complete backups that finished longer ago (P30D)"
    )

    @field_validator("max_age")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be positive")
        return value

    @property
    def enabled(self) -> bool:
        return self.count is not None or self.max_age is not None


class StoredBackup(NamedTuple):
    """One folder ``backups/<cluster>/<backup-id>/`` as the listing and its marker show it."""

    backup_id: str
    complete: bool
    """The marker is there."""
    finished_at: datetime | None
    """The marker's ``finished_at``; None when there is no marker or it cannot be read."""
    last_written: datetime
    """The newest ``last_modified`` of the folder's objects."""


class Doomed(NamedTuple):
    backup_id: str
    reason: str


def plan(
    backups: Iterable[StoredBackup], *, keep: KeepPolicy, now: datetime, grace: timedelta
) -> list[Doomed]:
    """The backups to delete, oldest complete ones first, then the incomplete folders."""
    if not keep.enabled:
        return []
    stored = list(backups)
    dated = [b for b in stored if b.complete and b.finished_at is not None]
    dated.sort(key=lambda b: (b.finished_at, b.backup_id), reverse=True)
    doomed: list[Doomed] = []
    for rank, backup in enumerate(dated[1:], start=2):  # dated[0], the newest, always stays
        assert backup.finished_at is not None
        if keep.count is not None and rank > keep.count:
            doomed.append(Doomed(backup.backup_id, f"beyond the newest {keep.count}"))
        elif keep.max_age is not None and now - backup.finished_at > keep.max_age:
            doomed.append(Doomed(backup.backup_id, f"finished more than {keep.max_age} ago"))
    doomed.reverse()
    for backup in sorted(stored, key=lambda b: b.backup_id):
        if not backup.complete and now - backup.last_written > grace:
            doomed.append(Doomed(backup.backup_id, f"incomplete, untouched for over {grace}"))
    return doomed
