"""The command's exit: ``cli.console`` freezes the objects left (``gc.freeze``) so the
interpreter's finalization does not collect them all again, which is safe only if nothing the
CLI leaves behind needs a collection to release a resource. Both halves, in fresh interpreters
on a real bare remote: after ``generate`` (a fresh export, then a daily backup onto it), the
garbage a collection would find holds no open file, socket or running process, and no thread
but the main one is left; then the command as a process (``python -m backup2gitops``) exits
with ``main``'s status and leaves nothing in its temporary directory.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.fixtures.native import native_backup
from tests.fresh_python import run_python
from tests.functional.test_cli_errors import clean_env
from tests.git_repos import bare_repository

LEFT_FOR_THE_COLLECTOR = """
import gc, io, json, socket, subprocess, sys, threading
from backup2gitops.cli import main

out, remote, *archives = sys.argv[1:]
statuses = [
    main(["generate", archive, "--repo", remote, "--cluster", "prod", "--backup-id", f"b{n}",
          "-o", "json"])
    for n, archive in enumerate(archives)
]
gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection would free, kept to be looked at
gc.collect()


def holds(thing):
    if isinstance(thing, io.IOBase):
        return not thing.closed
    if isinstance(thing, socket.socket):
        return thing.fileno() != -1
    if isinstance(thing, subprocess.Popen):
        return thing.returncode is None
    return False


with open(out, "w") as file:
    json.dump({
        "statuses": statuses,
        "garbage": len(gc.garbage),
        "holding": [repr(thing)[:200] for thing in gc.garbage if holds(thing)],
        "threads": [thread.name for thread in threading.enumerate()],
    }, file)
"""


def archives(tmp_path: Path) -> tuple[Path, Path]:
    base, daily = tmp_path / "base.tar.gz", tmp_path / "daily.tar.gz"
    base.write_bytes(native_backup(objects=20).archive)
    daily.write_bytes(native_backup(objects=21).archive)
    return base, daily


def test_generate_leaves_no_resource_for_a_collection_at_exit(tmp_path: Path) -> None:
    remote = bare_repository(tmp_path / "remote.git")
    out = tmp_path / "left.json"
    env = clean_env(tmp_path, BACKUP2GITOPS__GIT__CACHE_DIR=str(tmp_path / "git-cache"))
    run_python(
        LEFT_FOR_THE_COLLECTOR, str(out), str(remote), *map(str, archives(tmp_path)), env=env
    )
    left = json.loads(out.read_text())
    assert left["statuses"] == [0, 0]
    assert left["garbage"] > 0  # the probe sees what a collection would free
    assert left["holding"] == []
    assert left["threads"] == ["MainThread"]


def test_the_command_exits_with_mains_status_and_leaves_no_temporary_file(
    tmp_path: Path,
) -> None:
    remote = bare_repository(tmp_path / "remote.git")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = clean_env(
        tmp_path, BACKUP2GITOPS__GIT__CACHE_DIR=str(tmp_path / "git-cache"), TMPDIR=str(scratch)
    )

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-X", "dev", "-m", "backup2gitops", *args],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )

    for n, archive in enumerate(archives(tmp_path)):
        done = command(
            "generate", str(archive), "--repo", str(remote), "--cluster", "prod",
            "--backup-id", f"b{n}", "-o", "json",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "ResourceWarning" not in done.stderr  # -X dev: an unclosed file is reported
        assert json.loads(done.stdout)["decoded"] > 0
    assert list(scratch.iterdir()) == []

    torn = tmp_path / "torn.tar.gz"
    torn.write_bytes((tmp_path / "base.tar.gz").read_bytes()[:-100])
    truncated = command("generate", str(torn), "--repo", str(remote), "--cluster", "prod")
    assert truncated.returncode == 1, truncated.stderr  # the work failed: the archive ends early
    assert "truncated" in truncated.stderr
    no_archive = command("generate", str(tmp_path / "none.tar.gz"), "--repo", str(remote))
    assert no_archive.returncode == 2, no_archive.stderr  # usage: main's
    assert command("generate").returncode == 2  # usage: argparse's own exit
