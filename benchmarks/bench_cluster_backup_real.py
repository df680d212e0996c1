"""Benchmark: cluster-backup against a real kube-apiserver holding N ConfigMaps.

    python benchmarks/bench_cluster_backup_real.py [--objects 10000] [--page-size 500] [--repeat 3]

Starts etcd + kube-apiserver on loopback (tests/kube_apiserver: the real binaries that
scripts/install-test-deps.sh builds), creates ``--objects`` ConfigMaps in 10 namespaces with
kubectl (server-side apply, in chunks), then runs ``backup2gitops backup`` (the CLI, a child
process, through the real kubernetes client, paging with the server's continue tokens) into a
``file://`` bucket ``--repeat`` times. Prints objects per second (wall clock, best run) and the
child's peak RSS (``ru_maxrss`` of the children). Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]

from tests.kube_apiserver import KubeCluster, kube_apiserver  # noqa: E402

NAMESPACES = 10
CHUNK = 1000


def _populate(cluster: KubeCluster, objects: int) -> None:
    namespaces = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"bench-{n}"}}
        for n in range(NAMESPACES)
    ]
    cluster.apply(namespaces)
    items = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": f"config-{i:06d}",
                "namespace": f"bench-{i % NAMESPACES}",
                "labels": {"app": "bench"},
            },
            "data": {"key": "value " * 20, "index": str(i)},
        }
        for i in range(objects)
    ]
    for start in range(0, len(items), CHUNK):
        cluster.apply(items[start : start + CHUNK])


def _backup(
    cluster: KubeCluster, bucket: Path, config: Path
) -> tuple[float, int, dict[str, object]]:
    """(seconds, peak RSS in kB of the backup process alone, its JSON report)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "functions"), "BACKUP2GITOPS_CONFIG": str(config)}
    argv = [sys.executable, "-m", "backup2gitops", "backup", "--to", f"file://{bucket}"]
    argv += ["--cluster", "bench", "--kubeconfig", str(cluster.kubeconfig), "--json"]
    out = bucket.with_suffix(".json")
    bucket.mkdir(parents=True)
    started = time.perf_counter()
    with out.open("w") as stdout:
        process = subprocess.Popen(argv, stdout=stdout, env=env)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"backup exited {process.returncode}")
    return seconds, usage.ru_maxrss, json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="b2g-bench-kube-") as tmp:
        work = Path(tmp)
        config = work / "config.yaml"
        config.write_text(f"cluster_backup:\n  page_size: {args.page_size}\n")
        with kube_apiserver(work / "kube") as cluster:
            started = time.perf_counter()
            _populate(cluster, args.objects)
            print(
                f"created {args.objects} ConfigMaps in {time.perf_counter() - started:.1f} s (kubectl apply --server-side)"
            )
            runs, peaks = [], []
            for run in range(args.repeat):
                seconds, peak_kb, report = _backup(cluster, work / f"bucket-{run}", config)
                runs.append(seconds)
                peaks.append(peak_kb)
                print(
                    f"run {run + 1}: {report['objects']} objects kept, "
                    f"{sum(report['excluded'].values())} excluded, {report['archive_bytes']} archive bytes, "  # type: ignore[union-attr]
                    f"{seconds:.2f} s"
                )
        best = min(runs)
        print(
            f"best: {args.objects / best:,.0f} objects/s ({best:.2f} s for {args.objects}, page size {args.page_size})"
        )
        print(f"peak RSS of the backup process: {max(peaks) / 1024:.0f} MB")


if __name__ == "__main__":
    main()
