"""Starting a real Alertmanager (Debian's prometheus-alertmanager) for a test, clustering off."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.servers import answers, serving_process
from tests.recording import free_port

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
if ALERTMANAGER is None and Path("/usr/bin/prometheus-alertmanager").exists():
    ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


def webhook_config(hook: str) -> str:
    """Alertmanager's configuration that sends every alert, grouped by cluster within a second,
    firing and resolved, to the webhook ``hook``."""
    return f"""
global:
  resolve_timeout: 5m
route:
  receiver: hook
  group_by: [cluster]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {hook}
        send_resolved: true
"""


@contextlib.contextmanager
def alertmanager_server(workdir: Path, config: str, *, port: int | None = None) -> Iterator[str]:
    """Alertmanager with ``config`` on a free 127.0.0.1 port (or ``port``: one a test kept for
    it while it was down); yields its URL once ready."""
    if ALERTMANAGER is None:
        pytest.skip(
            "prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    config_file = workdir / "alertmanager.yml"
    config_file.write_text(config)
    url = f"http://127.0.0.1:{port}"
    argv = [
        ALERTMANAGER,
        f"--config.file={config_file}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        f"--storage.path={workdir / 'data'}",
    ]
    ready = lambda: answers(url + "/-/ready", ok=lambda status: status == 200)  # noqa: E731
    log = workdir / "alertmanager.log"
    with serving_process(argv, env=os.environ, log=log, ready=ready, what="alertmanager"):
        yield url
