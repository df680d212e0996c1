"""Microsoft Teams through a Workflows webhook: a ``message`` with one Adaptive Card attachment.

The workflow URL carries a signature: it comes from a ``SecretRef`` and is never logged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from backup2gitops.adapters.receivers.base import (
    Settings,
    headline,
    post_json,
    reveal,
    settings,
    status_emoji,
)
from backup2gitops.config import ReceiverConfig, SecretRef
from backup2gitops.core.routing import Alert

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


class TeamsSettings(Settings):
    url: SecretRef


def to_message(alert: Alert) -> dict[str, Any]:
    color = (
        "Good"
        if alert.status == "resolved"
        else ("Attention" if alert.severity == "critical" else "Warning")
    )
    facts = [{"title": key, "value": value} for key, value in alert.labels.items() if value]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": f"{status_emoji(alert)} {headline(alert)}",
                "weight": "Bolder",
                "size": "Medium",
                "color": color,
                "wrap": True,
            },
            {
                "type": "TextBlock",
                "text": alert.annotations.get("description", ""),
                "wrap": True,
            },
            {"type": "FactSet", "facts": facts},
        ],
    }
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}],
    }


class TeamsReceiver:
    repeat_firing = False

    def __init__(self, *, name: str, url: str, timeout_s: float = 10.0) -> None:
        self.name = name
        self.url = url
        self.health_url: str | None = None
        self.timeout_s = timeout_s
        self.session = requests.Session()

    @classmethod
    def from_config(cls, config: ReceiverConfig, *, environ: Mapping[str, str]) -> TeamsReceiver:
        s = settings(config, TeamsSettings)
        return cls(
            name=config.name,
            url=reveal(s.url, environ, what="teams workflow url"),
            timeout_s=config.timeout_s,
        )

    def send(self, alert: Alert) -> None:
        post_json(
            self.session,
            self.url,
            payload=to_message(alert),
            timeout_s=self.timeout_s,
            service=f"teams {self.name}",
        )
