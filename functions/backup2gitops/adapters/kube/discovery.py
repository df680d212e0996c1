"""Kubernetes API adapter, discovery: what the server serves that can be backed up.

Choices, and where they come from:
- Discovery asks for aggregated discovery (apidiscovery.k8s.io/v2) on /api and /apis, with the
  legacy form as fallback in the same Accept header, as client-go does
  (client-go discovery/discovery_client.go `acceptDiscoveryFormats`); the server's Content-Type
  says which one it answered with. A legacy answer is walked group-version by group-version.
- The preferred version of each resource follows client-go's `ServerPreferredResources`: within a
  group, the first version (in the server's order) that serves a resource wins, unless the
  group's preferred version serves it too.
- A group-version that fails (an aggregated API answering 503, or marked `freshness: Stale`) is
  left out with a warning, as client-go's `ErrGroupDiscoveryFailed` partial result.
- Resources kept: verbs include `list` and `get`; subresources (`pods/log`) dropped.
- Resources served by two groups ("cohabitating": events in core and events.k8s.io, deployments
  in extensions and apps, ...) are kept once, from the group discovered first, with core first and
  `extensions` last: Velero's `cohabitatingResources` (pkg/backup/backup.go), applied in
  pkg/backup/item_collector.go, over its discovery helper's order (pkg/discovery/helper.go
  `sortResources` moves extensions to the end). So events come from core v1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the kubernetes client (~0.3 s to import) is loaded by the first client made
    from kubernetes.client import ApiClient
from backup2gitops.adapters.kube.client import (
    ACCEPT_AGGREGATED_V2,
    ACCEPT_JSON,
    KubeError,
    get,
    is_aggregated,
)

#: resource -> the groups that serve the same objects (Velero pkg/backup/backup.go)
_COHABITATING: dict[str, frozenset[str]] = {
    "deployments": frozenset({"extensions", "apps"}),
    "daemonsets": frozenset({"extensions", "apps"}),
    "replicasets": frozenset({"extensions", "apps"}),
    "networkpolicies": frozenset({"extensions", "networking.k8s.io"}),
    "events": frozenset({"", "events.k8s.io"}),
}


@dataclass(frozen=True)
class ApiResource:
    """A listable resource at its preferred version."""

    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool

    @property
    def group_resource(self) -> str:
        """Velero's form: `deployments.apps`, `configmaps` (core has no suffix)."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


@dataclass(frozen=True)
class Discovery:
    """What the server serves that can be backed up, and what could not be discovered."""

    resources: list[ApiResource]
    warnings: list[str] = field(default_factory=list)
    server_version: str = ""
    #: "aggregated", "legacy" or "mixed": which discovery form(s) the server answered with
    form: str = "legacy"


# -- discovery -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """One resource of one group-version, as either discovery form reports it."""

    name: str
    kind: str
    namespaced: bool
    verbs: frozenset[str]


@dataclass
class _Group:
    name: str
    preferred: str
    #: version -> entries, in the server's order of preference
    versions: dict[str, list[_Entry]] = field(default_factory=dict)


def _aggregated_groups(document: dict[str, Any], warnings: list[str]) -> list[_Group]:
    """Groups from an APIGroupDiscoveryList; Stale group-versions become warnings."""
    groups: list[_Group] = []
    for item in document.get("items") or []:
        name = str((item.get("metadata") or {}).get("name") or "")
        versions = item.get("versions") or []
        if not versions:
            continue
        group = _Group(name, str(versions[0]["version"]))
        for version in versions:
            gv = _gv(name, str(version["version"]))
            if version.get("freshness") == "Stale":
                warnings.append(f"{gv}: discovery is stale (aggregated API unavailable); skipped")
                continue
            entries: list[_Entry] = []
            for res in version.get("resources") or []:
                kind = (res.get("responseKind") or {}).get("kind")
                if not kind:  # an APIService that reports only subresources
                    continue
                entries.append(
                    _Entry(
                        str(res["resource"]),
                        str(kind),
                        res.get("scope") == "Namespaced",
                        frozenset(res.get("verbs") or ()),
                    )
                )
            group.versions[str(version["version"])] = entries
        groups.append(group)
    return groups


def _legacy_entries(document: dict[str, Any]) -> list[_Entry]:
    return [
        _Entry(
            str(res["name"]),
            str(res.get("kind") or ""),
            bool(res.get("namespaced")),
            frozenset(res.get("verbs") or ()),
        )
        for res in document.get("resources") or []
    ]


def _legacy_group_version(
    api: ApiClient, *, group: str, version: str, warnings: list[str]
) -> list[_Entry] | None:
    path = f"/apis/{group}/{version}" if group else f"/api/{version}"
    try:
        response = get(api, path)
        if response.status != 200:
            raise response.error(path)
    except KubeError as exc:
        warnings.append(f"{_gv(group, version)}: discovery failed, skipped: {exc}")
        return None
    return _legacy_entries(response.json())


def _legacy_core(api: ApiClient, document: dict[str, Any], *, warnings: list[str]) -> list[_Group]:
    versions = [str(v) for v in document.get("versions") or []]
    if not versions:
        return []
    group = _Group("", versions[0])
    for version in versions:
        entries = _legacy_group_version(api, group="", version=version, warnings=warnings)
        if entries is not None:
            group.versions[version] = entries
    return [group]


def _legacy_named(api: ApiClient, document: dict[str, Any], *, warnings: list[str]) -> list[_Group]:
    groups: list[_Group] = []
    for item in document.get("groups") or []:
        versions = [str(v["version"]) for v in item.get("versions") or []]
        preferred = str((item.get("preferredVersion") or {}).get("version") or "")
        group = _Group(str(item["name"]), preferred or (versions[0] if versions else ""))
        for version in versions:
            entries = _legacy_group_version(
                api, group=group.name, version=version, warnings=warnings
            )
            if entries is not None:
                group.versions[version] = entries
        groups.append(group)
    return groups


def _discover_root(
    api: ApiClient, root: str, *, aggregated: bool, warnings: list[str]
) -> tuple[list[_Group], str]:
    """Groups under /api or /apis, and the form the server answered in."""
    accept = f"{ACCEPT_AGGREGATED_V2},{ACCEPT_JSON}" if aggregated else ACCEPT_JSON
    response = get(api, root, accept=accept)
    if response.status != 200:
        raise response.error(f"discovery {root}")
    document = response.json()
    if is_aggregated(response.content_type):
        return _aggregated_groups(document, warnings), "aggregated"
    if root == "/api":
        return _legacy_core(api, document, warnings=warnings), "legacy"
    return _legacy_named(api, document, warnings=warnings), "legacy"


def _preferred(group: _Group) -> list[tuple[str, _Entry]]:
    """(version, entry) per resource: client-go ServerPreferredResources' rule."""
    chosen: dict[str, tuple[str, _Entry]] = {}
    for version, entries in group.versions.items():
        for entry in entries:
            if "/" in entry.name:
                continue
            if entry.name in chosen and version != group.preferred:
                continue
            chosen[entry.name] = (version, entry)
    return list(chosen.values())


def _gv(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def _server_version(api: ApiClient, warnings: list[str]) -> str:
    try:
        response = get(api, "/version")
    except KubeError as exc:
        warnings.append(f"/version: {exc.message}")
        return ""
    if response.status != 200:
        warnings.append(response.error("/version").message)
        return ""
    return str(response.json().get("gitVersion") or "")


def discover(api: ApiClient, *, aggregated: bool = True) -> Discovery:
    """The resources that can be listed and read, at their preferred versions.

    `aggregated=False` forces the legacy per-group walk. Raises KubeError when /api or /apis
    themselves fail; a failing group-version is a warning.
    """
    warnings: list[str] = []
    server_version = _server_version(api, warnings)
    core, core_form = _discover_root(api, "/api", aggregated=aggregated, warnings=warnings)
    named, named_form = _discover_root(api, "/apis", aggregated=aggregated, warnings=warnings)
    # Velero's discovery order: core, then the server's group order with extensions last.
    named.sort(key=lambda g: g.name == "extensions")
    resources: list[ApiResource] = []
    seen_cohabitating: set[str] = set()
    for group in [*core, *named]:
        for version, entry in _preferred(group):
            if not {"list", "get"} <= entry.verbs:
                continue
            cohabitants = _COHABITATING.get(entry.name)
            if cohabitants is not None and group.name in cohabitants:
                if entry.name in seen_cohabitating:
                    continue
                seen_cohabitating.add(entry.name)
            resources.append(
                ApiResource(group.name, version, entry.name, entry.kind, entry.namespaced)
            )
    form = core_form if core_form == named_form else "mixed"
    return Discovery(resources, warnings, server_version, form)
