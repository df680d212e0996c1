"""The firing alerts, one small object each, so a recovery resolves exactly what fired.

``<alerts.open_prefix><fingerprint>.json`` holds the alert as it was sent (its labels are
Alertmanager's identity, so the resolution must repeat them exactly). Written before the
firing alert is delivered, deleted once its resolution reached every routed receiver.
"""

from __future__ import annotations

import json

from backup2gitops.adapters.storage import NotFound, ObjectStore
from backup2gitops.core.routing import Alert


class OpenAlerts:
    def __init__(self, store: ObjectStore, *, prefix: str) -> None:
        self.store = store
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"

    def key(self, fingerprint: str) -> str:
        return f"{self.prefix}{fingerprint}.json"

    def get(self, fingerprint: str) -> Alert | None:
        try:
            raw = self.store.read_bytes(self.key(fingerprint))
        except NotFound:
            return None
        return Alert.from_dict(json.loads(raw))

    def put(self, alert: Alert) -> None:
        self.store.put_bytes(self.key(alert.fingerprint), json.dumps(alert.to_dict()).encode())

    def close(self, fingerprint: str) -> None:
        self.store.delete(self.key(fingerprint))
