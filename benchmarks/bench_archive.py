"""Write and read back a synthetic 10,000-object backup; print throughput and peak memory.

Not a test. Run: ``python benchmarks/bench_archive.py [--objects N] [--velero]``.
Objects are generated lazily and the archive goes to a temporary file, so the memory figures show
what the writer and reader hold, not the backup. Each phase runs twice: once timed, once under
tracemalloc (which slows Python down several times) for its peak.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))

from backup2gitops.core.archive import (
    ArchiveWriter,
    BackupItem,
    ReadReport,
    iter_items,
    iter_members,
)
from backup2gitops.sample import iter_sample_items


def synthetic_items(count: int) -> Iterator[BackupItem]:
    """Copies of the sample's objects under fresh names: realistic sizes and shapes."""
    templates = list(iter_sample_items())
    for index in range(count):
        template = templates[index % len(templates)]
        name = f"{template.name[:200]}-{index:05d}"
        uid = f"00000000-0000-4000-8000-{index:012d}"
        obj: dict[str, Any] = {
            **template.obj,
            "metadata": {**template.obj["metadata"], "name": name, "uid": uid},
        }
        yield BackupItem(template.group_resource, template.namespace, name, obj)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def write(path: Path, *, count: int, velero: bool) -> tuple[int, int]:
    with path.open("wb") as stream, ArchiveWriter(stream) as writer:
        for item in synthetic_items(count):
            version = item.obj["apiVersion"].rsplit("/", 1)[-1] if velero else None
            writer.add_item(item, also_preferred_version=version)
    return sum(writer.counts.values()), writer.size


def read(path: Path) -> tuple[int, ReadReport]:
    report = ReadReport()
    with path.open("rb") as stream:
        count = sum(1 for _ in iter_items(stream, report=report))
    return count, report


def read_members(path: Path) -> int:
    """The members alone, undecoded: what the generator reads before it knows what changed."""
    with path.open("rb") as stream:
        return sum(1 for _ in iter_members(stream))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--velero", action="store_true", help="also write -preferredversion copies")
    args = parser.parse_args()
    print(
        f"objects: {args.objects}  velero duplicates: {args.velero}  "
        f"python {sys.version.split()[0]}"
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "resources.tar.gz"

        started = time.perf_counter()
        count, size = write(path, count=args.objects, velero=args.velero)
        elapsed = time.perf_counter() - started
        tracemalloc.start()
        write(path, count=args.objects, velero=args.velero)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"write: {count / elapsed:8,.0f} objects/s  {elapsed:5.2f} s  "
            f"archive {size / 2**20:.2f} MiB  tracemalloc peak {peak / 2**20:.2f} MiB"
        )

        started = time.perf_counter()
        count, report = read(path)
        elapsed = time.perf_counter() - started
        tracemalloc.start()
        read(path)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"read:  {count / elapsed:8,.0f} objects/s  {elapsed:5.2f} s  "
            f"duplicates skipped {report.duplicates_skipped}  "
            f"tracemalloc peak {peak / 2**20:.2f} MiB"
        )
        started, cpu = time.perf_counter(), time.process_time()
        count = read_members(path)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(
            f"members: {count / elapsed:8,.0f} objects/s  {elapsed:5.2f} s  CPU {cpu:5.2f} s  "
            "(iter_members: headers, gzip, checks; no JSON)"
        )
    print(f"ru_maxrss (whole process, peak): {_rss_mib():.1f} MiB")


if __name__ == "__main__":
    main()
