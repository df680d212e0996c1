"""alert-router's typed input: an event's attributes beside its data, decoded ONCE.

Pure: no I/O, no SDK. ``read`` is alert-router's envelope decode (``alert_router.handler.INPUT``):
the data of a ``backup.failed``, ``gitops.failed``, ``backup.stale``, ``health.changed``,
``gitops.generated`` or ``gitops.drifted`` is validated into its catalog model (``Received``),
and data that does not validate is refused with pydantic's reason (400 over HTTP,
``UnreadableEvent`` on Lambda) before the handler runs; a tick carries nothing (``None``); any
other type -- one the configuration adds (``alerts.types``) -- is read as ``OtherEvent``, the few
fields its alert names, never refused. What the input raises or resolves is
``core.alert_rules``'s.
"""

from __future__ import annotations

from pydantic import ConfigDict, field_validator

from backup2gitops.core import events
from backup2gitops.core.events import (
    BackupFailed,
    BackupStale,
    Event,
    EventData,
    GitopsDrifted,
    GitopsFailed,
    GitopsGenerated,
    HealthChanged,
    Received,
)


class OtherEvent(EventData):
    """The data of a type alert-router consumes by configuration (``alerts.types``): only the
    fields its alert names are read, each as its text (an empty or false value is unset), the
    rest is ignored; data that is not an object says nothing. Never refused: the data of a type
    outside the catalog is not this project's to validate, and its alert must still go out."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    cluster: str | None = None
    component: str | None = None
    message: str | None = None
    summary: str | None = None

    @field_validator("cluster", "component", "message", "summary", mode="before")
    @classmethod
    def _as_text(cls, value: object) -> str | None:
        return str(value) if value else None


AlertingData = (
    BackupFailed
    | GitopsFailed
    | BackupStale
    | HealthChanged
    | GitopsGenerated
    | GitopsDrifted
    | OtherEvent
)
Alerting = Received[AlertingData | None]
"""alert-router's input: an event's attributes and its data decoded once; ``None`` for the
health tick (``dev.knative.sources.ping``), whose data says nothing to it."""

MODELS: dict[str, type[AlertingData]] = {
    events.BACKUP_FAILED: BackupFailed,
    events.GITOPS_FAILED: GitopsFailed,
    events.BACKUP_STALE: BackupStale,
    events.HEALTH_CHANGED: HealthChanged,
    events.GITOPS_GENERATED: GitopsGenerated,
    events.GITOPS_DRIFTED: GitopsDrifted,
}
CONSUMED_TYPES = tuple(MODELS)
"""The catalog types alert-router consumes (``alerts.types`` may add more)."""


def read(event: Event) -> Alerting:
    """alert-router's input from ``event`` (``InvalidInput`` naming the field when a consumed
    type's data does not validate)."""
    if event.type == events.PING:
        return Received(event, None)
    model = MODELS.get(event.type)
    if model is not None:
        return Received(event, events.parse_data(event, model))
    if not isinstance(event.data, dict):
        return Received(event, OtherEvent())
    return Received(event, events.parse_data(event, OtherEvent))
