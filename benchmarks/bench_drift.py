"""The cost of the drift report: a big cluster, a small change, and the pure classification.

Not a test. Run: ``python benchmarks/bench_drift.py [--objects N] [--changed-every K] [--repeat R]``.

A backup of N objects (``corpus.py``: Deployments, Services and ConfigMaps as the API server
returns them) is generated into a bare remote, then the daily backup (every K-th object edited:
1 % by default, plus a cluster-admin binding) onto that commit, R times each way from a copy of
the same remote and clone:

- ``before`` (drift read back from git, what gitops-generator did until issue 21, and what a
  redelivered backup still does): ``GitRemote.commit_comparison`` on the daily commit
  (``git diff`` against the parent, both sides of every changed watched file read and parsed)
  + ``core.drift.findings``;
- ``after`` (drift from the plan): the time spent in ``core.drift.TipComparison`` while the
  generator writes the daily commit (its set of the tip's watched paths, ``placed`` for each
  serialised object, ``seen`` over the
  stream's paths, ``finish``: one batch read of the tip's replaced files) + ``findings``;
  and the daily job's wall time with and without ``compare``, for the whole picture.

Then ``findings`` alone over 10,000 synthetic changed bindings. Medians of R; it prints figures
and asserts only that both ways find the same.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import objects, write_archive

from backup2gitops import generation
from backup2gitops.adapters.git import GitRemote
from backup2gitops.core import drift
from backup2gitops.core.cleaning import CleaningPolicy

T = TypeVar("T")
ADMIN = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRoleBinding",
    "metadata": {"name": "shop-admin"},
    "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "cluster-admin",
    },
    "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "shop"}],
}


def archive(count: int, *, changed_every: int = 0, extra: Iterable[tuple[str, Any]] = ()) -> bytes:
    out = io.BytesIO()
    write_archive(out, [*objects(count, changed_every=changed_every), *extra])
    return out.getvalue()


class TimedComparison(drift.TipComparison):
    """``TipComparison`` with the time spent in each of its steps added up (``spent``)."""

    spent: ClassVar[dict[str, float]] = {}

    @classmethod
    def add(cls, step: str, started: float) -> None:
        cls.spent[step] = cls.spent.get(step, 0.0) + time.perf_counter() - started

    def __post_init__(self) -> None:
        started = time.perf_counter()
        super().__post_init__()
        self.add("tip paths", started)

    def placed(self, path: str, obj: drift.Obj, blob: str) -> None:
        started = time.perf_counter()
        super().placed(path, obj, blob)
        self.add("placed", started)

    def seen(self, files: Iterable[tuple[PurePosixPath, T]]) -> Iterator[tuple[PurePosixPath, T]]:
        for path, content in files:  # the same work as the parent's, timed per file
            started = time.perf_counter()
            self._unseen.discard(path.as_posix())
            self.add("seen", started)
            yield path, content

    def finish(
        self,
        *,
        read: Callable[[Collection[str]], Mapping[str, bytes]],
        keep: Collection[str],
        cluster: str,
    ) -> tuple[list[drift.ObjectChange], dict[drift.RoleKey, drift.Obj]]:
        started = time.perf_counter()
        try:
            return super().finish(read=read, keep=keep, cluster=cluster)
        finally:
            self.add("finish", started)


def remote(bare: Path, cache: Path) -> GitRemote:
    return GitRemote(
        url=str(bare), branch="main", cache_dir=cache, author_name="b", author_email="b@e"
    )


def generate(bare: Path, cache: Path, data: bytes, backup_id: str, compare: bool) -> Any:
    return generation.generate(
        archive=lambda: io.BytesIO(data),
        remote=remote(bare, cache),
        cluster="bench",
        backup_id=backup_id,
        policy=CleaningPolicy(),
        compare=compare,
    )


def findings(compared: drift.Comparison) -> list[Any]:
    return drift.findings(
        compared.changes, facts=drift.Facts(roles=compared.roles), policy=drift.DriftPolicy()
    )


def daily_figures(count: int, changed_every: int, repeat: int) -> None:
    first = archive(count)
    daily = archive(
        count,
        changed_every=changed_every,
        extra=[("clusterrolebindings.rbac.authorization.k8s.io", ADMIN)],
    )
    jobs: dict[bool, list[float]] = {False: [], True: []}
    planned: list[float] = []
    steps: dict[str, list[float]] = {}
    read_back: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp, "base")
        subprocess.run(
            ["git", "init", "-q", "--bare", "--initial-branch=main", str(base / "r.git")],
            check=True,
        )
        generate(base / "r.git", base / "cache", first, "b1", compare=False)
        drift.TipComparison = TimedComparison  # type: ignore[misc]  # the job builds this one
        for run in range(repeat):
            for compare in (False, True):
                copy = Path(tmp, f"run-{run}-{compare}")
                shutil.copytree(base, copy, symlinks=True)
                TimedComparison.spent = {}
                started = time.perf_counter()
                outcome = generate(copy / "r.git", copy / "cache", daily, "b2", compare=compare)
                jobs[compare].append(time.perf_counter() - started)
                if not compare:
                    continue
                started = time.perf_counter()
                from_plan = findings(outcome.compared)
                spent_now = {**TimedComparison.spent}
                spent_now["findings"] = time.perf_counter() - started
                for step, spent in spent_now.items():
                    steps.setdefault(step, []).append(spent)
                planned.append(sum(spent_now.values()))
                started = time.perf_counter()
                read = remote(copy / "r.git", copy / "cache").commit_comparison(
                    commit=outcome.commit.commit,
                    root=PurePosixPath("clusters/bench"),
                    backup_id="b2",
                    cluster="bench",
                )
                assert read is not None
                from_git = findings(read)
                read_back.append(time.perf_counter() - started)
                assert from_plan == from_git and from_plan, "both ways must find the same"
                changes = len(read.changes)
    print(
        f"daily: {count} objects, every {changed_every}th edited (+1 binding): {changes} watched "
        f"objects changed, {len(from_plan)} finding(s); medians of {repeat}"
    )
    before, after = statistics.median(read_back), statistics.median(planned)
    print(f"  before, read back from git (diff + blobs + parse) + findings: {before * 1000:.0f} ms")
    print(f"  after, from the plan (TipComparison) + findings: {after * 1000:.0f} ms")
    print(
        "    of which "
        + ", ".join(f"{k} {statistics.median(v) * 1000:.1f} ms" for k, v in steps.items())
    )
    print(f"  ratio after / before: {after / before:.3f}")
    print(
        f"  daily job wall time: without compare {statistics.median(jobs[False]):.2f} s, "
        f"with compare {statistics.median(jobs[True]):.2f} s"
    )


def core_figures() -> None:
    changes = [
        drift.ObjectChange(
            before=None if i % 2 else ADMIN, after={**ADMIN, "metadata": {"name": f"b{i}"}}
        )
        for i in range(10_000)
    ]
    started = time.perf_counter()
    found = drift.findings(changes, facts=drift.Facts(roles={}), policy=drift.DriftPolicy())
    elapsed = time.perf_counter() - started
    print(f"pure core: 10000 changed bindings, {len(found)} findings: {elapsed * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--changed-every", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    daily_figures(args.objects, args.changed_every, args.repeat)
    core_figures()


if __name__ == "__main__":
    main()
