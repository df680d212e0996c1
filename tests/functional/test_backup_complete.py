"""backup-complete through its real HTTP wrapper (Flask test client) and its Lambda adapter.

Stores are the in-memory and directory backends; every input shape must reach the same decision
for the same stored objects.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

import flask
import pytest
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent

from backup2gitops.adapters.storage import FileStore, MemoryStore, ObjectStore, StorageError
from backup2gitops.config import parse_config
from backup2gitops.core.archive import BackupItem
from backup2gitops.core.backup_manifest import dump_manifest
from backup2gitops.core.events import BACKUP_COMPLETED, BACKUP_FAILED, Event
from backup2gitops.runtime import codec
from backup2gitops.runtime.aws_lambda import from_structured, lambda_adapter
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import http_target
from backup_complete.handler import SPEC
from tests.fixtures.eventbridge import RecordingEventBridge
from tests.fixtures.native import NativeBackup, native_backup, store_native_backup
from tests.fixtures.notifications import eventbridge_body, minio_body, s3_body
from tests.fixtures.velero import velero_backup_object, velero_tarball

TOKEN = "s3cret-token"
BUCKET = "backups"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
CONFIG = """
clusters:
  - name: staging
    velero_prefix: velero
"""
SHAPES = [
    "minio-webhook",
    "cloudevent-binary-s3-records",
    "cloudevent-structured-minio-body",
    "cloudevent-binary-eventbridge",
    "lambda-s3",
    "lambda-eventbridge",
]


class Harness:
    """One function context, served through ``http_target`` and through ``lambda_adapter``."""

    def __init__(self, store: ObjectStore, *, config: str = CONFIG) -> None:
        self.store = store
        self.published: list[Event] = []
        self.ctx = FunctionContext(
            parse_config(config, {}),
            store=store,
            environ={"BACKUP2GITOPS_WEBHOOK_TOKEN": TOKEN, "BACKUP2GITOPS_EVENT_BUS": "b2g"},
            clock=lambda: datetime(2026, 11, 23, 3, 0, tzinfo=UTC),
        )
        app = flask.Flask(__name__)
        target = http_target(SPEC, lambda: self.ctx)
        app.add_url_rule("/", "target", lambda: target(flask.request), methods=["GET", "POST"])
        self.client = app.test_client()
        self.bridge = RecordingEventBridge()
        self.lambda_handler = lambda_adapter(
            SPEC, context=lambda: self.ctx, events_client=self.bridge
        )

    def post(
        self, body: bytes | str, *, headers: dict[str, str] | None = None, token: str | None = TOKEN
    ) -> Any:
        sent = {
            k.title(): v for k, v in {"Content-Type": "application/json", **(headers or {})}.items()
        }
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        return self.client.post("/", data=body, headers=sent)

    def deliver(self, shape: str, key: str, *, bucket: str = BUCKET) -> Event | None:
        """Announce ``key`` in ``shape``; the reply event, or None (202)."""
        if shape.startswith("lambda-"):
            payload = (s3_body if shape == "lambda-s3" else eventbridge_body)(
                bucket=bucket, key=key
            )
            before = len(self.bridge.entries)
            result = self.lambda_handler(payload, None)
            assert result["status"] in ("published", "no_reply"), result
            if len(self.bridge.entries) == before:
                return None
            return from_structured(self.bridge.details()[-1])
        if shape == "minio-webhook":
            response = self.post(json.dumps(minio_body(bucket=bucket, key=key)))
        else:
            data = {
                "cloudevent-binary-s3-records": s3_body,
                "cloudevent-structured-minio-body": minio_body,
                "cloudevent-binary-eventbridge": eventbridge_body,
            }[shape](bucket=bucket, key=key)
            attributes = {
                "type": "dev.knative.kafka.event",
                "source": "/apis/v1/namespaces/minio/kafkasources/backups#minio-events",
                "traceparent": TRACEPARENT,
                "datacontenttype": "application/json",
            }
            convert = to_structured if "structured" in shape else to_binary
            headers, body = convert(CloudEvent(attributes, data))
            response = self.post(body, headers=dict(headers))
        if response.status_code == 202:
            return None
        assert response.status_code == 200, response.get_data(as_text=True)
        return codec.parse_http(dict(response.headers), response.get_data())


@pytest.fixture
def memory() -> MemoryStore:
    return MemoryStore(bucket=BUCKET)


@pytest.fixture
def harness(memory: MemoryStore) -> Harness:
    return Harness(memory)


def decision(event: Event | None) -> tuple[str, str | None, dict[str, Any]] | None:
    """What must be the same whatever the input shape: type, id, data."""
    return None if event is None else (event.type, event.id, event.data)


def failed_code(event: Event | None) -> str:
    assert event is not None and event.type == BACKUP_FAILED, event
    code: str = event.data["code"]
    return code


# ------------------------------------------------------------------------------------ native


@pytest.mark.parametrize("shape", SHAPES)
def test_native_backup_completes_in_every_shape(harness: Harness, shape: str) -> None:
    backup = native_backup(cluster="prod", backup_id="20261123t020000z")
    store_native_backup(harness.store, backup)
    reply = harness.deliver(shape, backup.manifest_key)
    assert reply is not None
    assert reply.type == BACKUP_COMPLETED
    assert reply.source == "/backup2gitops/backup-complete"
    assert reply.subject == "prod/20261123t020000z"
    assert reply.cluster == "prod"
    assert reply.data == {
        "backup_id": "20261123t020000z",
        "cluster": "prod",
        "format": "native",
        "bucket": BUCKET,
        "keys": [backup.manifest_key, backup.archive_key],
        "size": len(backup.archive),
        "sha256": backup.manifest.archive.sha256,
        "resource_count": 3,
        "created_at": "2026-11-23T02:00:42Z",
        "kubernetes_version": "v1.31.4",
        "complete": True,
    }


def test_every_shape_reaches_the_same_decision(harness: Harness) -> None:
    good = native_backup(backup_id="good")
    store_native_backup(harness.store, good)
    bad = native_backup(backup_id="bad")
    harness.store.put_bytes(bad.manifest_key, dump_manifest(bad.manifest))  # no archive
    for key in (good.manifest_key, good.archive_key, bad.manifest_key, "backups/x/y/notes.txt"):
        decisions = {shape: decision(harness.deliver(shape, key)) for shape in SHAPES}
        assert len(set(map(repr, decisions.values()))) == 1, decisions


def test_cloudevent_reply_carries_the_trace(harness: Harness) -> None:
    backup = native_backup()
    store_native_backup(harness.store, backup)
    reply = harness.deliver("cloudevent-binary-s3-records", backup.manifest_key)
    assert reply is not None and reply.traceparent == TRACEPARENT


def test_redelivery_yields_the_same_event_id(harness: Harness) -> None:
    backup = native_backup()
    store_native_backup(harness.store, backup)
    first = harness.deliver("minio-webhook", backup.manifest_key)
    again = harness.deliver("minio-webhook", backup.manifest_key)
    late_archive_note = harness.deliver("minio-webhook", backup.archive_key)
    assert first is not None and again is not None and late_archive_note is not None
    assert first.id == again.id == late_archive_note.id


def test_manifest_before_archive_fails_then_completes_when_the_archive_lands(
    harness: Harness,
) -> None:
    backup = native_backup()
    harness.store.put_bytes(backup.manifest_key, dump_manifest(backup.manifest))
    failed = harness.deliver("minio-webhook", backup.manifest_key)
    assert failed_code(failed) == "archive_missing"
    assert failed is not None and failed.data["key"] == backup.archive_key
    harness.store.put_bytes(backup.archive_key, backup.archive)
    completed = harness.deliver("minio-webhook", backup.archive_key)
    assert completed is not None and completed.type == BACKUP_COMPLETED
    assert completed.id != failed.id


def test_archive_before_its_manifest_says_nothing(harness: Harness) -> None:
    backup = native_backup()
    harness.store.put_bytes(backup.archive_key, backup.archive)
    assert harness.deliver("minio-webhook", backup.archive_key) is None


def tampered(backup: NativeBackup, **archive: Any) -> NativeBackup:
    ref = backup.manifest.archive.model_copy(update=archive)
    return NativeBackup(
        manifest_key=backup.manifest_key,
        archive_key=backup.archive_key,
        archive=backup.archive,
        manifest=backup.manifest.model_copy(update={"archive": ref}),
    )


def test_wrong_sha256_fails(harness: Harness) -> None:
    store_native_backup(harness.store, tampered(native_backup(), sha256="0" * 64))
    reply = harness.deliver("minio-webhook", native_backup().manifest_key)
    assert failed_code(reply) == "checksum_mismatch"


def test_truncated_archive_fails_on_its_size(harness: Harness) -> None:
    backup = native_backup()
    store_native_backup(harness.store, backup)
    harness.store.put_bytes(backup.archive_key, backup.archive[:-20])
    assert failed_code(harness.deliver("minio-webhook", backup.manifest_key)) == "size_mismatch"


def test_truncated_archive_with_a_matching_manifest_still_fails(harness: Harness) -> None:
    import hashlib

    backup = native_backup(objects=50)
    cut = backup.archive[: len(backup.archive) // 2]
    lying = tampered(backup, size=len(cut), sha256=hashlib.sha256(cut).hexdigest())
    store_native_backup(harness.store, NativeBackup(**{**lying.__dict__, "archive": cut}))
    assert failed_code(harness.deliver("minio-webhook", backup.manifest_key)) == "archive_truncated"


@pytest.mark.parametrize(
    ("manifest", "code"),
    [
        (b"{not json", "invalid_manifest"),
        (b'{"backup_id": "x"}', "invalid_manifest"),
        (b" " * (1024 * 1024 + 1), "invalid_manifest"),
    ],
)
def test_unreadable_manifest_fails(harness: Harness, manifest: bytes, code: str) -> None:
    backup = native_backup()
    harness.store.put_bytes(backup.archive_key, backup.archive)
    harness.store.put_bytes(backup.manifest_key, manifest)
    assert failed_code(harness.deliver("minio-webhook", backup.manifest_key)) == code


def test_unsupported_format_version_fails(harness: Harness) -> None:
    backup = native_backup()
    document = json.loads(dump_manifest(backup.manifest))
    document["format_version"] = "2"
    harness.store.put_bytes(backup.archive_key, backup.archive)
    harness.store.put_bytes(backup.manifest_key, json.dumps(document).encode())
    reply = harness.deliver("minio-webhook", backup.manifest_key)
    assert failed_code(reply) == "unsupported_format_version"


def test_manifest_in_the_wrong_folder_fails(harness: Harness) -> None:
    backup = native_backup(cluster="prod")
    moved = native_backup(cluster="dev")
    harness.store.put_bytes(moved.archive_key, backup.archive)
    harness.store.put_bytes(moved.manifest_key, dump_manifest(backup.manifest))
    assert failed_code(harness.deliver("minio-webhook", moved.manifest_key)) == "invalid_manifest"


def test_native_backup_under_a_prefix_with_a_plus(harness: Harness) -> None:
    backup = native_backup(prefix="team+ops")
    store_native_backup(harness.store, backup)
    for shape in SHAPES:
        reply = harness.deliver(shape, "team+ops/backups/prod/20261123t020000z/manifest.json")
        assert reply is not None and reply.type == BACKUP_COMPLETED, shape


# ------------------------------------------------------------------------------------ Velero


@pytest.fixture
def files(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / BUCKET)


ITEMS = [
    BackupItem("configmaps", "default", "settings", {"apiVersion": "v1", "kind": "ConfigMap"}),
    BackupItem("namespaces", None, "default", {"apiVersion": "v1", "kind": "Namespace"}),
]


def put_velero(
    store: ObjectStore, *, name: str, phase: str | None, tarball: bool, prefix: str = "velero"
) -> tuple[str, str]:
    folder = f"{prefix}/backups/{name}/" if prefix else f"backups/{name}/"
    if tarball:
        store.put_bytes(folder + f"{name}.tar.gz", velero_tarball(ITEMS))
    if phase is not None:
        backup = velero_backup_object(
            name=name, phase=phase, k8s_version="v1.30.2", item_count=len(ITEMS)
        )
        store.put_bytes(folder + "velero-backup.json", json.dumps(backup).encode())
    return folder + "velero-backup.json", folder + f"{name}.tar.gz"


@pytest.mark.parametrize("phase", ["Completed", "PartiallyFailed"])
def test_velero_final_phase_with_tarball_completes(files: FileStore, phase: str) -> None:
    harness = Harness(files)
    marker, tarball = put_velero(files, name="daily-20261123", phase=phase, tarball=True)
    for shape in SHAPES:
        reply = harness.deliver(shape, marker)
        assert reply is not None and reply.type == BACKUP_COMPLETED, shape
        assert reply.subject == "staging/daily-20261123"
        assert reply.cluster == "staging"
        assert reply.data["format"] == "velero"
        assert reply.data["keys"] == [marker, tarball]
        assert reply.data["kubernetes_version"] == "v1.30.2"
        assert reply.data["resource_count"] == 2
        assert reply.data["sha256"] is None
        assert reply.data["created_at"] == "2026-11-23T02:00:37Z"


@pytest.mark.parametrize("phase", ["Finalizing", "WaitingForPluginOperations", "InProgress", ""])
def test_velero_phase_not_final_says_nothing(files: FileStore, phase: str) -> None:
    harness = Harness(files)
    marker, tarball = put_velero(files, name="daily", phase=phase, tarball=True)
    assert harness.deliver("minio-webhook", marker) is None
    assert harness.deliver("minio-webhook", tarball) is None


@pytest.mark.parametrize("phase", ["Failed", "FailedValidation"])
def test_velero_failed_phase_fails(files: FileStore, phase: str) -> None:
    harness = Harness(files)
    marker, _ = put_velero(files, name="daily", phase=phase, tarball=False)
    reply = harness.deliver("minio-webhook", marker)
    assert failed_code(reply) == "velero_backup_failed"
    assert reply is not None and phase in reply.data["message"]


def test_velero_sequence_finalizing_tarball_completed(files: FileStore) -> None:
    harness = Harness(files)
    marker, tarball = put_velero(files, name="daily", phase="Finalizing", tarball=False)
    assert harness.deliver("minio-webhook", marker) is None
    put_velero(files, name="daily", phase=None, tarball=True)
    assert harness.deliver("minio-webhook", tarball) is None
    put_velero(files, name="daily", phase="Completed", tarball=False)
    completed = harness.deliver("minio-webhook", marker)
    assert completed is not None and completed.type == BACKUP_COMPLETED
    put_velero(files, name="daily", phase=None, tarball=True)  # the finalizer rewrites it
    rewritten = harness.deliver("minio-webhook", tarball)
    assert rewritten is not None and rewritten.id == completed.id


def test_velero_completed_before_its_tarball_waits(files: FileStore) -> None:
    harness = Harness(files)
    marker, _ = put_velero(files, name="daily", phase="Completed", tarball=False)
    assert harness.deliver("minio-webhook", marker) is None


def test_velero_truncated_tarball_fails(files: FileStore) -> None:
    harness = Harness(files)
    marker, tarball = put_velero(files, name="daily", phase="Completed", tarball=True)
    files.put_bytes(tarball, velero_tarball(ITEMS)[:-30])
    assert failed_code(harness.deliver("minio-webhook", marker)) == "archive_truncated"


def test_velero_under_an_unmapped_prefix_fails_with_unknown_cluster(files: FileStore) -> None:
    harness = Harness(files)
    marker, _ = put_velero(files, name="daily", phase="Completed", tarball=True, prefix="")
    reply = harness.deliver("minio-webhook", marker)
    assert failed_code(reply) == "unknown_cluster"
    assert reply is not None and reply.cluster is None


# ------------------------------------------------------------------------- what is not a backup


@pytest.mark.parametrize(
    "key",
    [
        "backups/prod/20261123t020000z/notes.txt",
        "backups/daily 2026+01/ü/velero-backup.json",
        "velero/backups/daily/daily-logs.gz",
        "random.bin",
    ],
)
def test_objects_that_are_not_markers_get_202(harness: Harness, key: str) -> None:
    harness.store.put_bytes(key, b"x")
    response = harness.post(json.dumps(minio_body(bucket=BUCKET, key=key)))
    assert (response.status_code, response.get_data()) == (202, b"")


def test_delete_events_are_ignored(harness: Harness) -> None:
    backup = native_backup()
    store_native_backup(harness.store, backup)
    body = minio_body(bucket=BUCKET, key=backup.manifest_key, event="s3:ObjectRemoved:Delete")
    assert harness.post(json.dumps(body)).status_code == 202


def test_a_marker_deleted_since_gives_no_event(harness: Harness) -> None:
    assert harness.deliver("minio-webhook", native_backup().manifest_key) is None


def test_another_bucket_is_ignored(harness: Harness) -> None:
    backup = native_backup()
    store_native_backup(harness.store, backup)
    assert harness.deliver("minio-webhook", backup.manifest_key, bucket="elsewhere") is None


# ------------------------------------------------------------------------ the HTTP contract


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__(bucket=BUCKET)
        self.reads = 0

    def stat(self, key: str) -> Any:
        self.reads += 1
        return super().stat(key)

    def open_read(self, key: str) -> BinaryIO:
        self.reads += 1
        return super().open_read(key)


@pytest.mark.parametrize("token", [None, "wrong", "Bearer", ""])
def test_missing_or_wrong_token_is_401_and_nothing_else(token: str | None) -> None:
    store = CountingStore()
    harness = Harness(store)
    store_native_backup(store, native_backup())
    store.reads = 0
    body = json.dumps(minio_body(bucket=BUCKET, key=native_backup().manifest_key))
    response = harness.post(body, token=token)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert store.reads == 0
    assert harness.published == []


def test_the_token_may_come_verbatim(harness: Harness) -> None:
    store_native_backup(harness.store, native_backup())
    body = json.dumps(minio_body(bucket=BUCKET, key=native_backup().manifest_key))
    response = harness.post(body, headers={"Authorization": TOKEN}, token=None)
    assert response.status_code == 200


def assert_error(response: Any, *, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.json["error"]
    assert set(error) == {"code", "message", "function", "trace_id", "timestamp"}
    assert (error["code"], error["function"]) == (code, "backup-complete")


def test_a_json_list_is_400(harness: Harness) -> None:
    body = json.dumps([minio_body(bucket=BUCKET, key="k"), minio_body(bucket=BUCKET, key="j")])
    assert_error(harness.post(body), status=400, code="batch_not_supported")


def test_a_cloudevents_batch_is_400(harness: Harness) -> None:
    headers = {"Content-Type": "application/cloudevents-batch+json"}
    assert_error(harness.post("[]", headers=headers), status=400, code="batch_not_supported")


def test_a_cloudevent_whose_data_is_a_list_is_400(harness: Harness) -> None:
    attributes = {"type": "t", "source": "s", "datacontenttype": "application/json"}
    headers, body = to_binary(CloudEvent(attributes, [minio_body(bucket=BUCKET, key="k")]))
    assert_error(harness.post(body, headers=dict(headers)), status=400, code="batch_not_supported")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{not json", "invalid_json"),
        ('{"hello": "world"}', "not_a_notification"),
        ('{"EventName": "s3:ObjectCreated:Put", "Records": []}', "invalid_notification"),
        ('"a string"', "not_a_notification"),
    ],
)
def test_malformed_bodies_are_400(harness: Harness, body: str, code: str) -> None:
    assert_error(harness.post(body), status=400, code=code)


def test_a_malformed_cloudevent_is_400(harness: Harness) -> None:
    headers = {"ce-specversion": "1.0", "ce-type": "t"}  # no id, no source
    response = harness.post("{}", headers=headers)
    assert response.status_code == 400
    assert response.json["error"]["function"] == "backup-complete"


class FlakyStore(MemoryStore):
    def stat(self, key: str) -> Any:
        raise StorageError("S3 SlowDown on " + key, retryable=True)


def test_a_storage_error_is_503_so_the_broker_retries() -> None:
    harness = Harness(FlakyStore(bucket=BUCKET))
    body = json.dumps(minio_body(bucket=BUCKET, key=native_backup().manifest_key))
    assert_error(harness.post(body), status=503, code="storage_unavailable")


class BrokenStream(io.RawIOBase):
    """An archive stream that fails after its first bytes with ``error``."""

    def __init__(self, data: bytes, error: Exception) -> None:
        self.data, self.error, self.served = data, error, False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.served:
            raise self.error
        self.served = True
        chunk = self.data[: min(len(buffer), 1024)]
        buffer[: len(chunk)] = chunk
        return len(chunk)


class ArchiveFailsMidRead(MemoryStore):
    def __init__(self, error: Exception) -> None:
        super().__init__(bucket=BUCKET)
        self.error = error

    def open_read(self, key: str) -> BinaryIO:
        if not key.endswith(".tar.gz"):
            return super().open_read(key)
        return cast(BinaryIO, BrokenStream(self.read_bytes(key), self.error))


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (StorageError("S3 connection reset mid-stream"), 503, "storage_unavailable"),
        (ConnectionResetError("reset by peer"), 503, "storage_unavailable"),
        (KeyError("a bug of ours"), 500, "internal"),
    ],
    ids=["storage-error", "os-error", "a-bug"],
)
def test_a_read_failing_mid_archive_is_an_outage_only_when_it_is_one(
    error: Exception, status: int, code: str
) -> None:
    """A storage failure while the archive streams is 503 (retried); a bug in our own code is
    ``internal`` (500, the traceback logged), never reported as the storage being down."""
    store = ArchiveFailsMidRead(error)
    store_native_backup(store, native_backup())
    harness = Harness(store)
    body = json.dumps(minio_body(bucket=BUCKET, key=native_backup().manifest_key))
    assert_error(harness.post(body), status=status, code=code)


def test_several_records_reply_with_the_first_and_publish_the_rest(memory: MemoryStore) -> None:
    published: list[Event] = []
    harness = Harness(memory)
    harness.ctx = FunctionContext(
        harness.ctx.config, store=memory, environ=harness.ctx.environ, publish=published.append
    )
    one, two = native_backup(backup_id="one"), native_backup(backup_id="two")
    store_native_backup(memory, one)
    store_native_backup(memory, two)
    body = s3_body(bucket=BUCKET, key=one.manifest_key)
    body["Records"] += s3_body(bucket=BUCKET, key=two.manifest_key)["Records"]
    response = harness.post(json.dumps(body))
    assert response.status_code == 202  # with a publisher, the runtime publishes the reply too
    assert [e.subject for e in published] == ["prod/two", "prod/one"]


@pytest.fixture(autouse=True)
def _no_k_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("K_SINK", raising=False)
    yield


def test_cloudevents_need_the_webhook_token_when_one_is_configured(harness: Harness) -> None:
    """Issue 22: ``ce-`` headers used to skip the token. The KafkaSource path (the Broker sends no
    Authorization) runs without a token and ``allow_unauthenticated: true`` instead."""
    from cloudevents.conversion import to_binary as as_binary
    from cloudevents.http import CloudEvent as SdkEvent

    store_native_backup(harness.store, native_backup())
    body = minio_body(bucket=BUCKET, key=native_backup().manifest_key)
    headers, data = as_binary(
        SdkEvent(
            {
                "type": "dev.knative.kafka.event",
                "source": "/apis/v1/namespaces/ns/kafkasources/minio",
                "datacontenttype": "application/json",
            },
            body,
        )
    )
    assert harness.post(data, headers=dict(headers), token=None).status_code == 401
    response = harness.post(data, headers=dict(headers))
    assert response.status_code in (200, 202), response.get_data(as_text=True)
    plain = json.dumps(body)
    assert harness.post(plain, token=None).status_code == 401  # MinIO's webhook needs it too


# ------------------------------------------------------------------ counts: the deletion guard


def test_an_empty_archive_claiming_400_items_is_backup_failed(harness: Harness) -> None:
    empty = native_backup(backup_id="gutted", objects=0)
    claimed = empty.manifest.model_copy(update={"resource_counts": {"configmaps": 400}})
    harness.store.put_bytes(empty.archive_key, empty.archive)
    harness.store.put_bytes(empty.manifest_key, dump_manifest(claimed))
    reply = harness.deliver("minio-webhook", empty.manifest_key)
    assert failed_code(reply) == "archive_empty"
    assert reply is not None and "400" in reply.data["message"]


def test_fewer_items_than_the_manifest_counts_is_backup_failed(harness: Harness) -> None:
    short = native_backup(backup_id="short", objects=2)
    claimed = short.manifest.model_copy(update={"resource_counts": {"configmaps": 3}})
    harness.store.put_bytes(short.archive_key, short.archive)
    harness.store.put_bytes(short.manifest_key, dump_manifest(claimed))
    assert failed_code(harness.deliver("minio-webhook", short.manifest_key)) == "archive_incomplete"


def test_velero_tarball_with_fewer_items_than_its_progress_is_backup_failed(
    files: FileStore,
) -> None:
    harness = Harness(files)
    folder = "velero/backups/daily/"
    files.put_bytes(folder + "daily.tar.gz", velero_tarball(ITEMS))
    document = velero_backup_object(
        name="daily", phase="Completed", k8s_version="v1.30.2", item_count=len(ITEMS) + 3
    )
    files.put_bytes(folder + "velero-backup.json", json.dumps(document).encode())
    reply = harness.deliver("minio-webhook", folder + "velero-backup.json")
    assert failed_code(reply) == "archive_incomplete"


@pytest.mark.parametrize(("phase", "complete"), [("Completed", True), ("PartiallyFailed", False)])
def test_only_a_completed_velero_backup_is_confirmed_complete(
    files: FileStore, phase: str, complete: bool
) -> None:
    harness = Harness(files)
    marker, _ = put_velero(files, name="daily", phase=phase, tarball=True)
    reply = harness.deliver("minio-webhook", marker)
    assert reply is not None and reply.type == BACKUP_COMPLETED
    assert reply.data["complete"] is complete


# ------------------------------------------------ a marker rewritten while it is being read


class RewrittenOnRead(MemoryStore):
    """velero-backup.json goes from Finalizing to Completed between backup-complete's stat and
    its read (what a late notification of the old version meets on a busy machine)."""

    def __init__(self, key: str, newer: bytes) -> None:
        super().__init__("backups")
        self.key, self.newer, self.rewritten = key, newer, False

    def open_read(self, key: str) -> BinaryIO:
        if key == self.key and not self.rewritten:
            self.rewritten = True
            self.put_bytes(key, self.newer)
        return super().open_read(key)


def test_a_marker_is_read_with_the_etag_of_the_bytes_read() -> None:
    from backup_complete.bucket_checks import Bucket

    store = RewrittenOnRead("velero/backups/b/velero-backup.json", b'{"phase": "Completed"}')
    store.put_bytes(store.key, b'{"phase": "Finalizing"}')
    marker = Bucket(store).marker(store.key, cluster="prod", backup_id="b")
    assert marker is not None and marker.raw == b'{"phase": "Completed"}'
    assert marker.info.etag == store.stat(store.key).etag  # type: ignore[union-attr]
