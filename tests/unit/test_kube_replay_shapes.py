"""The replay server answers in the shapes a real kube-apiserver does.

Where the Python client has a model for a response, the response is decoded by that model
(`kubernetes.client` validates required fields), so a shape the client would reject fails here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.kube_replay.catalogue import storage_version_hash
from tests.kube_replay.cluster import ExpireToken, ReplayCluster, make_object, synthetic_configmaps
from tests.kube_replay.server import replay_server, wants_aggregated

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def _api(url: str) -> client.ApiClient:
    configuration = client.Configuration()
    configuration.host = url
    return client.ApiClient(configuration)


def _raw(api: client.ApiClient, path: str, *, accept: str = "application/json") -> Any:
    """(status, content type, body bytes) of a GET, through the client's REST layer (with the
    configuration's bearer token, if it has one)."""
    request = api.param_serialize(
        "GET", path, header_params={"Accept": accept}, auth_settings=["BearerToken"]
    )
    response = api.call_api(*request)
    body = response.read()  # type: ignore[no-untyped-call]
    return response.status, response.headers.get("Content-Type"), body


def _ns_name(meta: client.V1ObjectMeta | None) -> tuple[str, str]:
    assert meta is not None
    return str(meta.namespace), str(meta.name)


@pytest.fixture(scope="module")
def cluster() -> ReplayCluster:
    objects = [
        *synthetic_configmaps(5, namespaces=("default", "team-a")),
        make_object("apps/v1", "Deployment", "web", namespace="default"),
        make_object("v1", "Event", "web.1", namespace="default"),
    ]
    return ReplayCluster(
        objects=objects,
        broken_groups=["metrics.k8s.io"],
        expire_tokens=[ExpireToken("configmaps", 2)],
    )


@pytest.fixture(scope="module")
def api(cluster: ReplayCluster) -> Iterator[client.ApiClient]:
    with replay_server(cluster) as url, _api(url) as api_client:
        yield api_client


def test_version_decodes_as_version_info(api: client.ApiClient) -> None:
    info = client.VersionApi(api).get_code()
    assert (info.major, info.minor, info.git_version) == ("1", "31", "v1.31.4")


def test_legacy_core_discovery_decodes_as_api_versions(api: client.ApiClient) -> None:
    versions = client.CoreApi(api).get_api_versions()
    assert versions.versions == ["v1"]
    assert versions.server_address_by_client_cidrs[0].client_cidr == "0.0.0.0/0"


def test_legacy_group_list_has_preferred_versions(api: client.ApiClient) -> None:
    groups = {g.name: g for g in client.ApisApi(api).get_api_versions().groups}
    autoscaling = groups["autoscaling"]
    assert [v.version for v in autoscaling.versions] == ["v2", "v1"]
    assert autoscaling.preferred_version is not None
    assert autoscaling.preferred_version.group_version == "autoscaling/v2"
    assert "metrics.k8s.io" in groups  # listed, though its discovery answers 503


def test_core_resource_list_shape(api: client.ApiClient) -> None:
    resources = {r.name: r for r in client.CoreV1Api(api).get_api_resources().resources}
    configmaps = resources["configmaps"]
    assert configmaps.storage_version_hash == "qFsyl6wFWjQ="  # what a real 1.31 server reports
    assert configmaps.short_names == ["cm"]
    assert set(configmaps.verbs) >= {"get", "list", "create", "delete"}
    assert resources["pods/log"].verbs == ["get"]
    assert resources["bindings"].verbs == ["create"]
    assert resources["namespaces"].namespaced is False
    status, _, body = _raw(api, "/api/v1")
    assert status == 200
    assert "apiVersion" not in json.loads(body)  # /api/v1 omits it, as a real server


def test_named_group_resource_list_shape(api: client.ApiClient) -> None:
    found = client.AppsV1Api(api).get_api_resources()
    resources = {r.name: r for r in found.resources}
    assert found.group_version == "apps/v1"
    scale = resources["deployments/scale"]
    assert (scale.group, scale.version, scale.kind) == ("autoscaling", "v1", "Scale")
    hpa = client.AutoscalingV2Api(api).get_api_resources().resources[0]
    # stored as autoscaling/v1, whichever version serves it
    assert hpa.storage_version_hash == storage_version_hash(
        "autoscaling", "v1", "HorizontalPodAutoscaler"
    )


def test_aggregated_discovery_is_negotiated(api: client.ApiClient) -> None:
    status, content_type, body = _raw(api, "/apis", accept=f"{AGGREGATED},application/json")
    assert status == 200
    assert content_type == AGGREGATED
    document = json.loads(body)
    assert (document["kind"], document["apiVersion"]) == (
        "APIGroupDiscoveryList",
        "apidiscovery.k8s.io/v2",
    )
    groups = {item["metadata"]["name"]: item for item in document["items"]}
    assert "" not in groups  # the core group is served at /api
    autoscaling = groups["autoscaling"]["versions"]
    assert [v["version"] for v in autoscaling] == ["v2", "v1"]  # preferred first
    deployments = groups["apps"]["versions"][0]["resources"][1]
    assert deployments["resource"] == "deployments"
    assert deployments["scope"] == "Namespaced"
    assert deployments["responseKind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert deployments["subresources"][0]["subresource"] == "scale"
    metrics = groups["metrics.k8s.io"]["versions"][0]
    assert metrics["freshness"] == "Stale"
    assert groups["apps"]["versions"][0]["freshness"] == "Current"


def test_core_aggregated_discovery_has_one_unnamed_group(api: client.ApiClient) -> None:
    status, content_type, body = _raw(api, "/api", accept=AGGREGATED)
    assert (status, content_type) == (200, AGGREGATED)
    items = json.loads(body)["items"]
    assert [item["metadata"]["name"] for item in items] == [""]


def test_plain_json_accept_gets_legacy_discovery(api: client.ApiClient) -> None:
    _, content_type, body = _raw(api, "/apis")
    assert content_type == "application/json"
    assert json.loads(body)["kind"] == "APIGroupList"


def test_server_without_aggregated_discovery_answers_legacy() -> None:
    with replay_server(ReplayCluster(aggregated_discovery=False)) as url, _api(url) as api:
        _, content_type, body = _raw(api, "/apis", accept=f"{AGGREGATED},application/json")
    assert content_type == "application/json"
    assert json.loads(body)["kind"] == "APIGroupList"


def test_accept_parsing() -> None:
    assert wants_aggregated(f"{AGGREGATED},application/json")
    assert not wants_aggregated("application/json")
    assert not wants_aggregated(
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
    )


def test_list_pages_decode_as_typed_lists(api: client.ApiClient) -> None:
    first = client.CoreV1Api(api).list_config_map_for_all_namespaces(limit=3)
    assert len(first.items) == 3
    assert first.metadata is not None
    assert first.metadata.remaining_item_count == 2
    assert first.metadata.resource_version
    second = client.CoreV1Api(api).list_config_map_for_all_namespaces(
        limit=3, _continue=first.metadata.var_continue
    )
    assert len(second.items) == 2
    assert second.metadata is not None
    assert second.metadata.var_continue is None
    names = [_ns_name(c.metadata) for c in first.items + second.items]
    assert names == sorted(names)  # etcd key order: namespace, then name


def test_list_items_carry_no_api_version_or_kind(api: client.ApiClient) -> None:
    _, _, body = _raw(api, "/apis/apps/v1/namespaces/default/deployments")
    document = json.loads(body)
    assert (document["kind"], document["apiVersion"]) == ("DeploymentList", "apps/v1")
    assert document["items"][0]["metadata"]["name"] == "web"
    assert "apiVersion" not in document["items"][0]
    assert "kind" not in document["items"][0]


def test_events_are_served_by_both_groups(api: client.ApiClient) -> None:
    core = json.loads(_raw(api, "/api/v1/events")[2])
    grouped = json.loads(_raw(api, "/apis/events.k8s.io/v1/events")[2])
    assert (core["apiVersion"], core["kind"]) == ("v1", "EventList")
    assert core["items"][0]["metadata"]["name"] == "web.1"
    assert grouped["apiVersion"] == "events.k8s.io/v1"
    assert grouped["items"][0]["metadata"]["name"] == "web.1"


def test_expired_continue_token_is_410_status_once(
    api: client.ApiClient, cluster: ReplayCluster
) -> None:
    core = client.CoreV1Api(api)
    first = core.list_namespaced_config_map("default", limit=2)
    assert first.metadata is not None
    token = first.metadata.var_continue
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map("default", limit=2, _continue=token)
    assert caught.value.status == 410
    body = json.loads(caught.value.body or "")
    assert (body["kind"], body["status"], body["reason"], body["code"]) == (
        "Status",
        "Failure",
        "Expired",
        410,
    )
    assert body["message"].startswith("The provided continue parameter is too old")
    assert body["metadata"]["continue"]  # the inconsistent-continue token a real server offers
    assert cluster.expired_sent == [ExpireToken("configmaps", 2)]
    again = core.list_namespaced_config_map("default", limit=2, _continue=token)
    assert len(again.items) == 1


def test_broken_aggregated_api_answers_503_in_plain_text(api: client.ApiClient) -> None:
    for path in ("/apis/metrics.k8s.io/v1beta1", "/apis/metrics.k8s.io/v1beta1/pods"):
        status, content_type, body = _raw(api, path)
        assert (status, body) == (503, b"service unavailable\n")
        assert content_type.startswith("text/plain")


def test_create_only_kind_refuses_list(api: client.ApiClient) -> None:
    status, _, body = _raw(api, "/apis/authentication.k8s.io/v1/tokenreviews")
    assert status == 405
    assert json.loads(body)["reason"] == "MethodNotAllowed"


def test_unknown_path_is_404_status(api: client.ApiClient) -> None:
    status, _, body = _raw(api, "/apis/nope.example/v1")
    assert status == 404
    assert json.loads(body)["reason"] == "NotFound"


def test_readyz() -> None:
    with replay_server(ReplayCluster(ready=False)) as url, _api(url) as api:
        status, _, body = _raw(api, "/readyz", accept="*/*")
    assert status == 500
    assert b"readyz check failed" in body


def test_bearer_token_is_required_when_set() -> None:
    # as a real kube-apiserver 1.34 answers (tests/e2e/test_kube_apiserver.py checks it there):
    # no token -> 403 for system:anonymous, except /version; a wrong token -> 401
    with replay_server(ReplayCluster(token="s3cret")) as url, _api(url) as api:
        status, _, body = _raw(api, "/api")
        assert (status, json.loads(body)["reason"]) == (403, "Forbidden")
        assert (
            json.loads(body)["message"]
            == 'forbidden: User "system:anonymous" cannot get path "/api"'
        )
        assert _raw(api, "/version")[0] == 200
        api.configuration.api_key = {"authorization": "wrong"}
        api.configuration.api_key_prefix = {"authorization": "Bearer"}
        status, _, body = _raw(api, "/api")
        assert (status, json.loads(body)["reason"]) == (401, "Unauthorized")
        api.configuration.api_key = {"authorization": "s3cret"}
        api.configuration.api_key_prefix = {"authorization": "Bearer"}
        assert client.CoreApi(api).get_api_versions().versions == ["v1"]
