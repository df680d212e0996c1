"""backup2gitops.adapters.kube against the replay API server, over real HTTP: only what a real
kube-apiserver cannot be made to do here (an old server without aggregated discovery, a failing
/readyz) and the client-side paths (kubeconfig contexts, in-cluster config, no server at all).
Discovery, paging, the real 410 and 401/403 are tested against a real server in
tests/e2e/test_kube_apiserver.py."""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from backup2gitops.adapters import kube
from tests.kube_replay.cluster import ReplayCluster, make_object, synthetic_configmaps
from tests.kube_replay.server import replay_server


def _api(url: str) -> client.ApiClient:
    configuration = client.Configuration()
    configuration.host = url
    return client.ApiClient(configuration)


def _objects() -> list[dict[str, object]]:
    return [
        *synthetic_configmaps(6, namespaces=("default", "team-a", "team-b")),
        make_object("apps/v1", "Deployment", "web", namespace="default"),
        make_object("autoscaling/v2", "HorizontalPodAutoscaler", "web", namespace="default"),
        make_object("v1", "Event", "web.17f", namespace="default"),
        make_object("v1", "Namespace", "default"),
        make_object("example.com/v1", "Widget", "w1", namespace="team-a"),
    ]


@pytest.fixture
def cluster() -> ReplayCluster:
    return ReplayCluster(objects=_objects(), broken_groups=["metrics.k8s.io"])


@pytest.fixture
def api(cluster: ReplayCluster) -> Iterator[client.ApiClient]:
    with replay_server(cluster) as url, _api(url) as api_client:
        yield api_client


def _by_gr(discovery: kube.Discovery) -> dict[str, kube.ApiResource]:
    return {r.group_resource: r for r in discovery.resources}


# -- discovery -------------------------------------------------------------------------------


def test_server_without_aggregated_discovery_is_walked() -> None:
    old = ReplayCluster(
        objects=_objects(), broken_groups=["metrics.k8s.io"], aggregated_discovery=False
    )
    with replay_server(old) as url, _api(url) as api:
        discovery = kube.discover(api)
    assert discovery.form == "legacy"
    paths = [target for _, target, _ in old.requests]
    assert "/apis/apps/v1" in paths and "/api/v1" in paths
    new = ReplayCluster(objects=_objects(), broken_groups=["metrics.k8s.io"])
    with replay_server(new) as url, _api(url) as api:
        assert kube.discover(api).resources == discovery.resources
    assert [t for _, t, _ in new.requests] == ["/version", "/api", "/apis"]  # 3 requests in all


def test_group_resource_and_api_version() -> None:
    deployment = kube.ApiResource("apps", "v1", "deployments", "Deployment", True)
    configmap = kube.ApiResource("", "v1", "configmaps", "ConfigMap", True)
    assert (deployment.group_resource, deployment.api_version) == ("deployments.apps", "apps/v1")
    assert (configmap.group_resource, configmap.api_version) == ("configmaps", "v1")


# -- listing ---------------------------------------------------------------------------------


def test_items_get_api_version_and_kind(api: client.ApiClient) -> None:
    resources = _by_gr(kube.discover(api))
    hpa = list(kube.iter_objects(api, resources["horizontalpodautoscalers.autoscaling"]))
    assert [(o["apiVersion"], o["kind"]) for o in hpa] == [
        ("autoscaling/v2", "HorizontalPodAutoscaler")
    ]
    events = list(kube.iter_objects(api, resources["events"]))
    assert [(o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in events] == [
        ("v1", "Event", "web.17f")
    ]
    namespaces = list(kube.iter_objects(api, resources["namespaces"], namespaces=["x"]))
    assert [o["metadata"]["name"] for o in namespaces] == ["default"]  # cluster-scoped


def test_namespaces_filter(api: client.ApiClient) -> None:
    configmaps = _by_gr(kube.discover(api))["configmaps"]
    found = list(kube.iter_objects(api, configmaps, namespaces=["team-a", "team-b"]))
    assert Counter(o["metadata"]["namespace"] for o in found) == {"team-a": 2, "team-b": 2}


def test_unreachable_server_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    configuration = client.Configuration()
    configuration.host = f"http://127.0.0.1:{port}"
    configuration.retries = 0
    with client.ApiClient(configuration) as api:
        with pytest.raises(kube.KubeError) as caught:
            kube.discover(api)
        assert (caught.value.status, caught.value.retryable) == (0, True)
        ready, message = kube.readyz(api)
    assert not ready
    assert message


# -- connecting and health -------------------------------------------------------------------


def _kubeconfig(path: Path, *, url: str, context: str, token: str) -> Path:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "replay", "cluster": {"server": url}},
            {"name": "elsewhere", "cluster": {"server": "http://127.0.0.1:9"}},
        ],
        "users": [{"name": "backup", "user": {"token": token}}],
        "contexts": [
            {"name": context, "context": {"cluster": "replay", "user": "backup"}},
            {"name": "other", "context": {"cluster": "elsewhere", "user": "backup"}},
        ],
        "current-context": "other",
    }
    path.write_text(yaml.safe_dump(document))
    return path


def test_kubeconfig_with_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    cluster = ReplayCluster(objects=_objects(), token="replay-token")
    with replay_server(cluster) as url:
        config = _kubeconfig(tmp_path / "config", url=url, context="replay", token="replay-token")
        with kube.api_client_from(kubeconfig=str(config), context="replay") as api:
            discovery = kube.discover(api)
            assert len(list(kube.iter_objects(api, _by_gr(discovery)["configmaps"]))) == 6
    assert all(h.get("authorization") == "Bearer replay-token" for _, t, h in cluster.requests)


def test_kubeconfig_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with replay_server(ReplayCluster()) as url:
        config = _kubeconfig(tmp_path / "config", url=url, context="replay", token="t")
        monkeypatch.setenv("KUBECONFIG", str(config))
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")  # ignored: in_cluster=False
        with kube.api_client_from(context="replay", in_cluster=False) as api:
            assert kube.readyz(api) == (True, "ok")


def test_missing_kubeconfig_is_a_kube_error(tmp_path: Path) -> None:
    with pytest.raises(kube.KubeError) as caught:
        kube.api_client_from(kubeconfig=str(tmp_path / "absent"), in_cluster=False)
    assert not caught.value.retryable


def test_in_cluster_service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kubernetes.config import incluster_config

    token = tmp_path / "token"
    token.write_text("sa-token")
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(ca))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    with kube.api_client_from() as api:
        assert api.configuration.host == "https://10.96.0.1:443"
        bearer = api.configuration.auth_settings()["BearerToken"]["value"]
        assert bearer.lower() == "bearer sa-token"


def test_readyz_reports_failure() -> None:
    with replay_server(ReplayCluster(ready=False)) as url, _api(url) as api:
        ready, message = kube.readyz(api)
    assert not ready
    assert "readyz check failed" in message
