"""health-aggregator over HTTP: ``GET /health``, ``/status``, ``/`` (the status page) and
``/metrics`` (one scrape per interval): measure and answer, no announcement.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import flask
from prometheus_client import CONTENT_TYPE_LATEST

from backup2gitops.adapters.git import GitError
from backup2gitops.adapters.git.credentials import remote_access
from backup2gitops.adapters.storage import StorageError
from backup2gitops.core import status
from backup2gitops.core.events import HealthReported
from backup2gitops.core.flow_metrics import FlowCounts
from backup2gitops.core.interval_cache import IntervalCache
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.logs import logger_for
from health_aggregator import flow, metrics, status_state, status_view
from health_aggregator.generated_state import unmanaged_counts
from health_aggregator.measurement import Measurement, measure

logger = logger_for("health-aggregator")


def _health_body(report: HealthReported) -> dict[str, Any]:
    return report.model_dump(mode="json")


def _json(body: dict[str, Any], *, status: int) -> flask.Response:
    return flask.Response(json.dumps(body), status=status, mimetype="application/json")


def get_health(ctx: FunctionContext, request: flask.Request) -> flask.Response:
    report = measure(ctx).report
    return _json(_health_body(report), status=503 if report.status == "unhealthy" else 200)


def status_report(ctx: FunctionContext) -> status.StatusReport:
    """What ``/status`` answers, the status page shows and ``backup2gitops status`` prints: the
    report and per cluster the last backup, the last commit (with its forge page), the lag,
    staleness, open alerts and recent drift findings (``core.status``)."""
    measured = measure(ctx)
    url, _ = remote_access(ctx.config.git, ctx.environ)
    return status.build(
        measured.report,
        measured.clusters,
        git_url=url,
        alerts=status_state.open_alerts(ctx.store, prefix=ctx.config.alerts.open_prefix),
        drift=status_state.drift_notes(ctx, [f.cluster for f in measured.clusters]),
        unmanaged=unmanaged_counts(ctx, [f.cluster for f in measured.clusters]),
    )


def status_body(ctx: FunctionContext) -> dict[str, Any]:
    """``status_report`` as the JSON ``/status`` sends."""
    return status_report(ctx).model_dump(mode="json")


def get_status(ctx: FunctionContext, request: flask.Request) -> flask.Response:
    return status_view.respond(
        request, ctx=ctx, report=lambda: status_report(ctx), page=request.path == "/"
    )


@dataclass(frozen=True)
class Scrape:
    """What one ``/metrics`` interval answers: a measurement and the flow counts (None, with
    the reason logged, when their facts could not be read)."""

    measured: Measurement
    flow: FlowCounts | None


def scrape(ctx: FunctionContext) -> Scrape:
    measured = measure(ctx)
    velero = {
        (f.cluster, f.last_backup.backup_id) for f in measured.clusters if f.last_backup is not None
    }
    try:
        counts: FlowCounts | None = flow.collect(ctx, velero_completed=velero)
    except (StorageError, GitError) as exc:
        logger.warning("flow metrics unavailable this interval", extra={"error": str(exc)})
        counts = None
    return Scrape(measured=measured, flow=counts)


def scrape_cache(ctx: FunctionContext) -> IntervalCache[Scrape]:
    """The process's ``/metrics`` cache (on ``ctx.warm``): one scrape per interval, on
    ``ctx.clock``."""
    cache = ctx.warm.get("metrics")
    if not isinstance(cache, IntervalCache):
        cache = IntervalCache(
            lambda: scrape(ctx),
            interval=timedelta(seconds=ctx.config.health.metrics_cache_s),
            clock=ctx.clock,
        )
        cache = ctx.warm.setdefault("metrics", cache)
    return cache


def get_metrics(ctx: FunctionContext, request: flask.Request) -> flask.Response:
    current = scrape_cache(ctx).get()
    config = ctx.config.health
    limits = metrics.Limits(
        max_gitops_lag_s=config.max_gitops_lag.total_seconds(),
        check_timeout_s=config.check_timeout_s,
    )
    body = metrics.render(
        current.measured.report, current.measured.clusters, limits=limits, flow=current.flow
    )
    return flask.Response(body, content_type=CONTENT_TYPE_LATEST)
