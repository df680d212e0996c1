"""``demo``'s story: the summary told as a few lines a person reads (what was committed and
why objects were left out), and the report printed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from backup2gitops.cli.demo.setup import UNAUTHENTICATED_NOTICE
from backup2gitops.core import units

STATUSES = ("added", "changed", "removed")
_OWNED = re.compile(r"owned by controller \S+ \(it recreates it\)")


def reasons(by_reason: Mapping[str, int]) -> list[tuple[int, str]]:
    """Exclusion reasons, largest first, with every "owned by controller X" counted as one."""
    grouped: dict[str, int] = {}
    for reason, count in by_reason.items():
        key = _OWNED.sub("owned by a controller, which recreates it", reason)
        grouped[key] = grouped.get(key, 0) + count
    return sorted(((n, r) for r, n in grouped.items()), key=lambda nr: (-nr[0], nr[1]))


def _short(event_type: str | None) -> str:
    return (event_type or "").removeprefix("io.backup2gitops.")


def story(report: Mapping[str, Any]) -> list[str]:
    """The run in plain words: read, excluded (why), committed, health, alerts, the order."""
    backup = report["backup"] or {}
    name = f"{backup.get('cluster')}/{backup.get('backup_id')}"
    lines = []
    if not backup:
        failed = report["backup_failed"] or {}
        lines.append(f"The backup was not read: {failed.get('message', 'no backup.completed')}.")
    elif report["noop"]:
        lines += [
            f"Nothing changed. Backup {name} was announced again, and gitops-generator found it "
            f"already committed as {str(report['commit'])[:12]}:",
            "no object read, no file written, no new commit. "
            f"The repository still holds {report['objects']} objects.",
        ]
    else:
        lines.append(
            f"Read backup {name} ({backup.get('format')} format, {backup.get('resource_count')} "
            f"objects, {backup.get('size')} bytes) from {report['workdir']}/bucket."
        )
        by_reason = reasons(report["excluded_by_reason"])
        lines.append(
            f"Excluded {report['excluded']} objects"
            + (":" if by_reason else " (no reasons reported).")
        )
        lines += [f"  {count:4d}  {reason}" for count, reason in by_reason]
        written = [w for w in report["written"] if not units.is_generated(w["path"])]
        kustomizations = sum(w["path"].endswith("kustomization.yaml") for w in report["written"])
        counts = {s: sum(1 for w in written if w["status"] == s) for s in STATUSES}
        lines.append(
            f"Committed {str(report['commit'])[:12]} to {report['remote']}, objects "
            + ", ".join(f"{counts[s]} {s}" for s in STATUSES)
            + f" (and {kustomizations} kustomization.yaml files); "
            f"a clone is in {report['repository']}:"
        )
        lines += [f"  {w['status']:8s}  {w['path']}" for w in written]
    health = report["health"] or {}
    components = ", ".join(
        f"{n} {c['status']}" for n, c in sorted((health.get("components") or {}).items())
    )
    lines.append(f"Health: {health.get('status', 'not reported')} ({components}).")
    if report["alerts"]:
        lines.append("Alerts: " + ", ".join(_short(a) for a in report["alerts"]) + ".")
    else:
        lines.append("Alerts: none.")
    lines += [f"  {line}" for line in report["notifications"]]
    lines.append("How it ran:")
    published = _short(report["webhook_reply"] or (report["events"] or [None])[0])
    lines.append(
        f"  1. backup-complete   got MinIO's webhook for {report.get('manifest_key')}: "
        f"{report['webhook_status']}, sent {published or 'nothing'} to the broker"
    )
    for step, d in enumerate(report["deliveries"], start=2):
        reply = f", replied {_short(d['reply'])}" if d["reply"] else " accepted"
        tries = f" after {d['attempts']} attempts" if d["attempts"] > 1 else ""
        lines.append(
            f"  {step}. {d['subscriber']:18s}got {_short(d['type'])}: {d['status']}{reply}{tries}"
        )
    if report["dead_letters"]:
        lines.append("Dead letters: " + ", ".join(_short(t) for t in report["dead_letters"]))
    return lines


def print_report(report: Mapping[str, Any]) -> None:
    print("\n".join(story(report)))
    if report.get("unauthenticated_webhooks"):
        print(f"Note: {UNAUTHENTICATED_NOTICE}.")
    if report.get("log"):
        print(f"Logs: {report['log']} (-v prints them)")
