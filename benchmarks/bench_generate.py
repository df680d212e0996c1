"""Benchmark: one backup of N realistic objects -> one commit in a bare remote.

Prints objects/second for reading, for generate's index pass (the StatefulSets and CRDs
only), for planning (read + clean + lay out, pure) and for the whole generation
(plus writing the tree, git add/commit/push), and peak memory (tracemalloc peak of the Python
heap, ru_maxrss of the process). Not a test: it asserts nothing.

    python benchmarks/bench_generate.py [--objects 10000]
"""

from __future__ import annotations

import argparse
import io
import resource
import subprocess
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from corpus import deployment, write_archive

from backup2gitops import generation
from backup2gitops.adapters.git import GitRemote
from backup2gitops.core.archive import iter_items
from backup2gitops.core.cleaning import INDEXED_RESOURCES, BackupIndex, CleaningPolicy


def timed(label: str, count: int, work: Callable[[], object]) -> object:
    """Run ``work`` once timed (no tracing), once under tracemalloc for its heap peak."""
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    work()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"{label}: {seconds:.2f} s, {count / seconds:,.0f} objects/s, heap peak {peak / 1e6:.1f} MB"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=10_000)
    args = parser.parse_args()
    n = args.objects
    out = io.BytesIO()
    write_archive(out, (("deployments.apps", deployment(i)) for i in range(n)))
    data = out.getvalue()
    print(
        f"backup: {n} Deployments (with status, managedFields, defaults), "
        f"archive {len(data) / 1e6:.2f} MB"
    )
    policy = CleaningPolicy()
    timed("read (stream the tarball)", n, lambda: sum(1 for _ in iter_items(io.BytesIO(data))))
    timed(
        "index pass (decode only StatefulSets and CRDs; generate's first pass)",
        n,
        lambda: BackupIndex.of(
            item.obj for item in iter_items(io.BytesIO(data), only=INDEXED_RESOURCES)
        ),
    )
    timed(
        "plan (index pass + read + clean + lay out + YAML)",
        n,
        lambda: generation.plan_backup(
            iter_items(io.BytesIO(data)),
            cluster="bench",
            policy=policy,
            index=BackupIndex.of(
                item.obj for item in iter_items(io.BytesIO(data), only=INDEXED_RESOURCES)
            ),
        ),
    )
    with tempfile.TemporaryDirectory() as tmp:
        remote = Path(tmp, "r.git")
        subprocess.run(
            ["git", "init", "-q", "--bare", "--initial-branch=main", str(remote)], check=True
        )
        git = GitRemote(
            url=str(remote),
            branch="main",
            cache_dir=Path(tmp, "cache"),
            author_name="bench",
            author_email="bench@example.com",
        )
        ids = iter(range(100))

        def generate() -> object:
            return generation.generate(
                archive=lambda: io.BytesIO(data),
                remote=git,
                cluster="bench",
                backup_id=f"b{next(ids)}",
                policy=policy,
            )

        started = time.perf_counter()
        first = generate()
        print(
            f"generate, first commit (plan + write {n} files, git add/commit/push): "
            f"{time.perf_counter() - started:.2f} s, {n / (time.perf_counter() - started):,.0f} "
            f"objects/s"
        )
        started = time.perf_counter()
        generate()
        print(
            f"generate, unchanged cluster (new backup id, empty commit): "
            f"{time.perf_counter() - started:.2f} s"
        )
        tracemalloc.start()
        generate()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"generate heap peak (streams archive -> working tree): {peak / 1e6:.1f} MB")
        del first
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS (ru_maxrss): {rss:.0f} MB")


if __name__ == "__main__":
    main()
