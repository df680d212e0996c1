"""``demo``'s run: the notification into backup-complete, the local broker delivering by the
Triggers, and the summary of what happened (the commit, its files, the events, the alerts)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backup2gitops.cli import progress
from backup2gitops.cli.demo.setup import (
    LOCAL_GIT_TIMEOUT_S,
    demo_config,
    seed_sample,
    working_copy,
)
from backup2gitops.core import units

if TYPE_CHECKING:
    from backup2gitops.config import Config


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
        timeout=LOCAL_GIT_TIMEOUT_S,
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
