"""Kubernetes API adapter, listing: every object of a resource, page by page.

- An expired continue token (410 Gone) restarts that resource's list from the start, at most
  `MAX_LIST_RESTARTS` times, skipping uids already yielded (a consistent list again, rather than
  the inconsistent remainder the 410 offers).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the kubernetes client (~0.3 s to import) is loaded by the first client made
    from kubernetes.client import ApiClient
from backup2gitops.adapters.kube.client import get
from backup2gitops.adapters.kube.discovery import ApiResource

MAX_LIST_RESTARTS = 3


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
        response = get(api, path, query=query)
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
