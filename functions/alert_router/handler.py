"""alert-router: turn an event into alerts, route them, deliver each to each receiver once.

Its input (``INPUT``, ``core.alert_input.read``) is the event's attributes beside its data
decoded once into the catalog model of its type; data that does not validate is a 400 with
pydantic's reason over HTTP, ``UnreadableEvent`` on Lambda, before the handler runs. The handler
reads top to bottom: the effects of the event (``core.alert_rules``), the plan against the open
alerts (``handle_with_state``), the deliveries (``delivery``), what is made of their outcomes
(``outcomes``), the expiry of old records; the tick is ``redelivery``.

The health tick (``dev.knative.sources.ping`` of the health PingSource) sends again every open
firing alert a routed receiver has not taken, and every resolution one missed
(``redelivery.redeliver``): an alert outlives a receiver's outage and the Broker's retries.

Consumes ``backup.failed``, ``gitops.failed``, ``backup.stale``, ``health.changed``,
``gitops.generated`` (only to resolve), ``gitops.drifted`` (one-time notices, one per finding,
that end by themselves) and any type in ``alerts.types``; not
``backup.completed`` (see ``core.alert_rules``). Returns no reply.

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

from typing import TYPE_CHECKING

from alert_router.delivery import Plan, deliver_all, routed
from alert_router.open_alerts import OpenAlerts
from alert_router.outcomes import conclude, record_outcomes, settle
from alert_router.redelivery import redeliver, resend
from backup2gitops.adapters.storage import StorageError
from backup2gitops.core import alert_input, alert_rules, alerts, routing
from backup2gitops.core.alert_input import Alerting
from backup2gitops.core.errors import Transient
from backup2gitops.core.events import Event
from backup2gitops.runtime.aws_lambda import lambda_adapter
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.envelopes import Envelope
from backup2gitops.runtime.http import FunctionSpec, http_target
from backup2gitops.runtime.logs import logger_for

if TYPE_CHECKING:
    from backup2gitops.config import RouteConfig

NAME = "alert-router"
logger = logger_for(NAME)

INPUT: Envelope[Alerting] = Envelope(decode=alert_input.read)
"""The one input: the event's attributes and its data decoded once (``core.alert_input``)."""


def consumed_types(ctx: FunctionContext) -> set[str]:
    return set(alert_input.CONSUMED_TYPES) | set(ctx.config.alerts.types)


def handle_alerting(received: Alerting, ctx: FunctionContext) -> Event | None:
    event = received.event
    if received.data is None:  # the health tick
        try:
            redeliver(ctx)
        except StorageError as exc:
            raise Transient("storage_unavailable", f"alert state unavailable: {exc}") from exc
        return None
    if event.type not in consumed_types(ctx):
        logger.info("not an alerting event type; ignored")
        return None
    try:
        return handle_with_state(received, ctx)
    except StorageError as exc:  # the bucket holding the records is down
        if ctx.config.alerts.deliver_without_state:
            deliver_without_state(received, ctx)
        raise Transient("storage_unavailable", f"alert state unavailable: {exc}") from exc


def handle_with_state(received: Alerting, ctx: FunctionContext) -> Event | None:
    event = received.event
    alerts_config = ctx.config.alerts
    tree = routing.parse_tree(r.model_dump(by_alias=True) for r in alerts_config.routes)
    opened = OpenAlerts(ctx.store, prefix=alerts_config.open_prefix)
    effects = alert_rules.effects(received, notice_for=ctx.config.drift.notice_for)
    plan: Plan = []
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


def deliver_without_state(received: Alerting, ctx: FunctionContext) -> None:
    """Storage is down: send the firing alerts with no record (at-least-once beats never).

    The 503 that follows makes the Broker redeliver, so a receiver may hear twice; a
    resolution needs the open alert's record and waits for the storage.
    """
    from backup2gitops.adapters.receivers import ReceiverError
    from backup2gitops.adapters.receivers.registry import build_receiver

    config = ctx.config.alerts
    tree = routing.parse_tree(r.model_dump(by_alias=True) for r in config.routes)
    by_name = {r.name: r for r in config.receivers}
    for alert in alert_rules.effects(received, notice_for=ctx.config.drift.notice_for).firing:
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


SPEC = FunctionSpec(name=NAME, handle=handle_alerting, envelope=INPUT, requirements=requirements)
handle = SPEC.handle_event
alert_router = http_target(SPEC)
lambda_handler = lambda_adapter(SPEC)
