"""A real Kubernetes control plane for tests: etcd + kube-apiserver (+ kube-controller-manager).

The binaries are the real ones: etcd from Debian's ``etcd-server`` package, kube-apiserver,
kube-controller-manager and kubectl built from the ``k8s.io/kubernetes`` module of the Go module
proxy by ``scripts/build-kube.sh`` into ``$(go env GOPATH)/bin``. Nothing is replayed.

``kube_apiserver(tmp_path)`` starts them on 127.0.0.1 and free ports, with a self-signed CA and
serving certificate (``pki.py``), a static token file (an admin in ``system:masters``), RBAC
authorization, and a service-account key pair (so TokenRequest works and kube-controller-manager
can sign its controllers' tokens). Every address stays on loopback: ``--bind-address`` and
``--advertise-address`` are 127.0.0.1 and ``--endpoint-reconciler-type=none`` keeps the apiserver
from publishing itself as the ``kubernetes`` Service's endpoint. It yields a ``KubeCluster``
(URL, CA, tokens, a kubeconfig file, ``kubectl(...)``) and stops exactly the processes it started,
by pid, on exit.

Options: ``controller_manager=True`` runs kube-controller-manager (ReplicaSets, Pods, Endpoints,
ServiceAccounts, the CA ConfigMaps, aggregated ClusterRoles: the objects a real cluster makes by
itself); ``feature_gates`` is passed through (``ListFromCacheSnapshot=false`` makes an expired
continue token a real 410, after ``KubeCluster.compact_etcd()``, as the watch-cache snapshot
of 1.34 otherwise serves it);
``service_cidr`` gives two clusters of one test disjoint ClusterIPs.
``extra_args`` go to kube-apiserver as they are.

``KubeCluster.can`` asks the authorizer (SelfSubjectAccessReview) and ``wait_until`` polls it
after an RBAC change, which the authorizer sees a moment later (an informer), not at once.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.e2e.servers import started, tail, wait_for
from tests.kube_apiserver.pki import Pki, make_pki
from tests.recording import free_port

KUBE_VERSION = "v1.34.4"
KUBE_MISSING = (
    "no kube-apiserver/kubectl in $(go env GOPATH)/bin or no etcd on PATH: "
    "scripts/build-kube.sh and apt-get install etcd-server (scripts/install-test-deps.sh does both)"
)
ADMIN_TOKEN = "admin-token-for-tests"
SERVICE_CIDR = "10.96.0.0/24"


def _gobin() -> Path:
    gopath = ""
    if shutil.which("go"):
        gopath = subprocess.run(
            ["go", "env", "GOPATH"], capture_output=True, text=True, check=False
        ).stdout.strip()
    return Path(gopath or Path.home() / "go") / "bin"


def binary(name: str) -> Path | None:
    """The path of a control-plane binary, or None when it is not installed."""
    if name == "etcd":
        found = shutil.which("etcd")
        return Path(found) if found else None
    candidate = _gobin() / name
    return candidate if candidate.is_file() else None


def available() -> bool:
    return all(binary(b) for b in ("etcd", "kube-apiserver", "kube-controller-manager", "kubectl"))


@dataclass(frozen=True)
class KubeCluster:
    """A running control plane. ``kubeconfig`` authenticates as the admin token."""

    url: str
    pki: Pki
    admin_token: str
    kubeconfig: Path
    workdir: Path
    logs: Mapping[str, Path]
    #: etcd's client URL (plain HTTP on loopback): its JSON gateway compacts (``compact_etcd``)
    etcd_url: str

    @property
    def ca_file(self) -> Path:
        return self.pki.ca_cert

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, token: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl against this cluster (as the admin, or as ``token``)."""
        kubectl = binary("kubectl")
        assert kubectl is not None, KUBE_MISSING
        argv = [str(kubectl), "--kubeconfig", str(self.kubeconfig)]
        if token is not None:
            argv += ["--token", token]
        result = subprocess.run(
            [*argv, *args], input=input, capture_output=True, text=True, check=False, timeout=120
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    def apply(
        self, manifest: str | Sequence[Mapping[str, Any]], *, server_side: bool = True
    ) -> None:
        text = manifest if isinstance(manifest, str) else _yaml_stream(manifest)
        flags = ["--server-side", "--field-manager=tests"] if server_side else []
        self.kubectl("apply", *flags, "-f", "-", input=text)

    def get(self, path: str, *, token: str | None = None, **params: str) -> requests.Response:
        """One raw GET, with the admin token unless another (or "" for none) is given."""
        return self.request("GET", path, token=token, params=params)

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """One raw request, with the admin token unless another (or "" for none) is given."""
        used = self.admin_token if token is None else token
        headers = {"Authorization": f"Bearer {used}"} if used else {}
        return requests.request(
            method,
            self.url + path,
            headers=headers,
            params=params,
            json=body,
            verify=str(self.ca_file),  # explicit: $REQUESTS_CA_BUNDLE must not replace our CA
            timeout=30,
        )

    def can(
        self,
        token: str,
        verb: str,
        resource: str,
        *,
        group: str = "",
        namespace: str | None = None,
    ) -> bool:
        """What the API server's authorizer says ``token`` may do (SelfSubjectAccessReview)."""
        attributes: dict[str, str] = {"verb": verb, "resource": resource, "group": group}
        if namespace is not None:
            attributes["namespace"] = namespace
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes},
        }
        path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
        response = self.request("POST", path, token=token, body=review)
        response.raise_for_status()
        return bool(response.json()["status"].get("allowed"))

    def wait_until(
        self,
        token: str,
        verb: str,
        resource: str,
        *,
        allowed: bool,
        group: str = "",
        namespace: str | None = None,
    ) -> None:
        """Until the authorizer has seen an RBAC change (it reads RBAC from an informer cache,
        so a write is not in force the moment kubectl returns). Bounded; raises on time-out."""
        wait_for(
            lambda: self.can(token, verb, resource, group=group, namespace=namespace) == allowed,
            timeout=180,
            what=f"RBAC: {verb} {resource} to become allowed={allowed}",
            interval=0.2,
        )

    def compact_etcd(self) -> int:
        """Compact etcd at its current revision (through etcd's JSON gateway); the revision.

        Every continue token issued before it is then too old for a read from etcd.
        """
        key = base64.b64encode(b"/").decode()
        head = requests.post(f"{self.etcd_url}/v3/kv/range", json={"key": key}, timeout=30)
        head.raise_for_status()
        revision = int(head.json()["header"]["revision"])
        compaction = {"revision": revision, "physical": True}
        requests.post(
            f"{self.etcd_url}/v3/kv/compaction", json=compaction, timeout=30
        ).raise_for_status()
        return revision

    def service_account_token(self, namespace: str, name: str) -> str:
        """A bound token for ServiceAccount ``namespace/name`` (the TokenRequest API)."""
        result = self.kubectl("create", "token", name, "-n", namespace, "--duration=1h")
        return result.stdout.strip()

    def kubeconfig_for(self, token: str, path: Path) -> Path:
        """A kubeconfig file that authenticates with ``token``."""
        path.write_text(json.dumps(_kubeconfig(self.url, self.ca_file, token)))
        return path


def _yaml_stream(objects: Sequence[Mapping[str, Any]]) -> str:
    # kubectl reads JSON documents too; one List keeps it a single document
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})


def _kubeconfig(url: str, ca: Path, token: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "test", "cluster": {"server": url, "certificate-authority": str(ca)}}
        ],
        "users": [{"name": "test", "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
        "current-context": "test",
    }


def _process(
    argv: list[str], *, log: Path
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    return started(argv, env=os.environ, log=log, grace_s=15)


def _wait(
    probe: Callable[[], bool],
    *,
    what: str,
    processes: Sequence[tuple[subprocess.Popen[bytes], Path]],
) -> None:
    """Poll ``probe`` (240 s at most), failing at once with its log when a process has exited."""

    def up() -> bool:
        for process, log in processes:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{log.stem} exited with {process.returncode} while waiting for {what}:\n"
                    f"{tail(log, 25)}"
                )
        return probe()

    wait_for(up, timeout=240, what=what, interval=0.2)


def _ok(url: str, *, verify: str | bool = False, token: str | None = None) -> bool:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        return requests.get(url, headers=headers, verify=verify, timeout=10).status_code == 200
    except requests.RequestException:
        return False


@contextlib.contextmanager
def kube_apiserver(
    workdir: Path,
    *,
    controller_manager: bool = False,
    feature_gates: Mapping[str, bool] | None = None,
    service_cidr: str = SERVICE_CIDR,
    extra_args: Sequence[str] = (),
) -> Iterator[KubeCluster]:
    """Start etcd and kube-apiserver (and kube-controller-manager) on loopback; yield the cluster."""
    if not available():
        raise FileNotFoundError(KUBE_MISSING)
    workdir.mkdir(parents=True, exist_ok=True)
    pki = make_pki(workdir / "pki")
    tokens = workdir / "tokens.csv"
    tokens.write_text(f'{ADMIN_TOKEN},admin,admin-uid,"system:masters"\n')
    etcd_port, etcd_peer, api_port = free_port(), free_port(), free_port()
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    url = f"https://127.0.0.1:{api_port}"
    logs = {
        name: workdir / f"{name}.log"
        for name in ("etcd", "kube-apiserver", "kube-controller-manager")
    }
    kubeconfig = workdir / "admin.kubeconfig"
    kubeconfig.write_text(json.dumps(_kubeconfig(url, pki.ca_cert, ADMIN_TOKEN)))

    etcd_argv = [
        str(binary("etcd")),
        "--name=test",
        f"--data-dir={workdir / 'etcd'}",
        f"--listen-client-urls={etcd_url}",
        f"--advertise-client-urls={etcd_url}",
        f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
        f"--initial-cluster=test=http://127.0.0.1:{etcd_peer}",
        "--log-level=warn",
    ]
    gates = ",".join(f"{k}={str(v).lower()}" for k, v in (feature_gates or {}).items())
    apiserver_argv = [
        str(binary("kube-apiserver")),
        f"--etcd-servers={etcd_url}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={api_port}",
        "--endpoint-reconciler-type=none",
        f"--cert-dir={workdir / 'apiserver-certs'}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.ca_cert}",
        f"--token-auth-file={tokens}",
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc",
        f"--service-account-key-file={pki.sa_public}",
        f"--service-account-signing-key-file={pki.sa_private}",
        f"--service-cluster-ip-range={service_cidr}",
        "--allow-privileged=true",
        "--profiling=false",
        "--v=0",
        *([f"--feature-gates={gates}"] if gates else []),
        *extra_args,
    ]
    with contextlib.ExitStack() as stack:
        etcd = stack.enter_context(_process(etcd_argv, log=logs["etcd"]))
        _wait(lambda: _ok(f"{etcd_url}/health"), what="etcd", processes=[(etcd, logs["etcd"])])
        apiserver = stack.enter_context(_process(apiserver_argv, log=logs["kube-apiserver"]))
        watched = [(etcd, logs["etcd"]), (apiserver, logs["kube-apiserver"])]
        _wait(
            lambda: _ok(f"{url}/readyz", verify=str(pki.ca_cert), token=ADMIN_TOKEN),
            what="kube-apiserver /readyz",
            processes=watched,
        )
        cluster = KubeCluster(
            url=url,
            pki=pki,
            admin_token=ADMIN_TOKEN,
            kubeconfig=kubeconfig,
            workdir=workdir,
            logs=logs,
            etcd_url=etcd_url,
        )
        _wait(
            lambda: _default_namespace_exists(cluster), what="namespace default", processes=watched
        )
        if controller_manager:
            kcm_argv = [
                str(binary("kube-controller-manager")),
                f"--kubeconfig={kubeconfig}",
                "--bind-address=127.0.0.1",
                "--secure-port=0",
                "--leader-elect=false",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={pki.sa_private}",
                f"--root-ca-file={pki.ca_cert}",
                f"--service-cluster-ip-range={service_cidr}",
                "--v=0",
            ]
            kcm = stack.enter_context(_process(kcm_argv, log=logs["kube-controller-manager"]))
            watched.append((kcm, logs["kube-controller-manager"]))
            _wait(
                lambda: _controllers_settled(cluster),
                what="kube-controller-manager",
                processes=watched,
            )
        yield cluster


def _default_namespace_exists(cluster: KubeCluster) -> bool:
    try:
        return cluster.get("/api/v1/namespaces/default/serviceaccounts").status_code == 200
    except requests.RequestException:
        return False


def _controllers_settled(cluster: KubeCluster) -> bool:
    """The controller manager has done its first round: the root CA ConfigMap and default SA exist."""
    try:
        ca = cluster.get("/api/v1/namespaces/default/configmaps/kube-root-ca.crt").status_code
        sa = cluster.get("/api/v1/namespaces/default/serviceaccounts/default").status_code
    except requests.RequestException:
        return False
    return ca == 200 and sa == 200
