"""The two ways a newcomer meets the product: ``demo`` and ``serve`` + one webhook POST.

Both run as real processes; ``serve`` starts five functions-framework servers and the broker.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from tests.e2e.servers import backup2gitops_serve
from tests.git_repos import git_dir_output

pytestmark = pytest.mark.e2e
NOISE = (
    "/events",
    "/endpoints",
    "/endpointslices",
    "/pods/",
    "/replicasets.apps/",
    "/leases",
    "/nodes/",
    "/controllerrevisions",
    "/jobs.batch/",
    "/secrets/",
    "kube-root-ca.crt",
)
SERVER_SET = ("status", "uid", "resourceVersion", "managedFields", "creationTimestamp")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backup2gitops", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env or dict(os.environ),
        check=False,
    )


def tree(remote: Path) -> list[str]:
    out = git_dir_output(remote, "ls-tree", "-r", "--name-only", "main")
    return out.split()


def commits(remote: Path) -> int:
    result = subprocess.run(
        ["git", "--git-dir", str(remote), "rev-list", "--count", "main"],
        capture_output=True,
        text=True,
        check=False,
    )
    return int(result.stdout.strip()) if result.returncode == 0 else 0


def test_demo_commits_the_clean_sample_once(tmp_path: Path) -> None:
    first = cli("demo", "--workdir", str(tmp_path), "--json")
    assert first.returncode == 0, first.stderr[-2000:]
    report = json.loads(first.stdout)
    assert report["commit"] and report["noop"] is False and not report["dead_letters"]
    assert report["health"]["status"] in ("healthy", "degraded")
    assert report["objects"] >= 20
    files = tree(tmp_path / "gitops.git")
    for expected in (
        "clusters/demo/namespaces/shop/deployments.apps/web.yaml",
        "clusters/demo/namespaces/payments/statefulsets.apps/postgres.yaml",
        "clusters/demo/cluster-scoped/customresourcedefinitions.apiextensions.k8s.io/widgets.example.com.yaml",
        "clusters/demo/namespaces/shop/widgets.example.com/blue.yaml",
        "clusters/demo/namespaces/shop/roles.rbac.authorization.k8s.io/web-config-reader.yaml",
        "clusters/demo/kustomization.yaml",
    ):
        assert expected in files
    assert not [f for f in files if any(n in f for n in NOISE)]
    clone = Path(report["repository"])
    for path in clone.joinpath("clusters").rglob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        if doc.get("kind") == "Kustomization":
            continue
        assert "status" not in doc
        assert not set(SERVER_SET) & set(doc["metadata"]), path
    kustomize = shutil.which("kustomize") or str(Path.home() / "go/bin/kustomize")
    if Path(kustomize).exists():  # scripts/install-test-deps.sh installs it
        built = subprocess.run(
            [kustomize, "build", "clusters/demo"],
            cwd=clone,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        kinds = [doc["kind"] for doc in yaml.safe_load_all(built) if doc]
        assert len(kinds) == report["objects"] and "Deployment" in kinds
    second = cli("demo", "--workdir", str(tmp_path), "--json")
    again = json.loads(second.stdout)
    assert again["noop"] is True and again["commit"] == report["commit"]
    assert commits(tmp_path / "gitops.git") == 1


def test_serve_runs_the_whole_flow_from_one_minio_webhook_post(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKUP2GITOPS")}
    with backup2gitops_serve(
        "--workdir", str(tmp_path), env=env, log=tmp_path / "serve.log"
    ) as port:
        body = (tmp_path / "minio-webhook.json").read_bytes()  # written by serve --workdir
        assert json.loads(body)["Records"][0]["eventSource"] == "minio:s3"
        # what `curl -H 'Content-Type: application/json' -d @body http://127.0.0.1:P+1/` does
        answer = requests.post(
            f"http://127.0.0.1:{port + 1}/",
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=120,
        )
        assert answer.status_code == 202, answer.text
        deadline = time.monotonic() + 240
        while commits(tmp_path / "gitops.git") == 0:
            assert time.monotonic() < deadline, "no commit reached the remote"
            time.sleep(0.3)
        assert "clusters/demo/namespaces/shop/deployments.apps/web.yaml" in tree(
            tmp_path / "gitops.git"
        )
