"""The status of the flow, as ``/status`` answers it: one model for the JSON, the page and the CLI.

Pure: no I/O. health-aggregator measures (``core.health``), reads the open alerts and the
recent drift notes from the bucket, and ``build`` turns all of it into a ``StatusReport``.
``/status`` dumps it as JSON, the status page (``core.status_page``) renders it as HTML and
``backup2gitops status`` prints it as a table, so none of them can show a fact the others lack,
and whatever is redacted is redacted once, here: the only URL in it is a forge's commit page
rebuilt from host and path (``core.forge``), never the remote as configured.

Ages are measured against the report's ``checked_at`` (the function's clock), never the
reader's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from backup2gitops.core import forge
from backup2gitops.core.alerts import Alert
from backup2gitops.core.events import GitopsDrifted, HealthReported, StuckCause
from backup2gitops.core.health import ClusterFacts, duration_iso


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LastBackup(_Model):
    id: str
    completed_at: datetime
    age_s: float = Field(description="checked_at - completed_at")


class LastCommit(_Model):
    commit: str
    backup_id: str
    committed_at: datetime
    url: str | None = Field(
        default=None, description="the commit's page when the remote is on a known forge"
    )


class OpenAlert(_Model):
    """A firing alert alert-router keeps open (``alerts.open_prefix``) until it is resolved."""

    alertname: str
    severity: str
    component: str = ""
    starts_at: datetime
    summary: str = ""


class DriftNote(_Model):
    """One finding of a ``gitops.drifted`` event, as health-aggregator remembers it."""

    commit: str
    backup_id: str
    at: datetime
    rule: str
    severity: str
    object: str = Field(description="Kind/namespace/name (Kind/name when cluster-scoped)")
    summary: str


class DriftNotes(_Model):
    """``state/drift/<cluster>.json``: the recent findings, newest first."""

    notes: list[DriftNote] = Field(default_factory=list)


class StuckBackup(_Model):
    """The watchdog's verdict (``core.health.stuck``): a landed backup not on the branch."""

    backup_id: str
    landed_at: datetime = Field(description="its completion marker's last-modified time")
    waiting_s: float
    cause: StuckCause
    message: str


class ClusterStatus(_Model):
    last_backup: LastBackup | None
    last_commit: LastCommit | None
    lag_s: float | None
    stale: bool
    stuck: StuckBackup | None = Field(
        default=None,
        description="a backup that landed and for longer than health.max_gitops_lag is neither "
        "committed nor refused with a delivered alert (the watchdog); null: none",
    )
    max_backup_age: str = Field(description="ISO 8601 duration")
    max_backup_age_s: float
    open_alerts: list[OpenAlert] = Field(default_factory=list)
    drift: list[DriftNote] = Field(
        default_factory=list, description="recent findings, newest first"
    )
    unmanaged: int | None = Field(
        default=None,
        description="objects of the last generated commit no GitOps tool manages (changed by "
        "hand); null: not reported yet",
    )


class StatusReport(HealthReported):
    """The health report plus, per cluster, what an operator looks at first."""

    clusters: dict[str, ClusterStatus] = Field(default_factory=dict)
    open_alerts: list[OpenAlert] = Field(
        default_factory=list, description="open alerts of no cluster (a component's health)"
    )


def open_alert(alert: Alert) -> OpenAlert:
    return OpenAlert(
        alertname=alert.alertname,
        severity=alert.severity,
        component=alert.labels.get("component", ""),
        starts_at=alert.starts_at,
        summary=alert.summary,
    )


def cluster_status(
    facts: ClusterFacts,
    *,
    checked_at: datetime,
    git_url: str,
    alerts: Sequence[OpenAlert] = (),
    drift: Sequence[DriftNote] = (),
    unmanaged: int | None = None,
) -> ClusterStatus:
    backup, commit = facts.last_backup, facts.last_commit
    return ClusterStatus(
        last_backup=LastBackup(
            id=backup.backup_id,
            completed_at=backup.completed_at,
            age_s=(checked_at - backup.completed_at).total_seconds(),
        )
        if backup
        else None,
        last_commit=LastCommit(
            commit=commit.commit,
            backup_id=commit.backup_id,
            committed_at=commit.committed_at,
            url=forge.commit_url(git_url, commit.commit),
        )
        if commit
        else None,
        lag_s=facts.lag_s,
        stale=facts.stale,
        stuck=StuckBackup(
            backup_id=facts.stuck.backup_id,
            landed_at=facts.stuck.landed_at,
            waiting_s=facts.stuck.waiting_s,
            cause=facts.stuck.cause,
            message=facts.stuck.message,
        )
        if facts.stuck
        else None,
        max_backup_age=duration_iso(facts.max_age),
        max_backup_age_s=facts.max_age.total_seconds(),
        open_alerts=sorted(alerts, key=lambda a: (a.starts_at, a.alertname)),
        drift=list(drift),
        unmanaged=unmanaged,
    )


def build(
    report: HealthReported,
    clusters: Iterable[ClusterFacts],
    *,
    git_url: str,
    alerts: Iterable[Alert] = (),
    drift: Mapping[str, Sequence[DriftNote]] | None = None,
    unmanaged: Mapping[str, int] | None = None,
) -> StatusReport:
    """The whole status: ``report``, each cluster's facts, its open alerts and drift notes.

    Only firing alerts count; an alert whose cluster is not measured here (an old cluster's)
    is listed with the flow-wide ones, so nothing open is hidden.
    """
    listed = list(clusters)
    names = {f.cluster for f in listed}
    per_cluster: dict[str, list[OpenAlert]] = {name: [] for name in names}
    general: list[OpenAlert] = []
    for alert in alerts:
        if alert.status != "firing":
            continue
        cluster = alert.labels.get("cluster", "")
        (per_cluster[cluster] if cluster in names else general).append(open_alert(alert))
    notes = drift or {}
    return StatusReport(
        **report.model_dump(),
        clusters={
            f.cluster: cluster_status(
                f,
                checked_at=report.checked_at,
                git_url=git_url,
                alerts=per_cluster[f.cluster],
                drift=notes.get(f.cluster, ()),
                unmanaged=(unmanaged or {}).get(f.cluster),
            )
            for f in sorted(listed, key=lambda f: f.cluster)
        },
        open_alerts=sorted(general, key=lambda a: (a.starts_at, a.alertname)),
    )


def remember_drift(
    notes: DriftNotes, drifted: GitopsDrifted, *, at: datetime, keep: int
) -> DriftNotes | None:
    """``notes`` with ``drifted``'s findings in front, at most ``keep``; None when they are
    already there (a redelivery of the same commit's event)."""
    if any(note.commit == drifted.commit for note in notes.notes):
        return None
    new = [
        DriftNote(
            commit=drifted.commit,
            backup_id=drifted.backup_id,
            at=at,
            rule=f.rule,
            severity=f.severity,
            object=f.object,
            summary=f.summary,
        )
        for f in drifted.findings
    ]
    return DriftNotes(notes=(new + notes.notes)[:keep])


def short_duration(seconds: float | None) -> str:
    """``93784`` -> ``1d2h3m``; short, for a table cell (``-`` when unknown). Rounded to the
    second first, so 7199.6 s (a listing's milliseconds) reads ``2h`` like the check's 2.0h."""
    if seconds is None:
        return "-"
    whole = round(max(seconds, 0))
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{days}d" if days else "",
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
    ]
    return "".join(parts) or f"{secs}s"
