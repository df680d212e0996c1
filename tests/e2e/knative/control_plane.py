"""Knative Eventing's MT-broker data plane and Serving's controller, as plain processes on 127.0.0.1.

``knative(cluster, workdir)`` runs Knative's own programs, built at v0.50.0 by
``scripts/build-knative.sh`` (listeners bound to loopback on ports chosen here), against a real
kube-apiserver + kube-controller-manager (``tests.kube_apiserver``) with no kubelet:

- Eventing: ``mtchannel_broker`` (Broker and Trigger reconcilers), ``controller`` (Subscriptions,
  PingSources), ``channel_controller`` + ``channel_dispatcher`` (InMemoryChannel),
  ``broker/ingress``, ``broker/filter``, ``mtping`` (the PingSource adapter);
- Serving: ``controller`` + ``autoscaler``, which reconcile a Knative Service to Ready.

It installs the releases' CRDs, ConfigMaps and the data plane's Deployments/Services, runs the
node stand-in (``node_stand_in``: a Node, a Lease, pods bound and marked Ready, KIngresses Ready)
and the host proxy (``host_proxy``: cluster-local host names -> 127.0.0.1 ports, given to every
Knative process as ``HTTP_PROXY``). ``Knative.apply_defaulted`` applies manifests after Knative's
own ``SetDefaults`` (``knative-validate -emit``), the webhook's work, offline.

What is not run, and why:
- ``cmd/webhook`` (admission, and the SinkBinding reconciler): defaulting is applied offline;
  SinkBindings inject ``K_SINK`` into pods, and no pod runs here -- the functions get the
  Broker's address (``Knative.broker_url``) as ``K_SINK`` directly, which is what the SinkBinding
  would inject (its sink resolves to the same Broker address).
- Serving's activator, queue-proxy and a networking layer: requests to a Knative Service go
  straight from the proxy to the function served by functions-framework.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.e2e.knative.host_proxy import HostProxy, host_proxy
from tests.e2e.knative.node_stand_in import NodeStandIn, node_stand_in
from tests.e2e.servers import gopath_binary, started, tail, wait_for
from tests.kube_apiserver import KubeCluster
from tests.recording import free_port

VERSION = "v0.50.0"
EVENTING_NS = "knative-eventing"
SERVING_NS = "knative-serving"
PROGRAMS = (
    "knative-eventing-mtchannel_broker",
    "knative-eventing-controller",
    "knative-eventing-channel_controller",
    "knative-eventing-channel_dispatcher",
    "knative-eventing-ingress",
    "knative-eventing-filter",
    "knative-eventing-mtping",
    "knative-serving-controller",
    "knative-serving-autoscaler",
)
KNATIVE_MISSING = (
    "Knative's processes are not built: scripts/build-knative.sh "
    "(scripts/install-test-deps.sh runs it)"
)
#: generous: a busy 2-core machine; costs nothing when things are quick
READY_TIMEOUT_S = 300.0


def share_dir() -> Path | None:
    binary = gopath_binary(PROGRAMS[0])
    return binary.parent / f"knative-{VERSION}" if binary else None


def available() -> bool:
    share = share_dir()
    return (
        all(gopath_binary(p) for p in PROGRAMS)
        and share is not None
        and (share / "eventing" / "config").is_dir()
        and gopath_binary("knative-validate") is not None
        and gopath_binary("kustomize") is not None
    )


def _docs(paths: Sequence[Path]) -> list[dict[str, Any]]:
    objects = []
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind"):
                objects.append(doc)
    return objects


@dataclass
class Knative:
    cluster: KubeCluster
    workdir: Path
    proxy: HostProxy
    stand_in: NodeStandIn
    ports: dict[str, int]
    logs: dict[str, Path]
    processes: dict[str, subprocess.Popen[bytes]]
    #: cluster-local host -> 127.0.0.1 port (Knative Services' functions, sinks); tests add to it
    hosts: dict[str, int] = field(default_factory=dict)
    start_s: float = 0.0

    @property
    def ingress(self) -> str:
        return f"http://127.0.0.1:{self.ports['broker-ingress']}"

    def broker_url(self, namespace: str, broker: str) -> str:
        """The Broker's ingress on loopback (its status.address.url is the cluster-local name)."""
        return f"{self.ingress}/{namespace}/{broker}"

    def route(self, name: str, namespace: str, url: str) -> None:
        """Serve ``<name>.<namespace>.svc.cluster.local`` (a Knative Service) from ``url``."""
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        self.hosts[f"{name}.{namespace}.svc.cluster.local"] = port

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode}:\n{tail(self.logs[name], 30)}"
                )

    def get(self, path: str) -> dict[str, Any]:
        response = self.cluster.get(path)
        response.raise_for_status()
        return dict(response.json())

    def wait_ready(self, path: str, *, what: str, timeout: float = READY_TIMEOUT_S) -> Any:
        """Until the object at ``path`` has condition Ready=True (and has observed its
        generation); fails at once if a Knative process has exited."""

        def ready() -> Any:
            self.check_alive()
            response = self.cluster.get(path)
            if response.status_code != 200:
                return None
            obj = response.json()
            status = obj.get("status", {})
            if status.get("observedGeneration") != obj["metadata"].get("generation"):
                return None
            if any(
                c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", [])
            ):
                return obj
            return None

        try:
            return wait_for(ready, timeout=timeout, what=what, interval=0.2)
        except TimeoutError as exc:
            response = self.cluster.get(path)
            raise TimeoutError(f"{exc}: {response.text[-2000:]}") from exc

    def wait_trigger_in_filter(
        self, namespace: str, name: str, *, timeout: float = READY_TIMEOUT_S
    ) -> None:
        """Until the broker filter's own cache has Trigger ``name`` Ready (its subscriber URI).

        A Ready Trigger is not yet one the filter knows: the filter reads Triggers from its own
        informer, and until that has caught up it answers the Trigger's copies 404 -- retried for
        a few backoffs, then dead-lettered, so on a busy machine a Trigger with short backoffs
        lost its events (CI-like load here: ``/flaky/third-time`` got none in 240 s). The probe
        is an event no filter of the Trigger passes: 404 while the filter lacks the Trigger,
        a 2xx with nothing delivered once it has it."""
        path = f"/apis/eventing.knative.dev/v1/namespaces/{namespace}/triggers/{name}"
        trigger = self.get(path)
        spec = trigger["spec"]
        if not (spec.get("filter") or spec.get("filters")):
            raise ValueError(f"Trigger {name} has no filter: the probe would be delivered")
        uid = trigger["metadata"]["uid"]
        url = f"http://127.0.0.1:{self.ports['broker-filter']}/triggers/{namespace}/{name}/{uid}"
        headers = {
            "Ce-Specversion": "1.0",
            "Ce-Id": f"filter-probe-{name}",
            "Ce-Source": "/tests/e2e/knative/filter-probe",
            "Ce-Type": "dev.backup2gitops.tests.filter-probe",  # no Trigger here filters it in
            "Ce-Knativebrokerttl": "255",  # as the Broker's channel sends it
            "Content-Type": "application/json",
        }

        def known() -> bool:
            self.check_alive()
            answer = requests.post(url, headers=headers, data=b"{}", timeout=30)
            if answer.status_code == 404:
                return False
            assert 200 <= answer.status_code < 300, (answer.status_code, answer.text)
            return True

        wait_for(known, timeout=timeout, what=f"the broker filter to know Trigger {name}")

    def defaulted(self, manifest: str, *, namespace: str) -> list[dict[str, Any]]:
        """The objects of ``manifest`` as Knative's defaulting webhook would store them (its
        ``SetDefaults``, run by knative-validate); objects of other kinds as they are."""
        validate = gopath_binary("knative-validate")
        assert validate is not None
        result = subprocess.run(
            [str(validate), "-emit", "-namespace", namespace],
            input=manifest,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            raise AssertionError(f"knative-validate: {result.stdout[-2000:]} {result.stderr}")
        verdicts = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        originals = [d for d in yaml.safe_load_all(manifest) if isinstance(d, dict)]
        assert len(verdicts) == len(originals), "knative-validate skipped a document"
        objects = []
        for verdict, original in zip(verdicts, originals, strict=True):
            obj = verdict.get("object") or original
            obj.pop("status", None)
            obj["metadata"].pop("creationTimestamp", None)
            obj["metadata"].setdefault("namespace", original["metadata"].get("namespace"))
            if obj["metadata"]["namespace"] is None:
                obj["metadata"].pop("namespace")
            objects.append(obj)
        return objects

    def apply_defaulted(self, manifest: str, *, namespace: str) -> list[dict[str, Any]]:
        objects = self.defaulted(manifest, namespace=namespace)
        namespaces = [o for o in objects if o["kind"] == "Namespace"]
        if namespaces:
            self.cluster.apply(namespaces)
        self.cluster.apply([o for o in objects if o["kind"] != "Namespace"])
        return objects


def _configmaps(share: Path) -> list[dict[str, Any]]:
    eventing, serving = share / "eventing" / "config", share / "serving" / "config"
    paths = sorted((eventing / "core" / "configmaps").glob("*.yaml"))
    paths += [eventing / "channels" / "in-memory-channel" / "configmaps" / "event-dispatcher.yaml"]
    paths += sorted((serving / "core" / "configmaps").glob("*.yaml"))
    paths += [share / "networking" / "config" / "config-network.yaml"]
    configmaps = _docs(paths)
    for configmap in configmaps:
        if configmap["metadata"]["name"] == "config-deployment":
            # no registry here: the function images are not resolved to digests
            configmap["data"]["registries-skipping-tag-resolving"] = "ghcr.io,gcr.io,ko.local"
    return configmaps


def _crds(share: Path) -> list[Path]:
    eventing, serving = share / "eventing" / "config", share / "serving" / "config"
    paths = sorted((eventing / "core" / "resources").glob("*.yaml"))
    paths += [eventing / "channels" / "in-memory-channel" / "resources" / "in-memory-channel.yaml"]
    paths += sorted((serving / "core" / "300-resources").glob("*.yaml"))
    paths += sorted((share / "networking" / "config").glob("*.yaml"))
    paths += [share / "caching" / "config" / "image.yaml"]
    return [p for p in paths if p.name != "config-network.yaml"]


def _data_plane(share: Path) -> list[dict[str, Any]]:
    """The Deployments and Services whose pods stand for the processes run here."""
    eventing, serving = share / "eventing" / "config", share / "serving" / "config"
    brokers = eventing / "brokers" / "mt-channel-broker" / "deployments"
    imc = eventing / "channels" / "in-memory-channel"
    return _docs(
        [
            brokers / "broker-ingress.yaml",
            brokers / "broker-filter.yaml",
            imc / "deployments" / "dispatcher.yaml",
            imc / "deployments" / "dispatcher-service.yaml",
            imc / "webhooks" / "secret.yaml",
            eventing / "core" / "deployments" / "pingsource-mt-adapter.yaml",
            serving / "core" / "deployments" / "activator.yaml",
        ]
    )


def _programs(ports: Mapping[str, int]) -> dict[str, tuple[str, list[str], dict[str, str]]]:
    """name -> (binary, arguments, environment) for each Knative process."""
    images = {
        name: "ko.local/unused"
        for name in (
            "APISERVER_RA_IMAGE",
            "AUTH_PROXY_IMAGE",
            "EVENT_TRANSFORM_JSONATA_IMAGE",
            "INTEGRATION_SOURCE_TIMER_IMAGE",
            "INTEGRATION_SOURCE_AWS_S3_IMAGE",
            "INTEGRATION_SOURCE_AWS_SQS_IMAGE",
            "INTEGRATION_SOURCE_AWS_DDB_STREAMS_IMAGE",
            "INTEGRATION_SINK_LOG_IMAGE",
            "INTEGRATION_SINK_AWS_S3_IMAGE",
            "INTEGRATION_SINK_AWS_SQS_IMAGE",
            "INTEGRATION_SINK_AWS_SNS_IMAGE",
        )
    }
    ha = ["--disable-ha"]
    return {
        "eventing-controller": ("knative-eventing-controller", ha, images),
        "mt-broker-controller": ("knative-eventing-mtchannel_broker", ha, {}),
        "imc-controller": (
            "knative-eventing-channel_controller",
            ha,
            {
                "WEBHOOK_NAME": "inmemorychannel-webhook",
                "WEBHOOK_PORT": str(ports["imc-webhook"]),
                "DISPATCHER_IMAGE": "ko.local/unused",
            },
        ),
        "imc-dispatcher": (
            "knative-eventing-channel_dispatcher",
            ha,
            {
                # no NAMESPACE: with one it watches only that namespace's channels
                "CONTAINER_NAME": "dispatcher",
                "MAX_IDLE_CONNS": "1000",
                "MAX_IDLE_CONNS_PER_HOST": "1000",
                "KNATIVE_PORT_8080": str(ports["imc-dispatcher"]),
                "KNATIVE_PORT_8443": str(ports["imc-dispatcher-https"]),
            },
        ),
        "broker-ingress": (
            "knative-eventing-ingress",
            [],
            {
                "NAMESPACE": EVENTING_NS,
                "CONTAINER_NAME": "ingress",
                "INGRESS_PORT": str(ports["broker-ingress"]),
                "INGRESS_PORT_HTTPS": str(ports["broker-ingress-https"]),
            },
        ),
        "broker-filter": (
            "knative-eventing-filter",
            [],
            {
                "NAMESPACE": EVENTING_NS,
                "CONTAINER_NAME": "filter",
                "FILTER_PORT": str(ports["broker-filter"]),
                "FILTER_PORT_HTTPS": str(ports["broker-filter-https"]),
            },
        ),
        "pingsource-mt-adapter": (
            "knative-eventing-mtping",
            [],
            {
                "NAMESPACE": EVENTING_NS,  # where its ConfigMaps are (the pod's own namespace)
                "K_LOGGING_CONFIG": "",
                "K_OBSERVABILITY_CONFIG": "{}",
                "K_LEADER_ELECTION_CONFIG": "",
                "K_NO_SHUTDOWN_AFTER": "",
                "K_SINK_TIMEOUT": "-1",
            },
        ),
        # Serving's mains have no --disable-ha (one replica leads its buckets alone)
        "serving-controller": ("knative-serving-controller", [], {"SYSTEM_NAMESPACE": SERVING_NS}),
        "serving-autoscaler": (
            "knative-serving-autoscaler",
            [],
            {
                "SYSTEM_NAMESPACE": SERVING_NS,
                "POD_IP": "10.244.255.1",  # its bucket EndpointSlice refuses loopback; never dialled
                "AUTOSCALER_STATS_PORT": str(ports["autoscaler-stats"]),
            },
        ),
    }


def _router(ports: Mapping[str, int], hosts: Mapping[str, int]) -> Callable[[str], int | None]:
    def route(host: str) -> int | None:
        if host in hosts:
            return hosts[host]
        if host.startswith("broker-ingress.knative-eventing.svc"):
            return ports["broker-ingress"]
        if host.startswith("broker-filter.knative-eventing.svc"):
            return ports["broker-filter"]
        if "-kn-channel." in host or host.startswith("imc-dispatcher.knative-eventing.svc"):
            return ports["imc-dispatcher"]
        return None

    return route


@contextlib.contextmanager
def knative(cluster: KubeCluster, workdir: Path) -> Iterator[Knative]:
    """Install Knative's objects into ``cluster`` and run its processes; yields once the broker
    ingress and filter answer (Brokers and Triggers are then the caller's to wait for)."""
    share = share_dir()
    if share is None or not available():
        raise FileNotFoundError(KNATIVE_MISSING)
    start = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    for namespace in (EVENTING_NS, SERVING_NS):
        cluster.kubectl("create", "namespace", namespace)
    files = [arg for path in _crds(share) for arg in ("-f", str(path))]
    cluster.kubectl("apply", "--server-side", "--field-manager=tests", *files)
    cluster.kubectl("wait", "--for=condition=established", "--timeout=180s", "crd", "--all")
    cluster.apply(_configmaps(share))
    data_plane = _data_plane(share)
    accounts = {
        (d["metadata"]["namespace"], d["spec"]["template"]["spec"]["serviceAccountName"])
        for d in data_plane
        if d["kind"] == "Deployment"
    }
    cluster.apply(  # the pods' ServiceAccounts (admission refuses a pod without its account)
        [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": n, "namespace": ns}}
            for ns, n in sorted(accounts)
        ]
    )
    cluster.apply(data_plane)

    ports = {
        name: free_port()
        for name in (
            "broker-ingress",
            "broker-ingress-https",
            "broker-filter",
            "broker-filter-https",
            "imc-dispatcher",
            "imc-dispatcher-https",
            "imc-webhook",
            "autoscaler-stats",
        )
    }
    hosts: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        proxy = stack.enter_context(host_proxy(_router(ports, hosts)))
        stand_in = stack.enter_context(node_stand_in(cluster))
        base = {
            k: v
            for k, v in os.environ.items()
            if k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")
        }
        base.update(
            {
                "KUBECONFIG": str(cluster.kubeconfig),
                "SYSTEM_NAMESPACE": EVENTING_NS,
                "CONFIG_LOGGING_NAME": "config-logging",
                "CONFIG_OBSERVABILITY_NAME": "config-observability",
                "METRICS_DOMAIN": "knative.dev/eventing",
                "HTTP_PROXY": proxy.url,
            }
        )
        processes: dict[str, subprocess.Popen[bytes]] = {}
        logs: dict[str, Path] = {}
        for name, (program, args, env) in _programs(ports).items():
            binary = gopath_binary(program)
            assert binary is not None
            logs[name] = workdir / f"{name}.log"
            full_env = {
                **base,
                "POD_NAME": name,
                "PROFILING_PORT": str(free_port()),
                "PROBES_PORT": str(free_port()),
                **env,
            }
            argv = [str(binary), f"--kubeconfig={cluster.kubeconfig}", *args]
            if name in ("broker-ingress", "broker-filter", "pingsource-mt-adapter"):
                argv = [str(binary)]  # not sharedmain: no flags, $KUBECONFIG
            processes[name] = stack.enter_context(started(argv, env=full_env, log=logs[name]))
        plane = Knative(
            cluster=cluster,
            workdir=workdir,
            proxy=proxy,
            stand_in=stand_in,
            ports=ports,
            logs=logs,
            processes=processes,
            hosts=hosts,
        )

        def answers(port: int) -> bool:
            plane.check_alive()
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
            except requests.RequestException:
                return False
            return True

        for name in ("broker-ingress", "broker-filter"):
            wait_for(lambda: answers(ports[name]), timeout=READY_TIMEOUT_S, what=name)  # noqa: B023
        plane.start_s = time.monotonic() - start
        yield plane
