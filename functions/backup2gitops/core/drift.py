"""Drift: the sensitive changes between two commits of one cluster's folder.

Pure: no I/O; only the standard library and pydantic. The shell (``adapters.git_changes``) reads
the objects a commit added, changed or removed and the roles the changed bindings refer to; this
module classifies them with the rule table ``RULES``. Each rule says why the change matters (the
CIS Kubernetes Benchmark v1.8 item, or the Kubernetes documentation) and has a fixed severity, so
an alert's label set - Alertmanager's identity - is stable per rule and object.

A finding is about what a commit *grants or opens*, not about what a cluster is: an object that
was already there and did not change raises nothing, and the first commit of a cluster (no
earlier folder to compare with) is the baseline, not a finding per object.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from backup2gitops.core.durations import Duration
from backup2gitops.core.events import DriftFinding, DriftSeverity

Obj = Mapping[str, Any]
RoleKey = tuple[str, str | None, str]
"""(``Role`` or ``ClusterRole``, namespace or None, name)."""

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
"""The repository folders (``resource.group``) of every kind a rule looks at: the shell reads
only changed files in these, so a commit touching a thousand Services costs nothing here.
ConfigMaps are read for ``credential-in-clear``: a changed ConfigMap costs one blob read."""


@dataclass(frozen=True)
class ObjectChange:
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


@dataclass(frozen=True)
class Facts:
    """What the rules may look at besides the change: the roles bindings refer to (new tree)."""

    roles: Mapping[RoleKey, Obj]


Check = Callable[[ObjectChange, Facts], Iterable[str]]
"""Yields one summary per finding for the change (usually none or one)."""


@dataclass(frozen=True)
class Rule:
    id: str
    severity: DriftSeverity
    why: str
    """The benchmark item or documentation that makes this change sensitive."""
    kinds: tuple[str, ...]
    check: Check


# --- RBAC -------------------------------------------------------------------------------


def _subjects(binding: Obj | None) -> set[str]:
    found = set()
    for subject in (binding or {}).get("subjects") or ():
        kind = subject.get("kind", "?")
        ns = subject.get("namespace")
        found.add(f"{kind} {ns}:{subject.get('name')}" if ns else f"{kind} {subject.get('name')}")
    return found


def _role_ref(binding: Obj | None) -> tuple[str, str] | None:
    ref = (binding or {}).get("roleRef") or {}
    return (str(ref.get("kind", "")), str(ref.get("name", ""))) if ref else None


def role_key(binding: Obj) -> RoleKey | None:
    """The role a binding refers to: a RoleBinding's Role lives in the binding's namespace."""
    ref = _role_ref(binding)
    if ref is None:
        return None
    kind, name = ref
    namespace = (binding.get("metadata") or {}).get("namespace") if kind == "Role" else None
    return (kind, namespace, name)


def granted(change: ObjectChange) -> set[str]:
    """The subjects a binding grants its role to that it did not before (all, if the role moved)."""
    after = _subjects(change.after)
    if change.before is None or _role_ref(change.before) != _role_ref(change.after):
        return after
    return after - _subjects(change.before)


def _rules_of(role: Obj | None) -> list[Mapping[str, Any]]:
    return list((role or {}).get("rules") or ())


def _wildcards(role: Obj | None) -> set[str]:
    found = set()
    for rule in _rules_of(role):
        for field_name in ("verbs", "resources"):
            if "*" in (rule.get(field_name) or ()):
                found.add(f"{field_name}: *")
    return found


def _escalation_verbs(role: Obj | None) -> set[str]:
    return {v for rule in _rules_of(role) for v in rule.get("verbs") or () if v in ESCALATION_VERBS}


def _is_cluster_admin(change: ObjectChange) -> bool:
    return _role_ref(change.after) == ("ClusterRole", "cluster-admin")


def _binding_target(change: ObjectChange, facts: Facts) -> Obj | None:
    key = role_key(change.after) if change.after is not None else None
    return facts.roles.get(key) if key is not None else None


def _grant_summary(change: ObjectChange, who: set[str], what: str) -> str:
    ref = _role_ref(change.after) or ("?", "?")
    return (
        f"{change.kind} {change.name} grants {ref[0]} {ref[1]} ({what}) to {', '.join(sorted(who))}"
    )


def _cluster_admin_binding(change: ObjectChange, facts: Facts) -> Iterator[str]:
    who = granted(change)
    if change.after is not None and who and _is_cluster_admin(change):
        yield _grant_summary(change, who, "every verb on every resource")


def _wildcard_binding(change: ObjectChange, facts: Facts) -> Iterator[str]:
    who = granted(change)
    role = _binding_target(change, facts)
    wild = _wildcards(role)
    if change.after is not None and who and wild and not _is_cluster_admin(change):
        yield _grant_summary(change, who, ", ".join(sorted(wild)))


def _escalation_binding(change: ObjectChange, facts: Facts) -> Iterator[str]:
    who = granted(change)
    verbs = _escalation_verbs(_binding_target(change, facts))
    if change.after is not None and who and verbs and not _is_cluster_admin(change):
        yield _grant_summary(change, who, "verbs " + ", ".join(sorted(verbs)))


def _new_subjects(change: ObjectChange, facts: Facts) -> Iterator[str]:
    """An existing binding of an ordinary role gains subjects (powerful roles: the rules above)."""
    if change.before is None or change.after is None or _is_cluster_admin(change):
        return
    role = _binding_target(change, facts)
    if _wildcards(role) or _escalation_verbs(role):
        return
    who = granted(change)
    if who:
        yield _grant_summary(change, who, "new subjects")


def _wildcard_role(change: ObjectChange, facts: Facts) -> Iterator[str]:
    gained = _wildcards(change.after) - _wildcards(change.before)
    if change.after is not None and gained:
        yield f"{change.kind} {change.name} now allows {', '.join(sorted(gained))}"


def _escalation_role(change: ObjectChange, facts: Facts) -> Iterator[str]:
    gained = _escalation_verbs(change.after) - _escalation_verbs(change.before)
    if change.after is not None and gained:
        yield f"{change.kind} {change.name} now allows verbs {', '.join(sorted(gained))}"


# --- admission, API, namespaces -----------------------------------------------------------


def _endpoints(config: Obj | None) -> tuple[list[str], list[str]]:
    """The URLs and the in-cluster services a webhook configuration posts to."""
    urls, services = [], []
    for webhook in (config or {}).get("webhooks") or ():
        client = webhook.get("clientConfig") or {}
        if client.get("url"):
            urls.append(str(client["url"]))
        elif client.get("service"):
            svc = client["service"]
            port = f":{svc['port']}" if svc.get("port") else ""
            services.append(f"{svc.get('namespace')}/{svc.get('name')}{port}{svc.get('path', '')}")
    return urls, services


def _webhooks(config: Obj | None) -> Any:
    return (config or {}).get("webhooks") or []


def _webhook_external(change: ObjectChange, facts: Facts) -> Iterator[str]:
    urls, _ = _endpoints(change.after)
    if change.after is None or not urls or _webhooks(change.before) == _webhooks(change.after):
        return
    verb = "added" if change.before is None else "changed"
    yield f"{change.kind} {change.name} {verb}: posts objects to {', '.join(urls)}"


def _webhook_changed(change: ObjectChange, facts: Facts) -> Iterator[str]:
    if change.after is None:
        urls, services = _endpoints(change.before)
        yield f"{change.kind} {change.name} removed (it called {', '.join(urls + services)})"
        return
    urls, services = _endpoints(change.after)
    if urls or _webhooks(change.before) == _webhooks(change.after):
        return  # a URL is the external rule's
    verb = "added" if change.before is None else "changed"
    yield f"{change.kind} {change.name} {verb}: calls {', '.join(services) or 'no endpoint'}"


def _crd_added(change: ObjectChange, facts: Facts) -> Iterator[str]:
    if change.before is None and change.after is not None:
        yield f"CustomResourceDefinition {change.name} added (a new API in the cluster)"


def _crd_removed(change: ObjectChange, facts: Facts) -> Iterator[str]:
    if change.after is None:
        yield f"CustomResourceDefinition {change.name} removed (with every object of its kind)"


def _namespace_deleted(change: ObjectChange, facts: Facts) -> Iterator[str]:
    if change.after is None:
        yield f"Namespace {change.name} deleted (with everything in it)"


def _enforce(namespace: Obj | None) -> str:
    labels = (namespace or {}).get("metadata", {}).get("labels") or {}
    return str(labels.get(PSA_ENFORCE, "privileged"))


def _pod_security_relaxed(change: ObjectChange, facts: Facts) -> Iterator[str]:
    if change.before is None or change.after is None:
        return
    before, after = _enforce(change.before), _enforce(change.after)
    if PSA_LEVELS.get(after, 0) < PSA_LEVELS.get(before, 0):
        labels = (change.after.get("metadata") or {}).get("labels") or {}
        shown = after if PSA_ENFORCE in labels else "removed"
        yield f"Namespace {change.name}: {PSA_ENFORCE} {before} -> {shown}"


# --- workloads ----------------------------------------------------------------------------


def pod_spec(obj: Obj | None) -> Mapping[str, Any]:
    """The pod spec of a Pod or of any workload's template (a CronJob's is two levels down)."""
    if obj is None:
        return {}
    spec = obj.get("spec") or {}
    kind = obj.get("kind")
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return ((spec.get("template") or {}).get("spec")) or {}


def _privileged(obj: Obj | None) -> set[str]:
    spec = pod_spec(obj)
    return {
        str(c.get("name"))
        for group in ("initContainers", "containers", "ephemeralContainers")
        for c in spec.get(group) or ()
        if (c.get("securityContext") or {}).get("privileged") is True
    }


def _host_paths(obj: Obj | None) -> set[str]:
    return {
        str((v.get("hostPath") or {}).get("path"))
        for v in pod_spec(obj).get("volumes") or ()
        if v.get("hostPath") is not None
    }


def _privileged_workload(change: ObjectChange, facts: Facts) -> Iterator[str]:
    new = _privileged(change.after) - _privileged(change.before)
    if new:
        yield f"{change.kind} {change.name}: privileged container(s) {', '.join(sorted(new))}"


def _hostpath_workload(change: ObjectChange, facts: Facts) -> Iterator[str]:
    new = _host_paths(change.after) - _host_paths(change.before)
    if new:
        yield f"{change.kind} {change.name}: hostPath volume(s) {', '.join(sorted(new))}"


# --- credentials outside Secrets ----------------------------------------------------------

CREDENTIAL_NAME = re.compile(
    r"passw(or)?d|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential",
    re.IGNORECASE,
)
"""Names whose literal value is a credential (``DB_PASSWORD``, ``API_TOKEN``, ``client_secret``)."""
NOT_A_CREDENTIAL_NAME = re.compile(
    r"(_|-|\b)(file|path|name|ref|key_?id|ttl|expir\w*|length|enabled|type|kind)$", re.IGNORECASE
)
"""...unless the name says the value is where or what the credential is, not the credential."""
NOT_A_CREDENTIAL_VALUE = re.compile(r"true|false|yes|no|on|off|null|none|-?[0-9.]+", re.IGNORECASE)
CREDENTIAL_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a PEM private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")),
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("a password in a URL", re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)),
    (
        "a credential-like setting",
        re.compile(
            r"^\s*[\w.-]*(passw(or)?d|secret|token|api[_-]?key|access[_-]?key)[\w.-]*\s*[:=]"
            r"\s*[\"']?[^\s\"'$]{6,}",
            re.IGNORECASE | re.MULTILINE,
        ),
    ),
)
"""What a value holds that is a credential whatever its name (secret scanners' usual patterns)."""


def _credential_in(name: str, value: object) -> str | None:
    """What credential the literal ``value`` (under ``name``) looks like; never the value."""
    if not isinstance(value, str) or not value.strip():
        return None
    for what, pattern in CREDENTIAL_PATTERNS:
        if pattern.search(value):
            return what
    if (
        CREDENTIAL_NAME.search(name)
        and not NOT_A_CREDENTIAL_NAME.search(name)
        and not NOT_A_CREDENTIAL_VALUE.fullmatch(value.strip())
    ):
        return "a credential-like literal"
    return None


def credentials_in_clear(obj: Obj | None) -> set[str]:
    """Where ``obj`` holds a credential in clear: a ConfigMap's ``data`` (by key name and by
    content), or a container's ``env`` given literally (``value``, not ``valueFrom`` a Secret).
    Each entry names the place and what it looks like, never the value (findings become alerts
    and commit messages)."""
    if obj is None:
        return set()
    found = set()
    if obj.get("kind") == "ConfigMap":
        data = obj.get("data")
        for key, value in (data if isinstance(data, Mapping) else {}).items():
            what = _credential_in(str(key), value)
            if what:
                found.add(f"data key {key} holds {what}")
    spec = pod_spec(obj) if obj.get("kind") in WORKLOADS else {}
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(group) or ():
            if not isinstance(container, Mapping):
                continue
            for env in container.get("env") or ():
                if not isinstance(env, Mapping):
                    continue
                what = _credential_in(str(env.get("name", "")), env.get("value"))
                if what:
                    found.add(f"container {container.get('name')} env {env.get('name')} is {what}")
    return found


def _credential_in_clear(change: ObjectChange, facts: Facts) -> Iterator[str]:
    new = credentials_in_clear(change.after) - credentials_in_clear(change.before)
    for place in sorted(new):
        yield f"{change.kind} {change.name}: {place} (put it in a Secret)"


RULES: tuple[Rule, ...] = (
    Rule(
        "rbac-cluster-admin-binding",
        "critical",
        f"{CIS} 5.1.1: ensure that the cluster-admin role is only used where required",
        BINDINGS,
        _cluster_admin_binding,
    ),
    Rule(
        "rbac-wildcard-binding",
        "critical",
        f"{CIS} 5.1.3: minimize wildcard use in Roles and ClusterRoles (here: one is granted)",
        BINDINGS,
        _wildcard_binding,
    ),
    Rule(
        "rbac-escalation-binding",
        "critical",
        f"{CIS} 5.1.8: limit use of the bind, impersonate and escalate permissions; "
        f"{RBAC_DOCS}#privilege-escalation-prevention-and-bootstrapping",
        BINDINGS,
        _escalation_binding,
    ),
    Rule(
        "rbac-new-subjects",
        "warning",
        f"{RBAC_DOCS}#rolebinding-and-clusterrolebinding: a binding's subjects are who holds "
        "the role; a new one is a new grant",
        BINDINGS,
        _new_subjects,
    ),
    Rule(
        "rbac-wildcard-role",
        "warning",
        f"{CIS} 5.1.3: minimize wildcard use in Roles and ClusterRoles",
        ROLES,
        _wildcard_role,
    ),
    Rule(
        "rbac-escalation-role",
        "warning",
        f"{CIS} 5.1.8: limit use of the bind, impersonate and escalate permissions",
        ROLES,
        _escalation_role,
    ),
    Rule(
        "admission-webhook-external",
        "critical",
        f"{WEBHOOK_DOCS}: a webhook receives (and may change or block) every object it matches; "
        "a URL sends them outside the cluster",
        WEBHOOKS,
        _webhook_external,
    ),
    Rule(
        "admission-webhook-changed",
        "warning",
        f"{WEBHOOK_DOCS}: admission webhooks see and may change or block the objects they match",
        WEBHOOKS,
        _webhook_changed,
    ),
    Rule(
        "crd-added",
        "info",
        f"{CRD_DOCS}: a CRD adds an API (and usually a controller acting on it)",
        ("CustomResourceDefinition",),
        _crd_added,
    ),
    Rule(
        "crd-removed",
        "warning",
        f"{CRD_DOCS}#delete-a-customresourcedefinition: deleting a CRD deletes its objects",
        ("CustomResourceDefinition",),
        _crd_removed,
    ),
    Rule(
        "namespace-deleted",
        "warning",
        f"{NAMESPACE_DOCS}: deleting a namespace deletes everything in it",
        ("Namespace",),
        _namespace_deleted,
    ),
    Rule(
        "pod-security-relaxed",
        "critical",
        f"{CIS} 5.2.1: ensure the cluster has at least one active policy control mechanism; "
        f"{PSS_DOCS}",
        ("Namespace",),
        _pod_security_relaxed,
    ),
    Rule(
        "privileged-workload",
        "critical",
        f"{CIS} 5.2.2: minimize the admission of privileged containers",
        WORKLOADS,
        _privileged_workload,
    ),
    Rule(
        "hostpath-workload",
        "warning",
        f"{PSS_DOCS}#baseline: HostPath volumes are forbidden by the Baseline policy",
        WORKLOADS,
        _hostpath_workload,
    ),
    Rule(
        "credential-in-clear",
        "critical",
        f"{CIS} 5.4.1: prefer using secrets as files over secrets as environment variables "
        "(here: not even a Secret); https://kubernetes.io/docs/concepts/configuration/configmap/: "
        "a ConfigMap does not provide secrecy -- and git keeps what it is given for ever",
        ("ConfigMap", *WORKLOADS),
        _credential_in_clear,
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


class DriftAllow(BaseModel):
    """A known, accepted change: findings it matches are not raised. Globs; ``*`` = any."""

    model_config = ConfigDict(extra="forbid")

    rule: str = Field(default="*", description="a rule id or a glob over them")
    kind: str = "*"
    namespace: str = Field(default="*", description="'' matches cluster-scoped objects only")
    name: str = "*"
    reason: str = Field(min_length=1, description="why this is accepted (kept in the config)")

    def matches(self, finding: DriftFinding) -> bool:
        return (
            fnmatchcase(finding.rule, self.rule)
            and fnmatchcase(finding.kind, self.kind)
            and fnmatchcase(finding.namespace or "", self.namespace)
            and fnmatchcase(finding.name, self.name)
        )


class DriftPolicy(BaseModel):
    """Which sensitive changes gitops-generator reports, and how long their alerts last."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="compare each commit with its parent")
    rules: list[RuleId] = Field(
        default_factory=lambda: list[RuleId](RULE_IDS),  # type: ignore[arg-type]
        description="the rules to apply (core.drift.RULES); default: all",
    )
    allow: list[DriftAllow] = Field(default_factory=list, description="accepted changes")
    notice_for: Duration = Field(
        default=timedelta(hours=24),
        description="alert-router: a drift alert's endsAt is this far after it starts, so "
        "Alertmanager resolves the one-time notice by itself",
    )

    @field_validator("notice_for")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be positive")
        return value


def referenced_roles(changes: Iterable[ObjectChange]) -> set[RoleKey]:
    """The roles the added or changed bindings refer to: the shell reads them from the new tree."""
    found = set()
    for change in changes:
        if change.kind in BINDINGS and change.after is not None:
            key = role_key(change.after)
            if key is not None:
                found.add(key)
    return found


def findings(
    changes: Sequence[ObjectChange], *, facts: Facts, policy: DriftPolicy
) -> list[DriftFinding]:
    """Every enabled rule over every change, less what the allow-list accepts, in a stable order."""
    enabled = [rule for rule in RULES if rule.id in set(policy.rules)]
    found: list[DriftFinding] = []
    for change in changes:
        for rule in enabled:
            if change.kind not in rule.kinds:
                continue
            for summary in rule.check(change, facts):
                finding = DriftFinding(
                    kind=change.kind,
                    namespace=change.namespace,
                    name=change.name,
                    rule=rule.id,
                    severity=rule.severity,
                    summary=summary,
                )
                if not any(entry.matches(finding) for entry in policy.allow):
                    found.append(finding)
    return sorted(found, key=lambda f: (f.rule, f.kind, f.namespace or "", f.name, f.summary))
