"""The cluster's own objects (core.cleaning.system_objects): each mark excludes, look-alikes stay.

The objects below carry the marks a real kube-apiserver v1.34 writes (captured from the test API
server of tests/kube_apiserver); tests/e2e/test_kube_restore.py checks the whole set against a
real empty cluster.
"""

from __future__ import annotations

from typing import Any

import pytest

from backup2gitops.core.cleaning import CleaningPolicy, exclusion_reason, neat

DEFAULT = CleaningPolicy()
BOOTSTRAP = {
    "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
    "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
}


def obj(
    api_version: str, kind: str, name: str, namespace: str | None = None, **extra: Any
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, **extra.pop("metadata", {})}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **extra}


@pytest.mark.parametrize(
    ("item", "rule"),
    [
        (
            obj(
                "rbac.authorization.k8s.io/v1",
                "ClusterRole",
                "system:basic-user",
                metadata=BOOTSTRAP,
            ),
            "bootstrap RBAC",
        ),
        (
            obj(
                "rbac.authorization.k8s.io/v1",
                "ClusterRoleBinding",
                "cluster-admin",
                metadata=BOOTSTRAP,
            ),
            "bootstrap RBAC",
        ),
        (
            obj(
                "rbac.authorization.k8s.io/v1",
                "Role",
                "system::leader-locking-kube-scheduler",
                "kube-system",
                metadata=BOOTSTRAP,
            ),
            "bootstrap RBAC",
        ),
        (
            obj(
                "apiregistration.k8s.io/v1",
                "APIService",
                "v1.apps",
                metadata={"labels": {"kube-aggregator.kubernetes.io/automanaged": "onstart"}},
            ),
            "APIService registered",
        ),
        (
            obj(
                "apiregistration.k8s.io/v1",
                "APIService",
                "v1.example.com",
                metadata={"labels": {"kube-aggregator.kubernetes.io/automanaged": "true"}},
            ),
            "APIService registered",
        ),
        (
            obj(
                "flowcontrol.apiserver.k8s.io/v1",
                "FlowSchema",
                "catch-all",
                metadata={"annotations": {"apf.kubernetes.io/autoupdate-spec": "true"}},
            ),
            "flow-control",
        ),
        (
            obj(
                "flowcontrol.apiserver.k8s.io/v1",
                "PriorityLevelConfiguration",
                "exempt",
                metadata={"annotations": {"apf.kubernetes.io/autoupdate-spec": "true"}},
            ),
            "flow-control",
        ),
        (
            obj("scheduling.k8s.io/v1", "PriorityClass", "system-node-critical", value=2000001000),
            "PriorityClass",
        ),
        (obj("networking.k8s.io/v1", "ServiceCIDR", "kubernetes"), "ServiceCIDR"),
        (obj("networking.k8s.io/v1", "IPAddress", "10.96.0.1"), "allocated"),
        (obj("v1", "ComponentStatus", "etcd-0"), "computed"),
        (obj("v1", "ConfigMap", "extension-apiserver-authentication", "kube-system"), "API server"),
        (
            obj(
                "v1",
                "ConfigMap",
                "kube-apiserver-legacy-service-account-token-tracking",
                "kube-system",
            ),
            "API server",
        ),
        (
            obj("v1", "ServiceAccount", "deployment-controller", "kube-system"),
            "controller service account",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else f"{v['kind']}/{v['metadata']['name']}",
)
def test_the_clusters_own_objects_are_left_out_with_their_rule(
    item: dict[str, Any], rule: str
) -> None:
    reason = exclusion_reason(item, policy=DEFAULT)
    assert reason is not None and rule in reason


@pytest.mark.parametrize(
    "item",
    [
        # a person's objects with system-like names, or system objects a person took over
        obj("rbac.authorization.k8s.io/v1", "ClusterRole", "system:shop-auditor"),
        obj(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            "system:basic-user",
            metadata={
                "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "false"},
            },
        ),
        obj("apiregistration.k8s.io/v1", "APIService", "v1beta1.metrics.k8s.io"),
        obj(
            "flowcontrol.apiserver.k8s.io/v1",
            "FlowSchema",
            "global-default",
            metadata={"annotations": {"apf.kubernetes.io/autoupdate-spec": "false"}},
        ),
        obj("flowcontrol.apiserver.k8s.io/v1", "FlowSchema", "team-batch"),
        obj("scheduling.k8s.io/v1", "PriorityClass", "batch-low", value=100),
        obj("networking.k8s.io/v1", "ServiceCIDR", "extra-range"),
        obj("v1", "ConfigMap", "extension-apiserver-authentication", "shop"),
        obj("v1", "ServiceAccount", "deployment-controller", "shop"),
        obj(
            "v1",
            "ServiceAccount",
            "deployment-controller",
            "kube-system",
            metadata={"labels": {"team": "x"}},
        ),
        obj("v1", "ServiceAccount", "ci-robot", "kube-system"),
    ],
    ids=lambda v: f"{v['kind']}/{v['metadata'].get('namespace', '')}/{v['metadata']['name']}",
)
def test_look_alikes_and_taken_over_objects_are_kept(item: dict[str, Any]) -> None:
    assert exclusion_reason(item, policy=DEFAULT) is None


def test_an_aggregated_cluster_role_keeps_its_selectors_and_loses_the_filled_in_rules() -> None:
    role = obj(
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        "monitoring",
        aggregationRule={
            "clusterRoleSelectors": [{"matchLabels": {"aggregate-to-monitoring": "true"}}]
        },
        rules=[{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}],
    )
    cleaned = neat(role)
    assert cleaned["aggregationRule"] == role["aggregationRule"]
    assert "rules" not in cleaned
    null_rules = neat({**role, "rules": None})
    assert "rules" not in null_rules


def test_a_plain_cluster_role_keeps_its_rules() -> None:
    role = obj(
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        "reader",
        rules=[{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    )
    assert neat(role)["rules"] == role["rules"]
