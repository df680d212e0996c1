"""The issue-17 and issue-21 figures in one run: generate vs. the git floors, the daily cases,
memory, cold start; then issue 21's targets, each as measured against its limit.

    python benchmarks/run.py [--json] [--sizes 1000 10000 50000] [--repeat 1]

For each size, a backup of Deployments, Services and ConfigMaps as the API server returns them
(``corpus.py``) is written as a tarball, then, each a whole child process timed on the wall clock
with its peak RSS (``os.wait4``: the child and the largest of its own children, e.g. git):

- ``fresh``: ``backup2gitops generate`` into a new bare remote, with an empty clone cache;
- ``floor``: the same files (``git archive`` of that commit without the generator's member
  cache, unpacked by ``tar``) + ``git init``,
  ``git add -A``, ``git commit``, ``git push`` to a new bare repository: what git itself needs;
- ``fast_import``: the same files as one ``git fast-import`` stream into a new repository, pushed;
- ``daily``: the next backup with 1 % of the objects edited, onto the fresh remote's commit
  (``corpus.objects``: they are all in one namespace of 50, as a day's deployments are);
- ``daily_spread``: the same with the edits spread over every namespace (a fresh export and
  then that backup, on a remote of its own): not a target; what a day that touches every
  namespace costs, since the member cache keeps one file per namespace;
- ``unchanged``: one more backup with the same content (the empty trailer commit);
- ``redelivery``: that backup delivered again (a no-op; the CLI still plans it for its report);
- ``redelivery_fn``: the same, as gitops-generator runs it (``generation.generate`` without
  ``plan_noop``: the archive is never opened).

Then cold start: each function's handler module, and ``backup2gitops --help``, imported in a
fresh interpreter (wall clock, and ``-X importtime``'s own total, medians), with the SDKs it
loaded; ``neat`` against kubectl-neat on a 10,000-object List (``bench_neat.py``, which builds
kubectl-neat); backup-complete's webhook throughput under functions-framework
(``bench_webhook.py``); N generators for N clusters at once (``bench_fleet.py``).
Medians of ``--repeat``; CPU seconds (user + system of the child and its git children) beside
the wall clock, since on a shared machine they vary less. It prints figures; it asserts nothing, and CI does not run it
(``make bench`` does). Read ratios, not seconds, on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "functions"))

from bench_fleet import fleet_figures  # noqa: E402
from bench_neat import neat_figures  # noqa: E402
from bench_webhook import webhook_figures  # noqa: E402
from corpus import objects, write_archive  # noqa: E402

CLUSTER = "bench"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
COLD_START = {
    "backup-complete": "backup_complete.handler",
    "health-aggregator": "health_aggregator.handler",
    "alert-router": "alert_router.handler",
    "gitops-generator": "gitops_generator.handler",
    "cluster-backup": "cluster_backup.handler",
}
# gitops-generator's own path for a redelivered backup: GitRemote.publish finds the Backup-Id on
# the branch and returns; unlike ``backup2gitops generate`` (which plans the backup anyway, to
# print its figures) it never opens the archive.
REDELIVER = """
import sys
from pathlib import Path
from backup2gitops import generation
from backup2gitops.adapters.git import GitRemote
from backup2gitops.core.cleaning import CleaningPolicy
archive, remote, cache, backup_id = sys.argv[1:]
git = GitRemote(url=remote, branch="main", cache_dir=Path(cache), author_name="bench",
                author_email="bench@example.com")
outcome = generation.generate(archive=lambda: open(archive, "rb"), remote=git, cluster="bench",
                              backup_id=backup_id, policy=CleaningPolicy())
assert outcome.commit.noop
"""
SDKS = ("kubernetes", "git", "boto3", "botocore", "aws_lambda_powertools", "flask", "cloudevents")


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_s: float  # user + system, the child's and its waited-for children's (git)
    rss_mb: float
    stdout: str


def child(argv: Sequence[str], *, env: dict[str, str], cwd: Path | None = None) -> Run:
    """Run ``argv``; its wall time and peak RSS (its own or its largest descendant's)."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr = process.stderr.read().decode() if process.stderr else ""
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({process.returncode}): {stderr}")
        out.seek(0)
        cpu = usage.ru_utime + usage.ru_stime
        return Run(seconds, cpu, usage.ru_maxrss / 1024, out.read().decode())


def environment(tmp: Path) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE (set on some machines) would make every run compile ~100 modules
    # again, which an installed package or a Lambda image never does: dropped here
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BACKUP2GITOPS", "GIT_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    return env | GIT_ENV | {"PYTHONPATH": str(ROOT / "functions"), "HOME": str(tmp)}


def write_backup(path: Path, count: int, *, changed_every: int = 0, spread: bool = False) -> None:
    with path.open("wb") as stream:
        write_archive(stream, objects(count, changed_every=changed_every, spread=spread))


def generate(
    archive: Path, *, remote: Path, cache: Path, backup_id: str, env: dict[str, str]
) -> Run:
    argv = [sys.executable, "-m", "backup2gitops", "generate", str(archive), "--repo", str(remote)]
    argv += ["--cluster", CLUSTER, "--backup-id", backup_id, "--json"]
    return child(argv, env=env | {"BACKUP2GITOPS__GIT__CACHE_DIR": str(cache)})


def git(*args: str, env: dict[str, str], cwd: Path | None = None) -> None:
    subprocess.run(["git", *args], env=env, cwd=cwd, check=True, capture_output=True)


def fast_import_stream(files_tar: Path, stream: Path) -> None:
    """One commit holding every file of ``files_tar``, inline, as ``git fast-import`` reads it."""
    with tarfile.open(files_tar) as tar, stream.open("wb") as out:
        message = b"floor"
        out.write(b"commit refs/heads/main\ncommitter bench <bench@example.com> 0 +0000\n")
        out.write(b"data %d\n%s\n" % (len(message), message))
        for member in tar:
            if not member.isfile():
                continue
            content = tar.extractfile(member).read()  # type: ignore[union-attr]
            out.write(b"M 100644 inline %s\ndata %d\n" % (member.name.encode(), len(content)))
            out.write(content + b"\n")
        out.write(b"\n")


def one_size(count: int, *, repeat: int, tmp: Path, env: dict[str, str]) -> dict[str, Any]:
    base, daily = tmp / f"base-{count}.tar.gz", tmp / f"daily-{count}.tar.gz"
    write_backup(base, count)
    write_backup(daily, count, changed_every=100)
    spread = tmp / f"spread-{count}.tar.gz"
    write_backup(spread, count, changed_every=100, spread=True)
    samples: dict[str, list[Run]] = {}
    for r in range(repeat):
        work = tmp / f"{count}-{r}"
        work.mkdir()
        remote, cache = work / "remote.git", work / "cache"
        git("init", "-q", "--bare", "--initial-branch=main", str(remote), env=env)

        def record(
            case: str, archive: Path, backup_id: str, remote: Path = remote, cache: Path = cache
        ) -> dict[str, Any]:
            run = generate(archive, remote=remote, cache=cache, backup_id=backup_id, env=env)
            samples.setdefault(case, []).append(run)
            report: dict[str, Any] = json.loads(run.stdout)
            return report

        fresh = record("fresh", base, "b1")
        record("daily", daily, "b2")
        record("unchanged", daily, "b3")
        record("redelivery", daily, "b3")
        cache_env = env | {"BACKUP2GITOPS__GIT__CACHE_DIR": str(cache)}
        argv = [sys.executable, "-c", REDELIVER, str(daily), str(remote), str(cache), "b3"]
        samples.setdefault("redelivery_fn", []).append(child(argv, env=cache_env))

        files_tar = work / "files.tar"
        archive = ["archive", "-o", str(files_tar), fresh["commit"], "--", "."]
        archive.append(f":(exclude)clusters/{CLUSTER}/.backup2gitops")  # the generator's cache
        git("--git-dir", str(remote), *archive, env=env)
        floor = work / "floor"
        floor.mkdir()
        git("init", "-q", "--bare", "--initial-branch=main", str(work / "floor.git"), env=env)
        script = (
            "tar -xf ../files.tar && git init -q -b main && git add -A && "
            "git commit -q -m floor && git push -q ../floor.git main"
        )
        samples.setdefault("floor", []).append(child(["sh", "-c", script], env=env, cwd=floor))

        stream = work / "fast-import.stream"
        fast_import_stream(files_tar, stream)
        git("init", "-q", "--bare", "--initial-branch=main", str(work / "fi-remote.git"), env=env)
        script = (
            "git init -q --bare fi.git && git --git-dir fi.git fast-import --quiet "
            "< fast-import.stream && git --git-dir fi.git push -q fi-remote.git main"
        )
        samples.setdefault("fast_import", []).append(child(["sh", "-c", script], env=env, cwd=work))

        # the daily case again with the changes in every namespace, on a remote of its own
        spread_remote, spread_cache = work / "spread.git", work / "spread-cache"
        git("init", "-q", "--bare", "--initial-branch=main", str(spread_remote), env=env)
        generate(base, remote=spread_remote, cache=spread_cache, backup_id="s1", env=env)
        record("daily_spread", spread, "s2", remote=spread_remote, cache=spread_cache)
    figures: dict[str, Any] = {"objects": count, "archive_mb": round(base.stat().st_size / 1e6, 2)}
    for case, runs in samples.items():
        seconds = statistics.median(run.seconds for run in runs)
        figures[case] = {
            "seconds": round(seconds, 3),
            "cpu_s": round(statistics.median(run.cpu_s for run in runs), 3),
            "rss_mb": round(max(run.rss_mb for run in runs), 1),
        }
    fresh_s = figures["fresh"]["seconds"]
    for case in ("fresh", "daily", "unchanged"):
        figures[case]["us_per_object"] = round(figures[case]["seconds"] / count * 1e6, 1)
        figures[case]["cpu_us_per_object"] = round(figures[case]["cpu_s"] / count * 1e6, 1)
    figures["daily_to_fresh"] = round(figures["daily"]["seconds"] / fresh_s, 2)
    figures["unchanged_to_fresh"] = round(figures["unchanged"]["seconds"] / fresh_s, 2)
    fresh_cpu_s = max(figures["fresh"]["cpu_s"], 1e-3)
    figures["cpu_daily_to_fresh"] = round(figures["daily"]["cpu_s"] / fresh_cpu_s, 2)
    figures["cpu_unchanged_to_fresh"] = round(figures["unchanged"]["cpu_s"] / fresh_cpu_s, 2)
    figures["cpu_ratio_to_fast_import"] = round(
        fresh_cpu_s / max(figures["fast_import"]["cpu_s"], 1e-3), 2
    )
    figures["ratio_to_floor"] = round(fresh_s / figures["floor"]["seconds"], 2)
    figures["ratio_to_fast_import"] = round(fresh_s / figures["fast_import"]["seconds"], 2)
    fresh_cpu = figures["fresh"]["cpu_s"]
    figures["cpu_ratio_to_floor"] = round(fresh_cpu / max(figures["floor"]["cpu_s"], 1e-3), 2)
    return figures


def cold_start(*, repeat: int, env: dict[str, str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    probe = "import importlib, sys; importlib.import_module(sys.argv[1]); print(" + (
        "' '.join(m for m in sys.argv[2:] if m in sys.modules))"
    )
    baseline = statistics.median(
        child([sys.executable, "-c", "pass"], env=env).seconds for _ in range(repeat)
    )
    for name, module in COLD_START.items():
        runs = [child([sys.executable, "-c", probe, module, *SDKS], env=env) for _ in range(repeat)]
        total_us = statistics.median(_importtime_total(module, env=env) for _ in range(repeat))
        results[name] = {
            "module": module,
            "seconds": round(statistics.median(r.seconds for r in runs), 3),
            "import_ms": round(total_us / 1000, 1),
            "sdks": runs[0].stdout.split(),
        }
    helps = [
        child([sys.executable, "-m", "backup2gitops", "--help"], env=env).seconds
        for _ in range(repeat)
    ]
    results["backup2gitops --help"] = {"seconds": round(statistics.median(helps), 3)}
    results["python -c pass"] = {"seconds": round(baseline, 3)}
    return results


def _importtime_total(module: str, *, env: dict[str, str]) -> float:
    """Microseconds ``-X importtime`` reports for ``module``, its imports included (not the
    interpreter's own start-up imports, such as ``site``)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    top = module.split(".")[0]
    total = 0.0
    for line in done.stderr.splitlines():
        # "import time:  self [us] | cumulative | imported package"; top-level lines only
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or parts[2].startswith("  ") or not parts[1].strip().isdigit():
            continue
        if parts[2].strip().split(".")[0] == top:  # the package, then the module itself
            total += float(parts[1])
    return total


def machine() -> dict[str, Any]:
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "git": git_version.strip(),
    }


def print_table(result: dict[str, Any]) -> None:
    m = result["machine"]
    print(f"{m['platform']}, {m['cpus']} CPUs, Python {m['python']}, {m['git']}")
    print(f"load average at start: {m['load_average']}; medians of {result['repeat']}")
    print()
    header = f"{'objects':>8} {'case':<12} {'seconds':>8} {'CPU s':>7} {'RSS MB':>7}  note"
    print(header)
    print("-" * len(header))
    for figures in result["sizes"]:
        n = figures["objects"]
        cases = ("fresh", "floor", "fast_import", "daily", "unchanged", "redelivery")
        for case in (*cases, "redelivery_fn", "daily_spread"):
            f = figures[case]
            note = ""
            if case == "fresh":
                note = (
                    f"{f['us_per_object']} us/object; {figures['ratio_to_floor']}x the floor, "
                    f"{figures['ratio_to_fast_import']}x fast-import; CPU "
                    f"{figures['cpu_ratio_to_floor']}x the floor's"
                )
            print(
                f"{n:>8,} {case:<12} {f['seconds']:>8.2f} {f['cpu_s']:>7.2f} {f['rss_mb']:>7.0f}"
                f"  {note}"
            )
    if not result["cold_start"]:
        return
    print()
    print(f"{'cold start':<22} {'seconds':>8} {'import ms':>10}  SDKs loaded")
    for name, f in result["cold_start"].items():
        ms = f.get("import_ms", "")
        print(f"{name:<22} {f['seconds']:>8.3f} {ms:>10}  {' '.join(f.get('sdks', []))}")


Target = tuple[str, float, float | None, float, str]
"""What, measured on the wall clock, measured in CPU (None: no such figure), the limit, unit."""


def targets(result: dict[str, Any]) -> list[Target]:
    """Issue 21's targets from this run's figures: the 10,000- and 50,000-object sizes when
    measured, and the cost per object across sizes. Each beside its CPU counterpart (user +
    system of the child and its git children), which a shared machine disturbs far less."""
    by_size = {figures["objects"]: figures for figures in result["sizes"]}
    found: list[Target] = []
    small = by_size.get(10_000)
    if small:
        daily, unchanged = small["daily"], small["unchanged"]
        found += [
            ("10,000 daily (1 % changed)", daily["seconds"], daily["cpu_s"], 1.0, "s"),
            ("10,000 unchanged", unchanged["seconds"], unchanged["cpu_s"], 0.6, "s"),
            (
                "10,000 daily / fresh",
                small["daily_to_fresh"],
                small["cpu_daily_to_fresh"],
                0.3,
                "x",
            ),
            (
                "10,000 unchanged / fresh",
                small["unchanged_to_fresh"],
                small["cpu_unchanged_to_fresh"],
                0.2,
                "x",
            ),
            (
                "10,000 fresh / work-tree floor",
                small["ratio_to_floor"],
                small["cpu_ratio_to_floor"],
                1.0,
                "x",
            ),
            (
                "10,000 fresh / fast-import floor",
                small["ratio_to_fast_import"],
                small["cpu_ratio_to_fast_import"],
                5.0,
                "x",
            ),
        ]
    big = by_size.get(50_000)
    if big:
        rss = max(big[case]["rss_mb"] for case in ("fresh", "daily", "unchanged"))
        found += [
            (
                "50,000 fresh / work-tree floor",
                big["ratio_to_floor"],
                big["cpu_ratio_to_floor"],
                1.0,
                "x",
            ),
            (
                "50,000 daily (1 % changed)",
                big["daily"]["seconds"],
                big["daily"]["cpu_s"],
                3.0,
                "s",
            ),
            ("50,000 peak RSS (fresh, daily, unchanged)", rss, None, 100.0, "MB"),
        ]
    sizes = sorted(by_size)
    if len(sizes) > 1:
        first, last = by_size[sizes[0]], by_size[sizes[-1]]
        for case in ("fresh", "daily"):
            wall = last[case]["us_per_object"] / max(first[case]["us_per_object"], 1e-9)
            cpu = last[case]["cpu_us_per_object"] / max(first[case]["cpu_us_per_object"], 1e-9)
            what = f"{case} per object, {sizes[-1]:,} / {sizes[0]:,} (linear: <= 1)"
            found.append((what, round(wall, 2), round(cpu, 2), 1.0, "x"))
    return found


def _verdict(measured: float | None, limit: float) -> str:
    if measured is None:
        return ""
    return "met" if measured <= limit else f"missed by {measured / limit:.2f}x"


def print_targets(result: dict[str, Any]) -> None:
    print()
    print("per object (wall us / CPU us):")
    for figures in result["sizes"]:
        cells = [
            f"{case} {figures[case]['us_per_object']} / {figures[case]['cpu_us_per_object']}"
            for case in ("fresh", "daily", "unchanged")
        ]
        print(f"  {figures['objects']:>8,}  " + ";  ".join(cells))
    print()
    header = f"{'issue 21 target':<48} {'limit':>8} {'wall':>8} {'verdict':<16} {'CPU':>8} verdict"
    print(header)
    print("-" * len(header))
    for what, wall, cpu, limit, unit in targets(result):
        cpu_text = f"{cpu:.2f}{unit}" if cpu is not None else "-"
        print(
            f"{what:<48} {limit:>7.2f}{unit} {wall:>7.2f}{unit} {_verdict(wall, limit):<16} "
            f"{cpu_text:>8} {_verdict(cpu, limit)}"
        )
    print()
    for figures in result["sizes"]:  # not a target: the daily case's changes in every namespace
        spread, fresh = figures["daily_spread"], figures["fresh"]
        print(
            f"{figures['objects']:,} daily, spread over every namespace (not a target): "
            f"{spread['seconds']:.2f} s (CPU {spread['cpu_s']:.2f} s), "
            f"{spread['seconds'] / max(fresh['seconds'], 1e-3):.2f}x fresh "
            f"(CPU {spread['cpu_s'] / max(fresh['cpu_s'], 1e-3):.2f}x)"
        )


def print_extras(result: dict[str, Any]) -> None:
    neat = result.get("neat")
    if neat:
        ours, theirs = neat["backup2gitops_neat"], neat.get("kubectl_neat")
        print()
        print(f"neat, {neat['objects']:,} objects ({neat['file_mb']} MB List), best of 3:")
        print(f"  backup2gitops neat  {ours['seconds']:.2f} s, {ours['cpu_s']:.2f} CPU s")
        if theirs and theirs.get("timed_out"):
            print(f"  kubectl-neat        killed after {theirs['seconds']:.0f} s")
        elif theirs:
            print(f"  kubectl-neat        {theirs['seconds']:.2f} s, {theirs['cpu_s']:.2f} CPU s")
            print(f"  ratio (ours / kubectl-neat, wall): {neat['ratio']}")
        print(f"  kubectl-neat: {neat['kubectl_neat_build']}")
    hook = result.get("webhook")
    if hook:
        print()
        print(
            f"backup-complete webhook (functions-framework, {hook['concurrency']} connections): "
            f"{hook['req_per_s']} req/s, {hook['req_per_cpu_s']} req per server CPU s, "
            f"p50 {hook['p50_ms']} ms, p99 {hook['p99_ms']} ms, statuses {hook['statuses']}"
        )
    fleet = result.get("fleet")
    if fleet:
        print()
        print(f"fleet: N generators at once, {fleet['objects_per_cluster']} objects each")
        print(f"{'layout':<18} {'N':>3} {'seconds':>8} {'CPU s':>7} {'failures':>8} {'retries':>7}")
        for layout in ("shared", "per_repo", "shared_3n_attempts"):
            for f in fleet.get(layout, []):
                print(
                    f"{layout:<18} {f['clusters']:>3} {f['seconds']:>8.2f} {f['cpu_s']:>7.2f} "
                    f"{f['failures']:>8} {f['retries']:>7}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 50_000])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-cold-start", action="store_true")
    parser.add_argument("--neat", type=int, default=10_000, help="objects; 0 skips it")
    parser.add_argument("--webhook-seconds", type=float, default=10, help="0 skips it")
    parser.add_argument("--fleet", type=int, nargs="*", default=[2, 4, 8, 16], help="N clusters")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="b2g-bench-", ignore_cleanup_errors=True) as name:
        tmp = Path(name)
        env = environment(tmp)
        result: dict[str, Any] = {"machine": machine(), "repeat": args.repeat, "sizes": []}
        for count in args.sizes:
            result["sizes"].append(one_size(count, repeat=args.repeat, tmp=tmp, env=env))
        if not args.no_cold_start:
            result["cold_start"] = cold_start(repeat=max(args.repeat, 5), env=env)
        else:
            result["cold_start"] = {}
        if args.neat:
            result["neat"] = neat_figures(args.neat, tmp=tmp, env=env)
        if args.webhook_seconds:
            result["webhook"] = webhook_figures(seconds=args.webhook_seconds, concurrency=8)
        if args.fleet:
            result["fleet"] = fleet_figures(args.fleet, objects=200, tmp=tmp, env=env)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        print_table(result)
        print_targets(result)
        print_extras(result)


if __name__ == "__main__":
    main()
