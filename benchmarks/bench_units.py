"""Benchmark: ``kustomize build`` of each reconcilable unit vs one build of the cluster's root.

Argo CD and Flux run ``kustomize build`` on every reconcile; kustomize's cost grows much faster
than linearly with the resources of one build (kubernetes-sigs/kustomize#5084). This lays out N
realistic objects (benchmarks/corpus.py, cleaned as the generator cleans them) over M namespaces
with a skewed spread (namespace of rank r gets a share proportional to 1 / (r + 10): a few big
teams, many small ones), plus one Namespace each in the cluster-scoped unit, writes the tree that
``core.repo_plan`` plans (``by: namespace``), and runs the real kustomize on every unit and on
the root. It prints, for each: CPU seconds (user + system of the kustomize process, from
``os.wait4``, so a busy machine changes wall time, not these figures) and peak RSS. The root build
is stopped after ``--root-cap`` CPU seconds; then the figure printed is a lower bound ("> cap").
Not a test: it asserts nothing.

    python benchmarks/bench_units.py --objects 10000 --namespaces 100 [--root-cap 900]
        [--split-over 500 | --split-over 0 (never cut a namespace by resource)] [--largest N]
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from corpus import configmap, deployment, service

from backup2gitops.core import units
from backup2gitops.core.cleaning import CleaningPolicy, prepare
from backup2gitops.core.repo_layout import group_resource_for, object_path
from backup2gitops.core.repo_plan import iter_tree

KUSTOMIZE = shutil.which("kustomize") or str(Path.home() / "go/bin/kustomize")


def namespace_of(i: int, *, bounds: list[float]) -> str:
    """A deterministic skewed spread: rank r has weight 1 / (r + 10) (``bounds``: cumulative)."""
    point = ((i * 2654435761) % 1_000_003) / 1_000_003 * bounds[-1]  # well mixed, repeatable
    return f"team-{min(bisect.bisect_right(bounds, point), len(bounds) - 1)}"


def corpus(count: int, *, namespaces: int) -> Iterator[dict[str, Any]]:
    makers = (deployment, service, configmap)
    bounds = list(itertools.accumulate(1 / (rank + 10) for rank in range(namespaces)))
    for rank in range(namespaces):
        yield {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"team-{rank}"}}
    for i in range(count - namespaces):
        obj = makers[i % 3](i)
        obj["metadata"]["namespace"] = namespace_of(i, bounds=bounds)
        yield obj


def placed(count: int, *, namespaces: int) -> Iterator[tuple[PurePosixPath, dict[str, Any]]]:
    policy = CleaningPolicy()
    for raw in corpus(count, namespaces=namespaces):
        obj = prepare(raw, policy=policy).object
        assert obj is not None
        metadata = obj["metadata"]
        yield (
            object_path(
                cluster="bench",
                group_resource=group_resource_for(obj["apiVersion"], obj["kind"]),
                namespace=metadata.get("namespace"),
                name=metadata["name"],
            ),
            obj,
        )


def build(folder: Path, *, cap_s: float | None = None) -> tuple[float, float, bool]:
    """(CPU seconds, peak RSS MB, finished) of ``kustomize build folder``."""
    process = subprocess.Popen(
        [KUSTOMIZE, "build", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    finished = True
    if cap_s is not None:
        while process.poll() is None:
            time.sleep(1)
            if _cpu_of(process.pid) >= cap_s:
                process.send_signal(signal.SIGKILL)
                finished = False
                break
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if finished and process.returncode != 0:
        assert process.stderr is not None
        raise RuntimeError(f"kustomize build {folder} failed: {process.stderr.read().decode()}")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, finished


def _cpu_of(pid: int) -> float:
    """User + system seconds of a running process, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--root-cap", type=float, default=900.0, help="CPU seconds")
    parser.add_argument("--skip-root", action="store_true")
    parser.add_argument("--largest", type=int, default=0, help="build only the N largest units")
    parser.add_argument(
        "--split-over", type=int, default=units.DEFAULT_SPLIT_OVER, help="0: never cut by resource"
    )
    args = parser.parse_args()
    layout = units.Layout(split_over=args.split_over or None)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        members: dict[str, list[str]] = {}
        for path, content in iter_tree(
            cluster="bench", objects=placed(args.objects, namespaces=args.namespaces), layout=layout
        ):
            target = base / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            if path.rpartition("/")[2] != "kustomization.yaml":
                relative = path.split("/", 2)[2]
                key = units.unit_key(relative, by="namespace")
                members.setdefault(key, []).append(relative[len(key) + 1 :])
        plan = units.plan_units("bench", members, layout=layout)
        sizes = {unit.key: len(unit.files) for unit in plan.units}
        print(
            f"{args.objects} objects in {len(sizes)} units ({args.namespaces} namespaces + "
            f"cluster-scoped, cut by resource over {args.split_over or 'never'} objects); largest "
            f"unit {max(sizes.values())} objects, smallest {min(sizes.values())}; "
            f"kustomize {_version()}"
        )
        results = []
        chosen = sorted(sizes, key=lambda key: -sizes[key])[: args.largest or None]
        for unit in sorted(chosen):
            cpu, rss, _ = build(base / "clusters/bench" / unit)
            results.append((cpu, rss, unit))
        slowest = max(results)
        total = sum(cpu for cpu, _, _ in results)
        print(
            f"units: slowest {slowest[2]} ({sizes[slowest[2]]} objects) {slowest[0]:.2f} s CPU, "
            f"{slowest[1]:.0f} MB RSS; sum over all {len(results)} units {total:.1f} s CPU; "
            f"units over 5 s CPU: {sum(1 for cpu, _, _ in results if cpu >= 5)}"
        )
        largest = max(results, key=lambda result: sizes[result[2]])
        print(
            f"units: largest {largest[2]} ({sizes[largest[2]]} objects) {largest[0]:.2f} s CPU, "
            f"{largest[1]:.0f} MB RSS"
        )
        if args.skip_root:
            return
        cpu, rss, finished = build(base / "clusters/bench", cap_s=args.root_cap)
        if finished:
            print(f"root: kustomize build clusters/bench {cpu:.1f} s CPU, {rss:.0f} MB RSS")
        else:
            print(
                f"root: kustomize build clusters/bench stopped after {cpu:.0f} s CPU "
                f"(> {args.root_cap:.0f} s, unfinished), {rss:.0f} MB RSS at that point"
            )


def _version() -> str:
    out = subprocess.run([KUSTOMIZE, "version"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or "?"


if __name__ == "__main__":
    main()
