"""Publishing an event to a CloudEvents sink over HTTP (``$K_SINK`` from a SinkBinding)."""

from __future__ import annotations

import requests

from backup2gitops.core.errors import Transient
from backup2gitops.core.events import Event
from backup2gitops.runtime.codec import to_http


class HttpSink:
    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.session = requests.Session()

    def __call__(self, event: Event) -> None:
        headers, body = to_http(event)
        try:
            response = self.session.post(
                self.url, headers=headers, data=body, timeout=self.timeout_s
            )
        except requests.RequestException as exc:
            raise Transient("sink_unreachable", f"sink unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 300:
            raise Transient("sink_rejected", f"sink answered {response.status_code}")
