"""`backup2gitops generate` in separate processes against a real git daemon remote."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from backup2gitops.core.archive import ArchiveWriter
from tests.e2e.generate_process import generate_argv
from tests.e2e.git_daemon import git_daemon

pytestmark = pytest.mark.e2e


def write_backup(path: Path, *, cluster: str, names: list[str]) -> Path:
    with path.open("wb") as out, ArchiveWriter(out) as archive:
        for name in names:
            obj: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": name,
                    "namespace": "apps",
                    "uid": f"{cluster}-{name}",
                    "resourceVersion": "1",
                },
                "data": {"cluster": cluster},
            }
            archive.add(group_resource="configmaps", namespace="apps", name=name, obj=obj)
    return path


def generate(
    tarball: Path, *, url: str, cluster: str, backup_id: str, cache: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BACKUP2GITOPS__GIT__CACHE_DIR": str(cache)}
    return subprocess.run(
        generate_argv(tarball, url=url, cluster=cluster, backup_id=backup_id),
        capture_output=True,
        text=True,
        env=env,
        check=check,
        timeout=120,
    )


def test_two_generator_processes_race_on_a_git_daemon_and_both_land(tmp_path: Path) -> None:
    with git_daemon(tmp_path / "srv") as base:
        url = base + "gitops.git"
        tarballs = {
            c: write_backup(tmp_path / f"{c}.tar.gz", cluster=c, names=["a", "b", "c"])
            for c in ("east", "west")
        }
        env = {**os.environ}
        procs = [
            subprocess.Popen(
                generate_argv(tarballs[c], url=url, cluster=c, backup_id=f"{c}-1"),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**env, "BACKUP2GITOPS__GIT__CACHE_DIR": str(tmp_path / f"cache-{c}")},
            )
            for c in ("east", "west")
        ]
        reports = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            reports.append(json.loads(out))
        assert all(not r["noop"] and r["objects"] == 3 for r in reports)
        clone = tmp_path / "clone"
        subprocess.run(["git", "clone", "-q", url, str(clone)], check=True)
        log = subprocess.run(
            ["git", "-C", str(clone), "log", "--format=%s"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        assert len(log) == 2  # one commit per backup, no merge commits, nothing forced
        assert (clone / "clusters/east/namespaces/apps/configmaps/a.yaml").is_file()
        assert (clone / "clusters/west/namespaces/apps/configmaps/a.yaml").is_file()
        again = json.loads(
            generate(
                tarballs["east"],
                url=url,
                cluster="east",
                backup_id="east-1",
                cache=tmp_path / "cache-3",
            ).stdout
        )
        assert again["noop"] is True


def test_an_unreachable_remote_fails_with_a_clear_message(tmp_path: Path) -> None:
    tarball = write_backup(tmp_path / "b.tar.gz", cluster="east", names=["a"])
    result = generate(
        tarball,
        url="git://127.0.0.1:9/none.git",
        cluster="east",
        backup_id="x",
        cache=tmp_path / "c",
        check=False,
    )
    assert result.returncode == 1
    assert "git failed talking to git://127.0.0.1:9/none.git" in result.stderr
