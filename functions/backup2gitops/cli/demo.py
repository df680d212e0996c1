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
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from backup2gitops.adapters.gitrepo import ensure_bare_remote
from backup2gitops.adapters.storage import FileStore, ObjectInfo
from backup2gitops.backups import write_native_backup
from backup2gitops.cli import flow
from backup2gitops.config import (
    BackupCompleteConfig,
    ClusterSource,
    Config,
    GitConfig,
    StorageConfig,
)
from backup2gitops.core import events as catalog
from backup2gitops.core import layout
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.sample import (
    SAMPLE_BACKUP_ID,
    SAMPLE_CLUSTER,
    SAMPLE_KUBERNETES_VERSION,
    iter_sample_items,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("demo", help="run the whole flow on the embedded sample")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("backup2gitops-demo"),
        help="where the bucket, the git remote and its clone live",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--triggers", help="the Triggers directory (default: this checkout's)")
    parser.set_defaults(func=run)


def demo_config(workdir: Path) -> Config:
    return Config(
        storage=StorageConfig(url=(workdir / "bucket").as_uri()),
        git=GitConfig(url=str(workdir / "gitops.git"), cache_dir=workdir / ".cache" / "git"),
        clusters=[ClusterSource(name=SAMPLE_CLUSTER, velero_prefix="velero")],
        # the demo's webhook comes from this process, not from MinIO: no token is needed
        backup_complete=BackupCompleteConfig(allow_unauthenticated=True),
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


def run_flow(workdir: Path, *, triggers: str | None = None) -> dict[str, Any]:
    workdir = workdir.resolve()
    config = demo_config(workdir)
    ensure_bare_remote(workdir / "gitops.git")
    store = FileStore(workdir / "bucket")
    manifest_key, info = seed_sample(store)

    specs = flow.function_specs()
    environ = {k: v for k, v in os.environ.items() if k != "K_SINK"}
    contexts: dict[str, FunctionContext] = {}
    transport = flow.InProcessTransport(specs, contexts)
    broker = flow.new_broker(triggers, transport)
    for name in specs:
        # as knative/base/sinkbinding.yaml binds them to the Broker
        publish = broker.publish if name in flow.SINK_BOUND else None
        contexts[name] = FunctionContext(config, store=store, publish=publish, environ=environ)

    body = flow.minio_webhook_body(
        bucket=store.bucket, key=manifest_key, etag=info.etag, size=info.size
    )
    accepted = transport.post(
        "backup-complete", headers={"Content-Type": "application/json"}, body=body
    )
    log = broker.run_until_idle()
    clone = working_copy(workdir / "gitops.git", workdir / "repository")
    return summarize(workdir=workdir, clone=clone, accepted=accepted.status, log=log)


def summarize(*, workdir: Path, clone: Path, accepted: int, log: Any) -> dict[str, Any]:
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
    return {
        "workdir": str(workdir),
        "unauthenticated_webhooks": True,
        "webhook_status": accepted,
        "backup": completed,
        "backup_failed": last(catalog.BACKUP_FAILED),
        "commit": generated["commit"] if generated else None,
        "noop": generated["noop"] if generated else None,
        "repository": str(clone),
        "remote": str(workdir / "gitops.git"),
        "objects": len(files) - sum(f.endswith("kustomization.yaml") for f in files),
        "excluded": generated["excluded"] if generated else 0,
        "files": [f for f in files if not f.endswith("kustomization.yaml")],
        "gitops": generated or last(catalog.GITOPS_FAILED),
        "health": last(catalog.HEALTH_REPORTED)
        or (last(catalog.HEALTH_CHANGED) or {}).get("report"),
        "alerts": [
            e.type
            for e in log.events
            if e.type
            in (
                catalog.BACKUP_FAILED,
                catalog.GITOPS_FAILED,
                catalog.HEALTH_CHANGED,
                catalog.BACKUP_STALE,
            )
        ],
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


def print_report(report: dict[str, Any]) -> None:
    print(f"note       {UNAUTHENTICATED_NOTICE}")
    backup = report["backup"] or {}
    print(
        f"backup     {backup.get('cluster')}/{backup.get('backup_id')} "
        f"({backup.get('resource_count')} objects, {backup.get('size')} bytes)"
    )
    print(
        "flow       "
        + " -> ".join(f"{d['subscriber']}[{d['status']}]" for d in report["deliveries"])
    )
    state = "unchanged, no new commit" if report["noop"] else "new commit"
    print(f"commit     {report['commit']} ({state}) in {report['remote']}")
    print(
        f"repository {report['repository']}: {report['objects']} objects written, "
        f"{report['excluded']} excluded"
    )
    for path in report["files"]:
        print(f"           {path}")
    health = report["health"] or {}
    print(
        f"health     {health.get('status')}: "
        + ", ".join(
            f"{name}={c['status']}" for name, c in sorted((health.get("components") or {}).items())
        )
    )
    if report["dead_letters"]:
        print(f"dead letters: {', '.join(report['dead_letters'])}")


def run(args: argparse.Namespace) -> int:
    if args.json:
        with contextlib.redirect_stdout(sys.stderr):  # receivers print; stdout is the JSON
            report = run_flow(args.workdir, triggers=args.triggers)
        print(json.dumps(report, indent=2, default=str))
    else:
        report = run_flow(args.workdir, triggers=args.triggers)
        print_report(report)
    return 0 if report["commit"] and not report["dead_letters"] else 1
