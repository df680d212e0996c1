"""The drift rule table ``RULES``: each rule's id, fixed severity, the reason the change matters
(the CIS Kubernetes Benchmark v1.8 item or the Kubernetes documentation), the kinds it looks at and
its check (``catalogue``). A fixed severity keeps an alert's label set - Alertmanager's identity -
stable per rule and object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Literal, NamedTuple

from backup2gitops.core.drift.catalogue import (
    cluster_admin_binding,
    crd_added,
    crd_removed,
    escalation_binding,
    escalation_role,
    hostpath_workload,
    namespace_deleted,
    new_credential_in_clear,
    new_subjects,
    pod_security_relaxed,
    privileged_workload,
    webhook_changed,
    webhook_external,
    wildcard_binding,
    wildcard_role,
)
from backup2gitops.core.drift.changes import (
    BINDINGS,
    ROLES,
    WEBHOOKS,
    WORKLOADS,
    Facts,
    ObjectChange,
)

if TYPE_CHECKING:  # the event catalog is not loaded with the configuration
    from backup2gitops.core.events import DriftSeverity

CIS = "CIS Kubernetes Benchmark v1.8"
RBAC_DOCS = "https://kubernetes.io/docs/reference/access-authn-authz/rbac/"
PSS_DOCS = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"
WEBHOOK_DOCS = (
    "https://kubernetes.io/docs/concepts/cluster-administration/admission-webhooks-good-practices/"
)
CRD_DOCS = (
    "https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/"
    "custom-resource-definitions/"
)
NAMESPACE_DOCS = "https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/"

"""Yields one summary per finding for the change (usually none or one)."""


Check = Callable[[ObjectChange, Facts], Iterable[str]]
"""Yields one summary per finding for the change (usually none or one)."""


class Rule(NamedTuple):
    id: str
    severity: DriftSeverity
    why: str
    """The benchmark item or documentation that makes this change sensitive."""
    kinds: tuple[str, ...]
    check: Check


RULES: tuple[Rule, ...] = (
    Rule(
        "rbac-cluster-admin-binding",
        "critical",
        f"{CIS} 5.1.1: ensure that the cluster-admin role is only used where required",
        BINDINGS,
        cluster_admin_binding,
    ),
    Rule(
        "rbac-wildcard-binding",
        "critical",
        f"{CIS} 5.1.3: minimize wildcard use in Roles and ClusterRoles (here: one is granted)",
        BINDINGS,
        wildcard_binding,
    ),
    Rule(
        "rbac-escalation-binding",
        "critical",
        f"{CIS} 5.1.8: limit use of the bind, impersonate and escalate permissions; "
        f"{RBAC_DOCS}#privilege-escalation-prevention-and-bootstrapping",
        BINDINGS,
        escalation_binding,
    ),
    Rule(
        "rbac-new-subjects",
        "warning",
        f"{RBAC_DOCS}#rolebinding-and-clusterrolebinding: a binding's subjects are who holds "
        "the role; a new one is a new grant",
        BINDINGS,
        new_subjects,
    ),
    Rule(
        "rbac-wildcard-role",
        "warning",
        f"{CIS} 5.1.3: minimize wildcard use in Roles and ClusterRoles",
        ROLES,
        wildcard_role,
    ),
    Rule(
        "rbac-escalation-role",
        "warning",
        f"{CIS} 5.1.8: limit use of the bind, impersonate and escalate permissions",
        ROLES,
        escalation_role,
    ),
    Rule(
        "admission-webhook-external",
        "critical",
        f"{WEBHOOK_DOCS}: a webhook receives (and may change or block) every object it matches; "
        "a URL sends them outside the cluster",
        WEBHOOKS,
        webhook_external,
    ),
    Rule(
        "admission-webhook-changed",
        "warning",
        f"{WEBHOOK_DOCS}: admission webhooks see and may change or block the objects they match",
        WEBHOOKS,
        webhook_changed,
    ),
    Rule(
        "crd-added",
        "info",
        f"{CRD_DOCS}: a CRD adds an API (and usually a controller acting on it)",
        ("CustomResourceDefinition",),
        crd_added,
    ),
    Rule(
        "crd-removed",
        "warning",
        f"{CRD_DOCS}#delete-a-customresourcedefinition: deleting a CRD deletes its objects",
        ("CustomResourceDefinition",),
        crd_removed,
    ),
    Rule(
        "namespace-deleted",
        "warning",
        f"{NAMESPACE_DOCS}: deleting a namespace deletes everything in it",
        ("Namespace",),
        namespace_deleted,
    ),
    Rule(
        "pod-security-relaxed",
        "critical",
        f"{CIS} 5.2.1: ensure the cluster has at least one active policy control mechanism; "
        f"{PSS_DOCS}",
        ("Namespace",),
        pod_security_relaxed,
    ),
    Rule(
        "privileged-workload",
        "critical",
        f"{CIS} 5.2.2: minimize the admission of privileged containers",
        WORKLOADS,
        privileged_workload,
    ),
    Rule(
        "hostpath-workload",
        "warning",
        f"{PSS_DOCS}#baseline: HostPath volumes are forbidden by the Baseline policy",
        WORKLOADS,
        hostpath_workload,
    ),
    Rule(
        "credential-in-clear",
        "critical",
        f"{CIS} 5.4.1: prefer using secrets as files over secrets as environment variables "
        "(here: not even a Secret); https://kubernetes.io/docs/concepts/configuration/configmap/: "
        "a ConfigMap does not provide secrecy -- and git keeps what it is given for ever",
        ("ConfigMap", *WORKLOADS),
        new_credential_in_clear,
    ),
)
RULE_IDS = tuple(rule.id for rule in RULES)
RuleId = Literal[
    "rbac-cluster-admin-binding",
    "rbac-wildcard-binding",
    "rbac-escalation-binding",
    "rbac-new-subjects",
    "rbac-wildcard-role",
    "rbac-escalation-role",
    "admission-webhook-external",
    "admission-webhook-changed",
    "crd-added",
    "crd-removed",
    "namespace-deleted",
    "pod-security-relaxed",
    "privileged-workload",
    "hostpath-workload",
    "credential-in-clear",
]
