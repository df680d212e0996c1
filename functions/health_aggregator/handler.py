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
(``generated_state``); what is measured is ``measurement``'s, the HTTP answers ``views``'.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from backup2gitops.adapters.storage import StorageError
from backup2gitops.core import events, health
from backup2gitops.core.events import Event, GitopsDrifted, GitopsGenerated, Received
from backup2gitops.runtime.aws_lambda import lambda_adapter
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.envelopes import Envelope
from backup2gitops.runtime.http import FunctionSpec, http_target
from backup2gitops.runtime.logs import logger_for

if TYPE_CHECKING:
    import flask

NAME = "health-aggregator"
SOURCE = events.function_source(NAME)
TRIGGERS = (events.PING, events.GITOPS_GENERATED, events.GITOPS_DRIFTED)
logger = logger_for(NAME)

Trigger = Received[GitopsGenerated | GitopsDrifted | None]
"""The input: a generation to remember, drift to keep, or (None) a tick or an event type that
is not a trigger (ignored); the data decoded once (``runtime.envelopes``)."""


def decode(event: Event) -> Trigger:
    if event.type == events.GITOPS_GENERATED:
        return Received(event, events.parse_data(event, GitopsGenerated))
    if event.type == events.GITOPS_DRIFTED:
        return Received(event, events.parse_data(event, GitopsDrifted))
    return Received(event, None)  # a tick's data says nothing to this function


INPUT: Envelope[Trigger] = Envelope(decode=decode)


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


def handle_trigger(trigger: Trigger, ctx: FunctionContext) -> Event | None:
    # loaded with the first trigger: the checks' HTTP and git clients, the kept state's models
    from health_aggregator import status_state
    from health_aggregator.generated_state import record_transition, remember_generated
    from health_aggregator.measurement import measure

    event = trigger.event
    if event.type not in TRIGGERS:
        logger.info("not a health trigger; ignored")
        return None
    if isinstance(trigger.data, GitopsDrifted):
        kept = status_state.remember_drift(ctx, trigger.data, at=event.time)
        logger.info("drift notes", extra={"kept": kept})
        return None
    if isinstance(trigger.data, GitopsGenerated):
        remember_generated(ctx, trigger.data, event=event)
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


# The HTTP views are imported at their first request: flask, prometheus-client and the status
# page's Jinja2 are not loaded by a cold start that only handles events (Lambda's schedule).


def _get_health(ctx: FunctionContext, request: flask.Request) -> flask.Response:
    from health_aggregator import views

    return views.get_health(ctx, request)


def _get_status(ctx: FunctionContext, request: flask.Request) -> flask.Response:
    from health_aggregator import views

    return views.get_status(ctx, request)


def _get_metrics(ctx: FunctionContext, request: flask.Request) -> flask.Response:
    from health_aggregator import views

    return views.get_metrics(ctx, request)


SPEC = FunctionSpec(
    name=NAME,
    handle=handle_trigger,
    envelope=INPUT,
    get_routes={
        "/health": _get_health,
        "/status": _get_status,
        "/": _get_status,
        "/metrics": _get_metrics,
    },
)
handle = SPEC.handle_event
"""An event in, decoded like the runtime does (the CLI, in-process tests)."""
health_aggregator = http_target(SPEC)
lambda_handler = lambda_adapter(SPEC)
