"""Alertmanager: ``POST /api/v2/alerts`` with the alert's labels, so Alertmanager's grouping,
inhibition and silences apply. Identity is the label set: a resolution re-posts the same labels
with ``endsAt`` = now. A firing alert gets ``endsAt`` = now + ``firing_ttl_s`` (events are not
re-sent every few minutes like Prometheus rule evaluations, and without ``endsAt`` Alertmanager
would resolve it by itself after its ``resolve_timeout``). A one-time notice (``Alert.is_notice``,
drift findings) is sent with the ``endsAt`` it carries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from backup2gitops.adapters.receivers.base import WebReceiver, post_json, reveal
from backup2gitops.config.receivers import AlertmanagerReceiverConfig
from backup2gitops.core.alerts import Alert


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_postable(
    alert: Alert, *, now: datetime, firing_ttl_s: float, generator_url: str | None = None
) -> dict[str, Any]:
    """One element of the ``/api/v2/alerts`` body (``PostableAlert``)."""
    # A resolution ends now (or when it says); a one-time notice (drift) carries its own end.
    ends_at = (alert.ends_at or now) if alert.status == "resolved" else alert.ends_at
    if ends_at is None:
        ends_at = now + timedelta(seconds=firing_ttl_s)
    labels = {k: v for k, v in alert.labels.items() if v}  # empty means absent in Prometheus
    annotations = {k: v for k, v in alert.annotations.items() if v}
    annotations["event_type"] = alert.event_type
    return {
        "labels": labels,
        "annotations": annotations,
        "startsAt": _rfc3339(alert.starts_at),
        "endsAt": _rfc3339(ends_at),
        "generatorURL": generator_url or _absolute(alert.generator_url),
    }


def _absolute(url: str) -> str:
    return url if "://" in url else f"urn:backup2gitops:{url.strip('/').replace('/', ':')}"


class AlertmanagerReceiver(WebReceiver):
    repeat_firing = True

    def __init__(
        self,
        *,
        name: str,
        url: str,
        bearer_token: str | None = None,
        firing_ttl_s: float = 86_400.0,
        generator_url: str | None = None,
        timeout_s: float = 10.0,
        health_url: str | None = None,
    ) -> None:
        super().__init__(name=name, url=url.rstrip("/"), timeout_s=timeout_s, health_url=health_url)
        self.bearer_token = bearer_token
        self.firing_ttl_s = firing_ttl_s
        self.generator_url = generator_url

    @classmethod
    def from_config(
        cls, config: AlertmanagerReceiverConfig, *, environ: Mapping[str, str]
    ) -> AlertmanagerReceiver:
        url = reveal(config.url, environ, what="alertmanager url")
        return cls(
            name=config.name,
            url=url,
            bearer_token=reveal(config.bearer_token, environ, what="bearer token")
            if config.bearer_token
            else None,
            firing_ttl_s=config.firing_ttl_s,
            generator_url=config.generator_url,
            timeout_s=config.timeout_s,
            health_url=config.health_url,
        )

    def send(self, alert: Alert) -> None:
        body = [
            to_postable(
                alert,
                now=datetime.now(UTC),
                firing_ttl_s=self.firing_ttl_s,
                generator_url=self.generator_url,
            )
        ]
        headers = {"Authorization": f"Bearer {self.bearer_token}"} if self.bearer_token else {}
        post_json(
            self.session,
            f"{self.url}/api/v2/alerts",
            payload=body,
            headers=headers,
            timeout_s=self.timeout_s,
            service=f"alertmanager {self.name}",
        )
