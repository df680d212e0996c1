"""Raw HTTP/1.1 clients on real sockets, well-behaved and not: for the HTTP edge's tests and its
benchmark (``benchmarks/bench_slow_clients.py``). Every read has a generous timeout; nothing
here sleeps to synchronise."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.servers import FUNCTIONS_DIR, serving_process
from tests.recording import free_port

ROOT = FUNCTIONS_DIR.parent
MAIN = FUNCTIONS_DIR / "main.py"
TOKEN = "edge-token-value"
WEBHOOK = (ROOT / "tests" / "events" / "minio-webhook-put.json").read_bytes()
READ_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT_S)


def post_bytes(body: bytes, *, token: str | None = TOKEN, extra: str = "") -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token is not None else ""
    head = (
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{auth}Content-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


def read_answer(sock: socket.socket) -> Answer:
    """One response; an interim ``100 Continue`` is skipped."""
    return read_answers(sock, 1)[0]


def read_answers(sock: socket.socket, count: int) -> list[Answer]:
    """``count`` responses in a row (pipelined: bytes of the next one may come with this one);
    each read by its headers, then Content-Length bytes of body (or up to EOF)."""
    answers: list[Answer] = []
    data = b""
    while len(answers) < count:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed before an answer: {data!r}")
            data += chunk
        head, _, data = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        if status == 100:
            continue
        fields = (line.partition(":") for line in lines[1:])
        headers = {name.strip().lower(): value.strip() for name, _, value in fields}
        length = int(headers.get("content-length", "-1"))
        while length < 0 or len(data) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        cut = length if length >= 0 else len(data)
        answers.append(Answer(status, headers, data[:cut]))
        data = data[cut:]
    return answers


def exchange(port: int, raw: bytes) -> Answer:
    """One request on its own connection."""
    with connect(port) as sock:
        sock.sendall(raw)
        return read_answer(sock)


def slow_header_client(port: int) -> socket.socket:
    """A slowloris: the request line and half a header, then nothing."""
    sock = connect(port)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
    return sock


def slow_body_client(port: int, *, token: str | None = TOKEN) -> socket.socket:
    """Whole headers declaring a 1000-byte body, 10 bytes of it, then nothing."""
    sock = connect(port)
    sock.sendall(post_bytes(b"x" * 1000, token=token)[:-990])
    return sock


def unanswered(sock: socket.socket) -> bool:
    """True when the server has neither answered nor closed ``sock`` (so far)."""
    sock.setblocking(False)
    try:
        sock.recv(1, socket.MSG_PEEK)  # an answer's first byte, or b"": closed
        return False
    except BlockingIOError:
        return True
    finally:
        sock.settimeout(READ_TIMEOUT_S)


def edge_config(directory: Path, *, header_timeout_s: float, body_timeout_s: float) -> Path:
    bucket = directory / "bucket"
    bucket.mkdir(parents=True, exist_ok=True)
    config = directory / "config.yaml"
    config.write_text(
        f"storage:\n  url: file://{bucket}\n"
        "backup_complete:\n  webhook_token: {env: EDGE_TOKEN}\n"
        f"http:\n  header_timeout_seconds: {header_timeout_s}\n"
        f"  body_timeout_seconds: {body_timeout_s}\n"
    )
    return config


def server_argv(how: str, port: int) -> list[str]:
    """backup-complete's server: as the image runs it, or through ``backup2gitops serve``."""
    where = ["--host", "127.0.0.1", "--port", str(port)]
    if how == "image":
        module = ["-m", "backup2gitops.runtime.server", "--source", str(MAIN)]
        return [sys.executable, *module, "--target", "backup_complete", *where]
    return [sys.executable, "-m", "backup2gitops", "serve", "--function", "backup-complete", *where]


@contextlib.contextmanager
def edge_server(
    directory: Path,
    *,
    how: str = "image",
    header_timeout_s: float = 600,
    body_timeout_s: float = 600,
    env: Mapping[str, str] | None = None,
) -> Iterator[int]:
    """backup-complete with a webhook token, served for real on 127.0.0.1; yields its port."""
    config = edge_config(
        directory, header_timeout_s=header_timeout_s, body_timeout_s=body_timeout_s
    )
    port = free_port()
    pythonpath = os.pathsep.join(p for p in (str(FUNCTIONS_DIR), os.environ.get("PYTHONPATH")) if p)
    full_env = {
        **os.environ,
        "PYTHONPATH": pythonpath,
        "BACKUP2GITOPS_CONFIG": str(config),
        "EDGE_TOKEN": TOKEN,
        "FUNCTION_TARGET": "backup_complete",
        **(env or {}),
    }

    def ready() -> bool:
        try:
            return exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status == 200
        except OSError:
            return False

    log = directory / f"server-{how}.log"
    with serving_process(
        server_argv(how, port), env=full_env, log=log, ready=ready, what=f"backup-complete ({how})"
    ):
        yield port
