"""alert-router: turn an event into alerts, route them, deliver each to each receiver once.

The health tick (``dev.knative.sources.ping`` of the health PingSource) sends again every open
firing alert a routed receiver has not taken, and every resolution one missed (``redeliver``):
an alert outlives a receiver's outage and the Broker's retries.

Consumes ``backup.failed``, ``gitops.failed``, ``backup.stale``, ``health.changed``,
``gitops.generated`` (only to resolve), ``gitops.drifted`` (one-time notices, one per finding,
that end by themselves) and any type in ``alerts.types``; not
``backup.completed`` (see ``core.alerts``). Returns no reply.

Delivery, per (event id, receiver, alert fingerprint, status), is recorded with Powertools
idempotency in the bucket (``state/idempotency/``; DynamoDB on AWS), so a redelivered event
skips the receivers that already have it:

- a receiver answering 5xx, 429 or timing out: the others are still tried, then ``Transient``
  (503) so the broker retries; only the failed deliveries happen again;
- a receiver answering another 4xx: logged and recorded as rejected, never retried;
- the same delivery in progress elsewhere (a concurrent duplicate): ``Conflict`` (409, retried).

A firing alert that is already open (raised by an earlier event) is only re-sent to receivers
that want repeats (Alertmanager keeps the alert alive); chat and paging receivers hear of it once
-- once they have it: a receiver is marked notified only after a delivery succeeded, so one
that was down gets the next event's alert (``open_alerts``).

Delivery records expire: in the bucket, after each handled event, ``expire_records`` deletes
those older than ``alerts.idempotency.expires_after`` (at most once an hour, by the injected
clock; a failure there is only logged); in DynamoDB the table's TTL does it. Open alerts are
state, not records: they stay until resolved.

Storage down (the open alerts and the delivery records live there): 503, so the Broker retries;
with ``alerts.deliver_without_state`` the firing alerts are sent first anyway, unrecorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from alert_router import delivery_records
from alert_router.open_alerts import OpenAlerts
from backup2gitops.adapters.storage import StorageError
from backup2gitops.core import alerts, events, routing
from backup2gitops.core.errors import Conflict, Transient
from backup2gitops.core.events import Event
from backup2gitops.runtime.aws_lambda import lambda_adapter
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import FunctionSpec, http_target
from backup2gitops.runtime.logs import logger_for

if TYPE_CHECKING:  # Powertools and the receivers (requests) come with the first delivery
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from backup2gitops.adapters.receivers import Receiver
    from backup2gitops.config import RouteConfig

NAME = "alert-router"
IN_PROGRESS_BUDGET_MS = 120_000
logger = logger_for(NAME)


@dataclass(frozen=True)
class Outcome:
    receiver: str
    alert: alerts.Alert
    result: str  # delivered | rejected | replayed | failed | in_progress | skipped
    message: str = ""


class _Budget:
    """Stands in for a Lambda context: how long an in-progress delivery may hold its record."""

    def get_remaining_time_in_millis(self) -> int:
        return IN_PROGRESS_BUDGET_MS


def consumed_types(ctx: FunctionContext) -> set[str]:
    return set(alerts.CONSUMED_TYPES) | set(ctx.config.alerts.types)


def handle(event: Event, ctx: FunctionContext) -> Event | None:
    if event.type == events.PING:
        try:
            redeliver(ctx)
        except StorageError as exc:
            raise Transient("storage_unavailable", f"alert state unavailable: {exc}") from exc
        return None
    if event.type not in consumed_types(ctx):
        logger.info("not an alerting event type; ignored")
        return None
    try:
        return handle_with_state(event, ctx)
    except StorageError as exc:  # the bucket holding the records is down
        if ctx.config.alerts.deliver_without_state:
            deliver_without_state(event, ctx)
        raise Transient("storage_unavailable", f"alert state unavailable: {exc}") from exc


def deliver_without_state(event: Event, ctx: FunctionContext) -> None:
    """Storage is down: send the firing alerts with no record (at-least-once beats never).

    The 503 that follows makes the Broker redeliver, so a receiver may hear twice; a
    resolution needs the open alert's record and waits for the storage.
    """
    from backup2gitops.adapters.receivers import ReceiverError
    from backup2gitops.adapters.receivers.registry import build_receiver

    config = ctx.config.alerts
    tree = routing.parse_tree(r.model_dump(by_alias=True) for r in config.routes)
    by_name = {r.name: r for r in config.receivers}
    for alert in alerts.effects_of(event).firing:
        for name in routing.route(tree, alert):
            fields = {"receiver": name, "alertname": alert.alertname, "result": "sent_unrecorded"}
            try:
                build_receiver(by_name[name], environ=ctx.environ).send(alert)
            except (ReceiverError, ValueError) as exc:
                logger.warning(
                    "delivery not done", extra={**fields, "result": "failed", "error": str(exc)}
                )
                continue
            logger.warning("delivered without a record (storage down)", extra=fields)


def handle_with_state(event: Event, ctx: FunctionContext) -> Event | None:
    alerts_config = ctx.config.alerts
    tree = routing.parse_tree(r.model_dump(by_alias=True) for r in alerts_config.routes)
    opened = OpenAlerts(ctx.store, prefix=alerts_config.open_prefix)
    effects = alerts.effects_of(event, notice_for=ctx.config.drift.notice_for)
    plan: list[tuple[alerts.Alert, str, bool]] = []  # alert, receiver, repeat of an open alert
    for alert in effects.firing:
        if alert.is_notice:  # drift: sent once per event, ends by itself, never kept open
            plan += [(alert, name, False) for name in routed(tree, alert)]
            continue
        previous = opened.get(alert.fingerprint)
        if previous is not None and previous.status == "resolved":
            opened.close(alert.fingerprint)  # its resolution is still pending: it fires afresh
            previous = None
        repeat = previous is not None and previous.event_id != event.id
        if not repeat:
            opened.put(alert)
        plan += [(alert, name, repeat) for name in routed(tree, alert)]
    resolutions: list[alerts.Alert] = []
    pending: list[alerts.Alert] = []
    for resolution in effects.resolves:
        open_alert = opened.get(resolution.fingerprint)
        if open_alert is None:
            continue
        if open_alert.status == "resolved":  # an earlier resolution a receiver has not taken
            pending.append(open_alert)
            continue
        alert = open_alert.resolved(at=event.time or ctx.clock(), event=event)
        resolutions.append(alert)
        plan += [(alert, name, False) for name in routed(tree, alert)]
    outcomes = deliver_all(plan, event=event, ctx=ctx, opened=opened)
    record_outcomes(outcomes, event=event, ctx=ctx)
    settle(resolutions, outcomes, opened=opened)
    for alert in pending:
        outcomes += resend(alert, ctx=ctx, tree=tree, opened=opened)
    try:
        conclude(outcomes)
    finally:
        expire_delivery_records(ctx)
    return None


def settle(resolutions: list[alerts.Alert], outcomes: list[Outcome], *, opened: OpenAlerts) -> None:
    """Close each resolved alert every routed receiver took; keep one a receiver missed as a
    pending resolution (the open alert, status ``resolved``) for the next tick or redelivery."""
    for alert in resolutions:
        missed = [
            o
            for o in outcomes
            if o.alert.fingerprint == alert.fingerprint
            and o.alert.status == "resolved"
            and o.result in ("failed", "in_progress")
        ]
        if missed:
            opened.put(alert)
        else:
            opened.close(alert.fingerprint)


def record_outcomes(outcomes: list[Outcome], *, event: Event, ctx: FunctionContext) -> None:
    """The delivery records of ``outcomes``, and the refusal record of a refused backup whose
    alert went through."""
    config = ctx.config.alerts
    for outcome in outcomes:
        delivery_records.record(
            ctx.store,
            prefix=config.deliveries_prefix,
            event=event,
            alert=outcome.alert,
            receiver=outcome.receiver,
            outcome=outcome.result,
        )
        if outcome.result in ("delivered", "replayed"):
            delivery_records.record_refusal(
                ctx.store,
                prefix=config.refusals_prefix,
                alert=outcome.alert,
                receiver=outcome.receiver,
            )


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


def expire_delivery_records(ctx: FunctionContext) -> None:
    """Delete expired delivery records from the bucket (DynamoDB's TTL does it there)."""
    config = ctx.config.alerts.idempotency
    if config.backend != "store":
        return
    from backup2gitops.adapters.idempotency_store import expire_records  # boto3: not at import

    try:
        deleted = expire_records(
            ctx.store, prefix=config.prefix, older_than=config.expires_after, now=ctx.clock()
        )
    except StorageError as exc:
        logger.warning("delivery records not expired", extra={"error": str(exc)})
        return
    if deleted:
        logger.info("delivery records expired", extra={"deleted": deleted})


def routed(tree: routing.Route, alert: alerts.Alert) -> list[str]:
    """The receivers ``alert`` goes to; an alert no route matches is logged, not dropped silently."""
    names = routing.route(tree, alert)
    if not names:
        logger.warning(
            "alert matched no route; not delivered",
            extra={
                "alertname": alert.alertname,
                "alert_status": alert.status,
                "labels": alert.labels,
            },
        )
    return names


def deliver_all(
    plan: list[tuple[alerts.Alert, str, bool]],
    *,
    event: Event,
    ctx: FunctionContext,
    opened: OpenAlerts,
) -> list[Outcome]:
    from backup2gitops.adapters.receivers import ReceiverError
    from backup2gitops.adapters.receivers.registry import build_receiver

    config = ctx.config.alerts
    by_name = {r.name: r for r in config.receivers}
    receivers: dict[str, Receiver | ReceiverError] = {}
    # Powertools' idempotency package imports boto3 (its DynamoDB layer) whatever the backend:
    # loaded with the first alert to deliver, not at cold start
    from backup2gitops.adapters.idempotency_store import persistence_layer

    persistence = persistence_layer(config.idempotency, store=ctx.store, clock=ctx.clock)
    outcomes: list[Outcome] = []
    for alert, name, repeat in plan:
        if name not in receivers:
            try:  # an optional receiver without its credential fails here, and is skipped below
                receivers[name] = build_receiver(by_name[name], environ=ctx.environ)
            except (ReceiverError, ValueError) as exc:
                receivers[name] = ReceiverError(str(exc), retryable=False)
        receiver = receivers[name]
        if by_name[name].optional and by_name[name].missing_credentials(ctx.environ):
            outcomes.append(Outcome(name, alert, "skipped", "not configured (optional)"))
            continue
        if isinstance(receiver, ReceiverError):
            outcomes.append(Outcome(name, alert, "rejected", receiver.message))
            continue
        if alert.status == "resolved" and not by_name[name].send_resolved:
            outcomes.append(Outcome(name, alert, "skipped", "send_resolved is off"))
            continue
        firing = alert.status != "resolved"
        if repeat and not receiver.repeat_firing and opened.notified(alert.fingerprint, name):
            outcomes.append(Outcome(name, alert, "skipped", "already notified"))
            continue
        outcome = deliver_once(
            receiver,
            alert,
            event=event,
            persistence=persistence,
            expires_after_s=int(config.idempotency.expires_after.total_seconds()),
        )
        if firing and not alert.is_notice and outcome.result in ("delivered", "replayed"):
            opened.mark_notified(alert.fingerprint, name)  # a notice is never open state
        outcomes.append(outcome)
    return outcomes


def deliver_once(
    receiver: Receiver,
    alert: alerts.Alert,
    *,
    event: Event,
    persistence: BasePersistenceLayer,
    expires_after_s: int,
) -> Outcome:
    """Send ``alert`` to ``receiver`` unless this event already did (Powertools idempotency)."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
    )

    from backup2gitops.adapters.receivers import ReceiverError

    idem_config = IdempotencyConfig(
        expires_after_seconds=expires_after_s,
        lambda_context=cast("LambdaContext", _Budget()),
        response_hook=lambda response, _record: {**(response or {}), "replayed": True},
    )

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="delivery",
        persistence_store=persistence,
        config=idem_config,
        key_prefix=NAME,
    )
    def deliver(delivery: dict[str, str]) -> dict[str, str]:
        try:
            receiver.send(alert)
        except ReceiverError as exc:
            if exc.retryable:
                raise
            return {"result": "rejected", "message": exc.message}
        return {"result": "delivered"}

    delivery = {
        "event_id": event.id,
        "receiver": receiver.name,
        "fingerprint": alert.fingerprint,
        "status": alert.status,
    }
    try:
        response: dict[str, str | bool] = deliver(delivery=delivery)
    except ReceiverError as exc:
        return Outcome(receiver.name, alert, "failed", exc.message)
    except IdempotencyAlreadyInProgressError:
        return Outcome(receiver.name, alert, "in_progress", "another delivery is in progress")
    except IdempotencyPersistenceLayerError as exc:
        return Outcome(receiver.name, alert, "failed", f"delivery record: {exc}")
    if response.get("replayed"):
        return Outcome(receiver.name, alert, "replayed", str(response.get("result")))
    return Outcome(receiver.name, alert, str(response["result"]), str(response.get("message", "")))


def conclude(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        fields = {
            "receiver": o.receiver,
            "alertname": o.alert.alertname,
            "alert_status": o.alert.status,
            "fingerprint": o.alert.fingerprint,
            "result": o.result,
        }
        if o.result == "rejected":
            logger.error("receiver rejected the alert", extra={**fields, "error": o.message})
        elif o.result in ("failed", "in_progress"):
            logger.warning("delivery not done", extra={**fields, "error": o.message})
        else:
            logger.info("delivery", extra=fields)
    failed = sorted({o.receiver for o in outcomes if o.result == "failed"})
    busy = sorted({o.receiver for o in outcomes if o.result == "in_progress"})
    if failed:
        raise Transient("receiver_failed", f"delivery to {', '.join(failed)} failed; retry")
    if busy:
        raise Conflict("delivery_in_progress", f"delivery to {', '.join(busy)} in progress")


def requirements(ctx: FunctionContext) -> str | None:
    """The credentials a routed, non-optional receiver names and that are not set: alert-router
    refuses to start without them (an optional receiver is only "not configured")."""
    config = ctx.config.alerts
    routed_names: set[str] = set()

    def walk(routes: list[RouteConfig]) -> None:
        for route in routes:
            routed_names.update(route.receivers)
            walk(route.routes)

    walk(config.routes)
    unset = [
        f"alerts.receivers[{index}].{field} ({ref!r} is not set)"
        for index, receiver in enumerate(config.receivers)
        if receiver.name in routed_names and not receiver.optional
        for field, ref in receiver.missing_credentials(ctx.environ)
    ]
    if not unset:
        return None
    return (
        f"{NAME}: {'; '.join(unset)}: set it (on Lambda: the receiver's *SecretArn parameter), "
        "or mark the receiver optional: true"
    )


SPEC = FunctionSpec(name=NAME, handle=handle, requirements=requirements)
alert_router = http_target(SPEC)
lambda_handler = lambda_adapter(SPEC)
