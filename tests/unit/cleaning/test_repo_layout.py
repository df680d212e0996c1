"""repo_layout: paths, group-resources, and that no untrusted name escapes the cluster folder."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from backup2gitops.core.repo_layout import UnsafeName, group_resource_for, object_path


def test_namespaced_and_cluster_scoped_paths() -> None:
    assert object_path(
        cluster="prod-eu", group_resource="deployments.apps", namespace="shop", name="web"
    ) == PurePosixPath("clusters/prod-eu/namespaces/shop/deployments.apps/web.yaml")
    assert object_path(
        cluster="prod-eu", group_resource="namespaces", namespace=None, name="shop"
    ) == PurePosixPath("clusters/prod-eu/cluster-scoped/namespaces/shop.yaml")
    assert object_path(
        cluster="c",
        group_resource="clusterroles.rbac.authorization.k8s.io",
        namespace=None,
        name="system:aggregate-to-view",
    ) == PurePosixPath(
        "clusters/c/cluster-scoped/clusterroles.rbac.authorization.k8s.io/system:aggregate-to-view.yaml"
    )


def test_object_named_kustomization_does_not_replace_the_folder_kustomization() -> None:
    path = object_path(
        cluster="c", group_resource="configmaps", namespace="n", name="kustomization"
    )
    assert path.name == "_kustomization.yaml"


HOSTILE = [
    "../etc",
    "..",
    "a/b",
    "a\\b",
    ".git",
    ".",
    "",
    "nul\0byte",
    "new\nline",
    "x" * 254,
    "a..b",
    "/abs",
]


@pytest.mark.parametrize("name", HOSTILE, ids=repr)
@pytest.mark.parametrize("field", ["name", "namespace", "group_resource"])
def test_hostile_segments_are_rejected(name: str, field: str) -> None:
    kwargs = {"cluster": "c", "group_resource": "configmaps", "namespace": "n", "name": "x"}
    kwargs[field] = name
    with pytest.raises(UnsafeName):
        object_path(**kwargs)  # type: ignore[arg-type]


def test_the_longest_name_that_fits_is_kept_as_it_is() -> None:
    path = object_path(cluster="c", group_resource="configmaps", namespace="n", name="x" * 250)
    assert path.name == "x" * 250 + ".yaml"  # 255 bytes: Linux's limit per file name


def test_longest_valid_name_is_accepted_under_a_short_file_name() -> None:
    path = object_path(cluster="c", group_resource="configmaps", namespace="n", name="x" * 253)
    assert len(path.name.encode()) <= 255
    assert path.name.startswith("x" * 200 + "%") and path.suffix == ".yaml"


@pytest.mark.parametrize(
    "cluster", ["", "Prod", "a_b", "../x", "a/b", "-a", "a-", "x" * 64, ".git", "a.b"]
)
def test_cluster_must_be_a_dns_label(cluster: str) -> None:
    with pytest.raises(UnsafeName):
        object_path(cluster=cluster, group_resource="configmaps", namespace=None, name="x")


def test_unsafe_name_is_a_value_error() -> None:
    assert issubclass(UnsafeName, ValueError)


@pytest.mark.parametrize(
    ("api_version", "kind", "expected"),
    [
        ("v1", "ConfigMap", "configmaps"),
        ("v1", "Endpoints", "endpoints"),
        ("v1", "Namespace", "namespaces"),
        ("apps/v1", "Deployment", "deployments.apps"),
        ("batch/v1", "CronJob", "cronjobs.batch"),
        (
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            "clusterrolebindings.rbac.authorization.k8s.io",
        ),
        ("networking.k8s.io/v1", "Ingress", "ingresses.networking.k8s.io"),
        ("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies.networking.k8s.io"),
        ("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets.policy"),
        ("storage.k8s.io/v1", "StorageClass", "storageclasses.storage.k8s.io"),
        (
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "customresourcedefinitions.apiextensions.k8s.io",
        ),
        ("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers.autoscaling"),
        ("scheduling.k8s.io/v1", "PriorityClass", "priorityclasses.scheduling.k8s.io"),
        (
            "admissionregistration.k8s.io/v1",
            "ValidatingWebhookConfiguration",
            "validatingwebhookconfigurations.admissionregistration.k8s.io",
        ),
        ("coordination.k8s.io/v1", "Lease", "leases.coordination.k8s.io"),
        # fallback
        ("cert-manager.io/v1", "Certificate", "certificates.cert-manager.io"),
        ("cert-manager.io/v1", "ClusterIssuer", "clusterissuers.cert-manager.io"),
        ("example.com/v1", "Policy", "policies.example.com"),
        ("example.com/v1", "Gateway", "gateways.example.com"),
        ("example.com/v1", "Ingress", "ingresses.example.com"),
        ("example.com/v1", "Mesh", "meshes.example.com"),
        ("example.com/v1", "Box", "boxes.example.com"),
        ("example.com/v1", "Prometheus", "prometheuses.example.com"),
    ],
)
def test_group_resource_for(api_version: str, kind: str, expected: str) -> None:
    assert group_resource_for(api_version, kind) == expected
