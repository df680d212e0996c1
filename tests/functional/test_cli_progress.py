"""Progress on long work: drawn (rich) on stderr when it is a terminal, here a real pty; none in
a pipe, and none with ``-o json`` even on a terminal. stdout is the result either way."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.fixtures.native import native_backup
from tests.functional.test_cli_errors import clean_env


def run_with_stderr_on_a_pty(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """(status, stdout, what the terminal received on stderr)."""
    master, slave = pty.openpty()
    received = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed its end
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "backup2gitops", *args],
            stdout=subprocess.PIPE,
            stderr=slave,
            text=True,
            env=clean_env(tmp_path, TERM="xterm-256color", COLUMNS="120"),
            cwd=tmp_path,
            timeout=300,
            check=False,
        )
    finally:
        os.close(slave)
        reader.join(timeout=30)
        os.close(master)
    return result.returncode, result.stdout, received.decode(errors="replace")


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "bucket" / "20261123t020000z" / "resources.tar.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(native_backup(objects=20).archive)
    return path


def test_generate_draws_progress_on_a_terminal(tmp_path: Path, archive: Path) -> None:
    args = ("generate", str(archive), "--repo", str(tmp_path / "r.git"), "--cluster", "prod")
    status, stdout, terminal = run_with_stderr_on_a_pty(tmp_path, *args)
    assert status == 0, terminal
    assert "generate: reading" in terminal and "\x1b[" in terminal  # drawn, with escapes
    assert stdout.startswith("committed ") and "\x1b[" not in stdout  # the result, plain


def test_no_progress_with_json_output_even_on_a_terminal(tmp_path: Path, archive: Path) -> None:
    args = ("generate", str(archive), "--repo", str(tmp_path / "r.git"), "--cluster", "prod")
    status, stdout, terminal = run_with_stderr_on_a_pty(tmp_path, *args, "-o", "json")
    assert status == 0, terminal
    assert terminal == ""
    assert json.loads(stdout)["added"] == 20


def test_no_progress_when_stderr_is_not_a_terminal(tmp_path: Path, archive: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "backup2gitops",
            "generate",
            str(archive),
            "--repo",
            str(tmp_path / "r.git"),
            "--cluster",
            "prod",
        ],
        capture_output=True,
        text=True,
        env=clean_env(tmp_path, TERM="xterm-256color"),
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("committed ")


def test_demo_draws_its_steps_on_a_terminal(tmp_path: Path) -> None:
    status, stdout, terminal = run_with_stderr_on_a_pty(
        tmp_path, "demo", "--workdir", str(tmp_path / "demo")
    )
    assert status == 0, terminal
    assert "demo: " in terminal and "\x1b[" in terminal
    assert "\x1b[" not in stdout
