"""EventBridge: put one entry on a bus (boto3 ``events`` client, made on first use)."""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import Any

from backup2gitops.core import errors


class EventBridgeError(errors.Backup2GitopsError):
    """PutEvents failed or rejected the entry; always worth a retry."""

    code = "publish_failed"
    permanent = False


class EventBridge:
    def __init__(self, client: Any = None) -> None:
        self._client = client

    @cached_property
    def client(self) -> Any:
        if self._client is not None:
            return self._client
        import boto3

        return boto3.client("events")

    def put(
        self, *, bus_name: str, source: str, detail_type: str, detail: str, time: datetime | None
    ) -> None:
        entry: dict[str, Any] = {
            "EventBusName": bus_name,
            "Source": source,
            "DetailType": detail_type,
            "Detail": detail,
        }
        if time is not None:
            entry["Time"] = time
        try:
            response = self.client.put_events(Entries=[entry])
        except Exception as exc:
            raise EventBridgeError(f"PutEvents: {type(exc).__name__}") from exc
        if response.get("FailedEntryCount"):
            failed = response.get("Entries", [{}])[0]
            raise EventBridgeError(
                f"PutEvents: {failed.get('ErrorCode')}: {failed.get('ErrorMessage')}"
            )
