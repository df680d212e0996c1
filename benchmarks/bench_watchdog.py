"""What the watchdog and the alert tick cost per health tick, on a directory bucket and a local
bare git remote.

Not a test. Run: ``python benchmarks/bench_watchdog.py [--clusters N] [--alerts K]``.
N clusters each with a landed backup: a quarter committed, a quarter refused with a delivered
alert (a refusal record), half uncommitted past the lag (stuck). Prints the wall time of one
health-aggregator measurement (best of 5; the watchdog's extra reads are one ``stat`` and at
most one small read per cluster whose newest backup the branch does not name), and of
alert-router's tick over K open alerts: first when every receiver has them (listing and
``stat`` only), then when none has (each delivered once to a console receiver).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def best(run: Callable[[], object], times: int = 5) -> float:
    spent = []
    for _ in range(times):
        start = time.perf_counter()
        run()
        spent.append(time.perf_counter() - start)
    return min(spent)


def remote_with(tmp: Path, committed: list[str]) -> Path:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}  # fmt: skip
    work = tmp / "work"
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    for cluster in committed:
        message = f"{cluster}: b1\n\nBackup-Id: b1\nCluster: {cluster}\n"
        subprocess.run(
            ["git", "-C", str(work), "commit", "-q", "--allow-empty", "-m", message],
            check=True,
            env=env,
        )
    bare = tmp / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return bare


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=50)
    parser.add_argument("--alerts", type=int, default=50)
    args = parser.parse_args()

    from alert_router import handler as alert_router
    from alert_router.open_alerts import OpenAlerts
    from alert_router.redelivery import redeliver
    from backup2gitops.adapters.storage import FileStore
    from backup2gitops.config import parse_config
    from backup2gitops.core import alert_rules, alerts, events
    from backup2gitops.core.events import Event
    from backup2gitops.runtime.context import FunctionContext
    from health_aggregator.measurement import measure

    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        clusters = [f"c{i:03d}" for i in range(args.clusters)]
        quarter = max(1, len(clusters) // 4)
        committed, refused = clusters[:quarter], clusters[quarter : 2 * quarter]
        remote = remote_with(tmp, committed)
        store = FileStore(tmp / "bucket")
        landed = (NOW - timedelta(hours=2)).timestamp()
        for cluster in clusters:
            key = f"backups/{cluster}/b1/manifest.json"
            store.put_bytes(key, b"{}")
            os.utime(store.root / key, (landed, landed))
        for cluster in refused:
            store.put_bytes(alerts.refusal_key("state/refusals/", cluster, "b1"), b"{}")
        names = ", ".join(f"{{name: {c}}}" for c in clusters)
        config = parse_config(
            f"""
storage: {{url: "file://{tmp / "bucket"}"}}
git: {{url: "{remote}", cache_dir: "{tmp / "cache"}"}}
clusters: [{names}]
health: {{max_gitops_lag: PT1H, check_timeout_s: 60}}
""",
            {},
        )
        ctx = FunctionContext(config, store=store, environ={}, clock=lambda: NOW)
        measured = measure(ctx)
        stuck = sum(1 for f in measured.clusters if f.stuck)
        seconds = best(lambda: measure(ctx))
        print(f"health measurement, {len(clusters)} clusters ({stuck} stuck, {len(refused)} "
              f"refused, {len(committed)} committed): {seconds * 1000:.0f} ms (best of 5)")  # fmt: skip

        opened = OpenAlerts(store, prefix=config.alerts.open_prefix)
        for i in range(args.alerts):
            failed = Event(
                id=f"f{i}",
                source="/backup2gitops/gitops-generator",
                type=events.GITOPS_FAILED,
                time=NOW,
                cluster=f"c{i:03d}",
                data={"cluster": f"c{i:03d}", "backup_id": "b1", "code": "mass_deletion",
                      "message": "m", "retryable": False},
            )  # fmt: skip
            opened.put(alert_rules.effects_of(failed).firing[0])
        tick = Event(id="t", source="/t", type=events.PING)
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # the console receiver's lines
            sent = redeliver(ctx)
        first = time.perf_counter() - start
        quiet = best(lambda: alert_router.handle(tick, ctx))
        print(f"alert tick, {args.alerts} open alerts nobody has: {first * 1000:.0f} ms "
              f"({len(sent)} delivered to console); all taken: {quiet * 1000:.0f} ms "
              "(best of 5, 0 sent)")  # fmt: skip


if __name__ == "__main__":
    main()
