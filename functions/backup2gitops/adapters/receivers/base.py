"""The receiver interface, its error, and the one HTTP POST every web receiver makes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

import requests

from backup2gitops.config_receivers import WebhookUrlReceiverConfig
from backup2gitops.config_types import SecretRef
from backup2gitops.core import errors
from backup2gitops.core.routing import Alert

_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")


class ReceiverError(errors.Backup2GitopsError):
    """A delivery failed; ``retryable`` says whether the broker should try the event again."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message, code="receiver_failed", permanent=not retryable)
        self.status = status


class Receiver(Protocol):
    name: str
    health_url: str | None
    repeat_firing: bool
    """True when the service wants a firing alert re-sent while it lasts (Alertmanager)."""

    def send(self, alert: Alert) -> None: ...


def reveal(ref: SecretRef, environ: Mapping[str, str], *, what: str) -> str:
    value = ref.reveal(environ)
    if not value:
        raise ReceiverError(f"{what} is not set ({ref!r})", retryable=False)
    return value


def mask(text: str, *secrets: str) -> str:
    """``text`` with credentials in URLs and the given secrets replaced by ``***``."""
    masked = _CREDENTIALS.sub(r"\1***@", text)
    for secret in secrets:
        if secret:
            masked = masked.replace(secret, "***")
    return masked


def post_json(
    session: requests.Session,
    url: str,
    *,
    payload: Any = None,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout_s: float,
    service: str,
) -> requests.Response:
    """POST JSON; 5xx, 408, 429 and network errors are retryable, other 4xx are not.

    Error messages name the service and the status, never the URL (it may hold a token).
    """
    sent_headers = {"Content-Type": "application/json", **(headers or {})}
    try:
        response = session.post(
            url,
            json=payload if body is None else None,
            data=body,
            headers=sent_headers,
            timeout=timeout_s,
        )
    except requests.Timeout as exc:
        raise ReceiverError(f"{service}: timed out after {timeout_s}s", retryable=True) from exc
    except requests.RequestException as exc:
        raise ReceiverError(
            f"{service}: unreachable ({type(exc).__name__})", retryable=True
        ) from exc
    status = response.status_code
    if status >= 300:
        retryable = status >= 500 or status in (408, 429)
        detail = response.text[:200].strip().replace("\n", " ")
        raise ReceiverError(
            f"{service}: HTTP {status} {detail}".rstrip(), retryable=retryable, status=status
        )
    return response


def status_emoji(alert: Alert) -> str:
    if alert.status == "resolved":
        return "✅"
    return {"critical": "🔴", "warning": "🟠"}.get(alert.severity, "🔵")


def headline(alert: Alert) -> str:
    """``[FIRING:critical] BackupFailed prod/backup: <summary>``."""
    state = "RESOLVED" if alert.status == "resolved" else f"FIRING:{alert.severity}"
    where = "/".join(v for v in (alert.labels.get("cluster"), alert.labels.get("component")) if v)
    return f"[{state}] {alert.alertname} {where}: {alert.summary}"


class MessageWebhookReceiver:
    """Posts one JSON message per alert to a webhook URL that is itself a credential.

    Subclasses name the ``service`` and build the message (``to_message``); Slack and Teams.
    """

    repeat_firing = False
    service: ClassVar[str]

    def __init__(self, *, name: str, url: str, timeout_s: float = 10.0) -> None:
        self.name = name
        self.url = url
        self.health_url: str | None = None
        self.timeout_s = timeout_s
        self.session = requests.Session()

    @staticmethod
    def to_message(alert: Alert) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_config(
        cls, config: WebhookUrlReceiverConfig, *, environ: Mapping[str, str]
    ) -> MessageWebhookReceiver:
        url = reveal(config.url, environ, what=f"{cls.service} webhook url")
        return cls(name=config.name, url=url, timeout_s=config.timeout_s)

    def send(self, alert: Alert) -> None:
        post_json(
            self.session,
            self.url,
            payload=self.to_message(alert),
            timeout_s=self.timeout_s,
            service=f"{self.service} {self.name}",
        )
