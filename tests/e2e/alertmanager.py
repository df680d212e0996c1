"""Starting a real Alertmanager (Debian's prometheus-alertmanager) for a test, clustering off."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.recording import free_port

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
if ALERTMANAGER is None and Path("/usr/bin/prometheus-alertmanager").exists():
    ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


@contextlib.contextmanager
def alertmanager_server(workdir: Path, config: str) -> Iterator[str]:
    """Alertmanager with ``config`` on a free 127.0.0.1 port; yields its URL once ready."""
    if ALERTMANAGER is None:
        pytest.skip(
            "prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config_file = workdir / "alertmanager.yml"
    config_file.write_text(config)
    log_path = workdir / "alertmanager.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={config_file}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            f"--storage.path={workdir / 'data'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(url + "/-/ready", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("alertmanager did not start:\n" + log_path.read_text())
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
