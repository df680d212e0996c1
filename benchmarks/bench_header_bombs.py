"""Peak memory of reading archives whose extended tar headers claim 1 GiB and 3 GiB.

Not a test. Run: ``python benchmarks/bench_header_bombs.py [--sizes 1,3] [--kinds L,x]``.
Each case runs ``core.archive.iter_items`` in a fresh child process over a streamed bomb
(``tests/hostile/archives.header_bomb``: a GNU long-name ``L``/long-link ``K`` block or a pax
``x``/``g`` header of that size, then one real item; stored deflate, so the ratio guard cannot
help); nothing is written to disk. It prints the verdict, the uncompressed bytes the reader
pulled from the stream, the wall time and the child's peak RSS (``ru_maxrss``). With
``PYTHONPATH`` pointing at an older ``functions/`` it measures that code instead.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import sys
from backup2gitops.core.archive import ArchiveError, iter_items
from tests.hostile.archives import GzipStream, header_bomb
stream = GzipStream(header_bomb(sys.argv[1].encode(), int(sys.argv[2])))
try:
    verdict = f"accepted {sum(1 for _ in iter_items(stream))} item(s)"
except ArchiveError as exc:
    verdict = f"refused {exc.code}"
print(verdict, stream.pulled)
"""


def run(kind: str, size: int) -> tuple[str, int, float, float]:
    """One case in a child process: its verdict, bytes pulled, wall time and peak RSS (MB)."""
    env = dict(os.environ)
    paths = [env.get("PYTHONPATH", ""), str(ROOT / "functions"), str(ROOT)]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, kind, str(size)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    out = child.stdout.read().split()
    _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    if child.returncode != 0:
        raise SystemExit(f"the child failed with {child.returncode}")
    return " ".join(out[:-1]), int(out[-1]), wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1,3", help="GiB, comma-separated")
    parser.add_argument("--kinds", default="L,K,x,g", help="tar types, comma-separated")
    args = parser.parse_args()
    print(
        f"{'header':>6} {'claims':>7}  {'verdict':<28} {'pulled':>13} {'wall s':>7} {'peak RSS MB':>12}"
    )
    for gib in sorted(float(s) for s in args.sizes.split(",")):
        for kind in args.kinds.split(","):
            verdict, pulled, wall, peak = run(kind, int(gib * 1024**3))
            print(f"{kind:>6} {gib:>5g}Gi  {verdict:<28} {pulled:>13,} {wall:>7.2f} {peak:>12.0f}")


if __name__ == "__main__":
    main()
