"""Only what a person made, and a repository that restores: against real API servers.

- An empty cluster (kube-apiserver alone, and with kube-controller-manager) exports to a
  repository with no object in it: everything the cluster makes by itself is left out.
- A realistic cluster on server A goes through cluster-backup and the generator; the repository
  is applied to a fresh server B as Flux or Argo CD would (CRDs and Namespaces first, then
  server-side apply, no --force-conflicts): no refusal, none of A's identity in B; B backed up
  again gives the same tree, byte for byte. Every generated object passes a server-side dry run
  against A. Deleting one object on A removes exactly its file in the next commit.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.kube_flow import backup_and_generate, manifests
from tests.kube_apiserver import KUBE_MISSING, KubeCluster, available, kube_apiserver

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not available(), reason=KUBE_MISSING)]

WORKLOADS = Path(__file__).parent / "kube"


def _wait_established(cluster: KubeCluster, crd: str) -> None:
    cluster.kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s")


def _build_realistic(cluster: KubeCluster) -> None:
    """Create the workloads the way people do: kubectl apply, client side and server side."""
    cluster.kubectl("apply", "-f", str(WORKLOADS / "realistic-crds.yaml"))
    _wait_established(cluster, "widgets.example.com")
    cluster.kubectl("apply", "-f", str(WORKLOADS / "realistic.yaml"))
    cluster.kubectl("apply", "--server-side", "-f", str(WORKLOADS / "realistic-server-side.yaml"))


def _objects(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _kustomize_build(remote: Path, workdir: Path, cluster: str, kube: KubeCluster) -> str:
    checkout = workdir / f"checkout-{cluster}"
    subprocess.run(["git", "clone", "-q", str(remote), str(checkout)], check=True)
    return kube.kubectl("kustomize", str(checkout / "clusters" / cluster)).stdout


def _apply_as_gitops(objects: list[dict[str, Any]], target: KubeCluster) -> None:
    """CRDs and Namespaces first, then everything, server-side, without --force-conflicts."""
    first = [o for o in objects if o["kind"] in ("CustomResourceDefinition", "Namespace")]
    if first:
        target.apply(first)
        for crd in (o for o in first if o["kind"] == "CustomResourceDefinition"):
            _wait_established(target, crd["metadata"]["name"])
    target.apply(objects)


@pytest.fixture
def cluster_a(tmp_path: Path) -> Iterator[KubeCluster]:
    with kube_apiserver(tmp_path / "a", controller_manager=True) as cluster:
        yield cluster


@pytest.mark.parametrize("controller_manager", [False, True], ids=["apiserver", "with-controllers"])
def test_an_empty_cluster_exports_to_an_empty_repository(
    tmp_path: Path, controller_manager: bool
) -> None:
    with kube_apiserver(tmp_path / "kube", controller_manager=controller_manager) as cluster:
        generated = backup_and_generate(cluster, tmp_path, name="empty")
    assert generated.backup["objects"] == 0, generated.backup["counts"]
    assert (
        sum(generated.backup["excluded"].values()) > 100
    )  # read, and left out as the cluster's own
    assert manifests(generated.tree, "empty") == {}


def test_the_repository_restores_into_a_fresh_cluster_and_round_trips(
    tmp_path: Path, cluster_a: KubeCluster
) -> None:
    _build_realistic(cluster_a)
    from_a = backup_and_generate(cluster_a, tmp_path / "from-a", name="prod")
    files_a = manifests(from_a.tree, "prod")
    assert files_a, "the realistic cluster exported nothing"
    built = _kustomize_build(from_a.remote, tmp_path, "prod", cluster_a)
    objects = _objects(built)
    assert len(objects) == len(files_a)

    # Chosen node ports stay (last-applied, or server-side managedFields); allocated ones go.
    assert (
        b"nodePort: 30080" in files_a["clusters/prod/namespaces/shop/services/web-fixed-port.yaml"]
    )
    api = files_a["clusters/prod/namespaces/shop/services/api.yaml"]
    assert api.count(b"nodePort:") == 1 and b"nodePort: 30090" in api
    assert b"nodePort" not in files_a["clusters/prod/namespaces/shop/services/web-nodeport.yaml"]

    # Every generated object is accepted by the API server it came from.
    cluster_a.kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=gitops",
        "-f",
        "-",
        input=built,
    )

    # Nothing of A's identity is in the repository.
    identity = _identity(cluster_a)
    text = b"\n".join(files_a.values()).decode()
    leaked = sorted(value for value in identity if value in text)
    assert leaked == []

    with kube_apiserver(
        tmp_path / "b", controller_manager=True, service_cidr="10.97.0.0/24"
    ) as cluster_b:
        _apply_as_gitops(objects, cluster_b)
        assert not _identity(cluster_a) & _identity(cluster_b)
        client_ca = json.loads(
            cluster_b.kubectl(
                "get",
                "configmap",
                "extension-apiserver-authentication",
                "-n",
                "kube-system",
                "-o",
                "json",
            ).stdout
        )["data"]["client-ca-file"]
        assert client_ca.strip() == cluster_b.ca_file.read_text().strip()  # B's CA, not A's
        from_b = backup_and_generate(cluster_b, tmp_path / "from-b", name="prod")
    files_b = manifests(from_b.tree, "prod")
    assert sorted(files_b) == sorted(files_a)
    different = [path for path in files_a if files_a[path] != files_b[path]]
    assert different == [], _diff(files_a, files_b, different)

    # Delete one object on A: the next commit removes exactly its file.
    cluster_a.kubectl("delete", "configmap", "web-config", "-n", "shop")
    again = backup_and_generate(cluster_a, tmp_path / "from-a", name="prod", remote=from_a.remote)
    removed = sorted(set(files_a) - set(manifests(again.tree, "prod")))
    assert removed == ["clusters/prod/namespaces/shop/configmaps/web-config.yaml"]
    assert manifests(again.tree, "prod") == {p: d for p, d in files_a.items() if p not in removed}


def _identity(cluster: KubeCluster) -> set[str]:
    """Values that belong to one cluster only: uids, ClusterIPs, its CA."""
    values: set[str] = set()
    listing = json.loads(
        cluster.kubectl("get", "all,configmaps,serviceaccounts,widgets", "-A", "-o", "json").stdout
    )
    for item in listing["items"]:
        values.add(item["metadata"]["uid"])
        for ip in item.get("spec", {}).get("clusterIPs", []) or []:
            if ip != "None":
                values.add(ip)
    ca = cluster.ca_file.read_text().strip().splitlines()
    values.add(ca[1])  # the first line of the CA's base64 body
    return values


def _diff(a: dict[str, bytes], b: dict[str, bytes], paths: list[str]) -> str:
    import difflib

    out = []
    for path in paths:
        out.extend(
            difflib.unified_diff(
                a[path].decode().splitlines(),
                b[path].decode().splitlines(),
                path,
                path,
                lineterm="",
            )
        )
    return "\n".join(out)
