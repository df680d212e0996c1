"""``backup2gitops config rbac``: cluster-backup's ClusterRole, from the configuration's filters.

RBAC has no "all but": ``*/*`` get/list would let cluster-backup read every Secret although
``cluster_backup.include_secrets`` is false by default. So the role names what the backup reads:
the resources ``cluster_snapshot.select_resources`` keeps (``include_resources`` /
``exclude_resources``, Secrets only with ``include_secrets``, the default exclusions never
listed), each ``get`` + ``list``, one rule per API group.

Which resources exist: with ``--kubeconfig``/``--context`` (or ``--discover``, the pod's own
account), the cluster's discovery, custom resources included; otherwise the API server's own
resources (``BUILTIN``: Kubernetes 1.34's listable built-in kinds). A cluster with custom
resources to back up generates its role against itself; a resource cluster-backup may not list
fails the backup with ``kube_forbidden`` naming it, never silently. ``knative/base/
cluster-backup-role.yaml`` is this command's output for ``knative/base/config.yaml``
(tests/deploy/test_cluster_backup_role.py keeps the two equal).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backup2gitops.adapters.kube import ApiResource
    from backup2gitops.config import ClusterBackupConfig

ROLE_NAME = "backup2gitops-cluster-backup"

# (group, resource, kind, namespaced): what a Kubernetes 1.34 API server serves that can be
# listed (create-only reviews, bindings and subresources are not). Kinds matter: the default
# exclusions are by kind.
BUILTIN: tuple[tuple[str, str, str, bool], ...] = (
    ("", "configmaps", "ConfigMap", True),
    ("", "endpoints", "Endpoints", True),
    ("", "events", "Event", True),
    ("", "limitranges", "LimitRange", True),
    ("", "namespaces", "Namespace", False),
    ("", "nodes", "Node", False),
    ("", "persistentvolumeclaims", "PersistentVolumeClaim", True),
    ("", "persistentvolumes", "PersistentVolume", False),
    ("", "pods", "Pod", True),
    ("", "podtemplates", "PodTemplate", True),
    ("", "replicationcontrollers", "ReplicationController", True),
    ("", "resourcequotas", "ResourceQuota", True),
    ("", "secrets", "Secret", True),
    ("", "serviceaccounts", "ServiceAccount", True),
    ("", "services", "Service", True),
    (
        "admissionregistration.k8s.io",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        False,
    ),
    (
        "admissionregistration.k8s.io",
        "validatingadmissionpolicies",
        "ValidatingAdmissionPolicy",
        False,
    ),
    (
        "admissionregistration.k8s.io",
        "validatingadmissionpolicybindings",
        "ValidatingAdmissionPolicyBinding",
        False,
    ),
    (
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
    ),
    ("apiextensions.k8s.io", "customresourcedefinitions", "CustomResourceDefinition", False),
    ("apiregistration.k8s.io", "apiservices", "APIService", False),
    ("apps", "controllerrevisions", "ControllerRevision", True),
    ("apps", "daemonsets", "DaemonSet", True),
    ("apps", "deployments", "Deployment", True),
    ("apps", "replicasets", "ReplicaSet", True),
    ("apps", "statefulsets", "StatefulSet", True),
    ("autoscaling", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True),
    ("batch", "cronjobs", "CronJob", True),
    ("batch", "jobs", "Job", True),
    ("certificates.k8s.io", "certificatesigningrequests", "CertificateSigningRequest", False),
    ("coordination.k8s.io", "leases", "Lease", True),
    ("discovery.k8s.io", "endpointslices", "EndpointSlice", True),
    ("events.k8s.io", "events", "Event", True),
    ("flowcontrol.apiserver.k8s.io", "flowschemas", "FlowSchema", False),
    (
        "flowcontrol.apiserver.k8s.io",
        "prioritylevelconfigurations",
        "PriorityLevelConfiguration",
        False,
    ),
    ("networking.k8s.io", "ingressclasses", "IngressClass", False),
    ("networking.k8s.io", "ingresses", "Ingress", True),
    ("networking.k8s.io", "networkpolicies", "NetworkPolicy", True),
    ("networking.k8s.io", "servicecidrs", "ServiceCIDR", False),
    ("node.k8s.io", "runtimeclasses", "RuntimeClass", False),
    ("policy", "poddisruptionbudgets", "PodDisruptionBudget", True),
    ("rbac.authorization.k8s.io", "clusterrolebindings", "ClusterRoleBinding", False),
    ("rbac.authorization.k8s.io", "clusterroles", "ClusterRole", False),
    ("rbac.authorization.k8s.io", "rolebindings", "RoleBinding", True),
    ("rbac.authorization.k8s.io", "roles", "Role", True),
    ("resource.k8s.io", "deviceclasses", "DeviceClass", False),
    ("resource.k8s.io", "resourceclaims", "ResourceClaim", True),
    ("resource.k8s.io", "resourceclaimtemplates", "ResourceClaimTemplate", True),
    ("resource.k8s.io", "resourceslices", "ResourceSlice", False),
    ("scheduling.k8s.io", "priorityclasses", "PriorityClass", False),
    ("storage.k8s.io", "csidrivers", "CSIDriver", False),
    ("storage.k8s.io", "csinodes", "CSINode", False),
    ("storage.k8s.io", "csistoragecapacities", "CSIStorageCapacity", True),
    ("storage.k8s.io", "storageclasses", "StorageClass", False),
    ("storage.k8s.io", "volumeattributesclasses", "VolumeAttributesClass", False),
    ("storage.k8s.io", "volumeattachments", "VolumeAttachment", False),
)


def builtin_resources() -> list[ApiResource]:
    from backup2gitops.adapters.kube import ApiResource

    return [
        ApiResource(group=group, version="v1", resource=resource, kind=kind, namespaced=namespaced)
        for group, resource, kind, namespaced in BUILTIN
    ]


def rules(resources: Iterable[ApiResource], *, config: ClusterBackupConfig) -> list[dict[str, Any]]:
    """get + list on what the backup lists, one rule per API group (sorted: a stable file)."""
    from backup2gitops.cluster_snapshot import select_resources

    groups: dict[str, set[str]] = {}
    for resource in select_resources(list(resources), config=config):
        groups.setdefault(resource.group, set()).add(resource.resource)
    return [
        {"apiGroups": [group], "resources": sorted(names), "verbs": ["get", "list"]}
        for group, names in sorted(groups.items())
    ]


def cluster_role(
    resources: Iterable[ApiResource], *, config: ClusterBackupConfig
) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": ROLE_NAME,
            "labels": {"app.kubernetes.io/part-of": "backup2gitops"},
        },
        "rules": rules(resources, config=config),
    }


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser(
        "rbac",
        help="print cluster-backup's ClusterRole, made from the configuration's resource filters",
    )
    parser.add_argument("--config", help="configuration file (default: $BACKUP2GITOPS_CONFIG)")
    parser.add_argument(
        "--kubeconfig", metavar="PATH", help="read the resources from this cluster's discovery"
    )
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context (implies discovery)")
    parser.add_argument(
        "--discover",
        action="store_true",
        help="discovery through the default kubeconfig or the pod's service account",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=("yaml", "json", "name", "table"),
        default="yaml",
        help="yaml (default: a manifest to apply), json, name, or table (a group's resources a line)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    import yaml

    from backup2gitops.config import ConfigError, load_config

    try:
        config = load_config(args.config).cluster_backup
    except ConfigError as exc:
        print(f"config rbac: {exc}", file=sys.stderr)
        return 2
    if args.kubeconfig or args.context or args.discover:
        from backup2gitops.adapters import kube

        with kube.api_client_from(kubeconfig=args.kubeconfig, context=args.context) as api:
            resources = kube.discover(api).resources
    else:
        resources = builtin_resources()
    role = cluster_role(resources, config=config)
    if args.output == "json":
        print(json.dumps(role, indent=2))
    elif args.output == "name":
        print(f"clusterrole.rbac.authorization.k8s.io/{ROLE_NAME}")
    elif args.output == "table":
        print("API GROUP  RESOURCES (get, list)")
        for rule in role["rules"]:
            print(f"{rule['apiGroups'][0] or '(core)'}  {', '.join(rule['resources'])}")
    else:
        sys.stdout.write(yaml.safe_dump(role, sort_keys=False))
    return 0
