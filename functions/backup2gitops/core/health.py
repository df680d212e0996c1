"""Health of the flow: check results, their aggregate, what changed, freshness and GitOps lag.

Pure: no I/O, no SDK. The health-aggregator runs the checks and hands the results here.

- Overall status: ``unhealthy`` when a critical component is unhealthy; ``degraded`` when any
  component is degraded or a non-critical one is unhealthy; ``healthy`` otherwise.
- Freshness: the newest completed backup of a cluster older than its maximum age is stale
  (the component is ``degraded``; no backup at all is stale too).
- GitOps lag: zero when the newest ``Backup-Id`` trailer on the branch (or the last
  ``gitops.generated``, which covers no-op generations) names the cluster's newest completed
  backup; otherwise the time that backup has been waiting for its commit.
  Longer than the allowed lag is ``degraded``.
- The watchdog (``stuck``): from durable facts only -- the bucket's completion markers and the
  branch's trailers, never an event or a "generated" record -- a backup that landed (its
  marker's own last-modified time) and for longer than the allowed lag is neither named by a
  ``Backup-Id`` trailer nor refused with a delivered alert is stuck: the ``watchdog/<cluster>``
  component is critical and ``unhealthy``. A no-op never counts as progress.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from backup2gitops.core.events import ComponentHealth, HealthReported, HealthStatus, StuckCause

OVERALL = "overall"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: HealthStatus
    latency_ms: float = 0.0
    message: str = ""
    critical: bool = False


@dataclass(frozen=True)
class BackupMark:
    """The newest completed backup of a cluster."""

    cluster: str
    backup_id: str
    completed_at: datetime
    landed_at: datetime | None = None
    """When its completion marker landed: the object's own last-modified time (the storage's
    clock, not the producer's claim); None: ``completed_at`` is that time."""

    @property
    def landed(self) -> datetime:
        return self.landed_at or self.completed_at


@dataclass(frozen=True)
class CommitMark:
    """The newest commit on the branch carrying a cluster's ``Backup-Id`` trailer."""

    cluster: str
    backup_id: str
    commit: str
    committed_at: datetime


@dataclass(frozen=True)
class ClusterFacts:
    cluster: str
    last_backup: BackupMark | None
    last_commit: CommitMark | None
    lag_s: float | None
    stale: bool
    max_age: timedelta
    stuck: Stuck | None = None


@dataclass(frozen=True)
class GeneratedMark:
    """What gitops-generator last said of a cluster (``gitops.generated``): only a hint for the
    cause of a stall, never progress."""

    backup_id: str
    noop: bool
    reason: str | None = None
    """Why a no-op made no commit (e.g. older than the tip); None: unchanged, or a redelivery."""


@dataclass(frozen=True)
class Stuck:
    """A landed backup the branch does not name, past the allowed lag, with no refusal alert."""

    cluster: str
    backup_id: str
    landed_at: datetime
    waiting_s: float
    cause: StuckCause
    last_committed: CommitMark | None

    @property
    def message(self) -> str:
        tip = self.last_committed.backup_id if self.last_committed else "nothing"
        why = {
            "skipped": "the generator skipped it as a no-op",
            "not_generated": "no generation of it was reported (event lost, or generator held)",
            "not_on_branch": "reported generated, yet no commit names it",
        }[self.cause]
        return (
            f"backup {self.backup_id} landed {self.waiting_s:.0f}s ago and is not committed "
            f"({why}); the branch names {tip}"
        )


def aggregate(results: Iterable[CheckResult]) -> HealthStatus:
    status: HealthStatus = "healthy"
    for result in results:
        if result.status == "unhealthy" and result.critical:
            return "unhealthy"
        if result.status != "healthy":
            status = "degraded"
    return status


def build_report(results: Iterable[CheckResult], *, checked_at: datetime) -> HealthReported:
    listed = sorted(results, key=lambda r: r.name)
    return HealthReported(
        status=aggregate(listed),
        checked_at=checked_at,
        components={
            r.name: ComponentHealth(
                status=r.status, latency_ms=round(r.latency_ms, 1), message=r.message
            )
            for r in listed
        },
    )


def changed_components(previous: HealthReported | None, current: HealthReported) -> list[str]:
    """Components whose status differs (appeared and vanished ones included), sorted."""
    before = previous.components if previous else {}
    names = set(before) | set(current.components)
    changed = []
    for name in sorted(names):
        old, new = before.get(name), current.components.get(name)
        if old is None or new is None or old.status != new.status:
            changed.append(name)
    return changed


def has_changed(previous: HealthReported | None, current: HealthReported) -> bool:
    if previous is None or previous.status != current.status:
        return True
    return bool(changed_components(previous, current))


def duration_iso(value: timedelta) -> str:
    """An ISO-8601 duration (``PT26H``, ``P2D``, ``PT1H30M``) for ``backup.stale``'s ``max_age``."""
    seconds = int(value.total_seconds())
    if seconds and seconds % 86_400 == 0:
        return f"P{seconds // 86_400}D"
    hours, seconds = divmod(seconds, 3_600)
    minutes, seconds = divmod(seconds, 60)
    time = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    return f"PT{time or '0S'}"


def freshness(
    *, cluster: str, newest: BackupMark | None, max_age: timedelta, now: datetime
) -> CheckResult:
    name = f"freshness/{cluster}"
    if newest is None:
        return CheckResult(name, "degraded", message="no completed backup found")
    age = now - newest.completed_at
    hours = age.total_seconds() / 3600
    if age > max_age:
        return CheckResult(
            name,
            "degraded",
            message=f"stale: newest backup {newest.backup_id} is {hours:.1f}h old "
            f"(max {duration_iso(max_age)})",
        )
    return CheckResult(
        name, "healthy", message=f"newest backup {newest.backup_id}, {hours:.1f}h old"
    )


def lag_seconds(
    *, newest: BackupMark | None, commit: CommitMark | None, now: datetime
) -> float | None:
    if newest is None:
        return None
    if commit is not None and commit.backup_id == newest.backup_id:
        return 0.0
    return max(0.0, (now - newest.completed_at).total_seconds())


def best_commit(newest: BackupMark | None, *candidates: CommitMark | None) -> CommitMark | None:
    """The mark that shows the cluster's progress: one naming the newest backup, else the latest.

    Candidates are the newest ``Backup-Id`` trailer on the branch and the last ``gitops.generated``
    seen (a no-op generation commits nothing, so the trailer alone would show a growing lag).
    """
    found = [c for c in candidates if c is not None]
    for mark in found:
        if newest is not None and mark.backup_id == newest.backup_id:
            return mark
    return max(found, key=lambda c: c.committed_at, default=None)


def gitops_lag(
    *,
    cluster: str,
    newest: BackupMark | None,
    commit: CommitMark | None,
    max_lag: timedelta,
    now: datetime,
) -> tuple[CheckResult, float | None]:
    name = f"gitops-lag/{cluster}"
    lag = lag_seconds(newest=newest, commit=commit, now=now)
    if lag is None:
        return CheckResult(name, "healthy", message="no backup to commit yet"), None
    if lag > max_lag.total_seconds():
        waiting = newest.backup_id if newest else "?"
        return (
            CheckResult(name, "degraded", message=f"backup {waiting} not committed for {lag:.0f}s"),
            lag,
        )
    where = f"at {commit.commit[:12]}" if commit else "pending"
    return CheckResult(name, "healthy", message=f"lag {lag:.0f}s, {where}"), lag


def cluster_facts(
    *,
    cluster: str,
    newest: BackupMark | None,
    commit: CommitMark | None,
    max_age: timedelta,
    now: datetime,
) -> ClusterFacts:
    stale = newest is None or now - newest.completed_at > max_age
    return ClusterFacts(
        cluster=cluster,
        last_backup=newest,
        last_commit=commit,
        lag_s=lag_seconds(newest=newest, commit=commit, now=now),
        stale=stale,
        max_age=max_age,
    )


def stuck(
    *,
    newest: BackupMark | None,
    on_branch: CommitMark | None,
    refused: bool,
    generated: GeneratedMark | None,
    max_lag: timedelta,
    now: datetime,
    unchanged_is_progress: bool = False,
) -> Stuck | None:
    """The watchdog's verdict on a cluster's newest landed backup (``newest``) against the
    newest ``Backup-Id`` trailer of the cluster on the branch (``on_branch``).

    Not stuck: nothing landed, a commit names it, it was refused with a delivered alert
    (``refused``, alert-router's durable record), or it landed at most ``max_lag`` ago.
    ``generated`` (the generator's last word) only names the cause -- except with
    ``unchanged_is_progress`` (``generator.record_unchanged: false``: an unchanged backup makes
    no commit), where a no-op without a reason (unchanged) of this very backup is progress.
    """
    if newest is None or refused:
        return None
    if (
        unchanged_is_progress
        and generated is not None
        and generated.backup_id == newest.backup_id
        and generated.noop
        and not generated.reason
    ):
        return None
    if on_branch is not None and on_branch.backup_id == newest.backup_id:
        return None
    waiting = (now - newest.landed).total_seconds()
    if waiting <= max_lag.total_seconds():
        return None
    cause: StuckCause = "not_generated"
    if generated is not None and generated.backup_id == newest.backup_id:
        cause = "skipped" if generated.noop else "not_on_branch"
    return Stuck(
        cluster=newest.cluster,
        backup_id=newest.backup_id,
        landed_at=newest.landed,
        waiting_s=waiting,
        cause=cause,
        last_committed=on_branch,
    )


def watchdog(
    *,
    cluster: str,
    newest: BackupMark | None,
    on_branch: CommitMark | None,
    refused: bool,
    verdict: Stuck | None,
    max_lag: timedelta,
) -> CheckResult:
    """The ``watchdog/<cluster>`` component: critical, ``unhealthy`` while a backup is stuck."""
    name = f"watchdog/{cluster}"
    if verdict is not None:
        return CheckResult(name, "unhealthy", message=verdict.message, critical=True)
    if newest is None:
        message = "no backup landed yet"
    elif on_branch is not None and on_branch.backup_id == newest.backup_id:
        message = f"backup {newest.backup_id} committed at {on_branch.commit[:12]}"
    elif refused:
        message = f"backup {newest.backup_id} refused with a delivered alert"
    else:
        message = f"backup {newest.backup_id} waiting for its commit (max {duration_iso(max_lag)})"
    return CheckResult(name, "healthy", message=message, critical=True)
