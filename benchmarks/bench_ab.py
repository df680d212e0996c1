"""Two checkouts' ``generate``, interleaved: the least CPU each spends on the same archives.

Not a test. Run: ``python benchmarks/bench_ab.py BEFORE_CHECKOUT [AFTER_CHECKOUT] [--objects N]
[--runs N]`` (AFTER defaults to this checkout). On a shared machine one run of
``benchmarks/run.py`` swings by half with the load; running the two checkouts in turn, several
times, and taking each one's minimum CPU seconds (user + system of the child and its git
children) compares the code, not the moment. Each checkout gets its own repository: a fresh
commit, then ``runs`` times a daily backup (1 % changed) and the same backup again (unchanged),
alternating between two archives so every daily run changes 1 %; then ``runs`` fresh commits
into new repositories. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from run import GIT_ENV, write_backup


def generate(checkout: Path, archive: Path, work: Path, backup_id: str) -> float:
    """CPU seconds of one ``generate`` of ``archive`` into ``work``'s repository."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKUP2GITOPS", "GIT_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package runs from its .pyc files
    env |= GIT_ENV | {"PYTHONPATH": str(checkout / "functions"), "HOME": str(work)}
    env["BACKUP2GITOPS__GIT__CACHE_DIR"] = str(work / "cache")
    argv = [sys.executable, "-m", "backup2gitops", "generate", str(archive)]
    argv += ["--repo", str(work / "remote.git"), "--cluster", "demo", "--backup-id", backup_id]
    process = subprocess.Popen([*argv, "--json"], env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"generate failed in {checkout}")
    return usage.ru_utime + usage.ru_stime


def fresh_repository(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    init = ["git", "init", "-q", "--bare", "--initial-branch=main", str(work / "remote.git")]
    subprocess.run(init, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path, nargs="?", default=Path(__file__).parents[1])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=4)
    args = parser.parse_args()
    checkouts: list[Path] = [args.before.resolve(), args.after.resolve()]
    cpu: dict[Path, dict[str, list[float]]] = {c: {} for c in checkouts}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        base, daily = tmp / "base.tar.gz", tmp / "daily.tar.gz"
        write_backup(base, args.objects)
        write_backup(daily, args.objects, changed_every=100)
        for index, checkout in enumerate(checkouts):
            fresh_repository(tmp / f"repo{index}")
            generate(checkout, base, tmp / f"repo{index}", "b0")
        for run in range(args.runs):
            archive = daily if run % 2 == 0 else base
            for index, checkout in enumerate(checkouts):
                work = tmp / f"repo{index}"
                figures = cpu[checkout]
                figures.setdefault("daily", []).append(generate(checkout, archive, work, f"d{run}"))
                unchanged = generate(checkout, archive, work, f"u{run}")
                figures.setdefault("unchanged", []).append(unchanged)
        for _ in range(args.runs):
            for index, checkout in enumerate(checkouts):
                work = tmp / f"fresh{index}"
                fresh_repository(work)
                cpu[checkout].setdefault("fresh", []).append(generate(checkout, base, work, "b1"))
    print(f"{args.objects:,} objects, {args.runs} runs each, interleaved; CPU s (min / median)")
    for checkout in checkouts:
        row = "  ".join(
            f"{case} {min(values):.3f} / {sorted(values)[len(values) // 2]:.3f}"
            for case, values in cpu[checkout].items()
        )
        print(f"{checkout}: {row}")


if __name__ == "__main__":
    main()
