"""The cached work clone follows the remote it writes to, even when that remote is made again."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

from backup2gitops import generation
from backup2gitops.adapters.git import ensure_bare_remote
from backup2gitops.core.cleaning import CleaningPolicy
from tests.fixtures.tarballs import backup_tarball, object_item
from tests.git_repos import git_remote


def archive(value: str) -> bytes:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}
    return backup_tarball([object_item("configmaps", obj | {"data": {"k": value}})])


def generate(bare: Path, cache: Path, *, backup_id: str, value: str) -> generation.Outcome:
    data = archive(value)
    return generation.generate(
        archive=lambda: io.BytesIO(data),
        remote=git_remote(bare, cache),
        cluster="prod",
        backup_id=backup_id,
        policy=CleaningPolicy(),
    )


def log(bare: Path) -> list[str]:
    out = subprocess.run(
        ["git", "--git-dir", str(bare), "log", "--format=%s", "main"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.splitlines()


def test_a_deleted_and_recreated_empty_remote_gets_the_backup(tmp_path: Path) -> None:
    bare, cache = tmp_path / "gitops.git", tmp_path / "cache"
    ensure_bare_remote(bare)
    generate(bare, cache, backup_id="b1", value="1")
    generate(bare, cache, backup_id="b2", value="2")
    shutil.rmtree(bare)
    ensure_bare_remote(bare)  # the user made their GitOps repository again

    again = generate(bare, cache, backup_id="b2", value="2")  # not a no-op: the remote is new

    assert not again.commit.noop
    assert again.commit.added == 1
    assert [line.split(" (")[0] for line in log(bare)] == ["prod: backup b2"]


def test_a_remote_recreated_with_other_history_is_followed(tmp_path: Path) -> None:
    bare, cache, other = tmp_path / "gitops.git", tmp_path / "cache", tmp_path / "other"
    ensure_bare_remote(bare)
    generate(bare, cache, backup_id="b1", value="1")
    shutil.rmtree(bare)
    ensure_bare_remote(bare)
    subprocess.run(["git", "init", "-q", "-b", "main", str(other)], check=True)
    (other / "README.md").write_text("made by a person\n")
    git = ["git", "-C", str(other), "-c", "user.name=p", "-c", "user.email=p@e.org"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "start"], check=True)
    subprocess.run([*git, "push", "-q", str(bare), "main"], check=True)

    again = generate(bare, cache, backup_id="b1", value="1")

    assert not again.commit.noop
    assert [line.split(" (")[0] for line in log(bare)] == ["prod: backup b1", "start"]
