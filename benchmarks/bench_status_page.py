"""How long the status page takes to render, and how big it gets, as clusters grow.

    python benchmarks/bench_status_page.py [--clusters 1 10 100 500] [--repeat 20]

For each size: a ``StatusReport`` with that many clusters (each with a backup, a commit on
GitHub, two open alerts and five drift notes; two components per cluster), rendered by
``core.status_page.render`` (the first render, which compiles the template, is reported
apart), and the same report dumped as ``/status`` JSON. Medians of ``--repeat`` on the
process CPU clock. It prints figures; it asserts nothing (CI does not run it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from backup2gitops.core import health, status, status_page
from backup2gitops.core.alerts import Alert
from backup2gitops.core.events import DriftFinding, GitopsDrifted
from backup2gitops.core.health import BackupMark, CheckResult, CommitMark

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def report(clusters: int) -> status.StatusReport:
    facts, checks, alerts, drift = [], [], [], {}
    for n in range(clusters):
        name = f"cluster-{n:04d}"
        facts.append(
            health.cluster_facts(
                cluster=name,
                newest=BackupMark(name, f"b{n}", NOW - timedelta(hours=n % 30)),
                commit=CommitMark(name, f"b{n}", f"{n:040x}", NOW - timedelta(hours=1)),
                max_age=timedelta(hours=26),
                now=NOW,
            )
        )
        checks += [
            CheckResult(f"freshness/{name}", "healthy", 0.1, f"newest backup b{n}"),
            CheckResult(f"gitops-lag/{name}", "healthy", 0.1, "lag 0s"),
        ]
        alerts += [
            Alert(
                labels={"alertname": a, "cluster": name, "component": "backup"},
                annotations={"summary": f"{a} for {name}"},
                status="firing",
                starts_at=NOW,
            )
            for a in ("BackupStale", "GitopsFailed")
        ]
        notes = status.DriftNotes()
        for commit in range(5):
            drifted = GitopsDrifted(
                cluster=name,
                backup_id=f"b{n}",
                commit=f"{commit:040x}",
                previous_commit="0" * 40,
                findings=[
                    DriftFinding(
                        kind="ClusterRoleBinding",
                        name=f"admin-{commit}",
                        rule="rbac-cluster-admin-binding",
                        severity="critical",
                        summary="binds cluster-admin to ServiceAccount shop/default",
                    )
                ],
            )
            notes = status.remember_drift(notes, drifted, at=NOW, keep=20) or notes
        drift[name] = notes.notes
    return status.build(
        health.build_report(checks, checked_at=NOW),
        facts,
        git_url="https://github.com/acme/clusters.git",
        alerts=alerts,
        drift=drift,
    )


def timed(work: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.process_time()
        work()
        samples.append(time.process_time() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, nargs="+", default=[1, 10, 100, 500])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    start = time.process_time()
    status_page.render(report(1))
    print(f"first render (template compiled): {(time.process_time() - start) * 1000:.1f} ms")
    print(f"{'clusters':>8} {'render ms':>10} {'json ms':>8} {'html KiB':>9} {'json KiB':>9}")
    for size in args.clusters:
        built = report(size)
        page = status_page.render(built)
        body = json.dumps(built.model_dump(mode="json"))
        html_ms = timed(lambda b=built: status_page.render(b), args.repeat) * 1000
        json_ms = timed(lambda b=built: json.dumps(b.model_dump(mode="json")), args.repeat) * 1000
        print(
            f"{size:>8} {html_ms:>10.2f} {json_ms:>8.2f} "
            f"{len(page.encode()) / 1024:>9.1f} {len(body.encode()) / 1024:>9.1f}"
        )


if __name__ == "__main__":
    main()
