"""Controllers' own API calls, replayed on a real kube-apiserver as those controllers make them.

Each function makes the request the named controller makes, with its field manager and content
type, so the object ends up with the managedFields the real controller leaves:

- ``inject_with_cainjector``: cert-manager's cainjector, a server-side apply with ``force`` of
  the CA bundle alone (manager ``cainjector``), into webhook configurations or CRDs;
- ``patch_with_certgen``: ingress-nginx's ``kube-webhook-certgen patch``, a get, every webhook's
  ``caBundle`` set, an update (PUT) as ``kube-webhook-certgen``;
- ``scale_as_hpa``: the HPA controller, an update of the ``scale`` subresource as
  ``kube-controller-manager``;
- ``add_finalizer_as_flux``: a Flux controller, a finalizer added by an update as
  ``gotk-kustomize-controller``.

Used by tests/e2e/test_kube_controller_fields.py (hand-made webhooks) and
tests/e2e/test_real_installs.py (the installs' own objects).
"""

from __future__ import annotations

import json
from typing import Any

import requests

from tests.kube_apiserver import KubeCluster

ADMISSION = "/apis/admissionregistration.k8s.io/v1"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def call(
    cluster: KubeCluster,
    method: str,
    path: str,
    body: Any,
    *,
    content_type: str = "application/json",
    **params: str,
) -> dict[str, Any]:
    """One request as a controller makes it (its own field manager, its own content type)."""
    response = requests.request(
        method,
        cluster.url + path,
        params=params,
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {cluster.admin_token}", "Content-Type": content_type},
        verify=str(cluster.ca_file),
        timeout=30,
    )
    assert response.ok, f"{method} {path}: {response.status_code} {response.text}"
    result: dict[str, Any] = response.json()
    return result


def read(cluster: KubeCluster, path: str) -> dict[str, Any]:
    response = cluster.get(path)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def inject_webhooks_with_cainjector(
    cluster: KubeCluster, kind: str, name: str, webhooks: list[str], ca: str
) -> None:
    """cainjector on a webhook configuration: only the caBundle of each named webhook."""
    patch = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "webhooks": [{"name": webhook, "clientConfig": {"caBundle": ca}} for webhook in webhooks],
    }
    resource = kind.lower() + "s"
    _apply_as_cainjector(cluster, f"{ADMISSION}/{resource}/{name}", patch)


def inject_crd_with_cainjector(cluster: KubeCluster, name: str, ca: str) -> None:
    """cainjector on a CRD with a conversion webhook: only its conversion caBundle."""
    patch = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name},
        "spec": {
            "conversion": {"strategy": "Webhook", "webhook": {"clientConfig": {"caBundle": ca}}}
        },
    }
    _apply_as_cainjector(cluster, f"{CRDS}/{name}", patch)


def _apply_as_cainjector(cluster: KubeCluster, path: str, patch: dict[str, Any]) -> None:
    call(
        cluster,
        "PATCH",
        path,
        patch,
        content_type="application/apply-patch+yaml",
        fieldManager="cainjector",
        force="true",
    )


def patch_with_certgen(cluster: KubeCluster, kind: str, name: str, ca: str) -> None:
    """ingress-nginx kube-webhook-certgen: get, set every webhook's caBundle, update."""
    path = f"{ADMISSION}/{kind.lower()}s/{name}"
    current = read(cluster, path)
    for webhook in current["webhooks"]:
        webhook["clientConfig"]["caBundle"] = ca
    call(cluster, "PUT", path, current, fieldManager="kube-webhook-certgen")


def scale_as_hpa(cluster: KubeCluster, namespace: str, name: str, replicas: int) -> None:
    """The HPA controller: an update of the scale subresource, as kube-controller-manager.

    Where kube-controller-manager runs, its deployment controller may write the Deployment's
    status between the read and the update (409 Conflict, the scale carries the Deployment's
    resourceVersion); like the HPA controller, read again and retry (bounded)."""
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"
    for _ in range(50):
        scale = read(cluster, path)
        scale["spec"]["replicas"] = replicas
        response = requests.put(
            cluster.url + path,
            params={"fieldManager": "kube-controller-manager"},
            data=json.dumps(scale),
            headers={
                "Authorization": f"Bearer {cluster.admin_token}",
                "Content-Type": "application/json",
            },
            verify=str(cluster.ca_file),
            timeout=30,
        )
        if response.status_code != 409:
            assert response.ok, f"PUT {path}: {response.status_code} {response.text}"
            return
    raise AssertionError(f"PUT {path}: 50 conflicts in a row: {response.text}")


def add_finalizer_as_flux(cluster: KubeCluster, path: str) -> None:
    """A Flux controller's finalizer on its own custom resource, added by an update."""
    current = read(cluster, path)
    current["metadata"]["finalizers"] = ["finalizers.fluxcd.io"]
    call(cluster, "PUT", path, current, fieldManager="gotk-kustomize-controller")


def remove_finalizers(cluster: KubeCluster, path: str) -> None:
    """Undo ``add_finalizer_as_flux`` (no Flux runs here to remove it), so deletion can finish."""
    response = cluster.get(path)
    if response.ok:
        current = response.json()
        current["metadata"]["finalizers"] = []
        cluster.request("PUT", path, body=current)
