"""Targeted rule tests: values the golden pairs do not cover, flags, and the public API."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from backup2gitops.core import cleaning
from backup2gitops.core.cleaning import CleaningPolicy, Prepared, neat, prepare
from backup2gitops.core.cleaning.podspec import default_pull_policy
from backup2gitops.core.cleaning.ruleset import RULES


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("localhost:5000/nginx", "Always"),
        ("localhost:5000/nginx:1.25", "IfNotPresent"),
        ("nginx@sha256:abc", "IfNotPresent"),
        ("nginx:latest@sha256:abc", "Always"),
        ("registry.example.com:443/a/b:v1@sha256:abc", "IfNotPresent"),
    ],
)
def test_default_pull_policy(image: str, policy: str) -> None:
    assert default_pull_policy(image) == policy


def pod(spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", **metadata},
        "spec": spec,
    }


def test_non_default_pull_policy_stays() -> None:
    spec = {"containers": [{"name": "c", "image": "nginx:1.25", "imagePullPolicy": "Always"}]}
    assert neat(pod(spec))["spec"]["containers"][0]["imagePullPolicy"] == "Always"


def test_pod_restart_policy_non_default_stays() -> None:
    spec = {"containers": [{"name": "c", "image": "x:1"}], "restartPolicy": "OnFailure"}
    assert neat(pod(spec))["spec"]["restartPolicy"] == "OnFailure"


def test_pod_only_defaults_are_not_dropped_from_templates() -> None:
    # enableServiceLinks is defaulted on Pods (SetDefaults_Pod), never in templates.
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "ns"},
        "spec": {
            "template": {"spec": {"enableServiceLinks": True, "priority": 0, "containers": []}}
        },
    }
    spec = neat(deployment)["spec"]["template"]["spec"]
    assert spec["enableServiceLinks"] is True
    assert spec["priority"] == 0
    assert neat(pod({"enableServiceLinks": False}))["spec"] == {"enableServiceLinks": False}


def test_env_field_ref_keeps_its_api_version_inside_the_atomic_selector() -> None:
    # ObjectFieldSelector is atomic: without the server's apiVersion the fieldRef is another
    # value, and server-side applying it over a kubectl-created install conflicts (ingress-nginx,
    # tests/e2e/test_real_installs.py). Written or defaulted, it stays as the server has it.
    env = [
        {
            "name": "POD_NAME",
            "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}},
        },
        {"name": "LEVEL", "value": "info"},
    ]
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "ns"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x:1", "env": env}]}}},
    }
    cleaned = neat(deployment)["spec"]["template"]["spec"]["containers"][0]["env"]
    assert cleaned == env


def test_pod_non_default_service_account_and_tolerations_stay() -> None:
    toleration = {
        "effect": "NoExecute",
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "tolerationSeconds": 60,
    }
    cleaned = neat(
        pod({"serviceAccountName": "web", "tolerations": [toleration], "preemptionPolicy": "Never"})
    )
    assert cleaned["spec"] == {
        "serviceAccountName": "web",
        "tolerations": [toleration],
        "preemptionPolicy": "Never",
    }


def test_pod_user_volume_named_like_kube_api_access_stays() -> None:
    volume = {"name": "kube-api-access-mine", "configMap": {"name": "x"}}
    assert neat(pod({"volumes": [volume]}))["spec"]["volumes"] == [volume]


def test_zero_false_and_empty_string_are_never_taken_for_defaults() -> None:
    spec = {"terminationGracePeriodSeconds": 0, "dnsPolicy": "", "hostNetwork": False}
    assert neat(pod(spec))["spec"] == spec


def test_bool_default_does_not_match_int() -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {"suspend": 0, "manualSelector": True},
    }
    assert neat(job)["spec"]["suspend"] == 0


def service(spec: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "s", "namespace": "ns"}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}


LB = {
    "type": "LoadBalancer",
    "clusterIP": "10.0.0.1",
    "clusterIPs": ["10.0.0.1"],
    "allocateLoadBalancerNodePorts": True,
    "externalTrafficPolicy": "Local",
    "healthCheckNodePort": 31999,
    "ipFamilies": ["IPv4", "IPv6"],
    "ipFamilyPolicy": "PreferDualStack",
    "ports": [{"port": 443, "targetPort": 8443, "nodePort": 30443, "protocol": "TCP"}],
}


def test_load_balancer_defaults_and_allocations() -> None:
    assert neat(service(copy.deepcopy(LB)))["spec"] == {
        "type": "LoadBalancer",
        "externalTrafficPolicy": "Local",
        "ipFamilies": ["IPv4", "IPv6"],
        "ipFamilyPolicy": "PreferDualStack",
        "ports": [{"port": 443, "targetPort": 8443}],
    }


def test_keep_cluster_ip_and_node_ports() -> None:
    policy = CleaningPolicy(keep_cluster_ip=True, keep_node_ports=True)
    spec = neat(service(copy.deepcopy(LB)), policy=policy)["spec"]
    assert spec["clusterIP"] == "10.0.0.1"
    assert spec["clusterIPs"] == ["10.0.0.1"]
    assert spec["healthCheckNodePort"] == 31999
    assert spec["ports"][0]["nodePort"] == 30443


def test_cluster_ip_written_in_last_applied_stays() -> None:
    applied = '{"spec":{"clusterIP":"10.96.0.10","ports":[{"port":53}]}}'
    obj = service(
        {"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "ports": [{"port": 53}]},
        {"kubectl.kubernetes.io/last-applied-configuration": applied},
    )
    assert neat(obj)["spec"] == {"clusterIP": "10.96.0.10", "ports": [{"port": 53}]}


def test_broken_last_applied_is_ignored() -> None:
    obj = service(
        {"ports": [{"port": 80, "nodePort": 30001}], "type": "NodePort"},
        {"kubectl.kubernetes.io/last-applied-configuration": "{not json"},
    )
    assert neat(obj)["spec"] == {"ports": [{"port": 80}], "type": "NodePort"}


def test_unknown_kinds_only_lose_metadata_and_status() -> None:
    spec = {
        "template": {"spec": {"dnsPolicy": "ClusterFirst", "securityContext": {}}},
        "strategy": {"type": "RollingUpdate"},
        "sessionAffinity": "None",
        "clusterIP": "1.2.3.4",
    }
    custom = {
        "apiVersion": "example.com/v1",
        "kind": "Deployment",
        "metadata": {"name": "x", "uid": "u", "resourceVersion": "1"},
        "spec": copy.deepcopy(spec),
        "status": {"ok": True},
    }
    assert neat(custom) == {
        "apiVersion": "example.com/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": spec,
    }


def test_every_registered_rule_has_a_golden_case() -> None:
    from pathlib import Path

    from backup2gitops.core import kube_yaml

    kinds = set()
    for path in (Path(__file__).parent / "cases").glob("*.input.yaml"):
        for item in kube_yaml.load_all(path.read_text()):
            group = item["apiVersion"].rpartition("/")[0]
            kinds.add((group, item["kind"]))
    missing = set(RULES) - kinds - {("apps", "ReplicaSet")}
    assert not missing


def test_standalone_replicaset_template_is_cleaned() -> None:
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "r"},
        "spec": {
            "replicas": 2,
            "template": {
                "metadata": {"creationTimestamp": None},
                "spec": {"restartPolicy": "Always"},
            },
        },
    }
    assert neat(rs)["spec"] == {"replicas": 2, "template": {"spec": {}}}


def test_neat_never_mutates_input() -> None:
    obj = pod(
        {"nodeName": "n", "containers": [{"name": "c", "image": "x", "resources": {}}]},
        uid="u",
        annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}"},
    )
    before = copy.deepcopy(obj)
    neat(obj)
    prepare(obj, policy=CleaningPolicy(), transforms=[lambda o: o.clear() or o])
    assert obj == before


def secret(**extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "ns"},
        "type": "Opaque",
        **extra,
    }


def test_secret_modes() -> None:
    item = secret(data={"a": "c2VjcmV0"}, stringData={"b": "plain"})
    redacted = cleaning.apply_secret_policy(item, policy=CleaningPolicy(secrets="redact"))
    assert redacted["data"] == {"a": "UkVEQUNURUQ="}
    assert redacted["stringData"] == {"b": "REDACTED"}
    assert redacted["metadata"]["annotations"] == {"backup2gitops.io/redacted": "true"}
    for mode in ("plaintext", "sops"):
        assert cleaning.apply_secret_policy(item, policy=CleaningPolicy(secrets=mode)) == item
    assert item["data"] == {"a": "c2VjcmV0"}
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}}
    assert (
        cleaning.apply_secret_policy(config_map, policy=CleaningPolicy(secrets="redact"))
        == config_map
    )


def test_needs_encryption() -> None:
    assert cleaning.needs_encryption(secret(), CleaningPolicy(secrets="sops"))
    assert not cleaning.needs_encryption(secret(), CleaningPolicy(secrets="plaintext"))
    assert not cleaning.needs_encryption(
        {"apiVersion": "v1", "kind": "ConfigMap"}, CleaningPolicy(secrets="sops")
    )


def test_prepare_outcomes() -> None:
    assert prepare(secret()) == Prepared(excluded="policy: secrets are excluded")
    sops = prepare(secret(data={"a": "eA=="}), policy=CleaningPolicy(secrets="sops"))
    assert sops.encrypt and sops.object is not None and sops.object["data"] == {"a": "eA=="}

    def add_team(obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"].setdefault("labels", {})["team"] = "shop"
        return obj

    def drop_all(obj: dict[str, Any]) -> None:
        return None

    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "uid": "u"}}
    done = prepare(cm, transforms=[add_team])
    assert done.object == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "labels": {"team": "shop"}},
    }
    assert not done.encrypt
    assert prepare(cm, transforms=[add_team, drop_all]).excluded == "transform:drop_all"


def test_prepared_needs_exactly_one_outcome() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Prepared()
    with pytest.raises(ValueError, match="exactly one"):
        Prepared(object={}, excluded="x")


def test_public_api_is_complete() -> None:
    public = {name for name in dir(cleaning) if not name.startswith("_")}
    assert set(cleaning.__all__) <= public
    for name in (
        "CleaningPolicy",
        "exclusion_reason",
        "neat",
        "prepare",
        "apply_secret_policy",
        "needs_encryption",
        "Prepared",
        "Transform",
    ):
        assert name in cleaning.__all__


def test_server_metadata_and_emptied_maps_go() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "c",
            "namespace": "n",
            "selfLink": "/api/v1/namespaces/n/configmaps/c",
            "deletionTimestamp": "2024-01-01T00:00:00Z",
            "deletionGracePeriodSeconds": 0,
            "generation": 2,
            "labels": {},
            "annotations": {"pv.kubernetes.io/anything": "x"},
            "finalizers": ["kubernetes.io/pvc-protection"],
        },
        "data": {},
    }
    assert neat(obj) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "n"},
        "data": {},
    }


@pytest.mark.parametrize("source", ["secret", "configMap", "projected", "downwardAPI"])
def test_volume_default_mode(source: str) -> None:
    spec = {
        "volumes": [
            {"name": "v", source: {"defaultMode": 420}},
            {"name": "w", source: {"defaultMode": 384}},
        ]
    }
    assert neat(pod(spec))["spec"]["volumes"] == [
        {"name": "v", source: {}},
        {"name": "w", source: {"defaultMode": 384}},
    ]


def test_namespace_label_for_another_name_stays() -> None:
    ns = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "a", "labels": {"kubernetes.io/metadata.name": "b"}},
        "spec": {"finalizers": ["kubernetes", "example.com/x"]},
    }
    assert neat(ns) == ns


def test_cronjob_history_defaults() -> None:
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "c"},
        "spec": {
            "schedule": "* * * * *",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {"spec": {}},
        },
    }
    assert neat(cron)["spec"] == {"schedule": "* * * * *", "jobTemplate": {"spec": {}}}
