"""Kubernetes API adapter: connect, discover what can be backed up, list objects page by page.

The only package that imports `kubernetes`, and only when the first client is made (~0.3 s):
``client`` (connect, one GET, errors, readiness), ``discovery`` (the listable resources at their
preferred versions, as Velero and client-go choose them), ``listing`` (every object of a
resource, one page in memory at a time).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backup2gitops.adapters.kube.client import KubeError, api_client_from, readyz
from backup2gitops.adapters.kube.discovery import ApiResource, Discovery, discover
from backup2gitops.adapters.kube.listing import MAX_LIST_RESTARTS, iter_objects

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
