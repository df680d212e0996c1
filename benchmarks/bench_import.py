"""What importing each function's handler module costs in a fresh interpreter (a cold start).

Not a test. Run: ``python benchmarks/bench_import.py [--runs N] [--module M ...]
[--against OTHER/functions]``.
For each handler module (as ``main.py`` and the Lambda handlers import it), N fresh processes
import it; prints the median wall time of the import alone (what ``python -X importtime``
reports as the module's cumulative time), the median CPU seconds
of the whole process (user + system: interpreter start included, less sensitive to a busy
machine than wall time), and which heavy libraries the import loaded.

``--against`` imports each module from another tree too (a checkout before a change), one run
of each tree in turn, so both see the same machine load: the before -> after figures of one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = Path(os.environ.get("BENCH_FUNCTIONS", ROOT / "functions"))
"""The tree whose handlers are imported (``BENCH_FUNCTIONS=/other/checkout/functions`` for a
before/after comparison)."""
HANDLERS = (
    "backup_complete.handler",
    "gitops_generator.handler",
    "cluster_backup.handler",
    "health_aggregator.handler",
    "alert_router.handler",
)
HEAVY = (
    "boto3",
    "kubernetes",
    "jinja2",
    "opentelemetry",
    "aws_lambda_powertools",
    "flask",
    "requests",
    "yaml",
    "cloudevents",
    "backup2gitops.config.model",
    "backup2gitops.generation",
)
PROBE = (
    "import importlib, resource, sys, time; start = time.perf_counter(); "
    "importlib.import_module(sys.argv[1]); print(time.perf_counter() - start); "
    "r = resource.getrusage(resource.RUSAGE_SELF); print(r.ru_utime + r.ru_stime); "
    "print(','.join(m for m in {heavy!r} if m in sys.modules))"
)


def one_run(module: str, functions: Path = FUNCTIONS) -> tuple[float, float, str]:
    """(wall seconds of the import, process CPU seconds, heavy libraries loaded)."""
    env = {**os.environ, "PYTHONPATH": str(functions)}
    env.pop("FUNCTION_TARGET", None)  # main.py would load a configuration
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), module],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    wall, cpu, heavy = done.stdout.splitlines()
    return float(wall), float(cpu), heavy or "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh processes per module")
    parser.add_argument("--module", action="append", help="a module (default: the five handlers)")
    parser.add_argument("--against", type=Path, help="another functions/ tree, run in turn")
    args = parser.parse_args()
    if args.against is None:
        print(
            f"{'module':<28} {'import s (median)':>18} {'process CPU s':>14}  heavy libraries loaded"
        )
    else:
        print(f"{'module':<28} {'CPU s, against':>15} {'CPU s, this':>12}  heavy: against -> this")
    for module in args.module or HANDLERS:
        runs, others = [], []
        for _ in range(args.runs):
            if args.against is not None:
                others.append(one_run(module, args.against))
            runs.append(one_run(module))
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        if args.against is None:
            print(f"{module:<28} {wall:>18.3f} {cpu:>14.3f}  {runs[-1][2]}")
            continue
        other_cpu = statistics.median(r[1] for r in others)
        print(f"{module:<28} {other_cpu:>15.3f} {cpu:>12.3f}  {others[-1][2]} -> {runs[-1][2]}")


if __name__ == "__main__":
    main()
