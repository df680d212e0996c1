"""Benchmark: discover + iter_objects over 10,000 ConfigMaps served by the replay API server.

    python benchmarks/bench_kube_list.py [--objects 10000] [--page-size 500 ...]

The replay server runs in a child process, so the figures are the client's alone: objects per
second (wall clock, untraced run) and peak Python heap (tracemalloc, a second run), next to the
size of the whole list, to show memory stays bounded by a page. Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]

from kubernetes import client  # noqa: E402

from backup2gitops.adapters import kube  # noqa: E402
from tests.kube_replay.cluster import synthetic_configmaps  # noqa: E402
from tests.kube_replay.server import SYNTHETIC_NAMESPACES, synthetic_server_in_child  # noqa: E402


def _run(url: str, page_size: int) -> int:
    """Objects yielded by one discover + full list of configmaps."""
    configuration = client.Configuration()
    configuration.host = url
    with client.ApiClient(configuration) as api:
        discovery = kube.discover(api)
        configmaps = next(r for r in discovery.resources if r.group_resource == "configmaps")
        count = 0
        for _ in kube.iter_objects(api, configmaps, page_size=page_size):
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, nargs="+", default=[500, 100, 2000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with synthetic_server_in_child(args.objects) as url:
        report(url, args)


def report(url: str, args: argparse.Namespace) -> None:
    sample = next(iter(synthetic_configmaps(1)))
    item_bytes = len(json.dumps(sample))
    print(
        f"replay server {url}, {args.objects} ConfigMaps in {len(SYNTHETIC_NAMESPACES)} namespaces, "
        f"~{item_bytes} B of JSON each ({args.objects * item_bytes / 1e6:.1f} MB in all)"
    )
    print(f"python {sys.version.split()[0]}, kubernetes {client.__version__}")
    for page_size in args.page_size:
        best = float("inf")
        count = 0
        for _ in range(args.repeat):
            start = time.perf_counter()
            count = _run(url, page_size)
            best = min(best, time.perf_counter() - start)
        tracemalloc.start()
        _run(url, page_size)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"page_size={page_size:5d}: {count} objects in {best:.3f} s (best of "
            f"{args.repeat}) = {count / best:,.0f} objects/s; "
            f"peak traced heap {peak / 1e6:.1f} MB"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"client process max RSS {rss:.0f} MB (interpreter + kubernetes client included)")


if __name__ == "__main__":
    main()
