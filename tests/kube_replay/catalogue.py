"""The API surface the replay server serves: groups, versions, resources, verbs.

Pure data. Verbs, short names, categories and subresources are those of a
Kubernetes 1.31 API server (`kubectl get --raw /api/v1`, `/apis/apps/v1`, ...);
see README.md for where each shape was checked.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

#: The verbs of an ordinary stored resource.
CRUD = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
#: The verbs of a namespaces-like resource (no deletecollection).
CRUD_NO_COLLECTION = ("create", "delete", "get", "list", "patch", "update", "watch")
#: Review kinds (TokenReview, SubjectAccessReview, ...) are create-only.
CREATE_ONLY = ("create",)
#: Metrics (metrics.k8s.io) are read-only.
READ_ONLY = ("get", "list")
#: The verbs of a `/status` or `/scale` subresource.
SUB_RW = ("get", "patch", "update")


@dataclass(frozen=True)
class Subresource:
    """A subresource (`deployments/scale`, `pods/log`) as discovery reports it."""

    name: str
    verbs: tuple[str, ...]
    #: (group, version, kind) of the response, or None for e.g. `pods/log`'s plain text
    response_kind: tuple[str, str, str] | None = None


@dataclass(frozen=True)
class ResourceSpec:
    """One resource of one group, served in some of the group's versions."""

    resource: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = CRUD
    #: versions serving it, None = every version of the group
    versions: tuple[str, ...] | None = None
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[Subresource, ...] = ()
    #: the storage version, for storageVersionHash; None = not stored (reviews, metrics)
    storage_version: str | None = ""
    #: (group, resource) whose objects this one serves, when two groups share storage
    #: (events.k8s.io/events serves the core events)
    shares_storage_with: tuple[str, str] | None = None

    @property
    def singular(self) -> str:
        return self.kind.lower()


@dataclass(frozen=True)
class GroupSpec:
    """An API group and its versions, in the server's order of preference (preferred first)."""

    name: str
    versions: tuple[str, ...]
    resources: tuple[ResourceSpec, ...] = field(default=())

    def served_in(self, version: str) -> list[ResourceSpec]:
        return [r for r in self.resources if r.versions is None or version in r.versions]

    def resource(self, name: str) -> ResourceSpec | None:
        return next((r for r in self.resources if r.resource == name), None)


def storage_version_hash(group: str, version: str, kind: str) -> str:
    """The apiserver's storageVersionHash: base64 of the first 8 bytes of sha256("g/v/Kind").

    (kubernetes/kubernetes
    staging/src/k8s.io/apiserver/pkg/endpoints/discovery/storageversionhash.go.
    Checked: "/v1/ConfigMap" -> "qFsyl6wFWjQ=" and "apps/v1/DaemonSet" -> "dd7pWHUlMKQ=",
    as a real server reports them.)
    """
    digest = hashlib.sha256(f"{group}/{version}/{kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode("ascii")


_STATUS = Subresource("status", SUB_RW)


def default_surface() -> tuple[GroupSpec, ...]:
    """A small but awkward cluster: every discovery edge case the adapter must handle."""
    return (
        GroupSpec(
            "",
            ("v1",),
            (
                ResourceSpec("bindings", "Binding", True, CREATE_ONLY, storage_version=None),
                ResourceSpec("configmaps", "ConfigMap", True, short_names=("cm",)),
                ResourceSpec("events", "Event", True, short_names=("ev",)),
                ResourceSpec(
                    "namespaces",
                    "Namespace",
                    False,
                    CRUD_NO_COLLECTION,
                    short_names=("ns",),
                    subresources=(Subresource("finalize", ("update",)), _STATUS),
                ),
                ResourceSpec(
                    "pods",
                    "Pod",
                    True,
                    short_names=("po",),
                    categories=("all",),
                    subresources=(
                        Subresource("binding", CREATE_ONLY, ("", "v1", "Binding")),
                        Subresource("eviction", CREATE_ONLY, ("policy", "v1", "Eviction")),
                        Subresource("exec", ("create", "get")),
                        Subresource("log", ("get",)),
                        _STATUS,
                    ),
                ),
                ResourceSpec("secrets", "Secret", True),
                ResourceSpec(
                    "serviceaccounts",
                    "ServiceAccount",
                    True,
                    short_names=("sa",),
                    subresources=(
                        Subresource(
                            "token", CREATE_ONLY, ("authentication.k8s.io", "v1", "TokenRequest")
                        ),
                    ),
                ),
                ResourceSpec(
                    "services",
                    "Service",
                    True,
                    short_names=("svc",),
                    categories=("all",),
                    subresources=(Subresource("proxy", ("create", "delete", "get")), _STATUS),
                ),
            ),
        ),
        GroupSpec(
            "apps",
            ("v1",),
            (
                ResourceSpec(
                    "daemonsets",
                    "DaemonSet",
                    True,
                    short_names=("ds",),
                    categories=("all",),
                    subresources=(_STATUS,),
                ),
                ResourceSpec(
                    "deployments",
                    "Deployment",
                    True,
                    short_names=("deploy",),
                    categories=("all",),
                    subresources=(
                        Subresource("scale", SUB_RW, ("autoscaling", "v1", "Scale")),
                        _STATUS,
                    ),
                ),
            ),
        ),
        GroupSpec(
            "events.k8s.io",
            ("v1",),
            (
                ResourceSpec(
                    "events",
                    "Event",
                    True,
                    short_names=("ev",),
                    storage_version=None,
                    shares_storage_with=("", "events"),
                ),
            ),
        ),
        GroupSpec(
            "authentication.k8s.io",
            ("v1",),
            (
                ResourceSpec(
                    "selfsubjectreviews",
                    "SelfSubjectReview",
                    False,
                    CREATE_ONLY,
                    storage_version=None,
                ),
                ResourceSpec(
                    "tokenreviews", "TokenReview", False, CREATE_ONLY, storage_version=None
                ),
            ),
        ),
        GroupSpec(
            "authorization.k8s.io",
            ("v1",),
            (
                ResourceSpec(
                    "localsubjectaccessreviews",
                    "LocalSubjectAccessReview",
                    True,
                    CREATE_ONLY,
                    storage_version=None,
                ),
                ResourceSpec(
                    "selfsubjectaccessreviews",
                    "SelfSubjectAccessReview",
                    False,
                    CREATE_ONLY,
                    storage_version=None,
                ),
                ResourceSpec(
                    "subjectaccessreviews",
                    "SubjectAccessReview",
                    False,
                    CREATE_ONLY,
                    storage_version=None,
                ),
            ),
        ),
        GroupSpec(
            "autoscaling",
            ("v2", "v1"),
            (
                ResourceSpec(
                    "horizontalpodautoscalers",
                    "HorizontalPodAutoscaler",
                    True,
                    short_names=("hpa",),
                    categories=("all",),
                    subresources=(_STATUS,),
                    storage_version="v1",
                ),
            ),
        ),
        GroupSpec(
            "batch",
            ("v1",),
            (
                ResourceSpec(
                    "cronjobs",
                    "CronJob",
                    True,
                    short_names=("cj",),
                    categories=("all",),
                    subresources=(_STATUS,),
                ),
                ResourceSpec("jobs", "Job", True, categories=("all",), subresources=(_STATUS,)),
            ),
        ),
        GroupSpec(
            "example.com",
            ("v1", "v1beta1"),
            (
                # a custom resource, with an older kind left behind in v1beta1 only
                ResourceSpec("widgets", "Widget", True, subresources=(_STATUS,)),
                ResourceSpec("gadgets", "Gadget", False, versions=("v1beta1",)),
            ),
        ),
        GroupSpec(
            "metrics.k8s.io",
            ("v1beta1",),
            (
                ResourceSpec("nodes", "NodeMetrics", False, READ_ONLY, storage_version=None),
                ResourceSpec("pods", "PodMetrics", True, READ_ONLY, storage_version=None),
            ),
        ),
    )
