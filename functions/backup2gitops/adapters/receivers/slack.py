"""Slack incoming webhook: ``{"text", "blocks"}`` (``text`` is the notification fallback).

The webhook URL is a credential: it comes from a ``SecretRef`` and is never logged."""

from __future__ import annotations

from typing import Any

from backup2gitops.adapters.receivers.base import (
    MessageWebhookReceiver,
    headline,
    status_emoji,
)
from backup2gitops.core.alerts import Alert


def to_message(alert: Alert) -> dict[str, Any]:
    fields = [
        {"type": "mrkdwn", "text": f"*{key}:*\n{value}"}
        for key, value in alert.labels.items()
        if value and key != "alertname"
    ]
    description = alert.annotations.get("description") or " "
    return {
        "text": f"{status_emoji(alert)} {headline(alert)}",
        "blocks": [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": f"{status_emoji(alert)} {alert.alertname} "
                    f"{'resolved' if alert.status == 'resolved' else 'firing'}"[:150],
                },
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": alert.summary[:3000]}},
            {"type": "section", "fields": fields[:10]},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": description[:3000]}],
            },
        ],
    }


class SlackReceiver(MessageWebhookReceiver):
    service = "slack"
    to_message = staticmethod(to_message)
