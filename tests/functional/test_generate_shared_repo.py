"""A repository people and tools share: a ``flux bootstrap``-shaped ``clusters/demo/flux-system/``,
a hand-written file and a hand-edited unit kustomization survive the next backups and stay in
``kustomize build clusters/demo``; ``generate --dry-run`` and ``--diff`` change no ref. Real git
(a bare remote, pushed to by the CLI in a subprocess), the real kustomize."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.tarballs import backup_tarball, object_item
from tests.functional.generate_cli import generate_report
from tests.functional.test_cli_errors import cli
from tests.git_repos import git_in

KUSTOMIZE = Path("/root/go/bin/kustomize")
CLUSTER = "demo"

GOTK_COMPONENTS = """\
---
apiVersion: v1
kind: Namespace
metadata:
  name: flux-system
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: kustomize-controller
  namespace: flux-system
"""
GOTK_SYNC = """\
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: flux-sync
  namespace: flux-system
data:
  path: ./clusters/demo
"""
FLUX_KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- gotk-components.yaml
- gotk-sync.yaml
"""
EXTRA = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: hand-written
  namespace: apps
data:
  owner: people
"""


def configmap(name: str, *, manager: str = "kubectl-client-side-apply") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": "apps",
            "managedFields": [
                {
                    "manager": manager,
                    "operation": "Update",
                    "apiVersion": "v1",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {"f:key": {}}},
                }
            ],
        },
        "data": {"key": name},
    }


def write_backup(tmp_path: Path, backup_id: str, names: list[str]) -> Path:
    """A tarball: Namespace apps, ConfigMaps ``names`` in it (``flux-*`` applied by Flux)."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}
    items = [object_item("namespaces", namespace)]
    for name in names:
        manager = "kustomize-controller" if name.startswith("flux-") else "kubectl"
        items.append(object_item("configmaps", configmap(name, manager=manager)))
    archive = tmp_path / "backups" / f"{backup_id}.tar.gz"
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(backup_tarball(items))
    return archive


def generate(tmp_path: Path, archive: Path, remote: Path, *extra: str) -> dict[str, Any]:
    return generate_report(tmp_path, archive, remote, *extra, cluster=CLUSTER)


def refs(remote: Path) -> str:
    return git_in(remote, "for-each-ref", "--format=%(refname) %(objectname)")


def build(work: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(KUSTOMIZE), "build", str(work / "clusters" / CLUSTER)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def names(objects: list[dict[str, Any]]) -> set[str]:
    return {
        f"{o['kind']}/{o['metadata'].get('namespace', '')}/{o['metadata']['name']}" for o in objects
    }


@pytest.fixture
def shared(tmp_path: Path) -> tuple[Path, Path]:
    """A bare remote with one backup, then flux-system, a hand-written file and a hand-edited
    unit kustomization pushed on top by a person."""
    remote = tmp_path / "gitops.git"
    first = generate(tmp_path, write_backup(tmp_path, "b1", ["a", "b", "flux-app"]), remote)
    assert first["added"] == 4 and first["kept_foreign"] == 0
    assert first["unmanaged"] == 3  # the Namespace, a and b; flux-app is Flux's
    work = tmp_path / "work"
    git_in(tmp_path, "clone", "-q", str(remote), str(work))
    git_in(work, "config", "user.email", "person@example.com")
    git_in(work, "config", "user.name", "A person")
    flux = work / "clusters" / CLUSTER / "flux-system"
    flux.mkdir()
    (flux / "gotk-components.yaml").write_text(GOTK_COMPONENTS)
    (flux / "gotk-sync.yaml").write_text(GOTK_SYNC)
    (flux / "kustomization.yaml").write_text(FLUX_KUSTOMIZATION)
    root = work / "clusters" / CLUSTER / "kustomization.yaml"
    listed = yaml.safe_load(root.read_text())
    listed["resources"].append("flux-system")
    root.write_text(yaml.safe_dump(listed))
    unit = work / "clusters" / CLUSTER / "namespaces" / "apps"
    (unit / "hand-written.yaml").write_text(EXTRA)
    pinned = yaml.safe_load(EXTRA.replace("hand-written", "pinned"))
    pinned["metadata"]["annotations"] = {"backup2gitops.io/hand-written": "true"}
    (unit / "configmaps" / "pinned.yaml").write_text(yaml.safe_dump(pinned))
    kustomization_extra = ["hand-written.yaml", "configmaps/pinned.yaml", "gone.yaml"]
    kustomization = yaml.safe_load((unit / "kustomization.yaml").read_text())
    kustomization["resources"] += kustomization_extra
    kustomization["commonAnnotations"] = {"team": "apps"}
    (unit / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    git_in(work, "add", "-A")
    git_in(work, "commit", "-q", "-m", "flux bootstrap, a hand-written ConfigMap")
    git_in(work, "push", "-q", "origin", "HEAD")
    return remote, work


@pytest.mark.skipif(not KUSTOMIZE.exists(), reason="kustomize binary not installed")
def test_foreign_files_survive_two_backups_and_stay_in_the_build(
    tmp_path: Path, shared: tuple[Path, Path]
) -> None:
    remote, work = shared
    second = generate(tmp_path, write_backup(tmp_path, "b2", ["flux-app"]), remote)
    assert (second["added"], second["changed"], second["removed"]) == (0, 0, 2)  # a, b gone
    assert second["kept_foreign"] == 5  # flux-system's three files, the two hand-written ones
    unit_file = f"clusters/{CLUSTER}/namespaces/apps/kustomization.yaml"
    assert second["missing_entries"] == [f"{unit_file}: gone.yaml"]
    third = generate(tmp_path, write_backup(tmp_path, "b3", ["a", "c", "flux-app"]), remote)
    assert (third["added"], third["removed"], third["kept_foreign"]) == (2, 0, 5)

    git_in(work, "pull", "-q", "--ff-only")
    message = git_in(work, "log", "-1", "--format=%B")
    assert "Kept, not written by backup2gitops: 5 files" in message
    assert "Not managed by any GitOps tool (3; changed by hand):" in message
    assert "ConfigMap apps/c" in message and "flux-app" not in message.split("by hand):")[1]
    unit = yaml.safe_load((work / unit_file).read_text())
    assert unit["resources"] == [
        "configmaps/a.yaml",
        "configmaps/c.yaml",
        "configmaps/flux-app.yaml",
        "hand-written.yaml",
        "configmaps/pinned.yaml",
        "gone.yaml",
    ]
    assert unit["commonAnnotations"] == {"team": "apps"}
    (work / "clusters" / CLUSTER / "namespaces" / "apps" / "gone.yaml").write_text(
        EXTRA.replace("hand-written", "gone")
    )  # the person fixes the entry: kustomize builds
    built = names(build(work))
    assert {
        "Namespace//flux-system",
        "ServiceAccount/flux-system/kustomize-controller",
        "ConfigMap/flux-system/flux-sync",
        "ConfigMap/apps/hand-written",
        "ConfigMap/apps/pinned",
        "ConfigMap/apps/a",
        "ConfigMap/apps/c",
    } <= built
    assert "ConfigMap/apps/b" not in built
    assert (work / "clusters" / CLUSTER / "flux-system" / "gotk-components.yaml").read_text() == (
        GOTK_COMPONENTS
    )


def test_dry_run_and_diff_change_no_ref(tmp_path: Path, shared: tuple[Path, Path]) -> None:
    remote, _ = shared
    before = refs(remote)
    archive = write_backup(tmp_path, "b2", ["a", "c", "flux-app"])
    report = generate(tmp_path, archive, remote, "--dry-run")
    assert report["dry_run"] is True
    assert (report["added"], report["changed"], report["removed"]) == (1, 0, 1)
    assert report["units"] == {"namespaces/apps": {"added": 1, "changed": 0, "removed": 1}}
    assert report["kept_foreign"] == 5
    diff = cli(
        tmp_path, "generate", str(archive), "--repo", str(remote), "--cluster", CLUSTER, "--diff"
    )
    assert diff.returncode == 0, diff.stderr
    assert (
        f"--- /dev/null\n+++ b/clusters/{CLUSTER}/namespaces/apps/configmaps/c.yaml" in diff.stdout
    )
    assert (
        f"--- a/clusters/{CLUSTER}/namespaces/apps/configmaps/b.yaml\n+++ /dev/null" in diff.stdout
    )
    assert "-- configmaps/b.yaml\n+- configmaps/c.yaml" in diff.stdout.replace("\n ", "\n")
    assert "flux-system" not in diff.stdout  # kept as it is
    assert refs(remote) == before
    committed = generate(tmp_path, archive, remote)  # the same backup, for real
    assert (committed["added"], committed["removed"]) == (1, 1)
    assert refs(remote) != before


def test_a_dry_run_into_a_work_tree_leaves_it_as_it_is(tmp_path: Path) -> None:
    export = tmp_path / "export"
    generate(tmp_path, write_backup(tmp_path, "b1", ["a", "b"]), export)
    head = git_in(export, "rev-parse", "HEAD")
    table = cli(
        tmp_path,
        "generate",
        str(write_backup(tmp_path, "b2", ["a", "c"])),
        "--repo",
        str(export),
        "--cluster",
        CLUSTER,
        "--dry-run",
    )
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith("dry run: would commit on")
    assert "namespaces/apps: +1 ~0 -1" in table.stdout
    assert "3 not managed by any GitOps tool:" in table.stdout
    assert git_in(export, "rev-parse", "HEAD") == head
    assert git_in(export, "status", "--porcelain") == ""
    assert (export / "clusters" / CLUSTER / "namespaces/apps/configmaps/b.yaml").is_file()
