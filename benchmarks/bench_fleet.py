"""N gitops-generators for N clusters pushing at once: one shared branch vs one repository each.

    python benchmarks/bench_fleet.py [--clusters 2 4 8 16 50] [--objects 200]

Each generator is its own process with its own clone cache (as N pods would be), running the
generation job as gitops-generator does, at the default settings, all started together.
``shared``: every cluster's folder in one repository, one branch (the DESIGN layout; a push
that lost a race is decided again on the new tip after a jittered backoff, for up to
``git.race_window_s``). ``per_repo``: one repository per cluster (no race at all). Figures per
N: total wall time, CPU, failures, and the push retries (pushes beyond the first, counted
around the adapter's ``git push``). Not a test.
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

GENERATOR = """
import json, sys
from pathlib import Path
from backup2gitops import generation
from backup2gitops.adapters.git import GitError, GitRemote
from backup2gitops.config import GitConfig
from backup2gitops.core.cleaning import CleaningPolicy

archive, remote, cache, cluster = sys.argv[1:]
defaults = GitConfig()
git = GitRemote(url=remote, branch="main", cache_dir=Path(cache), author_name="bench",
                author_email="bench@example.com", timeout_s=defaults.timeout_s)
pushes = 0
plain = GitRemote._push


def counting(self, target):
    global pushes
    pushes += 1
    return plain(self, target)


GitRemote._push = counting
try:
    generation.generate(archive=lambda: open(archive, "rb"), remote=git, cluster=cluster,
                        backup_id="b1", policy=CleaningPolicy(),
                        push_attempts=defaults.push_attempts,
                        race_window_s=defaults.race_window_s)
    print(json.dumps({"ok": True, "pushes": pushes}))
except GitError as exc:
    print(json.dumps({"ok": False, "pushes": pushes, "code": exc.code}))
"""


def fleet_run(
    n: int, *, layout: str, archive: Path, tmp: Path, env: dict[str, str]
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"fleet-{layout}-{n}-", dir=tmp))
    remotes = (
        [work / "shared.git"] if layout == "shared" else [work / f"c{i}.git" for i in range(n)]
    )
    for remote in remotes:
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    started = time.perf_counter()
    children = []
    for i in range(n):
        remote = remotes[0 if layout == "shared" else i]
        argv = [sys.executable, "-c", GENERATOR, str(archive), str(remote), str(work / f"cache{i}")]
        argv += [f"cluster-{i}"]
        children.append(subprocess.Popen(argv, env=env, stdout=subprocess.PIPE))
    cpu = 0.0
    results = []
    for child in children:
        _, _, usage = os.wait4(child.pid, 0)
        cpu += usage.ru_utime + usage.ru_stime
        out = child.stdout.read() if child.stdout else b""
        results.append(json.loads(out or b'{"ok": false, "pushes": 0, "code": "crashed"}'))
    seconds = time.perf_counter() - started
    return {
        "clusters": n,
        "seconds": round(seconds, 2),
        "cpu_s": round(cpu, 2),
        "failures": sum(1 for r in results if not r["ok"]),
        "codes": sorted({r.get("code", "") for r in results if not r["ok"]}),
        "retries": sum(max(r["pushes"] - 1, 0) for r in results),
        "max_attempts": max(r["pushes"] for r in results),
    }


def fleet_figures(
    counts: list[int], *, objects: int, tmp: Path, env: dict[str, str]
) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import write_backup

    archive = tmp / f"fleet-{objects}.tar.gz"
    write_backup(archive, objects)
    figures: dict[str, Any] = {"objects_per_cluster": objects}
    for layout in ("shared", "per_repo"):
        figures[layout] = [
            fleet_run(n, layout=layout, archive=archive, tmp=tmp, env=env) for n in counts
        ]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, nargs="+", default=[2, 4, 8, 16, 50])
    parser.add_argument("--objects", type=int, default=200)
    args = parser.parse_args()
    env = os.environ | {"PYTHONPATH": str(ROOT / "functions")}
    with tempfile.TemporaryDirectory() as name:
        figures = fleet_figures(args.clusters, objects=args.objects, tmp=Path(name), env=env)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
