"""backup-complete's webhook throughput on its fast path, served by functions-framework.

    python benchmarks/bench_webhook.py [--seconds 10] [--concurrency 8]

The server is what the container runs (``python -m backup2gitops.runtime.server --source
functions/main.py --target backup_complete``: functions-framework's app under gunicorn with the
HTTP edge's worker; ``--functions-framework``: functions-framework's own server, as the image ran
it before), with a webhook token. The body is MinIO's
own webhook (``tests/events/minio-webhook-put.json``: an object that is not a backup's marker),
which backup-complete authenticates, parses and answers without touching storage: the path
every object written to the bucket takes. ``--concurrency`` client threads, each on its own
keep-alive connection, post for ``--seconds``. Figures: requests/s, latency p50/p99, and the
server's CPU seconds over the run (``/proc/<pid>/stat`` of the server and its workers), whose
ratio is the requests per second per core. The client shares the machine's cores. Not a test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BODY = (ROOT / "tests" / "events" / "minio-webhook-put.json").read_bytes()
TOKEN = "bench-token"  # noqa: S105 - the benchmark's own server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and of its children still running (gunicorn workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _ready(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False


def load(port: int, *, seconds: float, concurrency: int) -> tuple[list[float], dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        seen: dict[int, int] = {}
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                connection.request("POST", "/", body=BODY, headers=headers)
                response = connection.getresponse()
                response.read()
            except OSError:  # counted as status 0; a new connection for the next request
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                seen[0] = seen.get(0, 0) + 1
                continue
            mine.append(time.perf_counter() - started)
            seen[response.status] = seen.get(response.status, 0) + 1
        connection.close()
        with lock:
            latencies.extend(mine)
            for status, count in seen.items():
                statuses[status] = statuses.get(status, 0) + count

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses


def webhook_figures(
    *, seconds: float = 10, concurrency: int = 8, functions_framework: bool = False
) -> dict[str, Any]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKUP2GITOPS")}
    env |= {
        "PYTHONPATH": str(ROOT / "functions"),
        "FUNCTION_TARGET": "backup_complete",
        "BACKUP2GITOPS_WEBHOOK_TOKEN": TOKEN,
        "BACKUP2GITOPS_LOG_LEVEL": "WARNING",
    }
    module = "functions_framework" if functions_framework else "backup2gitops.runtime.server"
    argv = [sys.executable, "-m", module, "--source", str(ROOT / "functions/main.py")]
    argv += ["--target", "backup_complete"]
    argv += ["--signature-type", "http"] if functions_framework else []
    argv += ["--host", "127.0.0.1", "--port", str(port)]
    log = tempfile.TemporaryFile()  # noqa: SIM115 - a pipe nobody reads would fill and block it
    server = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        ready_by = time.monotonic() + 120
        while not _ready(port):
            if server.poll() is not None or time.monotonic() > ready_by:
                log.seek(0)
                error = log.read().decode()[-500:]
                raise RuntimeError(f"backup-complete did not start: {error}")
            time.sleep(0.2)
        load(port, seconds=3, concurrency=2)  # warm up: the first request's imports
        cpu_before = cpu_seconds(server.pid)
        started = time.perf_counter()
        latencies, statuses = load(port, seconds=seconds, concurrency=concurrency)
        elapsed = time.perf_counter() - started
        server_cpu = cpu_seconds(server.pid) - cpu_before
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    latencies.sort()
    count = len(latencies)
    return {
        "requests": count,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "concurrency": concurrency,
        "req_per_s": round(count / elapsed, 1),
        "server_cpu_s": round(server_cpu, 2),
        "req_per_cpu_s": round(count / server_cpu, 1) if server_cpu else None,
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if count else None,
        "p99_ms": round(latencies[int(count * 0.99) - 1] * 1000, 2) if count else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--functions-framework", action="store_true")
    args = parser.parse_args()
    figures = webhook_figures(
        seconds=args.seconds,
        concurrency=args.concurrency,
        functions_framework=args.functions_framework,
    )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
