"""alert-router's deliveries: each (alert, receiver) of a plan sent at most once per event.

A receiver is built once per event from its configuration; an optional one without its
credential is skipped, one that cannot be built is rejected. Each send runs under Powertools
idempotency keyed by (event id, receiver, alert fingerprint, status), so a redelivered event
replays what a receiver already took instead of sending it again (``deliver_once``). What comes
of a plan is a list of ``Outcome``; ``alert_router.outcomes`` records, settles and concludes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from alert_router.open_alerts import OpenAlerts
from backup2gitops.core import alerts, routing
from backup2gitops.core.events import Event
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.logs import logger_for

if TYPE_CHECKING:  # Powertools and the receivers (requests) come with the first delivery
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from backup2gitops.adapters.receivers import Receiver, ReceiverError

KEY_PREFIX = "alert-router"
"""The idempotency records' key prefix (``state/idempotency/alert-router/...``)."""
IN_PROGRESS_BUDGET_MS = 120_000
logger = logger_for("alert-router")

Plan = list[tuple[alerts.Alert, str, bool]]
"""What to send: (alert, receiver name, a repeat of an alert that is already open)."""


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
    plan: Plan,
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
        key_prefix=KEY_PREFIX,
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
