"""What a Velero backup's ``velero-backup.json`` says, read in one place. PURE: no I/O.

``read_marker`` is the one reading, of any phase; backup-complete's verdict
(``backup_complete.velero``) and the guards' claims (``velero_claims``: completion time, the
items backed up, whether it vouches nothing is missing) are both made from it: the time is
``status.completionTimestamp`` (else ``startTimestamp``), the count ``itemsBackedUp``, and the
backup is complete when its phase is ``Completed`` and ``itemsBackedUp == totalItems``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from backup2gitops.core.errors import Backup2GitopsError

COMPLETED_PHASES = frozenset({"Completed", "PartiallyFailed"})


K8S_VERSION_ANNOTATION = "velero.io/source-cluster-k8s-gitversion"


class InvalidVeleroBackup(Backup2GitopsError, ValueError):
    """A ``velero-backup.json`` that is not a finished Velero backup's; ``reason`` says what it
    is instead (``is not JSON``, ``is not a JSON object``, ...)."""

    code = "invalid_velero_backup"

    def __init__(self, reason: str) -> None:
        super().__init__(f"velero-backup.json {reason}")
        self.reason = reason


@dataclass(frozen=True)
class VeleroMarker:
    """A ``velero-backup.json`` as read, whatever its phase."""

    name: str | None
    phase: str
    completion_timestamp: object
    """``status.completionTimestamp`` as written (a string when Velero wrote one)."""
    finished: object
    """``completionTimestamp``, else ``startTimestamp``, as written."""
    items: int | None
    """``status.progress.itemsBackedUp`` when it is a count."""
    total: object
    failure: str
    """``status.failureReason``, else the validation errors joined."""
    kubernetes_version: str | None

    @property
    def complete(self) -> bool:
        """``Completed``, and every item it counted backed up."""
        return self.phase == "Completed" and self.items is not None and self.items == self.total


@dataclass(frozen=True)
class VeleroClaims:
    name: str | None
    phase: str
    created_at: datetime | None
    items: int | None
    complete: bool


def _section(document: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = document.get(name)
    return value if isinstance(value, dict) else {}


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def read_marker(raw: bytes) -> VeleroMarker:
    """``raw`` read as a ``velero-backup.json``; ``InvalidVeleroBackup`` when it is not JSON or
    not an object."""
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise InvalidVeleroBackup("is not JSON") from exc
    if not isinstance(document, dict):
        raise InvalidVeleroBackup("is not a JSON object")
    status = _section(document, "status")
    metadata = _section(document, "metadata")
    progress = _section(status, "progress")
    items = progress.get("itemsBackedUp")
    name = metadata.get("name")
    version = _section(metadata, "annotations").get(K8S_VERSION_ANNOTATION)
    failure = status.get("failureReason") or "; ".join(
        str(e) for e in status.get("validationErrors") or []
    )
    return VeleroMarker(
        name=name if isinstance(name, str) and name else None,
        phase=str(status.get("phase", "")),
        completion_timestamp=status.get("completionTimestamp"),
        finished=status.get("completionTimestamp") or status.get("startTimestamp"),
        items=items if isinstance(items, int) and items >= 0 else None,
        total=progress.get("totalItems"),
        failure=str(failure),
        kubernetes_version=version if isinstance(version, str) else None,
    )


def velero_claims(raw: bytes) -> VeleroClaims:
    """The claims of a finished backup's ``velero-backup.json``; ``InvalidVeleroBackup`` when it
    is not JSON, not an object, or not finished (``Completed`` / ``PartiallyFailed``)."""
    marker = read_marker(raw)
    if marker.phase not in COMPLETED_PHASES:
        raise InvalidVeleroBackup(f"is not finished (phase {marker.phase!r})")
    return VeleroClaims(
        name=marker.name,
        phase=marker.phase,
        created_at=_time(marker.finished),
        items=marker.items,
        complete=marker.complete,
    )
