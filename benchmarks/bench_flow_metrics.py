"""What one /metrics interval costs as the flow's history grows.

    python benchmarks/bench_flow_metrics.py [--commits 1000 10000] [--records 1000 10000]

- ``history``: ``remote_reads.backup_commit_history`` on a bare remote of N generator commits
  (every third one empty, each with its three trailers; made by ``git fast-import``): the first
  call of an instance (fetch of the whole branch into a new cache) and the next (nothing new);
- ``records``: listing N delivery records in a directory bucket (``FileStore``) and parsing
  their keys;
- ``counts``: ``core.flow_metrics.flow_counts`` over both.

Wall-clock seconds, best of 3. It prints figures and asserts nothing; CI does not run it.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backup2gitops.adapters.git import remote_reads
from backup2gitops.adapters.storage import FileStore
from backup2gitops.core import delivery_records
from backup2gitops.core.flow_metrics import flow_counts


def best(run: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    timings, value = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        value = run()
        timings.append(time.perf_counter() - started)
    return min(timings), value


def make_remote(path: Path, commits: int) -> None:
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    lines: list[str] = []
    stamp = 1_780_000_000
    for i in range(commits):
        message = (
            f"backup b{i}\n\nBackup-Id: b{i}\nCluster: prod\n"
            f"Backup-Created-At: 2026-06-01T00:00:00+00:00\n"
        )
        data = message.encode()
        lines.append("commit refs/heads/main")
        lines.append(f"committer t <t@t> {stamp + i * 60} +0000")
        lines.append(f"data {len(data)}")
        lines.append(message)
        if i % 3:
            content = f"v{i}\n".encode()
            lines.append("M 100644 inline clusters/prod/cm.yaml")
            lines.append(f"data {len(content)}")
            lines.append(content.decode())
    stream = "\n".join(lines).encode() + b"\n"
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=stream, check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--records", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for n in args.commits:
            remote = root / f"remote-{n}.git"
            make_remote(remote, n)
            counter = iter(range(1000))

            def read_history(
                fresh: bool, n: int = n, remote: Path = remote, counter: Any = counter
            ) -> Any:
                cache = root / f"cache-{n}-{next(counter) if fresh else 'warm'}.git"
                return remote_reads.backup_commit_history(
                    str(remote), branch="main", timeout_s=600, cache_dir=cache
                )

            first, facts = best(lambda: read_history(True))
            read_history(False)
            warm, _ = best(lambda: read_history(False))
            counted, counts = best(lambda facts=facts: flow_counts(
                commits=facts, completed=[], deliveries=[]))  # fmt: skip
            print(
                f"history  commits={n:>6}  first={first:.3f}s  next={warm:.3f}s  "
                f"counts={counted:.4f}s  generations={counts.generations['prod']}"
                f"  commits_changed={counts.commits['prod']}"
            )
        for n in args.records:
            store = FileStore(root / f"bucket-{n}")
            for i in range(n):
                record = delivery_records.DeliveryRecord(
                    receiver=f"r{i % 3}",
                    outcome="delivered",
                    alertname="BackupStale",
                    cluster="prod",
                    status="firing",
                    delivery=f"{i:032x}",
                )
                store.put_bytes(
                    delivery_records.delivery_record_key(prefix="state/deliveries/", record=record),
                    b"",
                )

            def listed(store: FileStore = store) -> list[delivery_records.DeliveryRecord | None]:
                return [
                    delivery_records.parse_delivery_record_key(info.key, prefix="state/deliveries/")
                    for info in store.list("state/deliveries/")
                ]

            seconds, found = best(listed)
            print(f"records  records={n:>6}  list+parse={seconds:.3f}s  found={len(found)}")


if __name__ == "__main__":
    main()
