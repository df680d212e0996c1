"""Objects the cluster creates and maintains by itself: never a person's desired state.

Pure: no I/O; only the standard library.

Found by observation, not by guessing: an empty kube-apiserver v1.34 (with and without
kube-controller-manager) was backed up and every object it held was traced to the code that
makes it (tests/e2e/test_kube_empty_cluster.py keeps that true: an empty cluster exports to an
empty repository). Each rule keys on the mark that code leaves, cited below (paths are in
kubernetes/kubernetes); an object that only *looks* like a system one — a ClusterRole a person
named ``system:foo`` without the bootstrapping label — carries no mark and is kept.

| rule | mark | set by |
|---|---|---|
| bootstrap RBAC | label ``kubernetes.io/bootstrapping=rbac-defaults`` (and annotation ``rbac.authorization.kubernetes.io/autoupdate: "true"``) | ``plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go`` (``addDefaultMetadata``), reconciled at every start by ``pkg/registry/rbac/rest/storage_rbac.go`` |
| built-in APIServices | label ``kube-aggregator.kubernetes.io/automanaged`` (``onstart``; ``true`` for CRD groups) | ``staging/src/k8s.io/kube-aggregator/pkg/controllers/autoregister/autoregister_controller.go`` |
| flow control | annotation ``apf.kubernetes.io/autoupdate-spec: "true"`` on FlowSchemas and PriorityLevelConfigurations | ``pkg/registry/flowcontrol/ensurer`` (``AutoUpdateAnnotationKey`` in ``staging/src/k8s.io/api/flowcontrol/v1/types.go``) |
| system PriorityClasses | the names ``system-node-critical`` and ``system-cluster-critical`` (the ``system-`` prefix is reserved to them) | ``pkg/apis/scheduling/types.go`` (``SystemPriorityClasses``), created by ``pkg/registry/scheduling/rest/storage_scheduling.go`` |
| default ServiceCIDR | ServiceCIDR ``kubernetes`` | ``pkg/controlplane/controller/defaultservicecidr/default_servicecidr_controller.go`` (``DefaultServiceCIDRName``) |
| apiserver ConfigMaps | ``kube-system/extension-apiserver-authentication`` (the client CA, written by the apiserver), ``kube-system/kube-apiserver-legacy-service-account-token-tracking`` | ``pkg/controlplane/controller/clusterauthenticationtrust/cluster_authentication_trust_controller.go``; ``pkg/controlplane/controller/legacytokentracking/controller.go`` |
| controller ServiceAccounts | a ServiceAccount in ``kube-system`` with one of the names the bootstrap policy binds a controller role to, left as created | ``plugin/pkg/auth/authorizer/rbac/bootstrappolicy/controller_policy.go`` (``saRolePrefix`` roles, one per controller), created by kube-controller-manager's ``--use-service-account-credentials`` client builder (``staging/src/k8s.io/controller-manager/pkg/clientbuilder``) |

Derived state (IPAddress, ComponentStatus, Leases, Endpoints, the CA ConfigMaps) is excluded by
kind in ``exclusions.EXCLUDED_KINDS``. An administrator who takes over a bootstrap object says
so the Kubernetes way (``rbac.authorization.kubernetes.io/autoupdate: "false"``,
``apf.kubernetes.io/autoupdate-spec: "false"``): the server then stops reconciling it, so it is
theirs and it is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from backup2gitops.core.cleaning.objectref import ObjectRef

RBAC_GROUP: Final = "rbac.authorization.k8s.io"
BOOTSTRAPPING_LABEL: Final = "kubernetes.io/bootstrapping"
BOOTSTRAPPING_VALUE: Final = "rbac-defaults"
RBAC_AUTOUPDATE: Final = "rbac.authorization.kubernetes.io/autoupdate"
AGGREGATOR_MANAGED_LABEL: Final = "kube-aggregator.kubernetes.io/automanaged"
APF_AUTOUPDATE: Final = "apf.kubernetes.io/autoupdate-spec"
SYSTEM_PRIORITY_CLASSES: Final = frozenset({"system-node-critical", "system-cluster-critical"})
DEFAULT_SERVICE_CIDR: Final = "kubernetes"
APISERVER_CONFIGMAPS: Final = frozenset(
    {
        ("kube-system", "extension-apiserver-authentication"),
        ("kube-system", "kube-apiserver-legacy-service-account-token-tracking"),
    }
)
#: the ServiceAccounts kube-controller-manager creates for its controllers in kube-system: the
#: subjects of the bootstrap policy's ``system:controller:*`` bindings (controller_policy.go,
#: read off a v1.34.4 server). Not the ones an installer creates (kube-dns, kube-scheduler,
#: cloud-provider: kubeadm and add-ons make those, and a person may well manage them).
CONTROLLER_SERVICE_ACCOUNTS: Final = frozenset(
    {
        "attachdetach-controller",
        "bootstrap-signer",
        "certificate-controller",
        "clusterrole-aggregation-controller",
        "cronjob-controller",
        "daemon-set-controller",
        "deployment-controller",
        "disruption-controller",
        "endpoint-controller",
        "endpointslice-controller",
        "endpointslicemirroring-controller",
        "ephemeral-volume-controller",
        "expand-controller",
        "generic-garbage-collector",
        "horizontal-pod-autoscaler",
        "job-controller",
        "leader-election-controller",
        "legacy-service-account-token-cleaner",
        "namespace-controller",
        "node-controller",
        "persistent-volume-binder",
        "pod-garbage-collector",
        "pv-protection-controller",
        "pvc-protection-controller",
        "replicaset-controller",
        "replication-controller",
        "resource-claim-controller",
        "resourcequota-controller",
        "root-ca-cert-publisher",
        "route-controller",
        "selinux-warning-controller",
        "service-account-controller",
        "service-cidrs-controller",
        "service-controller",
        "statefulset-controller",
        "token-cleaner",
        "ttl-after-finished-controller",
        "ttl-controller",
        "validatingadmissionpolicy-status-controller",
        "volumeattributesclass-protection-controller",
    }
)


def system_reason(obj: Mapping[str, Any], ref: ObjectRef) -> str | None:
    """Why ``obj`` is the cluster's own object, or None when a person (or their CI) made it."""
    key = (ref.group, ref.kind)
    if (
        ref.group == RBAC_GROUP
        and ref.labels.get(BOOTSTRAPPING_LABEL) == BOOTSTRAPPING_VALUE
        and ref.annotations.get(RBAC_AUTOUPDATE) != "false"
    ):
        return f"system: bootstrap RBAC ({BOOTSTRAPPING_LABEL}={BOOTSTRAPPING_VALUE})"
    if key == ("apiregistration.k8s.io", "APIService") and AGGREGATOR_MANAGED_LABEL in ref.labels:
        return f"system: APIService registered by the aggregator ({AGGREGATOR_MANAGED_LABEL})"
    if (
        key
        in {
            ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
            ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
        }
        and ref.annotations.get(APF_AUTOUPDATE) == "true"
    ):
        return f"system: flow-control default kept by the API server ({APF_AUTOUPDATE})"
    if key == ("scheduling.k8s.io", "PriorityClass") and ref.name in SYSTEM_PRIORITY_CLASSES:
        return "system: built-in PriorityClass"
    if key == ("networking.k8s.io", "ServiceCIDR") and ref.name == DEFAULT_SERVICE_CIDR:
        return "system: the API server's default ServiceCIDR"
    if key == ("", "ConfigMap") and (ref.namespace, ref.name) in APISERVER_CONFIGMAPS:
        return "system: written by the API server"
    if (
        key == ("", "ServiceAccount")
        and ref.namespace == "kube-system"
        and ref.name in CONTROLLER_SERVICE_ACCOUNTS
        and not ref.labels
        and not ref.annotations
        and set(obj) <= {"apiVersion", "kind", "metadata", "secrets"}
    ):
        return "system: kube-controller-manager's controller service account"
    return None
