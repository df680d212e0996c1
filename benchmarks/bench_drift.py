"""The cost of the drift report: a big cluster, a small change, and the pure classification.

Not a test. Run: ``python benchmarks/bench_drift.py [--objects N] [--changed K]``.
Commits N ConfigMaps for a cluster, then a commit changing K of them plus a cluster-admin
binding, and times ``adapters.git.changes.commit_comparison`` + ``core.drift.findings`` on it (the
cost should follow K, not N); then classifies 10,000 synthetic changes in memory.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path, PurePosixPath

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))

import yaml

from backup2gitops.adapters.git.changes import commit_comparison
from backup2gitops.adapters.git.process import GitRunner
from backup2gitops.core import drift

ADMIN = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRoleBinding",
    "metadata": {"name": "shop-admin"},
    "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "cluster-admin",
    },
    "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "shop"}],
}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def configmap(i: int, value: str) -> dict[str, object]:
    meta = {"name": f"cm-{i}", "namespace": f"ns-{i % 50}"}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"v": value}}


def write(root: Path, i: int, value: str) -> None:
    path = root / "namespaces" / f"ns-{i % 50}" / "configmaps" / f"cm-{i}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(configmap(i, value)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        git(repo, "init", "-q", "-b", "main")
        git(repo, "config", "user.email", "b@e")
        git(repo, "config", "user.name", "b")
        root = repo / "clusters" / "prod"
        for i in range(args.objects):
            write(root, i, "a")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "base\n\nBackup-Id: b1\nCluster: prod")
        for i in range(args.changed):
            write(root, i, "b")
        crb = root / "cluster-scoped" / "clusterrolebindings.rbac.authorization.k8s.io"
        crb.mkdir(parents=True)
        (crb / "shop-admin.yaml").write_text(yaml.safe_dump(ADMIN))
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "change\n\nBackup-Id: b2\nCluster: prod")
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        started = time.perf_counter()
        read = commit_comparison(
            git_dir=repo / ".git",
            runner=GitRunner(),
            commit=head,
            root=PurePosixPath("clusters/prod"),
            backup_id="b2",
            cluster="prod",
        )
        assert read is not None
        found = drift.findings(
            read.changes, facts=drift.Facts(roles=read.roles), policy=drift.DriftPolicy()
        )
        elapsed = time.perf_counter() - started
        print(
            f"git report: {args.objects} objects in the cluster, {len(read.changes)} changed, "
            f"{len(found)} finding(s): {elapsed * 1000:.0f} ms"
        )
    changes = [
        drift.ObjectChange(
            before=None if i % 2 else ADMIN, after={**ADMIN, "metadata": {"name": f"b{i}"}}
        )
        for i in range(10_000)
    ]
    started = time.perf_counter()
    found = drift.findings(changes, facts=drift.Facts(roles={}), policy=drift.DriftPolicy())
    elapsed = time.perf_counter() - started
    print(f"pure core: 10000 changed bindings, {len(found)} findings: {elapsed * 1000:.0f} ms")


if __name__ == "__main__":
    main()
