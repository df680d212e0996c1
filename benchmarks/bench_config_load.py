"""What checking the whole configuration costs a cold start; print the figures.

Not a test. Run: ``python benchmarks/bench_config_load.py [--rounds N]``. Loads the knative
ConfigMap's configuration (three receivers, routes, cleaning policy) with the real loader:
YAML parsing, ``${VAR}`` expansion, entry-point lookups and pydantic validation.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

from backup2gitops.config import parse_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    text = (ROOT / "knative/base/config.yaml").read_text()  # the configMapGenerator's file
    started = time.perf_counter()
    parse_config(text, {})
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(args.rounds):
        parse_config(text, {})
    each = (time.perf_counter() - started) / args.rounds
    print(f"first load (schemas built, entry points scanned): {first * 1000:.1f} ms")
    print(f"each further load ({args.rounds} rounds): {each * 1000:.2f} ms")


if __name__ == "__main__":
    main()
