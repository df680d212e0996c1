"""Why an object is never written to git: built-in exclusions, then the policy's filters.

Pure: no I/O; only the standard library and pydantic.

Built-in exclusions are objects that are runtime state, owned by a controller that recreates
them, or requests rather than resources (the review kinds); restoring any of them from git is at
best noise and at worst harmful (a stale Lease, a Pod bound to a dead node).
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any, Final

from backup2gitops.core.cleaning.backup_index import BackupIndex
from backup2gitops.core.cleaning.gitops_owners import gitops_reason
from backup2gitops.core.cleaning.objectref import ObjectRef
from backup2gitops.core.cleaning.policy import CleaningPolicy
from backup2gitops.core.cleaning.prune import MAPPING
from backup2gitops.core.cleaning.secret import looks_like_secret_kind
from backup2gitops.core.cleaning.settings import settings_of
from backup2gitops.core.cleaning.system_objects import system_reason

# (group, kind) -> why. Group "" is the core group.
EXCLUDED_KINDS: Final[Mapping[tuple[str, str], str]] = {
    ("", "Event"): "events are runtime state",
    ("events.k8s.io", "Event"): "events are runtime state",
    ("coordination.k8s.io", "Lease"): "leases are runtime state",
    ("", "Node"): "nodes register themselves",
    ("storage.k8s.io", "CSINode"): "CSI nodes are registered by the kubelet",
    ("storage.k8s.io", "VolumeAttachment"): "volume attachments are runtime state",
    ("apps", "ControllerRevision"): "controller revisions are written by workload controllers",
    ("authentication.k8s.io", "TokenReview"): "reviews are requests, not resources",
    ("authentication.k8s.io", "SelfSubjectReview"): "reviews are requests, not resources",
    ("authorization.k8s.io", "SubjectAccessReview"): "reviews are requests, not resources",
    ("authorization.k8s.io", "SelfSubjectAccessReview"): "reviews are requests, not resources",
    ("authorization.k8s.io", "LocalSubjectAccessReview"): "reviews are requests, not resources",
    ("authorization.k8s.io", "SelfSubjectRulesReview"): "reviews are requests, not resources",
    ("certificates.k8s.io", "CertificateSigningRequest"): "CSRs are one-shot requests",
    # the IP allocator's record of each Service's ClusterIP (pkg/registry/core/service/ipallocator):
    # restored ones are deleted by the API server at once, and the Service gets a new IP anyway
    ("networking.k8s.io", "IPAddress"): "IP addresses are allocated to Services by the API server",
    # not stored: computed per request (pkg/registry/core/componentstatus); a create is a 405
    ("", "ComponentStatus"): "component statuses are computed on each read, not stored",
}
ENDPOINTS_TRIGGER_TIME: Final[str] = "endpoints.kubernetes.io/last-change-trigger-time"
VELERO_GROUP: Final[str] = "velero.io"
VELERO_EXCLUDE_LABEL: Final[str] = "velero.io/exclude-from-backup"
MIRROR_POD_ANNOTATION: Final[str] = "kubernetes.io/config.mirror"
SERVICE_ACCOUNT_TOKEN_TYPE: Final[str] = "kubernetes.io/service-account-token"  # noqa: S105
ROOT_CA_CONFIGMAP: Final[str] = "kube-root-ca.crt"
# Helm 3 stores each release revision as a Secret of this type (helm pkg/storage/driver/secrets.go);
# Helm 2's Tiller as ConfigMaps labelled OWNER=TILLER (helm v2 pkg/storage/driver/cfgmaps.go).
HELM_RELEASE_TYPE: Final[str] = "helm.sh/release.v1"
# Created by the API server itself (pkg/controlplane: system namespaces, default/kubernetes).
SYSTEM_NAMESPACES: Final[frozenset[str]] = frozenset(
    {"default", "kube-system", "kube-public", "kube-node-lease"}
)
NAMESPACE_NAME_LABEL: Final[str] = "kubernetes.io/metadata.name"
LAST_APPLIED: Final[str] = "kubectl.kubernetes.io/last-applied-configuration"
PROVISIONED_BY: Final[str] = "pv.kubernetes.io/provisioned-by"
# Endpoints and EndpointSlices are a person's when nothing marks them as a controller's: the
# backends of a selector-less Service (an external database) exist only in them. The marks:
# pkg/controller/endpoint/endpoints_controller.go (``LabelManagedBy`` = ``endpoint-controller``,
# v1.33+; before it, the ``endpoints.kubernetes.io/last-change-trigger-time`` annotation the same
# controller writes), pkg/controller/endpointslice (``discovery.LabelManagedBy``, ``ControllerName``) and
# pkg/controller/endpointslicemirroring (its own ``controllerName``).
CONTROLLER_ENDPOINT_MARKS: Final[Mapping[tuple[str, str], tuple[str, frozenset[str]]]] = {
    ("", "Endpoints"): ("endpoints.kubernetes.io/managed-by", frozenset({"endpoint-controller"})),
    ("discovery.k8s.io", "EndpointSlice"): (
        "endpointslice.kubernetes.io/managed-by",
        frozenset({"endpointslice-controller.k8s.io", "endpointslicemirroring-controller.k8s.io"}),
    ),
}


_PUBLISHED_KINDS: Final = frozenset({("", "Service"), *CONTROLLER_ENDPOINT_MARKS})
"""The kinds of what the API server publishes as ``default/kubernetes``."""


def builtin_reason(obj: Mapping[str, Any], ref: ObjectRef) -> str | None:
    """The built-in exclusion that applies to ``obj``, or None."""
    key = (ref.group, ref.kind)
    if key in EXCLUDED_KINDS:
        return f"builtin: {EXCLUDED_KINDS[key]}"
    if ref.group == VELERO_GROUP:
        return "builtin: Velero's own resources"
    if ref.labels.get(VELERO_EXCLUDE_LABEL) == "true":
        return f"builtin: labelled {VELERO_EXCLUDE_LABEL}=true"
    controller = _controller(obj)
    if controller is not None:  # Pods, ReplicaSets, Jobs, claims of a StatefulSet, operator output
        # by the owner's kind, never its name: one reason per rule, not one per owner (a
        # backup with 10,000 ReplicaSets must not give 10,000 keys in gitops.generated)
        return f"builtin: owned by controller {controller} (it recreates it)"
    if key == ("", "Pod") and MIRROR_POD_ANNOTATION in ref.annotations:
        return "builtin: mirror pod of a static pod"
    if key == ("", "Secret") and obj.get("type") == SERVICE_ACCOUNT_TOKEN_TYPE:
        return "builtin: service-account token secret"
    if key == ("", "Secret") and obj.get("type") == HELM_RELEASE_TYPE:
        return "builtin: Helm's release record (Helm's state; the chart and values are the source)"
    if key == ("", "ConfigMap") and ref.labels.get("OWNER") == "TILLER":
        return "builtin: Helm v2's release record (Tiller's state)"
    if key == ("", "ConfigMap") and ref.name == ROOT_CA_CONFIGMAP:
        return "builtin: kube-root-ca.crt is published into every namespace"
    if key in _PUBLISHED_KINDS and (ref.namespace, ref.name) == (
        "default",
        "kubernetes",
    ):
        return "builtin: the API server publishes default/kubernetes"
    if key in CONTROLLER_ENDPOINT_MARKS:
        label, controllers = CONTROLLER_ENDPOINT_MARKS[key]
        if ref.labels.get(label) in controllers:
            return f"builtin: maintained by the {ref.labels[label]} ({label})"
        if key == ("", "Endpoints") and ENDPOINTS_TRIGGER_TIME in ref.annotations:
            return f"builtin: maintained by the endpoint-controller ({ENDPOINTS_TRIGGER_TIME})"
    if key == ("", "ServiceAccount") and ref.name == "default" and _untouched(obj, ref, "secrets"):
        return "builtin: the service-account controller creates 'default' in every namespace"
    if key == ("", "Namespace") and ref.name in SYSTEM_NAMESPACES and _untouched(obj, ref, "spec"):
        return "builtin: the API server creates the system namespaces"
    return system_reason(obj, ref)


def _untouched(obj: Mapping[str, Any], ref: ObjectRef, *server_fields: str) -> bool:
    """No field, label or annotation a person could have added (a system object left as is)."""
    known = {"apiVersion", "kind", "metadata", "status", *server_fields}
    labels = set(ref.labels) - {NAMESPACE_NAME_LABEL}
    annotations = set(ref.annotations) - {LAST_APPLIED}
    return set(obj) <= known and not labels and not annotations


def claim_template_reason(ref: ObjectRef, *, index: BackupIndex) -> str | None:
    """PersistentVolumeClaims the StatefulSet controller created from a ``volumeClaimTemplates``
    entry of a StatefulSet in the same backup: applied, that StatefulSet creates them again
    (and binds the new Pods to them); in git they are a second, conflicting source."""
    template = index.claim_template_of(ref)
    if template is None:
        return None
    return "builtin: claim from a StatefulSet's volumeClaimTemplates (the StatefulSet creates it)"


def provisioned_volume_reason(ref: ObjectRef, *, policy: CleaningPolicy) -> str | None:
    """Dynamically provisioned PersistentVolumes: the claim in git provisions a new one."""
    provisioned = (ref.group, ref.kind) == ("", "PersistentVolume") and (
        PROVISIONED_BY in ref.annotations
    )
    if provisioned and not policy.keep_provisioned_volumes:
        return "builtin: dynamically provisioned volume (its claim provisions it again)"
    return None


def policy_reason(ref: ObjectRef, *, policy: CleaningPolicy) -> str | None:
    """The policy filter that rejects ``ref``, or None."""
    namespace = ref.namespace
    if namespace is None and (ref.group, ref.kind) == ("", "Namespace"):
        namespace = ref.name
    if namespace is not None and not policy.namespace_allowed(namespace):
        return f"policy: namespace {namespace} not included"
    if not policy.kind_allowed(kind=ref.kind, group=ref.group):
        return f"policy: kind {ref.kind}{'.' + ref.group if ref.group else ''} not included"
    selector = policy.selector()
    if selector is not None and not selector.matches(ref.labels):
        return "policy: labels do not match the label selector"
    if policy.exclude_names and policy.name_excluded(ref.qualified_name):
        # the glob, not the name: one reason per rule
        glob = next(g for g in policy.exclude_names if fnmatchcase(ref.qualified_name, g))
        return f"policy: name matches exclude_names {glob!r}"
    return secret_policy_reason(ref, policy=policy)


def gitops_owner_reason(ref: ObjectRef, *, policy: CleaningPolicy) -> str | None:
    """``gitops_owned: exclude``: objects Flux, Argo CD or Helm own, with the owner named."""
    return gitops_reason(ref, setting=settings_of(policy).gitops_owned)


def secret_policy_reason(ref: ObjectRef, *, policy: CleaningPolicy) -> str | None:
    """``secrets: exclude`` keeps every Secret-like kind out (where it goes is not a choice
    of the cleaning: no value is ever printed or written in clear unless the policy says so)."""
    if looks_like_secret_kind(ref.kind) and policy.secrets == "exclude":
        return "policy: secrets are excluded"
    return None


def invalid_reason(obj: Mapping[str, Any]) -> str | None:
    """Why ``obj`` cannot be a valid Kubernetes object, or None.

    ``kubectl apply`` / ``kustomize build`` refuse an object without ``apiVersion``, ``kind`` or
    ``metadata.name``, and one such file breaks the build of the whole cluster folder.
    """
    for field in ("apiVersion", "kind"):
        value = obj.get(field)
        if not isinstance(value, str) or not value.strip():
            return f"invalid: no {field}"
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, MAPPING) else None
    if not isinstance(name, str) or not name.strip():
        return "invalid: no metadata.name"
    return None


def _controller(obj: Mapping[str, Any]) -> str | None:
    metadata = obj.get("metadata")
    owners = metadata.get("ownerReferences") if isinstance(metadata, MAPPING) else None
    if not isinstance(owners, list):
        return None
    for owner in owners:
        if isinstance(owner, MAPPING) and owner.get("controller") is True:
            return str(owner.get("kind"))
    return None
