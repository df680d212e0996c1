"""A replay kube-apiserver over real HTTP (stdlib ThreadingHTTPServer on 127.0.0.1).

    with replay_server(ReplayCluster(objects=[...])) as base_url:
        ...  # point a kubernetes.client.Configuration at base_url

Routes: /version, /readyz, /livez, discovery (/api, /api/v1, /apis, /apis/<g>/<v>, legacy or
aggregated by Accept), and lists (/api/v1/[namespaces/<ns>/]<resource>,
/apis/<g>/<v>/[namespaces/<ns>/]<resource>) with limit/continue.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.kube_replay import shapes
from tests.kube_replay.cluster import (
    ContinueExpiredError,
    ListFailedError,
    ReplayCluster,
    synthetic_configmaps,
)


def wants_aggregated(accept: str) -> bool:
    """True when the Accept header's first usable media range is apidiscovery v2.

    Media ranges are taken in order, as client-go lists them in preference order
    (discovery_client.go: `AcceptV2 + "," + AcceptV1`); v2beta1 is not served (removed in 1.33).
    """
    for media_range in accept.split(","):
        parts = [p.strip() for p in media_range.split(";")]
        mime, params = parts[0].lower(), dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if mime not in ("application/json", "*/*", "application/*"):
            continue
        if "g" not in params and "as" not in params:
            return False
        if (params.get("g"), params.get("v"), params.get("as")) == (
            "apidiscovery.k8s.io",
            "v2",
            "APIGroupDiscoveryList",
        ) and "profile" not in params:
            return True
    return False


class _Handler(BaseHTTPRequestHandler):
    server: _ReplayHTTPServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms stalls

    def log_message(self, format: str, *args: Any) -> None:
        return

    # -- replies ---------------------------------------------------------------------------

    def _send(self, code: int, body: bytes, content_type: str, *, vary: bool = False) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        if vary:
            self.send_header("Vary", "Accept")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code: int, body: dict[str, Any], **kw: Any) -> None:
        self._send(code, json.dumps(body).encode(), "application/json", **kw)

    def _text(self, code: int, text: str) -> None:
        self._send(code, text.encode(), "text/plain; charset=utf-8")

    def _unavailable(self) -> None:
        # kube-aggregator's proxy to an unavailable APIService: http.Error(w, "service
        # unavailable", 503) (staging/src/k8s.io/kube-aggregator/pkg/apiserver/handler_proxy.go)
        self._text(503, "service unavailable\n")

    # -- routing ---------------------------------------------------------------------------

    def do_GET(self) -> None:
        cluster = self.server.cluster
        cluster.log("GET", self.path, {k.lower(): v for k, v in self.headers.items()})
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if path in ("/readyz", "/livez", "/healthz"):
            if cluster.ready:
                self._text(200, "ok")
            else:
                self._text(500, "[-]etcd failed: reason withheld\nreadyz check failed\n")
            return
        if path == "/version":  # system:public-info-viewer: anyone, even anonymous
            self._json(200, shapes.version_info(cluster.git_version))
            return
        if cluster.token is not None and not self._authorized(cluster.token, path):
            return
        parts = path.strip("/").split("/")
        if parts[0] == "api":
            self._core(cluster, parts[1:], query)
        elif parts[0] == "apis":
            self._named(cluster, parts[1:], query)
        else:
            self._json(404, shapes.not_found())

    def _authorized(self, token: str, path: str) -> bool:
        """As a real kube-apiserver (token file, RBAC, anonymous auth on, its default): a token it
        does not know is 401 Unauthorized (authentication failed); no token at all authenticates
        as ``system:anonymous``, whom RBAC lets read nothing but the public-info paths: 403."""
        sent = self.headers.get("Authorization")
        if sent is None:
            message = f'forbidden: User "system:anonymous" cannot get path "{path}"'
            self._json(403, shapes.status(403, "Forbidden", message, details={}))
            return False
        if sent != f"Bearer {token}":
            self._json(401, shapes.status(401, "Unauthorized", "Unauthorized"))
            return False
        return True

    def _discovery_root(self, cluster: ReplayCluster, *, core: bool) -> None:
        accept = self.headers.get("Accept", "")
        if cluster.aggregated_discovery and wants_aggregated(accept):
            groups = [cluster.core] if core else cluster.named_groups
            body = shapes.aggregated_discovery(groups, stale=cluster.broken_groups)
            self._send(200, json.dumps(body).encode(), shapes.AGGREGATED_V2, vary=True)
        elif core:
            self._json(200, shapes.api_versions(), vary=True)
        else:
            self._json(200, shapes.api_group_list(cluster.named_groups), vary=True)

    def _core(self, cluster: ReplayCluster, rest: list[str], query: dict[str, str]) -> None:
        if not rest:
            self._discovery_root(cluster, core=True)
        elif rest[0] != "v1":
            self._json(404, shapes.not_found())
        elif len(rest) == 1:
            self._json(200, shapes.api_resource_list(cluster.core, "v1"))
        else:
            self._list(cluster, "", "v1", rest[1:], query)

    def _named(self, cluster: ReplayCluster, rest: list[str], query: dict[str, str]) -> None:
        if not rest:
            self._discovery_root(cluster, core=False)
            return
        group = cluster.group(rest[0])
        if group is None:
            self._json(404, shapes.not_found())
        elif group.name in cluster.broken_groups:
            self._unavailable()
        elif len(rest) == 1:
            self._json(404, shapes.not_found())  # /apis/<group> is not needed by the adapter
        elif rest[1] not in group.versions:
            self._json(404, shapes.not_found())
        elif len(rest) == 2:
            self._json(200, shapes.api_resource_list(group, rest[1]))
        else:
            self._list(cluster, group.name, rest[1], rest[2:], query)

    def _list(
        self,
        cluster: ReplayCluster,
        group: str,
        version: str,
        rest: list[str],
        query: dict[str, str],
    ) -> None:
        namespace: str | None = None
        if len(rest) == 3 and rest[0] == "namespaces":
            namespace, resource = rest[1], rest[2]
        elif len(rest) == 1:
            resource = rest[0]
        else:
            self._json(404, shapes.not_found())  # single-object GETs are not replayed
            return
        spec = cluster.lookup(group, version, resource)
        if spec is None or (namespace is not None and not spec.namespaced):
            self._json(404, shapes.not_found())
            return
        if "list" not in spec.verbs:
            # errors.NewMethodNotSupported(qualifiedResource, "list")
            qualified = resource if group == "" else f"{resource}.{group}"
            message = f'list is not supported on resources of kind "{qualified}"'
            details = {"group": group, "kind": resource}
            self._json(405, shapes.status(405, "MethodNotAllowed", message, details=details))
            return
        limit = int(query["limit"]) if query.get("limit", "").isdigit() else None
        try:
            page = cluster.page(
                group=group,
                spec=spec,
                namespace=namespace,
                limit=limit,
                continue_token=query.get("continue"),
                label_selector=query.get("labelSelector"),
            )
        except ContinueExpiredError as exc:
            body = shapes.status(
                410,
                "Expired",
                shapes.INCONSISTENT_CONTINUE,
                continue_token=exc.inconsistent_token,
            )
            self._json(410, body)
            return
        except ListFailedError as exc:
            # errors.NewInternalError: reason InternalError, "Internal error occurred: <cause>"
            cause = "etcdserver: request timed out"
            body = shapes.status(
                exc.rule.code,
                "InternalError",
                f"Internal error occurred: {cause}",
                details={"causes": [{"message": cause}]},
            )
            self._json(exc.rule.code, body)
            return
        metadata: dict[str, Any] = {"resourceVersion": page.resource_version}
        if page.continue_token is not None:
            metadata["continue"] = page.continue_token
        if page.remaining is not None:
            metadata["remainingItemCount"] = page.remaining
        head = json.dumps(
            {
                "kind": f"{spec.kind}List",
                "apiVersion": shapes.group_version(group, version),
                "metadata": metadata,
            }
        ).encode()
        # Splice the pre-encoded items in: `{..., "items": [item, item]}` (items carry no
        # apiVersion/kind, as a real server's list items).
        payload = head[:-1] + b', "items": [' + b", ".join(page.items) + b"]}"
        self._send(200, payload, "application/json")


class _ReplayHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, cluster: ReplayCluster) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.cluster = cluster


@contextmanager
def replay_server(cluster: ReplayCluster) -> Iterator[str]:
    """Serve `cluster` on a free 127.0.0.1 port; yield its base URL; stop on exit."""
    httpd = _ReplayHTTPServer(cluster)
    thread = threading.Thread(
        target=httpd.serve_forever, args=(0.05,), name="kube-replay", daemon=True
    )
    thread.start()
    try:
        host, port = httpd.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


SYNTHETIC_NAMESPACES = tuple(f"team-{i:02d}" for i in range(20))


def _serve_synthetic(count: int, conn: Connection) -> None:
    cluster = ReplayCluster(objects=synthetic_configmaps(count, namespaces=SYNTHETIC_NAMESPACES))
    with replay_server(cluster) as url:
        conn.send(url)
        conn.recv()  # until the parent is done


@contextmanager
def synthetic_server_in_child(count: int) -> Iterator[str]:
    """``count`` ConfigMaps in 20 namespaces, served from a child process, so that a benchmark
    measures the client alone. Yields the base URL."""
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve_synthetic, args=(count, child), daemon=True)
    server.start()
    try:
        yield parent.recv()
    finally:
        parent.send("stop")
        server.join(timeout=10)
