"""What alert-router makes of its deliveries' outcomes: records, open state, the status.

``record_outcomes`` writes each delivery record (``delivery_records``) and the refusal record of
a refused backup whose alert went through; ``settle`` closes a resolved alert every routed
receiver took, or keeps it as a pending resolution; ``conclude`` logs each outcome and answers
the event: ``Transient`` (503, the Broker retries; only the failed deliveries happen again) when
a receiver failed, ``Conflict`` (409) when a delivery is in progress elsewhere.
"""

from __future__ import annotations

from alert_router import delivery_records
from alert_router.delivery import Outcome
from alert_router.open_alerts import OpenAlerts
from backup2gitops.core import alerts
from backup2gitops.core.errors import Conflict, Transient
from backup2gitops.core.events import Event
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.logs import logger_for

logger = logger_for("alert-router")


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
