"""health-aggregator's durable state: the generated backup each cluster last had
(``state/generated/<cluster>.json``, so a no-op generation is not lag) and the previous report
(``health.state_key``: read with its etag; a change is written with a conditional put, and of two
runs at once the one whose put fails does not announce).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from backup2gitops.adapters.storage import StorageError, put_unless_changed
from backup2gitops.core import events, health
from backup2gitops.core.events import Event, HealthReported
from backup2gitops.core.health import CommitMark
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.logs import logger_for

logger = logger_for("health-aggregator")


def _generated_key(ctx: FunctionContext, cluster: str) -> str:
    return f"{ctx.config.health.state_key.rsplit('/', 1)[0]}/generated/{cluster}.json"


def _generated_record(ctx: FunctionContext, cluster: str) -> dict[str, Any] | None:
    try:
        raw = json.loads(ctx.store.read_bytes(_generated_key(ctx, cluster)))
    except (StorageError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None


def generated_mark(ctx: FunctionContext, cluster: str) -> health.GeneratedMark | None:
    raw = _generated_record(ctx, cluster)
    if raw is None or not isinstance(raw.get("backup_id"), str):
        return None
    reason = raw.get("reason")
    return health.GeneratedMark(
        backup_id=raw["backup_id"],
        noop=bool(raw.get("noop")),
        reason=reason if isinstance(reason, str) else None,
    )


def generated_commit(ctx: FunctionContext, cluster: str) -> CommitMark | None:
    """The last ``gitops.generated`` seen for ``cluster``: a commit, or a no-op of an unchanged
    backup (``record_unchanged: false``). A skipped one (a no-op with a reason, e.g. older than
    the tip) is no progress: it does not count."""
    raw = _generated_record(ctx, cluster)
    if raw is None or (raw.get("noop") and raw.get("reason")):
        return None
    try:
        return CommitMark(
            cluster=cluster,
            backup_id=raw["backup_id"],
            commit=raw["commit"],
            committed_at=datetime.fromisoformat(raw["at"]),
        )
    except (TypeError, ValueError, KeyError):
        return None


def remember_generated(
    ctx: FunctionContext, generated: events.GitopsGenerated, *, event: Event
) -> None:
    body = {
        "backup_id": generated.backup_id,
        "commit": generated.commit,
        "at": (event.time or ctx.clock()).isoformat(),
        "noop": generated.noop,
        "reason": generated.reason,
        "unmanaged": generated.unmanaged,
    }
    if generated.unmanaged is None:  # a no-op counted nothing: the last count still holds
        body["unmanaged"] = (_generated_record(ctx, generated.cluster) or {}).get("unmanaged")
    ctx.store.put_bytes(_generated_key(ctx, generated.cluster), json.dumps(body).encode())


def unmanaged_counts(ctx: FunctionContext, clusters: Iterable[str]) -> dict[str, int]:
    """Per cluster, the objects of its last generated commit no GitOps tool manages."""
    counts: dict[str, int] = {}
    for cluster in clusters:
        value = (_generated_record(ctx, cluster) or {}).get("unmanaged")
        if isinstance(value, int) and not isinstance(value, bool):
            counts[cluster] = value
    return counts


def record_transition(
    ctx: FunctionContext, report: HealthReported
) -> tuple[HealthReported | None, list[str]] | None:
    """Write ``report`` as the new state if it differs; ``None`` when unchanged or the race lost."""
    key = ctx.config.health.state_key
    info = ctx.store.stat(key)
    previous: HealthReported | None = None
    if info is not None:
        try:
            previous = HealthReported.model_validate_json(ctx.store.read_bytes(key))
        except (ValidationError, StorageError):
            logger.warning("previous health state unreadable; treating as unknown")
    if not health.has_changed(previous, report):
        return None
    try:
        put_unless_changed(
            ctx.store, key, report.model_dump_json().encode(), etag=info.etag if info else None
        )
    except StorageError as exc:  # PreconditionFailed included: another run announced it
        logger.info("health state not written; not announcing", extra={"reason": str(exc)})
        return None
    return previous, health.changed_components(previous, report)
