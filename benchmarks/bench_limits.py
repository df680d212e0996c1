"""Peak memory of backup-complete and gitops-generator on a hostile 1,000,000-entry archive.

Not a test. Run: ``python benchmarks/bench_limits.py [--entries N] [--max-entries M]``.
Builds the archive once (tiny JSON members, ~12 MB gzipped) with a manifest that claims them
all, then runs each function's real code path in a fresh child process and prints its verdict,
its wall time and its peak RSS (``ru_maxrss`` of the child).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]


def build(bucket: Path, entries: int) -> None:
    from backup2gitops.core import bucket_layout
    from backup2gitops.core.backup_manifest import ArchiveRef, BackupManifest, dump_manifest

    folder = bucket / "backups/prod/huge"
    folder.mkdir(parents=True)
    archive = folder / bucket_layout.ARCHIVE_NAME
    with (
        archive.open("wb") as out,
        gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w|", format=tarfile.GNU_FORMAT) as tar,
    ):

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            tar.members.clear()

        add("metadata/version", b"1.1.0\n")
        for i in range(entries - 1):
            add(f"resources/configmaps/namespaces/ns/c{i}.json", b"{}")
    data = archive.read_bytes()
    when = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    manifest = BackupManifest(
        backup_id="huge",
        cluster="prod",
        started_at=when,
        finished_at=when,
        resource_counts={"configmaps": entries - 1},
        archive=ArchiveRef(
            key=bucket_layout.ARCHIVE_NAME, size=len(data), sha256=hashlib.sha256(data).hexdigest()
        ),
    )
    (folder / bucket_layout.MANIFEST_NAME).write_bytes(dump_manifest(manifest))


def run_phase(phase: str, bucket: Path, max_entries: int) -> None:
    from backup2gitops.adapters.git import GitRemote, ensure_bare_remote
    from backup2gitops.adapters.storage import FileStore
    from backup2gitops.config import parse_config
    from backup2gitops.core import events
    from backup2gitops.core.archive import ArchiveError
    from backup2gitops.runtime.context import FunctionContext

    config = parse_config(f"archive_limits: {{max_entries: {max_entries}}}\n", {})
    store = FileStore(bucket)
    started = time.perf_counter()
    if phase == "backup-complete":
        from backup_complete.handler import handle
        from tests.fixtures.notifications import minio_body

        body = minio_body(bucket=store.bucket, key="backups/prod/huge/manifest.json")
        event = events.Event(
            id="n1", source="/minio", type="io.backup2gitops.storage.object", data=body
        )
        reply = handle(event, FunctionContext(config, store=store, environ={}))
        verdict = f"{reply.type} {reply.data.get('code', '')}".strip() if reply else "no reply"
    else:
        from backup2gitops import generation
        from backup2gitops.core.cleaning import CleaningPolicy

        work = Path(tempfile.mkdtemp())
        remote = GitRemote(
            url=str(ensure_bare_remote(work / "r.git")),
            branch="main",
            cache_dir=work / "cache",
            author_name="b",
            author_email="b@e",
        )
        try:
            generation.generate(
                archive=lambda: store.open_read("backups/prod/huge/resources.tar.gz"),
                remote=remote,
                cluster="prod",
                backup_id="huge",
                policy=CleaningPolicy(),
                limits=config.archive_limits.limits(),
            )
            verdict = "committed"
        except ArchiveError as exc:
            verdict = f"refused: {exc.code}"
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "phase": phase,
                "verdict": verdict,
                "s": round(elapsed, 1),
                "peak_rss_mb": round(peak_mb),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--max-entries", type=int, default=500_000)
    parser.add_argument("--phase")
    parser.add_argument("--bucket")
    args = parser.parse_args()
    if args.phase:
        run_phase(args.phase, Path(args.bucket), args.max_entries)
        return
    with tempfile.TemporaryDirectory() as tmp:
        bucket = Path(tmp) / "backups"
        build(bucket, args.entries)
        size = (bucket / "backups/prod/huge/resources.tar.gz").stat().st_size
        print(
            f"{args.entries} entries, {size / 1e6:.1f} MB gzipped, max_entries {args.max_entries}"
        )
        for phase in ("backup-complete", "gitops-generator"):
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--phase",
                    phase,
                    "--bucket",
                    str(bucket),
                    "--max-entries",
                    str(args.max_entries),
                ],
                check=True,
            )


if __name__ == "__main__":
    main()
