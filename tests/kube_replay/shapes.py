"""The JSON bodies a real kube-apiserver returns, built from the catalogue.

Pure: no I/O. Each builder names the Go type it mirrors; README.md says where each shape was
checked (kubernetes/kubernetes source and client-go test data).
"""

from __future__ import annotations

from typing import Any

from tests.kube_replay.catalogue import GroupSpec, ResourceSpec, storage_version_hash

JSON = dict[str, Any]

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

#: etcd3 storage's message for an expired continue token that comes with an inconsistent one
#: (staging/src/k8s.io/apiserver/pkg/storage/etcd3/errors.go, `inconsistentContinue`).
INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter, or use the continue token in "
    "this response to retrieve the remainder of the results. Continuing with the provided "
    "token results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list."
)


def group_version(group: str, version: str) -> str:
    return version if group == "" else f"{group}/{version}"


def version_info(git_version: str) -> JSON:
    """`version.Info` (staging/src/k8s.io/apimachinery/pkg/version/types.go), GET /version."""
    major, minor = git_version.lstrip("v").split(".")[:2]
    return {
        "major": major,
        "minor": minor,
        "emulationMajor": major,
        "emulationMinor": minor,
        "minCompatibilityMajor": major,
        "minCompatibilityMinor": str(max(int(minor) - 1, 0)),
        "gitVersion": git_version,
        "gitCommit": "0" * 40,
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.4",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions() -> JSON:
    """`metav1.APIVersions`, GET /api (legacy discovery)."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "172.18.0.2:6443"}
        ],
    }


def _gv_for_discovery(group: str, version: str) -> JSON:
    return {"groupVersion": group_version(group, version), "version": version}


def api_group_list(groups: list[GroupSpec]) -> JSON:
    """`metav1.APIGroupList`, GET /apis (legacy discovery). Versions preferred first."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": g.name,
                "versions": [_gv_for_discovery(g.name, v) for v in g.versions],
                "preferredVersion": _gv_for_discovery(g.name, g.versions[0]),
            }
            for g in groups
        ],
    }


def _legacy_resource(group: str, version: str, spec: ResourceSpec) -> list[JSON]:
    """One `metav1.APIResource` and one per subresource (named `<resource>/<sub>`)."""
    entry: JSON = {
        "name": spec.resource,
        "singularName": spec.singular,
        "namespaced": spec.namespaced,
        "kind": spec.kind,
        "verbs": list(spec.verbs),
    }
    if spec.short_names:
        entry["shortNames"] = list(spec.short_names)
    if spec.categories:
        entry["categories"] = list(spec.categories)
    if spec.storage_version is not None:
        stored = spec.storage_version or version
        entry["storageVersionHash"] = storage_version_hash(group, stored, spec.kind)
    entries = [entry]
    for sub in spec.subresources:
        sub_entry: JSON = {
            "name": f"{spec.resource}/{sub.name}",
            "singularName": "",
            "namespaced": spec.namespaced,
        }
        if sub.response_kind is not None:
            sub_group, sub_version, sub_kind = sub.response_kind
            if (sub_group, sub_version) != (group, version):
                sub_entry["group"] = sub_group
                sub_entry["version"] = sub_version
            sub_entry["kind"] = sub_kind
        else:
            sub_entry["kind"] = spec.kind
        sub_entry["verbs"] = list(sub.verbs)
        entries.append(sub_entry)
    return entries


def api_resource_list(group: GroupSpec, version: str) -> JSON:
    """`metav1.APIResourceList`, GET /api/v1 or /apis/<group>/<version> (legacy discovery).

    /api/v1 carries no apiVersion; /apis/<g>/<v> carries "apiVersion": "v1", as a real server.
    """
    body: JSON = {"kind": "APIResourceList"}
    if group.name != "":
        body["apiVersion"] = "v1"
    body["groupVersion"] = group_version(group.name, version)
    body["resources"] = [
        e for spec in group.served_in(version) for e in _legacy_resource(group.name, version, spec)
    ]
    return body


def _gvk(gvk: tuple[str, str, str]) -> JSON:
    return {"group": gvk[0], "version": gvk[1], "kind": gvk[2]}


def _aggregated_resource(group: str, version: str, spec: ResourceSpec) -> JSON:
    """`apidiscovery.APIResourceDiscovery` (staging/src/k8s.io/api/apidiscovery/v2/types.go)."""
    entry: JSON = {
        "resource": spec.resource,
        "responseKind": _gvk((group, version, spec.kind)),
        "scope": "Namespaced" if spec.namespaced else "Cluster",
        "singularResource": spec.singular,
        "verbs": list(spec.verbs),
    }
    if spec.short_names:
        entry["shortNames"] = list(spec.short_names)
    if spec.categories:
        entry["categories"] = list(spec.categories)
    if spec.subresources:
        subs: list[JSON] = []
        for sub in spec.subresources:
            sub_entry: JSON = {"subresource": sub.name}
            if sub.response_kind is not None:
                sub_entry["responseKind"] = _gvk(sub.response_kind)
            sub_entry["verbs"] = list(sub.verbs)
            subs.append(sub_entry)
        entry["subresources"] = subs
    return entry


def aggregated_discovery(groups: list[GroupSpec], *, stale: frozenset[str]) -> JSON:
    """`apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`, GET /api or /apis with the v2 Accept.

    A group in `stale` (an aggregated API whose backend is down) keeps its last known resources
    and is marked `"freshness": "Stale"`, as kube-aggregator's discovery aggregator does.
    """
    items: list[JSON] = []
    for g in groups:
        versions: list[JSON] = []
        for v in g.versions:
            vd: JSON = {
                "version": v,
                "resources": [_aggregated_resource(g.name, v, s) for s in g.served_in(v)],
                "freshness": "Stale" if g.name in stale else "Current",
            }
            versions.append(vd)
        metadata = {"name": g.name, "creationTimestamp": None}
        items.append({"metadata": metadata, "versions": versions})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


def status(
    code: int,
    reason: str,
    message: str,
    *,
    continue_token: str | None = None,
    details: JSON | None = None,
) -> JSON:
    """`metav1.Status` for a failure (staging/src/k8s.io/apimachinery/pkg/api/errors/errors.go)."""
    body: JSON = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {} if continue_token is None else {"continue": continue_token},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def not_found() -> JSON:
    """What an unknown path answers (errors.NewGenericServerResponse for 404)."""
    return status(404, "NotFound", "the server could not find the requested resource", details={})
