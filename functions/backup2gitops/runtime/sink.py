"""Publishing an event to a CloudEvents sink over HTTP (``$K_SINK`` from a SinkBinding).

The sink is the Broker's ingress. Its 10 s timeout holds because the shipped Broker's channel is
asynchronous (``messaging.knative.dev/async-handler``: the ingress answers 202 once the channel
has the event); with Knative's default synchronous InMemoryChannel the POST would wait for every
Trigger's retries (measured: ~14 s for PT2S x 3) and a reply could be published twice
(knative/README.md, section 4)."""

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
