"""Benchmark: a native backup of 10,000 objects read from the replay API server into a FileStore.

    python benchmarks/bench_cluster_backup.py [--objects 10000] [--page-size 500] [--repeat 3]

The replay server runs in a child process, so the figures are the backup's alone: discovery,
paged lists through the real kubernetes client over HTTP, filters and default exclusions,
gzip+tar into ``resources.tar.gz`` in a directory bucket, then ``manifest.json``. Prints
objects per second (wall clock, best of ``--repeat`` untraced runs), the peak Python heap
(tracemalloc, one more run) next to the size of all objects' JSON (to show memory is bounded by
a page, not by the cluster), and the process's max RSS. Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]

from kubernetes import client  # noqa: E402

from backup2gitops.adapters.storage import FileStore  # noqa: E402
from backup2gitops.cluster_snapshot import ClusterBackup, write_cluster_backup  # noqa: E402
from backup2gitops.config import ClusterBackupConfig  # noqa: E402
from backup2gitops.core.bucket_layout import new_backup_id  # noqa: E402
from tests.kube_replay.cluster import synthetic_configmaps  # noqa: E402
from tests.kube_replay.server import SYNTHETIC_NAMESPACES, synthetic_server_in_child  # noqa: E402


def _run(url: str, bucket: Path, *, page_size: int, run: int) -> ClusterBackup:
    configuration = client.Configuration()
    configuration.host = url
    started = datetime(2026, 1, 1, tzinfo=UTC).replace(second=run % 60, minute=run // 60)
    with client.ApiClient(configuration) as api:
        return write_cluster_backup(
            api,
            FileStore(bucket),
            config=ClusterBackupConfig(page_size=page_size),
            cluster="bench",
            backup_id=new_backup_id(started),
            started_at=started,
            clock=lambda: datetime.now(UTC),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with synthetic_server_in_child(args.objects) as url:
        report(url, args)


def report(url: str, args: argparse.Namespace) -> None:
    item_bytes = len(json.dumps(next(iter(synthetic_configmaps(1)))))
    print(
        f"replay server {url} (child process), {args.objects} ConfigMaps in {len(SYNTHETIC_NAMESPACES)} "
        f"namespaces, ~{item_bytes} B of JSON each ({args.objects * item_bytes / 1e6:.1f} MB in all)"
    )
    print(
        f"python {sys.version.split()[0]}, kubernetes {client.__version__}, page_size {args.page_size}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-cluster-backup-") as tmp:
        bucket = Path(tmp)
        best = float("inf")
        backup: ClusterBackup | None = None
        for run in range(args.repeat):
            start = time.perf_counter()
            backup = _run(url, bucket, page_size=args.page_size, run=run)
            best = min(best, time.perf_counter() - start)
        assert backup is not None
        objects = sum(backup.written.manifest.resource_counts.values())
        tracemalloc.start()
        _run(url, bucket, page_size=args.page_size, run=args.repeat)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        f"{objects} objects backed up in {best:.3f} s (best of {args.repeat}) = "
        f"{objects / best:,.0f} objects/s; archive {backup.written.manifest.archive.size / 1e6:.2f} MB"
    )
    print(f"peak traced Python heap {peak / 1e6:.1f} MB (tracemalloc, one traced run)")
    print(f"max RSS {rss:.0f} MB (interpreter + kubernetes client included)")


if __name__ == "__main__":
    main()
