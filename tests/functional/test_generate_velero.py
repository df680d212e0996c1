"""``backup2gitops generate`` on a Velero folder reads ``velero-backup.json`` as backup-complete
does (issue 22 item 13): its completion time orders it on the branch, its item count arms the
deletion guard. Real git, the CLI in a subprocess."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from backup2gitops.core.archive import BackupItem
from tests.fixtures.velero import velero_backup_object, velero_tarball
from tests.functional.test_cli_errors import cli
from tests.git_repos import git_dir_output

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def configmap(name: str, value: str) -> BackupItem:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "shop"},
        "data": {"key": value},
    }
    return BackupItem(group_resource="configmaps", namespace="shop", name=name, obj=obj)


def velero_folder(root: Path, name: str, *, started: datetime, items: list[BackupItem]) -> Path:
    folder = root / "backups" / name
    folder.mkdir(parents=True)
    backup = velero_backup_object(
        name=name, phase="Completed", k8s_version="v1.31.4", item_count=len(items), started=started
    )
    (folder / "velero-backup.json").write_text(json.dumps(backup))
    (folder / f"{name}.tar.gz").write_bytes(velero_tarball(items))
    return folder


def generate(tmp_path: Path, folder: Path, remote: Path) -> subprocess.CompletedProcess[str]:
    return cli(
        tmp_path, "generate", str(folder), "--repo", str(remote), "--cluster", "prod", "-o", "json"
    )


def head(remote: Path) -> str:
    return git_dir_output(remote, "rev-parse", "main").strip()


def test_an_older_velero_backup_generated_after_a_newer_one_does_not_move_the_branch_back(
    tmp_path: Path,
) -> None:
    remote = tmp_path / "gitops.git"
    newer = velero_folder(
        tmp_path, "daily-2", started=T0 + timedelta(days=1), items=[configmap("cm", "new")]
    )
    older = velero_folder(tmp_path, "daily-1", started=T0, items=[configmap("cm", "old")])

    done = generate(tmp_path, newer, remote)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["backup_id"] == "daily-2"
    message = git_dir_output(remote, "log", "-1", "--format=%B", "main")
    assert "Backup-Created-At: 2026-11-24T02:00:37+00:00" in message
    before = head(remote)

    late = generate(tmp_path, older, remote)
    assert late.returncode == 1
    assert "older than the backup the branch reflects" in late.stderr
    assert head(remote) == before


def test_the_velero_item_count_arms_the_deletion_guard(tmp_path: Path) -> None:
    remote = tmp_path / "gitops.git"
    full = [configmap(f"cm{i}", "v") for i in range(4)]
    first = velero_folder(tmp_path, "daily-1", started=T0, items=full)
    assert generate(tmp_path, first, remote).returncode == 0
    before = head(remote)
    gutted = velero_folder(
        tmp_path, "daily-2", started=T0 + timedelta(days=1), items=[configmap("cm0", "v")]
    )
    claims = json.loads((gutted / "velero-backup.json").read_text())
    claims["status"]["progress"]["itemsBackedUp"] = 4  # says 4, the tarball holds 1
    (gutted / "velero-backup.json").write_text(json.dumps(claims))
    refused = generate(tmp_path, gutted, remote)
    assert refused.returncode == 1
    assert "the archive holds 1 items, the backup claims 4" in refused.stderr
    assert head(remote) == before


def test_an_unfinished_velero_backup_is_refused(tmp_path: Path) -> None:
    folder = velero_folder(tmp_path, "daily-1", started=T0, items=[configmap("cm", "v")])
    backup = json.loads((folder / "velero-backup.json").read_text())
    backup["status"]["phase"] = "InProgress"
    (folder / "velero-backup.json").write_text(json.dumps(backup))
    result = generate(tmp_path, folder, tmp_path / "gitops.git")
    assert result.returncode == 2 and "not finished" in result.stderr
