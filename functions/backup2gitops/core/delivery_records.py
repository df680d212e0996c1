"""alert-router's delivery records: one empty object per delivery, its key holding every field.

PURE: no I/O. ``alert_router.delivery_records`` writes them; health-aggregator counts deliveries
and failures from a listing of them (``core.flow_metrics``), without reading an object. Their
prefix (``alerts.deliveries_prefix``) is checked like a bucket prefix (``core.bucket_layout``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from backup2gitops.core.bucket_layout import (
    PREFIX_SEGMENT_RE,
    LayoutError,
    is_hostile,
    join_prefix,
    split_prefix,
)

DELIVERY_OUTCOMES = ("delivered", "rejected", "failed")
"""What a delivery record says happened (a replayed or skipped delivery sends nothing: no record)."""
_UNNAMED = "_"


class DeliveryRecord(BaseModel):
    """One alert delivery alert-router made, as its record's key spells it out.

    The key alone holds every field (``<prefix><receiver>/<outcome>/<alertname>/<cluster>/
    <status>/<delivery>``), so health-aggregator counts deliveries from a listing, without reading
    an object. ``delivery`` is a digest of (event id, alert fingerprint, status): the same for
    every receiver of one alert of one event, and for a redelivery of that event.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    receiver: str
    outcome: str
    alertname: str
    cluster: str
    """"" when the alert names no cluster."""
    status: str
    delivery: str


def _segment(value: str) -> str:
    if not value:
        return _UNNAMED
    return value if PREFIX_SEGMENT_RE.fullmatch(value) and value not in {".", ".."} else _UNNAMED


def delivery_record_key(*, prefix: str, record: DeliveryRecord) -> str:
    """The object key of ``record`` under ``prefix`` (``alerts.deliveries_prefix``)."""
    if record.outcome not in DELIVERY_OUTCOMES:
        raise LayoutError(f"invalid delivery outcome {record.outcome!r}")
    parts = (
        record.receiver,
        record.outcome,
        record.alertname,
        record.cluster,
        record.status,
        record.delivery,
    )
    return join_prefix(prefix, *(_segment(part) for part in parts))


def parse_delivery_record_key(key: str, *, prefix: str) -> DeliveryRecord | None:
    """The record a key under ``prefix`` spells out; None for any other key."""
    base = join_prefix(prefix) + "/" if split_prefix(prefix) else ""
    if not key.startswith(base) or is_hostile(key):
        return None
    parts = key[len(base) :].split("/")
    if len(parts) != 6 or parts[1] not in DELIVERY_OUTCOMES:
        return None
    receiver, outcome, alertname, cluster, status, delivery = parts
    return DeliveryRecord(
        receiver=receiver,
        outcome=outcome,
        alertname=alertname,
        cluster="" if cluster == _UNNAMED else cluster,
        status=status,
        delivery=delivery,
    )
