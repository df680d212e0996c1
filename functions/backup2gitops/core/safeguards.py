"""The guards a commit must pass: the branch never goes back in time, and never loses a cluster.

PURE: no I/O. ``gitops-generator`` asks these questions on the remote's tip at push time (after
every fetch-rebase of a lost race), with what the commit trailers of that tip say.

Order of backups: by completion time (``created_at`` of ``backup.completed``: the manifest's
``finished_at``, Velero's ``completionTimestamp``), then by backup id. Completion time is what
both formats record and what the event carries; backup ids are free-form names (Velero's are
chosen by people and schedules) with no order of their own, so they only break ties, which makes
the order total: every generator process reaches the same verdict on the same pair.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from backup2gitops.core.trailers import BackupCommit, format_created_at


class BackupMark(NamedTuple):
    """A backup's place in time: what a commit's trailers say about the backup it reflects."""

    backup_id: str
    created_at: datetime

    @property
    def key(self) -> tuple[datetime, str]:
        return (self.created_at.astimezone(UTC), self.backup_id)


def commit_of(history: Iterable[BackupCommit], *, backup_id: str, cluster: str) -> str | None:
    """The commit of ``history`` that already stands for this backup of this cluster, if any."""
    for found in history:
        if found.trailers.backup_id == backup_id and found.trailers.cluster == cluster:
            return found.commit
    return None


def newest_mark(history: Iterable[BackupCommit], *, cluster: str) -> tuple[str, BackupMark] | None:
    """The newest commit of ``history`` (newest first) for ``cluster`` and the backup it
    reflects; None when there is none, or when it carries no completion time (made before
    ``Backup-Created-At`` existed: no order to keep)."""
    for found in history:
        if found.trailers.cluster != cluster:
            continue
        if found.trailers.created_at is None:
            return None
        return found.commit, BackupMark(found.trailers.backup_id, found.trailers.created_at)
    return None


def clock_skew(
    *, created_at: datetime, marker_modified: datetime, tolerance: timedelta
) -> str | None:
    """Why a backup claiming completion at ``created_at`` cannot be believed, or None: the
    storage stamped its completion marker at ``marker_modified``, and a backup cannot have
    completed (more than ``tolerance``) after its marker was written."""
    if created_at.astimezone(UTC) <= marker_modified.astimezone(UTC) + tolerance:
        return None
    return (
        f"the backup says it completed {format_created_at(created_at)}, after its completion "
        f"marker was stored ({format_created_at(marker_modified)}, tolerance "
        f"{tolerance.total_seconds():g} s): the producer's clock is wrong or the event lies"
    )


def superseded_by(candidate: BackupMark, current: BackupMark | None) -> str | None:
    """Why ``candidate`` must not be committed over the branch's ``current`` backup, or None.

    Only an older backup is refused; the same backup is the duplicate case (handled before).
    """
    if current is None or current.backup_id == candidate.backup_id:
        return None
    if candidate.key < current.key:
        return (
            f"older than the backup the branch reflects: {candidate.backup_id} completed "
            f"{format_created_at(candidate.created_at)}, the branch has {current.backup_id} "
            f"completed {format_created_at(current.created_at)}"
        )
    return None


class DeletionGuard(NamedTuple):
    """A commit may remove at most ``max_share`` of a cluster's objects, unless the backup is
    confirmed complete (the producer's count and the archive's count both known and agreeing)."""

    max_share: float = 0.5

    def refusal(self, *, before: int, removed: int, confirmed_complete: bool) -> str | None:
        """Why this deletion must not be committed, or None."""
        if before == 0 or removed <= before * self.max_share or confirmed_complete:
            return None
        return (
            f"the commit would remove {removed} of the cluster's {before} objects "
            f"(more than {self.max_share:.0%}) and the backup is not confirmed complete"
        )


def count_refusal(*, read: int, claimed: int | None) -> str | None:
    """Why an archive that holds ``read`` items cannot stand for a backup claiming ``claimed``.

    An empty archive whose backup says it is empty (an empty cluster: everything in it is the
    cluster's own) stands; what it would delete is left to the deletion-share guard.
    """
    if read == 0 and claimed == 0:
        return None
    if read == 0:
        claim = f" (the backup claims {claimed})" if claimed is not None else ""
        return f"the archive holds no items{claim}"
    if claimed is not None and read < claimed:
        return f"the archive holds {read} items, the backup claims {claimed}"
    return None
