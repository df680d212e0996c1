"""``backup2gitops neat`` against kubectl-neat (Go) on the same 10,000-object ``List``.

    python benchmarks/bench_neat.py [--objects 10000] [--kubectl-neat PATH]

The file is the benchmark corpus (``corpus.py``: Deployments, Services, ConfigMaps as the API
server returns them) as one JSON ``List``, what ``kubectl get -o json`` prints. Both tools are
run as whole processes writing YAML to /dev/null (wall clock, CPU of the child, peak RSS).
kubectl-neat is built in the setup (``build_kubectl_neat``): ``go install`` of
github.com/itaysk/kubectl-neat/v2 from the module proxy, or, where the proxy refuses the module,
``go build`` of a checkout named by ``$KUBECTL_NEAT_SRC``; without either it is reported as
unavailable. Not a test; CI does not run it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from corpus import objects

KUBECTL_NEAT_VERSION = "v2.0.4"


def build_kubectl_neat(into: Path) -> tuple[Path | None, str]:
    """The kubectl-neat binary (built now unless on PATH), and how it was found."""
    found = shutil.which("kubectl-neat")
    if found:
        return Path(found), "on PATH"
    target = into / "kubectl-neat"
    if target.exists():
        return target, "built earlier"
    if shutil.which("go") is None:
        return None, "no go toolchain"
    env = os.environ | {"GOBIN": str(into)}
    started = time.perf_counter()
    module = f"github.com/itaysk/kubectl-neat/v2@{KUBECTL_NEAT_VERSION}"
    done = subprocess.run(["go", "install", module], env=env, capture_output=True, text=True)
    if done.returncode == 0 and (into / "kubectl-neat").exists():
        return target, f"go install {module} ({time.perf_counter() - started:.0f} s)"
    source = os.environ.get("KUBECTL_NEAT_SRC")
    if source:
        built = subprocess.run(
            ["go", "build", "-o", str(target), "."], cwd=source, capture_output=True, text=True
        )
        if built.returncode == 0:
            return target, f"go build of {source} ({time.perf_counter() - started:.0f} s)"
        return None, f"go build failed: {built.stderr.strip()[-200:]}"
    return None, f"go install failed: {done.stderr.strip().splitlines()[-1][:200]}"


def timed(argv: list[str], *, env: dict[str, str], limit_s: float = 0) -> dict[str, float]:
    """Wall, CPU and RSS of ``argv``; past ``limit_s`` (0: none) it is killed and reported as
    ``timed_out`` with the time it had run."""
    with Path(os.devnull).open("wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdout=sink, stderr=subprocess.PIPE)
        while True:  # os.wait4 keeps the child's rusage (Popen.poll would reap it without)
            pid, status, usage = os.wait4(process.pid, os.WNOHANG if limit_s else 0)
            if pid:
                break
            if time.perf_counter() - started > limit_s:
                process.kill()
            time.sleep(0.1)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
    if limit_s and seconds > limit_s:
        return {"timed_out": 1, "seconds": round(seconds, 1)}
    if process.returncode != 0:
        error = process.stderr.read().decode() if process.stderr else ""
        raise RuntimeError(f"{argv[0]} failed: {error[-300:]}")
    return {
        "seconds": round(seconds, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def neat_figures(
    count: int,
    *,
    tmp: Path,
    env: dict[str, str],
    repeat: int = 3,
    binary: Path | None = None,
    limit_s: float = 180,
) -> dict[str, Any]:
    listing = tmp / f"list-{count}.json"
    items = [obj for _, obj in objects(count)]
    listing.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    ours = [sys.executable, "-m", "backup2gitops", "neat", "-f", str(listing), "-o", "yaml"]
    figures: dict[str, Any] = {"objects": count, "file_mb": round(listing.stat().st_size / 1e6, 1)}
    runs = [timed(ours, env=env) for _ in range(repeat)]
    figures["backup2gitops_neat"] = min(runs, key=lambda r: r["seconds"])
    if binary is None:
        binary, how = build_kubectl_neat(tmp)
    else:
        how = "given"
    figures["kubectl_neat_build"] = how
    if binary is not None:
        theirs = [str(binary), "-f", str(listing), "-o", "yaml"]
        figures["kubectl_neat"] = timed(theirs, env=env, limit_s=limit_s)  # once: it is slow
        figures["ratio"] = round(
            figures["backup2gitops_neat"]["seconds"] / figures["kubectl_neat"]["seconds"], 3
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--kubectl-neat", type=Path)
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    env = os.environ | {"PYTHONPATH": str(root / "functions")}
    with tempfile.TemporaryDirectory() as name:
        figures = neat_figures(args.objects, tmp=Path(name), env=env, binary=args.kubectl_neat)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
