"""Alerts: what a catalog event raises or resolves.

Pure: no I/O, no SDK. Turns a catalog event into the alerts it raises or resolves; which
receivers each goes to is ``core.routing``'s (the routing tree).

Alert identity (``fingerprint``, PagerDuty's ``dedup_key``) is alertname + cluster + component,
so the firing alert and its resolution share it. Severity is fixed per alertname (as with
Prometheus rules, a warning and a critical are two alerts), so Alertmanager's identity - the
whole label set - is stable too.

What resolves what (``backup.completed`` is deliberately not consumed: every completed backup
is followed by ``gitops.generated`` or ``gitops.failed``, and the router would otherwise see
every backup twice):

- ``gitops.generated`` for a cluster resolves its ``GitopsFailed``, ``BackupFailed`` and
  ``BackupStale``, and -- unless it is a no-op -- its ``BackupStuck`` (the watchdog's alert,
  ``backup.stale`` with a ``cause``);
- ``health.changed`` resolves ``ComponentUnhealthy`` / ``ComponentDegraded`` of every component
  that is healthy again (``overall`` included), and a ``freshness/<cluster>`` component back to
  healthy resolves that cluster's ``BackupStale``, a ``watchdog/<cluster>`` one its
  ``BackupStuck``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from backup2gitops.core import bucket_layout, events
from backup2gitops.core.events import Event

AlertStatus = Literal["firing", "resolved"]
Severity = Literal["critical", "warning", "info"]

CONSUMED_TYPES = (
    events.BACKUP_FAILED,
    events.GITOPS_FAILED,
    events.BACKUP_STALE,
    events.HEALTH_CHANGED,
    events.GITOPS_GENERATED,
    events.GITOPS_DRIFTED,
)
DRIFT_ALERTNAME = "GitOpsDrift"
STUCK_ALERTNAME = "BackupStuck"
DEFAULT_NOTICE = timedelta(hours=24)

SEVERITY: dict[str, Severity] = {
    "BackupFailed": "critical",
    "GitopsFailed": "critical",
    "BackupStale": "warning",
    "BackupStuck": "critical",
    "ComponentUnhealthy": "critical",
    "ComponentDegraded": "warning",
}


REFUSAL_ALERTNAMES = ("BackupFailed", "GitopsFailed")


def refused_backup(alert: Alert) -> tuple[str, str] | None:
    """(cluster, backup id) a firing failure alert refuses, when it names both."""
    cluster, backup_id = alert.labels.get("cluster", ""), alert.annotations.get("backup_id", "")
    if alert.status != "firing" or alert.alertname not in REFUSAL_ALERTNAMES:
        return None
    if not bucket_layout.is_cluster_name(cluster):
        return None
    try:
        bucket_layout.validate_name(backup_id, what="backup id")
    except bucket_layout.LayoutError:
        return None
    return cluster, backup_id


def refusal_key(prefix: str, cluster: str, backup_id: str) -> str:
    """Where alert-router records that a refused backup's alert reached a receiver (the
    watchdog's "refused with an alert", ``alerts.refusals_prefix``)."""
    base = prefix if prefix.endswith("/") else prefix + "/"
    return f"{base}{cluster}/{backup_id}"


def fingerprint(*, alertname: str, cluster: str, component: str, detail: str = "") -> str:
    """The stable identity of an alert: the same for its firing and its resolution.

    ``detail`` tells apart the notices of one cluster and component (a drift finding's rule and
    object); empty for every other alert, whose fingerprint is unchanged by it.
    """
    key = f"{alertname}\x1f{cluster}\x1f{component}" + (f"\x1f{detail}" if detail else "")
    return hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Alert:
    """One alert, firing or resolved, in the shape every receiver maps from."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    status: AlertStatus
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str = ""
    event_type: str = ""
    event_id: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def alertname(self) -> str:
        return self.labels["alertname"]

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "warning")

    @property
    def fingerprint(self) -> str:
        detail = "\x1f".join(self.labels[k] for k in ("rule", "object") if self.labels.get(k))
        return fingerprint(
            alertname=self.alertname,
            cluster=self.labels.get("cluster", ""),
            component=self.labels.get("component", ""),
            detail=detail,
        )

    @property
    def is_notice(self) -> bool:
        """A one-time notice: firing with its end already set; nothing resolves it but time."""
        return self.status == "firing" and self.ends_at is not None

    @property
    def summary(self) -> str:
        return self.annotations.get("summary", self.alertname)

    def match_attributes(self) -> dict[str, str]:
        """What routes match on: event attributes, then labels (labels win)."""
        return {**self.attributes, "status": self.status, **self.labels}

    def resolved(self, *, at: datetime, event: Event | None = None) -> Alert:
        """This alert's resolution: the same labels, ``ends_at`` set."""
        return Alert(
            labels=dict(self.labels),
            annotations={**self.annotations, "resolved_by": event.type if event else ""},
            status="resolved",
            starts_at=self.starts_at,
            ends_at=at,
            generator_url=self.generator_url,
            event_type=event.type if event else self.event_type,
            event_id=event.id if event else self.event_id,
            attributes=dict(self.attributes),  # routed like the alert it resolves
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "status": self.status,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "generator_url": self.generator_url,
            "event_type": self.event_type,
            "event_id": self.event_id,
            "attributes": dict(self.attributes),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Alert:
        ends = raw.get("ends_at")
        return cls(
            labels=dict(raw["labels"]),
            annotations=dict(raw.get("annotations", {})),
            status=raw.get("status", "firing"),
            starts_at=datetime.fromisoformat(raw["starts_at"]),
            ends_at=datetime.fromisoformat(ends) if ends else None,
            generator_url=raw.get("generator_url", ""),
            event_type=raw.get("event_type", ""),
            event_id=raw.get("event_id", ""),
            attributes=dict(raw.get("attributes", {})),
        )


@dataclass(frozen=True)
class Resolution:
    """An alert identity a recovery event resolves, if it is firing."""

    fingerprint: str
    alertname: str
    cluster: str
    component: str


@dataclass(frozen=True)
class Effects:
    """What one event does: alerts it fires, identities it resolves."""

    firing: tuple[Alert, ...] = ()
    resolves: tuple[Resolution, ...] = ()


def _attributes(event: Event) -> dict[str, str]:
    attrs = {"type": event.type, "source": event.source, "id": event.id}
    if event.subject:
        attrs["subject"] = event.subject
    if event.cluster:
        attrs["cluster"] = event.cluster
    attrs.update({k: events.canonical_string(v) for k, v in event.extensions.items()})
    return attrs


def _family(event_type: str) -> str:
    """``io.backup2gitops.backup.failed`` -> ``BackupFailed``."""
    tail = event_type.removeprefix(events.TYPE_PREFIX)
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[._-]", tail) if part)


def _resolution(alertname: str, cluster: str, component: str) -> Resolution:
    fp = fingerprint(alertname=alertname, cluster=cluster, component=component)
    return Resolution(fingerprint=fp, alertname=alertname, cluster=cluster, component=component)


def _alert(
    event: Event,
    *,
    alertname: str,
    cluster: str,
    component: str,
    summary: str,
    description: str,
    backup_id: str | None = None,
) -> Alert:
    severity = _attributes(event).get("severity") or SEVERITY.get(alertname, "warning")
    annotations = {"summary": summary, "description": description}
    if backup_id:  # a refusal: the watchdog's durable record names it (``refused_backup``)
        annotations["backup_id"] = backup_id
    return Alert(
        labels={
            "alertname": alertname,
            "cluster": cluster,
            "component": component,
            "severity": severity,
        },
        annotations=annotations,
        status="firing",
        starts_at=event.time or events.now(),
        generator_url=event.source,
        event_type=event.type,
        event_id=event.id,
        attributes=_attributes(event),
    )


def effects_of(event: Event, *, notice_for: timedelta = DEFAULT_NOTICE) -> Effects:
    """The alerts an event fires and the identities it resolves (unknown types fire one alert).

    ``notice_for``: how long a one-time notice (a drift finding) stays firing.
    """
    data: dict[str, Any] = event.data if isinstance(event.data, dict) else {}
    if event.type == events.GITOPS_DRIFTED:
        return Effects(firing=drift_notices(event, notice_for=notice_for))
    cluster = str(data.get("cluster") or event.cluster or "")
    if event.type == events.BACKUP_FAILED:
        failed = events.parse_data(event, events.BackupFailed)
        what = failed.backup_id or failed.key or "a backup"
        return Effects(
            firing=(
                _alert(
                    event,
                    alertname="BackupFailed",
                    cluster=cluster,
                    component="backup",
                    summary=f"backup {what} of {cluster or 'unknown cluster'} failed",
                    description=f"{failed.code}: {failed.message}",
                    backup_id=failed.backup_id,
                ),
            )
        )
    if event.type == events.GITOPS_FAILED:
        gfailed = events.parse_data(event, events.GitopsFailed)
        return Effects(
            firing=(
                _alert(
                    event,
                    alertname="GitopsFailed",
                    cluster=cluster,
                    component="gitops",
                    summary=f"GitOps commit of backup {gfailed.backup_id or '?'} failed "
                    f"for {cluster or 'unknown cluster'}",
                    description=f"{gfailed.code}: {gfailed.message}"
                    + (" (retried)" if gfailed.retryable else ""),
                    backup_id=gfailed.backup_id,
                ),
            )
        )
    if event.type == events.BACKUP_STALE:
        stale = events.parse_data(event, events.BackupStale)
        if stale.cause is not None:
            return Effects(firing=(stuck_alert(event, stale),))
        last = stale.last_backup_at.isoformat() if stale.last_backup_at else "never"
        return Effects(
            firing=(
                _alert(
                    event,
                    alertname="BackupStale",
                    cluster=stale.cluster,
                    component="backup",
                    summary=f"no fresh backup of {stale.cluster} (max age {stale.max_age})",
                    description=f"last completed backup: {last}",
                ),
            )
        )
    if event.type == events.GITOPS_GENERATED:
        generated = events.parse_data(event, events.GitopsGenerated)
        c = generated.cluster
        committed = () if generated.noop else (_resolution(STUCK_ALERTNAME, c, "gitops"),)
        return Effects(
            resolves=(
                _resolution("GitopsFailed", c, "gitops"),
                _resolution("BackupFailed", c, "backup"),
                _resolution("BackupStale", c, "backup"),
                *committed,
            )
        )
    if event.type == events.HEALTH_CHANGED:
        return _health_effects(event, events.parse_data(event, events.HealthChanged))
    return Effects(
        firing=(
            _alert(
                event,
                alertname=_family(event.type),
                cluster=cluster,
                component=str(data.get("component") or "event"),
                summary=str(data.get("message") or data.get("summary") or event.type),
                description=event.subject or "",
            ),
        )
    )


def stuck_alert(event: Event, stale: events.BackupStale) -> Alert:
    """The watchdog's ``BackupStuck`` (``backup.stale`` with a ``cause``)."""
    return _alert(
        event,
        alertname=STUCK_ALERTNAME,
        cluster=stale.cluster,
        component="gitops",
        summary=f"backup {stale.backup_id} of {stale.cluster} landed and is not committed "
        f"after {stale.max_age} ({stale.cause})",
        description=f"landed {stale.landed_at.isoformat() if stale.landed_at else '?'}; the "
        f"branch names {stale.last_committed_backup_id or 'no backup'} of the cluster",
    )


def drift_notices(event: Event, *, notice_for: timedelta) -> tuple[Alert, ...]:
    """One firing notice per finding, ending ``notice_for`` after the event (the commit's report).

    Labels: ``alertname`` GitOpsDrift, ``rule``, ``cluster``, ``object``, ``severity`` (the
    rule's), ``component`` drift; the commit and the summary are annotations, so a later commit
    with the same finding refreshes the same Alertmanager alert instead of adding one.
    """
    drifted = events.parse_data(event, events.GitopsDrifted)
    starts = event.time or events.now()
    notices = []
    for finding in drifted.findings:
        notices.append(
            Alert(
                labels={
                    "alertname": DRIFT_ALERTNAME,
                    "rule": finding.rule,
                    "cluster": drifted.cluster,
                    "object": finding.object,
                    "severity": finding.severity,
                    "component": "drift",
                },
                annotations={
                    "summary": finding.summary,
                    "description": f"commit {drifted.commit} (backup {drifted.backup_id}), "
                    f"compared with {drifted.previous_commit}",
                    "commit": drifted.commit,
                },
                status="firing",
                starts_at=starts,
                ends_at=starts + notice_for,
                generator_url=event.source,
                event_type=event.type,
                event_id=event.id,
                attributes=_attributes(event),
            )
        )
    return tuple(notices)


_HEALTH_ALERTS = (("ComponentUnhealthy", "unhealthy"), ("ComponentDegraded", "degraded"))


def _health_effects(event: Event, changed: events.HealthChanged) -> Effects:
    firing: list[Alert] = []
    resolves: list[Resolution] = []
    report = changed.report
    statuses = {"overall": (report.status, f"flow is {report.status}")}
    for name in changed.changed_components:
        if name in report.components:
            component = report.components[name]
            statuses[name] = (component.status, component.message)
        else:  # the component is gone: whatever it raised is over
            statuses[name] = ("healthy", "no longer checked")
    for name, (status, message) in statuses.items():
        for alertname, when in _HEALTH_ALERTS:
            if status == when:
                firing.append(
                    _alert(
                        event,
                        alertname=alertname,
                        cluster=event.cluster or "",
                        component=name,
                        summary=f"{name} is {status}",
                        description=message,
                    )
                )
            else:
                resolves.append(_resolution(alertname, event.cluster or "", name))
        if name.startswith("freshness/") and status == "healthy":
            resolves.append(_resolution("BackupStale", name.split("/", 1)[1], "backup"))
        if name.startswith("watchdog/") and status == "healthy":
            resolves.append(_resolution(STUCK_ALERTNAME, name.split("/", 1)[1], "gitops"))
    return Effects(firing=tuple(firing), resolves=tuple(resolves))
