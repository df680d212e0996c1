"""The health tick's redelivery: every open alert a routed receiver has not taken, sent again.

An alert outlives a receiver's outage and the Broker's retries: the tick
(``dev.knative.sources.ping`` of the health PingSource) resends every open firing alert to the
routed receivers without a ``.notified`` record, and every pending resolution to each routed
receiver, under the event that raised it (``redeliver``).
"""

from __future__ import annotations

from alert_router.delivery import Outcome, deliver_all
from alert_router.open_alerts import OpenAlerts
from alert_router.outcomes import record_outcomes, settle
from backup2gitops.core import alerts, events, routing
from backup2gitops.core.events import Event
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.logs import logger_for

logger = logger_for("alert-router")


def redeliver(ctx: FunctionContext) -> list[Outcome]:
    """The health tick: send every open alert again to each routed receiver that has not taken
    it -- a firing one to receivers without a ``.notified`` record, a pending resolution to
    every routed receiver (those that took it replay it from their idempotency record) -- until
    one does, it resolves (closed) or it is older than ``alerts.redeliver_for`` (logged as
    expired: a firing alert stays open for the status page, a resolution is dropped).

    Each alert is delivered under the event that raised it (``alert.event_id``): the same
    idempotency key and delivery record as the first attempt, so a Broker redelivery of that
    event and a tick at once still reach a receiver once. Failures are logged, not raised: the
    next tick tries again.
    """
    config = ctx.config.alerts
    tree = routing.parse_tree(r.model_dump(by_alias=True) for r in config.routes)
    opened = OpenAlerts(ctx.store, prefix=config.open_prefix)
    now = ctx.clock()
    outcomes: list[Outcome] = []
    for alert in opened.all():
        if alert.is_notice:
            continue
        since = alert.ends_at if alert.status == "resolved" and alert.ends_at else alert.starts_at
        if now - since > config.redeliver_for:
            fields = {"alertname": alert.alertname, "fingerprint": alert.fingerprint}
            if alert.status == "resolved":
                logger.error("resolution expired undelivered", extra=fields)
                opened.close(alert.fingerprint)
            elif _waiting(alert, tree, opened):
                logger.error(
                    "alert expired undelivered", extra={**fields, "since": since.isoformat()}
                )
            continue
        done = resend(alert, ctx=ctx, tree=tree, opened=opened)
        for outcome in done:
            logger.info(
                "redelivery",
                extra={
                    "alertname": alert.alertname,
                    "alert_status": alert.status,
                    "fingerprint": alert.fingerprint,
                    "receiver": outcome.receiver,
                    "result": outcome.result,
                },
            )
        outcomes += done
    return outcomes


def _waiting(alert: alerts.Alert, tree: routing.Route, opened: OpenAlerts) -> list[str]:
    names = routing.route(tree, alert)
    if alert.status == "resolved":
        return names
    return [n for n in names if not opened.notified(alert.fingerprint, n)]


def resend(
    alert: alerts.Alert, *, ctx: FunctionContext, tree: routing.Route, opened: OpenAlerts
) -> list[Outcome]:
    """Deliver an open alert (firing, or a pending resolution) to the routed receivers that have
    not taken it, under the event that raised it; a resolution is settled afterwards."""
    waiting = _waiting(alert, tree, opened)
    if not waiting:
        return []
    raised_by = Event(
        id=alert.event_id or alert.fingerprint,
        source=alert.generator_url or "/backup2gitops/alert-router",
        type=alert.event_type or events.HEALTH_CHANGED,
        time=alert.ends_at if alert.status == "resolved" else alert.starts_at,
    )
    done = deliver_all(
        [(alert, n, False) for n in waiting], event=raised_by, ctx=ctx, opened=opened
    )
    record_outcomes(done, event=raised_by, ctx=ctx)
    if alert.status == "resolved":
        settle([alert], done, opened=opened)
    return done
