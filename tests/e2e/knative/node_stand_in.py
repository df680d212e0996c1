"""What a kubelet (and a networking layer) would do for Knative, on an API server with no nodes.

Knative's reconcilers wait for real signs of life: a Broker is Ready when the ``broker-ingress``
and ``broker-filter`` Services have endpoints, an InMemoryChannel when ``imc-dispatcher`` has, a
Revision when its Deployment has ready pods, a Route when its KIngress is Ready. Without a node,
kube-controller-manager creates the pods but nothing schedules or runs them, so EndpointSlices stay
empty and nothing becomes Ready. This stand-in, one thread:

- registers the Node ``knative-stand-in`` (Ready) and renews its Lease, so the node lifecycle
  controller keeps it Ready;
- binds every pending pod to it and marks it Running and Ready with a made-up pod IP (never
  dialled: traffic goes through ``host_proxy``, by host name), so EndpointSlices fill; deletes
  pods marked for deletion (the kubelet's last word);
- marks every KIngress Ready with a cluster-local load balancer (what net-kourier would report).

The processes these pods stand for are the ones ``control_plane`` runs on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
from collections.abc import Iterator
from typing import Any

import requests

from tests.kube_apiserver import KubeCluster

NODE = "knative-stand-in"
KINGRESS = "/apis/networking.internal.knative.dev/v1alpha1/ingresses"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class NodeStandIn:
    def __init__(self, cluster: KubeCluster, *, interval_s: float = 0.3) -> None:
        self.cluster = cluster
        self.interval_s = interval_s
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {cluster.admin_token}"
        self.verify = str(cluster.ca_file)  # per request: $REQUESTS_CA_BUNDLE would replace it
        self.stop = threading.Event()
        self.errors: list[str] = []
        self._ips: dict[str, str] = {}
        self._last_lease = 0.0

    def _call(self, method: str, path: str, body: Any = None, *, patch: bool = False) -> Any:
        headers = {"Content-Type": "application/merge-patch+json"} if patch else {}
        response = self.session.request(
            method,
            self.cluster.url + path,
            json=body,
            headers=headers,
            timeout=30,
            verify=self.verify,
        )
        if response.status_code >= 400 and response.status_code not in (404, 409):
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    def register(self) -> None:
        conditions = [
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "stand-in",
                "lastHeartbeatTime": _now(),
                "lastTransitionTime": _now(),
            }
        ]
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}},
        }
        self._call("POST", "/api/v1/nodes", node)
        status = {
            "status": {
                "conditions": conditions,
                "addresses": [{"type": "InternalIP", "address": "10.244.0.1"}],
                "capacity": {"cpu": "64", "memory": "256Gi", "pods": "500"},
                "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "500"},
            }
        }
        self._call("PATCH", f"/api/v1/nodes/{NODE}/status", status, patch=True)
        lease = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": NODE, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": NODE, "leaseDurationSeconds": 40, "renewTime": _micro_now()},
        }
        self._call("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", lease)

    def renew(self) -> None:
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{NODE}"
        self._call("PATCH", path, {"spec": {"renewTime": _micro_now()}}, patch=True)

    def _ip(self, uid: str) -> str:
        if uid not in self._ips:
            n = len(self._ips) + 2
            self._ips[uid] = f"10.244.{n // 250}.{n % 250 + 2}"
        return self._ips[uid]

    def pods(self) -> None:
        for pod in self._call("GET", "/api/v1/pods")["items"]:
            meta, spec = pod["metadata"], pod["spec"]
            base = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
            if meta.get("deletionTimestamp"):
                self._call("DELETE", base, {"gracePeriodSeconds": 0})
                continue
            if not spec.get("nodeName"):
                binding = {
                    "apiVersion": "v1",
                    "kind": "Binding",
                    "metadata": {"name": meta["name"]},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": NODE},
                }
                self._call("POST", base + "/binding", binding)
            ready = any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in pod.get("status", {}).get("conditions", [])
            )
            if ready:
                continue
            ip = self._ip(meta["uid"])
            now = _now()
            conditions = [
                {"type": kind, "status": "True", "lastTransitionTime": now}
                for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
            ]
            containers = [
                {
                    "name": c["name"],
                    "image": c["image"],
                    "imageID": "",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": now}},
                }
                for c in spec["containers"]
            ]
            status = {
                "status": {
                    "phase": "Running",
                    "conditions": conditions,
                    "hostIP": "10.244.0.1",
                    "podIP": ip,
                    "podIPs": [{"ip": ip}],
                    "startTime": now,
                    "containerStatuses": containers,
                }
            }
            self._call("PATCH", base + "/status", status, patch=True)

    def kingresses(self) -> None:
        listing = self.session.get(self.cluster.url + KINGRESS, timeout=30, verify=self.verify)
        if listing.status_code == 404:  # Serving's CRDs not installed (yet)
            return
        listing.raise_for_status()
        for ingress in listing.json()["items"]:
            meta = ingress["metadata"]
            status = ingress.get("status", {})
            if status.get("observedGeneration") == meta.get("generation") and any(
                c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", [])
            ):
                continue
            balancer = {"ingress": [{"domainInternal": "kourier-internal.kourier-system.svc"}]}
            conditions = [
                {"type": kind, "status": "True", "lastTransitionTime": _now()}
                for kind in ("LoadBalancerReady", "NetworkConfigured", "Ready")
            ]
            patch = {
                "status": {
                    "observedGeneration": meta.get("generation"),
                    "conditions": conditions,
                    "privateLoadBalancer": balancer,
                    "publicLoadBalancer": balancer,
                }
            }
            path = f"/apis/networking.internal.knative.dev/v1alpha1/namespaces/{meta['namespace']}"
            self._call("PATCH", f"{path}/ingresses/{meta['name']}/status", patch, patch=True)

    def run(self) -> None:
        renewed = 0.0
        while not self.stop.is_set():
            try:
                if renewed <= 0:
                    self.renew()
                    renewed = 10.0
                self.pods()
                self.kingresses()
            except (requests.RequestException, RuntimeError, KeyError) as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")
                del self.errors[:-20]
            renewed -= self.interval_s
            self.stop.wait(self.interval_s)


@contextlib.contextmanager
def node_stand_in(cluster: KubeCluster) -> Iterator[NodeStandIn]:
    stand_in = NodeStandIn(cluster)
    stand_in.register()
    thread = threading.Thread(target=stand_in.run, name="node-stand-in", daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        stand_in.stop.set()
        thread.join(timeout=60)
