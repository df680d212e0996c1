"""The firing alerts, one small object each, so a recovery resolves exactly what fired.

``<alerts.open_prefix><fingerprint>.json`` holds the alert as it was sent (its labels are
Alertmanager's identity, so the resolution must repeat them exactly). Written before the
firing alert is delivered, deleted once its resolution reached every routed receiver; until
then it holds that resolution (status ``resolved``: a pending resolution the health tick
resends, ``redelivery.redeliver``).

``<fingerprint>.<receiver>.notified`` is written once a receiver has the firing alert: a later
event for the same open alert is skipped only for receivers that have it. One that was down
when the alert opened hears of it with the next event (or the redelivery), never "already
notified" of something it never got.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from backup2gitops.adapters.storage import NotFound, ObjectStore
from backup2gitops.core.alerts import Alert


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

    def all(self) -> Iterator[Alert]:
        """Every open alert (unreadable ones skipped: a concurrent close deleted them)."""
        for info in list(self.store.list(self.prefix)):
            name = info.key[len(self.prefix) :]
            if "/" in name or not name.endswith(".json"):
                continue
            alert = self.get(name.removesuffix(".json"))
            if alert is not None:
                yield alert

    def put(self, alert: Alert) -> None:
        self.store.put_bytes(self.key(alert.fingerprint), json.dumps(alert.to_dict()).encode())

    def _notified_key(self, fingerprint: str, receiver: str) -> str:
        return f"{self.prefix}{fingerprint}.{receiver}.notified"

    def notified(self, fingerprint: str, receiver: str) -> bool:
        return self.store.stat(self._notified_key(fingerprint, receiver)) is not None

    def mark_notified(self, fingerprint: str, receiver: str) -> None:
        self.store.put_bytes(self._notified_key(fingerprint, receiver), b"")

    def close(self, fingerprint: str) -> None:
        for info in list(self.store.list(f"{self.prefix}{fingerprint}.")):
            if info.key.endswith(".notified"):
                self.store.delete(info.key)
        self.store.delete(self.key(fingerprint))
