"""The deployment under Pod Security ``restricted``, judged by the real kube-apiserver.

``kustomize build knative/`` is rendered; its Namespace (with the ``pod-security.kubernetes.io``
labels), ServiceAccounts, ConfigMap, RBAC and NetworkPolicies are applied server-side, and the
rest of the plain Kubernetes objects dry-run. PodSecurity admission only judges Pods (and warns
on the built-in workload kinds), never a Knative Service, so each Knative Service's pod template
becomes the Pod Knative would create: the template's spec with the port Knative fills into the
probes, plus the queue-proxy sidecar with the security context Serving gives it (mirrored from
knative.dev/serving v0.50.0 pkg/reconciler/revision/resources/queue.go, ``queueSecurityContext``:
a replica, the one part here not taken from the real thing). Each Pod is created with
``--dry-run=server``: admission runs in full, nothing is stored. A Pod without its security
context is refused, so the check can fail.
"""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import kube_apiserver
from tests.kube_apiserver import KubeCluster

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not kube_apiserver.available(), reason=kube_apiserver.KUBE_MISSING),
]
ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "backup2gitops"
KNATIVE_ONLY = ("containerConcurrency", "timeoutSeconds", "idleTimeoutSeconds")
QUEUE_PROXY = {
    "name": "queue-proxy",
    "image": "gcr.io/knative-releases/knative.dev/serving/cmd/queue",
    "ports": [{"containerPort": 8012, "name": "http1"}],
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    },
}


def rendered() -> list[dict[str, Any]]:
    kustomize = kube_apiserver.binary("kustomize")
    if kustomize is None:
        pytest.skip("kustomize is not built: run scripts/install-test-deps.sh")
    out = subprocess.run(
        [str(kustomize), "build", str(ROOT / "knative")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def pod_of(service: dict[str, Any]) -> dict[str, Any]:
    """The Pod a revision of ``service`` runs: its template, completed as Serving completes it."""
    template = copy.deepcopy(service["spec"]["template"])
    spec = {k: v for k, v in template["spec"].items() if k not in KNATIVE_ONLY}
    for container in spec["containers"]:
        for probe in ("readinessProbe", "livenessProbe"):
            if "httpGet" in container.get(probe, {}):
                container[probe]["httpGet"].setdefault("port", 8080)
    spec["containers"].append(copy.deepcopy(QUEUE_PROXY))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{service['metadata']['name']}-00001",
            "namespace": NAMESPACE,
            "labels": {"serving.knative.dev/service": service["metadata"]["name"]},
        },
        "spec": spec,
    }


def create_dry_run(
    cluster: KubeCluster, objects: list[dict[str, Any]]
) -> subprocess.CompletedProcess[str]:
    text = "---\n".join(yaml.safe_dump(o) for o in objects)
    return cluster.kubectl("create", "--dry-run=server", "-f", "-", input=text, check=False)


def test_every_pod_is_admitted_under_restricted(kube_cluster: KubeCluster) -> None:
    objects = rendered()
    (namespace,) = [o for o in objects if o["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    plain = [
        o
        for o in objects
        if o["apiVersion"] in ("v1", "rbac.authorization.k8s.io/v1", "networking.k8s.io/v1")
    ]
    kube_cluster.apply(plain)  # the Namespace with its labels, the ServiceAccounts, ...
    default = {"apiVersion": "v1", "kind": "ServiceAccount"}  # the dead-letter sink's
    kube_cluster.apply([{**default, "metadata": {"name": "default", "namespace": NAMESPACE}}])
    services = [
        o for o in objects if o["kind"] == "Service" and "serving.knative.dev" in o["apiVersion"]
    ]
    assert {s["metadata"]["name"] for s in services} >= {
        "cluster-backup",
        "backup-complete",
        "gitops-generator",
        "health-aggregator",
        "alert-router",
        "backup2gitops-dead-letter",
    }
    pods = [pod_of(s) for s in services]
    result = create_dry_run(kube_cluster, pods)
    assert result.returncode == 0, result.stderr
    assert "PodSecurity" not in result.stderr, result.stderr  # not even a warning
    assert result.stdout.count("created (server dry run)") == len(pods), result.stdout


def test_a_pod_without_its_security_context_is_refused(kube_cluster: KubeCluster) -> None:
    objects = rendered()
    kube_cluster.apply([o for o in objects if o["kind"] in ("Namespace", "ServiceAccount")])
    (service,) = [
        o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "alert-router"
    ]
    pod = pod_of(service)
    del pod["spec"]["containers"][0]["securityContext"]
    result = create_dry_run(kube_cluster, [pod])
    assert result.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in result.stderr, result.stderr
