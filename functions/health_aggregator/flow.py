"""The facts behind the flow counters: the branch's history, the bucket's completion markers and
alert-router's delivery records (``core.flow_metrics`` turns them into counts).

Three reads: ``git fetch`` of the whole branch into a bare cache (``git.cache_dir``, its own
``history-*`` folder; only new commits after the first) and ``git log``; a listing of
``backups/`` (keys and times only); a listing of ``alerts.deliveries_prefix`` (every field of a
record is in its key, nothing is read). ``views.get_metrics`` runs them at most once per
``health.metrics_cache_s``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from backup2gitops.adapters.git import remote_reads
from backup2gitops.adapters.git.credentials import remote_access
from backup2gitops.core import bucket_layout, delivery_records
from backup2gitops.core.flow_metrics import FlowCounts, flow_counts
from backup2gitops.runtime.context import FunctionContext

HISTORY_TIMEOUT_S = 120.0
"""The whole-branch fetch of a new instance may take longer than a health check."""


def native_completed(keys: Iterable[str]) -> set[tuple[str, str]]:
    """(cluster, backup id) of every native completion marker among ``keys``."""
    done: set[tuple[str, str]] = set()
    for key in keys:
        parsed = bucket_layout.parse_key(key)
        if parsed and parsed.format == "native" and parsed.role == "manifest" and parsed.cluster:
            done.add((parsed.cluster, parsed.backup_id))
    return done


def collect(
    ctx: FunctionContext, *, velero_completed: Iterable[tuple[str, str]] = ()
) -> FlowCounts:
    """The counts now; raises the storage or git error when a source cannot be read.

    ``velero_completed``: Velero backups known complete (the newest per cluster, read by the
    freshness check); older ones count once generated (their commit's trailers name them).
    """
    config = ctx.config
    url, token = remote_access(config.git, ctx.environ)
    base = Path(config.git.cache_dir) if config.git.cache_dir else None
    commits = remote_reads.backup_commit_history(
        url,
        branch=config.git.branch,
        timeout_s=max(HISTORY_TIMEOUT_S, config.health.check_timeout_s),
        cache_dir=remote_reads.cache_dir_for(config.git.url, base, kind="history"),
        secret=token,
    )
    completed = native_completed(info.key for info in ctx.store.list("backups/"))
    prefix = config.alerts.deliveries_prefix
    records = (
        delivery_records.parse_delivery_record_key(info.key, prefix=prefix)
        for info in ctx.store.list(prefix)
    )
    return flow_counts(
        commits=commits,
        completed=completed | set(velero_completed),
        deliveries=[r for r in records if r is not None],
    )
