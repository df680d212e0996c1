"""``backup2gitops --help`` start-up: wall time, modules imported and their summed import time.

``python benchmarks/bench_cli_help.py [--runs N] [DIR ...]``: each DIR is a ``functions/``
folder to put on PYTHONPATH (default: this checkout's), e.g. one extracted from an older commit
with ``git archive <commit> functions | tar -x -C /tmp/old``. Runs alternate between the
folders so that the shared machine's load falls on all of them alike. Prints figures, asserts
nothing (docs/performance.md "CLI start-up").
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(functions: str) -> float:
    env = {**os.environ, "PYTHONPATH": functions}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "backup2gitops", "--help"],
        env=env,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started


def imports(functions: str) -> tuple[int, float]:
    """(modules imported, summed self import time in ms) from ``-X importtime``."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "backup2gitops", "--help"],
        env={**os.environ, "PYTHONPATH": functions},
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [re.match(r"import time:\s+(\d+) \|", line) for line in result.stderr.splitlines()]
    selfs = [int(row.group(1)) for row in rows if row]
    return len(selfs), sum(selfs) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("dirs", nargs="*", default=[str(ROOT / "functions")])
    args = parser.parse_args()
    walls: dict[str, list[float]] = {d: [] for d in args.dirs}
    for d in args.dirs:
        one_run(d)  # warm the page cache and the bytecode
    for _ in range(args.runs):
        for d in args.dirs:
            walls[d].append(one_run(d))
    for d in args.dirs:
        modules, ms = imports(d)
        w = sorted(walls[d])
        print(
            f"{d}: wall median {statistics.median(w) * 1000:.0f} ms "
            f"(min {w[0] * 1000:.0f}, max {w[-1] * 1000:.0f}, n={len(w)}); "
            f"{modules} modules, {ms:.0f} ms import time"
        )


if __name__ == "__main__":
    main()
