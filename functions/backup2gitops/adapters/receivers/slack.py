"""Slack incoming webhook: ``{"text", "blocks"}`` (``text`` is the notification fallback).

The webhook URL is a credential: it comes from a ``SecretRef`` and is never logged."""

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


class SlackSettings(Settings):
    url: SecretRef


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


class SlackReceiver:
    repeat_firing = False

    def __init__(self, *, name: str, url: str, timeout_s: float = 10.0) -> None:
        self.name = name
        self.url = url
        self.health_url: str | None = None
        self.timeout_s = timeout_s
        self.session = requests.Session()

    @classmethod
    def from_config(cls, config: ReceiverConfig, *, environ: Mapping[str, str]) -> SlackReceiver:
        s = settings(config, SlackSettings)
        url = reveal(s.url, environ, what="slack webhook url")
        return cls(name=config.name, url=url, timeout_s=config.timeout_s)

    def send(self, alert: Alert) -> None:
        post_json(
            self.session,
            self.url,
            payload=to_message(alert),
            timeout_s=self.timeout_s,
            service=f"slack {self.name}",
        )
