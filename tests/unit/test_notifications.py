"""Envelope parsing of every shape object storage announces a write in (real payloads, varied)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from backup2gitops.core.errors import InvalidInput
from backup2gitops.core.notifications import (
    STORAGE_OBJECT,
    ObjectNotification,
    from_eventbridge,
    from_minio_webhook,
    from_s3_records,
    notifications_from,
    storage_event,
)
from tests.fixtures.notifications import eventbridge_body, minio_body, s3_body

KEYS = [
    "backups/prod/x/manifest.json",
    "backups/daily 2026+01/ü/velero-backup.json",
    "velero/backups/daily-2026-01/daily-2026-01.tar.gz",
    "a%2Fb/with%percent and ~tilde/日本.json",
]


@pytest.mark.parametrize("key", KEYS)
def test_minio_webhook_keys_are_decoded(key: str) -> None:
    (note,) = from_minio_webhook(minio_body(bucket="backups", key=key))
    assert note == ObjectNotification(
        bucket="backups",
        key=key,
        event_name="ObjectCreated:Put",
        created=True,
        deleted=False,
        etag="5337769ffa594e742408ad3f30713cd7",
        version_id="1",
        size=162023,
        sequencer="1562A792DAA53426",
        origin="minio-webhook",
    )


def test_minio_escapes_slash_and_space_as_go_does() -> None:
    body = minio_body(bucket="b", key="backups/daily 2026+01/ü/velero-backup.json")
    raw = body["Records"][0]["s3"]["object"]["key"]
    assert raw == "backups%2Fdaily+2026%2B01%2F%C3%BC%2Fvelero-backup.json"
    assert notifications_from(body)[0].key == "backups/daily 2026+01/ü/velero-backup.json"


@pytest.mark.parametrize("key", KEYS)
def test_s3_records_keys_are_decoded(key: str) -> None:
    (note,) = from_s3_records(s3_body(bucket="prod-backups", key=key))
    assert (note.bucket, note.key, note.event_name) == ("prod-backups", key, "ObjectCreated:Put")
    assert (note.created, note.deleted, note.origin) == (True, False, "s3-records")
    assert note.etag == "b21b84d653bb07b05b1e6b33684dc11b"
    assert note.size == 1305107
    assert note.version_id is None


@pytest.mark.parametrize("key", KEYS)
def test_eventbridge_keys_are_taken_as_is(key: str) -> None:
    (note,) = from_eventbridge(eventbridge_body(bucket="prod-backups", key=key))
    assert (note.bucket, note.key, note.event_name) == ("prod-backups", key, "ObjectCreated:Put")
    assert note.created and not note.deleted
    assert (note.etag, note.size, note.origin) == (
        "4e68adba0abe2dc8653dc3354e14c01d",
        184662,
        "eventbridge",
    )


def test_eventbridge_plus_is_not_a_space() -> None:
    (note,) = from_eventbridge(eventbridge_body(bucket="b", key="backups/a+b/c d/manifest.json"))
    assert note.key == "backups/a+b/c d/manifest.json"


def test_eventbridge_version_id_is_hyphenated() -> None:
    body = eventbridge_body(bucket="b", key="k")
    body["detail"]["object"]["version-id"] = "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"
    assert from_eventbridge(body)[0].version_id == "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"


@pytest.mark.parametrize(
    ("reason", "event_name"),
    [
        ("PutObject", "ObjectCreated:Put"),
        ("CopyObject", "ObjectCreated:Copy"),
        ("CompleteMultipartUpload", "ObjectCreated:CompleteMultipartUpload"),
        ("POST Object", "ObjectCreated:Post"),
    ],
)
def test_eventbridge_reason_names_the_operation(reason: str, event_name: str) -> None:
    body = eventbridge_body(bucket="b", key="k", reason=reason)
    assert from_eventbridge(body)[0].event_name == event_name


def test_eventbridge_object_deleted() -> None:
    body = eventbridge_body(
        bucket="b", key="k", detail_type="Object Deleted", reason="DeleteObject"
    )
    body["detail"]["deletion-type"] = "Delete Marker Created"
    (note,) = from_eventbridge(body)
    assert (note.event_name, note.created, note.deleted) == (
        "ObjectRemoved:DeleteMarkerCreated",
        False,
        True,
    )


def test_eventbridge_other_detail_types_are_neither() -> None:
    body = eventbridge_body(bucket="b", key="k", detail_type="Object Restore Completed")
    (note,) = from_eventbridge(body)
    assert (note.event_name, note.created, note.deleted) == ("ObjectRestoreCompleted", False, False)


@pytest.mark.parametrize(
    ("event", "created", "deleted"),
    [
        ("s3:ObjectCreated:CompleteMultipartUpload", True, False),
        ("s3:ObjectRemoved:Delete", False, True),
        ("s3:ObjectRemoved:DeleteMarkerCreated", False, True),
        ("s3:ObjectAccessed:Get", False, False),
    ],
)
def test_minio_event_names_lose_their_prefix(event: str, *, created: bool, deleted: bool) -> None:
    (note,) = notifications_from(minio_body(bucket="b", key="k", event=event))
    assert note.event_name == event.removeprefix("s3:")
    assert (note.created, note.deleted) == (created, deleted)


def test_s3_records_with_several_records_give_one_each() -> None:
    body = s3_body(bucket="b", key="one")
    second = copy.deepcopy(body["Records"][0])
    second["s3"]["object"]["key"] = "two+2"
    body["Records"].append(second)
    assert [n.key for n in notifications_from(body)] == ["one", "two 2"]


def test_a_lone_record_is_accepted() -> None:
    record = s3_body(bucket="b", key="backups/c/i/manifest.json")["Records"][0]
    assert notifications_from(record)[0].key == "backups/c/i/manifest.json"


def test_notifications_from_recognises_each_shape() -> None:
    key = "backups/prod/x/manifest.json"
    origins = [
        notifications_from(body)[0].origin
        for body in (
            minio_body(bucket="b", key=key),
            s3_body(bucket="b", key=key),
            eventbridge_body(bucket="b", key=key),
        )
    ]
    assert origins == ["minio-webhook", "s3-records", "eventbridge"]


@pytest.mark.parametrize(
    ("payload", "code", "says"),
    [
        ([], "batch_not_supported", "list"),
        ([{"Records": []}], "batch_not_supported", "list"),
        ("text", "not_a_notification", "str"),
        (None, "not_a_notification", "NoneType"),
        ({"hello": "world"}, "not_a_notification", "MinIO webhook"),
        ({"detail-type": "Object Created", "source": "aws.ec2"}, "not_a_notification", "aws.s3"),
        ({"Records": []}, "invalid_notification", "non-empty"),
        ({"Records": [{"eventName": "x"}]}, "invalid_notification", "Records[0].s3"),
        (
            {"Records": [{"eventName": "x", "s3": {"bucket": {"name": "b"}, "object": {}}}]},
            "invalid_notification",
            "Records[0].s3.object.key",
        ),
        ({"EventName": "x", "Key": "b/k", "Records": "no"}, "invalid_notification", "Records"),
    ],
)
def test_anything_else_is_invalid_input_with_a_reason(payload: Any, code: str, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        notifications_from(payload)
    assert caught.value.code == code
    assert says in caught.value.message


def test_eventbridge_from_another_source_is_rejected() -> None:
    body = eventbridge_body(bucket="b", key="k")
    body["source"] = "aws.ec2"
    with pytest.raises(InvalidInput, match=r"aws\.s3"):
        from_eventbridge(body)


def test_storage_event_wraps_the_payload_with_a_stable_id() -> None:
    body = minio_body(bucket="backups", key="backups/prod/x/manifest.json")
    event = storage_event(body, source="/backup2gitops/backup-complete")
    assert event.type == STORAGE_OBJECT
    assert event.data == body
    assert event.subject == "backups/backups/prod/x/manifest.json"
    assert storage_event(copy.deepcopy(body), source="s").id == event.id
    other = minio_body(bucket="backups", key="backups/prod/y/manifest.json")
    assert storage_event(other, source="s").id != event.id


def test_storage_event_rejects_what_is_not_a_notification() -> None:
    with pytest.raises(InvalidInput):
        storage_event({"specversion": "1.0"}, source="s")
