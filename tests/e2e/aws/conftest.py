"""Session fixtures of the AWS end-to-end tier: ``sam build`` once (cached by the digest of the
sources), moto's server on 127.0.0.1 and a free port."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.aws import lambda_functions
from tests.e2e.servers import serving_process
from tests.recording import free_port


@pytest.fixture(scope="session")
def sam_built() -> Path:
    if not lambda_functions.available():
        pytest.skip(lambda_functions.RIE_MISSING)
    return lambda_functions.sam_build(lambda_functions.tools_dir() / "sam-build")


def _moto_answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/moto-api/data.json", timeout=10).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``moto_server -H 127.0.0.1 -p PORT`` for the session (stopped by pid)."""
    if importlib.util.find_spec("moto.server") is None:
        pytest.skip("no moto server: pip install 'moto[server]' (a dev dependency)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    env = dict(os.environ)
    with serving_process(
        argv, env=env, log=log, ready=lambda: _moto_answers(url), what="moto_server"
    ):
        yield url
