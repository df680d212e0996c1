"""The kube adapter and cluster-backup against a real kube-apiserver, through the real client.

One API server for most tests (``kube_cluster``, session-scoped; each test in namespaces of its
own); a second one with ``--feature-gates=ListFromCacheSnapshot=false`` for the real 410, which
kube-apiserver 1.34 otherwise never sends for a continue token (its watch-cache snapshot serves
old tokens). Nothing here is replayed: discovery, paging, continue tokens, 410, 401/403 and
label selectors are the server's own.
"""

from __future__ import annotations

import base64
import collections
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from kubernetes.client import ApiClient, Configuration

from backup2gitops.adapters import kube
from backup2gitops.adapters.storage import MemoryStore
from backup2gitops.cluster_snapshot import snapshot_items, write_cluster_backup
from backup2gitops.config import ClusterBackupConfig, Config
from backup2gitops.core.backup_manifest import parse_manifest
from backup2gitops.core.events import BACKUP_FAILED, BACKUP_REQUESTED, Event
from backup2gitops.runtime.context import FunctionContext
from cluster_backup import handler as cluster_backup
from tests import kube_apiserver
from tests.e2e.servers import wait_for
from tests.kube_apiserver import KubeCluster

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not kube_apiserver.available(), reason=kube_apiserver.KUBE_MISSING),
]
NOW = datetime(2026, 3, 1, 2, 0, 0, tzinfo=UTC)
BACKUP_ID = "20260301t020000z"
CRD_GROUP = "discovery.b2g.test"


class RecordingApiClient(ApiClient):
    """The real client; it notes the status and URL of every response (for assertions on paging)."""

    def __init__(self, configuration: Configuration) -> None:
        super().__init__(configuration)
        self.responses: list[tuple[int, str]] = []

    def call_api(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        response = super().call_api(method, url, *args, **kwargs)
        self.responses.append((int(response.status), url))
        return response

    def lists_of(self, path: str) -> list[tuple[int, str]]:
        return [(s, u) for s, u in self.responses if u.partition("?")[0].endswith(path)]


def client_for(kubeconfig: Path) -> RecordingApiClient:
    loaded = kube.api_client_from(kubeconfig=str(kubeconfig), in_cluster=False)
    return RecordingApiClient(loaded.configuration)


def create_namespace(cluster: KubeCluster, name: str) -> str:
    cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}])
    return name


def configmaps(namespace: str, count: int, **labels: str) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"cm-{i:04d}", "namespace": namespace, "labels": labels},
            "data": {"index": str(i)},
        }
        for i in range(count)
    ]


def resource(discovery: kube.Discovery, group_resource: str) -> kube.ApiResource:
    return next(r for r in discovery.resources if r.group_resource == group_resource)


CONFIGMAPS = kube.ApiResource("", "v1", "configmaps", "ConfigMap", True)


# -- discovery -------------------------------------------------------------------------------


def _crd(plural: str, kind: str, versions: list[str]) -> dict[str, Any]:
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{CRD_GROUP}"},
        "spec": {
            "group": CRD_GROUP,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
            "versions": [
                {"name": v, "served": True, "storage": i == 0, "schema": schema}
                for i, v in enumerate(versions)
            ],
        },
    }


@pytest.fixture(scope="module")
def surface(kube_cluster: KubeCluster) -> KubeCluster:
    """Two CRDs in one group: widgets in v1 and v1beta1, gadgets in v1beta1 only."""
    kube_cluster.apply(
        [_crd("widgets", "Widget", ["v1", "v1beta1"]), _crd("gadgets", "Gadget", ["v1beta1"])]
    )
    kube_cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s",
        f"crd/widgets.{CRD_GROUP}", f"crd/gadgets.{CRD_GROUP}",
    )  # fmt: skip
    api = client_for(kube_cluster.kubeconfig)
    served = lambda: {r.group_resource for r in kube.discover(api).resources}  # noqa: E731
    wait_for(lambda: f"gadgets.{CRD_GROUP}" in served(), timeout=180, what="the CRDs in discovery")
    return kube_cluster


def test_aggregated_and_legacy_discovery_agree(surface: KubeCluster) -> None:
    api = client_for(surface.kubeconfig)
    aggregated = kube.discover(api)
    # the three requests aggregated discovery needs: /version, /api, /apis
    assert [urlsplit(url).path for _, url in api.responses] == ["/version", "/api", "/apis"]
    legacy = kube.discover(api, aggregated=False)
    assert (aggregated.form, legacy.form) == ("aggregated", "legacy")
    assert aggregated.resources == legacy.resources
    assert aggregated.server_version == legacy.server_version == kube_apiserver.KUBE_VERSION
    assert aggregated.warnings == legacy.warnings == []


def test_preferred_versions(surface: KubeCluster) -> None:
    discovery = kube.discover(client_for(surface.kubeconfig))
    assert resource(discovery, "horizontalpodautoscalers.autoscaling").version == "v2"
    assert resource(discovery, f"widgets.{CRD_GROUP}").version == "v1"
    # served only by a version that is not the group's preferred one: kept, at that version
    assert resource(discovery, f"gadgets.{CRD_GROUP}").version == "v1beta1"


def test_what_discovery_keeps_and_drops(surface: KubeCluster) -> None:
    api = client_for(surface.kubeconfig)
    for discovery in (kube.discover(api), kube.discover(api, aggregated=False)):
        names = {r.group_resource for r in discovery.resources}
        assert not any("/" in name for name in names)  # pods/log, deployments/scale, ...
        create_only = {
            "bindings",
            "tokenreviews.authentication.k8s.io",
            "selfsubjectreviews.authentication.k8s.io",
            "subjectaccessreviews.authorization.k8s.io",
            "selfsubjectaccessreviews.authorization.k8s.io",
            "localsubjectaccessreviews.authorization.k8s.io",
        }
        assert not names & create_only
        assert "events.events.k8s.io" not in names  # the same events as core v1's
        assert resource(discovery, "events").api_version == "v1"
        assert {
            "configmaps",
            "namespaces",
            "deployments.apps",
            "cronjobs.batch",
            "clusterroles.rbac.authorization.k8s.io",
            "customresourcedefinitions.apiextensions.k8s.io",
        } <= names


@pytest.fixture
def broken_metrics_api(kube_cluster: KubeCluster) -> Iterator[KubeCluster]:
    """``v1beta1.metrics.k8s.io`` served by a Service with no endpoints: a metrics-server that
    is down. The kube-aggregator marks it unavailable; removed again afterwards."""
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "metrics-server", "namespace": "kube-system"},
        "spec": {"ports": [{"port": 443, "targetPort": 10250}]},  # no selector, no endpoints
    }
    api_service = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": "v1beta1.metrics.k8s.io"},
        "spec": {
            "group": "metrics.k8s.io",
            "version": "v1beta1",
            "service": {"name": "metrics-server", "namespace": "kube-system", "port": 443},
            "insecureSkipTLSVerify": True,
            "groupPriorityMinimum": 100,
            "versionPriority": 100,
        },
    }
    kube_cluster.apply([service, api_service])
    api = client_for(kube_cluster.kubeconfig)
    wait_for(lambda: kube.discover(api).warnings, timeout=180, what="metrics.k8s.io to be stale")
    try:
        yield kube_cluster
    finally:
        kube_cluster.kubectl("delete", "apiservice", "v1beta1.metrics.k8s.io")
        kube_cluster.kubectl("delete", "service", "-n", "kube-system", "metrics-server")
        wait_for(lambda: not kube.discover(api).warnings, timeout=180, what="metrics.k8s.io to go")


def test_a_broken_aggregated_api_is_a_warning_and_a_partial_backup(
    broken_metrics_api: KubeCluster,
) -> None:
    cluster = broken_metrics_api
    api = client_for(cluster.kubeconfig)
    aggregated, legacy = kube.discover(api), kube.discover(api, aggregated=False)
    # aggregated discovery: the group is listed with freshness Stale; legacy: its group-version
    # answers 503 "service unavailable" (kube-aggregator's proxy)
    assert aggregated.warnings == [
        "metrics.k8s.io/v1beta1: discovery is stale (aggregated API unavailable); skipped"
    ]
    (warning,) = legacy.warnings
    assert warning.startswith("metrics.k8s.io/v1beta1: discovery failed, skipped: 503")
    assert "service unavailable" in warning
    assert aggregated.resources == legacy.resources
    assert not any(r.group == "metrics.k8s.io" for r in aggregated.resources)
    metrics = kube.ApiResource("metrics.k8s.io", "v1beta1", "pods", "PodMetrics", True)
    with pytest.raises(kube.KubeError) as caught:
        list(kube.iter_objects(api, metrics))
    assert (caught.value.status, caught.value.retryable) == (503, True)
    assert "service unavailable" in caught.value.message
    missing = kube.ApiResource("absent.b2g.test", "v1", "things", "Thing", False)
    with pytest.raises(kube.KubeError) as caught:
        list(kube.iter_objects(api, missing))
    # a group nobody serves: the server's mux answers text/plain "404 page not found"
    assert (caught.value.status, caught.value.retryable) == (404, False)
    assert "page not found" in caught.value.message

    namespace = create_namespace(cluster, "partial")
    cluster.apply(configmaps(namespace, 3))
    store = MemoryStore()
    backup = write_cluster_backup(
        api,
        store,
        config=ClusterBackupConfig(include_namespaces=[namespace]),
        cluster="prod",
        backup_id=BACKUP_ID,
        started_at=NOW,
        clock=lambda: NOW,
    )
    manifest = parse_manifest(store.read_bytes(backup.written.manifest_key))
    assert manifest.warnings == aggregated.warnings
    assert manifest.resource_counts["configmaps"] == 3
    assert manifest.kubernetes_version == kube_apiserver.KUBE_VERSION


# -- listing ---------------------------------------------------------------------------------


def test_pagination_with_the_servers_continue_tokens(kube_cluster: KubeCluster) -> None:
    namespace = create_namespace(kube_cluster, "paging")
    kube_cluster.apply(configmaps(namespace, 120))
    api = client_for(kube_cluster.kubeconfig)
    items = list(kube.iter_objects(api, CONFIGMAPS, page_size=7, namespaces=[namespace]))
    names = [i["metadata"]["name"] for i in items]
    assert len(names) == len(set(names)) == 120
    assert set(names) == {f"cm-{i:04d}" for i in range(120)}
    assert {(i["apiVersion"], i["kind"]) for i in items} == {("v1", "ConfigMap")}
    pages = api.lists_of(f"/namespaces/{namespace}/configmaps")
    assert len(pages) == math.ceil(120 / 7)
    assert all(status == 200 for status, _ in pages)
    assert "continue=" not in pages[0][1] and all("continue=" in u for _, u in pages[1:])
    # the whole collection, across namespaces: still each object once
    everything = list(kube.iter_objects(api, CONFIGMAPS, page_size=50))
    uids = [i["metadata"]["uid"] for i in everything]
    assert len(uids) == len(set(uids))
    assert {
        i["metadata"]["name"] for i in everything if i["metadata"]["namespace"] == namespace
    } == set(names)


def test_label_selectors_are_served_by_the_server(kube_cluster: KubeCluster) -> None:
    namespace = create_namespace(kube_cluster, "selectors")
    objects = configmaps(namespace, 30)
    for i, obj in enumerate(objects):
        obj["metadata"]["labels"] = {"tier": "gold" if i % 3 == 0 else "bronze"}
    kube_cluster.apply(objects)
    api = client_for(kube_cluster.kubeconfig)
    config = ClusterBackupConfig(
        include_resources=["configmaps"],
        include_namespaces=[namespace],
        label_selector="tier=gold",
        page_size=4,
    )
    items = list(snapshot_items(api, config=config, warnings=[]))
    assert sorted(i.name for i in items) == [f"cm-{i:04d}" for i in range(0, 30, 3)]
    pages = api.lists_of(f"/namespaces/{namespace}/configmaps")
    assert all("labelSelector=tier%3Dgold" in url for _, url in pages)
    assert len(pages) == 3  # 10 matches in pages of 4: the server filtered before paging
    notin = ClusterBackupConfig(
        include_resources=["configmaps"],
        include_namespaces=[namespace],
        label_selector="tier notin (gold)",
    )
    assert len(list(snapshot_items(api, config=notin, warnings=[]))) == 20


def test_with_the_1_34_defaults_a_continue_token_survives_compaction(
    kube_cluster: KubeCluster,
) -> None:
    """Why the 410 tests need their own server: ListFromCacheSnapshot (on by default in 1.34)
    serves an old continue token from the watch cache's snapshot, compacted etcd or not."""
    namespace = create_namespace(kube_cluster, "snapshot")
    kube_cluster.apply(configmaps(namespace, 6))
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    first = kube_cluster.get(path, limit="2").json()
    _churn(kube_cluster, namespace)
    kube_cluster.compact_etcd()
    rest = kube_cluster.get(path, limit="10", **{"continue": first["metadata"]["continue"]})
    assert rest.status_code == 200
    assert len(rest.json()["items"]) == 4


# -- the real 410 ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gated_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    """A server that reads continue tokens from etcd: a token older than a compaction is 410."""
    with kube_apiserver.kube_apiserver(
        tmp_path_factory.mktemp("kube-410"), feature_gates={"ListFromCacheSnapshot": False}
    ) as cluster:
        yield cluster


def _churn(cluster: KubeCluster, namespace: str) -> None:
    """One write (a new etcd revision), so that a compaction passes every earlier list."""
    body = {"metadata": {"generateName": "churn-", "namespace": namespace}}
    created = cluster.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", body=body)
    assert created.status_code == 201, created.text


def _token_revision(token: str) -> int:
    """The etcd revision a continue token reads at (apiserver storage/continue.go)."""
    return int(json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["rv"])


def test_the_real_410_for_an_expired_continue_token(gated_cluster: KubeCluster) -> None:
    namespace = create_namespace(gated_cluster, "expiry-raw")
    gated_cluster.apply(configmaps(namespace, 6))
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    token = gated_cluster.get(path, limit="2").json()["metadata"]["continue"]
    _churn(gated_cluster, "default")
    assert gated_cluster.compact_etcd() > _token_revision(token)
    expired = gated_cluster.get(path, limit="2", **{"continue": token})
    assert expired.status_code == 410
    status = expired.json()
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "Expired", 410)
    assert "continue parameter is too old" in status["message"]
    assert status["metadata"]["continue"]  # the inconsistent remainder it offers instead


def test_the_adapter_restarts_an_expired_list_and_yields_each_object_once(
    gated_cluster: KubeCluster,
) -> None:
    namespace = create_namespace(gated_cluster, "expiry")
    gated_cluster.apply(configmaps(namespace, 25))
    api = client_for(gated_cluster.kubeconfig)
    listing = kube.iter_objects(api, CONFIGMAPS, page_size=10, namespaces=[namespace])
    names = [next(listing)["metadata"]["name"] for _ in range(10)]  # the first page
    _churn(gated_cluster, "default")  # elsewhere: the objects listed stay the same 25
    gated_cluster.compact_etcd()
    names += [item["metadata"]["name"] for item in listing]
    assert len(names) == len(set(names)) == 25
    statuses = [status for status, _ in api.lists_of(f"/namespaces/{namespace}/configmaps")]
    assert statuses[:3] == [200, 410, 200]  # the 410, then a new list from the start
    restarted = api.lists_of(f"/namespaces/{namespace}/configmaps")[2][1]
    assert "continue=" not in restarted


class CompactingApiClient(RecordingApiClient):
    """A cluster that compacts faster than we page: etcd is compacted before every continue."""

    def __init__(self, configuration: Configuration, cluster: KubeCluster) -> None:
        super().__init__(configuration)
        self.cluster = cluster

    def call_api(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if "continue=" in url:
            _churn(self.cluster, "default")
            self.cluster.compact_etcd()
        return super().call_api(method, url, *args, **kwargs)


def test_a_list_that_keeps_expiring_gives_up_and_cluster_backup_says_so(
    gated_cluster: KubeCluster,
) -> None:
    namespace = create_namespace(gated_cluster, "expiry-always")
    gated_cluster.apply(configmaps(namespace, 8))
    configuration = client_for(gated_cluster.kubeconfig).configuration
    api = CompactingApiClient(configuration, gated_cluster)
    yielded: list[str] = []
    with pytest.raises(kube.KubeError) as caught:
        for item in kube.iter_objects(api, CONFIGMAPS, page_size=3, namespaces=[namespace]):
            yielded.append(item["metadata"]["uid"])
    assert (caught.value.status, caught.value.retryable) == (410, True)
    assert "too old" in caught.value.message
    assert len(yielded) == len(set(yielded)) == 3  # the first page, never twice
    statuses = collections.Counter(s for s, _ in api.lists_of(f"/{namespace}/configmaps"))
    assert statuses[410] == kube.MAX_LIST_RESTARTS + 1

    reply = handle_backup(
        lambda _config: CompactingApiClient(configuration, gated_cluster),
        include_namespaces=[namespace],
        include_resources=["configmaps"],
        page_size=3,
    )
    assert reply is not None and reply.type == BACKUP_FAILED
    assert reply.data["code"] == "kube_list_expired"


# -- credentials -------------------------------------------------------------------------------


def handle_backup(
    factory: Any, *, store: MemoryStore | None = None, **settings: Any
) -> Event | None:
    config = Config(cluster_backup=ClusterBackupConfig(cluster="prod", **settings))
    ctx = FunctionContext(config, store=store or MemoryStore(), environ={}, clock=lambda: NOW)
    event = Event(id="e1", source="/test", type=BACKUP_REQUESTED, data={"cluster": "prod"})
    return cluster_backup.spec_with(client_factory=factory).reply_to(event, ctx)


def kubeconfig_without_user(cluster: KubeCluster, path: Path) -> Path:
    document = json.loads(cluster.kubeconfig.read_text())
    document["users"] = [{"name": "test", "user": {}}]
    path.write_text(json.dumps(document))
    return path


def test_no_token_is_403_and_a_bad_token_401_both_reported_as_credentials(
    kube_cluster: KubeCluster, tmp_path: Path
) -> None:
    # what the server itself answers: anonymous requests are authenticated as system:anonymous,
    # which may read /version (system:public-info-viewer) but not discovery
    assert kube_cluster.get("/version", token="").status_code == 200
    anonymous = kube_cluster.get("/api", token="")
    assert anonymous.status_code == 403
    assert 'User "system:anonymous"' in anonymous.json()["message"]
    assert kube_cluster.get("/api", token="not-a-token").status_code == 401

    cases = {
        "anonymous": (kubeconfig_without_user(kube_cluster, tmp_path / "anon"), 403),
        "bad token": (kube_cluster.kubeconfig_for("not-a-token", tmp_path / "bad"), 401),
    }
    for what, (kubeconfig, status) in cases.items():
        with pytest.raises(kube.KubeError) as caught:
            kube.discover(client_for(kubeconfig))
        assert (caught.value.status, caught.value.retryable) == (status, False), what
        store = MemoryStore()
        reply = handle_backup(cluster_backup.client_from_config, store=store, kubeconfig=kubeconfig)
        assert reply is not None and reply.type == BACKUP_FAILED, what
        assert reply.data["code"] == "kube_unauthorized", what
        assert str(status) in reply.data["message"], what
        assert "not-a-token" not in json.dumps(reply.data)
        assert list(store.list()) == []  # no manifest, no partial archive
