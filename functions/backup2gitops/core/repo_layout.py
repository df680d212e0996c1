"""Where an object goes in the generated repository.

Pure: no I/O; only the standard library.

::

    clusters/<cluster>/namespaces/<ns>/<resource.group>/<name>.yaml
    clusters/<cluster>/cluster-scoped/<resource.group>/<name>.yaml

``<resource.group>`` is Velero's group-resource form: ``configmaps`` (core), ``deployments.apps``.
Names come from backups, i.e. from whoever could create objects in the cluster: every path
segment is checked so that no name can leave the cluster folder or hide as a dotfile.

A checked segment is then made a file (or folder) name every checkout can hold
(``segment_file_name``). Most names are used as they are. A name is *tagged* -- a prefix of it,
``%``, and 16 hex digits of its blake2b digest -- when, as it is, it would break a checkout or
collide with another: longer than 255 UTF-8 bytes with its ``.yaml`` (Linux's limit per file
name; "File name too long" fails every ``git clone``), with an upper-case or non-ASCII letter (on
a case- or normalisation-insensitive checkout, macOS and Windows, ``Admin`` and ``admin`` are one
file), with a ``%`` (so no name can pose as a tag), or kustomize's own file names. ``%`` is in no
name the API server accepts (``ValidatePathSegmentName`` refuses it, DNS names have none), so a
tagged name never meets a plain one, and two tagged names meet only if their digests do. The
tag depends on the name alone: the same object keeps its path whatever else the backup holds.
The full name stays inside the object (``metadata.name``).
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Final

from backup2gitops.core import bucket_layout
from backup2gitops.core.errors import Backup2GitopsError

MAX_NAME_LENGTH: Final[int] = 253
KUSTOMIZATION: Final[str] = "kustomization.yaml"
# An object named "kustomization" would overwrite the folder's kustomization.yaml; it is written
# as "_kustomization.yaml" instead ("_" is not valid in DNS-1123 names, so no other object clashes).
ESCAPED_KUSTOMIZATION: Final[str] = "_kustomization.yaml"
MAX_FILE_NAME_BYTES: Final[int] = 255
"""Linux's NAME_MAX (ext4, xfs, btrfs, overlayfs): bytes, not characters, per file name."""
TAG: Final[str] = "%"
TAG_DIGEST_CHARS: Final[int] = 16
KUSTOMIZE_FILE_NAMES: Final[frozenset[str]] = frozenset(
    {"kustomization.yaml", "kustomization.yml", "kustomization"}
)
"""The names kustomize reads as a folder's kustomization (case-insensitively on a case-
insensitive checkout): no object file or folder may take one (kustomize/api konfig)."""


class UnsafeName(Backup2GitopsError, ValueError):
    """A name that cannot be used as a path segment."""

    code = "unsafe_name"


# (group, kind) -> resource, for kinds whose plural is not the plain fallback or that are common.
WELL_KNOWN: Final[dict[tuple[str, str], str]] = {
    ("", "ConfigMap"): "configmaps",
    ("", "Endpoints"): "endpoints",
    ("", "Event"): "events",
    ("", "LimitRange"): "limitranges",
    ("", "Namespace"): "namespaces",
    ("", "Node"): "nodes",
    ("", "PersistentVolume"): "persistentvolumes",
    ("", "PersistentVolumeClaim"): "persistentvolumeclaims",
    ("", "Pod"): "pods",
    ("", "PodTemplate"): "podtemplates",
    ("", "ReplicationController"): "replicationcontrollers",
    ("", "ResourceQuota"): "resourcequotas",
    ("", "Secret"): "secrets",
    ("", "Service"): "services",
    ("", "ServiceAccount"): "serviceaccounts",
    ("apps", "ControllerRevision"): "controllerrevisions",
    ("apps", "DaemonSet"): "daemonsets",
    ("apps", "Deployment"): "deployments",
    ("apps", "ReplicaSet"): "replicasets",
    ("apps", "StatefulSet"): "statefulsets",
    ("batch", "CronJob"): "cronjobs",
    ("batch", "Job"): "jobs",
    ("autoscaling", "HorizontalPodAutoscaler"): "horizontalpodautoscalers",
    ("rbac.authorization.k8s.io", "ClusterRole"): "clusterroles",
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): "clusterrolebindings",
    ("rbac.authorization.k8s.io", "Role"): "roles",
    ("rbac.authorization.k8s.io", "RoleBinding"): "rolebindings",
    ("networking.k8s.io", "Ingress"): "ingresses",
    ("networking.k8s.io", "IngressClass"): "ingressclasses",
    ("networking.k8s.io", "NetworkPolicy"): "networkpolicies",
    ("policy", "PodDisruptionBudget"): "poddisruptionbudgets",
    ("storage.k8s.io", "CSIDriver"): "csidrivers",
    ("storage.k8s.io", "CSINode"): "csinodes",
    ("storage.k8s.io", "StorageClass"): "storageclasses",
    ("storage.k8s.io", "VolumeAttachment"): "volumeattachments",
    ("apiextensions.k8s.io", "CustomResourceDefinition"): "customresourcedefinitions",
    ("apiregistration.k8s.io", "APIService"): "apiservices",
    ("scheduling.k8s.io", "PriorityClass"): "priorityclasses",
    ("node.k8s.io", "RuntimeClass"): "runtimeclasses",
    ("coordination.k8s.io", "Lease"): "leases",
    ("discovery.k8s.io", "EndpointSlice"): "endpointslices",
    ("certificates.k8s.io", "CertificateSigningRequest"): "certificatesigningrequests",
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): (
        "mutatingwebhookconfigurations"
    ),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): (
        "validatingwebhookconfigurations"
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): "validatingadmissionpolicies",
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"): (
        "validatingadmissionpolicybindings"
    ),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"): "flowschemas",
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"): "prioritylevelconfigurations",
    ("snapshot.storage.k8s.io", "VolumeSnapshot"): "volumesnapshots",
    ("snapshot.storage.k8s.io", "VolumeSnapshotClass"): "volumesnapshotclasses",
    ("snapshot.storage.k8s.io", "VolumeSnapshotContent"): "volumesnapshotcontents",
}


def group_resource_for(api_version: str, kind: str) -> str:
    """Velero's ``resource.group`` for an object (``deployments.apps``; ``configmaps`` for core).

    Well-known kinds come from a table. Any other kind falls back to the API server's own
    guess for unregistered kinds (``meta.UnsafeGuessKindToResource``): lowercased kind, then
    ``-y`` -> ``-ies`` (after a consonant), ``-s``/``-x``/``-z``/``-ch``/``-sh`` -> ``+es``,
    else ``+s``. The guess is only a folder name: it never has to match discovery exactly.
    """
    group, slash, _ = api_version.rpartition("/")
    group = group if slash else ""
    resource = WELL_KNOWN.get((group, kind)) or _guess_plural(kind)
    return f"{resource}.{group}" if group else resource


def _guess_plural(kind: str) -> str:
    lower = kind.lower()
    if not lower:
        return lower
    if lower.endswith("y") and len(lower) > 1 and lower[-2] not in "aeiou":
        return lower[:-1] + "ies"
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return lower + "es"
    return lower + "s"


_SAFE_SEGMENT: Final = re.compile(r"[^./\\\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]*")


def has_odd_segment(path: str) -> bool:
    """True when ``path`` has an empty, ``.`` or ``..`` segment (a leading, doubled or trailing
    slash included): not a plain relative path of the repository. Asked of every file a backup
    makes, so three scans of a short list, not a set built per path."""
    parts = path.split("/")
    return "" in parts or "." in parts or ".." in parts


def check_segment(value: str, *, what: str) -> str:
    """``value`` if it is safe as one path segment, else raise UnsafeName."""
    if (
        value
        and len(value) <= MAX_NAME_LENGTH
        and _SAFE_SEGMENT.fullmatch(value)
        and ".." not in value
    ):
        return value  # the common case, in one regular expression
    if not value:
        raise UnsafeName(f"{what} is empty")
    if len(value) > MAX_NAME_LENGTH:
        raise UnsafeName(f"{what} is longer than {MAX_NAME_LENGTH} characters")
    if any(char in value for char in ("/", "\\", "\0")):
        raise UnsafeName(f"{what} {value!r} contains '/', '\\' or NUL")
    if ".." in value or value.startswith("."):
        raise UnsafeName(f"{what} {value!r} contains '..' or starts with '.'")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise UnsafeName(f"{what} {value!r} contains a control character")
    return value


def check_cluster(cluster: str) -> str:
    """``cluster`` if it is a DNS-1123 label, else raise UnsafeName."""
    if not bucket_layout.is_cluster_name(cluster):
        raise UnsafeName(f"cluster name {cluster!r} is not a DNS-1123 label")
    return cluster


def cluster_root(cluster: str) -> PurePosixPath:
    return PurePosixPath("clusters", check_cluster(cluster))


def segment_file_name(value: str, *, suffix: str = "") -> str:
    """The file (``suffix=".yaml"``) or folder name for a checked segment: ``value + suffix``,
    or tagged (the module's docstring says when and why) so that it fits and never collides."""
    plain = value + suffix
    if (
        value.isascii()
        and value.lower() == value  # no upper-case letter (ASCII: lower() changes A-Z only)
        and TAG not in value
        and len(plain) <= MAX_FILE_NAME_BYTES
        and plain.lower() not in KUSTOMIZE_FILE_NAMES
        and f"{value}.yaml".lower() != ESCAPED_KUSTOMIZATION
    ):
        return plain
    digest = hashlib.blake2b(value.encode(), digest_size=TAG_DIGEST_CHARS // 2).hexdigest()
    budget = MAX_FILE_NAME_BYTES - len(suffix) - len(TAG) - TAG_DIGEST_CHARS
    prefix = value.encode()[: min(budget, 200)].decode(errors="ignore")  # whole characters
    return f"{prefix}{TAG}{digest}{suffix}"


def object_path(
    *, cluster: str, group_resource: str, namespace: str | None, name: str
) -> PurePosixPath:
    """The repository path of one object; raise UnsafeName for any unsafe segment (checked in
    this order: cluster, group-resource, name, namespace)."""
    return PurePosixPath(
        object_file(cluster=cluster, group_resource=group_resource, namespace=namespace, name=name)
    )


def object_file(*, cluster: str, group_resource: str, namespace: str | None, name: str) -> str:
    """``object_path`` as a POSIX string, as the stream of files keys it (``core.repo_plan``):
    a backup's object costs no ``PurePosixPath`` (a fifth of its placing, without its cleaning)."""
    root, resource = _resource_segments(cluster, group_resource)
    checked = check_segment(name, what="name")
    file_name = (
        ESCAPED_KUSTOMIZATION
        if checked == "kustomization"  # kept from before tags, so existing paths stay
        else segment_file_name(checked, suffix=".yaml")
    )
    return f"{_folder(root, resource, namespace)}/{file_name}"


@lru_cache(maxsize=1024)  # a backup has a few of each: checked and named once, not per object
def _resource_segments(cluster: str, group_resource: str) -> tuple[str, str]:
    root = f"clusters/{check_cluster(cluster)}"
    return root, segment_file_name(check_segment(group_resource, what="group-resource"))


@lru_cache(maxsize=4096)
def _folder(root: str, resource: str, namespace: str | None) -> str:
    if namespace is None:
        return f"{root}/cluster-scoped/{resource}"
    folder = segment_file_name(check_segment(namespace, what="namespace"))
    return f"{root}/namespaces/{folder}/{resource}"
