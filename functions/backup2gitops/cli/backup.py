"""``backup2gitops backup --to URL --cluster NAME``: back up a live cluster into a bucket, now.

The same backup cluster-backup writes (``backups/<cluster>/<backup-id>/resources.tar.gz``, then
``manifest.json`` LAST), read through a kubeconfig (``--kubeconfig``/``--context``, else
``$KUBECONFIG`` / ~/.kube/config, or the pod's service account in a cluster). Filters come from
the configuration's ``cluster_backup`` section. URL is ``file:///path`` or ``s3://bucket[/prefix]``
(endpoint and credentials as in the configuration's ``storage``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from backup2gitops.cli import progress
from backup2gitops.cli.output import add_output_option, emit


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("backup", help="back up a live cluster into a bucket")
    parser.add_argument(
        "--to", required=True, metavar="URL", help="file:///path or s3://bucket/prefix"
    )
    parser.add_argument("--cluster", help="cluster name (default: cluster_backup.cluster)")
    parser.add_argument("--kubeconfig", metavar="PATH", help="default: $KUBECONFIG, ~/.kube/config")
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context")
    parser.add_argument("--config", help="configuration file (default: $BACKUP2GITOPS_CONFIG)")
    add_output_option(parser)
    parser.set_defaults(func=run)


def print_table(report: Mapping[str, Any]) -> None:
    print(
        f"backup {report['backup_id']} of {report['cluster']} "
        f"({report['kubernetes_version'] or 'unknown version'}): "
        f"{report['objects']} objects, {sum(report['excluded'].values())} excluded, "
        f"{report['archive_bytes']} bytes"
    )
    for key in report["keys"]:
        print(f"  {report['bucket']}/{key}")
    for resource, count in report["counts"].items():
        print(f"  {count:6d} {resource}")
    for warning in report["warnings"]:
        print(f"warning: {warning}")


def run(args: argparse.Namespace) -> int:
    from backup2gitops.adapters import kube
    from backup2gitops.adapters.storage import StorageError, open_store
    from backup2gitops.cluster_snapshot import write_cluster_backup
    from backup2gitops.config import ConfigError, load_config
    from backup2gitops.core.archive import ArchiveError
    from backup2gitops.core.bucket_layout import LayoutError, new_backup_id, validate_cluster
    from backup2gitops.core.events import now

    try:
        config = load_config(args.config)
        settings = config.cluster_backup.model_copy(
            update={
                key: value
                for key, value in (("kubeconfig", args.kubeconfig), ("context", args.context))
                if value is not None
            }
        )
        cluster = args.cluster or settings.cluster
        if not cluster:
            raise ValueError("--cluster is required (or cluster_backup.cluster)")
        validate_cluster(cluster)
        if not args.to.startswith(("file://", "s3://")):
            raise ValueError(f"--to {args.to}: want file:///path or s3://bucket/prefix")
        store = open_store(config.storage.model_copy(update={"url": args.to}))
    except (ConfigError, LayoutError, ValueError, StorageError) as exc:
        print(f"backup: {exc}", file=sys.stderr)
        return 2
    started_at = now()
    backup_id = new_backup_id(started_at)
    kubeconfig = str(settings.kubeconfig) if settings.kubeconfig is not None else None
    failure = None
    show = progress.reporter("backup", enabled=progress.wanted(args.output), first_step="listing")
    with show as reporter:  # gone from the terminal before anything else is printed
        try:
            with kube.api_client_from(kubeconfig=kubeconfig, context=settings.context) as api:
                backup = write_cluster_backup(
                    api,
                    store,
                    config=settings,
                    cluster=cluster,
                    backup_id=backup_id,
                    started_at=started_at,
                    clock=now,
                    progress=reporter.items,
                )
        except (kube.KubeError, StorageError, ArchiveError) as exc:
            failure = str(exc)
    if failure is not None:
        print(f"backup: failed, nothing written: {failure}", file=sys.stderr)
        return 1
    manifest = backup.written.manifest
    keys = [backup.written.manifest_key, backup.written.archive_key]
    report = {
        "backup_id": backup_id,
        "cluster": cluster,
        "bucket": store.url,
        "keys": keys,
        "kubernetes_version": manifest.kubernetes_version,
        "objects": sum(manifest.resource_counts.values()),
        "counts": manifest.resource_counts,
        "excluded": backup.excluded,
        "archive_bytes": manifest.archive.size,
        "sha256": manifest.archive.sha256,
        "warnings": manifest.warnings,
        "duration_s": round((manifest.finished_at - manifest.started_at).total_seconds(), 3),
    }
    emit(
        report,
        output=args.output,
        table=print_table,
        names=lambda r: [f"backup/{r['backup_id']}"],
    )
    return 0
