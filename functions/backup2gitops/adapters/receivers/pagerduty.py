"""PagerDuty Events API v2: ``POST /v2/enqueue`` (202 Accepted).

``dedup_key`` is the alert's fingerprint (alertname + cluster + component), so the same
failure updates one incident and a recovery's ``resolve`` closes it. The routing key is a
credential: it comes from a ``SecretRef`` and is never logged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backup2gitops.adapters.receivers.base import WebReceiver, post_json, reveal
from backup2gitops.config.receivers import PAGERDUTY_EVENTS_URL as EVENTS_URL
from backup2gitops.config.receivers import PagerDutyReceiverConfig
from backup2gitops.core.alerts import Alert

_SEVERITY = {"critical": "critical", "error": "error", "warning": "warning", "info": "info"}


def to_event(alert: Alert, *, routing_key: str, source: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "resolve" if alert.status == "resolved" else "trigger",
        "dedup_key": alert.fingerprint,
    }
    if alert.status == "firing":
        body["payload"] = {
            "summary": alert.summary[:1024],
            "source": alert.labels.get("cluster") or source,
            "severity": _SEVERITY.get(alert.severity, "warning"),
            "timestamp": alert.starts_at.isoformat(),
            "component": alert.labels.get("component") or None,
            "group": alert.labels.get("cluster") or None,
            "class": alert.alertname,
            "custom_details": {**alert.labels, **alert.annotations, "event_id": alert.event_id},
        }
        body["client"] = "backup2gitops"
    return body


class PagerDutyReceiver(WebReceiver):
    def __init__(
        self,
        *,
        name: str,
        routing_key: str,
        url: str = EVENTS_URL,
        source: str = "backup2gitops",
        timeout_s: float = 10.0,
    ) -> None:
        super().__init__(name=name, url=url, timeout_s=timeout_s)
        self.routing_key = routing_key
        self.source = source

    @classmethod
    def from_config(
        cls, config: PagerDutyReceiverConfig, *, environ: Mapping[str, str]
    ) -> PagerDutyReceiver:
        return cls(
            name=config.name,
            routing_key=reveal(config.routing_key, environ, what="pagerduty routing key"),
            url=config.url,
            source=config.source,
            timeout_s=config.timeout_s,
        )

    def send(self, alert: Alert) -> None:
        post_json(
            self.session,
            self.url,
            payload=to_event(alert, routing_key=self.routing_key, source=self.source),
            timeout_s=self.timeout_s,
            service=f"pagerduty {self.name}",
            secrets=(self.routing_key,),
        )
