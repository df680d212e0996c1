"""A generic JSON webhook, signed so the receiving side can trust it.

Headers::

    X-Backup2gitops-Timestamp: <unix seconds>
    X-Backup2gitops-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

To verify (``verify_signature`` below does exactly this): recompute the HMAC over the raw
request body with the shared secret, compare in constant time, and reject a timestamp more
than a few minutes (default 300 s) from your clock, so a captured request cannot be replayed
later. Within the window, deduplicate on the body's ``event_id`` + ``fingerprint`` + ``status``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from backup2gitops.adapters.receivers.base import WebReceiver, post_json, reveal
from backup2gitops.config.receivers import WebhookReceiverConfig
from backup2gitops.core.alerts import Alert

SIGNATURE_HEADER = "X-Backup2gitops-Signature"
TIMESTAMP_HEADER = "X-Backup2gitops-Timestamp"
PAYLOAD_VERSION = "1"


def sign(secret: str, *, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(
    secret: str,
    *,
    body: bytes,
    timestamp: str,
    signature: str,
    now: float | None = None,
    tolerance_s: float = 300.0,
) -> bool:
    """True when ``signature`` is ours over ``body`` and ``timestamp`` is within the window."""
    try:
        sent = float(timestamp)
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp=timestamp, body=body), signature)


def to_payload(alert: Alert) -> dict[str, Any]:
    return {
        "version": PAYLOAD_VERSION,
        "fingerprint": alert.fingerprint,
        **alert.to_dict(),
    }


class WebhookReceiver(WebReceiver):
    def __init__(
        self,
        *,
        name: str,
        url: str,
        secret: str | None = None,
        timeout_s: float = 10.0,
        health_url: str | None = None,
    ) -> None:
        super().__init__(name=name, url=url, timeout_s=timeout_s, health_url=health_url)
        self.secret = secret

    @classmethod
    def from_config(
        cls, config: WebhookReceiverConfig, *, environ: Mapping[str, str]
    ) -> WebhookReceiver:
        url = reveal(config.url, environ, what="webhook url")
        secret = reveal(config.secret, environ, what="webhook secret") if config.secret else None
        return cls(
            name=config.name,
            url=url,
            secret=secret,
            timeout_s=config.timeout_s,
            health_url=config.health_url,
        )

    def send(self, alert: Alert) -> None:
        body = json.dumps(to_payload(alert), separators=(",", ":"), sort_keys=True).encode()
        headers: dict[str, str] = {}
        if self.secret:
            timestamp = str(int(time.time()))
            headers = {
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(self.secret, timestamp=timestamp, body=body),
            }
        post_json(
            self.session,
            self.url,
            body=body,
            headers=headers,
            timeout_s=self.timeout_s,
            service=f"webhook {self.name}",
            secrets=(self.secret,) if self.secret else (),
        )
