"""Object-storage notifications: every envelope in which a bucket says "an object changed".

PURE: no I/O. Events parse in layers -- envelope, then model, then handler. This module is the
envelope layer for backup-complete: it turns each shape below into ``ObjectNotification`` records
with the object key DECODED, so nothing after it deals with transport quirks.

- MinIO webhook body (minio/minio internal/event/target/webhook.go)::

      {"EventName": "s3:ObjectCreated:Put", "Key": "<bucket>/<decoded key>", "Records": [<record>]}

  One record per POST. ``Records[].s3.object.key`` is escaped with Go's ``url.QueryEscape``
  (``/`` -> ``%2F``, space -> ``+``) and event names carry an ``s3:`` prefix.
- AWS S3 event records (to Lambda, SQS, SNS): ``{"Records": [<record>, ...]}`` with
  ``eventSource: "aws:s3"``, no ``s3:`` prefix, the key URL-encoded (``+`` for a space).
  MinIO's other targets (Kafka, AMQP, NATS) send the webhook body above, so it lands here too.
- EventBridge from S3: ``{"detail-type": "Object Created", "source": "aws.s3", "detail": {...}}``,
  hyphenated fields (``version-id``), the key NOT encoded, the operation in ``detail.reason``.

Event names are normalised to S3's notification names without the ``s3:`` prefix
(``ObjectCreated:Put``, ``ObjectRemoved:Delete``), EventBridge's included.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field

from backup2gitops.core.errors import InvalidInput
from backup2gitops.core.events import Event, Received, stable_event_id

__all__ = [
    "STORAGE_OBJECT",
    "ObjectNotification",
    "ObjectNotifications",
    "from_eventbridge",
    "from_minio_webhook",
    "from_s3_records",
    "notifications_from",
    "storage_event",
    "storage_received",
]

STORAGE_OBJECT = "io.backup2gitops.storage.object"
"""The type of the event a runtime makes of a notification that is not a CloudEvent: its data is
the notification payload exactly as received (a MinIO webhook body, S3 records, EventBridge)."""

Origin = Literal["minio-webhook", "s3-records", "eventbridge"]

# EventBridge names the S3 operation in detail.reason; S3 notifications name it in eventName.
_EVENTBRIDGE_CREATED = {
    "PutObject": "Put",
    "POST Object": "Post",
    "CopyObject": "Copy",
    "CompleteMultipartUpload": "CompleteMultipartUpload",
}
_EVENTBRIDGE_DELETED = {
    "Permanently Deleted": "Delete",
    "Delete Marker Created": "DeleteMarkerCreated",
}


class ObjectNotification(BaseModel):
    """One object event, whatever envelope it came in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str = Field(min_length=1)
    key: str = Field(min_length=1, description="decoded: exactly the key S3's API takes")
    event_name: str = Field(description='without the "s3:" prefix, e.g. "ObjectCreated:Put"')
    created: bool
    deleted: bool
    etag: str | None = None
    version_id: str | None = None
    size: int | None = None
    sequencer: str | None = None
    origin: Origin


ObjectNotifications = tuple[ObjectNotification, ...]
"""What one notification payload says: one record per object event (MinIO sends one, S3 may
batch several)."""


def _invalid(message: str) -> InvalidInput:
    return InvalidInput("invalid_notification", message)


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be an object")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _invalid(f"{where} must be a non-empty string")
    return value


def _optional_text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _optional_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _notification(
    *, bucket: str, key: str, event_name: str, obj: dict[str, Any], origin: Origin
) -> ObjectNotification:
    name = event_name.removeprefix("s3:")
    return ObjectNotification(
        bucket=bucket,
        key=key,
        event_name=name,
        created=name.startswith("ObjectCreated:"),
        deleted=name.startswith(("ObjectRemoved:", "LifecycleExpiration:")),
        etag=_optional_text(obj.get("eTag", obj.get("etag"))),
        version_id=_optional_text(obj.get("versionId", obj.get("version-id"))),
        size=_optional_int(obj.get("size")),
        sequencer=_optional_text(obj.get("sequencer")),
        origin=origin,
    )


def _from_record(record: Any, *, where: str, origin: Origin) -> ObjectNotification:
    record = _mapping(record, where)
    s3 = _mapping(record.get("s3"), f"{where}.s3")
    bucket = _mapping(s3.get("bucket"), f"{where}.s3.bucket")
    obj = _mapping(s3.get("object"), f"{where}.s3.object")
    key = unquote_plus(_text(obj.get("key"), f"{where}.s3.object.key"))
    return _notification(
        bucket=_text(bucket.get("name"), f"{where}.s3.bucket.name"),
        key=key,
        event_name=_text(record.get("eventName"), f"{where}.eventName"),
        obj=obj,
        origin=origin,
    )


def _records(body: Any, *, origin: Origin) -> list[ObjectNotification]:
    records = _mapping(body, "the body").get("Records")
    if not isinstance(records, list) or not records:
        raise _invalid("Records must be a non-empty list")
    return [
        _from_record(record, where=f"Records[{i}]", origin=origin)
        for i, record in enumerate(records)
    ]


def from_minio_webhook(body: Any) -> list[ObjectNotification]:
    """``{"EventName", "Key", "Records": [...]}`` as MinIO's webhook target POSTs it."""
    return _records(body, origin="minio-webhook")


def from_s3_records(body: Any) -> list[ObjectNotification]:
    """``{"Records": [...]}`` as S3 sends it to Lambda, SQS or SNS."""
    return _records(body, origin="s3-records")


def from_eventbridge(body: Any) -> list[ObjectNotification]:
    """An EventBridge event from ``aws.s3`` (``Object Created``, ``Object Deleted``, ...)."""
    body = _mapping(body, "the body")
    if body.get("source") != "aws.s3":
        raise _invalid(f"EventBridge source {body.get('source')!r} is not aws.s3")
    detail_type = _text(body.get("detail-type"), "detail-type")
    detail = _mapping(body.get("detail"), "detail")
    obj = _mapping(detail.get("object"), "detail.object")
    reason = str(detail.get("reason", ""))
    if detail_type == "Object Created":
        event_name = "ObjectCreated:" + _EVENTBRIDGE_CREATED.get(reason, reason or "Put")
    elif detail_type == "Object Deleted":
        deletion = str(detail.get("deletion-type", "Permanently Deleted"))
        prefix = "LifecycleExpiration:" if "Lifecycle" in reason else "ObjectRemoved:"
        event_name = prefix + _EVENTBRIDGE_DELETED.get(deletion, "Delete")
    else:  # Object Restore Completed, Object Tags Added, ...: neither created nor deleted
        event_name = detail_type.replace(" ", "")
    return [
        _notification(
            bucket=_text(_mapping(detail.get("bucket"), "detail.bucket").get("name"), "bucket"),
            key=_text(obj.get("key"), "detail.object.key"),
            event_name=event_name,
            obj=obj,
            origin="eventbridge",
        )
    ]


def notifications_from(payload: Any) -> list[ObjectNotification]:
    """Recognise any shape above; ``InvalidInput`` saying what was expected for anything else."""
    if isinstance(payload, list):
        raise InvalidInput(
            "batch_not_supported", "a JSON list is not a notification; send one notification"
        )
    if not isinstance(payload, dict):
        raise InvalidInput(
            "not_a_notification", f"expected a JSON object, got {type(payload).__name__}"
        )
    if "EventName" in payload and "Records" in payload:
        return from_minio_webhook(payload)
    if "Records" in payload:
        return from_s3_records(payload)
    if "detail-type" in payload and payload.get("source") == "aws.s3":
        return from_eventbridge(payload)
    if "eventName" in payload and "s3" in payload:  # one record on its own (some bridges)
        return [_from_record(payload, where="the record", origin="s3-records")]
    raise InvalidInput(
        "not_a_notification",
        "expected a MinIO webhook body {EventName, Key, Records}, S3 event records {Records} "
        "or an EventBridge event from aws.s3",
    )


def storage_received(payload: Any, *, source: str) -> Received[ObjectNotifications]:
    """A notification payload that is not a CloudEvent, parsed (the one parse it gets) and
    wrapped as a ``STORAGE_OBJECT`` event whose data is the payload as received.

    ``InvalidInput`` for anything that is not a notification. The id is derived from the
    payload, so a redelivered notification gets the same id.
    """
    notifications = tuple(notifications_from(payload))
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    first = notifications[0]
    event = Event(
        id=stable_event_id(STORAGE_OBJECT, digest),
        source=source,
        type=STORAGE_OBJECT,
        subject=f"{first.bucket}/{first.key}",
        data=payload,
    )
    return Received(event, notifications)


def storage_event(payload: Any, *, source: str) -> Event:
    """The event of ``storage_received`` (its parsed notifications dropped)."""
    return storage_received(payload, source=source).event
