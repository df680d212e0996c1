"""Kubernetes API adapter: connect, discover what can be backed up, list objects page by page.

The only module that imports `kubernetes`. It uses the client's REST layer
(`ApiClient.param_serialize` + `ApiClient.call_api`, the v37 equivalent of
`_preload_content=False`) and decodes bodies itself with `json.loads`: objects stay raw JSON
dicts, exactly as the API server sent them, with no model round trip.

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
- An expired continue token (410 Gone) restarts that resource's list from the start, at most
  `MAX_LIST_RESTARTS` times, skipping uids already yielded (a consistent list again, rather than
  the inconsistent remainder the 410 offers).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from backup2gitops.core import errors

if TYPE_CHECKING:  # the kubernetes client (~0.3 s to import) is loaded by the first client made
    from kubernetes.client import ApiClient

__all__ = [
    "MAX_LIST_RESTARTS",
    "ApiClient",
    "ApiResource",
    "Discovery",
    "KubeError",
    "api_client_from",
    "discover",
    "iter_objects",
    "readyz",
]


def __getattr__(name: str) -> Any:
    """``kube.ApiClient``: the SDK's client class, imported when first asked for."""
    if name == "ApiClient":
        from kubernetes.client import ApiClient

        return ApiClient
    raise AttributeError(name)


ACCEPT_JSON = "application/json"
ACCEPT_AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
MAX_LIST_RESTARTS = 3
#: (connect, read) seconds for one request
REQUEST_TIMEOUT = (10.0, 120.0)

#: resource -> the groups that serve the same objects (Velero pkg/backup/backup.go)
_COHABITATING: dict[str, frozenset[str]] = {
    "deployments": frozenset({"extensions", "apps"}),
    "daemonsets": frozenset({"extensions", "apps"}),
    "replicasets": frozenset({"extensions", "apps"}),
    "networkpolicies": frozenset({"extensions", "networking.k8s.io"}),
    "events": frozenset({"", "events.k8s.io"}),
}
_RETRYABLE = frozenset({0, 408, 410, 429, 500, 502, 503, 504})


class KubeError(errors.Backup2GitopsError):
    """A Kubernetes API call failed. ``status`` is the HTTP status, 0 when no response came;
    ``code`` the catalog code (``kube_unreachable``, ``kube_forbidden``, ...)."""

    def __init__(self, status: int, message: str, *, retryable: bool) -> None:
        super().__init__(
            message, code=_kube_code(status, message, retryable), permanent=not retryable
        )
        self.args = (f"{status}: {message}" if status else message,)
        self.status = status


#: how kube-apiserver names the user of a request that carried no credentials
#: (staging/src/k8s.io/apiserver/pkg/authentication/user/user.go ``Anonymous``), in the message
#: of its 403 (``forbidden: User "system:anonymous" cannot get path "/api"``)
ANONYMOUS_USER = '"system:anonymous"'


def _kube_code(status: int, message: str, retryable: bool) -> str:
    """The catalog code: what to fix, not only the status.

    A real API server answers a credential it rejects with 401, and a request with no
    credential at all with 403 (it authenticates it as ``system:anonymous`` and RBAC refuses).
    Both are a credentials problem (``kube_unauthorized``); ``kube_forbidden`` is a known
    identity missing a permission, and the message names the verb and resource.
    """
    if status == 0:
        return "kube_unreachable" if retryable else "kube_config_invalid"
    if status == 403 and ANONYMOUS_USER in message:
        return "kube_unauthorized"
    return {401: "kube_unauthorized", 403: "kube_forbidden", 410: "kube_list_expired"}.get(
        status, "kube_error"
    )


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


# -- connecting ------------------------------------------------------------------------------


def api_client_from(
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    in_cluster: bool | None = None,
) -> ApiClient:
    """An ApiClient from the pod's service account or from a kubeconfig.

    `in_cluster=None` means: the service account when `KUBERNETES_SERVICE_HOST` is set and no
    kubeconfig was named explicitly; the kubeconfig (`$KUBECONFIG` or ~/.kube/config) otherwise.
    """
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.config.config_exception import ConfigException

    if in_cluster is None:
        in_cluster = "KUBERNETES_SERVICE_HOST" in os.environ and kubeconfig is None
    configuration = k8s_client.Configuration()
    try:
        if in_cluster:
            k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
        else:
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                # $KUBECONFIG read now: the client reads it once, at import
                config_file=kubeconfig or os.environ.get("KUBECONFIG") or None,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
    except (ConfigException, OSError) as exc:
        source = "in-cluster service account" if in_cluster else f"kubeconfig {kubeconfig or ''}"
        raise KubeError(0, f"cannot load {source.strip()}: {exc}", retryable=False) from exc
    return k8s_client.ApiClient(configuration=configuration)


# -- HTTP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Response:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def error(self, what: str) -> KubeError:
        """A KubeError with the message of the server's `Status` body, or its text."""
        message = self.body.decode("utf-8", "replace").strip()
        try:
            decoded = json.loads(self.body)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict) and decoded.get("kind") == "Status":
            message = str(decoded.get("message") or decoded.get("reason") or message)
        return KubeError(
            self.status, f"{what}: {message or 'no body'}", retryable=self.status in _RETRYABLE
        )


def _get(
    api: ApiClient,
    path: str,
    *,
    query: Sequence[tuple[str, str | int]] = (),
    accept: str = ACCEPT_JSON,
) -> _Response:
    """GET `path` through the client's REST layer (auth, TLS, proxy from its Configuration)."""
    import urllib3
    from kubernetes.client.exceptions import ApiException

    method, url, headers, body, post_params = api.param_serialize(
        method="GET",
        resource_path=path,
        query_params=list(query) or None,
        header_params={"Accept": accept},
        auth_settings=["BearerToken"],
    )
    try:
        response = api.call_api(
            method,
            url,
            header_params=headers,
            body=body,
            post_params=post_params,
            _request_timeout=REQUEST_TIMEOUT,
        )
        data: bytes = response.read()  # type: ignore[no-untyped-call]
    except ApiException as exc:
        raise KubeError(exc.status or 0, f"GET {path}: {exc.reason}", retryable=True) from exc
    except urllib3.exceptions.HTTPError as exc:
        raise KubeError(0, f"GET {path}: {exc}", retryable=True) from exc
    content_type = str(response.headers.get("Content-Type") or "")
    return _Response(int(response.status), content_type, data)


def _is_aggregated(content_type: str) -> bool:
    params = {
        key.strip(): value.strip()
        for key, _, value in (p.partition("=") for p in content_type.split(";")[1:])
    }
    return (params.get("g"), params.get("v"), params.get("as")) == (
        "apidiscovery.k8s.io",
        "v2",
        "APIGroupDiscoveryList",
    )


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
        response = _get(api, path)
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
    response = _get(api, root, accept=accept)
    if response.status != 200:
        raise response.error(f"discovery {root}")
    document = response.json()
    if _is_aggregated(response.content_type):
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
        response = _get(api, "/version")
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


# -- listing ---------------------------------------------------------------------------------


def _collection_paths(resource: ApiResource, namespaces: Sequence[str] | None) -> list[str]:
    group, version = resource.group, resource.version
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    if resource.namespaced and namespaces is not None:
        return [f"{prefix}/namespaces/{ns}/{resource.resource}" for ns in namespaces]
    return [f"{prefix}/{resource.resource}"]


def _iter_collection(
    api: ApiClient,
    resource: ApiResource,
    *,
    path: str,
    page_size: int,
    label_selector: str | None = None,
) -> Iterator[dict[str, Any]]:
    """One collection, page by page; a 410 on a continue token restarts it."""
    yielded: set[str] = set()
    restarts = 0
    token: str | None = None
    while True:
        query: list[tuple[str, str | int]] = [("limit", page_size)]
        if label_selector:
            query.append(("labelSelector", label_selector))
        if token:
            query.append(("continue", token))
        response = _get(api, path, query=query)
        if response.status == 410 and token:
            restarts += 1
            if restarts > MAX_LIST_RESTARTS:
                raise response.error(f"list {path} (after {MAX_LIST_RESTARTS} restarts)")
            token = None  # start over: a new consistent snapshot
            continue
        if response.status != 200:
            raise response.error(f"list {path}")
        page = json.loads(response.body)
        for item in page.get("items") or ():
            uid = (item.get("metadata") or {}).get("uid")
            if uid is not None:
                if uid in yielded:
                    continue
                yielded.add(uid)
            item["apiVersion"] = resource.api_version
            item["kind"] = resource.kind
            yield item
        token = (page.get("metadata") or {}).get("continue") or None
        if token is None:
            return


def iter_objects(
    api: ApiClient,
    resource: ApiResource,
    *,
    page_size: int = 500,
    namespaces: Sequence[str] | None = None,
    label_selector: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Every object of `resource` (in `namespaces`, or all), one page in memory at a time.

    ``label_selector`` (kubectl syntax) is sent to the API server, which filters before paging.

    Items come back as the server sent them, plus `apiVersion` and `kind` (list items omit
    them). Raises KubeError on any failure but an expired continue token.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    for path in _collection_paths(resource, namespaces):
        yield from _iter_collection(
            api, resource, path=path, page_size=page_size, label_selector=label_selector
        )


# -- health ----------------------------------------------------------------------------------


def readyz(api: ApiClient) -> tuple[bool, str]:
    """(ready, message) from the API server's /readyz."""
    try:
        response = _get(api, "/readyz", accept="text/plain, */*")
    except KubeError as exc:
        return False, exc.message
    text = response.body.decode("utf-8", "replace").strip()
    return response.status == 200, text or f"HTTP {response.status}"
