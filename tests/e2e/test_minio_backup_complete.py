"""A real MinIO announces uploads to backup-complete served by functions-framework.

MinIO's webhook target ``B2G`` (with ``queue_dir``, so MinIO retries) posts to backup-complete with
its bearer token; backup-complete publishes its events to ``K_SINK``: a recorder in this test,
whose CloudEvents are what is asserted on. A second webhook target ``CAPTURE`` posts the same
notifications to the recorder, so the raw body MinIO sent is seen too (printed, credentials
removed, for the record).

Velero decision (see backup_complete.velero): one completion per final velero-backup.json
version. Its event id derives from that JSON's etag, so if MinIO delivers the tarball's
notification after the final JSON exists, the second ``backup.completed`` has the SAME id --
deliveries are at least once, completions are identified by id. The test asserts exactly one
distinct completion id.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from cloudevents.http import from_http

from backup2gitops.core.archive import BackupItem
from backup2gitops.core.backup_manifest import dump_manifest
from backup2gitops.core.events import BACKUP_COMPLETED, BACKUP_FAILED
from backup2gitops.core.notifications import notifications_from
from tests.e2e.minio_webhook import bucket_notifying, webhook_target
from tests.e2e.servers import (
    MINIO_PASSWORD,
    MINIO_USER,
    Recorder,
    free_port,
    http_recorder,
    minio_server,
    needs_minio,
    serve_function,
    wait_for,
)
from tests.fixtures.native import native_backup
from tests.fixtures.velero import velero_backup_object, velero_tarball

pytestmark = [
    pytest.mark.e2e,
    needs_minio,
]

HANDLER = Path(__file__).resolve().parents[2] / "functions" / "backup_complete" / "handler.py"
BUCKET = "b2g-backups"
TOKEN = "webhook-token-for-e2e"
WEIRD_KEY = "uploads/daily 2026+01/ü/résumé + notes.txt"
CONFIG = """
storage:
  url: s3://{bucket}
  endpoint_url: {endpoint}
  region: us-east-1
  addressing_style: path
clusters:
  - name: staging
    velero_prefix: velero
"""


@dataclass
class Stack:
    s3: Any
    sink: Recorder
    function_url: str
    function_log: Path

    def events(self, *, type: str | None = None, subject: str | None = None) -> list[Any]:
        found = []
        for request in self.sink.snapshot("/"):
            event = from_http(request.headers, request.body)
            if (type is None or event["type"] == type) and (
                subject is None or event.get("subject") == subject
            ):
                found.append(event)
        return found

    def wait_event(self, *, type: str, subject: str, timeout: float = 120) -> Any:
        return wait_for(
            lambda: (self.events(type=type, subject=subject) or [None])[0],
            timeout=timeout,
            what=f"{type} for {subject}",
        )

    def captured(self, key: str) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for request in self.sink.snapshot("/capture"):
                body: dict[str, Any] = json.loads(request.body)
                if notifications_from(body)[0].key == key:
                    return body
            return None

        return wait_for(find, timeout=120, what=f"MinIO's notification for {key!r}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("e2e")
    minio_port = free_port()
    minio_url = f"http://127.0.0.1:{minio_port}"
    config = tmp / "backup2gitops.yaml"
    config.write_text(CONFIG.format(bucket=BUCKET, endpoint=minio_url))
    with http_recorder() as sink:
        function_env = {
            "BACKUP2GITOPS_CONFIG": str(config),
            "BACKUP2GITOPS_WEBHOOK_TOKEN": TOKEN,
            "BACKUP2GITOPS_LOG_LEVEL": "DEBUG",
            "AWS_ACCESS_KEY_ID": MINIO_USER,
            "AWS_SECRET_ACCESS_KEY": MINIO_PASSWORD,
            "K_SINK": sink.url + "/",
        }
        function_log = tmp / "backup-complete.log"
        with serve_function(HANDLER, "backup_complete", env=function_env, log=function_log) as url:
            minio_env = webhook_target(
                "B2G", endpoint=url + "/", token=TOKEN, queue_dir=tmp / "queue-b2g"
            ) | webhook_target(
                "CAPTURE", endpoint=sink.url + "/capture", queue_dir=tmp / "queue-capture"
            )
            with minio_server(tmp, env=minio_env, port=minio_port) as minio:
                s3 = minio.s3_client()
                bucket_notifying(s3, BUCKET, targets=("B2G", "CAPTURE"), suffix=None)
                yield Stack(s3=s3, sink=sink, function_url=url, function_log=function_log)


def put(stack: Stack, key: str, body: bytes) -> None:
    stack.s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def test_native_backup_archive_then_manifest_completes(stack: Stack) -> None:
    backup = native_backup(cluster="prod", backup_id="e2e-native")
    put(stack, backup.archive_key, backup.archive)
    put(stack, backup.manifest_key, dump_manifest(backup.manifest))
    event = stack.wait_event(type=BACKUP_COMPLETED, subject="prod/e2e-native")
    assert event["source"] == "/backup2gitops/backup-complete"
    assert event["cluster"] == "prod"
    data = event.get_data()
    assert data["keys"] == [backup.manifest_key, backup.archive_key]
    assert (data["bucket"], data["format"]) == (BUCKET, "native")
    assert (data["size"], data["sha256"]) == (len(backup.archive), backup.manifest.archive.sha256)
    assert data["resource_count"] == 3
    completions = stack.events(type=BACKUP_COMPLETED, subject="prod/e2e-native")
    assert {e["id"] for e in completions} == {event["id"]}
    assert stack.events(type=BACKUP_FAILED, subject="prod/e2e-native") == []


def test_manifest_before_archive_fails_archive_missing(stack: Stack) -> None:
    backup = native_backup(cluster="prod", backup_id="e2e-early-manifest")
    put(stack, backup.manifest_key, dump_manifest(backup.manifest))
    event = stack.wait_event(type=BACKUP_FAILED, subject="prod/e2e-early-manifest")
    assert event.get_data()["code"] == "archive_missing"
    assert stack.events(type=BACKUP_COMPLETED, subject="prod/e2e-early-manifest") == []


def test_wrong_sha256_fails_checksum_mismatch(stack: Stack) -> None:
    backup = native_backup(cluster="prod", backup_id="e2e-bad-sum")
    document = json.loads(dump_manifest(backup.manifest))
    document["archive"]["sha256"] = hashlib.sha256(b"something else").hexdigest()
    put(stack, backup.archive_key, backup.archive)
    put(stack, backup.manifest_key, json.dumps(document).encode())
    event = stack.wait_event(type=BACKUP_FAILED, subject="prod/e2e-bad-sum")
    assert event.get_data()["code"] == "checksum_mismatch"
    assert stack.events(type=BACKUP_COMPLETED, subject="prod/e2e-bad-sum") == []


def test_velero_finalizing_tarball_completed_gives_one_completion(stack: Stack) -> None:
    name = "daily-e2e"
    folder = f"velero/backups/{name}/"

    def backup_json(phase: str) -> bytes:
        obj = velero_backup_object(name=name, phase=phase, k8s_version="v1.30.2", item_count=4)
        return json.dumps(obj).encode()

    put(stack, folder + "velero-backup.json", backup_json("Finalizing"))
    items = [  # as many as velero-backup.json's progress claims: a gutted tarball would fail
        BackupItem("configmaps", "default", f"cm-{n}", {"apiVersion": "v1", "kind": "ConfigMap"})
        for n in range(4)
    ]
    put(stack, folder + f"{name}.tar.gz", velero_tarball(items))
    stack.captured(folder + f"{name}.tar.gz")  # MinIO has announced the tarball
    assert stack.events(subject=f"staging/{name}") == []
    put(stack, folder + "velero-backup.json", backup_json("Completed"))
    event = stack.wait_event(type=BACKUP_COMPLETED, subject=f"staging/{name}")
    data = event.get_data()
    assert (data["format"], data["cluster"], data["kubernetes_version"]) == (
        "velero",
        "staging",
        "v1.30.2",
    )
    assert data["resource_count"] == 4
    assert (
        len({e["id"] for e in stack.events(type=BACKUP_COMPLETED, subject=f"staging/{name}")}) == 1
    )
    assert stack.events(type=BACKUP_FAILED, subject=f"staging/{name}") == []


def test_native_backup_under_a_prefix_with_a_plus(stack: Stack) -> None:
    backup = native_backup(cluster="prod", backup_id="e2e-plus", prefix="team+ops")
    put(stack, backup.archive_key, backup.archive)
    put(stack, backup.manifest_key, dump_manifest(backup.manifest))
    event = stack.wait_event(type=BACKUP_COMPLETED, subject="prod/e2e-plus")
    assert event.get_data()["keys"][0] == "team+ops/backups/prod/e2e-plus/manifest.json"


def test_a_key_with_slashes_spaces_plus_and_non_ascii(stack: Stack) -> None:
    put(stack, WEIRD_KEY, b"not a backup")
    body = stack.captured(WEIRD_KEY)
    raw_key = body["Records"][0]["s3"]["object"]["key"]
    assert "%2F" in raw_key and "+" in raw_key and "%2B" in raw_key  # Go's QueryEscape
    (note,) = notifications_from(body)
    assert (note.bucket, note.key, note.event_name) == (BUCKET, WEIRD_KEY, "ObjectCreated:Put")
    # The body MinIO posted, replayed with and without the token: 202 and 401, no event.
    replay = requests.post(
        stack.function_url,
        json=body,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert replay.status_code == 202
    denied = requests.post(stack.function_url, json=body, timeout=10)
    assert denied.status_code == 401
    print("MinIO webhook body (credentials removed):")
    print(json.dumps(redacted(body), indent=2, ensure_ascii=False))


def redacted(body: dict[str, Any]) -> dict[str, Any]:
    clean = copy.deepcopy(body)
    for record in clean["Records"]:
        record["userIdentity"]["principalId"] = "<redacted>"
        record["s3"]["bucket"]["ownerIdentity"]["principalId"] = "<redacted>"
        record.get("requestParameters", {}).pop("principalId", None)
        if "accessKey" in record.get("requestParameters", {}):
            record["requestParameters"]["accessKey"] = "<redacted>"
    return clean
