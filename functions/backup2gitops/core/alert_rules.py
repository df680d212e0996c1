"""Alert rules: what each event alert-router reads raises or resolves.

Pure: no I/O, no SDK. ``effects`` turns alert-router's input (``core.alert_input``: an event's
attributes beside its data decoded once into the catalog model of its type) into the alerts it
fires and the identities it resolves (``core.alerts``: the alert itself).

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

import re
from dataclasses import dataclass
from datetime import timedelta

from backup2gitops.core import cloudevent, events
from backup2gitops.core.alert_input import Alerting, read
from backup2gitops.core.alerts import Alert, Severity, fingerprint
from backup2gitops.core.events import (
    BackupFailed,
    BackupStale,
    Event,
    GitopsDrifted,
    GitopsFailed,
    GitopsGenerated,
    HealthChanged,
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
    attrs.update({k: cloudevent.canonical_string(v) for k, v in event.extensions.items()})
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
    """``effects`` of an event not yet read (``read``): for callers holding the raw event."""
    return effects(read(event), notice_for=notice_for)


def effects(received: Alerting, *, notice_for: timedelta = DEFAULT_NOTICE) -> Effects:
    """The alerts an event fires and the identities it resolves (unknown types fire one alert).

    ``notice_for``: how long a one-time notice (a drift finding) stays firing.
    """
    event, data = received.event, received.data
    if data is None:  # the tick raises nothing
        return Effects()
    if isinstance(data, GitopsDrifted):
        return Effects(firing=drift_notices(event, data, notice_for=notice_for))
    if isinstance(data, BackupFailed):
        cluster = data.cluster or event.cluster or ""
        what = data.backup_id or data.key or "a backup"
        return Effects(
            firing=(
                _alert(
                    event,
                    alertname="BackupFailed",
                    cluster=cluster,
                    component="backup",
                    summary=f"backup {what} of {cluster or 'unknown cluster'} failed",
                    description=f"{data.code}: {data.message}",
                    backup_id=data.backup_id,
                ),
            )
        )
    if isinstance(data, GitopsFailed):
        cluster = data.cluster or event.cluster or ""
        return Effects(
            firing=(
                _alert(
                    event,
                    alertname="GitopsFailed",
                    cluster=cluster,
                    component="gitops",
                    summary=f"GitOps commit of backup {data.backup_id or '?'} failed "
                    f"for {cluster or 'unknown cluster'}",
                    description=f"{data.code}: {data.message}"
                    + (" (retried)" if data.retryable else ""),
                    backup_id=data.backup_id,
                ),
            )
        )
    if isinstance(data, BackupStale):
        if data.cause is not None:
            return Effects(firing=(stuck_alert(event, data),))
        last = data.last_backup_at.isoformat() if data.last_backup_at else "never"
        return Effects(
            firing=(
                _alert(
                    event,
                    alertname="BackupStale",
                    cluster=data.cluster,
                    component="backup",
                    summary=f"no fresh backup of {data.cluster} (max age {data.max_age})",
                    description=f"last completed backup: {last}",
                ),
            )
        )
    if isinstance(data, GitopsGenerated):
        c = data.cluster
        committed = () if data.noop else (_resolution(STUCK_ALERTNAME, c, "gitops"),)
        return Effects(
            resolves=(
                _resolution("GitopsFailed", c, "gitops"),
                _resolution("BackupFailed", c, "backup"),
                _resolution("BackupStale", c, "backup"),
                *committed,
            )
        )
    if isinstance(data, HealthChanged):
        return _health_effects(event, data)
    return Effects(
        firing=(
            _alert(
                event,
                alertname=_family(event.type),
                cluster=data.cluster or event.cluster or "",
                component=data.component or "event",
                summary=data.message or data.summary or event.type,
                description=event.subject or "",
            ),
        )
    )


def stuck_alert(event: Event, stale: BackupStale) -> Alert:
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


def drift_notices(
    event: Event, drifted: GitopsDrifted, *, notice_for: timedelta
) -> tuple[Alert, ...]:
    """One firing notice per finding, ending ``notice_for`` after the event (the commit's report).

    Labels: ``alertname`` GitOpsDrift, ``rule``, ``cluster``, ``object``, ``severity`` (the
    rule's), ``component`` drift; the commit and the summary are annotations, so a later commit
    with the same finding refreshes the same Alertmanager alert instead of adding one.
    """
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


def _health_effects(event: Event, changed: HealthChanged) -> Effects:
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
