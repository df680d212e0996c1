"""Leftover server defaults, on a real kube-apiserver: what people applied comes back, exactly.

Manifests people write (no defaults in them) are applied three ways — client-side ``kubectl
apply`` (last-applied annotation), server-side ``kubectl apply`` (Apply-owned fields) and
``kubectl create`` (no record at all) — and read back as the server stores them, with every
default it filled in (webhook ``port: 443``, ``matchPolicy``, selectors,
``timeoutSeconds``, ``reinvocationPolicy``, admission-policy ``failurePolicy`` and
``matchConstraints``, a CRD's ``listKind``/``singular``, ``replicas: 1``, a strategy's 25 %,
Job ``manualSelector``, PriorityClass ``preemptionPolicy``, StorageClass ``reclaimPolicy``,
PV ``hostPath.type``, and a PVC's ``storageClassName`` from the DefaultStorageClass admission
plugin). Cleaned, each object is the manifest again (but for the defaults inside atomic values —
``scope: '*'`` in rule lists, a policy's ``matchConstraints`` — kept so that re-applying them
conflicts with no one), and a GitOps tool applying the cleaned objects server-side to the same
cluster meets no conflict. A manifest that writes defaults itself keeps them when applied with a
record of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from backup2gitops.core import cleaning
from tests.kube_apiserver import KUBE_MISSING, KubeCluster, available

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not available(), reason=KUBE_MISSING)]

WAYS = ("client-side", "server-side", "create")
RULES = [
    {
        "apiGroups": ["b2g.example"],
        "apiVersions": ["v1"],
        "operations": ["CREATE"],
        "resources": ["gizmos"],
    }
]


def manifests(way: str) -> list[dict[str, Any]]:
    """Objects as a person writes them, named for ``way`` (cluster-scoped ones too)."""
    ns = f"defaults-{way}"
    webhook = {
        "name": "check.b2g.example",
        "clientConfig": {"service": {"name": "check", "namespace": ns, "path": "/v"}},
        "rules": RULES,
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "failurePolicy": "Ignore",
    }
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": f"b2g-{way}"},
            "webhooks": [webhook],
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": f"b2g-{way}"},
            "webhooks": [webhook],
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": f"b2g-{way}"},
            "spec": {
                "matchConstraints": {"resourceRules": RULES},
                "validations": [{"expression": "true"}],
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": f"b2g-{way}"},
            "spec": {"policyName": f"b2g-{way}", "validationActions": ["Deny"]},
        },
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"gadgets{way.replace('-', '')}.b2g.example"},
            "spec": {
                "group": "b2g.example",
                "names": {
                    "kind": f"Gadget{way.replace('-', '')}",
                    "plural": f"gadgets{way.replace('-', '')}",
                },
                "scope": "Namespaced",
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {"openAPIV3Schema": {"type": "object"}},
                    }
                ],
            },
        },
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": f"b2g-{way}"},
            "value": 10,
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"b2g-{way}"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "capacity": {"storage": "1Gi"},
                "hostPath": {"path": f"/srv/{way}"},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": ns},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"rollingUpdate": {"maxSurge": 1}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                },
            },
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "once", "namespace": ns},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [{"name": "once", "image": "busybox:1.36"}],
                        "restartPolicy": "Never",
                    }
                }
            },
        },
    ]


DEFAULT_CLASS: dict[str, Any] = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {
        "name": "b2g-default",
        "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
    },
    "provisioner": "example.com/none",
}


def _apply(cluster: KubeCluster, way: str, objects: list[dict[str, Any]]) -> None:
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    if way == "client-side":
        cluster.kubectl("apply", "-f", "-", input=text)
    elif way == "server-side":
        cluster.kubectl("apply", "--server-side", "-f", "-", input=text)
    else:
        cluster.kubectl("create", "-f", "-", input=text)


def _path(obj: dict[str, Any]) -> str:
    kind = obj["kind"]
    plural = {
        "PriorityClass": "priorityclasses",
        "StorageClass": "storageclasses",
        "ValidatingAdmissionPolicy": "validatingadmissionpolicies",
    }.get(kind, kind.lower() + "s")
    api = obj["apiVersion"]
    base = f"/api/{api}" if "/" not in api else f"/apis/{api}"
    ns = obj["metadata"].get("namespace")
    where = f"/namespaces/{ns}" if ns else ""
    return f"{base}{where}/{plural}/{obj['metadata']['name']}"


@pytest.fixture(scope="module")
def applied(kube_cluster: KubeCluster) -> Iterator[KubeCluster]:
    """All three ways applied once for the module (a deleted namespace stays Terminating on a
    server without kube-controller-manager)."""
    cluster = kube_cluster
    cluster.apply([DEFAULT_CLASS])
    try:
        for way in WAYS:
            objects = manifests(way)
            _apply(cluster, way, objects[:1])  # the Namespace first
            _apply(cluster, way, objects[1:])
        yield cluster
    finally:
        for way in WAYS:
            for obj in manifests(way)[1:]:
                if "namespace" not in obj["metadata"]:
                    cluster.kubectl(
                        "delete",
                        obj["kind"].lower(),
                        obj["metadata"]["name"],
                        "--wait=false",
                        check=False,
                    )
            cluster.kubectl("delete", "namespace", f"defaults-{way}", "--wait=false", check=False)
        cluster.kubectl("delete", "storageclass", "b2g-default", check=False)


@pytest.mark.parametrize("way", WAYS)
def test_cleaning_gives_back_the_manifest(applied: KubeCluster, way: str) -> None:
    cluster = applied
    stored_pvc = cluster.get(_path(manifests(way)[8])).json()
    assert stored_pvc["spec"]["storageClassName"] == "b2g-default"  # the admission plugin's
    differences = []
    restored: list[dict[str, Any]] = []
    for manifest in manifests(way)[1:]:
        response = cluster.get(_path(manifest))
        assert response.ok, (manifest["kind"], response.text)
        stored = response.json()
        prepared = cleaning.prepare(stored)
        assert prepared.object is not None, prepared.excluded
        cleaned = {k: v for k, v in prepared.object.items() if k != "metadata"}
        wanted = {k: v for k, v in manifest.items() if k != "metadata"}
        if way == "create" and manifest["kind"] == "PersistentVolumeClaim":
            # no record of what was applied: nothing tells the admission plugin's class from
            # one the person chose, so it stays (applying it again is harmless)
            wanted = json.loads(json.dumps(wanted))
            wanted["spec"]["storageClassName"] = "b2g-default"
        if manifest["kind"].endswith("WebhookConfiguration"):
            # the rules are an atomic list: the server's scope stays (core/cleaning/admission.py)
            wanted = json.loads(json.dumps(wanted))
            wanted["webhooks"][0]["rules"] = [{**RULES[0], "scope": "*"}]
        if manifest["kind"] == "ValidatingAdmissionPolicy":
            # matchConstraints is an atomic struct: the server's defaults in it stay
            wanted = json.loads(json.dumps(wanted))
            wanted["spec"]["matchConstraints"] = {
                "resourceRules": [{**RULES[0], "scope": "*"}],
                "matchPolicy": "Equivalent",
                "namespaceSelector": {},
                "objectSelector": {},
            }
        if cleaned != wanted:
            differences.append((manifest["kind"], cleaned, wanted))
        restored.append(prepared.object)
    assert differences == [], json.dumps(differences, indent=1)
    # taken over by a GitOps tool on the cluster it came from: no conflict with the creator
    result = cluster.kubectl(
        "apply",
        "--server-side",
        "--field-manager=kustomize-controller",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": restored}),
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_defaults_a_person_wrote_stay_when_the_record_says_so(kube_cluster: KubeCluster) -> None:
    cluster = kube_cluster
    explicit = {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "b2g-explicit"},
        "value": 10,
        "preemptionPolicy": "PreemptLowerPriority",
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(explicit))
    try:
        stored = cluster.get(_path(explicit)).json()
        cleaned = cleaning.prepare(stored).object
        assert cleaned is not None and cleaned["preemptionPolicy"] == "PreemptLowerPriority"
    finally:
        cluster.kubectl("delete", "priorityclass", "b2g-explicit", check=False)
