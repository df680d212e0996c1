"""What controllers write into objects people made, on a real kube-apiserver, by their own calls.

People create the objects as people do (``kubectl apply``, client side and server side,
``kubectl create``); then the controllers' calls are replayed exactly as those controllers make
them, with their field managers:

- cert-manager's cainjector: a server-side apply with ``force`` of the webhook's ``caBundle``
  (manager ``cainjector``);
- ingress-nginx's ``kube-webhook-certgen``: an update (PUT) that sets ``caBundle``;
- the HPA controller: an update of the ``scale`` subresource as ``kube-controller-manager``;
- a Flux controller: a finalizer added by an update as ``gotk-kustomize-controller``
(the calls are shared with tests/e2e/test_real_installs.py: tests/e2e/controller_calls.py).

The objects read back (with their managedFields) are cleaned: none of those values is left,
everything the people wrote is. Then the target's own injector and autoscaler act again (a new
CA, a new count) and the cleaned objects are applied the way Flux does (server-side, no
``--force-conflicts``): no conflict, and the cluster keeps its own CA and replica count — while
the same webhook with the injected caBundle kept is refused (``conflict with "cainjector"``).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from backup2gitops.core import cleaning
from tests.e2e import controller_calls
from tests.kube_apiserver import KUBE_MISSING, KubeCluster, available

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not available(), reason=KUBE_MISSING)]

NAMESPACE = "controller-fields"
VALIDATING = "b2g-test-cert-manager-webhook"
MUTATING = "b2g-test-ingress-nginx-admission"
CA_1 = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCnNvdXJjZQo="
CA_2 = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCnRhcmdldAo="
# rules on a group nobody serves: the webhooks (whose Service does not exist) never intercept
RULES = [
    {
        "apiGroups": ["b2g.example"],
        "apiVersions": ["v1"],
        "operations": ["CREATE"],
        "resources": ["gizmos"],
    }
]
ADMISSION = controller_calls.ADMISSION


def _webhook(name: str, service: str) -> dict[str, Any]:
    return {
        "name": name,
        "clientConfig": {"service": {"name": service, "namespace": NAMESPACE, "path": "/v"}},
        "rules": RULES,
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "failurePolicy": "Ignore",
    }


PEOPLE_MANIFESTS: list[dict[str, Any]] = [
    {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": VALIDATING},
        "webhooks": [_webhook("webhook.cert-manager.io", "cert-manager-webhook")],
    },
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NAMESPACE},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    },
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": NAMESPACE},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "api"}},
            "template": {
                "metadata": {"labels": {"app": "api"}},
                "spec": {"containers": [{"name": "api", "image": "nginx:1.27"}]},
            },
        },
    },
    {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "api", "namespace": NAMESPACE},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
            "minReplicas": 2,
            "maxReplicas": 6,
        },
    },
]
CREATED_MANIFEST: dict[str, Any] = {
    "apiVersion": "admissionregistration.k8s.io/v1",
    "kind": "MutatingWebhookConfiguration",
    "metadata": {"name": MUTATING},
    "webhooks": [_webhook("validate.nginx.ingress.kubernetes.io", "ingress-nginx-admission")],
}
# a custom resource of a controller (Flux adds finalizers.fluxcd.io to its own custom resources;
# core kinds refuse a finalizer name without a "/")
SOURCES_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "sources.finalizers.b2g.example"},
    "spec": {
        "group": "finalizers.b2g.example",
        "names": {"kind": "Source", "plural": "sources"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "properties": {"url": {"type": "string"}}}
                        },
                    }
                },
            }
        ],
    },
}
FLUX_APPLIED: dict[str, Any] = {
    "apiVersion": "finalizers.b2g.example/v1",
    "kind": "Source",
    "metadata": {"name": "settings", "namespace": NAMESPACE},
    "spec": {"url": "https://git.example/apps.git"},
}


def _inject_with_cainjector(cluster: KubeCluster, ca: str) -> None:
    controller_calls.inject_webhooks_with_cainjector(
        cluster, "ValidatingWebhookConfiguration", VALIDATING, ["webhook.cert-manager.io"], ca
    )


def _patch_with_certgen(cluster: KubeCluster, ca: str) -> None:
    controller_calls.patch_with_certgen(cluster, "MutatingWebhookConfiguration", MUTATING, ca)


def _scale_as_hpa(cluster: KubeCluster, name: str, replicas: int) -> None:
    controller_calls.scale_as_hpa(cluster, NAMESPACE, name, replicas)


_read = controller_calls.read


PATHS = {
    "validating": f"{ADMISSION}/validatingwebhookconfigurations/{VALIDATING}",
    "mutating": f"{ADMISSION}/mutatingwebhookconfigurations/{MUTATING}",
    "web": f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/web",
    "api": f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/api",
    "hpa": f"/apis/autoscaling/v2/namespaces/{NAMESPACE}/horizontalpodautoscalers/api",
    "settings": f"/apis/finalizers.b2g.example/v1/namespaces/{NAMESPACE}/sources/settings",
}


@pytest.fixture
def replayed(kube_cluster: KubeCluster) -> Iterator[KubeCluster]:
    cluster = kube_cluster
    cluster.kubectl("create", "namespace", NAMESPACE)
    cluster.apply([SOURCES_CRD])
    cluster.kubectl(
        "wait",
        "--for=condition=Established",
        "crd/sources.finalizers.b2g.example",
        "--timeout=120s",
    )
    try:
        cluster.apply(PEOPLE_MANIFESTS, server_side=False)  # kubectl-client-side-apply
        cluster.kubectl("create", "-f", "-", input=json.dumps(CREATED_MANIFEST))  # kubectl-create
        cluster.kubectl(
            "apply",
            "--server-side",
            "--field-manager=kustomize-controller",
            "-f",
            "-",
            input=json.dumps(FLUX_APPLIED),
        )
        _inject_with_cainjector(cluster, CA_1)
        _patch_with_certgen(cluster, CA_1)
        _scale_as_hpa(cluster, "web", 5)
        _scale_as_hpa(cluster, "api", 4)
        controller_calls.add_finalizer_as_flux(cluster, PATHS["settings"])
        yield cluster
    finally:
        controller_calls.remove_finalizers(cluster, PATHS["settings"])
        for name in (VALIDATING, MUTATING):
            cluster.kubectl("delete", "validatingwebhookconfiguration", name, check=False)
            cluster.kubectl("delete", "mutatingwebhookconfiguration", name, check=False)
        cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)
        cluster.kubectl(
            "delete", "crd", "sources.finalizers.b2g.example", "--wait=false", check=False
        )


def _apply_as_flux(
    cluster: KubeCluster, objects: list[dict[str, Any]]
) -> subprocess.CompletedProcess[str]:
    """Server-side apply as kustomize-controller, without --force-conflicts."""
    return cluster.kubectl(
        "apply",
        "--server-side",
        "--field-manager=kustomize-controller",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
        check=False,
    )


def _managers(obj: dict[str, Any]) -> set[str]:
    return {entry["manager"] for entry in obj["metadata"]["managedFields"]}


def test_what_controllers_wrote_is_left_out_and_the_restore_does_not_conflict(
    replayed: KubeCluster,
) -> None:
    cluster = replayed
    live = {key: _read(cluster, path) for key, path in PATHS.items()}
    # the calls left the controllers' marks the way the real controllers leave them
    assert live["validating"]["webhooks"][0]["clientConfig"]["caBundle"] == CA_1
    assert "cainjector" in _managers(live["validating"])
    assert "kube-webhook-certgen" in _managers(live["mutating"])
    assert live["web"]["spec"]["replicas"] == 5
    assert any(
        e["manager"] == "kube-controller-manager" and e.get("subresource") == "scale"
        for e in live["web"]["metadata"]["managedFields"]
    )
    assert live["settings"]["metadata"]["finalizers"] == ["finalizers.fluxcd.io"]

    index = cleaning.BackupIndex.of(live.values())
    cleaned = {}
    for key, obj in live.items():
        prepared = cleaning.prepare(obj, index=index)
        assert prepared.object is not None, (key, prepared.excluded)
        cleaned[key] = prepared.object

    for key in ("validating", "mutating"):
        webhook = cleaned[key]["webhooks"][0]
        assert "caBundle" not in webhook["clientConfig"], key
        assert webhook["clientConfig"]["service"]["path"] == "/v"
        assert webhook["rules"][0]["resources"] == ["gizmos"]
        assert webhook["failurePolicy"] == "Ignore"
    assert "replicas" not in cleaned["web"]["spec"]  # only the scale update owned it
    assert "replicas" not in cleaned["api"]["spec"]  # a person wrote 3, but the HPA owns it now
    assert cleaned["web"]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert "finalizers" not in cleaned["settings"]["metadata"]
    assert cleaned["settings"]["spec"] == {"url": "https://git.example/apps.git"}

    # the target's own injector and autoscaler act; then the repository is applied as Flux does
    _inject_with_cainjector(cluster, CA_2)
    _patch_with_certgen(cluster, CA_2)
    _scale_as_hpa(cluster, "web", 7)
    # the control: with the injected caBundle kept (as before), that apply is refused
    stale = json.loads(json.dumps(cleaned["validating"]))
    stale["webhooks"][0]["clientConfig"]["caBundle"] = CA_1
    refused = _apply_as_flux(cluster, [stale])
    assert refused.returncode != 0
    assert 'with "cainjector"' in refused.stderr and "caBundle" in refused.stderr, refused.stderr
    result = _apply_as_flux(cluster, [cleaned[key] for key in PATHS])
    assert result.returncode == 0, result.stderr  # no conflict, without --force-conflicts
    after = {key: _read(cluster, path) for key, path in PATHS.items()}
    assert after["validating"]["webhooks"][0]["clientConfig"]["caBundle"] == CA_2
    assert after["mutating"]["webhooks"][0]["clientConfig"]["caBundle"] == CA_2
    assert after["web"]["spec"]["replicas"] == 7
    assert after["api"]["spec"]["replicas"] == 4
