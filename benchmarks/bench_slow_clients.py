"""Slow clients against backup-complete's real server: normal request latency with 0, 8 and 32
slow clients (half slow headers, half slow bodies) open, and the time to a 408.

Not a test. Run: ``python benchmarks/bench_slow_clients.py [--server edge|functions-framework]``.
``edge`` is the image's server (``python -m backup2gitops.runtime.server``); ``functions-framework``
is ``functions-framework --signature-type http`` as the image ran it before (no deadlines): there
a normal request that gets no answer within ``--patience`` seconds is printed as such.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "functions"))

from tests.e2e.servers import serving_process  # noqa: E402
from tests.e2e.slow_clients import (  # noqa: E402
    MAIN,
    WEBHOOK,
    connect,
    edge_config,
    exchange,
    post_bytes,
    read_answer,
    slow_body_client,
    slow_header_client,
)
from tests.recording import free_port  # noqa: E402


def argv_for(server: str, port: int) -> list[str]:
    where = ["--host", "127.0.0.1", "--port", str(port)]
    if server == "edge":
        module = ["-m", "backup2gitops.runtime.server", "--source", str(MAIN)]
        return [sys.executable, *module, "--target", "backup_complete", *where]
    executable = shutil.which("functions-framework") or "functions-framework"
    source = ["--source", str(MAIN), "--target", "backup_complete", "--signature-type", "http"]
    return [executable, *source, *where]


def normal_latencies(port: int, *, count: int, patience: float) -> list[float | None]:
    times: list[float | None] = []
    for _ in range(count):
        started = time.perf_counter()
        try:
            with connect(port) as sock:
                sock.settimeout(patience)
                sock.sendall(post_bytes(WEBHOOK))
                status = read_answer(sock).status
            times.append(time.perf_counter() - started if status == 202 else None)
        except OSError:
            times.append(None)
    return times


def describe(times: list[float | None]) -> str:
    done = [t for t in times if t is not None]
    if not done:
        return f"no answer in {len(times)} tries"
    text = f"median {statistics.median(done) * 1000:7.1f} ms, max {max(done) * 1000:7.1f} ms"
    return text + (f", {len(times) - len(done)} unanswered" if len(done) < len(times) else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", choices=["edge", "functions-framework"], default="edge")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--patience", type=float, default=20.0)
    parser.add_argument("--deadline", type=float, default=5.0, help="header and body deadlines")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = edge_config(Path(tmp), header_timeout_s=600, body_timeout_s=600)
        port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "functions"),
            "BACKUP2GITOPS_CONFIG": str(config),
            "EDGE_TOKEN": "edge-token-value",
            "FUNCTION_TARGET": "backup_complete",
        }

        def ready() -> bool:
            try:
                return exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status == 200
            except OSError:
                return False

        log = Path(tmp) / "server.log"
        print(f"server: {args.server}, {os.cpu_count()} CPUs, {args.requests} requests each")
        with serving_process(argv_for(args.server, port), env=env, log=log, ready=ready, what="x"):
            for slow_count in (0, 8, 32):
                slow = [slow_header_client(port) for _ in range(slow_count // 2)]
                slow += [slow_body_client(port) for _ in range(slow_count - slow_count // 2)]
                times = normal_latencies(port, count=args.requests, patience=args.patience)
                print(f"{slow_count:2d} slow clients: {describe(times)}")
                for sock in slow:
                    sock.close()
                if slow_count and all(t is None for t in times):
                    break  # the server is stalled: the next figures would say the same
    if args.server != "edge":
        return
    with tempfile.TemporaryDirectory() as tmp:
        config = edge_config(
            Path(tmp), header_timeout_s=args.deadline, body_timeout_s=args.deadline
        )
        port = free_port()
        env["BACKUP2GITOPS_CONFIG"] = str(config)
        log = Path(tmp) / "server.log"
        with serving_process(argv_for("edge", port), env=env, log=log, ready=ready, what="edge"):
            for name, client in (
                ("withheld headers", slow_header_client),
                ("withheld body", slow_body_client),
            ):
                started = time.perf_counter()
                with client(port) as sock:
                    answer = read_answer(sock)
                took = time.perf_counter() - started
                print(f"{name}: {answer.status} after {took:.2f} s (deadline {args.deadline} s)")


if __name__ == "__main__":
    main()
