"""Real servers for end-to-end tests: MinIO, a function under functions-framework, a recorder.

Each is a context manager that starts the server on 127.0.0.1, waits until it answers (bounded
polls, no fixed sleeps) and stops it on exit -- only the process it started.

- ``minio_server(tmp_path, env=...)``: ``minio server DIR`` from ``$(go env GOPATH)/bin/minio``
  (``minio_binary()`` is None when absent: skip the test with ``MINIO_MISSING``);
- ``serve_function(source_file, target, env=...)``: the image's server (``runtime.server``:
  functions-framework's app under gunicorn with the HTTP edge's worker);
- ``http_recorder()``: a tiny HTTP server that records every request and answers 202 (a K_SINK,
  a webhook receiver, ...).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest
import requests

from tests.recording import free_port, free_port_block, serving

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
MINIO_MISSING = (
    "no minio binary at $(go env GOPATH)/bin/minio: "
    "go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c (CI does)"
)
MINIO_USER = "b2gadmin"
MINIO_PASSWORD = "b2g-secret-key"
T = TypeVar("T")


def wait_for(
    probe: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.1
) -> T:
    """Poll ``probe`` until it returns something other than None (or False)."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout}s waiting for {what}")
        time.sleep(interval)


def answers(url: str, *, ok: Callable[[int], bool] = lambda status: True) -> bool:
    try:
        return ok(requests.get(url, timeout=10).status_code)
    except requests.RequestException:
        return False


@contextlib.contextmanager
def serving_process(
    argv: list[str], *, env: Mapping[str, str], log: Path, ready: Callable[[], bool], what: str
) -> Iterator[subprocess.Popen[bytes]]:
    with started(argv, env=env, log=log) as process:

        def up() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"{what} exited with {process.returncode}: {tail(log)}")
            return ready()

        wait_for(up, timeout=120, what=what)
        yield process


@contextlib.contextmanager
def started(
    argv: list[str], *, env: Mapping[str, str], log: Path, grace_s: float = 10
) -> Iterator[subprocess.Popen[bytes]]:
    """``argv`` running with its output in ``log``; on exit it is terminated (killed after
    ``grace_s``) -- only the process this started, by its pid."""
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=dict(env), stdout=out, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


# ----------------------------------------------------------------------------------- MinIO


def gopath_binary(name: str) -> Path | None:
    """``$(go env GOPATH)/bin/NAME`` when scripts/install-test-deps.sh has built it."""
    gopath = None
    if shutil.which("go"):
        gopath = subprocess.run(
            ["go", "env", "GOPATH"], capture_output=True, text=True, check=False
        ).stdout.strip()
    candidate = Path(gopath or Path.home() / "go") / "bin" / name
    return candidate if candidate.is_file() else None


def minio_binary() -> Path | None:
    return gopath_binary("minio")


needs_minio = pytest.mark.skipif(minio_binary() is None, reason=MINIO_MISSING)
"""The mark of a test that runs a real MinIO (a failure under CI, where it is always built)."""


@dataclass(frozen=True)
class Minio:
    url: str
    user: str
    password: str
    data_dir: Path
    log: Path
    pid: int = 0
    """The server's process id, for tests that kill it mid-request."""

    def s3_client(self) -> S3Client:
        """A boto3 S3 client on this server, as its root user."""
        return minio_s3_client(self.url, user=self.user, password=self.password)


def minio_s3_client(
    url: str, *, user: str = MINIO_USER, password: str = MINIO_PASSWORD
) -> S3Client:
    """A boto3 S3 client on the MinIO at ``url`` (path-style addressing: no bucket in the host)."""
    import boto3
    from botocore.config import Config as BotoConfig

    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=user,
        aws_secret_access_key=password,
        config=BotoConfig(s3={"addressing_style": "path"}),
    )


@contextlib.contextmanager
def minio_server(
    tmp_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    user: str = MINIO_USER,
    password: str = MINIO_PASSWORD,
    port: int | None = None,
) -> Iterator[Minio]:
    binary = minio_binary()
    if binary is None:
        raise FileNotFoundError(MINIO_MISSING)
    port, console = port or free_port(), free_port()
    data_dir = tmp_path / "minio-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    argv = [str(binary), "server", str(data_dir), "--address", f"127.0.0.1:{port}"]
    argv += ["--console-address", f"127.0.0.1:{console}", "--quiet"]
    full_env = {
        **os.environ,
        "MINIO_ROOT_USER": user,
        "MINIO_ROOT_PASSWORD": password,
        "MINIO_BROWSER": "off",
        **(env or {}),
    }
    log = tmp_path / "minio.log"
    ready = lambda: answers(f"{url}/minio/health/live", ok=lambda s: s == 200)  # noqa: E731
    with serving_process(argv, env=full_env, log=log, ready=ready, what="minio") as process:
        yield Minio(
            url=url, user=user, password=password, data_dir=data_dir, log=log, pid=process.pid
        )


# ------------------------------------------------------------------------ functions-framework


@contextlib.contextmanager
def serve_function(
    source: str | Path, target: str, *, env: Mapping[str, str], log: Path | None = None
) -> Iterator[str]:
    """Serve ``target`` from ``source`` (a .py file) over HTTP; yield its base URL."""
    port = free_port()
    argv = [sys.executable, "-m", "backup2gitops.runtime.server", "--source", str(source)]
    argv += ["--target", target, "--host", "127.0.0.1", "--port", str(port)]
    pythonpath = os.pathsep.join(p for p in (str(FUNCTIONS_DIR), os.environ.get("PYTHONPATH")) if p)
    full_env = {**os.environ, "PYTHONPATH": pythonpath, **env}
    url = f"http://127.0.0.1:{port}"
    if log is None:
        handle, name = tempfile.mkstemp(prefix=f"ff-{target}-", suffix=".log")
        os.close(handle)
        log = Path(name)
    ready = lambda: answers(url + "/healthz")  # noqa: E731
    with serving_process(argv, env=full_env, log=log, ready=ready, what=target):
        yield url


# ------------------------------------------------------------------------------- recorder


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    url: str
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self, path: str | None = None) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if path is None or r.path == path]


@contextlib.contextmanager
def http_recorder(*, status: int = 202) -> Iterator[Recorder]:
    """Record every request (any path) and answer ``status`` with no body."""
    recorder: Recorder

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with recorder.lock:
                recorder.requests.append(
                    Recorded(self.command, self.path, dict(self.headers.items()), body)
                )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_PUT = do_GET = do_HEAD = _record  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as port:
        recorder = Recorder(url=f"http://127.0.0.1:{port}")
        yield recorder


__all__ = [
    "MINIO_MISSING",
    "Minio",
    "Recorded",
    "Recorder",
    "free_port",
    "free_port_block",
    "gopath_binary",
    "http_recorder",
    "minio_binary",
    "minio_s3_client",
    "minio_server",
    "needs_minio",
    "serve_function",
    "wait_for",
]


def _checkout_first(pythonpath: str | None) -> str:
    """PYTHONPATH with this checkout's ``functions/`` first: the code under test, not whatever
    copy of the package the interpreter has installed (another checkout's editable install)."""
    return os.pathsep.join(p for p in (str(FUNCTIONS_DIR), pythonpath) if p)


@contextlib.contextmanager
def backup2gitops_serve(
    *args: str, env: Mapping[str, str], log: Path, port: int | None = None
) -> Iterator[int]:
    """``backup2gitops serve`` (five functions-framework servers and the broker) as a process
    group; yields the broker's port once it answers; stops the whole group."""
    port = port or free_port_block(6)
    with log.open("w") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "backup2gitops", "serve", "--port", str(port), *args],
            env={**env, "PYTHONPATH": _checkout_first(env.get("PYTHONPATH"))},
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def up() -> bool:
            if server.poll() is not None:
                raise RuntimeError(f"backup2gitops serve exited: {tail(log)}")
            return answers(f"http://127.0.0.1:{port}/healthz", ok=lambda status: status == 200)

        try:
            wait_for(up, timeout=180, what=f"backup2gitops serve on port {port}")
            yield port
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
