"""Fields only controllers own leave the cleaned object; what a person's tool owns stays.

The managedFields below have the shapes kube-apiserver v1.34 records for the controllers' own
calls (the e2e twin, tests/e2e/test_kube_controller_fields.py, makes those calls on a real
server): cainjector's forced server-side apply of a caBundle, kube-webhook-certgen's update,
kube-controller-manager's scale update, a Flux controller's finalizer.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from backup2gitops.core import cleaning
from backup2gitops.core.cleaning import BackupIndex, CleaningSettings
from backup2gitops.core.cleaning.field_managers import CONTROLLERS, PEOPLE, FieldManagers

CA = "LS0tLS1CRUdJTi1jYQ=="


def entry(manager: str, fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "manager": manager,
        "operation": extra.pop("operation", "Update"),
        "apiVersion": "v1",
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
        **extra,
    }


def webhook_configuration(*managed: dict[str, Any], annotations: dict[str, str] | None = None):
    metadata: dict[str, Any] = {"name": "cert-manager-webhook", "managedFields": list(managed)}
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": metadata,
        "webhooks": [
            {
                "name": "webhook.cert-manager.io",
                "clientConfig": {
                    "service": {"name": "cert-manager-webhook", "namespace": "cert-manager"},
                    "caBundle": CA,
                },
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
        ],
    }


WEBHOOK_ITEM = 'k:{"name":"webhook.cert-manager.io"}'
PERSON_WEBHOOK = {
    "f:webhooks": {
        ".": {},
        WEBHOOK_ITEM: {
            ".": {},
            "f:admissionReviewVersions": {},
            "f:clientConfig": {"f:service": {"f:name": {}, "f:namespace": {}}},
            "f:name": {},
            "f:sideEffects": {},
        },
    }
}
CA_FIELDS = {"f:webhooks": {WEBHOOK_ITEM: {"f:clientConfig": {"f:caBundle": {}}}}}


def _neat(obj: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    prepared = cleaning.prepare(obj, **kwargs)
    assert prepared.object is not None, prepared.excluded
    return prepared.object


@pytest.mark.parametrize(
    "injector",
    [
        entry("cainjector", CA_FIELDS, operation="Apply"),
        entry("kube-webhook-certgen", CA_FIELDS),
        entry("manager", CA_FIELDS),
    ],
    ids=["cainjector-apply", "certgen-update", "gatekeeper-rotator"],
)
def test_an_injected_ca_bundle_is_left_out(injector: dict[str, Any]) -> None:
    obj = webhook_configuration(entry("kubectl-client-side-apply", PERSON_WEBHOOK), injector)
    cleaned = _neat(obj)
    assert cleaned["webhooks"][0]["clientConfig"] == {
        "service": {"name": "cert-manager-webhook", "namespace": "cert-manager"}
    }


def test_a_ca_bundle_a_person_applied_stays() -> None:
    person = json.loads(json.dumps(PERSON_WEBHOOK))
    person["f:webhooks"][WEBHOOK_ITEM]["f:clientConfig"]["f:caBundle"] = {}
    obj = webhook_configuration(entry("kubectl", person, operation="Apply"))
    assert _neat(obj)["webhooks"][0]["clientConfig"]["caBundle"] == CA


def test_a_ca_bundle_shared_with_a_person_stays() -> None:
    person = json.loads(json.dumps(PERSON_WEBHOOK))
    person["f:webhooks"][WEBHOOK_ITEM]["f:clientConfig"]["f:caBundle"] = {}
    obj = webhook_configuration(
        entry("kubectl", person, operation="Apply"), entry("cainjector", CA_FIELDS)
    )
    assert _neat(obj)["webhooks"][0]["clientConfig"]["caBundle"] == CA


def test_inject_ca_annotation_drops_the_bundle_without_managed_fields() -> None:
    obj = webhook_configuration(
        annotations={"cert-manager.io/inject-ca-from": "cert-manager/cert-manager-webhook-ca"}
    )
    del obj["metadata"]["managedFields"]
    assert "caBundle" not in _neat(obj)["webhooks"][0]["clientConfig"]
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": "certificates.cert-manager.io",
            "annotations": {"cert-manager.io/inject-ca-from-secret": "cert-manager/ca"},
        },
        "spec": {
            "group": "cert-manager.io",
            "conversion": {
                "strategy": "Webhook",
                "webhook": {
                    "clientConfig": {"service": {"name": "w", "namespace": "n"}, "caBundle": CA},
                    "conversionReviewVersions": ["v1"],
                },
            },
        },
    }
    cleaned = _neat(crd)
    assert cleaned["spec"]["conversion"]["webhook"]["clientConfig"] == {
        "service": {"name": "w", "namespace": "n"}
    }


def deployment(replicas: int, *managed: dict[str, Any], last_applied: dict | None = None):
    metadata: dict[str, Any] = {"name": "web", "namespace": "shop", "managedFields": list(managed)}
    if last_applied is not None:
        metadata["annotations"] = {
            "kubectl.kubernetes.io/last-applied-configuration": json.dumps(last_applied)
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "web:1"}]},
            },
        },
    }


PERSON_DEPLOYMENT = {
    "f:spec": {
        "f:selector": {},
        "f:template": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {}},
    }
}
SCALE = entry("kube-controller-manager", {"f:spec": {"f:replicas": {}}}, subresource="scale")


def test_replicas_an_hpa_scaled_are_left_out() -> None:
    obj = deployment(5, entry("kubectl-create", PERSON_DEPLOYMENT), SCALE)
    assert "replicas" not in _neat(obj)["spec"]


def test_replicas_a_person_wrote_stay_unless_an_hpa_of_the_backup_targets_them() -> None:
    person = json.loads(json.dumps(PERSON_DEPLOYMENT))
    person["f:spec"]["f:replicas"] = {}
    obj = deployment(3, entry("kubectl", person, operation="Apply"))
    assert _neat(obj)["spec"]["replicas"] == 3
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 5,
        },
    }
    index = BackupIndex.of([hpa])
    assert "replicas" not in _neat(obj, index=index)["spec"]
    other = BackupIndex.of([{**hpa, "metadata": {"name": "web", "namespace": "other"}}])
    assert _neat(obj, index=other)["spec"]["replicas"] == 3


def test_the_value_a_person_last_applied_stays_even_when_a_controller_owns_it() -> None:
    applied = {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 4}}
    obj = deployment(
        4, entry("kubectl-client-side-apply", PERSON_DEPLOYMENT), SCALE, last_applied=applied
    )
    assert _neat(obj)["spec"]["replicas"] == 4
    obj = deployment(
        6, entry("kubectl-client-side-apply", PERSON_DEPLOYMENT), SCALE, last_applied=applied
    )
    assert "replicas" not in _neat(obj)["spec"]


def test_a_controller_finalizer_is_left_out_and_a_person_s_stays() -> None:
    obj = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {
            "name": "apps",
            "namespace": "flux-system",
            "finalizers": ["finalizers.fluxcd.io", "example.com/keep"],
            "managedFields": [
                entry(
                    "kubectl",
                    {
                        "f:metadata": {"f:finalizers": {'v:"example.com/keep"': {}}},
                        "f:spec": {"f:path": {}},
                    },
                    operation="Apply",
                ),
                entry(
                    "gotk-kustomize-controller",
                    {"f:metadata": {"f:finalizers": {".": {}, 'v:"finalizers.fluxcd.io"': {}}}},
                ),
            ],
        },
        "spec": {"path": "./apps"},
    }
    assert _neat(obj)["metadata"]["finalizers"] == ["example.com/keep"]
    obj["metadata"]["finalizers"] = ["finalizers.fluxcd.io"]
    obj["metadata"]["managedFields"][0]["fieldsV1"] = {"f:spec": {"f:path": {}}}
    assert "finalizers" not in _neat(obj)["metadata"]


def test_an_object_only_controllers_wrote_is_left_as_it_is() -> None:
    obj = deployment(2, SCALE)
    assert _neat(obj)["spec"]["replicas"] == 2


def test_unknown_managers_are_people_and_the_configuration_extends_the_table() -> None:
    obj = webhook_configuration(
        entry("kubectl-client-side-apply", PERSON_WEBHOOK), entry("acme-ca-rotator", CA_FIELDS)
    )
    assert _neat(obj)["webhooks"][0]["clientConfig"]["caBundle"] == CA
    settings = CleaningSettings(field_managers=FieldManagers(controllers=["acme-*"]))
    assert "caBundle" not in _neat(obj, policy=settings)["webhooks"][0]["clientConfig"]
    gatekeeper = webhook_configuration(
        entry("kubectl-client-side-apply", PERSON_WEBHOOK), entry("manager", CA_FIELDS)
    )
    mine = CleaningSettings(field_managers=FieldManagers(people=["manager"]))
    assert _neat(gatekeeper, policy=mine)["webhooks"][0]["clientConfig"]["caBundle"] == CA


def test_every_known_manager_names_its_source() -> None:
    for table in (CONTROLLERS, PEOPLE):
        for manager, source in table.items():
            assert manager and len(source) > 20, manager
    assert not set(CONTROLLERS) & set(PEOPLE)
    managers = FieldManagers()
    assert managers.is_controller("cainjector")
    assert not managers.is_controller("kubectl-edit")
    assert not managers.is_controller("kustomize-controller")
    assert managers.is_controller("gotk-kustomize-controller")


def test_a_static_volume_keeps_the_claim_ref_the_binder_wrote() -> None:
    """The binder's claimRef is what binds the restored volume back to its claim."""
    volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": "nfs-share",
            "managedFields": [
                entry("kubectl-client-side-apply", {"f:spec": {"f:nfs": {}, "f:capacity": {}}}),
                entry(
                    "kube-controller-manager",
                    {"f:spec": {"f:claimRef": {".": {}, "f:name": {}, "f:namespace": {}}}},
                ),
            ],
        },
        "spec": {
            "capacity": {"storage": "5Gi"},
            "nfs": {"server": "10.0.0.9", "path": "/exports/share"},
            "claimRef": {"name": "share", "namespace": "shop", "uid": "u", "resourceVersion": "1"},
        },
    }
    assert _neat(volume)["spec"]["claimRef"] == {"name": "share", "namespace": "shop"}


def test_the_aggregation_controller_s_applied_rules_are_not_a_person_s() -> None:
    """On a cluster the repository was applied to server-side, the aggregated rules are
    applied by clusterrole-aggregation-controller (v1.34): not put back as written."""
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": "monitoring",
            "managedFields": [
                entry(
                    "gitops",
                    {"f:aggregationRule": {"f:clusterRoleSelectors": {}}},
                    operation="Apply",
                ),
                entry("clusterrole-aggregation-controller", {"f:rules": {}}, operation="Apply"),
            ],
        },
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"a": "true"}}]},
        "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}],
    }
    assert "rules" not in _neat(role)
