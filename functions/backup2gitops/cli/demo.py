"""``backup2gitops demo``: the whole flow on embedded defaults, no cluster and no server.

1. The sample cluster backup that ships with the package is written, native format, into a
   directory that stands for the bucket (archive first, manifest last).
2. The notification MinIO would POST for the manifest goes to backup-complete, whose reply is
   published to the local broker (on Knative a SinkBinding does this).
3. The broker routes by the Triggers in ``triggers/``: gitops-generator commits to a local bare
   remote, health-aggregator reports, alert-router notifies the console receiver.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from backup2gitops.cli import progress
from backup2gitops.cli.output import add_output_option, emit
from backup2gitops.core import units

if TYPE_CHECKING:
    from backup2gitops.adapters.storage import FileStore, ObjectInfo
    from backup2gitops.config import Config

LOG_NAME = "demo.log"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("demo", help="run the whole flow on the embedded sample")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("backup2gitops-demo"),
        help="where the bucket, the git remote, its clone and demo.log live",
    )
    add_output_option(parser)
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help=f"the functions' JSON log lines on stderr (default: into WORKDIR/{LOG_NAME})",
    )
    parser.add_argument("--triggers", help="the Triggers directory (default: the packaged ones)")
    parser.add_argument(
        "--config",
        help="a configuration whose generator, health and alerts sections the demo uses "
        "(storage, git and clusters stay the demo's, in --workdir)",
    )
    parser.set_defaults(func=run)


def demo_config(workdir: Path, base: Config | None = None) -> Config:
    """The demo's bucket, remote and sample cluster in ``workdir``; the rest from ``base``
    (``--config``), else the defaults."""
    from backup2gitops.config import (
        BackupCompleteConfig,
        ClusterSource,
        Config,
        GitConfig,
        StorageConfig,
    )
    from backup2gitops.sample import SAMPLE_CLUSTER

    git = base.git if base is not None else GitConfig()
    return (base or Config()).model_copy(
        update={
            "storage": StorageConfig(url=(workdir / "bucket").as_uri()),
            "git": git.model_copy(
                update={"url": str(workdir / "gitops.git"), "cache_dir": workdir / ".cache" / "git"}
            ),
            "clusters": [ClusterSource(name=SAMPLE_CLUSTER, velero_prefix="velero")],
            # the demo's webhook comes from this process, not from MinIO: no token is needed
            "backup_complete": BackupCompleteConfig(allow_unauthenticated=True),
        }
    )


UNAUTHENTICATED_NOTICE = (
    "backup-complete accepts webhooks without a token here "
    "(backup_complete.allow_unauthenticated: true; never in a deployment)"
)


def working_copy(remote: Path, clone: Path) -> Path:
    """A plain clone of the remote for the user to look at (refreshed on every run)."""
    if (clone / ".git").is_dir():
        subprocess.run(["git", "-C", str(clone), "pull", "--quiet", "--ff-only"], check=True)
    else:
        subprocess.run(["git", "clone", "--quiet", str(remote), str(clone)], check=True)
    return clone


def seed_sample(store: FileStore) -> tuple[str, ObjectInfo]:
    """The sample backup in the bucket (written once: archive first, manifest last)."""
    from backup2gitops.backups import write_native_backup
    from backup2gitops.core import events as catalog
    from backup2gitops.core import layout
    from backup2gitops.sample import (
        SAMPLE_BACKUP_ID,
        SAMPLE_CLUSTER,
        SAMPLE_KUBERNETES_VERSION,
        iter_sample_items,
    )

    manifest_key = layout.native_manifest_key(
        prefix="", cluster=SAMPLE_CLUSTER, backup_id=SAMPLE_BACKUP_ID
    )
    info = store.stat(manifest_key)
    if info is None:
        info = write_native_backup(
            store,
            iter_sample_items(),
            cluster=SAMPLE_CLUSTER,
            backup_id=SAMPLE_BACKUP_ID,
            started_at=catalog.now(),
            kubernetes_version=SAMPLE_KUBERNETES_VERSION,
        ).manifest_info
    return manifest_key, info


def run_flow(
    workdir: Path,
    *,
    triggers: str | None = None,
    reporter: progress.Reporter | None = None,
    base: Config | None = None,
) -> dict[str, Any]:
    from backup2gitops.adapters.git import ensure_bare_remote
    from backup2gitops.adapters.storage import FileStore
    from backup2gitops.cli import flow
    from backup2gitops.runtime.context import FunctionContext

    reporter = reporter or progress.Reporter()
    workdir = workdir.resolve()
    reporter.step("writing the sample backup")
    config = demo_config(workdir, base)
    ensure_bare_remote(workdir / "gitops.git")
    store = FileStore(workdir / "bucket")
    manifest_key, info = seed_sample(store)

    specs = flow.function_specs()
    environ = {k: v for k, v in os.environ.items() if k != "K_SINK"}
    contexts: dict[str, FunctionContext] = {}
    transport = flow.InProcessTransport(specs, contexts)
    deliveries = 0

    def delivered(service: str) -> None:
        nonlocal deliveries
        deliveries += 1
        reporter.step(f"delivering to {service}")
        reporter.items(deliveries)

    transport.on_delivery = delivered
    broker = flow.new_broker(triggers, transport)
    for name in specs:
        # as knative/base/sinkbinding.yaml binds them to the Broker
        publish = broker.publish if name in flow.SINK_BOUND else None
        contexts[name] = FunctionContext(config, store=store, publish=publish, environ=environ)

    body = flow.minio_webhook_body(
        bucket=store.bucket, key=manifest_key, etag=info.etag, size=info.size
    )
    notifications = io.StringIO()
    with contextlib.redirect_stdout(notifications):  # the console receiver prints the alerts
        accepted = transport.post(
            "backup-complete", headers={"Content-Type": "application/json"}, body=body
        )
        log = broker.run_until_idle()
    reporter.step("cloning the repository")
    clone = working_copy(workdir / "gitops.git", workdir / "repository")
    report = summarize(
        workdir=workdir, clone=clone, accepted=accepted.status, reply=accepted.reply, log=log
    )
    report["manifest_key"] = manifest_key
    report["notifications"] = notifications.getvalue().splitlines()
    return report


def committed_files(clone: Path, commit: str) -> list[dict[str, str]]:
    """What one commit did: ``[{"status": "added", "path": ...}]`` (kustomization files too)."""
    names = {"A": "added", "M": "changed", "D": "removed"}
    out = subprocess.run(
        ["git", "-C", str(clone), "show", "--format=", "--name-status", "--no-renames", commit],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split("\t", 1) for line in out.splitlines() if "\t" in line]
    return [{"status": names.get(code, code), "path": path} for code, path in rows]


def is_alert(event_type: str, data: Mapping[str, Any]) -> bool:
    """An event that asks for someone's attention: a failure, a stale backup, or health that
    became anything but healthy (``health.changed`` to healthy is the good news of a first run)."""
    from backup2gitops.core import events as catalog

    if event_type == catalog.HEALTH_CHANGED:
        return data.get("current") != "healthy"
    return event_type in (catalog.BACKUP_FAILED, catalog.GITOPS_FAILED, catalog.BACKUP_STALE)


def summarize(*, workdir: Path, clone: Path, accepted: int, reply: Any, log: Any) -> dict[str, Any]:
    from backup2gitops.core import events as catalog

    def last(event_type: str) -> dict[str, Any] | None:
        found = [e for e in log.events if e.type == event_type]
        return found[-1].data if found else None

    completed = last(catalog.BACKUP_COMPLETED)
    generated = last(catalog.GITOPS_GENERATED)
    files = (
        sorted(p.relative_to(clone).as_posix() for p in (clone / "clusters").rglob("*.yaml"))
        if (clone / "clusters").is_dir()
        else []
    )
    written = (
        committed_files(clone, generated["commit"])
        if generated and generated["commit"] and not generated["noop"]
        else []
    )
    return {
        "workdir": str(workdir),
        "unauthenticated_webhooks": True,
        "webhook_status": accepted,
        "webhook_reply": reply.type if reply is not None else None,
        "backup": completed,
        "backup_failed": last(catalog.BACKUP_FAILED),
        "commit": generated["commit"] if generated else None,
        "noop": generated["noop"] if generated else None,
        "repository": str(clone),
        "remote": str(workdir / "gitops.git"),
        "objects": sum(not units.is_generated(f) for f in files),
        "excluded": generated["excluded"] if generated else 0,
        "excluded_by_reason": (generated or {}).get("excluded_by_reason") or {},
        "files": [f for f in files if not units.is_generated(f)],
        "written": written,
        "gitops": generated or last(catalog.GITOPS_FAILED),
        "health": last(catalog.HEALTH_REPORTED)
        or (last(catalog.HEALTH_CHANGED) or {}).get("report"),
        "alerts": [e.type for e in log.events if is_alert(e.type, e.data)],
        "events": [e.type for e in log.events],
        "deliveries": [
            {
                "subscriber": d.subscriber,
                "type": d.event_type,
                "status": d.status,
                "attempts": d.attempts,
                "reply": d.reply_type,
            }
            for d in log.deliveries
        ],
        "dead_letters": [e.type for e in log.dead_letters],
    }


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


@contextlib.contextmanager
def logs_into(stream: TextIO) -> Iterator[None]:
    """The functions' JSON log lines into ``stream`` while the flow runs (their handlers restored
    after). One handler per function's logger, each keeping the formatter it had."""
    from backup2gitops.cli import flow
    from backup2gitops.runtime.logs import logger_for

    saved: list[tuple[logging.Logger, list[logging.Handler]]] = []
    for service in flow.SERVICES:
        logger_for(service)  # created now, so that its handler exists to be replaced
        logger = logging.getLogger(f"backup2gitops.{service}")
        handlers = list(logger.handlers)
        saved.append((logger, handlers))
        for handler in handlers:
            replacement = logging.StreamHandler(stream)
            replacement.setFormatter(handler.formatter)
            replacement.setLevel(handler.level)
            logger.removeHandler(handler)
            logger.addHandler(replacement)
    try:
        yield
    finally:
        for logger, handlers in saved:
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            for handler in handlers:
                logger.addHandler(handler)


def run(args: argparse.Namespace) -> int:
    if shutil.which("git") is None:
        print("demo: git is not installed (not found on PATH)", file=sys.stderr)
        return 1
    workdir: Path = args.workdir
    base = None
    if args.config:
        from backup2gitops.config import ConfigError, load_config

        try:
            base = load_config(args.config)
        except ConfigError as exc:
            print(f"demo: {args.config}: invalid: {exc}", file=sys.stderr)
            return 2
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        log_path = workdir.resolve() / LOG_NAME
        log_file = None if args.verbose else log_path.open("w", encoding="utf-8")
    except OSError as exc:
        print(f"demo: cannot use --workdir {workdir}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    with contextlib.ExitStack() as stack:
        if log_file is not None:
            stack.enter_context(log_file)
            stack.enter_context(logs_into(log_file))
        reporter = stack.enter_context(
            progress.reporter("demo", enabled=progress.wanted(args.output))
        )
        report = run_flow(workdir, triggers=args.triggers, reporter=reporter, base=base)
    report["log"] = str(log_path) if log_file is not None else None
    emit(
        report,
        output=args.output,
        table=print_report,
        names=lambda r: [f"commit/{r['commit']}"] if r["commit"] else [],
    )
    return 0 if report["commit"] and not report["dead_letters"] else 1
