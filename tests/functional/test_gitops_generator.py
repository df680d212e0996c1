"""gitops-generator's handler through its HTTP wrapper, with a MemoryStore and a real bare remote."""

from __future__ import annotations

import hashlib
import io
import subprocess
from pathlib import Path
from typing import Any

import flask
import pytest

from backup2gitops.adapters.storage import MemoryStore
from backup2gitops.config import Config, GitConfig
from backup2gitops.core import events
from backup2gitops.core.archive import ArchiveWriter
from backup2gitops.runtime import codec
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import handle_request
from gitops_generator.handler import SPEC

KEY = "backups/prod/b1/resources.tar.gz"


def one_configmap_archive() -> bytes:
    """A backup tarball holding one ConfigMap, shop/cfg, as the API server returned it."""
    out = io.BytesIO()
    with ArchiveWriter(out) as writer:
        writer.add(
            group_resource="configmaps",
            namespace="shop",
            name="cfg",
            obj={
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "cfg", "namespace": "shop", "uid": "u"},
                "data": {"a": "b"},
            },
        )
    return out.getvalue()


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Any, MemoryStore, Path]:
    remote = tmp_path / "remote.git"
    subprocess.run(
        ["git", "init", "-q", "--bare", "--initial-branch=main", str(remote)], check=True
    )
    store = MemoryStore("backups")
    store.put_bytes(KEY, ARCHIVE)
    config = Config(git=GitConfig(url=str(remote), cache_dir=tmp_path / "cache"))
    ctx = FunctionContext(config, store=store, environ={})
    app = flask.Flask("g")
    app.add_url_rule("/", "f", lambda: handle_request(SPEC, flask.request, ctx), methods=["POST"])
    return app.test_client(), store, remote


ARCHIVE = one_configmap_archive()


def completed(
    key: str = KEY,
    *,
    archive: bytes = ARCHIVE,
    cluster: str = "prod",
    backup_id: str = "b1",
    sha256: str | None = None,
    size: int | None = None,
) -> events.Event:
    data = events.BackupCompleted.model_construct(  # unvalidated: tests send invalid ones too
        backup_id=backup_id,
        cluster=cluster,
        format="native",
        bucket="backups",
        keys=[key.replace("resources.tar.gz", "manifest.json"), key],
        size=len(archive) if size is None else size,
        sha256=sha256 or hashlib.sha256(archive).hexdigest(),
        resource_count=1,
        created_at=events.now(),
        kubernetes_version=None,
    )
    return events.Event(
        id="in-1",
        source="/backup2gitops/backup-complete",
        type=events.BACKUP_COMPLETED,
        data=data.model_dump(mode="json"),
        cluster="prod",
        traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01",
    )


def post(client: Any, event: events.Event) -> tuple[int, events.Event | None]:
    headers, body = codec.to_http(event)
    response = client.post("/", headers=headers, data=body)
    ok = response.status_code == 200
    reply = codec.parse_http(dict(response.headers), response.data) if ok else None
    return response.status_code, reply


def test_generated_reply_then_noop_with_the_same_reply_id(setup: Any) -> None:
    client, _, remote = setup
    status, reply = post(client, completed())
    assert status == 200 and reply is not None
    assert reply.type == events.GITOPS_GENERATED and reply.subject == "prod/b1"
    assert reply.traceparent == completed().traceparent and reply.cluster == "prod"
    data = events.GitopsGenerated.model_validate(reply.data)
    assert data.objects == 1 and not data.noop and data.repository == str(remote)
    status, again = post(client, completed())
    assert again is not None and again.id == reply.id
    assert events.GitopsGenerated.model_validate(again.data).noop is True


def test_missing_archive_is_a_permanent_gitops_failed(setup: Any) -> None:
    client, store, _ = setup
    store.delete(KEY)
    status, reply = post(client, completed())
    assert status == 200 and reply is not None and reply.type == events.GITOPS_FAILED
    failed = events.GitopsFailed.model_validate(reply.data)
    assert failed.code == "archive_missing" and failed.retryable is False


def test_corrupt_archive_is_reported_not_committed(setup: Any) -> None:
    client, store, remote = setup
    bad = b"\x1f\x8b\x08\x00garbage"
    store.put_bytes(KEY, bad)
    _, reply = post(client, completed(archive=bad))
    assert reply is not None and reply.type == events.GITOPS_FAILED
    assert events.GitopsFailed.model_validate(reply.data).code.startswith("archive_")
    heads = subprocess.run(
        ["git", "--git-dir", str(remote), "branch"], capture_output=True, text=True, check=True
    ).stdout
    assert heads == ""  # nothing was pushed


def test_wrong_event_type_and_bad_data_are_400(setup: Any) -> None:
    client, _, _ = setup
    wrong = completed().model_copy(update={"type": events.BACKUP_FAILED})
    assert post(client, wrong)[0] == 400
    bad = completed().model_copy(update={"data": {"cluster": "prod"}})
    assert post(client, bad)[0] == 400
