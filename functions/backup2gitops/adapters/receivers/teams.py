"""Microsoft Teams through a Workflows webhook: a ``message`` with one Adaptive Card attachment.

The workflow URL carries a signature: it comes from a ``SecretRef`` and is never logged."""

from __future__ import annotations

from typing import Any

from backup2gitops.adapters.receivers.base import (
    MessageWebhookReceiver,
    headline,
    status_emoji,
)
from backup2gitops.core.alerts import Alert

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


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


class TeamsReceiver(MessageWebhookReceiver):
    service = "teams"
    to_message = staticmethod(to_message)
