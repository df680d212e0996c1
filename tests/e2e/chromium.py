"""A real headless Chromium for end-to-end tests: ``--dump-dom`` and ``--screenshot``, no driver.

Debian's ``chromium-headless-shell`` (``scripts/install-test-deps.sh``), or ``chromium`` with
``--headless``. Each run gets its own ``--user-data-dir`` and its own process group, which is
killed by its id if the browser outlives its deadline (Chromium forks a zygote and renderers).
As root Chromium refuses to start without ``--no-sandbox``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_MISSING = "no chromium: scripts/install-test-deps.sh installs chromium-headless-shell"


def binary() -> list[str] | None:
    """The browser's argv prefix, or None when neither package is installed."""
    shell = shutil.which("chromium-headless-shell")
    if shell:
        return [shell]
    full = shutil.which("chromium")
    return [full, "--headless"] if full else None


def version() -> str:
    found = binary()
    if found is None:
        return "missing"
    done = subprocess.run([found[0], "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def run(url: str, *flags: str, width: int, height: int, timeout_s: float = 90) -> str:
    """Load ``url`` in a fresh profile at ``width`` x ``height``; the browser's stdout."""
    found = binary()
    if found is None:
        raise FileNotFoundError(CHROMIUM_MISSING)
    with tempfile.TemporaryDirectory(prefix="b2g-chromium-") as profile:
        argv = [
            *found,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            *(["--no-sandbox"] if os.geteuid() == 0 else []),
            *flags,
            url,
        ]
        process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if process.returncode != 0:
            raise RuntimeError(f"chromium exited {process.returncode}: {err[-2000:]}")
        return out


def dump_dom(url: str, *, width: int, height: int) -> str:
    """The DOM after load, serialised (``--dump-dom``)."""
    return run(url, "--dump-dom", width=width, height=height)


def screenshot(url: str, path: Path, *, width: int, height: int) -> Path:
    run(url, f"--screenshot={path}", width=width, height=height)
    return path


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
