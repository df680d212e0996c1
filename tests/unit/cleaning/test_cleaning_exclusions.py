"""exclusion_reason: every built-in exclusion, every policy filter, and what is NOT excluded."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from backup2gitops.core.cleaning import CleaningPolicy, exclusion_reason
from backup2gitops.core.cleaning.objectref import ObjectRef

DEFAULT = CleaningPolicy()


def obj(
    api_version: str,
    kind: str,
    name: str = "x",
    namespace: str | None = "default",
    **extra: Any,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, **extra.pop("metadata", {})}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **extra}


CONTROLLER = {
    "ownerReferences": [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "rs",
            "uid": "u",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
}


@pytest.mark.parametrize(
    "item",
    [
        obj("v1", "Event"),
        obj("events.k8s.io/v1", "Event"),
        obj(
            "v1",
            "Endpoints",
            metadata={"labels": {"endpoints.kubernetes.io/managed-by": "endpoint-controller"}},
        ),
        obj(
            "v1",
            "Endpoints",
            metadata={"annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "t"}},
        ),
        obj("v1", "Endpoints", name="kubernetes"),
        obj("discovery.k8s.io/v1", "EndpointSlice", name="kubernetes"),
        *(
            obj(
                "discovery.k8s.io/v1",
                "EndpointSlice",
                metadata={"labels": {"endpointslice.kubernetes.io/managed-by": controller}},
            )
            for controller in (
                "endpointslice-controller.k8s.io",
                "endpointslicemirroring-controller.k8s.io",
            )
        ),
        obj("coordination.k8s.io/v1", "Lease"),
        obj("v1", "Node", namespace=None),
        obj("storage.k8s.io/v1", "CSINode", namespace=None),
        obj("storage.k8s.io/v1", "VolumeAttachment", namespace=None),
        obj("apps/v1", "ControllerRevision"),
        obj("authentication.k8s.io/v1", "TokenReview", namespace=None),
        obj("authentication.k8s.io/v1", "SelfSubjectReview", namespace=None),
        obj("authorization.k8s.io/v1", "SubjectAccessReview", namespace=None),
        obj("authorization.k8s.io/v1", "SelfSubjectAccessReview", namespace=None),
        obj("authorization.k8s.io/v1", "LocalSubjectAccessReview"),
        obj("authorization.k8s.io/v1", "SelfSubjectRulesReview", namespace=None),
        obj("certificates.k8s.io/v1", "CertificateSigningRequest", namespace=None),
        obj("v1", "Pod", metadata=CONTROLLER),
        obj("apps/v1", "ReplicaSet", metadata=CONTROLLER),
        obj("batch/v1", "Job", metadata=CONTROLLER),
        obj("v1", "Pod", metadata={"annotations": {"kubernetes.io/config.mirror": "abc"}}),
        obj("v1", "Secret", type="kubernetes.io/service-account-token"),
        obj("v1", "ConfigMap", name="kube-root-ca.crt"),
        obj("velero.io/v1", "Backup", namespace="velero"),
        obj("velero.io/v1", "BackupStorageLocation", namespace="velero"),
        obj("v1", "ConfigMap", metadata={"labels": {"velero.io/exclude-from-backup": "true"}}),
    ],
    ids=lambda o: f"{o['apiVersion']}-{o['kind']}-{o['metadata'].get('name')}",
)
def test_builtin_exclusions(item: dict[str, Any]) -> None:
    # Even the most permissive policy keeps them out.
    reason = exclusion_reason(item, policy=CleaningPolicy(secrets="plaintext"))
    assert reason is not None and reason.startswith("builtin:")


@pytest.mark.parametrize(
    "item",
    [
        obj("v1", "Pod"),  # standalone pod
        obj("v1", "Pod", metadata={"ownerReferences": [{"kind": "X", "name": "y", "uid": "u"}]}),
        obj("apps/v1", "ReplicaSet"),
        obj("batch/v1", "Job"),
        obj("v1", "ConfigMap", name="kube-root-ca.crt2"),
        obj("v1", "Secret", type="Opaque"),
        obj("example.com/v1", "Event"),  # a CRD that happens to be called Event
        obj("v1", "ConfigMap", metadata={"labels": {"velero.io/exclude-from-backup": "false"}}),
        obj("v1", "Namespace", name="velero", namespace=None),
        # a selector-less Service's backends (an external database), written by a person
        obj("v1", "Endpoints", name="db", subsets=[{"addresses": [{"ip": "10.0.0.5"}]}]),
        obj(
            "discovery.k8s.io/v1",
            "EndpointSlice",
            name="db-1",
            metadata={"labels": {"kubernetes.io/service-name": "db"}},
            addressType="IPv4",
        ),
        obj(
            "discovery.k8s.io/v1",
            "EndpointSlice",
            name="db-2",
            metadata={"labels": {"endpointslice.kubernetes.io/managed-by": "someone-else"}},
        ),
    ],
    ids=lambda o: f"{o['apiVersion']}-{o['kind']}-{o['metadata']['name']}",
)
def test_not_excluded(item: dict[str, Any]) -> None:
    assert exclusion_reason(item, policy=CleaningPolicy(secrets="plaintext")) is None


def test_secrets_excluded_by_default_only() -> None:
    secret = obj("v1", "Secret", type="Opaque")
    assert exclusion_reason(secret, policy=DEFAULT) == "policy: secrets are excluded"
    for mode in ("redact", "sops", "plaintext"):
        assert exclusion_reason(secret, policy=CleaningPolicy(secrets=mode)) is None


def test_namespace_globs() -> None:
    policy = CleaningPolicy(include_namespaces=["shop*", "data"], exclude_namespaces=["shop-dev"])
    assert exclusion_reason(obj("v1", "ConfigMap", namespace="shop"), policy=policy) is None
    assert exclusion_reason(obj("v1", "ConfigMap", namespace="shop-prod"), policy=policy) is None
    assert exclusion_reason(obj("v1", "ConfigMap", namespace="data"), policy=policy) is None
    assert exclusion_reason(obj("v1", "ConfigMap", namespace="shop-dev"), policy=policy)
    assert exclusion_reason(obj("v1", "ConfigMap", namespace="kube-system"), policy=policy)
    # Namespace objects are filtered by their own name; other cluster-scoped objects pass.
    assert exclusion_reason(
        obj("v1", "Namespace", name="kube-system", namespace=None), policy=policy
    )
    assert (
        exclusion_reason(obj("v1", "Namespace", name="shop", namespace=None), policy=policy) is None
    )
    cluster_role = obj("rbac.authorization.k8s.io/v1", "ClusterRole", namespace=None)
    assert exclusion_reason(cluster_role, policy=policy) is None


def test_default_includes_every_namespace() -> None:
    assert exclusion_reason(obj("v1", "ConfigMap", namespace="anything"), policy=DEFAULT) is None


def test_kind_and_group_filters() -> None:
    deployment = obj("apps/v1", "Deployment")
    certificate = obj("cert-manager.io/v1", "Certificate")
    other_deployment = obj("example.com/v1", "Deployment")
    config_map = obj("v1", "ConfigMap")

    only_apps = CleaningPolicy(include_kinds=["Deployment.apps", "Certificate.cert-manager.io"])
    assert exclusion_reason(deployment, policy=only_apps) is None
    assert exclusion_reason(certificate, policy=only_apps) is None
    assert exclusion_reason(other_deployment, policy=only_apps)
    assert exclusion_reason(config_map, policy=only_apps)

    any_group = CleaningPolicy(include_kinds=["deployment"])
    assert exclusion_reason(other_deployment, policy=any_group) is None

    no_certs = CleaningPolicy(exclude_kinds=["Certificate.cert-manager.io", "ConfigMap."])
    assert exclusion_reason(certificate, policy=no_certs)
    assert exclusion_reason(config_map, policy=no_certs)
    assert exclusion_reason(obj("example.com/v1", "ConfigMap"), policy=no_certs) is None
    assert exclusion_reason(deployment, policy=no_certs) is None


@pytest.mark.parametrize(
    ("selector", "labels", "kept"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web", {"app": "web"}, True),
        ("app=web", {"app": "api"}, False),
        ("app!=web", {"app": "api"}, True),
        ("app!=web", {}, True),
        ("app!=web", {"app": "web"}, False),
        ("tier", {"tier": "x"}, True),
        ("tier", {}, False),
        ("!legacy", {}, True),
        ("!legacy", {"legacy": "true"}, False),
        ("env in (prod, stage)", {"env": "stage"}, True),
        ("env in (prod,stage)", {"env": "dev"}, False),
        ("env in (prod,stage)", {}, False),
        ("env notin (dev)", {}, True),
        ("env notin (dev)", {"env": "dev"}, False),
        ("app=web,env in (prod,stage),!legacy", {"app": "web", "env": "prod"}, True),
        ("app=web,env in (prod,stage),!legacy", {"app": "web", "env": "prod", "legacy": ""}, False),
        ("app.kubernetes.io/name=web", {"app.kubernetes.io/name": "web"}, True),
        ("", {}, True),
    ],
)
def test_label_selector(selector: str, labels: dict[str, str], kept: bool) -> None:
    policy = CleaningPolicy(label_selector=selector)
    item = obj("v1", "ConfigMap", metadata={"labels": labels})
    assert (exclusion_reason(item, policy=policy) is None) is kept


@pytest.mark.parametrize("selector", ["app in (a", "app)", "a=b,", "=b", "a in ()x", "a=b c"])
def test_invalid_label_selector_is_rejected_early(selector: str) -> None:
    with pytest.raises(ValidationError):
        CleaningPolicy(label_selector=selector)


def test_exclude_names() -> None:
    policy = CleaningPolicy(exclude_names=["kube-system/*", "shop/tmp-*", "system:*"])
    assert exclusion_reason(obj("v1", "ConfigMap", namespace="kube-system"), policy=policy)
    assert exclusion_reason(obj("v1", "ConfigMap", name="tmp-1", namespace="shop"), policy=policy)
    assert (
        exclusion_reason(obj("v1", "ConfigMap", name="keep", namespace="shop"), policy=policy)
        is None
    )
    role = obj("rbac.authorization.k8s.io/v1", "ClusterRole", name="system:auth", namespace=None)
    assert exclusion_reason(role, policy=policy)
    # A cluster-scoped glob does not match namespaced objects of the same name.
    assert exclusion_reason(obj("v1", "ConfigMap", name="system:x"), policy=policy) is None


def test_policy_forbids_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        CleaningPolicy.model_validate({"secret": "redact"})
    with pytest.raises(ValidationError):
        CleaningPolicy.model_validate({"secrets": "base64"})


# --- objects the cluster creates by itself ---------------------------------------------------

from backup2gitops.core.cleaning import CleaningPolicy as _Policy  # noqa: E402
from backup2gitops.core.cleaning import exclusion_reason as _reason  # noqa: E402


def _obj(kind: str, name: str, namespace: str | None = None, **extra: object) -> dict:
    metadata: dict = {"name": name, "uid": "u", "resourceVersion": "1"}
    if namespace:
        metadata["namespace"] = namespace
    metadata.update(extra.pop("metadata", {}))  # type: ignore[arg-type]
    return {"apiVersion": "v1", "kind": kind, "metadata": metadata, **extra}


def test_default_service_account_is_excluded_until_someone_changes_it() -> None:
    assert _reason(_obj("ServiceAccount", "default", "shop"), policy=_Policy())
    touched = _obj("ServiceAccount", "default", "shop", imagePullSecrets=[{"name": "regcred"}])
    assert _reason(touched, policy=_Policy()) is None
    labelled = _obj("ServiceAccount", "default", "shop", metadata={"labels": {"team": "a"}})
    assert _reason(labelled, policy=_Policy()) is None
    assert _reason(_obj("ServiceAccount", "web", "shop"), policy=_Policy()) is None


def test_api_server_objects_are_excluded() -> None:
    assert _reason(_obj("Service", "kubernetes", "default"), policy=_Policy())
    assert _reason(_obj("Service", "kubernetes", "shop"), policy=_Policy()) is None
    system = _obj(
        "Namespace",
        "kube-system",
        metadata={"labels": {"kubernetes.io/metadata.name": "kube-system"}},
        spec={"finalizers": ["kubernetes"]},
    )
    assert _reason(system, policy=_Policy())
    policy_labelled = _obj(
        "Namespace",
        "kube-system",
        metadata={
            "labels": {
                "kubernetes.io/metadata.name": "kube-system",
                "pod-security.kubernetes.io/enforce": "privileged",
            }
        },
    )
    assert _reason(policy_labelled, policy=_Policy()) is None
    assert _reason(_obj("Namespace", "shop"), policy=_Policy()) is None


def test_dynamically_provisioned_volumes_are_excluded_unless_kept() -> None:
    pv = _obj(
        "PersistentVolume",
        "pvc-1",
        metadata={"annotations": {"pv.kubernetes.io/provisioned-by": "rancher.io/local-path"}},
    )
    assert _reason(pv, policy=_Policy())
    assert _reason(pv, policy=_Policy(keep_provisioned_volumes=True)) is None
    assert _reason(_obj("PersistentVolume", "nfs-share"), policy=_Policy()) is None


def test_any_kind_owned_by_a_controller_is_left_to_it() -> None:
    """An operator's output (a StatefulSet of a Prometheus CR, a claim of a StatefulSet): the
    owner is what goes in git; declaring its output too would fight the operator."""
    deployment = obj("apps/v1", "Deployment", metadata=CONTROLLER)
    reason = exclusion_reason(deployment, policy=CleaningPolicy())
    assert reason is not None and "owned by controller" in reason


def test_owner_references_never_reach_git() -> None:
    """Their uids are this cluster's: elsewhere the garbage collector would delete the object."""
    from backup2gitops.core.cleaning import neat

    item = obj(
        "v1",
        "ConfigMap",
        metadata={
            "ownerReferences": [
                {"apiVersion": "example.com/v1", "kind": "App", "name": "a", "uid": "u-1"}
            ]
        },
    )
    assert exclusion_reason(item, policy=CleaningPolicy()) is None  # not a controller: kept
    assert "ownerReferences" not in neat(item)["metadata"]


# ------------------------------------------------- objects that cannot be valid; Secret impostors


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        ({"kind": "ConfigMap", "metadata": {"name": "a"}}, "invalid: no apiVersion"),
        ({"apiVersion": "v1", "metadata": {"name": "a"}}, "invalid: no kind"),
        ({"apiVersion": "v1", "kind": "", "metadata": {"name": "a"}}, "invalid: no kind"),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}, "invalid: no metadata.name"),
        ({"apiVersion": "v1", "kind": "ConfigMap"}, "invalid: no metadata.name"),
        (
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "a-"}},
            "invalid: no metadata.name",
        ),
        (
            {"apiVersion": 1, "kind": "ConfigMap", "metadata": {"name": "a"}},
            "invalid: no apiVersion",
        ),
    ],
)
def test_objects_that_cannot_be_valid_are_refused_with_a_reason(
    broken: dict[str, Any], reason: str
) -> None:
    assert exclusion_reason(broken, policy=DEFAULT) == reason


@pytest.mark.parametrize("kind", ["secret", "SECRET", "Secret "])
def test_a_secret_impostor_is_excluded_like_a_secret(kind: str) -> None:
    impostor = obj("v1", kind, data={"password": "aHVudGVyMg=="})
    assert exclusion_reason(impostor, policy=DEFAULT) == "policy: secrets are excluded"


@pytest.mark.parametrize("api_version", ["v1", "example.com/v1", "v2"])
def test_redact_redacts_every_secret_looking_object(api_version: str) -> None:
    from backup2gitops.core.cleaning import prepare

    impostor = obj(api_version, "secret", data={"password": "aHVudGVyMg=="})
    prepared = prepare(impostor, policy=CleaningPolicy(secrets="redact"))
    assert prepared.object is not None
    assert "aHVudGVyMg==" not in str(prepared.object)


def statefulset(name: str, namespace: str = "data", **spec: Any) -> dict[str, Any]:
    base = {
        "selector": {"matchLabels": {"app": name}},
        "volumeClaimTemplates": [
            {"metadata": {"name": "data", "labels": {"tier": "db"}}},
            {"metadata": {"name": "logs"}},
        ],
    }
    return obj("apps/v1", "StatefulSet", name=name, namespace=namespace, spec=base | spec)


def claim(name: str, namespace: str = "data", **labels: str) -> dict[str, Any]:
    return obj(
        "v1", "PersistentVolumeClaim", name=name, namespace=namespace, metadata={"labels": labels}
    )


CLAIM_REASON = (
    "builtin: claim from a StatefulSet's volumeClaimTemplates (the StatefulSet creates it)"
)


@pytest.mark.parametrize(
    ("pvc", "reason"),
    [
        (claim("data-pg-0", app="pg", tier="db"), CLAIM_REASON),
        (claim("data-pg-12", app="pg", tier="db", extra="added later"), CLAIM_REASON),
        (claim("logs-pg-1", app="pg"), CLAIM_REASON),  # no template labels: the selector's
        (claim("data-pg-0", app="pg"), None),  # not the template's labels
        (claim("data-pg-0", tier="db"), None),  # not the selector's labels
        (claim("data-pg-0", app="pg", tier="other"), None),
        (claim("data-pg-0", "elsewhere", app="pg", tier="db"), None),  # another namespace
        (claim("data-pg", app="pg", tier="db"), None),  # no ordinal
        (claim("data-pg-01", app="pg", tier="db"), None),  # %d never writes a leading zero
        (claim("data-pg--1", app="pg", tier="db"), None),
        (claim("data-pg-x", app="pg", tier="db"), None),
        (claim("cache-pg-0", app="pg", tier="db"), None),  # no such template
        (claim("data-pgx-0", app="pg", tier="db"), None),
    ],
)
def test_claims_of_a_statefulset_in_the_backup(pvc: dict[str, Any], reason: str | None) -> None:
    from backup2gitops.core.cleaning import BackupIndex

    index = BackupIndex.of([statefulset("pg"), statefulset("pgx", namespace="other")])
    assert exclusion_reason(pvc, policy=DEFAULT, index=index) == reason
    # without the StatefulSet in the backup nothing tells the claim from a person's
    assert exclusion_reason(pvc, policy=DEFAULT) is None


def test_claim_names_that_could_split_two_ways() -> None:
    from backup2gitops.core.cleaning import BackupIndex

    # template "data-web" of StatefulSet "db" and template "data" of StatefulSet "web-db"
    # both name their first claim data-web-db-0; the labels tell which made it
    one = obj(
        "apps/v1",
        "StatefulSet",
        name="db",
        namespace="data",
        spec={
            "selector": {"matchLabels": {"app": "db"}},
            "volumeClaimTemplates": [{"metadata": {"name": "data-web"}}],
        },
    )
    index = BackupIndex.of([one, statefulset("web-db")])
    for labels, statefulset_name in (
        ({"app": "web-db", "tier": "db"}, "web-db"),
        ({"app": "db"}, "db"),
    ):
        pvc = claim("data-web-db-0", **labels)
        assert exclusion_reason(pvc, policy=DEFAULT, index=index) is not None
        template = index.claim_template_of(ObjectRef.of(pvc))
        assert template is not None and template.statefulset == statefulset_name


def test_a_statefulset_without_templates_or_selector_indexes_safely() -> None:
    from backup2gitops.core.cleaning import BackupIndex

    broken = [
        obj("apps/v1", "StatefulSet", name="a", namespace="data"),
        obj(
            "apps/v1", "StatefulSet", name="b", namespace="data", spec={"volumeClaimTemplates": "x"}
        ),
        obj(
            "apps/v1",
            "StatefulSet",
            name="c",
            namespace="data",
            spec={"volumeClaimTemplates": [{"metadata": {}}, 3]},
        ),
        obj(
            "apps/v1",
            "StatefulSet",
            name="d",
            namespace=None,
            spec={"volumeClaimTemplates": [{"metadata": {"name": "x"}}]},
        ),
    ]
    assert BackupIndex.of(broken).claim_templates == {}
