"""What a Velero backup's ``velero-backup.json`` claims, for the guards: its completion time,
the items it backed up, and whether it vouches nothing is missing. PURE: no I/O.

The same reading backup-complete makes of the marker (``backup_complete.velero``): the time is
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


class InvalidVeleroBackup(Backup2GitopsError, ValueError):
    """A ``velero-backup.json`` that is not a finished Velero backup's."""

    code = "invalid_velero_backup"


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


def velero_claims(raw: bytes) -> VeleroClaims:
    """The claims of a finished backup's ``velero-backup.json``; ``InvalidVeleroBackup`` when it
    is not JSON, not an object, or not finished (``Completed`` / ``PartiallyFailed``)."""
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise InvalidVeleroBackup("velero-backup.json is not JSON") from exc
    if not isinstance(document, dict):
        raise InvalidVeleroBackup("velero-backup.json is not a JSON object")
    status = _section(document, "status")
    phase = str(status.get("phase", ""))
    if phase not in COMPLETED_PHASES:
        raise InvalidVeleroBackup(f"the Velero backup is not finished (phase {phase!r})")
    progress = _section(status, "progress")
    items, total = progress.get("itemsBackedUp"), progress.get("totalItems")
    claimed = items if isinstance(items, int) and items >= 0 else None
    name = _section(document, "metadata").get("name")
    return VeleroClaims(
        name=name if isinstance(name, str) and name else None,
        phase=phase,
        created_at=_time(status.get("completionTimestamp") or status.get("startTimestamp")),
        items=claimed,
        complete=phase == "Completed" and claimed is not None and claimed == total,
    )
