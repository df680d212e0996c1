"""The git repositories tests push to: a bare one on disk, and the ``GitRemote`` the generator is
given for it (branch ``main``, one author), so each test names only what it is about."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from backup2gitops.adapters.git import GitRemote


def bare_repository(path: Path) -> Path:
    """An empty bare repository at ``path`` whose HEAD is ``main``, made by git itself."""
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(path)], check=True)
    return path


def git_remote(url: str | Path, cache_dir: Path, **settings: Any) -> GitRemote:
    """The remote ``url``'s branch ``main``, cloned under ``cache_dir``, committed to by author
    ``t``; ``settings`` are GitRemote's other fields (a token, a deadline...)."""
    return GitRemote(
        url=str(url),
        branch="main",
        cache_dir=cache_dir,
        author_name="t",
        author_email="t@example.com",
        **settings,
    )


def git_in(path: Path, *args: str) -> str:
    """``git -C path ARGS``'s output (a work tree's, or a bare repository's); it must succeed."""
    return subprocess.run(
        ["git", "-C", str(path), *args], capture_output=True, text=True, check=True
    ).stdout


def git_dir_output(git_dir: Path, *args: str, stdin: str | None = None) -> str:
    """``git --git-dir GIT_DIR ARGS``'s output (given ``stdin``, when there is one); it must
    succeed."""
    return subprocess.run(
        ["git", "--git-dir", str(git_dir), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
