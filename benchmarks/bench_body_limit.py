"""What a 10 MB request body costs backup-complete: time, bytes read and peak traced memory.

Not a test. Run: ``python benchmarks/bench_body_limit.py [--mib 10]``.
The body goes through the real HTTP wrapper (``runtime.http``) in Flask's test client, once with
a ``Content-Length`` (refused unread) and once without one (chunked: read up to the limit + 1
byte, then refused). Each case runs twice: timed, then under tracemalloc for its peak.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))

import flask

from backup2gitops.config import Config
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import handle_request
from backup_complete.handler import SPEC


class CountingBody(io.RawIOBase):
    """A JSON-ish body of ``size`` bytes produced on demand; counts what is read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), self.size - self.read_bytes)
        buffer[:count] = b" " * count
        self.read_bytes += count
        return count


def post(app: flask.Flask, *, size: int, declared: bool) -> tuple[int, int]:
    body = CountingBody(size)
    overrides: dict[str, Any] = {"CONTENT_LENGTH": str(size) if declared else ""}
    if not declared:
        overrides["wsgi.input_terminated"] = True
    response = app.test_client().post(
        "/",
        headers={"Content-Type": "application/json", "Authorization": "Bearer t"},
        input_stream=body,
        environ_overrides=overrides,
    )
    return response.status_code, body.read_bytes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=10)
    size = parser.parse_args().mib * 1024 * 1024
    ctx = FunctionContext(Config(), environ={"BACKUP2GITOPS_WEBHOOK_TOKEN": "t"})
    app = flask.Flask("bench")
    app.add_url_rule("/", "f", lambda: handle_request(SPEC, flask.request, ctx), methods=["POST"])
    print(f"body {size} bytes, limit {ctx.config.http.max_body_bytes} bytes")
    post(app, size=1024, declared=True)  # warm up: loggers, Flask's first request
    for declared in (True, False):
        started = time.perf_counter()
        status, read = post(app, size=size, declared=declared)
        elapsed = time.perf_counter() - started
        tracemalloc.start()
        post(app, size=size, declared=declared)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        label = "Content-Length" if declared else "chunked       "
        print(
            f"{label}: {status}, {read} bytes read, {elapsed * 1000:.1f} ms, "
            f"peak traced {peak / 1024 / 1024:.2f} MiB"
        )


if __name__ == "__main__":
    main()
