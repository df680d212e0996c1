"""cluster-backup end to end: the real kubernetes client over real HTTP to the replay API server."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import flask
import pytest
import yaml
from kubernetes import client

from backup2gitops import generation
from backup2gitops.adapters import kube
from backup2gitops.adapters.storage import FileStore, MemoryStore, ObjectInfo, StorageError
from backup2gitops.cli import backup as cli_backup
from backup2gitops.cli import generate as cli_generate
from backup2gitops.cluster_snapshot import (
    filter_policy,
    resource_matches,
    select_resources,
    snapshot_items,
    write_cluster_backup,
)
from backup2gitops.config import ClusterBackupConfig, Config
from backup2gitops.core.archive import BackupItem, iter_items
from backup2gitops.core.backup_manifest import parse_manifest
from backup2gitops.core.cleaning import CleaningPolicy
from backup2gitops.core.events import BACKUP_FAILED, BACKUP_REQUESTED, PING, Event
from backup2gitops.native_backup_writer import write_native_backup
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import FunctionSpec, handle_request
from cluster_backup import handler as cluster_backup
from tests.fixtures.tarballs import backup_tarball, object_item
from tests.kube_replay.cluster import FailList, ReplayCluster, make_object
from tests.kube_replay.server import replay_server

NOW = datetime(2026, 3, 1, 2, 0, 0, tzinfo=UTC)
BACKUP_ID = "20260301t020000z"
ARCHIVE = f"backups/prod/{BACKUP_ID}/resources.tar.gz"
MANIFEST = f"backups/prod/{BACKUP_ID}/manifest.json"
PING_SOURCE = "/apis/v1/namespaces/backup2gitops/pingsources/backup2gitops-backup-schedule"


def run_cli(argv: list[str]) -> int:
    """``backup2gitops <verb>`` through the verbs' own ``register`` (as ``cli.main`` does).

    Not ``cli.main`` itself: it imports every verb, and ``demo`` needs ``backup2gitops.sample``,
    which another branch brings.
    """
    parser = argparse.ArgumentParser(prog="backup2gitops")
    subparsers = parser.add_subparsers(dest="verb", required=True)
    cli_backup.register(subparsers)
    cli_generate.register(subparsers)
    args = parser.parse_args(argv)
    status: int = args.func(args)
    return status


# -- the replayed cluster --------------------------------------------------------------------


def _labelled(obj: dict[str, Any], **labels: str) -> dict[str, Any]:
    obj["metadata"]["labels"] = labels
    return obj


def cluster_objects() -> list[dict[str, Any]]:
    owner = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "web-5d8f",
        "uid": "0b8e6c2e-1111-4c1e-9a35-6f1a1c1d2e3f",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    owned_pod = make_object("v1", "Pod", "web-5d8f-x2x9k", namespace="default")
    owned_pod["metadata"]["ownerReferences"] = [owner]
    owned_pod["spec"] = {"containers": [{"name": "web", "image": "nginx:1.27"}]}
    return [
        make_object("v1", "Namespace", "default"),
        make_object("v1", "Namespace", "team-a"),
        make_object("v1", "Namespace", "kube-system"),
        _labelled(
            make_object(
                "v1", "ConfigMap", "settings", namespace="default", body={"data": {"a": "1"}}
            ),
            app="web",
        ),
        make_object(
            "v1",
            "ConfigMap",
            "kube-root-ca.crt",
            namespace="default",
            body={"data": {"ca.crt": "x"}},
        ),
        make_object("v1", "ConfigMap", "team", namespace="team-a", body={"data": {"b": "2"}}),
        make_object(
            "v1", "ConfigMap", "coredns", namespace="kube-system", body={"data": {"c": "3"}}
        ),
        _labelled(
            make_object(
                "apps/v1",
                "Deployment",
                "web",
                namespace="default",
                body={
                    "spec": {
                        "replicas": 2,
                        "selector": {"matchLabels": {"app": "web"}},
                        "template": {
                            "metadata": {"labels": {"app": "web"}},
                            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                        },
                    },
                    "status": {"replicas": 2},
                },
            ),
            app="web",
        ),
        make_object(
            "v1",
            "Secret",
            "db",
            namespace="default",
            body={"type": "Opaque", "data": {"pw": "c2VjcmV0"}},
        ),
        make_object(
            "v1",
            "Secret",
            "default-token-abcde",
            namespace="default",
            body={"type": "kubernetes.io/service-account-token", "data": {"token": "dA=="}},
        ),
        make_object("v1", "Event", "web.17f2", namespace="default", body={"reason": "Scheduled"}),
        owned_pod,
        make_object(
            "v1",
            "Pod",
            "debug",
            namespace="team-a",
            body={"spec": {"containers": [{"name": "sh", "image": "busybox:1.36"}]}},
        ),
        make_object("v1", "ServiceAccount", "builder", namespace="team-a"),
        make_object(
            "example.com/v1", "Widget", "w1", namespace="team-a", body={"spec": {"size": 3}}
        ),
    ]


def api_client_for(url: str) -> client.ApiClient:
    configuration = client.Configuration()
    configuration.host = url
    return client.ApiClient(configuration)


@contextlib.contextmanager
def serving(cluster: ReplayCluster) -> Iterator[client.ApiClient]:
    with replay_server(cluster) as url, api_client_for(url) as api:
        yield api


class RecordingStore(MemoryStore):
    """A MemoryStore that records the order in which objects become visible."""

    def __init__(self) -> None:
        super().__init__("backups")
        self.published: list[str] = []

    def put_bytes(
        self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> ObjectInfo:
        info = super().put_bytes(key, data, if_match=if_match, if_none_match=if_none_match)
        if not key.endswith("/.claim"):  # the run's claim is not part of the backup
            self.published.append(key)
        return info


class FailingWriterStore(MemoryStore):
    """A store whose writer fails after `after` bytes (a bucket that goes away mid-upload)."""

    def __init__(self, after: int) -> None:
        super().__init__("backups")
        self.after = after

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[IO[bytes]]:
        limit = self.after

        class Broken(io.BytesIO):
            def write(self, data: Any, /) -> int:
                if self.tell() + len(data) > limit:
                    raise StorageError(f"S3 SlowDown on {key}")
                return super().write(data)

        buffer = Broken()
        yield buffer
        self.put_bytes(key, buffer.getvalue())


def backup_of(
    cluster: ReplayCluster, store: MemoryStore | None = None, **settings: Any
) -> tuple[MemoryStore, Any]:
    store = store if store is not None else RecordingStore()
    config = ClusterBackupConfig(cluster="prod", **settings)
    with serving(cluster) as api:
        written = write_cluster_backup(
            api,
            store,
            config=config,
            cluster="prod",
            backup_id=BACKUP_ID,
            started_at=NOW,
            clock=lambda: NOW,
        )
    return store, written


def archive_items(store: MemoryStore, key: str = ARCHIVE) -> list[BackupItem]:
    return list(iter_items(store.open_read(key)))


def keys_of(items: list[BackupItem]) -> set[str]:
    return {f"{i.group_resource}/{i.namespace or '-'}/{i.name}" for i in items}


def listed_paths(cluster: ReplayCluster) -> list[str]:
    return [target.partition("?")[0] for _, target, _ in cluster.requests if "limit=" in target]


# -- what a backup holds -----------------------------------------------------------------------


def test_backup_writes_the_archive_then_the_manifest() -> None:
    cluster = ReplayCluster(objects=cluster_objects())
    store, backup = backup_of(cluster)
    assert store.published == [ARCHIVE, MANIFEST]  # the manifest LAST
    manifest = parse_manifest(store.read_bytes(MANIFEST))
    assert manifest.cluster == "prod" and manifest.backup_id == BACKUP_ID
    assert manifest.kubernetes_version == "v1.31.4"
    assert manifest.warnings == []
    assert manifest.resource_counts == {
        "configmaps": 3,
        "deployments.apps": 1,
        "namespaces": 1,  # default and kube-system are the API server's, left as it made them
        "pods": 1,
        "serviceaccounts": 1,
        "widgets.example.com": 1,
    }
    assert manifest.archive.size == len(store.read_bytes(ARCHIVE))
    items = archive_items(store)
    assert keys_of(items) == {
        "namespaces/-/team-a",
        "configmaps/default/settings",
        "configmaps/team-a/team",
        "configmaps/kube-system/coredns",
        "deployments.apps/default/web",
        "pods/team-a/debug",
        "serviceaccounts/team-a/builder",
        "widgets.example.com/team-a/w1",
    }
    deployment = next(i.obj for i in items if i.name == "web")
    assert (deployment["apiVersion"], deployment["kind"]) == ("apps/v1", "Deployment")
    assert deployment["status"] == {"replicas": 2}  # a backup keeps what the server sent
    assert backup.excluded == {"configmaps": 1, "namespaces": 2, "pods": 1}  # + system namespaces


def test_default_exclusions_are_not_even_listed() -> None:
    cluster = ReplayCluster(objects=cluster_objects())
    store, _ = backup_of(cluster)
    paths = listed_paths(cluster)
    assert "/api/v1/events" not in paths and "/api/v1/secrets" not in paths
    assert "/api/v1/configmaps" in paths
    assert not any(i.group_resource == "events" for i in archive_items(store))


def test_default_exclusions_can_be_turned_off() -> None:
    store, _ = backup_of(ReplayCluster(objects=cluster_objects()), default_exclusions=False)
    keys = keys_of(archive_items(store))
    assert {"events/default/web.17f2", "pods/default/web-5d8f-x2x9k"} <= keys
    assert "configmaps/default/kube-root-ca.crt" in keys
    assert not any(key.startswith("secrets/") for key in keys)  # secrets: still not allowed


def test_secrets_only_when_allowed() -> None:
    store, _ = backup_of(ReplayCluster(objects=cluster_objects()), include_secrets=True)
    secrets = [i for i in archive_items(store) if i.group_resource == "secrets"]
    # the service-account token stays out (a default exclusion)
    assert [(s.name, s.obj["data"]) for s in secrets] == [("db", {"pw": "c2VjcmV0"})]


def test_namespace_globs() -> None:
    store, _ = backup_of(
        ReplayCluster(objects=cluster_objects()),
        include_namespaces=["team-*", "default"],
        exclude_namespaces=["default"],
    )
    assert keys_of(archive_items(store)) == {
        "namespaces/-/team-a",
        "configmaps/team-a/team",
        "pods/team-a/debug",
        "serviceaccounts/team-a/builder",
        "widgets.example.com/team-a/w1",
    }


def test_plain_namespace_names_are_listed_one_by_one() -> None:
    cluster = ReplayCluster(objects=cluster_objects())
    store, _ = backup_of(cluster, include_namespaces=["team-a"])
    paths = listed_paths(cluster)
    assert "/api/v1/namespaces/team-a/configmaps" in paths
    assert "/api/v1/configmaps" not in paths
    assert "/api/v1/namespaces" in paths  # cluster-scoped: listed whole, filtered by name
    assert "namespaces/-/team-a" in keys_of(archive_items(store))
    assert "namespaces/-/default" not in keys_of(archive_items(store))


def test_resource_filters_by_name_or_name_and_group() -> None:
    store, _ = backup_of(
        ReplayCluster(objects=cluster_objects()),
        include_resources=["configmaps", "deployments.apps", "widgets.example.com", "pods.apps"],
        exclude_resources=["configmaps."],
    )
    assert keys_of(archive_items(store)) == {
        "deployments.apps/default/web",
        "widgets.example.com/team-a/w1",
    }


def test_resource_matches() -> None:
    deployments = kube.ApiResource("apps", "v1", "deployments", "Deployment", True)
    configmaps = kube.ApiResource("", "v1", "configmaps", "ConfigMap", True)
    assert resource_matches("deployments", deployments)
    assert resource_matches("Deployments.Apps", deployments)
    assert not resource_matches("deployments.extensions", deployments)
    assert not resource_matches("deployments.", deployments)
    assert resource_matches("configmaps.", configmaps)
    assert select_resources(
        [deployments, configmaps], config=ClusterBackupConfig(exclude_resources=["deployments"])
    ) == [configmaps]


def test_label_selector_is_applied() -> None:
    store, _ = backup_of(ReplayCluster(objects=cluster_objects()), label_selector="app=web")
    assert keys_of(archive_items(store)) == {
        "configmaps/default/settings",
        "deployments.apps/default/web",
    }


def test_filter_policy_keeps_secrets_only_when_allowed() -> None:
    assert filter_policy(ClusterBackupConfig()).secrets == "exclude"
    assert filter_policy(ClusterBackupConfig(include_secrets=True)).secrets == "plaintext"


def test_invalid_label_selector_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="label selector"):
        ClusterBackupConfig(label_selector="app in (web")


# -- partial and failed backups ----------------------------------------------------------------


def test_failure_mid_list_leaves_no_manifest_and_no_archive() -> None:
    cluster = ReplayCluster(objects=cluster_objects(), fail_lists=[FailList("configmaps", after=2)])
    store = RecordingStore()
    with pytest.raises(kube.KubeError) as caught:
        backup_of(cluster, store, page_size=2)
    assert caught.value.status == 500
    assert "Internal error occurred" in caught.value.message
    assert cluster.failures_sent  # it did fail mid-list: after the first page
    assert any("continue=" in t for _, t, _ in cluster.requests if "/configmaps" in t)
    assert list(store.list()) == [] and store.published == []


def test_storage_failure_leaves_nothing() -> None:
    store = FailingWriterStore(after=200)
    with pytest.raises(StorageError):
        backup_of(ReplayCluster(objects=cluster_objects()), store)
    assert list(store.list()) == []


def test_snapshot_items_streams_and_reports_discovery_warnings() -> None:
    cluster = ReplayCluster(objects=cluster_objects(), broken_groups=["metrics.k8s.io"])
    warnings: list[str] = []
    with serving(cluster) as api:
        items = snapshot_items(api, config=ClusterBackupConfig(), warnings=warnings)
        first = next(items)  # discovery + the first page only
        lists_so_far = len(listed_paths(cluster))
        rest = list(items)
    assert first.group_resource == "configmaps" and lists_so_far == 1
    assert len(rest) == 7 and len(warnings) == 1


# -- round trip: the replayed cluster's backup and a hand-written one make the same repo -------


def hand_written_archive(objects: list[dict[str, Any]]) -> bytes:
    """The backup a person would write from the same objects, with no cluster in between."""
    plural = {
        "Namespace": "namespaces",
        "ConfigMap": "configmaps",
        "Deployment": "deployments.apps",
        "Secret": "secrets",
        "Event": "events",
        "Pod": "pods",
        "ServiceAccount": "serviceaccounts",
        "Widget": "widgets.example.com",
    }
    return backup_tarball(object_item(plural[obj["kind"]], obj) for obj in objects)


def test_round_trip_plans_the_same_repository() -> None:
    store, _ = backup_of(ReplayCluster(objects=cluster_objects()))
    policy = CleaningPolicy()
    ours = generation.plan_backup(archive_items(store), cluster="prod", policy=policy)
    hand = generation.plan_backup(
        iter_items(io.BytesIO(hand_written_archive(cluster_objects()))),
        cluster="prod",
        policy=policy,
    )
    assert ours.files == hand.files
    assert ours.objects == hand.objects == 8  # not kube-root-ca.crt, the owned pod, secrets,
    # nor the untouched system namespaces
    assert any("deployments.apps" in str(path) or "deployment" in str(path) for path in ours.files)


def _tree(repo: Path) -> list[str]:
    """Every file of the branch and its blob, but the generator's member cache (it records the
    archive's members, which differ between two archives of the same objects)."""
    listed = subprocess.run(
        ["git", "-C", str(repo), "ls-tree", "-r", "main"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    return [line for line in listed if "/.backup2gitops/" not in line]


def test_round_trip_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BACKUP2GITOPS_CONFIG", raising=False)
    monkeypatch.setenv("BACKUP2GITOPS_CACHE_DIR", str(tmp_path / "cache"))
    cluster = ReplayCluster(objects=cluster_objects())
    with replay_server(cluster) as url:
        kubeconfig = write_kubeconfig(tmp_path, url)
        status = backup_to_folder(kubeconfig, tmp_path / "bucket", "--json")
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    backup_dir = tmp_path / "bucket" / "backups" / "prod" / report["backup_id"]
    assert run_cli(["generate", str(backup_dir), "--repo", str(tmp_path / "ours.git")]) == 0
    hand = tmp_path / "hand.tar.gz"
    hand.write_bytes(hand_written_archive(cluster_objects()))
    assert (
        run_cli(["generate", str(hand), "--repo", str(tmp_path / "hand.git"), "--cluster", "prod"])
        == 0
    )
    assert _tree(tmp_path / "ours.git") == _tree(tmp_path / "hand.git")


# -- the CLI -------------------------------------------------------------------------------------


def write_kubeconfig(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "replay", "cluster": {"server": url}}],
                "users": [{"name": "reader", "user": {"token": "t"}}],
                "contexts": [
                    {"name": "replay", "context": {"cluster": "replay", "user": "reader"}}
                ],
                "current-context": "replay",
            }
        )
    )
    return path


def backup_to_folder(kubeconfig: Path, folder: Path, *extra: str) -> int:
    """``backup2gitops backup --kubeconfig KUBECONFIG --to FOLDER-as-URI --cluster prod EXTRA``'s
    exit status."""
    argv = ["backup", "--kubeconfig", str(kubeconfig), "--to", folder.as_uri()]
    return run_cli([*argv, "--cluster", "prod", *extra])


def test_cli_backup_prints_id_keys_counts_and_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BACKUP2GITOPS_CONFIG", raising=False)
    cluster = ReplayCluster(objects=cluster_objects(), broken_groups=["metrics.k8s.io"], token="t")
    with replay_server(cluster) as url:
        kubeconfig = write_kubeconfig(tmp_path, url)
        status = backup_to_folder(kubeconfig, tmp_path / "b", "--context", "replay", "--json")
        assert status == 0
        report = json.loads(capsys.readouterr().out)
        assert report["keys"] == [
            f"backups/prod/{report['backup_id']}/manifest.json",
            f"backups/prod/{report['backup_id']}/resources.tar.gz",
        ]
        assert report["counts"]["configmaps"] == 3 and report["objects"] == 8
        assert report["excluded"] == {"configmaps": 1, "namespaces": 2, "pods": 1}
        assert len(report["warnings"]) == 1
        assert FileStore(tmp_path / "b").stat(report["keys"][0]) is not None
        assert backup_to_folder(kubeconfig, tmp_path / "c") == 0
        text = capsys.readouterr().out
        assert "backup " in text and "warning: metrics.k8s.io/v1beta1" in text


def test_cli_backup_failure_exits_nonzero_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BACKUP2GITOPS_CONFIG", raising=False)
    cluster = ReplayCluster(objects=cluster_objects(), token="other")
    with replay_server(cluster) as url:
        kubeconfig = write_kubeconfig(tmp_path, url)
        status = backup_to_folder(kubeconfig, tmp_path / "b")
    assert status == 1
    assert "401" in capsys.readouterr().err
    assert list(FileStore(tmp_path / "b").list()) == []


def test_cli_backup_needs_a_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BACKUP2GITOPS_CONFIG", raising=False)
    assert run_cli(["backup", "--to", (tmp_path / "b").as_uri()]) == 2
    assert "--cluster" in capsys.readouterr().err


# -- the handler ---------------------------------------------------------------------------------


def factory_for(url: str) -> Callable[[ClusterBackupConfig], client.ApiClient]:
    return lambda _config: api_client_for(url)


def context_for(store: MemoryStore, **settings: Any) -> FunctionContext:
    config = Config(cluster_backup=ClusterBackupConfig(**settings))
    return FunctionContext(config, store=store, environ={}, clock=lambda: NOW)


def http_client(spec: FunctionSpec, ctx: FunctionContext) -> Any:
    app = flask.Flask("cluster-backup")
    app.add_url_rule(
        "/", "f", lambda: handle_request(spec, flask.request, ctx), methods=["GET", "POST"]
    )
    return app.test_client()


def ping_headers(**extra: str) -> dict[str, str]:
    return {
        "ce-specversion": "1.0",
        "ce-id": "ping-1",
        "ce-source": PING_SOURCE,
        "ce-type": PING,
        "ce-time": NOW.isoformat().replace("+00:00", "Z"),  # a PingSource stamps its tick
        "Content-Type": "application/json",
        **extra,
    }


def test_http_pingsource_tick_writes_a_backup_and_answers_202() -> None:
    store = RecordingStore()
    cluster = ReplayCluster(objects=cluster_objects())
    with replay_server(cluster) as url:
        spec = cluster_backup.spec_with(client_factory=factory_for(url))
        response = http_client(spec, context_for(store, cluster="prod")).post(
            "/", headers=ping_headers(), data=b'{"reason": "scheduled"}'
        )
    assert response.status_code == 202 and response.data == b""
    assert store.published == [ARCHIVE, MANIFEST]


def test_http_ping_data_names_the_cluster() -> None:
    store = RecordingStore()
    with replay_server(ReplayCluster(objects=cluster_objects())) as url:
        spec = cluster_backup.spec_with(client_factory=factory_for(url))
        response = http_client(spec, context_for(store)).post(
            "/", headers=ping_headers(), data=b'{"cluster": "edge-1"}'
        )
    assert response.status_code == 202
    assert store.published == [
        f"backups/edge-1/{BACKUP_ID}/resources.tar.gz",
        f"backups/edge-1/{BACKUP_ID}/manifest.json",
    ]


def test_http_failure_mid_list_replies_backup_failed_and_leaves_nothing() -> None:
    store = RecordingStore()
    cluster = ReplayCluster(objects=cluster_objects(), fail_lists=[FailList("configmaps", after=2)])
    with replay_server(cluster) as url:
        spec = cluster_backup.spec_with(client_factory=factory_for(url))
        headers = ping_headers(
            **{"ce-traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
        )
        response = http_client(spec, context_for(store, cluster="prod", page_size=2)).post(
            "/", headers=headers, data=b"{}"
        )
    assert response.status_code == 200
    assert response.headers["ce-type"] == BACKUP_FAILED
    assert response.headers["ce-subject"] == f"prod/{BACKUP_ID}"
    assert response.headers["ce-cluster"] == "prod"
    assert response.headers["ce-traceparent"].split("-")[1] == "0af7651916cd43dd8448eb211c80319c"
    data = json.loads(response.data)
    assert (data["code"], data["cluster"], data["backup_id"]) == ("kube_error", "prod", BACKUP_ID)
    assert list(store.list()) == [] and store.published == []  # never announced as complete


def handle(
    event_type: str,
    data: Any,
    store: MemoryStore,
    factory: Callable[[ClusterBackupConfig], Any],
    **settings: Any,
) -> Event | None:
    event = Event(id="e1", source="/test", type=event_type, data=data)
    spec = cluster_backup.spec_with(client_factory=factory)
    return spec.reply_to(event, context_for(store, **settings))


def test_unreachable_api_server() -> None:
    with replay_server(ReplayCluster()) as url:
        pass  # the port is closed now
    reply = handle(BACKUP_REQUESTED, {"cluster": "prod"}, MemoryStore(), factory_for(url))
    assert reply is not None and reply.data["code"] == "kube_unreachable"


def test_bad_kubeconfig_is_reported() -> None:
    reply = handle(
        BACKUP_REQUESTED,
        {},
        MemoryStore(),
        cluster_backup.client_from_config,
        cluster="prod",
        kubeconfig=Path("/nonexistent/kubeconfig"),
    )
    assert reply is not None and reply.data["code"] == "kube_config_invalid"


def test_storage_failure_replies_storage_error() -> None:
    store = FailingWriterStore(after=100)
    with replay_server(ReplayCluster(objects=cluster_objects())) as url:
        reply = handle(BACKUP_REQUESTED, {"cluster": "prod"}, store, factory_for(url))
    assert reply is not None and reply.data["code"] == "storage_error"
    assert list(store.list()) == []


def test_a_request_for_another_cluster_is_ignored() -> None:
    store = MemoryStore()

    def never(_config: ClusterBackupConfig) -> Any:
        raise AssertionError("no client for another cluster's request")

    assert handle(BACKUP_REQUESTED, {"cluster": "other"}, store, never, cluster="prod") is None
    assert list(store.list()) == []


@pytest.mark.parametrize(
    ("event_type", "data", "code"),
    [
        (BACKUP_REQUESTED, {}, "no_cluster"),
        (PING, None, "no_cluster"),
        (BACKUP_REQUESTED, {"cluster": "Not_A_Name"}, "invalid_cluster"),
        (BACKUP_REQUESTED, {"cluster": "prod", "bogus": 1}, "invalid_data"),
        (PING, {"cluster": 5}, "invalid_data"),
        ("io.backup2gitops.backup.completed", {}, "unexpected_type"),
    ],
)
def test_invalid_input(event_type: str, data: Any, code: str) -> None:
    from backup2gitops.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as caught:
        handle(event_type, data, MemoryStore(), factory_for("http://127.0.0.1:1"))
    assert caught.value.code == code


def test_module_exposes_spec_and_target() -> None:
    assert cluster_backup.SPEC.name == "cluster-backup"
    assert callable(cluster_backup.cluster_backup)


# -- redeliveries and duplicates -----------------------------------------------------------------


def test_a_redelivered_tick_is_the_same_backup_and_is_not_written_twice() -> None:
    store = RecordingStore()
    with replay_server(ReplayCluster(objects=cluster_objects())) as url:
        spec = cluster_backup.spec_with(client_factory=factory_for(url))
        client_ = http_client(spec, context_for(store, cluster="prod"))
        first = client_.post("/", headers=ping_headers(), data=b"{}")
        again = client_.post("/", headers=ping_headers(**{"ce-id": "ping-1-retry"}), data=b"{}")
    assert first.status_code == again.status_code == 202
    assert store.published == [ARCHIVE, MANIFEST]  # the redelivery wrote nothing
    assert not [k for k in store.objects if k.endswith("/.claim")]  # and left no claim


def test_a_duplicate_while_the_first_still_runs_is_409_so_knative_retries_later() -> None:
    from backup2gitops.native_backup_writer import claimed

    store = RecordingStore()
    with replay_server(ReplayCluster(objects=cluster_objects())) as url:
        spec = cluster_backup.spec_with(client_factory=factory_for(url))
        client_ = http_client(spec, context_for(store, cluster="prod"))
        with claimed(store, cluster="prod", backup_id=BACKUP_ID, owner="ping-1", now=NOW):
            busy = client_.post("/", headers=ping_headers(), data=b"{}")
        assert busy.status_code == 409
        assert busy.get_json()["error"]["code"] == "backup_in_progress"
        assert store.stat(MANIFEST) is None
        later = client_.post("/", headers=ping_headers(), data=b"{}")  # the broker's retry
    assert later.status_code == 202 and store.stat(MANIFEST) is not None


def test_a_crashed_runs_claim_expires() -> None:
    from datetime import timedelta

    from backup2gitops.native_backup_writer import claimed

    store = RecordingStore()
    crashed = claimed(
        store, cluster="prod", backup_id=BACKUP_ID, owner="old", now=NOW - timedelta(hours=2)
    )
    crashed.__enter__()  # never exited: the process died holding it
    with claimed(store, cluster="prod", backup_id=BACKUP_ID, owner="new", now=NOW):
        pass


def test_anything_unexpected_is_backup_failed_not_a_500() -> None:
    """An error nobody mapped is announced (alert-router hears of it), never retried unseen."""

    def broken(config: ClusterBackupConfig) -> client.ApiClient:
        raise ZeroDivisionError("a bug")

    spec = cluster_backup.spec_with(client_factory=broken)
    store = RecordingStore()
    response = http_client(spec, context_for(store, cluster="prod")).post(
        "/", headers=ping_headers(), data=b"{}"
    )
    assert response.status_code == 200 and response.headers["ce-type"] == BACKUP_FAILED
    assert response.headers["ce-cluster"] == "prod"
    data = json.loads(response.data)
    assert data["code"] == "internal" and "a bug" not in data["message"]
    assert store.published == []


def test_the_served_spec_announces_unexpected_failures() -> None:
    assert cluster_backup.SPEC.failure_event is cluster_backup.failure_event


# -- retention after a successful backup -------------------------------------------------------


def old_backup(store: MemoryStore, *, cluster: str, days: int) -> str:
    finished = NOW - timedelta(days=days)
    backup_id = finished.strftime("%Y%m%dt%H%M%Sz")
    write_native_backup(
        store, [], cluster=cluster, backup_id=backup_id, started_at=finished, finished_at=finished
    )
    return backup_id


def retention_context(store: MemoryStore, **keep: Any) -> FunctionContext:
    config = Config.model_validate(
        {
            "cluster_backup": {"cluster": "prod"},
            "backups": {"keep": keep},
            "clusters": [{"name": "staging", "keep": {"count": 5}}],
        }
    )
    return FunctionContext(config, store=store, environ={}, clock=lambda: NOW)


def backup_ids(store: MemoryStore, cluster: str) -> set[str]:
    return {k.split("/")[2] for k in store.objects if k.startswith(f"backups/{cluster}/")}


def test_retention_runs_after_a_successful_backup() -> None:
    store = RecordingStore()
    olds = [old_backup(store, cluster="prod", days=days) for days in (1, 2, 3)]
    staging = [old_backup(store, cluster="staging", days=days) for days in (1, 2, 3)]
    with replay_server(ReplayCluster(objects=cluster_objects())) as url:
        spec = cluster_backup.spec_with(client_factory=factory_for(url))
        response = http_client(spec, retention_context(store, count=2)).post(
            "/", headers=ping_headers(), data=b"{}"
        )
    assert response.status_code == 202
    assert backup_ids(store, "prod") == {BACKUP_ID, olds[0]}  # the new one and the next newest
    assert backup_ids(store, "staging") == set(staging)  # another cluster's: not this run's


def test_retention_uses_the_clusters_own_keep() -> None:
    store = MemoryStore("backups")
    ids = [old_backup(store, cluster="staging", days=days) for days in range(7)]
    cluster_backup.apply_retention(retention_context(store, count=1), cluster="staging")
    assert backup_ids(store, "staging") == set(ids[:5])


class UnlistableStore(RecordingStore):
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        raise StorageError(f"S3 SlowDown on {prefix}")


def test_a_retention_failure_is_logged_and_the_backup_stands(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = UnlistableStore()
    with replay_server(ReplayCluster(objects=cluster_objects())) as url:
        spec = cluster_backup.spec_with(client_factory=factory_for(url))
        response = http_client(spec, retention_context(store, count=1)).post(
            "/", headers=ping_headers(), data=b"{}"
        )
    assert response.status_code == 202 and response.data == b""
    assert store.published == [ARCHIVE, MANIFEST]
    assert any(r.getMessage() == "retention not applied" for r in caplog.records)


def test_no_retention_without_keep() -> None:
    store = MemoryStore("backups")
    ids = [old_backup(store, cluster="prod", days=days) for days in range(3)]
    ctx = FunctionContext(Config(), store=store, environ={}, clock=lambda: NOW)
    cluster_backup.apply_retention(ctx, cluster="prod")
    assert backup_ids(store, "prod") == set(ids)
