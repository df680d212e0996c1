"""Refused storage credentials against a real MinIO (issue 22 item 12): permanent, never an
endless 503. The storage adapter classifies MinIO's 403s (``InvalidAccessKeyId``,
``SignatureDoesNotMatch``, a HEAD's bare ``403``) as ``storage_forbidden``, not retryable, with a
message naming the settings; backup-complete, served as the image serves it with wrong
credentials, answers a MinIO webhook with ``backup.failed`` (which alert-router turns into an
alert), the same event on a redelivery."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from backup2gitops.adapters.storage import StorageForbidden, open_store
from backup2gitops.cli.flow import minio_webhook_body
from backup2gitops.config import StorageConfig
from backup2gitops.core import bucket_layout
from backup2gitops.core.alert_rules import effects_of
from backup2gitops.core.events import BACKUP_FAILED, BackupFailed
from backup2gitops.runtime import codec
from tests.e2e.servers import Minio, needs_minio, serve_function
from tests.e2e.slow_clients import MAIN
from tests.e2e.stores import minio_with_bucket

pytestmark = [pytest.mark.e2e, needs_minio]

BUCKET = "b2g-forbidden"
TOKEN = "forbidden-test-token"
MANIFEST = (
    bucket_layout.native_backup_dir(prefix="backups/", cluster="prod", backup_id="b1")
    + bucket_layout.MANIFEST_NAME
)


@pytest.fixture
def minio(tmp_path: Path) -> Iterator[tuple[Minio, str]]:
    with minio_with_bucket(tmp_path, BUCKET) as server:
        s3 = server.s3_client()
        s3.put_object(Bucket=BUCKET, Key=MANIFEST, Body=b'{"format_version": 1}')
        etag = s3.head_object(Bucket=BUCKET, Key=MANIFEST)["ETag"].strip('"')
        yield server, etag


def wrong(server: Minio, which: str) -> tuple[str, str]:
    if which == "access key":
        return "no-such-access-key", server.password
    return server.user, server.password + "-wrong"


@pytest.mark.parametrize("which", ["access key", "secret key"])
def test_the_adapter_says_storage_forbidden_not_retryable(
    minio: tuple[Minio, str], monkeypatch: pytest.MonkeyPatch, which: str
) -> None:
    server, _ = minio
    access, secret = wrong(server, which)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    store = open_store(
        StorageConfig(url=f"s3://{BUCKET}", endpoint_url=server.url, addressing_style="path")
    )
    for attempt in (
        lambda: store.stat(MANIFEST),  # HEAD: a bare 403
        lambda: store.open_read(MANIFEST).read(),  # GET: InvalidAccessKeyId / SignatureDoesNotMatch
        lambda: store.put_bytes("x", b"x"),
    ):
        with pytest.raises(StorageForbidden) as refused:
            attempt()
        assert refused.value.code == "storage_forbidden"
        assert refused.value.retryable is False
        assert "storage.access_key" in refused.value.message
        assert secret not in refused.value.message and access not in refused.value.message


def test_backup_complete_answers_backup_failed_not_503(
    minio: tuple[Minio, str], tmp_path: Path
) -> None:
    server, etag = minio
    config = tmp_path / "config.yaml"
    config.write_text(
        f"storage:\n  url: s3://{BUCKET}\n  endpoint_url: {server.url}\n"
        "  addressing_style: path\n"
        "backup_complete:\n  webhook_token: {env: HOOK_TOKEN}\n"
    )
    env = {
        "BACKUP2GITOPS_CONFIG": str(config),
        "HOOK_TOKEN": TOKEN,
        "FUNCTION_TARGET": "backup_complete",
        "AWS_ACCESS_KEY_ID": server.user,
        "AWS_SECRET_ACCESS_KEY": server.password + "-rotated-elsewhere",
    }
    body = minio_webhook_body(bucket=BUCKET, key=MANIFEST, etag=etag, size=21)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    with serve_function(MAIN, "backup_complete", env=env) as url:
        replies = []
        for _ in range(2):  # MinIO's redelivery gets the same answer
            response = requests.post(url, data=body, headers=headers, timeout=120)
            assert response.status_code == 200, response.text
            replies.append(codec.parse_http(dict(response.headers), response.content))
    first, again = replies
    assert first.type == BACKUP_FAILED and first.subject == "prod/b1"
    failed = BackupFailed.model_validate(first.data)
    assert failed.code == "storage_forbidden"
    assert "storage.access_key and storage.secret_key" in failed.message
    assert server.password not in failed.message
    assert again.id == first.id
    (alert,) = effects_of(first).firing  # what alert-router fires for it
    assert alert.labels["alertname"] == "BackupFailed"
    assert alert.annotations["description"].startswith("storage_forbidden: ")
    assert "storage.access_key" in alert.annotations["description"]
