"""Kubernetes API adapter, the client: connect (service account or kubeconfig), one GET through
the SDK's REST layer, errors with catalog codes, the API server's health.

The kube package is the only code that imports `kubernetes`. It uses the client's REST layer
(`ApiClient.param_serialize` + `ApiClient.call_api`, the v37 equivalent of
`_preload_content=False`) and decodes bodies itself with `json.loads`: objects stay raw JSON
dicts, exactly as the API server sent them, with no model round trip.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backup2gitops.core import errors

if TYPE_CHECKING:  # the kubernetes client (~0.3 s to import) is loaded by the first client made
    from kubernetes.client import ApiClient

ACCEPT_JSON = "application/json"
ACCEPT_AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
#: (connect, read) seconds for one request
REQUEST_TIMEOUT = (10.0, 120.0)

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
class Response:
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


def get(
    api: ApiClient,
    path: str,
    *,
    query: Sequence[tuple[str, str | int]] = (),
    accept: str = ACCEPT_JSON,
) -> Response:
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
    return Response(int(response.status), content_type, data)


def is_aggregated(content_type: str) -> bool:
    params = {
        key.strip(): value.strip()
        for key, _, value in (p.partition("=") for p in content_type.split(";")[1:])
    }
    return (params.get("g"), params.get("v"), params.get("as")) == (
        "apidiscovery.k8s.io",
        "v2",
        "APIGroupDiscoveryList",
    )


# -- health ----------------------------------------------------------------------------------


def readyz(api: ApiClient) -> tuple[bool, str]:
    """(ready, message) from the API server's /readyz."""
    try:
        response = get(api, "/readyz", accept="text/plain, */*")
    except KubeError as exc:
        return False, exc.message
    text = response.body.decode("utf-8", "replace").strip()
    return response.status == 200, text or f"HTTP {response.status}"
