"""alert-router's delivery records: one empty object per delivery outcome, named by what it was.

``core.delivery_records.delivery_record_key``: ``<alerts.deliveries_prefix><receiver>/<outcome>/<alertname>/
<cluster>/<status>/<delivery>``, where ``delivery`` digests (event id, fingerprint, status). A
redelivered event writes the same keys again; a delivery that failed and then went through has
both a ``failed`` and a ``delivered`` record. health-aggregator counts them from a listing
(``backup2gitops_alert_deliveries_total``, and the failure events behind ``BackupFailed`` /
``GitopsFailed`` alerts): the figures outlive every instance of either function.

A refused backup (``backup.failed`` / ``gitops.failed`` naming it) whose alert a receiver took
also gets ``<alerts.refusals_prefix><cluster>/<backup id>`` (``record_refusal``): the watchdog
(health-aggregator) reads it as "refused with an alert", not stuck.

A record is written after the delivery; one that cannot be written is logged and costs nothing
else (the delivery happened, its idempotency record says so).
"""

from __future__ import annotations

import hashlib
import json

from backup2gitops.adapters.storage import ObjectStore, StorageError
from backup2gitops.core import alerts
from backup2gitops.core.delivery_records import (
    DELIVERY_OUTCOMES,
    DeliveryRecord,
    delivery_record_key,
)
from backup2gitops.core.events import Event
from backup2gitops.runtime.logs import logger_for

logger = logger_for("alert-router")


def delivery_id(event: Event, alert: alerts.Alert) -> str:
    key = f"{event.id}\x1f{alert.fingerprint}\x1f{alert.status}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def record(
    store: ObjectStore,
    *,
    prefix: str,
    event: Event,
    alert: alerts.Alert,
    receiver: str,
    outcome: str,
) -> None:
    if outcome not in DELIVERY_OUTCOMES:
        return  # replayed, skipped, in progress: nothing was sent
    entry = DeliveryRecord(
        receiver=receiver,
        outcome=outcome,
        alertname=alert.alertname,
        cluster=alert.labels.get("cluster", ""),
        status=alert.status,
        delivery=delivery_id(event, alert),
    )
    try:
        store.put_bytes(delivery_record_key(prefix=prefix, record=entry), b"")
    except StorageError as exc:
        logger.warning(
            "delivery record not written", extra={"receiver": receiver, "error": str(exc)}
        )


def record_refusal(store: ObjectStore, *, prefix: str, alert: alerts.Alert, receiver: str) -> None:
    """A refused backup's alert reached ``receiver``: write ``<prefix><cluster>/<backup id>``
    (``core.alerts.refusal_key``), the durable fact that keeps the watchdog from calling the
    backup stuck. Written on every delivery that went through (idempotent: same key)."""
    refused = alerts.refused_backup(alert)
    if refused is None:
        return
    cluster, backup_id = refused
    body = {
        "alertname": alert.alertname,
        "receiver": receiver,
        "event_id": alert.event_id,
        "description": alert.annotations.get("description", ""),
    }
    try:
        store.put_bytes(alerts.refusal_key(prefix, cluster, backup_id), json.dumps(body).encode())
    except StorageError as exc:
        logger.warning(
            "refusal record not written", extra={"receiver": receiver, "error": str(exc)}
        )
