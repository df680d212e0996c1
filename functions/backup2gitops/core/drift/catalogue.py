"""The drift checks: what each rule inspects in an ``ObjectChange`` (RBAC, admission webhooks, CRDs,
namespaces, pod security, workloads, credentials in clear). Pure; each yields one summary per finding.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from backup2gitops.core.drift.changes import (
    ESCALATION_VERBS,
    PSA_ENFORCE,
    PSA_LEVELS,
    WORKLOADS,
    Facts,
    Obj,
    ObjectChange,
    RoleKey,
)

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


def cluster_admin_binding(change: ObjectChange, facts: Facts) -> Iterator[str]:
    who = granted(change)
    if change.after is not None and who and _is_cluster_admin(change):
        yield _grant_summary(change, who, "every verb on every resource")


def wildcard_binding(change: ObjectChange, facts: Facts) -> Iterator[str]:
    who = granted(change)
    role = _binding_target(change, facts)
    wild = _wildcards(role)
    if change.after is not None and who and wild and not _is_cluster_admin(change):
        yield _grant_summary(change, who, ", ".join(sorted(wild)))


def escalation_binding(change: ObjectChange, facts: Facts) -> Iterator[str]:
    who = granted(change)
    verbs = _escalation_verbs(_binding_target(change, facts))
    if change.after is not None and who and verbs and not _is_cluster_admin(change):
        yield _grant_summary(change, who, "verbs " + ", ".join(sorted(verbs)))


def new_subjects(change: ObjectChange, facts: Facts) -> Iterator[str]:
    """An existing binding of an ordinary role gains subjects (powerful roles: the rules above)."""
    if change.before is None or change.after is None or _is_cluster_admin(change):
        return
    role = _binding_target(change, facts)
    if _wildcards(role) or _escalation_verbs(role):
        return
    who = granted(change)
    if who:
        yield _grant_summary(change, who, "new subjects")


def wildcard_role(change: ObjectChange, facts: Facts) -> Iterator[str]:
    gained = _wildcards(change.after) - _wildcards(change.before)
    if change.after is not None and gained:
        yield f"{change.kind} {change.name} now allows {', '.join(sorted(gained))}"


def escalation_role(change: ObjectChange, facts: Facts) -> Iterator[str]:
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


def webhook_external(change: ObjectChange, facts: Facts) -> Iterator[str]:
    urls, _ = _endpoints(change.after)
    if change.after is None or not urls or _webhooks(change.before) == _webhooks(change.after):
        return
    verb = "added" if change.before is None else "changed"
    yield f"{change.kind} {change.name} {verb}: posts objects to {', '.join(urls)}"


def webhook_changed(change: ObjectChange, facts: Facts) -> Iterator[str]:
    if change.after is None:
        urls, services = _endpoints(change.before)
        yield f"{change.kind} {change.name} removed (it called {', '.join(urls + services)})"
        return
    urls, services = _endpoints(change.after)
    if urls or _webhooks(change.before) == _webhooks(change.after):
        return  # a URL is the external rule's
    verb = "added" if change.before is None else "changed"
    yield f"{change.kind} {change.name} {verb}: calls {', '.join(services) or 'no endpoint'}"


def crd_added(change: ObjectChange, facts: Facts) -> Iterator[str]:
    if change.before is None and change.after is not None:
        yield f"CustomResourceDefinition {change.name} added (a new API in the cluster)"


def crd_removed(change: ObjectChange, facts: Facts) -> Iterator[str]:
    if change.after is None:
        yield f"CustomResourceDefinition {change.name} removed (with every object of its kind)"


def namespace_deleted(change: ObjectChange, facts: Facts) -> Iterator[str]:
    if change.after is None:
        yield f"Namespace {change.name} deleted (with everything in it)"


def _enforce(namespace: Obj | None) -> str:
    labels = (namespace or {}).get("metadata", {}).get("labels") or {}
    return str(labels.get(PSA_ENFORCE, "privileged"))


def pod_security_relaxed(change: ObjectChange, facts: Facts) -> Iterator[str]:
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


def privileged_workload(change: ObjectChange, facts: Facts) -> Iterator[str]:
    new = _privileged(change.after) - _privileged(change.before)
    if new:
        yield f"{change.kind} {change.name}: privileged container(s) {', '.join(sorted(new))}"


def hostpath_workload(change: ObjectChange, facts: Facts) -> Iterator[str]:
    new = _host_paths(change.after) - _host_paths(change.before)
    if new:
        yield f"{change.kind} {change.name}: hostPath volume(s) {', '.join(sorted(new))}"


# --- credentials outside Secrets ----------------------------------------------------------


class CredentialPatterns(NamedTuple):
    """The credential scan's patterns, compiled when it first runs (``credential_patterns``): a
    run that decodes no object (an unchanged backup's) scans nothing."""

    name: re.Pattern[str]
    """Names whose literal value is a credential (``DB_PASSWORD``, ``API_TOKEN``,
    ``client_secret``)..."""
    not_name: re.Pattern[str]
    """...unless the name says the value is where or what the credential is, not the
    credential."""
    not_value: re.Pattern[str]
    """Values that are no credential whatever their name (a boolean, a number)."""
    content: tuple[tuple[str, re.Pattern[str]], ...]
    """What a value holds that is a credential whatever its name (secret scanners' usual
    patterns), each with what it is."""


@functools.cache
def credential_patterns() -> CredentialPatterns:
    return CredentialPatterns(
        name=re.compile(
            r"passw(or)?d|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"
            r"|credential",
            re.IGNORECASE,
        ),
        not_name=re.compile(
            r"(_|-|\b)(file|path|name|ref|key_?id|ttl|expir\w*|length|enabled|type|kind)$",
            re.IGNORECASE,
        ),
        not_value=re.compile(r"true|false|yes|no|on|off|null|none|-?[0-9.]+", re.IGNORECASE),
        content=(
            ("a PEM private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")),
            ("an AWS access key id", re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")),
            ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b")),
            ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
            (
                "a password in a URL",
                re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE),
            ),
            (
                "a credential-like setting",
                re.compile(
                    r"^\s*[\w.-]*(passw(or)?d|secret|token|api[_-]?key|access[_-]?key)[\w.-]*\s*[:=]"
                    r"\s*[\"']?[^\s\"'$]{6,}",
                    re.IGNORECASE | re.MULTILINE,
                ),
            ),
        ),
    )


def _credential_in(name: str, value: object) -> str | None:
    """What credential the literal ``value`` (under ``name``) looks like; never the value."""
    if not isinstance(value, str) or not value.strip():
        return None
    patterns = credential_patterns()
    if _may_match_a_pattern(value):
        for what, pattern in patterns.content:
            if pattern.search(value):
                return what
    if (
        patterns.name.search(name)
        and not patterns.not_name.search(name)
        and not patterns.not_value.fullmatch(value.strip())
    ):
        return "a credential-like literal"
    return None


def _may_match_a_pattern(value: str) -> bool:
    """False only when no pattern of ``CredentialPatterns.content`` can match ``value``: each needs a
    literal part, and the case-insensitive ones' is in the lower case of an ASCII text (for
    other text, Unicode's case rules decide: the patterns are asked)."""
    if "-----BEGIN " in value or "AKIA" in value or "ASIA" in value or "gh" in value:
        return True
    if "xox" in value or "://" in value or not value.isascii():
        return True
    folded = value.lower()
    return (
        "passw" in folded
        or "secret" in folded
        or "token" in folded
        or "api" in folded
        or "access" in folded
    )


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


def new_credential_in_clear(change: ObjectChange, facts: Facts) -> Iterator[str]:
    new = credentials_in_clear(change.after) - credentials_in_clear(change.before)
    for place in sorted(new):
        yield f"{change.kind} {change.name}: {place} (put it in a Secret)"
