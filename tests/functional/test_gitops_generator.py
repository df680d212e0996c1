"""gitops-generator's handler through its HTTP wrapper, with a MemoryStore and a real bare remote."""

from __future__ import annotations

import hashlib
import io
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import flask
import pytest

from backup2gitops import generation
from backup2gitops.adapters.storage import MemoryStore, StorageError, StorageForbidden
from backup2gitops.config import Config, GitConfig
from backup2gitops.core import events
from backup2gitops.core.archive import BackupItem
from backup2gitops.core.cleaning import CleaningPolicy
from backup2gitops.runtime import codec
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import handle_request
from gitops_generator import handler as gitops_handler
from gitops_generator.handler import SPEC
from tests.fixtures.tarballs import backup_tarball, object_item
from tests.git_repos import bare_repository, git_dir_output, git_remote

KEY = "backups/prod/b1/resources.tar.gz"


def one_configmap_archive() -> bytes:
    """A backup tarball holding one ConfigMap, shop/cfg, as the API server returned it."""
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "shop", "uid": "u"},
        "data": {"a": "b"},
    }
    return backup_tarball([object_item("configmaps", obj)])


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Any, MemoryStore, Path]:
    remote = tmp_path / "remote.git"
    bare_repository(remote)
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
    assert data.unmanaged == 1  # the one object carries no GitOps tool's mark or manager
    status, again = post(client, completed())
    assert again is not None and again.id == reply.id
    redelivered = events.GitopsGenerated.model_validate(again.data)
    assert redelivered.noop is True and redelivered.unmanaged is None  # counted nothing


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
    heads = git_dir_output(remote, "branch")
    assert heads == ""  # nothing was pushed


def test_wrong_event_type_and_bad_data_are_400(setup: Any) -> None:
    client, _, _ = setup
    wrong = completed().model_copy(update={"type": events.BACKUP_FAILED})
    assert post(client, wrong)[0] == 400
    bad = completed().model_copy(update={"data": {"cluster": "prod"}})
    assert post(client, bad)[0] == 400


def branches(remote: Path) -> str:
    return git_dir_output(remote, "branch")


def failed_reply(client: Any, event: events.Event) -> events.GitopsFailed:
    """The delivery is answered with gitops.failed (200: the Broker routes it, no retry)."""
    status, reply = post(client, event)
    assert status == 200 and reply is not None and reply.type == events.GITOPS_FAILED
    failed = events.GitopsFailed.model_validate(reply.data)
    expected_id = gitops_handler.stable_event_id(
        gitops_handler.NAME, event.id, f"failed:{failed.code}"
    )
    assert reply.id == expected_id  # the same failure redelivered: the same id
    return failed


def test_an_event_cluster_the_keys_do_not_name_is_refused(setup: Any) -> None:
    """keys under backups/prod/ with cluster: other never reach clusters/other/."""
    client, _, remote = setup
    failed = failed_reply(client, completed(cluster="other"))
    assert failed.code == "keys_mismatch" and failed.retryable is False
    assert "'prod'" in failed.message and failed.cluster == "other"
    assert branches(remote) == ""


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"sha256": "0" * 64}, "checksum_mismatch"),
        ({"size": len(ARCHIVE) + 1}, "size_mismatch"),
        ({"size": len(ARCHIVE) - 1}, "size_mismatch"),
    ],
)
def test_archive_not_as_announced_is_permanent_and_commits_nothing(
    setup: Any, overrides: dict[str, Any], code: str
) -> None:
    client, _, remote = setup
    failed = failed_reply(client, completed(**overrides))
    assert failed.code == code and failed.retryable is False
    assert branches(remote) == ""


@pytest.mark.parametrize(
    ("cluster", "backup_id"),
    [
        ("prod", "b1\nBackup-Id: other\nCluster: other"),
        ("prod\nCluster: other", "b1"),
        ("prod", "B1"),
        ("prod", "a..b"),
        ("prod.eu", "b1"),
        ("prod", "b" * 254),
    ],
)
def test_ids_and_clusters_outside_their_character_sets_are_400(
    setup: Any, cluster: str, backup_id: str
) -> None:
    client, _, remote = setup
    status, _ = post(client, completed(cluster=cluster, backup_id=backup_id))
    assert status == 400
    assert branches(remote) == ""


def test_an_object_name_that_cannot_be_a_path_is_excluded_alone_not_500(
    setup: Any,
) -> None:
    """A ClusterRole named .hidden is valid in Kubernetes; it cannot be a file here. The reader
    refuses that one object (``BackupItem.refused``): the rest of the backup is committed."""
    client, store, remote = setup
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": ".hidden"},
        "rules": [],
    }
    kept = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept"}}
    archive = backup_tarball(
        [
            object_item("clusterroles.rbac.authorization.k8s.io", role),
            BackupItem("configmaps", "shop", "kept", kept),
        ]
    )
    store.put_bytes(KEY, archive)
    status, reply = post(client, completed(archive=archive))
    assert status == 200 and reply is not None and reply.type == events.GITOPS_GENERATED, reply
    files = git_dir_output(remote, "ls-tree", "-r", "--name-only", "main")
    assert "clusters/prod/namespaces/shop/configmaps/kept.yaml" in files
    assert "hidden" not in files


def test_anything_unexpected_is_gitops_failed_not_a_500(
    setup: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _, _ = setup

    def broken(*_: Any) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(generation.GenerationJob, "run", broken)
    failed = failed_reply(client, completed())
    assert failed.code == "internal" and failed.retryable is False
    assert "a bug" not in failed.message  # internals stay in the logs


class DownStore(MemoryStore):
    def open_read(self, key: str) -> BinaryIO:
        raise StorageError("connection refused", retryable=True)


def test_storage_down_is_503_and_announced_where_there_is_a_publisher(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    bare_repository(remote)
    published: list[events.Event] = []
    config = Config(git=GitConfig(url=str(remote), cache_dir=tmp_path / "cache"))
    event = completed()
    sent = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    event = event.model_copy(update={"time": sent})
    ctx = FunctionContext(
        config,
        store=DownStore("backups"),
        environ={},
        publish=published.append,
        clock=lambda: sent + timedelta(seconds=30),  # within generator.retry_window_s
    )
    app = flask.Flask("g")
    app.add_url_rule("/", "f", lambda: handle_request(SPEC, flask.request, ctx), methods=["POST"])
    status, _ = post(app.test_client(), event)
    assert status == 503  # the Broker retries
    assert [e.type for e in published] == [events.GITOPS_FAILED]
    failed = events.GitopsFailed.model_validate(published[0].data)
    assert failed.code == "storage_unavailable" and failed.retryable is True


class ForbiddingStore(MemoryStore):
    def stat(self, key: str) -> Any:
        raise StorageForbidden("AccessDenied", key=key)

    def open_read(self, key: str) -> BinaryIO:
        raise StorageForbidden("AccessDenied", key=key)


def test_refused_storage_credentials_are_a_permanent_gitops_failed_naming_the_setting(
    tmp_path: Path,
) -> None:
    """Issue 22 item 12: a 403 is refused again on every redelivery, so it is not a 503 retried
    for ever: it is gitops.failed (an alert) that says which settings to check."""
    remote = tmp_path / "remote.git"
    bare_repository(remote)
    config = Config(git=GitConfig(url=str(remote), cache_dir=tmp_path / "cache"))
    ctx = FunctionContext(config, store=ForbiddingStore("backups"), environ={})
    app = flask.Flask("g")
    app.add_url_rule("/", "f", lambda: handle_request(SPEC, flask.request, ctx), methods=["POST"])
    status, reply = post(app.test_client(), completed())
    assert status == 200 and reply is not None and reply.type == events.GITOPS_FAILED
    failed = events.GitopsFailed.model_validate(reply.data)
    assert failed.code == "storage_forbidden" and failed.retryable is False
    assert "storage.access_key" in failed.message


def test_a_symlink_in_the_gitops_repository_cannot_make_it_write_outside(
    setup: Any, tmp_path: Path
) -> None:
    """The resolve() guard: clusters/prod/namespaces committed as a link to a folder elsewhere."""
    client, _, remote = setup
    outside = tmp_path / "outside"
    outside.mkdir()
    seed = tmp_path / "seed"
    subprocess.run(["git", "clone", "-q", str(remote), str(seed)], check=True, capture_output=True)
    (seed / "clusters" / "prod").mkdir(parents=True)
    (seed / "clusters" / "prod" / "namespaces").symlink_to(outside)
    env = ["-c", "user.name=a", "-c", "user.email=a@b"]
    subprocess.run(["git", "-C", str(seed), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(seed), *env, "commit", "-qm", "link"], check=True)
    subprocess.run(["git", "-C", str(seed), "push", "-q", "origin", "HEAD:main"], check=True)
    failed = failed_reply(client, completed())
    assert failed.code == "unsafe_path" and failed.retryable is False
    assert list(outside.rglob("*")) == []


def test_a_trailer_value_with_a_newline_is_never_committed(tmp_path: Path) -> None:
    """The generator's own guard (core.trailers), behind the event's validation."""
    remote = bare_repository(tmp_path / "remote.git")
    with pytest.raises(generation.BackupRefused) as caught:
        generation.generate(
            archive=lambda: io.BytesIO(one_configmap_archive()),
            remote=git_remote(remote, tmp_path / "c"),
            cluster="prod",
            backup_id="b1\nCluster: other",
            policy=CleaningPolicy(),
        )
    assert caught.value.code == "unsafe_trailer" and caught.value.permanent
    assert branches(remote) == ""


def test_an_archive_short_of_its_claim_is_a_permanent_gitops_failed(setup: Any) -> None:
    client, _, remote = setup
    event = completed()
    claims_more = event.model_copy(update={"data": {**event.data, "resource_count": 400}})
    status, reply = post(client, claims_more)
    assert status == 200 and reply is not None and reply.type == events.GITOPS_FAILED
    failed = events.GitopsFailed.model_validate(reply.data)
    assert failed.code == "archive_incomplete" and failed.retryable is False
    assert "400" in failed.message
    heads = git_dir_output(remote, "branch")
    assert heads == ""  # nothing was pushed


def test_an_older_backup_is_an_out_of_order_alert(setup: Any) -> None:
    """Skipping a backup older than the tip is gitops.failed (alert-router hears of it), not a
    reason inside a gitops.generated that nobody is paged for."""
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
    assert reply is not None and reply.type == events.GITOPS_FAILED
    failed = events.GitopsFailed.model_validate(reply.data)
    assert failed.code == "out_of_order" and failed.retryable is False
    assert "older" in failed.message and "b0" in failed.message


def test_sops_with_its_digest_key_unset_is_gitops_failed_and_nothing_is_pushed(
    tmp_path: Path,
) -> None:
    """``sops_digest_key`` names a variable this process does not have: the Secret is neither
    written in clear nor re-encrypted without a digest; the backup fails with the field's name."""
    from backup2gitops.config import GeneratorConfig
    from backup2gitops.config.types import SecretRef
    from backup2gitops.core.cleaning import CleaningPolicy

    remote = tmp_path / "remote.git"
    bare_repository(remote)
    store = MemoryStore("backups")
    store.put_bytes(KEY, ARCHIVE)
    config = Config(
        git=GitConfig(url=str(remote), cache_dir=tmp_path / "cache"),
        generator=GeneratorConfig(
            cleaning=CleaningPolicy(secrets="sops"),
            sops_age_recipients=["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"],
            sops_digest_key=SecretRef(env="B2G_TEST_DIGEST_KEY"),
        ),
    )
    ctx = FunctionContext(config, store=store, environ={})
    app = flask.Flask("g")
    app.add_url_rule("/", "f", lambda: handle_request(SPEC, flask.request, ctx), methods=["POST"])
    status, reply = post(app.test_client(), completed())
    assert status == 200 and reply is not None and reply.type == events.GITOPS_FAILED
    failed = events.GitopsFailed.model_validate(reply.data)
    assert failed.code == "sops_failed" and "sops_digest_key is not set" in failed.message
    assert "B2G_TEST_DIGEST_KEY" in failed.message
    heads = git_dir_output(remote, "branch")
    assert heads == ""


def test_a_completion_time_after_the_marker_was_stored_is_clock_skew(setup: Any) -> None:
    """Issue 22 item 2: a backup stamped in the future (a producer's wrong clock, or a forged
    event saying 2099) used to freeze the cluster's branch: every later backup looked older.
    The marker's last-modified time (the storage's word) bounds it; nothing is committed."""
    client, store, remote = setup
    store.put_bytes(KEY.replace("resources.tar.gz", "manifest.json"), b"{}")
    event = completed()
    future = {**event.data, "created_at": "2099-01-01T00:00:00Z"}
    failed = failed_reply(client, event.model_copy(update={"data": future}))
    assert failed.code == "clock_skew" and failed.retryable is False
    assert "2099-01-01" in failed.message
    assert branches(remote) == ""
    status, reply = post(client, event)  # the honest backup still goes through
    assert status == 200 and reply is not None and reply.type == events.GITOPS_GENERATED
