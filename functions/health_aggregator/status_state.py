"""What the status page shows beside the measurement: open alerts and recent drift findings.

Both come from the bucket, so they survive scale-to-zero:

- open alerts: alert-router's ``<alerts.open_prefix><fingerprint>.json`` (one object per firing
  alert, the alert as it was sent; ``*.notified`` markers beside them are skipped);
- drift notes: ``<state dir>/drift/<cluster>.json``, written here on each ``gitops.drifted``
  (``core.status.remember_drift``: newest first, ``health.drift_notes`` kept, a redelivered
  event changes nothing). A drift finding is a one-time notice that alert-router never keeps,
  so without this note the page could not say what changed. The put is conditional (the etag
  read); losing the race is a 409, which the Broker retries.

Reading is best effort: an unreadable object is skipped with a warning (the ``storage``
component already says when the bucket is down); the page still renders.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from pydantic import ValidationError

from backup2gitops.adapters.storage import (
    NotFound,
    ObjectStore,
    PreconditionFailed,
    StorageError,
    put_unless_changed,
)
from backup2gitops.core import events, status
from backup2gitops.core.alerts import Alert
from backup2gitops.core.errors import Conflict
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.logs import logger_for

logger = logger_for("health-aggregator")


def open_alerts(store: ObjectStore, *, prefix: str) -> list[Alert]:
    """The alerts alert-router keeps open; unreadable ones are skipped."""
    prefix = prefix if prefix.endswith("/") else prefix + "/"
    found: list[Alert] = []
    try:
        keys = [
            info.key
            for info in store.list(prefix)
            if info.key.endswith(".json") and "/" not in info.key[len(prefix) :]
        ]
        for key in keys:
            try:
                alert = Alert.from_dict(json.loads(store.read_bytes(key)))
            except NotFound:  # resolved between the listing and the read
                continue
            except (ValueError, KeyError, TypeError) as exc:
                logger.warning("open alert unreadable", extra={"key": key, "error": str(exc)})
                continue
            if alert.status == "firing":  # not a resolution alert-router is still delivering
                found.append(alert)
    except StorageError as exc:
        logger.warning("open alerts not listed", extra={"error": str(exc)})
    return found


def drift_key(ctx: FunctionContext, cluster: str) -> str:
    return f"{ctx.config.health.state_key.rsplit('/', 1)[0]}/drift/{cluster}.json"


def _read(ctx: FunctionContext, cluster: str) -> tuple[status.DriftNotes, str | None]:
    """The notes and the etag they were read at (None: no object yet)."""
    key = drift_key(ctx, cluster)
    info = ctx.store.stat(key)
    if info is None:
        return status.DriftNotes(), None
    return status.DriftNotes.model_validate_json(ctx.store.read_bytes(key)), info.etag


def drift_notes(ctx: FunctionContext, clusters: Iterable[str]) -> dict[str, list[status.DriftNote]]:
    notes: dict[str, list[status.DriftNote]] = {}
    for cluster in clusters:
        try:
            notes[cluster] = _read(ctx, cluster)[0].notes
        except (StorageError, ValidationError, ValueError) as exc:
            logger.warning("drift notes unreadable", extra={"cluster": cluster, "error": str(exc)})
    return notes


def remember_drift(
    ctx: FunctionContext, drifted: events.GitopsDrifted, *, at: datetime | None
) -> bool:
    """Keep the findings of ``drifted`` (its event's ``time``: ``at``) for the page; False when
    they were already kept."""
    key = drift_key(ctx, drifted.cluster)
    try:
        notes, etag = _read(ctx, drifted.cluster)
    except ValidationError:  # not ours to fix by hand: start the notes again
        logger.warning("drift notes unreadable; starting again", extra={"cluster": drifted.cluster})
        info = ctx.store.stat(key)
        notes, etag = status.DriftNotes(), info.etag if info else None
    updated = status.remember_drift(
        notes, drifted, at=at or ctx.clock(), keep=ctx.config.health.drift_notes
    )
    if updated is None:
        return False
    try:
        put_unless_changed(ctx.store, key, updated.model_dump_json().encode(), etag=etag)
    except PreconditionFailed as exc:
        raise Conflict(
            "drift_notes_busy", f"the drift notes of {drifted.cluster} changed meanwhile"
        ) from exc
    return True
