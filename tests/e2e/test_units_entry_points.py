"""Reconcilable units and their Flux / Argo CD entry points, with the real tools.

- ``backup2gitops generate`` (a real process) writes a multi-namespace backup into a git remote
  with every entry point on; in a clone the real ``kustomize build`` runs on every unit the root
  lists, on the root, and on the ``flux/`` and ``argocd/`` folders. Every object is in exactly one
  unit, in the unit of its namespace, and the units together render what the root renders.
- The vendored Flux and Argo CD CRDs (tests/deploy/crds) are created on the real kube-apiserver
  and the generated objects are server-side applied with strict field validation: the API
  server's structural schema (types, enums, patterns, required fields, unknown fields) is the
  check; what is read back holds all that was sent (nothing pruned; defaults may be added).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from backup2gitops.core import entry_points, units
from backup2gitops.core.archive import ArchiveWriter
from backup2gitops.core.repo_layout import group_resource_for, object_path
from backup2gitops.core.repo_plan import plan_tree
from tests.kube_apiserver import KubeCluster

pytestmark = pytest.mark.e2e

CRDS = Path(__file__).resolve().parents[1] / "deploy" / "crds"
KUSTOMIZE = shutil.which("kustomize") or str(Path.home() / "go/bin/kustomize")
NAMESPACES = ("shop", "billing", "search", "cluster-scoped", "flux")  # two that look like folders
REPO_URL = "https://git.example.com/platform/clusters.git"
FLUX_NS, ARGO_NS = "units-flux-system", "units-argocd"


def backup_objects() -> Iterator[dict[str, Any]]:
    yield {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }
    yield {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    }
    for namespace in NAMESPACES:
        yield {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        for i in range(3):
            yield {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"settings-{i}", "namespace": namespace},
                "data": {"i": str(i)},
            }
        yield {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "kustomization", "namespace": namespace},  # escaped file name
            "spec": {"size": 1},
        }
        yield {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                },
            },
        }


def identity(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    metadata = obj["metadata"]
    return (obj["apiVersion"], obj["kind"], metadata.get("namespace", ""), metadata["name"])


def kustomize_build(folder: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [KUSTOMIZE, "build", str(folder)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"kustomize build {folder}: {result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of the remote ``backup2gitops generate`` wrote, every entry point on."""
    base = tmp_path_factory.mktemp("units")
    archive = base / "20261201t020000z" / "resources.tar.gz"
    archive.parent.mkdir()
    with archive.open("wb") as raw, ArchiveWriter(raw) as writer:
        for obj in backup_objects():
            metadata = obj["metadata"]
            writer.add(
                group_resource=group_resource_for(obj["apiVersion"], obj["kind"]),
                namespace=metadata.get("namespace"),
                name=metadata["name"],
                obj=obj,
            )
    config = base / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "git": {"branch": "main"},
                "generator": {
                    "units": {
                        "repo_url": REPO_URL,
                        "flux": {"enabled": True, "namespace": FLUX_NS},
                        "argocd": {"mode": "applications", "namespace": ARGO_NS},
                    }
                },
            }
        )
    )
    remote = base / "remote.git"
    env = {**os.environ, "BACKUP2GITOPS_CONFIG": str(config)}
    argv = ["generate", str(archive), "--cluster", "prod", "--repo", str(remote), "-o", "json"]
    done = subprocess.run(
        [sys.executable, "-m", "backup2gitops", *argv],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["objects"] == 2 + len(NAMESPACES) * 6
    assert report["added"] == report["objects"]  # the entry points are not counted as objects
    checkout = base / "checkout"
    subprocess.run(["git", "clone", "-q", str(remote), str(checkout)], check=True)
    return checkout


def test_every_object_is_in_exactly_one_unit_and_the_root_renders_them_all(clone: Path) -> None:
    root = clone / "clusters" / "prod"
    listed = yaml.safe_load((root / "kustomization.yaml").read_text())["resources"]
    assert listed == ["cluster-scoped", *(f"namespaces/{ns}" for ns in sorted(NAMESPACES))]
    seen: Counter[tuple[str, str, str, str]] = Counter()
    for unit in listed:
        built = kustomize_build(root / unit)
        assert built, unit
        for obj in built:
            namespace = obj["metadata"].get("namespace")
            assert namespace == (None if unit == "cluster-scoped" else unit.split("/")[1]), obj
            seen[identity(obj)] += 1
    assert max(seen.values()) == 1
    whole = [identity(obj) for obj in kustomize_build(root)]
    assert sorted(whole) == sorted(seen)
    assert sorted(seen) == sorted(identity(obj) for obj in backup_objects())
    files = [
        p.relative_to(root).as_posix()
        for p in root.rglob("*.yaml")
        if p.name != "kustomization.yaml"
        and p.relative_to(root).parts[0] in ("cluster-scoped", "namespaces")
    ]
    assert len(files) == len(seen)


def test_the_entry_point_folders_build_and_name_every_unit(clone: Path) -> None:
    root = clone / "clusters" / "prod"
    unit_folders = {
        f"./clusters/prod/{unit}"
        for unit in yaml.safe_load((root / "kustomization.yaml").read_text())["resources"]
    }
    flux = kustomize_build(root / "flux")
    kustomizations = [o for o in flux if o["kind"] == "Kustomization"]
    assert {o["spec"]["path"] for o in kustomizations} == unit_folders
    names = {o["metadata"]["name"] for o in kustomizations}
    for obj in kustomizations:
        depends = [d["name"] for d in obj["spec"].get("dependsOn", [])]
        assert set(depends) <= names
        first = obj["spec"]["path"] == "./clusters/prod/cluster-scoped"
        assert depends == ([] if first else ["prod.cluster-scoped"])
    [source] = [o for o in flux if o["kind"] == "GitRepository"]
    assert source["spec"]["url"] == REPO_URL and source["spec"]["ref"] == {"branch": "main"}
    apps = kustomize_build(root / "argocd")
    assert {"./" + a["spec"]["source"]["path"] for a in apps} == unit_folders
    waves = {
        a["spec"]["source"]["path"]: a["metadata"]["annotations"][entry_points.SYNC_WAVE]
        for a in apps
    }
    assert {path for path, wave in waves.items() if wave == "-1"} == {
        "clusters/prod/cluster-scoped"
    }


def entry_point_objects(layout: units.Layout) -> list[dict[str, Any]]:
    """The Flux / Argo CD objects of a small planned tree (pure: ``core.repo_plan``)."""
    placed = []
    for obj in backup_objects():
        metadata = obj["metadata"]
        path = object_path(
            cluster="prod",
            group_resource=group_resource_for(obj["apiVersion"], obj["kind"]),
            namespace=metadata.get("namespace"),
            name=metadata["name"],
        )
        placed.append((path, obj))
    tree = plan_tree(cluster="prod", objects=placed, layout=layout)
    return [
        yaml.safe_load(content)
        for path, content in tree.items()
        if path.parts[2] in units.ENTRY_POINT_FOLDERS and path.name != "kustomization.yaml"
    ]


SOURCE = units.Source(url=REPO_URL, branch="main")
LAYOUTS = {
    "flux-sops": units.Layout(
        source=SOURCE,
        flux=units.FluxSettings(
            namespace=FLUX_NS, source_secret="flux-git", decryption_secret="sops-age"
        ),
    ),
    "argocd-applications": units.Layout(
        source=SOURCE, argocd=units.ArgoSettings(mode="applications", namespace=ARGO_NS)
    ),
    "argocd-applicationset": units.Layout(
        source=SOURCE, argocd=units.ArgoSettings(mode="applicationset", namespace=ARGO_NS)
    ),
    "flux-cut-by-resource": units.Layout(
        split_over=3, source=SOURCE, flux=units.FluxSettings(namespace=FLUX_NS)
    ),
    "argocd-applications-cut-by-resource": units.Layout(
        split_over=3,
        source=SOURCE,
        argocd=units.ArgoSettings(mode="applications", namespace=ARGO_NS),
    ),
    "argocd-applicationset-cut-by-resource": units.Layout(
        split_over=3,
        source=SOURCE,
        argocd=units.ArgoSettings(mode="applicationset", namespace=ARGO_NS),
    ),
    "by-cluster": units.Layout(
        by="cluster",
        source=SOURCE,
        flux=units.FluxSettings(namespace=FLUX_NS, create_source=False),
        argocd=units.ArgoSettings(mode="applicationset", namespace=ARGO_NS),
    ),
}


@pytest.fixture(scope="module")
def crds_applied(kube_cluster: KubeCluster) -> Iterator[KubeCluster]:
    """The vendored CRDs and two namespaces on the shared API server, removed afterwards."""
    files = sorted(CRDS.glob("*.yaml"))
    for crd in files:
        kube_cluster.kubectl("apply", "--server-side", "--field-manager=tests", "-f", str(crd))
    names = [yaml.safe_load(crd.read_text())["metadata"]["name"] for crd in files]
    for name in names:
        kube_cluster.kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")
    for namespace in (FLUX_NS, ARGO_NS):
        kube_cluster.kubectl("create", "namespace", namespace)
    yield kube_cluster
    for namespace in (FLUX_NS, ARGO_NS):
        kube_cluster.kubectl("delete", "namespace", namespace, "--wait=false")
    for name in names:
        kube_cluster.kubectl("delete", "crd", name, "--wait=false")


def kept(sent: Any, stored: Any) -> bool:
    """Whether everything sent is stored as sent (the server may add its schema's defaults)."""
    if isinstance(sent, dict):
        return isinstance(stored, dict) and all(
            key in stored and kept(value, stored[key]) for key, value in sent.items()
        )
    if isinstance(sent, list):
        return (
            isinstance(stored, list)
            and len(sent) == len(stored)
            and all(kept(a, b) for a, b in zip(sent, stored, strict=True))
        )
    return bool(sent == stored)


def server_side_apply(cluster: KubeCluster, objects: list[dict[str, Any]]) -> Any:
    return cluster.kubectl(
        "apply",
        "--server-side",
        "--field-manager=tests",
        "--validate=strict",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
        check=False,
    )


@pytest.mark.parametrize("case", sorted(LAYOUTS))
def test_the_api_server_accepts_the_entry_points_as_written(
    crds_applied: KubeCluster, case: str
) -> None:
    objects = entry_point_objects(LAYOUTS[case])
    assert objects
    result = server_side_apply(crds_applied, objects)
    assert result.returncode == 0, result.stderr
    for sent in objects:
        read = crds_applied.kubectl(
            "get",
            group_resource_for(sent["apiVersion"], sent["kind"]),
            sent["metadata"]["name"],
            "-n",
            sent["metadata"]["namespace"],
            "-o",
            "json",
        )
        stored = json.loads(read.stdout)
        assert kept(sent["spec"], stored["spec"]), f"{sent['kind']} {sent['metadata']['name']}"
        for key in ("labels", "annotations"):
            for name, value in sent["metadata"].get(key, {}).items():
                assert stored["metadata"][key][name] == value
    crds_applied.kubectl(
        "delete",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
    )


@pytest.mark.parametrize(
    ("kind", "edit", "complaint"),
    [
        ("Kustomization", {"decryption": {"provider": "age"}}, "spec.decryption.provider"),
        ("Kustomization", {"interval": "ten minutes"}, "spec.interval"),
        ("Kustomization", {"sourceRef": {"kind": "Git", "name": "x"}}, "spec.sourceRef.kind"),
        ("Kustomization", {"dependson": []}, "dependson"),
        ("Application", {"destination": {"serverURL": "x"}}, "serverURL"),
        ("ApplicationSet", {"generators": [{"gitt": {}}]}, "gitt"),
    ],
)
def test_the_check_refuses_what_the_crds_refuse(
    crds_applied: KubeCluster, kind: str, edit: dict[str, Any], complaint: str
) -> None:
    """The validation is the real one: an object the CRD does not allow is refused."""
    layout = {
        "Kustomization": "flux-sops",
        "Application": "argocd-applications",
        "ApplicationSet": "argocd-applicationset",
    }[kind]
    [obj, *_] = [o for o in entry_point_objects(LAYOUTS[layout]) if o["kind"] == kind]
    obj["metadata"]["name"] = "refused"
    obj["spec"].update(edit)
    result = server_side_apply(crds_applied, [obj])
    assert result.returncode != 0
    assert complaint in result.stderr, result.stderr


def test_paths_are_repository_paths() -> None:
    """The paths the entry points name are the unit folders of the planned tree."""
    objects = entry_point_objects(LAYOUTS["argocd-applications"])
    planned = {PurePosixPath(o["spec"]["source"]["path"]) for o in objects}
    assert PurePosixPath("clusters/prod/cluster-scoped") in planned
    assert len(planned) == 1 + len(NAMESPACES)


def test_units_cut_by_resource_build_on_their_own_and_together(tmp_path: Path) -> None:
    """With ``split_over`` below every unit's size, each resource folder is a unit: the real
    kustomize builds each alone, every object is in exactly one, the namespace folder and the root
    still render everything, and no object file moved."""
    layout = units.Layout(split_over=3)
    placed = [
        (
            object_path(
                cluster="prod",
                group_resource=group_resource_for(obj["apiVersion"], obj["kind"]),
                namespace=obj["metadata"].get("namespace"),
                name=obj["metadata"]["name"],
            ),
            obj,
        )
        for obj in backup_objects()
    ]
    tree = plan_tree(cluster="prod", objects=placed, layout=layout)
    assert {path for path, _ in placed} <= set(tree)  # the same paths as without the cut
    for path, content in tree.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(content)
    root = tmp_path / "clusters" / "prod"
    members: dict[str, list[str]] = {}
    for path, _ in placed:
        relative = path.relative_to("clusters/prod").as_posix()
        key = units.unit_key(relative, by="namespace")
        members.setdefault(key, []).append(relative[len(key) + 1 :])
    plan = units.plan_units("prod", members, layout=layout)
    assert all(len(unit.key.split("/")) > 1 for unit in plan.units if unit.cluster_scoped)
    seen: Counter[tuple[str, str, str, str]] = Counter()
    for unit in plan.units:
        built = kustomize_build(tmp_path / unit.folder)
        assert len(built) == len(unit.files), unit.key
        seen.update(identity(obj) for obj in built)
    assert max(seen.values()) == 1
    assert sorted(seen) == sorted(identity(obj) for obj in backup_objects())
    assert sorted(identity(obj) for obj in kustomize_build(root)) == sorted(seen)
    shop = kustomize_build(root / "namespaces" / "shop")
    assert {obj["metadata"].get("namespace") for obj in shop} == {"shop"} and len(shop) == 5
