"""Back up a real API server and generate its repository with the real CLI, for e2e tests.

``backup_and_generate(cluster, workdir, name=...)`` runs ``backup2gitops backup`` against the
cluster's kubeconfig into a ``file://`` bucket, then ``backup2gitops generate`` of that backup
into a local bare remote, and returns the tree of the remote's branch as ``{path: bytes}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.kube_apiserver import KubeCluster

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"


def cli(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    pythonpath = os.pathsep.join(p for p in (str(FUNCTIONS_DIR), os.environ.get("PYTHONPATH")) if p)
    result = subprocess.run(
        [sys.executable, "-m", "backup2gitops", *args, "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, "PYTHONPATH": pythonpath, **(env or {})},
    )
    if result.returncode != 0:
        raise AssertionError(
            f"backup2gitops {' '.join(args)} exited {result.returncode}: {result.stderr}"
        )
    return dict(json.loads(result.stdout))


@dataclass(frozen=True)
class Generated:
    backup: dict[str, Any]
    generation: dict[str, Any]
    remote: Path
    tree: dict[str, bytes]


def read_tree(remote: Path, branch: str = "main") -> dict[str, bytes]:
    listing = subprocess.run(
        ["git", "--git-dir", str(remote), "ls-tree", "-r", "-z", branch],
        capture_output=True,
        check=True,
    ).stdout.decode()
    tree: dict[str, bytes] = {}
    for entry in filter(None, listing.split("\0")):
        meta, path = entry.split("\t", 1)
        blob = meta.split()[2]
        tree[path] = subprocess.run(
            ["git", "--git-dir", str(remote), "cat-file", "blob", blob],
            capture_output=True,
            check=True,
        ).stdout
    return tree


def backup_and_generate(
    cluster: KubeCluster, workdir: Path, *, name: str = "real", remote: Path | None = None
) -> Generated:
    bucket = workdir / "bucket"
    backup = cli(
        "backup",
        "--to",
        f"file://{bucket}",
        "--cluster",
        name,
        "--kubeconfig",
        str(cluster.kubeconfig),
    )
    folder = bucket / "backups" / name / backup["backup_id"]
    remote = remote or workdir / "gitops.git"
    generation = cli("generate", str(folder), "--repo", str(remote))
    return Generated(backup=backup, generation=generation, remote=remote, tree=read_tree(remote))


def manifests(tree: dict[str, bytes], cluster: str) -> dict[str, bytes]:
    """The object files of one cluster (not the kustomizations, nor the generator's member
    cache)."""
    prefix = f"clusters/{cluster}/"
    return {
        path: data
        for path, data in tree.items()
        if path.startswith(prefix)
        and not path.endswith("/kustomization.yaml")
        and path != prefix + "kustomization.yaml"
        and not path.startswith(prefix + ".backup2gitops/")
    }
