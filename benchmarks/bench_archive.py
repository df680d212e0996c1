"""Write and read back a synthetic 10,000-object backup; print throughput and peak memory.

Not a test. Run: ``python benchmarks/bench_archive.py [--objects N] [--velero]``.
Objects are generated lazily and the archive goes to a temporary file, so the memory figures show
what the writer and reader hold, not the backup. Each phase runs twice: once timed, once under
tracemalloc (which slows Python down several times) for its peak.

Then the generator's read of an archive before it knows what changed (``--hash-sizes``, each
archive of ``corpus.objects`` written by ``corpus.write_archive``, as ``run.py``'s): every member
read by ``iter_members``, its key made and its raw bytes digested (``member_records``), the
least CPU time of ``--runs``. ``--hash-only`` prints that alone; ``--archive PATH`` reads that
archive instead (under ``valgrind --tool=callgrind``, ``--runs 3`` less ``--runs 1``, halved, is
the instructions of one read).
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import objects, write_archive

from backup2gitops.core import member_records
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


def read_hashed(path: Path) -> int:
    """What the generator reads of every member before it knows what changed: the member, its
    key and the digest of its raw bytes."""
    with path.open("rb") as stream:
        count = 0
        for member in iter_members(stream):
            entry = member.entry
            member_records.member_key(entry.group_resource, entry.namespace, entry.name)
            member_records.raw_digest(member.data)
            count += 1
        return count


def hashed(sizes: list[int], runs: int, archive: Path | None = None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes if archive is None else [0]:
            path = archive or Path(folder) / f"{size}.tar.gz"
            if archive is None:
                with path.open("wb") as stream:
                    write_archive(stream, objects(size))
            times = []
            for _ in range(runs):
                cpu = time.process_time()
                count = read_hashed(path)
                times.append(time.process_time() - cpu)
            best = min(times)
            print(
                f"read + key + digest, {count:,} members ({path.stat().st_size / 2**20:.2f} MiB): "
                f"CPU {best:.4f} s (min of {runs}; median {sorted(times)[runs // 2]:.4f})  "
                f"{best / count * 1e6:.2f} us a member"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--velero", action="store_true", help="also write -preferredversion copies")
    parser.add_argument("--hash-sizes", type=int, nargs="*", default=[10_000, 50_000])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--hash-only", action="store_true", help="only the read + key + digest")
    parser.add_argument("--archive", type=Path, help="read + key + digest of this archive alone")
    args = parser.parse_args()
    if args.hash_only or args.archive:
        hashed(args.hash_sizes, args.runs, args.archive)
        return
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
    hashed(args.hash_sizes, args.runs)


if __name__ == "__main__":
    main()
