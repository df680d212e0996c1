"""What drift looks at: one object's change between two commits, and the roles bindings refer to.

Pure. ``comparison`` (from the plan) or ``adapters.git.changes`` (read back) builds the
``ObjectChange``s of a commit from the folders named in ``WATCHED_RESOURCES``; ``catalogue``
inspects them, ``table`` says which check applies to which kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

Obj = Mapping[str, Any]
RoleKey = tuple[str, str | None, str]
"""(``Role`` or ``ClusterRole``, namespace or None, name)."""

ESCALATION_VERBS = frozenset({"escalate", "bind", "impersonate"})
"""Verbs that let a subject grant itself more (RBAC docs, "Privilege escalation prevention")."""
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
PSA_LEVELS = {"privileged": 0, "baseline": 1, "restricted": 2}
"""A namespace without the label admits what the cluster default does: privileged, by default."""
BINDINGS = ("RoleBinding", "ClusterRoleBinding")
ROLES = ("Role", "ClusterRole")
WEBHOOKS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
WORKLOADS = (
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
)

WATCHED_RESOURCES = frozenset(
    {
        "rolebindings.rbac.authorization.k8s.io",
        "clusterrolebindings.rbac.authorization.k8s.io",
        "roles.rbac.authorization.k8s.io",
        "clusterroles.rbac.authorization.k8s.io",
        "validatingwebhookconfigurations.admissionregistration.k8s.io",
        "mutatingwebhookconfigurations.admissionregistration.k8s.io",
        "customresourcedefinitions.apiextensions.k8s.io",
        "namespaces",
        "pods",
        "replicationcontrollers",
        "deployments.apps",
        "statefulsets.apps",
        "daemonsets.apps",
        "replicasets.apps",
        "jobs.batch",
        "cronjobs.batch",
        "configmaps",
    }
)
"""The repository folders (``resource.group``) of every kind a rule looks at: only changed
files in these are compared, so a commit touching a thousand Services costs nothing here.
ConfigMaps are read for ``credential-in-clear``: a changed ConfigMap costs one blob read."""


class ObjectChange(NamedTuple):
    """One object a commit added (``before`` None), removed (``after`` None) or changed."""

    before: Obj | None
    after: Obj | None
    namespace_hint: str | None = None
    """The namespace from the object's path, for objects whose metadata was cleaned of it."""

    @property
    def current(self) -> Obj:
        found = self.after if self.after is not None else self.before
        assert found is not None, "an ObjectChange has a before or an after"
        return found

    @property
    def kind(self) -> str:
        return str(self.current.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.current.get("metadata") or {}).get("name", ""))

    @property
    def namespace(self) -> str | None:
        found = (self.current.get("metadata") or {}).get("namespace")
        return str(found) if found else self.namespace_hint


class Facts(NamedTuple):
    """What the rules may look at besides the change: the roles bindings refer to (new tree)."""

    roles: Mapping[RoleKey, Obj]


@dataclass(frozen=True)
class Comparison:
    """One commit compared with its parent in a cluster's folder."""

    commit: str
    previous: str
    changes: Sequence[ObjectChange]
    roles: Mapping[RoleKey, Obj]
    """The roles ``referenced_roles(changes)`` names, as the commit has them (absent: left out)."""
