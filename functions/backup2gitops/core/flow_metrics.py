"""The flow's counts and the backup-to-commit latency, derived from durable facts.

PURE: no I/O. Functions are stateless and scale to zero, so a counter kept in a process would
start again at 0 with every instance. These figures are recomputed, whole, from what outlives
every process instead, and so they are the same whichever instance (or how many) answers:

- **the branch's commits** (gitops-generator's, each with ``Backup-Id``, ``Cluster`` and
  ``Backup-Created-At`` -- the backup's completion time -- trailers): one commit per backup
  generated; an empty commit (``generator.record_unchanged``) is a backup that changed nothing.
  The branch only moves forward (never force-pushed), so these counts never go down;
- **the bucket's completion markers** (``manifest.json`` of native backups): completed backups
  not generated yet;
- **alert-router's delivery records** (``core.delivery_records.DeliveryRecord``): each delivery's receiver
  and outcome, and -- one record per alert of an event -- the failures it was told of
  (``backup.failed`` -> ``BackupFailed``, ``gitops.failed`` -> ``GitopsFailed``).

A backup counts as completed once, whether the bucket still holds its marker or a commit names
it: a retention policy that deletes old backups does not lower the count of those generated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from backup2gitops.core.delivery_records import DeliveryRecord

LATENCY_BUCKETS_S: tuple[float, ...] = (
    10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400,
)  # fmt: skip
"""Upper bounds (seconds) of the backup-to-commit histogram: from a commit seconds after the
backup to one a day late (``+Inf`` above). The flow's target is minutes."""

CLUSTER_LABEL = "backup_cluster"
"""The label naming the backed-up cluster. Not ``cluster``: kube-prometheus-stack, Thanos and
most multi-cluster setups put an external label ``cluster`` (the Prometheus' own cluster) on
every series, which would overwrite ours (or be overwritten, with ``honor_labels``)."""

STATES: tuple[str, ...] = ("healthy", "degraded", "unhealthy")
"""The values of the ``state`` label: one series per state, 1 for the current one, 0 for the
others (kube-state-metrics' convention), instead of one series of 1 / 0.5 / 0."""


def state_series(current: str) -> dict[str, float]:
    """``{"healthy": 0.0, "degraded": 1.0, "unhealthy": 0.0}`` for ``degraded``."""
    if current not in STATES:
        raise ValueError(f"unknown state {current!r} (one of {', '.join(STATES)})")
    return {state: 1.0 if state == current else 0.0 for state in STATES}


def build_info_labels(*, version: str, python_version: str) -> dict[str, str]:
    """The labels of ``backup2gitops_build_info`` (value 1): what runs, for joins and upgrades."""
    return {"version": version, "python_version": python_version}


FAILURE_ALERTS = {"backup": "BackupFailed", "generation": "GitopsFailed"}
"""The alert alert-router raises for each failure event (``core.alert_rules``)."""


@dataclass(frozen=True)
class CommitFact:
    """One generator commit on the branch, as its trailers and its tree tell."""

    commit: str
    cluster: str
    backup_id: str
    committed_at: datetime
    backup_created_at: datetime | None
    """The ``Backup-Created-At`` trailer; None on commits made before it existed."""
    changed: bool
    """False for an empty commit (the backup changed nothing)."""


@dataclass(frozen=True)
class Histogram:
    """Cumulative bucket counts (``le`` -> observations at most that), as Prometheus wants."""

    buckets: tuple[tuple[float, int], ...]
    count: int
    sum: float


@dataclass(frozen=True)
class FlowCounts:
    backups_completed: dict[str, int] = field(default_factory=dict)
    backups_failed: dict[str, int] = field(default_factory=dict)
    generations: dict[str, int] = field(default_factory=dict)
    commits: dict[str, int] = field(default_factory=dict)
    generations_failed: dict[str, int] = field(default_factory=dict)
    deliveries: dict[tuple[str, str], int] = field(default_factory=dict)
    """(receiver, outcome) -> deliveries."""
    latency: dict[str, Histogram] = field(default_factory=dict)
    """cluster -> backup-to-commit seconds."""


def histogram(
    values: Iterable[float], *, bounds: tuple[float, ...] = LATENCY_BUCKETS_S
) -> Histogram:
    observed = sorted(values)
    cumulative = tuple((bound, sum(1 for v in observed if v <= bound)) for bound in bounds)
    return Histogram(buckets=cumulative, count=len(observed), sum=float(sum(observed)))


def backup_to_commit_s(fact: CommitFact) -> float | None:
    """Seconds from the backup's completion to its commit (0 when the clocks disagree)."""
    if fact.backup_created_at is None:
        return None
    return max(0.0, (fact.committed_at - fact.backup_created_at).total_seconds())


def _failures(deliveries: list[DeliveryRecord], alertname: str) -> dict[str, int]:
    """Failure events per cluster: one per distinct firing alert, whatever its receivers."""
    seen = {
        (d.cluster, d.delivery)
        for d in deliveries
        if d.alertname == alertname and d.status == "firing"
    }
    return dict(sorted(Counter(cluster for cluster, _ in seen).items()))


def flow_counts(
    *,
    commits: Iterable[CommitFact],
    completed: Iterable[tuple[str, str]],
    deliveries: Iterable[DeliveryRecord],
) -> FlowCounts:
    """The counts from the three kinds of facts; ``completed``: (cluster, backup id) pairs of the
    completion markers in the bucket."""
    facts = list(commits)
    records = list(deliveries)
    done = set(completed) | {(f.cluster, f.backup_id) for f in facts}
    latencies: dict[str, list[float]] = {}
    for fact in facts:
        seconds = backup_to_commit_s(fact)
        if seconds is not None:
            latencies.setdefault(fact.cluster, []).append(seconds)
    return FlowCounts(
        backups_completed=dict(sorted(Counter(cluster for cluster, _ in done).items())),
        backups_failed=_failures(records, FAILURE_ALERTS["backup"]),
        generations=dict(sorted(Counter(f.cluster for f in facts).items())),
        commits=dict(sorted(Counter(f.cluster for f in facts if f.changed).items())),
        generations_failed=_failures(records, FAILURE_ALERTS["generation"]),
        deliveries=dict(sorted(Counter((d.receiver, d.outcome) for d in records).items())),
        latency={c: histogram(v) for c, v in sorted(latencies.items())},
    )
