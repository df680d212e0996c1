"""health-aggregator: measure every part of the flow at once and say what changed.

Triggers: the PingSource (``dev.knative.sources.ping``), ``gitops.generated`` (to re-check the
lag right after a commit) and ``gitops.drifted`` (kept as the cluster's recent drift notes for the
status page, ``status_state``; no measurement, no reply); over HTTP ``GET /health``, ``/status``,
``/`` (the status page) and ``/metrics`` (measure and answer, no announcement).

Events:
- each run replies ``health.reported``, unless the overall or a component's status changed
  since the previous report: then the reply is ``health.changed`` (the alert-router needs it and
  the reply is the path the Broker guarantees) and ``health.reported`` goes to ``ctx.publish``
  (``$K_SINK`` on Knative, the local broker) when there is one. ``health.changed`` carries the
  full report, so nothing is lost for a subscriber without a sink;
- on ``gitops.generated`` it first remembers the cluster's generated backup
  (``state/generated/<cluster>.json``): a no-op generation commits nothing, yet is not lag;
- ``backup.stale`` for each stale cluster, on every run, through ``ctx.publish`` (without a
  publisher it is logged; the alert-router sends a repeat only to receivers that want repeats).
- the watchdog (``core.health.stuck``): per cluster, the newest backup that landed (marker) and
  the newest ``Backup-Id`` trailer on the branch; a landed backup no trailer names, past
  ``health.max_gitops_lag``, not refused with a delivered alert (alert-router's record under
  ``alerts.refusals_prefix``) makes ``watchdog/<cluster>`` unhealthy and is published as
  ``backup.stale`` with a ``cause``, on every run, like the stale ones.

The previous report is one object (``health.state_key``). It is read with its etag and, on a
change, written with a conditional put (``If-Match`` the etag read, ``If-None-Match: *`` when there
was none). Of two runs at once, the one whose put fails did not win and does not announce.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import flask
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import ValidationError

from backup2gitops.adapters import probes
from backup2gitops.adapters.git import GitError, history
from backup2gitops.adapters.git.credentials import remote_access
from backup2gitops.adapters.storage import StorageError
from backup2gitops.core import events, health, routing, status
from backup2gitops.core.events import Event, HealthReported
from backup2gitops.core.flow_metrics import FlowCounts
from backup2gitops.core.health import BackupMark, CheckResult, ClusterFacts, CommitMark
from backup2gitops.core.interval_cache import IntervalCache
from backup2gitops.runtime.aws_lambda import lambda_adapter
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import FunctionSpec, http_target
from backup2gitops.runtime.logs import logger_for
from health_aggregator import backups, flow, metrics, status_state, status_view
from health_aggregator.checks import Check, Task, run_all

NAME = "health-aggregator"
SOURCE = events.function_source(NAME)
TRIGGERS = (events.PING, events.GITOPS_GENERATED, events.GITOPS_DRIFTED)
logger = logger_for(NAME)


@dataclass(frozen=True)
class Measurement:
    report: HealthReported
    clusters: list[ClusterFacts]


def _checks(ctx: FunctionContext) -> list[Check]:
    config = ctx.config
    timeout = config.health.check_timeout_s
    url, token = remote_access(config.git, ctx.environ)

    def storage() -> str:
        first = next(iter(ctx.store.list("backups/")), None)
        # the store's URL: "s3://backups reachable", not "bucket bucket reachable"
        return f"{ctx.store.url} reachable" + ("" if first else " (no backups yet)")

    def git() -> str:
        head = history.ls_remote(url, branch=config.git.branch, timeout_s=timeout, secret=token)
        return f"{config.git.branch} at {head[:12]}"

    checks = [Check("storage", storage, critical=True), Check("git", git, critical=True)]
    if config.storage.health_url:
        minio = config.storage.health_url.rstrip("/") + "/minio/health/cluster"
        checks.append(
            Check("storage/cluster", lambda: probes.probe_url(minio, timeout_s=timeout), True)
        )
    if config.health.kubernetes:
        checks += _kubernetes_checks(ctx)
    for receiver in config.alerts.receivers:
        if receiver.health_url:
            target = receiver.health_url
            checks.append(
                Check(
                    f"receiver/{receiver.name}",
                    functools.partial(probes.probe_url, target, timeout_s=timeout),
                )
            )
    return checks


def _kubernetes_checks(ctx: FunctionContext) -> list[Check]:
    cfg = ctx.config.health
    timeout = cfg.check_timeout_s
    token = cfg.kubernetes_token.reveal(ctx.environ)
    verify = probes.verify_for(cfg.kubernetes_ca)

    def api() -> str:
        return probes.kube_readyz(cfg.kubernetes_url, timeout_s=timeout, token=token, verify=verify)

    def service(name: str) -> str:
        ready, message = probes.knative_service_ready(
            cfg.kubernetes_url,
            namespace=cfg.namespace,
            name=name,
            timeout_s=timeout,
            token=token,
            verify=verify,
        )
        if not ready:
            raise probes.ProbeError(message)
        return message

    checks = [Check("kubernetes", api, critical=True)]
    checks += [
        Check(f"knative/{name}", functools.partial(service, name)) for name in cfg.knative_services
    ]
    return checks


def _tasks(ctx: FunctionContext) -> list[Task]:
    config = ctx.config
    url, token = remote_access(config.git, ctx.environ)
    cache = history.cache_dir_for(
        config.git.url, Path(config.git.cache_dir) if config.git.cache_dir else None
    )

    def commits() -> dict[str, CommitMark]:
        return history.newest_backup_commits(
            url,
            branch=config.git.branch,
            depth=config.health.git_log_depth,
            timeout_s=config.health.check_timeout_s,
            cache_dir=cache,
            secret=token,
        )

    return [
        Task("backups", lambda: backups.newest_backups(ctx.store, config.clusters)),
        Task("commits", commits),
    ]


def measure(ctx: FunctionContext) -> Measurement:
    config = ctx.config
    results, values = run_all(_checks(ctx), _tasks(ctx), timeout_s=config.health.check_timeout_s)
    now = ctx.clock()
    found_backups, found_commits = values["backups"], values["commits"]
    marks: dict[str, BackupMark] = found_backups if isinstance(found_backups, dict) else {}
    heads: dict[str, CommitMark] = found_commits if isinstance(found_commits, dict) else {}
    sources = {c.name: c for c in config.clusters}
    facts: list[ClusterFacts] = []
    for cluster in sorted(set(sources) | set(marks)):
        source = sources.get(cluster)
        max_age = (source.max_backup_age if source else None) or config.health.max_backup_age
        newest = marks.get(cluster)
        commit = health.best_commit(newest, heads.get(cluster), _generated(ctx, cluster))
        if isinstance(found_backups, BaseException):
            results.append(
                CheckResult(
                    f"freshness/{cluster}", "unhealthy", message=f"cannot list: {found_backups}"
                )
            )
        else:
            results.append(
                health.freshness(cluster=cluster, newest=newest, max_age=max_age, now=now)
            )
        if isinstance(found_commits, BaseException):
            results.append(
                CheckResult(
                    f"gitops-lag/{cluster}",
                    "degraded",
                    message=f"cannot read the branch: {found_commits}",
                )
            )
        else:
            lag, _ = health.gitops_lag(
                cluster=cluster,
                newest=newest,
                commit=commit,
                max_lag=config.health.max_gitops_lag,
                now=now,
            )
            results.append(lag)
        verdict = None
        if not isinstance(found_backups, BaseException) and not isinstance(
            found_commits, BaseException
        ):
            verdict = _watch(ctx, cluster, newest, heads.get(cluster), results, now=now)
        facts.append(
            replace(
                health.cluster_facts(
                    cluster=cluster, newest=newest, commit=commit, max_age=max_age, now=now
                ),
                stuck=verdict,
            )
        )
    return Measurement(report=health.build_report(results, checked_at=now), clusters=facts)


def _watch(
    ctx: FunctionContext,
    cluster: str,
    newest: BackupMark | None,
    on_branch: CommitMark | None,
    results: list[CheckResult],
    *,
    now: datetime,
) -> health.Stuck | None:
    """The watchdog of ``cluster`` (``core.health.stuck``): appends its component to
    ``results``; the refusal record is read only for a backup the branch does not name."""
    refused = False
    if newest is not None and (on_branch is None or on_branch.backup_id != newest.backup_id):
        key = routing.refusal_key(ctx.config.alerts.refusals_prefix, cluster, newest.backup_id)
        try:
            refused = ctx.store.stat(key) is not None
        except StorageError as exc:
            results.append(
                CheckResult(f"watchdog/{cluster}", "degraded", message=f"cannot read: {exc}")
            )
            return None
    max_lag = ctx.config.health.max_gitops_lag
    waiting = newest is not None and (on_branch is None or on_branch.backup_id != newest.backup_id)
    verdict = health.stuck(
        newest=newest,
        on_branch=on_branch,
        refused=refused,
        generated=_generated_mark(ctx, cluster) if waiting and not refused else None,
        max_lag=max_lag,
        now=now,
        unchanged_is_progress=not ctx.config.generator.record_unchanged,
    )
    results.append(
        health.watchdog(
            cluster=cluster,
            newest=newest,
            on_branch=on_branch,
            refused=refused,
            verdict=verdict,
            max_lag=max_lag,
        )
    )
    return verdict


def _generated_key(ctx: FunctionContext, cluster: str) -> str:
    return f"{ctx.config.health.state_key.rsplit('/', 1)[0]}/generated/{cluster}.json"


def _generated_record(ctx: FunctionContext, cluster: str) -> dict[str, Any] | None:
    try:
        raw = json.loads(ctx.store.read_bytes(_generated_key(ctx, cluster)))
    except (StorageError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None


def _generated_mark(ctx: FunctionContext, cluster: str) -> health.GeneratedMark | None:
    raw = _generated_record(ctx, cluster)
    if raw is None or not isinstance(raw.get("backup_id"), str):
        return None
    reason = raw.get("reason")
    return health.GeneratedMark(
        backup_id=raw["backup_id"],
        noop=bool(raw.get("noop")),
        reason=reason if isinstance(reason, str) else None,
    )


def _generated(ctx: FunctionContext, cluster: str) -> CommitMark | None:
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


def remember_generated(ctx: FunctionContext, event: Event) -> None:
    generated = events.parse_data(event, events.GitopsGenerated)
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
    body = report.model_dump_json().encode()
    try:
        if info is None:
            ctx.store.put_bytes(key, body, if_none_match=True)
        else:
            ctx.store.put_bytes(key, body, if_match=info.etag)
    except StorageError as exc:  # PreconditionFailed included: another run announced it
        logger.info("health state not written; not announcing", extra={"reason": str(exc)})
        return None
    return previous, health.changed_components(previous, report)


def _event(
    trigger: Event,
    *,
    type: str,
    data: events.EventData,
    cluster: str | None = None,
    about: str = "",
) -> Event:
    parts = (type, trigger.id, cluster or "") + ((about,) if about else ())
    return Event(
        id=events.stable_event_id(*parts),
        source=SOURCE,
        type=type,
        subject=cluster,
        time=events.now(),
        data=data.model_dump(mode="json"),
        cluster=cluster,
        traceparent=trigger.traceparent,
        tracestate=trigger.tracestate,
    )


def _stuck_event(stuck: health.Stuck, *, max_lag: timedelta) -> events.BackupStale:
    """The watchdog's alert: ``backup.stale`` with its ``cause`` (alert-router's
    ``BackupStuck``)."""
    return events.BackupStale(
        cluster=stuck.cluster,
        last_backup_at=stuck.landed_at,
        max_age=health.duration_iso(max_lag),
        age_s=stuck.waiting_s,
        cause=stuck.cause,
        backup_id=stuck.backup_id,
        landed_at=stuck.landed_at,
        last_committed_backup_id=stuck.last_committed.backup_id if stuck.last_committed else None,
    )


def _publish(ctx: FunctionContext, event: Event) -> None:
    if ctx.publish is None:
        logger.warning("no publisher (set K_SINK); event not sent", extra={"type": event.type})
        return
    try:
        ctx.publish(event)
    except Exception as exc:  # noqa: BLE001 - a side event must not cost the reply
        logger.error("publish failed", extra={"type": event.type, "error": str(exc)})


def handle(event: Event, ctx: FunctionContext) -> Event | None:
    if event.type not in TRIGGERS:
        logger.info("not a health trigger; ignored")
        return None
    if event.type == events.GITOPS_DRIFTED:
        kept = status_state.remember_drift(ctx, event)
        logger.info("drift notes", extra={"kept": kept})
        return None
    if event.type == events.GITOPS_GENERATED:
        remember_generated(ctx, event)
    measured = measure(ctx)
    report = measured.report
    logger.info("measured", extra={"status": report.status})
    for facts in measured.clusters:
        if facts.stale:
            stale = events.BackupStale(
                cluster=facts.cluster,
                last_backup_at=facts.last_backup.completed_at if facts.last_backup else None,
                max_age=health.duration_iso(facts.max_age),
                age_s=(report.checked_at - facts.last_backup.completed_at).total_seconds()
                if facts.last_backup
                else None,
            )
            _publish(
                ctx, _event(event, type=events.BACKUP_STALE, data=stale, cluster=facts.cluster)
            )
        if facts.stuck is not None:
            stuck = _stuck_event(facts.stuck, max_lag=ctx.config.health.max_gitops_lag)
            _publish(
                ctx,
                _event(
                    event,
                    type=events.BACKUP_STALE,
                    data=stuck,
                    cluster=facts.cluster,
                    about=f"stuck/{facts.stuck.backup_id}",
                ),
            )
    reported = _event(event, type=events.HEALTH_REPORTED, data=report)
    try:
        transition = record_transition(ctx, report)
    except StorageError as exc:
        logger.error("health state unavailable", extra={"error": str(exc)})
        transition = None
    if transition is None:
        return reported
    previous, changed = transition
    if ctx.publish is not None:
        _publish(ctx, reported)
    return _event(
        event,
        type=events.HEALTH_CHANGED,
        data=events.HealthChanged(
            previous=previous.status if previous else "unknown",
            current=report.status,
            report=report,
            changed_components=changed,
        ),
    )


# --- HTTP ----------------------------------------------------------------------------------


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


SPEC = FunctionSpec(
    name=NAME,
    handle=handle,
    get_routes={
        "/health": get_health,
        "/status": get_status,
        "/": get_status,
        "/metrics": get_metrics,
    },
)
health_aggregator = http_target(SPEC)
lambda_handler = lambda_adapter(SPEC)
