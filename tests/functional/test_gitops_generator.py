"""gitops-generator's handler through its HTTP wrapper, with a MemoryStore and a real bare remote."""

from __future__ import annotations

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
    store.put_bytes(KEY, one_configmap_archive())
    config = Config(git=GitConfig(url=str(remote), cache_dir=tmp_path / "cache"))
    ctx = FunctionContext(config, store=store, environ={})
    app = flask.Flask("g")
    app.add_url_rule("/", "f", lambda: handle_request(SPEC, flask.request, ctx), methods=["POST"])
    return app.test_client(), store, remote


def completed(key: str = KEY) -> events.Event:
    data = events.BackupCompleted(
        backup_id="b1",
        cluster="prod",
        format="native",
        bucket="backups",
        keys=["backups/prod/b1/manifest.json", key],
        size=1,
        sha256=None,
        resource_count=1,
        created_at=events.now(),
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
    client, _, _ = setup
    status, reply = post(client, completed(key="backups/prod/b1/gone.tar.gz"))
    assert status == 200 and reply is not None and reply.type == events.GITOPS_FAILED
    failed = events.GitopsFailed.model_validate(reply.data)
    assert failed.code == "archive_missing" and failed.retryable is False


def test_corrupt_archive_is_reported_not_committed(setup: Any) -> None:
    client, store, remote = setup
    store.put_bytes("backups/prod/b1/bad.tar.gz", b"\x1f\x8b\x08\x00garbage")
    _, reply = post(client, completed(key="backups/prod/b1/bad.tar.gz"))
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


def test_an_archive_short_of_its_claim_is_a_permanent_gitops_failed(setup: Any) -> None:
    client, _, remote = setup
    event = completed()
    claims_more = event.model_copy(update={"data": {**event.data, "resource_count": 400}})
    status, reply = post(client, claims_more)
    assert status == 200 and reply is not None and reply.type == events.GITOPS_FAILED
    failed = events.GitopsFailed.model_validate(reply.data)
    assert failed.code == "archive_incomplete" and failed.retryable is False
    assert "400" in failed.message
    heads = subprocess.run(
        ["git", "--git-dir", str(remote), "branch"], capture_output=True, text=True, check=True
    ).stdout
    assert heads == ""  # nothing was pushed


def test_an_older_backup_is_a_noop_with_a_reason(setup: Any) -> None:
    client, store, _ = setup
    newer = completed()
    assert post(client, newer)[1] is not None
    store.put_bytes("backups/prod/b0/resources.tar.gz", one_configmap_archive())
    older_data = {
        **newer.data,
        "backup_id": "b0",
        "keys": ["backups/prod/b0/manifest.json", "backups/prod/b0/resources.tar.gz"],
        "created_at": "2020-01-01T00:00:00Z",
    }
    _, reply = post(client, newer.model_copy(update={"id": "in-0", "data": older_data}))
    assert reply is not None and reply.type == events.GITOPS_GENERATED
    data = events.GitopsGenerated.model_validate(reply.data)
    assert data.noop and data.reason is not None and "older" in data.reason
