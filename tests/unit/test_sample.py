import io
from collections import Counter
from typing import Any

import pytest

from backup2gitops.core import bucket_layout
from backup2gitops.core.archive import ArchiveWriter, BackupItem, iter_items
from backup2gitops.sample import (
    SAMPLE_BACKUP_ID,
    SAMPLE_CLUSTER,
    SAMPLE_KUBERNETES_VERSION,
    iter_sample_items,
)


@pytest.fixture(scope="module")
def items() -> list[BackupItem]:
    return list(iter_sample_items())


def _by_kind(items: list[BackupItem]) -> Counter[str]:
    return Counter(item.obj["kind"] for item in items)


def test_constants() -> None:
    assert bucket_layout.validate_name(SAMPLE_CLUSTER) == "demo"
    assert bucket_layout.validate_name(SAMPLE_BACKUP_ID) == SAMPLE_BACKUP_ID
    assert SAMPLE_KUBERNETES_VERSION == "v1.31.4"


def test_size_and_kinds(items: list[BackupItem]) -> None:
    assert 50 <= len(items) <= 80
    kinds = _by_kind(items)
    for kind in [
        "Namespace",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "Service",
        "ConfigMap",
        "Secret",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "CronJob",
        "CustomResourceDefinition",
        "Widget",
        "PersistentVolumeClaim",
        "PersistentVolume",
        "NetworkPolicy",
        "Ingress",
        # noise
        "ReplicaSet",
        "Pod",
        "Job",
        "Event",
        "Endpoints",
        "EndpointSlice",
        "Lease",
        "Node",
        "ControllerRevision",
    ]:
        assert kinds[kind] >= 1, kind
    assert kinds["Widget"] == 2
    namespaces = {item.name for item in items if item.obj["kind"] == "Namespace"}
    assert {"shop", "payments", "monitoring", "default", "kube-system"} <= namespaces


def test_variety_that_cleaning_must_handle(items: list[BackupItem]) -> None:
    services = {i.name: i.obj for i in items if i.obj["kind"] == "Service"}
    assert {s["spec"]["type"] for s in services.values()} >= {"ClusterIP", "NodePort"}
    assert any(s["spec"]["clusterIP"] == "None" for s in services.values())
    secret_types = {i.obj["type"] for i in items if i.obj["kind"] == "Secret"}
    assert {"Opaque", "kubernetes.io/service-account-token"} <= secret_types
    deployments = [i.obj for i in items if i.obj["kind"] == "Deployment"]
    assert any(
        d["metadata"].get("labels", {}).get("app.kubernetes.io/managed-by") == "Helm"
        for d in deployments
    )
    statefulset = next(i.obj for i in items if i.obj["kind"] == "StatefulSet")
    assert statefulset["spec"]["volumeClaimTemplates"]
    group_resources = {i.group_resource for i in items}
    assert {"events", "events.events.k8s.io"} <= group_resources


def test_objects_look_like_api_server_output(items: list[BackupItem]) -> None:
    uids = Counter(i.obj["metadata"]["uid"] for i in items)
    for item in items:
        obj = item.obj
        metadata = obj["metadata"]
        assert metadata["name"] == item.name
        assert metadata.get("namespace") == item.namespace
        assert obj["apiVersion"] and obj["kind"]
        assert metadata["resourceVersion"].isdigit()
        assert metadata["creationTimestamp"].endswith("Z")
        if obj["kind"] not in {"ServiceAccount"}:
            assert metadata.get("managedFields"), item
    # the same Event read through two API groups shares its uid; nothing else does
    assert [uid for uid, count in uids.items() if count > 1] == [
        next(i.obj["metadata"]["uid"] for i in items if i.group_resource == "events.events.k8s.io")
    ]
    web = next(i.obj for i in items if i.obj["kind"] == "Deployment" and i.name == "web")
    assert "kubectl.kubernetes.io/last-applied-configuration" in web["metadata"]["annotations"]
    assert "status" in web
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert web["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"


def test_owner_references_are_consistent(items: list[BackupItem]) -> None:
    index: dict[tuple[str, str | None, str], dict[str, Any]] = {
        (i.obj["kind"], i.namespace, i.name): i.obj for i in items
    }
    owned = 0
    for item in items:
        for ref in item.obj["metadata"].get("ownerReferences", []):
            target = index.get((ref["kind"], item.namespace, ref["name"]))
            assert target is not None, (item.name, ref)
            assert target["metadata"]["uid"] == ref["uid"]
            assert target["apiVersion"] == ref["apiVersion"]
            owned += 1
    assert owned >= 10
    for kind in ["ReplicaSet", "Pod", "Job", "ControllerRevision"]:
        for item in (i for i in items if i.obj["kind"] == kind):
            refs = item.obj["metadata"]["ownerReferences"]
            assert any(ref.get("controller") is True for ref in refs), item.name


def test_cross_references_are_consistent(items: list[BackupItem]) -> None:
    by_uid = {i.obj["metadata"]["uid"]: i.obj for i in items}
    pvs = [i.obj for i in items if i.obj["kind"] == "PersistentVolume"]
    for pv in pvs:
        claim = by_uid[pv["spec"]["claimRef"]["uid"]]
        assert claim["spec"]["volumeName"] == pv["metadata"]["name"]
    for item in items:
        if item.obj["kind"] == "EndpointSlice":
            for endpoint in item.obj["endpoints"]:
                if "targetRef" in endpoint:
                    assert by_uid[endpoint["targetRef"]["uid"]]["kind"] == "Pod"
    token = next(i.obj for i in items if i.name == "shop-web-token")
    account = by_uid[token["metadata"]["annotations"]["kubernetes.io/service-account.uid"]]
    assert account["metadata"]["name"] == "shop-web"


def test_sample_round_trips_through_the_archive(items: list[BackupItem]) -> None:
    out = io.BytesIO()
    with ArchiveWriter(out) as writer:
        for item in items:
            writer.add_item(item, also_preferred_version=item.obj["apiVersion"].split("/")[-1])
    assert list(iter_items(io.BytesIO(out.getvalue()))) == items
    assert sum(writer.counts.values()) == len(items)
