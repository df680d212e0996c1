"""The cached work clone follows the remote it writes to, even when that remote is made again."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from backup2gitops import generation
from backup2gitops.adapters.git import ensure_bare_remote
from backup2gitops.core.cleaning import CleaningPolicy
from tests.fixtures.tarballs import backup_tarball, object_item
from tests.functional.git_trace import traced_commands
from tests.git_repos import bare_repository, git_dir_output, git_remote


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


def test_opening_a_sound_clone_and_reading_its_history_runs_three_git_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare, cache = bare_repository(tmp_path / "gitops.git"), tmp_path / "cache"
    generate(bare, cache, backup_id="b1", value="1")
    remote, trace = git_remote(bare, cache), tmp_path / "trace.json"
    pushed = git_dir_output(bare, "rev-parse", "main").strip()
    monkeypatch.setenv("GIT_TRACE2_EVENT", str(trace))

    with remote.open() as tip:
        assert tip.commit == pushed
        assert [c.commit for c in tip.backups()] == [pushed]

    # the commit last synced to, the fetch (which makes the local branch the remote's), the
    # branch's log (its tip, and the history read next): no `remote set-url` for an unchanged
    # URL, no update-ref, no symbolic-ref, no rev-parse of the tip, no second log
    assert traced_commands(trace) == ["rev-parse", "fetch", "log"]
    assert remote.recoveries == []


def test_a_clone_whose_origin_was_changed_behind_its_back_is_set_again(tmp_path: Path) -> None:
    bare, cache = bare_repository(tmp_path / "gitops.git"), tmp_path / "cache"
    generate(bare, cache, backup_id="b1", value="1")
    remote = git_remote(bare, cache)
    git_dir_output(remote.git_dir, "remote", "set-url", "origin", str(tmp_path / "elsewhere"))
    (remote.workdir / "origin-url.sha256").unlink()  # what set it is gone with it

    again = generate(bare, cache, backup_id="b2", value="2")

    assert again.commit.changed == 1
    assert git_dir_output(remote.git_dir, "remote", "get-url", "origin").strip() == str(bare)
    assert [line.split(" (")[0] for line in log(bare)] == ["prod: backup b2", "prod: backup b1"]


def test_a_clone_git_cannot_read_is_rebuilt(tmp_path: Path) -> None:
    bare, cache = bare_repository(tmp_path / "gitops.git"), tmp_path / "cache"
    generate(bare, cache, backup_id="b1", value="1")
    remote = git_remote(bare, cache)
    (remote.git_dir / "HEAD").unlink()  # no longer a repository, for git

    with remote.open() as tip:
        assert tip.commit == git_dir_output(bare, "rev-parse", "main").strip()

    assert [r.split(" (")[0] for r in remote.recoveries] == ["unusable clone"]
    again = generate(bare, cache, backup_id="b2", value="2")
    assert again.commit.changed == 1
