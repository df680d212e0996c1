"""Alerts: one alert, firing or resolved, its identity, and the refusal record it leaves.

Pure: no I/O, no SDK. What a catalog event raises or resolves is ``core.alert_rules``'s; which
receivers each alert goes to is ``core.routing``'s (the routing tree).

Alert identity (``fingerprint``, PagerDuty's ``dedup_key``) is alertname + cluster + component,
so the firing alert and its resolution share it. Severity is fixed per alertname (as with
Prometheus rules, a warning and a critical are two alerts), so Alertmanager's identity - the
whole label set - is stable too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from backup2gitops.core import bucket_layout

if TYPE_CHECKING:
    from backup2gitops.core.events import Event

AlertStatus = Literal["firing", "resolved"]
Severity = Literal["critical", "warning", "info"]

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
