"""The state a replay server serves: an API surface, stored objects, injected failures.

No I/O here; `server.py` turns requests into calls on a `ReplayCluster`.
"""

from __future__ import annotations

import base64
import bisect
import json
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from backup2gitops.core.cleaning.selector import parse_selector
from tests.kube_replay.catalogue import GroupSpec, ResourceSpec, default_surface

JSON = dict[str, Any]


@dataclass(frozen=True)
class ExpireToken:
    """Answer `410 Gone` to the continue token that resumes `resource` after `after` items.

    `resource` is the plural in the URL (`configmaps`); `after` counts items from the start of
    the list being paged (the whole cluster, or one namespace). The token expires `times` times
    (once by default: a retry gets through).
    """

    resource: str
    after: int
    times: int = 1


@dataclass(frozen=True)
class FailList:
    """Answer `code` to the list page of `resource` that starts after `after` items.

    `after=0` fails the first page; a larger value fails a continue request, mid-list. Fails
    every time (`times=None`) or `times` times.
    """

    resource: str
    after: int = 0
    code: int = 500
    times: int | None = None


class ListFailedError(Exception):
    """An injected list failure (FailList)."""

    def __init__(self, rule: FailList) -> None:
        super().__init__(f"injected {rule.code} for {rule.resource}")
        self.rule = rule


@dataclass
class _Stored:
    """The objects of one storage key, sorted by etcd key (`<ns>/<name>` or `<name>`)."""

    keys: list[str] = field(default_factory=list)
    items: list[bytes] = field(default_factory=list)  # JSON, without apiVersion / kind


@dataclass(frozen=True)
class Page:
    """One page of a list: pre-encoded items and the list metadata."""

    items: list[bytes]
    resource_version: str
    continue_token: str | None
    remaining: int | None


class ContinueExpiredError(Exception):
    """The continue token is too old (the replay of etcd compaction)."""

    def __init__(self, inconsistent_token: str) -> None:
        super().__init__("continue token expired")
        self.inconsistent_token = inconsistent_token


class ReplayCluster:
    """A cluster fixture: what discovery reports, what lists return, which failures to inject."""

    def __init__(
        self,
        *,
        objects: Iterable[JSON] = (),
        surface: Sequence[GroupSpec] | None = None,
        broken_groups: Iterable[str] = (),
        expire_tokens: Iterable[ExpireToken] = (),
        fail_lists: Iterable[FailList] = (),
        aggregated_discovery: bool = True,
        git_version: str = "v1.31.4",
        token: str | None = None,
        ready: bool = True,
    ) -> None:
        self.surface: tuple[GroupSpec, ...] = tuple(surface or default_surface())
        self.broken_groups = frozenset(broken_groups)
        self.aggregated_discovery = aggregated_discovery
        self.git_version = git_version
        self.token = token
        self.ready = ready
        self.resource_version = 1000
        self.requests: list[
            tuple[str, str, dict[str, str]]
        ] = []  # (method, path?query, lower-cased headers)
        self.expired_sent: list[ExpireToken] = []
        self._pending_expiry: dict[tuple[str, int], list[Any]] = {
            (r.resource, r.after): [r, r.times] for r in expire_tokens
        }
        self._failing: dict[tuple[str, int], list[Any]] = {
            (r.resource, r.after): [r, r.times] for r in fail_lists
        }
        self.failures_sent: list[FailList] = []
        self._lock = threading.Lock()
        self._stored: dict[tuple[str, str], _Stored] = {}
        self._add(objects)

    # -- discovery -------------------------------------------------------------------------

    @property
    def core(self) -> GroupSpec:
        return next(g for g in self.surface if g.name == "")

    @property
    def named_groups(self) -> list[GroupSpec]:
        return [g for g in self.surface if g.name != ""]

    def group(self, name: str) -> GroupSpec | None:
        return next((g for g in self.surface if g.name == name), None)

    def lookup(self, group: str, version: str, resource: str) -> ResourceSpec | None:
        spec = self.group(group)
        if spec is None or version not in spec.versions:
            return None
        return next((r for r in spec.served_in(version) if r.resource == resource), None)

    # -- objects ---------------------------------------------------------------------------

    def _storage_key(self, api_version: str, kind: str) -> tuple[str, str]:
        group = api_version.rpartition("/")[0]
        spec = self.group(group)
        res = next((r for r in spec.resources if r.kind == kind), None) if spec else None
        if res is None:
            raise ValueError(f"{api_version} {kind} is not in the replay API surface")
        return res.shares_storage_with or (group, res.resource)

    def _add(self, objects: Iterable[JSON]) -> None:
        rows: dict[tuple[str, str], list[tuple[str, bytes]]] = {}
        for obj in objects:
            key = self._storage_key(obj["apiVersion"], obj["kind"])
            meta = obj["metadata"]
            name = meta["name"]
            etcd_key = f"{meta['namespace']}/{name}" if "namespace" in meta else name
            body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
            rows.setdefault(key, []).append((etcd_key, json.dumps(body).encode()))
        for key, entries in rows.items():
            entries.sort()
            self._stored[key] = _Stored([k for k, _ in entries], [b for _, b in entries])

    def count(self, spec: ResourceSpec, group: str) -> int:
        key = spec.shares_storage_with or (group, spec.resource)
        return len(self._stored.get(key, _Stored()).keys)

    def page(
        self,
        *,
        group: str,
        spec: ResourceSpec,
        namespace: str | None,
        limit: int | None,
        continue_token: str | None,
        label_selector: str | None = None,
    ) -> Page:
        """A page of a list, as etcd3 storage pages: by key, `limit` items, a continue token.

        With a label selector the server filters before counting `limit` (as the apiserver's
        storage does) and reports no remainingItemCount."""
        stored = self._stored.get(spec.shares_storage_with or (group, spec.resource), _Stored())
        lo, hi = 0, len(stored.keys)
        if namespace is not None and spec.namespaced:
            lo = bisect.bisect_left(stored.keys, namespace + "/")
            hi = bisect.bisect_left(stored.keys, namespace + "0")  # "0" sorts right after "/"
        start = lo
        if continue_token:
            _rv, start_key = _decode_continue(continue_token)
            start = max(lo, bisect.bisect_left(stored.keys, start_key, lo, hi))
        with self._lock:
            failing = self._failing.get((spec.resource, start - lo))
            if failing is not None and (failing[1] is None or failing[1] > 0):
                if failing[1] is not None:
                    failing[1] -= 1
                self.failures_sent.append(failing[0])
                raise ListFailedError(failing[0])
        if continue_token:
            with self._lock:
                pending = self._pending_expiry.get((spec.resource, start - lo))
                if pending is not None and pending[1] > 0:
                    pending[1] -= 1
                    self.expired_sent.append(pending[0])
                    raise ContinueExpiredError(_encode_continue(-1, start_key))
        if label_selector:
            selector = parse_selector(label_selector)
            picked: list[bytes] = []
            index = start
            while index < hi and (not limit or len(picked) < limit):
                labels = (json.loads(stored.items[index]).get("metadata") or {}).get("labels")
                if selector.matches(labels or {}):
                    picked.append(stored.items[index])
                index += 1
            more = index < hi
            token = (
                _encode_continue(self.resource_version, stored.keys[index - 1] + "\x00")
                if more
                else None
            )
            return Page(picked, str(self.resource_version), token, None)
        end = hi if not limit else min(hi, start + limit)
        token = None
        remaining = None
        if end < hi:
            token = _encode_continue(self.resource_version, stored.keys[end - 1] + "\x00")
            remaining = hi - end
        return Page(stored.items[start:end], str(self.resource_version), token, remaining)

    def log(self, method: str, target: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append((method, target, headers))


def _encode_continue(rv: int, start: str) -> str:
    """etcd3's continue token: base64 of {"v": "meta.k8s.io/v1", "rv": N, "start": key}.

    (staging/src/k8s.io/apiserver/pkg/storage/continue.go, `EncodeContinue`)
    """
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode("ascii").rstrip("=")


def _decode_continue(token: str) -> tuple[int, str]:
    padded = token + "=" * (-len(token) % 4)
    data = json.loads(base64.urlsafe_b64decode(padded))
    return int(data["rv"]), str(data["start"])


def synthetic_configmaps(
    count: int, *, namespaces: Sequence[str] = ("default",), data_bytes: int = 64
) -> Iterator[JSON]:
    """`count` ConfigMaps spread over `namespaces`, shaped as a server stores them."""
    payload = "x" * data_bytes
    for i in range(count):
        ns = namespaces[i % len(namespaces)]
        name = f"cm-{i:06d}"
        yield {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "namespace": ns,
                "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"replay/{ns}/{name}")),
                "resourceVersion": str(100 + i),
                "creationTimestamp": "2026-01-01T00:00:00Z",
                "labels": {"app": "bench", "shard": str(i % 16)},
                "managedFields": [
                    {
                        "manager": "kubectl-client-side-apply",
                        "operation": "Update",
                        "apiVersion": "v1",
                        "time": "2026-01-01T00:00:00Z",
                        "fieldsType": "FieldsV1",
                        "fieldsV1": {"f:data": {".": {}, "f:payload": {}}},
                    }
                ],
            },
            "data": {"payload": payload, "index": str(i)},
        }


def make_object(
    api_version: str,
    kind: str,
    name: str,
    *,
    namespace: str | None = None,
    body: JSON | None = None,
) -> JSON:
    """One object with server-set metadata (uid, resourceVersion, creationTimestamp)."""
    meta: JSON = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["uid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"replay/{kind}/{namespace}/{name}"))
    meta["resourceVersion"] = "500"
    meta["creationTimestamp"] = "2026-01-01T00:00:00Z"
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **(body or {})}
