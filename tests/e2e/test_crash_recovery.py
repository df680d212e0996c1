"""A generator SIGKILLed while git holds its locks leaves a clone the next run repairs.

Each kill point is deterministic, with no timing luck: real git pauses inside its own operation
(the ``reference-transaction`` hook runs while the ref locks are held: ``git fast-import``
writing the commit onto the branch, ``git fetch`` updating the remote ref; ``pre-push`` runs
after the commit and before the push). The generator has no work tree (no ``git add``,
``checkout`` or ``commit``, so no ``index.lock`` to leave behind): the points are its own. The
pausing script touches a marker; the test sees the marker and the lock, SIGKILLs the
generator's whole process group, then runs the generator again.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.e2e.generate_process import generate_argv
from tests.e2e.git_daemon import git_daemon
from tests.e2e.servers import wait_for
from tests.e2e.test_generate_git_daemon import write_backup
from tests.git_repos import git_dir_output

pytestmark = pytest.mark.e2e

PAUSE = """#!/bin/sh
# $1: the point this invocation is; pause (once) when it is the one asked for.
point="$1"; shift
if [ "$point" = "$B2G_PAUSE_AT" ] && [ ! -e "$B2G_PAUSE_MARK" ]; then
  case "$point" in
    ref-import) ps -o args= -p "$PPID" | grep -q " fast-import" || exec cat >/dev/null ;;
    ref-fetch) ps -o args= -p "$PPID" | grep -q "fetch" || exec cat >/dev/null ;;
  esac
  touch "$B2G_PAUSE_MARK"
  exec sleep 600
fi
cat >/dev/null 2>&1 || true
"""

# point -> the lock (under the clone's .git) git holds while paused there
POINTS = {
    "ref-import": "refs/heads/main.lock",  # git fast-import, putting the commit on the branch
    "ref-fetch": "refs/remotes/origin/main.lock",  # git fetch, updating the remote ref
    "pre-push": None,  # committed locally, not pushed
}


def hooks_env(tmp: Path, point: str) -> dict[str, str]:
    script = tmp / "pause.sh"
    script.write_text(PAUSE)
    script.chmod(0o755)
    hooks = tmp / "hooks"
    hooks.mkdir(exist_ok=True)
    for hook, name in (("reference-transaction", None), ("pre-push", "pre-push")):
        body = (
            f'#!/bin/sh\nexec {script} "{name}" "$@"\n'
            if name
            else f'#!/bin/sh\n[ "$1" = prepared ] || exit 0\n'
            f'exec {script} "${{B2G_REF_POINT:-none}}" "$@"\n'
        )
        (hooks / hook).write_text(body)
        (hooks / hook).chmod(0o755)
    config = {"core.hooksPath": str(hooks)}
    env = {"GIT_CONFIG_COUNT": str(len(config))}
    for n, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{n}"] = key
        env[f"GIT_CONFIG_VALUE_{n}"] = value
    env["B2G_PAUSE_AT"] = point
    env["B2G_REF_POINT"] = point if point.startswith("ref-") else "none"
    env["B2G_PAUSE_MARK"] = str(tmp / "paused")
    return env


def remote_git(srv: Path, *args: str) -> str:
    return git_dir_output(srv / "gitops.git", *args)


@pytest.mark.parametrize("point", list(POINTS))
def test_killed_mid_git_operation_the_next_run_succeeds(tmp_path: Path, point: str) -> None:
    srv = tmp_path / "srv"
    with git_daemon(srv) as base:
        url = base + "gitops.git"
        env = {**os.environ, "BACKUP2GITOPS__GIT__CACHE_DIR": str(tmp_path / "seed-cache")}
        first = write_backup(tmp_path / "b1.tar.gz", cluster="prod", names=["a", "b"])
        subprocess.run(
            generate_argv(first, url=url, backup_id="b1"), env=env, check=True, capture_output=True
        )
        before = remote_git(srv, "rev-parse", "main")

        second = write_backup(tmp_path / "b2.tar.gz", cluster="prod", names=["a", "b", "c"])
        cache = tmp_path / "cache"
        pause_dir = tmp_path / "pause"
        pause_dir.mkdir()
        killed_env = {
            **os.environ,
            "BACKUP2GITOPS__GIT__CACHE_DIR": str(cache),
            **hooks_env(pause_dir, point),
        }
        victim = subprocess.Popen(
            generate_argv(second, url=url, backup_id="b2"),
            env=killed_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            wait_for(
                lambda: (pause_dir / "paused").exists() or victim.poll() is not None,
                timeout=180,
                what=f"the generator to pause at {point}",
            )
            assert victim.poll() is None, victim.communicate()
            (clone,) = [p.parent for p in cache.glob("*/.git")]
            lock = POINTS[point]
            if lock is not None:
                assert (clone / ".git" / lock).exists(), sorted(
                    str(p) for p in (clone / ".git").rglob("*.lock")
                )
        finally:
            os.killpg(victim.pid, signal.SIGKILL)
            victim.communicate(timeout=30)
        assert victim.returncode == -signal.SIGKILL
        assert remote_git(srv, "rev-parse", "main") == before  # nothing half-pushed
        if lock is not None:
            assert (clone / ".git" / lock).exists()  # the crash left it behind

        recovered = subprocess.run(
            generate_argv(second, url=url, backup_id="b2"),
            env={**os.environ, "BACKUP2GITOPS__GIT__CACHE_DIR": str(cache)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert recovered.returncode == 0, recovered.stderr
        assert "Backup-Id: b2" in remote_git(srv, "log", "-1", "--format=%B", "main")
        assert "c.yaml" in remote_git(srv, "ls-tree", "-r", "--name-only", "main")
        subprocess.run(
            ["git", "--git-dir", str(srv / "gitops.git"), "fsck", "--strict"],
            check=True,
            capture_output=True,
        )
        assert not list((clone / ".git").rglob("*.lock"))
