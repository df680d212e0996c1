"""A real git remote for tests: ``git daemon`` on 127.0.0.1 and a free port, push enabled."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests.git_repos import bare_repository
from tests.recording import free_port


@contextlib.contextmanager
def git_daemon(
    base: Path, *, repos: tuple[str, ...] = ("gitops.git",), port: int | None = None
) -> Iterator[str]:
    """Serve bare repositories under ``base`` (created when absent); yields the base URL
    (``git://127.0.0.1:P/``). ``port`` brings a stopped remote back where it was."""
    for name in repos:
        if (base / name / "HEAD").is_file():
            continue
        bare_repository(base / name)
    port = port or free_port()
    process = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            f"--base-path={base}",
            "--export-all",
            "--enable=receive-pack",
            "--listen=127.0.0.1",
            f"--port={port}",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its group: the connections it serves (``--serve``) end with it
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("git daemon did not start")
            time.sleep(0.05)
        yield f"git://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(timeout=10)
        # a connection whose client was killed mid-command keeps its own ``git-daemon --serve``
        # child waiting, and it outlives SIGTERM: what is left of the group is killed
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
