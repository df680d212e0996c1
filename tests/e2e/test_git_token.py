"""The git token reaches a real authenticated remote as a header, and nowhere else."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from backup2gitops import generation
from backup2gitops.adapters.git import GitError, remote_reads
from backup2gitops.core.cleaning import CleaningPolicy
from tests.e2e.git_http import git_http_server
from tests.functional.test_gitops_generator import one_configmap_archive
from tests.git_repos import bare_repository, git_remote

pytestmark = pytest.mark.e2e
TOKEN = "ghp_t0ken-that-must-not-leak"


def test_push_and_ls_remote_authenticate_with_a_header_only(tmp_path: Path) -> None:
    root = tmp_path / "srv"
    bare_repository(root / "gitops.git")
    subprocess.run(
        ["git", "--git-dir", str(root / "gitops.git"), "config", "http.receivepack", "true"],
        check=True,
    )
    with git_http_server(root, user="x-access-token", token=TOKEN) as (base, seen):
        url = base + "gitops.git"
        archive = one_configmap_archive()
        outcome = generation.generate(
            archive=lambda: io.BytesIO(archive),
            remote=git_remote(url, tmp_path / "c", token=TOKEN),
            cluster="prod",
            backup_id="b1",
            policy=CleaningPolicy(),
        )
        assert not outcome.commit.noop
        head = remote_reads.ls_remote(url, branch="main", timeout_s=10, secret=TOKEN)
        assert head == outcome.commit.commit
        assert any(auth.startswith("Basic ") for auth in seen)

        with pytest.raises(GitError) as refused:  # a wrong token: not retryable, no secret shown
            generation.generate(
                archive=lambda: io.BytesIO(archive),
                remote=git_remote(url, tmp_path / "w", token="wrong"),
                cluster="prod",
                backup_id="b2",
                policy=CleaningPolicy(),
            )
        assert refused.value.retryable is False and "wrong" not in refused.value.message

    leaked = [
        p for p in (tmp_path / "c").rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()
    ]
    assert leaked == []  # not in .git/config, not in any file of the working clone
